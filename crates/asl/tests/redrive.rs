//! Redrive refusals, abort edge cases and the EventBridge status change events, checked
//! through the public API (the conformance suite covers where redrives resume).

use scanflow_asl::{
    EVENT_PAYLOAD_LIMIT_BYTES, Execution, ExecutionOptions, RedriveError, StateMachine, Status,
    TaskCall, TaskHandler, TaskOutcome, execute, redrive,
};
use serde_json::{Value, json};
use time::Duration;

/// Fails the first `failures` invocations with `Boom`, then echoes the input.
struct Flaky {
    failures: usize,
}

impl TaskHandler for Flaky {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        if self.failures > 0 {
            self.failures -= 1;
            return TaskOutcome::Failed {
                error: "Boom".into(),
                cause: "flaky".into(),
            };
        }
        TaskOutcome::Succeeded(call.input.clone())
    }
}

fn machine(v: Value) -> StateMachine {
    StateMachine::from_value(&v).unwrap()
}

fn task_with_retries(max_attempts: u64) -> StateMachine {
    machine(json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work", "End": true,
        "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": max_attempts}]
    }}}))
}

fn failed_run(options: &ExecutionOptions) -> (StateMachine, Execution) {
    let m = task_with_retries(1);
    let run = execute(&m, json!({"k": 1}), &mut Flaky { failures: 2 }, options);
    assert_eq!(run.status, Status::Failed);
    (m, run)
}

#[test]
fn redrive_needs_room_for_two_more_events_under_the_cap() {
    // ExecutionStarted, TaskStateEntered, 2 × (Scheduled, Started, Failed), ExecutionFailed.
    let tight = ExecutionOptions {
        max_history_events: Some(10),
        ..ExecutionOptions::default()
    };
    let (m, run) = failed_run(&tight);
    assert_eq!(run.history.len(), 9);
    let at = run.end_time;
    let err = redrive(&m, run.clone(), &mut Flaky { failures: 0 }, &tight, at).unwrap_err();
    assert!(matches!(
        err,
        RedriveError::HistoryLimitExceeded {
            events: 9,
            limit: 9,
            max: 10
        }
    ));
    assert!(err.to_string().contains("start a new execution"), "{err}");
    let roomy = ExecutionOptions {
        max_history_events: Some(11),
        ..ExecutionOptions::default()
    };
    let again = redrive(&m, run, &mut Flaky { failures: 0 }, &roomy, at).unwrap();
    assert_eq!(again.status, Status::Succeeded);
}

#[test]
fn redrive_period_is_fourteen_days_from_the_end() {
    let options = ExecutionOptions::default();
    let (m, run) = failed_run(&options);
    let last_day = run.end_time + Duration::days(14);
    let ok = redrive(
        &m,
        run.clone(),
        &mut Flaky { failures: 0 },
        &options,
        last_day,
    )
    .unwrap();
    assert_eq!(ok.status, Status::Succeeded);
    assert_eq!(ok.redrive_date, Some(last_day));
    let late = last_day + Duration::milliseconds(1);
    let err = redrive(&m, run, &mut Flaky { failures: 0 }, &options, late).unwrap_err();
    assert!(matches!(err, RedriveError::RedrivablePeriodExceeded { .. }));
}

#[test]
fn redrive_before_the_end_and_without_resume_point_are_refused() {
    let options = ExecutionOptions::default();
    let (m, run) = failed_run(&options);
    let early = run.end_time - Duration::seconds(1);
    let err = redrive(&m, run.clone(), &mut Flaky { failures: 0 }, &options, early).unwrap_err();
    assert!(matches!(err, RedriveError::BeforeEnd { .. }));
    let mut stripped = run;
    stripped.resume = None;
    let at = stripped.end_time;
    let err = redrive(&m, stripped, &mut Flaky { failures: 0 }, &options, at).unwrap_err();
    assert!(matches!(err, RedriveError::NoResumePoint { .. }));
}

#[test]
fn redrive_keeps_the_identity_of_the_execution() {
    let options = ExecutionOptions {
        name: "nightly".into(),
        ..ExecutionOptions::default()
    };
    let (m, run) = failed_run(&options);
    let at = run.end_time + Duration::hours(2);
    let other = ExecutionOptions {
        name: "ignored".into(),
        ..ExecutionOptions::default()
    };
    let again = redrive(&m, run.clone(), &mut Flaky { failures: 0 }, &other, at).unwrap();
    assert_eq!(again.name, "nightly");
    assert_eq!(again.execution_arn, run.execution_arn);
    assert_eq!(again.start_time, options.start_time);
    assert_eq!(again.input, json!({"k": 1}));
    assert_eq!(again.redrive_count, 1);
    assert!(again.resume.is_none());
    let redriven = &again.history[run.history.len()];
    assert_eq!(redriven.kind, "ExecutionRedriven");
    assert_eq!(redriven.timestamp, at);
}

#[test]
fn abort_at_the_start_stops_before_the_first_state() {
    let m = task_with_retries(0);
    let options = ExecutionOptions {
        abort_at: Some(ExecutionOptions::default().start_time),
        ..ExecutionOptions::default()
    };
    let run = execute(&m, json!({}), &mut Flaky { failures: 0 }, &options);
    assert_eq!(run.status, Status::Aborted);
    assert_eq!(run.status.as_aws(), "ABORTED");
    assert_eq!(run.output, None);
    let kinds: Vec<&str> = run.history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["ExecutionStarted", "ExecutionAborted"]);
    // The same options (abort time now in the past) redrive without aborting again.
    let at = run.end_time + Duration::minutes(5);
    let again = redrive(&m, run, &mut Flaky { failures: 0 }, &options, at).unwrap();
    assert_eq!(again.status, Status::Succeeded);
}

#[test]
fn status_change_events_carry_what_eventbridge_delivers() {
    let options = ExecutionOptions {
        name: "run-7".into(),
        state_machine_name: "scan".into(),
        ..ExecutionOptions::default()
    };
    let (m, run) = failed_run(&options);
    let start_ms = options.start_time.unix_timestamp() * 1000;
    let arn = "arn:aws:states:us-east-1:123456789012:execution:scan:run-7";

    let started = run.running_event();
    assert_eq!(started["version"], "0");
    assert_eq!(
        started["detail-type"],
        "Step Functions Execution Status Change"
    );
    assert_eq!(started["source"], "aws.states");
    assert_eq!(started["account"], "123456789012");
    assert_eq!(started["region"], "us-east-1");
    assert_eq!(started["resources"], json!([arn]));
    assert_eq!(started["time"], "2024-10-04T00:00:00Z");
    let d = &started["detail"];
    assert_eq!(d["executionArn"], arn);
    assert_eq!(
        d["stateMachineArn"],
        "arn:aws:states:us-east-1:123456789012:stateMachine:scan"
    );
    assert_eq!(d["name"], "run-7");
    assert_eq!(d["status"], "RUNNING");
    assert_eq!(d["startDate"], start_ms);
    assert_eq!(d["stopDate"], Value::Null);
    assert_eq!(d["input"], r#"{"k":1}"#);
    assert_eq!(d["inputDetails"], json!({"included": true}));
    assert_eq!(d["output"], Value::Null);
    assert_eq!(d["redriveCount"], 0);
    assert_eq!(d["redriveDate"], Value::Null);
    assert_eq!(d["redriveStatus"], "NOT_REDRIVABLE");

    let failed = run.status_change_event();
    let d = &failed["detail"];
    assert_eq!(d["status"], "FAILED");
    assert_eq!(d["stopDate"], start_ms + 1000);
    assert_eq!(d["error"], "Boom");
    assert_eq!(d["cause"], "flaky");
    assert_eq!(d["output"], Value::Null);
    assert_eq!(d["outputDetails"], Value::Null);
    assert_eq!(d["redriveStatus"], "REDRIVABLE");
    assert_eq!(d["redriveStatusReason"], Value::Null);
    assert_ne!(failed["id"], started["id"]);
    assert_eq!(failed["id"].as_str().map(str::len), Some(36));

    let at = run.end_time + Duration::hours(2);
    let again = redrive(&m, run, &mut Flaky { failures: 0 }, &options, at).unwrap();
    let redriven = again.running_event();
    let d = &redriven["detail"];
    assert_eq!(d["status"], "RUNNING");
    assert_eq!(d["startDate"], start_ms);
    assert_eq!(d["redriveCount"], 1);
    assert_eq!(
        d["redriveDate"],
        (at.unix_timestamp_nanos() / 1_000_000) as i64
    );
    assert_eq!(redriven["time"], "2024-10-04T02:00:01Z");

    let done = again.status_change_event();
    let d = &done["detail"];
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(d["output"], r#"{"k":1}"#);
    assert_eq!(d["outputDetails"], json!({"included": true}));
    assert_eq!(d["error"], Value::Null);
    assert_eq!(d["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(
        d["redriveStatusReason"],
        "Execution is SUCCEEDED and cannot be redriven"
    );
}

/// The execution input for a string of `n` `x`s: its compact text is `"xx…"`, whose escaped
/// form (each quote becomes `\"`) is `n + 4` bytes.
fn string_input(n: usize) -> Value {
    json!("x".repeat(n))
}

#[test]
fn input_is_left_out_past_248_kib_of_escaped_payload() {
    let fail = machine(json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}));
    let options = ExecutionOptions::default();
    let at_limit = execute(
        &fail,
        string_input(EVENT_PAYLOAD_LIMIT_BYTES - 4),
        &mut Flaky { failures: 0 },
        &options,
    );
    let d = &at_limit.status_change_event()["detail"];
    assert_eq!(d["inputDetails"], json!({"included": true}));
    assert!(d["input"].is_string());
    assert_eq!(
        at_limit.running_event()["detail"]["inputDetails"]["included"],
        true
    );

    let past = execute(
        &fail,
        string_input(EVENT_PAYLOAD_LIMIT_BYTES - 3),
        &mut Flaky { failures: 0 },
        &options,
    );
    let d = &past.status_change_event()["detail"];
    assert_eq!(d["inputDetails"], json!({"included": false}));
    assert_eq!(d["input"], Value::Null);
    assert_eq!(past.running_event()["detail"]["input"], Value::Null);
}

#[test]
fn output_is_left_out_past_248_kib_and_input_with_it() {
    // A Pass state's output is its input: the combined size is twice the escaped output.
    let pass = machine(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}));
    let options = ExecutionOptions::default();
    let at_limit = execute(
        &pass,
        string_input(EVENT_PAYLOAD_LIMIT_BYTES - 4),
        &mut Flaky { failures: 0 },
        &options,
    );
    let d = &at_limit.status_change_event()["detail"];
    assert_eq!(d["outputDetails"], json!({"included": true}));
    assert!(d["output"].is_string());
    assert_eq!(d["inputDetails"], json!({"included": false}));
    assert_eq!(d["input"], Value::Null);

    let past = execute(
        &pass,
        string_input(EVENT_PAYLOAD_LIMIT_BYTES - 3),
        &mut Flaky { failures: 0 },
        &options,
    );
    let d = &past.status_change_event()["detail"];
    assert_eq!(d["outputDetails"], json!({"included": false}));
    assert_eq!(d["output"], Value::Null);
    assert_eq!(d["inputDetails"], json!({"included": false}));

    // Small enough together: both stay.
    let small = execute(&pass, json!({"a": 1}), &mut Flaky { failures: 0 }, &options);
    let d = &small.status_change_event()["detail"];
    assert_eq!(d["input"], r#"{"a":1}"#);
    assert_eq!(d["output"], r#"{"a":1}"#);
}

#[test]
fn escaped_size_counts_json_escapes() {
    // Each `"` inside the text costs two bytes once escaped: a string input of n `x`s is
    // included at n + 4 == limit and not at one more; so is an object with escapes.
    let fail = machine(json!({"StartAt": "F", "States": {"F": {"Type": "Fail"}}}));
    let options = ExecutionOptions::default();
    // {"k":"xx…"}: 4 quotes inside the compact text, so escaped = text + 4.
    let base = r#"{"k":""}"#.len() + 4;
    let at = execute(
        &fail,
        json!({"k": "x".repeat(EVENT_PAYLOAD_LIMIT_BYTES - base)}),
        &mut Flaky { failures: 0 },
        &options,
    );
    assert_eq!(
        at.status_change_event()["detail"]["inputDetails"]["included"],
        true
    );
    let over = execute(
        &fail,
        json!({"k": "x".repeat(EVENT_PAYLOAD_LIMIT_BYTES - base + 1)}),
        &mut Flaky { failures: 0 },
        &options,
    );
    assert_eq!(
        over.status_change_event()["detail"]["inputDetails"]["included"],
        false
    );
}
