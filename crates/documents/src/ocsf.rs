//! scanflow's findings as OCSF events, for SIEMs that speak OCSF (the hub's `SiemFormat` =
//! `ocsf`): each finding, and each resolved entry, becomes one Vulnerability Finding (class
//! 2002) of OCSF [`VERSION`] with the `cloud` profile, inside the same numbered SIEM parts as
//! scanflow's own findings. SIEM.md ("OCSF") gives the mapping field by field.
//!
//! The mapping keeps what a SIEM keys on stable across scans: `finding_info.uid` is the
//! finding's lifecycle identity (the Inspector v2 finding ARN; for Classic, whose ARNs change
//! every run, the identity derived from account, Region, instance, rules package and rule),
//! so the next scan's event for the same finding updates the same record, and its resolution
//! closes it.

use scanflow_core::ScanError;
use scanflow_core::lifecycle::{Annotation, Resolved, Status};
use scanflow_core::model::{Engine, Finding, Severity};
use scanflow_core::state::Run;
use scanflow_core::time as ts;
use serde::Serialize;

use crate::siem::{FindingsFormat, fit};

/// The OCSF version every event states as `metadata.version`; the test suite validates the
/// events against this version's schema (tests/ocsf.rs).
pub const VERSION: &str = "1.8.0";
/// Vulnerability Finding.
pub const CLASS_UID: u32 = 2002;
const CLASS_NAME: &str = "Vulnerability Finding";
const CATEGORY_UID: u32 = 2;
const CATEGORY_NAME: &str = "Findings";
/// The profiles the events apply (`metadata.profiles`): `cloud` makes `cloud` required.
pub const PROFILES: &[&str] = &["cloud"];
/// OCSF's account type for an AWS account (`cloud.account.type_id`).
const AWS_ACCOUNT_TYPE_ID: u32 = 10;

/// What the envelope of an OCSF part says about its findings.
pub const FINDINGS_FORMAT: FindingsFormat = FindingsFormat {
    name: "ocsf",
    version: VERSION,
    class_uid: CLASS_UID,
};

/// What every event of one run shares.
pub struct Context<'a> {
    run: &'a Run,
    /// The run's collection time in OCSF's milliseconds since the epoch: the events' `time`.
    collected_ms: i64,
}

impl<'a> Context<'a> {
    /// `collected_at` is the manifest's collection time (RFC 3339).
    pub fn new(run: &'a Run, collected_at: &str) -> Result<Self, ScanError> {
        Ok(Self {
            run,
            collected_ms: millis(ts::parse("collectedAt", collected_at)?),
        })
    }

    fn metadata(&self, truncated: bool) -> Metadata<'a> {
        Metadata {
            version: VERSION,
            product: Product {
                name: "scanflow",
                vendor_name: "scanflow",
                version: Some(env!("CARGO_PKG_VERSION")),
            },
            profiles: PROFILES,
            correlation_uid: &self.run.run_id,
            is_truncated: truncated.then_some(true),
        }
    }

    fn cloud(&self) -> Cloud<'a> {
        Cloud {
            provider: "AWS",
            region: &self.run.region,
            account: Account {
                uid: &self.run.account_id,
                type_id: AWS_ACCOUNT_TYPE_ID,
                r#type: "AWS Account",
            },
        }
    }
}

/// OCSF milliseconds since the epoch. Saturates instead of overflowing (a year-9999 timestamp
/// is 2.5e14 ms, far inside `i64`).
fn millis(t: ts::Timestamp) -> i64 {
    t.unix_timestamp()
        .saturating_mul(1000)
        .saturating_add(i64::from(t.millisecond()))
}

/// A timestamp the engine reported, in milliseconds; one that does not parse is left out (the
/// lifecycle ignores it too), never a reason to lose the finding.
fn optional_millis(field: &str, value: Option<&str>) -> Option<i64> {
    value.and_then(|v| ts::parse(field, v).ok()).map(millis)
}

/// `severity_id` and its caption.
fn severity(severity: Severity) -> (u8, &'static str) {
    match severity {
        Severity::Critical => (5, "Critical"),
        Severity::High => (4, "High"),
        Severity::Medium => (3, "Medium"),
        Severity::Low => (2, "Low"),
        Severity::Informational => (1, "Informational"),
        // Inspector's UNTRIAGED and Classic's Undefined: OCSF's Unknown.
        Severity::Untriaged => (0, "Unknown"),
    }
}

/// The finding activity: a finding first delivered now is created, one delivered before is
/// updated, a resolved one is closed.
#[derive(Clone, Copy)]
enum Activity {
    Create,
    Update,
    Close,
}

impl Activity {
    fn id(self) -> u8 {
        match self {
            Self::Create => 1,
            Self::Update => 2,
            Self::Close => 3,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Close => "Close",
        }
    }
    fn type_name(self) -> &'static str {
        match self {
            Self::Create => "Vulnerability Finding: Create",
            Self::Update => "Vulnerability Finding: Update",
            Self::Close => "Vulnerability Finding: Close",
        }
    }
}

fn engine_product(engine: Engine) -> Product<'static> {
    Product {
        name: match engine {
            Engine::Classic => "Amazon Inspector Classic",
            Engine::Inspector2 => "Amazon Inspector",
        },
        vendor_name: "Amazon Web Services",
        version: None,
    }
}

/// The vulnerability's id: a CVE as `cve`, anything else (a Classic rule id, a finding without
/// one) as an `advisory` — OCSF wants exactly one of the two.
fn vulnerability_ids<'a>(
    vulnerability_id: Option<&'a str>,
    title: &'a str,
) -> (Option<Cve<'a>>, Option<Uid<'a>>) {
    match vulnerability_id {
        Some(id) if id.starts_with("CVE-") => (
            Some(Cve {
                uid: id,
                cvss: Vec::new(),
                epss: None,
            }),
            None,
        ),
        Some(id) => (None, Some(Uid { uid: id })),
        // Without a vulnerability id the title is what names the rule (as in its identity).
        None => (None, Some(Uid { uid: title })),
    }
}

fn status(activity: Activity) -> (u8, &'static str) {
    match activity {
        Activity::Create | Activity::Update => (1, "New"),
        Activity::Close => (4, "Resolved"),
    }
}

/// The event of a finding delivered in this run, cut like scanflow's own findings (description,
/// recommendation, title, then tags) until it fits `budget`; `metadata.is_truncated` marks a
/// cut one.
pub fn finding_json(
    finding: Finding,
    annotation: &Annotation,
    context: &Context,
    budget: usize,
) -> Result<String, ScanError> {
    let activity = match annotation.lifecycle {
        Status::New => Activity::Create,
        Status::Open => Activity::Update,
    };
    let first_seen = optional_millis("firstSeen", Some(&annotation.first_seen));
    let last_seen = optional_millis("lastSeen", finding.last_seen.as_deref());
    fit(finding, budget, |f, truncated| {
        let (mut cve, advisory) = vulnerability_ids(f.vulnerability_id.as_deref(), &f.title);
        let detail = f.detail.as_deref();
        if let (Some(cve), Some(d)) = (cve.as_mut(), detail) {
            cve.cvss = d
                .cvss
                .iter()
                .map(|c| CvssScore {
                    base_score: c.base_score,
                    vector_string: &c.vector,
                    version: &c.version,
                    vendor_name: c.source.as_deref(),
                })
                .collect();
            cve.epss = d.epss.map(|e| Epss {
                score: format!("{e}"),
            });
        }
        let event = Event {
            class: Classification::new(activity, f.severity),
            metadata: context.metadata(truncated),
            cloud: context.cloud(),
            time: context.collected_ms,
            finding_info: FindingInfo {
                uid: &annotation.identity,
                uid_alt: (f.id != annotation.identity).then_some(f.id.as_str()),
                title: &f.title,
                desc: non_empty(&f.description),
                first_seen_time: first_seen,
                last_seen_time: last_seen,
                product: engine_product(f.engine),
            },
            vulnerabilities: [Vulnerability {
                cve,
                advisory,
                severity: f.severity.as_str(),
                is_fix_available: f.fix_available,
                is_exploit_available: detail.and_then(|d| d.exploit_available),
                affected_packages: detail
                    .map(|d| {
                        d.packages
                            .iter()
                            .map(|p| AffectedPackage {
                                name: &p.name,
                                version: &p.installed_version,
                                fixed_in_version: p.fixed_in_version.as_deref(),
                                package_manager: p.package_manager.as_deref(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                references: detail
                    .map(|d| d.references.iter().map(String::as_str).collect())
                    .unwrap_or_default(),
                remediation: non_empty(&f.recommendation).map(|desc| Remediation { desc }),
            }],
            resources: resource(f.instance_id.as_deref(), Some(f), &context.run.region),
            unmapped: Unmapped {
                engine: f.engine.as_str(),
                lifecycle: annotation.lifecycle.as_str(),
                age_days: Some(annotation.age_days),
                sla_due_at: annotation.sla_due_at.as_deref(),
                overdue: Some(annotation.overdue),
                inspector_score: f.score,
                rerun: context.run.rerun,
                kind: detail.map(|d| d.kind),
                network: detail.and_then(|d| d.network.as_ref()),
                instance: detail.and_then(|d| d.instance.as_ref()),
                cis: detail.and_then(|d| d.cis.as_ref()),
                acceptance: annotation.acceptance.as_ref(),
            },
        };
        serde_json::to_string(&event).map_err(ScanError::internal)
    })
}

/// The event of a resolved entry: the same `finding_info.uid`, closed and resolved at this
/// run's collection. Its texts are bounded by the run state, so it always fits.
pub fn resolved_json(resolved: &Resolved, context: &Context) -> Result<String, ScanError> {
    let r = &resolved.record;
    let (cve, advisory) = vulnerability_ids(r.vulnerability_id.as_deref(), &r.title);
    let first_seen = optional_millis("firstSeen", Some(&r.first_seen));
    let last_seen = optional_millis("lastSeen", Some(&r.last_seen));
    let event = Event {
        class: Classification::new(Activity::Close, r.severity),
        metadata: context.metadata(false),
        cloud: context.cloud(),
        time: optional_millis("resolvedAt", Some(&resolved.resolved_at))
            .unwrap_or(context.collected_ms),
        finding_info: FindingInfo {
            uid: &r.identity,
            uid_alt: (r.id != r.identity).then_some(r.id.as_str()),
            title: &r.title,
            desc: None,
            first_seen_time: first_seen,
            last_seen_time: last_seen,
            product: engine_product(context.run.engine),
        },
        vulnerabilities: [Vulnerability {
            cve,
            advisory,
            severity: r.severity.as_str(),
            is_fix_available: None,
            is_exploit_available: None,
            affected_packages: Vec::new(),
            references: Vec::new(),
            remediation: None,
        }],
        resources: resource(r.instance_id.as_deref(), None, &context.run.region),
        unmapped: Unmapped {
            engine: context.run.engine.as_str(),
            lifecycle: "resolved",
            age_days: None,
            sla_due_at: None,
            overdue: None,
            inspector_score: None,
            rerun: context.run.rerun,
            kind: None,
            network: None,
            instance: None,
            cis: None,
            acceptance: None,
        },
    };
    serde_json::to_string(&event).map_err(ScanError::internal)
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// The EC2 instance, with its Name tag as the resource name and its tags (a finding's; a
/// resolved entry keeps only the instance id).
fn resource<'a>(
    instance_id: Option<&'a str>,
    finding: Option<&'a Finding>,
    region: &'a str,
) -> Option<[Resource<'a>; 1]> {
    let uid = instance_id?;
    let tags = finding.map_or_else(Vec::new, |f| {
        f.instance_tags
            .iter()
            .map(|(name, value)| KeyValue { name, value })
            .collect()
    });
    Some([Resource {
        uid,
        r#type: "AwsEc2Instance",
        name: finding.and_then(|f| f.instance_tags.get("Name").map(String::as_str)),
        region,
        tags,
    }])
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(flatten)]
    class: Classification,
    time: i64,
    metadata: Metadata<'a>,
    cloud: Cloud<'a>,
    finding_info: FindingInfo<'a>,
    vulnerabilities: [Vulnerability<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    resources: Option<[Resource<'a>; 1]>,
    unmapped: Unmapped<'a>,
}

/// The class, activity, severity and status attributes, with their captions.
#[derive(Serialize)]
struct Classification {
    activity_id: u8,
    activity_name: &'static str,
    category_uid: u32,
    category_name: &'static str,
    class_uid: u32,
    class_name: &'static str,
    type_uid: u32,
    type_name: &'static str,
    severity_id: u8,
    severity: &'static str,
    status_id: u8,
    status: &'static str,
}

impl Classification {
    fn new(activity: Activity, sev: Severity) -> Self {
        let (severity_id, severity) = severity(sev);
        let (status_id, status) = status(activity);
        Self {
            activity_id: activity.id(),
            activity_name: activity.name(),
            category_uid: CATEGORY_UID,
            category_name: CATEGORY_NAME,
            class_uid: CLASS_UID,
            class_name: CLASS_NAME,
            type_uid: CLASS_UID * 100 + u32::from(activity.id()),
            type_name: activity.type_name(),
            severity_id,
            severity,
            status_id,
            status,
        }
    }
}

#[derive(Serialize)]
struct Metadata<'a> {
    version: &'static str,
    product: Product<'static>,
    profiles: &'static [&'static str],
    /// The run: every event of one scan shares it.
    correlation_uid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_truncated: Option<bool>,
}

#[derive(Serialize)]
struct Product<'a> {
    name: &'a str,
    vendor_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

#[derive(Serialize)]
struct Cloud<'a> {
    provider: &'static str,
    region: &'a str,
    account: Account<'a>,
}

#[derive(Serialize)]
struct Account<'a> {
    uid: &'a str,
    type_id: u32,
    r#type: &'static str,
}

#[derive(Serialize)]
struct FindingInfo<'a> {
    uid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid_alt: Option<&'a str>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    desc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen_time: Option<i64>,
    /// The engine that found it (scanflow is `metadata.product`).
    product: Product<'static>,
}

#[derive(Serialize)]
struct Uid<'a> {
    uid: &'a str,
}

/// A CVE with the scores Inspector gives it.
#[derive(Serialize)]
struct Cve<'a> {
    uid: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cvss: Vec<CvssScore<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epss: Option<Epss>,
}

#[derive(Serialize)]
struct CvssScore<'a> {
    base_score: f64,
    vector_string: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vendor_name: Option<&'a str>,
}

/// OCSF writes the EPSS probability as a string.
#[derive(Serialize)]
struct Epss {
    score: String,
}

#[derive(Serialize)]
struct AffectedPackage<'a> {
    name: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed_in_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    package_manager: Option<&'a str>,
}

/// The vulnerability: its id, the engine's severity label and the fix. Its title, description,
/// times and engine are said once, in `finding_info` (every event has exactly one
/// vulnerability), which keeps an event small enough for as many per part as it can.
#[derive(Serialize)]
struct Vulnerability<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cve: Option<Cve<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    advisory: Option<Uid<'a>>,
    /// The engine's label (`CRITICAL`, ..., `UNTRIAGED`), as scanflow's own findings say it.
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_fix_available: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_exploit_available: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    affected_packages: Vec<AffectedPackage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<Remediation<'a>>,
}

#[derive(Serialize)]
struct Remediation<'a> {
    desc: &'a str,
}

#[derive(Serialize)]
struct Resource<'a> {
    uid: &'a str,
    r#type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    /// `cloud` profile.
    region: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
struct KeyValue<'a> {
    name: &'a str,
    value: &'a str,
}

/// What OCSF has no attribute for: the lifecycle figures scanflow's own findings carry.
#[derive(Serialize)]
struct Unmapped<'a> {
    engine: &'static str,
    lifecycle: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_days: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sla_due_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    overdue: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inspector_score: Option<f64>,
    rerun: bool,
    /// Inspector's finding type, the reachability path and the instance's facts: OCSF's
    /// Vulnerability Finding has no attribute for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<scanflow_core::model::FindingKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<&'a scanflow_core::model::NetworkPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a scanflow_core::model::InstanceFacts>,
    /// A failed CIS check's id, level and scan (OCSF would call it a compliance finding; the
    /// parts keep one class for every finding).
    #[serde(skip_serializing_if = "Option::is_none")]
    cis: Option<&'a scanflow_core::model::CisCheck>,
    /// The accepted risk covering it (in force or expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    acceptance: Option<&'a scanflow_core::acceptance::Acceptance>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use scanflow_core::lifecycle::StateRecord;
    use serde_json::Value;

    fn run(engine: Engine) -> Run {
        serde_json::from_value(serde_json::json!({
            "accountId": "111122223333", "region": "eu-west-1", "engine": engine,
            "runId": "r-1", "durationSeconds": 3600, "startedAt": "2026-11-28T10:00:00Z",
            "deadline": "2026-11-28T12:00:00Z", "waitSeconds": 0, "rerun": false,
            "execution": "e-1",
        }))
        .expect("run")
    }

    fn finding(severity: Severity, vulnerability_id: Option<&str>) -> Finding {
        Finding {
            id: "arn:aws:inspector2:eu-west-1:111122223333:finding/f1".into(),
            engine: Engine::Inspector2,
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            severity,
            title: "CVE-2024-0001 - openssl".into(),
            instance_id: Some("i-0123456789abcdef0".into()),
            instance_tags: [("Name".to_owned(), "web-1".to_owned())].into(),
            vulnerability_id: vulnerability_id.map(str::to_owned),
            description: "A flaw.".into(),
            recommendation: "Upgrade openssl.".into(),
            fix_available: Some(true),
            score: Some(7.5),
            first_seen: None,
            last_seen: Some("2026-11-28T09:00:00.250Z".into()),
            rules_package_arn: None,
            detail: None,
        }
    }

    fn annotation(identity: &str, lifecycle: Status) -> Annotation {
        Annotation {
            identity: identity.into(),
            lifecycle,
            first_seen: "2026-11-01T00:00:00Z".into(),
            age_days: 27,
            sla_due_at: Some("2026-12-01T00:00:00Z".into()),
            overdue: false,
            acceptance: None,
        }
    }

    fn event(f: Finding, a: &Annotation, run: &Run) -> Value {
        let context = Context::new(run, "2026-11-28T11:00:00Z").expect("context");
        let text = finding_json(f, a, &context, usize::MAX).expect("event");
        serde_json::from_str(&text).expect("json")
    }

    #[test]
    fn severities_statuses_and_activities_map_to_ocsf_ids() {
        let run = run(Engine::Inspector2);
        let id = "arn:aws:inspector2:eu-west-1:111122223333:finding/f1";
        let expected = [(5, "Critical"), (4, "High"), (3, "Medium"), (2, "Low")]
            .into_iter()
            .chain([(1, "Informational"), (0, "Unknown")]);
        for (severity, (sid, caption)) in Severity::ALL.into_iter().zip(expected) {
            let e = event(
                finding(severity, Some("CVE-1")),
                &annotation(id, Status::New),
                &run,
            );
            assert_eq!(
                (e["severity_id"].as_u64(), e["severity"].as_str()),
                (Some(sid), Some(caption))
            );
            assert_eq!(e["vulnerabilities"][0]["severity"], severity.as_str());
        }
        let new = event(
            finding(Severity::High, Some("CVE-1")),
            &annotation(id, Status::New),
            &run,
        );
        let open = event(
            finding(Severity::High, Some("CVE-1")),
            &annotation(id, Status::Open),
            &run,
        );
        for (e, activity, type_uid) in [(&new, "Create", 200_201), (&open, "Update", 200_202)] {
            assert_eq!(e["activity_name"], activity);
            assert_eq!(e["type_uid"], type_uid);
            assert_eq!(
                (&e["status_id"], &e["status"]),
                (&Value::from(1), &Value::from("New"))
            );
        }
        // Times in milliseconds; the collection time is the event's.
        assert_eq!(new["time"], 1_795_863_600_000_i64);
        assert_eq!(new["finding_info"]["last_seen_time"], 1_795_856_400_250_i64);
        assert_eq!(
            new["finding_info"]["first_seen_time"],
            1_793_491_200_000_i64
        );
        assert_eq!(new["resources"][0]["name"], "web-1");
        assert_eq!(new["cloud"]["account"]["uid"], "111122223333");
        assert_eq!(new["metadata"]["correlation_uid"], "r-1");
        assert!(new["metadata"].get("is_truncated").is_none());
    }

    #[test]
    fn the_uid_is_the_stable_identity_and_non_cves_are_advisories() {
        let run = run(Engine::Classic);
        let identity = "classic:111122223333:eu-west-1:i-0123456789abcdef0:pkg:SSH-1";
        let mut f = finding(Severity::Medium, Some("SSH-1"));
        f.engine = Engine::Classic;
        let e = event(f.clone(), &annotation(identity, Status::Open), &run);
        assert_eq!(e["finding_info"]["uid"], identity);
        assert_eq!(
            e["finding_info"]["uid_alt"],
            f.id.as_str(),
            "this run's ARN"
        );
        assert_eq!(e["vulnerabilities"][0]["advisory"]["uid"], "SSH-1");
        assert!(e["vulnerabilities"][0].get("cve").is_none());
        assert_eq!(
            e["finding_info"]["product"]["name"],
            "Amazon Inspector Classic"
        );
        f.vulnerability_id = None;
        let e = event(f, &annotation(identity, Status::Open), &run);
        assert_eq!(
            e["vulnerabilities"][0]["advisory"]["uid"],
            "CVE-2024-0001 - openssl"
        );
        // Inspector v2: the ARN is the identity, so there is no alternative uid.
        let run = self::run(Engine::Inspector2);
        let f = finding(Severity::Medium, Some("CVE-2024-0001"));
        let e = event(f.clone(), &annotation(&f.id, Status::New), &run);
        assert!(e["finding_info"].get("uid_alt").is_none());
        assert_eq!(e["vulnerabilities"][0]["cve"]["uid"], "CVE-2024-0001");
    }

    #[test]
    fn a_resolved_entry_is_a_closed_resolved_event_at_its_resolution() {
        let run = run(Engine::Inspector2);
        let context = Context::new(&run, "2026-11-28T11:00:00Z").expect("context");
        let resolved = Resolved {
            record: StateRecord {
                identity: "arn:f9".into(),
                id: "arn:f9".into(),
                severity: Severity::Critical,
                instance_id: Some("i-0123456789abcdef0".into()),
                vulnerability_id: Some("CVE-2024-9".into()),
                title: "CVE-2024-9 - curl".into(),
                first_seen: "2026-11-01T00:00:00Z".into(),
                last_seen: "2026-11-21T11:00:00Z".into(),
            },
            resolved_at: "2026-11-28T11:00:00Z".into(),
        };
        let e: Value = serde_json::from_str(&resolved_json(&resolved, &context).expect("event"))
            .expect("json");
        assert_eq!(
            (&e["activity_id"], &e["type_uid"]),
            (&Value::from(3), &Value::from(200_203))
        );
        assert_eq!(
            (&e["status_id"], &e["status"]),
            (&Value::from(4), &Value::from("Resolved"))
        );
        assert_eq!(e["severity_id"], 5);
        assert_eq!(e["finding_info"]["uid"], "arn:f9");
        assert_eq!(e["time"], 1_795_863_600_000_i64);
        assert_eq!(e["unmapped"]["lifecycle"], "resolved");
        assert_eq!(e["resources"][0]["uid"], "i-0123456789abcdef0");
    }

    #[test]
    fn a_bad_collection_time_names_the_field() {
        let run = run(Engine::Inspector2);
        let err = Context::new(&run, "yesterday").err().expect("refused");
        assert!(err.to_string().contains("collectedAt"), "{err}");
    }
}
