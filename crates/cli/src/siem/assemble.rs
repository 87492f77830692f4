//! Puts runs back together from SIEM documents as SIEM.md says: parts are kept on disk until
//! every part of a run has arrived, a part seen before is dropped, and a complete run becomes
//! `<accountId>/<region>/<runId>.ndjson` (one finding per line, exactly as sent: scanflow's
//! own findings, or OCSF events when the parts' `findingsFormat` says so; see
//! [`file_stem`] for run ids that are not file names) with its resolved entries in
//! `<runId>.resolved.ndjson`; failure documents go to `failures.ndjson` once each.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use scanflow_core::error::quote;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::Digest as _;

/// The most parts a run can have: SIEM.md's part count is at most this (1,000,000 findings at
/// about 150 per part fit with a wide margin); a larger count is a forged document.
pub const MAX_PARTS: u32 = 100_000;

/// What became of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A new part of a run that is not complete yet.
    Part { index: u32, count: u32 },
    /// The part that completed its run: the run's files were written.
    Completed {
        findings: usize,
        resolved: usize,
        file: PathBuf,
    },
    /// Already had it: nothing was written.
    Duplicate,
    /// A failure document, kept.
    Failure,
}

/// Why a document cannot be stored; the message names the field.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("the document is not a scanflow SIEM document: {0}")]
    NotADocument(String),
    #[error("{field} {value} {expected}")]
    Field {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("cannot write {path}: {error}; the message is answered 500 so SNS retries it")]
    Io { path: String, error: std::io::Error },
}

#[derive(Deserialize)]
struct Document<'a> {
    schema: String,
    kind: String,
    #[serde(default)]
    run: Option<RunRef>,
    #[serde(default)]
    part: Option<PartRef>,
    #[serde(default, borrow)]
    findings: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    resolved: Vec<&'a RawValue>,
    #[serde(default)]
    failure: Option<FailureRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunRef {
    account_id: String,
    region: String,
    run_id: String,
}

#[derive(Deserialize)]
struct PartRef {
    index: u32,
    count: u32,
}

#[derive(Deserialize)]
struct FailureRef {
    execution: String,
    error: String,
}

/// The receiver's store under one output folder. One lock around it: documents arrive a few a
/// second, and a run completes exactly once.
pub struct Store {
    dir: PathBuf,
    failures_seen: Mutex<HashSet<(String, String)>>,
    write: Mutex<()>,
}

impl Store {
    pub fn new(dir: &Path) -> Result<Self, AssembleError> {
        fs::create_dir_all(dir).map_err(|error| io(dir, error))?;
        Ok(Self {
            dir: dir.to_owned(),
            failures_seen: Mutex::new(HashSet::new()),
            write: Mutex::new(()),
        })
    }

    /// Stores one document (an SNS message's `Message`).
    pub fn store(&self, text: &str) -> Result<Stored, AssembleError> {
        let doc: Document = serde_json::from_str(text)
            .map_err(|e| AssembleError::NotADocument(quote(&e.to_string())))?;
        if doc.schema != "scanflow.siem" {
            return Err(field("schema", &doc.schema, "is not scanflow.siem"));
        }
        match doc.kind.as_str() {
            "findings" => self.store_part(&doc),
            "failure" => self.store_failure(&doc, text),
            other => Err(field("kind", other, "is not findings or failure")),
        }
    }

    fn store_part(&self, doc: &Document) -> Result<Stored, AssembleError> {
        let run = doc
            .run
            .as_ref()
            .ok_or_else(|| field("run", "", "is missing from a findings document"))?;
        let part = doc
            .part
            .as_ref()
            .ok_or_else(|| field("part", "", "is missing from a findings document"))?;
        if part.count == 0 || part.count > MAX_PARTS {
            return Err(number(
                "part.count",
                part.count,
                "is not between 1 and 100000",
            ));
        }
        if part.index == 0 || part.index > part.count {
            return Err(number(
                "part.index",
                part.index,
                "is not between 1 and part.count",
            ));
        }
        let account = safe_name("run.accountId", &run.account_id)?;
        let region = safe_name("run.region", &run.region)?;
        if run.run_id.is_empty() || run.run_id.len() > 2_048 {
            return Err(field(
                "run.runId",
                &run.run_id,
                "is not 1 to 2048 characters",
            ));
        }
        let run_id = &file_stem(&run.run_id);
        let run_dir = self.dir.join(account).join(region);
        let parts_dir = run_dir.join(format!(".{run_id}.parts-of-{}", part.count));
        let _guard = crate::siem::lock(&self.write);
        fs::create_dir_all(&parts_dir).map_err(|e| io(&parts_dir, e))?;
        let part_file = parts_dir.join(format!("{}.json", part.index));
        if part_file.exists() {
            return Ok(Stored::Duplicate);
        }
        // One line per finding, then a separator, then one per resolved entry.
        let mut body = String::new();
        for f in &doc.findings {
            body.push_str(&one_line(f));
            body.push('\n');
        }
        body.push_str("--resolved--\n");
        for r in &doc.resolved {
            body.push_str(&one_line(r));
            body.push('\n');
        }
        write_atomically(&part_file, body.as_bytes())?;
        let have = fs::read_dir(&parts_dir)
            .map_err(|e| io(&parts_dir, e))?
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))
            })
            .count();
        if have < part.count as usize {
            return Ok(Stored::Part {
                index: part.index,
                count: part.count,
            });
        }
        self.complete(&run_dir, run_id, &parts_dir, part.count)
    }

    fn complete(
        &self,
        run_dir: &Path,
        run_id: &str,
        parts_dir: &Path,
        count: u32,
    ) -> Result<Stored, AssembleError> {
        let mut findings = String::new();
        let mut resolved = String::new();
        for index in 1..=count {
            let path = parts_dir.join(format!("{index}.json"));
            let text = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            let (f, r) = text.split_once("--resolved--\n").unwrap_or((&text, ""));
            findings.push_str(f);
            resolved.push_str(r);
        }
        let file = run_dir.join(format!("{run_id}.ndjson"));
        write_atomically(&file, findings.as_bytes())?;
        write_atomically(
            &run_dir.join(format!("{run_id}.resolved.ndjson")),
            resolved.as_bytes(),
        )?;
        fs::remove_dir_all(parts_dir).map_err(|e| io(parts_dir, e))?;
        Ok(Stored::Completed {
            findings: findings.lines().count(),
            resolved: resolved.lines().count(),
            file,
        })
    }

    fn store_failure(&self, doc: &Document, text: &str) -> Result<Stored, AssembleError> {
        let failure = doc
            .failure
            .as_ref()
            .ok_or_else(|| field("failure", "", "is missing from a failure document"))?;
        let key = (failure.execution.clone(), failure.error.clone());
        if !crate::siem::lock(&self.failures_seen).insert(key) {
            return Ok(Stored::Duplicate);
        }
        let path = self.dir.join("failures.ndjson");
        let _guard = crate::siem::lock(&self.write);
        let compact = serde_json::from_str::<&RawValue>(text)
            .map(one_line)
            .unwrap_or_default();
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{compact}\n").as_bytes()))
            .map_err(|e| io(&path, e))?;
        Ok(Stored::Failure)
    }
}

/// The file name for a run: its id when that is a safe name (Inspector v2's report ids), else
/// `run-` and 16 hex digits of its SHA-256 (Inspector Classic's run ARNs have `:` and `/`).
pub fn file_stem(run_id: &str) -> String {
    match safe_name("run.runId", run_id) {
        Ok(name) => name.to_owned(),
        Err(_) => {
            let digest = sha2::Sha256::digest(run_id.as_bytes());
            format!("run-{}", &hex::encode(digest)[..16])
        }
    }
}

/// A name used as a path segment: letters, digits, `.`, `_`, `-`, at most 128, not `.`/`..`.
fn safe_name<'a>(name: &'static str, value: &'a str) -> Result<&'a str, AssembleError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value != "."
        && value != ".."
        && !value.starts_with('.')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(value)
    } else {
        Err(field(
            name,
            value,
            "is not 1-128 letters, digits, '.', '_' or '-' (not starting with '.')",
        ))
    }
}

/// A JSON value on one line. A raw newline in JSON text can only be whitespace (inside strings
/// it is escaped), so removing them keeps the value exactly.
fn one_line(raw: &RawValue) -> String {
    raw.get().replace(['\n', '\r'], "")
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), AssembleError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| io(path, e))
}

fn field(field: &'static str, value: &str, expected: &'static str) -> AssembleError {
    AssembleError::Field {
        field,
        value: quote(value),
        expected,
    }
}

fn number(field: &'static str, value: u32, expected: &'static str) -> AssembleError {
    AssembleError::Field {
        field,
        value: value.to_string(),
        expected,
    }
}

fn io(path: &Path, error: std::io::Error) -> AssembleError {
    AssembleError::Io {
        path: path.display().to_string(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(run_id: &str, index: u32, count: u32, ids: &[u32]) -> String {
        serde_json::json!({
            "schema": "scanflow.siem", "schemaVersion": "1.1", "kind": "findings",
            "run": {"accountId": "111122223333", "region": "eu-west-1", "runId": run_id},
            "part": {"index": index, "count": count},
            "findings": ids.iter().map(|i| serde_json::json!({"id": format!("f-{i}")})).collect::<Vec<_>>(),
            "resolved": [],
        })
        .to_string()
    }

    fn temp(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("scanflow-assemble-{label}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn parts_out_of_order_and_repeated_give_each_finding_exactly_once() {
        let dir = temp("order");
        let store = Store::new(&dir).expect("store");
        let parts = [
            part("r1", 3, 3, &[5, 6]),
            part("r1", 1, 3, &[1, 2]),
            part("r1", 2, 3, &[3, 4]),
        ];
        assert_eq!(
            store.store(&parts[0]).ok(),
            Some(Stored::Part { index: 3, count: 3 })
        );
        assert_eq!(store.store(&parts[0]).ok(), Some(Stored::Duplicate));
        assert_eq!(
            store.store(&parts[1]).ok(),
            Some(Stored::Part { index: 1, count: 3 })
        );
        let done = store.store(&parts[2]).expect("completes");
        let file = dir.join("111122223333/eu-west-1/r1.ndjson");
        assert_eq!(
            done,
            Stored::Completed {
                findings: 6,
                resolved: 0,
                file: file.clone()
            }
        );
        let lines: Vec<String> = fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        let ids: Vec<String> = (1..=6).map(|i| format!(r#"{{"id":"f-{i}"}}"#)).collect();
        assert_eq!(lines, ids);
        let _ = fs::remove_dir_all(&dir);
    }

    /// An OCSF part (1.2) as the format step writes it with `SiemFormat` = `ocsf`: events in
    /// `findings` and `resolved`, pretty-printed here to show that each becomes one line.
    fn ocsf_part(index: u32, count: u32, uids: &[u32], resolved: &[u32]) -> String {
        let event = |i: &u32, status: &str| {
            serde_json::json!({
                "class_uid": 2002, "status": status, "time": 1_795_832_460_000_u64,
                "metadata": {"version": "1.8.0", "correlation_uid": "r-ocsf"},
                "finding_info": {"uid": format!("f-{i}"), "title": "CVE-2024-6387\nopenssh"},
            })
        };
        serde_json::to_string_pretty(&serde_json::json!({
            "schema": "scanflow.siem", "schemaVersion": "1.2", "kind": "findings",
            "findingsFormat": {"name": "ocsf", "version": "1.8.0", "classUid": 2002},
            "run": {"accountId": "111122223333", "region": "eu-west-1", "runId": "r-ocsf"},
            "part": {"index": index, "count": count},
            "findings": uids.iter().map(|i| event(i, "New")).collect::<Vec<_>>(),
            "resolved": resolved.iter().map(|i| event(i, "Resolved")).collect::<Vec<_>>(),
        }))
        .unwrap_or_default()
    }

    #[test]
    fn ocsf_parts_reassemble_to_one_event_a_line() {
        let dir = temp("ocsf");
        let store = Store::new(&dir).expect("store");
        assert_eq!(
            store.store(&ocsf_part(2, 2, &[3], &[9])).ok(),
            Some(Stored::Part { index: 2, count: 2 })
        );
        assert_eq!(
            store.store(&ocsf_part(2, 2, &[3], &[9])).ok(),
            Some(Stored::Duplicate)
        );
        let done = store
            .store(&ocsf_part(1, 2, &[1, 2], &[]))
            .expect("completes");
        let run_dir = dir.join("111122223333/eu-west-1");
        assert_eq!(
            done,
            Stored::Completed {
                findings: 3,
                resolved: 1,
                file: run_dir.join("r-ocsf.ndjson")
            }
        );
        let lines = |name: &str| -> Vec<serde_json::Value> {
            fs::read_to_string(run_dir.join(name))
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).expect("one event a line"))
                .collect()
        };
        let uids = |events: &[serde_json::Value]| -> Vec<String> {
            events
                .iter()
                .map(|e| {
                    e["finding_info"]["uid"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        };
        let findings = lines("r-ocsf.ndjson");
        assert_eq!(uids(&findings), ["f-1", "f-2", "f-3"]);
        assert!(findings.iter().all(|e| e["class_uid"] == 2002));
        // The escaped newline inside a string stays an escape, never a line break.
        assert_eq!(
            findings[0]["finding_info"]["title"],
            "CVE-2024-6387\nopenssh"
        );
        let resolved = lines("r-ocsf.resolved.ndjson");
        assert_eq!(uids(&resolved), ["f-9"]);
        assert_eq!(resolved[0]["status"], "Resolved");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn forged_names_and_part_numbers_are_refused_naming_the_field() {
        let dir = temp("forged");
        let store = Store::new(&dir).expect("store");
        // A run id that is no file name is hashed, never used as a path.
        assert!(store.store(&part("../../etc", 1, 1, &[])).is_ok());
        assert!(
            dir.join("111122223333/eu-west-1")
                .join(format!("{}.ndjson", file_stem("../../etc")))
                .exists()
        );
        assert!(file_stem("../../etc").starts_with("run-"));
        assert_eq!(file_stem("0b9f-77aa-report"), "0b9f-77aa-report");
        let err = store.store(&part("r", 2, 1, &[])).expect_err("index");
        assert!(err.to_string().starts_with("part.index 2"), "{err}");
        assert!(store.store(&part("r", 1, MAX_PARTS, &[])).is_ok());
        let err = store
            .store(&part("r", 1, MAX_PARTS + 1, &[]))
            .expect_err("count");
        assert!(err.to_string().starts_with("part.count 100001"), "{err}");
        let err = store
            .store(r#"{"schema":"other","kind":"findings"}"#)
            .expect_err("schema");
        assert!(err.to_string().starts_with("schema \"other\""), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }
}
