//! Collects the 100,000-finding account of `scenarios/large.json` through the ports, once with
//! Inspector v2 (its settings) and once with Inspector Classic (engine overridden), and prints
//! the time, the findings collected and the AWS calls the adapters would have made.
//!
//! `cargo run --release -p scanflow-sandbox --example collect_large [out-dir]`

use std::path::PathBuf;
use std::time::Instant;

use scanflow_core::model::Engine;
use scanflow_core::ports::{MemberAccount, Platform, RunStatus};
use scanflow_core::state::Run;
use scanflow_sandbox::{Sandbox, Scenario};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("scanflow-collect-large"));
    let scenario = Scenario::from_file(&root.join("scenarios/large.json"))?;
    let account = scenario.accounts[0].clone();
    for engine in [Engine::Inspector2, Engine::Classic] {
        let _ = std::fs::remove_dir_all(&out);
        let sandbox = Sandbox::new(scenario.clone(), &out, None)?;
        let t0 = time::macros::datetime!(2026-11-28 10:00 UTC);
        sandbox.set_now(t0);
        let started = Instant::now();
        let member =
            pollster::block_on(sandbox.member(&account.account_id, &account.region, "bench"))?;
        let mut settings = pollster::block_on(member.settings())?;
        settings.engine = engine;
        let scan = pollster::block_on(member.start_scan(&settings, "bench"))?;
        let run = Run {
            account_id: account.account_id.clone(),
            region: account.region.clone(),
            engine,
            run_id: scan.run_id,
            tag: settings.tag.clone(),
            duration_seconds: settings.duration_seconds,
            started_at: scanflow_core::time::format(t0),
            deadline: scanflow_core::time::format(t0 + time::Duration::hours(4)),
            wait_seconds: 0,
            rerun: false,
            execution: "bench".into(),
            adopted: false,
            scheduled_at: None,
            sla_days: None,
            v2_readiness: None,
            cis: None,
        };
        sandbox.set_now(t0 + time::Duration::hours(3));
        let ready = Instant::now();
        match pollster::block_on(member.run_status(&run))? {
            RunStatus::Succeeded { .. } => {}
            other => return Err(format!("{engine}: run not done: {other:?}").into()),
        }
        let ready = ready.elapsed();
        let collecting = Instant::now();
        let mut cursor = None;
        let mut findings = 0usize;
        loop {
            let page = pollster::block_on(member.findings_page(&run, cursor))?;
            findings += page.findings.len();
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        let collecting = collecting.elapsed();
        let coverage = pollster::block_on(member.coverage(&run))?;
        let elapsed = started.elapsed();
        let report_bytes: u64 = std::fs::read_dir(
            out.join("s3/inspector2-reports")
                .join(&account.account_id)
                .join(&account.region),
        )
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
        println!(
            "{engine}: {findings} findings, {} instances scanned, {:.2} s in all ({:.2} s until \
             done, {:.2} s collecting), report object {:.1} MB",
            coverage.scanned.len(),
            elapsed.as_secs_f64(),
            ready.as_secs_f64(),
            collecting.as_secs_f64(),
            report_bytes as f64 / 1e6
        );
        for (call, n) in sandbox.api_calls() {
            println!("  {call:<40} {n:>7}");
        }
    }
    Ok(())
}
