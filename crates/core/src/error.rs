//! The one error type every step returns, and the stable `errorType` names the state machine
//! retries and catches on.

use serde::{Deserialize, Serialize};

/// Every failure a step can report. The `Display` text is what an operator reads in the
/// failure notice, so each says where it happened and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ScanError {
    #[error("invalid input: `{field}` {problem}; expected {expected}")]
    InvalidInput {
        field: String,
        expected: String,
        problem: String,
    },

    #[error("{service} did not answer ({detail}); the step is retried with backoff")]
    Transient { service: String, detail: String },

    #[error(
        "cannot assume role {role_arn} in account {account_id}: {detail}. Deploy the scanflow \
         member stack to this account and check that its trust policy names this hub account"
    )]
    RoleNotAssumable {
        account_id: String,
        role_arn: String,
        detail: String,
    },

    #[error(
        "access denied calling {action} in account {account_id} ({region}): {detail}. \
         Update the member stack so its scan role grants {action}"
    )]
    AccessDenied {
        account_id: String,
        region: String,
        action: String,
        detail: String,
    },

    #[error(
        "Amazon Inspector ({engine}) is not enabled in account {account_id} ({region}): {detail}. \
         Enable it for EC2 in that account and region, or set the account's engine to the other one"
    )]
    InspectorDisabled {
        account_id: String,
        region: String,
        engine: String,
        detail: String,
    },

    #[error(
        "no EC2 instance in account {account_id} ({region}) matches {target}, so nothing was \
         scanned. Tag the instances to scan, or change the account's Tagkey/Tagvalue"
    )]
    NoInstancesMatched {
        account_id: String,
        region: String,
        target: String,
    },

    #[error("{what} was not found in account {account_id} ({region}): {detail}")]
    NotFound {
        account_id: String,
        region: String,
        what: String,
        detail: String,
    },

    #[error(
        "scan {run_id} in account {account_id} ({region}) ended in state {state}: {detail}. \
         Check the agents and the run in the Inspector console, then rerun the scan"
    )]
    ScanFailed {
        account_id: String,
        region: String,
        run_id: String,
        state: String,
        detail: String,
    },

    #[error(
        "scan {run_id} in account {account_id} ({region}) was still {state} at its deadline \
         {deadline}; it was not collected. Rerun with {{\"runArn\"}} or {{\"reportId\"}} once it ends"
    )]
    ScanTimedOut {
        account_id: String,
        region: String,
        run_id: String,
        state: String,
        deadline: String,
    },

    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    PayloadTooLarge {
        what: String,
        size: usize,
        limit: usize,
    },

    #[error("internal error: {detail}")]
    Internal { detail: String },
}

impl ScanError {
    /// Every `errorType` a step can produce, as the state machine names them.
    pub const ERROR_TYPES: [&'static str; 11] = [
        "InvalidInput",
        "Transient",
        "RoleNotAssumable",
        "AccessDenied",
        "InspectorDisabled",
        "NoInstancesMatched",
        "NotFound",
        "ScanFailed",
        "ScanTimedOut",
        "PayloadTooLarge",
        "Internal",
    ];

    /// The stable `errorType` (Step Functions' `Error`) for this failure.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidInput { .. } => "InvalidInput",
            Self::Transient { .. } => "Transient",
            Self::RoleNotAssumable { .. } => "RoleNotAssumable",
            Self::AccessDenied { .. } => "AccessDenied",
            Self::InspectorDisabled { .. } => "InspectorDisabled",
            Self::NoInstancesMatched { .. } => "NoInstancesMatched",
            Self::NotFound { .. } => "NotFound",
            Self::ScanFailed { .. } => "ScanFailed",
            Self::ScanTimedOut { .. } => "ScanTimedOut",
            Self::PayloadTooLarge { .. } => "PayloadTooLarge",
            Self::Internal { .. } => "Internal",
        }
    }

    /// Whether the state machine retries this error (only `Transient` is).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    pub fn invalid(
        field: impl Into<String>,
        expected: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self::InvalidInput {
            field: field.into(),
            expected: expected.into(),
            problem: problem.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal {
            detail: detail.to_string(),
        }
    }

    /// The body of a Lambda error response (`Cause` in Step Functions), as AWS writes it.
    pub fn to_cause(&self) -> String {
        serde_json::json!({"errorType": self.error_type(), "errorMessage": self.to_string()})
            .to_string()
    }
}

/// How many characters of a bad value an error message quotes: enough to recognise it, never
/// the whole of a 256 KiB input echoed into a notice, a log line or an e-mail.
pub const QUOTE_MAX_CHARS: usize = 100;

/// A bad value as error messages quote it: Rust-escaped (so control characters show as `\u{..}`
/// escapes, never raw) and cut to [`QUOTE_MAX_CHARS`] characters, saying how long it was.
/// Every `ScanError::invalid` that echoes input quotes it through here.
pub fn quote(value: &str) -> String {
    let total = value.chars().count();
    if total <= QUOTE_MAX_CHARS {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(QUOTE_MAX_CHARS).collect();
    format!("{head:?}... ({total} characters)")
}

/// A caught error as Step Functions hands it to a `Catch` target: `{"Error", "Cause"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

impl CaughtError {
    /// The human message inside `Cause`: Lambda errors carry `errorMessage` in a JSON string,
    /// Step Functions' own errors carry plain text.
    pub fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.cause)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| self.cause.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_cut_at_100_characters_and_escaped() {
        let at = "é".repeat(QUOTE_MAX_CHARS);
        assert_eq!(quote(&at), format!("{at:?}"));
        let past = "é".repeat(QUOTE_MAX_CHARS + 1);
        assert_eq!(quote(&past), format!("{at:?}... (101 characters)"));
        let huge = quote(&"x".repeat(127 * 1024));
        assert!(huge.len() < 140, "{huge}");
        assert_eq!(quote("a\u{1b}[31m\0"), "\"a\\u{1b}[31m\\0\"");
    }

    #[test]
    fn every_variant_has_a_listed_error_type_and_only_transient_is_retried() {
        let samples = [
            ScanError::invalid("accountId", "12 digits", "is missing"),
            ScanError::Transient {
                service: "s".into(),
                detail: "d".into(),
            },
            ScanError::RoleNotAssumable {
                account_id: "a".into(),
                role_arn: "r".into(),
                detail: "d".into(),
            },
            ScanError::AccessDenied {
                account_id: "a".into(),
                region: "r".into(),
                action: "x".into(),
                detail: "d".into(),
            },
            ScanError::InspectorDisabled {
                account_id: "a".into(),
                region: "r".into(),
                engine: "e".into(),
                detail: "d".into(),
            },
            ScanError::NoInstancesMatched {
                account_id: "a".into(),
                region: "r".into(),
                target: "t".into(),
            },
            ScanError::NotFound {
                account_id: "a".into(),
                region: "r".into(),
                what: "w".into(),
                detail: "d".into(),
            },
            ScanError::ScanFailed {
                account_id: "a".into(),
                region: "r".into(),
                run_id: "x".into(),
                state: "FAILED".into(),
                detail: "d".into(),
            },
            ScanError::ScanTimedOut {
                account_id: "a".into(),
                region: "r".into(),
                run_id: "x".into(),
                state: "s".into(),
                deadline: "d".into(),
            },
            ScanError::PayloadTooLarge {
                what: "w".into(),
                size: 2,
                limit: 1,
            },
            ScanError::internal("x"),
        ];
        let names: Vec<_> = samples.iter().map(ScanError::error_type).collect();
        assert_eq!(names, ScanError::ERROR_TYPES);
        assert_eq!(samples.iter().filter(|e| e.is_retryable()).count(), 1);
        assert!(samples[1].is_retryable());
    }

    #[test]
    fn cause_round_trips_to_the_message() {
        let err = ScanError::invalid("region", "an AWS region such as eu-west-1", "is \"moon\"");
        let caught = CaughtError {
            error: err.error_type().into(),
            cause: err.to_cause(),
        };
        assert_eq!(caught.message(), err.to_string());
        assert!(caught.message().contains("`region`"));
        let plain = CaughtError {
            error: "States.Timeout".into(),
            cause: "took too long".into(),
        };
        assert_eq!(plain.message(), "took too long");
    }
}
