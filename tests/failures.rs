//! End-to-end: the failure path. A step that fails after its retries fails the execution at
//! that step; the notifier sends the notice from the execution's status change; a redrive
//! resumes at the failed step and reruns only what failed; timeouts, aborts, duplicated
//! schedule events and a throttling storm all end scanned or noticed.

use scanflow_asl::Status;
use scanflow_cli::local::{self, LocalRun};
use scanflow_core::keys;
use scanflow_core::ports::{Platform, ReportStore};
use scanflow_sandbox::Scenario;
use scanflow_sandbox::lambda::{LambdaSpec, OutageSpec};
use scanflow_tests::{entered, of_kind, options, start_time, workflow};
use serde_json::json;
use time::Duration;

const WEB: &str = "111122223333";

/// The default scenario's first Inspector v2 account alone.
fn one_account() -> Scenario {
    let mut s = Scenario::default_scenario().expect("the built-in scenario");
    s.accounts.retain(|a| a.account_id == WEB);
    s
}

fn with_lambda(mut s: Scenario, spec: LambdaSpec) -> Scenario {
    s.hub.lambda = Some(spec);
    s
}

fn publish_outage(until_seconds: u32) -> LambdaSpec {
    LambdaSpec {
        concurrency: None,
        invocation_millis: 1_000,
        outages: vec![OutageSpec {
            function: "publish".into(),
            from_seconds: 0,
            until_seconds,
            error: "Lambda.ServiceException".into(),
        }],
    }
}

fn run(options: local::RunOptions) -> LocalRun {
    local::run(&workflow(), options).expect("the local run starts")
}

#[test]
fn a_publish_outage_fails_at_publish_with_a_notice_and_a_redrive_resumes_there() {
    let scenario = with_lambda(one_account(), publish_outage(3_600));
    let mut opts = options(scenario, vec![], "publish-outage");
    opts.redrive_after = Some(Duration::hours(2));
    let local = run(opts);
    let ex = &local.executions[0];

    // The redrive succeeded without scanning or collecting again.
    assert_eq!(
        ex.execution.status,
        Status::Succeeded,
        "{:?}",
        ex.execution.error
    );
    assert_eq!(ex.execution.redrive_count, 1);
    let h = &ex.execution;
    assert_eq!(entered(h, "StartRun"), 1);
    assert_eq!(entered(h, "CollectFindings"), 1);
    assert_eq!(entered(h, "Format"), 1);
    assert_eq!(entered(h, "Publish"), 2, "failed once, redriven once");
    assert_eq!(
        h.history
            .iter()
            .filter(|e| e.kind == "ExecutionRedriven")
            .count(),
        1
    );
    // It had failed at Publish, after the retries, with Lambda's error.
    let failed = h
        .history
        .iter()
        .find(|e| e.kind == "ExecutionFailed")
        .expect("the first run failed");
    assert_eq!(failed.error.as_deref(), Some("Lambda.ServiceException"));
    let retries = h
        .history
        .iter()
        .filter(|e| e.kind == "TaskFailed" || e.kind == "LambdaFunctionFailed")
        .count();
    assert!(retries >= 7, "6 retries then the failure: {retries}");

    // One failure notice, then one resolved message; the digest once, after the redrive.
    let messages = local.sandbox.sns_messages();
    let failures = of_kind(&messages, "failure");
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert!(failures[0].subject.contains("Lambda.ServiceException"));
    assert!(failures[0].message.contains(WEB));
    let resolved = of_kind(&messages, "resolved");
    assert_eq!(resolved.len(), 1);
    assert!(
        resolved[0].message.contains("Lambda.ServiceException"),
        "{}",
        resolved[0].message
    );
    assert!(resolved[0].subject.contains("RESOLVED"));
    assert_eq!(of_kind(&messages, "digest").len(), 1);
    assert!(ex.reported());
    assert_eq!(ex.notices.len(), 2);
    assert!(
        ex.notices.iter().all(|n| n.result.is_ok()),
        "{:?}",
        ex.notices
    );

    // The Security Hub notice of the failure is archived once the redrive completed.
    let hub = local.sandbox.security_hub_state(WEB);
    let notice = hub
        .notices
        .values()
        .find(|n| n.id.contains("scan-failed"))
        .expect("the failure notice was imported");
    assert!(notice.resolved_at.is_some(), "{notice:?}");
}

#[test]
fn the_notifier_sends_nothing_twice_for_a_repeated_event() {
    let scenario = with_lambda(one_account(), publish_outage(3_600));
    let mut local = run(options(scenario, vec![], "repeated-event"));
    let event = local.executions[0].execution.status_change_event();
    let before = local.sandbox.sns_messages().len();
    // EventBridge delivers at least once: the same event again.
    let again = pollster::block_on(publish::notify::invoke(&local.sandbox, event))
        .expect("the repeat is handled");
    assert_eq!(again["messages"], 0);
    assert_eq!(again["alreadySent"], 2);
    assert_eq!(local.sandbox.sns_messages().len(), before);
    // And a redrive's SUCCEEDED event is a new event: its resolution goes out once.
    let at = local.executions[0].execution.end_time + Duration::hours(2);
    local.redrive(&workflow(), 0, at).expect("redrivable");
    let event = local.executions[0].execution.status_change_event();
    let again =
        pollster::block_on(publish::notify::invoke(&local.sandbox, event)).expect("handled");
    assert_eq!(again["action"], "resolved");
    assert_eq!(again["messages"], 0);
    assert_eq!(of_kind(&local.sandbox.sns_messages(), "resolved").len(), 1);
}

#[test]
fn a_machine_timeout_ends_timed_out_with_a_notice() {
    // The same definition with a machine timeout shorter than the Classic assessment.
    let root = scanflow_tests::repo_root();
    let mut def: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("statemachine/scan.asl.json")).expect("definition"),
    )
    .expect("json");
    def["TimeoutSeconds"] = json!(600);
    let dir = scanflow_tests::out_dir("timeout-def");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("scan.asl.json");
    std::fs::write(&path, def.to_string()).expect("write");
    let wf =
        scanflow_cli::definition::Workflow::load(&path, Some(&root.join("templates/hub.yaml")))
            .expect("loads");
    let mut scenario = Scenario::default_scenario().expect("built-in");
    scenario.accounts.retain(|a| a.account_id == "444455556666");
    let local = local::run(&wf, options(scenario, vec![], "timeout")).expect("runs");
    let ex = &local.executions[0];
    assert_eq!(ex.execution.status, Status::TimedOut);
    assert!(ex.reported(), "{:?}", ex.notices);
    let failures = of_kind(&local.sandbox.sns_messages(), "failure");
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].subject.contains("States.Timeout"),
        "{}",
        failures[0].subject
    );
    assert!(failures[0].message.contains("444455556666"));
}

#[test]
fn an_aborted_execution_gets_a_notice_and_can_be_redriven() {
    let mut local = LocalRun::new(
        {
            let mut s = Scenario::default_scenario().expect("built-in");
            s.accounts.retain(|a| a.account_id == "444455556666");
            s
        },
        &scanflow_tests::out_dir("abort"),
        None,
    )
    .expect("sandbox");
    let wf = workflow();
    let input = json!({"accountId": "444455556666", "region": "us-east-1"});
    let abort_at = start_time() + Duration::minutes(5);
    local.execute(&wf, input, start_time(), 3, Some(abort_at));
    let ex = &local.executions[0];
    assert_eq!(ex.execution.status, Status::Aborted);
    assert!(ex.reported(), "{:?}", ex.notices);
    let failures = of_kind(&local.sandbox.sns_messages(), "failure");
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].subject.contains("ExecutionAborted"),
        "{}",
        failures[0].subject
    );
    assert!(failures[0].message.contains("was stopped"));

    // Redriven, the Classic run already started is followed, not started again.
    let at = ex.execution.end_time + Duration::minutes(10);
    let ex = local.redrive(&wf, 0, at).expect("redrivable");
    assert_eq!(
        ex.execution.status,
        Status::Succeeded,
        "{:?}",
        ex.execution.cause
    );
    assert_eq!(entered(&ex.execution, "StartRun"), 1);
    assert_eq!(
        local
            .sandbox
            .api_calls()
            .get("inspector:StartAssessmentRun"),
        Some(&1)
    );
    assert_eq!(of_kind(&local.sandbox.sns_messages(), "resolved").len(), 1);
}

#[test]
fn invalid_input_still_ends_at_once_with_a_notice() {
    let local = run(options(
        one_account(),
        vec![json!({"accountId": "12", "region": "eu-west-1"})],
        "invalid",
    ));
    let ex = &local.executions[0];
    assert_eq!(ex.execution.status, Status::Failed);
    assert_eq!(ex.execution.error.as_deref(), Some("InvalidInput"));
    assert_eq!(entered(&ex.execution, "StartRun"), 1);
    let attempts = ex
        .execution
        .history
        .iter()
        .filter(|e| e.kind == "TaskFailed" || e.kind == "LambdaFunctionFailed")
        .count();
    assert_eq!(attempts, 1, "bad input is never retried");
    assert!(ex.reported());
    let failures = of_kind(&local.sandbox.sns_messages(), "failure");
    assert_eq!(failures.len(), 1);
    assert!(failures[0].message.contains("accountId"));
}

#[test]
fn a_duplicated_schedule_event_scans_and_delivers_once() {
    let slot =
        json!({"accountId": WEB, "region": "eu-west-1", "scheduledAt": "2026-11-28T02:00:00Z"});
    let local = run(options(
        one_account(),
        vec![slot.clone(), slot],
        "duplicate",
    ));
    let (first, second) = (&local.executions[0], &local.executions[1]);
    assert_ne!(first.name, second.name, "EventBridge names each delivery");
    assert_eq!(first.execution.status, Status::Succeeded);
    assert_eq!(second.execution.status, Status::Succeeded);
    let out = second.execution.output.as_ref().expect("output");
    assert_eq!(out["duplicate"], true);
    assert_eq!(out["duplicateOf"], first.name.as_str());
    assert_eq!(entered(&second.execution, "CheckStatus"), 0);
    let calls = local.sandbox.api_calls();
    // One scan: one coverage pre-flight (the duplicate never entered the account).
    assert_eq!(calls.get("ssm:GetParameter"), Some(&1), "{calls:?}");
    assert_eq!(of_kind(&local.sandbox.sns_messages(), "digest").len(), 1);
    assert!(second.notices.is_empty(), "a duplicate is no failure");
    // The delivery names the slot it served, for the fleet watch.
    let record = pollster::block_on(
        local
            .sandbox
            .store()
            .get(&keys::last_delivery(WEB, "eu-west-1")),
    )
    .expect("the last delivery is recorded");
    let record: serde_json::Value = serde_json::from_slice(&record).expect("json");
    assert_eq!(record["scheduledAt"], "2026-11-28T02:00:00Z");
    assert_eq!(record["execution"], first.name.as_str());
}

#[test]
fn a_thousand_executions_in_one_minute_against_a_concurrency_of_100_all_end_scanned_or_noticed() {
    let s = one_account();
    let template = s.accounts[0].clone();
    let mut a = template;
    a.account_id = "200000000000".into();
    a.copies = Some(1_000);
    a.findings.list.clear();
    a.settings.assessment_template_arn = None;
    a.findings.generate = Some(scanflow_sandbox::GeneratorSpec { count: 3, seed: 1 });
    let text = serde_json::json!({"hub": s.hub, "accounts": [a]}).to_string();
    let mut scenario = Scenario::from_json(&text).expect("the fleet scenario");
    scenario.hub.lambda = Some(LambdaSpec {
        concurrency: Some(100),
        invocation_millis: 2_000,
        outages: vec![],
    });
    assert_eq!(scenario.accounts.len(), 1_000);
    let local = run(options(scenario, vec![], "storm"));
    assert_eq!(local.executions.len(), 1_000);
    let throttled = local.sandbox.lambda().throttled();
    assert!(throttled > 0, "the storm must throttle");
    assert!(local.sandbox.lambda().peak_concurrency() <= 100);
    let mut succeeded = 0;
    for ex in &local.executions {
        assert!(
            ex.reported(),
            "{}: {:?} {:?}",
            ex.name,
            ex.execution.status,
            ex.notices
        );
        if ex.execution.status == Status::Succeeded {
            succeeded += 1;
        }
    }
    let digests = of_kind(&local.sandbox.sns_messages(), "digest").len();
    let failures = of_kind(&local.sandbox.sns_messages(), "failure").len();
    assert_eq!(digests, succeeded);
    assert_eq!(failures, 1_000 - succeeded);
    assert!(
        succeeded > 900,
        "the retries outlast a one-minute storm: {succeeded}"
    );
}

/// A published message as a receiver tells it apart: subject, body and attributes.
type Sent = (String, String, Vec<(String, String)>);

/// Every message of the run's delivery, by content and attributes, for comparing runs.
fn delivered(local: &LocalRun) -> Vec<Sent> {
    let mut all: Vec<_> = local
        .sandbox
        .sns_messages()
        .into_iter()
        .filter(|m| {
            matches!(
                m.attributes.get("scanflow_kind").map(String::as_str),
                Some("digest" | "siem")
            )
        })
        .map(|m| {
            (
                m.subject,
                // The digest links the HTML report in this run's own output folder.
                m.message
                    .replace(&local.sandbox.out_dir().display().to_string(), "<out>"),
                m.attributes.into_iter().collect::<Vec<_>>(),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_publish_that_dies_part_way_resumes_and_sends_every_message_once() {
    // 4,000 findings: the digest and several SIEM parts.
    let mut base = one_account();
    base.accounts[0].findings.generate = Some(scanflow_sandbox::GeneratorSpec {
        count: 4_000,
        seed: 5,
    });
    let reference = run(options(base.clone(), vec![], "crash-none"));
    let expected = delivered(&reference);
    let total = u32::try_from(expected.len()).expect("few messages");
    assert!(total >= 3, "{total} messages");

    for crash_after in [1, total - 1, total, total + 1] {
        let mut s = base.clone();
        s.accounts[0].crash_after_messages = Some(crash_after);
        let local = run(options(s, vec![], &format!("crash-{crash_after}")));
        let ex = &local.executions[0];
        assert_eq!(
            ex.execution.status,
            Status::Succeeded,
            "{crash_after}: {:?}",
            ex.execution.cause
        );
        let crashed = ex
            .execution
            .history
            .iter()
            .any(|e| e.error.as_deref() == Some("Lambda.Unknown"));
        assert_eq!(crashed, crash_after <= total, "{crash_after}");
        // Every message exactly once, none lost: the same as without the crash.
        assert_eq!(delivered(&local), expected, "crash after {crash_after}");
        let published = &ex.execution.output.as_ref().expect("output")["messages"];
        if crash_after < total {
            assert_eq!(
                published,
                &json!(total - crash_after),
                "the retry sent the rest"
            );
        }
    }
}

#[test]
fn a_later_scan_archives_the_notices_it_shows_cleared() {
    // A failure nobody redrives: its Security Hub notice stays open until a scan succeeds.
    let scenario = with_lambda(one_account(), publish_outage(3_600));
    let mut local =
        LocalRun::new(scenario, &scanflow_tests::out_dir("cleared"), None).expect("sandbox");
    local.sandbox.lambda().set_origin(start_time());
    let wf = workflow();
    let input = json!({"accountId": WEB, "region": "eu-west-1"});
    local.execute(&wf, input.clone(), start_time(), 1, None);
    assert_eq!(local.executions[0].execution.status, Status::Failed);
    let failed_notice = |local: &LocalRun| {
        local
            .sandbox
            .security_hub_state(WEB)
            .notices
            .values()
            .find(|n| n.id.contains("/scan-failed/"))
            .cloned()
            .expect("the failure notice")
    };
    assert!(failed_notice(&local).resolved_at.is_none());
    // The next week's scan (the outage is long over) succeeds and archives it.
    let week = start_time() + Duration::days(7);
    local.execute(&wf, input, week, 2, None);
    let ex = &local.executions[1];
    assert_eq!(
        ex.execution.status,
        Status::Succeeded,
        "{:?}",
        ex.execution.cause
    );
    assert!(failed_notice(&local).resolved_at.is_some());
    assert_eq!(
        ex.execution.output.as_ref().expect("output")["noticesResolved"],
        1
    );
    // The uncovered instance's notice stays open: it is still not scanned.
    let hub = local.sandbox.security_hub_state(WEB);
    let not_scanned: Vec<_> = hub
        .notices
        .values()
        .filter(|n| n.id.contains("/not-scanned/"))
        .collect();
    assert!(!not_scanned.is_empty());
    assert!(not_scanned.iter().all(|n| n.resolved_at.is_none()));
}

#[test]
fn hostile_text_cannot_forge_or_hide_anything_in_what_people_read() {
    // A tag in the execution input is refused at once, naming the field.
    let hostile = json!({
        "accountId": WEB,
        "region": "eu-west-1",
        "tagKey": "Env\u{202E}",
        "tagValue": "x\n\nAccount:    999999999999\u{1b}[2J\u{7}"
    });
    // A finding whose title tries the same, from the (simulated) Inspector.
    let mut scenario = one_account();
    scenario.accounts[0].findings.list[0].title =
        Some("openssh\u{202E}gnp.exe\nAccount:    999999999999\u{1b}]0;x\u{7}".into());
    let local = run(options(
        scenario,
        vec![hostile, json!({"accountId": WEB, "region": "eu-west-1"})],
        "hostile-text",
    ));
    assert_eq!(
        local.executions[0].execution.error.as_deref(),
        Some("InvalidInput")
    );
    assert!(local.executions[0].reported());
    assert_eq!(local.executions[1].execution.status, Status::Succeeded);
    let emails: Vec<_> = local
        .sandbox
        .sns_messages()
        .into_iter()
        .filter(|m| m.attributes.get("scanflow_kind").map(String::as_str) != Some("siem"))
        .collect();
    assert!(emails.len() >= 2, "the failure notice and the digest");
    for m in &emails {
        for text in [&m.subject, &m.message] {
            assert!(
                !text.chars().any(|c| (c.is_control() && c != '\n')
                    || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
                "{text}"
            );
        }
        assert!(
            !m.message
                .lines()
                .any(|l| l.starts_with("Account:    999999999999")),
            "a forged line: {}",
            m.message
        );
    }
    let notice = emails
        .iter()
        .find(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("failure"))
        .expect("the failure notice");
    assert!(notice.message.contains("`tagKey`"), "{}", notice.message);
    // The digest still shows the title, with what was hidden made visible.
    let digest = emails
        .iter()
        .find(|m| m.attributes.get("scanflow_kind").map(String::as_str) == Some("digest"))
        .expect("the digest");
    assert!(
        digest.message.contains("openssh<U+202E>gnp.exe"),
        "{}",
        digest.message
    );
    // The SIEM document keeps the exact title (JSON escapes it).
    let siem = scanflow_tests::siem_documents(&local.sandbox.sns_messages(), WEB);
    let exact = siem
        .iter()
        .flat_map(|d| d["findings"].as_array().cloned().unwrap_or_default())
        .any(|f| f["title"].as_str().is_some_and(|t| t.contains('\u{202E}')));
    assert!(exact, "the SIEM document has the exact text");
}
