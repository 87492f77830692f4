//! The `scanflow` command's library: loading the workflow definition, running it locally on
//! the sandbox, and printing execution traces. `main.rs` only parses arguments.

pub mod definition;
pub mod duration;
#[cfg(feature = "aws")]
pub mod executions;
pub mod local;
pub mod names;
pub mod simulate;
pub mod trace;
