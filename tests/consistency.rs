//! Consistency between templates, state machine and code (being written).
