//! Accepted risks end to end (`scenarios/accepted-risks.json`): what is accepted leaves the
//! figures that page people and the most severe list, and is named with its owner and expiry;
//! an expired acceptance is called out; the SIEM still receives every finding, flagged.

use std::collections::BTreeMap;

use scanflow_tests::{digest_figure, of_kind, run, scenario_file, siem_documents};
use serde_json::Value;

const ACCOUNT: &str = "111122223333";

#[test]
fn accepted_findings_leave_the_paging_figures_but_every_finding_reaches_the_siem() {
    let local = run(
        scenario_file("accepted-risks.json"),
        vec![],
        "accepted-risks",
        None,
    );
    let messages = local.sandbox.sns_messages();
    let docs: Vec<Value> = siem_documents(&messages, ACCOUNT)
        .into_iter()
        .filter(|d| d["kind"] == "findings")
        .collect();
    assert!(!docs.is_empty(), "the SIEM got the scan");
    let findings: Vec<&Value> = docs
        .iter()
        .flat_map(|d| d["findings"].as_array().expect("findings").iter())
        .collect();
    // Every finding, whatever the e-mail shows.
    let total = docs[0]["summary"]["total"].as_u64().expect("total");
    assert_eq!(findings.len() as u64, total);

    let standing = |f: &Value| f["acceptance"]["status"].as_str().map(str::to_owned);
    let mut by_owner: BTreeMap<(String, String), u64> = BTreeMap::new();
    for f in &findings {
        if let Some(status) = standing(f) {
            let owner = f["acceptance"]["owner"].as_str().expect("owner").to_owned();
            *by_owner.entry((status, owner)).or_default() += 1;
        }
        let instance = f["instanceId"].as_str().unwrap_or_default();
        let vuln = f["vulnerabilityId"].as_str().unwrap_or_default();
        // What the scenario's list says of each finding.
        let expected = if instance == "i-0a1b2c3d4e5f60003" && vuln == "CVE-2023-38545" {
            Some(("accepted", "platform-team@example.com"))
        } else if instance == "i-0a1b2c3d4e5f60002" {
            Some(("accepted", "shop-team@example.com"))
        } else if vuln == "CVE-2024-6387" {
            Some(("expired", "alice@example.com"))
        } else {
            None
        };
        assert_eq!(
            standing(f)
                .as_deref()
                .zip(f["acceptance"]["owner"].as_str()),
            expected,
            "{instance} {vuln}"
        );
    }
    let accepted: u64 = by_owner
        .iter()
        .filter(|((s, _), _)| s == "accepted")
        .map(|(_, n)| n)
        .sum();
    assert!(
        accepted > 1,
        "the scenario accepts a whole instance: {by_owner:?}"
    );

    let digest = of_kind(&messages, "digest")
        .into_iter()
        .find(|m| m.attributes.get("scanflow_account").map(String::as_str) == Some(ACCOUNT))
        .expect("the account's digest");
    let body = &digest.message;
    // The paging figures: new critical/high and overdue, without what is accepted.
    let counted = |pred: &dyn Fn(&Value) -> bool| {
        findings
            .iter()
            .filter(|f| standing(f).as_deref() != Some("accepted") && pred(f))
            .count() as u64
    };
    assert_eq!(
        digest_figure(body, "New critical/high:"),
        counted(&|f| f["lifecycle"] == "new"
            && matches!(f["severity"].as_str(), Some("CRITICAL" | "HIGH")))
    );
    assert_eq!(
        digest_figure(body, "Overdue (SLA):"),
        counted(&|f| f["overdue"] == true)
    );
    assert_eq!(digest_figure(body, "Accepted:"), accepted);
    assert!(
        body.contains("owner shop-team@example.com: web-2 is being"),
        "{body}"
    );
    // The expired one is called out with who accepted it and when it ended.
    assert_eq!(digest_figure(body, "Expired:"), 1);
    assert!(
        body.contains("accepted by alice@example.com until 2026-11-15T00:00:00Z"),
        "{body}"
    );
    // No accepted finding is among the most severe.
    let most_severe = body
        .split("MOST SEVERE FINDINGS")
        .nth(1)
        .and_then(|s| s.split("\nCOVERAGE").next())
        .expect("the most severe list");
    assert!(
        !most_severe.contains("i-0a1b2c3d4e5f60002"),
        "{most_severe}"
    );
}
