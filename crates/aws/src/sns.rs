//! The scanflow SNS topic: one `Publish` per message, with its string attributes, refused
//! before any call when SNS would reject it.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use scanflow_core::ScanError;
use scanflow_core::message::Message;
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
}

impl Notifier for SnsNotifier {
    async fn publish(&self, message: &Message) -> Result<String, ScanError> {
        let topic = self.topic_arn.as_deref().ok_or_else(|| {
            ScanError::internal("this function has no SNS topic: TOPIC_ARN is set for publish only")
        })?;
        message.check()?;
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
