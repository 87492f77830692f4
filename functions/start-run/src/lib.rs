//! The start-run step: validates the execution input, enters the member account, reads its
//! settings and starts the scan (or, for a rerun, names the finished run to deliver again).

use scanflow_core::ScanError;
use scanflow_core::input::ScanRequest;
use scanflow_core::input::{ExecutionInput, Overrides};
use scanflow_core::migration::{self, MigrationPlan, V2Readiness};
use scanflow_core::model::{AccountSettings, Engine};
use scanflow_core::ports::{HubConfig, MemberAccount, Platform, ReportStore};
use scanflow_core::state::{
    CisRun, Claim, Duplicate, ExecutionContext, Run, StartOutcome, StartRunInput,
};
use scanflow_core::{cis, keys, step, time};

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

pub async fn start<P: Platform>(
    platform: &P,
    input: &StartRunInput,
) -> Result<StartOutcome, ScanError> {
    // Validation comes first and needs no AWS call: bad input fails at once, never retried.
    let request = ExecutionInput::from_value(input.input.clone())?.validate()?;
    let started_at = time::parse("execution.startTime", &input.execution.start_time)?;
    if let Some(duplicate) = claim_slot(platform.store(), &request, &input.execution).await? {
        tracing::warn!(account = %duplicate.account_id, region = %duplicate.region, scheduled_at = %duplicate.scheduled_at, first = %duplicate.duplicate_of, "the schedule slot was already claimed: this execution is a duplicate and scans nothing");
        return Ok(StartOutcome::Duplicate(duplicate));
    }
    let run = start_scan(platform, &request, started_at, &input.execution).await?;
    // The status change event that tells the notifier about a failure carries only the
    // execution input: this record lets the notice name the run (and the rerun to start).
    platform
        .store()
        .put(
            &keys::execution_run(&run.execution),
            step::to_json_bytes(&run)?,
            "application/json",
        )
        .await?;
    Ok(StartOutcome::Run(Box::new(run)))
}

/// Claims the input's schedule slot for this execution. `Some` when another execution holds
/// it (EventBridge delivered the schedule's event twice); `None` when this execution may scan:
/// it won the claim, holds it already (a retry or redrive of the same execution), or the input
/// names no slot (a manual scan or rerun).
async fn claim_slot<S: ReportStore>(
    store: &S,
    request: &ScanRequest,
    execution: &ExecutionContext,
) -> Result<Option<Duplicate>, ScanError> {
    let Some(slot) = &request.scheduled_at else {
        return Ok(None);
    };
    if request.rerun.is_some() {
        return Ok(None);
    }
    let key = keys::schedule_claim(&request.account_id, &request.region, slot);
    let claim = Claim {
        execution: execution.name.clone(),
        claimed_at: execution.start_time.clone(),
    };
    if store
        .put_if_absent(&key, step::to_json_bytes(&claim)?, "application/json")
        .await?
    {
        return Ok(None);
    }
    let held: Claim = serde_json::from_slice(&store.get(&key).await?).map_err(|e| {
        ScanError::internal(format!(
            "the schedule claim {key} is not a claim record ({e}); delete it to let the slot be scanned"
        ))
    })?;
    if held.execution == execution.name {
        return Ok(None);
    }
    Ok(Some(Duplicate {
        duplicate_of: held.execution,
        account_id: request.account_id.clone(),
        region: request.region.clone(),
        scheduled_at: slot.clone(),
    }))
}

async fn start_scan<P: Platform>(
    platform: &P,
    request: &ScanRequest,
    started_at: time::Timestamp,
    execution: &ExecutionContext,
) -> Result<Run, ScanError> {
    let member = platform
        .member(&request.account_id, &request.region, &execution.name)
        .await?;
    let stored = member.settings().await?;
    if request.rerun.is_none() {
        migration::refuse_classic_without_template(
            &request.account_id,
            &request.region,
            &stored,
            request.overrides.engine,
        )?;
    }
    let mut settings = request.overrides.apply(stored);
    if let (Some(level), None) = (settings.cis, &request.rerun) {
        // Before anything starts: a CIS level the account cannot scan is a settings mistake.
        cis::refuse_untargeted(settings.engine, settings.tag.as_ref(), level)?;
    }
    let config = platform.config();
    let mut v2_readiness = None;
    if settings.engine == Engine::Classic && request.rerun.is_none() {
        refuse_classic_overrides(&request.overrides)?;
        let readiness = V2Readiness::from_check(member.v2_ec2_status().await);
        tracing::info!(account = %request.account_id, region = %request.region, ready = readiness.ready(), "Inspector v2 pre-flight for a Classic account");
        v2_readiness = Some(readiness);
    }

    let (run_id, rerun, adopted) = match &request.rerun {
        Some(rerun) => {
            settings.engine = rerun.engine;
            (rerun.run_id.clone(), true, false)
        }
        None => {
            let name: String = format!("scanflow-{}", execution.name)
                .chars()
                .take(RUN_NAME_MAX)
                .collect();
            let started = member.start_scan(&settings, &name).await.map_err(|e| {
                with_v2_hint(
                    e,
                    &request.account_id,
                    &request.region,
                    &settings,
                    v2_readiness.as_ref(),
                )
            })?;
            tracing::info!(account = %request.account_id, region = %request.region, engine = %settings.engine, run = %started.run_id, adopted = started.adopted, "scan started");
            (started.run_id, false, started.adopted)
        }
    };
    // A rerun delivers what was collected; it starts no CIS scan.
    let cis = match settings.cis.filter(|_| !rerun) {
        Some(level) => {
            let name = cis::scan_name(&format!("scanflow-{}", execution.name));
            let configuration_arn = member.start_cis_scan(&settings, level, &name).await?;
            tracing::info!(account = %request.account_id, region = %request.region, level = %level, "CIS scan started");
            Some(CisRun {
                level,
                configuration_arn,
            })
        }
        None => None,
    };

    let timing = Timing::for_run(config, &settings, rerun, cis.is_some())?;
    Ok(Run {
        account_id: request.account_id.clone(),
        region: request.region.clone(),
        engine: settings.engine,
        run_id,
        tag: settings.tag,
        duration_seconds: settings.duration_seconds,
        started_at: time::format(started_at),
        deadline: time::format(time::add_seconds(
            "execution.startTime",
            started_at,
            i64::from(timing.deadline_after),
        )?),
        wait_seconds: timing.first_wait,
        rerun,
        execution: execution.name.clone(),
        adopted,
        scheduled_at: request.scheduled_at.clone(),
        sla_days: settings.sla_days,
        v2_readiness,
        cis,
    })
}

/// When Inspector Classic refuses the scan as an account without Classic (its support has
/// ended), the failure notice says what the pre-flight found about v2 and what to change.
fn with_v2_hint(
    error: ScanError,
    account_id: &str,
    region: &str,
    settings: &AccountSettings,
    readiness: Option<&V2Readiness>,
) -> ScanError {
    let Some(plan) =
        readiness.and_then(|r| MigrationPlan::for_account(account_id, region, settings, r))
    else {
        return error;
    };
    // The error's own text goes on after the detail with ". ...".
    let hint = plan.failure_hint();
    let hint = hint.trim_end_matches('.');
    match error {
        ScanError::InspectorDisabled {
            account_id,
            region,
            engine,
            detail,
        } => ScanError::InspectorDisabled {
            account_id,
            region,
            engine,
            detail: format!("{detail}. {}", hint),
        },
        ScanError::AccessDenied {
            account_id,
            region,
            action,
            detail,
        } if action.starts_with("inspector:") => ScanError::AccessDenied {
            account_id,
            region,
            action,
            detail: format!("{detail}. {}", hint),
        },
        other => other,
    }
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
    /// Sums the duration and the hub's settings with checked arithmetic: the hub validates its
    /// settings against their ranges, but a value that slipped past (or a future range) must
    /// give an error naming the setting, never a panic or a wrapped, wrong wait.
    /// `cis`: a CIS scan was started with the run.
    fn for_run(
        config: &HubConfig,
        settings: &AccountSettings,
        rerun: bool,
        cis: bool,
    ) -> Result<Self, ScanError> {
        let scan = match settings.engine {
            // Nothing can be collected before the assessment's own duration has passed.
            Engine::Classic if !rerun => settings.duration_seconds,
            // A CIS scan is given the Duration to finish in.
            Engine::Inspector2 if cis => settings.duration_seconds,
            // v2 findings (or a finished run) are read as they stand, after no duration.
            _ => 0,
        };
        let sum = |setting: &str, value: u32| {
            scan.checked_add(value).ok_or_else(|| {
                ScanError::invalid(
                    setting,
                    format!(
                        "a hub setting that, added to the {scan}-second assessment duration, \
                         fits {} seconds (see scanflow_core::ports::hub_ranges)",
                        u32::MAX
                    ),
                    format!("is {value}"),
                )
            })
        };
        Ok(Self {
            // Inspector v2 scans continuously: its findings can be read at once; a CIS scan
            // takes minutes, so the first look comes after the shortest poll.
            first_wait: if cis {
                config.min_poll_seconds.max(1)
            } else if rerun || settings.engine == Engine::Inspector2 {
                0
            } else {
                sum(
                    "firstWaitMarginSeconds",
                    config.first_wait_margin_seconds.max(1),
                )?
            },
            deadline_after: sum(
                "evaluationAllowanceSeconds",
                config.evaluation_allowance_seconds,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classic(duration_seconds: u32) -> AccountSettings {
        AccountSettings {
            engine: Engine::Classic,
            tag: None,
            duration_seconds,
            assessment_template_arn: None,
            schedule: None,
            sla_days: None,
            cis: None,
        }
    }

    fn field_of(e: ScanError) -> String {
        match e {
            ScanError::InvalidInput { field, .. } => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn timing_sums_are_checked_at_u32_max_and_one_past() {
        let at_limit = HubConfig {
            first_wait_margin_seconds: u32::MAX - 3600,
            evaluation_allowance_seconds: u32::MAX - 3600,
            ..HubConfig::default()
        };
        let t = Timing::for_run(&at_limit, &classic(3600), false, false).expect("fits exactly");
        assert_eq!((t.first_wait, t.deadline_after), (u32::MAX, u32::MAX));

        let past = HubConfig {
            first_wait_margin_seconds: u32::MAX - 3599,
            ..HubConfig::default()
        };
        let e = Timing::for_run(&past, &classic(3600), false, false).err();
        assert_eq!(field_of(e.expect("overflow")), "firstWaitMarginSeconds");
        let past = HubConfig {
            evaluation_allowance_seconds: u32::MAX - 3599,
            ..HubConfig::default()
        };
        let e = Timing::for_run(&past, &classic(3600), false, false).err();
        assert_eq!(field_of(e.expect("overflow")), "evaluationAllowanceSeconds");
        // A rerun waits no duration, so even u32::MAX fits.
        let max = HubConfig {
            evaluation_allowance_seconds: u32::MAX,
            ..HubConfig::default()
        };
        assert!(Timing::for_run(&max, &classic(3600), true, false).is_ok());
    }
}
