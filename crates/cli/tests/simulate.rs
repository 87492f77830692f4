//! `scanflow simulate` on a small fleet under quotas tight enough that every model bites: no
//! execution is lost, every throttle is retried, and the report's counts agree with what the
//! executions' histories and the handlers' outputs say (counted apart from the report's own
//! counters).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use scanflow_cli::definition::Workflow;
use scanflow_cli::simulate::{self, SimulateOptions, Simulation, TemplateFacts, cost};
use scanflow_core::ports::Platform as _;
use scanflow_sandbox::quota::{LAMBDA_INVOKE, QuotaSpec, START_EXECUTION};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn facts() -> TemplateFacts {
    TemplateFacts::read(
        &repo().join("templates/hub.yaml"),
        &repo().join("templates/member.yaml"),
    )
    .expect("the templates")
}

fn simulate(label: &str, accounts: u32, regions: u32, quotas: QuotaSpec) -> Simulation {
    run(options(label, accounts, regions, quotas, 1, true))
}

fn run(options: SimulateOptions) -> Simulation {
    let root = repo();
    let workflow = Workflow::load(
        &root.join("statemachine/scan.asl.json"),
        Some(&root.join("templates/hub.yaml")),
    )
    .expect("the definition");
    simulate::run(workflow, options).expect("the simulation runs")
}

fn options(
    label: &str,
    accounts: u32,
    regions: u32,
    quotas: QuotaSpec,
    slots: usize,
    bill_cpu: bool,
) -> SimulateOptions {
    let facts = facts();
    SimulateOptions {
        accounts,
        regions,
        findings: 150,
        same_minute: true,
        quotas,
        prices: cost::default_prices(),
        schedule: facts.schedule.clone(),
        facts,
        start_time: time::macros::datetime!(2026-11-30 03:00 UTC),
        out_dir: std::env::temp_dir()
            .join(format!("scanflow-simulate-{}-{label}", std::process::id())),
        seed: 11,
        slots,
        bill_cpu,
        keep: false,
    }
}

/// Quotas a small fleet meets: four Lambda slots, a start bucket of 5 refilled at 2 a second,
/// SNS at 3 publishes a second.
fn tight() -> QuotaSpec {
    let mut q = QuotaSpec::aws_defaults(simulate::REGIONS[0]);
    q.lambda_concurrency = 4;
    let set = |q: &mut QuotaSpec, action: &str, rate: f64, burst: f64| {
        let r = q.rates.get_mut(action).expect("a modelled quota");
        r.rate = rate;
        r.burst = burst;
    };
    set(&mut q, START_EXECUTION, 2.0, 5.0);
    set(&mut q, "sns:Publish", 3.0, 3.0);
    q
}

#[test]
fn a_throttled_fleet_loses_nothing_and_its_counts_add_up() {
    let sim = simulate("tight", 12, 2, tight());
    let r = &sim.report;
    let ex = &sim.executions;

    // Every execution: scanned and delivered (none needed a notice here), none lost.
    assert_eq!(ex.len(), 24);
    assert_eq!(r.executions.total, 24);
    assert_eq!(
        r.lost,
        0,
        "{:?}",
        ex.iter().filter(|e| !e.scanned).collect::<Vec<_>>()
    );
    assert!(ex.iter().all(|e| e.scanned && e.status == "SUCCEEDED"));
    assert_eq!(
        r.executions.scanned + r.executions.noticed + r.executions.lost,
        r.executions.total
    );

    // Each quota bit, and every refusal was tried again.
    for action in [LAMBDA_INVOKE, START_EXECUTION, "sns:Publish"] {
        let t = r.throttles.by_quota.get(action).expect(action);
        assert!(t.refused > 0, "{action} never throttled");
        assert_eq!(t.retried, t.refused, "{action}");
    }
    assert_eq!(r.throttles.not_retried, 0);
    assert_eq!(r.throttles.retried, r.throttles.met);
    assert!(r.lambda_peak_concurrency <= 4);
    assert_eq!(r.lambda_peak_concurrency, 4, "the slots were all used");
    // A start refused is a start attempted again: attempts = 1 + refusals.
    let extra_starts: u64 = ex.iter().map(|e| u64::from(e.start_attempts - 1)).sum();
    assert_eq!(extra_starts, r.throttles.by_quota[START_EXECUTION].refused);

    // Lambda throttles as the histories saw them (TaskFailed events) and as the model counted.
    let from_history: u64 = ex.iter().map(|e| e.lambda_throttled).sum();
    assert_eq!(from_history, r.throttles.by_quota[LAMBDA_INVOKE].refused);

    // Transitions: state entries and retries in the histories, against the engine's count.
    let from_history: u64 = ex.iter().map(|e| e.history_transitions).sum();
    assert_eq!(from_history, r.transitions);

    // Task attempts per function = invocations Lambda ran + those it throttled.
    let mut attempts: BTreeMap<String, u64> = BTreeMap::new();
    for e in ex {
        for (f, n) in &e.task_attempts {
            *attempts.entry(f.clone()).or_default() += n;
        }
    }
    for (f, n) in &attempts {
        let used = r.lambda.get(f).expect(f);
        assert_eq!(*n, used.invocations + used.throttled, "{f}");
        assert!(used.gb_seconds > 0.0, "{f}");
    }

    // Every delivery is its digest and each SIEM part exactly once, though SNS throttled: the
    // handlers' outputs, the sandbox's call counter and the messages recorded all agree.
    for e in ex {
        assert_eq!(e.delivery_messages, 1 + e.siem_parts, "{e:?}");
    }
    let delivered: u64 = ex
        .iter()
        .map(|e| e.delivery_messages + e.notice_messages)
        .sum();
    assert_eq!(r.api_calls["sns:Publish"], delivered);
    assert_eq!(r.sns.messages, delivered);
    assert_eq!(r.sns.email_deliveries, 24, "one digest each");

    // The cost is the sum of its lines, and every line is priced.
    let sum: f64 = r.cost.lines.iter().map(|l| l.monthly_usd).sum();
    assert!((sum - r.monthly_cost_usd).abs() < 1e-9);
    assert!(r.monthly_cost_usd > 0.0);
    let json = serde_json::to_value(r).expect("json");
    for key in [
        "executions",
        "lost",
        "throttles",
        "transitions",
        "lambdaGbSeconds",
        "apiCalls",
        "monthlyCostUsd",
    ] {
        assert!(json.get(key).is_some(), "--json has {key}");
    }
}

/// The report and every execution's summary, less what this machine's speed sets (wall and
/// CPU seconds).
fn figures(sim: &Simulation) -> serde_json::Value {
    let mut report = serde_json::to_value(&sim.report).expect("json");
    report["wallSeconds"] = serde_json::Value::Null;
    if let Some(functions) = report["lambda"].as_object_mut() {
        for f in functions.values_mut() {
            f["handlerWallSeconds"] = serde_json::Value::Null;
            f["handlerCpuSeconds"] = serde_json::Value::Null;
        }
    }
    serde_json::json!({"report": report, "executions": sim.executions})
}

/// Where two JSON values differ (paths and the two values), at most a few.
fn differences(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        use serde_json::Value;
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x {
                    walk(
                        v,
                        y.get(k).unwrap_or(&Value::Null),
                        &format!("{path}.{k}"),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (v, w)) in x.iter().zip(y).enumerate() {
                    walk(v, w, &format!("{path}[{i}]"), out);
                }
            }
            _ if a != b && out.len() < 12 => out.push(format!("{path}: {a} vs {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out);
    out
}

#[test]
fn invocations_run_at_once_give_the_figures_of_one_at_a_time() {
    // Without the handlers' CPU time (which this machine's load sets) an invocation takes its
    // calls and waits only, so one slot gives the same figures every time, and the quotas
    // bite hard here: any request reaching a model out of turn would change them.
    // Labels of one length: the digest links to the report by its file's path.
    let one = run(options("slots-1", 8, 2, tight(), 1, false));
    assert_eq!(one.report.lost, 0);
    for action in [LAMBDA_INVOKE, START_EXECUTION, "sns:Publish"] {
        assert!(
            one.report.throttles.by_quota[action].refused > 0,
            "{action} never throttled"
        );
    }
    let again = run(options("again-1", 8, 2, tight(), 1, false));
    assert_eq!(
        differences(&figures(&one), &figures(&again)),
        Vec::<String>::new()
    );
    on_more_slots(&one, "slots", &tight());
}

/// Runs `one`'s fleet (8 accounts × 2 Regions, `quotas`, one slot) on 2 and 3 slots: no shared
/// call out of turn and every figure `one`'s. Returns how many turns each started ahead.
/// `label` has the length of `one`'s label less its `-1`: the digest links to the report by
/// its file's path.
fn on_more_slots(one: &Simulation, label: &str, quotas: &QuotaSpec) -> [u64; 2] {
    [2, 3].map(|slots| {
        let many = run(options(
            &format!("{label}-{slots}"),
            8,
            2,
            quotas.clone(),
            slots,
            false,
        ));
        assert_eq!(many.report.shared_calls_unordered, 0);
        assert_eq!(
            differences(&figures(one), &figures(&many)),
            Vec::<String>::new(),
            "{slots} slots"
        );
        many.started_ahead
    })
}

#[test]
fn turns_started_ahead_of_a_waiting_publish_give_the_figures_of_time_order() {
    // Lambda slots to spare and SNS tight: a publish waits for the one running, and turns
    // behind it start ahead of it; each asks for its Lambda slot out of time order, which
    // must change nothing.
    let mut roomy = tight();
    roomy.lambda_concurrency = 1_000;
    let one = run(options("ahead-1", 8, 2, roomy.clone(), 1, false));
    assert_eq!(one.report.lost, 0);
    assert_eq!(one.started_ahead, 0, "one slot runs in time order");
    assert!(one.report.throttles.by_quota["sns:Publish"].refused > 0);
    for (slots, ahead) in [2, 3].into_iter().zip(on_more_slots(&one, "ahead", &roomy)) {
        assert!(ahead > 0, "{slots} slots never started a turn ahead");
    }
}

#[test]
fn the_scratch_bucket_gives_the_figures_of_a_bucket_of_files() {
    // Without --keep the objects are held in the scratch bucket (memory, then packs), with it
    // they are files: the executions, calls, bytes and messages must not depend on which.
    // Labels of one length: the digest links to the report by its file's path.
    let scratch = run(options("bucket-s", 6, 2, tight(), 2, false));
    let folder = run(SimulateOptions {
        keep: true,
        ..options("bucket-f", 6, 2, tight(), 2, false)
    });
    assert!(scratch.report.s3_bytes_stored > 0);
    assert_eq!(
        differences(&figures(&scratch), &figures(&folder)),
        Vec::<String>::new()
    );
    // Kept, the scans' objects are there to open; without it, counted and let go.
    let kept = folder.sandbox.store().root().join("scanflow");
    assert!(kept.join("200000000000").is_dir(), "{}", kept.display());
    assert!(
        !scratch
            .sandbox
            .store()
            .root()
            .join("scanflow/200000000000")
            .exists()
    );
}

#[test]
fn a_start_that_never_gets_a_token_is_lost_to_the_dead_letter_queue() {
    let mut q = QuotaSpec::aws_defaults(simulate::REGIONS[0]);
    let start = q.rates.get_mut(START_EXECUTION).expect("modelled");
    start.rate = 1e-6;
    start.burst = 1.0;
    let sim = simulate("dlq", 3, 1, q);
    let r = &sim.report;
    assert_eq!(r.executions.scanned, 1);
    assert_eq!(r.lost, 2);
    let lost: Vec<_> = sim
        .executions
        .iter()
        .filter(|e| e.status == "NOT_STARTED")
        .collect();
    assert_eq!(lost.len(), 2);
    let facts = facts();
    // EventBridge gave up within the rule target's RetryPolicy.
    assert!(
        lost.iter()
            .all(|e| e.start_attempts <= facts.start_retry_attempts + 1)
    );
    assert_eq!(r.throttles.by_quota[START_EXECUTION].not_retried, 2);
    assert_eq!(r.throttles.not_retried, 2);
}

#[test]
fn memory_sizes_come_from_the_template() {
    let facts = facts();
    let text = std::fs::read_to_string(repo().join("templates/hub.yaml")).expect("hub.yaml");
    for f in simulate::per_execution_functions() {
        let mb = facts.memory_mb[f];
        assert!((128..=10_240).contains(&mb), "{f}: {mb}");
        // The figure appears in the template (as the function's or the Globals' MemorySize).
        assert!(text.contains(&format!("MemorySize: {mb}")), "{f}: {mb}");
    }
    assert!(facts.start_retry_attempts >= 1);
    assert!(facts.window_minutes > 0);
}
