//! Inspector v2 CIS benchmark scans in one member account, following the rules of
//! [`scanflow_core::cis`]: the one-time scan start-run starts (`CreateCisScanConfiguration`),
//! its status for check-status (`ListCisScans`), how far it reached for coverage
//! (`ListCisScanResultsAggregatedByTargetResource`), and its failed checks per instance for
//! collect-findings (`GetCisScanResultDetails`), read one details page a call behind a `cis:`
//! cursor so collect-findings' checkpoints resume them in a later invocation.

use std::collections::BTreeMap;
use std::sync::PoisonError;

use aws_sdk_inspector2::types::{
    CisFindingStatus, CisFindingStatusComparison, CisFindingStatusFilter,
    CisScanResultDetailsFilterCriteria, CisScanResultsAggregatedByTargetResourceFilterCriteria,
    CisSecurityLevel, CisStringComparison, CisStringFilter, CisTargetResourceAggregation,
    CisTargetStatus, CreateCisTargets, ListCisScanConfigurationsFilterCriteria,
    ListCisScansDetailLevel, ListCisScansFilterCriteria, OneTimeSchedule, Schedule,
};
use aws_smithy_types::DateTime;
use scanflow_core::ScanError;
use scanflow_core::cis::{self, DETAILS_PAGE_MAX, FailedCheck, TARGETS_PAGE_MAX};
use scanflow_core::model::{
    AccountSettings, CIS_NOT_CHECKED_KEPT, CisCoverage, CisLevel, CisOutcome, Uncovered,
};
use scanflow_core::ports::{FindingsPage, RunStatus};
use scanflow_core::state::CisRun;
use serde::{Deserialize, Serialize};

use super::{Cursor, Inspector2, rfc3339};

/// What `targets.accountIds` names when the scan role creates the scan in its own account.
const SELF: &str = "SELF";
/// The CIS listing operations' `nextToken` is at most 1,000,000 characters.
pub const NEXT_TOKEN_MAX: usize = 1_000_000;
/// A scan ARN (`arn:aws:inspector2:<region>:<account>:owner/<owner>/cis-scan/<uuid>`) is far
/// shorter; anything longer in a cursor did not come from Inspector.
const SCAN_ARN_MAX: usize = 2048;
/// An RFC 3339 timestamp is far shorter.
const DATE_MAX: usize = 64;
/// The longest `cis:` cursor: two tokens, a scan ARN, a date and the JSON around them.
pub const CURSOR_MAX: usize = 2 * NEXT_TOKEN_MAX + SCAN_ARN_MAX + DATE_MAX + 256;

/// A CIS scan as `ListCisScans` lists it.
#[derive(Debug, Clone)]
struct Scan {
    arn: String,
    status: Option<String>,
    date: Option<DateTime>,
}

/// Where the CIS phase of a run's findings continues: in the targets page at `targets`
/// (`nextToken`, empty for the first page), at the `at`-th target of that page, at details
/// page `details` (empty for the first). `scan` is empty until the scan was found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CisCursor {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    scan: String,
    /// The scan's date: every failed check of the scan was seen then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    date: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    targets: String,
    #[serde(default)]
    at: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    details: String,
}

impl CisCursor {
    /// The JSON after `cis:`.
    pub(super) fn encode(&self) -> String {
        // A struct of strings and a number always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for anything [`CisCursor::encode`] cannot have written.
    pub(super) fn decode(text: &str) -> Option<Self> {
        // serde would also take the fields as a JSON array; encode writes an object.
        if text.len() > CURSOR_MAX || !text.starts_with('{') {
            return None;
        }
        let c: Self = serde_json::from_str(text).ok()?;
        let fits = c.scan.len() <= SCAN_ARN_MAX
            && c.date.as_ref().is_none_or(|d| d.len() <= DATE_MAX)
            && c.targets.len() <= NEXT_TOKEN_MAX
            && c.details.len() <= NEXT_TOKEN_MAX
            // An index past a full page, or a position before the scan was found, was
            // never written.
            && c.at < usize::try_from(TARGETS_PAGE_MAX).unwrap_or(usize::MAX)
            && (!c.scan.is_empty() || (c.targets.is_empty() && c.at == 0 && c.details.is_empty()));
        fits.then_some(c)
    }
}

fn security_level(level: CisLevel) -> CisSecurityLevel {
    match level {
        CisLevel::Level1 => CisSecurityLevel::Level1,
        CisLevel::Level2 => CisSecurityLevel::Level2,
    }
}

fn level_of(level: &CisSecurityLevel) -> Option<CisLevel> {
    match level {
        CisSecurityLevel::Level1 => Some(CisLevel::Level1),
        CisSecurityLevel::Level2 => Some(CisLevel::Level2),
        _ => None,
    }
}

/// One targets page of a CIS scan, keyed by the scan and the token that asked for it.
#[derive(Debug)]
pub(super) struct TargetsPage {
    key: (String, String),
    targets: Vec<CisTargetResourceAggregation>,
    next: Option<String>,
}

fn equals(value: &str) -> Result<CisStringFilter, ScanError> {
    CisStringFilter::builder()
        .comparison(CisStringComparison::Equals)
        .value(value)
        .build()
        .map_err(ScanError::internal)
}

/// The target failed at least one check.
fn fails_a_check(target: &CisTargetResourceAggregation) -> bool {
    target
        .status_counts()
        .and_then(|c| c.failed())
        .is_some_and(|n| n > 0)
}

/// A target whose failed checks can be read: it fails one, and names its instance.
fn failing(target: &CisTargetResourceAggregation) -> bool {
    fails_a_check(target) && target.target_resource_id().is_some_and(|id| !id.is_empty())
}

impl Inspector2 {
    /// Starts a one-time CIS scan at `level` of the instances with the settings' tag; returns
    /// the scan configuration's ARN. Through the member role the scan covers `SELF`; as the
    /// delegated administrator (the hub's credentials) it names the member account.
    pub async fn start_cis_scan(
        &self,
        settings: &AccountSettings,
        level: CisLevel,
        name: &str,
    ) -> Result<String, ScanError> {
        let tag = settings.tag.as_ref().ok_or_else(|| {
            ScanError::internal(format!(
                "a CIS scan of account {} ({}) needs the settings' tag (CIS scans select \
                 instances by tag); start-run checks cis::refuse_untargeted first",
                self.scope.account_id, self.scope.region
            ))
        })?;
        let scan_name = cis::scan_name(name);
        // A retried start-run (the first attempt's answer lost) takes the configuration the
        // first attempt made: the name is the execution's, so one scan per execution.
        if let Some(arn) = self.cis_configuration_named(&scan_name).await? {
            tracing::info!(account = %self.scope.account_id, region = %self.scope.region, "the CIS scan of this execution was started already; following it");
            return Ok(arn);
        }
        let call = self.scope.call(
            "inspector2:CreateCisScanConfiguration",
            format!(
                "a one-time CIS {level} scan of the instances tagged {}={}",
                tag.key, tag.value
            ),
        );
        let account = if self.delegated_admin {
            self.scope.account_id.as_str()
        } else {
            SELF
        };
        let targets = CreateCisTargets::builder()
            .account_ids(account)
            .target_resource_tags(tag.key.clone(), vec![tag.value.clone()])
            .build()
            .map_err(ScanError::internal)?;
        let out = self
            .client
            .create_cis_scan_configuration()
            .scan_name(scan_name)
            .security_level(security_level(level))
            .schedule(Schedule::OneTime(OneTimeSchedule::builder().build()))
            .targets(targets)
            .send()
            .await
            .map_err(|e| self.error(&call, &e))?;
        out.scan_configuration_arn()
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ScanError::internal(format!("{call} answered no scanConfigurationArn")))
    }

    /// The configuration named `scan_name`, if one exists (`ListCisScanConfigurations`, every
    /// page).
    async fn cis_configuration_named(&self, scan_name: &str) -> Result<Option<String>, ScanError> {
        let call = self.scope.call(
            "inspector2:ListCisScanConfigurations",
            format!("the CIS scan configuration {scan_name}"),
        );
        let filter = ListCisScanConfigurationsFilterCriteria::builder()
            .scan_name_filters(equals(scan_name)?)
            .build();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_cis_scan_configurations()
                .filter_criteria(filter.clone())
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.error(&call, &e))?;
            if let Some(c) = out
                .scan_configurations()
                .iter()
                .find(|c| c.scan_name() == Some(scan_name))
            {
                return Ok(Some(c.scan_configuration_arn().to_owned()));
            }
            token = crate::next_page(out.next_token());
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    /// check-status for a run with a CIS scan: [`cis::run_status`] of the scan's status.
    pub(super) async fn cis_run_status(&self, cis: &CisRun) -> Result<RunStatus, ScanError> {
        let scan = self.find_cis_scan(cis).await?;
        Ok(cis::run_status(
            scan.as_ref().and_then(|s| s.status.as_deref()),
        ))
    }

    /// The newest scan of the run's configuration (a one-time configuration has one), or
    /// `None` while Inspector has not listed it yet. `detailLevel` (ORGANIZATION or MEMBER;
    /// the API reference says only "the detail applied to the CIS scan") is ORGANIZATION
    /// when the hub lists, as the delegated administrator, the scan it created for a member,
    /// and MEMBER when the member role lists its own account's scan.
    async fn find_cis_scan(&self, cis: &CisRun) -> Result<Option<Scan>, ScanError> {
        let call = self.scope.call(
            "inspector2:ListCisScans",
            format!("the scans of CIS configuration {}", cis.configuration_arn),
        );
        let filter = ListCisScansFilterCriteria::builder()
            .scan_configuration_arn_filters(equals(&cis.configuration_arn)?)
            .build();
        let detail = if self.delegated_admin {
            ListCisScansDetailLevel::Organization
        } else {
            ListCisScansDetailLevel::Member
        };
        let mut newest: Option<Scan> = None;
        let mut token = None;
        loop {
            let out = self
                .client
                .list_cis_scans()
                .filter_criteria(filter.clone())
                .detail_level(detail.clone())
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.error(&call, &e))?;
            for s in out.scans() {
                // The filter already says so; a scan of another configuration is not ours.
                if s.scan_configuration_arn() != cis.configuration_arn {
                    continue;
                }
                let scan = Scan {
                    arn: s.scan_arn().to_owned(),
                    status: s.status().map(|x| x.as_str().to_owned()),
                    date: s.scan_date().copied(),
                };
                if newest.as_ref().is_none_or(|n| scan.date > n.date) {
                    newest = Some(scan);
                }
            }
            token = crate::next_page(out.next_token());
            if token.is_none() {
                break;
            }
        }
        Ok(newest)
    }

    /// One page of the scan's targets in this account.
    /// [`Self::cis_targets_page`] read once per invocation for the findings pages that walk it.
    async fn cached_targets_page(
        &self,
        scan_arn: &str,
        token: Option<String>,
    ) -> Result<(Vec<CisTargetResourceAggregation>, Option<String>), ScanError> {
        let key = (scan_arn.to_owned(), token.clone().unwrap_or_default());
        let lock = || {
            self.cis_targets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some(page) = lock().as_ref().filter(|p| p.key == key) {
            return Ok((page.targets.clone(), page.next.clone()));
        }
        let (targets, next) = self.cis_targets_page(scan_arn, token).await?;
        *lock() = Some(TargetsPage {
            key,
            targets: targets.clone(),
            next: next.clone(),
        });
        Ok((targets, next))
    }

    async fn cis_targets_page(
        &self,
        scan_arn: &str,
        token: Option<String>,
    ) -> Result<(Vec<CisTargetResourceAggregation>, Option<String>), ScanError> {
        let call = self.scope.call(
            "inspector2:ListCisScanResultsAggregatedByTargetResource",
            format!("the instances of CIS scan {scan_arn}"),
        );
        let filter = CisScanResultsAggregatedByTargetResourceFilterCriteria::builder()
            .account_id_filters(equals(&self.scope.account_id)?)
            .build();
        let out = self
            .client
            .list_cis_scan_results_aggregated_by_target_resource()
            .scan_arn(scan_arn)
            .filter_criteria(filter)
            .max_results(TARGETS_PAGE_MAX)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| self.error(&call, &e))?;
        let next = crate::next_page(out.next_token());
        Ok((out.target_resource_aggregations.unwrap_or_default(), next))
    }

    /// How the run's CIS scan went: its outcome and, once completed, which instances it
    /// checked, which of those fail a check, and which it could not check and why.
    pub(super) async fn cis_coverage(&self, cis: &CisRun) -> Result<CisCoverage, ScanError> {
        let scan = self.find_cis_scan(cis).await?;
        let mut coverage = CisCoverage {
            level: cis.level,
            scan_arn: scan.as_ref().map(|s| s.arn.clone()),
            outcome: cis::outcome(scan.as_ref().and_then(|s| s.status.as_deref())),
            checked: 0,
            failing: 0,
            not_checked: Vec::new(),
            not_checked_total: 0,
        };
        let Some(scan) = scan.filter(|_| coverage.outcome == CisOutcome::Completed) else {
            return Ok(coverage);
        };
        let mut token = None;
        loop {
            let (targets, next) = self.cis_targets_page(&scan.arn, token).await?;
            for t in &targets {
                if t.target_status() == Some(&CisTargetStatus::Completed) {
                    coverage.checked = coverage.checked.saturating_add(1);
                    if fails_a_check(t) {
                        coverage.failing = coverage.failing.saturating_add(1);
                    }
                    continue;
                }
                coverage.not_checked_total = coverage.not_checked_total.saturating_add(1);
                if coverage.not_checked.len() < CIS_NOT_CHECKED_KEPT {
                    let reason = t
                        .target_status_reason()
                        .map(|r| r.as_str())
                        .or_else(|| t.target_status().map(|s| s.as_str()))
                        .unwrap_or("UNKNOWN")
                        .to_owned();
                    coverage.not_checked.push(Uncovered {
                        instance_id: t.target_resource_id().unwrap_or("unknown").to_owned(),
                        remedy: cis::not_checked_remedy(&reason),
                        reason,
                    });
                }
            }
            token = next;
            if token.is_none() {
                break;
            }
        }
        Ok(coverage)
    }

    /// One page of the CIS phase: the scan is found first (none, or not COMPLETED: no CIS
    /// findings, the coverage says why); then one details page of failed checks of the next
    /// failing instance. A targets page with no failing instance gives an empty page and
    /// the cursor of the next targets page, so each call makes at most two requests.
    pub(super) async fn cis_findings_page(
        &self,
        cis: &CisRun,
        mut at: CisCursor,
    ) -> Result<FindingsPage, ScanError> {
        let end = FindingsPage {
            findings: Vec::new(),
            next: None,
        };
        if at.scan.is_empty() {
            let Some(scan) = self.find_cis_scan(cis).await? else {
                tracing::info!(account = %self.scope.account_id, "CIS scan not listed; no CIS findings");
                return Ok(end);
            };
            if scan.status.as_deref() != Some("COMPLETED") {
                tracing::info!(account = %self.scope.account_id, status = ?scan.status, "CIS scan not completed; no CIS findings");
                return Ok(end);
            }
            at = CisCursor {
                scan: scan.arn,
                date: scan.date.as_ref().and_then(rfc3339),
                ..CisCursor::default()
            };
        }
        let token = crate::next_page(Some(&at.targets));
        let (targets, next_targets) = self.cached_targets_page(&at.scan, token).await?;
        let next_page = |targets: String| CisCursor {
            targets,
            at: 0,
            details: String::new(),
            ..at.clone()
        };
        let found = targets
            .iter()
            .enumerate()
            .skip(at.at)
            .find(|(_, t)| failing(t));
        let Some((index, target)) = found else {
            return Ok(FindingsPage {
                findings: Vec::new(),
                next: next_targets.map(|t| Cursor::Cis(next_page(t)).encode()),
            });
        };
        let instance = target.target_resource_id().unwrap_or_default();
        // targetResourceTags maps a key to its values; an instance has one value a key.
        let tags: BTreeMap<String, String> = target
            .target_resource_tags()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.first().map(|v| (k.clone(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let call = self.scope.call(
            "inspector2:GetCisScanResultDetails",
            format!("the failed checks of {instance} in CIS scan {}", at.scan),
        );
        let failed = CisFindingStatusFilter::builder()
            .comparison(CisFindingStatusComparison::Equals)
            .value(CisFindingStatus::Failed)
            .build()
            .map_err(ScanError::internal)?;
        let out = self
            .client
            .get_cis_scan_result_details()
            .scan_arn(&at.scan)
            .target_resource_id(instance)
            .account_id(&self.scope.account_id)
            .filter_criteria(
                CisScanResultDetailsFilterCriteria::builder()
                    .finding_status_filters(failed)
                    .build(),
            )
            .max_results(DETAILS_PAGE_MAX)
            .set_next_token(crate::next_page(Some(&at.details)))
            .send()
            .await
            .map_err(|e| self.error(&call, &e))?;
        let findings = out
            .scan_result_details()
            .iter()
            // The filter asks for FAILED only; a passed or skipped check is no finding.
            .filter(|d| d.status().is_none_or(|s| *s == CisFindingStatus::Failed))
            .map(|d| {
                let check = FailedCheck {
                    account_id: &self.scope.account_id,
                    region: &self.scope.region,
                    scan_arn: &at.scan,
                    instance_id: instance,
                    check_id: d.check_id().unwrap_or_default(),
                    title: d.title().unwrap_or_default(),
                    description: d.check_description().unwrap_or_default(),
                    remediation: d.remediation().unwrap_or_default(),
                    level: d.level().and_then(level_of),
                    platform: d.platform().or(target.platform()),
                    finding_arn: d.finding_arn(),
                    scan_date: at.date.clone(),
                };
                cis::finding(&check, cis.level, &tags)
            })
            .collect();
        let next = if let Some(details) = crate::next_page(out.next_token()) {
            Some(CisCursor {
                at: index,
                details,
                ..at.clone()
            })
        } else if targets.iter().skip(index.saturating_add(1)).any(failing) {
            Some(CisCursor {
                at: index.saturating_add(1),
                details: String::new(),
                ..at.clone()
            })
        } else {
            next_targets.map(next_page)
        };
        Ok(FindingsPage {
            findings,
            next: next.map(|c| Cursor::Cis(c).encode()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cis_cursors_round_trip_and_bad_ones_are_refused() {
        for c in [
            CisCursor::default(),
            CisCursor {
                scan: "arn:aws:inspector2:eu-west-1:1:owner/1/cis-scan/u".into(),
                date: Some("2026-11-28T10:00:00Z".into()),
                targets: "tok:with\"quotes\" and : colons".into(),
                at: 99,
                details: "d".repeat(1000),
            },
        ] {
            let text = Cursor::Cis(c.clone()).encode();
            assert!(text.starts_with("cis:"), "{text}");
            assert_eq!(Cursor::decode(&text).expect("round trip"), Cursor::Cis(c));
        }
        let scan = r#""scan":"arn:s""#;
        for bad in [
            "cis:".to_owned(),
            "cis:[]".to_owned(),
            "cis:{\"other\":1}".to_owned(),
            // The last index of a full page is 99.
            format!("cis:{{{scan},\"at\":100}}"),
            format!("cis:{{{scan},\"at\":-1}}"),
            // A position in the targets before the scan was found.
            r#"cis:{"targets":"t"}"#.to_owned(),
            format!(
                "cis:{{{scan},\"details\":\"{}\"}}",
                "d".repeat(NEXT_TOKEN_MAX + 1)
            ),
            format!("cis:{{\"scan\":\"{}\"}}", "s".repeat(SCAN_ARN_MAX + 1)),
            format!("cis:{}", " ".repeat(CURSOR_MAX + 1)),
        ] {
            let err = Cursor::decode(&bad).expect_err(&bad[..bad.len().min(40)]);
            assert_eq!(err.error_type(), "InvalidInput");
            assert!(
                err.to_string().len() < 1000,
                "the bad cursor is quoted short"
            );
        }
        // At the limits: the last index of a page, and a token of the longest length.
        let at_limit = format!(
            "cis:{{{scan},\"at\":99,\"details\":\"{}\"}}",
            "d".repeat(NEXT_TOKEN_MAX)
        );
        assert!(Cursor::decode(&at_limit).is_ok());
    }
}
