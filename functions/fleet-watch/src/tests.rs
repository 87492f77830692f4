//! The fleet watch and the registry writer on the sandbox's simulated hub and members.

use std::path::PathBuf;

use scanflow_core::fleet::{LastDelivery, Problem, RegistryEntry, RegistryStatus};
use scanflow_core::ports::{Platform, ReportStore};
use scanflow_sandbox::{Sandbox, Scenario};
use serde_json::json;
use time::macros::datetime;

use super::*;

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("fleet-watch-tests-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test folder");
    dir
}

fn sandbox(name: &str) -> Sandbox {
    Sandbox::new(
        Scenario::default_scenario().expect("the built-in scenario"),
        &out_dir(name),
        None,
    )
    .expect("sandbox")
}

fn deployed(sb: &Sandbox) -> Vec<(String, String)> {
    sb.scenario()
        .accounts
        .iter()
        .filter(|a| a.role_deployed)
        .map(|a| (a.account_id.clone(), a.region.clone()))
        .collect()
}

fn change(account: &str, region: &str, operation: &str, time: &str) -> Value {
    json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": PARAMETER_STORE_CHANGE, "source": "aws.ssm",
        "account": account, "time": time, "region": region,
        "resources": [format!("arn:aws:ssm:{region}:{account}:parameter/scanflow/settings")],
        "detail": {"operation": operation, "name": "/scanflow/settings", "type": "String",
                   "description": "scanflow scan settings"}
    })
}

fn entry(sb: &Sandbox, account: &str, region: &str) -> RegistryEntry {
    let body = pollster::block_on(sb.store().get(&keys::registry_entry(account, region)))
        .expect("entry exists");
    serde_json::from_slice(&body).expect("entry parses")
}

fn run_check(sb: &Sandbox, now: &str, grace: u32) -> CheckResult {
    let out = pollster::block_on(invoke(
        sb,
        json!({"check": "fleet", "now": now, "graceHours": grace}),
    ))
    .expect("check runs");
    serde_json::from_value(out).expect("CheckResult")
}

#[test]
fn the_registry_follows_the_settings_parameter_through_create_update_and_delete() {
    let sb = sandbox("registry");
    let (account, region) = deployed(&sb).remove(0);
    let record = |op: &str, time: &str| {
        pollster::block_on(invoke(&sb, change(&account, &region, op, time))).expect(op)
    };
    assert_eq!(
        record("Create", "2026-11-01T10:00:00Z")["outcome"],
        "recorded"
    );
    let created = entry(&sb, &account, &region);
    assert_eq!(created.status, RegistryStatus::Active);
    assert_eq!(created.schedule.as_deref(), Some("cron(0 3 ? * MON *)"));
    assert_eq!(created.created_at, "2026-11-01T10:00:00Z");
    let spec = sb.scenario().account(&account, &region).expect("spec");
    assert_eq!(created.scope, Some(spec.scope()));

    record("Update", "2026-11-20T10:00:00Z");
    let updated = entry(&sb, &account, &region);
    assert_eq!(
        updated.created_at, "2026-11-01T10:00:00Z",
        "an update keeps the creation"
    );
    assert_eq!(updated.updated_at, "2026-11-20T10:00:00Z");

    // EventBridge does not keep order: an older event changes nothing.
    assert_eq!(record("Update", "2026-11-10T10:00:00Z")["outcome"], "stale");
    assert_eq!(
        record("LabelParameterVersion", "2026-11-21T10:00:00Z")["outcome"],
        "ignored"
    );

    record("Delete", "2026-11-25T10:00:00Z");
    let deleted = entry(&sb, &account, &region);
    assert_eq!(deleted.status, RegistryStatus::Deleted);
    assert_eq!(deleted.created_at, "2026-11-01T10:00:00Z");
    assert_eq!(deleted.updated_at, "2026-11-25T10:00:00Z");

    // Created again after the deletion: a new life.
    record("Create", "2026-11-26T10:00:00Z");
    assert_eq!(
        entry(&sb, &account, &region).created_at,
        "2026-11-26T10:00:00Z"
    );
}

#[test]
fn a_member_the_writer_cannot_enter_is_an_error_not_an_entry() {
    let sb = sandbox("registry-denied");
    let missing = sb
        .scenario()
        .accounts
        .iter()
        .find(|a| !a.role_deployed)
        .expect("the default scenario has a member without its stack")
        .clone();
    let err = pollster::block_on(invoke(
        &sb,
        change(
            &missing.account_id,
            &missing.region,
            "Update",
            "2026-11-01T10:00:00Z",
        ),
    ))
    .expect_err("denied");
    assert_eq!(err.error_type(), "RoleNotAssumable");
    assert!(
        pollster::block_on(
            sb.store()
                .get(&keys::registry_entry(&missing.account_id, &missing.region))
        )
        .is_err()
    );
    // A deletion needs no role.
    pollster::block_on(invoke(
        &sb,
        change(
            &missing.account_id,
            &missing.region,
            "Delete",
            "2026-11-02T10:00:00Z",
        ),
    ))
    .expect("delete recorded");
    let e = entry(&sb, &missing.account_id, &missing.region);
    assert_eq!((e.status, e.scope), (RegistryStatus::Deleted, None));
}

#[test]
fn bad_events_are_named() {
    let sb = sandbox("bad-events");
    for (event, field) in [
        (
            change("12345", "eu-west-1", "Create", "2026-11-01T10:00:00Z"),
            "account",
        ),
        (
            change("111122223333", "eu-west-1", "Create", "yesterday"),
            "time",
        ),
        (
            json!({"check": "fleet", "now": "2026-11-01T06:00:00Z", "graceHours": 999}),
            "graceHours",
        ),
        (
            json!({"check": "other", "now": "2026-11-01T06:00:00Z", "graceHours": 6}),
            "check",
        ),
        (json!({"hello": 1}), "$"),
    ] {
        let err = pollster::block_on(invoke(&sb, event.clone())).expect_err("refused");
        assert_eq!(err.error_type(), "InvalidInput", "{event}");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}

fn deliver(sb: &Sandbox, account: &str, region: &str, started: &str) {
    let spec = sb.scenario().account(account, region).expect("spec");
    let record = LastDelivery {
        account_id: account.into(),
        region: region.into(),
        execution: format!("scan-{account}"),
        started_at: started.into(),
        delivered_at: started.into(),
        scheduled_at: None,
        scope: spec.scope(),
        cis: None,
        v2_ec2: None,
    };
    pollster::block_on(sb.store().put(
        &keys::last_delivery(account, region),
        serde_json::to_vec(&record).expect("json"),
        "application/json",
    ))
    .expect("put");
}

#[test]
fn a_healthy_fleet_gets_no_notice() {
    let sb = sandbox("healthy");
    sb.seed_registry(datetime!(2026-11-01 00:00 UTC))
        .expect("seeded");
    for (account, region) in deployed(&sb) {
        deliver(&sb, &account, &region, "2026-11-30T03:20:00Z");
    }
    // Only the account whose stack is gone and the one still on Inspector Classic (whose
    // support has ended) are named; remove both and nothing is.
    let with_lost = run_check(&sb, "2026-12-01T06:00:00Z", 6);
    assert_eq!(with_lost.attention, 2, "{:?}", with_lost.findings);
    let named: Vec<&Problem> = with_lost.findings.iter().map(|f| &f.problem).collect();
    assert!(
        matches!(
            named[..],
            [
                Problem::LostMemberStack { .. },
                Problem::StillOnClassic { .. }
            ]
        ),
        "{named:?}"
    );
    for f in &with_lost.findings {
        std::fs::remove_file(
            sb.store()
                .path_of(&keys::registry_entry(&f.account_id, &f.region))
                .expect("path"),
        )
        .expect("removed");
    }
    // The Classic account leaves altogether (its deliveries would name it unregistered).
    let classic = &with_lost.findings[1];
    std::fs::remove_file(
        sb.store()
            .path_of(&keys::last_delivery(&classic.account_id, &classic.region))
            .expect("path"),
    )
    .expect("removed");
    let before = sb.sns_messages().len();
    let healthy = run_check(&sb, "2026-12-01T06:00:00Z", 6);
    assert_eq!(
        healthy.checked,
        deployed(&sb).len() - 1,
        "less the Classic one"
    );
    assert!(healthy.findings.is_empty(), "{:?}", healthy.findings);
    assert_eq!(healthy.message_id, None);
    assert_eq!(
        sb.sns_messages().len(),
        before,
        "nothing said about healthy accounts"
    );
}

#[test]
fn one_notice_names_every_account_region_that_needs_attention() {
    let sb = sandbox("attention");
    sb.seed_registry(datetime!(2026-11-01 00:00 UTC))
        .expect("seeded");
    let accounts = deployed(&sb);
    // The first was scanned after its last due time; the others never.
    deliver(&sb, &accounts[0].0, &accounts[0].1, "2026-11-30T03:20:00Z");
    // An unreadable record is named, not skipped.
    pollster::block_on(sb.store().put(
        &keys::last_delivery("444455556666", "eu-west-1"),
        b"{not json".to_vec(),
        "application/json",
    ))
    .expect("put");
    let result = run_check(&sb, "2026-12-01T06:00:00Z", 6);
    let messages = sb.sns_messages();
    assert_eq!(messages.len(), 1, "one notice");
    let notice = &messages[0];
    assert_eq!(
        notice.attributes.get(ATTR_KIND).map(String::as_str),
        Some(KIND_FLEET_WATCH)
    );
    assert!(
        !notice.message.contains(&accounts[0].0),
        "{}",
        notice.message
    );
    for (account, region) in &accounts[1..] {
        assert!(
            notice
                .message
                .contains(&format!("{account} {region}: missed its schedule")),
            "{}",
            notice.message
        );
    }
    assert!(
        notice.message.contains("lost its member stack"),
        "{}",
        notice.message
    );
    assert!(
        notice.message.contains("444455556666"),
        "{}",
        notice.message
    );
    let report = result.report_key.expect("the full list is stored");
    let stored: Vec<FleetFinding> =
        serde_json::from_slice(&pollster::block_on(sb.store().get(&report)).expect("report"))
            .expect("findings");
    assert_eq!(stored, result.findings);
}

#[test]
fn a_long_notice_is_clipped_to_fit_sns_and_says_where_the_rest_is() {
    let line = "\n- 111122223333 eu-west-1: missed its schedule\n  What to do: look\n";
    let body = format!("head\n{}", line.repeat(10_000));
    let clipped = clip(body.clone(), "scanflow/fleet-watch/x.json", 10_000);
    assert!(clipped.len() <= SNS_MESSAGE_LIMIT - NOTICE_MARGIN + 200);
    assert!(clipped.contains(
        "more. The full list of 10000 is in the report bucket at scanflow/fleet-watch/x.json"
    ));
    let short = "head\n- a\n".to_owned();
    assert_eq!(clip(short.clone(), "k", 1), short);
    // Multi-byte text at the cut does not panic.
    let wide = "é".repeat(SNS_MESSAGE_LIMIT);
    assert!(clip(wide, "k", 1).len() < SNS_MESSAGE_LIMIT);
}

/// A current run state for the account-Region with `critical` critical findings of `vuln`,
/// one per instance, as publish would have promoted it.
fn state(sb: &Sandbox, account: &str, region: &str, vuln: &str, instances: &[&str]) {
    let records: String = instances
        .iter()
        .map(|i| {
            let r = lifecycle::StateRecord {
                identity: format!("{vuln}/{i}"),
                id: format!("{vuln}/{i}"),
                severity: scanflow_core::model::Severity::Critical,
                instance_id: Some((*i).into()),
                vulnerability_id: Some(vuln.into()),
                title: format!("{vuln} - openssh"),
                first_seen: "2026-11-01T00:00:00Z".into(),
                last_seen: "2026-11-30T03:20:00Z".into(),
            };
            serde_json::to_string(&r).expect("json") + "\n"
        })
        .collect();
    let chunk = format!("scanflow/{account}/{region}/0123456789abcdef/lifecycle/x/00000.jsonl");
    pollster::block_on(
        sb.store()
            .put(&chunk, records.into_bytes(), "application/x-ndjson"),
    )
    .expect("chunk");
    let pointer = StatePointer {
        schema: lifecycle::STATE_SCHEMA.into(),
        version: lifecycle::STATE_VERSION,
        account_id: account.into(),
        region: region.into(),
        run_id: format!("run-{account}"),
        execution: format!("scan-{account}"),
        collected_at: "2026-11-30T03:20:00Z".into(),
        findings: instances.len() as u64,
        chunks: vec![chunk],
        basis: None,
        history: Vec::new(),
        summary: Some(lifecycle::ScanSummary {
            counts: scanflow_core::model::SeverityCounts {
                critical: instances.len() as u64,
                ..Default::default()
            },
            new: 1,
            resolved: 0,
            overdue: 0,
            instances_scanned: instances.len() as u64,
            instances_not_scanned: 0,
        }),
    };
    pollster::block_on(sb.store().put(
        &keys::lifecycle_current(account, region),
        serde_json::to_vec(&pointer).expect("json"),
        "application/json",
    ))
    .expect("pointer");
}

#[test]
fn the_rollup_has_a_row_per_account_region_the_top_risks_and_what_needs_attention() {
    let sb = sandbox("rollup");
    sb.seed_registry(datetime!(2026-11-01 00:00 UTC))
        .expect("seeded");
    let places = deployed(&sb);
    assert!(places.len() >= 3, "{places:?}");
    for (account, region) in &places {
        deliver(&sb, account, region, "2026-11-30T03:20:00Z");
    }
    let (a, b, c) = (&places[0], &places[1], &places[2]);
    state(&sb, &a.0, &a.1, "CVE-2024-6387", &["i-1", "i-2"]);
    state(&sb, &b.0, &b.1, "CVE-2024-6387", &["i-1"]);
    // The third's state pointer is damaged: named, not skipped.
    pollster::block_on(sb.store().put(
        &keys::lifecycle_current(&c.0, &c.1),
        b"{not json".to_vec(),
        "application/json",
    ))
    .expect("put");
    let out = pollster::block_on(invoke(
        &sb,
        json!({"check": "rollup", "now": "2026-12-01T07:00:00Z", "graceHours": 6}),
    ))
    .expect("the rollup runs");
    let result: RollupResult = serde_json::from_value(out).expect("result");
    assert_eq!(result.account_regions, places.len());
    let messages = sb.sns_messages();
    let sent = messages
        .iter()
        .find(|m| m.attributes.get(ATTR_KIND).map(String::as_str) == Some(KIND_ROLLUP))
        .expect("a rollup message");
    assert_eq!(sent.message_id, result.message_id);
    assert_eq!(
        sent.subscriptions(),
        vec![scanflow_sandbox::Subscription::Email]
    );
    let body = &sent.message;
    assert!(
        body.contains("1. CRITICAL CVE-2024-6387 - openssh - on 3 instance(s), 2 account(s)"),
        "{body}"
    );
    // The worst row first: two criticals.
    let table = body.split("BY ACCOUNT-REGION").nth(1).expect("table");
    let first_row = table.lines().nth(2).expect("a row");
    assert!(first_row.starts_with(&a.0), "{table}");
    assert!(
        body.contains(&keys::lifecycle_current(&c.0, &c.1)),
        "{body}"
    );
    // The lost member stack of the default scenario is named too.
    assert!(body.contains("lost its member stack"), "{body}");
    // Everything is in the report store as well.
    let report: Value = serde_json::from_slice(
        &pollster::block_on(sb.store().get(&result.report_key)).expect("report"),
    )
    .expect("json");
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(places.len()));
    assert_eq!(report["topRisks"][0]["accounts"], 2);
}

#[test]
fn an_unknown_check_is_refused_naming_both() {
    let sb = sandbox("bad-check");
    let err = pollster::block_on(invoke(
        &sb,
        json!({"check": "weekly", "now": "2026-12-01T07:00:00Z", "graceHours": 6}),
    ))
    .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("\"fleet\" or \"rollup\"") && text.contains("weekly"),
        "{text}"
    );
}

#[test]
fn the_handler_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let sb = sandbox("send");
    assert_send(&invoke(&sb, json!({})));
    assert_eq!(sb.config().hub_account_id, "999988887777");
}
