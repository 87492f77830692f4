//! Error messages quote at most ~100 characters of a path, name or value taken from the
//! definition or the input: a 100 KiB path or value gives a short message, never a copy.

use scanflow_asl::{ExecutionOptions, StateMachine, TaskCall, TaskHandler, TaskOutcome, execute};
use serde_json::{Value, json};

/// 100 characters quoted, the ellipsis, the length note, and the message's own words.
const MAX_MESSAGE: usize = 600;
const LONG: usize = 100 * 1024;

struct Echo;
impl TaskHandler for Echo {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        TaskOutcome::Succeeded(call.input.clone())
    }
}

fn rejected(def: Value) -> String {
    match StateMachine::from_value(&def) {
        Ok(_) => panic!("the definition should be rejected"),
        Err(e) => e.to_string(),
    }
}

fn failed_cause(def: Value, input: Value) -> String {
    let m = StateMachine::from_value(&def).expect("valid definition");
    let run = execute(&m, input, &mut Echo, &ExecutionOptions::default());
    run.cause.expect("the execution fails with a cause")
}

fn assert_short(message: &str, starts: &str) {
    assert!(
        message.chars().count() <= MAX_MESSAGE,
        "{} characters: {}…",
        message.len(),
        message.chars().take(300).collect::<String>()
    );
    assert!(message.contains(starts), "{message}");
    // The quoted value was clipped and says how long it was.
    assert!(message.contains(" characters)"), "{message}");
}

#[test]
fn a_100_kib_path_in_a_definition_is_quoted_short() {
    let path = format!("$.{}", "a".repeat(LONG));
    // Not a reference path (a wildcard at the end) where one is needed.
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "ResultPath": format!("{path}[*]")}}});
    assert_short(&rejected(def), "'$.aaaa");
    // A syntax error in the middle.
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "InputPath": format!("{path}[")}}});
    assert_short(&rejected(def), "invalid JSONPath '$.aaa");
    // No '$' at all.
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "InputPath": "b".repeat(LONG)}}});
    assert_short(&rejected(def), "'bbbb");
}

#[test]
fn long_names_fields_and_values_in_a_definition_are_quoted_short() {
    let name = "n".repeat(LONG);
    let def = json!({"StartAt": name.clone(), "States": {"P": {"Type": "Pass", "End": true}}});
    assert_short(&rejected(def), "names state 'nnnn");
    let def =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, name.clone(): 1}}});
    assert_short(&rejected(def), "field 'nnnn");
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "Comment": vec![0; LONG / 2]}}});
    assert_short(&rejected(def), "must be a string, got [0,0");
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "Parameters": {"x.$": format!("States.{}()", "F".repeat(LONG))}}}});
    assert_short(&rejected(def), "unknown function 'States.FFF");
}

#[test]
fn a_100_kib_path_or_input_at_run_time_is_quoted_short() {
    // A path that finds nothing: AWS names the path and the input.
    let path = format!("$.{}", "a".repeat(LONG));
    let cause = failed_cause(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
            "Parameters": {"x.$": path}}}}),
        json!({"b": "c".repeat(LONG)}),
    );
    assert_short(&cause, "The JSONPath '$.aaaa");
    assert!(cause.contains("in the input '{\"b\":\"ccc"), "{cause}");
    // A Wait whose SecondsPath finds a 100 KiB string.
    let cause = failed_cause(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "End": true, "SecondsPath": "$.s"}}}),
        json!({"s": "d".repeat(LONG)}),
    );
    assert_short(&cause, "SecondsPath");
    // An InputPath that finds nothing.
    let cause = failed_cause(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "InputPath": path}}}),
        json!({}),
    );
    assert_short(&cause, "Invalid path '$.aaaa");
}

#[test]
fn a_short_value_is_quoted_whole() {
    let cause = failed_cause(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
            "Parameters": {"x.$": "$.missing"}}}}),
        json!({"b": "c".repeat(90)}),
    );
    assert!(
        cause.ends_with(&format!("in the input '{{\"b\":\"{}\"}}'", "c".repeat(90))),
        "{cause}"
    );
}
