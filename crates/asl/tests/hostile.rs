//! A bounded fuzz suite of hostile inputs for the parser and the engine: deep nesting,
//! huge `MaxAttempts`, chains of recursive descent, long `StringMatches` patterns, nested
//! intrinsics and machines. Every case must validate or be rejected, then run to a terminal
//! status within the history cap and a wall-clock budget: no panic, no abort, no hang.
//! `CASES` cases run (on CI too); nothing is printed unless a case fails.

use proptest::prelude::*;
use proptest::test_runner::Config;
use scanflow_asl::{ExecutionOptions, StateMachine, TaskCall, TaskHandler, TaskOutcome, execute};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How many hostile cases run.
const CASES: u32 = 256;
/// Far above what any case needs in a debug build; a case past it is a hang.
const WALL_CLOCK: Duration = Duration::from_secs(30);

/// Fails six attempts in seven; echoes its input on the seventh.
struct Flaky;
impl TaskHandler for Flaky {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        if call.attempt % 7 == 6 {
            TaskOutcome::Succeeded(call.input.clone())
        } else {
            TaskOutcome::Failed {
                error: "Boom".into(),
                cause: "hostile".into(),
            }
        }
    }
}

/// A document of the given width and depth, built by moving values (no re-serialising).
fn document(width: usize, depth: usize) -> Value {
    let mut v = json!({"a": 1, "s": "x"});
    for _ in 0..depth {
        let children: Vec<Value> = (0..width).map(|_| v.clone()).collect();
        let mut level = serde_json::Map::new();
        level.insert("a".into(), Value::Array(children));
        level.insert("b".into(), json!({"a": "y"}));
        v = Value::Object(level);
    }
    v
}

fn retry_storm() -> impl Strategy<Value = (Value, Value, usize)> {
    (
        prop_oneof![Just(u64::from(u32::MAX)), 1u64..1_000, Just(99_999_999)],
        1u64..3,
        prop_oneof![Just(1.0f64), Just(2.0), Just(1.5)],
        20usize..3_000,
    )
        .prop_map(|(attempts, interval, backoff, cap)| {
            let def = json!({"StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": "arn:x", "End": true,
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": attempts,
                           "IntervalSeconds": interval, "BackoffRate": backoff}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "T"}]
            }}});
            (def, json!({}), cap)
        })
}

const SEGMENTS: &[&str] = &[
    "..*",
    "[*]",
    "..a",
    ".a",
    ".*",
    "[0:]",
    "[?(@.a)]",
    "[?(@.a == $..a)]",
    "[?(@..a)]",
    "..[0,1]",
    "['a','b']",
];

fn descent_chain() -> impl Strategy<Value = (Value, Value, usize)> {
    (
        prop::collection::vec(prop::sample::select(SEGMENTS), 1..8),
        1usize..6,
        1usize..6,
    )
        .prop_map(|(segs, width, depth)| {
            let path = format!("${}", segs.concat());
            let def = json!({"StartAt": "P", "States": {"P": {
                "Type": "Pass", "End": true,
                "Parameters": {"n.$": format!("States.ArrayLength({path})"), "v.$": path}
            }}});
            (def, json!({"d": document(width, depth)}), 25_000)
        })
}

fn long_patterns() -> impl Strategy<Value = (Value, Value, usize)> {
    (
        prop::collection::vec(prop::sample::select(&['a', '*', '\\', 'b'][..]), 0..3_000),
        prop::collection::vec(prop::sample::select(&['a', 'b', '*'][..]), 0..50_000),
    )
        .prop_map(|(pattern, value)| {
            let pattern: String = pattern.into_iter().collect();
            let value: String = value.into_iter().collect();
            let def = json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [
                    {"Variable": "$.v", "StringMatches": pattern, "Next": "Y"}
                ], "Default": "N"},
                "Y": {"Type": "Succeed"},
                "N": {"Type": "Fail", "Error": "NoMatch"}
            }});
            (def, json!({"v": value}), 25_000)
        })
}

fn nested_machines() -> impl Strategy<Value = (Value, Value, usize)> {
    (0usize..24, prop::bool::ANY).prop_map(|(levels, parallel)| {
        let mut m = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
        for _ in 0..levels {
            m = if parallel {
                json!({"StartAt": "X", "States": {"X": {"Type": "Parallel", "End": true, "Branches": [m]}}})
            } else {
                json!({"StartAt": "X", "States": {"X": {
                    "Type": "Map", "End": true, "ItemsPath": "$.items",
                    "ItemSelector": {"items.$": "$.items"}, "ItemProcessor": m
                }}})
            };
        }
        (m, json!({"items": [1, 2]}), 5_000)
    })
}

fn nested_intrinsics() -> impl Strategy<Value = (Value, Value, usize)> {
    (1usize..11, 1usize..6, 0usize..40_000, 0usize..5_000).prop_map(
        |(mut levels, arity, len, brackets)| {
            // Keeps the expression's text small; the values it builds still multiply.
            while arity.pow(u32::try_from(levels).unwrap_or(1)) > 4_096 {
                levels -= 1;
            }
            let mut call = "$.s".to_string();
            for _ in 0..levels {
                call = format!("States.Array({})", vec![call; arity].join(", "));
            }
            let text = format!("{}{}", "[".repeat(brackets), "]".repeat(brackets));
            let def = json!({"StartAt": "P", "States": {
                "P": {"Type": "Pass", "Next": "J",
                      "Parameters": {"n.$": format!("States.ArrayLength({call})"), "t": text}},
                "J": {"Type": "Pass", "End": true,
                      "Parameters": {"j.$": "States.StringToJson($.t)"}}
            }});
            (def, json!({"s": "x".repeat(len)}), 25_000)
        },
    )
}

fn deepening_result_paths() -> impl Strategy<Value = (Value, Value, usize)> {
    (1usize..256).prop_map(|segments| {
        let path = format!("${}", ".a".repeat(segments));
        let def = json!({"StartAt": "P", "States": {"P": {
            "Type": "Pass", "ResultPath": path, "Next": "P"
        }}});
        (def, json!({}), 25_000)
    })
}

fn hostile() -> impl Strategy<Value = (Value, Value, usize)> {
    prop_oneof![
        retry_storm(),
        descent_chain(),
        long_patterns(),
        nested_machines(),
        nested_intrinsics(),
        deepening_result_paths(),
    ]
}

proptest! {
    #![proptest_config(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn hostile_definitions_end_within_their_budgets((def, input, cap) in hostile()) {
        let started = Instant::now();
        let Ok(machine) = StateMachine::from_value(&def) else {
            // Rejected with a validation error: what a hostile definition may get.
            return Ok(());
        };
        let options = ExecutionOptions { max_history_events: Some(cap), ..ExecutionOptions::default() };
        let run = execute(&machine, input, &mut Flaky, &options);
        // The cap is checked before every state, attempt, iteration and branch; what passes
        // it is one attempt's events, and the closing ones: a few per nested machine (at
        // most 16) as the failure unwinds.
        prop_assert!(run.history.len() <= cap + 64, "{} events over a cap of {cap}", run.history.len());
        prop_assert!(started.elapsed() < WALL_CLOCK, "took {:?}", started.elapsed());
    }
}
