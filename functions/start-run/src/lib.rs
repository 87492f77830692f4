//! The start-run step: validates the execution input, enters the member account, reads its
//! settings and starts the scan (or, for a rerun, names the finished run to deliver again).

use scanflow_core::ScanError;
use scanflow_core::input::{ExecutionInput, Overrides};
use scanflow_core::model::{AccountSettings, Engine};
use scanflow_core::ports::{HubConfig, MemberAccount, Platform};
use scanflow_core::state::{Run, StartRunInput};
use scanflow_core::{step, time};

/// Inspector Classic caps assessment run names at 140 characters.
const RUN_NAME_MAX: usize = 140;

/// Entry point shared by the Lambda main and the local engine.
pub async fn invoke<P: Platform>(
    platform: &P,
    event: serde_json::Value,
) -> Result<serde_json::Value, ScanError> {
    let input: StartRunInput = step::decode(event)?;
    step::encode(&start(platform, &input).await?)
}

pub async fn start<P: Platform>(platform: &P, input: &StartRunInput) -> Result<Run, ScanError> {
    // Validation comes first and needs no AWS call: bad input fails at once, never retried.
    let request = ExecutionInput::from_value(input.input.clone())?.validate()?;
    let started_at = time::parse("execution.startTime", &input.execution.start_time)?;
    let member = platform
        .member(&request.account_id, &request.region, &input.execution.name)
        .await?;
    let mut settings = request.overrides.apply(member.settings().await?);
    let config = platform.config();
    if settings.engine == Engine::Classic && request.rerun.is_none() {
        refuse_classic_overrides(&request.overrides)?;
    }

    let (run_id, rerun, adopted) = match &request.rerun {
        Some(rerun) => {
            settings.engine = rerun.engine;
            (rerun.run_id.clone(), true, false)
        }
        None => {
            let name: String = format!("scanflow-{}", input.execution.name)
                .chars()
                .take(RUN_NAME_MAX)
                .collect();
            let started = member.start_scan(&settings, &name).await?;
            tracing::info!(account = %request.account_id, region = %request.region, engine = %settings.engine, run = %started.run_id, adopted = started.adopted, "scan started");
            (started.run_id, false, started.adopted)
        }
    };

    let timing = Timing::for_run(config, &settings, rerun);
    Ok(Run {
        account_id: request.account_id,
        region: request.region,
        engine: settings.engine,
        run_id,
        tag: settings.tag,
        duration_seconds: settings.duration_seconds,
        started_at: time::format(started_at),
        deadline: time::format(time::add_seconds(
            started_at,
            i64::from(timing.deadline_after),
        )),
        wait_seconds: timing.first_wait,
        rerun,
        execution: input.execution.name.clone(),
        adopted,
    })
}

/// A Classic assessment template fixes its target and duration when the member stack creates
/// it (templates cannot be modified), so an override could only be a lie about what runs.
fn refuse_classic_overrides(overrides: &Overrides) -> Result<(), ScanError> {
    let expected = "no override for Inspector Classic: change Tagkey, Tagvalue or Duration of the account's member stack instance";
    if overrides.tag.is_some() {
        return Err(ScanError::invalid(
            "tagKey",
            expected,
            "is given for a Classic account",
        ));
    }
    if overrides.duration_seconds.is_some() {
        return Err(ScanError::invalid(
            "durationSeconds",
            expected,
            "is given for a Classic account",
        ));
    }
    Ok(())
}

/// When to look first and when to give up, chosen so a one-hour Classic run costs one wait and
/// usually one check.
struct Timing {
    first_wait: u32,
    deadline_after: u32,
}

impl Timing {
    fn for_run(config: &HubConfig, settings: &AccountSettings, rerun: bool) -> Self {
        let scan = match settings.engine {
            // Nothing can be collected before the assessment's own duration has passed.
            Engine::Classic if !rerun => settings.duration_seconds,
            // A findings report (or a finished run) takes seconds to minutes, not a duration.
            _ => 0,
        };
        Self {
            first_wait: if rerun {
                0
            } else {
                scan + config.first_wait_margin_seconds.max(1)
            },
            deadline_after: scan + config.evaluation_allowance_seconds,
        }
    }
}
