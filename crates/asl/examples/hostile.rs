//! Peak memory and time of the worst inputs found for the engine, one process per input
//! (VmHWM is a process's peak): `cargo run --release -p scanflow-asl --example hostile`.
//! With a scenario name as argument, runs that one alone and prints its line.

use scanflow_asl::{ExecutionOptions, StateMachine, TaskCall, TaskHandler, TaskOutcome, execute};
use serde_json::{Value, json};
use std::time::Instant;

struct AlwaysFails;
impl TaskHandler for AlwaysFails {
    fn invoke(&mut self, _: &TaskCall<'_>) -> TaskOutcome {
        TaskOutcome::Failed {
            error: "Boom".into(),
            cause: "hostile".into(),
        }
    }
}

const SCENARIOS: &[&str] = &[
    "baseline",
    "retry-storm",
    "descent-chain",
    "filter-root",
    "string-matches",
    "nested-maps",
    "nested-intrinsics",
    "map-aggregate",
    "fat-history-1000",
];

fn scenario(name: &str) -> Option<(Value, Value, Option<usize>)> {
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    Some(match name {
        "baseline" => (pass, json!({}), Some(25_000)),
        "retry-storm" => (
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x", "End": true,
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 99_999_999, "IntervalSeconds": 1, "BackoffRate": 1.0}]}}}),
            json!({}),
            Some(25_000),
        ),
        "descent-chain" => {
            // About 100 KB of objects nested 7 deep.
            let doc: Vec<Value> = (0..2_000)
                .map(|i| json!({"a": {"a": {"a": {"a": {"a": {"a": [i, i]}}}}}}))
                .collect();
            (
                json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
                    "Parameters": {"v.$": "$..*..*..*..*"}}}}),
                json!({"d": doc}),
                Some(25_000),
            )
        }
        "filter-root" => {
            let items: Vec<Value> = (0..18_000).map(|i| json!({"v": i})).collect();
            (
                json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
                    "Parameters": {"v.$": "$.items[?(@.v == $..want)]"}}}}),
                json!({"items": items, "want": 17}),
                Some(25_000),
            )
        }
        "string-matches" => (
            json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.v",
                    "StringMatches": format!("{}b", "*a".repeat(100_000)), "Next": "Y"}], "Default": "Y"},
                "Y": {"Type": "Succeed"}}}),
            json!({"v": "a".repeat(250_000)}),
            Some(25_000),
        ),
        "nested-maps" => {
            let mut m = pass;
            for _ in 0..16 {
                m = json!({"StartAt": "X", "States": {"X": {"Type": "Map", "End": true,
                    "ItemsPath": "$.items", "ItemSelector": {"items.$": "$.items"}, "ItemProcessor": m}}});
            }
            (m, json!({"items": [1, 2, 3]}), Some(25_000))
        }
        "nested-intrinsics" => {
            let mut call = "$.s".to_string();
            // Nine levels, the most the parser takes under `States.ArrayLength`.
            for _ in 0..9 {
                call = format!("States.Array({call}, {call})");
            }
            (
                json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
                    "Parameters": {"n.$": format!("States.ArrayLength({call})")}}}}),
                json!({"s": "x".repeat(100_000)}),
                Some(25_000),
            )
        }
        "map-aggregate" => (
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "$.items",
                "ItemSelector": {"s.$": "$.s"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": "$.s", "End": true}}}}}}),
            json!({"s": "x".repeat(200_000), "items": vec![0; 20_000]}),
            Some(25_000),
        ),
        // Every event carries a 200 KB payload: the history itself is the memory.
        "fat-history-1000" => (
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "P"}}}),
            json!({"s": "x".repeat(200_000)}),
            Some(1_000),
        ),
        _ => return None,
    })
}

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn run_one(name: &str) {
    let Some((def, input, cap)) = scenario(name) else {
        eprintln!("unknown scenario {name}; one of {SCENARIOS:?}");
        return;
    };
    let started = Instant::now();
    let result = StateMachine::from_value(&def).map(|m| {
        let options = ExecutionOptions {
            max_history_events: cap,
            ..ExecutionOptions::default()
        };
        execute(&m, input, &mut AlwaysFails, &options)
    });
    let took = started.elapsed();
    let outcome = match &result {
        Ok(run) => format!(
            "{} {} ({} events)",
            run.status.as_aws(),
            run.error.as_deref().unwrap_or(""),
            run.history.len()
        ),
        Err(e) => format!("rejected: {e}"),
    };
    let outcome: String = outcome.chars().take(100).collect();
    println!(
        "| {name} | {:.1} MiB | {:.2} s | {outcome} |",
        peak_kib() as f64 / 1024.0,
        took.as_secs_f64()
    );
}

fn main() {
    if let Some(name) = std::env::args().nth(1) {
        run_one(&name);
        return;
    }
    let Ok(me) = std::env::current_exe() else {
        eprintln!("cannot find the example's own executable");
        return;
    };
    println!("| input | peak RSS (VmHWM) | time | outcome |\n|---|---|---|---|");
    for name in SCENARIOS {
        match std::process::Command::new(&me).arg(name).output() {
            Ok(out) => print!("{}", String::from_utf8_lossy(&out.stdout)),
            Err(e) => eprintln!("{name}: {e}"),
        }
    }
}
