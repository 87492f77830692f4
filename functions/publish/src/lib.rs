//! The publish step: delivers a finished scan (the e-mail digest, every SIEM part, Security
//! Hub updates); and, as the `notify` function, tells people, the SIEM and Security Hub that a
//! scan could not be completed (from the execution's status change event).
//!
//! SNS errors propagate so the state machine retries the step (publishing is at least once);
//! Security Hub problems are recorded in the result and never undo a delivery.

pub mod delivery;
pub mod failure;
pub mod ledger;
pub mod notify;
pub mod open_notices;
pub mod problems;

use scanflow_core::ports::Platform;
use scanflow_core::state::{PublishInput, Published};
use scanflow_core::{ScanError, step};

/// Entry point shared by the Lambda main and the local engine.
pub async fn invoke<P: Platform>(
    platform: &P,
    event: serde_json::Value,
) -> Result<serde_json::Value, ScanError> {
    let input: PublishInput = step::decode(event)?;
    step::encode(&publish(platform, &input).await?)
}

pub async fn publish<P: Platform>(
    platform: &P,
    input: &PublishInput,
) -> Result<Published, ScanError> {
    delivery::deliver(platform, &input.run, &input.collected, &input.formatted).await
}

#[cfg(test)]
mod tests;
