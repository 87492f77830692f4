//! Peak memory and time of the worst inputs found for the engine, one process per input
//! (VmHWM is a process's peak): `cargo run --release -p scanflow-asl --example hostile`.
//! With a scenario name as argument, runs that one alone and prints its line.
//!
//! The `exec-*` scenarios go through `scanflow_asl::exec::run`, what `scanflow asl exec`
//! runs (definition and mock files written to a temporary folder), with its default
//! options: they are the worst inputs found for the history's memory.

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
    "exec-fat-strings",
    "exec-fat-numbers",
    "exec-fat-causes",
];

/// The `exec-*` scenarios: definition, input and (for tasks) the mocked failure's cause.
fn exec_scenario(name: &str) -> Option<(Value, Value, Option<String>)> {
    let pass_loop = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "P"}}});
    Some(match name {
        // A string payload 16 bytes under the cap through 25,000 events: ~6 GiB of history
        // data if every event kept it.
        "exec-fat-strings" => (pass_loop, json!({"s": "x".repeat(262_144 - 16)}), None),
        // The densest value per byte of JSON: `0,` is 2 bytes of payload and a 32-byte value.
        "exec-fat-numbers" => (pass_loop, json!({"a": vec![0; 131_060]}), None),
        // A task that always fails with a 200 KB cause, retried without end.
        "exec-fat-causes" => (
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x", "End": true,
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 99_999_999, "IntervalSeconds": 1, "BackoffRate": 1.0}]}}}),
            json!({}),
            Some("c".repeat(200_000)),
        ),
        _ => return None,
    })
}

/// Runs an `exec-*` scenario through `exec::run`, as `scanflow asl exec` does.
fn run_exec(name: &str, def: &Value, input: &Value, cause: Option<&str>) -> Result<String, String> {
    let dir = std::env::temp_dir().join(format!("scanflow-asl-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let definition = dir.join(format!("{name}.asl.json"));
    std::fs::write(&definition, def.to_string()).map_err(|e| e.to_string())?;
    let mocks = dir.join("mocks.json");
    if let Some(cause) = cause {
        let config = json!({
            "StateMachines": {name: {"TestCases": {"worst": {"T": "Fails"}}}},
            "MockedResponses": {"Fails": {"0-99999999": {"Throw": {"Error": "Boom", "Cause": cause}}}}
        });
        std::fs::write(&mocks, config.to_string()).map_err(|e| e.to_string())?;
    }
    let text = input.to_string();
    let result = scanflow_asl::exec::run(
        &definition,
        Some(&text),
        cause.map(|_| (mocks.as_path(), "worst")),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let out = result.map_err(|e| e.to_string())?;
    Ok(format!(
        "{} {} ({} transitions)",
        out["status"].as_str().unwrap_or_default(),
        out["error"].as_str().unwrap_or_default(),
        out["transitions"]
    ))
}

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
    if let Some((def, input, cause)) = exec_scenario(name) {
        let started = Instant::now();
        let outcome = run_exec(name, &def, &input, cause.as_deref()).unwrap_or_else(|e| e);
        let took = started.elapsed();
        let outcome: String = outcome.chars().take(100).collect();
        println!(
            "| {name} | {:.1} MiB | {:.2} s | {outcome} |",
            peak_kib() as f64 / 1024.0,
            took.as_secs_f64()
        );
        return;
    }
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
