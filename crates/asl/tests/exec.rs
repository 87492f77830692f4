//! `exec::run` on files: a definition, an input and a Step Functions Local mock file.

use scanflow_asl::exec::{ExecError, run};
use serde_json::json;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/exec")
        .join(name)
}

fn scratch(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("asl-exec");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scratch file");
    path
}

#[test]
fn happy_test_case_polls_until_done() {
    let out = run(
        &fixture("poll.asl.json"),
        Some(r#"{"account": "111"}"#),
        Some((&fixture("mocks.json"), "happy")),
    )
    .expect("runs");
    // Start, Check, Done?, Pause, Check (+1 retry), Done?, Finished.
    assert_eq!(
        out,
        json!({"status": "SUCCEEDED", "output": {"done": true, "findings": 3}, "error": null, "cause": null, "transitions": 8})
    );
}

#[test]
fn exhausted_retries_are_caught_and_fail_the_execution() {
    let out = run(
        &fixture("poll.asl.json"),
        None,
        Some((&fixture("mocks.json"), "broken")),
    )
    .expect("runs");
    assert_eq!(out["status"], "FAILED");
    assert_eq!(out["error"], "JobFailed");
    assert_eq!(out["cause"], "still throttled");
    assert_eq!(out["output"], json!(null));
}

#[test]
fn tasks_without_mocks_fail_clearly() {
    let out = run(&fixture("poll.asl.json"), None, None).expect("runs");
    assert_eq!(out["status"], "FAILED");
    assert_eq!(out["error"], "Mock.NotFound");
    assert!(
        out["cause"].as_str().is_some_and(|c| c.contains("'Start'")),
        "{out}"
    );
}

/// `exec` is not the CLI: its errors and causes name no command-line flag (the CLI adds
/// `--input: ` / `--mocks: ` itself).
#[test]
fn messages_name_no_command_line_flags() {
    let out = run(&fixture("poll.asl.json"), None, None).expect("runs");
    let cause = out["cause"].as_str().unwrap_or_default();
    assert!(!cause.contains("--"), "{cause}");
    let err = run(&fixture("poll.asl.json"), Some("{nope"), None).expect_err("bad input");
    assert!(
        err.to_string().starts_with("the input is not valid JSON"),
        "{err}"
    );
    let err = run(
        &fixture("poll.asl.json"),
        None,
        Some((&fixture("mocks.json"), "missing-case")),
    )
    .expect_err("no case");
    assert!(!err.to_string().contains("--"), "{err}");
}

#[test]
fn invalid_definition_names_state_and_field() {
    let def = scratch(
        "bad.asl.json",
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}"#,
    );
    let err = run(&def, None, None).expect_err("invalid");
    assert!(matches!(err, ExecError::Definition { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("state 'A'") && msg.contains("field 'Next'"),
        "{msg}"
    );
}

#[test]
fn invalid_input_and_mock_problems_are_errors() {
    assert!(matches!(
        run(&fixture("poll.asl.json"), Some("{nope"), None),
        Err(ExecError::Input(_))
    ));
    let err = run(
        &fixture("poll.asl.json"),
        None,
        Some((&fixture("mocks.json"), "missing-case")),
    )
    .expect_err("no case");
    assert!(
        err.to_string().contains("missing-case") && err.to_string().contains("broken, happy"),
        "{err}"
    );
    let bad_mocks = scratch(
        "bad-mocks.json",
        r#"{"StateMachines": {}, "MockedResponses": {"R": {"zero": {"Return": 1}}}}"#,
    );
    assert!(matches!(
        run(&fixture("poll.asl.json"), None, Some((&bad_mocks, "c"))),
        Err(ExecError::Mocks(_))
    ));
    assert!(matches!(
        run(&fixture("nope.asl.json"), None, None),
        Err(ExecError::ReadDefinition { .. })
    ));
}
