//! Inspector Classic: start (with pre-flight and adoption), the 13 run states, findings pages
//! described 10 ARNs a call, failed items, coverage from run agents.

use aws_sdk_inspector::Client;
use aws_sdk_inspector::operation::start_assessment_run::StartAssessmentRunError;
use aws_sdk_inspector::types::AgentAlreadyRunningAssessment;
use aws_sdk_inspector::types::error::AgentsAlreadyRunningAssessmentException;
use aws_smithy_mocks::{MockResponse, mock};
use scanflow_aws::classic::Classic;
use scanflow_core::ScanError;
use scanflow_core::model::{AccountSettings, Engine, Severity, Tag};
use scanflow_core::ports::{RunStatus, Started};
use serde_json::json;

use crate::{Seen, client, json, json_error, scope};

const TEMPLATE: &str = "arn:aws:inspector:eu-west-1:111122223333:target/0-t/template/0-p";
const TARGET: &str = "arn:aws:inspector:eu-west-1:111122223333:target/0-t";
const RUN: &str = "arn:aws:inspector:eu-west-1:111122223333:target/0-t/template/0-p/run/0-r";

fn classic(client: Client) -> Classic {
    Classic::new(client, scope(), "/scanflow/settings".into())
}

fn settings(template: Option<&str>) -> AccountSettings {
    AccountSettings {
        engine: Engine::Classic,
        tag: Some(Tag {
            key: "Patch".into(),
            value: "Scan".into(),
        }),
        duration_seconds: 3600,
        assessment_template_arn: template.map(str::to_owned),
        schedule: None,
        sla_days: None,
        cis: None,
    }
}

fn template_ok() -> aws_smithy_mocks::Rule {
    mock!(Client::describe_assessment_templates)
        .match_requests(|r| r.assessment_template_arns() == [TEMPLATE])
        .then_http_response(|| {
            json(json!({
                "assessmentTemplates": [{
                    "arn": TEMPLATE, "name": "scanflow", "assessmentTargetArn": TARGET,
                    "durationInSeconds": 3600, "rulesPackageArns": [],
                    "userAttributesForFindings": [], "assessmentRunCount": 3,
                    "createdAt": 1_700_000_000
                }],
                "failedItems": {}
            }))
        })
}

fn agents(count: usize) -> aws_smithy_mocks::Rule {
    mock!(Client::preview_agents)
        .match_requests(|r| r.preview_agents_arn() == Some(TARGET))
        .then_http_response(move || {
            let previews: Vec<_> = (0..count)
                .map(|i| json!({"agentId": format!("i-{i}"), "agentHealth": "HEALTHY"}))
                .collect();
            json(json!({"agentPreviews": previews}))
        })
}

#[tokio::test]
async fn start_checks_template_and_agents_then_starts_a_run_named_after_the_execution() {
    let names = Seen::new();
    let n = names.clone();
    let start = mock!(Client::start_assessment_run).then_compute_response(move |r| {
        n.push((
            r.assessment_template_arn().unwrap_or_default().to_owned(),
            r.assessment_run_name().unwrap_or_default().to_owned(),
        ));
        MockResponse::Http(json(json!({"assessmentRunArn": RUN})))
    });
    let (template, preview) = (template_ok(), agents(1));
    let c = classic(client!(aws_sdk_inspector, [&template, &preview, &start]));
    let long_name = "x".repeat(200);
    let started = c
        .start_scan(&settings(Some(TEMPLATE)), &long_name)
        .await
        .expect("started");
    assert_eq!(
        started,
        Started {
            run_id: RUN.into(),
            adopted: false
        }
    );
    let seen = names.all();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, TEMPLATE);
    assert_eq!(seen[0].1.len(), 140, "run names are cut to 140 characters");
    assert_eq!((template.num_calls(), preview.num_calls()), (1, 1));
}

#[tokio::test]
async fn no_template_is_not_found_naming_the_parameter_and_calls_nothing() {
    let template = template_ok();
    let c = classic(client!(aws_sdk_inspector, [&template]));
    let err = c
        .start_scan(&settings(None), "run")
        .await
        .expect_err("no template");
    assert_eq!(err.error_type(), "NotFound");
    assert!(err.to_string().contains("/scanflow/settings"), "{err}");
    assert_eq!(template.num_calls(), 0);
}

#[tokio::test]
async fn a_target_without_agents_is_no_instances_matched_and_nothing_starts() {
    let start = mock!(Client::start_assessment_run)
        .then_http_response(|| json(json!({"assessmentRunArn": RUN})));
    let (template, preview) = (template_ok(), agents(0));
    let c = classic(client!(aws_sdk_inspector, [&template, &preview, &start]));
    let err = c
        .start_scan(&settings(Some(TEMPLATE)), "run")
        .await
        .expect_err("no agents");
    match err {
        ScanError::NoInstancesMatched {
            account_id, target, ..
        } => {
            assert_eq!(account_id, crate::ACCOUNT);
            assert_eq!(target, "tag Patch=Scan");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_missing_or_forbidden_template_is_reported_from_failed_items() {
    for (code, expected) in [
        ("ITEM_DOES_NOT_EXIST", "NotFound"),
        ("ACCESS_DENIED", "AccessDenied"),
    ] {
        let template = mock!(Client::describe_assessment_templates).then_http_response(move || {
            json(json!({"assessmentTemplates": [],
                        "failedItems": {TEMPLATE: {"failureCode": code, "retryable": false}}}))
        });
        let c = classic(client!(aws_sdk_inspector, [&template]));
        let err = c
            .start_scan(&settings(Some(TEMPLATE)), "run")
            .await
            .expect_err(code);
        assert_eq!(err.error_type(), expected, "{code}: {err}");
    }
}

fn busy(run: &'static str) -> aws_smithy_mocks::Rule {
    mock!(Client::start_assessment_run).then_error(move || {
        StartAssessmentRunError::AgentsAlreadyRunningAssessmentException(
            AgentsAlreadyRunningAssessmentException::builder()
                .message("busy")
                .agents(
                    AgentAlreadyRunningAssessment::builder()
                        .agent_id("i-0")
                        .assessment_run_arn(run)
                        .build()
                        .expect("agent"),
                )
                .agents_truncated(false)
                .can_retry(true)
                .build()
                .expect("exception"),
        )
    })
}

fn run_json(arn: &str, template: &str, state: &str) -> serde_json::Value {
    json!({
        "arn": arn, "name": "n", "assessmentTemplateArn": template, "state": state,
        "durationInSeconds": 3600, "rulesPackageArns": ["arn:rp"], "userAttributesForFindings": [],
        "createdAt": 1_700_000_000, "stateChangedAt": 1_700_000_100, "dataCollected": false,
        "stateChanges": [{"stateChangedAt": 1_700_000_000, "state": "CREATED"},
                         {"stateChangedAt": 1_700_000_100, "state": state}],
        "notifications": [{"date": 1_700_000_100, "event": "OTHER", "error": true,
                           "message": "agent lost"}],
        "findingCounts": {}
    })
}

#[tokio::test]
async fn agents_busy_with_a_run_of_the_same_template_adopt_it() {
    let describe = mock!(Client::describe_assessment_runs)
        .match_requests(|r| r.assessment_run_arns() == [RUN])
        .then_http_response(|| {
            json(
                json!({"assessmentRuns": [run_json(RUN, TEMPLATE, "COLLECTING_DATA")],
                        "failedItems": {}}),
            )
        });
    let (template, preview, start) = (template_ok(), agents(2), busy(RUN));
    let c = classic(client!(
        aws_sdk_inspector,
        [&template, &preview, &start, &describe]
    ));
    let started = c
        .start_scan(&settings(Some(TEMPLATE)), "run")
        .await
        .expect("adopted");
    assert_eq!(
        started,
        Started {
            run_id: RUN.into(),
            adopted: true
        }
    );
    assert_eq!(start.num_calls(), 1, "no second start");
}

#[tokio::test]
async fn agents_busy_with_another_templates_run_is_transient() {
    const OTHER: &str = "arn:aws:inspector:eu-west-1:111122223333:target/0-t/template/0-o/run/0-x";
    let describe = mock!(Client::describe_assessment_runs).then_http_response(|| {
        json(
            json!({"assessmentRuns": [run_json(OTHER, "arn:other-template", "COLLECTING_DATA")],
                    "failedItems": {}}),
        )
    });
    let (template, preview, start) = (template_ok(), agents(2), busy(OTHER));
    let c = classic(client!(
        aws_sdk_inspector,
        [&template, &preview, &start, &describe]
    ));
    let err = c
        .start_scan(&settings(Some(TEMPLATE)), "run")
        .await
        .expect_err("someone else's run");
    assert_eq!(err.error_type(), "Transient");
    assert!(err.to_string().contains(OTHER), "{err}");
}

#[tokio::test]
async fn all_thirteen_run_states_map() {
    let cases = [
        ("CREATED", "running"),
        ("START_DATA_COLLECTION_PENDING", "running"),
        ("START_DATA_COLLECTION_IN_PROGRESS", "running"),
        ("COLLECTING_DATA", "running"),
        ("STOP_DATA_COLLECTION_PENDING", "running"),
        ("DATA_COLLECTED", "running"),
        ("START_EVALUATING_RULES_PENDING", "running"),
        ("EVALUATING_RULES", "running"),
        ("COMPLETED", "succeeded"),
        ("COMPLETED_WITH_ERRORS", "succeeded"),
        ("FAILED", "failed"),
        ("ERROR", "failed"),
        ("CANCELED", "failed"),
    ];
    for (state, expected) in cases {
        let describe = mock!(Client::describe_assessment_runs).then_http_response(move || {
            json(json!({"assessmentRuns": [run_json(RUN, TEMPLATE, state)], "failedItems": {}}))
        });
        let c = classic(client!(aws_sdk_inspector, [&describe]));
        let status = c.run_status(RUN).await.expect(state);
        match (&status, expected) {
            (RunStatus::Running { state: s }, "running") => assert_eq!(s, state),
            (RunStatus::Succeeded { state: s }, "succeeded") => {
                assert!(s.starts_with(state), "{s}");
                if state == "COMPLETED_WITH_ERRORS" {
                    assert!(s.contains("partial"), "{s}");
                }
            }
            (RunStatus::Failed { state: s, detail }, "failed") => {
                assert_eq!(s, state);
                assert!(
                    detail.contains("CREATED → ") && detail.contains("agent lost"),
                    "{detail}"
                );
            }
            other => panic!("{state}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn run_status_failed_items_and_outages() {
    for (code, retryable, expected) in [
        ("ITEM_DOES_NOT_EXIST", false, "NotFound"),
        ("ACCESS_DENIED", false, "AccessDenied"),
        ("INTERNAL_ERROR", true, "Transient"),
        ("INVALID_ARN", false, "InvalidInput"),
    ] {
        let describe = mock!(Client::describe_assessment_runs).then_http_response(move || {
            json(json!({"assessmentRuns": [],
                        "failedItems": {RUN: {"failureCode": code, "retryable": retryable}}}))
        });
        let c = classic(client!(aws_sdk_inspector, [&describe]));
        let err = c.run_status(RUN).await.expect_err(code);
        assert_eq!(err.error_type(), expected, "{code}");
    }
    // Throttled every time: the SDK's retries run out, the step is retried later.
    let throttled = mock!(Client::describe_assessment_runs)
        .sequence()
        .http_response(|| json_error(400, "ThrottlingException", "slow down"))
        .times(3)
        .build();
    let c = classic(client!(aws_sdk_inspector, [&throttled]));
    let err = c.run_status(RUN).await.expect_err("throttled");
    assert_eq!(err.error_type(), "Transient");
    assert_eq!(throttled.num_calls(), 3);
}

fn finding_json(arn: &str) -> serde_json::Value {
    json!({
        "arn": arn, "schemaVersion": 1, "service": "Inspector",
        "serviceAttributes": {"schemaVersion": 1, "assessmentRunArn": RUN},
        "assetType": "ec2-instance",
        "assetAttributes": {"schemaVersion": 1, "agentId": "i-0abc",
                            "tags": [{"key": "Patch", "value": "Scan"}]},
        "id": "CVE-2021-3156", "title": "sudo heap overflow", "description": "d",
        "recommendation": "upgrade sudo", "severity": "High", "numericSeverity": 7.8,
        "confidence": 10, "indicatorOfCompromise": false,
        "attributes": [{"key": "CVE_ID", "value": "CVE-2021-3156"}], "userAttributes": [],
        "createdAt": 1_700_000_000, "updatedAt": 1_700_000_500
    })
}

fn arns(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{RUN}/finding/0-{i:04}")).collect()
}

/// Describes whatever ARNs it is asked for, recording each call's batch size.
fn describe_all(sizes: Seen<usize>) -> aws_smithy_mocks::Rule {
    mock!(Client::describe_findings).then_compute_response(move |r| {
        sizes.push(r.finding_arns().len());
        let findings: Vec<_> = r
            .finding_arns()
            .iter()
            .rev()
            .map(|a| finding_json(a))
            .collect();
        MockResponse::Http(json(json!({"findings": findings, "failedItems": {}})))
    })
}

#[tokio::test]
async fn findings_pages_follow_next_token_and_describe_ten_arns_a_call() {
    let first = arns(11);
    let second = arns(21)[11..].to_vec();
    let tokens = Seen::new();
    let t = tokens.clone();
    let (f1, f2) = (first.clone(), second.clone());
    let list = mock!(Client::list_findings).then_compute_response(move |r| {
        t.push((
            r.next_token().map(str::to_owned),
            r.max_results(),
            r.assessment_run_arns().to_vec(),
        ));
        MockResponse::Http(match r.next_token() {
            None => json(json!({"findingArns": f1, "nextToken": "page-2"})),
            Some(_) => json(json!({"findingArns": f2})),
        })
    });
    let sizes = Seen::new();
    let describe = describe_all(sizes.clone());
    let c = classic(client!(aws_sdk_inspector, [&list, &describe]));

    let page1 = c.findings_page(RUN, None).await.expect("page 1");
    assert_eq!(page1.next.as_deref(), Some("page-2"));
    let ids: Vec<_> = page1.findings.iter().map(|f| f.id.clone()).collect();
    assert_eq!(ids, first, "listing order is kept");
    let mut first_sizes = sizes.all();
    first_sizes.sort_unstable();
    assert_eq!(first_sizes, [1, 10], "11 ARNs → 2 calls");

    let page2 = c.findings_page(RUN, page1.next).await.expect("page 2");
    assert_eq!(page2.next, None);
    assert_eq!(page2.findings.len(), 10);
    assert_eq!(sizes.all().len(), 3, "exactly 10 ARNs → 1 call");
    assert!(sizes.all().iter().all(|s| *s <= 10));

    let calls = tokens.all();
    assert_eq!(calls[0], (None, Some(500), vec![RUN.to_owned()]));
    assert_eq!(calls[1].0.as_deref(), Some("page-2"));

    let f = &page1.findings[0];
    assert_eq!(f.engine, Engine::Classic);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.instance_id.as_deref(), Some("i-0abc"));
    assert_eq!(
        f.instance_tags.get("Patch").map(String::as_str),
        Some("Scan")
    );
    assert_eq!(f.vulnerability_id.as_deref(), Some("CVE-2021-3156"));
    assert_eq!(f.recommendation, "upgrade sudo");
    assert_eq!(f.fix_available, None);
    assert_eq!(f.first_seen.as_deref(), Some("2023-11-14T22:13:20Z"));
}

#[tokio::test]
async fn describe_failed_items_are_retried_once_skipped_when_gone_fatal_when_denied() {
    let all = arns(3);
    let (gone, flaky, ok) = (all[0].clone(), all[1].clone(), all[2].clone());
    let list = {
        let all = all.clone();
        mock!(Client::list_findings).then_http_response(move || json(json!({"findingArns": all})))
    };
    let batches = Seen::new();
    let b = batches.clone();
    let (g, fl, o) = (gone.clone(), flaky.clone(), ok.clone());
    let describe = mock!(Client::describe_findings).then_compute_response(move |r| {
        let asked = r.finding_arns().to_vec();
        b.push(asked.clone());
        MockResponse::Http(if asked.len() == 3 {
            json(json!({"findings": [finding_json(&o)], "failedItems": {
                g.clone(): {"failureCode": "ITEM_DOES_NOT_EXIST", "retryable": false},
                fl.clone(): {"failureCode": "INTERNAL_ERROR", "retryable": true}}}))
        } else {
            json(json!({"findings": [finding_json(&fl)], "failedItems": {}}))
        })
    });
    let c = classic(client!(aws_sdk_inspector, [&list, &describe]));
    let page = c.findings_page(RUN, None).await.expect("page");
    let ids: Vec<_> = page.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, [flaky.as_str(), ok.as_str()]);
    assert_eq!(
        batches.all()[1],
        vec![flaky.clone()],
        "only the retryable item is asked again"
    );

    let denied = mock!(Client::describe_findings).then_http_response(move || {
        json(json!({"findings": [], "failedItems": {
            gone.clone(): {"failureCode": "ACCESS_DENIED", "retryable": false}}}))
    });
    let c = classic(client!(aws_sdk_inspector, [&list, &denied]));
    let err = c.findings_page(RUN, None).await.expect_err("denied");
    assert_eq!(err.error_type(), "AccessDenied");
}

#[tokio::test]
async fn throttled_listing_recovers_and_a_denial_is_terminal() {
    let list = mock!(Client::list_findings)
        .sequence()
        .http_response(|| json_error(400, "ThrottlingException", "Rate exceeded"))
        .http_status(503, None)
        .http_response(|| json(json!({"findingArns": []})))
        .build();
    let sizes = Seen::new();
    let describe = describe_all(sizes.clone());
    let c = classic(client!(aws_sdk_inspector, [&list, &describe]));
    let page = c.findings_page(RUN, None).await.expect("recovered");
    assert!(page.findings.is_empty() && page.next.is_none());
    assert_eq!(list.num_calls(), 3);
    assert!(sizes.all().is_empty(), "no ARNs, no DescribeFindings");

    let denied = mock!(Client::list_findings).then_http_response(|| {
        json_error(
            400,
            "AccessDeniedException",
            "not authorized to perform inspector:ListFindings",
        )
    });
    let c = classic(client!(aws_sdk_inspector, [&denied]));
    let err = c.findings_page(RUN, None).await.expect_err("denied");
    match &err {
        ScanError::AccessDenied {
            action,
            account_id,
            region,
            ..
        } => {
            assert_eq!(action, "inspector:ListFindings");
            assert_eq!(
                (account_id.as_str(), region.as_str()),
                (crate::ACCOUNT, crate::REGION)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(denied.num_calls(), 1, "a denial is not retried");
}

#[tokio::test]
async fn coverage_reads_every_agent_page() {
    let list = mock!(Client::list_assessment_run_agents).then_compute_response(|r| {
        let agent = |id: &str, health: &str, code: &str| {
            json!({"agentId": id, "assessmentRunArn": RUN, "agentHealth": health,
                   "agentHealthCode": code, "agentHealthDetails": "details",
                   "telemetryMetadata": []})
        };
        MockResponse::Http(match r.next_token() {
            None => json(json!({"assessmentRunAgents": [
                agent("i-1", "HEALTHY", "RUNNING"), agent("i-2", "UNKNOWN", "UNKNOWN")],
                "nextToken": "more"})),
            Some(_) => json(json!({"assessmentRunAgents": [
                agent("i-3", "UNHEALTHY", "THROTTLED")]})),
        })
    });
    let c = classic(client!(aws_sdk_inspector, [&list]));
    let coverage = c.coverage(RUN).await.expect("coverage");
    assert_eq!(coverage.scanned, ["i-1"]);
    let reasons: Vec<_> = coverage
        .not_scanned
        .iter()
        .map(|u| (u.instance_id.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(reasons, [("i-2", "UNKNOWN"), ("i-3", "THROTTLED")]);
    assert!(coverage.not_scanned[0].remedy.contains("install the agent"));
    assert!(coverage.not_scanned[1].remedy.contains("details"));
    assert_eq!(list.num_calls(), 2);
}
