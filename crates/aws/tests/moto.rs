//! The adapters against a real moto server (an implementation no one on this team wrote):
//! assume-role into a member, settings read through the scan role, SNS delivery to an HTTP
//! subscriber, Security Hub import read back, Inspector v2 `ListFindings` with seeded
//! findings, a streamed report object, a conditional (claim) write, and a 20 MiB S3 round trip.
//!
//! The endpoint comes from `SCANFLOW_MOTO_URL` (tests/run-all.sh starts moto); without it each
//! test says it is skipped. The server is shared, so nothing is reset: every test works in
//! accounts, buckets and topics of its own.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use scanflow_aws::error::Scope;
use scanflow_aws::s3::S3Store;
use scanflow_aws::sns::SnsNotifier;
use scanflow_aws::{AwsPlatform, Config};
use scanflow_core::message::{ATTR_KIND, Message};
use scanflow_core::model::{Engine, Severity};
use scanflow_core::ports::{
    MemberAccount, Notice, NoticeKind, NoticeResource, Notifier, Platform, ReportStore, SecurityHub,
};
use scanflow_core::state::Run;
use serde_json::json;

/// moto's account for requests signed with unknown keys: the hub here.
const HUB: &str = "123456789012";
const ROLE: &str = "scanflow-scan";
const KMS: &str = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555";

fn moto() -> Option<String> {
    let url = std::env::var("SCANFLOW_MOTO_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        println!("skipped: SCANFLOW_MOTO_URL not set");
    }
    url
}

/// A value unique to this test run, so reruns against the same server never collide.
fn unique() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    u64::try_from(nanos % 1_000_000_000_000).unwrap_or(0) ^ u64::from(std::process::id())
}

/// A fresh 12-digit member account id (never the hub's).
fn account(salt: u64) -> String {
    format!(
        "{:012}",
        (unique().wrapping_add(salt * 7919)) % 899_999_999_999 + 100_000_000_000
    )
}

async fn sdk(url: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "moto",
        )))
        .load()
        .await
}

fn config(bucket: &str, topic: Option<String>) -> Config {
    Config {
        function: "publish".into(),
        scan_role_name: ROLE.into(),
        external_id: Some("scanflow-ext-1".into()),
        settings_parameter: "/scanflow/settings".into(),
        report_bucket: bucket.into(),
        report_kms_key_arn: KMS.into(),
        topic_arn: topic,
        hub_account_id: HUB.into(),
        sla_days: Default::default(),
        inspector_delegated_admin: false,
        siem_format: Default::default(),
        report_link_hours: 24,
        email_min_severity: scanflow_core::model::Severity::Untriaged,
    }
}

/// The member's own credentials, for seeding and reading back what the adapters did.
async fn member_sdk(hub: &SdkConfig, account: &str, region: &str) -> SdkConfig {
    let out = aws_sdk_sts::Client::new(hub)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/{ROLE}"))
        .role_session_name("scanflow-test")
        .send()
        .await
        .expect("moto assumes any role");
    let c = out.credentials().expect("credentials");
    hub.to_builder()
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "test",
        )))
        .build()
}

fn s3(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

async fn bucket(sdk: &SdkConfig, region: &str) -> String {
    let name = format!("scanflow-test-{}", unique());
    s3(sdk)
        .create_bucket()
        .bucket(&name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .expect("bucket");
    name
}

#[tokio::test]
async fn assumed_role_reads_the_members_settings_and_a_missing_parameter_is_named() {
    let Some(url) = moto() else { return };
    let region = "eu-west-3";
    let hub = sdk(&url, region).await;
    let member_account = account(1);
    let member_conf = member_sdk(&hub, &member_account, region).await;
    aws_sdk_ssm::Client::new(&member_conf)
        .put_parameter()
        .name("/scanflow/settings")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .value(r#"{"engine":"classic","tagKey":"Patch","tagValue":"Scan","durationSeconds":900,"assessmentTemplateArn":"arn:aws:inspector:eu-west-3:1:target/0-t/template/0-p"}"#)
        .send()
        .await
        .expect("seeded in the member account");

    let platform = AwsPlatform::new(hub.clone(), config("unused", None)).expect("platform");
    let member = platform
        .member(&member_account, region, "scan 2026-11-28T10:00:00Z")
        .await
        .expect("assumed");
    let settings = member.settings().await.expect("read through the scan role");
    assert_eq!(settings.engine, Engine::Classic);
    assert_eq!(settings.duration_seconds, 900);

    // moto recorded the assume with the role, the external id and a sanitized session name.
    // Its /moto-api/data.json dumps every service's state and answers 500 once another test has
    // left S3 objects it cannot serialise ("FakeKey is not JSON serializable"): moto's failure,
    // not the adapter's, so the record is checked only when moto can show it.
    let text = match get(&format!("{url}/moto-api/data.json")) {
        Ok(text) => text,
        Err(e) if e.to_string().contains(" 500 ") => {
            eprintln!("moto cannot dump its state ({e}); the assume record is not checked here");
            return;
        }
        Err(e) => panic!("moto data: {e}"),
    };
    let data: serde_json::Value = serde_json::from_str(&text).expect("json");
    let assumed = data["sts"]["AssumedRole"]
        .as_array()
        .expect("assumed roles")
        .iter()
        .find(|r| {
            r["role_arn"] == json!(format!("arn:aws:iam::{member_account}:role/{ROLE}"))
                && r["session_name"] == json!("scan-2026-11-28T10-00-00Z")
        })
        .cloned()
        .expect("the adapter's assume is recorded");
    assert_eq!(assumed["external_id"], json!("scanflow-ext-1"));

    // Another account has no parameter: the error names it, the account and the fix.
    let empty = platform
        .member(&account(2), region, "scan")
        .await
        .expect("assumed");
    let err = empty.settings().await.expect_err("no parameter");
    assert_eq!(err.error_type(), "NotFound");
    assert!(err.to_string().contains("/scanflow/settings"), "{err}");
    assert!(err.to_string().contains("member stack"), "{err}");
}

#[tokio::test]
async fn notices_imported_through_the_member_role_are_the_members_and_reruns_update() {
    let Some(url) = moto() else { return };
    let region = "ap-southeast-2";
    let hub = sdk(&url, region).await;
    let member_account = account(3);
    let member_conf = member_sdk(&hub, &member_account, region).await;
    let member_hub = aws_sdk_securityhub::Client::new(&member_conf);
    member_hub
        .enable_security_hub()
        .send()
        .await
        .expect("enabled");

    let platform = AwsPlatform::new(hub.clone(), config("unused", None)).expect("platform");
    let member = platform
        .member(&member_account, region, "exec-7")
        .await
        .expect("assumed");
    let notice = |subject: &str, resource: NoticeResource, title: &str| Notice {
        id: Notice::id_for(&member_account, region, NoticeKind::NotScanned, subject),
        account_id: member_account.clone(),
        region: region.into(),
        kind: NoticeKind::NotScanned,
        severity: Severity::Medium,
        title: title.into(),
        description: "The instance has no SSM agent".into(),
        remedy: "Install the SSM agent".into(),
        resource,
        created_at: "2026-11-28T10:00:00Z".into(),
        execution: "exec-7".into(),
        resolved_at: None,
    };
    let batch = vec![
        notice(
            "i-1",
            NoticeResource::AwsEc2Instance { id: "i-1".into() },
            "i-1 not scanned",
        ),
        notice(
            "account",
            NoticeResource::AwsAccount {
                id: member_account.clone(),
            },
            "scan did not run",
        ),
    ];
    let refused = member
        .security_hub()
        .import_notices(&batch)
        .await
        .expect("imported");
    assert!(refused.is_empty(), "{refused:?}");
    let mut rerun = batch[..1].to_vec();
    rerun[0].title = "i-1 still not scanned".into();
    member
        .security_hub()
        .import_notices(&rerun)
        .await
        .expect("reimported");

    let stored = member_hub.get_findings().send().await.expect("findings");
    let findings = stored.findings();
    assert_eq!(findings.len(), 2, "same ids update, never duplicate");
    for f in findings {
        assert_eq!(f.aws_account_id(), Some(member_account.as_str()));
        assert_eq!(
            f.product_arn(),
            Some(
                format!(
                    "arn:aws:securityhub:{region}:{member_account}:product/{member_account}/default"
                )
                .as_str()
            )
        );
        assert_eq!(f.generator_id(), Some("scanflow"));
        assert_eq!(
            f.types(),
            ["Software and Configuration Checks/Vulnerabilities"]
        );
    }
    let instance = findings
        .iter()
        .find(|f| f.id() == Some(batch[0].id.as_str()))
        .expect("instance notice");
    assert_eq!(instance.title(), Some("i-1 still not scanned"));
    assert_eq!(
        instance.resources()[0].id(),
        Some(format!("arn:aws:ec2:{region}:{member_account}:instance/i-1").as_str())
    );

    // The hub's own Security Hub imports under the hub account.
    let hub_notice = notice(
        "hub",
        NoticeResource::AwsAccount {
            id: member_account.clone(),
        },
        "role not assumable",
    );
    platform
        .hub_security_hub()
        .import_notices(std::slice::from_ref(&hub_notice))
        .await
        .expect("hub import");
    let hub_client = aws_sdk_securityhub::Client::new(&hub);
    hub_client.enable_security_hub().send().await.ok();
    let mut token = None;
    let mut found = None;
    loop {
        let page = hub_client
            .get_findings()
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .expect("hub findings");
        found = found.or_else(|| {
            page.findings()
                .iter()
                .find(|f| f.id() == Some(hub_notice.id.as_str()))
                .cloned()
        });
        token = page.next_token().map(str::to_owned);
        if found.is_some() || token.is_none() {
            break;
        }
    }
    let found = found.expect("hub notice stored in the hub account");
    assert_eq!(found.aws_account_id(), Some(HUB));
}

/// A new topic with an HTTP subscription to a local listener: what the topic delivers.
async fn topic_with_subscriber(hub: &SdkConfig) -> (String, mpsc::Receiver<String>) {
    let sns = aws_sdk_sns::Client::new(hub);
    let topic = sns
        .create_topic()
        .name(format!("scanflow-{}", unique()))
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_owned();
    let (endpoint, received) = listener();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(&endpoint)
        .send()
        .await
        .expect("subscribed");
    (topic, received)
}

/// Accepts HTTP POSTs on 127.0.0.1 and sends back each body, until the receiver is dropped.
fn listener() -> (String, mpsc::Receiver<String>) {
    let socket = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/sns", socket.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok((stream, _)) = socket.accept() {
            if !answer(stream, &tx) {
                return;
            }
        }
    });
    (url, rx)
}

/// Reads one request, answers 200, forwards the body; false once nobody listens.
fn answer(stream: std::net::TcpStream, tx: &mpsc::Sender<String>) -> bool {
    stream.set_read_timeout(Some(Duration::from_secs(20))).ok();
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        line.clear();
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_ok() {
        let mut stream = reader.into_inner();
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        return tx.send(String::from_utf8_lossy(&body).into_owned()).is_ok();
    }
    true
}

#[tokio::test]
async fn the_notifier_tells_a_failure_once_and_its_resolution_through_aws() {
    let Some(url) = moto() else { return };
    let region = "eu-west-1";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let (topic, received) = topic_with_subscriber(&hub).await;
    let member_account = account(11);
    let member_conf = member_sdk(&hub, &member_account, region).await;
    let member_hub = aws_sdk_securityhub::Client::new(&member_conf);
    member_hub
        .enable_security_hub()
        .send()
        .await
        .expect("enabled");
    let platform =
        AwsPlatform::new(hub.clone(), config(&name, Some(topic.clone()))).expect("platform");

    let execution = format!("scan-{member_account}-{region}-20261128T02");
    let event = |status: &str, redrive: u32| {
        json!({
            "version": "0", "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "detail": {
                "executionArn": format!("arn:aws:states:{region}:{HUB}:execution:scanflow-scan:{execution}"),
                "stateMachineArn": format!("arn:aws:states:{region}:{HUB}:stateMachine:scanflow-scan"),
                "name": execution, "status": status,
                "startDate": 1_764_295_200_000_i64, "stopDate": 1_764_295_300_000_i64,
                "input": json!({"accountId": member_account, "region": region}).to_string(),
                "error": if status == "FAILED" { json!("ScanFailed") } else { json!(null) },
                "cause": if status == "FAILED" { json!("{\"errorType\":\"ScanFailed\",\"errorMessage\":\"the run ended FAILED\"}") } else { json!(null) },
                "redriveCount": redrive
            }
        })
    };
    let out = publish::notify::invoke(&platform, event("FAILED", 0))
        .await
        .expect("notified");
    assert_eq!(
        (out["messages"].clone(), out["noticesImported"].clone()),
        (json!(2), json!(1))
    );
    let subjects: Vec<String> = (0..2)
        .map(|_| {
            let body = received
                .recv_timeout(Duration::from_secs(20))
                .expect("delivered");
            let envelope: serde_json::Value = serde_json::from_str(&body).expect("envelope");
            envelope["Subject"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("scan FAILED")),
        "{subjects:?}"
    );

    // EventBridge delivers the same event again: the ledger in S3 sends nothing twice.
    let again = publish::notify::invoke(&platform, event("FAILED", 0))
        .await
        .expect("repeat");
    assert_eq!(
        (again["messages"].clone(), again["alreadySent"].clone()),
        (json!(0), json!(2))
    );
    assert!(
        received.recv_timeout(Duration::from_secs(2)).is_err(),
        "nothing more sent"
    );

    // The redrive succeeded: one RESOLVED message and the notice archived in the member.
    let resolved = publish::notify::invoke(&platform, event("SUCCEEDED", 1))
        .await
        .expect("resolved");
    assert_eq!(resolved["messages"], json!(1));
    let body = received
        .recv_timeout(Duration::from_secs(20))
        .expect("delivered");
    assert!(body.contains("RESOLVED"), "{body}");
    let id = Notice::id_for(
        &member_account,
        region,
        NoticeKind::ScanFailed,
        "ScanFailed",
    );
    let stored = member_hub.get_findings().send().await.expect("findings");
    let notice = stored
        .findings()
        .iter()
        .find(|f| f.id() == Some(id.as_str()))
        .expect("the failure notice is in the member's Security Hub");
    assert_eq!(notice.record_state().map(|r| r.as_str()), Some("ARCHIVED"));
}

#[tokio::test]
async fn published_messages_reach_an_http_subscriber_in_an_sns_envelope() {
    let Some(url) = moto() else { return };
    let region = "eu-west-1";
    let hub = sdk(&url, region).await;
    let sns = aws_sdk_sns::Client::new(&hub);
    let (topic, received) = topic_with_subscriber(&hub).await;

    let notifier = SnsNotifier::new(sns.clone(), Scope::new(HUB, region), Some(topic.clone()));
    let message = Message::new(
        "scanflow: 2 HIGH findings in 111122223333",
        json!({"schema": "scanflow/siem/v1", "part": 1, "parts": 1}).to_string(),
        BTreeMap::from([(ATTR_KIND.to_owned(), "siem".to_owned())]),
    )
    .expect("valid message");
    let message_id = notifier.publish(&message).await.expect("published");

    let body = received
        .recv_timeout(Duration::from_secs(20))
        .expect("moto delivers during Publish");
    let envelope: serde_json::Value = serde_json::from_str(&body).expect("JSON envelope");
    assert_eq!(envelope["Type"], json!("Notification"));
    assert_eq!(envelope["MessageId"], json!(message_id));
    assert_eq!(envelope["TopicArn"], json!(topic));
    assert_eq!(envelope["Message"], json!(message.body));
    assert_eq!(envelope["Subject"], json!(message.subject));
}

#[tokio::test]
async fn a_conditional_write_claims_a_key_once() {
    let Some(url) = moto() else { return };
    let region = "eu-west-1";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let store = S3Store::new(s3(&hub), Scope::new(HUB, region), name, KMS.into());
    let key = "scanflow/claims/111122223333/eu-west-1/20261128T020000Z.json";
    let first = store
        .put_if_absent(key, b"{\"execution\":\"a\"}".to_vec(), "application/json")
        .await
        .expect("first claim");
    let second = store
        .put_if_absent(key, b"{\"execution\":\"b\"}".to_vec(), "application/json")
        .await
        .expect("second claim answered");
    assert!(first);
    assert!(!second, "S3 refuses the second write with 412");
    let held = store.get(key).await.expect("claim");
    assert_eq!(held, b"{\"execution\":\"a\"}", "the first claim stands");
}

/// A plain HTTP GET of `url` (moto serves http): status line and body.
fn http_get(url: &str) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut stream = std::net::TcpStream::connect(host).expect("connect to moto");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers end");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, response[split + 4..].to_vec())
}

#[tokio::test]
async fn a_presigned_report_link_opens_the_report_without_credentials() {
    let Some(url) = moto() else { return };
    let region = "eu-west-1";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let store = S3Store::new(s3(&hub), Scope::new(HUB, region), name.clone(), KMS.into())
        .with_credentials(hub.credentials_provider());
    let key = "scanflow/111122223333/eu-west-1/0123456789abcdef/report.html";
    let page = b"<!DOCTYPE html><title>report</title>".to_vec();
    store
        .put(key, page.clone(), "text/html; charset=utf-8")
        .await
        .expect("put");
    let link = store
        .link(key, Some(std::time::Duration::from_secs(3600)))
        .await
        .expect("presign");
    let scanflow_core::ports::ObjectLink::Presigned { url: link, .. } = link else {
        panic!("expected a presigned link, got {link:?}");
    };
    assert!(link.contains("X-Amz-Expires=3600"), "{link}");
    let (status, body) = http_get(&link);
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, page, "the report, read with nothing but the URL");
}

#[tokio::test]
async fn a_20_mib_object_round_trips_through_the_report_store() {
    let Some(url) = moto() else { return };
    let region = "eu-west-1";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let store = S3Store::new(s3(&hub), Scope::new(HUB, region), name.clone(), KMS.into());
    let body: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| u8::try_from(i % 251).unwrap_or(0))
        .collect();
    store
        .put(
            "scanflow/big/findings/00000.jsonl",
            body.clone(),
            "application/x-ndjson",
        )
        .await
        .expect("put");
    let back = store
        .get("scanflow/big/findings/00000.jsonl")
        .await
        .expect("get");
    assert_eq!(back.len(), body.len());
    assert!(back == body, "the bytes come back unchanged");
    let head = s3(&hub)
        .head_object()
        .bucket(&name)
        .key("scanflow/big/findings/00000.jsonl")
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("aws:kms")
    );
    let err = store.get("scanflow/absent.json").await.expect_err("absent");
    assert_eq!(err.error_type(), "NotFound");
}

fn v2_finding(account: &str, region: &str, i: usize) -> serde_json::Value {
    json!({
        "findingArn": format!("arn:aws:inspector2:{region}:{account}:finding/{i:032x}"),
        "awsAccountId": account, "type": "PACKAGE_VULNERABILITY",
        "description": "openssl is affected", "title": format!("CVE-2024-{i} - openssl"),
        "remediation": {"recommendation": {"text": "Upgrade openssl"}},
        "severity": if i.is_multiple_of(2) { "HIGH" } else { "CRITICAL" },
        "firstObservedAt": 1_764_000_000, "lastObservedAt": 1_764_100_000, "status": "ACTIVE",
        "resources": [{"type": "AWS_EC2_INSTANCE", "id": format!("i-{i:04}"),
                       "tags": {"Patch": "Scan"}}],
        "packageVulnerabilityDetails": {"vulnerabilityId": format!("CVE-2024-{i}"),
                                        "source": "NVD"},
        "fixAvailable": "YES", "inspectorScore": 8.1
    })
}

fn run(account: &str, region: &str, report: &str) -> Run {
    Run {
        account_id: account.into(),
        region: region.into(),
        engine: Engine::Inspector2,
        run_id: report.into(),
        tag: None,
        duration_seconds: 3600,
        started_at: "2026-11-28T10:00:00Z".into(),
        deadline: "2026-11-28T12:00:00Z".into(),
        wait_seconds: 60,
        rerun: false,
        execution: "exec".into(),
        adopted: false,
        scheduled_at: None,
        sla_days: None,
        v2_readiness: None,
        cis: None,
    }
}

#[tokio::test]
async fn a_v2_listing_run_reads_list_findings_in_the_scanned_region_through_the_member_role() {
    let Some(url) = moto() else { return };
    let region = "us-west-2";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let member_account = account(4);
    let seeded = json!({
        "results": [[v2_finding(&member_account, region, 0), v2_finding(&member_account, region, 1),
                     v2_finding(&member_account, region, 2)]],
        "account_id": member_account, "region": region
    });
    post(
        &format!("{url}/moto-api/static/inspector2/findings-results"),
        &seeded.to_string(),
    )
    .expect("seeded");

    let platform = AwsPlatform::new(hub.clone(), config(&name, None)).expect("platform");
    let member = platform
        .member(&member_account, region, "exec")
        .await
        .expect("assumed");
    let page = member
        .findings_page(&run(&member_account, region, "scanflow-exec"), None)
        .await
        .expect("page");
    assert_eq!(page.next, None);
    let ids: Vec<_> = page
        .findings
        .iter()
        .map(|f| f.vulnerability_id.clone())
        .collect();
    assert_eq!(
        ids,
        [
            Some("CVE-2024-0".into()),
            Some("CVE-2024-1".into()),
            Some("CVE-2024-2".into())
        ]
    );
    let f = &page.findings[1];
    assert_eq!(f.account_id, member_account);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.instance_id.as_deref(), Some("i-0001"));
    assert_eq!(f.recommendation, "Upgrade openssl");
    assert_eq!(f.first_seen.as_deref(), Some("2025-11-24T16:00:00Z"));
}

#[tokio::test]
async fn a_delegated_admin_hub_reads_v2_findings_with_its_own_credentials() {
    let Some(url) = moto() else { return };
    let region = "ap-northeast-1";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let member_account = account(6);
    // moto keeps ListFindings results per calling account: these are what the hub (the
    // delegated administrator) sees of the member; the member's own view stays empty.
    let seeded = json!({
        "results": [[v2_finding(&member_account, region, 0), v2_finding(&member_account, region, 1)]],
        "account_id": HUB, "region": region
    });
    post(
        &format!("{url}/moto-api/static/inspector2/findings-results"),
        &seeded.to_string(),
    )
    .expect("seeded");
    let listing = run(&member_account, region, "scanflow-exec");

    let admin = Config {
        inspector_delegated_admin: true,
        ..config(&name, None)
    };
    let platform = AwsPlatform::new(hub.clone(), admin).expect("platform");
    let reader = platform.reader(&listing).await.expect("no role to assume");
    let page = reader.findings_page(&listing, None).await.expect("page");
    assert_eq!(page.findings.len(), 2);
    assert!(page.findings.iter().all(|f| f.account_id == member_account));
    // Reads only: what needs the member role is refused, not done in the hub account.
    assert_eq!(
        reader.settings().await.expect_err("no role").error_type(),
        "Internal"
    );

    let roles = AwsPlatform::new(hub.clone(), config(&name, None)).expect("platform");
    let member = roles.reader(&listing).await.expect("assumed");
    let page = member.findings_page(&listing, None).await.expect("page");
    assert!(
        page.findings.is_empty(),
        "the member's own view is empty in moto"
    );
}

#[tokio::test]
async fn a_report_object_in_the_hub_bucket_is_streamed_in_pages() {
    let Some(url) = moto() else { return };
    let region = "eu-central-1";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let member_account = account(5);
    let report = format!("{:08x}-0000-4000-8000-000000000000", unique() % 0xffff_ffff);
    let total = 2_345;
    let doc = json!({"findings": (0..total).map(|i| v2_finding(&member_account, region, i)).collect::<Vec<_>>()});
    s3(&hub)
        .put_object()
        .bucket(&name)
        .key(format!(
            "inspector2-reports/{member_account}/{region}/{report}.json"
        ))
        .body(doc.to_string().into_bytes().into())
        .send()
        .await
        .expect("report object");

    let platform = AwsPlatform::new(hub.clone(), config(&name, None)).expect("platform");
    let member = platform
        .member(&member_account, region, "exec")
        .await
        .expect("assumed");
    let run = run(&member_account, region, &report);
    let mut cursor = None;
    let mut sizes = Vec::new();
    let mut ids = Vec::new();
    loop {
        let page = member.findings_page(&run, cursor).await.expect("page");
        sizes.push(page.findings.len());
        ids.extend(page.findings.into_iter().map(|f| f.id));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(sizes, [1000, 1000, 345]);
    let expected: Vec<_> = (0..total)
        .map(|i| format!("arn:aws:inspector2:{region}:{member_account}:finding/{i:032x}"))
        .collect();
    assert_eq!(ids, expected);
}

/// A plain GET with the standard library (moto's API is unsigned HTTP on loopback).
fn get(url: &str) -> std::io::Result<String> {
    http("GET", url, "")
}

fn post(url: &str, body: &str) -> std::io::Result<String> {
    http("POST", url, body)
}

fn http(method: &str, url: &str, body: &str) -> std::io::Result<String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    if !status.starts_with('2') {
        return Err(std::io::Error::other(format!("{method} {url}: {head}")));
    }
    Ok(body.to_owned())
}

#[tokio::test]
async fn listing_the_report_store_returns_every_key_under_the_prefix_across_pages() {
    let Some(url) = moto() else { return };
    let region = "eu-west-1";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let store = S3Store::new(s3(&hub), Scope::new(HUB, region), name.clone(), KMS.into());
    // More than one ListObjectsV2 page (1,000 keys), plus keys outside the prefix.
    let mut expected = Vec::new();
    for i in 0..1_005 {
        let key = format!(
            "scanflow/registry/{:012}/eu-west-1.json",
            100_000_000_000u64 + i
        );
        store
            .put(&key, b"{}".to_vec(), "application/json")
            .await
            .expect("put");
        expected.push(key);
    }
    store
        .put(
            "scanflow/state/x/eu-west-1/last-delivery.json",
            b"{}".to_vec(),
            "application/json",
        )
        .await
        .expect("put");
    expected.sort();
    let keys = store.list("scanflow/registry/").await.expect("list");
    assert_eq!(keys, expected);
    assert!(
        store
            .list("scanflow/nothing/")
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn the_migration_check_reads_v2s_ec2_status_through_the_member_role() {
    use aws_sdk_inspector2::types::ResourceScanType;
    use scanflow_core::migration::ScanningStatus;
    let Some(url) = moto() else { return };
    let region = "eu-west-1";
    let hub = sdk(&url, region).await;
    let name = bucket(&hub, region).await;
    let member_account = account(11);
    let platform = AwsPlatform::new(hub.clone(), config(&name, None)).expect("platform");
    let member = platform
        .member(&member_account, region, "exec")
        .await
        .expect("assumed");
    // Never activated: moto leaves the account out of its answer.
    let err = member.v2_ec2_status().await.expect_err("never activated");
    assert!(
        err.to_string().contains("never have been activated"),
        "{err}"
    );
    let own = aws_sdk_inspector2::Client::new(&member_sdk(&hub, &member_account, region).await);
    for (scan, expected) in [
        (ResourceScanType::Ecr, ScanningStatus::Disabled),
        (ResourceScanType::Ec2, ScanningStatus::Enabled),
    ] {
        own.enable()
            .account_ids(&member_account)
            .resource_types(scan)
            .send()
            .await
            .expect("enabled");
        assert_eq!(member.v2_ec2_status().await, Ok(expected));
    }
}
