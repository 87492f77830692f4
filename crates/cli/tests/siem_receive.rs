//! The reference SIEM receiver against messages OpenSSL signed as SNS does: genuine ones are
//! kept, a changed byte, a look-alike certificate host, an unsigned or stale message is
//! refused, SNS's retries are dropped, basic authentication is enforced, and hostile bodies
//! never panic it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use proptest::prelude::*;
use scanflow_cli::siem::assemble::Store;
use scanflow_cli::siem::server::{Confirm, Receiver, Request, read_request};
use scanflow_cli::siem::verify::{self, Freshness, Refusal, Trust, Verifier};
use scanflow_documents::sns_http::HttpMessage;
use time::macros::datetime;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sandbox_key() -> rsa::RsaPublicKey {
    verify::public_key_of(scanflow_sandbox::signing::CERT_PEM).expect("the sandbox certificate")
}

fn verifier(freshness: Freshness) -> Verifier {
    Verifier::new(Trust::Pinned(sandbox_key()), freshness)
}

fn message(name: &str) -> HttpMessage {
    HttpMessage::parse(fixture(name).as_bytes()).expect("a well-formed fixture")
}

/// Ten minutes after the fixtures were signed.
const NOW: time::OffsetDateTime = datetime!(2026-12-01 10:10 UTC);

#[test]
fn messages_signed_by_openssl_with_sha1_and_sha256_verify() {
    let v = verifier(Freshness::DEFAULT);
    for name in [
        "sns-notification-v1.json",
        "sns-notification-v2.json",
        "sns-subscription-confirmation.json",
    ] {
        assert_eq!(v.verify(&message(name), NOW), Ok(()), "{name}");
    }
}

#[test]
fn a_changed_byte_a_version_swap_or_another_host_is_refused() {
    let v = verifier(Freshness::Off);
    let good = message("sns-notification-v2.json");

    let mut changed = good.clone();
    changed.message = changed.message.replacen("f1", "f2", 1);
    assert_eq!(v.verify(&changed, NOW), Err(Refusal::BadSignature));

    let mut subject = good.clone();
    subject.subject = None;
    assert_eq!(v.verify(&subject, NOW), Err(Refusal::BadSignature));

    let mut signature = good.clone();
    signature.signature = signature.signature.replacen('A', "B", 1);
    assert_eq!(v.verify(&signature, NOW), Err(Refusal::BadSignature));

    // A SHA256 signature presented as version 1 does not verify as SHA1.
    let mut swapped = good.clone();
    swapped.signature_version = "1".into();
    assert_eq!(v.verify(&swapped, NOW), Err(Refusal::BadSignature));

    let mut version = good.clone();
    version.signature_version = "3".into();
    assert!(matches!(
        v.verify(&version, NOW),
        Err(Refusal::SignatureVersion(_))
    ));

    let mut host = good.clone();
    host.signing_cert_url =
        "https://sns.eu-west-1.amazonaws.com.attacker.example/SimpleNotificationService-x.pem"
            .into();
    assert!(matches!(v.verify(&host, NOW), Err(Refusal::CertUrl(_))));

    let mut unsigned = good.clone();
    unsigned.signature.clear();
    assert_eq!(v.verify(&unsigned, NOW), Err(Refusal::Unsigned));

    let mut confirm = message("sns-subscription-confirmation.json");
    confirm.subscribe_url = Some("https://attacker.example/?Action=ConfirmSubscription".into());
    assert!(matches!(
        v.verify(&confirm, NOW),
        Err(Refusal::SubscribeUrl(_))
    ));
}

#[test]
fn a_message_older_than_the_window_is_a_replay_and_one_from_the_future_is_refused() {
    let v = verifier(Freshness::Window {
        max_age_seconds: 3_600,
        max_ahead_seconds: 300,
    });
    let m = message("sns-notification-v2.json");
    // Sent 10:00: at 11:00 exactly it is still in the window, one second later it is not.
    assert_eq!(v.verify(&m, datetime!(2026-12-01 11:00 UTC)), Ok(()));
    assert!(matches!(
        v.verify(&m, datetime!(2026-12-01 11:00:01 UTC)),
        Err(Refusal::Stale { .. })
    ));
    assert_eq!(v.verify(&m, datetime!(2026-12-01 09:55 UTC)), Ok(()));
    assert!(matches!(
        v.verify(&m, datetime!(2026-12-01 09:54:59 UTC)),
        Err(Refusal::Future(_))
    ));
}

struct Harness {
    receiver: Receiver,
    out: PathBuf,
}

fn harness(
    label: &str,
    basic_auth: Option<&str>,
    confirmed: &'static Mutex<Vec<String>>,
) -> Harness {
    let out = std::env::temp_dir().join(format!("scanflow-receive-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let confirm: Confirm = Box::new(move |url| {
        confirmed
            .lock()
            .map_err(|e| e.to_string())?
            .push(url.to_owned());
        Ok(())
    });
    let receiver = Receiver::new(
        verifier(Freshness::DEFAULT),
        Store::new(&out).expect("store"),
        basic_auth,
        confirm,
    );
    Harness { receiver, out }
}

fn post(body: &str, headers: &[(&str, &str)]) -> Request {
    Request {
        method: "POST".into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn a_genuine_part_is_written_once_and_sns_retries_are_answered_without_rewriting() {
    static CONFIRMED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let h = harness("once", None, &CONFIRMED);
    let body = fixture("sns-notification-v2.json");
    let first = h.receiver.handle(
        &post(&body, &[("x-amz-sns-message-type", "Notification")]),
        NOW,
    );
    assert_eq!(first.status, 200, "{}", first.text);
    assert!(
        first.text.contains("run complete, 1 findings"),
        "{}",
        first.text
    );
    let file = h.out.join("111122223333/eu-west-1/fixture-run.ndjson");
    let written = std::fs::read_to_string(&file).expect("the run's file");
    let finding: serde_json::Value =
        serde_json::from_str(written.trim_end()).expect("one JSON line");
    assert_eq!(finding["title"], "line\nbreak \u{e9}");

    let again = h.receiver.handle(&post(&body, &[]), NOW);
    assert_eq!(again.status, 200);
    assert!(again.text.contains("duplicate"), "{}", again.text);

    let lying = h.receiver.handle(
        &post(
            &body,
            &[("x-amz-sns-message-type", "SubscriptionConfirmation")],
        ),
        NOW,
    );
    assert_eq!(lying.status, 400, "{}", lying.text);

    let tampered = body.replacen("fixture-run", "fixture-rum", 1);
    let refused = h.receiver.handle(&post(&tampered, &[]), NOW);
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        !h.out
            .join("111122223333/eu-west-1/fixture-rum.ndjson")
            .exists()
    );
    let _ = std::fs::remove_dir_all(&h.out);
}

#[test]
fn a_subscription_confirmation_is_confirmed_at_its_checked_url() {
    static CONFIRMED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let h = harness("confirm", None, &CONFIRMED);
    let m = message("sns-subscription-confirmation.json");
    let answer = h.receiver.handle(
        &post(&fixture("sns-subscription-confirmation.json"), &[]),
        NOW,
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        CONFIRMED.lock().map(|c| c.clone()).unwrap_or_default(),
        vec![m.subscribe_url.unwrap_or_default()]
    );
    let _ = std::fs::remove_dir_all(&h.out);
}

#[test]
fn basic_authentication_is_required_when_the_endpoint_carries_credentials() {
    static CONFIRMED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let h = harness("auth", Some("siem:s3cret"), &CONFIRMED);
    let body = fixture("sns-notification-v1.json");
    assert_eq!(h.receiver.handle(&post(&body, &[]), NOW).status, 401);
    // base64("siem:wrong") and base64("siem:s3cret")
    let wrong = [("Authorization", "Basic c2llbTp3cm9uZw==")];
    assert_eq!(h.receiver.handle(&post(&body, &wrong), NOW).status, 401);
    let right = [("Authorization", "Basic c2llbTpzM2NyZXQ=")];
    assert_eq!(h.receiver.handle(&post(&body, &right), NOW).status, 200);
    let _ = std::fs::remove_dir_all(&h.out);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever arrives, the receiver answers with a status and never panics; only what OpenSSL
    /// signed is ever accepted.
    #[test]
    fn hostile_bodies_and_requests_are_answered_never_panicked_on(
        bytes in proptest::collection::vec(any::<u8>(), 0..2_048),
        flip in 0usize..4_096,
        text in "\\PC{0,200}",
    ) {
        static CONFIRMED: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let h = harness("fuzz", None, &CONFIRMED);
        let r = h.receiver.handle(&post(&String::from_utf8_lossy(&bytes), &[]), NOW);
        prop_assert!(r.status >= 400);
        let _ = read_request(bytes.as_slice());
        let _ = HttpMessage::parse(text.as_bytes());

        // One byte of a genuine message changed: refused (or, if the change falls in an
        // unsigned field such as UnsubscribeURL, still kept exactly once).
        let mut body = fixture("sns-notification-v2.json").into_bytes();
        let at = flip % body.len();
        body[at] ^= 0x01;
        let r = h.receiver.handle(&post(&String::from_utf8_lossy(&body), &[]), NOW);
        prop_assert!(r.status == 200 || r.status >= 400, "{}", r.text);
        if r.status == 200 && !r.text.contains("duplicate") {
            let parsed = HttpMessage::parse(&body);
            let genuine = message("sns-notification-v2.json");
            prop_assert!(parsed.is_ok_and(|m| m.message == genuine.message && m.message_id == genuine.message_id));
        }
        let _ = std::fs::remove_dir_all(&h.out);
    }
}
