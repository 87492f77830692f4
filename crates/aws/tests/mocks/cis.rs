//! Inspector v2 CIS scans: the one-time scan start-run creates (through the role and as the
//! delegated administrator), the status check-status reads from it, the coverage it reached,
//! and its failed checks delivered after the vulnerability findings, page by page, with the
//! cursor carried from one invocation to the next.

use aws_sdk_inspector2::Client;
use aws_sdk_inspector2::types::{
    CisFindingStatus, CisSecurityLevel, ListCisScansDetailLevel, Schedule,
};
use aws_smithy_mocks::{MockResponse, mock};
use scanflow_core::model::{CIS_NOT_CHECKED_KEPT, CisLevel, CisOutcome, FindingKind, Severity};
use scanflow_core::ports::RunStatus;
use scanflow_core::state::{CisRun, Run};
use serde_json::json;

use crate::inspector2::{LISTING, listing, no_s3, settings, tag, v2, v2_admin};
use crate::{ACCOUNT, REGION, Seen, client, json, json_error};

const CONFIG: &str =
    "arn:aws:inspector2:eu-west-1:111122223333:owner/111122223333/cis-configuration/c-1";
const SCAN: &str = "arn:aws:inspector2:eu-west-1:111122223333:owner/111122223333/cis-scan/\
                    0f0e0d0c-0000-4000-8000-000000000001";
/// 2026-11-28T10:00:00Z.
const SCAN_DATE: i64 = 1_795_860_000;

/// A listing run with a LEVEL_1 CIS scan.
fn cis_run() -> Run {
    Run {
        cis: Some(CisRun {
            level: CisLevel::Level1,
            configuration_arn: CONFIG.into(),
        }),
        ..listing(Some(tag()))
    }
}

fn scan(status: &str, date: i64) -> serde_json::Value {
    json!({"scanArn": SCAN, "scanConfigurationArn": CONFIG, "status": status,
           "scanDate": date, "scanName": LISTING, "securityLevel": "LEVEL_1"})
}

/// `ListCisScans` answering one scan in `status`.
fn scans(status: &'static str) -> aws_smithy_mocks::Rule {
    mock!(Client::list_cis_scans)
        .then_http_response(move || json(json!({"scans": [scan(status, SCAN_DATE)]})))
}

/// `ListCisScanConfigurations` finding no configuration of the name: a first attempt.
fn none_configured() -> aws_smithy_mocks::Rule {
    mock!(Client::list_cis_scan_configurations)
        .then_http_response(|| json(json!({"scanConfigurations": []})))
}

fn target(id: &str, status: &str, reason: Option<&str>, failed: i32) -> serde_json::Value {
    let mut t = json!({"scanArn": SCAN, "targetResourceId": id, "accountId": ACCOUNT,
        "targetResourceTags": {"Patch": ["Scan", "other"]}, "platform": "AMAZON_LINUX_2",
        "statusCounts": {"failed": failed, "passed": 10, "skipped": 1}, "targetStatus": status});
    if let Some(reason) = reason {
        t["targetStatusReason"] = json!(reason);
    }
    t
}

fn check(instance: &str, id: &str, level: &str) -> serde_json::Value {
    json!({"scanArn": SCAN, "accountId": ACCOUNT, "targetResourceId": instance,
        "platform": "AMAZON_LINUX_2", "status": "FAILED", "checkId": id,
        "title": format!("Ensure {id} is configured"), "checkDescription": "why it matters",
        "remediation": "how to fix it", "level": level,
        "findingArn": format!("arn:aws:inspector2:eu-west-1:{ACCOUNT}:finding/{instance}-{id}")})
}

#[tokio::test]
async fn the_scan_is_one_time_for_the_tag_and_self_through_the_role() {
    let seen = Seen::new();
    let s = seen.clone();
    let create = mock!(Client::create_cis_scan_configuration).then_compute_response(move |r| {
        let targets = r.targets().expect("targets");
        s.push((
            r.scan_name().map(str::to_owned),
            r.security_level().cloned(),
            matches!(r.schedule(), Some(Schedule::OneTime(_))),
            targets.account_ids().to_vec(),
            targets.target_resource_tags().clone(),
            r.tags().is_some(),
        ));
        MockResponse::Http(json(json!({"scanConfigurationArn": CONFIG})))
    });
    let listed = none_configured();
    let c = v2(client!(aws_sdk_inspector2, [&listed, &create]), no_s3());
    let arn = c
        .start_cis_scan(&settings(Some(tag())), CisLevel::Level2, &"x".repeat(129))
        .await
        .expect("created");
    assert_eq!(arn, CONFIG);
    let (name, level, one_time, accounts, tags, tagged) = seen.all().remove(0);
    let name = name.expect("a name");
    assert_eq!(name.chars().count(), 128, "the name is cut to 128: {name}");
    assert!(name.starts_with(&"x".repeat(127)), "{name}");
    assert_eq!(level, Some(CisSecurityLevel::Level2));
    assert!(one_time, "schedule.oneTime");
    assert_eq!(accounts, ["SELF"]);
    assert_eq!(tags.len(), 1);
    assert_eq!(
        tags.get("Patch").map(Vec::as_slice),
        Some(&["Scan".to_owned()][..])
    );
    assert!(
        !tagged,
        "no tags on the configuration: the role has no inspector2:TagResource"
    );

    // As the delegated administrator, the member account is named.
    let admin = v2_admin(client!(aws_sdk_inspector2, [&listed, &create]));
    admin
        .start_cis_scan(&settings(Some(tag())), CisLevel::Level1, LISTING)
        .await
        .expect("created as admin");
    let (_, level, _, accounts, _, _) = seen.all().remove(1);
    assert_eq!(accounts, [ACCOUNT]);
    assert_eq!(level, Some(CisSecurityLevel::Level1));

    // No tag: refused before any call (start-run checks first; this is a bug, not input).
    let err = c
        .start_cis_scan(&settings(None), CisLevel::Level1, LISTING)
        .await
        .expect_err("no tag");
    assert_eq!(err.error_type(), "Internal", "{err}");
    assert_eq!(create.num_calls(), 2);
}

#[tokio::test]
async fn a_retried_start_follows_the_scan_its_first_attempt_created() {
    let seen = Seen::new();
    let s = seen.clone();
    let listed = mock!(Client::list_cis_scan_configurations).then_compute_response(move |r| {
        let names: Vec<String> = r
            .filter_criteria()
            .map(|f| {
                f.scan_name_filters()
                    .iter()
                    .map(|n| n.value().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        s.push(names);
        let token = r.next_token().map(str::to_owned);
        MockResponse::Http(json(match token.as_deref() {
            // A first page with a near miss (a name the filter matched by prefix, say).
            None => json!({"scanConfigurations": [{"scanConfigurationArn": "arn:other",
                "scanName": format!("{LISTING}-2")}], "nextToken": "p2"}),
            _ => json!({"scanConfigurations": [{"scanConfigurationArn": CONFIG,
                "scanName": LISTING}]}),
        }))
    });
    let create = mock!(Client::create_cis_scan_configuration)
        .then_http_response(|| json(json!({"scanConfigurationArn": "arn:second"})));
    let c = v2(client!(aws_sdk_inspector2, [&listed, &create]), no_s3());
    let arn = c
        .start_cis_scan(&settings(Some(tag())), CisLevel::Level1, LISTING)
        .await
        .expect("followed");
    assert_eq!(
        arn, CONFIG,
        "the first attempt's configuration, found on page 2"
    );
    assert_eq!(create.num_calls(), 0, "no second scan");
    assert_eq!(seen.all()[0], [LISTING.to_owned()], "looked up by its name");
}

#[tokio::test]
async fn starting_is_retried_when_throttled_and_a_denial_names_the_action() {
    let throttled = mock!(Client::create_cis_scan_configuration)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException", "slow down"))
        .http_response(|| json(json!({"scanConfigurationArn": CONFIG})))
        .build();
    let listed = none_configured();
    let c = v2(client!(aws_sdk_inspector2, [&listed, &throttled]), no_s3());
    let arn = c
        .start_cis_scan(&settings(Some(tag())), CisLevel::Level1, LISTING)
        .await
        .expect("retried");
    assert_eq!(arn, CONFIG);
    assert_eq!(throttled.num_calls(), 2);

    let denied = mock!(Client::create_cis_scan_configuration).then_http_response(|| {
        json_error(
            403,
            "AccessDeniedException",
            "User is not authorized to perform: inspector2:CreateCisScanConfiguration",
        )
    });
    let c = v2(client!(aws_sdk_inspector2, [&listed, &denied]), no_s3());
    let err = c
        .start_cis_scan(&settings(Some(tag())), CisLevel::Level1, LISTING)
        .await
        .expect_err("denied");
    assert_eq!(err.error_type(), "AccessDenied", "{err}");
    assert!(
        err.to_string()
            .contains("inspector2:CreateCisScanConfiguration"),
        "{err}"
    );

    let denied = mock!(Client::list_cis_scans)
        .then_http_response(|| json_error(403, "AccessDeniedException", "not authorized"));
    let c = v2(client!(aws_sdk_inspector2, [&denied]), no_s3());
    let err = c.run_status(&cis_run()).await.expect_err("denied");
    assert_eq!(err.error_type(), "AccessDenied", "{err}");
    assert!(err.to_string().contains("inspector2:ListCisScans"), "{err}");
}

#[tokio::test]
async fn the_run_waits_for_the_scan_and_a_failed_scan_ends_the_wait() {
    let running = |state: &str| RunStatus::Running {
        state: state.into(),
    };
    let done = |state: &str| RunStatus::Succeeded {
        state: state.into(),
    };
    for (answer, expected) in [
        (json!({"scans": []}), running("CIS_IN_PROGRESS")),
        (
            json!({"scans": [scan("IN_PROGRESS", SCAN_DATE)]}),
            running("CIS_IN_PROGRESS"),
        ),
        (
            json!({"scans": [scan("COMPLETED", SCAN_DATE)]}),
            done("COMPLETED"),
        ),
        (
            json!({"scans": [scan("FAILED", SCAN_DATE)]}),
            done("CIS_FAILED"),
        ),
        (
            json!({"scans": [scan("CANCELLED", SCAN_DATE)]}),
            done("CIS_CANCELLED"),
        ),
    ] {
        let seen = Seen::new();
        let s = seen.clone();
        let body = answer.clone();
        let list = mock!(Client::list_cis_scans).then_compute_response(move |r| {
            s.push((
                format!("{:?}", r.filter_criteria()),
                r.detail_level().cloned(),
            ));
            MockResponse::Http(json(body.clone()))
        });
        let c = v2(client!(aws_sdk_inspector2, [&list]), no_s3());
        assert_eq!(
            c.run_status(&cis_run()).await.expect("status"),
            expected,
            "{answer}"
        );
        let (filter, detail) = seen.all().remove(0);
        assert!(
            filter.contains(CONFIG) && filter.contains("scan_configuration_arn_filters"),
            "{filter}"
        );
        assert_eq!(detail, Some(ListCisScansDetailLevel::Member));
    }

    // Several scans over two pages: the newest decides. As the delegated admin the scans are
    // listed at the organisation's detail level.
    let detail = Seen::new();
    let d = detail.clone();
    let pages = mock!(Client::list_cis_scans).then_compute_response(move |r| {
        d.push(r.detail_level().cloned());
        MockResponse::Http(match r.next_token() {
            None => json(json!({"scans": [scan("FAILED", SCAN_DATE - 3600)], "nextToken": "p2"})),
            Some(_) => json(json!({"scans": [scan("IN_PROGRESS", SCAN_DATE)]})),
        })
    });
    let c = v2_admin(client!(aws_sdk_inspector2, [&pages]));
    assert_eq!(
        c.run_status(&cis_run()).await.expect("status"),
        running("CIS_IN_PROGRESS")
    );
    assert_eq!(pages.num_calls(), 2);
    assert_eq!(
        detail.all(),
        vec![Some(ListCisScansDetailLevel::Organization); 2]
    );

    // Without a CIS scan nothing is asked.
    let c = v2(client!(aws_sdk_inspector2, [&pages]), no_s3());
    assert_eq!(
        c.run_status(&listing(None)).await.expect("status"),
        done("CONTINUOUS")
    );
    assert_eq!(pages.num_calls(), 2);
}

/// The CIS part of [`cis_run`]'s coverage.
async fn cis_coverage(
    c: &scanflow_aws::inspector2::Inspector2,
) -> scanflow_core::model::CisCoverage {
    c.coverage(&cis_run())
        .await
        .expect("coverage")
        .cis
        .expect("cis")
}

fn covered_instance(id: &str) -> serde_json::Value {
    json!({"resourceType": "AWS_EC2_INSTANCE", "resourceId": id, "accountId": ACCOUNT,
           "scanType": "PACKAGE", "scanStatus": {"statusCode": "ACTIVE", "reason": "SUCCESSFUL"}})
}

#[tokio::test]
async fn coverage_says_which_instances_the_scan_checked_and_why_not_the_others() {
    let instances = mock!(Client::list_coverage).then_http_response(|| {
        json(json!({"coveredResources": [covered_instance("i-1"), covered_instance("i-2")]}))
    });
    let completed = scans("COMPLETED");
    let filters = Seen::new();
    let f = filters.clone();
    let targets = mock!(Client::list_cis_scan_results_aggregated_by_target_resource)
        .then_compute_response(move |r| {
            f.push((
                r.scan_arn().map(str::to_owned),
                format!("{:?}", r.filter_criteria()),
                r.max_results(),
            ));
            MockResponse::Http(match r.next_token() {
                None => json(json!({"targetResourceAggregations": [
                    target("i-1", "COMPLETED", None, 3),
                    target("i-2", "COMPLETED", None, 0)], "nextToken": "t2"})),
                Some(_) => json(json!({"targetResourceAggregations": [
                    target("i-3", "CANCELLED", Some("SSM_UNMANAGED"), 0),
                    target("i-4", "TIMED_OUT", None, 0)]})),
            })
        });
    let c = v2(
        client!(aws_sdk_inspector2, [&instances, &completed, &targets]),
        no_s3(),
    );
    let coverage = c.coverage(&cis_run()).await.expect("coverage");
    assert_eq!(coverage.scanned, ["i-1", "i-2"]);
    let cis = coverage.cis.expect("the CIS part");
    assert_eq!(cis.level, CisLevel::Level1);
    assert_eq!(cis.scan_arn.as_deref(), Some(SCAN));
    assert_eq!(cis.outcome, CisOutcome::Completed);
    assert_eq!((cis.checked, cis.failing), (2, 1));
    let not: Vec<_> = cis
        .not_checked
        .iter()
        .map(|u| (u.instance_id.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(not, [("i-3", "SSM_UNMANAGED"), ("i-4", "TIMED_OUT")]);
    assert!(
        cis.not_checked[0].remedy.contains("SSM managed"),
        "{:?}",
        cis.not_checked
    );
    assert!(
        cis.not_checked[1].remedy.contains("Duration"),
        "{:?}",
        cis.not_checked
    );
    assert_eq!(cis.not_checked_total, 2);
    let (arn, filter, max) = filters.all().remove(0);
    assert_eq!(arn.as_deref(), Some(SCAN));
    assert!(
        filter.contains("account_id_filters") && filter.contains(ACCOUNT),
        "{filter}"
    );
    assert_eq!(max, Some(scanflow_core::cis::TARGETS_PAGE_MAX));

    // A scan that failed: its outcome, and no targets asked for.
    let failed = scans("FAILED");
    let c = v2(
        client!(aws_sdk_inspector2, [&instances, &failed, &targets]),
        no_s3(),
    );
    let cis = cis_coverage(&c).await;
    assert!(
        matches!(&cis.outcome, CisOutcome::Failed { status, .. } if status == "FAILED"),
        "{:?}",
        cis.outcome
    );
    assert_eq!((cis.checked, cis.not_checked_total), (0, 0));
    assert_eq!(
        targets.num_calls(),
        2,
        "only the completed scan's two pages"
    );

    // Not listed yet: not finished, no ARN.
    let none = mock!(Client::list_cis_scans).then_http_response(|| json(json!({"scans": []})));
    let c = v2(client!(aws_sdk_inspector2, [&instances, &none]), no_s3());
    let cis = cis_coverage(&c).await;
    assert_eq!((cis.outcome, cis.scan_arn), (CisOutcome::NotFinished, None));
}

#[tokio::test]
async fn unchecked_instances_are_listed_up_to_the_limit_and_all_counted() {
    let instances = mock!(Client::list_coverage)
        .then_http_response(|| json(json!({"coveredResources": [covered_instance("i-1")]})));
    let completed = scans("COMPLETED");
    for total in [CIS_NOT_CHECKED_KEPT, CIS_NOT_CHECKED_KEPT + 1] {
        // Pages of at most 100, as the service sends them.
        let targets = mock!(Client::list_cis_scan_results_aggregated_by_target_resource)
            .then_compute_response(move |r| {
                let start: usize = r.next_token().map_or(0, |t| t.parse().expect("ours"));
                let end = total.min(start + 100);
                let page: Vec<_> = (start..end)
                    .map(|i| target(&format!("i-{i:04}"), "CANCELLED", Some("UNSUPPORTED_OS"), 0))
                    .collect();
                let mut body = json!({"targetResourceAggregations": page});
                if end < total {
                    body["nextToken"] = json!(end.to_string());
                }
                MockResponse::Http(json(body))
            });
        let c = v2(
            client!(aws_sdk_inspector2, [&instances, &completed, &targets]),
            no_s3(),
        );
        let cis = cis_coverage(&c).await;
        assert_eq!(cis.not_checked.len(), CIS_NOT_CHECKED_KEPT, "{total}");
        assert_eq!(cis.not_checked_total, total as u64);
        assert_eq!(cis.checked, 0);
    }
}

/// One call of `findings_page`, as one collect-findings invocation makes it: a new adapter
/// each time, sharing the mocks.
async fn page_of(
    rules: &[&aws_smithy_mocks::Rule],
    cursor: Option<String>,
) -> scanflow_core::ports::FindingsPage {
    let c = v2(
        aws_smithy_mocks::mock_client!(
            aws_sdk_inspector2,
            aws_smithy_mocks::RuleMode::MatchAny,
            rules,
            |c| c.retry_config(crate::fast_retry())
        ),
        no_s3(),
    );
    c.findings_page(&cis_run(), cursor).await.expect("page")
}

#[tokio::test]
async fn failed_checks_follow_the_vulnerabilities_one_details_page_a_call() {
    let vulnerabilities = mock!(Client::list_findings).then_http_response(|| {
        json(json!({"findings": [{
            "findingArn": format!("arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/v1"),
            "awsAccountId": ACCOUNT, "type": "PACKAGE_VULNERABILITY", "severity": "HIGH",
            "title": "CVE-2024-1 - openssl", "description": "d", "status": "ACTIVE",
            "resources": [{"type": "AWS_EC2_INSTANCE", "id": "i-1"}],
            "firstObservedAt": 1_764_000_000, "lastObservedAt": 1_764_100_000}]}))
    });
    let completed = scans("COMPLETED");
    let targets = mock!(Client::list_cis_scan_results_aggregated_by_target_resource)
        .then_compute_response(|r| {
            MockResponse::Http(match r.next_token() {
                None => json(json!({"targetResourceAggregations": [
                    target("i-1", "COMPLETED", None, 3),
                    target("i-2", "COMPLETED", None, 0)], "nextToken": "t2"})),
                Some(_) => json(json!({"targetResourceAggregations": [
                    target("i-3", "COMPLETED", None, 1)]})),
            })
        });
    let asked = Seen::new();
    let a = asked.clone();
    let details = mock!(Client::get_cis_scan_result_details).then_compute_response(move |r| {
        let instance = r.target_resource_id().unwrap_or_default().to_owned();
        let token = r.next_token().map(str::to_owned);
        let filter = r.filter_criteria().expect("a filter");
        let failed_only = filter.finding_status_filters().len() == 1
            && *filter.finding_status_filters()[0].value() == CisFindingStatus::Failed;
        a.push((
            instance.clone(),
            token.clone(),
            r.account_id().map(str::to_owned),
            r.scan_arn().map(str::to_owned),
            r.max_results(),
            failed_only,
        ));
        MockResponse::Http(match (instance.as_str(), token.as_deref()) {
            ("i-1", None) => json(json!({"scanResultDetails": [
                check("i-1", "1.1.1", "LEVEL_1"), check("i-1", "1.1.2", "LEVEL_2")],
                "nextToken": "d2"})),
            ("i-1", Some("d2")) => {
                json(json!({"scanResultDetails": [check("i-1", "5.2.1", "LEVEL_1")]}))
            }
            ("i-3", None) => json(json!({"scanResultDetails": [check("i-3", "1.1.1", "LEVEL_1")]})),
            other => panic!("unexpected details request {other:?}"),
        })
    });
    let rules = [&vulnerabilities, &completed, &targets, &details];

    let mut cursor = None;
    let mut pages = Vec::new();
    let mut cursors = Vec::new();
    loop {
        let page = page_of(&rules, cursor).await;
        pages.push(page.findings);
        cursor = page.next;
        match &cursor {
            Some(c) => cursors.push(c.clone()),
            None => break,
        }
        assert!(pages.len() < 10, "the pages end");
    }
    let sizes: Vec<_> = pages.iter().map(Vec::len).collect();
    // Vulnerabilities; i-1's two details pages; i-3 (i-2 passes every check).
    assert_eq!(sizes, [1, 2, 1, 1]);
    assert!(cursors.iter().all(|c| c.starts_with("cis:")), "{cursors:?}");
    assert_eq!(
        completed.num_calls(),
        1,
        "the scan is found once, then carried"
    );
    let asked: Vec<_> = asked
        .all()
        .into_iter()
        .map(|(i, t, account, scan, max, failed_only)| {
            assert_eq!(account.as_deref(), Some(ACCOUNT));
            assert_eq!(scan.as_deref(), Some(SCAN));
            assert_eq!(max, Some(scanflow_core::cis::DETAILS_PAGE_MAX));
            assert!(failed_only, "FAILED checks only");
            (i, t)
        })
        .collect();
    assert_eq!(
        asked,
        [
            ("i-1".to_owned(), None),
            ("i-1".to_owned(), Some("d2".to_owned())),
            ("i-3".to_owned(), None)
        ]
    );

    // One invocation walking every page reads each targets page once (a new adapter per page,
    // above, must read it again).
    let apart = targets.num_calls();
    let c = v2(
        aws_smithy_mocks::mock_client!(
            aws_sdk_inspector2,
            aws_smithy_mocks::RuleMode::MatchAny,
            &rules,
            |c| c.retry_config(crate::fast_retry())
        ),
        no_s3(),
    );
    let mut cursor = None;
    let mut again = Vec::new();
    loop {
        let page = c.findings_page(&cis_run(), cursor).await.expect("page");
        again.push(page.findings.len());
        cursor = page.next;
        if cursor.is_none() || again.len() >= 10 {
            break;
        }
    }
    assert_eq!(again, sizes, "the same pages");
    assert!(apart > 2, "{apart}");
    assert_eq!(
        targets.num_calls() - apart,
        2,
        "two targets pages, each read once"
    );

    let cis: Vec<_> = pages.into_iter().skip(1).flatten().collect();
    let ids: Vec<_> = cis
        .iter()
        .map(|f| f.vulnerability_id.clone().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["CIS 1.1.1", "CIS 1.1.2", "CIS 5.2.1", "CIS 1.1.1"]);
    let first = &cis[0];
    assert_eq!(first.instance_id.as_deref(), Some("i-1"));
    assert_eq!(first.account_id, ACCOUNT);
    assert_eq!(first.region, REGION);
    assert_eq!(first.severity, Severity::Medium, "a failed Level 1 check");
    assert_eq!(cis[1].severity, Severity::Low, "a failed Level 2 check");
    assert_eq!(
        first.instance_tags.get("Patch").map(String::as_str),
        Some("Scan"),
        "the tag's first value"
    );
    assert_eq!(first.first_seen.as_deref(), Some("2026-11-28T10:00:00Z"));
    assert_eq!(first.recommendation, "how to fix it");
    let detail = first.detail.as_ref().expect("detail");
    assert_eq!(detail.kind, FindingKind::Cis);
    let check = detail.cis.as_ref().expect("the check");
    assert_eq!(
        (check.check_id.as_str(), check.scan_arn.as_str()),
        ("1.1.1", SCAN)
    );
    assert_eq!(
        detail.instance.as_ref().and_then(|i| i.platform.as_deref()),
        Some("AMAZON_LINUX_2")
    );

    // Any cursor resumes where it points, in a new invocation: the last one gives i-3.
    let again = page_of(&rules, cursors.last().cloned()).await;
    assert_eq!(again.findings.len(), 1);
    assert_eq!(again.findings[0].instance_id.as_deref(), Some("i-3"));
    assert!(again.next.is_none());
}

#[tokio::test]
async fn a_scan_that_did_not_complete_gives_no_checks_and_details_are_retried() {
    let vulnerabilities =
        mock!(Client::list_findings).then_http_response(|| json(json!({"findings": []})));
    let targets = mock!(Client::list_cis_scan_results_aggregated_by_target_resource)
        .then_http_response(|| {
            json(json!({"targetResourceAggregations": [target("i-1", "COMPLETED", None, 1)]}))
        });
    for status in ["IN_PROGRESS", "FAILED"] {
        let listed = scans(status);
        let rules = [&vulnerabilities, &listed, &targets];
        let first = page_of(&rules, None).await;
        assert!(first.findings.is_empty());
        let page = page_of(&rules, first.next).await;
        assert!(page.findings.is_empty() && page.next.is_none(), "{status}");
    }
    assert_eq!(targets.num_calls(), 0);

    // Throttled details are asked again.
    let completed = scans("COMPLETED");
    let details = mock!(Client::get_cis_scan_result_details)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException", "slow down"))
        .http_response(|| json(json!({"scanResultDetails": [check("i-1", "1.1.1", "LEVEL_1")]})))
        .build();
    let rules = [&vulnerabilities, &completed, &targets, &details];
    let first = page_of(&rules, None).await;
    let page = page_of(&rules, first.next).await;
    assert_eq!(page.findings.len(), 1);
    assert!(page.next.is_none());
    assert_eq!(details.num_calls(), 2);
}

#[tokio::test]
async fn a_cis_cursor_is_refused_for_a_run_without_a_cis_scan() {
    let unused = mock!(Client::list_findings).then_http_response(|| json(json!({"findings": []})));
    let c = v2(client!(aws_sdk_inspector2, [&unused]), no_s3());
    // The end of the vulnerabilities of a run without CIS is the end.
    let page = c.findings_page(&listing(None), None).await.expect("page");
    assert!(page.next.is_none());
    let err = c
        .findings_page(&listing(None), Some("cis:{}".into()))
        .await
        .expect_err("no CIS scan");
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert_eq!(unused.num_calls(), 1);
}
