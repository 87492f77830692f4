//! OCSF SIEM parts end to end: the default scenario scanned twice a week apart (so there are
//! new, open and resolved findings) with the hub's `SiemFormat` = `ocsf`. Every event is
//! validated against the pinned OCSF version's schema by an implementation written elsewhere
//! (tests/ocsf/validate.py: ocsf-json-schema and jsonschema from PyPI, pinned in
//! tests/requirements.txt), and the same run in scanflow's own format carries the same findings.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use scanflow_cli::local::{self, RunOptions};
use scanflow_core::message::{SNS_MESSAGE_LIMIT, attributes_size};
use scanflow_core::ports::SiemFormat;
use scanflow_documents::ocsf;
use scanflow_sandbox::Scenario;
use scanflow_tests::{options, out_dir, repo_root, workflow};
use serde_json::Value;

/// The default scenario in `format`, scanned twice a week apart.
fn run_in(format: SiemFormat, label: &str) -> local::LocalRun {
    let mut scenario = Scenario::default_scenario().expect("the built-in scenario");
    scenario.hub.config.siem_format = Some(format);
    let options = RunOptions {
        repeat: 2,
        ..options(scenario, Vec::new(), label)
    };
    local::run(&workflow(), options).expect("the local run starts")
}

/// Every findings part the HTTPS subscription received, checked to fit one SNS message.
fn parts(local: &local::LocalRun) -> Vec<Value> {
    let parts: Vec<Value> = local
        .sandbox
        .sns_messages()
        .into_iter()
        .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("siem"))
        .inspect(|m| {
            let size = m.message.len() + attributes_size(&m.attributes);
            assert!(size <= SNS_MESSAGE_LIMIT, "a part of {size} bytes");
        })
        .map(|m| serde_json::from_str::<Value>(&m.message).expect("SIEM messages are JSON"))
        .filter(|d| d["kind"] == "findings")
        .collect();
    assert!(parts.len() >= 4, "two scans of several accounts");
    parts
}

fn items<'a>(parts: &'a [Value], key: &'a str) -> impl Iterator<Item = (&'a Value, &'a Value)> {
    parts.iter().flat_map(move |d| {
        d[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(move |item| (d, item))
    })
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// (account, run) → instance → {(finding identity, vulnerability id, severity)}.
type ByInstance = BTreeMap<(String, String), BTreeMap<String, BTreeSet<(String, String, String)>>>;

fn run_key(doc: &Value) -> (String, String) {
    (text(&doc["run"]["accountId"]), text(&doc["run"]["runId"]))
}

fn scanflow_findings(parts: &[Value], key: &str) -> ByInstance {
    let mut out = ByInstance::new();
    for (doc, f) in items(parts, key) {
        out.entry(run_key(doc))
            .or_default()
            .entry(text(&f["instanceId"]))
            .or_default()
            .insert((
                text(&f["identity"]),
                text(&f["vulnerabilityId"]),
                text(&f["severity"]),
            ));
    }
    out
}

fn ocsf_findings(parts: &[Value], key: &str) -> ByInstance {
    let mut out = ByInstance::new();
    for (doc, e) in items(parts, key) {
        let v = &e["vulnerabilities"][0];
        let id = if v["cve"].is_object() {
            &v["cve"]["uid"]
        } else {
            &v["advisory"]["uid"]
        };
        out.entry(run_key(doc))
            .or_default()
            .entry(text(&e["resources"][0]["uid"]))
            .or_default()
            .insert((text(&e["finding_info"]["uid"]), text(id), text(&v["severity"])));
    }
    out
}

#[test]
fn the_same_findings_travel_in_both_formats() {
    let scanflow = parts(&run_in(SiemFormat::Scanflow, "ocsf-same-scanflow"));
    let ocsf_parts = parts(&run_in(SiemFormat::Ocsf, "ocsf-same-ocsf"));
    for d in &scanflow {
        assert_eq!(d["schemaVersion"], "1.1", "scanflow's own format is unchanged");
        assert!(d.get("findingsFormat").is_none());
    }
    for d in &ocsf_parts {
        assert_eq!(d["schemaVersion"], "1.2");
        assert_eq!(
            d["findingsFormat"],
            serde_json::json!({"name": "ocsf", "version": ocsf::VERSION, "classUid": 2002})
        );
    }
    for key in ["findings", "resolved"] {
        let a = scanflow_findings(&scanflow, key);
        let b = ocsf_findings(&ocsf_parts, key);
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{key}: the same runs"
        );
        assert_eq!(a, b, "{key}: the same findings per instance");
        let count = |m: &ByInstance| m.values().flat_map(|i| i.values()).map(BTreeSet::len).sum::<usize>();
        assert_eq!(items(&scanflow, key).count(), items(&ocsf_parts, key).count(), "{key}: count");
        assert_eq!(count(&a), items(&scanflow, key).count(), "{key}: no duplicates");
    }
    assert!(
        items(&scanflow, "resolved").count() > 0,
        "the second scan resolves findings"
    );
}

/// The statuses the events carry, and a look at one event of each, beyond the schema.
#[test]
fn every_ocsf_event_validates_against_the_pinned_ocsf_schema() {
    let parts = parts(&run_in(SiemFormat::Ocsf, "ocsf-validate"));
    let mut lines = String::new();
    let mut activities = BTreeMap::new();
    for key in ["findings", "resolved"] {
        for (doc, event) in items(&parts, key) {
            assert_eq!(event["metadata"]["version"], ocsf::VERSION);
            assert_eq!(event["metadata"]["correlation_uid"], doc["run"]["runId"]);
            assert_eq!(event["cloud"]["account"]["uid"], doc["run"]["accountId"]);
            let pair = (text(&event["activity_name"]), text(&event["status"]));
            assert_eq!(
                pair.1 == "Resolved",
                key == "resolved",
                "{key}: resolved entries and only they are resolved"
            );
            *activities.entry(pair).or_insert(0) += 1;
            lines.push_str(&serde_json::to_string(event).expect("json"));
            lines.push('\n');
        }
    }
    let statuses: Vec<_> = activities.keys().cloned().collect();
    assert_eq!(
        statuses,
        [
            ("Close".to_owned(), "Resolved".to_owned()),
            ("Create".to_owned(), "New".to_owned()),
            ("Update".to_owned(), "New".to_owned()),
        ],
        "{activities:?}"
    );
    let dir = out_dir("ocsf-events");
    std::fs::create_dir_all(&dir).expect("out dir");
    let file = dir.join("events.ndjson");
    std::fs::write(&file, lines).expect("events written");
    validate(&file);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the committed checker. Without its Python packages it skips locally and fails on CI
/// (`CI=true`, where tests/run-all.sh installs them).
fn validate(file: &std::path::Path) {
    let script = repo_root().join("tests/ocsf/validate.py");
    let output = Command::new("python3")
        .arg(&script)
        .args(["--version", ocsf::VERSION, "--class-uid"])
        .arg(ocsf::CLASS_UID.to_string())
        .arg(file)
        .output();
    let missing = match &output {
        Err(e) => Some(format!("python3 cannot be started ({e})")),
        Ok(o) if o.status.code() == Some(2) => {
            Some(String::from_utf8_lossy(&o.stderr).trim().to_owned())
        }
        Ok(_) => None,
    };
    if let Some(why) = missing {
        let message = format!(
            "the OCSF validator cannot run: {why}; install tests/requirements.txt \
             (tests/run-all.sh does) and put its venv's bin on PATH"
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        println!("skipped: {message}");
        return;
    }
    let Ok(o) = output else { return };
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "OCSF validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    println!("{}", stdout.trim());
}
