//! Shared helpers for the workspace tests: running the real definition on a scenario, and
//! reading back what the sandbox published.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use scanflow_cli::definition::Workflow;
use scanflow_cli::local::{self, LocalRun, RunOptions};
use scanflow_sandbox::{PublishedMessage, Scenario};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// The deployed definition, with placeholders resolved through the hub template.
pub fn workflow() -> Workflow {
    let root = repo_root();
    Workflow::load(
        &root.join("statemachine/scan.asl.json"),
        Some(&root.join("templates/hub.yaml")),
    )
    .expect("the definition loads")
}

pub fn scenario_file(name: &str) -> Scenario {
    Scenario::from_file(&repo_root().join("crates/sandbox/scenarios").join(name))
        .expect("scenario loads")
}

/// A fresh output folder per run, so parallel tests never share one.
pub fn out_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "scanflow-e2e-{}-{label}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn start_time() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-28 02:00 UTC)
}

/// The options `run` uses, for tests that change one of them.
pub fn options(scenario: Scenario, inputs: Vec<serde_json::Value>, label: &str) -> RunOptions {
    RunOptions {
        scenario,
        inputs,
        out_dir: out_dir(label),
        http_endpoint: None,
        start_time: start_time(),
        seed: 1,
        redrive_after: None,
        repeat: 1,
        every: local::DEFAULT_EVERY,
    }
}

/// The options for `scans` scans of `scenario` a week apart (`scanflow run --repeat`).
pub fn weekly(scenario: Scenario, scans: u32, label: &str) -> RunOptions {
    RunOptions {
        repeat: scans,
        every: time::Duration::days(7),
        ..options(scenario, vec![], label)
    }
}

/// The number after `label` on the digest line that starts with it.
pub fn digest_figure(body: &str, label: &str) -> u64 {
    let line = body
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in the digest:\n{body}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure on {line:?}"))
}

pub fn run(
    scenario: Scenario,
    inputs: Vec<serde_json::Value>,
    label: &str,
    http_endpoint: Option<String>,
) -> LocalRun {
    let options = RunOptions {
        http_endpoint: http_endpoint.map(scanflow_sandbox::HttpEndpoint::new),
        ..options(scenario, inputs, label)
    };
    local::run(&workflow(), options).expect("the local run starts")
}

/// The messages of one `scanflow_kind`.
pub fn of_kind(messages: &[PublishedMessage], kind: &str) -> Vec<PublishedMessage> {
    messages
        .iter()
        .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some(kind))
        .cloned()
        .collect()
}

/// How often the execution's history entered `state`.
pub fn entered(execution: &scanflow_asl::Execution, state: &str) -> usize {
    execution
        .history
        .iter()
        .filter(|e| e.kind.ends_with("StateEntered") && e.state_name.as_deref() == Some(state))
        .count()
}

/// The SIEM documents the HTTPS subscription received for one account.
pub fn siem_documents(messages: &[PublishedMessage], account_id: &str) -> Vec<serde_json::Value> {
    messages
        .iter()
        .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("siem"))
        .filter(|m| m.attributes.get("scanflow_account").map(String::as_str) == Some(account_id))
        .map(|m| serde_json::from_str(&m.message).expect("SIEM messages are JSON"))
        .collect()
}
