//! The start-run step (placeholder).
