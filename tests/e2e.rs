//! End-to-end: the real `statemachine/scan.asl.json`, resolved through the hub template,
//! executed by the local engine with the real handlers against simulated accounts.

use std::collections::{BTreeMap, HashSet};

use scanflow_asl::Status;
use scanflow_core::message::SNS_MESSAGE_LIMIT;
use scanflow_sandbox::{Scenario, Subscription};
use scanflow_tests::{run, scenario_file, siem_documents};
use serde_json::json;

fn output_total(output: &serde_json::Value) -> u64 {
    output["counts"].as_object().map_or(0, |o| {
        o.values().filter_map(serde_json::Value::as_u64).sum()
    })
}

fn failure_emails(local: &scanflow_cli::local::LocalRun) -> Vec<(String, String)> {
    local
        .sandbox
        .sns_messages()
        .into_iter()
        .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("failure"))
        .map(|m| (m.subject, m.message))
        .collect()
}

#[test]
fn default_scenario_delivers_every_finding_through_every_channel_and_reports_the_broken_account() {
    let local = run(
        Scenario::default_scenario().expect("the built-in scenario"),
        vec![],
        "default",
        None,
    );
    let messages = local.sandbox.sns_messages();
    let mut severities = HashSet::new();
    let mut failed = 0;
    for ex in &local.executions {
        let account = ex.input["accountId"].as_str().expect("account").to_owned();
        assert!(
            ex.reported(),
            "{} ended unreported: {:?} {:?}",
            ex.name,
            ex.execution.error,
            ex.execution.cause
        );
        if ex.execution.status == Status::Failed {
            failed += 1;
            assert_eq!(
                ex.execution.error.as_deref(),
                Some("RoleNotAssumable"),
                "{}",
                ex.name
            );
            continue;
        }
        let output = ex
            .execution
            .output
            .as_ref()
            .expect("succeeded executions have output");
        let total = output_total(output);
        assert!(
            total > 0,
            "{account}: a scanned account in the default scenario has findings"
        );

        // The SIEM feed carries each finding exactly once, across numbered parts.
        let docs = siem_documents(&messages, &account);
        let parts = docs.len();
        let mut ids = HashSet::new();
        for (i, doc) in docs.iter().enumerate() {
            assert_eq!(doc["part"]["index"], json!(i + 1));
            assert_eq!(doc["part"]["count"], json!(parts));
            for f in doc["findings"].as_array().expect("findings") {
                assert!(
                    ids.insert(f["id"].as_str().expect("id").to_owned()),
                    "finding delivered twice"
                );
                severities.insert(f["severity"].as_str().expect("severity").to_owned());
            }
        }
        assert_eq!(ids.len() as u64, total, "{account}: SIEM feed vs counts");

        // Security Hub: every delivered Inspector finding that was NEW marked NOTIFIED, in the
        // member account; what an analyst had triaged left exactly as it was.
        let hub = local.sandbox.security_hub_state(&account);
        let triaged: Vec<&String> = ids
            .iter()
            .filter(|id| {
                hub.findings
                    .get(*id)
                    .is_some_and(|t| t.workflow != scanflow_core::ports::WorkflowStatus::Notified)
            })
            .collect();
        assert_eq!(
            hub.notified.len() + triaged.len(),
            ids.len(),
            "{account}: NOTIFIED marks"
        );
        assert_eq!(output["findingsTriaged"], json!(triaged.len()), "{account}");
        for id in &triaged {
            let t = &hub.findings[*id];
            assert_eq!(
                t.workflow,
                scanflow_core::ports::WorkflowStatus::Suppressed,
                "{id}"
            );
            assert!(
                t.note.as_deref().is_some_and(|n| n.contains("SEC-1042")),
                "the note stays"
            );
            assert!(!hub.notified.contains_key(*id));
        }
        if account == "111122223333" {
            assert!(
                !triaged.is_empty(),
                "the scenario's analyst suppressed CVE-2024-6387"
            );
        }
        assert!(
            hub.notified
                .values()
                .all(|f| f.get("scanflow_execution") == Some(&ex.name)),
            "the run is in the user-defined fields"
        );
        assert_eq!(
            hub.notices.len() as u64,
            output["instancesNotScanned"].as_u64().expect("count"),
            "{account}: a notice per uncovered instance"
        );
    }
    assert_eq!(
        failed, 1,
        "exactly one broken account in the default scenario"
    );
    for s in ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"] {
        assert!(
            severities.contains(s),
            "default scenario covers severity {s}"
        );
    }
    // The role failure is told to people, with the account, region and a way out.
    let failures = failure_emails(&local);
    assert_eq!(failures.len(), 1);
    let (subject, body) = &failures[0];
    assert!(subject.contains("RoleNotAssumable"), "{subject}");
    assert!(
        body.contains("123456789012")
            && body.contains("eu-central-1")
            && body.to_lowercase().contains("stackset"),
        "{body}"
    );
    // One digest e-mail per scanned account; SIEM parts never reach the e-mail subscription.
    let emails: Vec<_> = messages
        .iter()
        .filter(|m| m.subscriptions().contains(&Subscription::Email))
        .collect();
    let (watch, emails): (Vec<_>, Vec<_>) = emails
        .into_iter()
        .partition(|m| m.attributes["scanflow_kind"] == "fleet-watch");
    // And one org rollup after them all.
    let (rollup, emails): (Vec<_>, Vec<_>) = emails
        .into_iter()
        .partition(|m| m.attributes["scanflow_kind"] == "rollup");
    assert_eq!(rollup.len(), 1);
    assert_eq!(emails.len(), local.executions.len());
    // The fleet watch names the account whose member stack is gone and the one still on
    // Inspector Classic (with what v2's pre-flight found there), and only them.
    assert_eq!(watch.len(), 1);
    assert!(
        watch[0]
            .message
            .contains("123456789012 eu-central-1: lost its member stack"),
        "{}",
        watch[0].message
    );
    assert!(
        watch[0].message.contains(
            "444455556666 us-east-1: is still on Inspector Classic, which ended on\n  \
             2026-05-20 (Inspector v2 EC2 scanning is DISABLED)"
        ),
        "{}",
        watch[0].message
    );
    for ex in local
        .executions
        .iter()
        .filter(|e| e.execution.status == Status::Succeeded)
        .filter(|e| e.input["accountId"] != "444455556666")
    {
        let account = ex.input["accountId"].as_str().expect("account");
        assert!(!watch[0].message.contains(account), "{account} is healthy");
    }
    assert!(
        emails
            .iter()
            .all(|m| m.attributes["scanflow_kind"] != "siem")
    );
}

#[test]
fn invalid_input_fails_at_once_with_a_notice_naming_the_field() {
    let local = run(
        Scenario::default_scenario().expect("the built-in scenario"),
        vec![json!({"accountId": "12345", "region": "eu-west-1"})],
        "invalid",
        None,
    );
    let ex = &local.executions[0];
    assert_eq!(ex.execution.status, Status::Failed);
    assert_eq!(ex.execution.error.as_deref(), Some("InvalidInput"));
    assert!(ex.reported());
    // Not retried: bad input never becomes right by waiting.
    let attempts = ex
        .execution
        .history
        .iter()
        .filter(|e| e.kind == "TaskFailed" && e.error.as_deref() == Some("InvalidInput"))
        .count();
    assert_eq!(attempts, 1);
    let (_, body) = &failure_emails(&local)[0];
    assert!(body.contains("accountId"), "{body}");
    assert!(
        local
            .sandbox
            .api_calls()
            .keys()
            .all(|k| !k.starts_with("sts:")),
        "no AWS call before validation"
    );
}

#[test]
fn a_rerun_redelivers_the_same_findings_without_scanning_again() {
    let scenario = Scenario::default_scenario().expect("the built-in scenario");
    let classic = scenario
        .accounts
        .iter()
        .find(|a| a.settings.engine == scanflow_core::model::Engine::Classic && a.role_deployed)
        .expect("the default scenario has a Classic account")
        .clone();
    let workflow = scanflow_tests::workflow();
    let mut local =
        scanflow_cli::local::LocalRun::new(scenario, &scanflow_tests::out_dir("rerun"), None)
            .expect("sandbox");
    let scan = json!({"accountId": classic.account_id, "region": classic.region});
    let first = local
        .execute(&workflow, scan, scanflow_tests::start_time(), 1, None)
        .execution
        .output
        .clone()
        .expect("the scan succeeds");
    let run_arn = first["runId"].as_str().expect("run id").to_owned();
    let scans_started = local
        .sandbox
        .api_calls()
        .get("inspector:StartAssessmentRun")
        .copied();
    assert_eq!(scans_started, Some(1));

    let next_day = scanflow_tests::start_time() + time::Duration::days(1);
    let rerun = local.execute(
        &workflow,
        json!({"accountId": classic.account_id, "region": classic.region, "runArn": run_arn}),
        next_day,
        2,
        None,
    );
    assert_eq!(
        rerun.execution.status,
        Status::Succeeded,
        "{:?} {:?}",
        rerun.execution.error,
        rerun.execution.cause
    );
    let out = rerun.execution.output.clone().expect("output");
    assert!(
        !rerun
            .execution
            .history
            .iter()
            .any(|e| e.state_name.as_deref() == Some("WaitForScan")),
        "a rerun does not wait for a scan"
    );
    assert_eq!(out["rerun"], json!(true));
    assert_eq!(out["runId"], json!(run_arn));
    assert_eq!(output_total(&out), output_total(&first));
    assert_eq!(
        local
            .sandbox
            .api_calls()
            .get("inspector:StartAssessmentRun")
            .copied(),
        scans_started,
        "the rerun started no scan"
    );
    let digests = local
        .sandbox
        .sns_messages()
        .into_iter()
        .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("digest"))
        .count();
    assert_eq!(digests, 2, "the rerun delivered again");
}

#[test]
fn state_stays_small_and_every_message_fits_sns() {
    let local = run(
        Scenario::default_scenario().expect("the built-in scenario"),
        vec![],
        "sizes",
        None,
    );
    for ex in &local.executions {
        for e in &ex.execution.history {
            for v in [&e.input, &e.output].into_iter().flatten() {
                let size = serde_json::to_vec(v).expect("json").len();
                assert!(
                    size <= 16 * 1024,
                    "{}: {} {:?} carries {size} bytes",
                    ex.name,
                    e.kind,
                    e.state_name
                );
            }
        }
    }
    for m in local.sandbox.sns_messages() {
        let size = m.message.len()
            + m.attributes
                .iter()
                .map(|(k, v)| k.len() + 6 + v.len())
                .sum::<usize>();
        assert!(size <= SNS_MESSAGE_LIMIT);
    }
}

#[test]
fn transitions_of_a_one_hour_classic_scan_stay_low() {
    let mut scenario = Scenario::default_scenario().expect("the built-in scenario");
    scenario
        .accounts
        .retain(|a| a.settings.engine == scanflow_core::model::Engine::Classic && a.role_deployed);
    let account = scenario.accounts.first_mut().expect("a classic account");
    account.settings.duration_seconds = 3600;
    let input = json!({"accountId": account.account_id, "region": account.region});
    let local = run(scenario, vec![input], "hour", None);
    let ex = &local.executions[0];
    assert_eq!(
        ex.execution.status,
        Status::Succeeded,
        "{:?}",
        ex.execution.cause
    );
    let waits: BTreeMap<_, _> = ex
        .execution
        .history
        .iter()
        .filter(|e| e.kind == "WaitStateEntered")
        .fold(BTreeMap::new(), |mut m, e| {
            *m.entry(e.state_name.clone().unwrap_or_default())
                .or_insert(0) += 1;
            m
        });
    assert_eq!(waits.get("WaitForScan"), Some(&1));
    // Init, StartRun, IsRerun, WaitForScan, CheckStatus, IsDone, Collect, Format, Publish, Summary
    // plus three per extra poll: a handful of polls at most for an hour-long run.
    assert!(
        ex.execution.transitions <= 10 + 3 * 3,
        "{} transitions",
        ex.execution.transitions
    );
}

/// Each way a scan cannot complete ends FAILED with its own error, after a notice that names
/// the account and region.
#[test]
fn every_failure_mode_ends_in_its_notice_and_error() {
    let cases = [
        ("role-missing.json", "RoleNotAssumable"),
        ("inspector-disabled.json", "InspectorDisabled"),
        ("no-matching-instances.json", "NoInstancesMatched"),
        ("classic-run-fails.json", "ScanFailed"),
        ("classic-run-hangs.json", "ScanTimedOut"),
    ];
    for (file, error) in cases {
        let local = run(scenario_file(file), vec![], file, None);
        let failures = failure_emails(&local);
        assert_eq!(
            failures.len(),
            local.executions.len(),
            "{file}: one notice per execution"
        );
        for (ex, (subject, body)) in local.executions.iter().zip(&failures) {
            assert_eq!(ex.execution.status, Status::Failed, "{file}: {}", ex.name);
            assert_eq!(
                ex.execution.error.as_deref(),
                Some(error),
                "{file}: {:?}",
                ex.execution.cause
            );
            assert!(ex.reported(), "{file}");
            let account = ex.input["accountId"].as_str().expect("account");
            let region = ex.input["region"].as_str().expect("region");
            assert!(
                subject.contains(account) && subject.contains(error),
                "{file}: {subject}"
            );
            assert!(
                body.contains(account) && body.contains(region),
                "{file}: {body}"
            );
            // Security Hub learns of it too: in the member account, or the hub's when the
            // member cannot be entered.
            let where_ = if error == "RoleNotAssumable" {
                local.sandbox.scenario().hub.account_id.clone()
            } else {
                account.to_owned()
            };
            let notices = local.sandbox.security_hub_state(&where_).notices;
            assert!(
                notices
                    .keys()
                    .any(|id| id.contains(account) && id.contains("scan-failed")),
                "{file}: {notices:?}"
            );
        }
    }
}

#[test]
fn a_hanging_run_is_given_up_exactly_at_its_deadline() {
    let local = run(
        scenario_file("classic-run-hangs.json"),
        vec![],
        "hang",
        None,
    );
    let ex = &local.executions[0];
    let started = scanflow_tests::start_time();
    let last_check = ex
        .execution
        .history
        .iter()
        .rev()
        .find(|e| e.kind == "TaskStateEntered" && e.state_name.as_deref() == Some("CheckStatus"))
        .expect("checked");
    let account = &local.sandbox.scenario().accounts[0];
    let config = local.sandbox.scenario().hub.hub_config();
    let deadline = started
        + time::Duration::seconds(i64::from(
            account.settings.duration_seconds + config.evaluation_allowance_seconds,
        ));
    assert_eq!(last_check.timestamp, deadline);
}

#[test]
fn agents_missing_is_a_coverage_notice_not_a_clean_bill() {
    let local = run(scenario_file("agents-missing.json"), vec![], "agents", None);
    for ex in &local.executions {
        let account = ex.input["accountId"].as_str().expect("account");
        let uncovered = ex
            .execution
            .output
            .as_ref()
            .map(|o| o["instancesNotScanned"].as_u64().unwrap_or(0));
        match ex.execution.status {
            Status::Succeeded => assert!(
                uncovered > Some(0),
                "{account}: the scenario leaves instances uncovered"
            ),
            _ => assert!(ex.reported(), "{account}"),
        }
        let notices = local.sandbox.security_hub_state(account).notices;
        assert!(
            notices
                .keys()
                .any(|id| id.contains("not-scanned") || id.contains("scan-failed")),
            "{account}: {notices:?}"
        );
    }
    let digests: Vec<_> = local
        .sandbox
        .sns_messages()
        .into_iter()
        .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("digest"))
        .collect();
    assert!(
        digests
            .iter()
            .all(|d| d.message.to_lowercase().contains("not scanned")),
        "the digest lists what was not covered"
    );
}

#[test]
fn one_hundred_thousand_findings_all_arrive_in_messages_that_fit() {
    let local = run(scenario_file("large.json"), vec![], "large", None);
    let ex = &local.executions[0];
    assert_eq!(
        ex.execution.status,
        Status::Succeeded,
        "{:?}",
        ex.execution.cause
    );
    let total = output_total(ex.execution.output.as_ref().expect("output"));
    assert_eq!(total, 100_000);
    let messages = local.sandbox.sns_messages();
    for m in &messages {
        let size = m.message.len()
            + m.attributes
                .iter()
                .map(|(k, v)| k.len() + 6 + v.len())
                .sum::<usize>();
        assert!(size <= SNS_MESSAGE_LIMIT, "a message of {size} bytes");
    }
    let account = ex.input["accountId"].as_str().expect("account");
    let mut ids = HashSet::new();
    for doc in siem_documents(&messages, account) {
        for f in doc["findings"].as_array().expect("findings") {
            assert!(ids.insert(f["id"].as_str().expect("id").to_owned()));
        }
    }
    assert_eq!(
        ids.len(),
        100_000,
        "every finding reached the HTTPS subscription"
    );
    for e in &ex.execution.history {
        for v in [&e.input, &e.output].into_iter().flatten() {
            assert!(
                serde_json::to_vec(v).expect("json").len() <= 16 * 1024,
                "{} {:?}",
                e.kind,
                e.state_name
            );
        }
    }
}

#[test]
fn the_fleet_watch_names_the_disabled_schedule_and_the_changed_scope_and_not_the_healthy_account() {
    let local = run(scenario_file("fleet.json"), vec![], "fleet", None);
    // The DISABLED schedule sent no event: nothing ran for that account.
    let started: Vec<&str> = local
        .executions
        .iter()
        .map(|e| e.input["accountId"].as_str().expect("account"))
        .collect();
    assert_eq!(started, ["411122223333", "433344445555"]);
    assert_eq!(
        local.skipped,
        [("422233334444".to_owned(), "eu-west-1".to_owned())]
    );
    assert!(
        local
            .executions
            .iter()
            .all(|e| e.execution.status == Status::Succeeded)
    );

    let watch = local.fleet_watch.as_ref().expect("the watch ran");
    assert_eq!((watch.checked, watch.attention), (3, 2));
    let notices: Vec<_> = local
        .sandbox
        .sns_messages()
        .into_iter()
        .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("fleet-watch"))
        .collect();
    assert_eq!(notices.len(), 1, "one notice");
    let notice = &notices[0];
    assert!(notice.subscriptions().contains(&Subscription::Email));
    assert!(!notice.subscriptions().contains(&Subscription::Https));
    // The notice is wrapped at 78 columns: read it with line breaks as spaces.
    assert!(notice.message.lines().all(|l| l.chars().count() <= 78));
    let body = &notice
        .message
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        body.contains("422233334444 eu-west-1: missed its schedule"),
        "{body}"
    );
    assert!(body.contains("ENABLED"), "{body}");
    assert!(
        body.contains("433344445555 us-east-1: changed scope")
            && body.contains("tag Scan=true")
            && body.contains("tag Scan=web"),
        "{body}"
    );
    assert!(
        !body.contains("411122223333"),
        "the healthy account is not mentioned: {body}"
    );
}

/// Every digest of the shipped scenarios keeps the plain-text layout: lines of at most 78
/// characters broken at spaces (only a URL or an ARN may be longer). `large.json` (100,000
/// findings) and `storm.json` (300 accounts) are left out for time: their digests are written
/// by the same code, which the documents crate checks with thousand-character texts.
#[test]
fn every_digest_of_the_shipped_scenarios_fits_78_columns() {
    let mut digests = 0;
    for name in [
        "agents-missing",
        "classic-run-fails",
        "classic-run-hangs",
        "default",
        "fleet",
        "inspector-disabled",
        "no-matching-instances",
        "publish-outage",
        "role-missing",
    ] {
        let local = run(
            scenario_file(&format!("{name}.json")),
            Vec::new(),
            &format!("width-{name}"),
            None,
        );
        for m in local.sandbox.sns_messages() {
            if m.attributes.get("scanflow_kind").map(String::as_str) != Some("digest") {
                continue;
            }
            digests += 1;
            let long: Vec<&str> = m
                .message
                .lines()
                .filter(|l| !scanflow_documents::digest::fits_width(l))
                .collect();
            assert!(long.is_empty(), "{name}: {long:#?}");
        }
    }
    assert!(digests >= 5, "the scenarios send digests ({digests})");
}

/// Findings ids per Region in the account's SIEM feed.
fn siem_ids_by_region(
    messages: &[scanflow_sandbox::PublishedMessage],
    account: &str,
) -> BTreeMap<String, HashSet<String>> {
    let mut by_region: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for doc in siem_documents(messages, account) {
        for f in doc["findings"].as_array().expect("findings") {
            let region = f["region"].as_str().expect("region").to_owned();
            let id = f["id"].as_str().expect("id").to_owned();
            assert!(by_region.entry(region).or_default().insert(id), "twice");
        }
    }
    by_region
}

#[test]
fn one_hub_reads_inspector_v2_in_three_regions_with_list_findings() {
    let local = run(
        scenario_file("three-regions.json"),
        vec![],
        "three-regions",
        None,
    );
    assert_eq!(local.executions.len(), 3);
    let mut expected = BTreeMap::new();
    for ex in &local.executions {
        assert_eq!(ex.execution.status, Status::Succeeded, "{}", ex.name);
        let output = ex.execution.output.as_ref().expect("output");
        let region = ex.input["region"].as_str().expect("region").to_owned();
        assert_eq!(
            output["runId"].as_str().map(|r| r.starts_with("scanflow-")),
            Some(true)
        );
        expected.insert(region, output_total(output) as usize);
    }
    let by_region = siem_ids_by_region(&local.sandbox.sns_messages(), "310987654321");
    let got: BTreeMap<String, usize> = by_region
        .iter()
        .map(|(r, ids)| (r.clone(), ids.len()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        got.keys().map(String::as_str).collect::<Vec<_>>(),
        ["ap-southeast-2", "eu-west-1", "us-east-1"],
        "the hub is in eu-west-1; two of the Regions are not its"
    );
    // Every finding carries the ARN of the Region it was read in.
    for (region, ids) in &by_region {
        assert!(
            ids.iter()
                .all(|id| id.starts_with(&format!("arn:aws:inspector2:{region}:")))
        );
    }
    let calls = local.sandbox.api_calls();
    // One ListFindings page per Region (at most 100 findings each here), no report.
    assert_eq!(calls.get("inspector2:ListFindings"), Some(&3), "{calls:?}");
    assert_eq!(calls.get("inspector2:GetFindingsReportStatus"), None);
    assert!(
        !local
            .sandbox
            .out_dir()
            .join("s3/inspector2-reports")
            .exists()
    );
}

#[test]
fn a_delegated_admin_hub_reads_members_without_their_role_and_refuses_a_stranger() {
    let local = run(
        scenario_file("delegated-admin.json"),
        vec![],
        "delegated",
        None,
    );
    let status = |account: &str, region: &str| {
        local
            .executions
            .iter()
            .find(|e| e.input["accountId"] == account && e.input["region"] == region)
            .map(|e| {
                (
                    e.execution.status,
                    e.execution.error.clone(),
                    e.execution.cause.clone(),
                )
            })
            .expect("executed")
    };
    for region in ["eu-west-1", "us-west-2"] {
        assert_eq!(
            status("320987654321", region).0,
            Status::Succeeded,
            "{region}"
        );
    }
    // Not in the organisation the hub administers: refused at start-run, saying what to do.
    let (st, error, cause) = status("330987654321", "eu-west-1");
    assert_eq!((st, error.as_deref()), (Status::Failed, Some("NotFound")));
    let cause = cause.unwrap_or_default();
    assert!(
        cause.contains("ResourceNotFoundException") && cause.contains("InspectorDelegatedAdmin"),
        "{cause}"
    );
    assert!(!failure_emails(&local).is_empty(), "a notice was sent");

    // The same members read through their roles: the same findings, and two more AssumeRole
    // calls an execution (check-status and collect-findings) than the delegated admin made.
    let mut members = scenario_file("delegated-admin.json");
    members.accounts.retain(|a| a.account_id == "320987654321");
    let admin = run(members.clone(), vec![], "delegated-members", None);
    members.hub.inspector_delegated_admin = false;
    let roles = run(members, vec![], "role-members", None);
    let ids = |l: &scanflow_cli::local::LocalRun| {
        siem_ids_by_region(&l.sandbox.sns_messages(), "320987654321")
    };
    assert_eq!(ids(&admin), ids(&roles));
    assert_eq!(ids(&admin).values().map(HashSet::len).sum::<usize>(), 50);
    let assumed = |l: &scanflow_cli::local::LocalRun| {
        l.sandbox
            .api_calls()
            .get("sts:AssumeRole")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(assumed(&roles) - assumed(&admin), 2 * 2);
    assert_eq!(
        admin.sandbox.api_calls().get("inspector2:GetMember"),
        Some(&2)
    );
    assert_eq!(roles.sandbox.api_calls().get("inspector2:GetMember"), None);
}
