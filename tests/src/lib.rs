//! Workspace-level integration tests (placeholder).
