//! Cold start of every built bootstrap: spawns each function binary (the five steps, publish's
//! `notify` and fleet-watch) against a local fake Lambda Runtime API with the environment its
//! configuration needs, and reports the time from spawn to its first `GET /invocation/next`
//! (configuration read, SDK configuration loaded, clients built: `lambda::run`'s cold start)
//! and its peak resident set (VmHWM) at that moment. Medians of `--runs` spawns (default 10).
//!
//! Build the bootstraps first, then run (the target dir defaults to `target`):
//! `cargo build --release -p start-run -p check-status -p collect-findings -p format -p publish -p fleet-watch`
//! `cargo run --release -p scanflow-aws --example cold_start -- [--bin-dir DIR] [--runs N] [--write FILE]`
//!
//! `--write benchmarks/cold-start.json` records the figures `tests/consistency.rs` checks each
//! function's MemorySize against.

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runtime_api::RuntimeApi;

/// The bootstraps: binary name and the function name `lambda::run` is given.
const BOOTSTRAPS: &[(&str, &str)] = &[
    ("start-run", "start-run"),
    ("check-status", "check-status"),
    ("collect-findings", "collect-findings"),
    ("format", "format"),
    ("publish", "publish"),
    ("notify", "notify"),
    ("fleet-watch", "fleet-watch"),
];

/// A plausible value for each variable a function's configuration reads.
fn value_of(variable: &str) -> &'static str {
    match variable {
        "SCAN_ROLE_NAME" => "scanflow-scan",
        "EXTERNAL_ID" => "scanflow-bench",
        "SETTINGS_PARAMETER" => "/scanflow/settings",
        "REPORT_BUCKET" => "scanflow-reports-999999999999",
        "REPORT_KMS_KEY_ARN" => {
            "arn:aws:kms:eu-west-1:999999999999:key/00000000-0000-0000-0000-000000000000"
        }
        "HUB_ACCOUNT_ID" => "999999999999",
        "TOPIC_ARN" => "arn:aws:sns:eu-west-1:999999999999:scanflow",
        "SLA_DAYS" => "critical=15",
        _ => "x",
    }
}

fn vm_hwm_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bin_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from("target"), PathBuf::from)
        .join("release");
    let mut runs = 10usize;
    let mut write = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bin-dir" => bin_dir = PathBuf::from(args.next().ok_or("--bin-dir needs a dir")?),
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--write" => write = Some(args.next().ok_or("--write needs a file")?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let api = RuntimeApi::start()?;
    let mut figures = serde_json::Map::new();
    println!(
        "bootstraps in {}, median of {runs} spawns",
        bin_dir.display()
    );
    println!(
        "{:<17} {:>14} {:>14}",
        "function", "to /next ms", "peak RSS MiB"
    );
    for (bin, function) in BOOTSTRAPS {
        let path = bin_dir.join(bin);
        if !path.exists() {
            println!("{bin:<17} not built ({})", path.display());
            continue;
        }
        let needs = scanflow_aws::iam::function_env(function)
            .ok_or_else(|| format!("{function} is not a known function"))?;
        let (mut times, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            api.reset();
            let mut command = Command::new(&path);
            command
                .env_clear()
                .env("AWS_LAMBDA_RUNTIME_API", api.address())
                .env("AWS_LAMBDA_FUNCTION_NAME", *function)
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_REGION", "eu-west-1")
                .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
                .env("AWS_SECRET_ACCESS_KEY", "bench")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for variable in needs {
                command.env(variable, value_of(variable));
            }
            let started = Instant::now();
            let mut child = command.spawn()?;
            let seen = api.wait(Duration::from_secs(10), |s| {
                s.first_next.is_some() || s.init_error.is_some()
            });
            let peak = vm_hwm_mib(child.id());
            let _ = child.kill();
            let _ = child.wait();
            match (seen.first_next, seen.init_error) {
                (Some(at), _) => {
                    times.push(at.duration_since(started).as_secs_f64() * 1000.0);
                    rss.push(peak);
                }
                (None, Some((_, body))) => {
                    return Err(format!("{bin} did not start: {body}").into());
                }
                (None, None) => return Err(format!("{bin} never reached /next").into()),
            }
        }
        let (ms, mib) = (median(times), median(rss));
        println!("{bin:<17} {ms:>14.1} {mib:>14.1}");
        figures.insert(
            (*bin).to_owned(),
            serde_json::json!({
                "toNextMs": (ms * 10.0).round() / 10.0,
                "peakRssMib": (mib * 10.0).round() / 10.0,
            }),
        );
    }
    if let Some(path) = write {
        let doc = serde_json::json!({
            "command": "cargo run --release -p scanflow-aws --example cold_start -- --write benchmarks/cold-start.json",
            "runs": runs,
            "functions": figures,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")?;
        println!("wrote {path}");
    }
    Ok(())
}
