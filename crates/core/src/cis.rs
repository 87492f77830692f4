//! CIS benchmark scans (Inspector v2): the rules both the AWS adapter and the sandbox follow,
//! so a failed check becomes the same finding, and a scan's status the same run status,
//! whichever runs it.
//!
//! A run's CIS scan is one-time (`CreateCisScanConfiguration` with `schedule.oneTime`),
//! started by start-run beside the continuous vulnerability reading. check-status waits for it
//! within the run's Duration; collect-findings reads the failed checks of every instance it
//! checked (`ListCisScanResultsAggregatedByTargetResource`, then `GetCisScanResultDetails`
//! with a `FAILED` filter). A CIS scan that fails or does not finish never holds back the
//! vulnerability findings: they are delivered, and the digest says what happened to CIS.

use std::collections::BTreeMap;

use crate::model::{
    CisCheck, CisLevel, CisOutcome, Engine, Finding, FindingDetail, FindingKind, InstanceFacts, Tag,
};
use crate::ports::RunStatus;
use crate::text::clip;

/// `scanName` is 1 to 128 characters.
pub const SCAN_NAME_MAX: usize = 128;
/// `targetResourceTags` holds 1 to 5 keys, each with 1 to 5 values.
pub const TARGET_TAGS_MAX: usize = 5;
/// `ListCisScanResultsAggregatedByTargetResource` returns at most 100 a page.
pub const TARGETS_PAGE_MAX: i32 = 100;
/// `GetCisScanResultDetails` returns at most 1,000 a page.
pub const DETAILS_PAGE_MAX: i32 = 1000;

/// What check-status reports while the CIS scan runs.
pub const IN_PROGRESS: &str = "CIS_IN_PROGRESS";
/// What check-status reports when the Duration ran out before the CIS scan ended.
pub const TIMED_OUT: &str = "CIS_TIMED_OUT";

/// The one-time scan configuration's name: the run's name, cut to what Inspector accepts.
pub fn scan_name(run_name: &str) -> String {
    clip(run_name, SCAN_NAME_MAX)
}

/// Why a run with CIS in its settings cannot start one: CIS scans select instances by tag
/// only (`targetResourceTags` is required), and only Inspector v2 has them.
pub fn refuse_untargeted(
    engine: Engine,
    tag: Option<&Tag>,
    level: CisLevel,
) -> Result<(), crate::ScanError> {
    if engine != Engine::Inspector2 {
        return Err(crate::ScanError::invalid(
            "cisLevel",
            "no CIS level for an Inspector Classic account (CIS scans are Inspector v2's)",
            format!("is {level}"),
        ));
    }
    if tag.is_none() {
        return Err(crate::ScanError::invalid(
            "cisLevel",
            "a tag (TagKey and TagValue in the member stack): Inspector's CIS scans select \
             instances by tag (targetResourceTags is required)",
            format!("is {level} with no tag"),
        ));
    }
    Ok(())
}

/// The run status a CIS scan's `status` (from `ListCisScans`; `None` when not listed yet)
/// gives. `FAILED` and `CANCELLED` end the wait as done: the vulnerability findings are still
/// delivered, and collect-findings records the CIS outcome.
pub fn run_status(status: Option<&str>) -> RunStatus {
    match status {
        Some("COMPLETED") => RunStatus::Succeeded {
            state: "COMPLETED".to_owned(),
        },
        Some(s @ ("FAILED" | "CANCELLED")) => RunStatus::Succeeded {
            state: format!("CIS_{s}"),
        },
        // IN_PROGRESS, not listed yet, or a status newer than this code: keep waiting (the
        // run's deadline bounds it).
        _ => RunStatus::Running {
            state: IN_PROGRESS.to_owned(),
        },
    }
}

/// The outcome collect-findings records for a CIS scan in `status`.
pub fn outcome(status: Option<&str>) -> CisOutcome {
    match status {
        Some("COMPLETED") => CisOutcome::Completed,
        Some(s @ ("FAILED" | "CANCELLED")) => CisOutcome::Failed {
            status: s.to_owned(),
            detail: format!(
                "Inspector ended the CIS scan as {s}: check that the instances are SSM managed \
                 and that the Inspector SSM plugin can run, then run the scan again"
            ),
        },
        _ => CisOutcome::NotFinished,
    }
}

/// What to do about an instance the CIS scan could not check (`targetStatusReason`, or the
/// target's status when it did not complete).
pub fn not_checked_remedy(reason: &str) -> String {
    match reason {
        "SSM_UNMANAGED" => "Make the instance an SSM managed instance (SSM Agent running and an \
                            instance profile with AmazonSSMManagedInstanceCore): CIS scans run \
                            through SSM"
            .to_owned(),
        "UNSUPPORTED_OS" => "Inspector has no CIS benchmark for this operating system".to_owned(),
        "TIMED_OUT" | "SCAN_IN_PROGRESS" => {
            "The check did not finish: raise the account's Duration".to_owned()
        }
        "CANCELLED" => "The check was cancelled: run the scan again".to_owned(),
        other => format!("Inspector reported {}", crate::error::quote(other)),
    }
}

/// A failed check as Inspector reports it (`CisScanResultDetails`), with the instance's tags
/// from its target aggregation.
#[derive(Debug, Clone, Default)]
pub struct FailedCheck<'a> {
    pub account_id: &'a str,
    pub region: &'a str,
    pub scan_arn: &'a str,
    pub instance_id: &'a str,
    pub check_id: &'a str,
    pub title: &'a str,
    pub description: &'a str,
    pub remediation: &'a str,
    /// `None` when Inspector does not say: the run's level.
    pub level: Option<CisLevel>,
    pub platform: Option<&'a str>,
    pub finding_arn: Option<&'a str>,
    pub scan_date: Option<String>,
}

/// The finding a failed check is: severity by level ([`CisLevel::failed_check_severity`]),
/// `CIS <check id>` as the vulnerability id (so one check failed on 37 instances is one line
/// of the digest), and its identity across scans by instance and check
/// (`lifecycle::identity`), whatever finding ARN each scan gives it.
pub fn finding(
    check: &FailedCheck<'_>,
    run_level: CisLevel,
    tags: &BTreeMap<String, String>,
) -> Finding {
    use crate::model::detail_limits::SHORT;
    let level = check.level.unwrap_or(run_level);
    let check_id = clip(check.check_id, SHORT);
    let id = match check.finding_arn {
        Some(arn) if !arn.is_empty() => arn.to_owned(),
        _ => format!("{}/{}/{}", check.scan_arn, check.instance_id, check_id),
    };
    Finding {
        id,
        engine: Engine::Inspector2,
        account_id: check.account_id.to_owned(),
        region: check.region.to_owned(),
        severity: level.failed_check_severity(),
        title: clip(&format!("CIS {check_id} {}", check.title), 512),
        instance_id: Some(check.instance_id.to_owned()),
        instance_tags: tags.clone(),
        vulnerability_id: Some(format!("CIS {check_id}")),
        description: clip(check.description, 4096),
        recommendation: clip(check.remediation, 4096),
        // A benchmark check's remediation is its fix.
        fix_available: Some(!check.remediation.trim().is_empty()),
        score: None,
        first_seen: check.scan_date.clone(),
        last_seen: check.scan_date.clone(),
        rules_package_arn: None,
        detail: Some(Box::new(
            FindingDetail {
                kind: FindingKind::Cis,
                instance: check.platform.map(|p| InstanceFacts {
                    platform: Some(p.to_owned()),
                    ..InstanceFacts::default()
                }),
                cis: Some(CisCheck {
                    check_id,
                    level,
                    scan_arn: check.scan_arn.to_owned(),
                }),
                ..FindingDetail::default()
            }
            .bounded(),
        )),
    }
}

/// The CIS part of a lifecycle identity: the same check failed on the same instance is the
/// same finding from one weekly scan to the next. `None` for any other finding.
pub fn identity(finding: &Finding) -> Option<String> {
    let cis = finding.detail.as_ref()?.cis.as_ref()?;
    Some(format!(
        "cis:{}:{}:{}:{}",
        finding.account_id,
        finding.region,
        finding.instance_id.as_deref().unwrap_or("-"),
        cis.check_id
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<'a>(arn: Option<&'a str>, scan: &'a str) -> FailedCheck<'a> {
        FailedCheck {
            account_id: "111122223333",
            region: "eu-west-1",
            scan_arn: scan,
            instance_id: "i-0abc",
            check_id: "1.1.1.1",
            title: "Ensure mounting of cramfs filesystems is disabled",
            finding_arn: arn,
            ..FailedCheck::default()
        }
    }

    #[test]
    fn a_failed_check_is_the_same_finding_across_scans_whatever_its_arn() {
        let tags = BTreeMap::new();
        let a = finding(&check(Some("arn:a"), "scan-1"), CisLevel::Level1, &tags);
        let b = finding(&check(None, "scan-2"), CisLevel::Level1, &tags);
        assert_ne!(a.id, b.id);
        assert_eq!(identity(&a), identity(&b));
        assert_eq!(
            crate::lifecycle::identity(&a),
            crate::lifecycle::identity(&b)
        );
        assert_eq!(b.id, "scan-2/i-0abc/1.1.1.1");
        assert_eq!(a.vulnerability_id.as_deref(), Some("CIS 1.1.1.1"));
        assert_eq!(a.severity, crate::model::Severity::Medium);
        let level2 = FailedCheck {
            level: Some(CisLevel::Level2),
            ..check(None, "s")
        };
        assert_eq!(
            finding(&level2, CisLevel::Level1, &tags).severity,
            crate::model::Severity::Low
        );
    }

    #[test]
    fn a_scan_that_fails_ends_the_wait_and_one_not_listed_keeps_it() {
        assert!(matches!(run_status(None), RunStatus::Running { .. }));
        assert!(matches!(
            run_status(Some("IN_PROGRESS")),
            RunStatus::Running { .. }
        ));
        assert_eq!(
            run_status(Some("FAILED")),
            RunStatus::Succeeded {
                state: "CIS_FAILED".into()
            }
        );
        assert_eq!(outcome(Some("COMPLETED")), CisOutcome::Completed);
        assert!(matches!(
            outcome(Some("CANCELLED")),
            CisOutcome::Failed { .. }
        ));
        assert_eq!(outcome(Some("IN_PROGRESS")), CisOutcome::NotFinished);
    }

    #[test]
    fn cis_needs_v2_and_a_tag() {
        let tag = Tag {
            key: "Scan".into(),
            value: "yes".into(),
        };
        assert!(refuse_untargeted(Engine::Inspector2, Some(&tag), CisLevel::Level1).is_ok());
        let e = refuse_untargeted(Engine::Inspector2, None, CisLevel::Level2).unwrap_err();
        assert!(e.to_string().contains("targetResourceTags"), "{e}");
        assert!(refuse_untargeted(Engine::Classic, Some(&tag), CisLevel::Level1).is_err());
    }

    #[test]
    fn scan_names_fit_inspector() {
        assert_eq!(scan_name(&"x".repeat(128)).len(), 128);
        assert_eq!(scan_name(&"x".repeat(129)).chars().count(), 128);
    }
}
