//! Inspector Classic: assessment runs that walk through every run state over virtual time, and
//! findings served as `ListFindings` (100 ARNs a page) plus `DescribeFindings` (10 a call) would
//! serve them, shaped like the API's `Finding` and then normalized.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use scanflow_core::ScanError;
use scanflow_core::model::{AccountSettings, Coverage, Engine, Finding, Severity, Uncovered};
use scanflow_core::ports::{FindingsPage, RunStatus, Started};
use scanflow_core::state::Run;

use crate::generate::{InstanceFacts, Vuln, instance_facts};
use crate::member::{Member, parse_cursor};
use crate::scenario::{AgentHealth, ClassicOutcome, classic_region};
use crate::{ids, lock, security_hub};

/// Every `AssessmentRunState`, in lifecycle order (aws-facts §1.4).
pub const RUN_STATES: [&str; 13] = [
    "CREATED",
    "START_DATA_COLLECTION_PENDING",
    "START_DATA_COLLECTION_IN_PROGRESS",
    "COLLECTING_DATA",
    "STOP_DATA_COLLECTION_PENDING",
    "DATA_COLLECTED",
    "START_EVALUATING_RULES_PENDING",
    "EVALUATING_RULES",
    "COMPLETED",
    "COMPLETED_WITH_ERRORS",
    "FAILED",
    "ERROR",
    "CANCELED",
];

/// `ListFindings` returns at most this many ARNs a page (the model's list limit).
pub(crate) const LIST_PAGE: usize = 100;
/// `DescribeFindings` takes at most this many ARNs.
pub(crate) const DESCRIBE_BATCH: usize = 10;
/// `PreviewAgents` / `ListAssessmentRunAgents` page size.
const AGENTS_PAGE: usize = 500;

/// Seconds spent in each state before data collection, and between collection and evaluation.
const BEFORE_COLLECTING: [(&str, i64); 3] = [
    ("CREATED", 5),
    ("START_DATA_COLLECTION_PENDING", 10),
    ("START_DATA_COLLECTION_IN_PROGRESS", 20),
];
const AFTER_COLLECTING: [(&str, i64); 3] = [
    ("STOP_DATA_COLLECTION_PENDING", 30),
    ("DATA_COLLECTED", 5),
    ("START_EVALUATING_RULES_PENDING", 10),
];

/// Maps a run state to the port's status as the AWS adapter does: the two completed states
/// succeed, the three failed ones fail with `detail`, everything else is still running.
pub fn run_status_from_state(state: &str, detail: &str) -> RunStatus {
    match state {
        "COMPLETED" | "COMPLETED_WITH_ERRORS" => RunStatus::Succeeded {
            state: state.to_owned(),
        },
        "FAILED" | "ERROR" | "CANCELED" => RunStatus::Failed {
            state: state.to_owned(),
            detail: detail.to_owned(),
        },
        _ => RunStatus::Running {
            state: state.to_owned(),
        },
    }
}

#[derive(Default)]
pub(crate) struct Runs {
    runs: Vec<ClassicRun>,
}

#[derive(Debug, Clone)]
struct ClassicRun {
    arn: String,
    template_arn: String,
    account_index: usize,
    created_at: OffsetDateTime,
    duration: i64,
    evaluation: i64,
    outcome: ClassicOutcome,
    /// Some agent in the target was unhealthy: the run completes with errors.
    with_errors: bool,
    /// Instances in the target (indexes into the account's instances), with or without agent.
    in_target: Vec<usize>,
    /// Indexes of the account's vulnerabilities this run reports, once computed.
    listed: Option<Arc<Vec<usize>>>,
    /// Which scan of the account this is (1-based): what the scenario's churn shows.
    scan: u32,
}

impl ClassicRun {
    /// Each state the run enters, with when.
    ///
    /// Saturating: a state that would begin after the end of representable time never begins,
    /// which is what a caller asking "where is the run now" must see, rather than a panic.
    fn timeline(&self) -> Vec<(&'static str, OffsetDateTime)> {
        let mut t = self.created_at;
        let mut out = Vec::with_capacity(10);
        for (state, secs) in BEFORE_COLLECTING {
            out.push((state, t));
            t = t.saturating_add(time::Duration::seconds(secs));
        }
        out.push(("COLLECTING_DATA", t));
        t = t.saturating_add(time::Duration::seconds(self.duration));
        for (state, secs) in AFTER_COLLECTING {
            out.push((state, t));
            t = t.saturating_add(time::Duration::seconds(secs));
        }
        out.push(("EVALUATING_RULES", t));
        t = t.saturating_add(time::Duration::seconds(self.evaluation));
        match self.outcome {
            ClassicOutcome::Completes if self.with_errors => out.push(("COMPLETED_WITH_ERRORS", t)),
            ClassicOutcome::Completes => out.push(("COMPLETED", t)),
            ClassicOutcome::Fails => out.push(("FAILED", t)),
            ClassicOutcome::Hangs => {}
        }
        out
    }

    fn state_at(&self, now: OffsetDateTime) -> (&'static str, OffsetDateTime) {
        let timeline = self.timeline();
        timeline
            .iter()
            .rev()
            .find(|(_, at)| *at <= now)
            .or(timeline.first())
            .copied()
            .unwrap_or(("CREATED", self.created_at))
    }

    fn is_terminal_at(&self, now: OffsetDateTime) -> bool {
        matches!(
            self.state_at(now).0,
            "COMPLETED" | "COMPLETED_WITH_ERRORS" | "FAILED" | "ERROR" | "CANCELED"
        )
    }

    fn completed_at(&self) -> OffsetDateTime {
        self.timeline()
            .last()
            .map_or(self.created_at, |(_, at)| *at)
    }
}

fn disabled(m: &Member, detail: String) -> ScanError {
    ScanError::InspectorDisabled {
        account_id: m.account_id.clone(),
        region: m.region.clone(),
        engine: Engine::Classic.to_string(),
        detail,
    }
}

/// `DescribeAssessmentTemplates` + `PreviewAgents` + `StartAssessmentRun`.
pub(crate) fn start(
    m: &Member,
    settings: &AccountSettings,
    name: &str,
) -> Result<Started, ScanError> {
    let shared = &m.shared;
    let Some(template_arn) = settings.assessment_template_arn.clone() else {
        return Err(ScanError::NotFound {
            account_id: m.account_id.clone(),
            region: m.region.clone(),
            what: "Inspector Classic assessment template".into(),
            detail: "the account's settings name none. Deploy the member stack with engine \
                     classic (it creates the target and template), or use engine inspector2"
                .into(),
        });
    };
    shared.count("inspector:DescribeAssessmentTemplates", 1);
    let account = m.index.and_then(|i| shared.account(i).map(|a| (i, a)));
    let Some((account_index, account)) = account.filter(|(_, a)| {
        a.settings.assessment_template_arn.as_deref() == Some(template_arn.as_str())
    }) else {
        return Err(ScanError::NotFound {
            account_id: m.account_id.clone(),
            region: m.region.clone(),
            what: format!("assessment template {template_arn}"),
            detail: "ASSESSMENT_TEMPLATE_DOES_NOT_EXIST: redeploy the member stack, which \
                     creates it"
                .into(),
        });
    };
    if classic_region(&m.region).is_none() {
        return Err(disabled(
            m,
            format!("Inspector Classic is not offered in {}", m.region),
        ));
    }
    if !account.inspector_enabled {
        return Err(disabled(
            m,
            "AccessDeniedException: Inspector Classic is not available to this account".into(),
        ));
    }
    if name.is_empty() || name.chars().count() > 140 {
        return Err(ScanError::invalid(
            "assessmentRunName",
            "1 to 140 characters",
            format!("has {}", name.chars().count()),
        ));
    }

    let in_target: Vec<usize> = account
        .instances
        .iter()
        .enumerate()
        .filter(|(_, i)| i.matches(settings.tag.as_ref()))
        .map(|(n, _)| n)
        .collect();
    shared.count(
        "inspector:PreviewAgents",
        pages(in_target.len(), AGENTS_PAGE),
    );
    let with_agent = in_target
        .iter()
        .filter(|&&n| account.instances[n].agent != AgentHealth::None)
        .count();
    if with_agent == 0 {
        return Err(ScanError::NoInstancesMatched {
            account_id: m.account_id.clone(),
            region: m.region.clone(),
            target: match &settings.tag {
                Some(t) => format!("{t} with an Inspector Classic agent"),
                None => "any instance with an Inspector Classic agent".into(),
            },
        });
    }

    shared.admit("inspector:StartAssessmentRun", &m.account_id, &m.region)?;
    shared.count("inspector:StartAssessmentRun", 1);
    let now = shared.now();
    let mut runs = lock(&shared.classic);
    if let Some(going) = runs
        .runs
        .iter()
        .find(|r| r.template_arn == template_arn && !r.is_terminal_at(now))
    {
        tracing::info!(run = %going.arn, "AgentsAlreadyRunningAssessmentException: adopting the run in progress");
        return Ok(Started {
            run_id: going.arn.clone(),
            adopted: true,
        });
    }
    let seq = runs.runs.len().to_string();
    let arn = format!(
        "{template_arn}/run/0-{}",
        ids::base62_id(&[&template_arn, name, &seq], 8)
    );
    // Runs started before (of any template of the account) make this the next scan.
    let scan = 1 + runs
        .runs
        .iter()
        .filter(|r| r.account_index == account_index)
        .count() as u32;
    let with_errors = in_target
        .iter()
        .any(|&n| account.instances[n].agent_at(scan) == AgentHealth::Unhealthy);
    runs.runs.push(ClassicRun {
        arn: arn.clone(),
        template_arn,
        account_index,
        created_at: now,
        duration: i64::from(settings.duration_seconds),
        evaluation: i64::from(account.classic.evaluation_seconds),
        outcome: account.classic.outcome,
        with_errors,
        in_target,
        listed: None,
        scan,
    });
    tracing::info!(run = %arn, account_id = %m.account_id, region = %m.region, "assessment run started");
    Ok(Started {
        run_id: arn,
        adopted: false,
    })
}

fn find_run(m: &Member, arn: &str) -> Result<ClassicRun, ScanError> {
    lock(&m.shared.classic)
        .runs
        .iter()
        .find(|r| r.arn == arn)
        .cloned()
        .ok_or_else(|| ScanError::NotFound {
            account_id: m.account_id.clone(),
            region: m.region.clone(),
            what: format!("assessment run {arn}"),
            detail: "ITEM_DOES_NOT_EXIST (runs live as long as the sandbox that started them)"
                .into(),
        })
}

/// `DescribeAssessmentRuns`.
pub(crate) fn status(m: &Member, run: &Run) -> Result<RunStatus, ScanError> {
    m.shared
        .admit("inspector:DescribeAssessmentRuns", &m.account_id, &m.region)?;
    m.shared.count("inspector:DescribeAssessmentRuns", 1);
    let r = find_run(m, &run.run_id)?;
    let (state, since) = r.state_at(m.shared.now());
    let detail = format!(
        "the assessment run entered {state} at {}: rules evaluation failed for the whole run \
         (exclusion \"Rules evaluation error\")",
        scanflow_core::time::format(since)
    );
    Ok(run_status_from_state(state, &detail))
}

fn pages(items: usize, page: usize) -> u64 {
    items.div_ceil(page).max(1) as u64
}

/// One `ListFindings` page and the `DescribeFindings` calls for its ARNs.
pub(crate) fn findings_page(
    m: &Member,
    run: &Run,
    cursor: Option<&str>,
) -> Result<FindingsPage, ScanError> {
    let shared = &m.shared;
    shared.admit("inspector:ListFindings", &m.account_id, &m.region)?;
    shared.count("inspector:ListFindings", 1);
    let r = find_run(m, &run.run_id)?;
    let offset = parse_cursor(cursor, "nextToken")?;
    let now = shared.now();
    if !matches!(r.state_at(now).0, "COMPLETED" | "COMPLETED_WITH_ERRORS") {
        return Ok(FindingsPage::default());
    }
    let Some(account) = shared.account(r.account_index) else {
        return Ok(FindingsPage::default());
    };
    let vulns = shared.vulns(r.account_index);
    let listed = match &r.listed {
        Some(l) => l.clone(),
        None => {
            let scanned: HashSet<usize> = r
                .in_target
                .iter()
                .copied()
                .filter(|&n| account.instances[n].agent_at(r.scan) == AgentHealth::Healthy)
                .collect();
            let l: Arc<Vec<usize>> = Arc::new(
                (0..vulns.len())
                    .filter(|&i| {
                        vulns.instance(i).is_some_and(|n| scanned.contains(&n))
                            && vulns.present_at(i, r.scan)
                    })
                    .collect(),
            );
            if let Some(stored) = lock(&shared.classic)
                .runs
                .iter_mut()
                .find(|x| x.arn == r.arn)
            {
                stored.listed = Some(l.clone());
            }
            l
        }
    };
    if offset > listed.len() {
        return Err(ScanError::invalid(
            "nextToken",
            "the token the previous page returned",
            format!("points past the {} findings of the run", listed.len()),
        ));
    }
    let end = (offset + LIST_PAGE).min(listed.len());
    let page = &listed[offset..end];
    let completed = r.completed_at();
    let mut facts: BTreeMap<usize, InstanceFacts> = BTreeMap::new();
    let mut findings = Vec::with_capacity(page.len());
    for batch in page.chunks(DESCRIBE_BATCH) {
        shared.admit("inspector:DescribeFindings", &m.account_id, &m.region)?;
        shared.count("inspector:DescribeFindings", 1);
        for &vi in batch {
            let Some(v) = vulns.get(vi) else {
                continue;
            };
            let v = &v;
            let inst = &account.instances[v.instance];
            let f = facts
                .entry(v.instance)
                .or_insert_with(|| instance_facts(&account.account_id, &account.region, inst));
            let raw = describe(&r.arn, &m.region, vi, v, &inst.id, &inst.tags, f, completed);
            findings.push(normalize(&raw)?);
        }
    }
    security_hub::register_findings(
        shared,
        &m.account_id,
        findings
            .iter()
            .map(|f| (f.id.clone(), f.vulnerability_id.as_deref())),
    );
    Ok(FindingsPage {
        findings,
        next: (end < listed.len()).then(|| end.to_string()),
    })
}

/// `ListAssessmentRunAgents` (agents of the run and their health) + `PreviewAgents` (the
/// target's instances, to name those without an agent).
pub(crate) fn coverage(m: &Member, run: &Run) -> Result<Coverage, ScanError> {
    let r = find_run(m, &run.run_id)?;
    let shared = &m.shared;
    let Some(account) = shared.account(r.account_index) else {
        return Ok(Coverage::default());
    };
    let agents = r
        .in_target
        .iter()
        .filter(|&&n| account.instances[n].agent != AgentHealth::None)
        .count();
    shared.count(
        "inspector:ListAssessmentRunAgents",
        pages(agents, AGENTS_PAGE),
    );
    shared.count(
        "inspector:PreviewAgents",
        pages(r.in_target.len(), AGENTS_PAGE),
    );
    let mut cov = Coverage::default();
    for &n in &r.in_target {
        let inst = &account.instances[n];
        match inst.agent_at(r.scan) {
            AgentHealth::Healthy => cov.scanned.push(inst.id.clone()),
            AgentHealth::Unhealthy => cov.not_scanned.push(Uncovered {
                instance_id: inst.id.clone(),
                reason: "AGENT_UNHEALTHY".into(),
                remedy: format!(
                    "The Inspector Classic agent on {} reports UNHEALTHY: check that the awsagent \
                     service runs and can reach the Inspector endpoint, then rerun the scan",
                    inst.id
                ),
            }),
            AgentHealth::None => cov.not_scanned.push(Uncovered {
                instance_id: inst.id.clone(),
                reason: "NO_AGENT".into(),
                remedy: format!(
                    "Install the Inspector Classic agent on {} (for example with the SSM document \
                     AmazonInspector-ManageAWSAgent), then rerun the scan",
                    inst.id
                ),
            }),
        }
    }
    Ok(cov)
}

/// A `Finding` as `DescribeFindings` returns it (aws-facts §1.6). Timestamps are epoch
/// seconds, as the JSON protocol sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicFinding {
    pub arn: String,
    #[serde(default)]
    pub schema_version: u32,
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub service_attributes: Option<ClassicServiceAttributes>,
    #[serde(default)]
    pub asset_type: Option<String>,
    #[serde(default)]
    pub asset_attributes: Option<AssetAttributes>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub recommendation: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub numeric_severity: Option<f64>,
    #[serde(default)]
    pub confidence: Option<u32>,
    #[serde(default)]
    pub indicator_of_compromise: Option<bool>,
    #[serde(default)]
    pub attributes: Vec<KeyValue>,
    #[serde(default)]
    pub user_attributes: Vec<KeyValue>,
    pub created_at: f64,
    pub updated_at: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassicServiceAttributes {
    pub schema_version: u32,
    #[serde(default)]
    pub assessment_run_arn: Option<String>,
    #[serde(default)]
    pub rules_package_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssetAttributes {
    pub schema_version: u32,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub ami_id: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub ipv4_addresses: Vec<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

fn classic_severity(s: Severity) -> (&'static str, f64) {
    match s {
        Severity::Critical | Severity::High => ("High", 9.0),
        Severity::Medium => ("Medium", 6.0),
        Severity::Low => ("Low", 3.0),
        Severity::Informational => ("Informational", 0.0),
        Severity::Untriaged => ("Undefined", 0.0),
    }
}

#[allow(clippy::too_many_arguments)]
fn describe(
    run_arn: &str,
    region: &str,
    index: usize,
    v: &Vuln,
    instance_id: &str,
    tags: &BTreeMap<String, String>,
    facts: &InstanceFacts,
    completed: OffsetDateTime,
) -> ClassicFinding {
    let (severity, numeric) = classic_severity(v.severity);
    let (service_account, package) = classic_region(region).unwrap_or(("", ""));
    let at = completed.unix_timestamp() as f64;
    ClassicFinding {
        arn: format!(
            "{run_arn}/finding/0-{}",
            ids::base62_id(&[run_arn, &index.to_string()], 8)
        ),
        schema_version: 1,
        service: "Inspector".into(),
        service_attributes: Some(ClassicServiceAttributes {
            schema_version: 1,
            assessment_run_arn: Some(run_arn.to_owned()),
            rules_package_arn: Some(format!(
                "arn:{}:inspector:{region}:{service_account}:rulespackage/{package}",
                scanflow_core::partition::of(region)
            )),
        }),
        asset_type: Some("ec2-instance".into()),
        asset_attributes: Some(AssetAttributes {
            schema_version: 1,
            agent_id: Some(instance_id.to_owned()),
            ami_id: Some(facts.ami_id.clone()),
            hostname: Some(facts.hostname.clone()),
            ipv4_addresses: vec![facts.private_ip.clone()],
            tags: tags
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.clone(),
                    value: Some(v.clone()),
                })
                .collect(),
        }),
        id: Some(v.cve.clone()),
        title: Some(
            v.title
                .clone()
                .unwrap_or_else(|| format!("Instance {instance_id} is vulnerable to {}", v.cve)),
        ),
        description: Some(v.description()),
        recommendation: Some(format!(
            "Use your Operating System's update feature to update package {}-{}. For more \
             information see https://cve.mitre.org/cgi-bin/cvename.cgi?name={}",
            v.package, v.version, v.cve
        )),
        severity: Some(severity.into()),
        numeric_severity: Some(numeric),
        confidence: Some(10),
        indicator_of_compromise: Some(false),
        attributes: vec![
            KeyValue {
                key: "INSTANCE_ID".into(),
                value: Some(instance_id.to_owned()),
            },
            KeyValue {
                key: "CVE_ID".into(),
                value: Some(v.cve.clone()),
            },
        ],
        user_attributes: Vec::new(),
        created_at: at,
        updated_at: at,
    }
}

fn epoch_to_rfc3339(secs: f64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(secs.trunc() as i64)
        .ok()
        .map(scanflow_core::time::format)
}

/// Maps a Classic `Finding` into scanflow's normalized [`Finding`]. Account and region come
/// from the finding ARN; the CVE from the `CVE_ID` attribute, else the finding `id`.
pub fn normalize(f: &ClassicFinding) -> Result<Finding, ScanError> {
    let mut parts = f.arn.splitn(6, ':');
    let (region, account_id) = match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("arn"), Some(_), Some("inspector"), Some(region), Some(account)) => (region, account),
        _ => {
            return Err(ScanError::invalid(
                "arn",
                "an Inspector Classic finding ARN (arn:aws:inspector:<region>:<account>:target/.../finding/...)",
                format!("is {}", scanflow_core::error::quote(&f.arn)),
            ));
        }
    };
    let asset = f.asset_attributes.as_ref();
    let severity = Severity::from_label(f.severity.as_deref().unwrap_or("Undefined"));
    let attribute = |key: &str| {
        f.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| a.value.clone())
    };
    Ok(Finding {
        id: f.arn.clone(),
        engine: Engine::Classic,
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        severity,
        title: f.title.clone().unwrap_or_default(),
        instance_id: asset
            .and_then(|a| a.agent_id.clone())
            .or_else(|| attribute("INSTANCE_ID")),
        instance_tags: asset
            .map(|a| {
                a.tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
        vulnerability_id: attribute("CVE_ID").or_else(|| f.id.clone()),
        description: f.description.clone().unwrap_or_default(),
        recommendation: f.recommendation.clone().unwrap_or_default(),
        fix_available: None,
        score: f
            .numeric_severity
            .filter(|_| severity != Severity::Untriaged),
        first_seen: epoch_to_rfc3339(f.created_at),
        last_seen: epoch_to_rfc3339(f.updated_at),
        rules_package_arn: f
            .service_attributes
            .as_ref()
            .and_then(|a| a.rules_package_arn.clone()),
        detail: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_created_at(created_at: OffsetDateTime) -> ClassicRun {
        ClassicRun {
            arn: "arn:aws:inspector:us-east-1:111122223333:target/0-x/template/0-y/run/0-z".into(),
            template_arn: "arn:aws:inspector:us-east-1:111122223333:target/0-x/template/0-y".into(),
            account_index: 0,
            created_at,
            duration: 3_600,
            evaluation: 86_400,
            outcome: ClassicOutcome::Completes,
            with_errors: false,
            in_target: Vec::new(),
            listed: None,
            scan: 1,
        }
    }

    #[test]
    fn a_run_near_the_end_of_time_never_completes_instead_of_panicking() {
        let end = time::PrimitiveDateTime::MAX.assume_utc();
        let run = run_created_at(end - time::Duration::hours(2));
        let timeline = run.timeline();
        // Collection starts before the end; evaluation would end a day past it: saturated.
        let collecting = timeline.iter().find(|(s, _)| *s == "COLLECTING_DATA");
        assert!(collecting.is_some_and(|(_, at)| *at < end));
        assert_eq!(
            timeline.last().map(|(s, at)| (*s, *at)),
            Some(("COMPLETED", end))
        );
        assert_eq!(
            run.state_at(end - time::Duration::hours(1)).0,
            "COLLECTING_DATA"
        );
    }

    #[test]
    fn a_run_well_before_the_end_of_time_completes_after_its_duration_and_evaluation() {
        let start = time::macros::datetime!(2026-12-01 00:00 UTC);
        let run = run_created_at(start);
        let (state, at) = run.state_at(start + time::Duration::days(3));
        assert_eq!(state, "COMPLETED");
        assert!(at > start + time::Duration::seconds(3_600 + 86_400));
    }
}
