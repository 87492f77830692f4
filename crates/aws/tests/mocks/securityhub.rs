//! Security Hub: reading which Inspector findings are still NEW (every page), marking delivered
//! ones (≤ 100 a call, user-defined fields and never a note, unprocessed ones retried once when
//! retryable) and importing notices as complete ASFF (≤ 100 a call, failures reported).

use std::collections::BTreeMap;

use aws_sdk_securityhub::Client;
use aws_smithy_mocks::{MockResponse, mock};
use scanflow_aws::securityhub::AwsSecurityHub;
use scanflow_core::model::Severity;
use scanflow_core::ports::{FindingRef, Notice, NoticeKind, NoticeResource, SecurityHub};
use serde_json::json;

use crate::{ACCOUNT, REGION, Seen, client, json, json_error, scope};

fn refs(n: usize) -> Vec<FindingRef> {
    (0..n)
        .map(|i| FindingRef {
            id: format!("arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{i:032x}"),
            region: REGION.into(),
        })
        .collect()
}

fn notice(i: usize, resource: NoticeResource) -> Notice {
    Notice {
        id: Notice::id_for(ACCOUNT, REGION, NoticeKind::NotScanned, &format!("i-{i}")),
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        kind: NoticeKind::NotScanned,
        severity: Severity::Medium,
        title: format!("i-{i} was not scanned"),
        description: "The SSM agent is not running".into(),
        remedy: "Start the SSM agent".into(),
        resource,
        created_at: "2026-11-28T10:00:00Z".into(),
        execution: "exec-1".into(),
        resolved_at: None,
    }
}

fn notices(n: usize) -> Vec<Notice> {
    (0..n)
        .map(|i| {
            notice(
                i,
                NoticeResource::AwsEc2Instance {
                    id: format!("i-{i}"),
                },
            )
        })
        .collect()
}

/// The fields scanflow sets on a finding it marks.
fn fields() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("scanflow_execution".to_owned(), "exec-1".to_owned()),
        ("analyst_ticket".to_owned(), "SEC-42".to_owned()),
    ])
}

fn ok_update() -> aws_smithy_mocks::Rule {
    mock!(Client::batch_update_findings)
        .then_http_response(|| json(json!({"ProcessedFindings": [], "UnprocessedFindings": []})))
}

#[tokio::test]
async fn mark_notified_sends_up_to_100_inspector_identifiers_with_workflow_and_fields_no_note() {
    let seen = Seen::new();
    let s = seen.clone();
    let update = mock!(Client::batch_update_findings).then_compute_response(move |r| {
        s.push((
            r.finding_identifiers().to_vec(),
            r.workflow()
                .and_then(|w| w.status())
                .map(|s| s.as_str().to_owned()),
            r.note().is_some(),
            r.user_defined_fields().map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>()
            }),
        ));
        MockResponse::Http(json(
            json!({"ProcessedFindings": [], "UnprocessedFindings": []}),
        ))
    });
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&update]), scope());
    let refused = hub
        .mark_notified(&refs(100), &fields())
        .await
        .expect("marked");
    assert!(refused.is_empty());
    let calls = seen.all();
    assert_eq!(calls.len(), 1);
    let (ids, status, note, user_fields) = &calls[0];
    assert_eq!(ids.len(), 100);
    assert_eq!(
        ids[0].product_arn(),
        Some("arn:aws:securityhub:eu-west-1::product/aws/inspector")
    );
    assert_eq!(ids[0].id(), Some(refs(1)[0].id.as_str()));
    assert_eq!(status.as_deref(), Some("NOTIFIED"));
    assert!(!note, "an analyst's note is never overwritten");
    assert_eq!(user_fields.as_ref(), Some(&fields()));
}

#[tokio::test]
async fn new_findings_asks_for_new_active_inspector_findings_and_follows_pages() {
    let seen = Seen::new();
    let s = seen.clone();
    let pages = mock!(Client::get_findings).then_compute_response(move |r| {
        let f = r.filters().expect("filters");
        let one = |v: &[aws_sdk_securityhub::types::StringFilter]| {
            (
                v.len(),
                v[0].value().unwrap_or_default().to_owned(),
                v[0].comparison().map(|c| c.as_str().to_owned()),
            )
        };
        s.push((
            one(f.workflow_status()),
            one(f.record_state()),
            one(f.product_arn()),
            one(f.aws_account_id()),
            one(f.region()),
            r.max_results(),
            r.next_token().map(str::to_owned),
        ));
        let body = match r.next_token() {
            None => json!({"Findings": [{"Id": "f-1", "UserDefinedFields": {"ticket": "SEC-1"}}, {"Id": "f-2"}], "NextToken": "p2"}),
            Some(_) => json!({"Findings": [{"Id": "f-3"}]}),
        };
        MockResponse::Http(json(body))
    });
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&pages]), scope());
    let first = hub.new_findings(None).await.expect("page 1");
    assert_eq!(first.next.as_deref(), Some("p2"));
    assert_eq!(first.findings[0].user_defined_fields["ticket"], "SEC-1");
    assert!(first.findings[1].user_defined_fields.is_empty());
    let second = hub.new_findings(first.next).await.expect("page 2");
    assert_eq!(second.findings.len(), 1);
    assert!(second.next.is_none());
    let calls = seen.all();
    let eq = Some("EQUALS".to_owned());
    let (workflow, record, product, account, region, max, token) = &calls[0];
    assert_eq!(workflow, &(1, "NEW".to_owned(), eq.clone()));
    assert_eq!(record, &(1, "ACTIVE".to_owned(), eq.clone()));
    assert_eq!(
        product,
        &(
            1,
            "arn:aws:securityhub:eu-west-1::product/aws/inspector".to_owned(),
            eq.clone()
        )
    );
    assert_eq!(account, &(1, ACCOUNT.to_owned(), eq.clone()));
    assert_eq!(region, &(1, REGION.to_owned(), eq));
    assert_eq!(*max, Some(100));
    assert!(token.is_none());
    assert_eq!(calls[1].6.as_deref(), Some("p2"));
}

#[tokio::test]
async fn more_than_100_is_refused_before_calling() {
    let update = ok_update();
    let import = mock!(Client::batch_import_findings)
        .then_http_response(|| json(json!({"FailedCount": 0, "SuccessCount": 0})));
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&update, &import]), scope());
    let err = hub
        .mark_notified(&refs(101), &fields())
        .await
        .expect_err("101");
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("101"), "{err}");
    let err = hub.import_notices(&notices(101)).await.expect_err("101");
    assert_eq!(err.error_type(), "InvalidInput");
    assert_eq!((update.num_calls(), import.num_calls()), (0, 0));
    assert!(
        hub.mark_notified(&[], &fields())
            .await
            .expect("nothing")
            .is_empty()
    );
    assert_eq!(update.num_calls(), 0, "nothing to mark, no call");
}

#[tokio::test]
async fn unprocessed_findings_are_retried_once_when_retryable_then_reported() {
    let all = refs(3);
    let batches = Seen::new();
    let b = batches.clone();
    let (busy, missing) = (all[0].id.clone(), all[1].id.clone());
    let update = mock!(Client::batch_update_findings).then_compute_response(move |r| {
        let ids: Vec<String> = r
            .finding_identifiers()
            .iter()
            .map(|i| i.id().unwrap_or_default().to_owned())
            .collect();
        b.push(ids.len());
        let unprocessed = |id: &str, code: &str| {
            json!({"FindingIdentifier": {"Id": id,
                   "ProductArn": "arn:aws:securityhub:eu-west-1::product/aws/inspector"},
                   "ErrorCode": code, "ErrorMessage": "m"})
        };
        MockResponse::Http(json(if ids.len() == 3 {
            json!({"ProcessedFindings": [], "UnprocessedFindings": [
                unprocessed(&busy, "ConcurrentUpdateError"),
                unprocessed(&missing, "FindingNotFound")]})
        } else {
            // The retried finding is still busy.
            json!({"ProcessedFindings": [], "UnprocessedFindings": [
                unprocessed(&busy, "ConcurrentUpdateError")]})
        }))
    });
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&update]), scope());
    let refused = hub.mark_notified(&all, &fields()).await.expect("partial");
    assert_eq!(
        batches.all(),
        [3, 1],
        "only the retryable one is sent again, once"
    );
    let mut reasons: Vec<_> = refused
        .iter()
        .map(|u| {
            (
                u.id.clone(),
                u.reason.split(':').next().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    reasons.sort();
    let mut expected = vec![
        (all[0].id.clone(), "ConcurrentUpdateError".to_owned()),
        (all[1].id.clone(), "FindingNotFound".to_owned()),
    ];
    expected.sort();
    assert_eq!(reasons, expected);
}

#[tokio::test]
async fn mark_notified_recovers_from_throttling_and_reports_denial() {
    let update = mock!(Client::batch_update_findings)
        .sequence()
        .http_response(|| json_error(429, "TooManyRequestsException", "slow down"))
        .http_response(|| json(json!({"ProcessedFindings": [], "UnprocessedFindings": []})))
        .build();
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&update]), scope());
    assert!(
        hub.mark_notified(&refs(2), &fields())
            .await
            .expect("recovered")
            .is_empty()
    );
    assert_eq!(update.num_calls(), 2);

    let denied = mock!(Client::batch_update_findings).then_http_response(|| {
        json_error(401, "InvalidAccessException", "Security Hub is not enabled")
    });
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&denied]), scope());
    let err = hub
        .mark_notified(&refs(2), &fields())
        .await
        .expect_err("denied");
    assert_eq!(err.error_type(), "AccessDenied", "{err}");
    assert!(
        err.to_string().contains("securityhub:BatchUpdateFindings"),
        "{err}"
    );
}

#[tokio::test]
async fn notices_are_imported_as_complete_asff_owned_by_the_caller() {
    let seen = Seen::new();
    let s = seen.clone();
    let import = mock!(Client::batch_import_findings).then_compute_response(move |r| {
        s.push(r.findings().to_vec());
        MockResponse::Http(json(
            json!({"FailedCount": 0, "SuccessCount": r.findings().len()}),
        ))
    });
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&import]), scope());
    let mut batch = notices(98);
    batch.push(notice(
        98,
        NoticeResource::AwsAccount { id: ACCOUNT.into() },
    ));
    // A notice whose condition cleared is re-imported archived, dated when it cleared.
    let mut cleared = notice(99, NoticeResource::AwsAccount { id: ACCOUNT.into() });
    cleared.resolved_at = Some("2026-11-28T14:00:00Z".into());
    batch.push(cleared);
    let refused = hub.import_notices(&batch).await.expect("imported");
    assert!(refused.is_empty());
    let sent = seen.all().remove(0);
    assert_eq!(sent.len(), 100);
    let f = &sent[0];
    // The 12 fields the user guide requires.
    assert_eq!(f.schema_version(), Some("2018-10-08"));
    assert_eq!(f.id(), Some(batch[0].id.as_str()));
    assert_eq!(
        f.product_arn(),
        Some("arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default")
    );
    assert_eq!(f.generator_id(), Some("scanflow"));
    assert_eq!(f.aws_account_id(), Some(ACCOUNT));
    assert_eq!(
        f.types(),
        ["Software and Configuration Checks/Vulnerabilities"]
    );
    assert_eq!(f.created_at(), Some("2026-11-28T10:00:00Z"));
    assert_eq!(f.updated_at(), f.created_at());
    assert_eq!(f.record_state().map(|r| r.as_str()), Some("ACTIVE"));
    let archived = &sent[99];
    assert_eq!(
        archived.record_state().map(|r| r.as_str()),
        Some("ARCHIVED")
    );
    assert_eq!(archived.updated_at(), Some("2026-11-28T14:00:00Z"));
    assert_eq!(archived.created_at(), Some("2026-11-28T10:00:00Z"));
    assert_eq!(
        f.severity().and_then(|s| s.label()).map(|l| l.as_str()),
        Some("MEDIUM")
    );
    assert_eq!(f.title(), Some("i-0 was not scanned"));
    assert_eq!(f.description(), Some("The SSM agent is not running"));
    let r = &f.resources()[0];
    assert_eq!(r.r#type(), Some("AwsEc2Instance"));
    assert_eq!(
        r.id(),
        Some("arn:aws:ec2:eu-west-1:111122223333:instance/i-0")
    );
    assert_eq!(
        f.remediation()
            .and_then(|r| r.recommendation())
            .and_then(|r| r.text()),
        Some("Start the SSM agent")
    );
    assert_eq!(
        f.finding_provider_fields()
            .and_then(|p| p.severity())
            .and_then(|s| s.label())
            .map(|l| l.as_str()),
        Some("MEDIUM")
    );
    let account = &sent[98].resources()[0];
    assert_eq!(account.r#type(), Some("AwsAccount"));
    assert_eq!(account.id(), Some("AWS::::Account:111122223333"));
}

#[tokio::test]
async fn failed_findings_come_back_and_throttling_is_retried() {
    let batch = notices(3);
    let bad = batch[1].id.clone();
    let import = mock!(Client::batch_import_findings)
        .sequence()
        .http_response(|| json_error(429, "LimitExceededException", "Rate exceeded"))
        .http_response(move || {
            json(
                json!({"FailedCount": 1, "SuccessCount": 2, "FailedFindings": [
                {"Id": bad, "ErrorCode": "InvalidInput", "ErrorMessage": "Finding is too big"}]}),
            )
        })
        .build();
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&import]), scope());
    let refused = hub.import_notices(&batch).await.expect("partial");
    assert_eq!(import.num_calls(), 2, "the throttled call was retried");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].id, batch[1].id);
    assert!(
        refused[0]
            .reason
            .contains("InvalidInput: Finding is too big")
    );

    let throttled = mock!(Client::batch_import_findings)
        .sequence()
        .http_response(|| json_error(429, "LimitExceededException", "Rate exceeded"))
        .times(3)
        .build();
    let hub = AwsSecurityHub::new(client!(aws_sdk_securityhub, [&throttled]), scope());
    let err = hub
        .import_notices(&batch)
        .await
        .expect_err("still throttled");
    assert_eq!(err.error_type(), "Transient");
}
