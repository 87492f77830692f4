//! Runs the conformance suite kept as data in `tests/conformance/*.json` (the same files the
//! moto peer script runs) and reports every case that differs, not just the first.

use scanflow_asl::{ExecutionOptions, StateMachine, TaskCall, TaskHandler, TaskOutcome, execute};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Plays a case's task script in invocation order; past its end, tasks echo their input
/// (what moto's Lambda does with an empty response queue).
struct Script {
    steps: Vec<Value>,
    next: usize,
    inputs: Vec<Value>,
    mismatch: Option<String>,
}

impl TaskHandler for Script {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        self.inputs.push(call.input.clone());
        let Some(step) = self.steps.get(self.next) else {
            return TaskOutcome::Succeeded(call.input.clone());
        };
        self.next += 1;
        if let Some(state) = step.get("state").and_then(Value::as_str)
            && state != call.state_name
        {
            self.mismatch.get_or_insert(format!(
                "task script step {} is for '{state}' but '{}' was invoked",
                self.next - 1,
                call.state_name
            ));
        }
        let outcome = match step.get("throw") {
            Some(t) => TaskOutcome::Failed {
                error: t["Error"].as_str().unwrap_or_default().into(),
                cause: t["Cause"].as_str().unwrap_or_default().into(),
            },
            None => TaskOutcome::Succeeded(step.get("return").cloned().unwrap_or(Value::Null)),
        };
        match step.get("elapsed").and_then(Value::as_i64) {
            Some(secs) => TaskOutcome::Elapsed {
                duration: time::Duration::seconds(secs),
                outcome: Box::new(outcome),
            },
            None => outcome,
        }
    }
}

/// Builds the case input, padding a string field to an exact compact size when asked.
fn case_input(case: &Value) -> Value {
    let mut input = case.get("input").cloned().unwrap_or_else(|| json!({}));
    if let Some(pad) = case.get("input_pad") {
        let field = pad["field"].as_str().expect("input_pad.field");
        let total = pad["total_bytes"].as_u64().expect("input_pad.total_bytes") as usize;
        input[field] = json!("");
        let base = serde_json::to_string(&input).expect("json").len();
        input[field] = json!("x".repeat(total - base));
    }
    input
}

fn check_case(case: &Value) -> Result<(), String> {
    let def = &case["definition"];
    let expect = &case["expect"];
    if let Some(wanted) = expect.get("validation") {
        let errors = match StateMachine::from_value(def) {
            Ok(_) => return Err("definition was accepted but should be rejected".into()),
            Err(e) => e.0,
        };
        for w in wanted.as_array().expect("validation list") {
            let (state, field) = (w["state"].as_str(), w["field"].as_str().expect("field"));
            if !errors
                .iter()
                .any(|e| e.state.as_deref() == state && e.field == field)
            {
                return Err(format!(
                    "no error for state {state:?} field '{field}'; got {errors:?}"
                ));
            }
        }
        return Ok(());
    }
    let machine = StateMachine::from_value(def).map_err(|e| format!("definition rejected: {e}"))?;
    let steps = case
        .get("tasks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut script = Script {
        steps,
        next: 0,
        inputs: Vec::new(),
        mismatch: None,
    };
    let options = ExecutionOptions {
        name: "exec-1".into(),
        state_machine_name: "conformance".into(),
        seed: case.get("seed").and_then(Value::as_u64).unwrap_or(0),
        ..ExecutionOptions::default()
    };
    let run = execute(&machine, case_input(case), &mut script, &options);
    if let Some(m) = script.mismatch {
        return Err(m);
    }
    let mut diffs = Vec::new();
    let got = json!({"status": run.status.as_aws(), "output": run.output, "error": run.error, "cause": run.cause});
    for field in ["status", "output", "error", "cause"] {
        if let Some(want) = expect.get(field)
            && want != &got[field]
        {
            diffs.push(format!("{field}: expected {want}, got {}", got[field]));
        }
    }
    if let Some(want) = expect.get("transitions").and_then(Value::as_u64)
        && want != run.transitions
    {
        diffs.push(format!(
            "transitions: expected {want}, got {}",
            run.transitions
        ));
    }
    if let Some(want) = expect.get("task_inputs")
        && want != &json!(script.inputs)
    {
        diffs.push(format!(
            "task_inputs: expected {want}, got {}",
            json!(script.inputs)
        ));
    }
    let elapsed = (run.end_time - options.start_time).as_seconds_f64();
    if let Some(want) = expect.get("elapsed_seconds").and_then(Value::as_f64)
        && (want - elapsed).abs() > 1e-6
    {
        diffs.push(format!("elapsed_seconds: expected {want}, got {elapsed}"));
    }
    if let Some(max) = expect
        .get("elapsed_seconds_at_most")
        .and_then(Value::as_f64)
        && elapsed > max
    {
        diffs.push(format!(
            "elapsed_seconds: expected at most {max}, got {elapsed}"
        ));
    }
    if let Some(want) = expect.get("history") {
        let kinds: Vec<&str> = run.history.iter().map(|e| e.kind.as_str()).collect();
        if want != &json!(kinds) {
            diffs.push(format!("history: expected {want}, got {}", json!(kinds)));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

#[test]
fn conformance_suite() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("conformance dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    let mut names = std::collections::HashSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read case file");
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in doc["cases"].as_array().expect("cases array") {
            total += 1;
            let name = case["name"].as_str().expect("case name").to_string();
            assert!(names.insert(name.clone()), "duplicate case name {name}");
            if let Err(e) = check_case(case) {
                failures.push(format!(
                    "{} / {name}: {e}",
                    file.file_name().unwrap_or_default().to_string_lossy()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total >= 80,
        "the suite must keep at least 80 cases, has {total}"
    );
}
