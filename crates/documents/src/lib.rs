//! The documents the scan steps exchange, below the functions so that each step depends only
//! on the domain and on these: the findings chunks and manifest collect-findings writes
//! ([`report`]), the e-mail digest ([`digest`]) and the SIEM document with its schema
//! ([`siem`]) that format writes and publish sends, and the SNS message attributes and
//! subjects both use ([`envelope`]), and the body SNS posts to the SIEM's HTTPS endpoint with
//! the text SNS signs in it ([`sns_http`]); the OCSF events SIEM parts carry instead of
//! scanflow's own findings when the hub asks for OCSF ([`ocsf`]); the HTML reports for
//! people, per scan and for the org rollup ([`html`]).

pub mod digest;
pub mod envelope;
pub mod html;
pub mod ocsf;
pub mod report;
pub mod siem;
pub mod sns_http;
