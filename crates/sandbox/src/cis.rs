//! Inspector v2's CIS scans: `CreateCisScanConfiguration` (a one-time scan of the instances
//! with a tag, refused as AWS refuses a request out of its bounds), the scan's life in virtual
//! time (`IN_PROGRESS`, then `COMPLETED`, `FAILED` or `CANCELLED` as the scenario says, or
//! never done), and its results per instance (`ListCisScanResultsAggregatedByTargetResource`,
//! `GetCisScanResultDetails` of the failed checks). Inspector sends no CIS result to Security
//! Hub, so nothing is registered there.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use scanflow_core::ScanError;
use scanflow_core::cis::{self as rules, FailedCheck};
use scanflow_core::model::{
    AccountSettings, CIS_NOT_CHECKED_KEPT, CisCoverage, CisLevel, CisOutcome, Finding, Uncovered,
};
use scanflow_core::ports::{FindingsPage, RunStatus};
use scanflow_core::state::Run;

use crate::inspector2::{caller_account, disabled, in_scope, scan_number, visible};
use crate::member::Member;
use crate::scenario::CisScanOutcome;
use crate::{ids, lock};

/// A `CreateCisScanConfiguration` request (one-time schedule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCisRequest {
    pub scan_name: String,
    pub level: CisLevel,
    /// `targets.accountIds`: 12-digit ids, `SELF` or `ALL_ACCOUNTS`.
    pub account_ids: Vec<String>,
    /// `targets.targetResourceTags`.
    pub tags: BTreeMap<String, Vec<String>>,
}

/// The scans started, with what they scan.
#[derive(Default)]
pub(crate) struct CisScans {
    scans: Vec<CisScan>,
}

#[derive(Debug, Clone)]
struct CisScan {
    scan_name: String,
    configuration_arn: String,
    scan_arn: String,
    /// The account whose credentials created it (the member, or the hub as delegated admin).
    owner: String,
    account_index: usize,
    level: CisLevel,
    tags: BTreeMap<String, Vec<String>>,
    started_at: OffsetDateTime,
    /// The account's v2 scan this one runs beside (what its instances' health follows).
    scan: u32,
}

const ACCOUNTS_MAX: usize = 10_000;
const TAGS_MAX: usize = rules::TARGET_TAGS_MAX;

fn validation(field: &str, expected: &str, got: &str) -> ScanError {
    ScanError::invalid(
        format!("inspector2:CreateCisScanConfiguration {field}"),
        expected,
        format!(
            "is {}: ValidationException",
            scanflow_core::error::quote(got)
        ),
    )
}

/// `CreateCisScanConfiguration` as start-run makes it for a run: the instances with the
/// settings' tag, in the member's own account (or the member's id, by a delegated admin).
pub(crate) fn start(
    m: &Member,
    settings: &AccountSettings,
    level: CisLevel,
    name: &str,
) -> Result<String, ScanError> {
    let tags = settings
        .tag
        .iter()
        .map(|t| (t.key.clone(), vec![t.value.clone()]))
        .collect();
    let account = if m.caller.hub_inspector2() {
        m.account_id.clone()
    } else {
        "SELF".to_owned()
    };
    // As the AWS adapter does: a retried start-run follows the scan its first attempt made
    // (`ListCisScanConfigurations` by name).
    let scan_name = rules::scan_name(name);
    let action = "inspector2:ListCisScanConfigurations";
    m.shared.admit(action, caller_account(m), &m.region)?;
    m.shared.count(action, 1);
    let made = lock(&m.shared.cis)
        .scans
        .iter()
        .find(|s| s.scan_name == scan_name && s.owner == caller_account(m))
        .map(|s| s.configuration_arn.clone());
    if let Some(arn) = made {
        return Ok(arn);
    }
    create(
        m,
        &CreateCisRequest {
            scan_name,
            level,
            account_ids: vec![account],
            tags,
        },
    )
}

/// `CreateCisScanConfiguration`: refuses what the API refuses; returns the configuration ARN.
pub fn create(m: &Member, req: &CreateCisRequest) -> Result<String, ScanError> {
    let shared = &m.shared;
    let action = "inspector2:CreateCisScanConfiguration";
    let caller = caller_account(m).to_owned();
    shared.admit(action, &caller, &m.region)?;
    shared.count(action, 1);
    let name_len = req.scan_name.chars().count();
    if !(1..=rules::SCAN_NAME_MAX).contains(&name_len) {
        return Err(validation(
            "scanName",
            "1 to 128 characters",
            &format!("{name_len} characters"),
        ));
    }
    if !(1..=TAGS_MAX).contains(&req.tags.len()) {
        return Err(validation(
            "targets.targetResourceTags",
            "1 to 5 tag keys (CIS scans select instances by tag)",
            &format!("{} keys", req.tags.len()),
        ));
    }
    if let Some((k, v)) = req
        .tags
        .iter()
        .find(|(_, v)| !(1..=TAGS_MAX).contains(&v.len()))
    {
        return Err(validation(
            &format!("targets.targetResourceTags.{k}"),
            "1 to 5 values",
            &format!("{} values", v.len()),
        ));
    }
    if !(1..=ACCOUNTS_MAX).contains(&req.account_ids.len()) {
        return Err(validation(
            "targets.accountIds",
            "1 to 10,000 account ids",
            &format!("{} ids", req.account_ids.len()),
        ));
    }
    for id in &req.account_ids {
        let ok = id == "SELF"
            || id == "ALL_ACCOUNTS"
            || scanflow_core::input::validate_account_id("accountIds", id).is_ok();
        if !ok {
            return Err(validation(
                "targets.accountIds",
                "12-digit account ids, SELF or ALL_ACCOUNTS",
                id,
            ));
        }
    }
    let Some(index) = m.index else {
        return Err(disabled(m));
    };
    let account = shared.account(index).ok_or_else(|| disabled(m))?;
    if !account.v2_enabled() {
        return Err(disabled(m));
    }
    // Through the member role only the account itself can be targeted; the hub as delegated
    // administrator names the member.
    let allowed = |id: &String| {
        if m.caller.hub_inspector2() {
            *id == m.account_id
        } else {
            id == "SELF" || *id == m.account_id
        }
    };
    if !req.account_ids.iter().all(allowed) {
        return Err(ScanError::AccessDenied {
            account_id: m.account_id.clone(),
            region: m.region.clone(),
            action: action.to_owned(),
            detail: "AccessDeniedException: only the delegated administrator can scan other \
                     accounts, and scanflow scans one account a run"
                .into(),
        });
    }
    let id = ids::uuid(&["cis-configuration", &caller, &m.region, &req.scan_name]);
    let scan_id = ids::uuid(&["cis-scan", &caller, &m.region, &req.scan_name]);
    let owner_path = |kind: &str, id: &str| {
        format!(
            "arn:{}:inspector2:{}:{caller}:owner/{caller}/{kind}/{id}",
            scanflow_core::partition::of(&m.region),
            m.region
        )
    };
    let scan = CisScan {
        scan_name: req.scan_name.clone(),
        configuration_arn: owner_path("cis-configuration", &id),
        scan_arn: owner_path("cis-scan", &scan_id),
        owner: caller.clone(),
        account_index: index,
        level: req.level,
        tags: req.tags.clone(),
        started_at: shared.now(),
        scan: scan_number(shared, None, index),
    };
    let arn = scan.configuration_arn.clone();
    lock(&shared.cis).scans.push(scan);
    tracing::info!(account_id = %m.account_id, region = %m.region, level = %req.level, "CIS scan started (one-time)");
    Ok(arn)
}

/// The run's scan as `ListCisScans` (by configuration ARN) shows it to the caller, with its
/// status now; `None` when it is not listed.
fn find(m: &Member, run: &Run) -> Result<Option<(CisScan, &'static str)>, ScanError> {
    let action = "inspector2:ListCisScans";
    m.shared.admit(action, caller_account(m), &m.region)?;
    m.shared.count(action, 1);
    Ok(look_up(m, run))
}

/// The run's scan and its status now, without a call: what a CIS cursor carries after the
/// first page (the AWS adapter keeps the scan ARN in it).
fn look_up(m: &Member, run: &Run) -> Option<(CisScan, &'static str)> {
    let cis = run.cis.as_ref()?;
    let shared = &m.shared;
    let scan = lock(&shared.cis)
        .scans
        .iter()
        .find(|s| s.configuration_arn == cis.configuration_arn)
        .cloned();
    let scan = scan?;
    let seen = scan.owner == caller_account(m)
        || shared
            .account(scan.account_index)
            .is_some_and(|a| m.caller.hub_inspector2() && visible(m, a));
    if !seen {
        return None;
    }
    let spec = shared
        .account(scan.account_index)
        .map(|a| (a.cis.outcome, a.cis.scan_seconds))
        .unwrap_or_default();
    let done = shared.now() >= scan.started_at + time::Duration::seconds(i64::from(spec.1));
    let status = match (done, spec.0) {
        (false, _) | (_, CisScanOutcome::NeverFinishes) => "IN_PROGRESS",
        (true, CisScanOutcome::Completes) => "COMPLETED",
        (true, CisScanOutcome::Fails) => "FAILED",
        (true, CisScanOutcome::Cancelled) => "CANCELLED",
    };
    Some((scan, status))
}

/// The run status while its CIS scan goes (`cis::run_status`).
pub(crate) fn status(m: &Member, run: &Run) -> Result<RunStatus, ScanError> {
    let found = find(m, run)?;
    Ok(rules::run_status(found.as_ref().map(|(_, s)| *s)))
}

/// One instance the scan looked at: checked (with its failed checks) or not, and why.
enum Target {
    Checked {
        instance: usize,
        failed: Vec<usize>,
    },
    NotChecked {
        instance_id: String,
        reason: &'static str,
    },
}

/// The scan's targets in instance order, as its per-target aggregation lists them.
fn targets(m: &Member, scan: &CisScan) -> Vec<Target> {
    let Some(account) = m.shared.account(scan.account_index) else {
        return Vec::new();
    };
    let tag = scan.tags.iter().next().and_then(|(k, v)| {
        v.first().map(|value| scanflow_core::model::Tag {
            key: k.clone(),
            value: value.clone(),
        })
    });
    in_scope(m, scan.account_index, tag.as_ref())
        .into_iter()
        .map(|n| {
            let inst = &account.instances[n];
            if !inst.managed_at(scan.scan) {
                return Target::NotChecked {
                    instance_id: inst.id.clone(),
                    reason: "SSM_UNMANAGED",
                };
            }
            let failed = account
                .cis
                .failed_checks
                .iter()
                .enumerate()
                .filter(|(_, c)| c.level <= scan.level)
                .filter(|(_, c)| c.instances.is_empty() || c.instances.contains(&inst.id))
                .map(|(i, _)| i)
                .collect();
            Target::Checked {
                instance: n,
                failed,
            }
        })
        .collect()
}

/// The run's CIS coverage: the scan's outcome and which instances it checked.
pub(crate) fn coverage(m: &Member, run: &Run) -> Result<Option<CisCoverage>, ScanError> {
    let Some(cis) = &run.cis else {
        return Ok(None);
    };
    let found = find(m, run)?;
    let outcome = rules::outcome(found.as_ref().map(|(_, s)| *s));
    let mut cov = CisCoverage {
        level: cis.level,
        scan_arn: found.as_ref().map(|(s, _)| s.scan_arn.clone()),
        outcome,
        checked: 0,
        failing: 0,
        not_checked: Vec::new(),
        not_checked_total: 0,
    };
    if let (Some((scan, _)), CisOutcome::Completed) = (&found, &cov.outcome) {
        let list = targets(m, scan);
        count_target_pages(m, list.len())?;
        for t in list {
            match t {
                Target::Checked { failed, .. } => {
                    cov.checked += 1;
                    cov.failing += u64::from(!failed.is_empty());
                }
                Target::NotChecked {
                    instance_id,
                    reason,
                } => {
                    cov.not_checked_total += 1;
                    if cov.not_checked.len() < CIS_NOT_CHECKED_KEPT {
                        cov.not_checked.push(Uncovered {
                            instance_id,
                            reason: reason.to_owned(),
                            remedy: rules::not_checked_remedy(reason),
                        });
                    }
                }
            }
        }
    }
    Ok(Some(cov))
}

fn count_target_pages(m: &Member, targets: usize) -> Result<(), ScanError> {
    let action = "inspector2:ListCisScanResultsAggregatedByTargetResource";
    let pages = targets.div_ceil(rules::TARGETS_PAGE_MAX as usize).max(1) as u64;
    m.shared
        .admit_n(action, caller_account(m), &m.region, pages)?;
    m.shared.count(action, pages);
    Ok(())
}

/// What a CIS page's cursor starts with (`cis:<n>`).
pub(crate) const CURSOR_PREFIX: &str = "cis:";
/// The cursor of the first CIS page, which findings_page hands out after the last
/// vulnerability page.
pub(crate) const FIRST_CURSOR: &str = "cis:0";

/// One page of failed checks: those of the `n`th failing instance (one
/// `GetCisScanResultDetails` call), `n` from the cursor `cis:<n>`.
pub(crate) fn failed_page(m: &Member, run: &Run, cursor: &str) -> Result<FindingsPage, ScanError> {
    let n = crate::member::parse_cursor(cursor.strip_prefix(CURSOR_PREFIX), "cursor")?;
    let found = if n == 0 {
        find(m, run)?
    } else {
        look_up(m, run)
    };
    let (Some(cis), Some((scan, "COMPLETED"))) = (&run.cis, found) else {
        return Ok(FindingsPage::default());
    };
    let Some(account) = m.shared.account(scan.account_index) else {
        return Ok(FindingsPage::default());
    };
    let failing: Vec<(usize, Vec<usize>)> = targets(m, &scan)
        .into_iter()
        .filter_map(|t| match t {
            Target::Checked { instance, failed } if !failed.is_empty() => Some((instance, failed)),
            _ => None,
        })
        .collect();
    if n % rules::TARGETS_PAGE_MAX as usize == 0 {
        count_target_pages(m, 1)?;
    }
    let Some((instance, failed)) = failing.get(n) else {
        return Ok(FindingsPage::default());
    };
    let action = "inspector2:GetCisScanResultDetails";
    m.shared.admit(action, caller_account(m), &m.region)?;
    m.shared.count(action, 1);
    let inst = &account.instances[*instance];
    let scan_date = Some(crate::iso_millis(
        scan.started_at + time::Duration::seconds(i64::from(account.cis.scan_seconds)),
    ));
    let findings: Vec<Finding> = failed
        .iter()
        .filter_map(|&i| account.cis.failed_checks.get(i))
        .map(|c| {
            let finding_arn = format!(
                "arn:{}:inspector2:{}:{}:owner/{}/cis-finding/{}",
                scanflow_core::partition::of(&m.region),
                m.region,
                m.account_id,
                m.account_id,
                ids::uuid(&[&scan.scan_arn, &inst.id, &c.check_id])
            );
            rules::finding(
                &FailedCheck {
                    account_id: &m.account_id,
                    region: &m.region,
                    scan_arn: &scan.scan_arn,
                    instance_id: &inst.id,
                    check_id: &c.check_id,
                    title: &c.title,
                    description: &c.title,
                    remediation: c.remediation.as_deref().unwrap_or_default(),
                    level: Some(c.level),
                    platform: Some("AMAZON_LINUX_2023"),
                    finding_arn: Some(&finding_arn),
                    scan_date: scan_date.clone(),
                },
                cis.level,
                &inst.tags,
            )
        })
        .collect();
    let next = (n + 1 < failing.len()).then(|| format!("cis:{}", n + 1));
    Ok(FindingsPage { findings, next })
}
