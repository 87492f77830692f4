//! The check-status step: asks the engine how the run is doing and says whether it is done or
//! how long to wait; a failed run or a passed deadline is an error the state machine catches.

use scanflow_core::ports::{MemberAccount, Platform, RunStatus};
use scanflow_core::state::{CheckStatusInput, Run, Status};
use scanflow_core::{ScanError, cis, step, time};

/// Entry point shared by the Lambda main and the local engine.
pub async fn invoke<P: Platform>(
    platform: &P,
    event: serde_json::Value,
) -> Result<serde_json::Value, ScanError> {
    let input: CheckStatusInput = step::decode(event)?;
    step::encode(&check(platform, &input).await?)
}

pub async fn check<P: Platform>(
    platform: &P,
    input: &CheckStatusInput,
) -> Result<Status, ScanError> {
    let run = &input.run;
    let now = time::parse("now", &input.now)?;
    let deadline = time::parse("run.deadline", &run.deadline)?;
    let member = platform.reader(run).await?;
    match member.run_status(run).await? {
        RunStatus::Succeeded { state } => Ok(Status {
            done: true,
            state,
            wait_seconds: 0,
        }),
        RunStatus::Failed { state, detail } => Err(ScanError::ScanFailed {
            account_id: run.account_id.clone(),
            region: run.region.clone(),
            run_id: run.run_id.clone(),
            state,
            detail,
        }),
        RunStatus::Running { state } => {
            let remaining = (deadline - now).whole_seconds();
            if remaining <= 0 && run.cis.is_some() {
                // The CIS scan did not end within the Duration: the vulnerability findings are
                // read as they stand all the same, and collect-findings records that CIS did
                // not finish, so the digest says it.
                tracing::warn!(account = %run.account_id, region = %run.region, state = %state, "the CIS scan did not finish within the run's Duration; delivering the vulnerability findings without it");
                return Ok(Status {
                    done: true,
                    state: cis::TIMED_OUT.to_owned(),
                    wait_seconds: 0,
                });
            }
            if remaining <= 0 {
                return Err(ScanError::ScanTimedOut {
                    account_id: run.account_id.clone(),
                    region: run.region.clone(),
                    run_id: run.run_id.clone(),
                    state,
                    deadline: run.deadline.clone(),
                });
            }
            let poll = poll_seconds(platform, run);
            // The last wait lands exactly on the deadline, so a run is never given up early.
            let wait = u32::try_from(remaining)
                .map_or(poll, |r| poll.min(r))
                .max(1);
            Ok(Status {
                done: false,
                state,
                wait_seconds: wait,
            })
        }
    }
}

/// Long assessments are polled less often: a twelfth of the duration, within the hub's bounds.
fn poll_seconds<P: Platform>(platform: &P, run: &Run) -> u32 {
    let config = platform.config();
    (run.duration_seconds / 12).clamp(
        config.min_poll_seconds,
        config.max_poll_seconds.max(config.min_poll_seconds),
    )
}
