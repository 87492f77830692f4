//! The scanflow topic: SNS's checks on what is published, the two subscriptions with the filter
//! policies the hub template sets, and delivery to an HTTP endpoint in SNS's notification
//! envelope with SNS's retries. Every message is appended to `<out>/sns-messages.jsonl` and
//! read back from there when asked for: a run with a million findings publishes a gigabyte of
//! SIEM parts, which memory need not hold.
//!
//! The sandbox cannot sign as SNS: `Signature` is the fixed text [`UNSIGNED`], so a receiver
//! that verifies signatures must have that check off for sandbox runs.

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

use crate::{SandboxError, Shared, ids};

/// The topic's name in the hub account.
pub const TOPIC_NAME: &str = "scanflow";
/// SNS's default HTTP/S delivery policy: the first attempt and 3 retries.
pub const HTTP_ATTEMPTS: u32 = 4;
/// What the envelope carries as `Signature`.
pub const UNSIGNED: &str = "SANDBOX-UNSIGNED";
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

/// [`Notifier`] for the simulated topic.
pub struct SnsSim {
    shared: Arc<Shared>,
    topic_arn: String,
    endpoint: Option<(String, ureq::Agent)>,
    sequence: AtomicU64,
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
                Some((url, ureq::Agent::new_with_config(config)))
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
        mut keep: impl FnMut(&PublishedMessage) -> bool,
    ) -> Result<Vec<PublishedMessage>, ScanError> {
        use std::io::{BufRead, Seek, SeekFrom};
        let path = log_path(shared);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ScanError::internal(format!(
                    "reading {}: {e}",
                    path.display()
                )));
            }
        };
        file.seek(SeekFrom::Start(shared.sns_log_start))
            .map_err(|e| ScanError::internal(format!("reading {}: {e}", path.display())))?;
        let mut kept = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let line =
                line.map_err(|e| ScanError::internal(format!("reading {}: {e}", path.display())))?;
            let record: PublishedMessage = serde_json::from_str(&line).map_err(|e| {
                ScanError::internal(format!(
                    "{} holds a line that is not a published message ({e}); was it edited?",
                    path.display()
                ))
            })?;
            if keep(&record) {
                kept.push(record);
            }
        }
        Ok(kept)
    }

    /// The body SNS posts to an HTTP/S subscriber (aws-facts §4.3).
    fn envelope(&self, message: &Message, message_id: &str, timestamp: &str) -> serde_json::Value {
        let region = &self.shared.scenario.hub.region;
        let mut env = serde_json::json!({
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": self.topic_arn,
            "Message": message.body,
            "Timestamp": timestamp,
            "SignatureVersion": "2",
            "Signature": UNSIGNED,
            "SigningCertURL": format!("https://sns.{region}.amazonaws.com/SimpleNotificationService-sandbox-unsigned.pem"),
            "UnsubscribeURL": format!(
                "https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={}",
                self.subscription_arn(Subscription::Https)
            ),
            "MessageAttributes": message.attributes.iter()
                .map(|(k, v)| (k.clone(), serde_json::json!({"Type": "String", "Value": v})))
                .collect::<serde_json::Map<_, _>>(),
        });
        if !message.subject.is_empty() {
            env["Subject"] = serde_json::Value::String(message.subject.clone());
        }
        env
    }

    /// Posts with SNS's retries (without waiting between them: time is virtual).
    fn deliver_http(
        &self,
        message: &Message,
        message_id: &str,
        timestamp: &str,
    ) -> DeliveryOutcome {
        let Some((url, agent)) = &self.endpoint else {
            return DeliveryOutcome::NoEndpoint;
        };
        let body = self.envelope(message, message_id, timestamp).to_string();
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
