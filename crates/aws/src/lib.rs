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

/// A listing's next page token: an empty one ends the listing as an absent one does (some
/// services answer `""` on the last page), so every paging loop stops on the same rule.
pub(crate) fn next_page(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_owned)
}
