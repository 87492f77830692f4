//! The publish step (being written): decodes its input, runs against any [`Platform`], encodes its output.

use scanflow_core::ScanError;
use scanflow_core::ports::Platform;

/// Entry point shared by the Lambda main and the local engine.
pub async fn invoke<P: Platform>(
    _platform: &P,
    _event: serde_json::Value,
) -> Result<serde_json::Value, ScanError> {
    Err(ScanError::internal("publish is not written yet"))
}
