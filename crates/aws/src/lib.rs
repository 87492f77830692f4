//! AWS SDK adapters (placeholder).
