//! The org rollup end to end: `scanflow run`'s scans, then one e-mail across every
//! account-Region built from what they stored, on the default scenario and on 300 accounts.

use scanflow_core::message::KIND_ROLLUP;
use scanflow_core::ports::Platform;
use scanflow_sandbox::Scenario;
use scanflow_tests::{of_kind, run};
use serde_json::{Value, json};

fn rollup_of(local: &scanflow_cli::local::LocalRun) -> (String, Value) {
    let messages = of_kind(&local.sandbox.sns_messages(), KIND_ROLLUP);
    assert_eq!(messages.len(), 1, "one rollup per run");
    let result = local.rollup.as_ref().expect("the rollup ran");
    let report = std::fs::read(
        local
            .sandbox
            .store()
            .path_of(&result.report_key)
            .expect("a key in the bucket"),
    )
    .expect("the rollup's report object");
    (
        messages[0].message.clone(),
        serde_json::from_slice(&report).expect("json"),
    )
}

#[test]
fn the_rollup_of_the_default_scenario_has_each_delivered_scans_figures() {
    let local = run(
        Scenario::default_scenario().expect("scenario"),
        Vec::new(),
        "rollup-default",
        None,
    );
    let (body, report) = rollup_of(&local);
    let rows = report["rows"].as_array().expect("rows");
    let mut delivered = 0;
    for ex in &local.executions {
        let Some(out) = ex
            .execution
            .output
            .as_ref()
            .filter(|o| o.get("counts").is_some())
        else {
            continue;
        };
        delivered += 1;
        let row = rows
            .iter()
            .find(|r| r["accountId"] == out["accountId"] && r["region"] == out["region"])
            .unwrap_or_else(|| panic!("a row for {}", out["accountId"]));
        assert_eq!(
            row["summary"]["counts"], out["counts"],
            "{}",
            out["accountId"]
        );
        assert_eq!(
            row["summary"]["instancesScanned"], out["instancesScanned"],
            "{}",
            out["accountId"]
        );
        let line = body
            .lines()
            .find(|l| l.starts_with(out["accountId"].as_str().unwrap_or("?")))
            .expect("a line in the e-mail");
        assert!(
            line.contains(&format!(" {} ", out["counts"]["critical"])),
            "{line}"
        );
    }
    assert!(delivered >= 3, "the default scenario delivers three scans");
    // The account that lost its member stack and the one still on Classic need attention.
    assert!(
        body.contains("NEEDS ATTENTION\n- 123456789012 eu-central-1: lost its member stack"),
        "{body}"
    );
    assert!(
        body.contains("- 444455556666 us-east-1: is still on Inspector Classic"),
        "{body}"
    );
    // 78 characters, or longer only by the report's link, which must stay whole.
    for line in body.lines() {
        assert!(scanflow_documents::digest::fits_width(line), "{line}");
    }
}

#[test]
fn three_hundred_accounts_make_one_rollup_that_fits_sns_and_ranks_the_shared_vulnerability_first() {
    let regions = ["eu-west-1", "us-east-1", "ap-southeast-2"];
    let accounts: Vec<Value> = (0..300u32)
        .map(|i| {
            let id = format!("{:012}", 100_000_000_000u64 + u64::from(i));
            json!({
                "accountId": id,
                "region": regions[i as usize % 3],
                "roleDeployed": true,
                "inspectorEnabled": true,
                "settings": {"engine": "inspector2", "durationSeconds": 3600},
                "instances": [{"id": "i-0a1b2c3d4e5f60001", "tags": {"Name": "web-1"}},
                              {"id": "i-0a1b2c3d4e5f60002", "tags": {"Name": "web-2"}}],
                "findings": {
                    "generate": {"count": 5, "seed": i},
                    // One vulnerability every account has, on one instance each.
                    "list": [{"instanceId": "i-0a1b2c3d4e5f60001", "vulnerabilityId": "CVE-2099-0001",
                              "severity": "CRITICAL", "packageName": "openssh-server",
                              "packageVersion": "1", "fixedInVersion": "2", "score": 9.8,
                              "description": "shared", "title": "CVE-2099-0001 - openssh-server"}]
                }
            })
        })
        .collect();
    let scenario = Scenario::from_json(
        &json!({
            "hub": {"accountId": "999988887777", "region": "eu-west-1"},
            "accounts": accounts
        })
        .to_string(),
    )
    .expect("scenario");
    let local = run(scenario, Vec::new(), "rollup-300", None);
    let (body, report) = rollup_of(&local);
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(300));
    assert_eq!(report["topRisks"][0]["vulnerabilityId"], "CVE-2099-0001");
    assert_eq!(report["topRisks"][0]["accounts"], 300);
    assert_eq!(report["topRisks"][0]["instances"], 300);
    assert!(
        body.contains(
            "1. CRITICAL CVE-2099-0001 - openssh-server - on 300 instance(s), 300\n    account(s)"
        ),
        "{body}"
    );
    assert_eq!(
        body.lines().filter(|l| l.starts_with("1000000")).count(),
        300,
        "a row per account-Region in the e-mail"
    );
    assert!(body.len() < scanflow_core::message::SNS_MESSAGE_LIMIT);
    // 78 characters, or longer only by the report's link, which must stay whole.
    for line in body.lines() {
        assert!(scanflow_documents::digest::fits_width(line), "{line}");
    }
}

/// The messages no subscription took in `local`'s run.
fn unrouted_of(local: &scanflow_cli::local::LocalRun) -> Vec<scanflow_sandbox::PublishedMessage> {
    let undelivered = local.sandbox.undelivered().expect("log");
    undelivered.into_iter().filter(|m| m.unrouted()).collect()
}

/// The owners scenario with the central address set to `central`.
fn owners_scenario(central: &str) -> Value {
    let mut s: Value = serde_json::from_str(
        &std::fs::read_to_string(
            scanflow_tests::repo_root().join("crates/sandbox/scenarios/owners.json"),
        )
        .expect("owners.json"),
    )
    .expect("json");
    s["hub"]["centralEmail"] = json!(central);
    s
}

#[test]
fn owners_get_their_accounts_email_and_a_rollup_only_centre_gets_the_organisations() {
    use scanflow_sandbox::Subscription;
    let scenario = Scenario::from_json(&owners_scenario("rollup").to_string()).expect("scenario");
    let local = run(scenario, Vec::new(), "owners-rollup", None);
    let messages = local.sandbox.sns_messages();
    for m in &messages {
        let kind = m.attributes["scanflow_kind"].as_str();
        let central = m.subscriptions().contains(&Subscription::Email);
        assert_eq!(
            central,
            matches!(kind, "rollup" | "fleet-watch"),
            "{kind}: {}",
            m.subject
        );
        for d in m
            .deliveries
            .iter()
            .filter(|d| d.subscription == Subscription::Owner)
        {
            // Each owner gets their own account's e-mail only.
            let owner = d.endpoint.as_deref().unwrap_or_default();
            let account = m.attributes["scanflow_account"].as_str();
            let expected = match account {
                "111122223333" => &["web-team@example.com", "alice@example.com"][..],
                "444455556666" => &["payments-team@example.com"],
                "777788889999" => &["data-team@example.com"],
                other => panic!("{other} has no deployed member stack, so no owners"),
            };
            assert!(expected.contains(&owner), "{owner} got {account}'s {kind}");
        }
    }
    let digests_to_owners = messages
        .iter()
        .filter(|m| m.attributes["scanflow_kind"] == "digest")
        .map(|m| {
            m.subscriptions()
                .iter()
                .filter(|s| **s == Subscription::Owner)
                .count()
        })
        .sum::<usize>();
    assert_eq!(
        digests_to_owners, 4,
        "two owners for one account, one each for two"
    );
    // The account whose member stack is gone has no owner subscription any more: its failure
    // notice reaches nobody, and that is said.
    let unrouted = unrouted_of(&local);
    assert_eq!(unrouted.len(), 1, "{unrouted:?}");
    assert_eq!(unrouted[0].attributes["scanflow_account"], "123456789012");
    assert_eq!(unrouted[0].attributes["scanflow_kind"], "failure");

    // With the centre receiving everything, nothing is dropped.
    let scenario =
        Scenario::from_json(&owners_scenario("everything").to_string()).expect("scenario");
    let local = run(scenario, Vec::new(), "owners-everything", None);
    assert_eq!(unrouted_of(&local).len(), 0);
}
