//! Inspector v2: coverage pre-flight (and the delegated administrator's membership check),
//! listing runs read with `ListFindings` page by page, findings reports recorded before
//! (status, the report object streamed in pages and resumed with a ranged GET), and coverage.

use aws_sdk_inspector2::Client;
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::Object;
use aws_smithy_mocks::{MockResponse, mock};
use scanflow_aws::error::Scope;
use scanflow_aws::inspector2::ReportDestination;
use scanflow_aws::inspector2::{Inspector2, REPORT_PAGE};
use scanflow_core::ScanError;
use scanflow_core::model::{AccountSettings, Engine, Severity, Tag};
use scanflow_core::ports::RunStatus;
use scanflow_core::state::Run;
use serde_json::json;

use crate::{ACCOUNT, REGION, Seen, client, json, json_error, scope};

const BUCKET: &str = "hub-reports";
const KMS: &str = "arn:aws:kms:eu-west-1:999999999999:key/k-1";
const REPORT: &str = "8f2c1e4a-0000-4000-8000-000000000001";

fn destination() -> ReportDestination {
    ReportDestination {
        hub: Scope::new("999999999999", REGION),
        bucket: BUCKET.into(),
        kms_key_arn: KMS.into(),
    }
}

pub(crate) fn tag() -> Tag {
    Tag {
        key: "Patch".into(),
        value: "Scan".into(),
    }
}

pub(crate) fn v2(inspector: Client, s3: aws_sdk_s3::Client) -> Inspector2 {
    Inspector2::new(inspector, s3, scope(), destination(), false)
}

/// As the hub reads when it is the delegated administrator (its own credentials).
pub(crate) fn v2_admin(inspector: Client) -> Inspector2 {
    Inspector2::new(inspector, no_s3(), scope(), destination(), true)
}

pub(crate) fn settings(tag: Option<Tag>) -> AccountSettings {
    AccountSettings {
        engine: Engine::Inspector2,
        tag,
        duration_seconds: 3600,
        assessment_template_arn: None,
        schedule: None,
        sla_days: None,
        cis: None,
    }
}

/// A listing run: named after its execution, not a report id.
pub(crate) fn listing(tag: Option<Tag>) -> Run {
    Run {
        run_id: LISTING.into(),
        ..run(tag)
    }
}

pub(crate) const LISTING: &str = "scanflow-exec-1";

pub(crate) fn no_s3() -> aws_sdk_s3::Client {
    let unused = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    client!(aws_sdk_s3, [&unused])
}

fn run(tag: Option<Tag>) -> Run {
    Run {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        engine: Engine::Inspector2,
        run_id: REPORT.into(),
        tag,
        duration_seconds: 3600,
        started_at: "2026-11-28T10:00:00Z".into(),
        deadline: "2026-11-28T12:00:00Z".into(),
        wait_seconds: 60,
        rerun: false,
        execution: "exec-1".into(),
        adopted: false,
        scheduled_at: None,
        sla_days: None,
        v2_readiness: None,
        cis: None,
    }
}

fn covered(id: &str, scan_type: &str, status: &str, reason: &str) -> serde_json::Value {
    json!({"resourceType": "AWS_EC2_INSTANCE", "resourceId": id, "accountId": ACCOUNT,
           "scanType": scan_type, "scanStatus": {"statusCode": status, "reason": reason}})
}

#[tokio::test]
async fn start_checks_coverage_and_names_the_run_after_the_execution() {
    let coverage_filters = Seen::new();
    let cf = coverage_filters.clone();
    let coverage = mock!(Client::list_coverage).then_compute_response(move |r| {
        cf.push(format!("{:?}", r.filter_criteria()));
        MockResponse::Http(json(json!({"coveredResources": [
            covered("i-1", "PACKAGE", "ACTIVE", "SUCCESSFUL")]})))
    });
    let member = mock!(Client::get_member).then_http_response(|| json(json!({})));
    let c = v2(client!(aws_sdk_inspector2, [&coverage, &member]), no_s3());
    let started = c
        .start_scan(&settings(Some(tag())), LISTING)
        .await
        .expect("started");
    assert_eq!(started.run_id, LISTING);
    assert!(!started.adopted);
    assert_eq!(
        member.num_calls(),
        0,
        "no membership check through the role"
    );
    let cov = &coverage_filters.all()[0];
    for needle in [
        ACCOUNT,
        "AWS_EC2_INSTANCE",
        "Patch",
        "Scan",
        "ec2_instance_tags",
    ] {
        assert!(
            cov.contains(needle),
            "coverage filter lacks {needle}: {cov}"
        );
    }
    // Nothing to wait for, and no call to find that out.
    assert_eq!(
        c.run_status(&listing(None)).await.expect("status"),
        RunStatus::Succeeded {
            state: "CONTINUOUS".into()
        }
    );
    assert_eq!(coverage.num_calls(), 1);
}

#[tokio::test]
async fn a_delegated_admin_checks_the_membership_first() {
    let coverage = mock!(Client::list_coverage).then_http_response(|| {
        json(json!({"coveredResources": [covered("i-1", "PACKAGE", "ACTIVE", "SUCCESSFUL")]}))
    });
    let seen = Seen::new();
    let s = seen.clone();
    let enabled = mock!(Client::get_member).then_compute_response(move |r| {
        s.push(r.account_id().map(str::to_owned));
        MockResponse::Http(json(json!({"member": {"accountId": ACCOUNT,
            "relationshipStatus": "ENABLED", "delegatedAdminAccountId": "999999999999"}})))
    });
    let c = v2_admin(client!(aws_sdk_inspector2, [&enabled, &coverage]));
    c.start_scan(&settings(None), LISTING)
        .await
        .expect("member");
    assert_eq!(seen.all(), [Some(ACCOUNT.to_owned())]);
    assert_eq!(coverage.num_calls(), 1);

    let throttled = mock!(Client::get_member)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException", "slow"))
        .http_response(|| {
            json(json!({"member": {"accountId": ACCOUNT, "relationshipStatus": "ENABLED"}}))
        })
        .build();
    let c = v2_admin(client!(aws_sdk_inspector2, [&throttled, &coverage]));
    c.start_scan(&settings(None), LISTING)
        .await
        .expect("retried");
    assert_eq!(throttled.num_calls(), 2);

    let invited = json!({"member": {"accountId": ACCOUNT, "relationshipStatus": "INVITED"}});
    for (name, status, code) in [
        ("not the delegated admin", 403, "AccessDeniedException"),
        ("not a member", 404, "ResourceNotFoundException"),
        ("invited, not enabled", 200, ""),
    ] {
        let body = invited.clone();
        let answer = mock!(Client::get_member).then_http_response(move || {
            if status == 200 {
                json(body.clone())
            } else {
                json_error(status, code, name)
            }
        });
        let coverage = mock!(Client::list_coverage)
            .then_http_response(|| json(json!({"coveredResources": []})));
        let c = v2_admin(client!(aws_sdk_inspector2, [&answer, &coverage]));
        let err = c
            .start_scan(&settings(None), LISTING)
            .await
            .expect_err(name);
        assert_eq!(err.error_type(), "NotFound", "{name}: {err}");
        assert!(
            err.to_string().contains("InspectorDelegatedAdmin"),
            "{name}: {err}"
        );
        assert_eq!(coverage.num_calls(), 0, "{name}");
    }
}

#[tokio::test]
async fn nothing_covered_after_every_page_is_no_instances_matched() {
    let coverage = mock!(Client::list_coverage).then_compute_response(|r| {
        MockResponse::Http(match r.next_token() {
            None => json(json!({"coveredResources": [], "nextToken": "t2"})),
            Some(_) => json(json!({"coveredResources": []})),
        })
    });
    let c = v2(client!(aws_sdk_inspector2, [&coverage]), no_s3());
    let err = c
        .start_scan(&settings(None), LISTING)
        .await
        .expect_err("nothing");
    assert_eq!(err.error_type(), "NoInstancesMatched");
    assert_eq!(
        coverage.num_calls(),
        2,
        "empty first pages do not end the search"
    );
}

#[tokio::test]
async fn inspector_switched_off_is_inspector_disabled_and_other_denials_are_access_denied() {
    for (code, message, expected) in [
        (
            "AccessDeniedException",
            "Inspector2 is not enabled for this account",
            "InspectorDisabled",
        ),
        (
            "ValidationException",
            "Amazon Inspector is not enabled for EC2",
            "InspectorDisabled",
        ),
        (
            "AccessDeniedException",
            "User is not authorized to perform inspector2:ListCoverage",
            "AccessDenied",
        ),
    ] {
        let coverage =
            mock!(Client::list_coverage).then_http_response(move || json_error(403, code, message));
        let c = v2(client!(aws_sdk_inspector2, [&coverage]), no_s3());
        let err = c
            .start_scan(&settings(None), LISTING)
            .await
            .expect_err(message);
        assert_eq!(err.error_type(), expected, "{message}");
    }
}

#[tokio::test]
async fn report_status_maps_every_outcome() {
    let cases = [
        (
            json!({"reportId": REPORT, "status": "IN_PROGRESS"}),
            "running",
            "IN_PROGRESS",
        ),
        (
            json!({"reportId": REPORT, "status": "SUCCEEDED"}),
            "succeeded",
            "SUCCEEDED",
        ),
        (
            json!({"reportId": REPORT, "status": "FAILED", "errorCode": "NO_FINDINGS_FOUND",
                   "errorMessage": "none"}),
            "succeeded",
            "NO_FINDINGS_FOUND",
        ),
        (
            json!({"reportId": REPORT, "status": "FAILED", "errorCode": "INVALID_PERMISSIONS",
                   "errorMessage": "cannot write"}),
            "failed",
            "FAILED",
        ),
        (
            json!({"reportId": REPORT, "status": "CANCELLED"}),
            "failed",
            "CANCELLED",
        ),
    ];
    for (body, expected, state) in cases {
        let status = mock!(Client::get_findings_report_status)
            .match_requests(|r| r.report_id() == Some(REPORT))
            .then_http_response(move || json(body.clone()));
        let c = v2(client!(aws_sdk_inspector2, [&status]), no_s3());
        let got = c.run_status(&run(None)).await.expect(state);
        match (&got, expected) {
            (RunStatus::Running { state: s }, "running")
            | (RunStatus::Succeeded { state: s }, "succeeded") => assert_eq!(s, state),
            (RunStatus::Failed { state: s, detail }, "failed") => {
                assert_eq!(s, state);
                if state == "FAILED" {
                    assert!(detail.contains(BUCKET) && detail.contains("INVALID_PERMISSIONS"));
                }
            }
            other => panic!("{state}: {other:?}"),
        }
    }
    let throttled = mock!(Client::get_findings_report_status)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException", "slow"))
        .http_response(|| json(json!({"reportId": REPORT, "status": "SUCCEEDED"})))
        .build();
    let c = v2(client!(aws_sdk_inspector2, [&throttled]), no_s3());
    assert!(matches!(
        c.run_status(&run(None)).await,
        Ok(RunStatus::Succeeded { .. })
    ));
    assert_eq!(throttled.num_calls(), 2);
}

fn report_finding(i: usize) -> serde_json::Value {
    let severity = [
        "CRITICAL",
        "HIGH",
        "MEDIUM",
        "LOW",
        "INFORMATIONAL",
        "UNTRIAGED",
    ][i % 6];
    json!({
        "findingArn": format!("arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{i:032x}"),
        "awsAccountId": ACCOUNT, "type": "PACKAGE_VULNERABILITY",
        "severity": severity,
        "title": format!("CVE-2024-{i} - openssl"), "description": "d", "status": "ACTIVE",
        "resources": [{"type": "AWS_EC2_INSTANCE", "id": format!("i-{i:04}"), "tags": {"Patch": "Scan"}}],
        "packageVulnerabilityDetails": {"vulnerabilityId": format!("CVE-2024-{i}"), "source": "NVD"},
        "remediation": {"recommendation": {"text": "upgrade"}},
        "fixAvailable": "YES", "inspectorScore": 7.5,
        "firstObservedAt": "2026-11-01T00:00:00Z", "lastObservedAt": "2026-11-27T00:00:00Z"
    })
}

/// An S3 client holding one object under the report prefix; records the ranges asked for.
fn s3_with(
    key: &'static str,
    body: Vec<u8>,
    ranges: Seen<Option<String>>,
) -> (
    aws_sdk_s3::Client,
    aws_smithy_mocks::Rule,
    aws_smithy_mocks::Rule,
) {
    let list = mock!(aws_sdk_s3::Client::list_objects_v2)
        .match_requests(|r| r.bucket() == Some(BUCKET))
        .then_compute_output(move |r| {
            let prefix = r.prefix().unwrap_or_default().to_owned();
            assert_eq!(prefix, format!("inspector2-reports/{ACCOUNT}/{REGION}"));
            ListObjectsV2Output::builder()
                .contents(
                    Object::builder()
                        .key(format!("{prefix}/other-report.json"))
                        .build(),
                )
                .contents(Object::builder().key(key).build())
                .build()
        });
    let get = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(move |r| r.key() == Some(key))
        .then_compute_output(move |r| {
            ranges.push(r.range().map(str::to_owned));
            let start = r
                .range()
                .and_then(|h| h.strip_prefix("bytes="))
                .and_then(|h| h.strip_suffix('-'))
                .map_or(0, |s| s.parse::<usize>().expect("numeric range"));
            GetObjectOutput::builder()
                .body(ByteStream::from(body[start..].to_vec()))
                .build()
        });
    let client = client!(aws_sdk_s3, [&list, &get]);
    (client, list, get)
}

#[tokio::test]
async fn report_objects_are_read_in_pages_resumed_by_byte_offset() {
    const KEY: &str =
        "inspector2-reports/111122223333/eu-west-1/8f2c1e4a-0000-4000-8000-000000000001.json";
    let total = 2 * REPORT_PAGE + 500;
    let doc =
        json!({"reportId": REPORT, "findings": (0..total).map(report_finding).collect::<Vec<_>>()});
    let ranges = Seen::new();
    let (s3, list, _get) = s3_with(KEY, doc.to_string().into_bytes(), ranges.clone());
    let unused = mock!(Client::list_findings).then_http_response(|| json(json!({"findings": []})));
    let c = v2(client!(aws_sdk_inspector2, [&unused]), s3);

    let mut cursor = None;
    let mut pages = Vec::new();
    loop {
        let page = c.findings_page(&run(None), cursor).await.expect("page");
        pages.push(page.findings);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    let sizes: Vec<_> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [REPORT_PAGE, REPORT_PAGE, 500]);
    let all: Vec<_> = pages.into_iter().flatten().collect();
    let expected: Vec<_> = (0..total)
        .map(|i| format!("arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{i:032x}"))
        .collect();
    assert_eq!(
        all.iter().map(|f| f.id.clone()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(list.num_calls(), 1, "the object is found once");
    assert_eq!(unused.num_calls(), 0);
    // One invocation reads the object as one stream: a single GET for every page.
    assert_eq!(ranges.all(), [None], "one GET, held open across the pages");

    // A new invocation (a new member) resumes at the cursor with a ranged GET.
    let after_first = pages_cursor(&c, REPORT_PAGE).await;
    let ranges = Seen::new();
    let (s3, _, _) = s3_with(KEY, doc.to_string().into_bytes(), ranges.clone());
    let resumed = v2(client!(aws_sdk_inspector2, [&unused]), s3);
    let page = resumed
        .findings_page(&run(None), Some(after_first))
        .await
        .expect("resumed page");
    assert_eq!(page.findings.len(), REPORT_PAGE);
    assert_eq!(
        page.findings[0].id,
        format!(
            "arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{:032x}",
            REPORT_PAGE
        )
    );
    let ranges = ranges.all();
    assert_eq!(ranges.len(), 1);
    assert!(
        ranges[0]
            .as_deref()
            .is_some_and(|r| r.starts_with("bytes=") && r.ends_with('-')),
        "{ranges:?}"
    );
    let f = &all[1];
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.instance_id.as_deref(), Some("i-0001"));
    assert_eq!(f.vulnerability_id.as_deref(), Some("CVE-2024-1"));
    assert_eq!(f.fix_available, Some(true));
    assert_eq!(all[5].severity, Severity::Untriaged);
}

/// The cursor after the first page of `c`'s report (a fresh read from the start).
async fn pages_cursor(c: &Inspector2, expected: usize) -> String {
    let page = c.findings_page(&run(None), None).await.expect("first page");
    assert_eq!(page.findings.len(), expected);
    page.next.expect("more pages")
}

#[tokio::test]
async fn json_lines_reports_work_too_and_a_broken_report_is_refused() {
    const KEY: &str =
        "inspector2-reports/111122223333/eu-west-1/8f2c1e4a-0000-4000-8000-000000000001.jsonl";
    let lines: String = (0..3).map(|i| format!("{}\n", report_finding(i))).collect();
    let (s3, _, _) = s3_with(KEY, lines.into_bytes(), Seen::new());
    let unused = mock!(Client::list_findings).then_http_response(|| json(json!({"findings": []})));
    let c = v2(client!(aws_sdk_inspector2, [&unused]), s3);
    let page = c.findings_page(&run(None), None).await.expect("lines");
    assert_eq!(page.findings.len(), 3);
    assert_eq!(page.next, None);

    let (s3, _, _) = s3_with(
        KEY,
        br#"{"findings":[{"findingArn":"a"}"#.to_vec(),
        Seen::new(),
    );
    let c = v2(client!(aws_sdk_inspector2, [&unused]), s3);
    let err = c
        .findings_page(&run(None), None)
        .await
        .expect_err("cut off");
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains(BUCKET), "{err}");
}

fn api_finding(i: usize) -> serde_json::Value {
    let mut f = report_finding(i);
    f["firstObservedAt"] = json!(1_764_000_000);
    f["lastObservedAt"] = json!(1_764_100_000);
    f
}

#[tokio::test]
async fn without_a_report_object_list_findings_is_paged_with_the_same_filter() {
    let empty_s3 = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    let s3 = client!(aws_sdk_s3, [&empty_s3]);
    let seen = Seen::new();
    let s = seen.clone();
    let list = mock!(Client::list_findings).then_compute_response(move |r| {
        s.push((
            r.next_token().map(str::to_owned),
            r.max_results(),
            r.filter_criteria().cloned(),
        ));
        MockResponse::Http(match r.next_token() {
            None => json(json!({"findings": [api_finding(0), api_finding(1)], "nextToken": "n2"})),
            Some(_) => json(json!({"findings": [api_finding(2)]})),
        })
    });
    let c = v2(client!(aws_sdk_inspector2, [&list]), s3);
    let page1 = c
        .findings_page(&run(Some(tag())), None)
        .await
        .expect("page 1");
    assert_eq!(page1.findings.len(), 2);
    assert_eq!(
        page1.findings[0].first_seen.as_deref(),
        Some("2025-11-24T16:00:00Z")
    );
    let page2 = c
        .findings_page(&run(Some(tag())), page1.next.clone())
        .await
        .expect("page 2");
    assert_eq!(page2.findings.len(), 1);
    assert_eq!(page2.next, None);
    let calls = seen.all();
    assert_eq!(calls[0].0, None);
    assert_eq!(calls[0].1, Some(100));
    assert_eq!(calls[1].0.as_deref(), Some("n2"));
    let filter = calls[0].2.clone().expect("filter");
    assert_eq!(filter.finding_status()[0].value(), "ACTIVE");
    assert_eq!(filter.resource_tags()[0].key(), "Patch");
    assert_eq!(
        empty_s3.num_calls(),
        1,
        "the object is looked for on the first page only"
    );
}

#[tokio::test]
async fn list_findings_recovers_from_throttling_and_stops_on_a_bad_request() {
    let empty_s3 = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    let s3 = client!(aws_sdk_s3, [&empty_s3]);
    let list = mock!(Client::list_findings)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException", "Rate exceeded"))
        .http_response(|| json_error(500, "InternalServerException", "oops"))
        .http_response(|| json(json!({"findings": [api_finding(7)]})))
        .build();
    let c = v2(client!(aws_sdk_inspector2, [&list]), s3.clone());
    let page = c.findings_page(&run(None), None).await.expect("recovered");
    assert_eq!(page.findings.len(), 1);
    assert_eq!(list.num_calls(), 3);

    let invalid = mock!(Client::list_findings)
        .then_http_response(|| json_error(400, "ValidationException", "bad filter"));
    let c = v2(client!(aws_sdk_inspector2, [&invalid]), s3);
    let err = c.findings_page(&run(None), None).await.expect_err("bad");
    assert!(matches!(err, ScanError::InvalidInput { .. }), "{err:?}");
    assert_eq!(invalid.num_calls(), 1);
}

#[tokio::test]
async fn a_listing_run_pages_list_findings_and_never_looks_in_the_bucket() {
    let bucket = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    let s3 = client!(aws_sdk_s3, [&bucket]);
    let seen = Seen::new();
    let s = seen.clone();
    // Three pages: a full one, one a filtered listing left empty, and the last.
    let list = mock!(Client::list_findings).then_compute_response(move |r| {
        s.push((r.next_token().map(str::to_owned), r.max_results()));
        MockResponse::Http(match r.next_token() {
            None => json(
                json!({"findings": (0..100).map(api_finding).collect::<Vec<_>>(),
                                "nextToken": "p2"}),
            ),
            Some("p2") => json(json!({"findings": [], "nextToken": "p3"})),
            Some(_) => json(json!({"findings": [api_finding(100)]})),
        })
    });
    let c = v2(client!(aws_sdk_inspector2, [&list]), s3);
    let run = listing(None);
    let (mut all, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = c.findings_page(&run, cursor).await.expect("page");
        pages += 1;
        all.extend(page.findings);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!((all.len(), pages), (101, 3));
    assert!(
        all.iter()
            .all(|f| f.account_id == ACCOUNT && f.region == REGION)
    );
    let calls = seen.all();
    assert_eq!(
        calls,
        [
            (None, Some(100)),
            (Some("p2".into()), Some(100)),
            (Some("p3".into()), Some(100))
        ]
    );
    assert_eq!(bucket.num_calls(), 0);
}

#[tokio::test]
async fn a_listing_run_is_retried_on_throttling_and_a_denied_or_broken_page_fails_the_step() {
    let list = mock!(Client::list_findings)
        .sequence()
        .http_response(|| json_error(429, "ThrottlingException", "Rate exceeded"))
        .http_response(|| json(json!({"findings": [api_finding(1)], "nextToken": "p2"})))
        .build();
    let c = v2(client!(aws_sdk_inspector2, [&list]), no_s3());
    let page = c
        .findings_page(&listing(None), None)
        .await
        .expect("retried");
    assert_eq!(page.findings.len(), 1);
    assert_eq!(list.num_calls(), 2);

    // Partial results: the first page came, the second is refused; collect-findings keeps
    // what its chunks and checkpoint hold and the step fails with the cause.
    for (status, code, message, expected) in [
        (
            403,
            "AccessDeniedException",
            "User is not authorized to perform inspector2:ListFindings",
            "AccessDenied",
        ),
        (
            403,
            "AccessDeniedException",
            "Amazon Inspector is not enabled for this account",
            "InspectorDisabled",
        ),
        (500, "InternalServerException", "oops", "Transient"),
    ] {
        // A sequence, not a computed answer: the mock cannot compute answers to retries.
        let list = mock!(Client::list_findings)
            .sequence()
            .http_response(|| json(json!({"findings": [api_finding(1)], "nextToken": "p2"})))
            .http_response(move || json_error(status, code, message))
            .times(3)
            .build();
        let c = v2(client!(aws_sdk_inspector2, [&list]), no_s3());
        let first = c.findings_page(&listing(None), None).await.expect("page 1");
        let err = c
            .findings_page(&listing(None), first.next)
            .await
            .expect_err(message);
        assert_eq!(err.error_type(), expected, "{message}: {err}");
    }
}

#[tokio::test]
async fn coverage_is_per_instance_with_the_package_scan_deciding() {
    let list = mock!(Client::list_coverage).then_compute_response(|r| {
        MockResponse::Http(match r.next_token() {
            None => json(json!({"coveredResources": [
                covered("i-1", "NETWORK", "INACTIVE", "PENDING_INITIAL_SCAN"),
                covered("i-1", "PACKAGE", "ACTIVE", "SUCCESSFUL"),
                covered("i-2", "PACKAGE", "INACTIVE", "UNMANAGED_EC2_INSTANCE")],
                "nextToken": "p2"})),
            Some(_) => json(json!({"coveredResources": [
                covered("i-3", "PACKAGE", "INACTIVE", "EXCLUDED_BY_TAG"),
                covered("i-4", "PACKAGE", "ACTIVE", "SUCCESSFUL")]})),
        })
    });
    let c = v2(client!(aws_sdk_inspector2, [&list]), no_s3());
    let coverage = c.coverage(&listing(Some(tag()))).await.expect("coverage");
    assert_eq!(coverage.scanned, ["i-1", "i-4"]);
    let not: Vec<_> = coverage
        .not_scanned
        .iter()
        .map(|u| (u.instance_id.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        not,
        [
            ("i-2", "UNMANAGED_EC2_INSTANCE"),
            ("i-3", "EXCLUDED_BY_TAG")
        ]
    );
    assert!(coverage.not_scanned[0].remedy.contains("SSM"));
    assert!(
        coverage.not_scanned[1]
            .remedy
            .contains("InspectorEc2Exclusion")
    );
}

/// An API finding with everything a triager needs, as `ListFindings` returns it.
fn detailed_finding() -> serde_json::Value {
    let mut f = api_finding(0);
    f["type"] = json!("PACKAGE_VULNERABILITY");
    f["exploitAvailable"] = json!("YES");
    f["epss"] = json!({"score": 0.94});
    f["packageVulnerabilityDetails"] = json!({
        "vulnerabilityId": "CVE-2024-6387", "source": "AMAZON_CVE",
        "sourceUrl": "https://alas.aws.amazon.com/AL2023/ALAS-2024-636.html",
        "referenceUrls": ["https://nvd.nist.gov/vuln/detail/CVE-2024-6387"],
        "cvss": [
            {"baseScore": 8.1, "scoringVector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
             "version": "3.1", "source": "NVD"},
            {"baseScore": 7.0, "scoringVector": "AV:N/AC:H/Au:N/C:C/I:C/A:C",
             "version": "2.0", "source": "AMAZON_CVE"}
        ],
        "vulnerablePackages": [{
            "name": "openssh-server", "version": "8.7p1", "release": "8.amzn2023.0.10",
            "epoch": 0, "arch": "X86_64", "packageManager": "OS",
            "fixedInVersion": "0:8.7p1-8.amzn2023.0.11"
        }]
    });
    f["resources"][0]["details"] = json!({"awsEc2Instance": {"imageId": "ami-0abc", "platform": "AMAZON_LINUX_2023",
                                  "type": "t3.micro"}});
    f
}

#[tokio::test]
async fn a_listed_finding_keeps_what_a_triager_needs_bounded() {
    let s3 = client!(
        aws_sdk_s3,
        [&mock!(aws_sdk_s3::Client::list_objects_v2)
            .then_output(|| ListObjectsV2Output::builder().build())]
    );
    let mut network = api_finding(1);
    network["type"] = json!("NETWORK_REACHABILITY");
    network["networkReachabilityDetails"] = json!({
        "protocol": "TCP", "openPortRange": {"begin": 22, "end": 22},
        "networkPath": {"steps": (0..30).map(|i| json!({
            "componentId": format!("sg-{i:017x}"), "componentType": "AWS::EC2::SecurityGroup"
        })).collect::<Vec<_>>()}
    });
    // A finding naming more packages than anyone reads, with a version of 10,000 characters.
    let mut flood = api_finding(2);
    flood["packageVulnerabilityDetails"] = json!({
        "vulnerabilityId": "CVE-2024-0001", "source": "NVD",
        "vulnerablePackages": (0..500).map(|i| json!({
            "name": format!("pkg-{i}"), "version": "v".repeat(10_000), "epoch": 1
        })).collect::<Vec<_>>()
    });
    let list = mock!(Client::list_findings).then_http_response(move || {
        json(json!({"findings": [detailed_finding(), network.clone(), flood.clone()]}))
    });
    let c = v2(client!(aws_sdk_inspector2, [&list]), s3);
    let page = c.findings_page(&listing(None), None).await.expect("page");
    let [detailed, reachable, flooded] = &page.findings[..] else {
        panic!("three findings, got {}", page.findings.len());
    };
    let d = detailed.detail.as_deref().expect("detail");
    assert_eq!(
        d.kind,
        scanflow_core::model::FindingKind::PackageVulnerability
    );
    assert_eq!(d.exploit_available, Some(true));
    assert_eq!(d.epss, Some(0.94));
    let cvss = d.cvss.as_ref().expect("cvss");
    assert_eq!(
        (cvss.base_score, cvss.version.as_str()),
        (8.1, "3.1"),
        "NVD's 3.x first"
    );
    assert!(cvss.vector.starts_with("CVSS:3.1/AV:N"));
    assert_eq!(d.packages.len(), 1);
    assert_eq!(d.packages[0].installed_version, "8.7p1-8.amzn2023.0.10");
    assert_eq!(
        d.packages[0].fixed_in_version.as_deref(),
        Some("0:8.7p1-8.amzn2023.0.11")
    );
    assert_eq!(d.references.len(), 2, "the advisory and NVD");
    let i = d.instance.as_ref().expect("instance");
    assert_eq!(
        (i.ami.as_deref(), i.platform.as_deref()),
        (Some("ami-0abc"), Some("AMAZON_LINUX_2023"))
    );
    assert_eq!(
        d.package_summary().as_deref(),
        Some("openssh-server 8.7p1-8.amzn2023.0.10 (fixed in 0:8.7p1-8.amzn2023.0.11)")
    );
    assert_eq!(
        d.risk_summary().as_deref(),
        Some("exploit\u{a0}available, EPSS\u{a0}0.94")
    );

    let n = reachable.detail.as_deref().expect("detail");
    assert_eq!(
        n.kind,
        scanflow_core::model::FindingKind::NetworkReachability
    );
    let path = n.network.as_ref().expect("network path");
    assert_eq!(
        (path.protocol.as_str(), path.port_from, path.port_to),
        ("TCP", 22, 22)
    );
    assert_eq!(path.steps.len(), 20, "the path is cut at 20 steps");

    let f = flooded.detail.as_deref().expect("detail");
    assert_eq!(f.packages.len(), 20, "20 packages kept of 500");
    assert!(
        f.packages
            .iter()
            .all(|p| p.installed_version.chars().count() <= 256)
    );
    assert!(
        f.packages[0].installed_version.starts_with("1:v"),
        "the epoch is kept"
    );
}
