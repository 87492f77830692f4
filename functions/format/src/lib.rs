//! The format step (placeholder).
