//! Inspector Classic in the sandbox: run states over virtual time, adoption, failure modes,
//! paging with exact call counts, coverage and normalization.

mod common;

use common::*;
use scanflow_core::ScanError;
use scanflow_core::model::{Engine, Severity, Tag};
use scanflow_core::ports::{MemberAccount, RunStatus};
use scanflow_sandbox::{ClassicFinding, RUN_STATES, normalize_classic, run_status_from_state};
use serde_json::json;

/// Starts a scan with the account's own settings (a macro: clippy frowns on helper functions
/// returning the large `ScanError`, which the ports fix).
macro_rules! start {
    ($m:expr) => {{
        let s = settings($m);
        pollster::block_on($m.start_scan(&s, "exec-1"))
    }};
}

fn state_of(s: &RunStatus) -> &str {
    match s {
        RunStatus::Running { state } | RunStatus::Succeeded { state } => state,
        RunStatus::Failed { state, .. } => state,
    }
}

#[test]
fn a_run_visits_every_state_in_order_over_virtual_time() {
    let sb = sandbox(
        "classic-states",
        one_account(json!({"classic": {"evaluationSeconds": 120}})),
    );
    let m = member(&sb);
    let started = start!(&m).expect("started");
    assert!(!started.adopted);
    assert!(
        started.run_id.starts_with(&format!("{TEMPLATE}/run/0-")),
        "{}",
        started.run_id
    );
    let run = run_for(Engine::Classic, &started.run_id, None);
    let mut seen: Vec<String> = Vec::new();
    for s in (0..=600).step_by(1) {
        sb.set_now(at(s));
        let st = status(&m, &run);
        if seen.last().map(String::as_str) != Some(state_of(&st)) {
            seen.push(state_of(&st).to_owned());
        }
        match st {
            RunStatus::Succeeded { .. } => assert_eq!(state_of(&status(&m, &run)), "COMPLETED"),
            RunStatus::Running { .. } => {}
            RunStatus::Failed { .. } => panic!("the run should not fail"),
        }
    }
    assert_eq!(seen, RUN_STATES[..9].to_vec());
    // Collection lasts the assessment's duration: still collecting just before 35 + 180 s.
    sb.set_now(at(35 + 179));
    assert_eq!(state_of(&status(&m, &run)), "COLLECTING_DATA");
    sb.set_now(at(35 + 180));
    assert_eq!(state_of(&status(&m, &run)), "STOP_DATA_COLLECTION_PENDING");
    // 35 + 180 + 45 s to evaluation, then 120 s of it.
    sb.set_now(at(35 + 180 + 45 + 119));
    assert_eq!(state_of(&status(&m, &run)), "EVALUATING_RULES");
    sb.set_now(at(35 + 180 + 45 + 120));
    assert_eq!(
        status(&m, &run),
        RunStatus::Succeeded {
            state: "COMPLETED".into()
        }
    );
}

#[test]
fn a_second_start_adopts_the_run_in_progress_and_a_finished_one_is_not_adopted() {
    let sb = sandbox("classic-adopt", one_account(json!({})));
    let m = member(&sb);
    let first = start!(&m).expect("first");
    sb.set_now(at(100));
    let second = start!(&m).expect("second");
    assert!(second.adopted);
    assert_eq!(second.run_id, first.run_id);
    assert_eq!(calls(&sb, "inspector:StartAssessmentRun"), 2);
    sb.set_now(at(10_000));
    let third = start!(&m).expect("third");
    assert!(!third.adopted);
    assert_ne!(third.run_id, first.run_id);
}

#[test]
fn failed_runs_fail_with_a_detail_and_hung_runs_never_finish() {
    let sb = sandbox(
        "classic-fails",
        one_account(json!({"classic": {"outcome": "fails"}})),
    );
    let m = member(&sb);
    let run = run_for(Engine::Classic, &start!(&m).expect("start").run_id, None);
    sb.set_now(at(3600));
    match status(&m, &run) {
        RunStatus::Failed { state, detail } => {
            assert_eq!(state, "FAILED");
            assert!(detail.contains("FAILED at 2026-11-28T10:"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let page = pollster::block_on(m.findings_page(&run, None)).expect("page");
    assert!(page.findings.is_empty() && page.next.is_none());

    let sb = sandbox(
        "classic-hangs",
        one_account(json!({"classic": {"outcome": "hangs"}})),
    );
    let m = member(&sb);
    let run = run_for(Engine::Classic, &start!(&m).expect("start").run_id, None);
    sb.set_now(at(30 * 86_400));
    assert_eq!(
        status(&m, &run),
        RunStatus::Running {
            state: "EVALUATING_RULES".into()
        }
    );
}

#[test]
fn an_unhealthy_agent_in_the_target_completes_with_errors() {
    let sb = sandbox(
        "classic-errors",
        one_account(json!({"instances": [
            {"id": "i-0123456789abcdef0", "agent": "healthy"},
            {"id": "i-0123456789abcdef1", "agent": "unhealthy"}
        ]})),
    );
    let m = member(&sb);
    let run = run_for(Engine::Classic, &start!(&m).expect("start").run_id, None);
    sb.set_now(at(7200));
    assert_eq!(
        status(&m, &run),
        RunStatus::Succeeded {
            state: "COMPLETED_WITH_ERRORS".into()
        }
    );
}

#[test]
fn status_mapping_follows_the_aws_adapter() {
    for state in RUN_STATES {
        let st = run_status_from_state(state, "why");
        match state {
            "COMPLETED" | "COMPLETED_WITH_ERRORS" => {
                assert_eq!(
                    st,
                    RunStatus::Succeeded {
                        state: state.into()
                    }
                )
            }
            "FAILED" | "ERROR" | "CANCELED" => assert_eq!(
                st,
                RunStatus::Failed {
                    state: state.into(),
                    detail: "why".into()
                }
            ),
            _ => assert_eq!(
                st,
                RunStatus::Running {
                    state: state.into()
                }
            ),
        }
    }
}

#[test]
fn start_refuses_what_aws_would_refuse() {
    // No template in the settings.
    let sb = sandbox(
        "classic-no-template",
        one_account(json!({"settings": {"engine": "classic"}})),
    );
    let m = member(&sb);
    assert_eq!(
        start!(&m).expect_err("no template").error_type(),
        "NotFound"
    );

    // A template the account does not have.
    let sb = sandbox("classic-wrong-template", one_account(json!({})));
    let m = member(&sb);
    let mut s = settings(&m);
    s.assessment_template_arn = Some(TEMPLATE.replace("GhIjKl34", "Zz999999"));
    let err = pollster::block_on(m.start_scan(&s, "x")).expect_err("unknown template");
    assert!(
        matches!(&err, ScanError::NotFound { what, .. } if what.contains("Zz999999")),
        "{err}"
    );

    // The tag matches nothing.
    let mut s = settings(&m);
    s.tag = Some(Tag {
        key: "Scan".into(),
        value: "never".into(),
    });
    let err = pollster::block_on(m.start_scan(&s, "x")).expect_err("no instances");
    assert!(
        matches!(&err, ScanError::NoInstancesMatched { target, .. } if target.contains("Scan=never")),
        "{err}"
    );

    // The tag matches only instances without an agent.
    let sb = sandbox(
        "classic-agentless",
        one_account(
            json!({"instances": [{"id": "i-0123456789abcdef0", "tags": {"Scan": "true"}, "agent": "none"}],
                           "settings": {"engine": "classic", "assessmentTemplateArn": TEMPLATE, "tag": {"key": "Scan", "value": "true"}}}),
        ),
    );
    let m = member(&sb);
    assert_eq!(
        start!(&m).expect_err("agentless").error_type(),
        "NoInstancesMatched"
    );
    assert_eq!(calls(&sb, "inspector:StartAssessmentRun"), 0);

    // Inspector Classic off for the account.
    let sb = sandbox(
        "classic-disabled",
        one_account(json!({"inspectorEnabled": false})),
    );
    let m = member(&sb);
    assert_eq!(
        start!(&m).expect_err("disabled").error_type(),
        "InspectorDisabled"
    );
}

#[test]
fn a_target_without_a_tag_covers_every_instance() {
    let sb = sandbox(
        "classic-all",
        one_account(json!({"instances": [
            {"id": "i-0123456789abcdef0", "tags": {"Scan": "true"}},
            {"id": "i-0123456789abcdef1"},
            {"id": "i-0123456789abcdef2", "agent": "none"}
        ]})),
    );
    let m = member(&sb);
    let run = run_for(Engine::Classic, &start!(&m).expect("start").run_id, None);
    let cov = pollster::block_on(m.coverage(&run)).expect("coverage");
    assert_eq!(cov.scanned, ["i-0123456789abcdef0", "i-0123456789abcdef1"]);
    assert_eq!(cov.not_scanned.len(), 1);
    assert_eq!(cov.not_scanned[0].reason, "NO_AGENT");
    assert!(
        cov.not_scanned[0]
            .remedy
            .contains("Install the Inspector Classic agent")
    );
}

#[test]
fn coverage_names_unhealthy_and_missing_agents_in_the_target_only() {
    let sb = sandbox(
        "classic-coverage",
        one_account(json!({
            "settings": {"engine": "classic", "assessmentTemplateArn": TEMPLATE, "tag": {"key": "Scan", "value": "true"}},
            "instances": [
                {"id": "i-0123456789abcdef0", "tags": {"Scan": "true"}},
                {"id": "i-0123456789abcdef1", "tags": {"Scan": "true"}, "agent": "unhealthy"},
                {"id": "i-0123456789abcdef2", "tags": {"Scan": "true"}, "agent": "none"},
                {"id": "i-0123456789abcdef3", "tags": {"Scan": "no"}, "agent": "none"}
            ]
        })),
    );
    let m = member(&sb);
    let s = settings(&m);
    let run = run_for(
        Engine::Classic,
        &pollster::block_on(m.start_scan(&s, "x"))
            .expect("start")
            .run_id,
        s.tag.clone(),
    );
    let cov = pollster::block_on(m.coverage(&run)).expect("coverage");
    assert_eq!(cov.scanned, ["i-0123456789abcdef0"]);
    let reasons: Vec<(&str, &str)> = cov
        .not_scanned
        .iter()
        .map(|u| (u.instance_id.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("i-0123456789abcdef1", "AGENT_UNHEALTHY"),
            ("i-0123456789abcdef2", "NO_AGENT")
        ]
    );
}

/// A classic account whose only (healthy) instance has `count` findings.
fn paged(
    name: &str,
    count: u32,
) -> (
    scanflow_sandbox::Sandbox,
    scanflow_sandbox::Member,
    scanflow_core::state::Run,
) {
    let sb = sandbox(
        name,
        one_account(json!({"findings": {"generate": {"count": count, "seed": 5}}})),
    );
    let m = member(&sb);
    let run = run_for(Engine::Classic, &start!(&m).expect("start").run_id, None);
    (sb, m, run)
}

#[test]
fn findings_exist_only_once_the_run_is_completed() {
    let (sb, m, run) = paged("classic-early", 30);
    sb.set_now(at(200));
    let page = pollster::block_on(m.findings_page(&run, None)).expect("page");
    assert!(page.findings.is_empty() && page.next.is_none());
    sb.set_now(at(7200));
    assert_eq!(all_findings(&m, &run).0.len(), 30);
}

#[test]
fn paging_lists_100_arns_a_page_and_describes_10_at_a_time() {
    for (count, pages, describes) in [
        (0u32, vec![0usize], 0u64),
        (100, vec![100], 10),
        (101, vec![100, 1], 11),
        (250, vec![100, 100, 50], 25),
    ] {
        let (sb, m, run) = paged(&format!("classic-paging-{count}"), count);
        sb.set_now(at(7200));
        sb.reset_api_calls();
        let (findings, sizes) = all_findings(&m, &run);
        assert_eq!(findings.len(), count as usize);
        assert_eq!(sizes, pages, "{count}");
        assert_eq!(
            calls(&sb, "inspector:ListFindings"),
            pages.len() as u64,
            "{count}"
        );
        assert_eq!(
            calls(&sb, "inspector:DescribeFindings"),
            describes,
            "{count}"
        );
        assert_eq!(sb.api_calls().len(), if describes == 0 { 1 } else { 2 });
        let ids: std::collections::BTreeSet<_> = findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids.len(), findings.len(), "finding ARNs are unique");
    }
}

#[test]
fn a_cursor_the_api_did_not_issue_is_refused() {
    let (sb, m, run) = paged("classic-cursor", 5);
    sb.set_now(at(7200));
    let err = pollster::block_on(m.findings_page(&run, Some("garbage".into()))).expect_err("bad");
    assert!(matches!(err, ScanError::InvalidInput { ref field, .. } if field == "nextToken"));
    let err = pollster::block_on(m.findings_page(&run, Some("500".into()))).expect_err("past");
    assert_eq!(err.error_type(), "InvalidInput");
}

#[test]
fn findings_are_shaped_like_describe_findings_and_normalize() {
    let sb = sandbox(
        "classic-shape",
        one_account(json!({
            "instances": [{"id": "i-0123456789abcdef0", "tags": {"Name": "db-1"}}],
            "findings": {"list": [
                {"instanceId": "i-0123456789abcdef0", "vulnerabilityId": "CVE-2023-38545", "severity": "CRITICAL",
                 "packageName": "libcurl", "packageVersion": "8.2.1-1.amzn2023.0.1", "fixedInVersion": "8.4.0-1.amzn2023.0.1"},
                {"instanceId": "i-0123456789abcdef0", "vulnerabilityId": "CVE-2024-1111", "severity": "UNTRIAGED",
                 "packageName": "less", "packageVersion": "608-1.amzn2023"}
            ]}
        })),
    );
    let m = member(&sb);
    let run = run_for(Engine::Classic, &start!(&m).expect("start").run_id, None);
    sb.set_now(at(7200));
    let (f, _) = all_findings(&m, &run);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].severity, Severity::High, "Classic has no CRITICAL");
    assert_eq!(f[0].vulnerability_id.as_deref(), Some("CVE-2023-38545"));
    assert_eq!(
        f[0].title,
        "Instance i-0123456789abcdef0 is vulnerable to CVE-2023-38545"
    );
    assert_eq!(
        f[0].instance_tags.get("Name").map(String::as_str),
        Some("db-1")
    );
    assert!(f[0].recommendation.contains("update package libcurl-8.2.1"));
    assert_eq!(
        (f[0].account_id.as_str(), f[0].region.as_str()),
        (ACCT, REGION)
    );
    assert!(f[0].id.starts_with(&format!("{}/finding/0-", run.run_id)));
    assert_eq!(
        f[0].first_seen.as_deref(),
        Some("2026-11-28T10:09:20Z"),
        "completion: 35 + 180 + 45 + 300 s"
    );
    assert_eq!(f[1].severity, Severity::Untriaged);
    assert_eq!(f[1].score, None);

    let raw = json!({
        "arn": format!("{}/finding/0-abc", run.run_id), "schemaVersion": 1, "service": "Inspector",
        "severity": "Medium", "numericSeverity": 6.0, "title": "t", "id": "CVE-2020-0001",
        "attributes": [], "userAttributes": [], "createdAt": 1.7e9, "updatedAt": 1.7e9,
        "assetAttributes": {"schemaVersion": 1, "agentId": "i-0123456789abcdef0", "tags": [{"key": "k"}]}
    });
    let parsed: ClassicFinding = serde_json::from_value(raw).expect("DescribeFindings shape");
    let n = normalize_classic(&parsed).expect("normalizes");
    assert_eq!(n.severity, Severity::Medium);
    assert_eq!(n.vulnerability_id.as_deref(), Some("CVE-2020-0001"));
    assert_eq!(n.instance_tags.get("k").map(String::as_str), Some(""));
    let mut bad = parsed.clone();
    bad.arn = "not-an-arn".into();
    assert_eq!(
        normalize_classic(&bad).expect_err("bad arn").error_type(),
        "InvalidInput"
    );
}

#[test]
fn v2s_ec2_status_in_a_classic_account_is_the_scenarios_and_v2_answers_by_it() {
    use scanflow_core::migration::ScanningStatus;
    for (account, status) in [
        (json!({}), ScanningStatus::Disabled),
        (
            json!({"inspector2": {"ec2Scanning": "ENABLED"}}),
            ScanningStatus::Enabled,
        ),
        (
            json!({"inspector2": {"ec2Scanning": "SUSPENDED"}}),
            ScanningStatus::Suspended,
        ),
        // A v2 account's status is its inspectorEnabled.
        (
            json!({"settings": {"engine": "inspector2"}}),
            ScanningStatus::Enabled,
        ),
        (
            json!({"settings": {"engine": "inspector2"}, "inspectorEnabled": false}),
            ScanningStatus::Disabled,
        ),
    ] {
        let sb = sandbox("classic-v2-status", one_account(account.clone()));
        let m = member(&sb);
        assert_eq!(
            pollster::block_on(m.v2_ec2_status()),
            Ok(status),
            "{account}"
        );
        assert_eq!(
            sb.api_calls().get("inspector2:BatchGetAccountStatus"),
            Some(&1)
        );
        // Scanning the Classic account with v2 (an engine override) works only where v2 is on.
        let mut s = settings(&m);
        s.engine = Engine::Inspector2;
        let v2 = pollster::block_on(m.start_scan(&s, "exec-1"));
        assert_eq!(
            matches!(v2, Err(ScanError::InspectorDisabled { .. })),
            status != ScanningStatus::Enabled,
            "{account}: {v2:?}"
        );
    }
}
