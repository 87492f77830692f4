//! `scanflow run`: executes the workflow definition with the local ASL engine, dispatching each
//! Task to the real handler code against the sandbox's simulated accounts, on virtual time.

use std::path::{Path, PathBuf};

use publish::notify::{self, Notified};
use scanflow_asl::{Execution, ExecutionOptions, Status, TaskCall, TaskHandler, TaskOutcome};
use scanflow_core::ScanError;
use scanflow_core::input::ExecutionInput;
use scanflow_sandbox::{HttpEndpoint, Sandbox, Scenario, ScheduleState};
use time::{Duration, OffsetDateTime};

use crate::definition::Workflow;
use crate::names;
use crate::trace::TraceEvent;

/// Lambda retries an asynchronous invocation (EventBridge → the notifier) twice, about one and
/// then two minutes after a failure.
pub const ASYNC_RETRY_DELAYS: [i64; 2] = [60, 120];

/// Marks a folder as scanflow's output, so a rerun may clear it and nothing else.
const OUT_MARKER: &str = ".scanflow-out";

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("output folder {path}: {detail}")]
    Output { path: PathBuf, detail: String },
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error("redrive: {0}")]
    Redrive(String),
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
    pub http_endpoint: Option<HttpEndpoint>,
    pub start_time: OffsetDateTime,
    pub seed: u64,
    /// Redrive each execution that did not succeed, once, this long after it ended (as an
    /// operator would, with `scanflow executions redrive`).
    pub redrive_after: Option<Duration>,
    /// Scan each account this many times (1 to [`MAX_REPEAT`]), `every` apart on the virtual
    /// clock, keeping the bucket (and so each account-Region's run state) between scans.
    pub repeat: u32,
    pub every: Duration,
}

/// `--repeat`'s ceiling: a year of weekly scans (the scenario's churn describes as many).
pub const MAX_REPEAT: u32 = scanflow_sandbox::MAX_SCANS;
/// `--every`'s default: the member template's weekly schedule.
pub const DEFAULT_EVERY: Duration = Duration::days(7);

/// What the notifier did with one status change event of an execution.
#[derive(Debug, Clone)]
pub struct NoticeOutcome {
    /// The execution's status in the event (`FAILED`, `SUCCEEDED`, ...).
    pub status: String,
    pub redrive_count: u32,
    pub at: OffsetDateTime,
    pub result: Result<Notified, ScanError>,
}

impl NoticeOutcome {
    /// The trace line: what the notifier did with the event.
    pub fn line(&self, start: OffsetDateTime) -> String {
        let at = crate::trace::since(start, self.at);
        let what = match &self.result {
            Ok(n) if n.action == "failure" => format!(
                "failure notice sent ({} message(s){})",
                n.messages,
                already(n.already_sent)
            ),
            Ok(n) if n.action == "resolved" => format!(
                "resolved message sent ({} message(s){})",
                n.messages,
                already(n.already_sent)
            ),
            Ok(n) => format!("nothing to send ({})", n.action),
            Err(e) => format!("NOTICE NOT SENT: {} {e}", e.error_type()),
        };
        format!("{at:>10}  notifier  {} → {what}", self.status)
    }
}

fn already(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} already sent before")
    }
}

/// One execution of the workflow, as the engine left it.
pub struct AccountExecution {
    pub name: String,
    pub input: serde_json::Value,
    pub execution: Execution,
    /// Every status change the notifier was sent, in order (EventBridge's rule sends FAILED,
    /// TIMED_OUT, ABORTED, and SUCCEEDED after a redrive).
    pub notices: Vec<NoticeOutcome>,
    /// The `sequence` numbers of the SNS messages published while it (or a redrive of it) ran:
    /// how a delivery that failed is told to the execution it belongs to.
    pub messages: Vec<std::ops::Range<u64>>,
}

impl AccountExecution {
    /// Whether SNS message `sequence` was published by this execution.
    pub fn published(&self, sequence: u64) -> bool {
        self.messages.iter().any(|r| r.contains(&sequence))
    }
}

impl AccountExecution {
    /// Succeeded, or ended otherwise and the notifier sent (or had sent) its failure notice.
    pub fn reported(&self) -> bool {
        match self.execution.status {
            Status::Succeeded => true,
            _ => self.notices.last().is_some_and(|n| {
                n.status == self.execution.status.as_aws()
                    && n.redrive_count == self.execution.redrive_count
                    && n.result.as_ref().is_ok_and(|r| r.action == "failure")
            }),
        }
    }

    /// The failure notice of this execution could not be sent, with why.
    pub fn notice_error(&self) -> Option<&ScanError> {
        self.notices.last().and_then(|n| n.result.as_ref().err())
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
    /// The org rollup sent after the fleet watch (scenario runs only).
    pub rollup: Option<fleet_watch::RollupResult>,
}

/// Checks `--input` the way start-run will, so a typo fails before anything runs.
/// Step Functions' limit on an execution's input (256 KiB of UTF-8), the same as the engine's
/// payload limit: a bigger `--input` could never start a real execution.
pub const EXECUTION_INPUT_MAX_BYTES: usize = scanflow_asl::MAX_PAYLOAD_BYTES;

/// The text of an `--input` argument: the JSON itself, `@FILE` for a file's content, or `-` for
/// standard input (so inputs longer than the argument limit can be given). Reads at most one
/// byte past [`EXECUTION_INPUT_MAX_BYTES`], so a huge file or endless pipe is refused without
/// being read whole.
pub fn read_input_arg(arg: &str, stdin: impl std::io::Read) -> Result<String, String> {
    use std::io::Read;
    let (source, reader): (String, Box<dyn Read + '_>) = if arg == "-" {
        ("standard input".to_owned(), Box::new(stdin))
    } else if let Some(path) = arg.strip_prefix('@') {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        (path.to_owned(), Box::new(file))
    } else {
        if arg.len() > EXECUTION_INPUT_MAX_BYTES {
            return Err(too_large("the argument", arg.len()));
        }
        return Ok(arg.to_owned());
    };
    let mut bytes = Vec::new();
    reader
        .take(EXECUTION_INPUT_MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {source}: {e}"))?;
    if bytes.len() > EXECUTION_INPUT_MAX_BYTES {
        return Err(too_large(&source, bytes.len()));
    }
    String::from_utf8(bytes).map_err(|e| format!("{source} is not UTF-8 text ({e})"))
}

fn too_large(source: &str, size: usize) -> String {
    let size = if size > EXECUTION_INPUT_MAX_BYTES {
        format!("over {EXECUTION_INPUT_MAX_BYTES}")
    } else {
        size.to_string()
    };
    format!(
        "{source} is {size} bytes, over Step Functions' execution input limit of \
         {EXECUTION_INPUT_MAX_BYTES} bytes (256 KiB); give a smaller input"
    )
}

pub fn parse_input(text: &str) -> Result<serde_json::Value, ScanError> {
    let parsed = ExecutionInput::from_json(text)?;
    parsed.validate()?;
    serde_json::to_value(parsed).map_err(ScanError::internal)
}

/// Room kept after the last scheduled scan for its execution (at most a day's assessment plus
/// the hub's evaluation allowance and polls), the notifier's retries and the fleet watch's
/// grace period: generous, since it only has to keep virtual time inside the calendar.
pub const RUN_MARGIN: Duration = Duration::days(30);

/// Checks that a run starting at `start` (`repeat` scans `every` apart, each redriven
/// `redrive_after` later) ends before the last second `time` represents (9999-12-31), so the
/// virtual clock never overflows: a start time that near the end is refused as bad input.
pub fn check_horizon(
    start: OffsetDateTime,
    repeat: u32,
    every: Duration,
    redrive_after: Option<Duration>,
) -> Result<(), String> {
    let span = i32::try_from(repeat.saturating_sub(1))
        .ok()
        .and_then(|n| every.checked_mul(n))
        .and_then(|d| d.checked_add(redrive_after.unwrap_or(Duration::ZERO)))
        .and_then(|d| d.checked_add(RUN_MARGIN));
    match span.and_then(|d| start.checked_add(d)) {
        Some(_) => Ok(()),
        None => Err(format!(
            "--start-time {}: the virtual run ({repeat} scan(s) {every} apart, plus {} days for \
             the executions, redrives and the fleet watch) would end after 9999-12-31T23:59:59Z; \
             give an earlier start time",
            scanflow_core::time::format(start),
            RUN_MARGIN.whole_days()
        )),
    }
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
    local.sandbox.lambda().set_origin(options.start_time);
    local.skipped = skipped;
    if scheduled {
        local
            .sandbox
            .seed_registry(options.start_time - MEMBER_STACKS_AGE)
            .map_err(|e| RunError::Sandbox(e.to_string()))?;
    }
    if !(1..=MAX_REPEAT).contains(&options.repeat) {
        return Err(RunError::Sandbox(format!(
            "--repeat {}: give 1 to {MAX_REPEAT} scans",
            options.repeat
        )));
    }
    let mut start = options.start_time;
    for round in 0..options.repeat {
        if round > 0 {
            start = start.checked_add(options.every).ok_or_else(|| {
                RunError::Sandbox("--repeat × --every runs past the end of time".into())
            })?;
        }
        let first = local.executions.len();
        for (i, input) in inputs.iter().enumerate() {
            let seed = options
                .seed
                .wrapping_add(u64::from(round) * inputs.len() as u64 + i as u64);
            local.execute(workflow, input.clone(), start, seed, None);
        }
        if let Some(after) = options.redrive_after {
            for i in first..local.executions.len() {
                if local.executions[i].execution.status != Status::Succeeded {
                    let at = local.executions[i].execution.end_time.saturating_add(after);
                    local.redrive(workflow, i, at)?;
                }
            }
        }
    }
    if scheduled {
        local.watch_fleet(start)?;
    }
    Ok(local)
}

impl LocalRun {
    /// A sandbox writing under `out_dir` (cleared first if scanflow wrote it), no executions yet.
    pub fn new(
        scenario: Scenario,
        out_dir: &Path,
        http_endpoint: Option<HttpEndpoint>,
    ) -> Result<Self, RunError> {
        prepare_out_dir(out_dir)?;
        let sandbox = Sandbox::new(scenario, out_dir, http_endpoint)
            .map_err(|e| RunError::Sandbox(e.to_string()))?;
        Ok(Self {
            sandbox,
            executions: Vec::new(),
            skipped: Vec::new(),
            fleet_watch: None,
            rollup: None,
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
        // Saturating: `check_horizon` keeps the run inside the calendar, this keeps a bug from
        // turning into a panic.
        let changed_at = last_end.saturating_add(Duration::minutes(1));
        self.sandbox
            .apply_scope_changes(changed_at)
            .map_err(|e| RunError::Sandbox(e.to_string()))?;
        let grace = Duration::hours(i64::from(FLEET_WATCH_GRACE_HOURS));
        let now = start_time
            .saturating_add(grace)
            .max(changed_at.saturating_add(Duration::minutes(1)));
        self.sandbox.set_now(now);
        let result = pollster::block_on(fleet_watch::check(&self.sandbox, now, grace))
            .map_err(RunError::FleetWatch)?;
        self.fleet_watch = Some(result);
        // The org rollup's schedule, just after: it reads what the scans stored.
        let at = now.saturating_add(Duration::minutes(1));
        self.sandbox.set_now(at);
        let rollup = pollster::block_on(fleet_watch::send_rollup(&self.sandbox, at, grace))
            .map_err(RunError::FleetWatch)?;
        self.rollup = Some(rollup);
        Ok(())
    }

    /// Runs one execution to its end on the same simulated accounts as the earlier ones, then
    /// hands its status change to the notifier as EventBridge would. `abort_at` stops it then
    /// (`StopExecution`).
    pub fn execute(
        &mut self,
        workflow: &Workflow,
        input: serde_json::Value,
        start_time: OffsetDateTime,
        seed: u64,
        abort_at: Option<OffsetDateTime>,
    ) -> &AccountExecution {
        let name = execution_name(&input, start_time, self.executions.len());
        let options = ExecutionOptions {
            name: name.clone(),
            start_time,
            seed,
            state_machine_name: "scanflow".to_owned(),
            account_id: self.sandbox.scenario().hub.account_id.clone(),
            region: self.sandbox.scenario().hub.region.clone(),
            abort_at,
            ..ExecutionOptions::default()
        };
        let mut tasks = Dispatcher {
            workflow,
            sandbox: &self.sandbox,
        };
        let first = self.sandbox.sns_published();
        let execution =
            scanflow_asl::execute(&workflow.machine, input.clone(), &mut tasks, &options);
        let mut done = AccountExecution {
            name,
            input,
            execution,
            notices: Vec::new(),
            messages: Vec::new(),
        };
        self.notify(&mut done);
        done.messages.push(first..self.sandbox.sns_published());
        self.executions.push(done);
        &self.executions[self.executions.len() - 1]
    }

    /// Redrives execution `index` at `at` (`RedriveExecution`): it resumes from the state that
    /// failed, and its new status change goes to the notifier.
    pub fn redrive(
        &mut self,
        workflow: &Workflow,
        index: usize,
        at: OffsetDateTime,
    ) -> Result<&AccountExecution, RunError> {
        let Some(mut done) = self.executions.get(index).map(|e| AccountExecution {
            name: e.name.clone(),
            input: e.input.clone(),
            execution: e.execution.clone(),
            notices: e.notices.clone(),
            messages: e.messages.clone(),
        }) else {
            return Err(RunError::Redrive(format!("there is no execution {index}")));
        };
        let first = self.sandbox.sns_published();
        let mut tasks = Dispatcher {
            workflow,
            sandbox: &self.sandbox,
        };
        done.execution = scanflow_asl::redrive(
            &workflow.machine,
            done.execution,
            &mut tasks,
            &ExecutionOptions::default(),
            at,
        )
        .map_err(|e| RunError::Redrive(format!("{}: {e}", done.name)))?;
        self.notify(&mut done);
        done.messages.push(first..self.sandbox.sns_published());
        self.executions[index] = done;
        Ok(&self.executions[index])
    }

    /// Delivers the execution's latest status change to the notifier, as the hub's EventBridge
    /// rule does: only the statuses the rule matches, retried as Lambda retries an
    /// asynchronous invocation.
    fn notify(&self, done: &mut AccountExecution) {
        let e = &done.execution;
        let status = e.status.as_aws();
        if !notify::wanted(status, e.redrive_count) {
            return;
        }
        let event = e.status_change_event();
        let mut at = e.end_time;
        let mut result = self.notify_at(&event, at);
        for delay in ASYNC_RETRY_DELAYS {
            if result.is_ok() {
                break;
            }
            at = at.saturating_add(Duration::seconds(delay));
            result = self.notify_at(&event, at);
        }
        done.notices.push(NoticeOutcome {
            status: status.to_owned(),
            redrive_count: e.redrive_count,
            at,
            result,
        });
    }

    fn notify_at(
        &self,
        event: &serde_json::Value,
        at: OffsetDateTime,
    ) -> Result<Notified, ScanError> {
        self.sandbox.set_now(at);
        self.sandbox
            .lambda()
            .invoke("notify", at)
            .map_err(|refused| ScanError::Transient {
                service: "Lambda (notify)".into(),
                detail: format!("{}: {}", refused.error, refused.cause),
            })?;
        let out = pollster::block_on(notify::invoke(&self.sandbox, event.clone()))?;
        serde_json::from_value(out).map_err(ScanError::internal)
    }
}

/// The name `scanflow executions start` would give the same input; a scheduled event's input
/// (it has `scheduledAt`) gets a UUID-shaped name as EventBridge gives, different for each
/// delivery; an input that does not validate (the run reports it) gets a name saying so.
fn execution_name(input: &serde_json::Value, start: OffsetDateTime, index: usize) -> String {
    match ExecutionInput::from_value(input.clone()).and_then(|i| i.validate()) {
        Ok(request) if request.scheduled_at.is_some() => {
            scanflow_sandbox::uuid(&[&input.to_string(), &index.to_string()])
        }
        Ok(request) => names::execution_name(&request, start),
        Err(_) => format!("invalid-input-{index}"),
    }
}

fn prepare_out_dir(dir: &Path) -> Result<(), RunError> {
    prepare_output(dir, OUT_MARKER, "scanflow run").map_err(|detail| RunError::Output {
        path: dir.to_owned(),
        detail,
    })
}

/// Empties `dir` for a new output of `command` and marks it with `marker`, refusing a folder
/// with anything in it that no earlier output of the same command marked: a mistyped `--out`
/// must never delete someone's files.
pub(crate) fn prepare_output(dir: &Path, marker: &str, command: &str) -> Result<(), String> {
    let err = |e: std::io::Error| e.to_string();
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(err)?.next().is_none();
        if !empty && !dir.join(marker).exists() {
            return Err(format!(
                "exists and was not written by {command}; choose another --out"
            ));
        }
        std::fs::remove_dir_all(dir).map_err(err)?;
    }
    std::fs::create_dir_all(dir).map_err(err)?;
    std::fs::write(
        dir.join(marker),
        format!("written by {command}; cleared on its next output here\n"),
    )
    .map_err(err)
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
        // Lambda first: a throttled or failing function never runs the handler.
        let took = match self.sandbox.lambda().invoke(step.binary(), call.now) {
            Ok(took) => took,
            Err(refused) => {
                return TaskOutcome::Failed {
                    error: refused.error,
                    cause: refused.cause,
                };
            }
        };
        self.sandbox.set_now(call.now);
        let publishing = step.binary() == "publish";
        if publishing {
            self.sandbox.begin_publish_invocation();
        }
        let result = pollster::block_on(step.invoke(self.sandbox, call.input.clone()));
        let outcome = if publishing && self.sandbox.end_publish_invocation() {
            // What Step Functions sees when the runtime is killed mid-invocation.
            TaskOutcome::Failed {
                error: "Lambda.Unknown".to_owned(),
                cause: "{\"errorType\":\"Runtime.ExitError\",\"errorMessage\":\"Runtime exited \
                        with error: signal: killed (crashAfterMessages)\"}"
                    .to_owned(),
            }
        } else {
            match result {
                Ok(output) => TaskOutcome::Succeeded(output),
                Err(e) => TaskOutcome::Failed {
                    error: e.error_type().to_owned(),
                    cause: e.to_cause(),
                },
            }
        };
        if took.is_zero() {
            outcome
        } else {
            TaskOutcome::Elapsed {
                duration: took,
                outcome: Box::new(outcome),
            }
        }
    }
}
