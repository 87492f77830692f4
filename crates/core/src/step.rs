//! Decoding a step's JSON input and encoding its output, with errors that name the field.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ScanError;

/// The hub's functions, as their binaries are named (the template's `BuildProperties.Binary`
/// and `lambda::run`'s name): the five steps; `notify`, publish's failure mode deployed as its
/// own function (own concurrency) for Step Functions' status change events; and the fleet
/// watch.
pub const FUNCTIONS: [&str; 7] = [
    "start-run",
    "check-status",
    "collect-findings",
    "format",
    "publish",
    "notify",
    "fleet-watch",
];

/// Decodes a step's input; a mismatch names the JSON path of the offending field.
pub fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ScanError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let mut field = if path == "." {
            "$".to_owned()
        } else {
            format!("$.{path}")
        };
        // serde reports a missing field at its parent; name the field itself.
        let message = e.inner().to_string();
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            field = format!("{field}.{missing}");
        }
        ScanError::invalid(
            field,
            format!(
                "the {} shape",
                std::any::type_name::<T>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("input")
            ),
            message,
        )
    })
}

pub fn encode<T: Serialize>(value: &T) -> Result<serde_json::Value, ScanError> {
    serde_json::to_value(value).map_err(ScanError::internal)
}

/// A record as the JSON bytes the report store keeps.
pub fn to_json_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, ScanError> {
    serde_json::to_vec(value).map_err(ScanError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::CheckStatusInput;

    #[test]
    fn decode_names_the_bad_field() {
        let err =
            decode::<CheckStatusInput>(serde_json::json!({"run": {"accountId": 5}, "now": "x"}))
                .expect_err("bad");
        match err {
            ScanError::InvalidInput {
                field, expected, ..
            } => {
                assert_eq!(field, "$.run.accountId");
                assert!(expected.contains("CheckStatusInput"));
            }
            other => panic!("{other:?}"),
        }
        match decode::<CheckStatusInput>(serde_json::json!({"now": "x"})).expect_err("no run") {
            ScanError::InvalidInput { field, .. } => assert_eq!(field, "$.run"),
            other => panic!("{other:?}"),
        }
    }
}
