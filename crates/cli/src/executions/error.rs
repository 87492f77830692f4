//! What can go wrong operating a deployed stack, each message saying what to check; the one
//! place AWS SDK failures are classified for `scanflow executions`.

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use scanflow_core::ScanError;

pub use crate::error::{FAILED, INVALID};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("the execution input is invalid: {0}")]
    Input(Box<ScanError>),

    #[error(
        "stack {stack} was not found in {region}: check --stack, and the region the hub is deployed in \
         (--stack-region, AWS_REGION or the profile's region)"
    )]
    StackNotFound { stack: String, region: String },

    #[error(
        "stack {stack} has no output StateMachineArn (its outputs: {outputs}); is it the scanflow hub \
         stack, and has its deployment finished?"
    )]
    NoStateMachineOutput { stack: String, outputs: String },

    #[error(
        "an execution named {name} already exists with a different input:\n  existing:  {existing}\n  \
         requested: {requested}\nStep Functions keeps an execution name for 90 days. Follow the existing \
         one with `scanflow executions watch {arn}`, or start this input under another name with --name."
    )]
    DifferentInput {
        name: String,
        arn: String,
        existing: String,
        requested: String,
    },

    #[error("{arn} cannot be redriven: {why}")]
    NotRedrivable { arn: String, why: String },

    #[error(
        "{action}: AWS throttled the request and it still failed after the SDK's retries ({message}); \
         wait a minute and run the command again"
    )]
    Throttled {
        action: &'static str,
        message: String,
    },

    #[error(
        "{action}: access denied ({message}); check that the credentials in use (--profile, AWS_PROFILE) \
         allow {action} on this resource"
    )]
    AccessDenied {
        action: &'static str,
        message: String,
    },

    #[error(
        "{action}: AWS rejected the credentials ({message}); refresh them (`aws sso login`, new keys) \
         or choose another --profile"
    )]
    BadCredentials {
        action: &'static str,
        message: String,
    },

    #[error("{action}: {message}; check the ARN, and that it belongs to region {region}")]
    NotFound {
        action: &'static str,
        message: String,
        region: String,
    },

    #[error(
        "{action}: could not call AWS ({detail}); check that credentials are configured \
         (`aws configure`, --profile), the network, and the region"
    )]
    Unreachable {
        action: &'static str,
        detail: String,
    },

    #[error("{action} failed: {code}: {message}")]
    Aws {
        action: &'static str,
        code: String,
        message: String,
    },

    #[error("no AWS region: pass --stack-region, set AWS_REGION, or set a region in the profile")]
    NoRegion,

    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<ScanError> for Error {
    fn from(e: ScanError) -> Self {
        Self::Input(Box::new(e))
    }
}

impl Error {
    /// 2 for arguments or input that cannot work, 1 for everything else.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Usage(_) | Self::Input(_) | Self::DifferentInput { .. } => INVALID,
            _ => FAILED,
        }
    }

    /// Classifies an SDK failure of `action` (the IAM action name, e.g. `states:StartExecution`)
    /// made against `region`.
    pub(crate) fn aws<E>(action: &'static str, region: &str, err: &SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let SdkError::ServiceError(service) = err else {
            return Self::Unreachable {
                action,
                detail: DisplayErrorContext(err).to_string(),
            };
        };
        let code = service.err().code().unwrap_or_default().to_owned();
        let message = service.err().message().unwrap_or("no message").to_owned();
        let status = service.raw().status().as_u16();
        match code.as_str() {
            "ThrottlingException"
            | "Throttling"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "KmsThrottlingException" => Self::Throttled { action, message },
            _ if status == 429 => Self::Throttled { action, message },
            "AccessDeniedException" | "AccessDenied" | "KmsAccessDeniedException" => {
                Self::AccessDenied { action, message }
            }
            "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch" => Self::BadCredentials { action, message },
            "ExecutionDoesNotExist" | "StateMachineDoesNotExist" | "ResourceNotFound" => {
                Self::NotFound {
                    action,
                    message,
                    region: region.to_owned(),
                }
            }
            "" => Self::Aws {
                action,
                code: format!("HTTP {status}"),
                message,
            },
            _ => Self::Aws {
                action,
                code,
                message,
            },
        }
    }
}
