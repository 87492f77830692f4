//! Amazon States Language engine: parses, validates and executes JSONPath state machines the
//! way AWS Step Functions does, on a virtual clock, with AWS's error names and history events.
//!
//! ```
//! use scanflow_asl::{execute, ExecutionOptions, StateMachine, Status, TaskCall, TaskHandler, TaskOutcome};
//! struct Echo;
//! impl TaskHandler for Echo {
//!     fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
//!         TaskOutcome::Succeeded(call.input.clone())
//!     }
//! }
//! let m = StateMachine::from_json(r#"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:x","End":true}}}"#)?;
//! let run = execute(&m, serde_json::json!({"a": 1}), &mut Echo, &ExecutionOptions::default());
//! assert_eq!(run.status, Status::Succeeded);
//! assert_eq!(run.output, Some(serde_json::json!({"a": 1})));
//! # Ok::<(), scanflow_asl::ValidationErrors>(())
//! ```
//!
//! An execution that fails, times out or is aborted (`ExecutionOptions::abort_at`) can be
//! carried on with [`redrive`], as `RedriveExecution` does; [`Execution::running_event`] and
//! [`Execution::status_change_event`] give the EventBridge events. See `REDRIVE.md`.

/// `serde_json::json!`, as the engine's [`json::Value`] (in serde_json's key order), for the
/// unit tests.
#[cfg(test)]
macro_rules! json {
    ($($t:tt)+) => {
        $crate::json::Value::from(serde_json::json!($($t)+))
    };
}

mod context;
mod definition;
mod engine;
mod error;
mod events;
pub mod exec;
mod intrinsics;
pub mod json;
mod jsonpath;
pub mod mocks;
mod payload;
mod redrive;
mod rng;
mod scope;
mod value;
mod vars;

pub use engine::HISTORY_DATA_BUDGET_BYTES;
pub use error::{ValidationError, ValidationErrors, names};
pub use events::EVENT_PAYLOAD_LIMIT_BYTES;
pub use redrive::{MAX_OPEN_TIME, REDRIVABLE_PERIOD, RedriveError, Resume};
pub use value::MAX_PAYLOAD_BYTES;

use serde_json::Value;
use time::OffsetDateTime;

/// A parsed and validated state machine, ready to execute any number of times.
#[derive(Debug, Clone)]
pub struct StateMachine {
    def: definition::Definition,
}

impl StateMachine {
    /// Parses and validates a definition given as JSON text. The templates (`Parameters`,
    /// `ResultSelector`, `Result`, ...) keep their key order, as AWS's outputs do.
    pub fn from_json(text: &str) -> Result<StateMachine, ValidationErrors> {
        let v: json::Value = serde_json::from_str(text).map_err(|e| {
            ValidationErrors(vec![ValidationError {
                state: None,
                field: "(definition)".into(),
                message: format!("the definition is not valid JSON: {e}"),
            }])
        })?;
        StateMachine::parse(&v)
    }

    /// Parses and validates a definition given as a JSON value (its templates' keys in
    /// serde_json's map's order; [`StateMachine::from_json`] keeps the written order).
    pub fn from_value(v: &Value) -> Result<StateMachine, ValidationErrors> {
        // Checked before the copy, which recurses once per level.
        if value::deeper_than(v, definition::MAX_DEFINITION_DEPTH) {
            return Err(ValidationErrors(vec![definition::too_deep()]));
        }
        StateMachine::parse(&json::Value::from(v.clone()))
    }

    fn parse(v: &json::Value) -> Result<StateMachine, ValidationErrors> {
        definition::parse(v)
            .map(|def| StateMachine { def })
            .map_err(ValidationErrors)
    }

    /// The machine-level `TimeoutSeconds`, if any.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.def.timeout_seconds
    }
}

/// Runs the tasks of an execution. Implemented by the caller (Lambda adapters, mocks, tests).
pub trait TaskHandler {
    /// Synchronous: the caller may block on async code inside. `call.now` is the virtual clock.
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome;
}

/// One task invocation.
#[derive(Debug, Clone)]
pub struct TaskCall<'a> {
    pub state_name: &'a str,
    pub resource: &'a str,
    /// The effective input, after `InputPath` and `Parameters` (serde_json's value: its
    /// objects sort their keys unless a crate in the build turns on serde_json's
    /// `preserve_order`).
    pub input: &'a Value,
    /// The same input with its objects' keys in AWS's order, as a Lambda receives it.
    pub json_input: &'a json::Value,
    pub now: OffsetDateTime,
    /// 0 on the first attempt, then the number of retries so far in this state execution.
    pub attempt: u32,
}

/// What a task did.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    Succeeded(Value),
    /// Succeeded with a result whose key order is kept (a Lambda's JSON text parsed as
    /// [`json::Value`]); [`TaskOutcome::Succeeded`]'s serde_json value comes in its map's order.
    SucceededJson(json::Value),
    Failed {
        error: String,
        cause: String,
    },
    /// The inner outcome, after `duration` of virtual time: drives `TimeoutSeconds`
    /// (a task taking longer than its timeout fails with `States.Timeout`).
    Elapsed {
        duration: time::Duration,
        outcome: Box<TaskOutcome>,
    },
}

/// Who and when an execution is, for ARNs, the context object and the virtual clock.
#[derive(Debug, Clone)]
pub struct ExecutionOptions {
    pub name: String,
    pub start_time: OffsetDateTime,
    /// Seeds jitter, `States.MathRandom` and `States.UUID`.
    pub seed: u64,
    pub state_machine_name: String,
    pub region: String,
    pub account_id: String,
    pub role_arn: String,
    /// AWS fails a Standard execution whose history passes 25,000 events; `None` lifts it.
    /// A redrive also refuses an execution with 24,999 events or more under this cap.
    pub max_history_events: Option<usize>,
    /// How many bytes of event data (`input`, `output`, `error`, `cause`) the history keeps
    /// in all; past it an event's data is left out and the event marked
    /// [`HistoryEvent::truncated`]. The execution itself is not affected. `None` keeps
    /// everything (memory then grows with events × payload: up to ~12.5 GiB at AWS's limits).
    pub max_history_data_bytes: Option<usize>,
    /// Stops the execution (`StopExecution`) when the virtual clock reaches this time: inside a
    /// Wait, a task's elapsed time, a retry interval, or between states. The execution ends
    /// ABORTED and can be redriven. A time before the run (re)starts is ignored, so the same
    /// options can be passed to a later `redrive`.
    pub abort_at: Option<OffsetDateTime>,
}

impl Default for ExecutionOptions {
    fn default() -> Self {
        ExecutionOptions {
            name: "local-execution".into(),
            start_time: OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
            seed: 0,
            state_machine_name: "StateMachine".into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            role_arn: "arn:aws:iam::123456789012:role/StepFunctionsLocal".into(),
            max_history_events: Some(25_000),
            max_history_data_bytes: Some(HISTORY_DATA_BUDGET_BYTES),
            abort_at: None,
        }
    }
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    /// Stopped at `ExecutionOptions::abort_at` (AWS: `StopExecution`).
    Aborted,
}

impl Status {
    /// The `DescribeExecution` spelling: `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub fn as_aws(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// The result of one execution.
#[derive(Debug, Clone)]
pub struct Execution {
    pub status: Status,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
    /// State transitions as AWS bills them: one per state run, plus one per retry. After a
    /// redrive: the total over the first run and every redrive.
    pub transitions: u64,
    pub end_time: OffsetDateTime,
    /// The transitions of the latest run alone (the first run, or the latest redrive).
    pub run_transitions: u64,
    pub execution_arn: String,
    pub state_machine_arn: String,
    /// The execution name.
    pub name: String,
    /// The execution input.
    pub input: Value,
    /// When the execution first started (`$$.Execution.StartTime`; a redrive keeps it).
    pub start_time: OffsetDateTime,
    /// `$$.Execution.RedriveCount`: 0 until the first redrive.
    pub redrive_count: u32,
    /// When the latest redrive happened.
    pub redrive_date: Option<OffsetDateTime>,
    /// Where a redrive would carry on; `Some` whenever the status is not SUCCEEDED.
    pub resume: Option<Resume>,
    /// `output` as compact JSON text in AWS's key order (see [`Execution::output_json`]).
    output_json: Option<String>,
}

impl Execution {
    /// The output as AWS's `DescribeExecution` gives it: compact JSON text whose objects
    /// keep their keys in AWS's order (the input's, then the order templates and
    /// `ResultPath` build), in every build; `output`, a serde_json value, sorts them unless
    /// the build turns on serde_json's `preserve_order`. Parse it with
    /// [`json::Value`]'s `FromStr` to keep that order.
    pub fn output_json(&self) -> Option<&str> {
        self.output_json.as_deref()
    }
}

/// One entry of the execution history, named as `GetExecutionHistory` names it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: OffsetDateTime,
    /// AWS event type, e.g. `TaskStateEntered`, `ExecutionFailed`.
    pub kind: String,
    pub state_name: Option<String>,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub resource: Option<String>,
    /// Some of this event's data (`input`, `output`, `error`, `cause`) was left out (`None`)
    /// because the history had already kept `ExecutionOptions::max_history_data_bytes` of
    /// data: AWS's `inputDetails`/`outputDetails` `truncated`, which AWS sets when it drops
    /// data for size.
    pub truncated: bool,
}

/// Executes `machine` on `input` to completion. Given a [`json::Value`] (parsed from the
/// input's text), the input's key order is kept; a `serde_json::Value` comes in its map's
/// order.
pub fn execute(
    machine: &StateMachine,
    input: impl Into<json::Value>,
    tasks: &mut dyn TaskHandler,
    options: &ExecutionOptions,
) -> Execution {
    engine::execute(machine, input.into(), tasks, options)
}

/// Redrives (`RedriveExecution`) an execution that failed, timed out or was aborted, at the
/// virtual time `at`: the same execution (name, ARN, input, start time) carries on from the
/// state that stopped it, re-entered with its original input; states that succeeded are not
/// run again, nor are Map iterations and Parallel branches that succeeded. The history and the
/// billed transitions continue from `previous`, after an `ExecutionRedriven` event at `at`.
///
/// From `options` only the run-time settings are read (`max_history_events`,
/// `max_history_data_bytes`, `abort_at`); the
/// identity of the execution comes from `previous`. Refuses what AWS refuses: a SUCCEEDED
/// execution, one whose history is too long, and a redrive more than 14 days after the end.
pub fn redrive(
    machine: &StateMachine,
    previous: Execution,
    tasks: &mut dyn TaskHandler,
    options: &ExecutionOptions,
    at: OffsetDateTime,
) -> Result<Execution, RedriveError> {
    engine::redrive(machine, previous, tasks, options, at)
}
