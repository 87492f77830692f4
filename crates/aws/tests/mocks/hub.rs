//! The hub's simple adapters and the member's settings: SNS publish, S3 put/get with SSE-KMS,
//! the SSM settings parameter read through the member.

use std::collections::BTreeMap;

use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sns::Client as Sns;
use aws_smithy_mocks::{MockResponse, mock};
use scanflow_aws::error::Scope;
use scanflow_aws::inspector2::ReportDestination;
use scanflow_aws::member::{AwsMember, MemberClients};
use scanflow_aws::s3::S3Store;
use scanflow_aws::sns::SnsNotifier;
use scanflow_core::message::{ATTR_KIND, Message, SNS_MESSAGE_LIMIT, attributes_size};
use scanflow_core::model::Engine;
use scanflow_core::ports::{MemberAccount, Notifier, ReportStore};
use serde_json::json;

use crate::{ACCOUNT, REGION, Seen, client, json, json_error, query_error, scope, xml};

const TOPIC: &str = "arn:aws:sns:eu-west-1:999999999999:scanflow";
const KMS: &str = "arn:aws:kms:eu-west-1:999999999999:key/k-1";

fn published() -> String {
    "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult>\
     <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>"
        .to_owned()
}

fn message(body_len: usize) -> Message {
    let attributes = BTreeMap::from([
        (ATTR_KIND.to_owned(), "siem".to_owned()),
        ("scanflow_part".to_owned(), "1".to_owned()),
    ]);
    let body = "x".repeat(body_len);
    Message {
        subject: "scanflow: 3 findings in 111122223333".into(),
        body,
        attributes,
    }
}

#[tokio::test]
async fn publish_sends_subject_body_and_string_attributes() {
    let seen = Seen::new();
    let s = seen.clone();
    let publish = mock!(Sns::publish).then_compute_response(move |r| {
        let mut attrs: Vec<(String, String, String)> = r
            .message_attributes()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.data_type().to_owned(),
                            v.string_value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        attrs.sort();
        s.push((
            r.topic_arn().map(str::to_owned),
            r.subject().map(str::to_owned),
            r.message().map(str::len),
            attrs,
        ));
        MockResponse::Http(xml(200, &published()))
    });
    let sns = SnsNotifier::new(
        client!(aws_sdk_sns, [&publish]),
        scope(),
        Some(TOPIC.into()),
    );
    let id = sns.publish(&message(10)).await.expect("published");
    assert_eq!(id, "m-1");
    let (topic, subject, len, attrs) = seen.all().remove(0);
    assert_eq!(topic.as_deref(), Some(TOPIC));
    assert_eq!(
        subject.as_deref(),
        Some("scanflow: 3 findings in 111122223333")
    );
    assert_eq!(len, Some(10));
    assert_eq!(
        attrs,
        [
            (ATTR_KIND.to_owned(), "String".to_owned(), "siem".to_owned()),
            (
                "scanflow_part".to_owned(),
                "String".to_owned(),
                "1".to_owned()
            )
        ]
    );
}

#[tokio::test]
async fn the_size_limit_is_checked_before_calling_at_the_limit_and_one_past() {
    let publish = mock!(Sns::publish).then_http_response(|| xml(200, &published()));
    let sns = SnsNotifier::new(
        client!(aws_sdk_sns, [&publish]),
        scope(),
        Some(TOPIC.into()),
    );
    let overhead = attributes_size(&message(0).attributes);
    let at_limit = message(SNS_MESSAGE_LIMIT - overhead);
    assert_eq!(at_limit.size(), SNS_MESSAGE_LIMIT);
    sns.publish(&at_limit).await.expect("at the limit");
    let over = message(SNS_MESSAGE_LIMIT - overhead + 1);
    let err = sns.publish(&over).await.expect_err("one past");
    assert_eq!(err.error_type(), "PayloadTooLarge");
    let mut bad_subject = message(1);
    bad_subject.subject = "two\nlines".into();
    assert_eq!(
        sns.publish(&bad_subject)
            .await
            .expect_err("subject")
            .error_type(),
        "InvalidInput"
    );
    let mut empty_attr = message(1);
    empty_attr
        .attributes
        .insert("scanflow_run".into(), String::new());
    assert_eq!(
        sns.publish(&empty_attr)
            .await
            .expect_err("attr")
            .error_type(),
        "InvalidInput"
    );
    assert_eq!(publish.num_calls(), 1, "refused messages never reach SNS");

    let no_topic = SnsNotifier::new(client!(aws_sdk_sns, [&publish]), scope(), None);
    assert_eq!(
        no_topic
            .publish(&message(1))
            .await
            .expect_err("no topic")
            .error_type(),
        "Internal"
    );
}

#[tokio::test]
async fn publish_retries_throttling_and_classifies_terminal_errors() {
    let publish = mock!(Sns::publish)
        .sequence()
        .http_response(|| query_error(400, "Throttling", "Rate exceeded"))
        .http_response(|| xml(200, &published()))
        .build();
    let sns = SnsNotifier::new(
        client!(aws_sdk_sns, [&publish]),
        scope(),
        Some(TOPIC.into()),
    );
    sns.publish(&message(5)).await.expect("recovered");
    assert_eq!(publish.num_calls(), 2);
    for (code, status, expected) in [
        ("NotFound", 404, "NotFound"),
        ("AuthorizationError", 403, "AccessDenied"),
        ("KMSAccessDeniedException", 400, "AccessDenied"),
        ("InvalidParameter", 400, "InvalidInput"),
    ] {
        let failing =
            mock!(Sns::publish).then_http_response(move || query_error(status, code, "no"));
        let sns = SnsNotifier::new(
            client!(aws_sdk_sns, [&failing]),
            scope(),
            Some(TOPIC.into()),
        );
        let err = sns.publish(&message(5)).await.expect_err(code);
        assert_eq!(err.error_type(), expected, "{code}");
        assert_eq!(failing.num_calls(), 1, "{code} is not retried");
    }
}

fn store(s3: aws_sdk_s3::Client) -> S3Store {
    S3Store::new(
        s3,
        Scope::new("999999999999", REGION),
        "hub-reports".into(),
        KMS.into(),
    )
}

#[tokio::test]
async fn put_encrypts_with_the_report_key_and_get_reads_it_back() {
    let seen = Seen::new();
    let s = seen.clone();
    let put = mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |r| {
        s.push((
            r.bucket().map(str::to_owned),
            r.key().map(str::to_owned),
            r.server_side_encryption().map(|e| e.as_str().to_owned()),
            r.ssekms_key_id().map(str::to_owned),
            r.bucket_key_enabled(),
            r.content_type().map(str::to_owned),
        ));
        PutObjectOutput::builder().build()
    });
    let get = mock!(aws_sdk_s3::Client::get_object)
        .match_requests(|r| r.key() == Some("scanflow/a/manifest.json"))
        .then_output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(b"{\"chunks\":[]}"))
                .build()
        });
    let st = store(client!(aws_sdk_s3, [&put, &get]));
    st.put(
        "scanflow/a/manifest.json",
        b"{}".to_vec(),
        "application/json",
    )
    .await
    .expect("put");
    let (bucket, key, sse, kms, bucket_key, content_type) = seen.all().remove(0);
    assert_eq!(bucket.as_deref(), Some("hub-reports"));
    assert_eq!(key.as_deref(), Some("scanflow/a/manifest.json"));
    assert_eq!(sse.as_deref(), Some("aws:kms"));
    assert_eq!(kms.as_deref(), Some(KMS));
    assert_eq!(bucket_key, Some(true));
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(
        st.get("scanflow/a/manifest.json").await.expect("get"),
        b"{\"chunks\":[]}"
    );
}

#[tokio::test]
async fn put_if_absent_asks_s3_for_if_none_match_and_tells_an_existing_key() {
    let seen = Seen::new();
    let s = seen.clone();
    let created = mock!(aws_sdk_s3::Client::put_object).then_compute_output(move |r| {
        s.push((
            r.if_none_match().map(str::to_owned),
            r.server_side_encryption().map(|e| e.as_str().to_owned()),
        ));
        PutObjectOutput::builder().build()
    });
    let st = store(client!(aws_sdk_s3, [&created]));
    assert!(
        st.put_if_absent("scanflow/claims/a.json", b"{}".to_vec(), "application/json")
            .await
            .expect("created")
    );
    assert_eq!(
        seen.all(),
        vec![(Some("*".to_owned()), Some("aws:kms".to_owned()))]
    );

    // 412: another writer got there first; nothing was written and it is no error.
    let exists = mock!(aws_sdk_s3::Client::put_object).then_http_response(|| {
        xml(
            412,
            "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>",
        )
    });
    let st = store(client!(aws_sdk_s3, [&exists]));
    assert!(
        !st.put_if_absent("scanflow/claims/a.json", b"{}".to_vec(), "application/json")
            .await
            .expect("answered")
    );

    // 409: a write racing this one; the step retries and then sees 412.
    let racing = mock!(aws_sdk_s3::Client::put_object).then_http_response(|| {
        xml(
            409,
            "<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional operation is currently in progress</Message></Error>",
        )
    });
    let st = store(client!(aws_sdk_s3, [&racing]));
    let err = st
        .put_if_absent("scanflow/claims/a.json", b"{}".to_vec(), "application/json")
        .await
        .expect_err("racing");
    assert_eq!(err.error_type(), "Transient", "{err}");
}

#[tokio::test]
async fn get_of_a_missing_key_is_not_found_and_outages_are_retried() {
    let missing = mock!(aws_sdk_s3::Client::get_object).then_http_response(|| {
        xml(404, "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>")
    });
    let st = store(client!(aws_sdk_s3, [&missing]));
    let err = st.get("scanflow/none.json").await.expect_err("missing");
    assert_eq!(err.error_type(), "NotFound");
    assert!(
        err.to_string()
            .contains("s3://hub-reports/scanflow/none.json"),
        "{err}"
    );

    let flaky = mock!(aws_sdk_s3::Client::get_object)
        .sequence()
        .http_status(503, None)
        .output(|| {
            GetObjectOutput::builder()
                .body(ByteStream::from_static(b"ok"))
                .build()
        })
        .build();
    let st = store(client!(aws_sdk_s3, [&flaky]));
    assert_eq!(st.get("k").await.expect("recovered"), b"ok");
    assert_eq!(flaky.num_calls(), 2);

    let denied = mock!(aws_sdk_s3::Client::put_object).then_http_response(|| {
        xml(
            403,
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
        )
    });
    let st = store(client!(aws_sdk_s3, [&denied]));
    let err = st
        .put("k", vec![1], "application/json")
        .await
        .expect_err("denied");
    match err {
        scanflow_core::ScanError::AccessDenied {
            action, account_id, ..
        } => {
            assert_eq!(action, "s3:PutObject");
            assert_eq!(account_id, "999999999999");
        }
        other => panic!("{other:?}"),
    }
}

fn member(ssm: aws_sdk_ssm::Client) -> AwsMember {
    let unused_s3 = client!(aws_sdk_s3, Vec::<&aws_smithy_mocks::Rule>::new());
    let clients = MemberClients {
        inspector: client!(aws_sdk_inspector, Vec::<&aws_smithy_mocks::Rule>::new()),
        inspector2: client!(aws_sdk_inspector2, Vec::<&aws_smithy_mocks::Rule>::new()),
        inspector2_own: client!(aws_sdk_inspector2, Vec::<&aws_smithy_mocks::Rule>::new()),
        securityhub: client!(aws_sdk_securityhub, Vec::<&aws_smithy_mocks::Rule>::new()),
        ssm,
        s3: unused_s3,
    };
    AwsMember::new(
        Scope::new(ACCOUNT, REGION),
        clients,
        "/scanflow/settings".into(),
        ReportDestination {
            hub: Scope::new("999999999999", REGION),
            bucket: "hub-reports".into(),
            kms_key_arn: KMS.into(),
        },
        scanflow_aws::member::Access::Role,
    )
}

#[tokio::test]
async fn settings_are_read_from_the_member_parameter() {
    let get = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/scanflow/settings"))
        .then_http_response(|| {
            json(
                json!({"Parameter": {"Name": "/scanflow/settings", "Type": "String",
                "Value": "{\"engine\":\"classic\",\"tagKey\":\"Patch\",\"tagValue\":\"Scan\",\
                          \"durationSeconds\":900,\"assessmentTemplateArn\":\
                          \"arn:aws:inspector:eu-west-1:111122223333:target/0-t/template/0-p\"}"}}),
            )
        });
    let m = member(client!(aws_sdk_ssm, [&get]));
    let settings = m.settings().await.expect("settings");
    assert_eq!(settings.engine, Engine::Classic);
    assert_eq!(settings.duration_seconds, 900);
    assert_eq!(settings.tag.map(|t| t.key), Some("Patch".to_owned()));
}

#[tokio::test]
async fn a_missing_parameter_says_to_deploy_the_member_stack() {
    let get = mock!(aws_sdk_ssm::Client::get_parameter).then_http_response(|| {
        json_error(
            400,
            "ParameterNotFound",
            "Parameter /scanflow/settings not found.",
        )
    });
    let m = member(client!(aws_sdk_ssm, [&get]));
    let err = m.settings().await.expect_err("missing");
    assert_eq!(err.error_type(), "NotFound");
    let text = err.to_string();
    assert!(
        text.contains("/scanflow/settings") && text.contains("member stack"),
        "{text}"
    );
    assert!(text.contains(ACCOUNT) && text.contains(REGION), "{text}");

    let throttled = mock!(aws_sdk_ssm::Client::get_parameter)
        .sequence()
        .http_response(|| json_error(400, "ThrottlingException", "Rate exceeded"))
        .http_response(|| json(json!({"Parameter": {"Name": "/scanflow/settings", "Value": "{}"}})))
        .build();
    let m = member(client!(aws_sdk_ssm, [&throttled]));
    assert_eq!(
        m.settings().await.expect("recovered").engine,
        Engine::Inspector2
    );
    assert_eq!(throttled.num_calls(), 2);
}

fn listing(
    keys: &[&str],
    next: Option<&str>,
) -> aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output {
    let mut out = aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder()
        .set_contents(Some(
            keys.iter()
                .map(|k| aws_sdk_s3::types::Object::builder().key(*k).build())
                .collect(),
        ))
        .is_truncated(next.is_some());
    if let Some(token) = next {
        out = out.next_continuation_token(token);
    }
    out.build()
}

#[tokio::test]
async fn list_follows_every_continuation_token_under_the_prefix() {
    let seen = Seen::new();
    let s = seen.clone();
    let pages = mock!(aws_sdk_s3::Client::list_objects_v2).then_compute_output(move |r| {
        s.push((
            r.bucket().map(str::to_owned),
            r.prefix().map(str::to_owned),
            r.continuation_token().map(str::to_owned),
        ));
        match r.continuation_token() {
            None => listing(&["scanflow/registry/b/eu-west-1.json"], Some("t1")),
            Some("t1") => listing(&["scanflow/registry/a/eu-west-1.json"], Some("t2")),
            _ => listing(&["scanflow/registry/c/us-east-1.json"], None),
        }
    });
    let st = store(client!(aws_sdk_s3, [&pages]));
    let keys = st.list("scanflow/registry/").await.expect("listed");
    assert_eq!(
        keys,
        [
            "scanflow/registry/a/eu-west-1.json",
            "scanflow/registry/b/eu-west-1.json",
            "scanflow/registry/c/us-east-1.json",
        ]
    );
    let calls = seen.all();
    assert_eq!(calls.len(), 3);
    for (bucket, prefix, _) in &calls {
        assert_eq!(bucket.as_deref(), Some("hub-reports"));
        assert_eq!(prefix.as_deref(), Some("scanflow/registry/"));
    }
    assert_eq!(
        calls.iter().map(|c| c.2.clone()).collect::<Vec<_>>(),
        [None, Some("t1".to_owned()), Some("t2".to_owned())]
    );
}

#[tokio::test]
async fn a_listing_that_cannot_complete_is_an_error_not_a_short_list() {
    // The same token twice would loop for ever.
    let stuck = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| listing(&["scanflow/registry/a/eu-west-1.json"], Some("same")));
    let st = store(client!(aws_sdk_s3, [&stuck]));
    let err = st.list("scanflow/registry/").await.expect_err("stuck");
    assert_eq!(err.error_type(), "Transient");
    assert!(err.to_string().contains("continuation token"), "{err}");

    // Truncated without a token.
    let truncated = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
        aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder()
            .is_truncated(true)
            .build()
    });
    let st = store(client!(aws_sdk_s3, [&truncated]));
    assert!(st.list("scanflow/").await.is_err());

    // Access denied names the action to grant.
    let denied = mock!(aws_sdk_s3::Client::list_objects_v2).then_http_response(|| {
        xml(
            403,
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
        )
    });
    let st = store(client!(aws_sdk_s3, [&denied]));
    let err = st.list("scanflow/registry/").await.expect_err("denied");
    assert_eq!(err.error_type(), "AccessDenied");
    assert!(err.to_string().contains("s3:ListBucket"), "{err}");

    // An empty bucket is an empty list.
    let empty = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
        aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::builder().build()
    });
    let st = store(client!(aws_sdk_s3, [&empty]));
    assert!(
        st.list("scanflow/registry/")
            .await
            .expect("empty")
            .is_empty()
    );
}

/// A client whose credentials are temporary and end in `credentials_left`, as an assumed role's.
fn presigning_store(credentials_left: std::time::Duration) -> S3Store {
    let expiry = std::time::SystemTime::now() + credentials_left;
    let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(
        aws_sdk_s3::config::Credentials::new(
            "ASIATESTKEY",
            "secret",
            Some("session-token".into()),
            Some(expiry),
            "test",
        ),
    );
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("eu-west-1"))
        .credentials_provider(credentials.clone())
        .build();
    store(aws_sdk_s3::Client::from_conf(conf)).with_credentials(Some(credentials))
}

#[tokio::test]
async fn a_report_link_is_a_presigned_get_whose_stated_expiry_is_the_earlier_of_the_two() {
    use scanflow_core::ports::ObjectLink;
    let hour = std::time::Duration::from_secs(3600);
    let key = "scanflow/111122223333/eu-west-1/0123456789abcdef/report.html";
    // The credentials outlive the link: the link's own 24 hours are stated.
    let link = presigning_store(48 * hour)
        .link(key, Some(24 * hour))
        .await
        .expect("presigned");
    let ObjectLink::Presigned { url, expires_at } = link else {
        panic!("expected a presigned link, got {link:?}");
    };
    assert!(
        url.starts_with("https://hub-reports.s3.eu-west-1.amazonaws.com/scanflow/111122223333/"),
        "{url}"
    );
    for part in [
        "X-Amz-Expires=86400",
        "X-Amz-Signature=",
        "X-Amz-Security-Token=session-token",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    let stated = scanflow_core::time::parse("expiresAt", &expires_at).expect("RFC 3339");
    let in_a_day = time::OffsetDateTime::now_utc() + time::Duration::hours(24);
    assert!(
        (stated - in_a_day).abs() < time::Duration::minutes(1),
        "{expires_at}"
    );
    // The credentials end first: the URL dies with them, and that is what is stated.
    let ObjectLink::Presigned { expires_at, .. } = presigning_store(hour)
        .link(key, Some(24 * hour))
        .await
        .expect("presigned")
    else {
        panic!("expected a presigned link");
    };
    let stated = scanflow_core::time::parse("expiresAt", &expires_at).expect("RFC 3339");
    let in_an_hour = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert!(
        (stated - in_an_hour).abs() < time::Duration::minutes(1),
        "{expires_at}"
    );
}

#[tokio::test]
async fn a_link_past_seven_days_is_refused_and_none_gives_the_console_page() {
    use scanflow_core::ports::ObjectLink;
    let hour = std::time::Duration::from_secs(3600);
    let st = presigning_store(400 * hour);
    assert!(st.link("k.html", Some(168 * hour)).await.is_ok(), "7 days");
    let err = st
        .link("k.html", Some(169 * hour))
        .await
        .expect_err("past 7 days");
    assert!(err.to_string().contains("ReportLinkHours"), "{err}");
    assert_eq!(
        st.link("scanflow/a b.html", None).await.expect("console"),
        ObjectLink::Console {
            url: "https://eu-west-1.console.aws.amazon.com/s3/object/hub-reports?region=eu-west-1&bucketType=general&prefix=scanflow/a%20b.html".into()
        }
    );
}
