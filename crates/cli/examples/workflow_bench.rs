//! Benchmark of the local workflow: wall time of the default scenario, state transitions per
//! execution (including a one-hour Classic scan), and the 100,000-finding scenario's time,
//! peak memory, API calls and messages. Run: `cargo run --release -p scanflow --example workflow_bench`.

use std::path::Path;
use std::time::Instant;

use scanflow_cli::definition::Workflow;
use scanflow_cli::local::{self, RunOptions};
use scanflow_core::model::Engine;
use scanflow_sandbox::Scenario;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workflow = Workflow::load(
        &root.join("statemachine/scan.asl.json"),
        Some(&root.join("templates/hub.yaml")),
    )?;
    let start_time = time::macros::datetime!(2026-11-28 02:00 UTC);
    let out = std::env::temp_dir().join("scanflow-bench");
    let options = |scenario: Scenario| RunOptions {
        scenario,
        inputs: vec![],
        out_dir: out.clone(),
        http_endpoint: None,
        start_time,
        seed: 1,
        redrive_after: None,
        repeat: 1,
        every: local::DEFAULT_EVERY,
    };

    const ROUNDS: u32 = 5;
    let began = Instant::now();
    let mut last = None;
    for _ in 0..ROUNDS {
        last = Some(local::run(
            &workflow,
            options(Scenario::default_scenario().expect("the built-in scenario")),
        )?);
    }
    let per_round = began.elapsed() / ROUNDS;
    println!(
        "default scenario: {:.1} ms per run (mean of {ROUNDS})",
        per_round.as_secs_f64() * 1e3
    );
    if let Some(run) = &last {
        for ex in &run.executions {
            println!(
                "  {:<48} {:<9} {:>3} transitions",
                ex.name,
                ex.execution.status.as_aws(),
                ex.execution.transitions
            );
        }
    }

    let mut hour = Scenario::default_scenario().expect("the built-in scenario");
    hour.accounts
        .retain(|a| a.settings.engine == Engine::Classic && a.role_deployed);
    for a in &mut hour.accounts {
        a.settings.duration_seconds = 3600;
    }
    let run = local::run(&workflow, options(hour))?;
    for ex in &run.executions {
        let virtual_time = ex.execution.end_time - start_time;
        println!(
            "one-hour Classic scan: {} transitions, {} min virtual",
            ex.execution.transitions,
            virtual_time.whole_minutes()
        );
    }

    let large = Scenario::from_file(&root.join("crates/sandbox/scenarios/large.json"))?;
    let began = Instant::now();
    let run = local::run(&workflow, options(large))?;
    let took = began.elapsed();
    let messages = run.sandbox.sns_messages();
    let biggest = messages.iter().map(|m| m.message.len()).max().unwrap_or(0);
    for ex in &run.executions {
        let largest_state = ex
            .execution
            .history
            .iter()
            .flat_map(|e| [&e.input, &e.output])
            .flatten()
            .map(|v| serde_json::to_vec(v).map_or(0, |b| b.len()))
            .max()
            .unwrap_or(0);
        println!(
            "large scenario: {} {}, {} transitions, largest state payload {largest_state} B",
            ex.name,
            ex.execution.status.as_aws(),
            ex.execution.transitions
        );
    }
    println!(
        "large scenario: {:.2} s, {} SNS messages (largest body {biggest} B), peak RSS {} MiB",
        took.as_secs_f64(),
        messages.len(),
        peak_rss_mib()
    );
    for (call, n) in run.sandbox.api_calls() {
        println!("  {call:<40} {n:>7}");
    }
    Ok(())
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
}
