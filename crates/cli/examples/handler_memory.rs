//! Per-handler memory and time at scale: one Inspector v2 account with N findings (10,000,
//! 100,000 and 250,000 by default) goes through start-run, check-status, collect-findings,
//! format and publish on the sandbox, the way the state machine calls them. For every step it
//! prints the wall and CPU time and, from a counting allocator, the heap the sandbox held
//! before the step (generated findings, caches), the heap the step left behind (what the
//! sandbox kept of it: simulated Security Hub state, counters; a handler returns only a small
//! record), and the handler's own peak: the step's peak above what was live before it, less
//! what the sandbox kept. Also the process's peak resident set during the step (VmHWM, reset
//! before each step). The sandbox generates the account's findings (and tells its Security Hub
//! about them, as Inspector does) at start-run, where they stay as what the sandbox kept;
//! collect-findings reads them with `ListFindings`, 100 a page. Format's throughput is printed per CPU second of the process (robust on a
//! shared machine) and per wall second.
//!
//! With `--write FILE` the figures are also written as JSON; the
//! committed copy (`benchmarks/handler-memory.json`) `tests/consistency.rs` checks each function's MemorySize against.
//!
//! `cargo run --release -p scanflow --example handler_memory -- [--write benchmarks/handler-memory.json] [N ...]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use scanflow_core::state::{
    CheckStatusInput, CollectInput, ExecutionContext, FormatInput, PublishInput, Run, StartOutcome,
    StartRunInput, Status,
};
use scanflow_sandbox::{Sandbox, Scenario};

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grown = new_size - layout.size();
                let live = LIVE.fetch_add(grown, Ordering::Relaxed) + grown;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: f64 = 1024.0 * 1024.0;

/// One step's figures.
#[derive(Debug, Clone)]
struct StepFigures {
    seconds: f64,
    /// CPU seconds (user + system) of the process during the step.
    cpu_seconds: f64,
    /// Peak heap of the step above what was live before it, less what the sandbox kept.
    handler_heap_mib: f64,
    /// Heap live after the step that was not before: what the sandbox kept of the step.
    sandbox_kept_mib: f64,
    /// Heap live before the step: what the sandbox (and the bench) hold.
    sandbox_heap_mib: f64,
    /// Peak resident set of the whole process during the step.
    process_peak_rss_mib: f64,
}

impl StepFigures {
    fn to_json(&self) -> serde_json::Value {
        let r = |x: f64| (x * 100.0).round() / 100.0;
        serde_json::json!({
            "seconds": r(self.seconds),
            "cpuSeconds": r(self.cpu_seconds),
            "handlerHeapMib": r(self.handler_heap_mib),
            "sandboxKeptMib": r(self.sandbox_kept_mib),
            "sandboxHeapMib": r(self.sandbox_heap_mib),
            "processPeakRssMib": r(self.process_peak_rss_mib),
        })
    }
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

/// CPU time of the process so far (Linux `/proc/self/stat`, clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

/// Runs one step and measures it.
fn measure<T>(work: impl Future<Output = T>) -> (T, StepFigures) {
    // Linux: writing 5 to clear_refs resets VmHWM, so each step's peak is its own.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let t = Instant::now();
    let cpu = cpu_seconds();
    let out = pollster::block_on(work);
    let seconds = t.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds() - cpu;
    let peak = PEAK.load(Ordering::Relaxed);
    let kept = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    (
        out,
        StepFigures {
            seconds,
            cpu_seconds,
            handler_heap_mib: peak.saturating_sub(before).saturating_sub(kept) as f64 / MIB,
            sandbox_kept_mib: kept as f64 / MIB,
            sandbox_heap_mib: before as f64 / MIB,
            process_peak_rss_mib: status_mib("VmHWM:"),
        },
    )
}

fn scenario(findings: u32) -> Result<Scenario, Box<dyn std::error::Error>> {
    let instances: Vec<serde_json::Value> = (0..200)
        .map(|i| serde_json::json!({"id": format!("i-{i:017x}")}))
        .collect();
    let text = serde_json::json!({
        "hub": {"accountId": "999999999999", "region": "eu-west-1"},
        "accounts": [{
            "accountId": "111122223333", "region": "eu-west-1",
            "settings": {"engine": "inspector2"},
            "instances": instances,
            "findings": {"generate": {"count": findings, "seed": 13}}
        }]
    });
    Ok(Scenario::from_json(&text.to_string())?)
}

type Figures = BTreeMap<&'static str, StepFigures>;

/// A run's figures per step, and format's findings per CPU second and per wall second.
fn run_one(findings: u32) -> Result<(Figures, (f64, f64)), Box<dyn std::error::Error>> {
    let out = std::env::temp_dir().join(format!("scanflow-handler-memory-{findings}"));
    let _ = std::fs::remove_dir_all(&out);
    let sandbox = Sandbox::new(scenario(findings)?, &out, None)?;
    let t0 = time::macros::datetime!(2026-11-30 03:00 UTC);
    sandbox.set_now(t0);
    let fmt = scanflow_core::time::format;
    let mut figures = Figures::new();

    let event = StartRunInput {
        input: serde_json::json!({"accountId": "111122223333", "region": "eu-west-1"}),
        execution: ExecutionContext {
            name: "bench".into(),
            start_time: fmt(t0),
        },
    };
    let (started, f) = measure(start_run::start(&sandbox, &event));
    figures.insert("start-run", f);
    let run: Run = match started? {
        StartOutcome::Run(run) => *run,
        other => return Err(format!("start-run did not start a scan: {other:?}").into()),
    };

    let mut now = t0 + time::Duration::minutes(30);
    sandbox.set_now(now);
    let mut polls = 0;
    let status = loop {
        now += time::Duration::minutes(5);
        sandbox.set_now(now);
        let input = CheckStatusInput {
            run: run.clone(),
            now: fmt(now),
        };
        let (status, f) = measure(check_status::check(&sandbox, &input));
        figures.insert("check-status", f);
        let status: Status = status?;
        polls += 1;
        if status.done || polls > 100 {
            break status;
        }
        now += time::Duration::minutes(5);
    };
    if !status.done {
        return Err("the run never became ready".into());
    }

    let (collected, f) = measure(collect_findings::collect(
        &sandbox,
        &CollectInput {
            run: run.clone(),
            now: fmt(now),
        },
    ));
    figures.insert("collect-findings", f);
    let collected = collected?;

    let (formatted, f) = measure(format::format_run(
        &sandbox,
        &FormatInput {
            run: run.clone(),
            collected: collected.clone(),
        },
    ));
    let format_rate = (
        f64::from(findings) / f.cpu_seconds,
        f64::from(findings) / f.seconds,
    );
    figures.insert("format", f);
    let formatted = formatted?;
    println!("  ({} SIEM parts)", formatted.siem_parts);

    sandbox.begin_publish_invocation();
    let (published, f) = measure(publish::publish(
        &sandbox,
        &PublishInput {
            run,
            collected,
            formatted,
        },
    ));
    sandbox.end_publish_invocation();
    figures.insert("publish", f);
    published?;
    let _ = std::fs::remove_dir_all(&out);
    Ok((figures, format_rate))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut write = None;
    let mut sizes = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--write" {
            write = Some(args.next().ok_or("--write needs a file")?);
        } else {
            sizes.push(a.parse::<u32>()?);
        }
    }
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000, 250_000];
    }
    let mut all = BTreeMap::new();
    for n in sizes {
        println!("{n} findings");
        let (figures, (rate, wall_rate)) = run_one(n)?;
        println!("  format: {rate:.0} findings per CPU second ({wall_rate:.0} per wall second)");
        println!(
            "  {:<17} {:>7} {:>6} {:>12} {:>12} {:>12} {:>9}",
            "step", "wall s", "CPU s", "handler MiB", "sandbox MiB", "+kept MiB", "peak RSS"
        );
        for (step, f) in &figures {
            println!(
                "  {step:<17} {:>7.2} {:>6.2} {:>12.1} {:>12.1} {:>12.1} {:>9.1}",
                f.seconds,
                f.cpu_seconds,
                f.handler_heap_mib,
                f.sandbox_heap_mib,
                f.sandbox_kept_mib,
                f.process_peak_rss_mib
            );
        }
        all.insert(
            n.to_string(),
            serde_json::json!({
                "formatFindingsPerCpuSecond": rate.round(),
                "formatFindingsPerWallSecond": wall_rate.round(),
                "steps": figures.iter().map(|(k, f)| (k.to_string(), f.to_json())).collect::<serde_json::Map<_, _>>(),
            }),
        );
    }
    if let Some(path) = write {
        let doc = serde_json::json!({
            "command": "cargo run --release -p scanflow --example handler_memory -- --write benchmarks/handler-memory.json",
            "findings": all,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")?;
        println!("wrote {path}");
    }
    Ok(())
}
