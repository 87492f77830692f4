//! The scanflow command line (placeholder).
fn main() {}
