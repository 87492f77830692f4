//! Executes a validated machine: input/output processing in AWS's order, every state type,
//! Retry/Catch, history events and billed transitions, all on a virtual clock.

use crate::context::{Info, timestamp};
use crate::definition::{
    Catcher, Count, Definition, Handling, IoPath, Kind, Machine, MapState, Next, Number, Op,
    Operand, Parallel, ResultPath, Retrier, Rule, State, Task, Text, WaitFor,
};
use crate::error::{Failure, clip, names};
use crate::json::{Map, Value};
use crate::jsonpath::{Path, Root};
use crate::payload::Template;
use crate::redrive::{self, Inner, Point, RedriveError, Resume, Slot};
use crate::rng::Rng;
use crate::scope::Scope;
use crate::value::{
    MAX_PAYLOAD_BYTES, MAX_VALUE_DEPTH, Nested, compact, deeper_than, dispose, json_size,
    json_size_within, quote_value,
};
use crate::vars::Vars;
use crate::{
    Execution, ExecutionOptions, HistoryEvent, StateMachine, Status, TaskCall, TaskHandler,
    TaskOutcome,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The default `ExecutionOptions::max_history_data_bytes`: 8 MiB, 32 payloads at the cap.
/// AWS keeps every event's data; a local history that did so would need up to
/// 25,000 × 2 × 256 KiB ≈ 12.5 GiB. Counted as compact JSON bytes (input, output) and UTF-8
/// bytes (error, cause), like the payload cap.
pub const HISTORY_DATA_BUDGET_BYTES: usize = 8 * 1024 * 1024;

/// Why a machine stopped early.
enum Stop {
    Fail(Failure),
    TimedOut,
    /// The virtual clock reached `ExecutionOptions::abort_at`.
    Aborted,
}

impl From<Failure> for Stop {
    fn from(f: Failure) -> Stop {
        Stop::Fail(f)
    }
}

/// What a state hands to the loop: the next state (or the end) and its output.
enum Flow {
    Next(String, Value),
    End(Value),
}

struct Runner<'r> {
    tasks: &'r mut dyn TaskHandler,
    info: Info,
    now: OffsetDateTime,
    deadline: Option<OffsetDateTime>,
    rng: Rng,
    history: Vec<HistoryEvent>,
    max_events: Option<usize>,
    /// The workflow variables, one scope per enclosing Map iteration / Parallel branch.
    vars: Vars,
    /// `ExecutionOptions::max_history_data_bytes`, and how much of it the history holds.
    data_budget: Option<usize>,
    data_used: usize,
    /// Set by `reserve`: the next event's payload is counted already.
    reserved: bool,
    /// The compact size of the output the last state exited with.
    exit_size: Option<usize>,
    transitions: u64,
    abort_at: Option<OffsetDateTime>,
    /// Set by a Map or Parallel body that stops early: which iterations/branches are done.
    /// Taken by `run_machine` when the state fails, to build the resume point.
    pending_inner: Option<Inner>,
    /// The resume point of the innermost machine that just stopped, for its caller to take.
    last_point: Option<Point>,
}

/// The deadline of `TimeoutSeconds` counted from `from`.
fn deadline(def: &Definition, from: OffsetDateTime) -> Option<OffsetDateTime> {
    def.timeout_seconds
        .and_then(|s| i64::try_from(s).ok())
        .and_then(|s| from.checked_add(Duration::seconds(s)))
}

/// An abort time before the run (re)starts belongs to an earlier run and is ignored.
fn abort_from(options: &ExecutionOptions, from: OffsetDateTime) -> Option<OffsetDateTime> {
    options.abort_at.filter(|a| *a >= from)
}

pub(crate) fn execute(
    machine: &StateMachine,
    input: Value,
    tasks: &mut dyn TaskHandler,
    options: &ExecutionOptions,
) -> Execution {
    let def: &Definition = &machine.def;
    let machine_arn = format!(
        "arn:aws:states:{}:{}:stateMachine:{}",
        options.region, options.account_id, options.state_machine_name
    );
    let exec_arn = format!(
        "arn:aws:states:{}:{}:execution:{}:{}",
        options.region, options.account_id, options.state_machine_name, options.name
    );
    // An input nested past the budget is not cloned (cloning recurses once per level): the
    // execution fails at once and keeps the input only in `Execution::input`.
    let too_deep = deeper_than(&input, MAX_VALUE_DEPTH);
    let started_with = (!too_deep).then(|| input.clone());
    let mut r = Runner {
        tasks,
        info: Info {
            exec_arn,
            exec_name: options.name.clone(),
            exec_input: input,
            start: options.start_time,
            start_time: timestamp(options.start_time),
            role_arn: options.role_arn.clone(),
            machine_arn,
            machine_name: options.state_machine_name.clone(),
            redrive_count: 0,
        },
        now: options.start_time,
        deadline: deadline(def, options.start_time),
        rng: Rng::new(options.seed),
        history: Vec::new(),
        max_events: options.max_history_events,
        vars: Vars::default(),
        data_budget: options.max_history_data_bytes,
        data_used: 0,
        reserved: false,
        exit_size: None,
        transitions: 0,
        abort_at: abort_from(options, options.start_time),
        pending_inner: None,
        last_point: None,
    };
    let fits = started_with.as_ref().is_some_and(|v| r.reserve(v, None));
    r.event("ExecutionStarted", None, |e| {
        e.input = started_with.as_ref().filter(|_| fits).map(Into::into);
        e.truncated = started_with.is_some() && !fits;
    });
    let result = match started_with {
        None => Err(Stop::Fail(Failure::runtime(format!(
            "The execution input nests more than {MAX_VALUE_DEPTH} levels deep."
        )))),
        Some(_) if json_size(&r.info.exec_input) > MAX_PAYLOAD_BYTES => {
            Err(Stop::Fail(Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The execution input exceeds the maximum size of {MAX_PAYLOAD_BYTES} bytes."
                ),
            )))
        }
        Some(input) => r.run_machine(&def.machine, input, None),
    };
    r.finish(result, 0, None)
}

/// Resumes `previous` (see [`crate::redrive`] for what AWS allows and what it does).
pub(crate) fn redrive(
    machine: &StateMachine,
    previous: Execution,
    tasks: &mut dyn TaskHandler,
    options: &ExecutionOptions,
    at: OffsetDateTime,
) -> Result<Execution, RedriveError> {
    redrive::check(&previous, options.max_history_events, at)?;
    let Execution {
        history,
        transitions,
        resume,
        execution_arn,
        ..
    } = previous;
    let Some(Resume {
        mut info,
        rng,
        point,
    }) = resume
    else {
        return Err(RedriveError::NoResumePoint { execution_arn });
    };
    info.redrive_count = info.redrive_count.saturating_add(1);
    let count = info.redrive_count;
    let input = info.exec_input.clone();
    let def: &Definition = &machine.def;
    let data_used = history
        .iter()
        .map(event_data_size)
        .fold(0, usize::saturating_add);
    let mut r = Runner {
        tasks,
        info,
        now: at,
        // AWS resets the machine-level timeout on redrive: it counts again from the redrive.
        deadline: deadline(def, at),
        rng,
        history,
        max_events: options.max_history_events,
        vars: Vars::default(),
        data_budget: options.max_history_data_bytes,
        data_used,
        reserved: false,
        exit_size: None,
        transitions,
        abort_at: abort_from(options, at),
        pending_inner: None,
        last_point: None,
    };
    r.event("ExecutionRedriven", None, |e| {
        e.output = Some(serde_json::json!({"redriveCount": count}))
    });
    let result = r.run_machine(&def.machine, input, point);
    Ok(r.finish(result, transitions, Some(at)))
}

impl Runner<'_> {
    /// Writes the closing event and builds the `Execution`, with its resume point when the
    /// run did not succeed. `billed_before` is what earlier runs of the execution billed.
    fn finish(
        mut self,
        result: Result<Value, Stop>,
        billed_before: u64,
        redrive_date: Option<OffsetDateTime>,
    ) -> Execution {
        let (status, output, error, cause) = match result {
            Ok(out) => {
                let fits = self.reserve(&out, None);
                self.event("ExecutionSucceeded", None, |e| {
                    e.output = fits.then(|| (&out).into());
                    e.truncated = !fits;
                });
                (Status::Succeeded, Some(out), None, None)
            }
            Err(Stop::Fail(f)) => {
                self.event("ExecutionFailed", None, |e| {
                    e.error = Some(f.error.clone());
                    e.cause = Some(f.cause.clone());
                });
                (Status::Failed, None, Some(f.error), Some(f.cause))
            }
            Err(Stop::TimedOut) => {
                let cause =
                    "The execution exceeded the state machine's TimeoutSeconds.".to_string();
                self.event("ExecutionTimedOut", None, |e| {
                    e.error = Some(names::TIMEOUT.into());
                    e.cause = Some(cause.clone());
                });
                (
                    Status::TimedOut,
                    None,
                    Some(names::TIMEOUT.to_string()),
                    Some(cause),
                )
            }
            Err(Stop::Aborted) => {
                self.event("ExecutionAborted", None, |_| {});
                (Status::Aborted, None, None, None)
            }
        };
        let resume = (status != Status::Succeeded).then(|| Resume {
            info: self.info.clone(),
            rng: self.rng.clone(),
            point: self.last_point.take(),
        });
        Execution {
            status,
            output_json: output.as_ref().map(compact),
            // Moved, not copied: converting consumes the engine's value without recursion.
            output: output.map(Into::into),
            error,
            cause,
            history: self.history,
            transitions: self.transitions,
            end_time: self.now,
            run_transitions: self.transitions.saturating_sub(billed_before),
            execution_arn: self.info.exec_arn,
            state_machine_arn: self.info.machine_arn,
            name: self.info.exec_name,
            input: std::mem::take(&mut self.info.exec_input).into(),
            start_time: self.info.start,
            redrive_count: self.info.redrive_count,
            redrive_date,
            resume,
        }
    }

    fn event(&mut self, kind: &str, state: Option<&str>, fill: impl FnOnce(&mut HistoryEvent)) {
        let id = self.history.len() as u64 + 1;
        let mut e = HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: self.now,
            kind: kind.to_string(),
            state_name: state.map(str::to_string),
            input: None,
            output: None,
            error: None,
            cause: None,
            resource: None,
            truncated: false,
        };
        fill(&mut e);
        self.keep_within_budget(&mut e);
        self.history.push(e);
    }

    /// Keeps each piece of the event's data while the history's data budget lasts; a piece
    /// that does not fit is left out and the event marked truncated. Later, smaller pieces
    /// may still fit.
    fn keep_within_budget(&mut self, e: &mut HistoryEvent) {
        let Some(budget) = self.data_budget else {
            self.reserved = false;
            return;
        };
        if self.reserved && e.error.is_none() && e.cause.is_none() {
            self.reserved = false;
            return;
        }
        let mut used = self.data_used;
        let mut truncated = false;
        // A payload `reserve` already counted.
        let values = if std::mem::take(&mut self.reserved) {
            [None, None]
        } else {
            [Some(&mut e.input), Some(&mut e.output)]
        };
        for v in values.into_iter().flatten() {
            if let Some(value) = v {
                match json_size_within(value, budget.saturating_sub(used)) {
                    Some(n) => used = used.saturating_add(n),
                    None => {
                        *v = None;
                        truncated = true;
                    }
                }
            }
        }
        for t in [&mut e.error, &mut e.cause] {
            if let Some(text) = t {
                match used.checked_add(text.len()).filter(|n| *n <= budget) {
                    Some(n) => used = n,
                    None => {
                        *t = None;
                        truncated = true;
                    }
                }
            }
        }
        self.data_used = used;
        e.truncated |= truncated;
    }

    /// Whether the payload `v` (of `size` bytes, when already measured) still fits the
    /// history's data budget, counting it if so. Asked before the next event clones it, so an
    /// event past the budget costs no clone, and that event's values are not counted again.
    fn reserve(&mut self, v: &impl serde::Serialize, size: Option<usize>) -> bool {
        self.reserved = true;
        let Some(budget) = self.data_budget else {
            return true;
        };
        let room = budget.saturating_sub(self.data_used);
        match size.map_or_else(|| json_size_within(v, room), |n| (n <= room).then_some(n)) {
            Some(n) => {
                self.data_used = self.data_used.saturating_add(n);
                true
            }
            None => false,
        }
    }

    /// The `{"index": n}` output of a Map iteration event, counted against the history's
    /// data budget by its known size (no serialising per iteration).
    fn index_output(&mut self, index: usize) -> Option<serde_json::Value> {
        let v = serde_json::json!({ "index": index });
        let size = r#"{"index":}"#.len() + index.to_string().len();
        self.reserve(&v, Some(size)).then_some(v)
    }

    /// Moves the virtual clock; passing the machine's TimeoutSeconds or reaching the abort
    /// time stops the execution, at whichever of the two comes first.
    fn advance(&mut self, by: Duration) -> Result<(), Stop> {
        // Past the calendar's end the clock stops: no real machine waits that long.
        let target = self.now.checked_add(by).unwrap_or(self.now);
        let timeout = self.deadline.filter(|d| target > *d);
        let abort = self.abort_at.filter(|a| target >= *a);
        match (timeout, abort) {
            (Some(d), Some(a)) if d < a => {
                self.now = d;
                Err(Stop::TimedOut)
            }
            (_, Some(a)) => {
                self.now = a;
                Err(Stop::Aborted)
            }
            (Some(d), None) => {
                self.now = d;
                Err(Stop::TimedOut)
            }
            (None, None) => {
                self.now = target;
                Ok(())
            }
        }
    }

    /// Runs `f` in a new innermost variable scope (a Map iteration or Parallel branch).
    fn in_scope<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.vars.push(Map::new());
        let out = f(self);
        self.vars.pop();
        out
    }

    fn check_limits(&self) -> Result<(), Stop> {
        if self.abort_at.is_some_and(|a| self.now >= a) {
            return Err(Stop::Aborted);
        }
        if let Some(max) = self.max_events
            && self.history.len() > max
        {
            return Err(Stop::Fail(Failure::runtime(format!(
                "The execution reached the maximum number of history events ({max})."
            ))));
        }
        Ok(())
    }

    /// Runs a machine (top level, Parallel branch or Map iteration) from `StartAt`, or from
    /// `resume` when redriving. When it stops early, `last_point` says where it stopped.
    fn run_machine(
        &mut self,
        m: &Machine,
        input: Value,
        resume: Option<Point>,
    ) -> Result<Value, Stop> {
        // The compact size of `input` when known (the previous state's measured output).
        let mut carried: Option<usize> = None;
        let (mut name, mut input, mut inner) = match resume {
            None => (m.start_at.as_str(), input, None),
            Some(p) => match m.states.get_key_value(p.state.as_str()) {
                Some((k, _)) => {
                    self.vars.restore(p.vars);
                    (k.as_str(), p.input, p.inner)
                }
                // A resume point always names a state of this machine; if not, start over.
                None => (m.start_at.as_str(), input, None),
            },
        };
        loop {
            self.last_point = None;
            if let Err(stop) = self.check_limits() {
                // Stopped between states: a redrive enters the next state.
                self.last_point = Some(Point {
                    state: name.to_string(),
                    input,
                    inner: None,
                    vars: self.vars.innermost(),
                });
                return Err(stop);
            }
            let Some(state) = m.states.get(name) else {
                return Err(Stop::Fail(Failure::runtime(format!(
                    "State '{name}' does not exist"
                ))));
            };
            let entered_at = self.history.len();
            let mut kept = None;
            let flow = match self.run_state(state, input, inner.take(), &mut kept, carried.take()) {
                Ok(flow) => flow,
                Err(stop) => {
                    // The state re-enters on redrive with the input it was entered with,
                    // which its Entered event holds (no clone on the happy path), or, when
                    // the event's data did not fit the history's budget, `kept`.
                    let input = kept
                        .or_else(|| {
                            self.history
                                .get(entered_at)
                                .and_then(|e| e.input.clone())
                                .map(Value::from)
                        })
                        .unwrap_or(Value::Null);
                    self.last_point = Some(Point {
                        state: name.to_string(),
                        input,
                        inner: self.pending_inner.take(),
                        vars: self.vars.innermost(),
                    });
                    return Err(stop);
                }
            };
            match flow {
                Flow::End(out) => return Ok(out),
                Flow::Next(next, out) => {
                    // The next state's input is this output, already measured at its exit.
                    carried = self.exit_size.take();
                    name = m
                        .states
                        .get_key_value(next.as_str())
                        .map_or("", |(k, _)| k.as_str());
                    if name.is_empty() {
                        return Err(Stop::Fail(Failure::runtime(format!(
                            "State '{next}' does not exist"
                        ))));
                    }
                    input = out;
                }
            }
        }
    }

    /// Runs one state; `kept` receives a copy of its input when the Entered event could not
    /// keep it (the history's data budget was spent), for a redrive to re-enter with.
    fn run_state(
        &mut self,
        s: &State,
        raw: Value,
        inner: Option<Inner>,
        kept: &mut Option<Value>,
        size: Option<usize>,
    ) -> Result<Flow, Stop> {
        let t = s.kind.type_name();
        self.transitions += 1;
        self.pending_inner = None;
        let fits = self.reserve(&raw, size);
        self.event(&format!("{t}StateEntered"), Some(&s.name), |e| {
            e.input = fits.then(|| (&raw).into());
            e.truncated = !fits;
        });
        if !fits {
            *kept = Some(raw.clone());
        }
        let entered_id = self.history.len();
        let result = self.state_body(s, raw, inner);
        if matches!(result, Err(Stop::Aborted))
            && matches!(
                s.kind,
                Kind::Task(_) | Kind::Wait { .. } | Kind::Parallel(_) | Kind::Map(_)
            )
        {
            // AWS closes the state that was running when the execution is stopped.
            self.event(&format!("{t}StateAborted"), Some(&s.name), |_| {});
        }
        result.map_err(|stop| match stop {
            Stop::Fail(f)
                if !f.located
                    && (f.error == names::RUNTIME || f.error == names::QUERY_EVALUATION_ERROR) =>
            {
                Stop::Fail(Failure {
                    cause: format!(
                        "An error occurred while executing the state '{}' (entered at the event id #{entered_id}). {}",
                        s.name, f.cause
                    ),
                    located: true,
                    ..f
                })
            }
            other => other,
        })
    }

    /// The work of one state after its Entered event.
    fn state_body(&mut self, s: &State, raw: Value, inner: Option<Inner>) -> Result<Flow, Stop> {
        let entered = self.now;
        match &s.kind {
            Kind::Pass {
                result,
                parameters,
                result_path,
                next,
            } => {
                let effective = self.input_path(s, &raw, entered)?;
                let effective = self.parameters(s, parameters.as_ref(), effective, entered, 0)?;
                let result = result.clone().unwrap_or(effective);
                let assigned = self.eval_assign(s, s.assign.as_ref(), &result, entered, 0)?;
                let out = apply_result_path(result_path, raw, result)?;
                let out = self.output_path(s, out, entered)?;
                self.exit(s, next, out, assigned)
            }
            Kind::Succeed => {
                let out = self.input_path(s, &raw, entered)?;
                let out = self.output_path(s, out, entered)?;
                self.exit(s, &Next::End, out, None)
            }
            Kind::Fail { error, cause } => {
                let scope_input = raw;
                let info = &self.info;
                let ctx = |full: bool| info.context(&s.name, entered, 0, None, full);
                let scope = Scope::new(&scope_input, &ctx, &self.vars);
                let error = fail_text(error.as_ref(), &scope, &mut self.rng, "ErrorPath")?;
                let cause = fail_text(cause.as_ref(), &scope, &mut self.rng, "CausePath")?;
                Err(Stop::Fail(Failure::new(
                    error.unwrap_or_default(),
                    cause.unwrap_or_default(),
                )))
            }
            Kind::Choice { choices, default } => {
                let effective = self.input_path(s, &raw, entered)?;
                let info = &self.info;
                let ctx = |full: bool| info.context(&s.name, entered, 0, None, full);
                let scope = Scope::new(&effective, &ctx, &self.vars);
                let mut target = None;
                for (rule, next, assign) in choices {
                    if eval_rule(rule, &scope)? {
                        target = Some((next, assign.as_ref()));
                        break;
                    }
                }
                // A matching rule's `Assign` applies; the state's own applies with `Default`.
                let Some((target, assign)) =
                    target.or_else(|| default.as_ref().map(|d| (d, s.assign.as_ref())))
                else {
                    return Err(Stop::Fail(Failure::new(
                        names::NO_CHOICE_MATCHED,
                        "No Matches!",
                    )));
                };
                let assigned = self.eval_assign(s, assign, &effective, entered, 0)?;
                let out = self.output_path(s, effective, entered)?;
                self.exit(s, &Next::State(target.clone()), out, assigned)
            }
            Kind::Wait { wait, next } => {
                let effective = self.input_path(s, &raw, entered)?;
                let info = &self.info;
                let ctx = |full: bool| info.context(&s.name, entered, 0, None, full);
                let scope = Scope::new(&effective, &ctx, &self.vars);
                let until = match wait {
                    WaitFor::Seconds(n) => self.now.saturating_add(Duration::seconds(*n as i64)),
                    WaitFor::Timestamp(ts) => *ts,
                    // AWS's three causes: no value, not a long, negative.
                    WaitFor::SecondsPath(p) => match scope.lookup(p) {
                        None => {
                            return Err(Stop::Fail(Failure::runtime(format!(
                                "The SecondsPath parameter does not reference an input value: {}",
                                p.shown()
                            ))));
                        }
                        Some(v) => match v.as_i64() {
                            Some(n) if n >= 0 => self
                                .now
                                .saturating_add(Duration::seconds(n.min(i64::MAX / 2))),
                            Some(n) => {
                                return Err(Stop::Fail(Failure::runtime(format!(
                                    "The SecondsPath parameter references a negative value: {} == {n}",
                                    p.shown()
                                ))));
                            }
                            None => {
                                return Err(Stop::Fail(Failure::runtime(format!(
                                    "The SecondsPath parameter cannot be parsed as a long value: {} == {}",
                                    p.shown(),
                                    bare(v)
                                ))));
                            }
                        },
                    },
                    WaitFor::TimestampPath(p) => {
                        match scope.lookup(p).and_then(Value::as_str).and_then(parse_iso) {
                            Some(ts) => ts,
                            _ => {
                                return Err(Stop::Fail(Failure::runtime(format!(
                                    "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                                    p.shown(),
                                    scope.lookup(p).map_or_else(|| "null".into(), bare)
                                ))));
                            }
                        }
                    }
                };
                if until > self.now {
                    self.advance(until - self.now)?;
                }
                let assigned = self.eval_assign(s, s.assign.as_ref(), &effective, entered, 0)?;
                let out = self.output_path(s, effective, entered)?;
                self.exit(s, next, out, assigned)
            }
            Kind::Task(task) => {
                self.handled(s, &task.handling, raw, entered, |r, effective, retry| {
                    r.task(s, task, effective, entered, retry)
                })
            }
            // Only the first attempt after a redrive skips the finished branches/iterations; a
            // Retry of the whole state then runs everything again, as a first run would.
            Kind::Parallel(p) => {
                let mut inner = inner;
                self.handled(s, &p.handling, raw, entered, |r, effective, _| {
                    r.parallel(s, p, effective, inner.take())
                })
            }
            Kind::Map(m) => {
                let mut inner = inner;
                self.handled(s, &m.handling, raw, entered, |r, effective, _| {
                    r.map(s, m, effective, entered, inner.take())
                })
            }
        }
    }

    /// Leaves a state: checks its output, sets the variables its `Assign` computed (after the
    /// output, so `OutputPath` still read the old values), and writes the Exited event.
    fn exit(
        &mut self,
        s: &State,
        next: &Next,
        out: Value,
        assigned: Option<Map>,
    ) -> Result<Flow, Stop> {
        let size = self.check_size(&s.name, &out)?;
        if let Some(values) = assigned {
            self.vars.assign(&s.name, values)?;
        }
        let fits = self.reserve(&out, Some(size));
        self.exit_size = Some(size);
        self.event(
            &format!("{}StateExited", s.kind.type_name()),
            Some(&s.name),
            |e| {
                e.output = fits.then(|| (&out).into());
                e.truncated = !fits;
            },
        );
        Ok(match next {
            Next::State(n) => Flow::Next(n.clone(), out),
            Next::End => Flow::End(out),
        })
    }

    /// The payload cap, and first the depth budget: measuring the size recurses once per
    /// level, so a value nested too deep must be refused before it is measured.
    fn check_size(
        &self,
        state: &str,
        v: &(impl Nested + serde::Serialize),
    ) -> Result<usize, Failure> {
        if deeper_than(v, MAX_VALUE_DEPTH) {
            return Err(Failure::runtime(format!(
                "The state/task '{state}' returned a result nested more than {MAX_VALUE_DEPTH} levels deep."
            )));
        }
        // Counting stops just past the cap, so an oversized value costs no more than that.
        json_size_within(v, MAX_PAYLOAD_BYTES).ok_or_else(|| {
            Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
                ),
            )
        })
    }

    /// The failure for an aggregate (`what`) growing past the payload cap.
    fn too_large(&self, state: &str, what: &str) -> Failure {
        Failure::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit: the {what} exceed {MAX_PAYLOAD_BYTES} bytes."
            ),
        )
    }

    fn input_path(
        &self,
        s: &State,
        raw: &Value,
        entered: OffsetDateTime,
    ) -> Result<Value, Failure> {
        self.select_io(s, &s.input_path, raw, entered)
    }

    fn output_path(&self, s: &State, v: Value, entered: OffsetDateTime) -> Result<Value, Failure> {
        match &s.output_path {
            IoPath::Path(p) if p.text() == "$" => Ok(v),
            other => self.select_io(s, other, &v, entered),
        }
    }

    /// `InputPath`/`OutputPath`: a path into `v`, the context object or a variable.
    fn select_io(
        &self,
        s: &State,
        p: &IoPath,
        v: &Value,
        entered: OffsetDateTime,
    ) -> Result<Value, Failure> {
        let IoPath::Path(p) = p else {
            return Ok(Value::Object(Map::new()));
        };
        let info = &self.info;
        let ctx = |full: bool| info.context(&s.name, entered, 0, None, full);
        Scope::new(v, &ctx, &self.vars).resolve(p)?.ok_or_else(|| {
            Failure::runtime(format!(
                "Invalid path '{}' : No results for path: {}",
                p.shown(),
                clip(&p.normalized())
            ))
        })
    }

    /// Evaluates an `Assign` against `doc` (the state's result, or the error output in a
    /// Catch) with the variables as they were before the state.
    fn eval_assign(
        &mut self,
        s: &State,
        t: Option<&Template>,
        doc: &Value,
        entered: OffsetDateTime,
        retry: u32,
    ) -> Result<Option<Map>, Failure> {
        let Some(t) = t else { return Ok(None) };
        let info = &self.info;
        let ctx = |full: bool| info.context(&s.name, entered, retry, None, full);
        match t.eval(&Scope::new(doc, &ctx, &self.vars), &mut self.rng)? {
            Value::Object(m) => Ok(Some(m)),
            _ => Ok(None),
        }
    }

    fn parameters(
        &mut self,
        s: &State,
        t: Option<&Template>,
        effective: Value,
        entered: OffsetDateTime,
        retry: u32,
    ) -> Result<Value, Failure> {
        let Some(t) = t else { return Ok(effective) };
        let info = &self.info;
        let ctx = |full: bool| info.context(&s.name, entered, retry, None, full);
        let out = t.eval(&Scope::new(&effective, &ctx, &self.vars), &mut self.rng)?;
        self.check_size(&s.name, &out)?;
        Ok(out)
    }

    /// Runs a Task/Parallel/Map body with its result processing, Retry and Catch.
    fn handled(
        &mut self,
        s: &State,
        h: &Handling,
        raw: Value,
        entered: OffsetDateTime,
        mut body: impl FnMut(&mut Self, Value, u32) -> Result<Value, Stop>,
    ) -> Result<Flow, Stop> {
        let mut counters = vec![0u64; h.retry.len()];
        let mut retry_count = 0u32;
        loop {
            // A failed earlier attempt's progress is not where a redrive resumes.
            self.pending_inner = None;
            let attempt = self.attempt(s, h, &raw, entered, retry_count, &mut body);
            let failure = match attempt {
                Ok((out, assigned)) => return self.exit(s, &h.next, out, assigned),
                Err(Stop::Fail(f)) => f,
                Err(other) => return Err(other),
            };
            if failure.is_terminal() {
                return Err(Stop::Fail(failure));
            }
            if let Some(delay) = retry_delay(&h.retry, &mut counters, &failure, &mut self.rng) {
                self.advance(delay)?;
                // Each attempt writes events without passing through `run_machine`, so a
                // huge MaxAttempts would otherwise grow the history past AWS's cap.
                self.check_limits()?;
                self.transitions = self.transitions.saturating_add(1);
                retry_count = retry_count.saturating_add(1);
                continue;
            }
            return match find_catcher(&h.catch, &failure) {
                Some(c) => {
                    self.pending_inner = None;
                    self.caught(s, c, raw, failure, entered)
                }
                None => Err(Stop::Fail(failure)),
            };
        }
    }

    fn attempt(
        &mut self,
        s: &State,
        h: &Handling,
        raw: &Value,
        entered: OffsetDateTime,
        retry: u32,
        body: &mut impl FnMut(&mut Self, Value, u32) -> Result<Value, Stop>,
    ) -> Result<(Value, Option<Map>), Stop> {
        let effective = self.input_path(s, raw, entered)?;
        let effective = self.parameters(s, h.parameters.as_ref(), effective, entered, retry)?;
        let result = body(self, effective, retry)?;
        let selected = match &h.result_selector {
            None => result,
            Some(t) => {
                let info = &self.info;
                let ctx = |full: bool| info.context(&s.name, entered, retry, None, full);
                let selected = t.eval(&Scope::new(&result, &ctx, &self.vars), &mut self.rng)?;
                self.check_size(&s.name, &selected)?;
                selected
            }
        };
        let assigned = self.eval_assign(s, s.assign.as_ref(), &selected, entered, retry)?;
        let out = apply_result_path(&h.result_path, raw.clone(), selected)?;
        Ok((self.output_path(s, out, entered)?, assigned))
    }

    fn caught(
        &mut self,
        s: &State,
        c: &Catcher,
        raw: Value,
        f: Failure,
        entered: OffsetDateTime,
    ) -> Result<Flow, Stop> {
        let error_output = error_output(&f);
        // A catcher's `Assign` reads the error output; the state's own does not apply.
        let assigned = self.eval_assign(s, c.assign.as_ref(), &error_output, entered, 0)?;
        let out = apply_result_path(&c.result_path, raw, error_output)?;
        self.exit(s, &Next::State(c.next.clone()), out, assigned)
    }

    /// Reads a reference path from `input`, or from the context object for `$$` paths.
    fn reference(
        &self,
        p: &Path,
        input: &Value,
        s: &State,
        entered: OffsetDateTime,
    ) -> Option<Value> {
        match p.root() {
            Root::Input => p.lookup(input).cloned(),
            Root::Variable => p
                .variable()
                .and_then(|name| self.vars.get(name))
                .and_then(|v| p.lookup(v))
                .cloned(),
            Root::Context => {
                let ctx =
                    self.info
                        .context(&s.name, entered, 0, None, p.may_read_execution_input());
                p.lookup(&ctx).cloned()
            }
        }
    }

    fn task(
        &mut self,
        s: &State,
        task: &Task,
        input: Value,
        entered: OffsetDateTime,
        retry: u32,
    ) -> Result<Value, Stop> {
        let timeout = match &task.timeout {
            None => None,
            Some(Count::Literal(n)) => Some(*n),
            Some(Count::Path(p)) => {
                match self
                    .reference(p, &input, s, entered)
                    .and_then(|v| v.as_u64())
                    .filter(|n| *n > 0)
                {
                    Some(n) => Some(n),
                    None => {
                        return Err(Stop::Fail(Failure::runtime(format!(
                            "Invalid path '{}': The TimeoutSecondsPath parameter does not reference a valid positive integer value in the input '{}'",
                            p.shown(),
                            quote_value(&input)
                        ))));
                    }
                }
            }
        };
        let fits = self.reserve(&input, None);
        // What the handler sees, and the history keeps: serde_json's value.
        let public_input = serde_json::Value::from(&input);
        self.event("TaskScheduled", Some(&s.name), |e| {
            e.resource = Some(task.resource.clone());
            e.input = fits.then(|| public_input.clone());
            e.truncated = !fits;
        });
        self.event("TaskStarted", Some(&s.name), |e| {
            e.resource = Some(task.resource.clone())
        });
        let call = TaskCall {
            state_name: &s.name,
            resource: &task.resource,
            input: &public_input,
            json_input: &input,
            now: self.now,
            attempt: retry,
        };
        let mut outcome = self.tasks.invoke(&call);
        let mut took = Duration::ZERO;
        while let TaskOutcome::Elapsed {
            duration,
            outcome: inner,
        } = outcome
        {
            took = took.saturating_add(duration);
            outcome = *inner;
        }
        if let Some(limit) = timeout.map(|t| Duration::seconds(t.min(i64::MAX as u64 / 2) as i64))
            && took > limit
        {
            self.advance(limit)?;
            self.event("TaskTimedOut", Some(&s.name), |e| {
                e.resource = Some(task.resource.clone());
                e.error = Some(names::TIMEOUT.into());
                e.cause = Some(String::new());
            });
            return Err(Stop::Fail(Failure::new(names::TIMEOUT, "")));
        }
        if took > Duration::ZERO {
            self.advance(took)?;
        }
        match outcome {
            outcome @ (TaskOutcome::Succeeded(_) | TaskOutcome::SucceededJson(_)) => {
                // Converted without recursion, then checked before the event copies it: a
                // handler's value may nest any depth.
                let v = match outcome {
                    TaskOutcome::Succeeded(v) => Value::from(v),
                    TaskOutcome::SucceededJson(v) => v,
                    _ => Value::Null,
                };
                let checked = self.check_size(&s.name, &v);
                let fits = match &checked {
                    Ok(n) => self.reserve(&v, Some(*n)),
                    Err(_) => false,
                };
                self.event("TaskSucceeded", Some(&s.name), |e| {
                    e.resource = Some(task.resource.clone());
                    e.output = fits.then(|| (&v).into());
                    e.truncated = checked.is_ok() && !fits;
                });
                if let Err(f) = checked {
                    dispose(v);
                    let catchable = f.error == names::DATA_LIMIT_EXCEEDED;
                    return Err(Failure { catchable, ..f }.into());
                }
                Ok(v)
            }
            TaskOutcome::Failed { error, cause } => {
                self.event("TaskFailed", Some(&s.name), |e| {
                    e.resource = Some(task.resource.clone());
                    e.error = Some(error.clone());
                    e.cause = Some(cause.clone());
                });
                Err(Stop::Fail(Failure::new(error, cause)))
            }
            // The loop above unwrapped every `Elapsed`; answered rather than panicked on.
            TaskOutcome::Elapsed { .. } => Err(Stop::Fail(Failure::runtime(format!(
                "The task handler's outcome for the state '{}' could not be read",
                s.name
            )))),
        }
    }

    fn parallel(
        &mut self,
        s: &State,
        p: &Parallel,
        input: Value,
        resume: Option<Inner>,
    ) -> Result<Value, Stop> {
        self.event("ParallelStateStarted", Some(&s.name), |_| {});
        let mut slots = match resume {
            Some(Inner::Parallel(slots)) => slots,
            _ => Vec::new(),
        };
        slots.resize_with(p.branches.len(), || Slot::NotRun);
        let mut outputs = Vec::with_capacity(p.branches.len());
        // Brackets, less the comma the first item does not have.
        let mut aggregate = 1usize;
        for (i, b) in p.branches.iter().enumerate() {
            if let Err(stop) = self.check_limits() {
                // Past the history cap (or the abort time) before this branch started: it
                // keeps its slot (and so its resume point) for a redrive, as do the later ones.
                let progress = outputs
                    .into_iter()
                    .map(Slot::Done)
                    .chain(slots.drain(i..))
                    .collect();
                self.pending_inner = Some(Inner::Parallel(progress));
                return Err(stop);
            }
            let run = match std::mem::replace(&mut slots[i], Slot::NotRun) {
                // A branch that succeeded before a redrive keeps its output.
                Slot::Done(v) => Ok(v),
                // Each branch has a scope of its own: it reads the outer variables, and
                // what it assigns stays inside it.
                Slot::Resume(point) => {
                    self.in_scope(|r| r.run_machine(b, input.clone(), Some(point)))
                }
                Slot::NotRun => self.in_scope(|r| r.run_machine(b, input.clone(), None)),
            };
            // The outputs are one array: counted as it grows, so it never holds more than
            // the payload cap (plus one branch) in memory.
            let run = run.and_then(|v| {
                aggregate = aggregate.saturating_add(json_size(&v)).saturating_add(1);
                if aggregate > MAX_PAYLOAD_BYTES {
                    Err(Stop::Fail(
                        self.too_large(&s.name, "Parallel branches' outputs"),
                    ))
                } else {
                    Ok(v)
                }
            });
            match run {
                Ok(v) => outputs.push(v),
                Err(stop) => {
                    if let Stop::Fail(f) = &stop {
                        self.event("ParallelStateFailed", Some(&s.name), |e| {
                            e.error = Some(f.error.clone());
                            e.cause = Some(f.cause.clone());
                        });
                    }
                    // Where a redrive picks up: the branches before this one are done, this
                    // one resumes where it stopped, the later ones keep what they had.
                    let this = self.last_point.take().map_or(Slot::NotRun, Slot::Resume);
                    let later = slots.drain(i + 1..);
                    let progress = outputs
                        .into_iter()
                        .map(Slot::Done)
                        .chain(std::iter::once(this))
                        .chain(later)
                        .collect();
                    self.pending_inner = Some(Inner::Parallel(progress));
                    return Err(stop);
                }
            }
        }
        let out = Value::Array(outputs);
        let fits = self.reserve(&out, None);
        self.event("ParallelStateSucceeded", Some(&s.name), |e| {
            e.output = fits.then(|| (&out).into());
            e.truncated = !fits;
        });
        Ok(out)
    }

    fn map(
        &mut self,
        s: &State,
        m: &MapState,
        input: Value,
        entered: OffsetDateTime,
        resume: Option<Inner>,
    ) -> Result<Value, Stop> {
        let items = match self.reference(&m.items_path, &input, s, entered) {
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(Stop::Fail(Failure::new(
                    names::QUERY_EVALUATION_ERROR,
                    format!(
                        "Map state input must be an array but was: {}",
                        json_type(&other)
                    ),
                )));
            }
            None => {
                return Err(Stop::Fail(Failure::runtime(format!(
                    "Invalid path '{}' : No results for path: {}",
                    m.items_path.shown(),
                    clip(&m.items_path.normalized())
                ))));
            }
        };
        let tolerated_count = match &m.tolerated_count {
            None => None,
            Some(Count::Literal(n)) => Some(*n),
            Some(Count::Path(p)) => Some(self.reference(p, &input, s, entered).and_then(|v| v.as_u64()).ok_or_else(|| {
                Failure::runtime(format!("Invalid path '{}': ToleratedFailureCountPath must reference a non-negative integer", p.shown()))
            })?),
        };
        let tolerated_pct = match &m.tolerated_percentage {
            None => None,
            Some(Number::Literal(p)) => Some(*p),
            Some(Number::Path(p)) => Some(
                self.reference(p, &input, s, entered)
                    .and_then(|v| v.as_f64())
                    .filter(|v| (0.0..=100.0).contains(v))
                    .ok_or_else(|| {
                        Failure::runtime(format!(
                            "Invalid path '{}': ToleratedFailurePercentagePath must reference a number from 0 to 100",
                            p.shown()
                        ))
                    })?,
            ),
        };
        if let Some(Count::Path(p)) = &m.max_concurrency {
            let found = self.reference(p, &input, s, entered);
            if found.as_ref().is_none_or(|v| v.as_u64().is_none()) {
                return Err(Stop::Fail(Failure::runtime(format!(
                    "The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: {}",
                    found.as_ref().map_or_else(|| "null".into(), bare),
                    p.shown()
                ))));
            }
        }
        let tolerant = tolerated_count.is_some() || tolerated_pct.is_some();
        self.event("MapStateStarted", Some(&s.name), |e| {
            e.output = Some(serde_json::json!({"length": items.len()}))
        });
        let total = items.len();
        let mut slots = match resume {
            Some(Inner::Map(slots)) => slots,
            _ => Vec::new(),
        };
        slots.resize_with(total, || Slot::NotRun);
        let mut outputs = Vec::with_capacity(total);
        let mut failed = 0u64;
        // Where each iteration that failed within the tolerance stopped, for a redrive.
        let mut failed_at: Vec<(usize, Slot)> = Vec::new();
        // Brackets, less the comma the first item does not have.
        let mut aggregate = 1usize;
        for (index, item) in items.into_iter().enumerate() {
            if let Err(stop) = self.check_limits() {
                // Past the history cap (or the abort time) before this iteration started: it
                // and the later ones keep their slots for a redrive.
                let this = std::mem::replace(&mut slots[index], Slot::NotRun);
                self.pending_inner =
                    Some(map_progress(outputs, failed_at, Some(this), slots, index));
                return Err(stop);
            }
            let point = match std::mem::replace(&mut slots[index], Slot::NotRun) {
                // An iteration that succeeded before a redrive keeps its output.
                Slot::Done(v) => {
                    outputs.push(v);
                    continue;
                }
                Slot::Resume(p) => Some(p),
                Slot::NotRun => None,
            };
            let iter_input = match (&m.item_selector, &point) {
                // A resumed iteration re-enters its state with that state's own input.
                (_, Some(_)) | (None, None) => item,
                (Some(t), None) => {
                    let info = &self.info;
                    let ctx =
                        |full: bool| info.context(&s.name, entered, 0, Some((index, &item)), full);
                    t.eval(&Scope::new(&input, &ctx, &self.vars), &mut self.rng)?
                }
            };
            let out = self.index_output(index);
            self.event("MapIterationStarted", Some(&s.name), |e| {
                e.truncated = out.is_none();
                e.output = out;
            });
            // Each iteration has a scope of its own, like a Parallel branch.
            let run = self.in_scope(|r| r.run_machine(&m.processor, iter_input, point));
            // The iterations' outputs make one array: counted as it grows, so a Map of many
            // items each returning a large result stops at the payload cap, not out of memory.
            let run = run.and_then(|v| {
                aggregate = aggregate.saturating_add(json_size(&v)).saturating_add(1);
                if aggregate > MAX_PAYLOAD_BYTES {
                    Err(Stop::Fail(
                        self.too_large(&s.name, "Map iterations' outputs"),
                    ))
                } else {
                    Ok(v)
                }
            });
            match run {
                Ok(v) => {
                    let out = self.index_output(index);
                    self.event("MapIterationSucceeded", Some(&s.name), |e| {
                        e.truncated = out.is_none();
                        e.output = out;
                    });
                    outputs.push(v);
                }
                Err(Stop::Fail(f)) => {
                    let out = self.index_output(index);
                    self.event("MapIterationFailed", Some(&s.name), |e| {
                        e.truncated = out.is_none();
                        e.output = out;
                        e.error = Some(f.error.clone());
                        e.cause = Some(f.cause.clone());
                    });
                    let this = self.last_point.take().map_or(Slot::NotRun, Slot::Resume);
                    if !tolerant || f.is_terminal() {
                        self.event("MapStateFailed", Some(&s.name), |e| {
                            e.error = Some(f.error.clone());
                            e.cause = Some(f.cause.clone());
                        });
                        self.pending_inner =
                            Some(map_progress(outputs, failed_at, Some(this), slots, index));
                        return Err(Stop::Fail(f));
                    }
                    failed += 1;
                    failed_at.push((index, this));
                    outputs.push(error_output(&f));
                }
                Err(stop) => {
                    if matches!(stop, Stop::Aborted) {
                        let out = self.index_output(index);
                        self.event("MapIterationAborted", Some(&s.name), |e| {
                            e.truncated = out.is_none();
                            e.output = out;
                        });
                    }
                    let this = self.last_point.take().map_or(Slot::NotRun, Slot::Resume);
                    self.pending_inner =
                        Some(map_progress(outputs, failed_at, Some(this), slots, index));
                    return Err(stop);
                }
            }
        }
        let over_count = tolerated_count.is_some_and(|n| failed > n);
        let over_pct =
            tolerated_pct.is_some_and(|p| total > 0 && (failed as f64) * 100.0 > p * total as f64);
        if over_count || over_pct {
            let f = Failure::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
            );
            self.event("MapStateFailed", Some(&s.name), |e| {
                e.error = Some(f.error.clone());
                e.cause = Some(f.cause.clone());
            });
            // Every iteration ran: the ones that failed resume, the others are done.
            self.pending_inner = Some(map_progress(outputs, failed_at, None, Vec::new(), 0));
            return Err(Stop::Fail(f));
        }
        let out = Value::Array(outputs);
        self.event("MapStateSucceeded", Some(&s.name), |_| {});
        Ok(out)
    }
}

/// The progress of a Map that stopped at iteration `index` (whose slot is `this`): the
/// iterations before it are done unless they failed within the tolerance (`failed_at`), the
/// ones after it keep the slot they came in with (`slots`). `this` is `None` when every
/// iteration ran (the tolerance was exceeded at the end).
fn map_progress(
    outputs: Vec<Value>,
    mut failed_at: Vec<(usize, Slot)>,
    this: Option<Slot>,
    mut slots: Vec<Slot>,
    index: usize,
) -> Inner {
    failed_at.reverse();
    let mut progress = Vec::with_capacity(slots.len().max(outputs.len() + 1));
    for (j, out) in outputs.into_iter().enumerate() {
        match failed_at.last() {
            Some((k, _)) if *k == j => {
                if let Some((_, slot)) = failed_at.pop() {
                    progress.push(slot);
                }
            }
            _ => progress.push(Slot::Done(out)),
        }
    }
    progress.extend(this);
    progress.extend(slots.drain(index.saturating_add(1).min(slots.len())..));
    Inner::Map(progress)
}

/// The error output a `Catch` passes on and a tolerated Map iteration leaves in the result:
/// `Error` before `Cause`, as AWS writes it.
fn error_output(f: &Failure) -> Value {
    let mut m = Map::with_capacity(2);
    m.insert("Error".into(), Value::String(f.error.clone()));
    m.insert("Cause".into(), Value::String(f.cause.clone()));
    Value::Object(m)
}

/// The bytes of data an event holds, as `keep_within_budget` counts them.
fn event_data_size(e: &HistoryEvent) -> usize {
    let values = [&e.input, &e.output].into_iter().flatten().map(json_size);
    let texts = [&e.error, &e.cause].into_iter().flatten().map(String::len);
    values.chain(texts).fold(0, usize::saturating_add)
}

/// A value as AWS prints it after `==` in a cause: a string bare, anything else as JSON;
/// clipped like every quoted value.
fn bare(v: &Value) -> String {
    match v {
        Value::String(s) => clip(s).into_owned(),
        other => quote_value(other),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn apply_result_path(rp: &ResultPath, raw: Value, result: Value) -> Result<Value, Failure> {
    match rp {
        ResultPath::Discard => Ok(raw),
        ResultPath::Path(p) => {
            let shown = if p.can_set(&raw) {
                None
            } else {
                Some(quote_value(&raw))
            };
            match shown {
                Some(input) => Err(Failure::new(
                    names::RESULT_PATH_MATCH_FAILURE,
                    format!(
                        "Unable to apply ResultPath '{}' to input '{input}'",
                        p.shown()
                    ),
                )),
                None => p.set(raw, result).map_err(|text| {
                    Failure::new(
                        names::RESULT_PATH_MATCH_FAILURE,
                        format!("Unable to apply ResultPath '{}'", clip(&text)),
                    )
                }),
            }
        }
    }
}

fn fail_text(
    t: Option<&Text>,
    scope: &Scope<'_>,
    rng: &mut Rng,
    field: &str,
) -> Result<Option<String>, Stop> {
    Ok(match t {
        None => None,
        Some(Text::Literal(s)) => Some(s.clone()),
        Some(Text::Path(p)) => match scope.lookup(p) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => {
                return Err(Stop::Fail(Failure::runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{}'",
                    p.shown(),
                    quote_value(scope.input)
                ))));
            }
        },
        Some(Text::Call(c)) => match c.eval(scope, rng)? {
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        },
    })
}

/// Picks the first retrier matching the error; returns the wait before the next attempt, or
/// `None` when no retrier matches or the matching one is exhausted (then Catch applies).
fn retry_delay(
    retriers: &[Retrier],
    counters: &mut [u64],
    f: &Failure,
    rng: &mut Rng,
) -> Option<Duration> {
    let i = retriers
        .iter()
        .position(|r| r.errors.iter().any(|e| f.matches(e)))?;
    let r = &retriers[i];
    if counters[i] >= r.max_attempts {
        return None;
    }
    let mut secs = r.interval as f64 * r.backoff.powf(counters[i] as f64);
    if let Some(max) = r.max_delay {
        secs = secs.min(max as f64);
    }
    if r.jitter_full {
        secs *= rng.next_f64();
    }
    counters[i] += 1;
    Some(Duration::seconds_f64(secs.min(1.0e12)))
}

fn find_catcher<'c>(catchers: &'c [Catcher], f: &Failure) -> Option<&'c Catcher> {
    catchers
        .iter()
        .find(|c| c.errors.iter().any(|e| f.matches(e)))
}

fn eval_rule(rule: &Rule, input: &Scope<'_>) -> Result<bool, Failure> {
    Ok(match rule {
        Rule::And(rs) => {
            for r in rs {
                if !eval_rule(r, input)? {
                    return Ok(false);
                }
            }
            true
        }
        Rule::Or(rs) => {
            for r in rs {
                if eval_rule(r, input)? {
                    return Ok(true);
                }
            }
            false
        }
        Rule::Not(r) => !eval_rule(r, input)?,
        Rule::Test {
            variable,
            op,
            operand,
        } => {
            let value = input.lookup(variable);
            if *op == Op::IsPresent {
                return Ok(value.is_some() == (operand_bool(operand)));
            }
            let Some(value) = value else {
                return Err(invalid_choice_path(variable));
            };
            let expected = match operand {
                Operand::Value(v) => v,
                Operand::Path(p) => input.lookup(p).ok_or_else(|| invalid_choice_path(p))?,
            };
            compare(*op, value, expected)
        }
    })
}

fn operand_bool(o: &Operand) -> bool {
    matches!(o, Operand::Value(Value::Bool(true)))
}

fn invalid_choice_path(p: &Path) -> Failure {
    Failure::runtime(format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        p.shown()
    ))
}

fn parse_ts(v: &Value) -> Option<OffsetDateTime> {
    v.as_str().and_then(parse_iso)
}

/// AWS's timestamps are ISO-8601 extended offset date-times (Java's ISO_OFFSET_DATE_TIME):
/// RFC 3339, but with `T` (or `t`) between date and time — RFC 3339 also allows a space,
/// which AWS refuses.
fn parse_iso(s: &str) -> Option<OffsetDateTime> {
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn compare(op: Op, value: &Value, expected: &Value) -> bool {
    let is = |b: bool| expected.as_bool() == Some(b);
    match op {
        Op::IsNull => is(value.is_null()),
        Op::IsNumeric => is(value.is_number()),
        Op::IsString => is(value.is_string()),
        Op::IsBoolean => is(value.is_boolean()),
        Op::IsTimestamp => is(parse_ts(value).is_some()),
        Op::IsPresent => is(true),
        Op::BooleanEquals => value.is_boolean() && value == expected,
        Op::StringMatches => match (value.as_str(), expected.as_str()) {
            (Some(v), Some(p)) => string_matches(v, p),
            _ => false,
        },
        Op::StringEquals
        | Op::StringLessThan
        | Op::StringGreaterThan
        | Op::StringLessThanEquals
        | Op::StringGreaterThanEquals => {
            let (Some(a), Some(b)) = (value.as_str(), expected.as_str()) else {
                return false;
            };
            ordering_holds(op, a.cmp(b))
        }
        Op::NumericEquals
        | Op::NumericLessThan
        | Op::NumericGreaterThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThanEquals => {
            let (Some(a), Some(b)) = (value.as_f64(), expected.as_f64()) else {
                return false;
            };
            if !value.is_number() || !expected.is_number() {
                return false;
            }
            a.partial_cmp(&b).is_some_and(|o| ordering_holds(op, o))
        }
        Op::TimestampEquals
        | Op::TimestampLessThan
        | Op::TimestampGreaterThan
        | Op::TimestampLessThanEquals
        | Op::TimestampGreaterThanEquals => {
            let (Some(a), Some(b)) = (parse_ts(value), parse_ts(expected)) else {
                return false;
            };
            ordering_holds(op, a.cmp(&b))
        }
    }
}

fn ordering_holds(op: Op, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        Op::StringEquals | Op::NumericEquals | Op::TimestampEquals => o == Equal,
        Op::StringLessThan | Op::NumericLessThan | Op::TimestampLessThan => o == Less,
        Op::StringGreaterThan | Op::NumericGreaterThan | Op::TimestampGreaterThan => o == Greater,
        Op::StringLessThanEquals | Op::NumericLessThanEquals | Op::TimestampLessThanEquals => {
            o != Greater
        }
        Op::StringGreaterThanEquals
        | Op::NumericGreaterThanEquals
        | Op::TimestampGreaterThanEquals => o != Less,
        _ => false,
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal (a `\`
/// before any other character stands for that character).
///
/// Linear in the value and the pattern: the pattern is split at its stars into literal
/// pieces; the first must be a prefix, the last a suffix, and each one between is taken at
/// its leftmost place after the previous one (leftmost is always safe, since a star can
/// absorb whatever lies between). `str::find` is the two-way algorithm, linear per search,
/// and each search starts where the previous one ended.
fn string_matches(value: &str, pattern: &str) -> bool {
    let mut pieces: Vec<String> = vec![String::new()];
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        let literal = match c {
            '\\' => it.next().unwrap_or('\\'),
            '*' => {
                pieces.push(String::new());
                continue;
            }
            c => c,
        };
        if let Some(last) = pieces.last_mut() {
            last.push(literal);
        }
    }
    let (first, rest) = match pieces.split_first() {
        Some(split) => split,
        None => return value.is_empty(),
    };
    let Some((last, middle)) = rest.split_last() else {
        // No star: the whole value must equal the pattern.
        return value == first;
    };
    if value.len() < first.len().saturating_add(last.len())
        || !value.starts_with(first.as_str())
        || !value.ends_with(last.as_str())
    {
        return false;
    }
    let mut window = &value[first.len()..value.len() - last.len()];
    for piece in middle {
        match window.find(piece.as_str()) {
            Some(at) => window = &window[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_matches_wildcards_and_escapes() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("abc", "*"));
        assert!(string_matches("", "*"));
        assert!(!string_matches("log.csv", "log-*.txt"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("a\\b", "a\\\\b"));
        assert!(string_matches("aXbYc", "a*b*c"));
        assert!(!string_matches("aXbY", "a*b*c"));
        assert!(string_matches("aXbc", "a*b*c"));
        assert!(!string_matches("ab", "ab*b"));
        assert!(string_matches("abb", "ab*b"));
        assert!(string_matches("a\\", "a\\"));
        assert!(string_matches("ax", "a\\x"));
        assert!(string_matches("", ""));
        assert!(!string_matches("a", ""));
        assert!(string_matches("abcabc", "*abc"));
        assert!(string_matches("xx", "**x**x**"));
    }

    /// The matcher is linear: a long value against a pattern of many stars whose last
    /// piece never occurs (the worst case of backtracking matchers) answers at once.
    #[test]
    fn string_matches_is_linear_on_hostile_patterns() {
        let value = "a".repeat(100_000);
        let pattern = format!("{}b", "*a".repeat(5_000));
        assert!(!string_matches(&value, &pattern));
        let pattern = format!("{}*", "*a".repeat(5_000));
        assert!(string_matches(&value, &pattern));
        let pattern = format!("{}*a", "a*".repeat(50_000));
        assert!(string_matches(&value, &pattern));
        assert!(!string_matches(
            &value,
            &format!("{}*a", "a*".repeat(100_000))
        ));
    }

    /// `index_output` counts the size it does not measure: it must be the real one.
    #[test]
    fn index_output_size_is_the_compact_size() {
        for i in [0usize, 9, 10, 12_345] {
            let n = r#"{"index":}"#.len() + i.to_string().len();
            assert_eq!(json_size(&json!({ "index": i })), n);
        }
    }

    #[test]
    fn timestamps_have_millisecond_precision() {
        let t = OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(1_500);
        assert_eq!(timestamp(t), "1970-01-01T00:00:01.500Z");
    }
}
