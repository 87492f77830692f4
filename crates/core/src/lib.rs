//! scanflow's domain, free of any AWS dependency: what a scan request is, what a finding is,
//! what flows between the five steps, the errors the state machine reads, and the ports the
//! AWS adapters and the sandbox implement.

pub mod acceptance;
pub mod cis;
pub mod console;
pub mod error;
pub mod fingerprint;
pub mod fleet;
pub mod input;
pub mod json;
pub mod keys;
pub mod lifecycle;
pub mod message;
pub mod migration;
pub mod model;
pub mod partition;
pub mod ports;
pub mod report_stream;
pub mod rollup;
pub mod schedule;
pub mod state;
pub mod step;
pub mod text;
pub mod time;

pub use error::ScanError;
