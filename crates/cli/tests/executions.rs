#![cfg(feature = "aws")]
//! `scanflow executions` against mocked Step Functions and CloudFormation clients: each
//! command's happy path, pagination, throttling, idempotent starts and redrive refusals.

use std::time::Duration;

use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::types::{Output, Stack as CfnStack, StackStatus};
use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::error::ErrorMetadata;
use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
use aws_sdk_sfn::operation::redrive_execution::{RedriveExecutionError, RedriveExecutionOutput};
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::error::{ExecutionAlreadyExists, ExecutionNotRedrivable};
use aws_sdk_sfn::types::{
    ExecutionFailedEventDetails, ExecutionListItem, ExecutionRedriveStatus, ExecutionStatus,
    HistoryEvent, HistoryEventType, StateEnteredEventDetails, StateExitedEventDetails,
    TaskFailedEventDetails,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use scanflow_cli::executions::{
    self, Clients, Error, Follow, ListArgs, ListOptions, Outcome, Profile, StartArgs, WatchOptions,
};
use time::OffsetDateTime;
use time::macros::datetime;

const MACHINE: &str = "arn:aws:states:eu-west-1:999988887777:stateMachine:scanflow-scan";
const NAME: &str = "scan-111122223333-eu-west-1-20261128T10";
const EXECUTION: &str = "arn:aws:states:eu-west-1:999988887777:execution:scanflow-scan:scan-111122223333-eu-west-1-20261128T10";
const NOW: OffsetDateTime = datetime!(2026-11-28 10:15:00 UTC);

fn at(t: OffsetDateTime) -> DateTime {
    DateTime::from_secs(t.unix_timestamp())
}

fn sfn(rules: &[&Rule]) -> aws_sdk_sfn::Client {
    // Two attempts with a tiny backoff: the SDK's retry is exercised without slowing the tests.
    mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules, |c| c.retry_config(
        RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(1))
    ))
}

fn stack_rule() -> Rule {
    mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(|r| r.stack_name() == Some("scanflow"))
        .then_output(|| {
            DescribeStacksOutput::builder()
                .stacks(
                    CfnStack::builder()
                        .stack_name("scanflow")
                        .stack_status(StackStatus::UpdateComplete)
                        .outputs(
                            Output::builder()
                                .output_key("DigestTopicArn")
                                .output_value("arn:aws:sns:x")
                                .build(),
                        )
                        .outputs(
                            Output::builder()
                                .output_key("StateMachineArn")
                                .output_value(MACHINE)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
}

fn clients(sfn_rules: &[&Rule], cfn_rules: &[&Rule]) -> Clients {
    Clients {
        sfn: sfn(sfn_rules),
        cfn: mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, cfn_rules),
    }
}

fn start_args(account: &str) -> StartArgs {
    StartArgs {
        stack: executions::Stack {
            stack: "scanflow".into(),
            stack_region: None,
        },
        account: Some(account.into()),
        region: Some("eu-west-1".into()),
        input: None,
        rerun_of: None,
        name: None,
        wait: false,
        follow: Follow { interval: 1 },
        profile: Profile::default(),
    }
}

fn described(status: ExecutionStatus, input: &str) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn(EXECUTION)
        .state_machine_arn(MACHINE)
        .name(NAME)
        .status(status)
        .start_date(at(datetime!(2026-11-28 10:00:03 UTC)))
        .input(input)
        .build()
        .expect("describe output")
}

fn text(out: &[u8]) -> String {
    String::from_utf8(out.to_vec()).expect("utf-8 output")
}

// ---------- start ----------

#[tokio::test]
async fn start_sends_the_validated_input_under_the_hourly_name() {
    let start = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|r| {
            r.state_machine_arn() == Some(MACHINE)
                && r.name() == Some(NAME)
                && r.input()
                    .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
                    == Some(serde_json::json!({"accountId": "111122223333", "region": "eu-west-1"}))
        })
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn(EXECUTION)
                .start_date(at(NOW))
                .build()
                .expect("output")
        });
    let stack = stack_rule();
    let mut out = Vec::new();
    let result = executions::run_start(
        &clients(&[&start], &[&stack]),
        &start_args("111122223333"),
        NOW,
        false,
        &mut out,
    )
    .await
    .expect("started");
    assert_eq!(start.num_calls(), 1);
    assert_eq!(result.started.execution_arn, EXECUTION);
    assert_eq!(result.started.existing, None);
    assert_eq!(result.outcome, None);
    let out = text(&out);
    assert!(out.contains(&format!("started  {EXECUTION}")), "{out}");
    assert!(
        out.contains(&format!("scanflow executions watch {EXECUTION}")),
        "{out}"
    );
}

#[tokio::test]
async fn rerun_of_a_report_sets_report_id_and_a_hashed_name() {
    let start = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|r| {
            r.name().is_some_and(|n| n.starts_with("rerun-111122223333-eu-west-1-20261128T10-") && n.len() == 49)
                && r.input().and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
                    == Some(serde_json::json!({"accountId": "111122223333", "region": "eu-west-1", "reportId": "0b9f-77"}))
        })
        .then_output(|| {
            StartExecutionOutput::builder().execution_arn(EXECUTION).start_date(at(NOW)).build().expect("output")
        });
    let stack = stack_rule();
    let mut args = start_args("111122223333");
    args.rerun_of = Some("0b9f-77".into());
    let result = executions::run_start(
        &clients(&[&start], &[&stack]),
        &args,
        NOW,
        false,
        &mut Vec::new(),
    )
    .await
    .expect("started");
    assert_eq!(start.num_calls(), 1);
    assert_eq!(result.input.report_id.as_deref(), Some("0b9f-77"));
}

#[tokio::test]
async fn input_files_go_through_the_shared_validation_before_any_call() {
    let dir = std::env::temp_dir().join(format!("scanflow-exec-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let stack = stack_rule();
    let start = mock!(aws_sdk_sfn::Client::start_execution).then_output(|| {
        StartExecutionOutput::builder()
            .execution_arn(EXECUTION)
            .start_date(at(NOW))
            .build()
            .expect("output")
    });
    let cases = [
        (
            r#"{"accountId": "111122223333", "region": "eu-west-1", "durationSeconds": 179}"#,
            "durationSeconds",
        ),
        (
            r#"{"accountId": "111122223333", "region": "eu-west-1", "acountId": "x"}"#,
            "acountId",
        ),
        (
            r#"{"accountId": "12345", "region": "eu-west-1"}"#,
            "accountId",
        ),
        ("not json", "$"),
    ];
    for (i, (body, field)) in cases.iter().enumerate() {
        let path = dir.join(format!("input-{i}.json"));
        std::fs::write(&path, body).expect("write input");
        let mut args = start_args("111122223333");
        args.account = None;
        args.region = None;
        args.input = Some(path);
        let err = executions::run_start(
            &clients(&[&start], &[&stack]),
            &args,
            NOW,
            false,
            &mut Vec::new(),
        )
        .await
        .expect_err(body);
        assert!(matches!(err, Error::Input(_)), "{body}: {err}");
        assert!(
            err.to_string().contains(&format!("`{field}`")),
            "{body}: {err}"
        );
        assert_eq!(err.exit_status(), executions::INVALID);
    }
    assert_eq!(
        stack.num_calls() + start.num_calls(),
        0,
        "nothing is sent for a bad input"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn already_exists() -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
        StartExecutionError::ExecutionAlreadyExists(
            ExecutionAlreadyExists::builder()
                .message(format!("Execution Already Exists: '{EXECUTION}'"))
                .build(),
        )
    })
}

#[tokio::test]
async fn same_name_same_input_is_the_existing_execution() {
    let start = already_exists();
    // Spacing differs from what was sent (moto and the console reformat): inputs compare as JSON.
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|r| r.execution_arn() == Some(EXECUTION))
        .then_output(|| {
            described(
                ExecutionStatus::Running,
                r#"{"region": "eu-west-1", "accountId": "111122223333"}"#,
            )
        });
    let stack = stack_rule();
    let mut out = Vec::new();
    let result = executions::run_start(
        &clients(&[&start, &describe], &[&stack]),
        &start_args("111122223333"),
        NOW,
        false,
        &mut out,
    )
    .await
    .expect("idempotent success");
    assert_eq!(result.started.execution_arn, EXECUTION);
    assert_eq!(result.started.existing, Some(ExecutionStatus::Running));
    let out = text(&out);
    assert!(
        out.contains(&format!(
            "already started  {EXECUTION}  (RUNNING since 2026-11-28 10:00:03Z)"
        )),
        "{out}"
    );
}

#[tokio::test]
async fn same_name_after_a_failure_points_to_redrive() {
    let start = already_exists();
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| {
        described(
            ExecutionStatus::Failed,
            r#"{"accountId":"111122223333","region":"eu-west-1"}"#,
        )
    });
    let stack = stack_rule();
    let mut out = Vec::new();
    let result = executions::run_start(
        &clients(&[&start, &describe], &[&stack]),
        &start_args("111122223333"),
        NOW,
        false,
        &mut out,
    )
    .await
    .expect("idempotent success");
    assert_eq!(result.started.existing, Some(ExecutionStatus::Failed));
    let out = text(&out);
    assert!(
        out.contains("already ran")
            && out.contains(&format!("scanflow executions redrive {EXECUTION}")),
        "{out}"
    );
}

#[tokio::test]
async fn same_name_different_input_is_a_clear_error() {
    let start = already_exists();
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| {
        described(
            ExecutionStatus::Running,
            r#"{"accountId":"111122223333","region":"eu-west-1","engine":"inspector2"}"#,
        )
    });
    let stack = stack_rule();
    let err = executions::run_start(
        &clients(&[&start, &describe], &[&stack]),
        &start_args("111122223333"),
        NOW,
        false,
        &mut Vec::new(),
    )
    .await
    .expect_err("different input");
    assert!(matches!(err, Error::DifferentInput { .. }), "{err}");
    let message = err.to_string();
    for part in [
        "already exists with a different input",
        "\"engine\":\"inspector2\"",
        "--name",
        "watch",
        NAME,
    ] {
        assert!(message.contains(part), "{part:?} missing in: {message}");
    }
}

#[tokio::test]
async fn stack_lookup_errors_say_what_to_check() {
    let missing = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("ValidationError")
                .message("Stack with id scanflow does not exist")
                .build(),
        )
    });
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&missing],
        |c| c.region(aws_sdk_cloudformation::config::Region::new("eu-central-1"))
    );
    let err = executions::state_machine_arn(&cfn, "scanflow")
        .await
        .expect_err("no stack");
    assert!(matches!(err, Error::StackNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("eu-central-1") && err.to_string().contains("--stack-region"),
        "{err}"
    );

    let no_output = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_output(|| {
        DescribeStacksOutput::builder()
            .stacks(
                CfnStack::builder()
                    .stack_name("other")
                    .stack_status(StackStatus::CreateComplete)
                    .outputs(
                        Output::builder()
                            .output_key("BucketName")
                            .output_value("b")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&no_output]);
    let err = executions::state_machine_arn(&cfn, "other")
        .await
        .expect_err("no output");
    assert!(matches!(err, Error::NoStateMachineOutput { .. }), "{err}");
    assert!(err.to_string().contains("BucketName"), "{err}");

    let denied = mock!(aws_sdk_cloudformation::Client::describe_stacks).then_error(|| {
        DescribeStacksError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message("not authorized")
                .build(),
        )
    });
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&denied]);
    let err = executions::state_machine_arn(&cfn, "scanflow")
        .await
        .expect_err("denied");
    assert!(matches!(err, Error::AccessDenied { .. }), "{err}");
    assert!(
        err.to_string().contains("cloudformation:DescribeStacks"),
        "{err}"
    );
}

// ---------- watch ----------

fn ev(id: i64, secs: i64, kind: HistoryEventType, state: Option<&str>) -> HistoryEvent {
    let mut b = HistoryEvent::builder()
        .id(id)
        .timestamp(at(
            datetime!(2026-11-28 10:00:00 UTC) + time::Duration::seconds(secs)
        ))
        .r#type(kind.clone());
    if let Some(state) = state {
        if kind.as_str().ends_with("StateEntered") {
            b = b.state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name(state)
                    .build()
                    .expect("entered"),
            );
        } else {
            b = b.state_exited_event_details(
                StateExitedEventDetails::builder()
                    .name(state)
                    .build()
                    .expect("exited"),
            );
        }
    }
    b.build().expect("event")
}

fn history(events: Vec<HistoryEvent>, token: Option<&str>) -> GetExecutionHistoryOutput {
    GetExecutionHistoryOutput::builder()
        .set_events(Some(events))
        .set_next_token(token.map(Into::into))
        .build()
        .expect("history")
}

const SUMMARY: &str = r#"{"accountId":"111122223333","region":"eu-west-1","engine":"classic","runId":"arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b/run/0-c","counts":{"critical":1,"high":4,"medium":10,"low":2,"informational":0,"untriaged":3},"instancesScanned":12,"instancesNotScanned":1,"messages":3,"findingsMarked":20,"noticesImported":0}"#;

fn first_events() -> Vec<HistoryEvent> {
    use HistoryEventType as T;
    vec![
        ev(1, 0, T::ExecutionStarted, None),
        ev(2, 0, T::PassStateEntered, Some("Init")),
        ev(3, 0, T::PassStateExited, Some("Init")),
    ]
}

fn later_events(until: i64) -> Vec<HistoryEvent> {
    use HistoryEventType as T;
    let all = vec![
        ev(4, 0, T::TaskStateEntered, Some("StartRun")),
        ev(5, 3, T::TaskStateExited, Some("StartRun")),
        ev(6, 3, T::WaitStateEntered, Some("WaitForScan")),
        ev(7, 3663, T::WaitStateExited, Some("WaitForScan")),
        ev(8, 3663, T::PassStateEntered, Some("Summary")),
        ev(9, 3663, T::PassStateExited, Some("Summary")),
        ev(10, 3663, T::ExecutionSucceeded, None),
    ];
    all.into_iter().filter(|e| e.id() <= until).collect()
}

#[tokio::test]
async fn watch_follows_paginated_history_once_per_event_to_the_summary() {
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .sequence()
        .output(|| described(ExecutionStatus::Running, "{}"))
        .output(|| {
            let mut d = described(ExecutionStatus::Succeeded, "{}");
            d.output = Some(SUMMARY.into());
            d.stop_date = Some(at(datetime!(2026-11-28 11:01:06 UTC)));
            d
        })
        .build();
    // Each poll rereads the history from the start, two pages each; the second poll sees more.
    let first_page = mock!(aws_sdk_sfn::Client::get_execution_history)
        .match_requests(|r| r.next_token().is_none() && r.execution_arn() == Some(EXECUTION))
        .then_output(|| history(first_events(), Some("page-2")));
    let second_page = mock!(aws_sdk_sfn::Client::get_execution_history)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .sequence()
        .output(|| history(later_events(6), None))
        .output(|| history(later_events(10), None))
        .build();
    let sfn = sfn(&[&describe, &first_page, &second_page]);
    let mut out = Vec::new();
    let options = WatchOptions {
        interval: Duration::ZERO,
        live: false,
    };
    let outcome = executions::watch(&sfn, EXECUTION, &options, &mut out)
        .await
        .expect("watched");
    assert_eq!(outcome, Outcome::Succeeded);
    assert_eq!(outcome.exit_status(), 0);
    assert_eq!(
        (
            describe.num_calls(),
            first_page.num_calls(),
            second_page.num_calls()
        ),
        (2, 2, 2)
    );
    let out = text(&out);
    assert!(!out.contains('\r'), "no progress line when piped: {out:?}");
    for state in ["Init", "StartRun", "WaitForScan", "Summary"] {
        assert_eq!(
            out.matches(&format!("  {state} ")).count(),
            1,
            "{state} once in:\n{out}"
        );
    }
    let order: Vec<usize> = ["Init", "StartRun", "WaitForScan", "SUCCEEDED"]
        .iter()
        .filter_map(|s| out.find(s))
        .collect();
    assert!(
        order.len() == 4 && order.windows(2).all(|w| w[0] < w[1]),
        "{out}"
    );
    assert!(
        out.contains("WaitForScan") && out.contains("1h01m"),
        "{out}"
    );
    assert!(out.contains("== SUCCEEDED after 1h01m"), "{out}");
    assert!(
        out.contains(
            "1 critical · 4 high · 10 medium · 2 low · 0 informational · 3 untriaged (20 in all)"
        ),
        "{out}"
    );
    assert!(
        out.contains("12 scanned · 1 not scanned") && out.contains("3 message(s)"),
        "{out}"
    );
}

#[tokio::test]
async fn watch_prints_through_the_shared_tracer() {
    // The lines watch prints are exactly the shared formatter's lines for the same events.
    let events: Vec<HistoryEvent> = first_events().into_iter().chain(later_events(10)).collect();
    let expected = scanflow_cli::trace::lines(
        &events
            .iter()
            .map(executions::trace_event)
            .collect::<Vec<_>>(),
    );
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| {
        let mut d = described(ExecutionStatus::Succeeded, "{}");
        d.output = Some("{\"other\":true}".into());
        d
    });
    let all = events.clone();
    let page = mock!(aws_sdk_sfn::Client::get_execution_history)
        .then_output(move || history(all.clone(), None));
    let mut out = Vec::new();
    let options = WatchOptions {
        interval: Duration::ZERO,
        live: false,
    };
    executions::watch(&sfn(&[&describe, &page]), EXECUTION, &options, &mut out)
        .await
        .expect("watched");
    let out = text(&out);
    let printed: Vec<&str> = out.lines().skip(1).take(expected.len()).collect();
    assert_eq!(printed, expected);
    assert!(
        out.contains("output: {\"other\":true}"),
        "an output that is not the summary is shown as is: {out}"
    );
}

#[tokio::test]
async fn watch_explains_a_failure_and_exits_1() {
    use HistoryEventType as T;
    let cause = r#"{"errorType":"RoleNotAssumable","errorMessage":"Could not assume arn:aws:iam::111122223333:role/ScanflowMember: AccessDenied\nstack..."}"#;
    let mut failed_task = ev(5, 2, T::TaskFailed, None);
    failed_task.task_failed_event_details = Some(
        TaskFailedEventDetails::builder()
            .resource_type("lambda")
            .resource("invoke")
            .error("RoleNotAssumable")
            .cause(cause)
            .build()
            .expect("details"),
    );
    let mut failed = ev(9, 4, T::ExecutionFailed, None);
    failed.execution_failed_event_details = Some(
        ExecutionFailedEventDetails::builder()
            .error("RoleNotAssumable")
            .cause(cause)
            .build(),
    );
    let events = vec![
        ev(1, 0, T::ExecutionStarted, None),
        ev(4, 0, T::TaskStateEntered, Some("StartRun")),
        failed_task,
        failed,
    ];
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
        let mut d = described(ExecutionStatus::Failed, "{}");
        d.error = Some("RoleNotAssumable".into());
        d.cause = Some(cause.into());
        d.stop_date = Some(at(datetime!(2026-11-28 10:00:07 UTC)));
        d
    });
    let page = mock!(aws_sdk_sfn::Client::get_execution_history)
        .then_output(move || history(events.clone(), None));
    let mut out = Vec::new();
    let options = WatchOptions {
        interval: Duration::ZERO,
        live: false,
    };
    let outcome = executions::watch(&sfn(&[&describe, &page]), EXECUTION, &options, &mut out)
        .await
        .expect("watched");
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(outcome.exit_status(), 1);
    let out = text(&out);
    assert!(out.contains("== FAILED after 4s"), "{out}");
    assert!(out.contains("error:  RoleNotAssumable"), "{out}");
    assert!(
        out.contains(
            "cause:  Could not assume arn:aws:iam::111122223333:role/ScanflowMember: AccessDenied\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("notify function sends the failure notice"),
        "{out}"
    );
    assert!(
        out.contains(&format!("scanflow executions redrive {EXECUTION}")),
        "{out}"
    );
}

#[tokio::test]
async fn watch_names_the_notifier_and_handles_other_ends() {
    for (status, outcome, hint) in [
        (
            ExecutionStatus::Failed,
            Outcome::Failed,
            "NotifierDeadLetters alarm",
        ),
        (
            ExecutionStatus::TimedOut,
            Outcome::TimedOut,
            "TimeoutSeconds",
        ),
        (ExecutionStatus::Aborted, Outcome::Aborted, "was stopped"),
    ] {
        let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
            let mut d = described(status.clone(), "{}");
            d.error = Some("States.Runtime".into());
            d
        });
        let page = mock!(aws_sdk_sfn::Client::get_execution_history)
            .then_output(|| history(first_events(), None));
        let mut out = Vec::new();
        let options = WatchOptions {
            interval: Duration::ZERO,
            live: false,
        };
        let got = executions::watch(&sfn(&[&describe, &page]), EXECUTION, &options, &mut out)
            .await
            .expect("watched");
        assert_eq!(got, outcome);
        assert_eq!(got.exit_status(), 1);
        let out = text(&out);
        assert!(out.contains(hint), "{hint:?} in {out}");
        assert!(out.contains("notify function sends"), "{out}");
    }
}

#[tokio::test]
async fn watch_on_a_terminal_keeps_one_progress_line() {
    use HistoryEventType as T;
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .sequence()
        .output(|| described(ExecutionStatus::Running, "{}"))
        .output(|| described(ExecutionStatus::Succeeded, "{}"))
        .build();
    let page = mock!(aws_sdk_sfn::Client::get_execution_history)
        .sequence()
        .output(|| {
            history(
                vec![
                    ev(1, 0, T::ExecutionStarted, None),
                    ev(2, 0, T::WaitStateEntered, Some("WaitForScan")),
                ],
                None,
            )
        })
        .output(|| {
            history(
                vec![
                    ev(1, 0, T::ExecutionStarted, None),
                    ev(2, 0, T::WaitStateEntered, Some("WaitForScan")),
                    ev(3, 60, T::WaitStateExited, Some("WaitForScan")),
                    ev(4, 60, T::ExecutionSucceeded, None),
                ],
                None,
            )
        })
        .build();
    let mut out = Vec::new();
    let options = WatchOptions {
        interval: Duration::ZERO,
        live: true,
    };
    executions::watch(&sfn(&[&describe, &page]), EXECUTION, &options, &mut out)
        .await
        .expect("watched");
    let out = text(&out);
    let progress = out.find("\r\x1b[2K  … RUNNING").expect("a progress line");
    assert!(out[progress..].contains("in WaitForScan for"), "{out:?}");
    // The progress line is cleared before the next trace line is printed.
    let cleared = out[progress + 1..].find("\r\x1b[2K").expect("cleared") + progress + 1;
    assert!(
        out[cleared..]
            .trim_start_matches("\r\x1b[2K")
            .starts_with("    +1m00s  WaitForScan"),
        "{out:?}"
    );
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_surfaced_clearly() {
    let throttled = || {
        DescribeExecutionError::generic(
            ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    };
    // Once: the SDK's retry absorbs it.
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .sequence()
        .error(throttled)
        .output(|| described(ExecutionStatus::Succeeded, "{}"))
        .build();
    let page = mock!(aws_sdk_sfn::Client::get_execution_history)
        .then_output(|| history(first_events(), None));
    let options = WatchOptions {
        interval: Duration::ZERO,
        live: false,
    };
    let outcome = executions::watch(
        &sfn(&[&describe, &page]),
        EXECUTION,
        &options,
        &mut Vec::new(),
    )
    .await
    .expect("retried");
    assert_eq!((outcome, describe.num_calls()), (Outcome::Succeeded, 2));

    // Every time: surfaced as throttling, after the retries.
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .sequence()
        .error(throttled)
        .repeatedly()
        .build();
    let err = executions::watch(&sfn(&[&describe]), EXECUTION, &options, &mut Vec::new())
        .await
        .expect_err("throttled");
    assert_eq!(describe.num_calls(), 2, "the SDK retried before giving up");
    assert!(matches!(err, Error::Throttled { .. }), "{err}");
    assert!(
        err.to_string().contains("states:DescribeExecution")
            && err.to_string().contains("wait a minute"),
        "{err}"
    );
    assert_eq!(err.exit_status(), 1);
}

#[tokio::test]
async fn unknown_executions_and_bad_arns_say_what_to_check() {
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| {
        DescribeExecutionError::ExecutionDoesNotExist(
            aws_sdk_sfn::types::error::ExecutionDoesNotExist::builder()
                .message("Execution Does Not Exist")
                .meta(
                    ErrorMetadata::builder()
                        .code("ExecutionDoesNotExist")
                        .message("Execution Does Not Exist")
                        .build(),
                )
                .build(),
        )
    });
    let options = WatchOptions {
        interval: Duration::ZERO,
        live: false,
    };
    let err = executions::watch(&sfn(&[&describe]), EXECUTION, &options, &mut Vec::new())
        .await
        .expect_err("missing");
    assert!(
        matches!(err, Error::NotFound { .. }) && err.to_string().contains("eu-west-1"),
        "{err}"
    );

    for bad in [
        MACHINE,
        "scan-111122223333-eu-west-1-20261128T10",
        "arn:aws:states:eu-west-1:999988887777:execution:scan",
    ] {
        let err = executions::watch(&sfn(&[]), bad, &options, &mut Vec::new())
            .await
            .expect_err(bad);
        assert!(
            matches!(err, Error::Usage(_)) && err.exit_status() == executions::INVALID,
            "{bad}: {err}"
        );
    }
}

// ---------- list ----------

fn item(name: &str, status: ExecutionStatus, started: OffsetDateTime) -> ExecutionListItem {
    ExecutionListItem::builder()
        .execution_arn(format!(
            "arn:aws:states:eu-west-1:999988887777:execution:scanflow-scan:{name}"
        ))
        .state_machine_arn(MACHINE)
        .name(name)
        .status(status)
        .start_date(at(started))
        .stop_date(at(started + time::Duration::minutes(62)))
        .build()
        .expect("item")
}

#[tokio::test]
async fn list_pages_filters_by_status_age_and_account() {
    let scheduled = "0b4c1f9e-5f7e-4c3b-9a51-3c8e2f1d7a60";
    let first = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| {
            r.status_filter() == Some(&ExecutionStatus::Failed) && r.next_token().is_none()
        })
        .then_output(move || {
            ListExecutionsOutput::builder()
                .executions(item(
                    "scan-111122223333-eu-west-1-20261128T09",
                    ExecutionStatus::Failed,
                    datetime!(2026-11-28 09:00 UTC),
                ))
                .executions(item(
                    "scan-444455556666-eu-west-1-20261128T08",
                    ExecutionStatus::Failed,
                    datetime!(2026-11-28 08:00 UTC),
                ))
                .executions(item(
                    scheduled,
                    ExecutionStatus::Failed,
                    datetime!(2026-11-27 08:00 UTC),
                ))
                .next_token("p2")
                .build()
                .expect("page")
        });
    let second = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.next_token() == Some("p2"))
        .then_output(|| {
            ListExecutionsOutput::builder()
                .executions(item(
                    "scan-111122223333-eu-west-1-20261124T09",
                    ExecutionStatus::Failed,
                    datetime!(2026-11-24 09:00 UTC),
                ))
                .executions(item(
                    "scan-111122223333-eu-west-1-20261101T09",
                    ExecutionStatus::Failed,
                    datetime!(2026-11-01 09:00 UTC),
                ))
                .next_token("p3")
                .build()
                .expect("page")
        });
    let third = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.next_token() == Some("p3"))
        .then_output(|| {
            ListExecutionsOutput::builder()
                .set_executions(Some(vec![]))
                .build()
                .expect("page")
        });
    // Only the scheduled execution's name says nothing of the account: its input is read.
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(move |r| r.execution_arn().is_some_and(|a| a.ends_with(scheduled)))
        .then_output(|| {
            described(
                ExecutionStatus::Failed,
                r#"{"accountId":"111122223333","region":"eu-west-1"}"#,
            )
        });
    let stack = stack_rule();
    let args = ListArgs {
        stack: executions::Stack {
            stack: "scanflow".into(),
            stack_region: None,
        },
        status: Some("failed".into()),
        account: Some("111122223333".into()),
        since: Some("7d".into()),
        profile: Profile::default(),
    };
    let mut out = Vec::new();
    let listed = executions::run_list(
        &clients(&[&first, &second, &third, &describe], &[&stack]),
        &args,
        NOW,
        &mut out,
    )
    .await
    .expect("listed");
    let names: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "scan-111122223333-eu-west-1-20261128T09",
            scheduled,
            "scan-111122223333-eu-west-1-20261124T09"
        ]
    );
    assert!(
        listed
            .iter()
            .all(|l| l.account.as_deref() == Some("111122223333"))
    );
    assert_eq!(
        (first.num_calls(), second.num_calls(), third.num_calls()),
        (1, 1, 0),
        "stops at the first one too old"
    );
    assert_eq!(describe.num_calls(), 1);
    let out = text(&out);
    assert!(
        out.contains("3 execution(s)")
            && out.contains("1h02m")
            && out.contains("2026-11-28 09:00:00Z"),
        "{out}"
    );
    assert!(!out.contains("444455556666"), "{out}");
}

#[tokio::test]
async fn list_without_filters_reads_every_page_and_no_input() {
    let first = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.status_filter().is_none() && r.next_token().is_none())
        .then_output(|| {
            ListExecutionsOutput::builder()
                .executions(item(
                    "scan-111122223333-eu-west-1-20261128T09",
                    ExecutionStatus::Succeeded,
                    datetime!(2026-11-28 09:00 UTC),
                ))
                .next_token("p2")
                .build()
                .expect("page")
        });
    let second = mock!(aws_sdk_sfn::Client::list_executions)
        .match_requests(|r| r.next_token() == Some("p2"))
        .then_output(|| {
            ListExecutionsOutput::builder()
                .executions(item(
                    "manual-run",
                    ExecutionStatus::Aborted,
                    datetime!(2026-08-01 09:00 UTC),
                ))
                .build()
                .expect("page")
        });
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .then_output(|| described(ExecutionStatus::Aborted, "{}"));
    let mut out = Vec::new();
    let listed = executions::list(
        &sfn(&[&first, &second, &describe]),
        MACHINE,
        &ListOptions::default(),
        NOW,
        &mut out,
    )
    .await
    .expect("listed");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].account, None);
    assert_eq!(describe.num_calls(), 0);
    assert!(text(&out).contains("manual-run") && text(&out).contains("ABORTED"));
}

// ---------- redrive ----------

fn redrive_ok() -> Rule {
    mock!(aws_sdk_sfn::Client::redrive_execution)
        .match_requests(|r| r.execution_arn() == Some(EXECUTION))
        .then_output(|| {
            RedriveExecutionOutput::builder()
                .redrive_date(at(NOW))
                .build()
                .expect("output")
        })
}

#[tokio::test]
async fn redrive_resumes_a_failed_execution() {
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| {
        let mut d = described(ExecutionStatus::Failed, "{}");
        d.stop_date = Some(at(datetime!(2026-11-28 10:05 UTC)));
        d.redrive_status = Some(ExecutionRedriveStatus::Redrivable);
        d
    });
    let redrive = redrive_ok();
    let mut out = Vec::new();
    let at = executions::redrive(&sfn(&[&describe, &redrive]), EXECUTION, NOW, &mut out)
        .await
        .expect("redriven");
    assert_eq!((at, redrive.num_calls()), (NOW, 1));
    let out = text(&out);
    assert!(
        out.contains(&format!("redriven  {EXECUTION}"))
            && out.contains("scanflow executions watch"),
        "{out}"
    );
}

#[tokio::test]
async fn redrive_refusals_say_why() {
    // Succeeded or running: refused from DescribeExecution alone.
    for (status, why) in [
        (ExecutionStatus::Succeeded, "it SUCCEEDED"),
        (ExecutionStatus::Running, "still RUNNING"),
    ] {
        let describe = mock!(aws_sdk_sfn::Client::describe_execution)
            .then_output(move || described(status.clone(), "{}"));
        let redrive = redrive_ok();
        let err = executions::redrive(
            &sfn(&[&describe, &redrive]),
            EXECUTION,
            NOW,
            &mut Vec::new(),
        )
        .await
        .expect_err(why);
        assert!(
            matches!(err, Error::NotRedrivable { .. }) && err.to_string().contains(why),
            "{err}"
        );
        assert_eq!(redrive.num_calls(), 0);
    }

    // Older than the window: Step Functions refuses, the message says it is the 14 days, at the
    // limit and one past it.
    let not_redrivable = || {
        mock!(aws_sdk_sfn::Client::redrive_execution).then_error(|| {
            RedriveExecutionError::ExecutionNotRedrivable(
                ExecutionNotRedrivable::builder()
                    .message("Execution is not redrivable")
                    .build(),
            )
        })
    };
    let stopped_ago = |ago: time::Duration| {
        mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
            let mut d = described(ExecutionStatus::Failed, "{}");
            d.stop_date = Some(at(NOW - ago));
            d
        })
    };
    let describe = stopped_ago(time::Duration::days(14) + time::Duration::seconds(1));
    let redrive = not_redrivable();
    let err = executions::redrive(
        &sfn(&[&describe, &redrive]),
        EXECUTION,
        NOW,
        &mut Vec::new(),
    )
    .await
    .expect_err("old");
    assert!(
        err.to_string().contains("14 days ago") && err.to_string().contains("for 14 days only"),
        "{err}"
    );
    assert_eq!(redrive.num_calls(), 1);

    let describe = stopped_ago(time::Duration::days(14));
    let redrive = not_redrivable();
    let err = executions::redrive(
        &sfn(&[&describe, &redrive]),
        EXECUTION,
        NOW,
        &mut Vec::new(),
    )
    .await
    .expect_err("other reason");
    assert!(
        err.to_string()
            .contains("Execution is not redrivable (status FAILED)"),
        "{err}"
    );
    assert!(!err.to_string().contains("14 days only"), "{err}");

    // DescribeExecution already says so: its reason is given and redrive is not attempted.
    let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| {
        let mut d = described(ExecutionStatus::Failed, "{}");
        d.redrive_status = Some(ExecutionRedriveStatus::NotRedrivable);
        d.redrive_status_reason = Some("Execution history event limit exceeded".into());
        d
    });
    let redrive = redrive_ok();
    let err = executions::redrive(
        &sfn(&[&describe, &redrive]),
        EXECUTION,
        NOW,
        &mut Vec::new(),
    )
    .await
    .expect_err("limit");
    assert!(
        err.to_string().contains("history event limit exceeded"),
        "{err}"
    );
    assert_eq!(redrive.num_calls(), 0);
}
