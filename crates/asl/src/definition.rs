//! The parsed form of a definition, and the validation that builds it: every problem is
//! collected with the state and field it is in, for the top level and for nested
//! Parallel branches and Map processors alike.

use crate::error::{ValidationError, clip, names};
use crate::intrinsics::{self, Call};
use crate::json::{Map, Value};
use crate::jsonpath::Path;
use crate::payload::Template;
use crate::value::quote_value;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest value AWS accepts for the integer fields of Retry, Wait and timeouts.
const MAX_INT_FIELD: u64 = 99_999_999;
/// AWS limit on state names.
const MAX_STATE_NAME: usize = 80;

#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub start_at: String,
    pub states: HashMap<String, State>,
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    pub name: String,
    pub input_path: IoPath,
    pub output_path: IoPath,
    /// `Assign` (Pass, Task, Choice, Wait, Parallel, Map): variables set when the state
    /// exits, evaluated against its result with the variables from before it.
    pub assign: Option<Template>,
    pub kind: Kind,
}

/// `InputPath`/`OutputPath`: a path, or `null` (which yields `{}`).
#[derive(Debug, Clone)]
pub(crate) enum IoPath {
    Path(Path),
    Null,
}

/// `ResultPath`: where the result goes in the raw input, or `null` to discard it.
#[derive(Debug, Clone)]
pub(crate) enum ResultPath {
    Path(Path),
    Discard,
}

#[derive(Debug, Clone)]
pub(crate) enum Next {
    State(String),
    End,
}

/// A string given literally, or (Fail's `ErrorPath`/`CausePath`) by path or intrinsic.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    Literal(String),
    Path(Path),
    Call(Call),
}

/// A non-negative integer given literally or by a `...Path` field.
#[derive(Debug, Clone)]
pub(crate) enum Count {
    Literal(u64),
    Path(Path),
}

/// A number given literally or by a `...Path` field.
#[derive(Debug, Clone)]
pub(crate) enum Number {
    Literal(f64),
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    pub errors: Vec<String>,
    pub interval: u64,
    pub max_attempts: u64,
    pub backoff: f64,
    pub max_delay: Option<u64>,
    pub jitter_full: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Catcher {
    pub errors: Vec<String>,
    pub next: String,
    pub result_path: ResultPath,
    /// `Assign`, evaluated against the error output.
    pub assign: Option<Template>,
}

/// The result processing and error handling shared by Task, Parallel and Map.
#[derive(Debug, Clone)]
pub(crate) struct Handling {
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub next: Next,
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub resource: String,
    pub timeout: Option<Count>,
    pub handling: Handling,
}

#[derive(Debug, Clone)]
pub(crate) struct Parallel {
    pub branches: Vec<Machine>,
    pub handling: Handling,
}

#[derive(Debug, Clone)]
pub(crate) struct MapState {
    pub processor: Machine,
    pub items_path: Path,
    pub item_selector: Option<Template>,
    pub tolerated_count: Option<Count>,
    pub tolerated_percentage: Option<Number>,
    /// Iterations run one after another (same results as AWS), so the value is only
    /// checked: a `MaxConcurrencyPath` must find a non-negative integer.
    pub max_concurrency: Option<Count>,
    pub handling: Handling,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OperandKind {
    String,
    Number,
    Boolean,
    Timestamp,
}

impl Op {
    /// Looks up a comparison field name; the bool says whether it is the `...Path` form.
    fn from_field(name: &str) -> Option<(Op, bool)> {
        let (base, is_path) = match name.strip_suffix("Path") {
            Some(b) if b != "StringMatches" && !b.starts_with("Is") => (b, true),
            _ => (name, false),
        };
        let op = match base {
            "StringEquals" => Op::StringEquals,
            "StringLessThan" => Op::StringLessThan,
            "StringGreaterThan" => Op::StringGreaterThan,
            "StringLessThanEquals" => Op::StringLessThanEquals,
            "StringGreaterThanEquals" => Op::StringGreaterThanEquals,
            "StringMatches" if !is_path => Op::StringMatches,
            "NumericEquals" => Op::NumericEquals,
            "NumericLessThan" => Op::NumericLessThan,
            "NumericGreaterThan" => Op::NumericGreaterThan,
            "NumericLessThanEquals" => Op::NumericLessThanEquals,
            "NumericGreaterThanEquals" => Op::NumericGreaterThanEquals,
            "BooleanEquals" => Op::BooleanEquals,
            "TimestampEquals" => Op::TimestampEquals,
            "TimestampLessThan" => Op::TimestampLessThan,
            "TimestampGreaterThan" => Op::TimestampGreaterThan,
            "TimestampLessThanEquals" => Op::TimestampLessThanEquals,
            "TimestampGreaterThanEquals" => Op::TimestampGreaterThanEquals,
            "IsNull" => Op::IsNull,
            "IsPresent" => Op::IsPresent,
            "IsNumeric" => Op::IsNumeric,
            "IsString" => Op::IsString,
            "IsBoolean" => Op::IsBoolean,
            "IsTimestamp" => Op::IsTimestamp,
            _ => return None,
        };
        Some((op, is_path))
    }

    fn operand_kind(self) -> OperandKind {
        use Op::*;
        match self {
            StringEquals
            | StringLessThan
            | StringGreaterThan
            | StringLessThanEquals
            | StringGreaterThanEquals
            | StringMatches => OperandKind::String,
            NumericEquals
            | NumericLessThan
            | NumericGreaterThan
            | NumericLessThanEquals
            | NumericGreaterThanEquals => OperandKind::Number,
            TimestampEquals
            | TimestampLessThan
            | TimestampGreaterThan
            | TimestampLessThanEquals
            | TimestampGreaterThanEquals => OperandKind::Timestamp,
            BooleanEquals | IsNull | IsPresent | IsNumeric | IsString | IsBoolean | IsTimestamp => {
                OperandKind::Boolean
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Value(Value),
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test {
        variable: Path,
        op: Op,
        operand: Operand,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum WaitFor {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(OffsetDateTime),
    TimestampPath(Path),
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
        parameters: Option<Template>,
        result_path: ResultPath,
        next: Next,
    },
    Task(Box<Task>),
    /// Each rule with its `Next` and its own `Assign`; the state's `Assign` applies when
    /// `Default` is taken.
    Choice {
        choices: Vec<(Rule, String, Option<Template>)>,
        default: Option<String>,
    },
    Wait {
        wait: WaitFor,
        next: Next,
    },
    Succeed,
    Fail {
        error: Option<Text>,
        cause: Option<Text>,
    },
    Parallel(Box<Parallel>),
    Map(Box<MapState>),
}

impl Kind {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Kind::Pass { .. } => "Pass",
            Kind::Task(_) => "Task",
            Kind::Choice { .. } => "Choice",
            Kind::Wait { .. } => "Wait",
            Kind::Succeed => "Succeed",
            Kind::Fail { .. } => "Fail",
            Kind::Parallel(_) => "Parallel",
            Kind::Map(_) => "Map",
        }
    }
}

/// The parsed top level.
#[derive(Debug, Clone)]
pub(crate) struct Definition {
    pub machine: Machine,
    pub timeout_seconds: Option<u64>,
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const IO: &[&str] = &["InputPath", "OutputPath", "Assign"];
const FLOW: &[&str] = &["Next", "End"];
const RESULT: &[&str] = &[
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
];

fn allowed(type_name: &str) -> Option<Vec<&'static str>> {
    let mut v: Vec<&'static str> = COMMON.to_vec();
    match type_name {
        "Pass" => v.extend(
            IO.iter()
                .chain(FLOW)
                .chain(&["Result", "ResultPath", "Parameters"]),
        ),
        "Task" => v.extend(IO.iter().chain(FLOW).chain(RESULT).chain(&[
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        ])),
        "Choice" => v.extend(IO.iter().chain(&["Choices", "Default"])),
        "Wait" => v.extend(IO.iter().chain(FLOW).chain(&[
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
        ])),
        "Succeed" => v.extend(["InputPath", "OutputPath"]),
        "Fail" => v.extend(["Error", "ErrorPath", "Cause", "CausePath"]),
        "Parallel" => v.extend(IO.iter().chain(FLOW).chain(RESULT).chain(&["Branches"])),
        "Map" => v.extend(IO.iter().chain(FLOW).chain(RESULT).chain(&[
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
        ])),
        _ => return None,
    }
    Some(v)
}

/// Collects errors while walking a definition.
struct Cx {
    errors: Vec<ValidationError>,
    /// Where nested machines sit, for messages: e.g. "Branches[1] of 'P'".
    location: Vec<String>,
}

impl Cx {
    fn err(&mut self, state: Option<&str>, field: impl Into<String>, message: impl Into<String>) {
        let mut message = message.into();
        if !self.location.is_empty() {
            message.push_str(&format!(" (in {})", self.location.join(" > ")));
        }
        self.errors.push(ValidationError {
            state: state.map(str::to_string),
            field: field.into(),
            message,
        });
    }
}

/// How many Map/Parallel machines may sit inside one another (a budget of our own; AWS
/// documents none): the engine recurses once per level.
pub(crate) const MAX_NESTED_MACHINES: usize = 16;
/// How deeply the definition's JSON may nest: what `StateMachine::from_json` accepts (serde_json's
/// recursion limit), so `from_value` cannot be given more. Parsing recurses once per level.
pub(crate) const MAX_DEFINITION_DEPTH: usize = 128;

/// The error for a definition nested past [`MAX_DEFINITION_DEPTH`].
pub(crate) fn too_deep() -> ValidationError {
    ValidationError {
        state: None,
        field: "(definition)".into(),
        message: format!("the definition nests more than {MAX_DEFINITION_DEPTH} levels deep"),
    }
}

/// Parses and validates a whole definition.
pub(crate) fn parse(v: &Value) -> Result<Definition, Vec<ValidationError>> {
    let mut cx = Cx {
        errors: Vec::new(),
        location: Vec::new(),
    };
    if crate::value::deeper_than(v, MAX_DEFINITION_DEPTH) {
        return Err(vec![too_deep()]);
    }
    let Some(top) = v.as_object() else {
        cx.err(
            None,
            "(definition)",
            "the definition must be a JSON object with StartAt and States",
        );
        return Err(cx.errors);
    };
    for k in top.keys() {
        if ![
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ]
        .contains(&k.as_str())
        {
            cx.err(
                None,
                k.as_str(),
                format!("unknown top-level field '{}'", clip(k)),
            );
        }
    }
    check_query_language(&mut cx, None, top);
    if let Some(c) = top.get("Comment").filter(|c| !c.is_string()) {
        cx.err(
            None,
            "Comment",
            format!("must be a string, got {}", shown(c)),
        );
    }
    if let Some(c) = top.get("Version").filter(|c| !c.is_string()) {
        cx.err(
            None,
            "Version",
            format!("must be a string, got {}", shown(c)),
        );
    }
    let timeout_seconds = top
        .get("TimeoutSeconds")
        .and_then(|t| positive_int(&mut cx, None, "TimeoutSeconds", t));
    let machine = parse_machine(&mut cx, top);
    match machine {
        Some(machine) if cx.errors.is_empty() => Ok(Definition {
            machine,
            timeout_seconds,
        }),
        _ => Err(cx.errors),
    }
}

fn check_query_language(cx: &mut Cx, state: Option<&str>, m: &Map) {
    match m.get("QueryLanguage") {
        None => {}
        Some(Value::String(s)) if s == "JSONPath" => {}
        Some(Value::String(s)) if s == "JSONata" => cx.err(
            state,
            "QueryLanguage",
            "JSONata is not supported by the local engine; use JSONPath",
        ),
        Some(other) => cx.err(
            state,
            "QueryLanguage",
            format!("must be \"JSONPath\" or \"JSONata\", got {}", shown(other)),
        ),
    }
}

/// Parses `{StartAt, States}` (top level, a Parallel branch or a Map processor).
fn parse_machine(cx: &mut Cx, m: &Map) -> Option<Machine> {
    let start_at = match m.get("StartAt") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            cx.err(
                None,
                "StartAt",
                format!("must be a state name string, got {}", shown(other)),
            );
            None
        }
        None => {
            cx.err(None, "StartAt", "missing: name the first state to run");
            None
        }
    };
    let states_obj = match m.get("States") {
        Some(Value::Object(s)) if !s.is_empty() => Some(s),
        Some(Value::Object(_)) => {
            cx.err(None, "States", "must contain at least one state");
            None
        }
        Some(other) => {
            cx.err(
                None,
                "States",
                format!("must be an object of named states, got {}", shown(other)),
            );
            None
        }
        None => {
            cx.err(None, "States", "missing: add the states of the machine");
            None
        }
    };
    let states_obj = states_obj?;
    let mut states = HashMap::new();
    for (name, v) in states_obj {
        if name.is_empty() || name.chars().count() > MAX_STATE_NAME {
            cx.err(
                Some(name),
                "(name)",
                format!("state names must be 1 to {MAX_STATE_NAME} characters"),
            );
        }
        if let Some(s) = parse_state(cx, name, v) {
            states.insert(name.clone(), s);
        }
    }
    if let Some(start) = &start_at
        && !states_obj.contains_key(start)
    {
        cx.err(
            None,
            "StartAt",
            format!("names state '{}', which is not in States", clip(start)),
        );
    }
    // Transitions must stay inside this machine, and every state must be reachable.
    let mut targets: HashMap<&str, Vec<(&str, String)>> = HashMap::new();
    for (name, v) in states_obj {
        for (field, target) in transitions(v) {
            targets
                .entry(name.as_str())
                .or_default()
                .push((target, field));
        }
    }
    for (name, list) in &targets {
        for (target, field) in list {
            if !states_obj.contains_key(target) {
                cx.err(
                    Some(name),
                    field.clone(),
                    format!(
                        "names state '{}', which is not in this States object",
                        clip(target)
                    ),
                );
            }
        }
    }
    if let Some(start) = start_at.as_deref().filter(|s| states_obj.contains_key(s)) {
        let mut seen: HashSet<&str> = HashSet::from([start]);
        let mut todo = vec![start];
        while let Some(s) = todo.pop() {
            for (t, _) in targets.get(s).map(Vec::as_slice).unwrap_or_default() {
                if states_obj.contains_key(t) && seen.insert(t) {
                    todo.push(t);
                }
            }
        }
        let mut unreachable: Vec<&String> = states_obj
            .keys()
            .filter(|k| !seen.contains(k.as_str()))
            .collect();
        unreachable.sort();
        for name in unreachable {
            cx.err(
                Some(name),
                "(reachability)",
                format!("state is not reachable from StartAt '{}'", clip(start)),
            );
        }
    }
    Some(Machine {
        start_at: start_at?,
        states,
    })
}

/// The names a raw state may transition to, with the field naming each.
fn transitions(v: &Value) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let Some(m) = v.as_object() else { return out };
    if let Some(n) = m.get("Next").and_then(Value::as_str) {
        out.push(("Next".to_string(), n));
    }
    if let Some(n) = m.get("Default").and_then(Value::as_str) {
        out.push(("Default".to_string(), n));
    }
    for (list, field) in [("Choices", "Choices"), ("Catch", "Catch")] {
        if let Some(a) = m.get(list).and_then(Value::as_array) {
            for (i, c) in a.iter().enumerate() {
                if let Some(n) = c.get("Next").and_then(Value::as_str) {
                    out.push((format!("{field}[{i}].Next"), n));
                }
            }
        }
    }
    out
}

fn parse_state(cx: &mut Cx, name: &str, v: &Value) -> Option<State> {
    let st = Some(name);
    let Some(m) = v.as_object() else {
        cx.err(
            st,
            "(state)",
            format!("a state must be a JSON object, got {}", shown(v)),
        );
        return None;
    };
    let type_name = match m.get("Type") {
        Some(Value::String(t)) => t.as_str(),
        Some(other) => {
            cx.err(
                st,
                "Type",
                format!("must be a string, got {}", shown(other)),
            );
            return None;
        }
        None => {
            cx.err(
                st,
                "Type",
                "missing: one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map",
            );
            return None;
        }
    };
    let Some(fields) = allowed(type_name) else {
        cx.err(
            st,
            "Type",
            format!("unknown state type '{}': use Pass, Task, Choice, Wait, Succeed, Fail, Parallel or Map", clip(type_name)),
        );
        return None;
    };
    let errors_before = cx.errors.len();
    for k in m.keys() {
        if !fields.contains(&k.as_str()) {
            cx.err(
                st,
                k.as_str(),
                format!("field '{}' is not allowed in a {type_name} state", clip(k)),
            );
        }
    }
    check_query_language(cx, st, m);
    if let Some(c) = m.get("Comment").filter(|c| !c.is_string()) {
        cx.err(st, "Comment", format!("must be a string, got {}", shown(c)));
    }
    let input_path = io_path(cx, name, m, "InputPath");
    let output_path = io_path(cx, name, m, "OutputPath");
    let assign = assign(cx, name, m.get("Assign"), "Assign");
    let kind = match type_name {
        "Pass" => {
            let next = next(cx, name, m);
            Kind::Pass {
                result: m.get("Result").cloned(),
                parameters: template(cx, name, m, "Parameters"),
                result_path: result_path(cx, name, m.get("ResultPath"), "ResultPath"),
                next,
            }
        }
        "Task" => {
            let resource = match m.get("Resource") {
                Some(Value::String(r)) if !r.is_empty() => r.clone(),
                Some(other) => {
                    cx.err(
                        st,
                        "Resource",
                        format!("must be a non-empty ARN string, got {}", shown(other)),
                    );
                    String::new()
                }
                None => {
                    cx.err(st, "Resource", "missing: give the ARN of the task to run");
                    String::new()
                }
            };
            let timeout = seconds_pair(cx, name, m, "TimeoutSeconds");
            let heartbeat = seconds_pair(cx, name, m, "HeartbeatSeconds");
            if let (Some(Count::Literal(t)), Some(Count::Literal(h))) = (&timeout, &heartbeat)
                && h >= t
            {
                cx.err(
                    st,
                    "HeartbeatSeconds",
                    format!("must be smaller than TimeoutSeconds ({t})"),
                );
            }
            if let Some(c) = m.get("Credentials").filter(|c| !c.is_object()) {
                cx.err(
                    st,
                    "Credentials",
                    format!("must be an object, got {}", shown(c)),
                );
            }
            Kind::Task(Box::new(Task {
                resource,
                timeout,
                handling: handling(cx, name, m, true),
            }))
        }
        "Choice" => parse_choice(cx, name, m),
        "Wait" => {
            let present: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
                .into_iter()
                .filter(|f| m.contains_key(f))
                .collect();
            if present.len() != 1 {
                cx.err(
                    st,
                    present.get(1).copied().unwrap_or("Seconds"),
                    "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                );
            }
            let wait = match present.first().copied() {
                Some("Seconds") => WaitFor::Seconds(m.get("Seconds").and_then(|v| non_negative_int(cx, st, "Seconds", v)).unwrap_or(0)),
                Some("SecondsPath") => WaitFor::SecondsPath(reference(cx, name, m, "SecondsPath").unwrap_or_else(root_path)),
                Some("Timestamp") => WaitFor::Timestamp(match m.get("Timestamp") {
                    Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|_| {
                        cx.err(st, "Timestamp", format!("'{}' is not an RFC 3339 timestamp such as 2026-03-14T01:59:00Z", clip(s)));
                        OffsetDateTime::UNIX_EPOCH
                    }),
                    other => {
                        cx.err(st, "Timestamp", format!("must be a timestamp string, got {}", show(other)));
                        OffsetDateTime::UNIX_EPOCH
                    }
                }),
                Some(_) => WaitFor::TimestampPath(reference(cx, name, m, "TimestampPath").unwrap_or_else(root_path)),
                None => WaitFor::Seconds(0),
            };
            Kind::Wait {
                wait,
                next: next(cx, name, m),
            }
        }
        "Succeed" => Kind::Succeed,
        "Fail" => Kind::Fail {
            error: fail_text(cx, name, m, "Error"),
            cause: fail_text(cx, name, m, "Cause"),
        },
        "Parallel" => {
            let mut branches = Vec::new();
            match m.get("Branches") {
                Some(Value::Array(a)) if !a.is_empty() => {
                    for (i, b) in a.iter().enumerate() {
                        if let Some(bm) = nested(cx, name, &format!("Branches[{i}]"), b) {
                            branches.push(bm);
                        }
                    }
                }
                other => cx.err(
                    st,
                    "Branches",
                    format!("must be a non-empty array of branches, got {}", show(other)),
                ),
            }
            Kind::Parallel(Box::new(Parallel {
                branches,
                handling: handling(cx, name, m, true),
            }))
        }
        _ => parse_map(cx, name, m),
    };
    (cx.errors.len() == errors_before).then(|| State {
        name: name.to_string(),
        input_path,
        output_path,
        assign,
        kind,
    })
}

fn parse_map(cx: &mut Cx, name: &str, m: &Map) -> Kind {
    let st = Some(name);
    for f in ["ItemReader", "ItemBatcher", "ResultWriter", "Label"] {
        if m.contains_key(f) {
            cx.err(
                st,
                f,
                format!("{f} belongs to distributed Map, which the local engine does not run"),
            );
        }
    }
    let processor = match (m.get("ItemProcessor"), m.get("Iterator")) {
        (Some(_), Some(_)) => {
            cx.err(
                st,
                "Iterator",
                "give either ItemProcessor or the legacy Iterator, not both",
            );
            None
        }
        (Some(p), None) => {
            if let Some(cfg) = p.get("ProcessorConfig") {
                match cfg.get("Mode").and_then(Value::as_str) {
                    None | Some("INLINE") => {}
                    Some("DISTRIBUTED") => cx.err(
                        st,
                        "ItemProcessor.ProcessorConfig.Mode",
                        "DISTRIBUTED mode is not supported by the local engine; use INLINE",
                    ),
                    Some(other) => cx.err(
                        st,
                        "ItemProcessor.ProcessorConfig.Mode",
                        format!("unknown mode '{}'", clip(other)),
                    ),
                }
            }
            nested_with_extra(cx, name, "ItemProcessor", p, &["ProcessorConfig"])
        }
        // AWS takes ProcessorConfig in the legacy Iterator too.
        (None, Some(it)) => nested_with_extra(cx, name, "Iterator", it, &["ProcessorConfig"]),
        (None, None) => {
            cx.err(
                st,
                "ItemProcessor",
                "missing: a Map state needs an ItemProcessor (or legacy Iterator)",
            );
            None
        }
    };
    let items_path = match m.get("ItemsPath") {
        None => root_path(),
        Some(_) => reference(cx, name, m, "ItemsPath").unwrap_or_else(root_path),
    };
    let item_selector = match (m.contains_key("ItemSelector"), m.contains_key("Parameters")) {
        (true, true) => {
            cx.err(
                st,
                "Parameters",
                "give either ItemSelector or the legacy Parameters, not both",
            );
            None
        }
        (true, false) => template(cx, name, m, "ItemSelector"),
        (false, true) => template(cx, name, m, "Parameters"),
        (false, false) => None,
    };
    let max_concurrency = count_pair(cx, name, m, "MaxConcurrency");
    let tolerated_count = count_pair(cx, name, m, "ToleratedFailureCount");
    let tolerated_percentage = match (
        m.get("ToleratedFailurePercentage"),
        m.contains_key("ToleratedFailurePercentagePath"),
    ) {
        (Some(_), true) => {
            cx.err(
                st,
                "ToleratedFailurePercentagePath",
                "give either ToleratedFailurePercentage or its Path form, not both",
            );
            None
        }
        (Some(v), false) => match v.as_f64() {
            Some(p) if (0.0..=100.0).contains(&p) => Some(Number::Literal(p)),
            _ => {
                cx.err(
                    st,
                    "ToleratedFailurePercentage",
                    format!("must be a number from 0 to 100, got {}", shown(v)),
                );
                None
            }
        },
        (None, true) => reference(cx, name, m, "ToleratedFailurePercentagePath").map(Number::Path),
        (None, false) => None,
    };
    // A Map's Parameters is the legacy ItemSelector, read above.
    let handling = handling(cx, name, m, false);
    let processor = processor.unwrap_or(Machine {
        start_at: String::new(),
        states: HashMap::new(),
    });
    Kind::Map(Box::new(MapState {
        processor,
        items_path,
        max_concurrency,
        item_selector,
        tolerated_count,
        tolerated_percentage,
        handling,
    }))
}

fn root_path() -> Path {
    Path::parse("$").unwrap_or_else(|_| unreachable!("'$' is a valid path"))
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "nothing".to_string(), shown)
}

/// A value from the definition as a validation message quotes it (at most ~100 characters).
fn shown(v: &Value) -> String {
    quote_value(v)
}

fn nested(cx: &mut Cx, state: &str, field: &str, v: &Value) -> Option<Machine> {
    nested_with_extra(cx, state, field, v, &[])
}

fn nested_with_extra(
    cx: &mut Cx,
    state: &str,
    field: &str,
    v: &Value,
    extra: &[&str],
) -> Option<Machine> {
    let Some(m) = v.as_object() else {
        cx.err(
            Some(state),
            field,
            format!(
                "must be an object with StartAt and States, got {}",
                shown(v)
            ),
        );
        return None;
    };
    for k in m.keys() {
        if !["StartAt", "States", "Comment"].contains(&k.as_str()) && !extra.contains(&k.as_str()) {
            cx.err(
                Some(state),
                format!("{field}.{k}"),
                format!("unknown field '{}'", clip(k)),
            );
        }
    }
    if cx.location.len() >= MAX_NESTED_MACHINES {
        // Each nested machine is a level of recursion when the execution runs: bounded so a
        // hostile definition cannot exhaust the stack.
        cx.err(
            Some(state),
            field,
            format!("Map and Parallel states nest more than {MAX_NESTED_MACHINES} machines deep"),
        );
        return None;
    }
    cx.location.push(format!("{field} of '{}'", clip(state)));
    let before = cx.errors.len();
    let machine = parse_machine(cx, m);
    // Top-level style errors inside a nested machine still point at the owning state.
    for e in &mut cx.errors[before..] {
        if e.state.is_none() {
            e.state = Some(state.to_string());
            e.field = format!("{field}.{}", e.field);
        }
    }
    cx.location.pop();
    machine
}

fn next(cx: &mut Cx, name: &str, m: &Map) -> Next {
    let st = Some(name);
    match (m.get("Next"), m.get("End")) {
        (Some(_), Some(_)) => {
            cx.err(st, "End", "give either Next or End, not both");
            Next::End
        }
        (Some(Value::String(n)), None) => Next::State(n.clone()),
        (Some(other), None) => {
            cx.err(
                st,
                "Next",
                format!("must be a state name string, got {}", shown(other)),
            );
            Next::End
        }
        (None, Some(Value::Bool(true))) => Next::End,
        (None, Some(other)) => {
            cx.err(st, "End", format!("must be true, got {}", shown(other)));
            Next::End
        }
        (None, None) => {
            cx.err(
                st,
                "Next",
                "missing: this state needs Next (a state name) or \"End\": true",
            );
            Next::End
        }
    }
}

fn io_path(cx: &mut Cx, name: &str, m: &Map, field: &str) -> IoPath {
    match m.get(field) {
        None => IoPath::Path(root_path()),
        Some(Value::Null) => IoPath::Null,
        Some(Value::String(s)) => match Path::parse(s) {
            // AWS takes context-object paths (`$$`, `$$.Execution.Input`) and variables here.
            Ok(p) => IoPath::Path(p),
            Err(e) => {
                cx.err(Some(name), field, e.0);
                IoPath::Null
            }
        },
        Some(other) => {
            cx.err(
                Some(name),
                field,
                format!("must be a path string or null, got {}", shown(other)),
            );
            IoPath::Null
        }
    }
}

/// `Assign`: an object whose keys are variable names (`name`, or `name.$` for a path or an
/// intrinsic function), each checked as AWS checks variable names.
fn assign(cx: &mut Cx, name: &str, v: Option<&Value>, field: &str) -> Option<Template> {
    let v = v?;
    let Some(m) = v.as_object() else {
        cx.err(
            Some(name),
            field,
            format!(
                "must be an object of variable names and values, got {}",
                shown(v)
            ),
        );
        return None;
    };
    for k in m.keys() {
        let var = k.strip_suffix(".$").unwrap_or(k);
        if let Some(problem) = crate::jsonpath::variable_name_problem(var) {
            cx.err(Some(name), format!("{field}.{k}"), problem);
        }
    }
    let mut errors = Vec::new();
    let t = Template::parse(v, field, &mut errors);
    for (f, e) in errors {
        cx.err(Some(name), f, e);
    }
    Some(t)
}

fn result_path(cx: &mut Cx, name: &str, v: Option<&Value>, field: &str) -> ResultPath {
    match v {
        None => ResultPath::Path(root_path()),
        Some(Value::Null) => ResultPath::Discard,
        Some(Value::String(s)) => match Path::parse_reference(s) {
            Ok(p) if p.root() == crate::jsonpath::Root::Input => ResultPath::Path(p),
            Ok(_) => {
                cx.err(
                    Some(name),
                    field,
                    "must be a reference path into the state input ('$...')",
                );
                ResultPath::Discard
            }
            Err(e) => {
                cx.err(Some(name), field, e.0);
                ResultPath::Discard
            }
        },
        Some(other) => {
            cx.err(
                Some(name),
                field,
                format!(
                    "must be a reference path string or null, got {}",
                    shown(other)
                ),
            );
            ResultPath::Discard
        }
    }
}

/// A reference-path field (definite, `$` or `$$`).
fn reference(cx: &mut Cx, name: &str, m: &Map, field: &str) -> Option<Path> {
    match m.get(field)? {
        Value::String(s) => match Path::parse_reference(s) {
            Ok(p) => Some(p),
            Err(e) => {
                cx.err(Some(name), field, e.0);
                None
            }
        },
        other => {
            cx.err(
                Some(name),
                field,
                format!("must be a reference path string, got {}", shown(other)),
            );
            None
        }
    }
}

fn template(cx: &mut Cx, name: &str, m: &Map, field: &str) -> Option<Template> {
    let v = m.get(field)?;
    let mut errors = Vec::new();
    let t = Template::parse(v, field, &mut errors);
    for (f, msg) in errors {
        cx.err(Some(name), f, msg);
    }
    Some(t)
}

fn positive_int(cx: &mut Cx, state: Option<&str>, field: &str, v: &Value) -> Option<u64> {
    match v.as_u64() {
        Some(n) if (1..=MAX_INT_FIELD).contains(&n) => Some(n),
        _ => {
            cx.err(
                state,
                field,
                format!(
                    "must be a positive integer up to {MAX_INT_FIELD}, got {}",
                    shown(v)
                ),
            );
            None
        }
    }
}

fn non_negative_int(cx: &mut Cx, state: Option<&str>, field: &str, v: &Value) -> Option<u64> {
    match v.as_u64() {
        Some(n) if n <= MAX_INT_FIELD => Some(n),
        _ => {
            cx.err(
                state,
                field,
                format!(
                    "must be a non-negative integer up to {MAX_INT_FIELD}, got {}",
                    shown(v)
                ),
            );
            None
        }
    }
}

/// `X` (positive integer) or `XPath` (reference path), not both.
fn seconds_pair(cx: &mut Cx, name: &str, m: &Map, field: &str) -> Option<Count> {
    let path_field = format!("{field}Path");
    match (m.get(field), m.contains_key(&path_field)) {
        (Some(_), true) => {
            cx.err(
                Some(name),
                path_field,
                format!("give either {field} or {field}Path, not both"),
            );
            None
        }
        (Some(v), false) => positive_int(cx, Some(name), field, v).map(Count::Literal),
        (None, true) => reference(cx, name, m, &path_field).map(Count::Path),
        (None, false) => None,
    }
}

/// `X` (non-negative integer) or `XPath`, not both.
fn count_pair(cx: &mut Cx, name: &str, m: &Map, field: &str) -> Option<Count> {
    let path_field = format!("{field}Path");
    match (m.get(field), m.contains_key(&path_field)) {
        (Some(_), true) => {
            cx.err(
                Some(name),
                path_field,
                format!("give either {field} or {field}Path, not both"),
            );
            None
        }
        (Some(v), false) => non_negative_int(cx, Some(name), field, v).map(Count::Literal),
        (None, true) => reference(cx, name, m, &path_field).map(Count::Path),
        (None, false) => None,
    }
}

fn fail_text(cx: &mut Cx, name: &str, m: &Map, field: &str) -> Option<Text> {
    let path_field = format!("{field}Path");
    match (m.get(field), m.get(&path_field)) {
        (Some(_), Some(_)) => {
            cx.err(
                Some(name),
                path_field,
                format!("give either {field} or {field}Path, not both"),
            );
            None
        }
        (Some(Value::String(s)), None) => Some(Text::Literal(s.clone())),
        (Some(other), None) => {
            cx.err(
                Some(name),
                field,
                format!("must be a string, got {}", shown(other)),
            );
            None
        }
        (None, Some(Value::String(s))) if intrinsics::looks_like_call(s) => match Call::parse(s) {
            Ok(c) => Some(Text::Call(c)),
            Err(e) => {
                cx.err(Some(name), path_field, e);
                None
            }
        },
        (None, Some(_)) => reference(cx, name, m, &path_field).map(Text::Path),
        (None, None) => None,
    }
}

fn handling(cx: &mut Cx, name: &str, m: &Map, with_parameters: bool) -> Handling {
    Handling {
        parameters: if with_parameters {
            template(cx, name, m, "Parameters")
        } else {
            None
        },
        result_selector: template(cx, name, m, "ResultSelector"),
        result_path: result_path(cx, name, m.get("ResultPath"), "ResultPath"),
        retry: retriers(cx, name, m.get("Retry")),
        catch: catchers(cx, name, m.get("Catch")),
        next: next(cx, name, m),
    }
}

/// Checks an `ErrorEquals` list; `last` says whether this is the last retrier/catcher.
fn error_equals(
    cx: &mut Cx,
    name: &str,
    field: &str,
    v: Option<&Value>,
    last: bool,
) -> Vec<String> {
    let st = Some(name);
    let Some(Value::Array(a)) = v else {
        cx.err(
            st,
            field,
            format!("must be a non-empty array of error names, got {}", show(v)),
        );
        return Vec::new();
    };
    if a.is_empty() {
        cx.err(st, field, "must name at least one error");
    }
    let mut out = Vec::new();
    for e in a {
        match e.as_str() {
            Some(s) => out.push(s.to_string()),
            None => cx.err(st, field, format!("error names must be strings, got {e}")),
        }
    }
    if out.iter().any(|e| e == names::ALL) {
        if out.len() > 1 {
            cx.err(st, field, "States.ALL must appear alone in its ErrorEquals");
        }
        if !last {
            cx.err(
                st,
                field,
                "States.ALL must be in the last retrier or catcher",
            );
        }
    }
    out
}

fn retriers(cx: &mut Cx, name: &str, v: Option<&Value>) -> Vec<Retrier> {
    let st = Some(name);
    let Some(v) = v else { return Vec::new() };
    let Some(list) = v.as_array() else {
        cx.err(
            st,
            "Retry",
            format!("must be an array of retriers, got {}", shown(v)),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let f = |s: &str| format!("Retry[{i}].{}", clip(s));
        let Some(m) = r.as_object() else {
            cx.err(
                st,
                format!("Retry[{i}]"),
                format!("must be an object, got {r}"),
            );
            continue;
        };
        for k in m.keys() {
            if ![
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ]
            .contains(&k.as_str())
            {
                cx.err(st, f(k), format!("unknown retrier field '{}'", clip(k)));
            }
        }
        let errors = error_equals(
            cx,
            name,
            &f("ErrorEquals"),
            m.get("ErrorEquals"),
            i + 1 == list.len(),
        );
        let interval = m
            .get("IntervalSeconds")
            .map_or(Some(1), |v| positive_int(cx, st, &f("IntervalSeconds"), v));
        let max_attempts = m
            .get("MaxAttempts")
            .map_or(Some(3), |v| non_negative_int(cx, st, &f("MaxAttempts"), v));
        let backoff = match m.get("BackoffRate") {
            None => Some(2.0),
            Some(v) => match v.as_f64() {
                Some(b) if b >= 1.0 => Some(b),
                _ => {
                    cx.err(
                        st,
                        f("BackoffRate"),
                        format!("must be a number >= 1.0, got {}", shown(v)),
                    );
                    None
                }
            },
        };
        let max_delay = m
            .get("MaxDelaySeconds")
            .and_then(|v| positive_int(cx, st, &f("MaxDelaySeconds"), v));
        let jitter_full = match m.get("JitterStrategy") {
            None => false,
            Some(Value::String(s)) if s == "FULL" => true,
            Some(Value::String(s)) if s == "NONE" => false,
            Some(other) => {
                cx.err(
                    st,
                    f("JitterStrategy"),
                    format!("must be \"FULL\" or \"NONE\", got {}", shown(other)),
                );
                false
            }
        };
        if let (Some(interval), Some(max_attempts), Some(backoff)) =
            (interval, max_attempts, backoff)
        {
            out.push(Retrier {
                errors,
                interval,
                max_attempts,
                backoff,
                max_delay,
                jitter_full,
            });
        }
    }
    out
}

fn catchers(cx: &mut Cx, name: &str, v: Option<&Value>) -> Vec<Catcher> {
    let st = Some(name);
    let Some(v) = v else { return Vec::new() };
    let Some(list) = v.as_array() else {
        cx.err(
            st,
            "Catch",
            format!("must be an array of catchers, got {}", shown(v)),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let f = |s: &str| format!("Catch[{i}].{}", clip(s));
        let Some(m) = c.as_object() else {
            cx.err(
                st,
                format!("Catch[{i}]"),
                format!("must be an object, got {}", shown(c)),
            );
            continue;
        };
        for k in m.keys() {
            if !["ErrorEquals", "Next", "ResultPath", "Comment", "Assign"].contains(&k.as_str()) {
                cx.err(st, f(k), format!("unknown catcher field '{}'", clip(k)));
            }
        }
        let errors = error_equals(
            cx,
            name,
            &f("ErrorEquals"),
            m.get("ErrorEquals"),
            i + 1 == list.len(),
        );
        let next = match m.get("Next") {
            Some(Value::String(n)) => n.clone(),
            other => {
                cx.err(
                    st,
                    f("Next"),
                    format!("must be a state name string, got {}", show(other)),
                );
                String::new()
            }
        };
        let result_path = result_path(cx, name, m.get("ResultPath"), &f("ResultPath"));
        let assign = assign(cx, name, m.get("Assign"), &f("Assign"));
        out.push(Catcher {
            errors,
            next,
            result_path,
            assign,
        });
    }
    out
}

fn parse_choice(cx: &mut Cx, name: &str, m: &Map) -> Kind {
    let st = Some(name);
    let mut choices = Vec::new();
    match m.get("Choices") {
        Some(Value::Array(a)) if !a.is_empty() => {
            for (i, c) in a.iter().enumerate() {
                let field = format!("Choices[{i}]");
                let next = match c.get("Next") {
                    Some(Value::String(n)) => Some(n.clone()),
                    other => {
                        cx.err(
                            st,
                            format!("{field}.Next"),
                            format!("must be a state name string, got {}", show(other)),
                        );
                        None
                    }
                };
                let assign = assign(cx, name, c.get("Assign"), &format!("{field}.Assign"));
                if let (Some(rule), Some(next)) = (parse_rule(cx, name, &field, c, true), next) {
                    choices.push((rule, next, assign));
                }
            }
        }
        other => cx.err(
            st,
            "Choices",
            format!(
                "must be a non-empty array of choice rules, got {}",
                show(other)
            ),
        ),
    }
    let default = match m.get("Default") {
        None => None,
        Some(Value::String(d)) => Some(d.clone()),
        Some(other) => {
            cx.err(
                st,
                "Default",
                format!("must be a state name string, got {}", shown(other)),
            );
            None
        }
    };
    Kind::Choice { choices, default }
}

fn parse_rule(cx: &mut Cx, name: &str, field: &str, v: &Value, top: bool) -> Option<Rule> {
    let st = Some(name);
    let Some(m) = v.as_object() else {
        cx.err(
            st,
            field,
            format!("a choice rule must be an object, got {}", shown(v)),
        );
        return None;
    };
    if !top && m.contains_key("Next") {
        cx.err(
            st,
            format!("{field}.Next"),
            "only top-level choice rules may have Next",
        );
    }
    let mut ops = Vec::new();
    let mut combinators = Vec::new();
    for (k, val) in m {
        match k.as_str() {
            "Next" | "Comment" | "Variable" => {}
            "Assign" if top => {}
            "And" | "Or" | "Not" => combinators.push((k.as_str(), val)),
            _ => match Op::from_field(k) {
                Some((op, is_path)) => ops.push((k.as_str(), op, is_path, val)),
                None => cx.err(
                    st,
                    format!("{field}.{k}"),
                    format!("unknown choice rule field '{}'", clip(k)),
                ),
            },
        }
    }
    if ops.len() + combinators.len() != 1 {
        cx.err(
            st,
            field,
            "a choice rule needs exactly one comparison operator, or one of And, Or, Not",
        );
        return None;
    }
    if let Some((comb, val)) = combinators.first() {
        if m.contains_key("Variable") {
            cx.err(
                st,
                format!("{field}.Variable"),
                format!("Variable is not allowed beside {comb}"),
            );
        }
        let sub = format!("{field}.{comb}");
        return match *comb {
            "Not" => parse_rule(cx, name, &sub, val, false).map(|r| Rule::Not(Box::new(r))),
            _ => {
                let Some(a) = val.as_array().filter(|a| !a.is_empty()) else {
                    cx.err(
                        st,
                        sub,
                        format!("{comb} must be a non-empty array of rules"),
                    );
                    return None;
                };
                let rules: Vec<Option<Rule>> = a
                    .iter()
                    .enumerate()
                    .map(|(i, r)| parse_rule(cx, name, &format!("{sub}[{i}]"), r, false))
                    .collect();
                let rules: Option<Vec<Rule>> = rules.into_iter().collect();
                rules.map(|r| {
                    if *comb == "And" {
                        Rule::And(r)
                    } else {
                        Rule::Or(r)
                    }
                })
            }
        };
    }
    let (key, op, is_path, val) = ops[0];
    let variable = match m.get("Variable") {
        Some(Value::String(s)) => match Path::parse_reference(s) {
            Ok(p) => Some(p),
            Err(e) => {
                cx.err(st, format!("{field}.Variable"), e.0);
                None
            }
        },
        other => {
            cx.err(
                st,
                format!("{field}.Variable"),
                format!("must be a reference path string, got {}", show(other)),
            );
            None
        }
    };
    let ofield = format!("{field}.{key}");
    let operand = if is_path {
        match val.as_str().map(Path::parse_reference) {
            Some(Ok(p)) => Some(Operand::Path(p)),
            Some(Err(e)) => {
                cx.err(st, ofield, e.0);
                None
            }
            None => {
                cx.err(
                    st,
                    ofield,
                    format!("must be a reference path string, got {val}"),
                );
                None
            }
        }
    } else {
        let ok = match op.operand_kind() {
            OperandKind::String => val.is_string(),
            OperandKind::Number => val.is_number(),
            OperandKind::Boolean => val.is_boolean(),
            OperandKind::Timestamp => val
                .as_str()
                .is_some_and(|s| OffsetDateTime::parse(s, &Rfc3339).is_ok()),
        };
        if ok {
            Some(Operand::Value(val.clone()))
        } else {
            let want = match op.operand_kind() {
                OperandKind::String => "a string",
                OperandKind::Number => "a number",
                OperandKind::Boolean => "a boolean",
                OperandKind::Timestamp => "an RFC 3339 timestamp string",
            };
            cx.err(st, ofield, format!("must be {want}, got {val}"));
            None
        }
    };
    Some(Rule::Test {
        variable: variable?,
        op,
        operand: operand?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(v: Value) -> Vec<(Option<String>, String)> {
        match parse(&v) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| (e.state, e.field)).collect(),
        }
    }

    fn has(errs: &[(Option<String>, String)], state: &str, field: &str) -> bool {
        errs.iter()
            .any(|(s, f)| s.as_deref() == Some(state) && f == field)
    }

    #[test]
    fn valid_machine_parses() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "D"}], "Default": "F"},
            "D": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "E"}
        }});
        assert!(parse(&def).is_ok());
    }

    #[test]
    fn collects_every_error_with_state_and_field() {
        let errs = errors(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Missing"},
            "B": {"Type": "Sleep"},
            "W": {"Type": "Wait", "Seconds": 1},
            "T": {"Type": "Task", "Resource": "arn:x", "End": true, "Bogus": 1,
                  "Retry": [{"ErrorEquals": ["States.ALL", "X"]}, {"ErrorEquals": ["Y"], "MaxAttempt": 2}]}
        }}));
        assert!(has(&errs, "A", "Next"), "{errs:?}");
        assert!(has(&errs, "B", "Type"), "{errs:?}");
        assert!(has(&errs, "W", "Next"), "{errs:?}");
        assert!(has(&errs, "T", "Bogus"), "{errs:?}");
        assert!(has(&errs, "T", "Retry[0].ErrorEquals"), "{errs:?}");
        assert!(has(&errs, "T", "Retry[1].MaxAttempt"), "{errs:?}");
        assert!(has(&errs, "W", "(reachability)"), "{errs:?}");
    }

    #[test]
    fn nested_machines_are_validated() {
        let errs = errors(json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {
                "I": {"Type": "Choice", "Choices": [{"Variable": "x", "StringEquals": "a", "Next": "I"}]}
            }}}
        }}));
        assert!(has(&errs, "I", "Choices[0].Variable"), "{errs:?}");
    }

    #[test]
    fn wrong_value_types_are_rejected() {
        let errs = errors(json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericGreaterThan": "3", "Next": "D"}]},
            "D": {"Type": "Wait", "Seconds": "5", "End": true}
        }}));
        assert!(has(&errs, "C", "Choices[0].NumericGreaterThan"), "{errs:?}");
        assert!(has(&errs, "D", "Seconds"), "{errs:?}");
    }

    #[test]
    fn state_name_length_limit_is_80() {
        let ok = "a".repeat(80);
        let bad = "a".repeat(81);
        assert!(
            errors(json!({"StartAt": ok, "States": {ok.clone(): {"Type": "Succeed"}}})).is_empty()
        );
        assert!(
            !errors(json!({"StartAt": bad, "States": {bad.clone(): {"Type": "Succeed"}}}))
                .is_empty()
        );
    }
}
