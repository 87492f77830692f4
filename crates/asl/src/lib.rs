//! Amazon States Language engine (placeholder until the engine lands).
