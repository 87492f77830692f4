//! The one place AWS SDK failures become [`ScanError`]s: throttling and outages are
//! `Transient` (the state machine retries them), everything else names the account, region,
//! action and resource, and says what to fix.

use std::fmt;

use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use scanflow_core::ScanError;

/// Error codes that mean "ask again later", whatever the service.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequests",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ServiceTemporarilyUnavailableException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalException",
    "InternalServerException",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "InternalErrorException",
    "KMSThrottlingException",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    // S3: a conditional write raced another one for the same key; asking again settles it.
    "ConditionalRequestConflict",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// Error codes that mean the caller's identity may not do this.
const ACCESS_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "AuthorizationErrorException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "InvalidAccessException",
    "Forbidden",
    "KMSAccessDeniedException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
];

/// Error codes that mean the addressed thing does not exist.
const NOT_FOUND_CODES: &[&str] = &[
    "NoSuchKey",
    "NoSuchBucket",
    "NotFound",
    "NotFoundException",
    "ResourceNotFoundException",
    "NoSuchEntityException",
    "NoSuchEntity",
    "ParameterNotFound",
    "ParameterVersionNotFound",
];

/// Which account and region a client works in: every error message names both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub account_id: String,
    pub region: String,
}

impl Scope {
    pub fn new(account_id: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            account_id: account_id.into(),
            region: region.into(),
        }
    }

    /// Describes one call made in this scope.
    pub fn call<'a>(&'a self, action: &'static str, resource: impl Into<String>) -> Call<'a> {
        Call {
            scope: self,
            action,
            resource: resource.into(),
        }
    }
}

/// One AWS call: the IAM action (`service:Operation`) and what it addressed.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub scope: &'a Scope,
    pub action: &'static str,
    pub resource: String,
}

impl fmt::Display for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} in account {} ({})",
            self.action, self.resource, self.scope.account_id, self.scope.region
        )
    }
}

/// How a request failed, stripped of the SDK's generic types so the rules are testable alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'e> {
    /// The request could not even be built: a bug or a bad argument.
    Construction,
    /// No usable answer: timeout, connection or I/O failure, unreadable response.
    NoAnswer,
    /// The service answered with an error.
    Service {
        code: Option<&'e str>,
        status: Option<u16>,
        message: Option<&'e str>,
    },
}

impl Call<'_> {
    fn service(&self) -> &str {
        self.action.split(':').next().unwrap_or(self.action)
    }

    /// Classifies an SDK error for this call.
    pub fn error<E>(&self, err: &SdkError<E, HttpResponse>) -> ScanError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let detail = detail_of(err);
        let failure = match err {
            SdkError::ConstructionFailure(_) => Failure::Construction,
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Failure::NoAnswer,
            _ => Failure::Service {
                code: err.code(),
                status: err.raw_response().map(|r| r.status().as_u16()),
                message: err.message(),
            },
        };
        self.classify(failure, &detail)
    }

    /// The classification rules. `detail` is the text operators read.
    pub fn classify(&self, failure: Failure<'_>, detail: &str) -> ScanError {
        let (code, status) = match failure {
            Failure::Construction => {
                return ScanError::internal(format!(
                    "could not build the request {self}: {detail}"
                ));
            }
            Failure::NoAnswer => return self.transient(detail),
            Failure::Service { code, status, .. } => (code.unwrap_or(""), status.unwrap_or(0)),
        };
        if code == "LimitExceededException" && status != 429 {
            // Inspector Classic uses it for resource quotas, which waiting does not fix.
            return ScanError::internal(format!(
                "a service quota is exhausted: {self}: {detail}. Raise the quota in Service \
                 Quotas or delete old resources (e.g. old assessment runs), then rerun"
            ));
        }
        if TRANSIENT_CODES.contains(&code)
            || code == "LimitExceededException"
            || status == 429
            || status >= 500
        {
            return self.transient(detail);
        }
        if ACCESS_CODES.contains(&code) || status == 403 {
            return ScanError::AccessDenied {
                account_id: self.scope.account_id.clone(),
                region: self.scope.region.clone(),
                action: self.action.to_owned(),
                detail: format!("{detail} (resource {})", self.resource),
            };
        }
        if NOT_FOUND_CODES.contains(&code) || status == 404 {
            return ScanError::NotFound {
                account_id: self.scope.account_id.clone(),
                region: self.scope.region.clone(),
                what: self.resource.clone(),
                detail: format!("{} answered {detail}", self.action),
            };
        }
        ScanError::invalid(
            format!("{} request for {}", self.action, self.resource),
            format!("a request {} accepts", self.service()),
            format!(
                "was refused in account {} ({}): {detail}",
                self.scope.account_id, self.scope.region
            ),
        )
    }

    /// A transient failure of this call.
    pub fn transient(&self, detail: &str) -> ScanError {
        ScanError::Transient {
            service: format!(
                "{} in account {} ({})",
                self.action, self.scope.account_id, self.scope.region
            ),
            detail: detail.to_owned(),
        }
    }
}

/// `code: message` for service errors, the whole cause chain otherwise.
fn detail_of<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    bounded(match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => DisplayErrorContext(err).to_string(),
    })
}

/// Characters of a service's error detail kept in a message: AWS's own messages (an IAM
/// denial names the role, action and resource) fit; a response that did not parse is quoted
/// whole by the SDK's context, which can be the whole (megabytes long) body.
const DETAIL_MAX_CHARS: usize = 1_000;

fn bounded(detail: String) -> String {
    let total = detail.chars().count();
    if total <= DETAIL_MAX_CHARS {
        return detail;
    }
    let head: String = detail.chars().take(DETAIL_MAX_CHARS).collect();
    format!("{head}... ({total} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &'static str, status: u16) -> Failure<'static> {
        Failure::Service {
            code: Some(code),
            status: Some(status),
            message: Some("m"),
        }
    }

    fn scope() -> Scope {
        Scope::new("111122223333", "eu-west-1")
    }

    #[test]
    fn an_error_detail_is_kept_to_1000_characters() {
        let at_limit = "é".repeat(DETAIL_MAX_CHARS);
        assert_eq!(bounded(at_limit.clone()), at_limit);
        let body = "x".repeat(100_000);
        let cut = bounded(format!("{body}y"));
        assert!(cut.starts_with(&"x".repeat(DETAIL_MAX_CHARS)));
        assert!(
            cut.ends_with(&format!("... ({} characters)", body.len() + 1)),
            "{}",
            &cut[DETAIL_MAX_CHARS..]
        );
        assert!(cut.chars().count() < DETAIL_MAX_CHARS + 40);
    }

    #[test]
    fn throttling_outages_and_silence_are_transient() {
        let s = scope();
        let call = s.call("inspector:ListFindings", "run r");
        for (code, status) in [
            ("ThrottlingException", 400),
            ("TooManyRequestsException", 429),
            ("Throttling", 400),
            ("ServiceTemporarilyUnavailableException", 503),
            ("InternalException", 500),
            ("LimitExceededException", 429),
            ("SomethingNew", 502),
        ] {
            let err = call.classify(service(code, status), "x");
            assert_eq!(err.error_type(), "Transient", "{code}");
            assert!(err.to_string().contains("111122223333"), "{err}");
        }
        assert_eq!(
            call.classify(Failure::NoAnswer, "timeout").error_type(),
            "Transient"
        );
    }

    #[test]
    fn a_quota_is_not_a_rate_limit() {
        let s = scope();
        let err = s
            .call("inspector:StartAssessmentRun", "template t")
            .classify(
                service("LimitExceededException", 400),
                "ASSESSMENT_RUN_LIMIT_EXCEEDED",
            );
        assert_eq!(err.error_type(), "Internal");
        assert!(err.to_string().contains("quota"), "{err}");
    }

    #[test]
    fn denials_name_account_region_and_action() {
        let s = scope();
        let err = s
            .call("securityhub:BatchUpdateFindings", "3 findings")
            .classify(
                service("AccessDeniedException", 403),
                "AccessDeniedException: no",
            );
        match &err {
            ScanError::AccessDenied {
                account_id,
                region,
                action,
                ..
            } => {
                assert_eq!(account_id, "111122223333");
                assert_eq!(region, "eu-west-1");
                assert_eq!(action, "securityhub:BatchUpdateFindings");
            }
            other => panic!("{other:?}"),
        }
        let bare_403 = s.call("s3:GetObject", "k").classify(service("", 403), "x");
        assert_eq!(bare_403.error_type(), "AccessDenied");
    }

    #[test]
    fn missing_things_and_bad_requests() {
        let s = scope();
        let nf = s
            .call("ssm:GetParameter", "SSM parameter /scanflow/settings")
            .classify(service("ParameterNotFound", 400), "ParameterNotFound: gone");
        assert_eq!(nf.error_type(), "NotFound");
        assert!(nf.to_string().contains("/scanflow/settings"), "{nf}");
        let bad = s
            .call("inspector2:ListFindings", "findings")
            .classify(service("ValidationException", 400), "bad filter");
        assert_eq!(bad.error_type(), "InvalidInput");
        assert!(!bad.is_retryable());
        assert_eq!(
            s.call("sns:Publish", "t")
                .classify(Failure::Construction, "x")
                .error_type(),
            "Internal"
        );
    }
}
