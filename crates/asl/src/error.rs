//! Definition errors (collected, each naming the state and field) and the runtime error
//! values (`Error`/`Cause` pairs) that Retry/Catch match on.

use std::borrow::Cow;
use std::fmt;

/// How many characters of a path, name or value from the definition or the input an error
/// message quotes: a 100 KiB path must not make a 100 KiB message.
pub(crate) const QUOTE_MAX_CHARS: usize = 100;

/// `text` as an error message quotes it: whole when it has at most [`QUOTE_MAX_CHARS`]
/// characters (so AWS's wording stays exact for ordinary values), otherwise its first
/// [`QUOTE_MAX_CHARS`] characters and how long it was.
pub(crate) fn clip(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(QUOTE_MAX_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!(
            "{}… ({} characters)",
            &text[..end],
            text.chars().count()
        )),
    }
}

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ValidationError {
    /// The state the problem is in (`None` for top-level fields such as `StartAt`).
    pub state: Option<String>,
    /// The offending field, e.g. `Next`, `Retry[1].ErrorEquals`, `Parameters.x.$`.
    pub field: String,
    pub message: String,
}

impl ValidationError {
    fn describe(&self) -> String {
        match &self.state {
            Some(s) => format!(
                "state '{}', field '{}': {}",
                clip(s),
                clip(&self.field),
                self.message
            ),
            None => format!("field '{}': {}", clip(&self.field), self.message),
        }
    }
}

/// Every problem found in a definition (validation does not stop at the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid state machine definition ({} problem",
            self.0.len()
        )?;
        if self.0.len() != 1 {
            f.write_str("s")?;
        }
        f.write_str("); fix each of:")?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

/// Error names Step Functions itself raises.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const RUNTIME: &str = "States.Runtime";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

/// A runtime error as Step Functions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub error: String,
    pub cause: String,
    /// The cause already names the state it happened in (AWS's "An error occurred while
    /// executing the state ..." prefix), so enclosing states leave it alone.
    pub located: bool,
    /// A task's own result past the payload cap: AWS lets a `Catch` (even `States.ALL`)
    /// take this `States.DataLimitExceeded`, unlike the others.
    pub catchable: bool,
}

impl Failure {
    pub(crate) fn new(error: impl Into<String>, cause: impl Into<String>) -> Failure {
        Failure {
            error: error.into(),
            cause: cause.into(),
            located: false,
            catchable: false,
        }
    }

    pub(crate) fn runtime(cause: impl Into<String>) -> Failure {
        Failure::new(names::RUNTIME, cause)
    }

    /// Runtime errors and payload-size errors end the execution: no Retry or Catch sees them.
    pub(crate) fn is_terminal(&self) -> bool {
        self.error == names::RUNTIME
            || (self.error == names::DATA_LIMIT_EXCEEDED && !self.catchable)
    }

    /// Whether an `ErrorEquals` entry matches this error.
    pub(crate) fn matches(&self, name: &str) -> bool {
        if self.is_terminal() {
            return false;
        }
        match name {
            names::ALL => true,
            names::TASK_FAILED => self.error != names::TIMEOUT,
            other => other == self.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_quotes_100_characters_whole_and_cuts_101() {
        let at = "é".repeat(QUOTE_MAX_CHARS);
        assert_eq!(clip(&at), at.as_str());
        let past = format!("{at}z");
        assert_eq!(clip(&past), format!("{at}… (101 characters)"));
        assert_eq!(clip(""), "");
    }
}
