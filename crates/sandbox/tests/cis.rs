//! The simulated CIS scans: `CreateCisScanConfiguration` refuses what AWS refuses (at each
//! limit and one past it), the scan runs in virtual time to the scenario's end, and its
//! failed checks follow the vulnerability pages of the run.

mod common;

use std::collections::BTreeMap;

use common::*;
use scanflow_core::model::{CisLevel, CisOutcome, Engine, Tag};
use scanflow_core::ports::{MemberAccount, Platform, RunStatus};
use scanflow_core::state::CisRun;
use scanflow_sandbox::cis::{CreateCisRequest, create};
use serde_json::json;

fn v2_account(outcome: &str) -> serde_json::Value {
    one_account(json!({
        "settings": {"engine": "inspector2", "tag": {"key": "Scan", "value": "true"}, "durationSeconds": 3600, "cisLevel": "LEVEL_1"},
        "instances": [
            {"id": "i-0000000000000000a", "tags": {"Scan": "true", "Name": "a"}, "managed": true},
            {"id": "i-0000000000000000b", "tags": {"Scan": "true"}, "managed": false},
            {"id": "i-0000000000000000c", "tags": {"Scan": "no"}, "managed": true}
        ],
        "cis": {"outcome": outcome, "scanSeconds": 600, "failedChecks": [
            {"checkId": "1.1.1.1", "title": "cramfs", "remediation": "disable it"},
            {"checkId": "1.6.1.3", "title": "SELinux", "level": "LEVEL_2"}
        ]}
    }))
}

fn request(name_len: usize, keys: usize, values: usize, accounts: Vec<&str>) -> CreateCisRequest {
    CreateCisRequest {
        scan_name: "n".repeat(name_len),
        level: CisLevel::Level1,
        account_ids: accounts.into_iter().map(str::to_owned).collect(),
        tags: (0..keys)
            .map(|k| {
                (
                    format!("k{k}"),
                    (0..values).map(|v| format!("v{v}")).collect(),
                )
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn create_refuses_what_aws_refuses_at_each_limit() {
    let sb = sandbox("cis-limits", v2_account("completes"));
    let m = member(&sb);
    assert!(create(&m, &request(128, 5, 5, vec!["SELF"])).is_ok());
    let field = |r: CreateCisRequest| create(&m, &r).expect_err("refused").to_string();
    assert!(field(request(129, 1, 1, vec!["SELF"])).contains("scanName"));
    assert!(field(request(0, 1, 1, vec!["SELF"])).contains("scanName"));
    assert!(field(request(10, 6, 1, vec!["SELF"])).contains("targetResourceTags"));
    assert!(field(request(10, 0, 1, vec!["SELF"])).contains("targetResourceTags"));
    assert!(field(request(10, 1, 6, vec!["SELF"])).contains("targetResourceTags.k0"));
    assert!(field(request(10, 1, 1, vec![])).contains("accountIds"));
    assert!(field(request(10, 1, 1, vec!["12345"])).contains("accountIds"));
    // Through the member's own role, only the account itself.
    assert!(create(&m, &request(10, 1, 1, vec![ACCT])).is_ok());
    let other = create(&m, &request(10, 1, 1, vec!["444455556666"])).expect_err("denied");
    assert_eq!(other.error_type(), "AccessDenied", "{other}");
}

fn cis_run(m: &scanflow_sandbox::Member) -> scanflow_core::state::Run {
    cis_run_by(m, ACCT)
}

/// Starts the member's v2 run and its CIS scan (twice, as a retried start-run would), checking
/// the configuration is owned by `owner` (whose credentials created it).
fn cis_run_by(m: &scanflow_sandbox::Member, owner: &str) -> scanflow_core::state::Run {
    let settings = settings(m);
    assert_eq!(settings.cis, Some(CisLevel::Level1));
    let started = pollster::block_on(m.start_scan(&settings, "exec-1")).expect("v2 start");
    let arn = pollster::block_on(m.start_cis_scan(&settings, CisLevel::Level1, "scanflow-exec-1"))
        .expect("CIS start");
    // A retried start-run follows the same scan instead of starting a second.
    let again =
        pollster::block_on(m.start_cis_scan(&settings, CisLevel::Level1, "scanflow-exec-1"))
            .expect("CIS start, retried");
    assert_eq!(again, arn);
    assert!(
        arn.contains(&format!(":{owner}:owner/{owner}/cis-configuration/")),
        "{arn}"
    );
    let mut run = run_for(
        Engine::Inspector2,
        &started.run_id,
        Some(Tag {
            key: "Scan".into(),
            value: "true".into(),
        }),
    );
    run.cis = Some(CisRun {
        level: CisLevel::Level1,
        configuration_arn: arn,
    });
    run
}

#[test]
fn a_scan_runs_in_virtual_time_and_its_failed_checks_follow_the_vulnerabilities() {
    let sb = sandbox("cis-life", v2_account("completes"));
    let m = member(&sb);
    let run = cis_run(&m);
    assert!(matches!(status(&m, &run), RunStatus::Running { .. }));
    sb.set_now(at(599));
    assert!(matches!(status(&m, &run), RunStatus::Running { .. }));
    sb.set_now(at(600));
    assert_eq!(
        status(&m, &run),
        RunStatus::Succeeded {
            state: "COMPLETED".into()
        }
    );
    let coverage = pollster::block_on(m.coverage(&run)).expect("coverage");
    let cis = coverage.cis.expect("CIS coverage");
    assert_eq!(cis.outcome, CisOutcome::Completed);
    // The untagged instance is out of scope; the unmanaged one is not checked.
    assert_eq!((cis.checked, cis.failing, cis.not_checked_total), (1, 1, 1));
    assert_eq!(cis.not_checked[0].reason, "SSM_UNMANAGED");
    let (findings, _) = all_findings(&m, &run);
    let failed: Vec<_> = findings
        .iter()
        .filter(|f| {
            f.vulnerability_id
                .as_deref()
                .is_some_and(|v| v.starts_with("CIS "))
        })
        .collect();
    // A LEVEL_1 scan runs no Level 2 check.
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].instance_id.as_deref(),
        Some("i-0000000000000000a")
    );
    assert_eq!(failed[0].recommendation, "disable it");
    let calls = sb.api_calls();
    assert_eq!(calls.get("inspector2:GetCisScanResultDetails"), Some(&1));
    assert_eq!(calls.get("inspector2:CreateCisScanConfiguration"), Some(&1));
    assert_eq!(calls.get("inspector2:ListCisScanConfigurations"), Some(&2));
}

#[test]
fn a_failed_scan_ends_the_wait_and_delivers_no_checks() {
    for (outcome, state, expected) in [
        ("fails", "CIS_FAILED", "FAILED"),
        ("cancelled", "CIS_CANCELLED", "CANCELLED"),
    ] {
        let sb = sandbox(&format!("cis-{outcome}"), v2_account(outcome));
        let m = member(&sb);
        let run = cis_run(&m);
        sb.set_now(at(600));
        assert_eq!(
            status(&m, &run),
            RunStatus::Succeeded {
                state: state.into()
            }
        );
        let cis = pollster::block_on(m.coverage(&run))
            .expect("coverage")
            .cis
            .expect("CIS coverage");
        assert!(
            matches!(&cis.outcome, CisOutcome::Failed { status, .. } if status == expected),
            "{cis:?}"
        );
        let (findings, _) = all_findings(&m, &run);
        assert!(
            findings
                .iter()
                .all(|f| f.detail.as_ref().is_none_or(|d| d.cis.is_none()))
        );
    }
    let sb = sandbox("cis-never", v2_account("neverFinishes"));
    let m = member(&sb);
    let run = cis_run(&m);
    sb.set_now(at(86_400));
    assert!(matches!(status(&m, &run), RunStatus::Running { .. }));
    let cis = pollster::block_on(m.coverage(&run))
        .expect("coverage")
        .cis
        .expect("CIS coverage");
    assert_eq!(cis.outcome, CisOutcome::NotFinished);
}

#[test]
fn a_delegated_admin_starts_and_reads_its_members_scan_without_their_role() {
    let org = "o-abcdef1234";
    let mut doc = v2_account("completes");
    doc["hub"]["inspectorDelegatedAdmin"] = json!(true);
    doc["hub"]["delegatedAdminOf"] = json!(org);
    doc["accounts"][0]["organization"] = json!(org);
    let sb = sandbox("cis-admin", doc);
    let m = member(&sb);
    // The hub's credentials create it: the configuration is the hub's, for the member.
    let run = cis_run_by(&m, HUB);
    sb.set_now(at(600));
    let reader = pollster::block_on(sb.reader(&run)).expect("reader");
    assert_eq!(
        pollster::block_on(reader.run_status(&run)).expect("status"),
        RunStatus::Succeeded {
            state: "COMPLETED".into()
        }
    );
    let (findings, _) = all_findings(&reader, &run);
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.detail.as_ref().is_some_and(|d| d.cis.is_some()))
            .count(),
        1
    );
    assert_eq!(
        sb.api_calls().get("sts:AssumeRole"),
        Some(&1),
        "only start-run's"
    );
}
