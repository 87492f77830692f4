//! The run state at scale: one Inspector v2 account with 250,000 findings, scanned twice a week
//! apart (5,000 fixed and 5,000 introduced between the scans). Each scan is collected on the
//! sandbox, formatted (lifecycle computed, next state written pending) and its state promoted
//! as publish does; prints the time and peak memory (VmHWM, reset before each step) of every
//! format and promotion, and the sizes of the state objects.
//!
//! `cargo run --release -p format --example lifecycle_bench [out-dir] [scanflow|ocsf]` (the
//! second argument is the hub's `SiemFormat`; default scanflow).

use std::path::{Path, PathBuf};
use std::time::Instant;

use scanflow_core::keys;
use scanflow_core::lifecycle;
use scanflow_core::model::Engine;
use scanflow_core::ports::{MemberAccount, Platform};
use scanflow_core::state::{CollectInput, FormatInput, Run};
use scanflow_sandbox::{Sandbox, Scenario};

const FINDINGS: u32 = 250_000;
const CHURN: u32 = 5_000;

fn scenario(siem_format: &str) -> Result<Scenario, Box<dyn std::error::Error>> {
    let instances: Vec<serde_json::Value> = (0..200)
        .map(|i| serde_json::json!({"id": format!("i-{i:017x}")}))
        .collect();
    let text = serde_json::json!({
        "hub": {"accountId": "999999999999", "region": "eu-west-1",
                "config": {"siemFormat": siem_format}},
        "accounts": [{
            "accountId": "111122223333", "region": "eu-west-1",
            "settings": {"engine": "inspector2"},
            "instances": instances,
            "findings": {
                "generate": {"count": FINDINGS, "seed": 250},
                "churn": {"fixedPerScan": CHURN, "introducedPerScan": CHURN}
            }
        }]
    });
    Ok(Scenario::from_json(&text.to_string())?)
}

/// Resets the peak resident set (Linux: `5` to clear_refs), so each step's peak is its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_mib() -> f64 {
    status_mib("VmHWM:")
}

/// The resident set now: what the sandbox itself holds (its generated findings) before a step.
fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn size_of(root: &Path, key: &str) -> u64 {
    std::fs::metadata(root.join("s3").join(key)).map_or(0, |m| m.len())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("scanflow-lifecycle-bench"));
    let siem_format = std::env::args().nth(2).unwrap_or_else(|| "scanflow".into());
    let _ = std::fs::remove_dir_all(&out);
    let sandbox = Sandbox::new(scenario(&siem_format)?, &out, None)?;
    let (account, region) = ("111122223333", "eu-west-1");
    let t0 = time::macros::datetime!(2026-11-30 03:00 UTC);
    println!(
        "{FINDINGS} findings, {CHURN} fixed and {CHURN} introduced between 2 scans; SIEM format \
         {siem_format}"
    );
    for scan in 1..=2 {
        let start = t0 + time::Duration::days(7 * (scan - 1));
        sandbox.set_now(start);
        let execution = format!("bench-{scan}");
        let member = pollster::block_on(sandbox.member(account, region, &execution))?;
        let settings = pollster::block_on(member.settings())?;
        let started = pollster::block_on(member.start_scan(&settings, &execution))?;
        let run = Run {
            account_id: account.into(),
            region: region.into(),
            engine: Engine::Inspector2,
            run_id: started.run_id,
            tag: None,
            duration_seconds: settings.duration_seconds,
            started_at: scanflow_core::time::format(start),
            deadline: scanflow_core::time::format(start + time::Duration::hours(4)),
            wait_seconds: 0,
            rerun: false,
            execution,
            adopted: false,
            scheduled_at: None,
            sla_days: None,
            v2_readiness: None,
            cis: None,
        };
        let now = start + time::Duration::minutes(5);
        sandbox.set_now(now);
        let _ = pollster::block_on(member.run_status(&run))?;
        let collected = pollster::block_on(collect_findings::collect(
            &sandbox,
            &CollectInput {
                run: run.clone(),
                now: scanflow_core::time::format(now),
            },
        ))?;

        reset_peak();
        let before = rss_mib();
        let t = Instant::now();
        let formatted = pollster::block_on(format::format_run(
            &sandbox,
            &FormatInput {
                run: run.clone(),
                collected,
            },
        ))?;
        let format_time = t.elapsed();
        let format_peak = peak_mib();
        let n = formatted.siem_parts;
        let siem_bytes: u64 = (1..=n)
            .map(|i| size_of(&out, &keys::siem_part(&run, i, n)))
            .sum();

        reset_peak();
        let t = Instant::now();
        pollster::block_on(lifecycle::promote(sandbox.store(), &run))?;
        let promote_time = t.elapsed();
        let promote_peak = peak_mib();

        let pointer = pollster::block_on(lifecycle::read_pointer(
            sandbox.store(),
            &keys::lifecycle_current(account, region),
        ))?
        .ok_or("no current state after promotion")?;
        let chunk_bytes: u64 = pointer.chunks.iter().map(|k| size_of(&out, k)).sum();
        let digest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("s3").join(keys::digest(&run)))?)?;
        let body = digest["body"].as_str().unwrap_or_default();
        let figure = |label: &str| {
            body.lines()
                .find(|l| l.starts_with(label))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        };
        println!(
            "scan {scan}: format {:.2} s, peak {format_peak:.0} MiB (process RSS before: \
             {before:.0} MiB; {n} SIEM parts, {:.1} MiB); promote {:.3} s, peak \
             {promote_peak:.0} MiB",
            format_time.as_secs_f64(),
            siem_bytes as f64 / 1_048_576.0,
            promote_time.as_secs_f64()
        );
        println!(
            "  state: {} records in {} chunks, {:.1} MiB ({:.0} bytes/record); pending pointer {} bytes",
            pointer.findings,
            pointer.chunks.len(),
            chunk_bytes as f64 / 1_048_576.0,
            chunk_bytes as f64 / pointer.findings.max(1) as f64,
            size_of(&out, &keys::lifecycle_pending(&run)),
        );
        println!(
            "  digest: {} · {}",
            figure("New critical/high:"),
            figure("Resolved:")
        );
    }
    Ok(())
}
