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
) -> (Option<Uid<'a>>, Option<Uid<'a>>) {
    match vulnerability_id {
        Some(id) if id.starts_with("CVE-") => (Some(Uid { uid: id }), None),
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
        let (cve, advisory) = vulnerability_ids(f.vulnerability_id.as_deref(), &f.title);
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
                title: &f.title,
                severity: f.severity.as_str(),
                is_fix_available: f.fix_available,
                remediation: non_empty(&f.recommendation).map(|desc| Remediation { desc }),
                first_seen_time: first_seen,
                last_seen_time: last_seen,
                vendor_name: engine_product(f.engine).name,
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
    let product = engine_product(context.run.engine);
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
            product,
        },
        vulnerabilities: [Vulnerability {
            cve,
            advisory,
            title: &r.title,
            severity: r.severity.as_str(),
            is_fix_available: None,
            remediation: None,
            first_seen_time: first_seen,
            last_seen_time: last_seen,
            vendor_name: engine_product(context.run.engine).name,
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

#[derive(Serialize)]
struct Vulnerability<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cve: Option<Uid<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    advisory: Option<Uid<'a>>,
    title: &'a str,
    /// The engine's label (`CRITICAL`, ..., `UNTRIAGED`), as scanflow's own findings say it.
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_fix_available: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<Remediation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen_time: Option<i64>,
    vendor_name: &'a str,
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
}
