//! Inspector v2 in the sandbox: findings read with ListFindings (pages, maxResults, tokens,
//! filters, throttling, failures), coverage, the delegated administrator, and a findings report
//! recorded before.

mod common;

use common::*;
use scanflow_core::ScanError;
use scanflow_core::model::{Engine, Severity};
use scanflow_core::ports::{MemberAccount, Platform, RunStatus};
use scanflow_core::state::Run;
use scanflow_sandbox::inspector2::list_findings;
use scanflow_sandbox::{
    Bucket, FindingsFilter, Inspector2Finding, ListFindingsRequest, Member, Sandbox, StringFilter,
    normalize_inspector2, report_key,
};
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
fn findings_are_read_as_they_stand_with_no_run_to_wait_for() {
    let sb = sandbox(
        "v2-listing",
        v2_account(json!({"findings": {"generate": {"count": 60, "seed": 1}}})),
    );
    let (m, run) = started(&sb);
    assert_eq!(run.run_id, "exec-1", "the run is named after the execution");
    assert_eq!(
        status(&m, &run),
        RunStatus::Succeeded {
            state: "CONTINUOUS".into()
        }
    );
    assert_eq!(calls(&sb, "inspector2:GetFindingsReportStatus"), 0);
    assert_eq!(
        calls(&sb, "inspector2:GetMember"),
        0,
        "not a delegated admin"
    );

    // Only the managed instance matching the tag is reported on.
    let (all, _) = all_findings(&m, &run);
    assert!(!all.is_empty());
    assert!(
        all.iter()
            .all(|f| f.instance_id.as_deref() == Some("i-0123456789abcdef0"))
    );
    assert!(
        all.iter()
            .all(|f| f.engine == Engine::Inspector2 && f.account_id == ACCT && f.region == REGION)
    );
    // The API's Finding shape, as ListFindings returns it.
    let page = list_findings(&m, &request(&run, Some(1), None)).expect("page");
    let f = serde_json::to_value(&page.findings[0]).expect("json");
    for key in [
        "findingArn",
        "awsAccountId",
        "severity",
        "title",
        "description",
        "status",
        "type",
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
    assert_eq!(f["resources"][0]["type"], "AWS_EC2_INSTANCE");
    assert!(
        f["findingArn"]
            .as_str()
            .expect("arn")
            .starts_with(&format!("arn:aws:inspector2:{REGION}:{ACCT}:finding/"))
    );
    // Inspector sent them to the account's Security Hub by itself.
    assert_eq!(sb.security_hub_state(ACCT).findings.len(), all.len());
}

fn request(run: &Run, max: Option<usize>, token: Option<String>) -> ListFindingsRequest {
    ListFindingsRequest {
        filter: FindingsFilter::for_run(ACCT, run.tag.as_ref()),
        max_results: max,
        next_token: token,
    }
}

#[test]
fn pages_hold_at_most_100_findings_and_every_page_is_one_call() {
    // A page is full or the last one; a listing with nothing left after a full page ends there.
    for (count, pages) in [
        (100u32, vec![100usize]),
        (101, vec![100, 1]),
        (250, vec![100, 100, 50]),
    ] {
        let sb = sandbox(
            &format!("v2-paging-{count}"),
            v2_account(json!({
                "instances": [{"id": "i-0123456789abcdef0", "tags": {"Scan": "true"}}],
                "findings": {"generate": {"count": count, "seed": 2}}
            })),
        );
        let (m, run) = started(&sb);
        sb.reset_api_calls();
        let (all, sizes) = all_findings(&m, &run);
        assert_eq!(all.len(), count as usize);
        assert_eq!(sizes, pages);
        assert_eq!(calls(&sb, "inspector2:ListFindings"), pages.len() as u64);
        let ids: std::collections::BTreeSet<_> = all.iter().map(|f| &f.id).collect();
        assert_eq!(ids.len(), all.len(), "no finding twice across pages");
    }
}

#[test]
fn max_results_is_1_to_100_and_tokens_are_only_good_for_their_filter() {
    let sb = sandbox(
        "v2-limits",
        v2_account(json!({"findings": {"generate": {"count": 30, "seed": 3}}})),
    );
    let (m, run) = started(&sb);
    for ok in [1, 100] {
        let page = list_findings(&m, &request(&run, Some(ok), None)).expect("within range");
        assert!(page.findings.len() <= ok);
    }
    for bad in [0, 101] {
        let err = list_findings(&m, &request(&run, Some(bad), None)).expect_err("refused");
        assert_eq!(err.error_type(), "InvalidInput", "{bad}");
        assert!(err.to_string().contains("maxResults"), "{err}");
    }
    let first = list_findings(&m, &request(&run, Some(1), None)).expect("page");
    let token = first.next_token.expect("more");
    // The same token with another filter, and a token this API never issued.
    let mut other = request(&run, Some(1), Some(token.clone()));
    other.filter.resource_tags.clear();
    assert_eq!(
        list_findings(&m, &other)
            .expect_err("other filter")
            .error_type(),
        "InvalidInput"
    );
    let forged = request(&run, Some(1), Some("page-2".into()));
    assert!(list_findings(&m, &forged).is_err());
    let second = list_findings(&m, &request(&run, Some(1), Some(token))).expect("page 2");
    assert_ne!(first.findings, second.findings);
    // A criterion holds at most 10 filters.
    let mut wide = request(&run, None, None);
    wide.filter.finding_status = vec![StringFilter::equals("ACTIVE"); 11];
    assert_eq!(
        list_findings(&m, &wide).expect_err("11").error_type(),
        "InvalidInput"
    );
    wide.filter.finding_status.truncate(10);
    assert!(list_findings(&m, &wide).is_ok());
}

#[test]
fn filters_select_by_account_status_type_and_tag() {
    let sb = sandbox(
        "v2-filters",
        v2_account(json!({"findings": {"generate": {"count": 40, "seed": 4}}})),
    );
    let (m, run) = started(&sb);
    let count = |filter: FindingsFilter| {
        list_findings(
            &m,
            &ListFindingsRequest {
                filter,
                max_results: Some(100),
                next_token: None,
            },
        )
        .expect("page")
        .findings
        .len()
    };
    let tagged = count(FindingsFilter::for_run(ACCT, run.tag.as_ref()));
    let untagged = count(FindingsFilter::for_run(ACCT, None));
    assert!(tagged > 0 && untagged > tagged, "{tagged} {untagged}");
    assert_eq!(count(FindingsFilter::for_run("444455556666", None)), 0);
    let mut closed = FindingsFilter::for_run(ACCT, None);
    closed.finding_status = vec![StringFilter::equals("CLOSED")];
    assert_eq!(count(closed), 0);
    let mut ecr = FindingsFilter::for_run(ACCT, None);
    ecr.resource_type = vec![StringFilter::equals("AWS_ECR_CONTAINER_IMAGE")];
    assert_eq!(count(ecr), 0);
}

#[test]
fn a_failing_service_and_a_disabled_account_are_told_apart() {
    let sb = sandbox(
        "v2-fails",
        v2_account(
            json!({"findings": {"generate": {"count": 3}}, "inspector2": {"outcome": "fails"}}),
        ),
    );
    let (m, run) = started(&sb);
    let err = pollster::block_on(m.findings_page(&run, None)).expect_err("500");
    assert_eq!(err.error_type(), "Transient");
    assert!(err.to_string().contains("InternalServerException"), "{err}");
}

#[test]
fn list_findings_is_throttled_under_the_quota_model() {
    let scenario = scanflow_sandbox::Scenario::from_json(
        &v2_account(json!({"findings": {"generate": {"count": 5}}})).to_string(),
    )
    .expect("scenario");
    let mut quotas = scanflow_sandbox::quota::QuotaSpec::aws_defaults(REGION);
    let q = quotas
        .rates
        .get_mut("inspector2:ListFindings")
        .expect("ListFindings has a quota");
    q.rate = 0.001;
    q.burst = 1.0;
    let sb = Sandbox::with_quotas(scenario, &out_dir("v2-throttled"), quotas, Bucket::Folder)
        .expect("sandbox");
    sb.set_now(t0());
    let (m, run) = started(&sb);
    assert!(list_findings(&m, &request(&run, None, None)).is_ok());
    let err = list_findings(&m, &request(&run, None, None)).expect_err("throttled");
    assert_eq!(err.error_type(), "Transient");
}

#[test]
fn a_findings_report_recorded_before_is_still_read_from_the_bucket() {
    let sb = sandbox("v2-legacy-report", v2_account(json!({})));
    let m = member(&sb);
    let id = "8a7c9f2e-0000-4000-8000-000000000000";
    let run = run_for(Engine::Inspector2, id, None);
    assert_eq!(
        pollster::block_on(m.run_status(&run))
            .expect_err("no such report")
            .error_type(),
        "NotFound"
    );
    let path = sb.out_dir().join("s3").join(report_key(ACCT, REGION, id));
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    let finding = json!({
        "findingArn": format!("arn:aws:inspector2:{REGION}:{ACCT}:finding/0123456789abcdef0123456789abcdef"),
        "awsAccountId": ACCT, "type": "PACKAGE_VULNERABILITY", "title": "CVE-2024-1 - bash",
        "description": "d", "remediation": {"recommendation": {"text": "Upgrade"}},
        "severity": "HIGH", "status": "ACTIVE",
        "firstObservedAt": "2026-11-01T00:00:00.000Z", "lastObservedAt": "2026-11-28T00:00:00.000Z",
        "resources": [{"type": "AWS_EC2_INSTANCE", "id": "i-0123456789abcdef0"}]
    });
    std::fs::write(&path, json!({"findings": [finding]}).to_string()).expect("write");
    assert_eq!(
        status(&m, &run),
        RunStatus::Succeeded {
            state: "SUCCEEDED".into()
        }
    );
    let (all, _) = all_findings(&m, &run);
    assert_eq!(all.len(), 1);
    assert_eq!(calls(&sb, "inspector2:ListFindings"), 0);
}

fn admin_scenario(hub_admin_of: Option<&str>, member_org: Option<&str>) -> serde_json::Value {
    let mut doc = v2_account(json!({"findings": {"generate": {"count": 20, "seed": 5}}}));
    doc["hub"]["inspectorDelegatedAdmin"] = json!(true);
    if let Some(org) = hub_admin_of {
        doc["hub"]["delegatedAdminOf"] = json!(org);
    }
    if let Some(org) = member_org {
        doc["accounts"][0]["organization"] = json!(org);
    }
    doc
}

#[test]
fn a_delegated_admin_reads_its_members_findings_without_their_role() {
    let org = "o-abcdef1234";
    let sb = sandbox("v2-admin", admin_scenario(Some(org), Some(org)));
    let (m, run) = started(&sb);
    assert_eq!(calls(&sb, "inspector2:GetMember"), 1);
    sb.reset_api_calls();
    let reader = pollster::block_on(sb.reader(&run)).expect("reader");
    let (all, _) = all_findings(&reader, &run);
    assert_eq!(all, all_findings(&m, &run).0);
    assert!(!all.is_empty());
    let cov = pollster::block_on(reader.coverage(&run)).expect("coverage");
    assert_eq!(cov.scanned, ["i-0123456789abcdef0"]);
    // What the member role serves is refused to the reader.
    assert_eq!(
        pollster::block_on(reader.settings())
            .expect_err("no role")
            .error_type(),
        "Internal"
    );
    // The reader assumed no role; the member above did once.
    assert_eq!(calls(&sb, "sts:AssumeRole"), 0);
}

#[test]
fn a_hub_that_is_not_the_members_delegated_admin_is_told_so() {
    for (name, admin_of, member_org, answer) in [
        (
            "v2-admin-none",
            None,
            Some("o-abcdef1234"),
            "AccessDeniedException",
        ),
        (
            "v2-admin-other-org",
            Some("o-abcdef1234"),
            Some("o-zzzzzz9999"),
            "ResourceNotFoundException",
        ),
        (
            "v2-admin-standalone",
            Some("o-abcdef1234"),
            None,
            "ResourceNotFoundException",
        ),
    ] {
        let sb = sandbox(name, admin_scenario(admin_of, member_org));
        let m = member(&sb);
        let s = settings(&m);
        let err = pollster::block_on(m.start_scan(&s, "exec-1")).expect_err(name);
        assert_eq!(err.error_type(), "NotFound", "{name}");
        let text = err.to_string();
        assert!(
            text.contains(answer) && text.contains("InspectorDelegatedAdmin"),
            "{text}"
        );
        // Reading anyway shows nothing of the account, as AWS does.
        let run = run_for(Engine::Inspector2, "exec-1", s.tag.clone());
        let reader = pollster::block_on(sb.reader(&run)).expect("reader");
        assert!(
            pollster::block_on(reader.coverage(&run))
                .expect("coverage")
                .scanned
                .is_empty()
        );
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
    assert_eq!(calls(&sb, "inspector2:ListFindings"), 0);

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
    let n = normalize_inspector2(f.clone()).expect("normalizes");
    assert_eq!(n.severity, Severity::Untriaged);
    assert_eq!(n.region, "eu-west-1");
    assert_eq!(n.fix_available, Some(true));
    assert_eq!(n.recommendation, "Upgrade");
    assert_eq!(n.instance_id.as_deref(), Some("i-0123456789abcdef0"));
    for (label, expected) in [("YES", Some(true)), ("NO", Some(false))] {
        let mut g = f.clone();
        g.fix_available = Some(label.into());
        assert_eq!(
            normalize_inspector2(g.clone()).expect("ok").fix_available,
            expected
        );
    }
    let mut g = f;
    g.fix_available = None;
    assert_eq!(
        normalize_inspector2(g.clone()).expect("ok").fix_available,
        None
    );
}

#[test]
fn a_govcloud_account_gets_govcloud_arns() {
    let region = "us-gov-west-1";
    let sb = sandbox(
        "v2-govcloud",
        one_account(json!({
            "region": region,
            "settings": {"engine": "inspector2", "durationSeconds": 180},
            "findings": {"list": [{"instanceId": "i-0123456789abcdef0",
                "vulnerabilityId": "CVE-2024-6387", "severity": "HIGH",
                "packageName": "openssh", "packageVersion": "8.7p1"}]}
        })),
    );
    let m = pollster::block_on(sb.member(ACCT, region, "exec-1")).expect("member");
    let started = pollster::block_on(m.start_scan(&settings(&m), "exec-1")).expect("start");
    let mut run = run_for(Engine::Inspector2, &started.run_id, None);
    run.region = region.into();
    let (findings, _) = all_findings(&m, &run);
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0]
            .id
            .starts_with("arn:aws-us-gov:inspector2:us-gov-west-1:111122223333:finding/"),
        "{}",
        findings[0].id
    );
}
