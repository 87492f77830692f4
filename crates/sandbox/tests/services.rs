//! STS, S3, SNS and Security Hub in the sandbox: refusals as AWS refuses, limits at the limit and
//! one past, filter-policy routing, HTTP delivery with SNS's envelope and retries.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::*;
use scanflow_core::ScanError;
use scanflow_core::message::{
    ATTR_KIND, KIND_DIGEST, KIND_FAILURE, KIND_SIEM, Message, SNS_MESSAGE_LIMIT, attributes_size,
};
use scanflow_core::model::{Engine, Severity};
use scanflow_core::ports::{
    FindingRef, MemberAccount, Notice, NoticeKind, NoticeResource, Notifier, Platform, ReportStore,
    SecurityHub,
};
use scanflow_sandbox::{
    DeliveryOutcome, HTTP_ATTEMPTS, HTTP_TIMEOUT, HttpEndpoint, MAX_DELIVERIES_IN_FLIGHT,
    Subscription,
};
use serde_json::json;

fn two_accounts() -> serde_json::Value {
    json!({
        "hub": {"accountId": HUB, "region": "eu-west-1"},
        "accounts": [
            {"accountId": ACCT, "region": REGION, "settings": {"engine": "inspector2"},
             "instances": [{"id": "i-0123456789abcdef0"}],
             "findings": {"generate": {"count": 120, "seed": 9}}},
            {"accountId": "444455556666", "region": REGION, "roleDeployed": false,
             "settings": {"engine": "inspector2"}}
        ]
    })
}

#[test]
fn assume_role_is_denied_like_sts_when_the_role_is_missing_or_the_account_unknown() {
    let sb = sandbox("sts", two_accounts());
    for account in ["444455556666", "555555555555"] {
        let err = pollster::block_on(sb.member(account, REGION, "exec-42"))
            .err()
            .expect("denied");
        match err {
            ScanError::RoleNotAssumable {
                account_id,
                role_arn,
                detail,
            } => {
                assert_eq!(account_id, account);
                assert_eq!(
                    role_arn,
                    format!("arn:aws:iam::{account}:role/scanflow-scan")
                );
                assert_eq!(
                    detail,
                    format!(
                        "AccessDenied: User: arn:aws:sts::{HUB}:assumed-role/scanflow-hub-functions/exec-42 \
                         is not authorized to perform: sts:AssumeRole on resource: \
                         arn:aws:iam::{account}:role/scanflow-scan"
                    )
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // Execution names (up to 80 characters, a wider set) become session names STS accepts.
    assert!(pollster::block_on(sb.member(ACCT, REGION, &"a".repeat(80))).is_ok());
    assert!(pollster::block_on(sb.member(ACCT, REGION, "x")).is_ok());
    assert_eq!(calls(&sb, "sts:AssumeRole"), 4);

    // The role exists (IAM is global) but the member stack is not in this region.
    let m = pollster::block_on(sb.member(ACCT, "eu-north-1", "exec-42")).expect("assumed");
    let err = pollster::block_on(m.settings()).expect_err("no settings there");
    assert!(
        matches!(err, ScanError::NotFound { ref what, .. } if what.contains("/scanflow/settings"))
    );
}

#[test]
fn the_bucket_stores_objects_under_validated_keys() {
    let sb = sandbox("s3", two_accounts());
    let store = sb.store();
    pollster::block_on(store.put("scanflow/a/b.json", b"{}".to_vec(), "application/json"))
        .expect("put");
    assert_eq!(
        pollster::block_on(store.get("scanflow/a/b.json")).expect("get"),
        b"{}"
    );
    assert!(sb.out_dir().join("s3/scanflow/a/b.json").is_file());
    let err = pollster::block_on(store.get("scanflow/missing.json")).expect_err("missing");
    assert_eq!(err.error_type(), "NotFound");
    assert_eq!(
        pollster::block_on(store.get("scanflow/a"))
            .expect_err("a folder")
            .error_type(),
        "NotFound"
    );
    for bad in ["../escape", "a/../../b", "/abs", "a//b", ""] {
        let err = pollster::block_on(store.put(bad, vec![], "text/plain")).expect_err(bad);
        assert!(
            matches!(err, ScanError::InvalidInput { ref field, .. } if field == "key"),
            "{bad}"
        );
    }
    assert_eq!(calls(&sb, "s3:PutObject"), 6);
    assert_eq!(calls(&sb, "s3:GetObject"), 3);
}

fn attrs(kind: Option<&str>) -> BTreeMap<String, String> {
    kind.map(|k| BTreeMap::from([(ATTR_KIND.to_owned(), k.to_owned())]))
        .unwrap_or_default()
}

#[test]
fn messages_at_the_size_limit_pass_and_one_byte_more_is_refused() {
    let sb = sandbox("sns-limit", two_accounts());
    let a = attrs(Some(KIND_SIEM));
    let at_limit = Message::new(
        "s",
        "x".repeat(SNS_MESSAGE_LIMIT - attributes_size(&a)),
        a.clone(),
    )
    .expect("at the limit");
    pollster::block_on(sb.notifier().publish(&at_limit)).expect("published");
    // Built by hand, past what Message::new allows.
    let over = Message {
        subject: "s".into(),
        body: format!("{}x", at_limit.body),
        attributes: a,
    };
    match pollster::block_on(sb.notifier().publish(&over)).expect_err("too large") {
        ScanError::PayloadTooLarge { size, limit, .. } => {
            assert_eq!((size, limit), (SNS_MESSAGE_LIMIT + 1, SNS_MESSAGE_LIMIT))
        }
        other => panic!("{other:?}"),
    }
    let bad_subject = Message {
        subject: "a\nb".into(),
        body: "x".into(),
        attributes: attrs(None),
    };
    let err = pollster::block_on(sb.notifier().publish(&bad_subject)).expect_err("subject");
    assert!(matches!(err, ScanError::InvalidInput { ref field, .. } if field == "Subject"));
    assert_eq!(sb.sns_messages().len(), 1);
    let log = std::fs::read_to_string(sb.out_dir().join("sns-messages.jsonl")).expect("log");
    assert_eq!(log.lines().count(), 1);
}

#[test]
fn without_bodies_the_log_keeps_each_messages_size_and_routes() {
    let sb = sandbox("sns-no-bodies", two_accounts());
    let kept = Message::new(
        "first",
        "a body of 23 characters".into(),
        attrs(Some(KIND_DIGEST)),
    )
    .expect("message");
    pollster::block_on(sb.notifier().publish(&kept)).expect("publish");
    sb.drop_message_bodies();
    let counted =
        Message::new("second", "x".repeat(5_000), attrs(Some(KIND_SIEM))).expect("message");
    pollster::block_on(sb.notifier().publish(&counted)).expect("publish");
    let msgs = sb.sns_messages();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].message, kept.body);
    assert_eq!(msgs[0].bytes, kept.size() as u64);
    assert_eq!(msgs[1].message, "", "the body is not kept");
    assert_eq!(msgs[1].bytes, counted.size() as u64);
    assert!(msgs[1].bytes > 5_000);
    assert_eq!(msgs[1].subject, "second");
    assert_eq!(msgs[1].subscriptions(), [Subscription::Https]);
    let log = std::fs::read_to_string(sb.out_dir().join("sns-messages.jsonl")).expect("log");
    assert!(
        log.len() < 5_000,
        "the log holds no body: {} bytes",
        log.len()
    );
}

#[test]
fn filter_policies_route_digests_and_failures_to_email_and_siem_documents_to_https() {
    let sb = sandbox("sns-routing", two_accounts());
    for kind in [Some(KIND_DIGEST), Some(KIND_SIEM), Some(KIND_FAILURE), None] {
        let m = Message::new("subject", "body".into(), attrs(kind)).expect("message");
        pollster::block_on(sb.notifier().publish(&m)).expect("publish");
    }
    let routes: Vec<Vec<Subscription>> = sb
        .sns_messages()
        .iter()
        .map(|m| m.subscriptions())
        .collect();
    assert_eq!(
        routes,
        [
            vec![Subscription::Email],
            vec![Subscription::Https],
            vec![Subscription::Email],
            vec![],
        ]
    );
    let msgs = sb.sns_messages();
    assert_eq!(msgs[0].deliveries[0].outcome, DeliveryOutcome::Recorded);
    assert_eq!(msgs[1].deliveries[0].outcome, DeliveryOutcome::NoEndpoint);
    let log = std::fs::read_to_string(sb.out_dir().join("sns-messages.jsonl")).expect("log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["deliveries"][0]["subscription"], "https");
    assert_eq!(lines[1]["messageId"], msgs[1].message_id.as_str());
}

fn owned(central: &str) -> serde_json::Value {
    json!({
        "hub": {"accountId": HUB, "region": "eu-west-1", "centralEmail": central},
        "accounts": [
            {"accountId": ACCT, "region": REGION, "settings": {"engine": "inspector2"},
             "owners": ["alice@example.com", "bob@example.com"]},
            // The same account in another Region names Alice again: one subscription each.
            {"accountId": ACCT, "region": "eu-central-1", "settings": {"engine": "inspector2"},
             "owners": ["alice@example.com"]},
            {"accountId": "444455556666", "region": REGION, "settings": {"engine": "inspector2"},
             "owners": ["carol@example.com"]}
        ]
    })
}

fn of_account(kind: &str, account: Option<&str>) -> Message {
    let mut a = attrs(Some(kind));
    if let Some(account) = account {
        a.insert(scanflow_core::message::ATTR_ACCOUNT.into(), account.into());
    }
    Message::new("subject", "body".into(), a).expect("message")
}

/// Who got each message: (subscription, owner address).
fn recipients(sb: &scanflow_sandbox::Sandbox) -> Vec<Vec<(Subscription, Option<String>)>> {
    sb.sns_messages()
        .iter()
        .map(|m| {
            m.deliveries
                .iter()
                .map(|d| (d.subscription, d.endpoint.clone()))
                .collect()
        })
        .collect()
}

#[test]
fn owners_get_only_their_accounts_digests_and_notices_and_the_central_address_what_the_hub_says() {
    let owner = |a: &str| (Subscription::Owner, Some(a.to_owned()));
    let central = (Subscription::Email, None);
    for (mode, central_gets_accounts) in [("everything", true), ("rollup", false)] {
        let sb = sandbox(&format!("sns-owners-{mode}"), owned(mode));
        for m in [
            of_account(KIND_DIGEST, Some(ACCT)),
            of_account(KIND_FAILURE, Some("444455556666")),
            of_account(KIND_SIEM, Some(ACCT)),
            of_account(scanflow_core::message::KIND_ROLLUP, None),
            of_account(scanflow_core::message::KIND_FLEET_WATCH, None),
            // An account nobody owns: central only (if it gets account e-mail at all).
            of_account(KIND_DIGEST, Some("777788889999")),
        ] {
            pollster::block_on(sb.notifier().publish(&m)).expect("publish");
        }
        let with_central = |mut v: Vec<(Subscription, Option<String>)>| {
            if central_gets_accounts {
                v.insert(0, central.clone());
            }
            v
        };
        assert_eq!(
            recipients(&sb),
            vec![
                with_central(vec![owner("alice@example.com"), owner("bob@example.com")]),
                with_central(vec![owner("carol@example.com")]),
                vec![(Subscription::Https, None)],
                vec![central.clone()],
                vec![central.clone()],
                with_central(vec![]),
            ],
            "{mode}"
        );
    }
}

#[test]
fn owner_addresses_are_checked_and_at_most_three() {
    let with_owners = |owners: serde_json::Value| {
        let mut s = owned("everything");
        s["accounts"][0]["owners"] = owners;
        scanflow_sandbox::Scenario::from_json(&s.to_string())
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(
        with_owners(json!(["a@example.com", "b@example.com", "c@example.com"])),
        None
    );
    let four = with_owners(json!([
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com"
    ]))
    .expect("refused");
    assert!(
        four.contains("accounts[0].owners") && four.contains("at most 3"),
        "{four}"
    );
    for bad in [
        "alice",
        "alice@localhost",
        "a@b@example.com",
        "a lice@example.com",
        "a,b@example.com",
    ] {
        let err = with_owners(json!([bad])).expect("refused");
        assert!(
            err.contains("owners[0]") && err.contains("e-mail address"),
            "{bad}: {err}"
        );
    }
    let long = format!("{}@example.com", "a".repeat(243));
    assert_eq!(long.len(), 255);
    let err = with_owners(json!([long])).expect("refused");
    assert!(err.contains("at most 254"), "{err}");
    assert_eq!(
        with_owners(json!([format!("{}@example.com", "a".repeat(242))])),
        None
    );
}

/// A request as the test server received it.
struct Received {
    headers: BTreeMap<String, String>,
    body: String,
}

/// Serves one request per entry of `statuses`, answering with that status.
fn server(statuses: Vec<u16>) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/siem", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for status in statuses {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).expect("header");
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).expect("body");
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = tx.send(Received {
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
    });
    (url, rx)
}

#[test]
fn the_http_endpoint_gets_the_sns_envelope_and_headers() {
    let (url, rx) = server(vec![200]);
    let sb = sandbox_with_endpoint("sns-http", two_accounts(), Some(url));
    let mut a = attrs(Some(KIND_SIEM));
    a.insert("scanflow_part".into(), "1".into());
    let m = Message::new("scanflow SIEM 1/1", "{\"findings\":[]}".into(), a).expect("message");
    let id = pollster::block_on(sb.notifier().publish(&m)).expect("published");
    let got = rx.recv().expect("one request");
    let topic = format!("arn:aws:sns:eu-west-1:{HUB}:scanflow");
    assert_eq!(got.headers["x-amz-sns-message-type"], "Notification");
    assert_eq!(got.headers["x-amz-sns-message-id"], id);
    assert_eq!(got.headers["x-amz-sns-topic-arn"], topic);
    assert!(got.headers["x-amz-sns-subscription-arn"].starts_with(&format!("{topic}:")));
    assert_eq!(got.headers["content-type"], "text/plain; charset=UTF-8");
    assert_eq!(
        got.headers["user-agent"],
        "Amazon Simple Notification Service Agent"
    );
    let env: serde_json::Value = serde_json::from_str(&got.body).expect("JSON envelope");
    assert_eq!(env["Type"], "Notification");
    assert_eq!(env["MessageId"], id.as_str());
    assert_eq!(env["TopicArn"], topic.as_str());
    assert_eq!(env["Subject"], "scanflow SIEM 1/1");
    assert_eq!(env["Message"], "{\"findings\":[]}");
    assert_eq!(env["Timestamp"], "2026-11-28T10:00:00.000Z");
    assert_eq!(env["SignatureVersion"], "2");
    // Signed with the 2,048-bit test key (the receiver's tests verify it against the
    // certificate); the URL is on SNS's host for the hub's Region, as receivers check.
    let signature = env["Signature"].as_str().expect("signature");
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, signature)
            .map(|s| s.len())
            .ok(),
        Some(256)
    );
    assert_eq!(
        env["SigningCertURL"],
        scanflow_sandbox::signing::cert_url("eu-west-1").as_str()
    );
    assert!(
        env["UnsubscribeURL"]
            .as_str()
            .expect("url")
            .contains("Action=Unsubscribe")
    );
    assert_eq!(
        env["MessageAttributes"]["scanflow_kind"],
        json!({"Type": "String", "Value": "siem"})
    );
    assert_eq!(env["MessageAttributes"]["scanflow_part"]["Value"], "1");
    assert_eq!(
        sb.sns_messages()[0].deliveries[0].outcome,
        DeliveryOutcome::Delivered {
            status: 200,
            attempts: 1
        }
    );
}

#[test]
fn a_5xx_is_retried_and_an_endpoint_that_keeps_failing_is_a_delivery_failure() {
    let (url, rx) = server(vec![500, 200]);
    let sb = sandbox_with_endpoint("sns-retry", two_accounts(), Some(url));
    let m = Message::new("s", "b".into(), attrs(Some(KIND_SIEM))).expect("message");
    pollster::block_on(sb.notifier().publish(&m)).expect("published");
    let (a, b) = (rx.recv().expect("first"), rx.recv().expect("retry"));
    assert_eq!(
        a.headers["x-amz-sns-message-id"], b.headers["x-amz-sns-message-id"],
        "a retry reuses the id"
    );
    assert_eq!(
        sb.sns_messages()[0].deliveries[0].outcome,
        DeliveryOutcome::Delivered {
            status: 200,
            attempts: 2
        }
    );

    let (url, rx) = server(vec![503; HTTP_ATTEMPTS as usize]);
    let sb = sandbox_with_endpoint("sns-fail", two_accounts(), Some(url));
    pollster::block_on(sb.notifier().publish(&m)).expect("the publish itself succeeds");
    assert_eq!(rx.iter().take(HTTP_ATTEMPTS as usize).count(), 4);
    assert_eq!(
        sb.sns_messages()[0].deliveries[0].outcome,
        DeliveryOutcome::Failed {
            attempts: 4,
            error: "HTTP 503".into()
        }
    );

    // Nothing listens: every attempt fails to connect.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let sb = sandbox_with_endpoint(
        "sns-refused",
        two_accounts(),
        Some(format!("http://127.0.0.1:{port}/")),
    );
    pollster::block_on(sb.notifier().publish(&m)).expect("published");
    assert!(matches!(
        sb.sns_messages()[0].deliveries[0].outcome,
        DeliveryOutcome::Failed { attempts: 4, .. }
    ));
}

#[test]
fn an_https_endpoint_is_refused_at_setup() {
    let scenario =
        scanflow_sandbox::Scenario::from_json(&two_accounts().to_string()).expect("scenario");
    let err = scanflow_sandbox::Sandbox::new(
        scenario,
        &out_dir("sns-https"),
        Some(HttpEndpoint::new("https://siem.example/")),
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("http://"), "{err}");
}

#[test]
fn a_delivery_timeout_is_one_millisecond_to_snss_fifteen_seconds() {
    let build = |timeout| {
        let scenario =
            scanflow_sandbox::Scenario::from_json(&two_accounts().to_string()).expect("scenario");
        scanflow_sandbox::Sandbox::new(
            scenario,
            &out_dir("sns-timeout"),
            Some(HttpEndpoint {
                url: "http://127.0.0.1:9/".into(),
                timeout,
            }),
        )
        .err()
        .map(|e| e.to_string())
    };
    assert_eq!(build(Duration::from_millis(1)), None);
    assert_eq!(build(HTTP_TIMEOUT), None);
    for refused in [Duration::ZERO, HTTP_TIMEOUT + Duration::from_millis(1)] {
        let err = build(refused).expect("refused");
        assert!(err.contains("timeout") && err.contains("15 s"), "{err}");
    }
}

#[test]
fn a_4xx_is_a_failed_delivery_that_sns_does_not_retry() {
    // The server answers 401 once, then would answer 200: a retry would be "delivered".
    let (url, rx) = server(vec![401, 200]);
    let sb = sandbox_with_endpoint("sns-4xx", two_accounts(), Some(url));
    let m = Message::new("s", "b".into(), attrs(Some(KIND_SIEM))).expect("message");
    pollster::block_on(sb.notifier().publish(&m)).expect("the publish itself succeeds");
    let outcome = sb.sns_messages()[0].deliveries[0].outcome.clone();
    assert!(
        matches!(&outcome, DeliveryOutcome::Failed { attempts: 1, error } if error.contains("HTTP 401")),
        "{outcome:?}"
    );
    // The server records a request after answering it: wait for the first, then none follows.
    rx.recv_timeout(Duration::from_secs(5))
        .expect("the one attempt reached the server");
    assert_eq!(rx.try_iter().count(), 0, "one attempt only");
    assert_eq!(sb.undelivered().expect("log").len(), 1);
}

#[test]
fn a_hanging_endpoint_costs_each_message_its_timeouts_and_deliveries_overlap() {
    // Accepts every connection and never answers; counts how many are open at once.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/siem", listener.local_addr().expect("addr"));
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (o, m) = (open.clone(), most.clone());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let now = o.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            let o = o.clone();
            // The client gives up after its timeout; the stream then reads end-of-file.
            held.push(std::thread::spawn(move || {
                let mut sink = [0u8; 4096];
                let mut stream = stream;
                while stream.read(&mut sink).is_ok_and(|n| n > 0) {}
                o.fetch_sub(1, Ordering::SeqCst);
            }));
        }
    });
    let scenario =
        scanflow_sandbox::Scenario::from_json(&two_accounts().to_string()).expect("scenario");
    let sb = scanflow_sandbox::Sandbox::new(
        scenario,
        &out_dir("sns-hang"),
        Some(HttpEndpoint {
            url,
            timeout: Duration::from_millis(200),
        }),
    )
    .expect("sandbox");
    let messages = 2 * MAX_DELIVERIES_IN_FLIGHT;
    for _ in 0..messages {
        let m = Message::new("s", "b".into(), attrs(Some(KIND_SIEM))).expect("message");
        pollster::block_on(sb.notifier().publish(&m)).expect("publish answers at once");
    }
    let undelivered = sb.undelivered().expect("log");
    assert_eq!(
        undelivered.len(),
        messages,
        "every message is reported lost"
    );
    for m in &undelivered {
        assert!(
            matches!(&m.deliveries[0].outcome,
                DeliveryOutcome::Failed { attempts, .. } if *attempts == HTTP_ATTEMPTS),
            "{:?}",
            m.deliveries[0].outcome
        );
    }
    // The server sees a connection close a little after the client gave up on it, so it can
    // count one more than are really open; that they overlap at all is what this shows.
    let seen = most.load(Ordering::SeqCst);
    assert!(seen >= 2, "deliveries overlap: at most {seen} open at once");
    // Read back in the order of publishing, whatever order the deliveries ended in.
    let order: Vec<u64> = sb.sns_messages().iter().map(|m| m.sequence).collect();
    assert_eq!(order, (0..messages as u64).collect::<Vec<_>>());
}

fn notice(id: &str, account: &str) -> Notice {
    Notice {
        id: id.into(),
        account_id: account.into(),
        region: REGION.into(),
        kind: NoticeKind::NotScanned,
        severity: Severity::Medium,
        title: "Instance not scanned".into(),
        description: "The instance has no agent.".into(),
        remedy: "Install the agent.".into(),
        resource: NoticeResource::AwsEc2Instance {
            id: "i-0123456789abcdef0".into(),
        },
        created_at: "2026-11-28T10:00:00Z".into(),
        execution: "exec-1".into(),
        resolved_at: None,
    }
}

#[test]
fn imports_take_100_notices_refuse_101_and_upsert_by_id() {
    let sb = sandbox("sh-import", two_accounts());
    let m = member(&sb);
    let hub = m.security_hub();
    let hundred: Vec<Notice> = (0..100).map(|i| notice(&format!("n-{i}"), ACCT)).collect();
    assert!(
        pollster::block_on(hub.import_notices(&hundred))
            .expect("100 pass")
            .is_empty()
    );
    let mut more = hundred.clone();
    more.push(notice("n-100", ACCT));
    let err = pollster::block_on(hub.import_notices(&more)).expect_err("101 refused");
    assert!(
        matches!(err, ScanError::InvalidInput { ref field, ref problem, .. } if field == "Findings" && problem == "has 101")
    );
    let mut changed = notice("n-0", ACCT);
    changed.title = "Updated".into();
    pollster::block_on(hub.import_notices(&[changed])).expect("upsert");
    let state = sb.security_hub_state(ACCT);
    assert_eq!(state.notices.len(), 100);
    assert_eq!(state.notices["n-0"].title, "Updated");
    assert_eq!(calls(&sb, "securityhub:BatchImportFindings"), 3);
}

#[test]
fn a_notice_about_another_account_is_refused_like_batch_import_findings() {
    let sb = sandbox("sh-wrong-account", two_accounts());
    let hub = sb.hub_security_hub();
    let out = pollster::block_on(hub.import_notices(&[notice("x", ACCT), notice("y", HUB)]))
        .expect("call");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].id, "x");
    assert!(
        out[0].reason.starts_with("AccessDeniedException:"),
        "{}",
        out[0].reason
    );
    assert!(out[0].reason.contains(ACCT) && out[0].reason.contains(HUB));
    assert_eq!(
        sb.security_hub_state(HUB)
            .notices
            .keys()
            .collect::<Vec<_>>(),
        ["y"]
    );
    assert!(sb.security_hub_state(ACCT).notices.is_empty());
}

#[test]
fn marking_takes_100_known_findings_refuses_101_and_reports_unknown_ones() {
    let sb = sandbox("sh-mark", two_accounts());
    let m = member(&sb);
    let s = settings(&m);
    let st = pollster::block_on(m.start_scan(&s, "exec-1")).expect("start");
    let run = run_for(Engine::Inspector2, &st.run_id, None);
    sb.set_now(at(60));
    let (findings, _) = all_findings(&m, &run);
    assert_eq!(findings.len(), 120);
    let refs: Vec<FindingRef> = findings
        .iter()
        .map(|f| FindingRef {
            id: f.id.clone(),
            region: f.region.clone(),
        })
        .collect();
    let hub = m.security_hub();
    let fields = |v: &str| BTreeMap::from([("scanflow_execution".to_owned(), v.to_owned())]);
    // Security Hub holds every reported finding as NEW, a page of 100 at a time.
    let first = pollster::block_on(hub.new_findings(None)).expect("page");
    assert_eq!(first.findings.len(), 100);
    let second = pollster::block_on(hub.new_findings(first.next.clone())).expect("page");
    assert_eq!(second.findings.len(), 20);
    assert!(second.next.is_none());
    let out =
        pollster::block_on(hub.mark_notified(&refs[..100], &fields("exec-1"))).expect("100 pass");
    assert!(out.is_empty());
    let err = pollster::block_on(hub.mark_notified(&refs[..101], &fields("n"))).expect_err("101");
    assert!(
        matches!(err, ScanError::InvalidInput { ref field, .. } if field == "FindingIdentifiers")
    );
    let unknown = FindingRef {
        id: "arn:aws:inspector2:us-east-1:111122223333:finding/ffff".into(),
        region: REGION.into(),
    };
    let out = pollster::block_on(hub.mark_notified(
        &[refs[100].clone(), unknown.clone(), refs[100].clone()],
        &fields("again"),
    ))
    .expect("call");
    let reasons: Vec<(&str, &str)> = out
        .iter()
        .map(|u| (u.id.as_str(), u.reason.split(':').next().unwrap_or("")))
        .collect();
    assert_eq!(
        reasons,
        [
            (unknown.id.as_str(), "FindingNotFound"),
            (refs[100].id.as_str(), "DuplicatedFindingIdentifier")
        ]
    );
    let state = sb.security_hub_state(ACCT);
    assert_eq!(state.notified.len(), 101);
    assert_eq!(state.notified[&refs[0].id], fields("exec-1"));
    assert_eq!(state.notified[&refs[100].id], fields("again"));
    // Marked findings are no longer NEW.
    let left = pollster::block_on(hub.new_findings(None)).expect("page");
    assert_eq!(left.findings.len(), 19);
}

#[test]
fn the_bucket_lists_keys_by_string_prefix_in_order() {
    let sb = sandbox("s3-list", two_accounts());
    let store = sb.store();
    for key in [
        "scanflow/registry/222233334444/eu-west-1.json",
        "scanflow/registry/111122223333/us-east-1.json",
        "scanflow/state/111122223333/us-east-1/last-delivery.json",
    ] {
        pollster::block_on(store.put(key, b"{}".to_vec(), "application/json")).expect("put");
    }
    assert_eq!(
        pollster::block_on(store.list("scanflow/registry/")).expect("list"),
        [
            "scanflow/registry/111122223333/us-east-1.json",
            "scanflow/registry/222233334444/eu-west-1.json",
        ]
    );
    // A prefix is a string prefix, not a folder, as in S3.
    assert_eq!(
        pollster::block_on(store.list("scanflow/reg"))
            .expect("list")
            .len(),
        2
    );
    assert!(
        pollster::block_on(store.list("scanflow/none/"))
            .expect("list")
            .is_empty()
    );
    assert_eq!(calls(&sb, "s3:ListObjectsV2"), 3);
}

#[test]
fn a_report_link_is_the_file_up_to_seven_days_and_refused_past_them() {
    use scanflow_core::ports::ObjectLink;
    let sb = sandbox("report-link", two_accounts());
    let key = "scanflow/111122223333/eu-west-1/0123456789abcdef/report.html";
    pollster::block_on(
        sb.store()
            .put(key, b"<!DOCTYPE html>".to_vec(), "text/html"),
    )
    .expect("put");
    let hour = Duration::from_secs(3600);
    let ObjectLink::File { url } =
        pollster::block_on(sb.store().link(key, Some(168 * hour))).expect("7 days")
    else {
        panic!("expected the file");
    };
    let path = url.strip_prefix("file://").expect("a file URL");
    assert_eq!(
        std::fs::read(path).expect("the linked file"),
        b"<!DOCTYPE html>"
    );
    let err = pollster::block_on(sb.store().link(key, Some(169 * hour))).expect_err("past 7 days");
    assert!(err.to_string().contains("ReportLinkHours"), "{err}");
    // Presigning turned off: the S3 console page, as in AWS.
    let ObjectLink::Console { url } =
        pollster::block_on(sb.store().link(key, None)).expect("console")
    else {
        panic!("expected the console page");
    };
    assert!(
        url.starts_with("https://eu-west-1.console.aws.amazon.com/s3/object/scanflow-reports-"),
        "{url}"
    );
    assert!(url.ends_with(&format!("prefix={key}")), "{url}");
    // A key that would leave the bucket folder gets no link.
    assert!(pollster::block_on(sb.store().link("../etc/passwd", None)).is_err());
}

#[test]
fn a_bad_accepted_risk_list_is_refused_naming_the_entry_before_anything_runs() {
    let mut scenario = two_accounts();
    scenario["hub"]["acceptedRisks"] = json!([
        {"resource": "i-0123456789abcdef0", "reason": "r", "owner": "o",
         "expiresAt": "2027-01-01T00:00:00Z"},
        {"resource": "i-0123456789abcdef0", "reason": "r", "owner": "o",
         "expiresAt": "the end of the quarter"}
    ]);
    let scenario: scanflow_sandbox::Scenario =
        serde_json::from_value(scenario).expect("the shape parses");
    let err = scanflow_sandbox::Sandbox::new(scenario, &out_dir("bad-acceptances"), None)
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(text.contains("hub.acceptedRisks"), "{text}");
    assert!(text.contains("acceptedRisks[1].expiresAt"), "{text}");
}
