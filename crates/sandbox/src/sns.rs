//! The scanflow topic: SNS's checks on what is published, the two subscriptions with the filter
//! policies the hub template sets, and delivery to an HTTP endpoint in SNS's notification
//! envelope with SNS's retries. Every message is appended to `<out>/sns-messages.jsonl` and
//! read back from there when asked for: a run with a million findings publishes a gigabyte of
//! SIEM parts, which memory need not hold.
//!
//! Deliveries are signed as SNS signs them, with the sandbox's test key ([`crate::signing`]), so
//! a receiver that verifies signatures works against the sandbox once told to trust its
//! certificate.

use std::collections::BTreeMap;
use std::future::{Future, ready};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use scanflow_core::ScanError;
use scanflow_core::message::{
    ATTR_ACCOUNT, ATTR_KIND, KIND_DIGEST, KIND_FAILURE, KIND_FLEET_WATCH, KIND_RESOLVED, KIND_SIEM,
    Message,
};
use scanflow_core::ports::Notifier;

use scanflow_documents::sns_http::{self, HttpMessage};

use crate::signing::{self, Signer};
use crate::{SandboxError, Shared, ids, lock};

/// The topic's name in the hub account.
pub const TOPIC_NAME: &str = "scanflow";
/// SNS's default HTTP/S delivery policy: the first attempt and 3 retries.
pub const HTTP_ATTEMPTS: u32 = 4;
/// SNS gives an endpoint 15 seconds to answer.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The topic's subscriptions and their filter policies on `scanflow_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subscription {
    /// `DestinationEmailAddress`: people get the digest and failure notices.
    Email,
    /// `HTTPEndpoint`: the SIEM gets every SIEM document (findings parts and failures).
    Https,
}

impl Subscription {
    pub const ALL: [Subscription; 2] = [Subscription::Email, Subscription::Https];

    /// The `scanflow_kind` values the subscription's filter policy accepts.
    pub fn accepted_kinds(self) -> &'static [&'static str] {
        match self {
            Self::Email => &[KIND_DIGEST, KIND_FAILURE, KIND_RESOLVED, KIND_FLEET_WATCH],
            Self::Https => &[KIND_SIEM],
        }
    }

    /// SNS filter-policy matching: the attribute must be present with an accepted value.
    pub fn accepts(self, attributes: &BTreeMap<String, String>) -> bool {
        attributes
            .get(ATTR_KIND)
            .is_some_and(|k| self.accepted_kinds().contains(&k.as_str()))
    }
}

/// One message as published, and what became of it per subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedMessage {
    pub message_id: String,
    pub timestamp: String,
    pub subject: String,
    pub message: String,
    pub attributes: BTreeMap<String, String>,
    /// One entry per subscription whose filter policy matched.
    pub deliveries: Vec<Delivery>,
}

impl PublishedMessage {
    /// The subscriptions the message went to.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.deliveries.iter().map(|d| d.subscription).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub subscription: Subscription,
    pub outcome: DeliveryOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum DeliveryOutcome {
    /// E-mail: there is no mail server; the message is in the log.
    Recorded,
    /// HTTPS subscription, but the sandbox was given no endpoint.
    NoEndpoint,
    /// The endpoint answered below 500 (SNS treats 4xx as delivered).
    Delivered { status: u16, attempts: u32 },
    /// Every attempt failed; SNS drops the message (the publish still succeeded).
    Failed { attempts: u32, error: String },
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
    endpoint: Option<Endpoint>,
    sequence: AtomicU64,
}

/// The HTTP subscriber and what posts to it.
struct Endpoint {
    url: String,
    agent: ureq::Agent,
    signer: Signer,
}

impl SnsSim {
    pub(crate) fn new(shared: Arc<Shared>, endpoint: Option<String>) -> Result<Self, SandboxError> {
        let hub = &shared.scenario.hub;
        let topic_arn = format!("arn:aws:sns:{}:{}:{TOPIC_NAME}", hub.region, hub.account_id);
        let endpoint = match endpoint {
            None => None,
            Some(url) => {
                let host = url
                    .strip_prefix("http://")
                    .ok_or_else(|| SandboxError::Endpoint {
                        endpoint: url.clone(),
                        problem: "the sandbox posts plain HTTP only; give an http:// URL (a local \
                              receiver, or a TLS-terminating proxy in front of the real one)"
                            .into(),
                    })?;
                if host.is_empty() || host.starts_with('/') {
                    return Err(SandboxError::Endpoint {
                        endpoint: url.clone(),
                        problem: "has no host; expected http://host[:port]/path".into(),
                    });
                }
                let config = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(HTTP_TIMEOUT))
                    .max_redirects(0)
                    .user_agent("Amazon Simple Notification Service Agent")
                    .build();
                let signer = Signer::new().map_err(|e| SandboxError::Endpoint {
                    endpoint: url.clone(),
                    problem: e.to_string(),
                })?;
                Some(Endpoint {
                    url,
                    agent: ureq::Agent::new_with_config(config),
                    signer,
                })
            }
        };
        Ok(Self {
            shared,
            topic_arn,
            endpoint,
            sequence: AtomicU64::new(0),
        })
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    fn subscription_arn(&self, s: Subscription) -> String {
        let name = match s {
            Subscription::Email => "email",
            Subscription::Https => "https",
        };
        format!(
            "{}:{}",
            self.topic_arn,
            ids::uuid(&["subscription", name, &self.topic_arn])
        )
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
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let message_id = ids::uuid(&["sns-message", &self.topic_arn, &seq.to_string()]);
        let timestamp = crate::iso_millis(self.shared.now());
        let deliveries = Subscription::ALL
            .into_iter()
            .filter(|s| s.accepts(&message.attributes))
            .map(|subscription| Delivery {
                subscription,
                outcome: match subscription {
                    Subscription::Email => DeliveryOutcome::Recorded,
                    Subscription::Https => self.deliver_http(message, &message_id, &timestamp),
                },
            })
            .collect();
        let record = PublishedMessage {
            message_id: message_id.clone(),
            timestamp,
            subject: message.subject.clone(),
            message: message.body.clone(),
            attributes: message.attributes.clone(),
            deliveries,
        };
        self.append_log(&record)?;
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
        Ok(message_id)
    }

    fn append_log(&self, record: &PublishedMessage) -> Result<(), ScanError> {
        let path = log_path(&self.shared);
        let mut line = serde_json::to_vec(record).map_err(ScanError::internal)?;
        line.push(b'\n');
        // Held while writing so that a reader taking the log never sees half a line.
        let _cursor = lock(&self.shared.sns_log);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(&line))
            .map_err(|e| ScanError::internal(format!("appending to {}: {e}", path.display())))
    }

    /// The messages published so far that `keep` selects, read back from the log in order.
    pub(crate) fn read_log(
        shared: &Shared,
        keep: impl FnMut(&PublishedMessage) -> bool,
    ) -> Result<Vec<PublishedMessage>, ScanError> {
        let start = lock(&shared.sns_log).start;
        Ok(read_log_from(shared, start, keep)?.0)
    }

    /// The messages published since the last take; `discard` empties the log afterwards.
    pub(crate) fn take_log(
        shared: &Shared,
        discard: bool,
    ) -> Result<Vec<PublishedMessage>, ScanError> {
        let mut cursor = lock(&shared.sns_log);
        let (messages, end) = read_log_from(shared, cursor.taken, |_| true)?;
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
                self.subscription_arn(Subscription::Https)
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

    /// Posts with SNS's retries (without waiting between them: time is virtual).
    fn deliver_http(
        &self,
        message: &Message,
        message_id: &str,
        timestamp: &str,
    ) -> DeliveryOutcome {
        let Some(Endpoint { url, agent, signer }) = &self.endpoint else {
            return DeliveryOutcome::NoEndpoint;
        };
        let body = match self
            .envelope(signer, message, message_id, timestamp)
            .and_then(|e| serde_json::to_string(&e).map_err(ScanError::internal))
        {
            Ok(body) => body,
            Err(e) => {
                return DeliveryOutcome::Failed {
                    attempts: 0,
                    error: e.to_string(),
                };
            }
        };
        let subscription_arn = self.subscription_arn(Subscription::Https);
        let mut error = String::new();
        for attempt in 1..=HTTP_ATTEMPTS {
            let sent = agent
                .post(url)
                .header("x-amz-sns-message-type", "Notification")
                .header("x-amz-sns-message-id", message_id)
                .header("x-amz-sns-topic-arn", &self.topic_arn)
                .header("x-amz-sns-subscription-arn", &subscription_arn)
                .header("Content-Type", "text/plain; charset=UTF-8")
                .header("User-Agent", "Amazon Simple Notification Service Agent")
                .send(body.as_str());
            match sent {
                Ok(resp) if resp.status().as_u16() < 500 => {
                    return DeliveryOutcome::Delivered {
                        status: resp.status().as_u16(),
                        attempts: attempt,
                    };
                }
                Ok(resp) => error = format!("HTTP {}", resp.status().as_u16()),
                Err(e) => error = e.to_string(),
            }
            tracing::debug!(message_id, attempt, error, "HTTP delivery failed");
        }
        tracing::warn!(
            message_id,
            url,
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
