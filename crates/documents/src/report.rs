//! Reading what collect-findings left in the report store: the manifest, then the findings one
//! chunk at a time, so no step ever holds more than one chunk of findings in memory.

use scanflow_core::ScanError;
use scanflow_core::model::Finding;
use scanflow_core::ports::ReportStore;
use scanflow_core::state::Manifest;

/// Reads and decodes the run's manifest.
pub async fn read_manifest<S: ReportStore>(store: &S, key: &str) -> Result<Manifest, ScanError> {
    let bytes = store.get(key).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ScanError::internal(format!(
            "manifest {key} is not a scanflow manifest ({e}); collect the findings again by \
             rerunning the scan with its runArn or reportId"
        ))
    })
}

/// Reads one chunk of JSON lines, one finding a line. A line that is not a finding fails the
/// step: dropping it would deliver less than was found.
pub async fn read_chunk<S: ReportStore>(store: &S, key: &str) -> Result<Vec<Finding>, ScanError> {
    let bytes = store.get(key).await?;
    parse_chunk(key, &bytes)
}

fn parse_chunk(key: &str, bytes: &[u8]) -> Result<Vec<Finding>, ScanError> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(n, line)| {
            serde_json::from_slice(line).map_err(|e| {
                ScanError::internal(format!(
                    "line {} of findings chunk {key} is not a finding ({e}); collect the \
                     findings again by rerunning the scan with its runArn or reportId",
                    n + 1
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_are_skipped_and_a_bad_line_is_named() {
        let good = r#"{"id":"f1","engine":"inspector2","accountId":"111122223333","region":"eu-west-1","severity":"HIGH","title":"t"}"#;
        let text = format!("{good}\n\n{good}\n");
        assert_eq!(parse_chunk("k", text.as_bytes()).expect("valid").len(), 2);
        let err = parse_chunk("chunk-7", format!("{good}\n{{\"id\": 3}}\n").as_bytes())
            .expect_err("bad line");
        let text = err.to_string();
        assert!(
            text.contains("line 2") && text.contains("chunk-7"),
            "{text}"
        );
    }
}
