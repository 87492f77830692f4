//! AWS's limits and the engine's own budgets, each at the limit and one past it: history
//! events inside retries, Map and Parallel; payload size of intermediate values; JSONPath
//! results, work and depth; nesting of definitions and values.

use scanflow_asl::{
    ExecutionOptions, MAX_PAYLOAD_BYTES, StateMachine, Status, TaskCall, TaskHandler, TaskOutcome,
    execute,
};
use serde_json::{Value, json};

/// Fails every attempt.
struct AlwaysFails;
impl TaskHandler for AlwaysFails {
    fn invoke(&mut self, _: &TaskCall<'_>) -> TaskOutcome {
        TaskOutcome::Failed {
            error: "Boom".into(),
            cause: "always".into(),
        }
    }
}

/// Fails the first `fails` attempts, then echoes its input.
struct FailsThenEchoes {
    fails: u32,
}
impl TaskHandler for FailsThenEchoes {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        if call.attempt < self.fails {
            TaskOutcome::Failed {
                error: "Boom".into(),
                cause: "not yet".into(),
            }
        } else {
            TaskOutcome::Succeeded(call.input.clone())
        }
    }
}

/// Returns an array nested `0` levels deep, built afresh at every call (cloning or
/// dropping it would recurse once per level).
struct ReturnsDeep(usize);
impl TaskHandler for ReturnsDeep {
    fn invoke(&mut self, _: &TaskCall<'_>) -> TaskOutcome {
        TaskOutcome::Succeeded(nested_values(self.0))
    }
}

/// Returns the same value for every call.
struct Returns(Value);
impl TaskHandler for Returns {
    fn invoke(&mut self, _: &TaskCall<'_>) -> TaskOutcome {
        TaskOutcome::Succeeded(self.0.clone())
    }
}

fn machine(def: Value) -> StateMachine {
    StateMachine::from_value(&def).expect("valid definition")
}

fn capped(max: usize) -> ExecutionOptions {
    ExecutionOptions {
        max_history_events: Some(max),
        ..ExecutionOptions::default()
    }
}

fn assert_history_cap(run: &scanflow_asl::Execution, max: usize) {
    assert_eq!(run.status, Status::Failed, "{:?}", run.cause);
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    let cause = run.cause.as_deref().unwrap_or_default();
    assert!(
        cause.contains(&format!("maximum number of history events ({max})")),
        "{cause}"
    );
    // The cap is checked before every attempt, iteration and branch: the history passes it
    // by at most one attempt's events and the closing events.
    assert!(run.history.len() <= max + 6, "{}", run.history.len());
}

fn retrying(max_attempts: u64) -> StateMachine {
    machine(json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:x", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": max_attempts, "IntervalSeconds": 1, "BackoffRate": 1.0}]
    }}}))
}

#[test]
fn a_huge_max_attempts_stops_at_the_history_cap() {
    let m = retrying(99_999_999);
    let run = execute(&m, json!({}), &mut AlwaysFails, &capped(1_000));
    assert_history_cap(&run, 1_000);
    // The default cap (AWS's 25,000) holds too, and a Catch cannot swallow it.
    let m = machine(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:x", "End": true,
              "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 99_999_999, "IntervalSeconds": 1, "BackoffRate": 1.0}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}
    }}));
    let run = execute(
        &m,
        json!({}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_history_cap(&run, 25_000);
}

#[test]
fn retries_at_the_history_cap_succeed_and_one_event_fewer_fails() {
    let m = retrying(10);
    let free = execute(
        &m,
        json!({}),
        &mut FailsThenEchoes { fails: 5 },
        &ExecutionOptions {
            max_history_events: None,
            ..ExecutionOptions::default()
        },
    );
    assert_eq!(free.status, Status::Succeeded);
    // The cap is checked before an attempt: the history there holds every event but the
    // last attempt's (3) and the state's exit and the execution's end (2).
    let at_limit = free.history.len() - 5;
    let run = execute(
        &m,
        json!({}),
        &mut FailsThenEchoes { fails: 5 },
        &capped(at_limit),
    );
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.cause);
    let run = execute(
        &m,
        json!({}),
        &mut FailsThenEchoes { fails: 5 },
        &capped(at_limit - 1),
    );
    assert_history_cap(&run, at_limit - 1);
}

#[test]
fn map_iterations_and_parallel_branches_stop_at_the_history_cap() {
    let items: Vec<u32> = (0..1_000).collect();
    let m = machine(json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": true, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
    }}}));
    let run = execute(&m, json!({"items": items}), &mut AlwaysFails, &capped(100));
    assert_history_cap(&run, 100);
    let branches: Vec<Value> = (0..200)
        .map(|_| json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}))
        .collect();
    let m = machine(json!({"StartAt": "Par", "States": {"Par": {
        "Type": "Parallel", "End": true, "Branches": branches
    }}}));
    let run = execute(&m, json!({}), &mut AlwaysFails, &capped(50));
    assert_history_cap(&run, 50);
    let run = execute(&m, json!({}), &mut AlwaysFails, &capped(10_000));
    assert_eq!(run.status, Status::Succeeded);
}

fn map_of_strings(len: usize, items: usize) -> (StateMachine, Value) {
    let m = machine(json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": true, "ItemsPath": "$.items",
        "ItemSelector": {"s.$": "$.s"},
        "ResultSelector": {"n.$": "States.ArrayLength($)"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": "$.s", "End": true}}}
    }}}));
    let input = json!({"s": "x".repeat(len), "items": vec![0; items]});
    (m, input)
}

#[test]
fn the_map_aggregate_is_capped_even_when_a_result_selector_shrinks_it() {
    // Each output is the string with its quotes, plus a comma: the array is
    // items * (len + 3) - 1 + 2 bytes.
    let items = 64;
    let len = MAX_PAYLOAD_BYTES / items - 3;
    let (m, input) = map_of_strings(len - 1, items);
    let run = execute(&m, input, &mut AlwaysFails, &ExecutionOptions::default());
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.cause);
    assert_eq!(run.output, Some(json!({"n": items})));
    let (m, input) = map_of_strings(len, items);
    let run = execute(&m, input, &mut AlwaysFails, &ExecutionOptions::default());
    assert_eq!(run.status, Status::Failed);
    assert_eq!(run.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(
        run.cause.as_deref().is_some_and(|c| c.contains("'M'")),
        "{:?}",
        run.cause
    );
}

#[test]
fn parallel_outputs_and_result_selectors_are_capped() {
    let half = "x".repeat(MAX_PAYLOAD_BYTES / 2);
    let branch = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": "$.s", "End": true}}});
    let m = machine(json!({"StartAt": "Par", "States": {"Par": {
        "Type": "Parallel", "End": true, "Branches": [branch.clone(), branch],
        "ResultSelector": {"n.$": "States.ArrayLength($)"}
    }}}));
    let run = execute(
        &m,
        json!({"s": half}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.DataLimitExceeded"));
    let run = execute(
        &m,
        json!({"s": "x".repeat(1_000)}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.output, Some(json!({"n": 2})));
    // A ResultSelector that doubles the task's result past the cap, then is discarded.
    let m = machine(json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:x", "End": true, "ResultPath": null,
        "ResultSelector": {"a.$": "$.s", "b.$": "$.s"}
    }}}));
    let run = execute(
        &m,
        json!({}),
        &mut Returns(json!({"s": half})),
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.DataLimitExceeded"));
}

#[test]
fn nested_intrinsic_results_are_capped() {
    let m = machine(json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "End": true,
        "Parameters": {"n.$": "States.ArrayLength(States.Array($.s, $.s, $.s))"}
    }}}));
    let third = MAX_PAYLOAD_BYTES / 3;
    let run = execute(
        &m,
        json!({"s": "x".repeat(third - 10)}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.output, Some(json!({"n": 3})), "{:?}", run.cause);
    let run = execute(
        &m,
        json!({"s": "x".repeat(third)}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(
        run.cause
            .as_deref()
            .is_some_and(|c| c.contains("States.Array")),
        "{:?}",
        run.cause
    );
}

fn pass_with(params: Value) -> StateMachine {
    machine(json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "End": true, "Parameters": params
    }}}))
}

/// A document `levels` objects deep, each with a few scalar children.
fn deep_doc(levels: usize) -> Value {
    let mut v = json!({"x": 1});
    for _ in 0..levels {
        v = json!({"a": v, "b": [1, 2], "x": 1});
    }
    v
}

#[test]
fn chained_recursive_descent_stops_at_the_result_budget() {
    // 34,000 nodes: `$..*` selects them all; each further `..*` multiplies by the depth.
    let doc: Vec<Value> = (0..2_000).map(|_| deep_doc(3)).collect();
    let run = execute(
        &pass_with(json!({"n.$": "States.ArrayLength($..*)"})),
        json!({"d": doc}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.cause);
    let run = execute(
        &pass_with(json!({"all.$": "$..*..*..*..*"})),
        json!({"d": doc}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    let cause = run.cause.unwrap_or_default();
    assert!(
        cause.contains("'$..*..*..*..*' selects more than 100000 values"),
        "{cause}"
    );
    assert!(cause.contains("'P'"), "{cause}");
}

#[test]
fn paths_that_visit_much_and_select_nothing_stop_at_the_step_budget() {
    let doc: Vec<Value> = (0..1_000).map(|_| deep_doc(6)).collect();
    let run = execute(
        &pass_with(json!({"none.$": "$..*..*..*..*..nothing"})),
        json!({"d": doc}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    let cause = run.cause.unwrap_or_default();
    assert!(cause.contains("visits more than 5000000 nodes"), "{cause}");
}

#[test]
fn a_filter_reading_the_root_is_evaluated_once() {
    // 15,000 candidates against a root operand that descends the whole document: once per
    // candidate this would be about a billion node visits, past the step budget.
    let items: Vec<Value> = (0..15_000).map(|i| json!({"v": i})).collect();
    let run = execute(
        &pass_with(json!({"hit.$": "$.items[?(@.v == $..want)].v"})),
        json!({"items": items, "want": 17}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.output, Some(json!({"hit": [17]})), "{:?}", run.cause);
}

#[test]
fn long_paths_are_refused_when_the_definition_is_parsed() {
    let ok = format!("${}", "[*]".repeat(256));
    let bad = format!("${}", "[*]".repeat(257));
    assert!(
        StateMachine::from_value(&json!({"StartAt": "P", "States": {"P": {
            "Type": "Pass", "End": true, "Parameters": {"a.$": ok}
        }}}))
        .is_ok()
    );
    let err = StateMachine::from_value(&json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "End": true, "Parameters": {"a.$": bad}
    }}}))
    .expect_err("too long");
    assert!(err.to_string().contains("257 segments"), "{err}");
}

fn nested_values(levels: usize) -> Value {
    // Built by moving, not with `json!` (which would serialise `v` again at every level).
    let mut v = json!(0);
    for _ in 0..levels {
        v = Value::Array(vec![v]);
    }
    v
}

#[test]
fn deep_values_fail_with_a_clear_error_not_a_stack_overflow() {
    let m = machine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:x", "End": true}}}),
    );
    let run = execute(
        &m,
        json!({}),
        &mut Returns(nested_values(511)),
        &ExecutionOptions::default(),
    );
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.cause);
    let run = execute(
        &m,
        json!({}),
        &mut Returns(nested_values(513)),
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    assert!(
        run.cause
            .as_deref()
            .is_some_and(|c| c.contains("nested more than 512 levels deep") && c.contains("'T'")),
        "{:?}",
        run.cause
    );
    // Far deeper: refused before anything recurses on it.
    let run = execute(
        &m,
        json!({}),
        &mut ReturnsDeep(50_000),
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    let run = execute(
        &m,
        nested_values(513),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
}

#[test]
fn a_result_path_that_nests_the_input_deeper_at_every_state_stops() {
    // Every loop nests the input 200 levels deeper: the third pass is past the budget.
    let path = format!("${}", ".a".repeat(200));
    let m = machine(json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "ResultPath": path, "Next": "P"
    }}}));
    let run = execute(
        &m,
        json!({}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    assert!(
        run.cause
            .as_deref()
            .is_some_and(|c| c.contains("levels deep")),
        "{:?}",
        run.cause
    );
}

fn nested_maps(levels: usize) -> Value {
    let mut m = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    for _ in 0..levels {
        m = json!({"StartAt": "M", "States": {"M": {
            "Type": "Map", "End": true, "ItemsPath": "$.items",
            "ItemSelector": {"items.$": "$.items"},
            "ItemProcessor": m
        }}});
    }
    m
}

#[test]
fn nested_machines_are_bounded() {
    let m = machine(nested_maps(16));
    let run = execute(
        &m,
        json!({"items": [1]}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.cause);
    let err = StateMachine::from_value(&nested_maps(17)).expect_err("too deep");
    assert!(
        err.to_string().contains("nest more than 16 machines deep"),
        "{err}"
    );
    // A definition value deeper than `from_json` would parse is refused as a whole.
    let mut deep = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    deep["States"]["P"]["Result"] = nested_values(50_000);
    let err = StateMachine::from_value(&deep).expect_err("too deep");
    assert!(err.to_string().contains("128 levels deep"), "{err}");
    std::mem::forget(deep);
}

#[test]
fn string_matches_on_long_values_answers() {
    let m = machine(json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.v", "StringMatches": format!("{}b", "*a".repeat(5_000)), "Next": "Yes"}
        ], "Default": "No"},
        "Yes": {"Type": "Succeed"},
        "No": {"Type": "Fail", "Error": "No"}
    }}));
    let run = execute(
        &m,
        json!({"v": "a".repeat(100_000)}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("No"));
    let run = execute(
        &m,
        json!({"v": format!("{}b", "a".repeat(100_000))}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.status, Status::Succeeded);
}

#[test]
fn deeply_nested_text_is_refused_not_overflowed() {
    // A definition nested 50,000 deep: serde_json's recursion limit refuses it.
    let text = format!(
        r#"{{"StartAt":"P","States":{{"P":{{"Type":"Pass","End":true,"Result":{}{}}}}}}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    assert!(StateMachine::from_json(&text).is_err());
    // `States.StringToJson` of text nested past serde_json's limit: an intrinsic failure.
    let m = pass_with(json!({"v.$": "States.StringToJson($.t)"}));
    let run = execute(
        &m,
        json!({"t": format!("{}{}", "[".repeat(5_000), "]".repeat(5_000))}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.error.as_deref(), Some("States.IntrinsicFailure"));
    // At serde_json's limit it parses.
    let run = execute(
        &m,
        json!({"t": format!("{}{}", "[".repeat(127), "]".repeat(127))}),
        &mut AlwaysFails,
        &ExecutionOptions::default(),
    );
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.cause);
    // A path whose filter nests 20,000 parentheses deep: a validation error.
    let deep_path = format!("$[?({}@.a{})]", "(".repeat(20_000), ")".repeat(20_000));
    assert!(pass_with_path(&deep_path).is_err());
}

fn pass_with_path(path: &str) -> Result<StateMachine, scanflow_asl::ValidationErrors> {
    StateMachine::from_value(&json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "End": true, "Parameters": {"v.$": path}
    }}}))
}

#[test]
fn a_map_or_parallel_stopped_at_the_cap_redrives_to_the_end() {
    let branches: Vec<Value> = (0..200)
        .map(|i| json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": i, "End": true}}}))
        .collect();
    let par = machine(json!({"StartAt": "Par", "States": {"Par": {
        "Type": "Parallel", "End": true, "Branches": branches
    }}}));
    let items: Vec<u32> = (0..200).collect();
    let map = machine(json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": true, "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
    }}}));
    for (m, input) in [(par, json!({})), (map, json!({"items": items}))] {
        let run = execute(&m, input, &mut AlwaysFails, &capped(100));
        assert_history_cap(&run, 100);
        let at = run.end_time + time::Duration::hours(1);
        let again = scanflow_asl::redrive(&m, run, &mut AlwaysFails, &capped(100_000), at)
            .expect("redrivable");
        assert_eq!(again.status, Status::Succeeded, "{:?}", again.cause);
        let out: Vec<u64> = again
            .output
            .as_ref()
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        assert_eq!(out, (0..200).collect::<Vec<u64>>());
    }
}

/// The data every event of `run` holds, counted as the history's data budget counts it.
fn history_data(run: &scanflow_asl::Execution) -> usize {
    run.history
        .iter()
        .map(|e| {
            let v = [&e.input, &e.output]
                .into_iter()
                .flatten()
                .map(|v| serde_json::to_string(v).map_or(0, |s| s.len()));
            let t = [&e.error, &e.cause].into_iter().flatten().map(String::len);
            v.chain(t).sum::<usize>()
        })
        .sum()
}

fn with_data_budget(budget: Option<usize>) -> ExecutionOptions {
    ExecutionOptions {
        max_history_data_bytes: budget,
        ..ExecutionOptions::default()
    }
}

/// A loop of three Pass states carrying a 1,000-character string, then a Task that fails.
fn loop_then_task() -> StateMachine {
    machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "C"},
        "C": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:x", "End": true}
    }}))
}

#[test]
fn history_data_at_the_budget_is_kept_whole_and_one_byte_less_truncates() {
    let m = loop_then_task();
    let input = json!({"s": "x".repeat(1_000)});
    let free = execute(&m, input.clone(), &mut AlwaysFails, &with_data_budget(None));
    let total = history_data(&free);
    assert!(total > 8_000, "{total}");
    assert!(free.history.iter().all(|e| !e.truncated));

    let at_limit = execute(
        &m,
        input.clone(),
        &mut AlwaysFails,
        &with_data_budget(Some(total)),
    );
    assert_eq!(at_limit.history, free.history);

    let past = execute(
        &m,
        input.clone(),
        &mut AlwaysFails,
        &with_data_budget(Some(total - 1)),
    );
    // Only the execution's result is unchanged; the last piece of data (ExecutionFailed's
    // cause, "always") no longer fits and is left out, marked on its event.
    assert_eq!(
        (past.status, &past.error, &past.cause),
        (free.status, &free.error, &free.cause)
    );
    let truncated: Vec<&str> = past
        .history
        .iter()
        .filter(|e| e.truncated)
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(truncated, vec!["ExecutionFailed"]);
    let last = past.history.last().expect("events");
    assert_eq!(
        (last.error.as_deref(), last.cause.as_deref()),
        (Some("Boom"), None)
    );
    assert_eq!(history_data(&past), total - "always".len());
}

#[test]
fn a_fat_loop_keeps_at_most_the_default_budget_of_history_data() {
    // Each state's input and output is a payload near the 256 KiB cap: 25,000 events would
    // hold ~6 GiB; the history keeps the first 8 MiB and marks the rest truncated.
    let m = machine(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "P"}}}));
    let input = json!({"s": "x".repeat(MAX_PAYLOAD_BYTES - 8)});
    let run = execute(&m, input, &mut AlwaysFails, &capped(2_000));
    assert_history_cap(&run, 2_000);
    let kept = history_data(&run);
    assert!(kept <= scanflow_asl::HISTORY_DATA_BUDGET_BYTES, "{kept}");
    assert!(
        kept > scanflow_asl::HISTORY_DATA_BUDGET_BYTES - 2 * MAX_PAYLOAD_BYTES,
        "{kept}"
    );
    assert!(run.history.iter().filter(|e| e.truncated).count() > 1_900);
    // The events keep their kinds, states and order; only their data is gone.
    assert!(
        run.history
            .iter()
            .all(|e| e.kind != "PassStateEntered" || e.state_name.as_deref() == Some("P"))
    );
}

#[test]
fn a_redrive_resumes_with_the_input_a_truncated_event_left_out() {
    let m = loop_then_task();
    let input = json!({"s": "y".repeat(1_000)});
    // Room for the first few events only: the Task's Entered event loses its input.
    let options = with_data_budget(Some(3_000));
    let run = execute(&m, input.clone(), &mut AlwaysFails, &options);
    assert_eq!(run.status, Status::Failed);
    let entered = run
        .history
        .iter()
        .find(|e| e.kind == "TaskStateEntered")
        .expect("entered");
    assert!(entered.truncated && entered.input.is_none());
    let at = run.end_time;
    let again = scanflow_asl::redrive(&m, run, &mut Returns(json!("done")), &options, at)
        .expect("redrivable");
    assert_eq!(again.status, Status::Succeeded);
    assert_eq!(again.output, Some(json!("done")));
    // The re-entered Task state got the same input the first run gave it.
    let mut seen = Vec::new();
    struct Record<'a>(&'a mut Vec<Value>);
    impl TaskHandler for Record<'_> {
        fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
            self.0.push(call.input.clone());
            TaskOutcome::Succeeded(json!("done"))
        }
    }
    let run = execute(&m, input.clone(), &mut AlwaysFails, &options);
    let at = run.end_time;
    scanflow_asl::redrive(&m, run, &mut Record(&mut seen), &options, at).expect("redrivable");
    assert_eq!(seen, vec![input]);
}
