//! Why a sandbox could not be set up: a scenario that does not make sense, an output folder that
//! cannot be written, an endpoint the sandbox cannot post to.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// `field` is a path into the scenario document, such as `accounts[2].instances[0].id`.
    #[error("invalid scenario: {field}: {problem}")]
    Scenario { field: String, problem: String },

    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {path}: {source}. Choose an output folder you can write to")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("HTTP endpoint {endpoint:?}: {problem}")]
    Endpoint { endpoint: String, problem: String },
}

impl SandboxError {
    pub(crate) fn scenario(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Scenario {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// The scenario field at fault, if this is a scenario error.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Scenario { field, .. } => Some(field),
            _ => None,
        }
    }
}
