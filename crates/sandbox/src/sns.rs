//! The scanflow topic: SNS's checks on what is published, the two subscriptions with the filter
//! policies the hub template sets, and delivery to an HTTP endpoint in SNS's notification
//! envelope with SNS's retries. Every message is appended to `<out>/sns-messages.jsonl` and
//! read back from there when asked for: a run with a million findings publishes a gigabyte of
//! SIEM parts, which memory need not hold.
//!
//! Deliveries run beside the publisher, at most [`MAX_DELIVERIES_IN_FLIGHT`] at once, as SNS
//! delivers after `Publish` has answered: an endpoint that hangs costs each message its
//! attempts' timeouts, not the run one message after another. Reading the messages back waits
//! for the deliveries still under way.
//!
//! Deliveries are signed as SNS signs them, with the sandbox's test key ([`crate::signing`]), so
//! a receiver that verifies signatures works against the sandbox once told to trust its
//! certificate.

use std::collections::BTreeMap;
use std::future::{Future, ready};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use scanflow_core::ScanError;
use scanflow_core::message::{
    ATTR_ACCOUNT, ATTR_KIND, KIND_DIGEST, KIND_FAILURE, KIND_FLEET_WATCH, KIND_RESOLVED,
    KIND_ROLLUP, KIND_SIEM, Message,
};
use scanflow_core::ports::Notifier;

use scanflow_documents::sns_http::{self, HttpMessage};

use crate::scenario::CentralEmail;
use crate::signing::{self, Signer};
use crate::{SandboxError, Shared, ids, lock};

/// The topic's name in the hub account.
pub const TOPIC_NAME: &str = "scanflow";
/// SNS's default HTTP/S delivery policy: the first attempt and 3 retries.
pub const HTTP_ATTEMPTS: u32 = 4;
/// SNS gives an endpoint 15 seconds to answer.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Deliveries under way at once; a publish waits for a free place (SNS's own parallelism is
/// not documented; four keep a hanging endpoint's cost to a quarter).
pub const MAX_DELIVERIES_IN_FLIGHT: usize = 4;

/// Where the HTTPS subscription's messages go, and how long each attempt may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpEndpoint {
    /// Plain `http://host[:port]/path` (a local receiver, or a proxy in front of the real one).
    pub url: String,
    /// Per attempt; SNS's is [`HTTP_TIMEOUT`].
    pub timeout: Duration,
}

impl HttpEndpoint {
    /// An endpoint with SNS's timeout.
    pub fn new(url: impl Into<String>) -> Self {
        HttpEndpoint {
            url: url.into(),
            timeout: HTTP_TIMEOUT,
        }
    }
}

/// The topic's subscriptions and their filter policies on `scanflow_kind` (and, for owners,
/// on `scanflow_account`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subscription {
    /// `DestinationEmailAddress`: the central team; what it gets is the hub's
    /// `CentralEmailReceives` ([`CentralEmail`]).
    Email,
    /// `HTTPEndpoint`: the SIEM gets every SIEM document (findings parts and failures).
    Https,
    /// An account owner's address (the member template's `OwnerEmails`): that account's
    /// digests and notices only.
    Owner,
}

impl Subscription {
    /// The `scanflow_kind` values the subscription's filter policy accepts (the central
    /// address's when it receives everything).
    pub fn accepted_kinds(self) -> &'static [&'static str] {
        match self {
            Self::Email => &[
                KIND_DIGEST,
                KIND_FAILURE,
                KIND_RESOLVED,
                KIND_FLEET_WATCH,
                KIND_ROLLUP,
            ],
            Self::Https => &[KIND_SIEM],
            Self::Owner => &[KIND_DIGEST, KIND_FAILURE, KIND_RESOLVED],
        }
    }

    /// SNS filter-policy matching on the kind: the attribute must be present with an accepted
    /// value.
    pub fn accepts(self, attributes: &BTreeMap<String, String>) -> bool {
        attributes
            .get(ATTR_KIND)
            .is_some_and(|k| self.accepted_kinds().contains(&k.as_str()))
    }
}

/// The kinds the central address gets under `CentralEmailReceives` = `rollup`: what is about
/// the whole organisation (each account's own e-mail then goes to its owners).
pub const CENTRAL_ROLLUP_KINDS: &[&str] = &[KIND_FLEET_WATCH, KIND_ROLLUP];

impl CentralEmail {
    /// The central address's filter policy on `scanflow_kind`.
    pub fn accepted_kinds(self) -> &'static [&'static str] {
        match self {
            CentralEmail::Everything => Subscription::Email.accepted_kinds(),
            CentralEmail::Rollup => CENTRAL_ROLLUP_KINDS,
        }
    }
}

/// One message as published, and what became of it per subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedMessage {
    /// The order of publishing: the log's lines are in the order deliveries ended.
    pub sequence: u64,
    pub message_id: String,
    pub timestamp: String,
    pub subject: String,
    /// The body; empty when the sandbox was told to count bodies only
    /// ([`crate::Sandbox::drop_message_bodies`]).
    pub message: String,
    /// What SNS limits and bills: the body's and the attributes' bytes (`Message::size`).
    #[serde(default)]
    pub bytes: u64,
    pub attributes: BTreeMap<String, String>,
    /// One entry per subscription whose filter policy matched.
    pub deliveries: Vec<Delivery>,
}

impl PublishedMessage {
    /// The subscriptions the message went to.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.deliveries.iter().map(|d| d.subscription).collect()
    }

    /// No subscription's filter policy took it: SNS accepted it and dropped it.
    pub fn unrouted(&self) -> bool {
        self.deliveries.is_empty()
    }

    /// It did not reach everyone meant to get it: unrouted, or a delivery failed.
    pub fn undelivered(&self) -> bool {
        self.unrouted() || self.deliveries.iter().any(|d| d.outcome.is_failed())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub subscription: Subscription,
    /// The owner's address, for an [`Subscription::Owner`] delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub outcome: DeliveryOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum DeliveryOutcome {
    /// E-mail: there is no mail server; the message is in the log.
    Recorded,
    /// HTTPS subscription, but the sandbox was given no endpoint.
    NoEndpoint,
    /// The endpoint answered 2xx.
    Delivered { status: u16, attempts: u32 },
    /// The endpoint refused it (4xx, not retried) or every attempt failed (5xx, timeout,
    /// no connection); SNS drops the message (the publish still succeeded).
    Failed { attempts: u32, error: String },
}

impl DeliveryOutcome {
    /// The message did not reach a subscriber that exists.
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// The file in the output folder every published message is appended to, one JSON line each.
pub const LOG_FILE: &str = "sns-messages.jsonl";

fn log_path(shared: &Shared) -> std::path::PathBuf {
    shared.out_dir.join(LOG_FILE)
}

/// Byte offsets into the message log: where this sandbox's messages begin (an earlier sandbox
/// on the same folder appended before it) and how far [`SnsSim::take_log`] has read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogCursor {
    start: u64,
    taken: u64,
}

impl LogCursor {
    pub(crate) fn at_end_of(out_dir: &std::path::Path) -> Self {
        let end = std::fs::metadata(out_dir.join(LOG_FILE)).map_or(0, |m| m.len());
        LogCursor {
            start: end,
            taken: end,
        }
    }
}

/// [`Notifier`] for the simulated topic.
pub struct SnsSim {
    shared: Arc<Shared>,
    topic_arn: String,
    endpoint: Option<Arc<Endpoint>>,
    sequence: AtomicU64,
    in_flight: Arc<InFlight>,
}

/// The HTTP subscriber and what posts to it.
struct Endpoint {
    url: String,
    agent: ureq::Agent,
    signer: Signer,
    topic_arn: String,
    subscription_arn: String,
    timeout: Duration,
}

/// The deliveries under way, and a signal when one ends.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    ended: Condvar,
}

impl InFlight {
    /// Waits until fewer than `limit` deliveries are under way, then counts one more.
    fn enter(&self, limit: usize) {
        let mut count = lock(&self.count);
        while *count >= limit {
            count = self.ended.wait(count).unwrap_or_else(|e| e.into_inner());
        }
        *count += 1;
    }

    fn leave(&self) {
        let mut count = lock(&self.count);
        *count = count.saturating_sub(1);
        self.ended.notify_all();
    }

    /// Waits until every delivery has ended.
    fn settle(&self) {
        let mut count = lock(&self.count);
        while *count > 0 {
            count = self.ended.wait(count).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl SnsSim {
    pub(crate) fn new(
        shared: Arc<Shared>,
        endpoint: Option<HttpEndpoint>,
    ) -> Result<Self, SandboxError> {
        let hub = &shared.scenario.hub;
        let topic_arn = format!(
            "arn:{}:sns:{}:{}:{TOPIC_NAME}",
            scanflow_core::partition::of(&hub.region),
            hub.region,
            hub.account_id
        );
        let endpoint = match endpoint {
            None => None,
            Some(HttpEndpoint { url, timeout }) => {
                let refuse = |problem: String| SandboxError::Endpoint {
                    endpoint: url.clone(),
                    problem,
                };
                let host = url.strip_prefix("http://").ok_or_else(|| {
                    refuse(
                        "the sandbox posts plain HTTP only; give an http:// URL (a local \
                         receiver, or a TLS-terminating proxy in front of the real one)"
                            .into(),
                    )
                })?;
                if host.is_empty() || host.starts_with('/') {
                    return Err(refuse(
                        "has no host; expected http://host[:port]/path".into(),
                    ));
                }
                if timeout.is_zero() || timeout > HTTP_TIMEOUT {
                    return Err(refuse(format!(
                        "timeout {} ms: give 1 ms to {} s (SNS's own)",
                        timeout.as_millis(),
                        HTTP_TIMEOUT.as_secs()
                    )));
                }
                let config = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(timeout))
                    .max_redirects(0)
                    .user_agent("Amazon Simple Notification Service Agent")
                    .build();
                let signer = Signer::new().map_err(|e| refuse(e.to_string()))?;
                Some(Arc::new(Endpoint {
                    agent: ureq::Agent::new_with_config(config),
                    signer,
                    subscription_arn: subscription_arn(&topic_arn, Subscription::Https),
                    topic_arn: topic_arn.clone(),
                    timeout,
                    url,
                }))
            }
        };
        Ok(Self {
            shared,
            topic_arn,
            endpoint,
            sequence: AtomicU64::new(0),
            in_flight: Arc::default(),
        })
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Waits for the deliveries still under way.
    pub(crate) fn settle(&self) {
        self.in_flight.settle();
    }

    /// The owners subscribed for `account` (the filter policy on `scanflow_account`) by its
    /// deployed member stacks, each once however many Regions list them.
    fn owners_of(&self, account: Option<&String>) -> Vec<String> {
        let Some(account) = account else {
            return Vec::new();
        };
        let mut owners: Vec<String> = self
            .shared
            .scenario
            .accounts
            .iter()
            // The subscriptions belong to the member stack: gone with it.
            .filter(|a| &a.account_id == account && a.role_deployed)
            .flat_map(|a| a.owners.iter().cloned())
            .collect();
        owners.sort_unstable();
        owners.dedup();
        owners
    }

    /// How many messages have been published so far: the next message's `sequence`.
    pub(crate) fn published(&self) -> u64 {
        self.sequence.load(Ordering::Relaxed)
    }

    fn publish_now(&self, message: &Message) -> Result<String, ScanError> {
        if let Some(account) = message.attributes.get(ATTR_ACCOUNT) {
            let limit = self
                .shared
                .scenario
                .accounts
                .iter()
                .find(|a| &a.account_id == account)
                .and_then(|a| a.crash_after_messages);
            if crate::lock(&self.shared.crashes).dies_before_publish(account, limit) {
                // The process is gone: nothing more happens in this invocation.
                return Err(ScanError::internal(
                    "the publish process died (crashAfterMessages)",
                ));
            }
        }
        let hub = &self.shared.scenario.hub;
        self.shared
            .admit("sns:Publish", &hub.account_id, &hub.region)?;
        self.shared.count("sns:Publish", 1);
        message.check()?;
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let message_id = ids::uuid(&["sns-message", &self.topic_arn, &sequence.to_string()]);
        let timestamp = crate::iso_millis(self.shared.now());
        let mut record = PublishedMessage {
            sequence,
            message_id: message_id.clone(),
            timestamp,
            subject: message.subject.clone(),
            // A fleet simulation only counts the bodies: writing a gigabyte of SIEM parts
            // into the log (escaped as JSON strings) and parsing it back cost it more than
            // the handlers' own work.
            message: if self.shared.keep_bodies.load(Ordering::Relaxed) {
                message.body.clone()
            } else {
                String::new()
            },
            bytes: message.size() as u64,
            attributes: message.attributes.clone(),
            deliveries: Vec::new(),
        };
        tracing::info!(
            message_id,
            kind = message
                .attributes
                .get(ATTR_KIND)
                .map(String::as_str)
                .unwrap_or("-"),
            bytes = message.size(),
            "published"
        );
        let kind = message.attributes.get(ATTR_KIND).map(String::as_str);
        if kind.is_some_and(|k| hub.central_email.accepted_kinds().contains(&k)) {
            record.deliveries.push(Delivery {
                subscription: Subscription::Email,
                endpoint: None,
                outcome: DeliveryOutcome::Recorded,
            });
        }
        if Subscription::Owner.accepts(&message.attributes) {
            for owner in self.owners_of(message.attributes.get(ATTR_ACCOUNT)) {
                record.deliveries.push(Delivery {
                    subscription: Subscription::Owner,
                    endpoint: Some(owner),
                    outcome: DeliveryOutcome::Recorded,
                });
            }
        }
        if !Subscription::Https.accepts(&message.attributes) {
            append_log(&self.shared, &record)?;
            return Ok(message_id);
        }
        let Some(endpoint) = &self.endpoint else {
            record.deliveries.push(Delivery {
                subscription: Subscription::Https,
                endpoint: None,
                outcome: DeliveryOutcome::NoEndpoint,
            });
            append_log(&self.shared, &record)?;
            return Ok(message_id);
        };
        let body = self
            .envelope(
                &endpoint.signer,
                message,
                &record.message_id,
                &record.timestamp,
            )
            .and_then(|e| serde_json::to_string(&e).map_err(ScanError::internal));
        // SNS has accepted the message: delivery happens beside the publisher, as in AWS.
        let (endpoint, shared, in_flight) = (
            endpoint.clone(),
            self.shared.clone(),
            self.in_flight.clone(),
        );
        let deliver = move || {
            let outcome = match body {
                Ok(body) => endpoint.deliver(&body, &record.message_id),
                Err(e) => DeliveryOutcome::Failed {
                    attempts: 0,
                    error: e.to_string(),
                },
            };
            record.deliveries.push(Delivery {
                subscription: Subscription::Https,
                endpoint: None,
                outcome,
            });
            if let Err(e) = append_log(&shared, &record) {
                tracing::error!(error = %e, message_id = record.message_id, "cannot log a delivery");
            }
            in_flight.leave();
        };
        self.in_flight.enter(MAX_DELIVERIES_IN_FLIGHT);
        let spawned = std::thread::Builder::new()
            .name("sns-delivery".into())
            .spawn(deliver);
        if let Err(e) = spawned {
            self.in_flight.leave();
            return Err(ScanError::internal(format!(
                "cannot start an HTTP delivery thread: {e}"
            )));
        }
        Ok(message_id)
    }

    /// The messages published so far that `keep` selects, read back from the log in order.
    pub(crate) fn read_log(
        shared: &Shared,
        keep: impl FnMut(&PublishedMessage) -> bool,
    ) -> Result<Vec<PublishedMessage>, ScanError> {
        let start = lock(&shared.sns_log).start;
        let mut messages = read_log_from(shared, start, keep)?.0;
        // Lines are in the order deliveries ended; callers want the order of publishing.
        messages.sort_by_key(|m| m.sequence);
        Ok(messages)
    }

    /// The messages published since the last take; `discard` empties the log afterwards.
    pub(crate) fn take_log(
        shared: &Shared,
        discard: bool,
    ) -> Result<Vec<PublishedMessage>, ScanError> {
        let mut cursor = lock(&shared.sns_log);
        let (mut messages, end) = read_log_from(shared, cursor.taken, |_| true)?;
        messages.sort_by_key(|m| m.sequence);
        if discard {
            let path = log_path(shared);
            match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(f) => f.set_len(0).map_err(|e| {
                    ScanError::internal(format!("emptying {}: {e}", path.display()))
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ScanError::internal(format!(
                        "emptying {}: {e}",
                        path.display()
                    )));
                }
            }
            *cursor = LogCursor { start: 0, taken: 0 };
        } else {
            cursor.taken = end;
        }
        Ok(messages)
    }

    /// The body SNS posts to an HTTP/S subscriber (aws-facts §4.3), signed.
    fn envelope(
        &self,
        signer: &Signer,
        message: &Message,
        message_id: &str,
        timestamp: &str,
    ) -> Result<HttpMessage, ScanError> {
        let region = &self.shared.scenario.hub.region;
        let mut envelope = HttpMessage {
            kind: sns_http::NOTIFICATION.into(),
            message_id: message_id.to_owned(),
            topic_arn: self.topic_arn.clone(),
            subject: (!message.subject.is_empty()).then(|| message.subject.clone()),
            message: message.body.clone(),
            timestamp: timestamp.to_owned(),
            signature_version: String::new(),
            signature: String::new(),
            signing_cert_url: signing::cert_url(region),
            unsubscribe_url: Some(format!(
                "https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={}",
                subscription_arn(&self.topic_arn, Subscription::Https)
            )),
            subscribe_url: None,
            token: None,
            message_attributes: Some(
                message
                    .attributes
                    .iter()
                    .map(|(k, v)| {
                        let attribute = sns_http::Attribute {
                            data_type: "String".into(),
                            value: v.clone(),
                        };
                        (k.clone(), attribute)
                    })
                    .collect(),
            ),
        };
        signer.sign(&mut envelope)?;
        Ok(envelope)
    }
}

impl Endpoint {
    /// Posts with SNS's retries of server-side failures (without waiting between them: time is
    /// virtual). A 4xx is not retried: SNS retries only server-side errors
    /// (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html>) and
    /// sends a message refused by a client error to the subscription's dead-letter queue
    /// (<https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html>).
    fn deliver(&self, body: &str, message_id: &str) -> DeliveryOutcome {
        let mut error = String::new();
        for attempt in 1..=HTTP_ATTEMPTS {
            let sent = self
                .agent
                .post(&self.url)
                .header("x-amz-sns-message-type", "Notification")
                .header("x-amz-sns-message-id", message_id)
                .header("x-amz-sns-topic-arn", &self.topic_arn)
                .header("x-amz-sns-subscription-arn", &self.subscription_arn)
                .header("Content-Type", "text/plain; charset=UTF-8")
                .header("User-Agent", "Amazon Simple Notification Service Agent")
                .send(body);
            match sent.map(|r| r.status().as_u16()) {
                Ok(status @ 200..300) => {
                    return DeliveryOutcome::Delivered {
                        status,
                        attempts: attempt,
                    };
                }
                Ok(status @ 400..500) => {
                    let error =
                        format!("HTTP {status}: the endpoint refused it; SNS does not retry a 4xx");
                    tracing::warn!(
                        message_id,
                        url = self.url,
                        error,
                        "HTTP endpoint refused the message"
                    );
                    return DeliveryOutcome::Failed {
                        attempts: attempt,
                        error,
                    };
                }
                Ok(status) => error = format!("HTTP {status}"),
                Err(ureq::Error::Timeout(_)) => {
                    error = format!("no answer within {} ms", self.timeout.as_millis());
                }
                Err(e) => error = e.to_string(),
            }
            tracing::debug!(message_id, attempt, error, "HTTP delivery failed");
        }
        tracing::warn!(
            message_id,
            url = self.url,
            error,
            "HTTP endpoint did not take the message; SNS drops it"
        );
        DeliveryOutcome::Failed {
            attempts: HTTP_ATTEMPTS,
            error,
        }
    }
}

impl Notifier for SnsSim {
    fn publish(&self, message: &Message) -> impl Future<Output = Result<String, ScanError>> + Send {
        ready(self.publish_now(message))
    }
}

/// The messages in the log from byte `offset` that `keep` selects, and the offset of its end.
fn read_log_from(
    shared: &Shared,
    offset: u64,
    mut keep: impl FnMut(&PublishedMessage) -> bool,
) -> Result<(Vec<PublishedMessage>, u64), ScanError> {
    use std::io::{BufRead, Seek, SeekFrom};
    let path = log_path(shared);
    let unreadable =
        |e: std::io::Error| ScanError::internal(format!("reading {}: {e}", path.display()));
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(unreadable(e)),
    };
    file.seek(SeekFrom::Start(offset)).map_err(unreadable)?;
    let mut reader = std::io::BufReader::new(file);
    let mut kept = Vec::new();
    let mut end = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        end += n as u64;
        let record: PublishedMessage = serde_json::from_str(line.trim_end()).map_err(|e| {
            ScanError::internal(format!(
                "{} holds a line that is not a published message ({e}); was it edited?",
                path.display()
            ))
        })?;
        if keep(&record) {
            kept.push(record);
        }
    }
    Ok((kept, end))
}

/// The ARN of subscription `s` to the topic (stable: derived from the topic's).
fn subscription_arn(topic_arn: &str, s: Subscription) -> String {
    let name = match s {
        Subscription::Email => "email",
        Subscription::Https => "https",
        Subscription::Owner => "owner",
    };
    format!(
        "{topic_arn}:{}",
        ids::uuid(&["subscription", name, topic_arn])
    )
}

/// Appends one message, with what became of it, to the log.
fn append_log(shared: &Shared, record: &PublishedMessage) -> Result<(), ScanError> {
    let path = log_path(shared);
    let mut line = serde_json::to_vec(record).map_err(ScanError::internal)?;
    line.push(b'\n');
    // Held while writing so that a reader taking the log never sees half a line.
    let _cursor = lock(&shared.sns_log);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(&line))
        .map_err(|e| ScanError::internal(format!("appending to {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::InFlight;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn no_more_than_the_limit_are_under_way_and_settle_waits_for_all() {
        let in_flight = Arc::new(InFlight::default());
        let (inside, most, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        for _ in 0..12 {
            in_flight.enter(3);
            let (f, i, m, d) = (
                in_flight.clone(),
                inside.clone(),
                most.clone(),
                done.clone(),
            );
            std::thread::spawn(move || {
                let now = i.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                std::thread::yield_now();
                i.fetch_sub(1, Ordering::SeqCst);
                d.fetch_add(1, Ordering::SeqCst);
                f.leave();
            });
        }
        in_flight.settle();
        assert_eq!(done.load(Ordering::SeqCst), 12);
        assert!(most.load(Ordering::SeqCst) <= 3);
    }
}
