//! Inspector v2 in the sandbox: findings reports over virtual time, the report object in the
//! local bucket, paging, NO_FINDINGS_FOUND, failures and coverage.

mod common;

use common::*;
use scanflow_core::ScanError;
use scanflow_core::model::{Engine, Severity};
use scanflow_core::ports::{MemberAccount, RunStatus};
use scanflow_core::state::Run;
use scanflow_sandbox::{Inspector2Finding, Member, Sandbox, normalize_inspector2, report_key};
use serde_json::json;

fn v2_account(extra: serde_json::Value) -> serde_json::Value {
    let mut a = json!({
        "settings": {"engine": "inspector2", "tag": {"key": "Scan", "value": "true"}},
        "instances": [
            {"id": "i-0123456789abcdef0", "tags": {"Scan": "true", "Name": "web-1"}, "managed": true},
            {"id": "i-0123456789abcdef1", "tags": {"Scan": "true"}, "managed": false},
            {"id": "i-0123456789abcdef2", "tags": {"Scan": "no"}, "managed": true}
        ]
    });
    if let (Some(a), Some(e)) = (a.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            a.insert(k.clone(), v.clone());
        }
    }
    one_account(a)
}

fn started(sb: &Sandbox) -> (Member, Run) {
    let m = member(sb);
    let s = settings(&m);
    let st = pollster::block_on(m.start_scan(&s, "exec-1")).expect("start");
    assert!(!st.adopted);
    (m, run_for(Engine::Inspector2, &st.run_id, s.tag))
}

#[test]
fn a_report_is_in_progress_then_written_to_the_bucket_in_the_finding_shape() {
    let sb = sandbox(
        "v2-report",
        v2_account(
            json!({"findings": {"generate": {"count": 60, "seed": 1}}, "inspector2": {"reportSeconds": 30}}),
        ),
    );
    let (m, run) = started(&sb);
    let id = &run.run_id;
    assert_eq!(id.len(), 36, "UUID-shaped: {id}");
    assert_eq!(&id[14..15], "4");
    sb.set_now(at(29));
    assert_eq!(
        status(&m, &run),
        RunStatus::Running {
            state: "IN_PROGRESS".into()
        }
    );
    let path = sb.out_dir().join("s3").join(report_key(ACCT, REGION, id));
    assert!(
        !path.exists(),
        "nothing is written before the report is ready"
    );
    let err = pollster::block_on(m.findings_page(&run, None)).expect_err("not yet");
    assert_eq!(err.error_type(), "NotFound");

    sb.set_now(at(30));
    assert_eq!(
        status(&m, &run),
        RunStatus::Succeeded {
            state: "SUCCEEDED".into()
        }
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("report object")).expect("JSON");
    let findings = doc["findings"].as_array().expect("findings array");
    assert!(!findings.is_empty());
    let f = &findings[0];
    for key in [
        "findingArn",
        "awsAccountId",
        "severity",
        "title",
        "description",
        "status",
        "type",
        "inspectorScore",
        "fixAvailable",
        "packageVulnerabilityDetails",
        "remediation",
        "resources",
        "firstObservedAt",
        "lastObservedAt",
    ] {
        assert!(f.get(key).is_some(), "missing {key}: {f}");
    }
    assert_eq!(f["status"], "ACTIVE");
    assert_eq!(f["type"], "PACKAGE_VULNERABILITY");
    assert_eq!(f["resources"][0]["type"], "AWS_EC2_INSTANCE");
    assert!(f["resources"][0]["details"]["awsEc2Instance"]["imageId"].is_string());
    assert!(f["remediation"]["recommendation"]["text"].is_string());
    assert!(f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"].is_string());
    assert!(
        f["findingArn"]
            .as_str()
            .expect("arn")
            .starts_with(&format!("arn:aws:inspector2:{REGION}:{ACCT}:finding/"))
    );

    // Only the managed instance matching the tag is reported on.
    let (all, _) = all_findings(&m, &run);
    assert_eq!(all.len(), findings.len());
    assert!(
        all.iter()
            .all(|f| f.instance_id.as_deref() == Some("i-0123456789abcdef0"))
    );
    assert!(
        all.iter()
            .all(|f| f.engine == Engine::Inspector2 && f.account_id == ACCT)
    );
}

#[test]
fn pages_hold_1000_findings_and_the_report_is_one_get_object() {
    // As in the AWS adapter, a full page says "more" until the reader has seen the end: a
    // report of exactly 1,000 findings ends with an empty page.
    for (count, pages) in [
        (1000u32, vec![1000usize, 0]),
        (1001, vec![1000, 1]),
        (2500, vec![1000, 1000, 500]),
    ] {
        let sb = sandbox(
            &format!("v2-paging-{count}"),
            v2_account(json!({
                "instances": [{"id": "i-0123456789abcdef0", "tags": {"Scan": "true"}}],
                "findings": {"generate": {"count": count, "seed": 2}}
            })),
        );
        let (m, run) = started(&sb);
        sb.set_now(at(60));
        assert_eq!(
            status(&m, &run),
            RunStatus::Succeeded {
                state: "SUCCEEDED".into()
            }
        );
        sb.reset_api_calls();
        let (all, sizes) = all_findings(&m, &run);
        assert_eq!(all.len(), count as usize);
        assert_eq!(sizes, pages);
        assert_eq!(calls(&sb, "s3:ListObjectsV2"), 1);
        // One stream for every page of the invocation, as the adapter reads it.
        assert_eq!(calls(&sb, "s3:GetObject"), 1);
    }
}

#[test]
fn a_clean_scope_is_no_findings_found_not_a_failure() {
    // Findings exist, but only on the instance outside the tag.
    let sb = sandbox(
        "v2-clean",
        v2_account(json!({"findings": {"list": [{
            "instanceId": "i-0123456789abcdef2", "vulnerabilityId": "CVE-2024-0001",
            "severity": "HIGH", "packageName": "bash", "packageVersion": "5.2.15-1"}]}})),
    );
    let (m, run) = started(&sb);
    sb.set_now(at(20));
    assert_eq!(
        status(&m, &run),
        RunStatus::Succeeded {
            state: "NO_FINDINGS_FOUND".into()
        }
    );
    let page = pollster::block_on(m.findings_page(&run, None)).expect("empty page");
    assert!(page.findings.is_empty() && page.next.is_none());
    assert!(
        !sb.out_dir()
            .join("s3")
            .join(report_key(ACCT, REGION, &run.run_id))
            .exists()
    );
}

#[test]
fn a_failed_report_fails_with_its_error_code() {
    let sb = sandbox(
        "v2-fails",
        v2_account(
            json!({"findings": {"generate": {"count": 3}}, "inspector2": {"outcome": "fails"}}),
        ),
    );
    let (m, run) = started(&sb);
    sb.set_now(at(20));
    match status(&m, &run) {
        RunStatus::Failed { state, detail } => {
            assert_eq!(state, "FAILED");
            assert!(detail.contains("INTERNAL_ERROR"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn disabled_inspector_and_unmatched_tags_are_refused() {
    let sb = sandbox(
        "v2-disabled",
        v2_account(json!({"inspectorEnabled": false})),
    );
    let m = member(&sb);
    let s = settings(&m);
    let err = pollster::block_on(m.start_scan(&s, "x")).expect_err("disabled");
    assert!(
        matches!(&err, ScanError::InspectorDisabled { engine, .. } if engine == "inspector2"),
        "{err}"
    );
    assert_eq!(calls(&sb, "inspector2:CreateFindingsReport"), 0);

    let sb = sandbox(
        "v2-nomatch",
        v2_account(
            json!({"settings": {"engine": "inspector2", "tag": {"key": "Team", "value": "x"}}}),
        ),
    );
    let m = member(&sb);
    let s = settings(&m);
    let err = pollster::block_on(m.start_scan(&s, "x")).expect_err("no match");
    assert!(
        matches!(&err, ScanError::NoInstancesMatched { target, .. } if target == "tag Team=x"),
        "{err}"
    );
}

#[test]
fn coverage_reports_unmanaged_instances_with_a_remedy() {
    let sb = sandbox("v2-coverage", v2_account(json!({})));
    let (m, run) = started(&sb);
    sb.reset_api_calls();
    let cov = pollster::block_on(m.coverage(&run)).expect("coverage");
    assert_eq!(cov.scanned, ["i-0123456789abcdef0"]);
    assert_eq!(cov.not_scanned.len(), 1);
    assert_eq!(cov.not_scanned[0].instance_id, "i-0123456789abcdef1");
    assert_eq!(cov.not_scanned[0].reason, "UNMANAGED_EC2_INSTANCE");
    assert!(cov.not_scanned[0].remedy.starts_with("Make the instance"));
    assert_eq!(calls(&sb, "inspector2:ListCoverage"), 1);
}

#[test]
fn a_report_in_the_bucket_survives_a_new_sandbox() {
    let scenario = v2_account(json!({"findings": {"generate": {"count": 4}}}));
    let sb = sandbox("v2-survives", scenario.clone());
    let (m, run) = started(&sb);
    sb.set_now(at(60));
    let (first, _) = all_findings(&m, &run);
    let again = scanflow_sandbox::Sandbox::new(
        scanflow_sandbox::Scenario::from_json(&scenario.to_string()).expect("scenario"),
        sb.out_dir(),
        None,
    )
    .expect("sandbox");
    let m2 = pollster::block_on(scanflow_core::ports::Platform::member(
        &again, ACCT, REGION, "rerun",
    ))
    .expect("member");
    assert_eq!(
        status(&m2, &run),
        RunStatus::Succeeded {
            state: "SUCCEEDED".into()
        }
    );
    assert_eq!(all_findings(&m2, &run).0, first);
    let unknown = run_for(
        Engine::Inspector2,
        "8a7c9f2e-0000-4000-8000-000000000000",
        None,
    );
    assert_eq!(
        pollster::block_on(m2.run_status(&unknown))
            .expect_err("unknown")
            .error_type(),
        "NotFound"
    );
}

#[test]
fn normalization_maps_fix_availability_and_keeps_the_instance() {
    let raw = json!({
        "findingArn": "arn:aws:inspector2:eu-west-1:111122223333:finding/0123456789abcdef0123456789abcdef",
        "awsAccountId": "111122223333", "type": "PACKAGE_VULNERABILITY", "title": "CVE-2024-1 - bash",
        "description": "d", "remediation": {"recommendation": {"text": "Upgrade", "Url": "https://example.org"}},
        "severity": "UNTRIAGED", "status": "ACTIVE",
        "firstObservedAt": "2026-11-01T00:00:00.000Z", "lastObservedAt": "2026-11-28T00:00:00.000Z",
        "resources": [{"type": "AWS_EC2_INSTANCE", "id": "i-0123456789abcdef0", "tags": {"Name": "a"}}],
        "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2024-1", "source": "NVD", "vulnerablePackages": []},
        "fixAvailable": "PARTIAL"
    });
    let f: Inspector2Finding = serde_json::from_value(raw).expect("Finding shape");
    let n = normalize_inspector2(&f).expect("normalizes");
    assert_eq!(n.severity, Severity::Untriaged);
    assert_eq!(n.region, "eu-west-1");
    assert_eq!(n.fix_available, Some(true));
    assert_eq!(n.recommendation, "Upgrade");
    assert_eq!(n.instance_id.as_deref(), Some("i-0123456789abcdef0"));
    for (label, expected) in [("YES", Some(true)), ("NO", Some(false))] {
        let mut g = f.clone();
        g.fix_available = Some(label.into());
        assert_eq!(
            normalize_inspector2(&g).expect("ok").fix_available,
            expected
        );
    }
    let mut g = f;
    g.fix_available = None;
    assert_eq!(normalize_inspector2(&g).expect("ok").fix_available, None);
}
