//! Messages published once: each message of a delivery or a notice is looked up in a ledger
//! in the report store before it is published and recorded after. A retried, redriven or
//! repeated invocation (Step Functions, Lambda and EventBridge all deliver at least once)
//! skips what went out. A crash between publishing and recording can repeat that one message;
//! it can never lose one.

use scanflow_core::message::Message;
use scanflow_core::ports::{Notifier, ReportStore};
use scanflow_core::{ScanError, step};

/// One ledger: a folder of the report store, one object per message published.
pub struct Ledger<'a, S> {
    store: &'a S,
    prefix: String,
}

impl<'a, S> Ledger<'a, S> {
    /// The ledger under `prefix` (`keys::notice_ledger`, `keys::delivery_ledger`).
    pub fn new(store: &'a S, prefix: String) -> Self {
        Self { store, prefix }
    }
}

impl<S: ReportStore> Ledger<'_, S> {
    /// Publishes `message` as `part` unless this ledger has it already; `true` when this call
    /// published it.
    pub async fn publish_once<N: Notifier>(
        &self,
        notifier: &N,
        part: &str,
        message: &Message,
    ) -> Result<bool, ScanError> {
        let key = format!("{}/{part}.json", self.prefix);
        match self.store.get(&key).await {
            Ok(_) => return Ok(false),
            Err(ScanError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let message_id = notifier.publish(message).await?;
        let record = serde_json::json!({"messageId": message_id, "subject": message.subject});
        self.store
            .put(&key, step::to_json_bytes(&record)?, "application/json")
            .await?;
        Ok(true)
    }
}
