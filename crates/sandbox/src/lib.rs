//! Simulated member accounts (placeholder).
