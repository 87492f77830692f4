//! collect-findings against the sandbox: every finding into chunk objects of the configured
//! size, counts and coverage in the manifest, and no "0 findings" for a scan that reached nothing.

use pollster::block_on;
use scanflow_core::model::{Engine, Finding, SeverityCounts};
use scanflow_core::ports::{Platform, ReportStore};
use scanflow_core::state::{
    CollectCheckpoint, CollectInput, ExecutionContext, Manifest, Run, StartRunInput,
};
use scanflow_core::{ScanError, keys, time};
use scanflow_sandbox::{GeneratorSpec, Sandbox, Scenario};
use serde_json::json;

const START: &str = "2026-11-28T02:00:00Z";

fn finished_v2_run(findings: u32, chunk_size: usize, label: &str) -> (Sandbox, Run) {
    let mut scenario = Scenario::default_scenario().expect("the built-in scenario");
    scenario
        .accounts
        .retain(|a| a.settings.engine == Engine::Inspector2 && a.role_deployed);
    scenario.accounts.truncate(1);
    scenario.accounts[0].findings.list.clear();
    scenario.accounts[0].findings.generate = Some(GeneratorSpec {
        count: findings,
        seed: 3,
    });
    scenario.hub.config.chunk_size = Some(chunk_size);
    // Every instance scanned, so every generated finding is in the report.
    for instance in &mut scenario.accounts[0].instances {
        instance.managed = true;
    }
    let account = scenario.accounts[0].clone();
    let dir = std::env::temp_dir().join(format!("scanflow-collect-{}-{label}", std::process::id()));
    let sb = Sandbox::new(scenario, &dir, None).expect("sandbox");
    let start = time::parse("start", START).expect("time");
    sb.set_now(start);
    let input = StartRunInput {
        input: json!({"accountId": account.account_id, "region": account.region}),
        execution: ExecutionContext {
            name: format!("exec-{label}"),
            start_time: START.into(),
        },
    };
    let run = block_on(start_run::start(&sb, &input))
        .expect("starts")
        .into_run()
        .expect("a run, not a duplicate");
    sb.set_now(time::add_seconds("now", start, 3600).expect("in range"));
    (sb, run)
}

fn collect(sb: &Sandbox, run: &Run) -> Result<scanflow_core::state::Collected, ScanError> {
    block_on(collect_findings::collect(
        sb,
        &CollectInput {
            run: run.clone(),
            now: "2026-11-28T03:00:00Z".into(),
        },
    ))
}

fn read<T: serde::de::DeserializeOwned>(sb: &Sandbox, key: &str) -> T {
    serde_json::from_slice(&block_on(sb.store().get(key)).expect("stored")).expect("json")
}

#[test]
fn findings_are_chunked_at_the_configured_size_and_counted() {
    for (findings, chunk, chunks) in [(7, 3, 3), (6, 3, 2), (5, 5, 1), (6, 5, 2)] {
        let (sb, run) = finished_v2_run(findings, chunk, &format!("chunks-{findings}-{chunk}"));
        let collected = collect(&sb, &run).expect("collects");
        let manifest: Manifest = read(&sb, &collected.manifest_key);
        assert_eq!(
            manifest.chunks.len(),
            chunks,
            "{findings} findings in chunks of {chunk}"
        );
        let mut recount = SeverityCounts::default();
        let mut ids = std::collections::HashSet::new();
        for key in &manifest.chunks {
            let body = block_on(sb.store().get(key)).expect("chunk");
            let lines: Vec<Finding> = body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).expect("finding"))
                .collect();
            assert!(lines.len() <= chunk);
            for f in lines {
                recount.add(f.severity);
                assert!(ids.insert(f.id));
            }
        }
        assert_eq!(recount, collected.counts);
        assert_eq!(collected.counts.total(), u64::from(findings));
        assert_eq!(manifest.counts, collected.counts);
        assert_eq!(manifest.collected_at, "2026-11-28T03:00:00Z");
        assert_eq!(
            collected.instances_scanned,
            manifest.coverage.scanned.len() as u64
        );
    }
}

#[test]
fn a_clean_scan_writes_no_chunk_but_still_records_coverage() {
    let (sb, run) = finished_v2_run(0, 10, "clean");
    let collected = collect(&sb, &run).expect("collects");
    assert_eq!(collected.counts.total(), 0);
    assert!(
        collected.instances_scanned > 0,
        "clean means scanned and nothing found"
    );
    let manifest: Manifest = read(&sb, &collected.manifest_key);
    assert!(manifest.chunks.is_empty());
}

#[test]
fn the_state_carries_counts_and_a_key_not_findings() {
    let (sb, run) = finished_v2_run(500, 100, "small-state");
    let collected = collect(&sb, &run).expect("collects");
    let size = serde_json::to_vec(&collected).expect("json").len();
    assert!(size < 512, "{size} bytes");
}

/// The chunk bodies of a manifest, in order.
fn chunk_bodies(sb: &Sandbox, manifest: &Manifest) -> Vec<Vec<u8>> {
    manifest
        .chunks
        .iter()
        .map(|k| block_on(sb.store().get(k)).expect("chunk"))
        .collect()
}

#[test]
fn a_later_invocation_of_the_execution_continues_from_the_checkpoint() {
    // Chunks that end on a page boundary (100) and inside a page (30): both resume exactly.
    for chunk in [100, 30] {
        let (sb, run) = finished_v2_run(600, chunk, &format!("resume-{chunk}"));
        let first = collect(&sb, &run).expect("collects");
        let total = first.counts.total() as usize;
        assert!(total > 200, "several pages: {total}");
        let pages = total.div_ceil(100) as u64;
        let manifest: Manifest = read(&sb, &first.manifest_key);
        assert_eq!(manifest.chunks.len(), total.div_ceil(chunk));
        let bodies = chunk_bodies(&sb, &manifest);
        let checkpoint: CollectCheckpoint = read(&sb, &keys::collect_checkpoint(&run));
        assert_eq!(checkpoint.execution, run.execution);
        assert!(checkpoint.cursor.is_some(), "{checkpoint:?}");

        // The next invocation (a retry after the first stopped at its deadline) reads only
        // the page the checkpoint points at, and ends with the same chunks and counts.
        sb.reset_api_calls();
        let again = collect(&sb, &run).expect("continues");
        assert_eq!(again, first, "chunk {chunk}");
        let calls = sb.api_calls();
        assert_eq!(calls.get("inspector2:ListFindings"), Some(&1), "{calls:?}");
        let manifest: Manifest = read(&sb, &again.manifest_key);
        assert_eq!(chunk_bodies(&sb, &manifest), bodies);

        // Another execution of the same run (a rerun) starts over.
        let rerun = Run {
            execution: "another-execution".into(),
            ..run.clone()
        };
        sb.reset_api_calls();
        assert_eq!(collect(&sb, &rerun).expect("rerun").counts, first.counts);
        assert_eq!(sb.api_calls().get("inspector2:ListFindings"), Some(&pages));
    }
}

#[test]
fn a_checkpoint_that_is_not_one_is_named() {
    let (sb, run) = finished_v2_run(5, 5, "bad-checkpoint");
    block_on(sb.store().put(
        &keys::collect_checkpoint(&run),
        b"not json".to_vec(),
        "application/json",
    ))
    .expect("put");
    let err = collect(&sb, &run).expect_err("refused");
    assert!(err.to_string().contains("collect-checkpoint.json"), "{err}");
}
