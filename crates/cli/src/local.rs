//! `scanflow run`: executes the workflow definition with the local ASL engine, dispatching each
//! Task to the real handler code against the sandbox's simulated accounts, on virtual time.

use std::path::{Path, PathBuf};

use scanflow_asl::{Execution, ExecutionOptions, Status, TaskCall, TaskHandler, TaskOutcome};
use scanflow_core::ScanError;
use scanflow_core::input::ExecutionInput;
use scanflow_sandbox::{Sandbox, Scenario, ScheduleState};
use time::{Duration, OffsetDateTime};

use crate::definition::Workflow;
use crate::names;
use crate::trace::TraceEvent;

/// The state that publishes the failure notice: a failed execution that passed through it
/// was reported.
pub const NOTICE_STATE: &str = "NotifyFailure";

/// Marks a folder as scanflow's output, so a rerun may clear it and nothing else.
const OUT_MARKER: &str = ".scanflow-out";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("output folder {path}: {detail}")]
    Output { path: PathBuf, detail: String },
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error("fleet watch: {0}")]
    FleetWatch(ScanError),
}

/// The hub's default `FleetWatchGraceHours` (templates/hub.yaml; a test keeps them equal).
pub const FLEET_WATCH_GRACE_HOURS: u32 = 6;

/// How long before `--start-time` the scenario's member stacks were created: long enough for
/// every daily and weekly schedule to have come due once, so the watch has something to check.
pub const MEMBER_STACKS_AGE: Duration = Duration::days(8);

pub struct RunOptions {
    pub scenario: Scenario,
    /// Execution inputs; empty means one `{"accountId", "region"}` per scenario account.
    pub inputs: Vec<serde_json::Value>,
    pub out_dir: PathBuf,
    pub http_endpoint: Option<String>,
    pub start_time: OffsetDateTime,
    pub seed: u64,
}

/// One execution of the workflow, as the engine left it.
pub struct AccountExecution {
    pub name: String,
    pub input: serde_json::Value,
    pub execution: Execution,
}

impl AccountExecution {
    /// Succeeded, or failed after its failure notice went out.
    pub fn reported(&self) -> bool {
        match self.execution.status {
            Status::Succeeded => true,
            Status::Failed => self.execution.history.iter().any(|e| {
                e.kind == "TaskStateExited" && e.state_name.as_deref() == Some(NOTICE_STATE)
            }),
            _ => false,
        }
    }

    pub fn trace_events(&self) -> Vec<TraceEvent> {
        self.execution
            .history
            .iter()
            .map(|e| TraceEvent {
                timestamp: e.timestamp,
                kind: e.kind.clone(),
                state: e.state_name.clone(),
                error: e.error.clone(),
                cause: e.cause.clone(),
            })
            .collect()
    }
}

pub struct LocalRun {
    pub sandbox: Sandbox,
    pub executions: Vec<AccountExecution>,
    /// Scenario accounts whose schedule is DISABLED: no event, so no execution.
    pub skipped: Vec<(String, String)>,
    /// The fleet watch run after the executions (scenario runs only, not `--input`).
    pub fleet_watch: Option<fleet_watch::CheckResult>,
}

/// Checks `--input` the way start-run will, so a typo fails before anything runs.
pub fn parse_input(text: &str) -> Result<serde_json::Value, ScanError> {
    let parsed = ExecutionInput::from_json(text)?;
    parsed.validate()?;
    serde_json::to_value(parsed).map_err(ScanError::internal)
}

pub fn run(workflow: &Workflow, options: RunOptions) -> Result<LocalRun, RunError> {
    let scheduled = options.inputs.is_empty();
    // An account whose schedule is DISABLED sends no scheduled event: nothing starts for it.
    let skipped: Vec<(String, String)> = options
        .scenario
        .accounts
        .iter()
        .filter(|a| scheduled && a.schedule.state == ScheduleState::Disabled)
        .map(|a| (a.account_id.clone(), a.region.clone()))
        .collect();
    let inputs = if scheduled {
        options
            .scenario
            .accounts
            .iter()
            .filter(|a| a.schedule.state == ScheduleState::Enabled)
            .map(|a| serde_json::json!({"accountId": a.account_id, "region": a.region}))
            .collect()
    } else {
        options.inputs.clone()
    };
    let mut local = LocalRun::new(options.scenario, &options.out_dir, options.http_endpoint)?;
    local.skipped = skipped;
    if scheduled {
        local
            .sandbox
            .seed_registry(options.start_time - MEMBER_STACKS_AGE)
            .map_err(|e| RunError::Sandbox(e.to_string()))?;
    }
    for (i, input) in inputs.into_iter().enumerate() {
        local.execute(
            workflow,
            input,
            options.start_time,
            options.seed.wrapping_add(i as u64),
        );
    }
    if scheduled {
        local.watch_fleet(options.start_time)?;
    }
    Ok(local)
}

impl LocalRun {
    /// A sandbox writing under `out_dir` (cleared first if scanflow wrote it), no executions yet.
    pub fn new(
        scenario: Scenario,
        out_dir: &Path,
        http_endpoint: Option<String>,
    ) -> Result<Self, RunError> {
        prepare_out_dir(out_dir)?;
        let sandbox = Sandbox::new(scenario, out_dir, http_endpoint)
            .map_err(|e| RunError::Sandbox(e.to_string()))?;
        Ok(Self {
            sandbox,
            executions: Vec::new(),
            skipped: Vec::new(),
            fleet_watch: None,
        })
    }

    /// After the executions: the members' scope changes reach the registry, then the daily
    /// fleet watch runs, one grace period after the scheduled events (virtual time), so it
    /// expects exactly the scans this run started.
    pub fn watch_fleet(&mut self, start_time: OffsetDateTime) -> Result<(), RunError> {
        let last_end = self
            .executions
            .iter()
            .map(|e| e.execution.end_time)
            .max()
            .unwrap_or(start_time);
        let changed_at = last_end + Duration::minutes(1);
        self.sandbox
            .apply_scope_changes(changed_at)
            .map_err(|e| RunError::Sandbox(e.to_string()))?;
        let grace = Duration::hours(i64::from(FLEET_WATCH_GRACE_HOURS));
        let now = (start_time + grace).max(changed_at + Duration::minutes(1));
        self.sandbox.set_now(now);
        let result = pollster::block_on(fleet_watch::check(&self.sandbox, now, grace))
            .map_err(RunError::FleetWatch)?;
        self.fleet_watch = Some(result);
        Ok(())
    }

    /// Runs one execution to its end on the same simulated accounts as the earlier ones.
    pub fn execute(
        &mut self,
        workflow: &Workflow,
        input: serde_json::Value,
        start_time: OffsetDateTime,
        seed: u64,
    ) -> &AccountExecution {
        let name = execution_name(&input, start_time, self.executions.len());
        let options = ExecutionOptions {
            name: name.clone(),
            start_time,
            seed,
            state_machine_name: "scanflow".to_owned(),
            account_id: self.sandbox.scenario().hub.account_id.clone(),
            region: self.sandbox.scenario().hub.region.clone(),
            ..ExecutionOptions::default()
        };
        let mut tasks = Dispatcher {
            workflow,
            sandbox: &self.sandbox,
        };
        let execution =
            scanflow_asl::execute(&workflow.machine, input.clone(), &mut tasks, &options);
        self.executions.push(AccountExecution {
            name,
            input,
            execution,
        });
        &self.executions[self.executions.len() - 1]
    }
}

/// The name `scanflow executions start` would give the same input; an input that does not
/// validate (the run reports it) gets a name saying so.
fn execution_name(input: &serde_json::Value, start: OffsetDateTime, index: usize) -> String {
    match ExecutionInput::from_value(input.clone()).and_then(|i| i.validate()) {
        Ok(request) => names::execution_name(&request, start),
        Err(_) => format!("invalid-input-{index}"),
    }
}

fn prepare_out_dir(dir: &Path) -> Result<(), RunError> {
    let err = |detail: String| RunError::Output {
        path: dir.to_owned(),
        detail,
    };
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| err(e.to_string()))?
            .next()
            .is_none();
        if !empty && !dir.join(OUT_MARKER).exists() {
            return Err(err(
                "exists and was not written by scanflow; choose another --out".into(),
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    std::fs::write(
        dir.join(OUT_MARKER),
        "written by scanflow run; cleared on the next run\n",
    )
    .map_err(|e| err(e.to_string()))
}

/// Task dispatch: the engine's virtual time becomes the sandbox's clock for each call.
struct Dispatcher<'a> {
    workflow: &'a Workflow,
    sandbox: &'a Sandbox,
}

impl TaskHandler for Dispatcher<'_> {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        let Some(step) = self.workflow.step_for(call.resource) else {
            return TaskOutcome::Failed {
                error: "Lambda.ResourceNotFoundException".to_owned(),
                cause: format!("Function not found: {}", call.resource),
            };
        };
        self.sandbox.set_now(call.now);
        match pollster::block_on(step.invoke(self.sandbox, call.input.clone())) {
            Ok(output) => TaskOutcome::Succeeded(output),
            Err(e) => TaskOutcome::Failed {
                error: e.error_type().to_owned(),
                cause: e.to_cause(),
            },
        }
    }
}
