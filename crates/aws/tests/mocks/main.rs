//! The adapters against the SDK with `aws-smithy-mocks`: every operation with success, several
//! pages, throttling then success, a terminal error, partial batch failures and the request
//! fields that matter. Responses are real wire bodies (JSON / XML) so the SDK's own
//! deserialization and error parsing run too.

mod account_status;
mod cis;
mod classic;
mod hub;
mod inspector2;
mod securityhub;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use scanflow_aws::error::Scope;

pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "eu-west-1";

pub fn scope() -> Scope {
    Scope::new(ACCOUNT, REGION)
}

/// The SDK's standard retry (3 attempts) with millisecond backoff, so retry tests are fast.
pub fn fast_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(2))
}

/// A mocked client of SDK crate `$krate` answering by the first matching rule.
#[macro_export]
macro_rules! client {
    ($krate:ident, $rules:expr) => {
        aws_smithy_mocks::mock_client!($krate, aws_smithy_mocks::RuleMode::MatchAny, $rules, |c| c
            .retry_config($crate::fast_retry()))
    };
}

fn response(status: u16, body: String, headers: &[(&'static str, String)]) -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).expect("valid status"),
        SdkBody::from(body),
    );
    for (name, value) in headers {
        r.headers_mut().insert(*name, value.clone());
    }
    r
}

/// A JSON (awsJson / restJson) success body.
pub fn json(body: serde_json::Value) -> HttpResponse {
    response(
        200,
        body.to_string(),
        &[("content-type", "application/json".into())],
    )
}

/// A JSON error the way both JSON protocols send it (header and `__type`).
pub fn json_error(status: u16, code: &str, message: &str) -> HttpResponse {
    response(
        status,
        serde_json::json!({"__type": code, "message": message, "Message": message}).to_string(),
        &[
            ("content-type", "application/json".into()),
            ("x-amzn-errortype", code.to_owned()),
        ],
    )
}

/// An XML body (SNS, STS, S3).
pub fn xml(status: u16, body: &str) -> HttpResponse {
    response(
        status,
        body.to_owned(),
        &[("content-type", "text/xml".into())],
    )
}

/// An awsQuery (SNS, STS) error.
pub fn query_error(status: u16, code: &str, message: &str) -> HttpResponse {
    xml(
        status,
        &format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}\
             </Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        ),
    )
}

/// What the mocks saw, for asserting request fields after the call.
#[derive(Debug, Clone, Default)]
pub struct Seen<T>(Arc<Mutex<Vec<T>>>);

impl<T: Clone> Seen<T> {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Vec::new())))
    }

    pub fn push(&self, item: T) {
        self.0.lock().expect("not poisoned").push(item);
    }

    pub fn all(&self) -> Vec<T> {
        self.0.lock().expect("not poisoned").clone()
    }
}
