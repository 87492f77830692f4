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
use scanflow_documents::{ocsf, siem};
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
            .insert((
                text(&e["finding_info"]["uid"]),
                text(id),
                text(&v["severity"]),
            ));
    }
    out
}

#[test]
fn the_same_findings_travel_in_both_formats() {
    let scanflow = parts(&run_in(SiemFormat::Scanflow, "ocsf-same-scanflow"));
    let ocsf_parts = parts(&run_in(SiemFormat::Ocsf, "ocsf-same-ocsf"));
    for d in &scanflow {
        assert_eq!(
            d["schemaVersion"],
            scanflow_documents::siem::SCHEMA_VERSION,
            "scanflow's own format: findings with their detail"
        );
        assert!(d.get("findingsFormat").is_none());
    }
    for d in &ocsf_parts {
        assert_eq!(d["schemaVersion"], siem::SCHEMA_VERSION_OCSF);
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
        let count = |m: &ByInstance| {
            m.values()
                .flat_map(|i| i.values())
                .map(BTreeSet::len)
                .sum::<usize>()
        };
        assert_eq!(
            items(&scanflow, key).count(),
            items(&ocsf_parts, key).count(),
            "{key}: count"
        );
        assert_eq!(
            count(&a),
            items(&scanflow, key).count(),
            "{key}: no duplicates"
        );
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
    for event in edge_events() {
        lines.push_str(&event);
        lines.push('\n');
    }
    let dir = out_dir("ocsf-events");
    std::fs::create_dir_all(&dir).expect("out dir");
    let file = dir.join("events.ndjson");
    std::fs::write(&file, lines).expect("events written");
    if let Some(report) = validate(&file) {
        assert!(
            report.status.success(),
            "OCSF validation failed:\n{}",
            report.text
        );
        assert!(report.text.contains(" 0 failed"), "{}", report.text);
        println!("{}", report.text.trim());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The checker is strict: each event broken in one way the OCSF schema forbids is refused.
#[test]
fn the_ocsf_checker_refuses_what_the_schema_forbids() {
    let good: Value = serde_json::from_str(&edge_events()[0]).expect("an event");
    let broken: [fn(&mut Value); 5] = [
        |e| drop(e.as_object_mut().map(|o| o.remove("cloud"))),
        |e| e["invented_field"] = Value::from(1),
        |e| e["severity"] = Value::from("Severe"),
        // OCSF wants exactly one of cve, advisory and cwe.
        |e| e["vulnerabilities"][0]["cve"] = serde_json::json!({"uid": "CVE-2026-1"}),
        |e| e["time"] = Value::from("yesterday"),
    ];
    let mut lines = String::new();
    for breaking in broken {
        let mut e = good.clone();
        breaking(&mut e);
        lines.push_str(&format!("{e}\n"));
    }
    let dir = out_dir("ocsf-broken");
    std::fs::create_dir_all(&dir).expect("out dir");
    let file = dir.join("broken.ndjson");
    std::fs::write(&file, lines).expect("written");
    if let Some(report) = validate(&file) {
        assert_eq!(report.status.code(), Some(1), "{}", report.text);
        assert!(
            report.text.contains(": 0 passed, 5 failed"),
            "{}",
            report.text
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Events the default scenario does not make: Inspector Classic without a CVE, no instance,
/// no texts, UNTRIAGED, text cut to fit, a resolved entry without an instance.
fn edge_events() -> Vec<String> {
    use scanflow_core::lifecycle::{Annotation, Resolved, StateRecord, Status};
    use scanflow_core::model::{Engine, Finding, Severity};
    let run = scanflow_core::state::Run {
        account_id: "444455556666".into(),
        region: "us-east-1".into(),
        engine: Engine::Classic,
        run_id: "arn:aws:inspector:us-east-1:444455556666:target/0-a/template/0-b/run/0-c".into(),
        tag: None,
        duration_seconds: 900,
        started_at: "2026-11-28T02:00:00Z".into(),
        deadline: "2026-11-28T03:00:00Z".into(),
        wait_seconds: 0,
        rerun: true,
        execution: "rerun-1".into(),
        adopted: false,
        scheduled_at: None,
        sla_days: None,
        v2_readiness: None,
        cis: None,
    };
    let context = ocsf::Context::new(&run, "2026-11-28T02:21:00Z").expect("context");
    let finding = |severity, vulnerability_id: Option<&str>, instance: Option<&str>| Finding {
        id: format!("{}/finding/0-{severity:?}", run.run_id),
        engine: Engine::Classic,
        account_id: run.account_id.clone(),
        region: run.region.clone(),
        severity,
        title: "Instance is configured to allow users to log in with root credentials over SSH"
            .into(),
        instance_id: instance.map(str::to_owned),
        instance_tags: instance
            .map(|_| [("Patch".to_owned(), "weekly".to_owned())].into())
            .unwrap_or_default(),
        vulnerability_id: vulnerability_id.map(str::to_owned),
        description: "x".repeat(5_000),
        recommendation: String::new(),
        fix_available: None,
        score: None,
        first_seen: Some("not a time".into()),
        last_seen: None,
        rules_package_arn: Some("arn:aws:inspector:us-east-1:316112463485:rulespackage/0-b".into()),
        detail: None,
    };
    let annotation = Annotation {
        identity: "classic:444455556666:us-east-1:-:rules:root-login".into(),
        lifecycle: Status::Open,
        first_seen: "2026-10-01T00:00:00Z".into(),
        age_days: 58,
        sla_due_at: None,
        overdue: false,
        acceptance: None,
    };
    let resolved = Resolved {
        record: StateRecord {
            identity: "classic:444455556666:us-east-1:-:rules:CVE-2024-1".into(),
            id: "arn:aws:inspector:us-east-1:444455556666:finding/old".into(),
            severity: Severity::Low,
            instance_id: None,
            vulnerability_id: Some("CVE-2024-1".into()),
            title: String::new(),
            first_seen: "2026-10-01T00:00:00Z".into(),
            last_seen: "2026-11-21T02:21:00Z".into(),
        },
        resolved_at: "2026-11-28T02:21:00Z".into(),
    };
    let cut = ocsf::finding_json(
        finding(
            Severity::High,
            Some("CVE-2026-1"),
            Some("i-04d5e6f7a8b9c0001"),
        ),
        &annotation,
        &context,
        2_000,
    )
    .expect("cut to fit");
    let cut_value: Value = serde_json::from_str(&cut).expect("json");
    assert!(cut.len() <= 2_000, "{}", cut.len());
    assert_eq!(cut_value["metadata"]["is_truncated"], true);
    vec![
        ocsf::finding_json(
            finding(Severity::Untriaged, Some("SSH-ROOT-LOGIN"), None),
            &annotation,
            &context,
            usize::MAX,
        )
        .expect("fits"),
        ocsf::finding_json(
            finding(Severity::Informational, None, None),
            &annotation,
            &context,
            usize::MAX,
        )
        .expect("fits"),
        cut,
        ocsf::resolved_json(&resolved, &context).expect("resolved"),
    ]
}

/// What the checker said.
struct Report {
    status: std::process::ExitStatus,
    text: String,
}

/// Runs the committed checker on `file`. Without its Python packages it skips (`None`)
/// locally and fails on CI (`CI=true`, where tests/run-all.sh installs them).
fn validate(file: &std::path::Path) -> Option<Report> {
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
        return None;
    }
    let o = output.ok()?;
    Some(Report {
        status: o.status,
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    })
}
