//! The collect-findings step (placeholder).
