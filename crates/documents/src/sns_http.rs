//! The JSON body SNS posts to an HTTP/S subscriber and the exact text SNS signs in it, in one
//! place for the sandbox that signs deliveries and the reference receiver that verifies them.
//!
//! Field names and the string to sign follow "Verifying the signatures of Amazon SNS messages"
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>): each
//! signed field as its name, a newline, its value and a newline, in the documented order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `Type` of a message that carries a published message.
pub const NOTIFICATION: &str = "Notification";
/// `Type` of the message SNS sends when a subscription is created.
pub const SUBSCRIPTION_CONFIRMATION: &str = "SubscriptionConfirmation";
/// `Type` of the message SNS sends when a subscription is deleted.
pub const UNSUBSCRIBE_CONFIRMATION: &str = "UnsubscribeConfirmation";

/// Largest body a receiver reads. An SNS message is at most 262,144 bytes; JSON escaping in
/// the envelope can grow it (a control character becomes six bytes), so room is left for
/// that, and nothing larger is read into memory.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// One message attribute as the envelope shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    #[serde(rename = "Type")]
    pub data_type: String,
    #[serde(rename = "Value")]
    pub value: String,
}

/// The JSON body of an SNS HTTP/S delivery. Fields SNS may add later are ignored: they are
/// not signed, so nothing is trusted from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpMessage {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "MessageId")]
    pub message_id: String,
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    #[serde(rename = "Subject", default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "SignatureVersion")]
    pub signature_version: String,
    #[serde(rename = "Signature")]
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    #[serde(
        rename = "UnsubscribeURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unsubscribe_url: Option<String>,
    #[serde(
        rename = "SubscribeURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribe_url: Option<String>,
    #[serde(rename = "Token", default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(
        rename = "MessageAttributes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub message_attributes: Option<BTreeMap<String, Attribute>>,
}

/// Why a body is not an SNS HTTP message a receiver can go on with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is {0} bytes, more than the {MAX_BODY_BYTES} an SNS delivery can be")]
    TooLarge(usize),
    #[error("the body is not an SNS HTTP message: {0}")]
    Malformed(String),
    #[error(
        "the body gives the field {0} more than once; refused, because readers that keep the \
         first and the last copy would see different messages under one signature"
    )]
    DuplicateField(String),
    #[error(
        "Type {0} is not one SNS sends (Notification, SubscriptionConfirmation, UnsubscribeConfirmation)"
    )]
    UnknownType(String),
    #[error("a {kind} must carry {field}")]
    Missing {
        kind: &'static str,
        field: &'static str,
    },
}

impl HttpMessage {
    /// Parses a delivery's body, refusing what SNS never sends: more than [`MAX_BODY_BYTES`],
    /// a field given twice or missing, an unknown `Type`, and a confirmation without its URL
    /// and token.
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(EnvelopeError::TooLarge(body.len()));
        }
        let text = std::str::from_utf8(body)
            .map_err(|e| EnvelopeError::Malformed(format!("not UTF-8 ({e})")))?;
        if let Some(field) = scanflow_core::json::first_duplicate_key(text) {
            return Err(EnvelopeError::DuplicateField(scanflow_core::error::quote(
                &field,
            )));
        }
        let message: HttpMessage = serde_json::from_str(text)
            .map_err(|e| EnvelopeError::Malformed(scanflow_core::error::quote(&e.to_string())))?;
        message.signed_fields()?;
        Ok(message)
    }

    /// The text SNS signs: for a notification `Message`, `MessageId`, `Subject` (when present),
    /// `Timestamp`, `TopicArn`, `Type`; for a confirmation `Message`, `MessageId`,
    /// `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type`.
    pub fn string_to_sign(&self) -> Result<String, EnvelopeError> {
        let fields = self.signed_fields()?;
        let mut text =
            String::with_capacity(fields.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
        for (name, value) in fields {
            text.push_str(name);
            text.push('\n');
            text.push_str(value);
            text.push('\n');
        }
        Ok(text)
    }

    /// The signed fields in the order SNS signs them; refuses a `Type` SNS does not send and a
    /// confirmation without its URL and token. Borrowed, so checking a message costs nothing.
    fn signed_fields(&self) -> Result<Vec<(&'static str, &str)>, EnvelopeError> {
        let confirmation = match self.kind.as_str() {
            NOTIFICATION => None,
            SUBSCRIPTION_CONFIRMATION => Some(SUBSCRIPTION_CONFIRMATION),
            UNSUBSCRIBE_CONFIRMATION => Some(UNSUBSCRIBE_CONFIRMATION),
            other => {
                return Err(EnvelopeError::UnknownType(scanflow_core::error::quote(
                    other,
                )));
            }
        };
        let mut fields = vec![
            ("Message", self.message.as_str()),
            ("MessageId", self.message_id.as_str()),
        ];
        match confirmation {
            None => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject));
                }
                fields.push(("Timestamp", &self.timestamp));
            }
            Some(kind) => {
                let missing = |field| EnvelopeError::Missing { kind, field };
                let subscribe_url = self.subscribe_url.as_deref();
                fields.push((
                    "SubscribeURL",
                    subscribe_url.ok_or_else(|| missing("SubscribeURL"))?,
                ));
                fields.push(("Timestamp", &self.timestamp));
                fields.push((
                    "Token",
                    self.token.as_deref().ok_or_else(|| missing("Token"))?,
                ));
            }
        }
        fields.extend([
            ("TopicArn", self.topic_arn.as_str()),
            ("Type", self.kind.as_str()),
        ]);
        Ok(fields)
    }

    /// A message attribute's value, if the envelope carries it.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.message_attributes
            .as_ref()?
            .get(name)
            .map(|a| a.value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> HttpMessage {
        HttpMessage {
            kind: NOTIFICATION.into(),
            message_id: "id-1".into(),
            topic_arn: "arn:aws:sns:us-east-1:999999999999:scanflow".into(),
            subject: Some("s".into()),
            message: "line 1\nline 2".into(),
            timestamp: "2026-12-01T00:00:00.000Z".into(),
            signature_version: "2".into(),
            signature: "c2ln".into(),
            signing_cert_url: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem"
                .into(),
            unsubscribe_url: None,
            subscribe_url: None,
            token: None,
            message_attributes: None,
        }
    }

    #[test]
    fn a_notification_signs_its_fields_in_the_documented_order_and_subject_only_when_present() {
        let mut m = notification();
        assert_eq!(
            m.string_to_sign().ok().as_deref(),
            Some(
                "Message\nline 1\nline 2\nMessageId\nid-1\nSubject\ns\nTimestamp\n\
                 2026-12-01T00:00:00.000Z\nTopicArn\narn:aws:sns:us-east-1:999999999999:scanflow\n\
                 Type\nNotification\n"
            )
        );
        m.subject = None;
        assert!(m.string_to_sign().is_ok_and(|s| !s.contains("Subject")));
    }

    #[test]
    fn a_confirmation_signs_its_url_and_token_and_is_refused_without_them() {
        let mut m = notification();
        m.kind = SUBSCRIPTION_CONFIRMATION.into();
        assert_eq!(
            m.string_to_sign(),
            Err(EnvelopeError::Missing {
                kind: SUBSCRIPTION_CONFIRMATION,
                field: "SubscribeURL"
            })
        );
        m.subscribe_url =
            Some("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription".into());
        m.token = Some("tok".into());
        let text = m.string_to_sign().unwrap_or_default();
        assert!(text.contains("SubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\nTimestamp"));
        assert!(text.contains("Token\ntok\nTopicArn"));
        assert!(!text.contains("Subject"));
    }

    #[test]
    fn parse_refuses_duplicates_missing_fields_unknown_types_and_oversized_bodies() {
        let good = serde_json::to_string(&notification()).unwrap_or_default();
        assert!(HttpMessage::parse(good.as_bytes()).is_ok());
        let twice = good.replacen('{', r#"{"Message":"forged","#, 1);
        assert!(matches!(
            HttpMessage::parse(twice.as_bytes()),
            Err(EnvelopeError::DuplicateField(f)) if f == "\"Message\""
        ));
        let unknown = good.replacen('{', r#"{"SequenceNumber":"1","#, 1);
        assert_eq!(HttpMessage::parse(unknown.as_bytes()), Ok(notification()));
        let missing = good.replace(r#""MessageId":"id-1","#, "");
        assert!(matches!(
            HttpMessage::parse(missing.as_bytes()),
            Err(EnvelopeError::Malformed(_))
        ));
        let odd = good.replace("\"Notification\"", "\"Other\"");
        assert!(matches!(
            HttpMessage::parse(odd.as_bytes()),
            Err(EnvelopeError::UnknownType(_))
        ));
        let at_limit = vec![b' '; MAX_BODY_BYTES];
        assert!(matches!(
            HttpMessage::parse(&at_limit),
            Err(EnvelopeError::Malformed(_))
        ));
        let past = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            HttpMessage::parse(&past),
            Err(EnvelopeError::TooLarge(MAX_BODY_BYTES + 1))
        );
    }
}
