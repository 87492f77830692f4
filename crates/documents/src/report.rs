//! Reading what collect-findings left in the report store: the manifest, then the findings one
//! chunk at a time, so no step ever holds more than one chunk of findings in memory.

use scanflow_core::ScanError;
use scanflow_core::model::Finding;
use scanflow_core::ports::{FindingRef, ReportStore};
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

/// Reads one chunk of JSON lines, one finding a line, to be decoded a finding at a time
/// ([`Chunk::findings`]): only the chunk's text and the finding in hand are held, and a
/// finding's allocations are freed before the next one's are made. A line that is not a
/// finding fails the step: dropping it would deliver less than was found.
pub async fn read_chunk<S: ReportStore>(store: &S, key: &str) -> Result<Chunk, ScanError> {
    let bytes = store.get(key).await?;
    Chunk::new(key, bytes)
}

/// One findings chunk's text, checked as UTF-8 once (so serde does not check each string
/// again).
pub struct Chunk {
    key: String,
    text: String,
}

impl Chunk {
    fn new(key: &str, bytes: Vec<u8>) -> Result<Self, ScanError> {
        let text = String::from_utf8(bytes).map_err(|e| {
            let bytes = e.as_bytes();
            let valid = bytes
                .get(..e.utf8_error().valid_up_to())
                .unwrap_or_default();
            not_a_finding(
                key,
                valid.iter().filter(|&&b| b == b'\n').count() + 1,
                &e.utf8_error(),
            )
        })?;
        Ok(Self {
            key: key.to_owned(),
            text,
        })
    }

    /// The chunk's findings in order, each decoded when it is taken.
    pub fn findings(&self) -> impl Iterator<Item = Result<Finding, ScanError>> + '_ {
        self.lines()
    }

    /// The non-blank lines, each decoded as an `L` when it is taken; `str::split` finds the
    /// line ends with a fast byte search.
    fn lines<'a, L: serde::Deserialize<'a>>(
        &'a self,
    ) -> impl Iterator<Item = Result<L, ScanError>> + 'a {
        self.text
            .split('\n')
            .enumerate()
            .filter(|(_, line)| !line.trim_ascii().is_empty())
            .map(|(n, line)| {
                serde_json::from_str(line).map_err(|e| not_a_finding(&self.key, n + 1, &e))
            })
    }
}

/// Reads one chunk for each finding's id and Region only, as Security Hub names it: the rest
/// of each line is skipped, not decoded (publish needs no more, and format has read it whole).
pub async fn read_chunk_refs<S: ReportStore>(
    store: &S,
    key: &str,
) -> Result<Vec<FindingRef>, ScanError> {
    let bytes = store.get(key).await?;
    parse_refs(key, bytes)
}

fn parse_refs(key: &str, bytes: Vec<u8>) -> Result<Vec<FindingRef>, ScanError> {
    #[derive(serde::Deserialize)]
    struct Line {
        id: String,
        region: String,
    }
    let chunk = Chunk::new(key, bytes)?;
    chunk
        .lines()
        .map(|line| {
            line.map(|l: Line| FindingRef {
                id: l.id,
                region: l.region,
            })
        })
        .collect()
}

fn not_a_finding(key: &str, line: usize, e: &dyn std::fmt::Display) -> ScanError {
    ScanError::internal(format!(
        "line {line} of findings chunk {key} is not a finding ({e}); collect the findings \
         again by rerunning the scan with its runArn or reportId"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunk(key: &str, bytes: &[u8]) -> Result<Vec<Finding>, ScanError> {
        Chunk::new(key, bytes.to_vec())?.findings().collect()
    }

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

    #[test]
    fn a_line_that_is_not_utf8_is_named() {
        let good = r#"{"id":"f1","engine":"inspector2","accountId":"111122223333","region":"eu-west-1","severity":"HIGH","title":"t"}"#;
        let mut bytes = format!("{good}\n{good}\n").into_bytes();
        bytes.extend_from_slice(b"{\"id\":\"f\xff\"}\n");
        let text = parse_chunk("chunk-3", &bytes)
            .expect_err("not UTF-8")
            .to_string();
        assert!(
            text.contains("line 3") && text.contains("chunk-3") && text.contains("utf-8"),
            "{text}"
        );
        let text = parse_refs("chunk-3", bytes)
            .expect_err("not UTF-8")
            .to_string();
        assert!(text.contains("line 3"), "{text}");
    }

    #[test]
    fn refs_are_the_ids_and_regions_and_a_line_without_them_is_named() {
        let line = |id: &str, region: &str| {
            format!(
                r#"{{"id":"{id}","engine":"inspector2","accountId":"111122223333","region":"{region}","severity":"HIGH","title":"t","detail":{{"kind":"packageVulnerability","packages":[]}}}}"#
            )
        };
        let text = format!(
            "{}\n\n{}\n",
            line("f1", "eu-west-1"),
            line("f2", "us-east-1")
        );
        let refs = parse_refs("k", text.into_bytes()).expect("valid");
        assert_eq!(
            refs,
            [
                FindingRef {
                    id: "f1".into(),
                    region: "eu-west-1".into()
                },
                FindingRef {
                    id: "f2".into(),
                    region: "us-east-1".into()
                }
            ]
        );
        let bad = format!("{}\n{{\"id\": \"f3\"}}\n", line("f1", "r"));
        let err = parse_refs("chunk-9", bad.into_bytes()).expect_err("no region");
        let text = err.to_string();
        assert!(
            text.contains("line 2") && text.contains("chunk-9"),
            "{text}"
        );
    }
}
