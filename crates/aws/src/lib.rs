//! scanflow's AWS path: the domain's ports implemented with the AWS SDK, and the Lambda glue
//! the five functions' mains call ([`lambda::run`]).

pub mod account_status;
pub mod classic;
pub mod config;
pub mod error;
pub mod iam;
pub mod inspector2;
pub mod lambda;
pub mod member;
pub mod platform;
pub mod s3;
pub mod securityhub;
pub mod settings;
pub mod sns;

pub use config::{Config, ConfigError};
pub use inspector2::ReportDestination;
pub use lambda::HandlerError;
pub use member::{AwsMember, MemberClients};
pub use platform::AwsPlatform;
