//! Property tests: validation rejects (never panics on) arbitrary JSON definitions, and any
//! definition that validates executes to a terminal status on any input without panicking.

use proptest::prelude::*;
use scanflow_asl::{ExecutionOptions, StateMachine, TaskCall, TaskHandler, TaskOutcome, execute};
use serde_json::{Map, Value, json};

const STRINGS: &[&str] = &[
    "$",
    "$.a",
    "$.a[0]",
    "$.a.b",
    "$$.Execution.Name",
    "$$.Map.Item.Value",
    "$..x",
    "$.a[*]",
    "$.a[1:]",
    "$[?(@.v > 1)]",
    "$.r",
    "States.ALL",
    "States.TaskFailed",
    "States.Format('{}', $.a)",
    "States.ArrayLength($.a)",
    "States.StringToJson($.a)",
    "States.MathAdd($.a, 1)",
    "States.UUID()",
    "x",
    "",
    "2026-01-01T00:00:00Z",
    "A",
    "B",
    "C",
    "arn:aws:lambda:us-east-1:123456789012:function:f",
    "JSONPath",
    "FULL",
    "$[",
    "States.Nope(",
];

const KEYS: &[&str] = &[
    "Type",
    "Next",
    "End",
    "Result",
    "ResultPath",
    "InputPath",
    "OutputPath",
    "Parameters",
    "a",
    "b",
    "v",
    "x.$",
    "a.$",
    "Variable",
    "StringEquals",
    "NumericEquals",
    "NumericGreaterThanPath",
    "And",
    "Not",
    "Choices",
    "Default",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "Error",
    "Cause",
    "ErrorPath",
    "CausePath",
    "Branches",
    "ItemProcessor",
    "Iterator",
    "StartAt",
    "States",
    "ItemsPath",
    "Retry",
    "Catch",
    "ErrorEquals",
    "MaxAttempts",
    "IntervalSeconds",
    "BackoffRate",
    "JitterStrategy",
    "Resource",
    "TimeoutSeconds",
    "ItemSelector",
    "ToleratedFailureCount",
    "ResultSelector",
    "IsPresent",
    "BooleanEquals",
    "TimeoutSeconds",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..200).prop_map(|n| json!(n)),
        (-1.0f64..3.0).prop_map(|f| json!(f)),
        prop::sample::select(STRINGS).prop_map(|s| json!(s)),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(KEYS).prop_map(str::to_string),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn path() -> impl Strategy<Value = Value> {
    prop::sample::select(&["$", "$.a", "$.b", "$.a[0]", "$.a.b", "$.r", "$.missing"][..])
        .prop_map(|s| json!(s))
}

fn io_path() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop_oneof![
        path(),
        Just(Value::Null),
        Just(json!("$.a[*]"))
    ])
}

fn template() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(
        prop::sample::select(&["x.$", "y.$", "lit", "n.$"][..]).prop_map(str::to_string),
        prop_oneof![
            4 => path(),
            1 => prop::sample::select(STRINGS).prop_map(|s| json!(s)),
            1 => leaf(),
        ],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn rule() -> impl Strategy<Value = Value> {
    let test = (
        path(),
        prop::sample::select(
            &[
                "StringEquals",
                "NumericEquals",
                "NumericLessThan",
                "BooleanEquals",
                "IsPresent",
                "IsNull",
                "IsNumeric",
                "StringMatches",
                "TimestampLessThan",
                "NumericEqualsPath",
            ][..],
        ),
        leaf(),
    )
        .prop_map(|(v, op, operand)| {
            let operand = match op {
                "NumericEqualsPath" => json!("$.b"),
                "IsPresent" | "IsNull" | "IsNumeric" | "BooleanEquals" => {
                    json!(operand.as_bool().unwrap_or(true))
                }
                "NumericEquals" | "NumericLessThan" => json!(operand.as_f64().unwrap_or(1.0)),
                "TimestampLessThan" => json!("2026-01-01T00:00:00Z"),
                _ => json!(operand.as_str().unwrap_or("a*")),
            };
            json!({"Variable": v, op: operand})
        });
    test.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(|r| json!({"And": r})),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|r| json!({"Or": r})),
            inner.prop_map(|r| json!({"Not": r})),
        ]
    })
}

fn errors_list() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(["States.ALL"])),
        Just(json!(["Boom"])),
        Just(json!(["States.TaskFailed"])),
        Just(json!(["States.Timeout", "Boom"])),
    ]
}

/// A state of any type whose transitions point at `targets`; `chain` (when given) is its
/// Next, so most generated machines have every state reachable.
fn state(
    targets: Vec<&'static str>,
    chain: Option<&'static str>,
    depth: u32,
) -> BoxedStrategy<Value> {
    let next = match chain {
        Some(c) => Just(Some(c)).boxed(),
        None => prop::option::of(prop::sample::select(targets.clone())).boxed(),
    };
    let first_target = chain.unwrap_or(targets[0]);
    let common = (io_path(), io_path(), next);
    let nested = if depth == 0 {
        Just(json!({"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}})).boxed()
    } else {
        machine(depth - 1).boxed()
    };
    (
        common,
        prop::sample::select(&["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"][..]),
        prop::option::of(template()),
        prop::option::of(prop_oneof![path(), Just(Value::Null)]),
        prop::collection::vec(rule(), 1..3),
        prop::option::of((errors_list(), 0u64..3, 1u64..3, prop::option::of(Just("FULL")))),
        prop::option::of((errors_list(), prop::option::of(path()))),
        nested,
        (0u64..4, any_json(), prop::sample::select(targets)),
    )
        .prop_map(move |((input_path, output_path, next), ty, params, result_path, rules, retry, catch, nested, (secs, result, target))| {
            let mut s = Map::new();
            s.insert("Type".into(), json!(ty));
            let flow = |s: &mut Map<String, Value>| match &next {
                Some(n) => {
                    s.insert("Next".into(), json!(n));
                }
                None => {
                    s.insert("End".into(), json!(true));
                }
            };
            if ty != "Fail" {
                if let Some(p) = input_path.clone() {
                    s.insert("InputPath".into(), p);
                }
                if let Some(p) = output_path.clone() {
                    s.insert("OutputPath".into(), p);
                }
            }
            let result_handling = |s: &mut Map<String, Value>| {
                if let Some(p) = &params {
                    s.insert("Parameters".into(), p.clone());
                }
                if let Some(p) = &result_path {
                    s.insert("ResultPath".into(), p.clone());
                }
            };
            let errors = |s: &mut Map<String, Value>| {
                if let Some((e, max, interval, jitter)) = &retry {
                    let mut r = json!({"ErrorEquals": e, "MaxAttempts": max, "IntervalSeconds": interval});
                    if let Some(j) = jitter {
                        r["JitterStrategy"] = json!(j);
                    }
                    s.insert("Retry".into(), json!([r]));
                }
                if let Some((e, rp)) = &catch {
                    let mut c = json!({"ErrorEquals": e, "Next": target});
                    if let Some(rp) = rp {
                        c["ResultPath"] = rp.clone();
                    }
                    s.insert("Catch".into(), json!([c]));
                }
            };
            match ty {
                "Pass" => {
                    flow(&mut s);
                    result_handling(&mut s);
                    if secs % 2 == 0 {
                        s.insert("Result".into(), result.clone());
                    }
                }
                "Task" => {
                    flow(&mut s);
                    result_handling(&mut s);
                    errors(&mut s);
                    s.insert("Resource".into(), json!("arn:aws:lambda:us-east-1:123456789012:function:f"));
                    if secs > 0 {
                        s.insert("TimeoutSeconds".into(), json!(secs));
                    }
                }
                "Choice" => {
                    let choices: Vec<Value> = rules
                        .iter()
                        .enumerate()
                        .map(|(i, r)| {
                            let mut r = r.clone();
                            r["Next"] = json!(if i == 0 { first_target } else { target });
                            r
                        })
                        .collect();
                    s.insert("Choices".into(), json!(choices));
                    if secs % 2 == 0 {
                        s.insert("Default".into(), json!(target));
                    }
                }
                "Wait" => {
                    flow(&mut s);
                    if secs % 2 == 0 {
                        s.insert("Seconds".into(), json!(secs * 1000));
                    } else {
                        s.insert("SecondsPath".into(), json!("$.a"));
                    }
                }
                "Succeed" => {}
                "Fail" => {
                    s.insert("Error".into(), json!("Boom"));
                    if secs % 2 == 0 {
                        s.insert("CausePath".into(), json!("States.Format('{}', $.a)"));
                    }
                }
                "Parallel" => {
                    flow(&mut s);
                    result_handling(&mut s);
                    errors(&mut s);
                    s.insert("Branches".into(), json!([nested.clone(), nested.clone()]));
                }
                _ => {
                    flow(&mut s);
                    errors(&mut s);
                    if let Some(p) = &params {
                        s.insert("ItemSelector".into(), p.clone());
                    }
                    s.insert("ItemsPath".into(), json!(if secs % 2 == 0 { "$.a" } else { "$" }));
                    s.insert("ItemProcessor".into(), nested.clone());
                    if secs == 3 {
                        s.insert("ToleratedFailureCount".into(), json!(1));
                    }
                }
            }
            Value::Object(s)
        })
        .boxed()
}

fn machine(depth: u32) -> impl Strategy<Value = Value> {
    (
        state(vec!["B", "C"], Some("B"), depth),
        state(vec!["C", "A"], Some("C"), depth),
        state(vec!["A", "B"], None, depth),
    )
        .prop_map(|(a, b, c)| json!({"StartAt": "A", "States": {"A": a, "B": b, "C": c}}))
}

/// Fails every other call, so Retry and Catch paths run too.
struct Flaky(u32);

impl TaskHandler for Flaky {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        self.0 += 1;
        match self.0 % 3 {
            0 => TaskOutcome::Failed {
                error: "Boom".into(),
                cause: "flaky".into(),
            },
            1 => TaskOutcome::Succeeded(call.input.clone()),
            _ => TaskOutcome::Elapsed {
                duration: time::Duration::seconds(2),
                outcome: Box::new(TaskOutcome::Succeeded(json!({"a": [1, 2], "r": "x"}))),
            },
        }
    }
}

fn input() -> impl Strategy<Value = Value> {
    prop_oneof![
        any_json(),
        (any_json(), any_json()).prop_map(|(a, b)| json!({"a": a, "b": b})),
        Just(json!({"a": [1, {"x": 2}], "b": 3})),
        Just(json!({"a": 5, "b": 5})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_definitions_are_rejected_not_panicked(def in any_json()) {
        if let Err(errors) = StateMachine::from_value(&def) {
            prop_assert!(!errors.0.is_empty());
            for e in &errors.0 {
                prop_assert!(!e.field.is_empty() && !e.message.is_empty());
            }
        }
    }

    #[test]
    fn valid_definitions_run_to_a_terminal_status_on_any_input(def in machine(1), input in input()) {
        let Ok(m) = StateMachine::from_value(&def) else { return Ok(()) };
        let options = ExecutionOptions { max_history_events: Some(2_000), ..ExecutionOptions::default() };
        let run = execute(&m, input, &mut Flaky(0), &options);
        let kinds: Vec<&str> = run.history.iter().map(|e| e.kind.as_str()).collect();
        prop_assert_eq!(kinds.first().copied(), Some("ExecutionStarted"));
        let last = kinds.last().copied().unwrap_or_default();
        prop_assert!(["ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut"].contains(&last), "{}", last);
        for (i, e) in run.history.iter().enumerate() {
            prop_assert_eq!(e.id, i as u64 + 1);
        }
        prop_assert_eq!(run.output.is_some(), run.status == scanflow_asl::Status::Succeeded);
        prop_assert!(run.end_time >= options.start_time);
    }
}

#[test]
fn generated_definitions_are_often_valid() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = machine(1);
    let valid = (0..200)
        .filter(|_| {
            let def = strategy.new_tree(&mut runner).expect("tree").current();
            StateMachine::from_value(&def).is_ok()
        })
        .count();
    // The execution property is only meaningful if a fair share of generated machines validate.
    assert!(
        valid >= 40,
        "only {valid} of 200 generated definitions were valid"
    );
}
