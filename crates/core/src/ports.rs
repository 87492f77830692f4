//! The ports: what the handlers need from the world. The AWS adapters implement them for
//! Lambda, the sandbox for `scanflow run`; handlers are generic over [`Platform`].

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::message::Message;
use crate::model::{AccountSettings, Coverage, Finding, Severity};
use crate::state::Run;

/// Security Hub's batch limit for `BatchImportFindings` and `BatchUpdateFindings`.
pub const SECURITY_HUB_BATCH: usize = 100;

/// The hub: access to member accounts, the report store, the notifier, and the hub account's
/// own Security Hub (for notices about accounts scanflow could not enter).
pub trait Platform: Send + Sync {
    type Member: MemberAccount;
    type Store: ReportStore;
    type Notifier: Notifier;
    type SecurityHub: SecurityHub;

    fn config(&self) -> &HubConfig;

    /// Assumes the member's scan role. `session` names the role session (the execution name).
    fn member(
        &self,
        account_id: &str,
        region: &str,
        session: &str,
    ) -> impl Future<Output = Result<Self::Member, ScanError>> + Send;

    /// The member as check-status and collect-findings need it: to read a run's status,
    /// findings and coverage. Through the scan role by default; a hub that is the Inspector
    /// delegated administrator reads Inspector v2 with its own credentials and assumes no role.
    fn reader(&self, run: &Run) -> impl Future<Output = Result<Self::Member, ScanError>> + Send {
        self.member(&run.account_id, &run.region, &run.execution)
    }

    fn store(&self) -> &Self::Store;
    fn notifier(&self) -> &Self::Notifier;
    fn hub_security_hub(&self) -> &Self::SecurityHub;

    /// When the invocation being served must have returned (Lambda's deadline), so a step
    /// that reads for long can stop in time with a clear error instead of being killed; `None`
    /// where nothing bounds it (the sandbox's virtual time, tests).
    fn deadline(&self) -> Option<std::time::SystemTime> {
        None
    }
}

/// The role session name for an execution: STS accepts 2–64 of `[\w+=,.@-]`, Step Functions
/// execution names run to 80 characters of a wider set. Every adapter derives it here, so
/// CloudTrail in the member account names the same execution whatever assumed the role.
pub fn role_session_name(execution: &str) -> String {
    let mut name: String = execution
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.len() < 2 {
        name = format!("scanflow{name}");
    }
    name
}

/// One member account and region, entered through its scan role.
pub trait MemberAccount: Send + Sync {
    type SecurityHub: SecurityHub;

    /// The account's scan settings, as its member stack recorded them.
    fn settings(&self) -> impl Future<Output = Result<AccountSettings, ScanError>> + Send;

    /// Starts a scan (Classic: an assessment run; v2: a findings report). Fails with
    /// `NoInstancesMatched` when the target selects no instance, `InspectorDisabled` when the
    /// engine is off. `name` is unique per execution.
    fn start_scan(
        &self,
        settings: &AccountSettings,
        name: &str,
    ) -> impl Future<Output = Result<Started, ScanError>> + Send;

    /// Starts a one-time CIS scan at `level` of the instances with the settings' tag
    /// (`CreateCisScanConfiguration`, named `name`); returns the configuration's ARN. Inspector
    /// v2 only; the caller has checked the settings with `cis::refuse_untargeted`.
    fn start_cis_scan(
        &self,
        settings: &AccountSettings,
        level: crate::model::CisLevel,
        name: &str,
    ) -> impl Future<Output = Result<String, ScanError>> + Send;

    /// How the run is doing. An Inspector v2 run with a CIS scan is `Running` until the scan
    /// ends (`cis::run_status`); without one it is done at once (v2 scans continuously).
    fn run_status(&self, run: &Run) -> impl Future<Output = Result<RunStatus, ScanError>> + Send;

    /// One page of the run's findings; pass the returned cursor back until it is `None`. With a
    /// completed CIS scan, its failed checks follow the vulnerability findings.
    fn findings_page(
        &self,
        run: &Run,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<FindingsPage, ScanError>> + Send;

    /// Which instances in the run's scope were scanned, and which were not and why; with a
    /// CIS scan, how it went (`Coverage::cis`).
    fn coverage(&self, run: &Run) -> impl Future<Output = Result<Coverage, ScanError>> + Send;

    /// Inspector v2's EC2 scanning status in this account and Region (`BatchGetAccountStatus`
    /// through the scan role): start-run's pre-flight for a Classic account, so people learn
    /// whether it can move to v2. Not called for v2 accounts, whose coverage check says more.
    fn v2_ec2_status(
        &self,
    ) -> impl Future<Output = Result<crate::migration::ScanningStatus, ScanError>> + Send;

    fn security_hub(&self) -> &Self::SecurityHub;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    pub run_id: String,
    /// Classic: a run of this template was already going, and it is the one followed.
    pub adopted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum RunStatus {
    Running { state: String },
    Succeeded { state: String },
    Failed { state: String, detail: String },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindingsPage {
    pub findings: Vec<Finding>,
    pub next: Option<String>,
}

/// Where findings and formatted documents are kept between steps (S3 in AWS).
pub trait ReportStore: Send + Sync {
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), ScanError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, ScanError>> + Send;

    /// Writes `key` only if no object has that key yet (S3's `If-None-Match: *`), atomically:
    /// of two writers racing, exactly one gets `true`. `false` means the key already existed
    /// and nothing was written. This is how a step claims "first" for an idempotency key.
    fn put_if_absent(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<bool, ScanError>> + Send;

    /// Every key starting with `prefix`, in key order (all pages: a partial list would let the
    /// fleet watch call missing accounts healthy).
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, ScanError>> + Send;

    /// How a person opens the object `key`: a presigned GET valid for `valid_for` (at most
    /// [`LINK_MAX_HOURS`]; it ends sooner when the signing credentials do), or with `None`
    /// the object's page in the S3 console, for readers who sign in to the hub account.
    fn link(
        &self,
        key: &str,
        valid_for: Option<std::time::Duration>,
    ) -> impl Future<Output = Result<ObjectLink, ScanError>> + Send;
}

/// A presigned URL lives at most 7 days (SigV4's `X-Amz-Expires` limit).
pub const LINK_MAX_HOURS: u32 = 168;

/// How a person opens a stored object (an HTML report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectLink {
    /// Anyone holding the URL reads the object until `expires_at` (RFC 3339, UTC).
    Presigned { url: String, expires_at: String },
    /// The object's page in the S3 console: the reader signs in to the hub account.
    Console { url: String },
    /// A file on this machine (the sandbox's bucket folder).
    File { url: String },
}

/// Publishes to the scanflow topic (SNS in AWS). Returns the message id.
pub trait Notifier: Send + Sync {
    fn publish(&self, message: &Message) -> impl Future<Output = Result<String, ScanError>> + Send;
}

/// Security Hub in one account. Callers pass at most [`SECURITY_HUB_BATCH`] items a call.
pub trait SecurityHub: Send + Sync {
    /// One page of the account-Region's active Inspector findings whose workflow status is
    /// NEW, with their user-defined fields: the only findings scanflow marks. NOTIFIED,
    /// SUPPRESSED and RESOLVED are people's (or another tool's) decisions and are left alone.
    fn new_findings(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<NewFindingsPage, ScanError>> + Send;

    /// Sets workflow NOTIFIED and `user_defined_fields` on Inspector findings the caller read
    /// as NEW. The map replaces the findings' own, so the caller passes each finding's existing
    /// fields with scanflow's added. No note is written: notes are people's. Returns those it
    /// could not update.
    fn mark_notified(
        &self,
        findings: &[FindingRef],
        user_defined_fields: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Vec<Unprocessed>, ScanError>> + Send;

    /// Imports scanflow's own notices (created or updated by id); returns those refused.
    fn import_notices(
        &self,
        notices: &[Notice],
    ) -> impl Future<Output = Result<Vec<Unprocessed>, ScanError>> + Send;
}

/// Security Hub's workflow status of a finding: where people are in triaging it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WorkflowStatus {
    New,
    Notified,
    Resolved,
    Suppressed,
}

/// An Inspector finding Security Hub holds as NEW, with the user-defined fields it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewFinding {
    pub id: String,
    #[serde(default)]
    pub user_defined_fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFindingsPage {
    pub findings: Vec<NewFinding>,
    pub next: Option<String>,
}

/// An Inspector finding as Security Hub knows it: its id is the finding ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingRef {
    pub id: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unprocessed {
    pub id: String,
    pub reason: String,
}

/// A finding of scanflow's own: a scan that could not run, or an instance it did not cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// Deterministic, so a rerun updates the notice instead of adding another.
    pub id: String,
    pub account_id: String,
    pub region: String,
    pub kind: NoticeKind,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub remedy: String,
    pub resource: NoticeResource,
    pub created_at: String,
    pub execution: String,
    /// Set when the condition cleared (a redriven scan succeeded, an instance is covered
    /// again): the notice is re-imported ARCHIVED with this `UpdatedAt`, so Security Hub
    /// stops showing it as active without anyone having to close it by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    ScanFailed,
    NotScanned,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum NoticeResource {
    AwsAccount { id: String },
    AwsEc2Instance { id: String },
}

impl Notice {
    pub fn id_for(account_id: &str, region: &str, kind: NoticeKind, subject: &str) -> String {
        let kind = match kind {
            NoticeKind::ScanFailed => "scan-failed",
            NoticeKind::NotScanned => "not-scanned",
        };
        format!("scanflow/{account_id}/{region}/{kind}/{subject}")
    }
}

/// Hub-wide settings the handlers use (the adapters have their own: bucket, topic, role name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubConfig {
    pub hub_account_id: String,
    /// Time allowed past the assessment duration for rule evaluation before giving up.
    pub evaluation_allowance_seconds: u32,
    /// Added to the first wait so the first check usually finds the run done.
    pub first_wait_margin_seconds: u32,
    pub min_poll_seconds: u32,
    pub max_poll_seconds: u32,
    /// How many of the most severe findings the e-mail digest lists.
    pub digest_top_findings: usize,
    /// Findings per chunk object in the report store.
    pub chunk_size: usize,
    /// Hub-wide SLA days per severity over the defaults (`SLA_DAYS`, the `SlaDays` parameter).
    #[serde(
        default,
        skip_serializing_if = "crate::lifecycle::SlaOverrides::is_empty"
    )]
    pub sla_days: crate::lifecycle::SlaOverrides,
    /// How the SIEM parts write findings (`SIEM_FORMAT`, the `SiemFormat` parameter).
    #[serde(default)]
    pub siem_format: SiemFormat,
    /// Hours the e-mail's link to the HTML report is valid (`REPORT_LINK_HOURS`, the
    /// `ReportLinkHours` parameter); 0: no presigned link, the S3 console path instead.
    #[serde(default = "default_report_link_hours")]
    pub report_link_hours: u32,
    /// The least severe findings the e-mail lists by name (`EMAIL_MIN_SEVERITY`, the
    /// `EmailMinimumSeverity` parameter); less severe ones are counted, not listed. The SIEM
    /// always gets every finding. Default: every severity.
    #[serde(default = "default_email_min_severity")]
    pub email_min_severity: crate::model::Severity,
}

fn default_email_min_severity() -> crate::model::Severity {
    crate::model::Severity::Untriaged
}

/// A day: long enough to read the morning's e-mail, short for a URL anyone can use.
pub const DEFAULT_REPORT_LINK_HOURS: u32 = 24;

fn default_report_link_hours() -> u32 {
    DEFAULT_REPORT_LINK_HOURS
}

impl HubConfig {
    /// The report link's requested lifetime; `None`: presigning is turned off.
    pub fn report_link_validity(&self) -> Option<std::time::Duration> {
        (self.report_link_hours > 0)
            .then(|| std::time::Duration::from_secs(u64::from(self.report_link_hours) * 3600))
    }
}

/// The document format of the findings in the SIEM parts: scanflow's own (`scanflow.siem`
/// findings) or OCSF Vulnerability Finding events, inside the same numbered parts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiemFormat {
    #[default]
    Scanflow,
    Ocsf,
}

impl SiemFormat {
    /// Every value, as the `SiemFormat` parameter's `AllowedValues` list them.
    pub const ALL: [SiemFormat; 2] = [SiemFormat::Scanflow, SiemFormat::Ocsf];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scanflow => "scanflow",
            Self::Ocsf => "ocsf",
        }
    }

    /// Parses a setting named `field`; anything else is bad input naming the field.
    pub fn parse(field: &str, value: &str) -> Result<Self, ScanError> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == value)
            .ok_or_else(|| {
                ScanError::invalid(
                    field,
                    "scanflow or ocsf",
                    format!("is {}", crate::error::quote(value)),
                )
            })
    }
}

impl std::fmt::Display for SiemFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The documented range of each [`HubConfig`] setting. The bounds are generous for any real
/// hub and keep every sum the steps compute (a Classic duration of at most 86,400 s plus the
/// allowance or margin) far inside `u32` and inside Step Functions' own limits: a `Wait` of at
/// most 99,999,999 s and an execution of at most one year.
pub mod hub_ranges {
    use std::ops::RangeInclusive;
    /// Rule evaluation after a Classic assessment takes minutes; a day is ample, and at least a
    /// minute keeps an Inspector v2 report (which has no duration) from timing out at once.
    pub const EVALUATION_ALLOWANCE_SECONDS: RangeInclusive<u32> = 60..=86_400;
    /// Zero is allowed (the first wait is then the duration itself, plus one second).
    pub const FIRST_WAIT_MARGIN_SECONDS: RangeInclusive<u32> = 0..=3_600;
    /// Polling faster than once a second only burns Inspector's API quota.
    pub const MIN_POLL_SECONDS: RangeInclusive<u32> = 1..=3_600;
    /// Polling less often than daily would let a finished run sit a day undelivered.
    pub const MAX_POLL_SECONDS: RangeInclusive<u32> = 1..=86_400;
    /// The digest is an e-mail people read and must fit SNS's 256 KiB message.
    pub const DIGEST_TOP_FINDINGS: RangeInclusive<usize> = 1..=500;
    /// A chunk is held in a Lambda's memory; 50,000 findings of a few KiB each stay well
    /// under its memory size.
    pub const CHUNK_SIZE: RangeInclusive<usize> = 1..=50_000;
    /// 0 turns presigning off; a presigned URL lives at most 7 days (SigV4).
    pub const REPORT_LINK_HOURS: RangeInclusive<u32> = 0..=super::LINK_MAX_HOURS;
}

impl HubConfig {
    /// Checks every setting against [`hub_ranges`], naming the setting as `prefix` + its
    /// camelCase name (`hub.config.` for a scenario, empty for the hub's own parameters), so
    /// every caller applies the same rule. The hub account id is checked where it is read.
    pub fn validate(&self, prefix: &str) -> Result<(), ScanError> {
        use hub_ranges as r;
        fn check<T: PartialOrd + std::fmt::Display + Copy>(
            prefix: &str,
            name: &str,
            value: T,
            range: &std::ops::RangeInclusive<T>,
            unit: &str,
        ) -> Result<(), ScanError> {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(ScanError::invalid(
                    format!("{prefix}{name}"),
                    format!("{} to {} {unit}", range.start(), range.end()),
                    format!("is {value}"),
                ))
            }
        }
        check(
            prefix,
            "evaluationAllowanceSeconds",
            self.evaluation_allowance_seconds,
            &r::EVALUATION_ALLOWANCE_SECONDS,
            "seconds",
        )?;
        check(
            prefix,
            "firstWaitMarginSeconds",
            self.first_wait_margin_seconds,
            &r::FIRST_WAIT_MARGIN_SECONDS,
            "seconds",
        )?;
        check(
            prefix,
            "minPollSeconds",
            self.min_poll_seconds,
            &r::MIN_POLL_SECONDS,
            "seconds",
        )?;
        check(
            prefix,
            "maxPollSeconds",
            self.max_poll_seconds,
            &r::MAX_POLL_SECONDS,
            "seconds",
        )?;
        if self.min_poll_seconds > self.max_poll_seconds {
            return Err(ScanError::invalid(
                format!("{prefix}minPollSeconds"),
                format!("at most maxPollSeconds ({})", self.max_poll_seconds),
                format!("is {}", self.min_poll_seconds),
            ));
        }
        check(
            prefix,
            "digestTopFindings",
            self.digest_top_findings,
            &r::DIGEST_TOP_FINDINGS,
            "findings",
        )?;
        check(
            prefix,
            "chunkSize",
            self.chunk_size,
            &r::CHUNK_SIZE,
            "findings per chunk",
        )?;
        check(
            prefix,
            "reportLinkHours",
            self.report_link_hours,
            &r::REPORT_LINK_HOURS,
            "hours",
        )?;
        self.sla_days.validate(&format!("{prefix}slaDays"))
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            hub_account_id: "000000000000".into(),
            evaluation_allowance_seconds: 1800,
            first_wait_margin_seconds: 60,
            min_poll_seconds: 30,
            max_poll_seconds: 300,
            digest_top_findings: 25,
            chunk_size: 5000,
            sla_days: crate::lifecycle::SlaOverrides::default(),
            siem_format: SiemFormat::Scanflow,
            report_link_hours: DEFAULT_REPORT_LINK_HOURS,
            email_min_severity: default_email_min_severity(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ScanError) -> String {
        match e {
            ScanError::InvalidInput { field, .. } => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn hub_settings_are_checked_at_their_limits_and_one_past() {
        assert_eq!(HubConfig::default().validate("hub.config."), Ok(()));
        type Set = fn(&mut HubConfig, u64);
        let cases: [(&str, u64, u64, Set); 7] = [
            ("evaluationAllowanceSeconds", 60, 86_400, |c, v| {
                c.evaluation_allowance_seconds = v as u32
            }),
            ("firstWaitMarginSeconds", 0, 3_600, |c, v| {
                c.first_wait_margin_seconds = v as u32
            }),
            ("minPollSeconds", 1, 3_600, |c, v| {
                c.max_poll_seconds = 86_400;
                c.min_poll_seconds = v as u32
            }),
            ("maxPollSeconds", 1, 86_400, |c, v| {
                c.min_poll_seconds = 1;
                c.max_poll_seconds = v as u32
            }),
            ("digestTopFindings", 1, 500, |c, v| {
                c.digest_top_findings = v as usize
            }),
            ("chunkSize", 1, 50_000, |c, v| c.chunk_size = v as usize),
            ("reportLinkHours", 0, 168, |c, v| {
                c.report_link_hours = v as u32
            }),
        ];
        for (name, low, high, set) in cases {
            for ok in [low, high] {
                let mut c = HubConfig::default();
                set(&mut c, ok);
                assert_eq!(c.validate("hub.config."), Ok(()), "{name} = {ok}");
            }
            for bad in [
                low.checked_sub(1),
                Some(high + 1),
                Some(u64::from(u32::MAX)),
            ]
            .into_iter()
            .flatten()
            {
                let mut c = HubConfig::default();
                set(&mut c, bad);
                let err = c.validate("hub.config.").expect_err(name);
                let text = err.to_string();
                assert_eq!(field_of(err), format!("hub.config.{name}"), "{bad}");
                assert!(text.contains(&format!("{low} to")), "{text}");
            }
        }
        let c = HubConfig {
            min_poll_seconds: 301,
            ..HubConfig::default()
        };
        assert_eq!(
            field_of(c.validate("").expect_err("min > max")),
            "minPollSeconds"
        );
    }

    #[test]
    fn siem_formats_parse_exactly_and_a_bad_one_names_the_field() {
        for f in SiemFormat::ALL {
            assert_eq!(SiemFormat::parse("SIEM_FORMAT", f.as_str()), Ok(f));
        }
        for bad in ["OCSF", "", "ocsf ", "json"] {
            let err = SiemFormat::parse("SIEM_FORMAT", bad).expect_err(bad);
            assert!(err.to_string().contains("scanflow or ocsf"), "{err}");
            assert_eq!(field_of(err), "SIEM_FORMAT");
        }
        let c: HubConfig = serde_json::from_value(serde_json::json!({
            "hubAccountId": "999988887777", "evaluationAllowanceSeconds": 60,
            "firstWaitMarginSeconds": 0, "minPollSeconds": 1, "maxPollSeconds": 1,
            "digestTopFindings": 1, "chunkSize": 1,
        }))
        .expect("a config without siemFormat");
        assert_eq!(c.siem_format, SiemFormat::Scanflow, "the default");
    }

    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(
            role_session_name("scan-1111-2026 11 28"),
            "scan-1111-2026-11-28"
        );
        assert_eq!(role_session_name("a"), "scanflowa");
        assert_eq!(role_session_name(""), "scanflow");
        assert_eq!(role_session_name(&"x".repeat(80)).len(), 64);
        assert_eq!(role_session_name(&"y".repeat(64)).len(), 64);
        assert_eq!(role_session_name("x:y/z@w"), "x-y-z@w");
        let accented = role_session_name(&"é".repeat(100));
        assert_eq!(accented.len(), 64);
        assert!(accented.chars().all(|c| c == '-'));
    }
}
