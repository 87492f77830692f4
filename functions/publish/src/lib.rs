//! The publish step (placeholder).
