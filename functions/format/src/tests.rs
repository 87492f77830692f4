//! The format step against an in-memory platform: part sizes at the SNS limit (in both SIEM
//! formats), 100,000 findings, the digest's wording, and the documents against
//! `siem.schema.json`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use scanflow_core::message::{Message, SNS_MESSAGE_LIMIT};
use scanflow_core::model::{
    AccountSettings, Coverage, Engine, Finding, Severity, SeverityCounts, Tag, Uncovered,
};
use scanflow_core::ports::{
    FindingRef, FindingsPage, HubConfig, MemberAccount, NewFindingsPage, Notice, Notifier,
    Platform, ReportStore, RunStatus, SecurityHub, SiemFormat, Started, Unprocessed,
};
use scanflow_core::state::{Collected, FormatInput, Formatted, Manifest, Run};
use scanflow_core::{ScanError, keys};
use serde_json::{Value, json};

use super::*;
use scanflow_documents::digest::Digest;
use scanflow_documents::envelope::digest_attributes;

/// A report store in memory; format needs nothing else from the platform.
#[derive(Default)]
struct Store(Mutex<BTreeMap<String, Vec<u8>>>);

impl Store {
    fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().expect("lock").get(key).cloned()
    }
    fn keys_under(&self, prefix: &str) -> Vec<String> {
        let map = self.0.lock().expect("lock");
        map.keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }
}

impl ReportStore for Store {
    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), ScanError> {
        self.0.lock().expect("lock").insert(key.to_owned(), body);
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, ScanError> {
        self.object(key).ok_or_else(|| ScanError::NotFound {
            account_id: "hub".into(),
            region: "hub".into(),
            what: key.to_owned(),
            detail: "no such key".into(),
        })
    }
    async fn put_if_absent(
        &self,
        _key: &str,
        _body: Vec<u8>,
        _content_type: &str,
    ) -> Result<bool, ScanError> {
        Err(ScanError::internal("format claims no key"))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, ScanError> {
        let map = self.0.lock().expect("lock");
        Ok(map
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }
    async fn link(
        &self,
        _key: &str,
        _valid_for: Option<std::time::Duration>,
    ) -> Result<scanflow_core::ports::ObjectLink, ScanError> {
        Err(ScanError::internal("format makes no links: publish does"))
    }
}

/// The ports format never uses: every call fails, so a test would notice one.
struct Unused;

fn unused() -> ScanError {
    ScanError::internal("format must not call this port")
}

impl Notifier for Unused {
    async fn publish(&self, _message: &Message) -> Result<String, ScanError> {
        Err(unused())
    }
}

impl SecurityHub for Unused {
    async fn new_findings(&self, _cursor: Option<String>) -> Result<NewFindingsPage, ScanError> {
        Err(unused())
    }
    async fn mark_notified(
        &self,
        _findings: &[FindingRef],
        _fields: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Unprocessed>, ScanError> {
        Err(unused())
    }
    async fn import_notices(&self, _notices: &[Notice]) -> Result<Vec<Unprocessed>, ScanError> {
        Err(unused())
    }
}

impl MemberAccount for Unused {
    type SecurityHub = Unused;
    async fn settings(&self) -> Result<AccountSettings, ScanError> {
        Err(unused())
    }
    async fn start_scan(&self, _s: &AccountSettings, _name: &str) -> Result<Started, ScanError> {
        Err(unused())
    }
    async fn start_cis_scan(
        &self,
        _s: &AccountSettings,
        _level: scanflow_core::model::CisLevel,
        _name: &str,
    ) -> Result<String, ScanError> {
        Err(unused())
    }
    async fn run_status(&self, _run: &Run) -> Result<RunStatus, ScanError> {
        Err(unused())
    }
    async fn findings_page(
        &self,
        _run: &Run,
        _cursor: Option<String>,
    ) -> Result<FindingsPage, ScanError> {
        Err(unused())
    }
    async fn coverage(&self, _run: &Run) -> Result<Coverage, ScanError> {
        Err(unused())
    }
    async fn v2_ec2_status(&self) -> Result<scanflow_core::migration::ScanningStatus, ScanError> {
        Err(unused())
    }
    fn security_hub(&self) -> &Unused {
        self
    }
}

struct Fake {
    config: HubConfig,
    store: Store,
}

impl Fake {
    fn new() -> Self {
        Self {
            config: HubConfig::default(),
            store: Store::default(),
        }
    }

    fn in_format(siem_format: SiemFormat) -> Self {
        Self {
            config: HubConfig {
                siem_format,
                ..HubConfig::default()
            },
            store: Store::default(),
        }
    }
}

impl Platform for Fake {
    type Member = Unused;
    type Store = Store;
    type Notifier = Unused;
    type SecurityHub = Unused;
    fn config(&self) -> &HubConfig {
        &self.config
    }
    async fn member(&self, _a: &str, _r: &str, _s: &str) -> Result<Unused, ScanError> {
        Err(unused())
    }
    fn store(&self) -> &Store {
        &self.store
    }
    fn notifier(&self) -> &Unused {
        &Unused
    }
    fn hub_security_hub(&self) -> &Unused {
        &Unused
    }
}

fn run() -> Run {
    Run {
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        engine: Engine::Inspector2,
        run_id: "0b9f-77aa-report".into(),
        tag: Some(Tag {
            key: "Patch".into(),
            value: "yes".into(),
        }),
        duration_seconds: 3600,
        started_at: "2026-11-28T10:00:00Z".into(),
        deadline: "2026-11-28T12:00:00Z".into(),
        wait_seconds: 0,
        rerun: false,
        execution: "sched-111122223333-eu-west-1-20261128".into(),
        adopted: false,
        scheduled_at: None,
        sla_days: None,
        v2_readiness: None,
        cis: None,
    }
}

const SEVERITIES: [Severity; 6] = Severity::ALL;

fn finding(i: usize, description: String) -> Finding {
    Finding {
        id: format!("arn:aws:inspector2:eu-west-1:111122223333:finding/{i:032x}"),
        engine: Engine::Inspector2,
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        severity: SEVERITIES[i % SEVERITIES.len()],
        title: format!("CVE-2026-{i:05} - openssl \"quoted\" ü"),
        instance_id: Some(format!("i-{:017x}", i % 300)),
        instance_tags: BTreeMap::from([("Patch".to_owned(), "yes".to_owned())]),
        vulnerability_id: Some(format!("CVE-2026-{i:05}")),
        description,
        recommendation: "Upgrade the package to the fixed version.".into(),
        fix_available: Some(!i.is_multiple_of(3)),
        score: Some((i % 100) as f64 / 10.0),
        first_seen: Some("2026-11-01T00:00:00Z".into()),
        last_seen: Some("2026-11-28T09:00:00Z".into()),
        rules_package_arn: None,
        detail: detail(i),
    }
}

/// Half the findings carry a full detail (every fifth a reachability path at its limit), so
/// the schema checks below cover it.
fn detail(i: usize) -> Option<Box<scanflow_core::model::FindingDetail>> {
    use scanflow_core::model::{
        Cvss, FindingDetail, FindingKind, InstanceFacts, NetworkPath, PathStep, VulnerablePackage,
        detail_limits,
    };
    if i % 2 == 1 {
        return None;
    }
    let network = i.is_multiple_of(5).then(|| NetworkPath {
        protocol: "TCP".into(),
        port_from: 22,
        port_to: 22,
        steps: (0..detail_limits::PATH_STEPS)
            .map(|s| PathStep {
                component_type: "AWS::EC2::SecurityGroup".into(),
                component_id: format!("sg-{s:017x}"),
            })
            .collect(),
    });
    Some(Box::new(FindingDetail {
        kind: if network.is_some() {
            FindingKind::NetworkReachability
        } else {
            FindingKind::PackageVulnerability
        },
        packages: vec![VulnerablePackage {
            name: "openssl".into(),
            installed_version: "3.0.8-1.amzn2023.0.1".into(),
            fixed_in_version: i.is_multiple_of(4).then(|| "3.0.8-1.amzn2023.0.4".into()),
            package_manager: Some("OS".into()),
        }],
        cvss: Some(Cvss {
            base_score: 9.8,
            vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into(),
            version: "3.1".into(),
            source: Some("NVD".into()),
        }),
        epss: Some(0.5),
        exploit_available: Some(i.is_multiple_of(3)),
        references: vec![format!("https://nvd.nist.gov/vuln/detail/CVE-2026-{i:05}")],
        network,
        instance: Some(InstanceFacts {
            ami: Some("ami-0123456789abcdef0".into()),
            platform: Some("AMAZON_LINUX_2023".into()),
            instance_type: Some("t3.micro".into()),
        }),
        cis: None,
    }))
}

fn findings(n: usize) -> Vec<Finding> {
    (0..n)
        .map(|i| finding(i, format!("A flaw {}", "x".repeat(i % 700))))
        .collect()
}

fn coverage(scanned: usize, not_scanned: usize) -> Coverage {
    Coverage {
        scanned: (0..scanned).map(|i| format!("i-{i:017x}")).collect(),
        not_scanned: (0..not_scanned)
            .map(|i| Uncovered {
                instance_id: format!("i-{:017x}", 100_000 + i),
                reason: "AGENT_NOT_INSTALLED".into(),
                remedy: "Install the SSM agent and attach an instance profile.".into(),
            })
            .collect(),
        cis: None,
    }
}

/// Writes the chunks and manifest collect-findings would, and returns format's input.
fn seed(fake: &Fake, run: &Run, findings: &[Finding], coverage: Coverage) -> FormatInput {
    let mut counts = SeverityCounts::default();
    let mut chunks = Vec::new();
    let mut map = fake.store.0.lock().expect("lock");
    for (i, chunk) in findings.chunks(fake.config.chunk_size).enumerate() {
        let mut body = Vec::new();
        for f in chunk {
            counts.add(f.severity);
            serde_json::to_writer(&mut body, f).expect("json");
            body.push(b'\n');
        }
        let key = keys::findings_chunk(run, i);
        map.insert(key.clone(), body);
        chunks.push(key);
    }
    let collected = Collected {
        manifest_key: keys::manifest(run),
        counts: counts.clone(),
        instances_scanned: coverage.scanned.len() as u64,
        instances_not_scanned: coverage.not_scanned.len() as u64,
    };
    let manifest = Manifest {
        chunks,
        counts,
        coverage,
        collected_at: "2026-11-28T11:00:00Z".into(),
    };
    map.insert(
        collected.manifest_key.clone(),
        serde_json::to_vec(&manifest).expect("json"),
    );
    FormatInput {
        run: run.clone(),
        collected,
    }
}

fn format_it(fake: &Fake, input: &FormatInput) -> Formatted {
    let event = serde_json::to_value(input).expect("json");
    let out = pollster::block_on(invoke(fake, event)).expect("format");
    serde_json::from_value(out).expect("Formatted")
}

/// Each part as publish will send it: checked by `Message::new` against the SNS limit.
fn messages(fake: &Fake, run: &Run, formatted: &Formatted) -> Vec<(Message, Value)> {
    let n = formatted.siem_parts;
    (1..=n)
        .map(|i| {
            let bytes = fake
                .store
                .object(&keys::siem_part(run, i, n))
                .expect("part written");
            let body = String::from_utf8(bytes).expect("utf-8");
            let doc: Value = serde_json::from_str(&body).expect("part is JSON");
            let msg = Message::new(
                &scanflow_documents::envelope::part_subject(run, i, n),
                body,
                part_attributes(run, i, n),
            )
            .expect("part fits one SNS message");
            (msg, doc)
        })
        .collect()
}

fn digest(fake: &Fake, formatted: &Formatted) -> Digest {
    let bytes = fake.store.object(&formatted.digest_key).expect("digest");
    serde_json::from_slice(&bytes).expect("digest JSON")
}

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(scanflow_documents::siem::SCHEMA_JSON).expect("schema is JSON");
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// Two findings sized so that one part is exactly at the limit: the largest-description one
/// gets `extra` more bytes.
fn two_findings_at(extra: isize, fake: &Fake, base_desc: usize) -> (Formatted, Run) {
    let run = run();
    let f = vec![
        finding(1, "a".repeat(120_000)),
        finding(2, "b".repeat((base_desc as isize + extra) as usize)),
    ];
    let input = seed(fake, &run, &f, coverage(2, 0));
    (format_it(fake, &input), run)
}

/// Whether a delivered finding (scanflow's own or an OCSF event) says its text was cut.
fn cut(f: &Value) -> bool {
    f.get("truncated").is_some() || f["metadata"].get("is_truncated").is_some()
}

/// In `format`, a part exactly at the limit is one message and one byte more makes two.
fn exactly_at_the_limit(format: SiemFormat) {
    // Measure one part with a known description, then grow the description to fill it.
    let fake = Fake::in_format(format);
    let (formatted, run) = two_findings_at(0, &fake, 100_000);
    assert_eq!(formatted.siem_parts, 1);
    let size = messages(&fake, &run, &formatted)[0].0.size();
    let fill = (SNS_MESSAGE_LIMIT - size) as isize;

    let fake = Fake::in_format(format);
    let (formatted, run) = two_findings_at(fill, &fake, 100_000);
    assert_eq!(formatted.siem_parts, 1);
    let parts = messages(&fake, &run, &formatted);
    assert_eq!(parts[0].0.size(), SNS_MESSAGE_LIMIT, "exactly at the limit");
    assert_eq!(parts[0].1["findings"].as_array().map(Vec::len), Some(2));

    let fake = Fake::in_format(format);
    let (formatted, run) = two_findings_at(fill + 1, &fake, 100_000);
    assert_eq!(formatted.siem_parts, 2, "one byte past the limit");
    let parts = messages(&fake, &run, &formatted);
    let validator = validator();
    for (i, (_, doc)) in parts.iter().enumerate() {
        assert_eq!(doc["findings"].as_array().map(Vec::len), Some(1));
        assert_eq!(doc["part"], json!({"index": i + 1, "count": 2}));
        assert!(!cut(&doc["findings"][0]));
        assert_valid(&validator, doc);
    }
}

#[test]
fn a_part_exactly_at_the_limit_is_one_message_and_one_byte_more_makes_two() {
    exactly_at_the_limit(SiemFormat::Scanflow);
}

#[test]
fn ocsf_parts_are_sized_exactly_as_scanflow_parts_are() {
    exactly_at_the_limit(SiemFormat::Ocsf);
}

#[test]
fn ocsf_parts_carry_every_finding_once_in_messages_under_the_limit() {
    let fake = Fake::in_format(SiemFormat::Ocsf);
    let run = run();
    let all = findings(20_000);
    let input = seed(&fake, &run, &all, coverage(300, 120));
    let formatted = format_it(&fake, &input);
    let n = formatted.siem_parts;
    assert!(n > 10, "{n} parts");
    let validator = validator();
    let mut seen = HashSet::new();
    let mut sizes = Vec::new();
    for (i, (msg, doc)) in messages(&fake, &run, &formatted).into_iter().enumerate() {
        assert!(msg.size() <= SNS_MESSAGE_LIMIT);
        sizes.push(msg.size());
        assert_eq!(
            doc["schemaVersion"],
            scanflow_documents::siem::SCHEMA_VERSION_OCSF
        );
        assert_eq!(doc["findingsFormat"]["name"], "ocsf");
        assert_eq!(doc["part"], json!({"index": i + 1, "count": n}));
        assert_eq!(doc.get("coverage").is_some(), i == 0);
        for e in doc["findings"].as_array().expect("findings") {
            assert_eq!(e["class_uid"], 2002);
            let uid = e["finding_info"]["uid"].as_str().expect("uid").to_owned();
            assert!(seen.insert(uid.clone()), "{uid} delivered twice");
        }
        if i == 0 || i + 1 == n {
            assert_valid(&validator, &doc);
        }
    }
    assert_eq!(
        seen,
        all.iter().map(|f| f.id.clone()).collect::<HashSet<_>>(),
        "every finding, under its Inspector v2 ARN as finding_info.uid"
    );
    let mean = sizes.iter().sum::<usize>() / sizes.len();
    assert!(mean > SNS_MESSAGE_LIMIT * 9 / 10, "mean part {mean} bytes");
}

#[test]
fn an_ocsf_finding_too_large_for_a_message_is_cut_and_marked_never_dropped() {
    let fake = Fake::in_format(SiemFormat::Ocsf);
    let run = run();
    let mut all = findings(3);
    all[1].description = "é".repeat(300_000);
    all[1].recommendation = "r".repeat(100_000);
    let input = seed(&fake, &run, &all, coverage(1, 0));
    let formatted = format_it(&fake, &input);
    let parts = messages(&fake, &run, &formatted);
    let delivered: Vec<&Value> = parts
        .iter()
        .flat_map(|(_, d)| d["findings"].as_array().expect("findings"))
        .collect();
    assert_eq!(delivered.len(), 3);
    let big = delivered
        .iter()
        .find(|e| e["finding_info"]["uid"] == all[1].id.as_str())
        .expect("the large finding is delivered");
    assert_eq!(big["metadata"]["is_truncated"], true);
    let desc = big["finding_info"]["desc"].as_str().expect("desc");
    assert!(desc.ends_with('…') && desc.starts_with("éé"));
    assert_eq!(delivered.iter().filter(|e| cut(e)).count(), 1);
    let validator = validator();
    for (_, doc) in &parts {
        assert_valid(&validator, doc);
    }
}

#[test]
fn a_hundred_thousand_findings_each_delivered_once_in_messages_under_the_limit() {
    let fake = Fake::new();
    let run = run();
    let all = findings(100_000);
    let input = seed(&fake, &run, &all, coverage(300, 120));
    let formatted = format_it(&fake, &input);
    let n = formatted.siem_parts;
    assert!(n > 100, "{n} parts");
    assert_eq!(
        fake.store
            .keys_under(&format!("{}/siem/", keys::run_prefix(&run)))
            .len(),
        n
    );

    let validator = validator();
    let mut seen = HashSet::new();
    let mut sizes = Vec::new();
    for (i, (msg, doc)) in messages(&fake, &run, &formatted).into_iter().enumerate() {
        assert!(msg.size() <= SNS_MESSAGE_LIMIT);
        sizes.push(msg.size());
        assert_eq!(doc["part"], json!({"index": i + 1, "count": n}));
        assert_eq!(doc["summary"]["total"], 100_000);
        assert_eq!(
            doc.get("coverage").is_some(),
            i == 0,
            "coverage only in part 1"
        );
        for f in doc["findings"].as_array().expect("findings") {
            let id = f["id"].as_str().expect("id").to_owned();
            assert!(seen.insert(id.clone()), "{id} delivered twice");
        }
        if i == 0 || i + 1 == n {
            assert_valid(&validator, &doc);
        }
    }
    assert_eq!(seen.len(), all.len(), "every finding delivered");
    // Greedy packing leaves each part (but the last) too full for the next finding.
    let mean = sizes.iter().sum::<usize>() / sizes.len();
    assert!(mean > SNS_MESSAGE_LIMIT * 9 / 10, "mean part {mean} bytes");

    let digest = digest(&fake, &formatted);
    let msg = Message::new(
        &digest.subject,
        digest.body.clone(),
        digest_attributes(&run),
    )
    .expect("digest fits one message");
    assert!(msg.size() < SNS_MESSAGE_LIMIT);
    let critical = all
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    let high = all.iter().filter(|f| f.severity == Severity::High).count();
    assert_eq!(
        digest.subject,
        format!(
            "scanflow: 111122223333 eu-west-1 — {critical} critical, {high} high (100000 findings)"
        )
    );
    assert!(digest.body.contains(&format!("in {n} parts")));
}

#[test]
fn the_digest_lists_the_most_severe_findings_and_coverage() {
    let fake = Fake::new();
    let run = run();
    let mut all = findings(40);
    all[7].severity = Severity::Critical;
    all[7].score = Some(9.9);
    all[7].title = "the worst one".into();
    // A known exploit ranks first within a severity, as the others with one have.
    all[7].detail = detail(6);
    let input = seed(&fake, &run, &all, coverage(12, 60));
    let formatted = format_it(&fake, &input);
    let digest = digest(&fake, &formatted);
    let body = &digest.body;
    for needle in [
        "Account:    111122223333",
        "Region:     eu-west-1",
        "Engine:     Amazon Inspector (v2)",
        "Target:     tag Patch=yes",
        "Run:        0b9f-77aa-report",
        "Execution:  sched-111122223333-eu-west-1-20261128",
        "40 findings on 12 scanned instances (60 in scope not scanned).",
        "MOST SEVERE FINDINGS (25 of 40)",
        "... and 15 more",
        "i-00000000000000007",
        "Scanned:     12 instances",
        "Not scanned: 60 instances in scope",
        "AGENT_NOT_INSTALLED. Install the SSM agent",
        "  ... and 10 more\n",
        "https://eu-west-1.console.aws.amazon.com/securityhub/home?region=eu-west-1#/findings?search=AwsAccountId%3D%255Coperator%255C%253AEQUALS%255C%253A111122223333",
        "https://eu-west-1.console.aws.amazon.com/inspector/v2/home?region=eu-west-1",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    // Each listed finding: rank, severity, score and instance in columns, then its title.
    let lines: Vec<&str> = body.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("   1. "))
        .expect("a first finding");
    let first = lines[at];
    assert!(
        first.contains("CRITICAL")
            && first.contains("9.9")
            && first.contains("i-00000000000000007"),
        "{first}"
    );
    assert_eq!(
        lines.get(at + 1).copied(),
        Some("      CVE-2026-00007: the worst one [fix available]")
    );
    assert_eq!(
        body.lines().filter(|l| l.starts_with("  - i-")).count(),
        scanflow_documents::digest::COVERAGE_LINES
    );
    assert!(!body.contains("re-delivery"));
}

#[test]
fn no_findings_on_scanned_instances_is_said_as_such() {
    let fake = Fake::new();
    let run = run();
    let input = seed(&fake, &run, &[], coverage(3, 0));
    let formatted = format_it(&fake, &input);
    assert_eq!(formatted.siem_parts, 1);
    let digest = digest(&fake, &formatted);
    assert_eq!(
        digest.subject,
        "scanflow: 111122223333 eu-west-1 — no findings on 3 instances"
    );
    assert!(digest.body.contains("No findings on 3 scanned instances"));
    assert!(!digest.body.contains("0 findings"));
    assert!(!digest.body.contains("MOST SEVERE"));

    let parts = messages(&fake, &run, &formatted);
    let doc = &parts[0].1;
    assert_eq!(doc["findings"], json!([]));
    assert_eq!(doc["summary"]["instancesScanned"], 3);
    assert_eq!(doc["coverage"], json!({"notScanned": [], "truncated": 0}));
    assert_valid(&validator(), doc);
}

#[test]
fn no_findings_without_coverage_says_nothing_was_scanned() {
    let fake = Fake::new();
    let run = run();
    let input = seed(&fake, &run, &[], coverage(0, 2));
    let formatted = format_it(&fake, &input);
    let digest = digest(&fake, &formatted);
    assert_eq!(
        digest.subject,
        "scanflow: 111122223333 eu-west-1 — nothing was scanned"
    );
    assert!(
        digest
            .body
            .contains("Nothing was scanned: none of the 2 instances in scope")
    );
    assert!(!digest.body.contains("No findings"));
    assert!(!digest.body.contains("0 findings"));
    let doc = &messages(&fake, &run, &formatted)[0].1;
    assert_eq!(
        doc["coverage"]["notScanned"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn a_rerun_is_called_a_re_delivery() {
    let fake = Fake::new();
    let mut run = run();
    run.rerun = true;
    let input = seed(&fake, &run, &findings(2), coverage(1, 0));
    let formatted = format_it(&fake, &input);
    let digest = digest(&fake, &formatted);
    assert!(digest.subject.starts_with("scanflow (re-delivery): "));
    assert!(digest.body.contains("This is a re-delivery"));
    assert_eq!(messages(&fake, &run, &formatted)[0].1["run"]["rerun"], true);
}

#[test]
fn a_finding_too_large_for_a_message_is_cut_never_dropped() {
    let fake = Fake::new();
    let run = run();
    let mut all = findings(3);
    all[1].description = "é".repeat(300_000);
    all[1].recommendation = "r".repeat(100_000);
    let input = seed(&fake, &run, &all, coverage(1, 0));
    let formatted = format_it(&fake, &input);
    let parts = messages(&fake, &run, &formatted);
    let validator = validator();
    let delivered: Vec<&Value> = parts
        .iter()
        .flat_map(|(_, d)| d["findings"].as_array().expect("findings"))
        .collect();
    assert_eq!(delivered.len(), 3);
    let big = delivered
        .iter()
        .find(|f| f["id"] == all[1].id.as_str())
        .expect("the large finding is delivered");
    assert_eq!(big["truncated"], true);
    let description = big["description"].as_str().expect("description");
    assert!(description.ends_with('…') && description.starts_with("éé"));
    assert_eq!(
        delivered
            .iter()
            .filter(|f| f.get("truncated").is_some())
            .count(),
        1,
        "only the large one is cut"
    );
    for (_, doc) in &parts {
        assert_valid(&validator, doc);
    }
}

#[test]
fn a_large_coverage_list_is_capped_in_part_one_and_can_leave_it_without_findings() {
    let fake = Fake::new();
    let run = run();
    let mut all = findings(2);
    all[0].description = "d".repeat(200_000);
    let input = seed(&fake, &run, &all, coverage(5, 5_000));
    let formatted = format_it(&fake, &input);
    let parts = messages(&fake, &run, &formatted);
    let first = &parts[0].1;
    let listed = first["coverage"]["notScanned"]
        .as_array()
        .map_or(0, Vec::len);
    let truncated = first["coverage"]["truncated"].as_u64().expect("count");
    assert!(truncated > 0);
    assert_eq!(listed as u64 + truncated, 5_000);
    assert_eq!(
        first["findings"],
        json!([]),
        "the 200 KB finding did not fit beside coverage"
    );
    let delivered: usize = parts
        .iter()
        .map(|(_, d)| d["findings"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(delivered, 2);
    let validator = validator();
    for (_, doc) in &parts {
        assert_valid(&validator, doc);
    }
}

#[test]
fn the_digest_fits_one_message_whatever_the_configured_list_length() {
    let mut fake = Fake::new();
    fake.config.digest_top_findings = 100_000;
    let run = run();
    let mut all = findings(3_000);
    for f in &mut all {
        f.title = "t".repeat(2_000);
    }
    let input = seed(&fake, &run, &all, coverage(300, 10_000));
    let formatted = format_it(&fake, &input);
    let digest = digest(&fake, &formatted);
    let msg = Message::new(
        &digest.subject,
        digest.body.clone(),
        digest_attributes(&run),
    )
    .expect("digest fits");
    assert!(msg.size() > SNS_MESSAGE_LIMIT / 2, "the list used the room");
    assert!(
        digest
            .body
            .contains(" more: see the SIEM delivery or Security Hub")
    );
}

#[test]
fn missing_collected_and_bad_chunks_fail_clearly() {
    let fake = Fake::new();
    let run = run();
    let event = json!({"run": run});
    let err = pollster::block_on(invoke(&fake, event)).expect_err("no collected");
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("$.collected"));

    let input = seed(&fake, &run, &findings(3), coverage(1, 0));
    let key = keys::findings_chunk(&run, 0);
    fake.store
        .0
        .lock()
        .expect("lock")
        .insert(key.clone(), b"{\"id\": 1}\n".to_vec());
    let err = pollster::block_on(format_run(&fake, &input)).expect_err("bad chunk");
    assert!(err.to_string().contains(&key), "{err}");
    assert!(
        fake.store.object(&keys::digest(&run)).is_none(),
        "nothing half-written"
    );
}

#[test]
fn the_handler_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let fake = Fake::new();
    let future = invoke(&fake, json!({}));
    assert_send(&future);
}

mod hostile {
    //! The formatters on arbitrary finding text (any characters, any lengths): every SIEM part
    //! is valid JSON under the SNS limit and matches the schema, every finding is delivered
    //! exactly once with its exact text, and the e-mail digest, as sent, holds no control or
    //! invisible formatting character and no line a value added.

    use proptest::prelude::*;

    use super::*;

    /// Text with what hurts: controls, bidi overrides, zero-width characters, line breaks,
    /// quotes, backslashes, non-Latin scripts, long runs.
    fn hostile_text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "\n",
            "\r\n",
            "\u{1b}[2J",
            "\0",
            "\u{7f}",
            "\u{85}",
            "\u{202E}",
            "\u{2066}",
            "\u{200B}",
            "\u{FEFF}",
            "\"",
            "\\",
            "Account:    999999999999",
            "東京",
            "ü",
            "x",
        ]);
        (prop::collection::vec(pieces, 0..40), 0_usize..3_000)
            .prop_map(|(parts, pad)| format!("{}{}", parts.concat(), "y".repeat(pad)))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn arbitrary_finding_text_is_delivered_exactly_and_shown_safely(
            texts in prop::collection::vec((hostile_text(), hostile_text()), 1..30)
        ) {
            let fake = Fake::new();
            let run = run();
            let all: Vec<Finding> = texts
                .iter()
                .enumerate()
                .map(|(i, (title, description))| Finding {
                    title: title.clone(),
                    ..finding(i, description.clone())
                })
                .collect();
            let input = seed(&fake, &run, &all, coverage(3, 1));
            let formatted = format_it(&fake, &input);
            let validator = validator();
            let mut titles = Vec::new();
            for (_, doc) in messages(&fake, &run, &formatted) {
                assert_valid(&validator, &doc);
                for f in doc["findings"].as_array().cloned().unwrap_or_default() {
                    titles.push(f["title"].as_str().unwrap_or_default().to_owned());
                }
            }
            // Exactly once each, with the exact text (unless cut to fit, which is marked).
            prop_assert_eq!(titles.len(), all.len());
            for f in &all {
                prop_assert!(titles.iter().any(|t| t == &f.title || t.ends_with('…')));
            }
            let d = digest(&fake, &formatted);
            let sent = Message::for_people(&d.subject, &d.body, digest_attributes(&run))
                .expect("the digest fits one message");
            let unsafe_char = |c: char| {
                (c.is_control() && c != '\n')
                    || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{FEFF}')
            };
            for text in [&sent.subject, &sent.body] {
                let clean = !text.chars().any(unsafe_char);
                prop_assert!(clean, "an unsafe character in {:?}", text);
            }
            prop_assert!(!sent.body.lines().any(|l| l.starts_with("Account:    999999999999")));
        }
    }
}

fn spooled(spool: Spool) -> Vec<String> {
    let mut reader = spool.into_reader().expect("reader");
    let mut back = Vec::new();
    while let Some(item) = reader.next_item().expect("item") {
        back.push(item);
    }
    back
}

#[test]
fn the_spool_keeps_its_limit_in_memory_and_spills_one_byte_past_it() {
    // At the limit: the item and its newline fill the memory exactly.
    let at_limit = "a".repeat(SPOOL_IN_MEMORY - 1);
    let mut spool = Spool::create();
    spool.push(at_limit.clone()).expect("push");
    assert!(
        spool.file.is_none(),
        "at the limit the spool stays in memory"
    );
    assert_eq!(spooled(spool), vec![at_limit.clone()]);

    // One byte more goes to a file, with what was in memory before it, in order.
    let mut spool = Spool::create();
    spool.push(at_limit.clone()).expect("push");
    spool.push("b".to_owned()).expect("push");
    let path = spool
        .file
        .as_ref()
        .map(|(_, f)| f.0.clone())
        .expect("spilled");
    assert!(spool.memory.is_empty());
    assert_eq!(spooled(spool), vec![at_limit, "b".to_owned()]);
    assert!(!path.exists(), "the spool file is removed once read");
}

#[test]
fn the_spool_reads_back_every_item_in_order_either_way() {
    for count in [3_usize, SPOOL_IN_MEMORY / 1_000 + 10] {
        let items: Vec<String> = (0..count)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(990)))
            .collect();
        let mut spool = Spool::create();
        for item in &items {
            spool.push(item.clone()).expect("push");
        }
        assert_eq!(spool.file.is_some(), count > 3);
        assert_eq!(spooled(spool), items);
    }
}
