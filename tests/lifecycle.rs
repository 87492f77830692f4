//! Findings over time, end to end: the default scenario (whose accounts churn and one of whose
//! instances misses a scan) scanned three times a week apart by `scanflow run --repeat`.
//! Every fixed finding is resolved exactly once, never on an instance the scan did not cover,
//! `new + open` is the run's total, and the digest's "what changed" says what the SIEM got.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use scanflow_asl::Status;
use scanflow_cli::local;
use scanflow_sandbox::Scenario;
use scanflow_tests::{digest_figure, siem_documents, weekly, workflow};
use serde_json::Value;

/// One delivered run of one account, put back together from its SIEM parts.
#[derive(Default)]
struct Delivered {
    collected_at: String,
    total: u64,
    lifecycle: Value,
    /// identity → (lifecycle, severity, overdue, instance)
    findings: BTreeMap<String, (String, String, bool, Option<String>)>,
    resolved: Vec<Value>,
    not_scanned: BTreeSet<String>,
}

fn deliveries(docs: &[Value]) -> Vec<Delivered> {
    let mut by_run: HashMap<String, Delivered> = HashMap::new();
    for d in docs.iter().filter(|d| d["kind"] == "findings") {
        assert_eq!(d["schemaVersion"], scanflow_documents::siem::SCHEMA_VERSION);
        let run = by_run
            .entry(d["run"]["runId"].as_str().expect("runId").to_owned())
            .or_default();
        run.collected_at = d["run"]["collectedAt"]
            .as_str()
            .expect("collectedAt")
            .to_owned();
        run.total = d["summary"]["total"].as_u64().expect("total");
        run.lifecycle = d["summary"]["lifecycle"].clone();
        for f in d["findings"].as_array().expect("findings") {
            let identity = f["identity"].as_str().expect("identity").to_owned();
            let entry = (
                f["lifecycle"].as_str().expect("lifecycle").to_owned(),
                f["severity"].as_str().expect("severity").to_owned(),
                f["overdue"].as_bool().expect("overdue"),
                f["instanceId"].as_str().map(str::to_owned),
            );
            assert!(
                run.findings.insert(identity.clone(), entry).is_none(),
                "{identity} delivered twice in one run"
            );
        }
        run.resolved
            .extend(d["resolved"].as_array().expect("resolved").iter().cloned());
        if let Some(list) = d["coverage"]["notScanned"].as_array() {
            run.not_scanned.extend(
                list.iter()
                    .filter_map(|u| u["instanceId"].as_str())
                    .map(str::to_owned),
            );
        }
    }
    let mut runs: Vec<Delivered> = by_run.into_values().collect();
    runs.sort_by(|a, b| a.collected_at.cmp(&b.collected_at));
    runs
}

#[test]
fn three_scans_with_churn_resolve_each_fixed_finding_once_and_never_on_an_unscanned_instance() {
    let options = weekly(
        Scenario::default_scenario().expect("the built-in scenario"),
        3,
        "lifecycle-3-scans",
    );
    let local = local::run(&workflow(), options).expect("the local run starts");
    let messages = local.sandbox.sns_messages();
    let mut resolved_anywhere = 0;
    let mut carried_anywhere = 0;
    let accounts: BTreeSet<String> = local
        .executions
        .iter()
        .filter(|e| e.execution.status == Status::Succeeded)
        .map(|e| e.input["accountId"].as_str().expect("account").to_owned())
        .collect();
    assert_eq!(
        accounts.len(),
        3,
        "three accounts scan; one has no member stack"
    );
    for account in &accounts {
        let runs = deliveries(&siem_documents(&messages, account));
        assert_eq!(runs.len(), 3, "{account}: three deliveries");
        // What the run state should hold after each scan: identity → instance.
        let mut state: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut resolved_once: BTreeMap<String, usize> = BTreeMap::new();
        for (k, run) in runs.iter().enumerate() {
            let lc = &run.lifecycle;
            let count = |what: &str| run.findings.values().filter(|f| f.0 == what).count() as u64;
            assert_eq!(
                count("new") + count("open"),
                run.total,
                "{account} scan {}",
                k + 1
            );
            assert_eq!(
                (lc["new"].as_u64(), lc["open"].as_u64()),
                (Some(count("new")), Some(count("open")))
            );
            if k == 0 {
                assert_eq!(count("open"), 0, "the first scan is all new");
                assert!(lc["since"].is_null());
            } else {
                assert_eq!(
                    lc["since"].as_str(),
                    Some(runs[k - 1].collected_at.as_str())
                );
            }
            for (identity, f) in &run.findings {
                let expected = if state.contains_key(identity) {
                    "open"
                } else {
                    "new"
                };
                assert_eq!(f.0, expected, "{account} scan {}: {identity}", k + 1);
            }
            // Resolved: in the state, not found now, on an instance this scan covered.
            let expected: BTreeSet<String> = state
                .iter()
                .filter(|(id, instance)| {
                    !run.findings.contains_key(*id)
                        && instance
                            .as_ref()
                            .is_none_or(|i| !run.not_scanned.contains(i))
                })
                .map(|(id, _)| id.clone())
                .collect();
            let got: BTreeSet<String> = run
                .resolved
                .iter()
                .map(|r| r["identity"].as_str().expect("identity").to_owned())
                .collect();
            assert_eq!(
                got.len(),
                run.resolved.len(),
                "a resolved entry appears once per run"
            );
            assert_eq!(got, expected, "{account} scan {}", k + 1);
            for r in &run.resolved {
                let instance = r["instanceId"].as_str().unwrap_or_default();
                assert!(
                    !run.not_scanned.contains(instance),
                    "{account} scan {}: resolved on unscanned {instance}",
                    k + 1
                );
                assert_eq!(r["resolvedAt"].as_str(), Some(run.collected_at.as_str()));
                *resolved_once
                    .entry(r["identity"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
            let carried = state.len() as u64
                - expected.len() as u64
                - state
                    .keys()
                    .filter(|id| run.findings.contains_key(*id))
                    .count() as u64;
            assert_eq!(
                lc["carriedOver"].as_u64(),
                Some(carried),
                "{account} scan {}",
                k + 1
            );
            carried_anywhere += carried;
            resolved_anywhere += got.len();
            for id in &expected {
                state.remove(id);
            }
            for (id, f) in &run.findings {
                state.insert(id.clone(), f.3.clone());
            }

            // The digest of the same run says the same.
            let digest = messages
                .iter()
                .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("digest"))
                .filter(|m| m.attributes.get("scanflow_account") == Some(account))
                .nth(k)
                .expect("one digest per delivery");
            let body = &digest.message;
            let new_ch = run
                .findings
                .values()
                .filter(|f| f.0 == "new" && (f.1 == "CRITICAL" || f.1 == "HIGH"))
                .count() as u64;
            let overdue = run.findings.values().filter(|f| f.2).count() as u64;
            assert_eq!(digest_figure(body, "New critical/high:"), new_ch, "{body}");
            assert_eq!(
                digest_figure(body, "Resolved:"),
                run.resolved.len() as u64,
                "{body}"
            );
            assert_eq!(digest_figure(body, "Overdue (SLA):"), overdue, "{body}");
            assert_eq!(lc["overdue"].as_u64(), Some(overdue));
            assert!(
                body.find("WHAT CHANGED") < body.find("SUMMARY"),
                "the digest leads with what changed"
            );
        }
        assert!(
            resolved_once.values().all(|&n| n == 1),
            "{account}: {resolved_once:?}"
        );
    }
    assert!(resolved_anywhere > 0, "churn resolved findings");
    assert!(
        carried_anywhere > 0,
        "the instance that missed scan 2 kept its findings"
    );
}
