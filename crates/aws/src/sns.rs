//! The scanflow SNS topic: one `Publish` per message, with its string attributes, refused
//! before any call when SNS would reject it.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use scanflow_core::ScanError;
use scanflow_core::message::{Message, SNS_MESSAGE_LIMIT, clean_subject};
use scanflow_core::ports::Notifier;

use crate::error::Scope;

/// The AWS implementation of [`Notifier`].
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    scope: Scope,
    /// Only the publish function is configured with a topic.
    topic_arn: Option<String>,
}

impl SnsNotifier {
    pub fn new(client: Client, scope: Scope, topic_arn: Option<String>) -> Self {
        Self {
            client,
            scope,
            topic_arn,
        }
    }

    /// What SNS would refuse, found before calling it.
    fn check(message: &Message) -> Result<(), ScanError> {
        let size = message.size();
        if size > SNS_MESSAGE_LIMIT {
            return Err(ScanError::PayloadTooLarge {
                what: format!("SNS message {:?}", message.subject),
                size,
                limit: SNS_MESSAGE_LIMIT,
            });
        }
        if message.body.is_empty() {
            return Err(ScanError::invalid(
                "message body",
                "a non-empty text",
                "is empty",
            ));
        }
        if clean_subject(&message.subject) != message.subject || message.subject.is_empty() {
            return Err(ScanError::invalid(
                "message subject",
                "1-99 characters without line breaks or control characters",
                format!("is {:?}", message.subject),
            ));
        }
        if let Some((name, _)) = message.attributes.iter().find(|(_, v)| v.is_empty()) {
            return Err(ScanError::invalid(
                format!("message attribute {name}"),
                "a non-empty string value",
                "is empty",
            ));
        }
        Ok(())
    }
}

impl Notifier for SnsNotifier {
    async fn publish(&self, message: &Message) -> Result<String, ScanError> {
        let topic = self.topic_arn.as_deref().ok_or_else(|| {
            ScanError::internal("this function has no SNS topic: TOPIC_ARN is set for publish only")
        })?;
        Self::check(message)?;
        let mut attributes = std::collections::HashMap::new();
        for (name, value) in &message.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(ScanError::internal)?;
            attributes.insert(name.clone(), value);
        }
        let call = self.scope.call("sns:Publish", format!("topic {topic}"));
        let out = self
            .client
            .publish()
            .topic_arn(topic)
            .subject(&message.subject)
            .message(&message.body)
            .set_message_attributes(Some(attributes).filter(|a| !a.is_empty()))
            .send()
            .await
            .map_err(|e| call.error(&e))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
