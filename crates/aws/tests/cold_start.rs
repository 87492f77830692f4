//! `lambda::run` at cold start against a local fake Lambda Runtime API: with its configuration
//! missing, a function reports the missing variable through `/runtime/init/error` and serves
//! nothing; configured, it gets through its cold start to its first `/invocation/next`.
//!
//! One test function: the runtime reads the process environment, which this test sets, so
//! nothing else may run in this process meanwhile.

#[path = "support/runtime_api.rs"]
mod runtime_api;

use std::time::Duration;

use runtime_api::RuntimeApi;
use scanflow_aws::AwsPlatform;
use scanflow_core::ScanError;
use serde_json::Value;

async fn never_called(_: &'static AwsPlatform, _: Value) -> Result<Value, ScanError> {
    Err(ScanError::internal("no event is ever handed out"))
}

fn set(variables: &[(&str, &str)]) {
    for (name, value) in variables {
        // SAFETY: this process runs this one test, and sets the environment before it builds
        // the runtime that reads it; no other thread reads or writes the environment meanwhile.
        unsafe { std::env::set_var(name, value) };
    }
}

#[test]
fn a_bootstrap_reports_missing_configuration_and_otherwise_reaches_next() {
    let api = RuntimeApi::start().expect("a local port");
    set(&[
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "format"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("REPORT_BUCKET", "scanflow-reports-999999999999"),
        (
            "REPORT_KMS_KEY_ARN",
            "arn:aws:kms:eu-west-1:999999999999:key/00000000-0000-0000-0000-000000000000",
        ),
    ]);

    // HUB_ACCOUNT_ID is missing: the function says so to Lambda and stops.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let result = runtime.block_on(scanflow_aws::lambda::run("format", never_called));
    let err = result.expect_err("an incomplete configuration stops the function");
    assert!(err.to_string().contains("HUB_ACCOUNT_ID"), "{err}");
    let seen = api.wait(Duration::from_secs(5), |s| s.init_error.is_some());
    let (error_type, body) = seen.init_error.expect("the init error was reported");
    assert_eq!(
        error_type,
        format!("Runtime.{}", scanflow_aws::lambda::INIT_ERROR_TYPE)
    );
    let body: Value = serde_json::from_str(&body).expect("the init error is JSON");
    assert_eq!(body["errorType"], scanflow_aws::lambda::INIT_ERROR_TYPE);
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("HUB_ACCOUNT_ID"), "{message}");
    assert!(
        seen.first_next.is_none(),
        "nothing is served without a configuration"
    );
    drop(runtime);

    // Configured: the cold start ends at the first /next, and nothing is reported as broken.
    api.reset();
    set(&[("HUB_ACCOUNT_ID", "999999999999")]);
    // The function serves on its own thread (its future is not `Send`); it waits at /next
    // for an event that never comes, and ends with the test process.
    let serving = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(scanflow_aws::lambda::run("format", never_called))
    });
    let seen = api.wait(Duration::from_secs(10), |s| {
        s.first_next.is_some() || s.init_error.is_some()
    });
    assert!(seen.init_error.is_none(), "{:?}", seen.init_error);
    assert!(
        seen.first_next.is_some(),
        "the bootstrap never asked for an event"
    );
    assert!(
        !serving.is_finished(),
        "the function keeps waiting for events"
    );
}
