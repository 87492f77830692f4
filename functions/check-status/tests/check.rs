//! check-status against the sandbox's Classic runs over virtual time: keep waiting, done,
//! failed, and the deadline.

use pollster::block_on;
use scanflow_core::ScanError;
use scanflow_core::model::Engine;
use scanflow_core::state::{CheckStatusInput, ExecutionContext, Run, StartRunInput};
use scanflow_core::time;
use scanflow_sandbox::{ClassicOutcome, Sandbox, Scenario};
use serde_json::json;

const START: &str = "2026-11-28T02:00:00Z";

fn classic(outcome: ClassicOutcome, label: &str) -> (Sandbox, Run) {
    let mut scenario = Scenario::default_scenario().expect("the built-in scenario");
    scenario
        .accounts
        .retain(|a| a.settings.engine == Engine::Classic && a.role_deployed);
    scenario.accounts[0].classic.outcome = outcome;
    let account = scenario.accounts[0].clone();
    let dir = std::env::temp_dir().join(format!("scanflow-check-{}-{label}", std::process::id()));
    let sb = Sandbox::new(scenario, &dir, None).expect("sandbox");
    sb.set_now(time::parse("start", START).expect("time"));
    let input = StartRunInput {
        input: json!({"accountId": account.account_id, "region": account.region}),
        execution: ExecutionContext {
            name: format!("exec-{label}"),
            start_time: START.into(),
        },
    };
    let run = block_on(start_run::start(&sb, &input))
        .expect("starts")
        .into_run()
        .expect("a run, not a duplicate");
    (sb, run)
}

fn check_at(
    sb: &Sandbox,
    run: &Run,
    seconds: i64,
) -> Result<scanflow_core::state::Status, ScanError> {
    let now = time::add_seconds("now", time::parse("start", START).expect("time"), seconds)
        .expect("in range");
    sb.set_now(now);
    block_on(check_status::check(
        sb,
        &CheckStatusInput {
            run: run.clone(),
            now: time::format(now),
        },
    ))
}

fn deadline_offset(run: &Run) -> i64 {
    (time::parse("d", &run.deadline).expect("deadline") - time::parse("s", START).expect("start"))
        .whole_seconds()
}

#[test]
fn a_running_assessment_is_polled_at_a_twelfth_of_its_duration_and_then_done() {
    let (sb, run) = classic(ClassicOutcome::Completes, "completes");
    let status = check_at(&sb, &run, 60).expect("running");
    assert!(!status.done);
    assert_eq!(status.state, "COLLECTING_DATA");
    let config = Scenario::default_scenario()
        .expect("the built-in scenario")
        .hub
        .hub_config();
    assert_eq!(
        status.wait_seconds,
        (run.duration_seconds / 12).clamp(config.min_poll_seconds, config.max_poll_seconds)
    );
    let done =
        check_at(&sb, &run, deadline_offset(&run) - 1).expect("finished well before the deadline");
    assert!(done.done, "{done:?}");
    assert_eq!(done.wait_seconds, 0);
}

#[test]
fn the_last_wait_lands_on_the_deadline_and_then_the_run_is_given_up() {
    let (sb, run) = classic(ClassicOutcome::Hangs, "hangs");
    let deadline = deadline_offset(&run);
    let status = check_at(&sb, &run, deadline - 7).expect("still going");
    assert_eq!(status.wait_seconds, 7);
    match check_at(&sb, &run, deadline) {
        Err(ScanError::ScanTimedOut {
            run_id,
            deadline: d,
            ..
        }) => {
            assert_eq!(run_id, run.run_id);
            assert_eq!(d, run.deadline);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_run_is_an_error_naming_its_state() {
    let (sb, run) = classic(ClassicOutcome::Fails, "fails");
    match check_at(&sb, &run, deadline_offset(&run) - 1) {
        Err(ScanError::ScanFailed {
            state, account_id, ..
        }) => {
            assert_eq!(state, "FAILED");
            assert_eq!(account_id, run.account_id);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_clock_value_names_the_field() {
    let (sb, run) = classic(ClassicOutcome::Completes, "clock");
    let err = block_on(check_status::invoke(
        &sb,
        json!({"run": run, "now": "soon"}),
    ))
    .expect_err("bad time");
    assert!(
        matches!(err, ScanError::InvalidInput { ref field, .. } if field == "now"),
        "{err:?}"
    );
}
