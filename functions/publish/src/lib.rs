//! The publish step: delivers a finished scan (the e-mail digest, every SIEM part, Security
//! Hub updates) or tells people, the SIEM and Security Hub that a scan could not be completed.
//!
//! SNS errors propagate so the state machine retries the step (publishing is at least once);
//! Security Hub problems are recorded in the result and never undo a delivery.

pub mod delivery;
pub mod failure;
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
    match input {
        PublishInput::Delivery {
            run,
            collected,
            formatted,
        } => delivery::deliver(platform, run, collected, formatted).await,
        PublishInput::Failure {
            failure,
            input,
            execution,
            run,
        } => failure::notify_failure(platform, failure, input, execution, run.as_ref()).await,
    }
}

#[cfg(test)]
mod tests;
