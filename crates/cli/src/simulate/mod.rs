//! `scanflow simulate`: a fleet of accounts × Regions scanned at once, each execution the real
//! definition and the real handlers on the sandbox, with AWS's quotas where they bite (the
//! sandbox's [`quota`] models, and here the `StartExecution` bucket behind EventBridge's rule
//! target and the account's Lambda concurrency), in virtual time. It reports how every
//! execution ended, the throttles met and what retried them, the transitions, Lambda
//! GB-seconds (each function's `MemorySize` read from the template), API calls, S3 bytes, and
//! a monthly cost.
//!
//! Every execution runs its state machine on its own thread, blocked until the scheduler gives
//! it its turn: the scheduler hands turns out in virtual-time order (a task call, a notifier
//! delivery, a start attempt; ties by execution), at most [`SimulateOptions::slots`] at once,
//! so the quota models see requests in time order whatever the executions' real speeds. The
//! handlers themselves run on one worker thread per slot (`Workers`).
//!
//! With more than one slot the order stays the one a single slot gives. A turn at virtual
//! time `t` starts beside running ones only while each of them has got past `t` on its
//! invocation clock (the sandbox tells it, [`quota::Progress`]): nothing they do from then on
//! (a next turn, a Lambda slot given back, a call) comes before `t`, so a Lambda slot asked for
//! at `t` sees every invocation begun before it, and one still running ends after `t`.
//! Quotas are either a member account's in its Region (each execution's own: no other touches
//! them) or shared by the fleet (SNS, the hub's); the functions calling the shared ones
//! ([`uses_shared_quotas`]) run one at a time, in turn order. The sandbox counts a shared call
//! from any other function ([`quota::QuotaStats::shared_calls_unordered`]), which would break
//! this.
//!
//! One exception keeps a core from idling behind a turn that must wait: a later turn calling no
//! shared quota may start ahead of it (`Ctx::start_ahead`) while no Lambda request from the
//! earliest pending time up to the later turn's can be refused in any order (a bound on the
//! slots held meanwhile stays under the concurrency). Only the Lambda model then sees requests
//! out of time order, and it answers as in order: it counts the slots held at a time from the
//! invocations' ends, forgets an end only once the scheduler's floor has passed it, and counts
//! its peak from every invocation's span at the end.

pub mod cost;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering as AtomicOrdering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use publish::notify;
use scanflow_asl::{ExecutionOptions, Status, TaskCall, TaskHandler, TaskOutcome};
use scanflow_core::ScanError;
use scanflow_core::ports::Platform as _;
use scanflow_core::schedule::Schedule;
use scanflow_sandbox::quota::{self, LAMBDA_INVOKE, QuotaSpec, START_EXECUTION};
use scanflow_sandbox::{Bucket, Sandbox, Scenario, Subscription};
use serde::Serialize;
use serde_yaml::Value as Yaml;
use time::{Duration, OffsetDateTime};

use crate::definition::Workflow;

/// The Regions a simulation scans, in this order (`--regions N` takes the first N).
pub const REGIONS: [&str; 12] = [
    "eu-west-1",
    "us-east-1",
    "ap-southeast-2",
    "us-west-2",
    "eu-central-1",
    "ap-northeast-1",
    "ca-central-1",
    "sa-east-1",
    "eu-north-1",
    "ap-south-1",
    "us-east-2",
    "eu-west-2",
];
/// The hub: its account and Region (the first of [`REGIONS`]).
pub const HUB_ACCOUNT: &str = "999988887777";
/// The first member account; the others follow it.
pub const FIRST_MEMBER: &str = "200000000000";
/// Lambda gives a function this much of a vCPU per MB of memory: a full vCPU at 1,769 MB.
/// <https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html>
pub const MB_PER_VCPU: f64 = 1_769.0;

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{0}")]
    Invalid(String),
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error("output folder {path}: {detail}")]
    Output { path: PathBuf, detail: String },
}

/// What the templates say that the simulation needs, read from them so it follows their edits.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateFacts {
    /// `MemorySize` (MB) of each function, by its binary name, the `Globals` default filled in.
    pub memory_mb: BTreeMap<String, u32>,
    /// The scheduled-scan rule target's `RetryPolicy`: EventBridge retries a throttled
    /// `StartExecution` this often, for at most this long, then sends the event to the DLQ.
    pub start_retry_attempts: u32,
    pub start_retry_max_age_seconds: u32,
    /// `ReportRetentionDays`' default: how long the bucket keeps a scan's objects.
    pub retention_days: u32,
    /// The member template's default schedule and flexible window.
    pub schedule: String,
    pub window_minutes: u32,
}

impl TemplateFacts {
    /// Reads `hub` (templates/hub.yaml) and `member` (templates/member.yaml).
    pub fn read(hub: &Path, member: &Path) -> Result<Self, SimulateError> {
        let load = |p: &Path| -> Result<Yaml, SimulateError> {
            let text = std::fs::read_to_string(p)
                .map_err(|e| SimulateError::Invalid(format!("cannot read {}: {e}", p.display())))?;
            serde_yaml::from_str(&text)
                .map_err(|e| SimulateError::Invalid(format!("{} is not YAML: {e}", p.display())))
        };
        let (hub_doc, member_doc) = (load(hub)?, load(member)?);
        let missing = |what: &str, p: &Path| {
            SimulateError::Invalid(format!(
                "{}: {what} not found; the simulation reads it from the template",
                p.display()
            ))
        };
        let as_u32 = |v: &Yaml| v.as_u64().and_then(|n| u32::try_from(n).ok());
        let global = hub_doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get("MemorySize"))
            .and_then(as_u32)
            .unwrap_or(128);
        let resources = hub_doc
            .get("Resources")
            .and_then(Yaml::as_mapping)
            .ok_or_else(|| missing("Resources", hub))?;
        let mut memory_mb = BTreeMap::new();
        let mut retry = None;
        for r in resources.values() {
            let props = r.get("Properties");
            if r.get("Type").and_then(Yaml::as_str) == Some("AWS::Serverless::Function")
                && let Some(binary) = r
                    .get("Metadata")
                    .and_then(|m| m.get("BuildProperties"))
                    .and_then(|b| b.get("Binary"))
                    .and_then(Yaml::as_str)
            {
                let mb = props
                    .and_then(|p| p.get("MemorySize"))
                    .and_then(as_u32)
                    .unwrap_or(global);
                memory_mb.insert(binary.to_owned(), mb);
            }
            let targets = props
                .filter(|_| r.get("Type").and_then(Yaml::as_str) == Some("AWS::Events::Rule"))
                .and_then(|p| p.get("Targets"))
                .and_then(Yaml::as_sequence);
            for t in targets.into_iter().flatten() {
                if t.get("Id").and_then(Yaml::as_str) == Some("ScanStateMachine") {
                    let policy = t.get("RetryPolicy");
                    retry = Some((
                        policy
                            .and_then(|p| p.get("MaximumRetryAttempts"))
                            .and_then(as_u32)
                            .unwrap_or(185),
                        policy
                            .and_then(|p| p.get("MaximumEventAgeInSeconds"))
                            .and_then(as_u32)
                            .unwrap_or(86_400),
                    ));
                }
            }
        }
        for f in per_execution_functions() {
            if !memory_mb.contains_key(f) {
                return Err(missing(&format!("the {f} function's MemorySize"), hub));
            }
        }
        let (start_retry_attempts, start_retry_max_age_seconds) = retry
            .ok_or_else(|| missing("the scheduled-scan rule's ScanStateMachine target", hub))?;
        let default = |doc: &Yaml, name: &str| {
            doc.get("Parameters")
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("Default"))
                .cloned()
        };
        let number = |doc: &Yaml, name: &str, p: &Path| {
            default(doc, name)
                .and_then(|v| as_u32(&v).or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                .ok_or_else(|| missing(&format!("Parameters.{name}.Default"), p))
        };
        Ok(Self {
            memory_mb,
            start_retry_attempts,
            start_retry_max_age_seconds,
            retention_days: number(&hub_doc, "ReportRetentionDays", hub)?,
            schedule: default(&member_doc, "AssessmentSchedule")
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(|| missing("Parameters.AssessmentSchedule.Default", member))?,
            window_minutes: number(&member_doc, "ScheduleWindowMinutes", member)?,
        })
    }
}

pub struct SimulateOptions {
    pub accounts: u32,
    pub regions: u32,
    pub findings: u32,
    /// Every schedule fires in the same minute (no flexible window).
    pub same_minute: bool,
    pub quotas: QuotaSpec,
    pub prices: BTreeMap<String, cost::Price>,
    /// The schedule the monthly cost assumes (an EventBridge expression).
    pub schedule: String,
    pub facts: TemplateFacts,
    pub start_time: OffsetDateTime,
    pub out_dir: PathBuf,
    pub seed: u64,
    /// Invocations run at once in real time; the order the quota models see is the same for
    /// any number (see the module's documentation).
    pub slots: usize,
    /// Bill each invocation its handler's CPU time on this machine, stretched by its memory's
    /// vCPU share (as Lambda would). Off, an invocation takes its calls and waits only, so two
    /// runs of one fleet give the same figures (what the tests compare).
    pub bill_cpu: bool,
    /// Keep every object and message body (by default each execution's are counted, then
    /// removed once it has ended).
    pub keep: bool,
}

/// The largest fleet one simulation takes: accounts (the scenario's copies limit) and Regions.
pub const MAX_ACCOUNTS: u32 = scanflow_sandbox::MAX_COPIES;
/// Findings per account-Region at most (the run's total stays within what a disk takes).
pub const MAX_FINDINGS: u32 = 100_000;

impl SimulateOptions {
    fn validate(&self) -> Result<(), SimulateError> {
        let bad = |m: String| Err(SimulateError::Invalid(m));
        if !(1..=MAX_ACCOUNTS).contains(&self.accounts) {
            return bad(format!(
                "--accounts {}: give 1 to {MAX_ACCOUNTS} accounts",
                self.accounts
            ));
        }
        if !(1..=REGIONS.len() as u32).contains(&self.regions) {
            return bad(format!(
                "--regions {}: give 1 to {} Regions",
                self.regions,
                REGIONS.len()
            ));
        }
        if self.findings > MAX_FINDINGS {
            return bad(format!(
                "--findings {}: give at most {MAX_FINDINGS} findings per account and Region",
                self.findings
            ));
        }
        if !(1..=8).contains(&self.slots) {
            return bad(format!("--slots {}: give 1 to 8", self.slots));
        }
        Schedule::parse(&self.schedule)
            .map_err(|e| SimulateError::Invalid(format!("--schedule: {e}")))?;
        Ok(())
    }
}

/// How one execution went, read from its history (not from the counters the report sums), so
/// a test can check one against the other.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSummary {
    pub account_id: String,
    pub region: String,
    /// `SUCCEEDED`, `FAILED`, ...; `NOT_STARTED` when EventBridge gave up on `StartExecution`.
    pub status: String,
    pub error: Option<String>,
    /// The quota whose throttling error ended the execution, if one did (`sns:Publish`).
    pub throttled_by: Option<String>,
    /// Why the notifier could not send the failure notice (after Lambda's two retries the
    /// event goes to its dead-letter queue and the alarm fires).
    pub notice_error: Option<String>,
    /// The quota whose throttling error the notifier's last attempt met, if one did.
    pub notice_throttled_by: Option<String>,
    /// Delivered (succeeded, not a duplicate) or its failure notice was sent.
    pub scanned: bool,
    pub noticed: bool,
    pub start_attempts: u32,
    pub transitions: u64,
    /// State entries plus retries, counted from the history events.
    pub history_transitions: u64,
    /// Task attempts per function: every `TaskScheduled` event.
    pub task_attempts: BTreeMap<String, u64>,
    /// `TaskFailed` events with `Lambda.TooManyRequestsException`.
    pub lambda_throttled: u64,
    /// The last Publish's `messages + alreadySent`: the delivery's messages.
    pub delivery_messages: u64,
    /// The SIEM parts Format wrote (the delivery is the digest and these).
    pub siem_parts: u64,
    /// Messages the notifier published for this execution.
    pub notice_messages: u64,
    pub findings: u64,
    pub started_at: Option<OffsetDateTime>,
    pub ended_at: Option<OffsetDateTime>,
}

/// One function's invocations.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionUse {
    pub memory_mb: u32,
    pub invocations: u64,
    pub throttled: u64,
    pub billed_seconds: f64,
    pub gb_seconds: f64,
    /// Real time this machine spent in the handler (and the sandbox under it).
    pub handler_wall_seconds: f64,
    /// CPU time of the same: what the invocation's duration is modelled from.
    pub handler_cpu_seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcomes {
    pub total: u64,
    pub scanned: u64,
    pub noticed: u64,
    pub lost: u64,
    pub by_status: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaThrottles {
    /// Attempts refused.
    pub refused: u64,
    /// Refused attempts tried again (by the SDK, EventBridge or the state machine).
    pub retried: u64,
    /// Refused attempts nobody tried again: the execution failed, the start went to the
    /// dead-letter queue, or the handler carried on without the call.
    pub not_retried: u64,
    pub retried_by: String,
    pub quota: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleReport {
    pub met: u64,
    pub retried: u64,
    pub not_retried: u64,
    pub by_quota: BTreeMap<String, QuotaThrottles>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnsReport {
    pub messages: u64,
    pub bytes: u64,
    pub billed_publish_requests: u64,
    pub email_deliveries: u64,
    pub https_deliveries: u64,
    /// The most messages published in one second of virtual time (against the Publish quota).
    pub peak_publish_per_second: u64,
    /// The most e-mail deliveries in one second of virtual time, against SNS's e-mail rate.
    pub peak_email_per_second: u64,
    pub seconds_over_email_rate: u64,
    /// When the e-mail subscription went over [`SNS_EMAIL_RATE`] first: SNS suspends it then
    /// (back to PendingConfirmation), so every later e-mail is lost until someone confirms it.
    pub email_suspended_at: Option<String>,
    pub email_deliveries_lost: u64,
}

/// An e-mail subscription takes 10 messages a second; more suspends it ("placing it in a
/// pending confirmation status", deleted after 48 hours unless confirmed again).
/// <https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html>
pub const SNS_EMAIL_RATE: u64 = 10;

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    pub schedule: String,
    pub scans_per_month: f64,
    pub retention_days: u32,
    pub prices_as_of: String,
    pub prices_region: String,
    pub lines: Vec<cost::CostLine>,
}

/// Everything `scanflow simulate` prints (`--json`: this object).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub accounts: u32,
    pub regions: Vec<String>,
    pub findings_per_account_region: u32,
    pub same_minute: bool,
    pub executions: Outcomes,
    pub lost: u64,
    pub notices_sent: u64,
    pub throttles: ThrottleReport,
    pub transitions: u64,
    pub peak_transitions_per_second: u64,
    pub lambda_invocations: u64,
    pub lambda_gb_seconds: f64,
    pub lambda_peak_concurrency: u32,
    pub lambda_concurrency: u32,
    pub lambda: BTreeMap<String, FunctionUse>,
    pub api_calls: BTreeMap<String, u64>,
    pub api_calls_by_service: BTreeMap<String, u64>,
    pub sns: SnsReport,
    pub s3_bytes_stored: u64,
    /// Virtual time from the first scheduled start to the last execution's end.
    pub virtual_seconds: i64,
    pub monthly_cost_usd: f64,
    pub cost: CostReport,
    pub wall_seconds: f64,
    /// Calls to a quota the fleet shares from a function not known to make them: with more
    /// than one slot their order was not kept (see the module's documentation). Zero.
    pub shared_calls_unordered: u64,
}

pub struct Simulation {
    pub report: Report,
    pub executions: Vec<ExecutionSummary>,
    pub sandbox: Arc<Sandbox>,
    /// Turns the scheduler started ahead of an earlier one (none with one slot): how it ran,
    /// not a figure of the fleet's, so not in the report.
    pub started_ahead: u64,
}

/// The fleet as a sandbox scenario: every account in every Region, Inspector v2, two instances
/// sharing `findings` generated findings, a one-hour scan.
pub fn scenario(accounts: u32, regions: u32, findings: u32) -> Result<Scenario, SimulateError> {
    let specs: Vec<serde_json::Value> = REGIONS
        .iter()
        .take(regions as usize)
        .map(|region| {
            serde_json::json!({
                "accountId": FIRST_MEMBER,
                "region": region,
                "copies": accounts,
                "settings": {"engine": "inspector2", "durationSeconds": 3600},
                "instances": [
                    {"id": "i-0a1b2c3d4e5f60001", "tags": {"Name": "app-1"}},
                    {"id": "i-0a1b2c3d4e5f60002", "tags": {"Name": "app-2"}}
                ],
                "findings": {"generate": {"count": findings, "seed": 1}}
            })
        })
        .collect();
    let doc = serde_json::json!({
        "hub": {"accountId": HUB_ACCOUNT, "region": REGIONS[0], "config": {}},
        "accounts": specs,
    });
    Scenario::from_json(&doc.to_string()).map_err(|e| SimulateError::Sandbox(e.to_string()))
}

/// Scans a month of `schedule` makes on average: its occurrences in the four years from
/// `from` (a leap cycle), over 48.
pub fn scans_per_month(schedule: &str, from: OffsetDateTime) -> Result<f64, SimulateError> {
    let s = Schedule::parse(schedule).map_err(|e| SimulateError::Invalid(e.to_string()))?;
    let end = from.saturating_add(Duration::days(4 * 365 + 1));
    // Walk back from the end; `latest_at_or_before` never returns anything before `from`.
    let mut count = 0u64;
    let mut at = end - Duration::seconds(1);
    while let Some(t) = s.latest_at_or_before(at, from) {
        count += 1;
        match t.checked_sub(Duration::seconds(1)) {
            Some(before) if before >= from => at = before,
            _ => break,
        }
    }
    Ok(count as f64 / 48.0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A turn given out by the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Turn {
    /// EventBridge's attempt to start execution `id` (its `attempt`-th).
    Start { id: usize, attempt: u32 },
    /// Execution `id` may carry on; `shared`: with a function that draws on quotas the whole
    /// fleet shares.
    Resume { id: usize, shared: bool },
}

/// The functions whose calls draw on quotas every execution shares: SNS `Publish` (the hub's),
/// and the hub's own Security Hub (publish archives the hub's notices, the notifier imports
/// its failure notices there). The others call their member account's services only.
pub fn uses_shared_quotas(function: &str) -> bool {
    matches!(function, "publish" | "notify")
}

struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    fn new() -> Self {
        Self {
            open: Mutex::new(false),
            cv: Condvar::new(),
        }
    }
    fn open(&self) {
        *lock(&self.open) = true;
        self.cv.notify_one();
    }
    fn pass(&self) {
        let mut open = lock(&self.open);
        while !*open {
            open = self.cv.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
        *open = false;
    }
}

#[derive(Default)]
struct Queue {
    /// Turns by virtual time, then execution: each execution has at most one waiting, so the
    /// order does not depend on which thread pushed first.
    heap: BinaryHeap<Reverse<(OffsetDateTime, usize, Turn)>>,
    running: usize,
    /// The executions holding a slot now.
    running_ids: Vec<usize>,
    /// The one holding a slot with a function that uses shared quotas, if any.
    shared_holder: Option<usize>,
    /// Turns started ahead of an earlier one that had to wait (`Ctx::start_ahead`).
    started_ahead: u64,
    live: usize,
    done: bool,
}

struct Ctx {
    workflow: Arc<Workflow>,
    sandbox: Arc<Sandbox>,
    inputs: Vec<serde_json::Value>,
    first_start: Vec<OffsetDateTime>,
    gates: Vec<Gate>,
    queue: Mutex<Queue>,
    finished: Condvar,
    slots: usize,
    facts: TemplateFacts,
    seed: u64,
    results: Mutex<Vec<Option<ExecutionSummary>>>,
    functions: Mutex<BTreeMap<String, FunctionUse>>,
    /// Billed milliseconds and MB-milliseconds by function, summed as integers so the totals
    /// do not depend on the order invocations end in.
    billed: Mutex<BTreeMap<String, (u64, u64)>>,
    /// How far each execution has got in virtual time while it holds a slot: nanoseconds
    /// since [`SimulateOptions::start_time`].
    clocks: Vec<AtomicI64>,
    epoch: OffsetDateTime,
    bill_cpu: bool,
    /// The next turn waits for a running one's clock to pass it: tell the scheduler as the
    /// clocks move (read without the queue's lock, on every call an invocation makes).
    waiting_on_clocks: AtomicBool,
    sns: Mutex<SnsTally>,
    absorbed: Mutex<BTreeMap<String, u64>>,
    start_refused: Mutex<(u64, u64)>,
    transitions_per_second: Mutex<HashMap<i64, u64>>,
    /// Handles of the execution threads, joined at the end.
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    keep: bool,
    /// Bytes the ended executions left in the bucket.
    s3_bytes: Mutex<u64>,
    workers: Workers,
}

/// A job for a [`Workers`] thread.
type Job = Box<dyn FnOnce() + Send>;

/// The threads every handler runs on, one per slot. The executions' own threads (one each,
/// parked between turns) only run the state machine: a handler's allocations then stay on a
/// few long-lived threads, whose allocator caches they reuse, instead of spreading over
/// thousands of threads that each touch fresh memory.
struct Workers {
    jobs: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    handles: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Workers {
    fn start(count: usize) -> Result<Self, SimulateError> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::new();
        for i in 0..count {
            let rx = Arc::clone(&rx);
            let handle = std::thread::Builder::new()
                .name(format!("handler-{i}"))
                .stack_size(HANDLER_STACK)
                .spawn(move || {
                    while let Some(job) = next_job(&rx) {
                        job();
                    }
                })
                .map_err(|e| {
                    SimulateError::Sandbox(format!("cannot start a handler thread: {e}"))
                })?;
            handles.push(handle);
        }
        Ok(Self {
            jobs: Mutex::new(Some(tx)),
            handles: Mutex::new(handles),
        })
    }

    /// Runs `f` on a worker and waits for what it returns.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, &'static str> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        lock(&self.jobs)
            .as_ref()
            .ok_or("the handler threads have stopped")?
            .send(job)
            .map_err(|_| "the handler threads have stopped")?;
        rx.recv()
            .map_err(|_| "a handler thread ended during the job")
    }

    /// Lets the threads finish and waits for them.
    fn stop(&self) {
        lock(&self.jobs).take();
        for handle in std::mem::take(&mut *lock(&self.handles)) {
            let _ = handle.join();
        }
    }
}

/// The next job for a worker; the lock is held only while waiting for it, never while a job
/// runs.
fn next_job(jobs: &Mutex<std::sync::mpsc::Receiver<Job>>) -> Option<Job> {
    let jobs = lock(jobs);
    jobs.recv().ok()
}

/// How many waiting turns [`Ctx::start_ahead`] looks past for one that may start.
const LOOK_AHEAD: usize = 512;

/// The stack of a thread that runs handlers or an execution.
const HANDLER_STACK: usize = 4 << 20;

#[derive(Default)]
struct SnsTally {
    report: SnsReport,
    /// Keyed by the second of the message's SNS timestamp (`2026-11-30T03:01:02`).
    email_per_second: BTreeMap<String, u64>,
    publish_per_second: HashMap<String, u64>,
}

impl Ctx {
    fn push(&self, q: &mut Queue, at: OffsetDateTime, turn: Turn) {
        let id = match turn {
            Turn::Start { id, .. } | Turn::Resume { id, .. } => id,
        };
        q.heap.push(Reverse((at, id, turn)));
    }

    fn clock_nanos(&self, at: OffsetDateTime) -> i64 {
        i64::try_from((at - self.epoch).whole_nanoseconds()).unwrap_or(i64::MAX)
    }

    /// Execution `id`, holding a slot, has got to `at`: nothing it does from now on is earlier.
    fn set_clock(&self, id: usize, at: OffsetDateTime) {
        self.clocks[id].store(self.clock_nanos(at), AtomicOrdering::SeqCst);
    }

    /// Execution `id`'s invocation clock moved on to `at`: a turn waiting for it may go.
    fn progressed(self: &Arc<Self>, id: usize, at: OffsetDateTime) {
        self.set_clock(id, at);
        if self.waiting_on_clocks.load(AtomicOrdering::SeqCst) {
            self.dispatch(&mut lock(&self.queue));
        }
    }

    /// Whether the turn at the head may start beside the running ones (module documentation).
    fn may_start(&self, q: &Queue, at: OffsetDateTime, turn: Turn) -> bool {
        let at = self.clock_nanos(at);
        let behind = q
            .running_ids
            .iter()
            .any(|&r| self.clocks[r].load(AtomicOrdering::SeqCst) <= at);
        let shared_taken =
            matches!(turn, Turn::Resume { shared: true, .. }) && q.shared_holder.is_some();
        !(behind || shared_taken)
    }

    /// Hands out turns while slots are free, in time order. Called with the queue locked.
    fn dispatch(self: &Arc<Self>, q: &mut Queue) {
        self.waiting_on_clocks.store(false, AtomicOrdering::SeqCst);
        if let (Some(quotas), Some(floor)) = (self.sandbox.quotas(), self.floor(q)) {
            quotas.lambda_settled(floor);
        }
        while q.running < self.slots {
            let Some(&Reverse((at, _, turn))) = q.heap.peek() else {
                break;
            };
            if !self.may_start(q, at, turn) {
                // Said before looking again: a clock that moves meanwhile is seen here, or its
                // invocation sees the flag and dispatches once this lock is free.
                self.waiting_on_clocks.store(true, AtomicOrdering::SeqCst);
                if !self.may_start(q, at, turn) {
                    if self.start_ahead(q) {
                        continue;
                    }
                    break;
                }
                self.waiting_on_clocks.store(false, AtomicOrdering::SeqCst);
            }

            q.heap.pop();
            match turn {
                Turn::Resume { id, shared } => self.resume(q, id, shared, at),
                Turn::Start { id, attempt } => self.start(q, id, attempt, at),
            }
        }
        if q.heap.is_empty() && q.running == 0 && q.live == 0 {
            q.done = true;
            self.finished.notify_all();
        }
    }

    fn resume(&self, q: &mut Queue, id: usize, shared: bool, at: OffsetDateTime) {
        q.running += 1;
        q.running_ids.push(id);
        if shared {
            q.shared_holder = Some(id);
        }
        self.set_clock(id, at);
        self.gates[id].open();
    }

    /// The earliest virtual time any request can come at from now on: no execution is behind
    /// the next turn or the running ones' clocks.
    fn floor(&self, q: &Queue) -> Option<OffsetDateTime> {
        let head = q
            .heap
            .peek()
            .map(|Reverse((at, _, _))| self.clock_nanos(*at));
        let running = q
            .running_ids
            .iter()
            .map(|&r| self.clocks[r].load(AtomicOrdering::SeqCst));
        let nanos = head.into_iter().chain(running).min()?;
        Some(self.epoch.saturating_add(Duration::nanoseconds(nanos)))
    }

    /// When the next turn must wait, starts the first later turn that may run ahead of it,
    /// if any (module documentation): one calling no quota the fleet shares, while no Lambda
    /// request from now until its time can be refused, so that the turns it passes, asking
    /// for their slots after it, meet the same answers as in time order. An upper bound on the
    /// slots held at any time from the floor to its: those held now or until after the floor,
    /// one for each running execution, each turn passed, and its own. Returns whether one
    /// started.
    fn start_ahead(&self, q: &mut Queue) -> bool {
        let Some(floor) = self.floor(q) else {
            return false;
        };
        let free = self
            .sandbox
            .quotas()
            .map_or(u32::MAX, |quotas| quotas.lambda_free_after(floor)) as usize;
        let mut passed = Vec::new();
        let mut started = false;
        while passed.len() < LOOK_AHEAD && q.running + passed.len() + 1 < free {
            let Some(Reverse(entry)) = q.heap.pop() else {
                break;
            };
            if let (at, _, Turn::Resume { id, shared: false }) = entry {
                self.resume(q, id, false, at);
                q.started_ahead += 1;
                started = true;
                break;
            }
            passed.push(entry);
        }
        q.heap.extend(passed.into_iter().map(Reverse));
        started
    }

    /// EventBridge's rule target calls `StartExecution` for execution `id` at `at`: the
    /// execution starts, or the call is throttled and retried with backoff as the target's
    /// `RetryPolicy` allows, after which the event goes to the dead-letter queue.
    fn start(self: &Arc<Self>, q: &mut Queue, id: usize, attempt: u32, at: OffsetDateTime) {
        let (account, region) = self.account_region(id);
        let admitted = self
            .sandbox
            .quotas()
            .is_none_or(|quotas| quotas.try_take(START_EXECUTION, &account, &region, at));
        if !admitted {
            let age = at - self.first_start[id];
            let mut rng = self.seed ^ (id as u64).wrapping_mul(0x9E37) ^ u64::from(attempt);
            // EventBridge: "exponential back off and jitter" (the exact curve is not
            // published): full jitter over min(2^attempt s, 60 s).
            let cap = (2f64.powi(attempt.min(10) as i32)).min(60.0);
            let delay = Duration::milliseconds((quota::unit(&mut rng) * cap * 1_000.0) as i64 + 1);
            let next = at.saturating_add(delay);
            let within = attempt <= self.facts.start_retry_attempts
                && (next - self.first_start[id]).whole_seconds()
                    <= i64::from(self.facts.start_retry_max_age_seconds);
            let mut refused = lock(&self.start_refused);
            if within && age >= Duration::ZERO {
                refused.0 += 1;
                drop(refused);
                self.push(
                    q,
                    next,
                    Turn::Start {
                        id,
                        attempt: attempt + 1,
                    },
                );
            } else {
                refused.1 += 1;
                drop(refused);
                lock(&self.results)[id] = Some(not_started(account, region, attempt));
            }
            return;
        }
        q.running += 1;
        q.running_ids.push(id);
        q.live += 1;
        self.set_clock(id, at);
        let ctx = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("execution-{id}"))
            .stack_size(HANDLER_STACK)
            .spawn(move || run_execution(&ctx, id, at, attempt));
        match spawned {
            Ok(handle) => lock(&self.threads).push(handle),
            Err(e) => {
                q.running -= 1;
                q.running_ids.retain(|&r| r != id);
                q.live -= 1;
                lock(&self.results)[id] = Some(ExecutionSummary {
                    error: Some(format!("the simulator could not start a thread: {e}")),
                    ..not_started(account, region, attempt)
                });
            }
        }
    }

    /// Gives up this thread's turn until virtual time `at`, when it will run `function`.
    fn wait_until(self: &Arc<Self>, id: usize, at: OffsetDateTime, function: &str) {
        {
            let mut q = lock(&self.queue);
            let shared = uses_shared_quotas(function);
            self.push(&mut q, at, Turn::Resume { id, shared });
            Self::release(&mut q, id);
            self.dispatch(&mut q);
        }
        self.gates[id].pass();
    }

    fn finish(self: &Arc<Self>, id: usize) {
        let mut q = lock(&self.queue);
        Self::release(&mut q, id);
        q.live -= 1;
        self.dispatch(&mut q);
    }

    /// Execution `id` gives its slot back.
    fn release(q: &mut Queue, id: usize) {
        q.running -= 1;
        q.running_ids.retain(|&r| r != id);
        if q.shared_holder == Some(id) {
            q.shared_holder = None;
        }
    }

    fn account_region(&self, id: usize) -> (String, String) {
        let field = |k: &str| {
            self.inputs[id]
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        (field("accountId"), field("region"))
    }

    fn memory_of(&self, function: &str) -> u32 {
        self.facts.memory_mb.get(function).copied().unwrap_or(128)
    }

    /// Runs `function` for execution `id` at `at` on this thread's invocation clock; records
    /// its use.
    fn invoke_function(
        self: &Arc<Self>,
        id: usize,
        function: &str,
        at: OffsetDateTime,
        seed: u64,
        run: impl FnOnce(&Ctx) -> Result<serde_json::Value, ScanError> + Send + 'static,
    ) -> (Result<serde_json::Value, ScanError>, Duration) {
        let ctx = Arc::clone(self);
        let shared = uses_shared_quotas(function);
        let ran = self.workers.run(move || {
            let progress = (ctx.slots > 1).then(|| {
                let ctx = Arc::clone(&ctx);
                quota::Progress::new(move |now| ctx.progressed(id, now))
            });
            quota::begin_invocation(at, seed, shared, progress);
            let began = Instant::now();
            let cpu_began = thread_cpu_seconds();
            let result = run(&ctx);
            let wall = began.elapsed();
            let cpu_seconds = (thread_cpu_seconds() - cpu_began).max(0.0);
            (result, wall, cpu_seconds, quota::end_invocation())
        });
        let (result, wall, cpu_seconds, invocation) = ran.unwrap_or_else(|e| {
            let e = ScanError::internal(format!("the simulator lost an invocation: {e}"));
            (Err(e), std::time::Duration::ZERO, 0.0, None)
        });
        let (waited, surfaced) =
            invocation.map_or((Duration::ZERO, Vec::new()), |i| (i.elapsed, i.surfaced));
        let memory = self.memory_of(function);
        // CPU time stretches by the vCPU share Lambda gives this memory size.
        let share = (f64::from(memory) / MB_PER_VCPU).min(1.0);
        let cpu = if self.bill_cpu {
            Duration::seconds_f64(cpu_seconds / share)
        } else {
            Duration::ZERO
        };
        let took = waited.saturating_add(cpu);
        let billed_ms = (took.as_seconds_f64() * 1_000.0).ceil().max(1.0) as u64;
        // A handler that succeeded although a call was throttled for good carried on without
        // it (Security Hub updates are reported as problems, not retried).
        if result.is_ok() {
            for action in surfaced {
                *lock(&self.absorbed).entry(action).or_default() += 1;
            }
        }
        {
            let mut billed = lock(&self.billed);
            let b = billed.entry(function.to_owned()).or_default();
            b.0 += billed_ms;
            b.1 += billed_ms * u64::from(memory);
        }
        let mut functions = lock(&self.functions);
        let f = functions.entry(function.to_owned()).or_default();
        f.memory_mb = memory;
        f.invocations += 1;
        f.handler_wall_seconds += wall.as_secs_f64();
        f.handler_cpu_seconds += cpu_seconds;
        drop(functions);
        // From here on the execution's next turn, and its slot's end, are at `at + took`.
        self.set_clock(id, at.saturating_add(took));
        if self.waiting_on_clocks.load(AtomicOrdering::SeqCst) {
            self.dispatch(&mut lock(&self.queue));
        }
        (result, took)
    }

    /// What each function used, its billed time summed.
    fn function_use(&self) -> BTreeMap<String, FunctionUse> {
        let mut functions = lock(&self.functions).clone();
        for (name, (ms, mb_ms)) in lock(&self.billed).iter() {
            if let Some(f) = functions.get_mut(name) {
                f.billed_seconds = *ms as f64 / 1_000.0;
                f.gb_seconds = *mb_ms as f64 / 1_000.0 / 1_024.0;
            }
        }
        functions
    }

    /// Once an execution has ended, counts the bytes its scan left in the bucket and removes
    /// them (with its generated findings), unless `--keep` asked for them: a fleet's worth of
    /// reports would fill the disk, and nothing reads an ended execution's objects.
    fn reclaim(&self, id: usize) {
        if self.keep {
            return;
        }
        let (account, region) = self.account_region(id);
        let store = self.sandbox.store();
        let mut bytes = 0;
        for prefix in [
            format!("scanflow/{account}/{region}/"),
            format!("inspector2-reports/{account}/{region}/"),
        ] {
            bytes += store.remove_prefix(&prefix).unwrap_or_else(|e| {
                eprintln!("scanflow simulate: the S3 bytes leave out {prefix}: {e}");
                0
            });
        }
        *lock(&self.s3_bytes) += bytes;
        self.sandbox.release_account(id);
    }

    /// Counts the messages published so far and lets the sandbox drop their bodies.
    fn tally_sns(&self) {
        // Without --keep the sandbox's message log (every body) is counted here, not kept.
        let messages = self.sandbox.take_sns_messages(!self.keep);
        if messages.is_empty() {
            return;
        }
        let mut t = lock(&self.sns);
        for m in messages {
            let size = m.bytes;
            t.report.messages += 1;
            t.report.bytes += size;
            t.report.billed_publish_requests += size.div_ceil(64 * 1024).max(1);
            let second = m.timestamp.get(..19).unwrap_or_default().to_owned();
            *t.publish_per_second.entry(second).or_default() += 1;
            for s in m.subscriptions() {
                match s {
                    Subscription::Email => {
                        t.report.email_deliveries += 1;
                        let second = m.timestamp.get(..19).unwrap_or_default().to_owned();
                        *t.email_per_second.entry(second).or_default() += 1;
                    }
                    Subscription::Https => t.report.https_deliveries += 1,
                    // Billed as e-mail; each owner's subscription has its own rate.
                    Subscription::Owner => t.report.email_deliveries += 1,
                }
            }
        }
    }
}

fn not_started(account_id: String, region: String, attempts: u32) -> ExecutionSummary {
    ExecutionSummary {
        account_id,
        region,
        status: "NOT_STARTED".into(),
        throttled_by: Some(START_EXECUTION.to_owned()),
        notice_error: None,
        notice_throttled_by: None,
        error: Some(format!(
            "StartExecution was throttled {attempts} time(s); EventBridge sent the event to the \
             dead-letter queue"
        )),
        scanned: false,
        noticed: false,
        start_attempts: attempts,
        transitions: 0,
        history_transitions: 0,
        task_attempts: BTreeMap::new(),
        lambda_throttled: 0,
        delivery_messages: 0,
        siem_parts: 0,
        notice_messages: 0,
        findings: 0,
        started_at: None,
        ended_at: None,
    }
}

/// The task handler of one execution: waits for its turn, asks Lambda for a slot, runs the
/// step's handler on the invocation clock.
struct Tasks<'a> {
    ctx: &'a Arc<Ctx>,
    id: usize,
    calls: u64,
}

impl TaskHandler for Tasks<'_> {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        let ctx = self.ctx;
        let step = ctx.workflow.step_for(call.resource);
        ctx.wait_until(self.id, call.now, step.map_or("", |s| s.binary()));
        let Some(step) = step else {
            return TaskOutcome::Failed {
                error: "Lambda.ResourceNotFoundException".to_owned(),
                cause: format!("Function not found: {}", call.resource),
            };
        };
        let function = step.binary();
        let slot = match ctx.sandbox.quotas().map(|q| q.lambda_start(call.now)) {
            Some(None) => {
                lock(&ctx.functions)
                    .entry(function.to_owned())
                    .or_default()
                    .throttled += 1;
                return TaskOutcome::Failed {
                    error: "Lambda.TooManyRequestsException".into(),
                    cause: "Rate Exceeded. (Service: Lambda, Status Code: 429, Error Code: \
                            TooManyRequestsException, Reason: ConcurrentInvocationLimitExceeded)"
                        .into(),
                };
            }
            Some(Some(slot)) => Some(slot),
            None => None,
        };
        self.calls += 1;
        let seed = ctx.seed ^ ((self.id as u64) << 20) ^ self.calls;
        let input = call.input.clone();
        let (result, took) = ctx.invoke_function(self.id, function, call.now, seed, move |ctx| {
            pollster::block_on(step.invoke(&*ctx.sandbox, input))
        });
        if let (Some(q), Some(slot)) = (ctx.sandbox.quotas(), slot) {
            q.lambda_end(slot, call.now.saturating_add(took));
        }
        let outcome = match result {
            Ok(output) => TaskOutcome::Succeeded(output),
            Err(e) => TaskOutcome::Failed {
                error: e.error_type().to_owned(),
                cause: e.to_cause(),
            },
        };
        TaskOutcome::Elapsed {
            duration: took,
            outcome: Box::new(outcome),
        }
    }
}

fn run_execution(ctx: &Arc<Ctx>, id: usize, start: OffsetDateTime, attempts: u32) {
    // Wait for the first turn: the scheduler counted this thread as running when it started
    // it, so carry on at once.
    let (account_id, region) = ctx.account_region(id);
    let name = scanflow_sandbox::uuid(&["simulate", &account_id, &region]);
    let options = ExecutionOptions {
        name,
        start_time: start,
        seed: ctx.seed.wrapping_add(id as u64),
        state_machine_name: "scanflow".to_owned(),
        account_id: HUB_ACCOUNT.to_owned(),
        region: REGIONS[0].to_owned(),
        ..ExecutionOptions::default()
    };
    let mut tasks = Tasks { ctx, id, calls: 0 };
    let execution = scanflow_asl::execute(
        &ctx.workflow.machine,
        ctx.inputs[id].clone(),
        &mut tasks,
        &options,
    );
    // The status change reaches the notifier through EventBridge (asynchronous invocation,
    // retried twice by Lambda).
    let status = execution.status.as_aws();
    let mut notice: Option<Result<notify::Notified, ScanError>> = None;
    if notify::wanted(status, execution.redrive_count) {
        let event = execution.status_change_event();
        let mut at = execution.end_time;
        for (i, delay) in std::iter::once(0)
            .chain(crate::local::ASYNC_RETRY_DELAYS)
            .enumerate()
        {
            at = at.saturating_add(Duration::seconds(delay));
            ctx.wait_until(id, at, "notify");
            let seed = ctx.seed ^ ((id as u64) << 20) ^ (1_000 + i as u64);
            let event = event.clone();
            let (result, _) = ctx.invoke_function(id, "notify", at, seed, move |ctx| {
                pollster::block_on(notify::invoke(&*ctx.sandbox, event))
            });
            let parsed = result.and_then(|v| {
                serde_json::from_value::<notify::Notified>(v).map_err(ScanError::internal)
            });
            let ok = parsed.is_ok();
            notice = Some(parsed);
            if ok {
                break;
            }
        }
    }
    let summary = summarize(&execution, account_id, region, attempts, notice.as_ref());
    {
        let mut per_second = lock(&ctx.transitions_per_second);
        for e in &execution.history {
            if e.kind.ends_with("StateEntered") || is_retry(e, &execution.history) {
                *per_second.entry(e.timestamp.unix_timestamp()).or_default() += 1;
            }
        }
    }
    lock(&ctx.results)[id] = Some(summary);
    drop(execution);
    ctx.tally_sns();
    ctx.reclaim(id);
    ctx.finish(id);
}

/// A `TaskScheduled` that follows a `TaskFailed` of the same state: a retry (billed as a
/// transition of its own).
fn is_retry(e: &scanflow_asl::HistoryEvent, history: &[scanflow_asl::HistoryEvent]) -> bool {
    e.kind == "TaskScheduled"
        && history
            .iter()
            .rev()
            .skip_while(|h| h.id >= e.id)
            .find(|h| h.kind != "TaskStarted")
            .is_some_and(|prev| prev.kind == "TaskFailed" || prev.kind == "TaskTimedOut")
}

fn summarize(
    execution: &scanflow_asl::Execution,
    account_id: String,
    region: String,
    start_attempts: u32,
    notice: Option<&Result<notify::Notified, ScanError>>,
) -> ExecutionSummary {
    let history = &execution.history;
    let mut task_attempts: BTreeMap<String, u64> = BTreeMap::new();
    let mut history_transitions = 0;
    let mut lambda_throttled = 0;
    let mut delivery_messages = 0;
    let mut siem_parts = 0;
    for e in history {
        if e.kind.ends_with("StateEntered") {
            history_transitions += 1;
        }
        if e.kind == "TaskScheduled" {
            if is_retry(e, history) {
                history_transitions += 1;
            }
            let function = e
                .state_name
                .as_deref()
                .map(state_function)
                .unwrap_or("?")
                .to_owned();
            *task_attempts.entry(function).or_default() += 1;
        }
        if e.kind == "TaskFailed" && e.error.as_deref() == Some("Lambda.TooManyRequestsException") {
            lambda_throttled += 1;
        }
        let n = |k: &str| {
            e.output
                .as_ref()
                .and_then(|o| o.get(k))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        match (e.kind.as_str(), e.state_name.as_deref()) {
            ("TaskSucceeded", Some("Publish")) => {
                delivery_messages = n("messages") + n("alreadySent");
            }
            ("TaskSucceeded", Some("Format")) => siem_parts = n("siemParts"),
            _ => {}
        }
    }
    let out = execution.output.as_ref();
    let duplicate = out.and_then(|o| o.get("duplicate")).is_some();
    let scanned = execution.status == Status::Succeeded && !duplicate;
    let notified = notice.and_then(|n| n.as_ref().ok());
    let noticed =
        execution.status != Status::Succeeded && notified.is_some_and(|n| n.action == "failure");
    let findings = out
        .and_then(|o| o.get("counts"))
        .and_then(serde_json::Value::as_object)
        .map_or(0, |c| {
            c.values().filter_map(serde_json::Value::as_u64).sum()
        });
    ExecutionSummary {
        account_id,
        region,
        status: execution.status.as_aws().to_owned(),
        error: execution.error.clone(),
        throttled_by: throttled_by(execution),
        notice_error: notice
            .and_then(|n| n.as_ref().err())
            .map(ToString::to_string),
        notice_throttled_by: notice
            .and_then(|n| n.as_ref().err())
            .and_then(|e| throttled_action(&e.to_string())),
        scanned,
        noticed,
        start_attempts,
        transitions: execution.transitions,
        history_transitions,
        task_attempts,
        lambda_throttled,
        delivery_messages,
        siem_parts,
        notice_messages: notified.map_or(0, |n| n.messages),
        findings,
        started_at: Some(execution.start_time),
        ended_at: Some(execution.end_time),
    }
}

/// The quota a failed execution's last error names: Lambda's concurrency, or the action of a
/// `ThrottlingException` the SDK gave up on (`... calling sns:Publish in account ...`).
fn throttled_by(execution: &scanflow_asl::Execution) -> Option<String> {
    if execution.status == Status::Succeeded {
        return None;
    }
    if execution.error.as_deref() == Some("Lambda.TooManyRequestsException") {
        return Some(LAMBDA_INVOKE.to_owned());
    }
    throttled_action(execution.cause.as_deref()?)
}

fn throttled_action(text: &str) -> Option<String> {
    let rest = text
        .split("ThrottlingException: Rate exceeded calling ")
        .nth(1)?;
    rest.split_whitespace().next().map(str::to_owned)
}

/// The function a state of scan.asl.json runs.
fn state_function(state: &str) -> &'static str {
    match state {
        "StartRun" => "start-run",
        "CheckStatus" => "check-status",
        "CollectFindings" => "collect-findings",
        "Format" => "format",
        "Publish" => "publish",
        _ => "?",
    }
}

/// Runs the simulation.
pub fn run(workflow: Workflow, options: SimulateOptions) -> Result<Simulation, SimulateError> {
    options.validate()?;
    let began = Instant::now();
    let scenario = scenario(options.accounts, options.regions, options.findings)?;
    prepare_out(&options.out_dir)?;
    let sandbox = Arc::new(
        Sandbox::with_quotas(
            scenario,
            &options.out_dir,
            options.quotas.clone(),
            // Kept, the objects are files to open; otherwise counted and let go.
            if options.keep {
                Bucket::Folder
            } else {
                Bucket::Scratch
            },
        )
        .map_err(|e| SimulateError::Sandbox(e.to_string()))?,
    );
    if !options.keep {
        sandbox.drop_message_bodies();
    }
    let regions: Vec<String> = REGIONS
        .iter()
        .take(options.regions as usize)
        .map(|r| (*r).to_owned())
        .collect();
    // Scheduler fires every schedule at the nominal time, then starts each within its window.
    let scheduled_at = scanflow_core::time::format(options.start_time);
    let mut inputs = Vec::new();
    let mut first_start = Vec::new();
    let mut rng = options.seed | 1;
    for region in &regions {
        for i in 0..options.accounts {
            let account = format!("{:012}", 200_000_000_000u64 + u64::from(i));
            inputs.push(serde_json::json!({
                "accountId": account, "region": region, "scheduledAt": scheduled_at
            }));
            let offset = if options.same_minute {
                0
            } else {
                (quota::unit(&mut rng) * f64::from(options.facts.window_minutes) * 60_000.0) as i64
            };
            first_start.push(
                options
                    .start_time
                    .saturating_add(Duration::milliseconds(offset)),
            );
        }
    }
    let n = inputs.len();
    let ctx = Arc::new(Ctx {
        workflow: Arc::new(workflow),
        sandbox: Arc::clone(&sandbox),
        inputs,
        first_start: first_start.clone(),
        gates: (0..n).map(|_| Gate::new()).collect(),
        queue: Mutex::new(Queue::default()),
        finished: Condvar::new(),
        slots: options.slots,
        facts: options.facts.clone(),
        seed: options.seed,
        results: Mutex::new(vec![None; n]),
        functions: Mutex::new(BTreeMap::new()),
        billed: Mutex::new(BTreeMap::new()),
        clocks: (0..n).map(|_| AtomicI64::new(0)).collect(),
        epoch: options.start_time,
        bill_cpu: options.bill_cpu,
        waiting_on_clocks: AtomicBool::new(false),
        sns: Mutex::new(SnsTally::default()),
        absorbed: Mutex::new(BTreeMap::new()),
        start_refused: Mutex::new((0, 0)),
        transitions_per_second: Mutex::new(HashMap::new()),
        threads: Mutex::new(Vec::new()),
        keep: options.keep,
        s3_bytes: Mutex::new(0),
        workers: Workers::start(options.slots)?,
    });
    {
        let mut q = lock(&ctx.queue);
        for (id, at) in first_start.iter().enumerate() {
            ctx.push(&mut q, *at, Turn::Start { id, attempt: 1 });
        }
        ctx.dispatch(&mut q);
        while !q.done {
            q = ctx.finished.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }
    for handle in std::mem::take(&mut *lock(&ctx.threads)) {
        let _ = handle.join();
    }
    ctx.workers.stop();
    ctx.tally_sns();
    let executions: Vec<ExecutionSummary> = lock(&ctx.results)
        .iter()
        .enumerate()
        .map(|(id, r)| {
            r.clone().unwrap_or_else(|| {
                let (a, r) = ctx.account_region(id);
                ExecutionSummary {
                    error: Some("the simulator lost track of this execution".into()),
                    ..not_started(a, r, 0)
                }
            })
        })
        .collect();
    let report = build_report(&ctx, &options, &executions, &regions, began)?;
    let started_ahead = lock(&ctx.queue).started_ahead;
    Ok(Simulation {
        report,
        executions,
        sandbox,
        started_ahead,
    })
}

fn build_report(
    ctx: &Arc<Ctx>,
    options: &SimulateOptions,
    executions: &[ExecutionSummary],
    regions: &[String],
    began: Instant,
) -> Result<Report, SimulateError> {
    let sandbox = &ctx.sandbox;
    let mut outcomes = Outcomes::default();
    for e in executions {
        outcomes.total += 1;
        *outcomes.by_status.entry(e.status.clone()).or_default() += 1;
        if e.scanned {
            outcomes.scanned += 1;
        } else if e.noticed {
            outcomes.noticed += 1;
        } else {
            outcomes.lost += 1;
        }
    }
    let stats = sandbox.quotas().map(|q| q.stats()).unwrap_or_default();
    let absorbed = lock(&ctx.absorbed).clone();
    let (start_retried, start_dropped) = *lock(&ctx.start_refused);
    let mut by_quota = BTreeMap::new();
    // Executions that failed on a throttle: its last refusal was not retried.
    let failed_on = |action: &str| {
        executions
            .iter()
            .filter(|e| e.status != "NOT_STARTED" && e.throttled_by.as_deref() == Some(action))
            .count() as u64
    };
    let quota_source = |action: &str| {
        options
            .quotas
            .rates
            .get(action)
            .map(|q| format!("{} a second, burst {} ({})", q.rate, q.burst, q.source))
            .unwrap_or_default()
    };
    for (action, t) in &stats.throttles {
        let entry = if action == LAMBDA_INVOKE {
            let not = failed_on(action);
            QuotaThrottles {
                refused: t.refused,
                retried: t.refused.saturating_sub(not),
                not_retried: not,
                retried_by: "Step Functions (the Lambda.TooManyRequestsException retrier)".into(),
                quota: format!(
                    "{} concurrent executions ({})",
                    options.quotas.lambda_concurrency,
                    QuotaSpec::lambda_source()
                ),
            }
        } else if action == START_EXECUTION {
            QuotaThrottles {
                refused: t.refused,
                retried: start_retried,
                not_retried: start_dropped,
                retried_by: format!(
                    "EventBridge (the rule target's RetryPolicy: {} attempts, {} s)",
                    options.facts.start_retry_attempts, options.facts.start_retry_max_age_seconds
                ),
                quota: quota_source(action),
            }
        } else {
            // A throttle the SDK gave up on fails the step, which Step Functions retries
            // (Transient) — unless the execution ended on it, or the handler carried on
            // without the call (Security Hub updates, reported as problems).
            let notices_failed = executions
                .iter()
                .filter(|e| e.notice_throttled_by.as_deref() == Some(action.as_str()))
                .count() as u64;
            let not =
                absorbed.get(action).copied().unwrap_or(0) + failed_on(action) + notices_failed;
            QuotaThrottles {
                refused: t.refused,
                retried: t.refused.saturating_sub(not),
                not_retried: not,
                retried_by: "the SDK (standard mode, 3 attempts), then Step Functions (Transient)"
                    .into(),
                quota: quota_source(action),
            }
        };
        by_quota.insert(action.clone(), entry);
    }
    let mut throttles = ThrottleReport {
        by_quota,
        ..ThrottleReport::default()
    };
    for q in throttles.by_quota.values() {
        throttles.met += q.refused;
        throttles.not_retried += q.not_retried;
    }
    throttles.retried = throttles.met.saturating_sub(throttles.not_retried);

    let functions = ctx.function_use();
    let api_calls = sandbox.api_calls();
    let mut by_service = BTreeMap::new();
    for (k, v) in &api_calls {
        let service = k.split(':').next().unwrap_or(k).to_owned();
        *by_service.entry(service).or_insert(0) += v;
    }
    let sns = {
        let t = lock(&ctx.sns);
        let mut r = t.report.clone();
        r.peak_email_per_second = t.email_per_second.values().copied().max().unwrap_or(0);
        r.seconds_over_email_rate = t
            .email_per_second
            .values()
            .filter(|n| **n > SNS_EMAIL_RATE)
            .count() as u64;
        r.peak_publish_per_second = t.publish_per_second.values().copied().max().unwrap_or(0);
        // In time order: from the first second over the rate, the subscription is suspended.
        let mut suspended = false;
        for (second, n) in &t.email_per_second {
            if suspended {
                r.email_deliveries_lost += n;
            } else if *n > SNS_EMAIL_RATE {
                suspended = true;
                r.email_suspended_at = Some(format!("{second}Z"));
                r.email_deliveries_lost += n - SNS_EMAIL_RATE;
            }
        }
        r
    };
    // Kept, everything is still in the bucket; otherwise what the scans left (counted as each
    // ended, then removed) and what stays besides (state, claims).
    let in_bucket = ctx.sandbox.store().bytes_under("").unwrap_or(0);
    let s3_bytes_stored = if options.keep {
        in_bucket
    } else {
        *lock(&ctx.s3_bytes) + in_bucket
    };
    let transitions: u64 = executions.iter().map(|e| e.transitions).sum();
    let gb_seconds: f64 = functions.values().map(|f| f.gb_seconds).sum();
    let invocations: u64 = functions.values().map(|f| f.invocations).sum();
    let first = executions.iter().filter_map(|e| e.started_at).min();
    let last = executions.iter().filter_map(|e| e.ended_at).max();
    let calls = |k: &str| api_calls.get(k).copied().unwrap_or(0);
    let usage = cost::Usage {
        lambda_gb_seconds: gb_seconds,
        lambda_requests: invocations,
        transitions,
        sns_publish_requests: sns.billed_publish_requests,
        sns_https_deliveries: sns.https_deliveries,
        sns_email_deliveries: sns.email_deliveries,
        s3_puts: calls("s3:PutObject") + calls("s3:ListObjectsV2"),
        s3_gets: calls("s3:GetObject"),
        s3_bytes_stored,
        security_hub_imports: calls("securityhub:BatchImportFindings"),
        security_hub_updates: calls("securityhub:BatchUpdateFindings"),
        // One Scheduler invocation and one cross-account event per scheduled scan.
        event_bridge_events: 2 * executions.len() as u64,
    };
    let scans = scans_per_month(&options.schedule, options.start_time)?;
    let lines = cost::estimate(
        &usage,
        &options.prices,
        scans,
        f64::from(options.facts.retention_days),
    );
    let monthly: f64 = lines.iter().map(|l| l.monthly_usd).sum();
    let peak_tps = lock(&ctx.transitions_per_second)
        .values()
        .copied()
        .max()
        .unwrap_or(0);
    let notices_sent = executions.iter().filter(|e| e.noticed).count() as u64;
    Ok(Report {
        accounts: options.accounts,
        regions: regions.to_vec(),
        findings_per_account_region: options.findings,
        same_minute: options.same_minute,
        lost: outcomes.lost,
        executions: outcomes,
        notices_sent,
        throttles,
        transitions,
        peak_transitions_per_second: peak_tps,
        lambda_invocations: invocations,
        lambda_gb_seconds: gb_seconds,
        lambda_peak_concurrency: stats.lambda_peak_concurrency,
        lambda_concurrency: options.quotas.lambda_concurrency,
        lambda: functions,
        api_calls,
        api_calls_by_service: by_service,
        sns,
        s3_bytes_stored,
        virtual_seconds: match (first, last) {
            (Some(a), Some(b)) => (b - a).whole_seconds(),
            _ => 0,
        },
        monthly_cost_usd: monthly,
        cost: CostReport {
            schedule: options.schedule.clone(),
            scans_per_month: scans,
            retention_days: options.facts.retention_days,
            prices_as_of: cost::PRICES_AS_OF.into(),
            prices_region: cost::PRICES_REGION.into(),
            lines,
        },
        wall_seconds: began.elapsed().as_secs_f64(),
        shared_calls_unordered: stats.shared_calls_unordered,
    })
}

/// CPU time this thread has used, in seconds (`CLOCK_THREAD_CPUTIME_ID`): unlike wall time it
/// does not grow when other processes hold the cores.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    } else {
        0.0
    }
}

/// The hub's functions that executions invoke: all but the fleet watch, which runs once a day
/// whatever the fleet does.
pub fn per_execution_functions() -> impl Iterator<Item = &'static str> {
    scanflow_core::step::FUNCTIONS
        .into_iter()
        .filter(|f| *f != "fleet-watch")
}

/// Marks a folder as the simulation's, so a rerun may clear it and nothing else.
const OUT_MARKER: &str = ".scanflow-simulate";

fn prepare_out(dir: &Path) -> Result<(), SimulateError> {
    crate::local::prepare_output(dir, OUT_MARKER, "scanflow simulate").map_err(|detail| {
        SimulateError::Output {
            path: dir.to_owned(),
            detail,
        }
    })
}

/// Replaces the quotas a JSON file names: `{"lambdaConcurrency": 100, "rates":
/// {"sns:Publish": {"rate": 5, "burst": 5}}}`; a rate given without a scope keeps the default's.
pub fn load_quota_overrides(spec: &mut QuotaSpec, path: &Path) -> Result<(), SimulateError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Overrides {
        lambda_concurrency: Option<u32>,
        #[serde(default)]
        rates: BTreeMap<String, RateOverride>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct RateOverride {
        rate: f64,
        burst: f64,
        scope: Option<quota::QuotaScope>,
    }
    let bad = |m: String| SimulateError::Invalid(format!("--quotas {}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let o: Overrides = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if let Some(c) = o.lambda_concurrency {
        spec.lambda_concurrency = c;
    }
    for (action, r) in o.rates {
        let default_scope = spec.rates.get(&action).map(|q| q.scope);
        let Some(scope) = r.scope.or(default_scope) else {
            return Err(bad(format!(
                "rates.{action}: not a modelled quota; give its \"scope\" (caller or hub) to add it"
            )));
        };
        spec.rates.insert(
            action,
            quota::RateQuota {
                rate: r.rate,
                burst: r.burst,
                scope,
                source: format!("--quotas {}", path.display()),
            },
        );
    }
    spec.validate().map_err(bad)
}

/// The report as text.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let e = &r.executions;
    let _ = writeln!(
        s,
        "scanflow simulate: {} account(s) × {} Region(s) ({}), {} finding(s) each, {}",
        r.accounts,
        r.regions.len(),
        r.regions.join(", "),
        r.findings_per_account_region,
        if r.same_minute {
            "every schedule in the same minute"
        } else {
            "starts spread over the schedule's flexible window"
        }
    );
    let statuses: Vec<String> = e
        .by_status
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        s,
        "\nExecutions: {} — {} scanned and delivered, {} failed with their notice sent, {} LOST ({})",
        e.total,
        e.scanned,
        e.noticed,
        e.lost,
        statuses.join(", ")
    );
    let _ = writeln!(
        s,
        "Virtual time: {} from the first start to the last end; wall time {:.1} s",
        crate::trace::duration(Duration::seconds(r.virtual_seconds)),
        r.wall_seconds
    );
    let t = &r.throttles;
    let _ = writeln!(
        s,
        "\nThrottles: {} met, {} retried, {} not retried",
        t.met, t.retried, t.not_retried
    );
    for (k, q) in &t.by_quota {
        let _ = writeln!(
            s,
            "  {k:<38} {:>8} refused {:>8} retried {:>4} not — by {}",
            q.refused, q.retried, q.not_retried, q.retried_by
        );
    }
    let _ = writeln!(
        s,
        "\nState transitions: {} (peak {} a second)",
        r.transitions, r.peak_transitions_per_second
    );
    let _ = writeln!(
        s,
        "Lambda: {} invocation(s), {:.1} GB-seconds, peak concurrency {} of {}",
        r.lambda_invocations, r.lambda_gb_seconds, r.lambda_peak_concurrency, r.lambda_concurrency
    );
    for (f, u) in &r.lambda {
        let _ = writeln!(
            s,
            "  {f:<17} {:>5} MB {:>8} invocations {:>6} throttled {:>10.1} GB-s   handler {:>6.1} s real",
            u.memory_mb, u.invocations, u.throttled, u.gb_seconds, u.handler_wall_seconds
        );
    }
    let _ = writeln!(s, "\nAPI calls by service:");
    for (k, v) in &r.api_calls_by_service {
        let _ = writeln!(s, "  {k:<12} {v:>10}");
    }
    let sns = &r.sns;
    let _ = writeln!(
        s,
        "SNS: {} message(s), {:.1} MB, {} billed publish requests (peak {} a second), {} e-mail \
         and {} HTTPS deliveries",
        sns.messages,
        sns.bytes as f64 / 1e6,
        sns.billed_publish_requests,
        sns.peak_publish_per_second,
        sns.email_deliveries,
        sns.https_deliveries,
    );
    let _ = match &sns.email_suspended_at {
        Some(at) => writeln!(
            s,
            "  E-MAIL SUBSCRIPTION SUSPENDED at {at}: {} e-mail(s) in one second, over SNS's {} a \
             second; {} of {} e-mail deliveries lost ({} second(s) over the rate)",
            sns.peak_email_per_second,
            SNS_EMAIL_RATE,
            sns.email_deliveries_lost,
            sns.email_deliveries,
            sns.seconds_over_email_rate
        ),
        None => writeln!(
            s,
            "  e-mail peak {} a second (SNS suspends an e-mail subscription over {} a second)",
            sns.peak_email_per_second, SNS_EMAIL_RATE
        ),
    };
    let _ = writeln!(
        s,
        "S3: {:.1} MB stored by this scan; notices sent: {}",
        r.s3_bytes_stored as f64 / 1e6,
        r.notices_sent
    );
    if r.shared_calls_unordered > 0 {
        let _ = writeln!(
            s,
            "WARNING: {} call(s) to a quota the fleet shares came from a function not known to \
             make them; their order was not kept: run with --slots 1",
            r.shared_calls_unordered
        );
    }
    let c = &r.cost;
    let _ = writeln!(
        s,
        "\nMonthly cost at {} ({:.2} scans a month, objects kept {} days; {} list prices of {}):",
        c.schedule, c.scans_per_month, c.retention_days, c.prices_region, c.prices_as_of
    );
    for l in &c.lines {
        let _ = writeln!(
            s,
            "  {:<28} {:>16.1} × ${:<12} = ${:>10.2}",
            l.item, l.per_month, l.unit_usd, l.monthly_usd
        );
    }
    let _ = writeln!(
        s,
        "  {:<28} {:>47}",
        "total",
        format!("${:.2}", r.monthly_cost_usd)
    );
    s
}
