//! The `scanflow` command's library: loading the workflow definition, running it locally on
//! the sandbox, printing execution traces, and the reference SIEM receiver. `main.rs` only parses arguments.

pub mod definition;
pub mod duration;
pub mod error;
#[cfg(feature = "aws")]
pub mod executions;
pub mod local;
pub mod names;
pub mod siem;
pub mod simulate;
pub mod trace;
