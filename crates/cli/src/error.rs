//! The CLI's failures and the exit status each gives, in one place: 2 when what was asked
//! cannot work (arguments, files, a scenario or a definition), 1 when it ran and failed.
//! Every command prints its error once, as `scanflow <command>: <message>`.

use std::fmt::Display;

use crate::definition::DefinitionError;
use crate::local::RunError;
use crate::siem::ReceiveError;
use crate::simulate::SimulateError;

/// Exit status for arguments, files, scenarios or definitions that cannot work.
pub const INVALID: u8 = 2;
/// Exit status for a command that ran and failed.
pub const FAILED: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// What was asked cannot work; the message names the argument or file.
    #[error("{0}")]
    Invalid(String),
    /// It ran and failed; the message says what went wrong.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn invalid(e: impl Display) -> Self {
        Self::Invalid(e.to_string())
    }

    pub fn failed(e: impl Display) -> Self {
        Self::Failed(e.to_string())
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Invalid(_) => INVALID,
            Self::Failed(_) => FAILED,
        }
    }
}

impl From<RunError> for CliError {
    fn from(e: RunError) -> Self {
        match e {
            // The scenario is validated when the sandbox is built: that is bad input too.
            RunError::Sandbox(_) => Self::invalid(e),
            _ => Self::failed(e),
        }
    }
}

impl From<SimulateError> for CliError {
    fn from(e: SimulateError) -> Self {
        match e {
            SimulateError::Invalid(_) => Self::invalid(e),
            _ => Self::failed(e),
        }
    }
}

impl From<DefinitionError> for CliError {
    fn from(e: DefinitionError) -> Self {
        Self::invalid(e)
    }
}

/// The receiver stops only when it cannot start (address, folder, certificate): its
/// arguments.
impl From<ReceiveError> for CliError {
    fn from(e: ReceiveError) -> Self {
        Self::invalid(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_status() {
        assert_eq!(
            CliError::from(RunError::Sandbox("bad".into())).exit_code(),
            2
        );
        assert_eq!(
            CliError::from(RunError::Redrive("lost".into())).exit_code(),
            1
        );
        assert_eq!(
            CliError::from(SimulateError::Invalid("--accounts 0".into())).exit_code(),
            2
        );
        assert_eq!(
            CliError::from(SimulateError::Sandbox("broke".into())).exit_code(),
            1
        );
        assert_eq!(CliError::invalid("x").to_string(), "x");
    }
}
