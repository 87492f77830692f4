//! The simulated world: the hub, and each member account's settings, instances, findings and
//! how its scans behave. Read from JSON (camelCase, unknown fields refused) and validated with
//! errors naming the field.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use scanflow_core::fleet::ScanScope;
use scanflow_core::input::{DURATION_RANGE, validate_account_id, validate_region, validate_tag};
use scanflow_core::lifecycle::SlaOverrides;
use scanflow_core::migration::ScanningStatus;
use scanflow_core::model::{AccountSettings, CisLevel, Engine, Severity, Tag};
use scanflow_core::ports::{HubConfig, SiemFormat, WorkflowStatus};
use scanflow_core::schedule::Schedule;

use crate::SandboxError;
use crate::lambda::LambdaSpec;

/// The most copies one account entry may stand for (a fleet simulation, not a typo).
pub const MAX_COPIES: u32 = 10_000;

/// Regions where Inspector Classic is offered, with the id of their CVE rules package and the
/// Region's Inspector service account (aws-facts §1.11).
pub(crate) const CLASSIC_REGIONS: [(&str, &str, &str); 14] = [
    ("us-east-1", "316112463485", "0-gEjTy7T7"),
    ("us-east-2", "646659390643", "0-JnA8Zp85"),
    ("us-west-1", "166987590008", "0-TKgzoVOa"),
    ("us-west-2", "758058086616", "0-9hgA516p"),
    ("ap-south-1", "162588757376", "0-LqnJE9dO"),
    ("ap-northeast-2", "526946625049", "0-PoGHMznc"),
    ("ap-southeast-2", "454640832652", "0-D5TGAxiR"),
    ("ap-northeast-1", "406045910587", "0-gHP9oWNT"),
    ("eu-central-1", "537503971621", "0-wNqHa8M9"),
    ("eu-west-1", "357557129151", "0-ubA5XvBh"),
    ("eu-west-2", "146838936955", "0-kZGCqcE1"),
    ("eu-north-1", "453420244670", "0-IgdgIewd"),
    ("us-gov-east-1", "206278770380", "0-3IFKFuOb"),
    ("us-gov-west-1", "850862329162", "0-4oQgcI4G"),
];

/// The most findings one account may generate (100,000 is the large benchmark).
pub const MAX_GENERATED_FINDINGS: u32 = 1_000_000;
/// The most scans of one account a scenario describes (`scanflow run --repeat` goes to 52:
/// a year of weekly scans).
pub const MAX_SCANS: u32 = 52;
/// The most findings churn may fix or introduce per scan.
pub const MAX_CHURN_PER_SCAN: u32 = 10_000;

/// A whole simulated organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    pub hub: HubSpec,
    pub accounts: Vec<AccountSpec>,
}

/// The hub (audit) account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HubSpec {
    pub account_id: String,
    /// Where the hub's topic, bucket and functions live.
    #[serde(default = "default_hub_region")]
    pub region: String,
    /// The scan role the member stack creates in each account.
    #[serde(default = "default_member_role")]
    pub member_role_name: String,
    /// The hub function role that assumes it (appears in STS's AccessDenied message).
    #[serde(default = "default_function_role")]
    pub function_role_name: String,
    /// Overrides of [`HubConfig`]'s defaults.
    #[serde(default)]
    pub config: HubConfigOverrides,
    /// Lambda concurrency and outages; absent, Lambda admits everything at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<LambdaSpec>,
    /// The hub's `InspectorDelegatedAdmin` setting: it reads members' Inspector v2 findings and
    /// coverage with its own credentials, filtered by account, and assumes no role for reads.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inspector_delegated_admin: bool,
    /// The AWS Organizations organisation (`o-...`) whose Inspector delegated administrator the
    /// hub account is, in every Region; absent: it is none's. Only members of that organisation
    /// (`accounts[].organization`) are visible to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegated_admin_of: Option<String>,
    /// What the central address (`DestinationEmailAddress`) receives: the hub's
    /// `CentralEmailReceives` parameter.
    #[serde(default)]
    pub central_email: CentralEmail,
    /// The security team's accepted risks (`scanflow/accepted-risks.json` in the hub bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_risks: Option<Vec<scanflow_core::acceptance::AcceptedRisk>>,
}

/// The hub's `CentralEmailReceives`: every e-mail, or only the organisation-wide ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CentralEmail {
    /// Digests, failure and resolved notices of every account, the fleet watch, the rollup.
    #[default]
    Everything,
    /// The rollup and the fleet watch only: each account's own e-mail goes to its owners.
    Rollup,
}

/// Every [`HubConfig`] field but the account id, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HubConfigOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_allowance_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_wait_margin_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_poll_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_poll_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_top_findings: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<usize>,
    /// Hub-wide SLA days per severity (the hub's `SlaDays` parameter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_days: Option<SlaOverrides>,
    /// How the SIEM parts write findings, `scanflow` or `ocsf` (the hub's `SiemFormat`
    /// parameter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siem_format: Option<SiemFormat>,
    /// Hours the HTML report's link is valid; 0: the S3 console path instead (the hub's
    /// `ReportLinkHours` parameter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_link_hours: Option<u32>,
    /// The least severe findings the e-mail lists (the hub's `EmailMinimumSeverity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_min_severity: Option<scanflow_core::model::Severity>,
}

/// One member account in one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountSpec {
    pub account_id: String,
    pub region: String,
    /// This entry stands for `copies` accounts with consecutive ids from `accountId` (a fleet
    /// for load scenarios); expanded when the scenario is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<u32>,
    /// False: the member stack (and its scan role) is not deployed; AssumeRole is denied.
    #[serde(default = "yes")]
    pub role_deployed: bool,
    /// False: the account's scan engine is not enabled in this region.
    #[serde(default = "yes")]
    pub inspector_enabled: bool,
    /// The AWS Organizations organisation (`o-...`) the account belongs to; absent: standalone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Fault injection: the publish Lambda dies after publishing this many messages of this
    /// account's delivery (once; the retry goes on), as an out-of-memory kill or a timeout
    /// would. 0 dies before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_after_messages: Option<u32>,
    /// The account's owners (the member template's `OwnerEmails`, at most
    /// [`MAX_OWNERS`]): subscribed to the hub topic with a filter policy on the account, they
    /// get its digests, failure and resolved notices, in every Region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// Findings an analyst has triaged in the account's Security Hub before scanflow sees them
    /// (by vulnerability): scanflow must leave them as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analyst: Vec<AnalystMark>,
    pub settings: SettingsSpec,
    #[serde(default)]
    pub instances: Vec<InstanceSpec>,
    #[serde(default)]
    pub findings: FindingsSpec,
    #[serde(default)]
    pub classic: ClassicSpec,
    #[serde(default)]
    pub inspector2: Inspector2Spec,
    /// How the account's CIS scans go (when its settings ask for one).
    #[serde(default, skip_serializing_if = "CisSpec::is_default")]
    pub cis: CisSpec,
    /// The member's schedule (EventBridge Scheduler in AWS). DISABLED: no scheduled event is
    /// sent, so `scanflow run` starts no scheduled execution for the account.
    #[serde(default, skip_serializing_if = "ScheduleSpec::is_default")]
    pub schedule: ScheduleSpec,
    /// The member changed its settings after its last scan: applied to the registry once the
    /// executions are done, so the fleet watch sees a scope the last delivery does not show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_change: Option<ScopeChange>,
}

/// The member's schedule as its stack created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleSpec {
    /// An EventBridge schedule expression (the member's `AssessmentSchedule`).
    #[serde(default = "default_schedule")]
    pub expression: String,
    #[serde(default)]
    pub state: ScheduleState,
}

impl ScheduleSpec {
    /// The member template's defaults: left out when a scenario is written back.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        Self {
            expression: default_schedule(),
            state: ScheduleState::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScheduleState {
    #[default]
    Enabled,
    Disabled,
}

/// Settings the member changes after its last scan; fields left out keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
}

/// The member template's default `AssessmentSchedule`.
pub const DEFAULT_SCHEDULE: &str = "cron(0 3 ? * MON *)";

fn default_schedule() -> String {
    DEFAULT_SCHEDULE.into()
}

impl AccountSpec {
    /// The scope the member stack records (what the registry holds at the scenario's start).
    pub fn scope(&self) -> ScanScope {
        let s = self.settings.to_settings();
        ScanScope {
            engine: s.engine,
            tag: s.tag,
            duration_seconds: s.duration_seconds,
        }
    }

    /// The scope after [`AccountSpec::scope_change`], if any.
    pub fn changed_scope(&self) -> Option<ScanScope> {
        let change = self.scope_change.as_ref()?;
        let mut scope = self.scope();
        if let Some(engine) = change.engine {
            scope.engine = engine;
        }
        if let Some(d) = change.duration_seconds {
            scope.duration_seconds = d;
        }
        if change.tag_key.is_some() || change.tag_value.is_some() {
            let key = change
                .tag_key
                .clone()
                .or_else(|| scope.tag.as_ref().map(|t| t.key.clone()))?;
            let value = change
                .tag_value
                .clone()
                .or_else(|| scope.tag.as_ref().map(|t| t.value.clone()))
                .unwrap_or_default();
            scope.tag = Some(Tag { key, value });
        }
        Some(scope)
    }
}

/// One analyst decision in the simulated Security Hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalystMark {
    /// Every finding of this vulnerability (a CVE id such as `CVE-2024-6387`).
    pub vulnerability_id: String,
    pub workflow: WorkflowStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The settings the member stack records (what `MemberAccount::settings` returns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsSpec {
    pub engine: Engine,
    /// No tag: every instance of the account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagSpec>,
    #[serde(default = "default_duration")]
    pub duration_seconds: u32,
    /// Classic: the template the member stack created. Absent: no template exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_template_arn: Option<String>,
    /// The member's SLA days per severity (`slaDays` of its settings), over the hub's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_days: Option<SlaOverrides>,
    /// A one-time CIS scan at this level with every scan (the member template's `CisLevel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cis_level: Option<CisLevel>,
}

/// How Inspector's CIS scans of the account go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CisSpec {
    #[serde(default)]
    pub outcome: CisScanOutcome,
    /// How long a scan runs before it ends (virtual seconds).
    #[serde(default = "default_cis_seconds")]
    pub scan_seconds: u32,
    /// The checks the instances fail (at most [`MAX_CIS_CHECKS`]); every other check passes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<CisCheckSpec>,
}

/// The most failed checks a scenario account lists.
pub const MAX_CIS_CHECKS: usize = 200;

impl Default for CisSpec {
    fn default() -> Self {
        Self {
            outcome: CisScanOutcome::default(),
            scan_seconds: default_cis_seconds(),
            failed_checks: Vec::new(),
        }
    }
}

impl CisSpec {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

fn default_cis_seconds() -> u32 {
    900
}

/// How a CIS scan ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CisScanOutcome {
    /// `COMPLETED` after `scanSeconds`.
    #[default]
    Completes,
    /// `FAILED` after `scanSeconds`.
    Fails,
    /// `CANCELLED` after `scanSeconds`.
    Cancelled,
    /// Stays `IN_PROGRESS`: the run's Duration runs out first.
    NeverFinishes,
}

/// A CIS check some instances fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CisCheckSpec {
    /// e.g. `1.1.1.1`.
    pub check_id: String,
    pub title: String,
    /// A LEVEL_2 check is run by LEVEL_2 scans only.
    #[serde(default = "level_1")]
    pub level: CisLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// The instances failing it; empty: every instance the scan checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
}

fn level_1() -> CisLevel {
    CisLevel::Level1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSpec {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceSpec {
    pub id: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The Inspector Classic agent.
    #[serde(default)]
    pub agent: AgentHealth,
    /// Inspector v2: an SSM managed instance (scanned); unmanaged ones are not scanned.
    #[serde(default = "yes")]
    pub managed: bool,
    /// Scans (1-based) in which the instance is in scope but not scanned: its Classic agent
    /// reports unhealthy, or it is not SSM-managed for Inspector v2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missed_scans: Vec<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentHealth {
    #[default]
    Healthy,
    Unhealthy,
    None,
}

/// The account's vulnerabilities: generated, listed, or both (the list comes first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindingsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<GeneratorSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list: Vec<FindingSpec>,
    /// How the generated findings change from one scan to the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<ChurnSpec>,
}

/// From scan 2 on, before each scan, `fixedPerScan` of the generated findings still present
/// are fixed and `introducedPerScan` new ones appear; which ones follows from the generator's
/// seed, so every run of the scenario sees the same history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChurnSpec {
    #[serde(default)]
    pub fixed_per_scan: u32,
    #[serde(default)]
    pub introduced_per_scan: u32,
}

/// `count` findings spread over the account's instances, reproducible from `seed`. Findings on
/// instances a scan does not reach (outside the tag, no agent, unmanaged) are not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GeneratorSpec {
    pub count: u32,
    #[serde(default)]
    pub seed: u64,
}

/// One vulnerability written out by hand. Texts left out are generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindingSpec {
    pub instance_id: String,
    /// A CVE id such as `CVE-2024-6387`; for a network reachability finding, any id naming it
    /// in the scenario (Inspector gives those no vulnerability id).
    pub vulnerability_id: String,
    /// Inspector v2's scale; Classic shows CRITICAL as High and UNTRIAGED as Undefined.
    pub severity: Severity,
    /// Required for a package vulnerability; none for a network reachability finding.
    #[serde(default)]
    pub package_name: String,
    #[serde(default)]
    pub package_version: String,
    /// Inspector v2 only: a network reachability finding (an open port and the path to it)
    /// instead of a package vulnerability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The first scan (1-based) that finds it; absent: from the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced_at_scan: Option<u32>,
    /// The first scan that no longer finds it (it was fixed before that scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_at_scan: Option<u32>,
}

/// An open port range and the network path to it, from the outside in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSpec {
    /// `TCP` or `UDP`.
    pub protocol: String,
    pub port_from: u16,
    pub port_to: u16,
    /// At most [`MAX_PATH_STEPS`] steps.
    #[serde(default)]
    pub path: Vec<PathStepSpec>,
}

/// The most steps a scenario's network path lists.
pub const MAX_PATH_STEPS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PathStepSpec {
    /// e.g. `AWS::EC2::InternetGateway`.
    pub component_type: String,
    /// e.g. `igw-0123456789abcdef0`.
    pub component_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClassicSpec {
    #[serde(default)]
    pub outcome: ClassicOutcome,
    /// Time spent in EVALUATING_RULES.
    #[serde(default = "default_evaluation")]
    pub evaluation_seconds: u32,
}

impl Default for ClassicSpec {
    fn default() -> Self {
        Self {
            outcome: ClassicOutcome::default(),
            evaluation_seconds: default_evaluation(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassicOutcome {
    /// COMPLETED (COMPLETED_WITH_ERRORS when an agent in the target is unhealthy).
    #[default]
    Completes,
    /// FAILED when rules evaluation would have finished.
    Fails,
    /// Stays in EVALUATING_RULES for ever: the workflow's deadline has to end it.
    Hangs,
}

/// How Inspector v2 answers in the account and Region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inspector2Spec {
    #[serde(default)]
    pub outcome: Inspector2Outcome,
    /// A Classic account's Inspector v2 EC2 scanning status (`BatchGetAccountStatus`), what
    /// start-run's migration pre-flight reads; absent: DISABLED. Not for a v2 account, whose
    /// `inspectorEnabled` says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2_scanning: Option<ScanningStatus>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inspector2Outcome {
    /// `ListFindings` pages through the account's findings.
    #[default]
    Succeeds,
    /// `ListFindings` answers InternalServerException (HTTP 500) every time.
    Fails,
}

fn yes() -> bool {
    true
}
fn default_hub_region() -> String {
    "us-east-1".into()
}
fn default_member_role() -> String {
    "scanflow-scan".into()
}
fn default_function_role() -> String {
    "scanflow-hub-functions".into()
}
fn default_duration() -> u32 {
    3600
}
fn default_evaluation() -> u32 {
    300
}

impl HubSpec {
    pub fn hub_config(&self) -> HubConfig {
        let d = HubConfig::default();
        let o = &self.config;
        HubConfig {
            hub_account_id: self.account_id.clone(),
            evaluation_allowance_seconds: o
                .evaluation_allowance_seconds
                .unwrap_or(d.evaluation_allowance_seconds),
            first_wait_margin_seconds: o
                .first_wait_margin_seconds
                .unwrap_or(d.first_wait_margin_seconds),
            min_poll_seconds: o.min_poll_seconds.unwrap_or(d.min_poll_seconds),
            max_poll_seconds: o.max_poll_seconds.unwrap_or(d.max_poll_seconds),
            digest_top_findings: o.digest_top_findings.unwrap_or(d.digest_top_findings),
            chunk_size: o.chunk_size.unwrap_or(d.chunk_size),
            sla_days: o.sla_days.unwrap_or(d.sla_days),
            siem_format: o.siem_format.unwrap_or(d.siem_format),
            report_link_hours: o.report_link_hours.unwrap_or(d.report_link_hours),
            email_min_severity: o.email_min_severity.unwrap_or(d.email_min_severity),
        }
    }
}

impl AccountSpec {
    /// Inspector v2's EC2 scanning status here: a v2 account's follows `inspectorEnabled`, a
    /// Classic account's is `inspector2.ec2Scanning` (DISABLED when not given).
    pub fn v2_ec2_status(&self) -> ScanningStatus {
        match (self.settings.engine, self.inspector2.ec2_scanning) {
            (Engine::Inspector2, _) if self.inspector_enabled => ScanningStatus::Enabled,
            (Engine::Inspector2, _) => ScanningStatus::Disabled,
            (Engine::Classic, status) => status.unwrap_or(ScanningStatus::Disabled),
        }
    }

    /// Whether Inspector v2 scans EC2 here (what its calls answer to).
    pub fn v2_enabled(&self) -> bool {
        self.v2_ec2_status() == ScanningStatus::Enabled
    }
}

impl SettingsSpec {
    pub fn to_settings(&self) -> AccountSettings {
        AccountSettings {
            engine: self.engine,
            tag: self.tag.as_ref().map(|t| Tag {
                key: t.key.clone(),
                value: t.value.clone(),
            }),
            duration_seconds: self.duration_seconds,
            assessment_template_arn: self.assessment_template_arn.clone(),
            schedule: None,
            sla_days: self.sla_days,
            cis: self.cis_level,
        }
    }
}

impl InstanceSpec {
    /// Whether the instance is selected by `tag` (no tag selects every instance).
    pub fn matches(&self, tag: Option<&Tag>) -> bool {
        tag.is_none_or(|t| self.tags.get(&t.key) == Some(&t.value))
    }

    /// The Classic agent's health in scan `scan` (1-based).
    pub fn agent_at(&self, scan: u32) -> AgentHealth {
        if self.agent != AgentHealth::None && self.missed_scans.contains(&scan) {
            AgentHealth::Unhealthy
        } else {
            self.agent
        }
    }

    /// Whether Inspector v2 scans it in scan `scan` (1-based).
    pub fn managed_at(&self, scan: u32) -> bool {
        self.managed && !self.missed_scans.contains(&scan)
    }
}

impl Scenario {
    /// Parses and validates a scenario document.
    pub fn from_json(text: &str) -> Result<Self, SandboxError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let mut scenario: Scenario = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path == "?" {
                "$".to_owned()
            } else {
                path
            };
            SandboxError::scenario(field, e.into_inner().to_string())
        })?;
        scenario.expand_copies()?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Replaces every entry with `copies` by that many accounts with consecutive ids.
    fn expand_copies(&mut self) -> Result<(), SandboxError> {
        let mut accounts = Vec::with_capacity(self.accounts.len());
        for (i, a) in std::mem::take(&mut self.accounts).into_iter().enumerate() {
            let Some(n) = a.copies else {
                accounts.push(a);
                continue;
            };
            let at = format!("accounts[{i}].copies");
            if !(1..=MAX_COPIES).contains(&n) {
                return Err(SandboxError::scenario(
                    at,
                    format!("expected 1 to {MAX_COPIES}, got {n}"),
                ));
            }
            check_core(validate_account_id(
                &format!("accounts[{i}].accountId"),
                &a.account_id,
            ))?;
            let first: u64 = a.account_id.parse().map_err(|_| {
                SandboxError::scenario(format!("accounts[{i}].accountId"), "expected 12 digits")
            })?;
            let last = first + u64::from(n) - 1;
            if last > 999_999_999_999 {
                return Err(SandboxError::scenario(
                    at,
                    format!(
                        "{n} copies from {} run past the largest 12-digit account id",
                        a.account_id
                    ),
                ));
            }
            for id in first..=last {
                let mut copy = a.clone();
                copy.account_id = format!("{id:012}");
                copy.copies = None;
                accounts.push(copy);
            }
        }
        self.accounts = accounts;
        Ok(())
    }

    pub fn from_file(path: &Path) -> Result<Self, SandboxError> {
        let text = std::fs::read_to_string(path).map_err(|source| SandboxError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }

    pub fn to_json(&self) -> String {
        // A scenario holds only strings, numbers and maps with string keys: it always serializes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The account entry for `account_id` in `region`.
    pub fn account(&self, account_id: &str, region: &str) -> Option<&AccountSpec> {
        self.accounts
            .iter()
            .find(|a| a.account_id == account_id && a.region == region)
    }

    /// Checks what serde cannot: id shapes, ranges, references between fields.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let hub = &self.hub;
        check_core(validate_account_id("hub.accountId", &hub.account_id))?;
        check_core(validate_region("hub.region", &hub.region))?;
        check_role_name("hub.memberRoleName", &hub.member_role_name)?;
        check_role_name("hub.functionRoleName", &hub.function_role_name)?;
        if let Some(l) = &hub.lambda {
            l.validate()?;
        }
        if let Some(org) = &hub.delegated_admin_of {
            check_organization("hub.delegatedAdminOf", org)?;
        }
        // The same ranges the hub's own parameters are held to (scanflow_core::ports::hub_ranges).
        check_core(hub.hub_config().validate("hub.config."))?;
        if self.accounts.is_empty() {
            return Err(SandboxError::scenario(
                "accounts",
                "expected at least one member account",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            let at = format!("accounts[{i}]");
            a.validate(&at)?;
            if !seen.insert((a.account_id.as_str(), a.region.as_str())) {
                return Err(SandboxError::scenario(
                    format!("{at}.region"),
                    format!(
                        "account {} is already listed for {}; list each account and region once",
                        a.account_id, a.region
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A network reachability finding: Inspector v2's, TCP or UDP, ports in order, a bounded path,
/// and an id of at most 64 letters, digits and dashes.
fn check_network(
    here: &str,
    n: &NetworkSpec,
    id: &str,
    engine: Engine,
) -> Result<(), SandboxError> {
    let problem = if engine != Engine::Inspector2 {
        Some((
            "network",
            "only Inspector v2 reports network reachability".to_owned(),
        ))
    } else if !matches!(n.protocol.as_str(), "TCP" | "UDP") {
        Some((
            "network.protocol",
            format!("expected TCP or UDP, got {:?}", n.protocol),
        ))
    } else if n.port_from > n.port_to {
        Some((
            "network.portTo",
            format!("expected a port from {} up, got {}", n.port_from, n.port_to),
        ))
    } else if n.path.len() > MAX_PATH_STEPS {
        Some((
            "network.path",
            format!("at most {MAX_PATH_STEPS} steps, got {}", n.path.len()),
        ))
    } else if id.is_empty()
        || id.len() > 64
        || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Some((
            "vulnerabilityId",
            format!("expected 1 to 64 letters, digits or dashes, got {id:?}"),
        ))
    } else {
        None
    };
    match problem {
        Some((field, e)) => Err(SandboxError::scenario(format!("{here}.{field}"), e)),
        None => Ok(()),
    }
}

/// An AWS Organizations id: `o-` and 10 to 32 lowercase letters or digits.
fn check_organization(field: &str, org: &str) -> Result<(), SandboxError> {
    let rest = org.strip_prefix("o-").unwrap_or_default();
    if (10..=32).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Ok(());
    }
    Err(SandboxError::scenario(
        field,
        format!(
            "expected an organisation id (o- and 10 to 32 lowercase letters or digits), got {}",
            scanflow_core::error::quote(org)
        ),
    ))
}

impl AccountSpec {
    fn validate(&self, at: &str) -> Result<(), SandboxError> {
        check_core(validate_account_id(
            &format!("{at}.accountId"),
            &self.account_id,
        ))?;
        check_core(validate_region(&format!("{at}.region"), &self.region))?;
        if self.owners.len() > MAX_OWNERS {
            return Err(SandboxError::scenario(
                format!("{at}.owners"),
                format!(
                    "at most {MAX_OWNERS} addresses (the member template's owner \
                     subscriptions), got {}",
                    self.owners.len()
                ),
            ));
        }
        for (i, owner) in self.owners.iter().enumerate() {
            if let Err(e) = validate_email(owner) {
                return Err(SandboxError::scenario(format!("{at}.owners[{i}]"), e));
            }
        }

        if let Err(e) = Schedule::parse(&self.schedule.expression) {
            return Err(SandboxError::scenario(
                format!("{at}.schedule.expression"),
                e.to_string(),
            ));
        }
        if let Some(change) = &self.scope_change {
            if change.tag_value.is_some() && change.tag_key.is_none() && self.settings.tag.is_none()
            {
                return Err(SandboxError::scenario(
                    format!("{at}.scopeChange.tagKey"),
                    "the account has no tag to change the value of; give tagKey too",
                ));
            }
            if change.tag_key.is_some() || change.tag_value.is_some() {
                let tag = Tag {
                    key: change.tag_key.clone().unwrap_or_else(|| "key".into()),
                    value: change.tag_value.clone().unwrap_or_default(),
                };
                check_core(validate_tag(
                    &format!("{at}.scopeChange.tagKey"),
                    &format!("{at}.scopeChange.tagValue"),
                    &tag,
                ))?;
            }
            if let Some(d) = change.duration_seconds
                && !DURATION_RANGE.contains(&d)
            {
                return Err(SandboxError::scenario(
                    format!("{at}.scopeChange.durationSeconds"),
                    format!("expected 180 to 86400 seconds, got {d}"),
                ));
            }
        }
        let s = &self.settings;
        if let Some(sla) = &s.sla_days {
            check_core(sla.validate(&format!("{at}.settings.slaDays")))?;
        }
        if !DURATION_RANGE.contains(&s.duration_seconds) {
            return Err(SandboxError::scenario(
                format!("{at}.settings.durationSeconds"),
                format!(
                    "expected 180 to 86400 seconds (Inspector Classic's range), got {}",
                    s.duration_seconds
                ),
            ));
        }
        if let Some(tag) = &s.tag {
            check_core(validate_tag(
                &format!("{at}.settings.tag.key"),
                &format!("{at}.settings.tag.value"),
                &Tag {
                    key: tag.key.clone(),
                    value: tag.value.clone(),
                },
            ))?;
        }
        if let Some(arn) = &s.assessment_template_arn
            && !is_template_arn(arn, &self.account_id, &self.region)
        {
            return Err(SandboxError::scenario(
                format!("{at}.settings.assessmentTemplateArn"),
                format!(
                    "expected arn:aws:inspector:{}:{}:target/0-<id>/template/0-<id>, got {arn:?}",
                    self.region, self.account_id
                ),
            ));
        }
        if self.cis.failed_checks.len() > MAX_CIS_CHECKS {
            return Err(SandboxError::scenario(
                format!("{at}.cis.failedChecks"),
                format!(
                    "at most {MAX_CIS_CHECKS} checks, got {}",
                    self.cis.failed_checks.len()
                ),
            ));
        }
        if !(1..=86_400).contains(&self.cis.scan_seconds) {
            return Err(SandboxError::scenario(
                format!("{at}.cis.scanSeconds"),
                format!("expected 1 to 86400 seconds, got {}", self.cis.scan_seconds),
            ));
        }
        for (i, c) in self.cis.failed_checks.iter().enumerate() {
            let field = format!("{at}.cis.failedChecks[{i}]");
            if c.check_id.is_empty() || c.check_id.len() > 64 || c.title.len() > 1024 {
                return Err(SandboxError::scenario(
                    field,
                    "expected a checkId of 1 to 64 characters and a title of at most 1024",
                ));
            }
            if let Some(unknown) = c
                .instances
                .iter()
                .find(|id| !self.instances.iter().any(|inst| &inst.id == *id))
            {
                return Err(SandboxError::scenario(
                    format!("{field}.instances"),
                    format!("names {unknown:?}, which is not one of the account's instances"),
                ));
            }
        }
        if s.engine != Engine::Classic && self.inspector2.ec2_scanning.is_some() {
            return Err(SandboxError::scenario(
                format!("{at}.inspector2.ec2Scanning"),
                "only for a Classic account: a v2 account's status is inspectorEnabled",
            ));
        }
        if s.engine == Engine::Classic && classic_region(&self.region).is_none() {
            return Err(SandboxError::scenario(
                format!("{at}.region"),
                format!(
                    "Inspector Classic is not offered in {}; use one of {} or engine inspector2",
                    self.region,
                    CLASSIC_REGIONS.map(|r| r.0).join(", ")
                ),
            ));
        }

        let mut ids = BTreeSet::new();
        for (j, inst) in self.instances.iter().enumerate() {
            if !is_instance_id(&inst.id) {
                return Err(SandboxError::scenario(
                    format!("{at}.instances[{j}].id"),
                    format!(
                        "expected an instance id like i-0abc123def4567890 (i- and 8 or 17 \
                         lowercase hex digits), got {:?}",
                        inst.id
                    ),
                ));
            }
            if !ids.insert(inst.id.as_str()) {
                return Err(SandboxError::scenario(
                    format!("{at}.instances[{j}].id"),
                    format!("{} is listed twice", inst.id),
                ));
            }
            for (k, &scan) in inst.missed_scans.iter().enumerate() {
                if !(1..=MAX_SCANS).contains(&scan) {
                    return Err(SandboxError::scenario(
                        format!("{at}.instances[{j}].missedScans[{k}]"),
                        format!("expected a scan number from 1 to {MAX_SCANS}, got {scan}"),
                    ));
                }
            }
            for k in inst.tags.keys() {
                let len = k.chars().count();
                if len == 0 || len > 128 {
                    return Err(SandboxError::scenario(
                        format!("{at}.instances[{j}].tags"),
                        format!("tag keys have 1 to 128 characters, {k:?} has {len}"),
                    ));
                }
            }
        }

        if let Some(g) = &self.findings.generate {
            if g.count > MAX_GENERATED_FINDINGS {
                return Err(SandboxError::scenario(
                    format!("{at}.findings.generate.count"),
                    format!("expected at most {MAX_GENERATED_FINDINGS}, got {}", g.count),
                ));
            }
            if g.count > 0 && self.instances.is_empty() {
                return Err(SandboxError::scenario(
                    format!("{at}.findings.generate"),
                    "findings need instances to be on; add instances or set count to 0",
                ));
            }
        }
        if let Some(c) = &self.findings.churn {
            let Some(g) = &self.findings.generate else {
                return Err(SandboxError::scenario(
                    format!("{at}.findings.churn"),
                    "churn changes generated findings; add findings.generate (or list the \
                     findings with introducedAtScan / fixedAtScan instead)",
                ));
            };
            for (name, n) in [
                ("fixedPerScan", c.fixed_per_scan),
                ("introducedPerScan", c.introduced_per_scan),
            ] {
                if n > MAX_CHURN_PER_SCAN {
                    return Err(SandboxError::scenario(
                        format!("{at}.findings.churn.{name}"),
                        format!("expected 0 to {MAX_CHURN_PER_SCAN}, got {n}"),
                    ));
                }
            }
            let total =
                u64::from(g.count) + u64::from(c.introduced_per_scan) * u64::from(MAX_SCANS - 1);
            if total > u64::from(MAX_GENERATED_FINDINGS) {
                return Err(SandboxError::scenario(
                    format!("{at}.findings.churn.introducedPerScan"),
                    format!(
                        "{} findings plus {} per scan over {MAX_SCANS} scans make {total}, over \
                         the {MAX_GENERATED_FINDINGS} an account may have",
                        g.count, c.introduced_per_scan
                    ),
                ));
            }
        }
        let mut listed = BTreeSet::new();
        for (j, f) in self.findings.list.iter().enumerate() {
            let here = format!("{at}.findings.list[{j}]");
            if !listed.insert((&f.instance_id, &f.vulnerability_id, &f.package_name)) {
                return Err(SandboxError::scenario(
                    format!("{here}.vulnerabilityId"),
                    format!(
                        "{} of {} on {} is listed twice; Inspector reports it once",
                        f.vulnerability_id, f.package_name, f.instance_id
                    ),
                ));
            }
            if !ids.contains(f.instance_id.as_str()) {
                return Err(SandboxError::scenario(
                    format!("{here}.instanceId"),
                    format!("{} is not one of this account's instances", f.instance_id),
                ));
            }
            if let Some(n) = &f.network {
                check_network(&here, n, &f.vulnerability_id, self.settings.engine)?;
            } else if !is_cve_id(&f.vulnerability_id) {
                return Err(SandboxError::scenario(
                    format!("{here}.vulnerabilityId"),
                    format!(
                        "expected a CVE id like CVE-2024-6387, got {:?}",
                        f.vulnerability_id
                    ),
                ));
            } else if f.package_name.is_empty() || f.package_version.is_empty() {
                return Err(SandboxError::scenario(
                    format!("{here}.packageName"),
                    "expected a package name and version",
                ));
            }
            for (name, scan) in [
                ("introducedAtScan", f.introduced_at_scan),
                ("fixedAtScan", f.fixed_at_scan),
            ] {
                if let Some(s) = scan
                    && !(1..=MAX_SCANS).contains(&s)
                {
                    return Err(SandboxError::scenario(
                        format!("{here}.{name}"),
                        format!("expected a scan number from 1 to {MAX_SCANS}, got {s}"),
                    ));
                }
            }
            if let Some(fixed) = f.fixed_at_scan
                && fixed <= f.introduced_at_scan.unwrap_or(1)
            {
                return Err(SandboxError::scenario(
                    format!("{here}.fixedAtScan"),
                    format!(
                        "expected a scan after the one that introduces it ({}), got {fixed}",
                        f.introduced_at_scan.unwrap_or(1)
                    ),
                ));
            }
            if let Some(score) = f.score
                && !(0.0..=10.0).contains(&score)
            {
                return Err(SandboxError::scenario(
                    format!("{here}.score"),
                    format!("expected 0.0 to 10.0, got {score}"),
                ));
            }
            for (name, text, max) in [
                ("title", &f.title, 1024),
                ("description", &f.description, 1024),
            ] {
                if let Some(t) = text
                    && (t.is_empty() || t.chars().count() > max)
                {
                    return Err(SandboxError::scenario(
                        format!("{here}.{name}"),
                        format!("expected 1 to {max} characters (Inspector's limit)"),
                    ));
                }
            }
        }

        if self.classic.evaluation_seconds == 0 || self.classic.evaluation_seconds > 86_400 {
            return Err(SandboxError::scenario(
                format!("{at}.classic.evaluationSeconds"),
                format!(
                    "expected 1 to 86400 seconds, got {}",
                    self.classic.evaluation_seconds
                ),
            ));
        }
        if let Some(org) = &self.organization {
            check_organization(&format!("{at}.organization"), org)?;
        }
        Ok(())
    }
}

fn check_core(r: Result<(), scanflow_core::ScanError>) -> Result<(), SandboxError> {
    r.map_err(|e| match e {
        scanflow_core::ScanError::InvalidInput {
            field,
            expected,
            problem,
        } => SandboxError::scenario(field, format!("expected {expected}, got: {problem}")),
        other => SandboxError::scenario("$", other.to_string()),
    })
}

fn check_role_name(field: &str, name: &str) -> Result<(), SandboxError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SandboxError::scenario(
            field,
            format!("expected an IAM role name (1 to 64 of A-Z a-z 0-9 +=,.@_-), got {name:?}"),
        ))
    }
}

pub(crate) fn classic_region(region: &str) -> Option<(&'static str, &'static str)> {
    CLASSIC_REGIONS
        .iter()
        .find(|r| r.0 == region)
        .map(|r| (r.1, r.2))
}

pub(crate) fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn is_cve_id(id: &str) -> bool {
    let mut parts = id.split('-');
    parts.next() == Some("CVE")
        && parts
            .next()
            .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
        && parts
            .next()
            .is_some_and(|n| n.len() >= 4 && n.bytes().all(|b| b.is_ascii_digit()))
        && parts.next().is_none()
}

fn is_classic_id(id: &str) -> bool {
    id.strip_prefix("0-")
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `arn:aws:inspector:<region>:<account>:target/0-x/template/0-y`, for this account and region.
pub(crate) fn is_template_arn(arn: &str, account_id: &str, region: &str) -> bool {
    let prefix = format!(
        "arn:{}:inspector:{region}:{account_id}:target/",
        scanflow_core::partition::of(region)
    );
    let Some(rest) = arn.strip_prefix(&prefix) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    parts.len() == 3 && is_classic_id(parts[0]) && parts[1] == "template" && is_classic_id(parts[2])
}

/// Owner addresses per account: the member template subscribes this many.
pub const MAX_OWNERS: usize = 3;

/// SNS takes an e-mail endpoint of one `local@domain` address of at most 254 characters
/// (RFC 5321's path limit); anything else is refused before it could reach a template.
pub fn validate_email(address: &str) -> Result<(), String> {
    let shown = scanflow_core::error::quote(address);
    if address.len() > 254 {
        return Err(format!(
            "{shown}: at most 254 characters, got {}",
            address.len()
        ));
    }
    let ok = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && address
        .chars()
        .all(|c| c.is_ascii_graphic() && c != ',' && c != '<' && c != '>');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{shown}: expected one e-mail address such as owner@example.com"
        ))
    }
}

#[cfg(test)]
mod churn_tests {
    use super::*;
    use serde_json::json;

    fn with(
        findings: serde_json::Value,
        instance: serde_json::Value,
    ) -> Result<Scenario, SandboxError> {
        let mut inst = serde_json::json!({"id": "i-0123456789abcdef0"});
        if let (Some(i), Some(extra)) = (inst.as_object_mut(), instance.as_object()) {
            i.extend(extra.clone());
        }
        Scenario::from_json(
            &serde_json::json!({
                "hub": {"accountId": "999999999999"},
                "accounts": [{"accountId": "111122223333", "region": "eu-west-1",
                    "settings": {"engine": "inspector2"}, "instances": [inst],
                    "findings": findings}]
            })
            .to_string(),
        )
    }

    fn field_of(r: Result<Scenario, SandboxError>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn classic_regions_are_known_aws_regions() {
        for (region, _, _) in CLASSIC_REGIONS {
            assert!(
                scanflow_core::input::AWS_REGIONS.contains(&region),
                "{region}"
            );
        }
    }

    #[test]
    fn tags_and_hub_settings_are_checked_at_their_limits_and_one_past() {
        let hub = |config: serde_json::Value| json!({"hub": {"accountId": "999999999999", "config": config}, "accounts": [{"accountId": "111122223333", "region": "eu-west-1", "settings": {"engine": "inspector2"}}]});
        let parse = |v: serde_json::Value| Scenario::from_json(&v.to_string());
        let r = parse(hub(json!({"chunkSize": 50_000, "digestTopFindings": 500})));
        assert!(r.is_ok(), "{:?}", r.err());
        for (config, field) in [
            (json!({"chunkSize": 50_001}), "hub.config.chunkSize"),
            (
                json!({"digestTopFindings": 0}),
                "hub.config.digestTopFindings",
            ),
            (
                json!({"evaluationAllowanceSeconds": 4_294_967_295u64}),
                "hub.config.evaluationAllowanceSeconds",
            ),
            (
                json!({"firstWaitMarginSeconds": 3_601}),
                "hub.config.firstWaitMarginSeconds",
            ),
            (
                json!({"maxPollSeconds": 86_401}),
                "hub.config.maxPollSeconds",
            ),
        ] {
            let e = field_of(parse(hub(config.clone())));
            assert!(e.contains(field), "{config}: {e}");
        }
        let account = |settings: serde_json::Value| json!({"hub": {"accountId": "999999999999"}, "accounts": [{"accountId": "111122223333", "region": "eu-west-1", "settings": settings}]});
        let at_limit = json!({"engine": "inspector2", "tag": {"key": "k".repeat(128), "value": "v".repeat(256)}});
        assert!(parse(account(at_limit)).is_ok());
        for (tag, field) in [
            (
                json!({"key": "k".repeat(129), "value": "v"}),
                "accounts[0].settings.tag.key",
            ),
            (
                json!({"key": "k", "value": "v".repeat(257)}),
                "accounts[0].settings.tag.value",
            ),
            (
                json!({"key": "k", "value": "a\u{1b}[0m"}),
                "accounts[0].settings.tag.value",
            ),
        ] {
            let e = field_of(parse(account(json!({"engine": "inspector2", "tag": tag}))));
            assert!(e.contains(field) && !e.contains('\u{1b}'), "{e}");
        }
    }

    #[test]
    fn a_reachability_finding_is_checked_field_by_field() {
        let net = |protocol: &str, from: u16, to: u16, steps: usize, id: &str| {
            let path: Vec<_> = (0..steps)
                .map(|i| serde_json::json!({"componentType": "AWS::EC2::SecurityGroup", "componentId": format!("sg-{i}")}))
                .collect();
            serde_json::json!({"list": [{"instanceId": "i-0123456789abcdef0",
                "vulnerabilityId": id, "severity": "MEDIUM",
                "network": {"protocol": protocol, "portFrom": from, "portTo": to, "path": path}}]})
        };
        let none = serde_json::json!({});
        assert!(with(net("TCP", 22, 22, MAX_PATH_STEPS, "NET-SSH"), none.clone()).is_ok());
        let e = field_of(with(
            net("TCP", 22, 22, MAX_PATH_STEPS + 1, "NET-SSH"),
            none.clone(),
        ));
        assert!(e.contains("findings.list[0].network.path"), "{e}");
        let e = field_of(with(net("ICMP", 22, 22, 1, "NET-SSH"), none.clone()));
        assert!(e.contains("network.protocol"), "{e}");
        let e = field_of(with(net("UDP", 23, 22, 1, "NET-SSH"), none.clone()));
        assert!(e.contains("network.portTo"), "{e}");
        let e = field_of(with(net("UDP", 22, 22, 1, "net ssh"), none.clone()));
        assert!(e.contains("list[0].vulnerabilityId"), "{e}");
        // A package vulnerability still needs its package.
        let e = field_of(with(
            serde_json::json!({"list": [{"instanceId": "i-0123456789abcdef0",
                "vulnerabilityId": "CVE-2024-6387", "severity": "HIGH"}]}),
            none,
        ));
        assert!(e.contains("list[0].packageName"), "{e}");
    }

    #[test]
    fn churn_and_scan_numbers_are_checked_at_their_limits() {
        let generated = |count: u32, fixed: u32, introduced: u32| {
            serde_json::json!({"generate": {"count": count},
                "churn": {"fixedPerScan": fixed, "introducedPerScan": introduced}})
        };
        let none = serde_json::json!({});
        assert!(
            with(
                generated(10, MAX_CHURN_PER_SCAN, MAX_CHURN_PER_SCAN),
                none.clone()
            )
            .is_ok()
        );
        let e = field_of(with(generated(10, MAX_CHURN_PER_SCAN + 1, 0), none.clone()));
        assert!(e.contains("accounts[0].findings.churn.fixedPerScan"), "{e}");
        let e = field_of(with(generated(10, 0, MAX_CHURN_PER_SCAN + 1), none.clone()));
        assert!(
            e.contains("accounts[0].findings.churn.introducedPerScan"),
            "{e}"
        );
        // The account's ceiling counts every finding churn introduces over 52 scans.
        let most = MAX_GENERATED_FINDINGS - 51 * MAX_CHURN_PER_SCAN;
        assert!(with(generated(most, 0, MAX_CHURN_PER_SCAN), none.clone()).is_ok());
        let e = field_of(with(
            generated(most + 1, 0, MAX_CHURN_PER_SCAN),
            none.clone(),
        ));
        assert!(
            e.contains("churn.introducedPerScan") && e.contains("1000001"),
            "{e}"
        );
        let e = field_of(with(
            serde_json::json!({"churn": {"fixedPerScan": 1}}),
            none.clone(),
        ));
        assert!(e.contains("accounts[0].findings.churn"), "{e}");

        let listed = |introduced: u32, fixed: u32| {
            serde_json::json!({"list": [{"instanceId": "i-0123456789abcdef0",
                "vulnerabilityId": "CVE-2024-6387", "severity": "HIGH",
                "packageName": "openssh-server", "packageVersion": "8.7p1",
                "introducedAtScan": introduced, "fixedAtScan": fixed}]})
        };
        assert!(with(listed(1, MAX_SCANS), none.clone()).is_ok());
        let e = field_of(with(listed(1, MAX_SCANS + 1), none.clone()));
        assert!(e.contains("findings.list[0].fixedAtScan"), "{e}");
        let e = field_of(with(listed(0, 2), none.clone()));
        assert!(e.contains("findings.list[0].introducedAtScan"), "{e}");
        let e = field_of(with(listed(3, 3), none.clone()));
        assert!(e.contains("findings.list[0].fixedAtScan"), "{e}");

        assert!(
            with(
                none.clone(),
                serde_json::json!({"missedScans": [1, MAX_SCANS]})
            )
            .is_ok()
        );
        let e = field_of(with(none.clone(), serde_json::json!({"missedScans": [0]})));
        assert!(e.contains("accounts[0].instances[0].missedScans[0]"), "{e}");
        let e = field_of(with(
            none,
            serde_json::json!({"missedScans": [MAX_SCANS + 1]}),
        ));
        assert!(e.contains("missedScans[0]"), "{e}");
    }
}
