//! Engine throughput and memory: state transitions per second and peak RSS (VmHWM) for a
//! 100,000-iteration Pass/Choice loop and for a Map over 10,000 items, with full history kept.
//!
//! Run: `cargo run --release -p scanflow-asl --example bench`. Each scenario runs in its own
//! process so its peak memory is its own.

use scanflow_asl::{
    ExecutionOptions, StateMachine, Status, TaskCall, TaskHandler, TaskOutcome, execute,
};
use serde_json::{Value, json};
use std::process::{Command, ExitCode};
use std::time::Instant;

struct NoTasks;

impl TaskHandler for NoTasks {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        TaskOutcome::Succeeded(call.input.clone())
    }
}

fn scenario(name: &str) -> Option<(Value, Value)> {
    match name {
        "loop" => Some((
            json!({"StartAt": "Init", "States": {
                "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Check"},
                "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericGreaterThanEquals": 100000, "Next": "Done"}], "Default": "Inc"},
                "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
                "Done": {"Type": "Succeed"}
            }}),
            json!({}),
        )),
        "map" => Some((
            json!({"StartAt": "Map", "States": {"Map": {"Type": "Map", "ItemsPath": "$.items", "End": true,
            "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
            "ItemProcessor": {"StartAt": "Double", "States": {
                "Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.n, $.n)"}, "End": true}
            }}}}}),
            json!({"items": (0..10_000).collect::<Vec<u32>>()}),
        )),
        _ => None,
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run_one(name: &str) -> ExitCode {
    let Some((definition, input)) = scenario(name) else {
        eprintln!("unknown scenario '{name}': use loop or map");
        return ExitCode::from(2);
    };
    let machine = match StateMachine::from_value(&definition) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let options = ExecutionOptions {
        max_history_events: None,
        ..ExecutionOptions::default()
    };
    let started = Instant::now();
    let run = execute(&machine, input, &mut NoTasks, &options);
    let secs = started.elapsed().as_secs_f64();
    if run.status != Status::Succeeded {
        eprintln!(
            "{name}: execution ended {:?}: {:?} {:?}",
            run.status, run.error, run.cause
        );
        return ExitCode::FAILURE;
    }
    println!(
        "{name:>4}: {} transitions, {} history events in {:.3} s = {:.0} transitions/s; peak RSS (VmHWM) {} KiB",
        run.transitions,
        run.history.len(),
        secs,
        run.transitions as f64 / secs,
        vm_hwm_kib().map_or_else(|| "unknown".to_string(), |k| k.to_string())
    );
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    if let Some(name) = std::env::args().nth(1) {
        return run_one(&name);
    }
    let Ok(me) = std::env::current_exe() else {
        eprintln!("cannot find this executable to run each scenario in its own process");
        return ExitCode::FAILURE;
    };
    for name in ["loop", "map"] {
        match Command::new(&me).arg(name).status() {
            Ok(s) if s.success() => {}
            other => {
                eprintln!("scenario {name} failed: {other:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
