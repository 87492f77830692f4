//! Scenarios: validation errors naming the field, the shipped scenario files, and the built-in
//! scenario's determinism and realism.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::*;
use scanflow_core::model::{Engine, Finding, Severity};
use scanflow_core::ports::{MemberAccount, Platform, RunStatus};
use scanflow_sandbox::{
    AgentHealth, ClassicOutcome, Inspector2Outcome, Sandbox, SandboxError, Scenario, ScheduleState,
};
use serde_json::json;

fn scenario_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn field_of(e: SandboxError) -> String {
    e.field()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("not a scenario error: {e}"))
}

#[test]
fn each_invalid_field_is_named() {
    let good = one_account(json!({"instances": [{"id": "i-0123456789abcdef0"}]}));
    assert!(Scenario::from_json(&good.to_string()).is_ok());
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            json!({"hub": {"accountId": "12"}, "accounts": []}),
            "hub.accountId",
        ),
        (
            json!({"hub": {"accountId": HUB}, "accounts": []}),
            "accounts",
        ),
        (
            json!({"hub": {"accountId": HUB, "regoin": "x"}, "accounts": []}),
            "hub.regoin",
        ),
        (
            json!({"hub": {"accountId": HUB, "config": {"minPollSeconds": 0}}, "accounts": [good["accounts"][0]]}),
            "hub.config.minPollSeconds",
        ),
        (
            one_account(json!({"instances": [{"id": "i-0123456789abcdef0"}, {"id": "web-1"}]})),
            "accounts[0].instances[1].id",
        ),
        (
            one_account(
                json!({"instances": [{"id": "i-0123456789abcdef0"}, {"id": "i-0123456789abcdef0"}]}),
            ),
            "accounts[0].instances[1].id",
        ),
        (
            one_account(json!({"instances": [{"id": "i-0123456789abcdef0", "agent": "sick"}]})),
            "accounts[0].instances[0].agent",
        ),
        (
            one_account(json!({"instances": [{"id": "i-0123456789abcdef0", "colour": "red"}]})),
            "accounts[0].instances[0].colour",
        ),
        (
            one_account(json!({"accountId": "1111"})),
            "accounts[0].accountId",
        ),
        (one_account(json!({"region": "Mars"})), "accounts[0].region"),
        (
            one_account(json!({"region": "sa-east-1", "settings": {"engine": "classic"}})),
            "accounts[0].region",
        ),
        (
            one_account(json!({"settings": {"engine": "v3"}})),
            "accounts[0].settings.engine",
        ),
        (
            one_account(json!({"settings": {"engine": "classic", "durationSeconds": 179}})),
            "accounts[0].settings.durationSeconds",
        ),
        (
            one_account(json!({"settings": {"engine": "classic", "tag": {"key": ""}}})),
            "accounts[0].settings.tag.key",
        ),
        (
            one_account(
                json!({"settings": {"engine": "classic", "assessmentTemplateArn": "arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b"}}),
            ),
            "accounts[0].settings.assessmentTemplateArn",
        ),
        (
            one_account(json!({"findings": {"generate": {"count": 1_000_001}}})),
            "accounts[0].findings.generate.count",
        ),
        (
            one_account(json!({"instances": [], "findings": {"generate": {"count": 1}}})),
            "accounts[0].findings.generate",
        ),
        (
            one_account(
                json!({"findings": {"list": [{"instanceId": "i-0123456789abcdef9", "vulnerabilityId": "CVE-2024-1234", "severity": "HIGH", "packageName": "a", "packageVersion": "1"}]}}),
            ),
            "accounts[0].findings.list[0].instanceId",
        ),
        (
            one_account(
                json!({"findings": {"list": [{"instanceId": "i-0123456789abcdef0", "vulnerabilityId": "CVE-24-1", "severity": "HIGH", "packageName": "a", "packageVersion": "1"}]}}),
            ),
            "accounts[0].findings.list[0].vulnerabilityId",
        ),
        (
            one_account(
                json!({"findings": {"list": [{"instanceId": "i-0123456789abcdef0", "vulnerabilityId": "CVE-2024-1234", "severity": "SEVERE", "packageName": "a", "packageVersion": "1"}]}}),
            ),
            "accounts[0].findings.list[0].severity",
        ),
        (
            one_account(json!({"classic": {"outcome": "explodes"}})),
            "accounts[0].classic.outcome",
        ),
        (
            one_account(json!({"classic": {"evaluationSeconds": 0}})),
            "accounts[0].classic.evaluationSeconds",
        ),
        (
            one_account(json!({"inspector2": {"outcome": "hangs"}})),
            "accounts[0].inspector2.outcome",
        ),
        (
            one_account(json!({"inspector2": {"ec2Scanning": "ON"}})),
            "accounts[0].inspector2.ec2Scanning",
        ),
        (
            one_account(
                json!({"settings": {"engine": "inspector2"}, "inspector2": {"ec2Scanning": "ENABLED"}}),
            ),
            "accounts[0].inspector2.ec2Scanning",
        ),
        (
            one_account(json!({"organization": "o-short"})),
            "accounts[0].organization",
        ),
        (
            json!({"hub": {"accountId": HUB, "delegatedAdminOf": "org-1"},
                   "accounts": one_account(json!({}))["accounts"].clone()}),
            "hub.delegatedAdminOf",
        ),
    ];
    for (doc, field) in cases {
        let err = Scenario::from_json(&doc.to_string()).expect_err(field);
        let msg = err.to_string();
        assert_eq!(field_of(err), field, "{msg}");
    }
    let mut twice = good.clone();
    let first = twice["accounts"][0].clone();
    twice["accounts"].as_array_mut().expect("array").push(first);
    assert_eq!(
        field_of(Scenario::from_json(&twice.to_string()).expect_err("dup")),
        "accounts[1].region"
    );
    let err = Scenario::from_json(&one_account(json!({"instances": [{"id": "x"}]})).to_string())
        .expect_err("id");
    assert!(
        err.to_string()
            .contains("accounts[0].instances[0].id: expected an instance id like i-0abc"),
        "{err}"
    );
    assert_eq!(field_of(Scenario::from_json("{").expect_err("syntax")), "$");
}

#[test]
fn the_shipped_scenarios_load_and_say_what_their_names_say() {
    let load =
        |n: &str| Scenario::from_file(&scenario_file(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
    assert_eq!(
        load("default.json"),
        Scenario::default_scenario().expect("the built-in scenario")
    );
    assert_eq!(
        load("classic-run-fails.json").accounts[0].classic.outcome,
        ClassicOutcome::Fails
    );
    assert_eq!(
        load("classic-run-hangs.json").accounts[0].classic.outcome,
        ClassicOutcome::Hangs
    );
    assert!(!load("inspector-disabled.json").accounts[0].inspector_enabled);
    assert!(!load("role-missing.json").accounts[0].role_deployed);
    let large = load("large.json");
    assert_eq!(large.accounts.len(), 1);
    assert_eq!(
        large.accounts[0].findings.generate.map(|g| g.count),
        Some(100_000)
    );
    let none = load("no-matching-instances.json");
    for a in &none.accounts {
        let tag = a.settings.to_settings().tag;
        assert!(
            a.instances.iter().all(|i| !i.matches(tag.as_ref())),
            "{}",
            a.account_id
        );
    }
    let missing = load("agents-missing.json");
    assert!(
        missing
            .accounts
            .iter()
            .any(|a| a.instances.iter().any(|i| i.agent == AgentHealth::None))
    );
    assert!(
        missing
            .accounts
            .iter()
            .any(|a| a.instances.iter().any(|i| !i.managed))
    );
    let fleet = load("fleet.json");
    assert!(
        fleet
            .accounts
            .iter()
            .any(|a| a.schedule.state == ScheduleState::Disabled)
    );
    assert!(fleet.accounts.iter().any(|a| a.scope_change.is_some()));
    assert!(Scenario::from_file(&scenario_file("absent.json")).is_err());
    let mut names: Vec<String> = std::fs::read_dir(scenario_file(""))
        .expect("scenarios folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let outage = load("publish-outage.json");
    let lambda = outage
        .hub
        .lambda
        .expect("publish-outage.json has hub.lambda");
    assert_eq!(lambda.outages[0].function, "publish");
    let owners = load("owners.json");
    assert!(owners.accounts.iter().all(|a| !a.owners.is_empty()));
    let accepted = load("accepted-risks.json");
    assert_eq!(accepted.hub.accepted_risks.map(|l| l.len()), Some(3));
    let storm = load("storm.json");
    assert_eq!(storm.accounts.len(), 1_000, "copies expand");
    assert_eq!(storm.hub.lambda.and_then(|l| l.concurrency), Some(100));
    // Every shipped scenario loads and is described in the crate README.
    let readme = std::fs::read_to_string(scenario_file("").join("../README.md")).expect("README");
    for n in &names {
        load(n);
        assert!(
            readme.contains(&format!("| `{n}` |")),
            "{n} is not in README's table"
        );
    }
    assert!(names.len() >= 11, "{names:?}");
}

#[test]
fn copies_expand_to_consecutive_accounts_within_the_limits() {
    let hub = r#""hub": {"accountId": "999988887777"}"#;
    let at = |first: &str, copies: u64| {
        format!(
            r#"{{{hub}, "accounts": [{{"accountId": "{first}", "region": "eu-west-1", "copies": {copies},
                "settings": {{"engine": "inspector2"}}}}]}}"#
        )
    };
    let s = Scenario::from_json(&at("000000000001", 3)).expect("three");
    let ids: Vec<&str> = s.accounts.iter().map(|a| a.account_id.as_str()).collect();
    assert_eq!(ids, ["000000000001", "000000000002", "000000000003"]);
    assert!(s.accounts.iter().all(|a| a.copies.is_none()));
    // At the last account id and one past it.
    assert!(Scenario::from_json(&at("999999999998", 2)).is_ok());
    let err = Scenario::from_json(&at("999999999998", 3)).expect_err("past the last id");
    assert_eq!(err.field(), Some("accounts[0].copies"));
    let err = Scenario::from_json(&at("000000000001", 0)).expect_err("zero");
    assert_eq!(err.field(), Some("accounts[0].copies"));
    assert!(Scenario::from_json(&at("000000000001", u64::from(u32::MAX) + 1)).is_err());
    let limit = u64::from(scanflow_sandbox::MAX_COPIES);
    assert!(Scenario::from_json(&at("100000000000", limit)).is_ok());
    assert!(Scenario::from_json(&at("100000000000", limit + 1)).is_err());
}

/// Scans every account of the default scenario with its own settings, as the workflow would:
/// start, wait until done, collect. Returns (account, outcome) with the findings.
fn scan_everything(name: &str) -> Vec<(String, Result<Vec<Finding>, String>)> {
    let sb = Sandbox::new(
        Scenario::default_scenario().expect("the built-in scenario"),
        &out_dir(name),
        None,
    )
    .expect("sandbox");
    sb.set_now(t0());
    let mut out = Vec::new();
    for a in &sb.scenario().accounts.clone() {
        let result = (|| {
            let m = pollster::block_on(sb.member(&a.account_id, &a.region, "demo"))
                .map_err(|e| e.error_type().to_owned())?;
            let s = pollster::block_on(m.settings()).map_err(|e| e.error_type().to_owned())?;
            let st = pollster::block_on(m.start_scan(&s, "demo"))
                .map_err(|e| e.error_type().to_owned())?;
            let mut run = run_for(s.engine, &st.run_id, s.tag.clone());
            run.account_id = a.account_id.clone();
            run.region = a.region.clone();
            sb.set_now(t0() + time::Duration::hours(2));
            assert!(
                matches!(status(&m, &run), RunStatus::Succeeded { .. }),
                "{}",
                a.account_id
            );
            let (f, _) = all_findings(&m, &run);
            sb.set_now(t0());
            Ok(f)
        })();
        out.push((a.account_id.clone(), result));
    }
    out
}

#[test]
fn the_default_scenario_is_deterministic_and_realistic() {
    let first = scan_everything("default-a");
    let second = scan_everything("default-b");
    assert_eq!(first, second, "same scenario, same findings");

    let outcomes: Vec<(&str, Result<usize, &str>)> = first
        .iter()
        .map(|(a, r)| (a.as_str(), r.as_ref().map(Vec::len).map_err(String::as_str)))
        .collect();
    assert_eq!(outcomes.len(), 4);
    assert_eq!(outcomes[3], ("123456789012", Err("RoleNotAssumable")));
    let all: Vec<&Finding> = first
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flatten()
        .collect();
    assert!(
        (200..=500).contains(&all.len()),
        "a few hundred findings, got {}",
        all.len()
    );
    let engines: BTreeSet<&str> = all.iter().map(|f| f.engine.as_str()).collect();
    assert_eq!(engines.len(), 2);
    let regions: BTreeSet<&str> = all.iter().map(|f| f.region.as_str()).collect();
    assert_eq!(regions.len(), 3);
    for s in Severity::ALL {
        assert!(all.iter().any(|f| f.severity == s), "no {s} finding");
    }
    assert!(
        all.iter()
            .filter(|f| f.engine == Engine::Classic)
            .all(|f| f.severity != Severity::Critical)
    );
    for f in &all {
        let cve = f.vulnerability_id.as_deref().expect("CVE id");
        assert!(cve.starts_with("CVE-20") && cve.len() >= 13, "{cve}");
        assert!(
            (150..=1024).contains(&f.description.len()),
            "{} chars",
            f.description.len()
        );
        assert!(!f.recommendation.is_empty() && !f.title.is_empty());
        assert!(f.instance_id.is_some() && !f.instance_tags.is_empty());
    }
    let v2: Vec<&&Finding> = all
        .iter()
        .filter(|f| f.engine == Engine::Inspector2)
        .collect();
    assert!(v2.iter().any(|f| f.fix_available == Some(true)));
    assert!(v2.iter().any(|f| f.fix_available == Some(false)));
    assert!(
        v2.iter()
            .filter(|f| f.severity != Severity::Untriaged)
            .all(|f| f.score.is_some())
    );
    assert!(
        all.iter()
            .any(|f| f.vulnerability_id.as_deref() == Some("CVE-2024-6387"))
    );

    let mut other = Scenario::default_scenario().expect("the built-in scenario");
    if let Some(g) = other.accounts[0].findings.generate.as_mut() {
        g.seed += 1;
    }
    assert_ne!(
        Scenario::default_scenario().expect("the built-in scenario"),
        other
    );
}

#[test]
fn a_scenario_round_trips_through_json() {
    let s = Scenario::default_scenario().expect("the built-in scenario");
    assert_eq!(Scenario::from_json(&s.to_json()).expect("round trip"), s);
    let failing =
        Scenario::from_json(&one_account(json!({"inspector2": {"outcome": "fails"}})).to_string())
            .expect("valid");
    assert_eq!(
        failing.accounts[0].inspector2.outcome,
        Inspector2Outcome::Fails
    );
    assert!(
        Scenario::from_json(&one_account(json!({"inspector2": {"reportSeconds": 20}})).to_string())
            .is_err(),
        "reports are not simulated any more: the field is refused"
    );
    assert!(failing.accounts[0].role_deployed && failing.accounts[0].inspector_enabled);
    assert_eq!(failing.hub.hub_config().hub_account_id, HUB);
}

#[test]
fn schedules_and_scope_changes_are_checked_and_named() {
    let base: serde_json::Value = serde_json::from_str(
        &Scenario::default_scenario()
            .expect("the built-in scenario")
            .to_json(),
    )
    .expect("json");
    let with = |path: &str, value: serde_json::Value| {
        let mut doc = base.clone();
        *doc.pointer_mut(path).expect("path exists") = value;
        Scenario::from_json(&doc.to_string())
    };
    let mut doc = base.clone();
    doc["accounts"][0]["schedule"] = json!({"expression": "cron(0 3 * * MON *)"});
    let err = Scenario::from_json(&doc.to_string()).expect_err("both day fields");
    assert!(
        err.to_string().contains("accounts[0].schedule.expression"),
        "{err}"
    );
    doc["accounts"][0]["schedule"] = json!({"expression": "rate(1 day)", "state": "PAUSED"});
    assert!(Scenario::from_json(&doc.to_string()).is_err());
    doc["accounts"][0]["schedule"] = json!({"state": "DISABLED"});
    let s = Scenario::from_json(&doc.to_string()).expect("default expression");
    assert_eq!(s.accounts[0].schedule.state, ScheduleState::Disabled);
    assert_eq!(s.accounts[0].schedule.expression, "cron(0 3 ? * MON *)");

    let untagged = base["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .position(|a| a["settings"].get("tag").is_none());
    if let Some(i) = untagged {
        let err = with(&format!("/accounts/{i}"), {
            let mut a = base["accounts"][i].clone();
            a["scopeChange"] = json!({"tagValue": "web"});
            a
        })
        .expect_err("no tag to change");
        assert!(err.to_string().contains("scopeChange.tagKey"), "{err}");
    }
    let mut a = base["accounts"][0].clone();
    a["scopeChange"] = json!({"durationSeconds": 10});
    let err = with("/accounts/0", a).expect_err("duration");
    assert!(
        err.to_string().contains("scopeChange.durationSeconds"),
        "{err}"
    );
}
