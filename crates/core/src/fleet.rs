//! The fleet watch's domain: what the hub knows each member stack asked for (the registry),
//! what it last delivered for each account-Region, and the pure comparison of the two that
//! names every account-Region needing attention, with what to do.
//!
//! Healthy account-Regions produce nothing: the notice lists only problems.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::model::{Engine, Tag};
use crate::schedule::Schedule;
use crate::time as ts;

/// What a scan covers: the parts of an account's settings that change what is scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanScope {
    pub engine: Engine,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    pub duration_seconds: u32,
}

impl std::fmt::Display for ScanScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = self
            .tag
            .as_ref()
            .map_or_else(|| "every instance".to_owned(), ToString::to_string);
        write!(
            f,
            "{} · {target} · {} s",
            self.engine, self.duration_seconds
        )
    }
}

/// Whether the member stack that wrote the entry still exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryStatus {
    Active,
    Deleted,
}

/// One account-Region as its member stack recorded it (written by the registry writer on the
/// settings parameter's Create/Update/Delete events; key [`crate::keys::registry_entry`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryEntry {
    pub account_id: String,
    pub region: String,
    pub status: RegistryStatus,
    /// The scope the member stack asked for. `None` only for a stack deleted before the hub
    /// ever read its settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScanScope>,
    /// The member's `AssessmentSchedule`; `None` when its settings predate the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// When the member stack first appeared (rate schedules count from here).
    pub created_at: String,
    /// When the entry last changed (settings updated, or the stack deleted).
    pub updated_at: String,
}

/// What publish last delivered for an account-Region (key [`crate::keys::last_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastDelivery {
    pub account_id: String,
    pub region: String,
    pub execution: String,
    /// When the scan started (start-run): a scan covers every scheduled time before it.
    pub started_at: String,
    pub delivered_at: String,
    /// The nominal scheduled time of the event that started it, when it was scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// What was scanned.
    pub scope: ScanScope,
    /// How its CIS scan went, when the account runs one (absent in records written before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cis: Option<CisDelivered>,
    /// A Classic scan: Inspector v2's EC2 scanning status start-run's pre-flight read, when it
    /// could read one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2_ec2: Option<crate::migration::ScanningStatus>,
}

/// A delivery's CIS scan, as the fleet watch needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CisDelivered {
    pub level: crate::model::CisLevel,
    pub outcome: crate::model::CisOutcome,
}

/// Why an account-Region is in the notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Problem {
    /// The schedule was due at `due_at` and no scan started since (within the grace period).
    #[serde(rename_all = "camelCase")]
    MissedSchedule {
        due_at: String,
        schedule: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_scan: Option<String>,
    },
    /// The member stack was deleted (its settings parameter went with it).
    #[serde(rename_all = "camelCase")]
    LostMemberStack { deleted_at: String },
    /// The scope changed after the last scan: the last delivery no longer shows the account
    /// as it is now configured.
    #[serde(rename_all = "camelCase")]
    ScopeChanged {
        scanned: ScanScope,
        now: ScanScope,
        changed_at: String,
    },
    /// The registry has no schedule for it (settings written by an older member template).
    ScheduleUnknown,
    /// Its schedule expression cannot be evaluated.
    #[serde(rename_all = "camelCase")]
    BadSchedule { schedule: String, error: String },
    /// Scans were delivered but the hub never recorded its member stack.
    #[serde(rename_all = "camelCase")]
    NotRegistered { last_scan: String },
    /// A record the watch needs could not be read or does not parse.
    #[serde(rename_all = "camelCase")]
    Unreadable { key: String, error: String },
    /// The member stack still asks for Inspector Classic, whose support has ended.
    #[serde(rename_all = "camelCase")]
    StillOnClassic {
        /// Inspector v2's EC2 scanning status there, from the last delivery's pre-flight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        v2_ec2: Option<crate::migration::ScanningStatus>,
    },
    /// The last delivery's CIS scan failed or did not finish: it delivered no benchmark
    /// results (its vulnerability findings were delivered).
    #[serde(rename_all = "camelCase")]
    CisIncomplete {
        level: crate::model::CisLevel,
        outcome: crate::model::CisOutcome,
        last_scan: String,
    },
}

/// One line of the notice: an account-Region, what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetFinding {
    pub account_id: String,
    pub region: String,
    #[serde(flatten)]
    pub problem: Problem,
    pub action: String,
}

impl FleetFinding {
    /// The one-line description people read.
    pub fn summary(&self) -> String {
        match &self.problem {
            Problem::MissedSchedule {
                due_at,
                schedule,
                last_scan,
            } => format!(
                "missed its schedule: {schedule} was due at {due_at}; last scan {}",
                last_scan.as_deref().unwrap_or("never")
            ),
            Problem::LostMemberStack { deleted_at } => {
                format!("lost its member stack (deleted at {deleted_at})")
            }
            Problem::ScopeChanged {
                scanned,
                now,
                changed_at,
            } => format!(
                "changed scope at {changed_at} since its last scan: scanned {scanned}, now {now}"
            ),
            Problem::ScheduleUnknown => "has no schedule in the registry".to_owned(),
            Problem::BadSchedule { error, .. } => {
                format!("has a schedule the watch cannot evaluate: {error}")
            }
            Problem::NotRegistered { last_scan } => format!(
                "was scanned (last at {last_scan}) but its member stack is not in the registry"
            ),
            Problem::Unreadable { key, error } => format!("could not be checked: {key}: {error}"),
            Problem::StillOnClassic { v2_ec2 } => format!(
                "is still on Inspector Classic, which ended on {}{}",
                crate::migration::CLASSIC_END,
                v2_ec2.map_or_else(String::new, |s| format!(
                    " (Inspector v2 EC2 scanning is {})",
                    s.as_str()
                ))
            ),
            Problem::CisIncomplete {
                level,
                outcome,
                last_scan,
            } => match outcome {
                crate::model::CisOutcome::Failed { status, .. } => format!(
                    "delivered no CIS {level} results: its last CIS scan ({last_scan}) ended \
                     {status}"
                ),
                _ => format!(
                    "delivered no CIS {level} results: its last CIS scan ({last_scan}) did not \
                     finish within the Duration"
                ),
            },
        }
    }
}

/// Compares what the registry expects with what was delivered, at `now`, allowing `grace`
/// after each scheduled time for the scan to start (the schedule's flexible window) and
/// finish. Returns only problems, sorted by account and Region.
pub fn compare(
    registry: &[RegistryEntry],
    deliveries: &[LastDelivery],
    now: OffsetDateTime,
    grace: Duration,
) -> Vec<FleetFinding> {
    let delivered: BTreeMap<(&str, &str), &LastDelivery> = deliveries
        .iter()
        .map(|d| ((d.account_id.as_str(), d.region.as_str()), d))
        .collect();
    let mut findings = Vec::new();
    let finding = |e: &RegistryEntry, problem: Problem, action: String| FleetFinding {
        account_id: e.account_id.clone(),
        region: e.region.clone(),
        problem,
        action,
    };
    for entry in registry {
        let last = delivered
            .get(&(entry.account_id.as_str(), entry.region.as_str()))
            .copied();
        if entry.status == RegistryStatus::Deleted {
            findings.push(finding(
                entry,
                Problem::LostMemberStack {
                    deleted_at: entry.updated_at.clone(),
                },
                format!(
                    "Redeploy the scanflow member StackSet instance to account {} in {} (or \
                     check that the account is still in a targeted OU). If the account left on \
                     purpose, delete its registry entry {} to stop this notice",
                    entry.account_id,
                    entry.region,
                    crate::keys::registry_entry(&entry.account_id, &entry.region)
                ),
            ));
            continue;
        }
        if let Some(problem) = schedule_problem(entry, last, now, grace) {
            findings.push(finding(entry, problem.0, problem.1));
        }
        if let Some(problem) = classic_problem(entry, last) {
            findings.push(finding(entry, problem.0, problem.1));
        }
        if let Some((problem, action)) = last.and_then(cis_problem) {
            findings.push(finding(entry, problem, action));
        }
        if let (Some(scope), Some(last)) = (&entry.scope, last)
            && *scope != last.scope
            && later(&entry.updated_at, &last.started_at)
        {
            findings.push(finding(
                entry,
                Problem::ScopeChanged {
                    scanned: last.scope.clone(),
                    now: scope.clone(),
                    changed_at: entry.updated_at.clone(),
                },
                format!(
                    "The last delivery shows the old scope. Run a scan now to see the account \
                     as configured: {{\"accountId\": \"{}\", \"region\": \"{}\"}}, or wait for \
                     the next scheduled scan",
                    entry.account_id, entry.region
                ),
            ));
        }
    }
    for d in deliveries {
        let known = registry
            .iter()
            .any(|e| e.account_id == d.account_id && e.region == d.region);
        if !known {
            findings.push(FleetFinding {
                account_id: d.account_id.clone(),
                region: d.region.clone(),
                problem: Problem::NotRegistered {
                    last_scan: d.started_at.clone(),
                },
                action: "Update the account's member StackSet instance (any change to its \
                         settings parameter records it), so the watch can check its schedule"
                    .into(),
            });
        }
    }
    findings.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    findings
}

/// A member stack still on Inspector Classic: (problem, action), with the step its v2 status
/// calls for.
fn classic_problem(
    entry: &RegistryEntry,
    last: Option<&LastDelivery>,
) -> Option<(Problem, String)> {
    use crate::migration::ScanningStatus;
    if entry.scope.as_ref()?.engine != crate::model::Engine::Classic {
        return None;
    }
    let v2_ec2 = last.and_then(|d| d.v2_ec2);
    let switch = "set the member stack's Engine parameter to inspector2 (templates/DEPLOY.md, \
                  \"Moving from Inspector Classic to v2\")";
    let action = match v2_ec2 {
        Some(ScanningStatus::Enabled) => format!("Inspector v2 is ready there: {switch}"),
        _ => format!(
            "Enable Inspector v2 EC2 scanning in account {} ({}), then {switch}",
            entry.account_id, entry.region
        ),
    };
    Some((Problem::StillOnClassic { v2_ec2 }, action))
}

/// The last delivery's CIS scan, when it delivered no results: (problem, action).
fn cis_problem(last: &LastDelivery) -> Option<(Problem, String)> {
    let cis = last.cis.as_ref()?;
    let action = match &cis.outcome {
        crate::model::CisOutcome::Completed => return None,
        crate::model::CisOutcome::Failed { .. } => format!(
            "Check in account {} ({}) that the instances are SSM managed and that Inspector's \
             SSM plugin runs (CIS scans run through SSM), then run a scan: \
             {{\"accountId\": \"{}\", \"region\": \"{}\"}}",
            last.account_id, last.region, last.account_id, last.region
        ),
        crate::model::CisOutcome::NotFinished => format!(
            "Raise the Duration of the member stack in account {} ({}) (the time the CIS scan \
             is given), or look for the scan under CIS scans in the Inspector console",
            last.account_id, last.region
        ),
    };
    Some((
        Problem::CisIncomplete {
            level: cis.level,
            outcome: cis.outcome.clone(),
            last_scan: last.started_at.clone(),
        },
        action,
    ))
}

/// The schedule check of one active entry: (problem, action) when something is wrong.
fn schedule_problem(
    entry: &RegistryEntry,
    last: Option<&LastDelivery>,
    now: OffsetDateTime,
    grace: Duration,
) -> Option<(Problem, String)> {
    let Some(expression) = &entry.schedule else {
        return Some((
            Problem::ScheduleUnknown,
            "Update the member StackSet to the current template: its settings then carry the \
             schedule and the watch can check it"
                .into(),
        ));
    };
    let bad = |error: String| {
        Some((
            Problem::BadSchedule {
                schedule: expression.clone(),
                error,
            },
            "Fix the member stack's AssessmentSchedule parameter".to_owned(),
        ))
    };
    let schedule = match Schedule::parse(expression) {
        Ok(s) => s,
        Err(e) => return bad(e.to_string()),
    };
    let created = match ts::parse("createdAt", &entry.created_at) {
        Ok(t) => t,
        Err(e) => return bad(format!("the registry entry's createdAt: {e}")),
    };
    let cutoff = now.checked_sub(grace)?;
    let due = schedule.latest_at_or_before(cutoff, created)?;
    let covered = last
        .and_then(|d| ts::parse("startedAt", &d.started_at).ok())
        .is_some_and(|started| started >= due);
    if covered {
        return None;
    }
    Some((
        Problem::MissedSchedule {
            due_at: ts::format(due),
            schedule: expression.clone(),
            last_scan: last.map(|d| d.started_at.clone()),
        },
        format!(
            "Check that the member's schedule scanflow-scheduled-scan is ENABLED in account {} \
             ({}), and look for a failed execution or a message in the scan-start dead-letter \
             queue; start a scan by hand with {{\"accountId\": \"{}\", \"region\": \"{}\"}}",
            entry.account_id, entry.region, entry.account_id, entry.region
        ),
    ))
}

/// Whether timestamp `a` is after `b` (unparseable counts as later: report rather than hide).
fn later(a: &str, b: &str) -> bool {
    match (ts::parse("a", a), ts::parse("b", b)) {
        (Ok(a), Ok(b)) => a > b,
        _ => true,
    }
}

/// The notice for `findings` after checking `checked` account-Regions: `None` when all is
/// well (the watch says nothing about healthy accounts). Returns (subject, body).
pub fn notice(
    findings: &[FleetFinding],
    checked: usize,
    now: OffsetDateTime,
) -> Option<(String, String)> {
    if findings.is_empty() {
        return None;
    }
    let mut places: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.account_id.as_str(), f.region.as_str()))
        .collect();
    places.dedup();
    let subject = format!(
        "scanflow fleet watch: {} account-Region(s) need attention",
        places.len()
    );
    let mut body = crate::text::wrap(
        &format!(
            "The fleet watch of {} checked {checked} account-Region(s) in the registry; these \
             need attention:",
            ts::format(now)
        ),
        crate::text::WIDTH,
        "",
        "",
    );
    for f in findings {
        body.push('\n');
        let what = format!("{} {}: {}", f.account_id, f.region, f.summary());
        body.push_str(&crate::text::wrap(&what, crate::text::WIDTH, "- ", "  "));
        body.push_str(&crate::text::wrap(
            &f.action,
            crate::text::WIDTH,
            "  What to do: ",
            "  ",
        ));
    }
    body.push_str("\nAccount-Regions not listed are healthy.\n");
    Some((subject, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn scope(tag: Option<(&str, &str)>) -> ScanScope {
        ScanScope {
            engine: Engine::Inspector2,
            tag: tag.map(|(k, v)| Tag {
                key: k.into(),
                value: v.into(),
            }),
            duration_seconds: 3600,
        }
    }

    fn entry(account: &str, schedule: Option<&str>) -> RegistryEntry {
        RegistryEntry {
            account_id: account.into(),
            region: "eu-west-1".into(),
            status: RegistryStatus::Active,
            scope: Some(scope(None)),
            schedule: schedule.map(str::to_owned),
            created_at: "2026-11-01T00:00:00Z".into(),
            updated_at: "2026-11-01T00:00:00Z".into(),
        }
    }

    fn delivery(account: &str, started: &str) -> LastDelivery {
        LastDelivery {
            account_id: account.into(),
            region: "eu-west-1".into(),
            execution: "scan-x".into(),
            started_at: started.into(),
            delivered_at: started.into(),
            scheduled_at: None,
            scope: scope(None),
            cis: None,
            v2_ec2: None,
        }
    }

    #[test]
    fn a_cis_scan_that_delivered_nothing_needs_attention_and_a_completed_one_does_not() {
        use crate::model::{CisLevel, CisOutcome};
        let with = |outcome: CisOutcome| LastDelivery {
            cis: Some(CisDelivered {
                level: CisLevel::Level1,
                outcome,
            }),
            ..delivery("111111111111", "2026-11-30T03:05:00Z")
        };
        let registry = [entry("111111111111", Some(WEEKLY))];
        let problems = |d: LastDelivery| compare(&registry, &[d], NOW, grace());
        assert!(problems(with(CisOutcome::Completed)).is_empty());
        assert!(problems(delivery("111111111111", "2026-11-30T03:05:00Z")).is_empty());
        let failed = problems(with(CisOutcome::Failed {
            status: "FAILED".into(),
            detail: "d".into(),
        }));
        assert_eq!(failed.len(), 1);
        assert!(
            failed[0].summary().contains("ended FAILED"),
            "{}",
            failed[0].summary()
        );
        assert!(
            failed[0].action.contains("SSM plugin"),
            "{}",
            failed[0].action
        );
        let unfinished = problems(with(CisOutcome::NotFinished));
        assert!(unfinished[0].summary().contains("did not finish"));
        assert!(unfinished[0].action.contains("Raise the Duration"));
    }

    const WEEKLY: &str = "cron(0 3 ? * MON *)";
    // Wednesday; the last Monday 03:00 was 2026-11-30.
    const NOW: OffsetDateTime = datetime!(2026-12-02 06:00 UTC);

    fn grace() -> Duration {
        Duration::hours(6)
    }

    #[test]
    fn healthy_accounts_are_not_mentioned() {
        let findings = compare(
            &[entry("111111111111", Some(WEEKLY))],
            &[delivery("111111111111", "2026-11-30T03:40:00Z")],
            NOW,
            grace(),
        );
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(notice(&findings, 1, NOW), None);
    }

    #[test]
    fn a_missed_schedule_is_named_with_what_to_do() {
        let findings = compare(
            &[
                entry("111111111111", Some(WEEKLY)),
                entry("222222222222", Some(WEEKLY)),
            ],
            &[delivery("111111111111", "2026-11-23T03:10:00Z")],
            NOW,
            grace(),
        );
        assert_eq!(findings.len(), 2, "{findings:?}");
        for f in &findings {
            match &f.problem {
                Problem::MissedSchedule { due_at, .. } => {
                    assert_eq!(due_at, "2026-11-30T03:00:00Z");
                }
                other => panic!("{other:?}"),
            }
            assert!(f.action.contains("ENABLED"), "{}", f.action);
        }
        let (subject, body) = notice(&findings, 2, NOW).expect("a notice");
        assert!(subject.contains("2 account-Region"), "{subject}");
        assert!(
            body.contains("222222222222 eu-west-1: missed its schedule"),
            "{body}"
        );
        assert!(body.contains("last scan never"), "{body}");
    }

    #[test]
    fn the_grace_period_is_honoured_at_its_edge() {
        let mut created = entry("111111111111", Some(WEEKLY));
        created.created_at = "2026-11-24T00:00:00Z".into();
        let e = [created];
        // Due 2026-11-30 03:00; with 6 h grace the watch expects it from 09:00.
        let at = |t| compare(&e, &[], t, grace());
        assert_eq!(
            at(datetime!(2026-11-30 08:59 UTC)).len(),
            0,
            "the previous Monday was before the stack existed"
        );
        assert_eq!(at(datetime!(2026-11-30 09:00 UTC)).len(), 1);
    }

    #[test]
    fn nothing_is_due_before_the_member_stack_existed() {
        let mut e = entry("111111111111", Some(WEEKLY));
        e.created_at = "2026-12-01T00:00:00Z".into();
        assert!(compare(&[e], &[], NOW, grace()).is_empty());
    }

    #[test]
    fn deleted_stacks_scope_changes_and_unknowns() {
        let mut deleted = entry("111111111111", Some(WEEKLY));
        deleted.status = RegistryStatus::Deleted;
        deleted.updated_at = "2026-12-01T12:00:00Z".into();
        let mut changed = entry("222222222222", Some(WEEKLY));
        changed.scope = Some(scope(Some(("Scan", "web"))));
        changed.updated_at = "2026-12-01T00:00:00Z".into();
        let no_schedule = entry("333333333333", None);
        let bad = entry("444444444444", Some("cron(0 3 * * MON *)"));
        let findings = compare(
            &[deleted, changed, no_schedule, bad],
            &[
                delivery("222222222222", "2026-11-30T03:05:00Z"),
                delivery("555555555555", "2026-11-30T03:05:00Z"),
            ],
            NOW,
            grace(),
        );
        let kinds: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| {
                let kind = match f.problem {
                    Problem::LostMemberStack { .. } => "lost",
                    Problem::ScopeChanged { .. } => "scope",
                    Problem::ScheduleUnknown => "unknown",
                    Problem::BadSchedule { .. } => "bad",
                    Problem::NotRegistered { .. } => "unregistered",
                    _ => "other",
                };
                (f.account_id.as_str(), kind)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("111111111111", "lost"),
                ("222222222222", "scope"),
                ("333333333333", "unknown"),
                ("444444444444", "bad"),
                ("555555555555", "unregistered"),
            ]
        );
        let (_, body) = notice(&findings, 4, NOW).expect("notice");
        assert!(body.lines().all(|l| l.chars().count() <= 78), "{body}");
        let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("lost its member stack"), "{body}");
        assert!(flat.contains("tag Scan=web"), "{body}");
    }

    #[test]
    fn a_scan_with_overridden_scope_before_the_last_change_is_not_a_change() {
        // The registry changed before the last scan, which ran with an override: the scope
        // differs but the member did not change it since.
        let mut e = entry("111111111111", Some(WEEKLY));
        e.scope = Some(scope(Some(("Scan", "web"))));
        let findings = compare(
            &[e],
            &[delivery("111111111111", "2026-11-30T03:05:00Z")],
            NOW,
            grace(),
        );
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn records_round_trip_as_camel_case_json() {
        let e = entry("111111111111", Some(WEEKLY));
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["accountId"], "111111111111");
        assert_eq!(json["scope"]["durationSeconds"], 3600);
        assert_eq!(json["status"], "active");
        let back: RegistryEntry = serde_json::from_value(json).expect("parses");
        assert_eq!(back, e);
        let d = delivery("111111111111", "2026-11-30T03:05:00Z");
        let back: LastDelivery =
            serde_json::from_value(serde_json::to_value(&d).expect("json")).expect("parses");
        assert_eq!(back, d);
    }
}
