//! The check-status step (placeholder).
