//! Runs the conformance suite kept as data in `tests/conformance/*.json` (the same files the
//! moto peer script runs) and reports every case that differs, not just the first.

use scanflow_asl::json::Value as Ordered;
use scanflow_asl::{
    Execution, ExecutionOptions, RedriveError, StateMachine, TaskCall, TaskHandler, TaskOutcome,
    execute, redrive,
};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Plays a case's task script in invocation order; past its end, tasks echo their input
/// (what moto's Lambda does with an empty response queue). Results keep the case file's key
/// order, and an echo the input's, as a Lambda returning JSON text does.
struct Script {
    steps: Vec<Ordered>,
    next: usize,
    inputs: Vec<Value>,
    mismatch: Option<String>,
}

impl Script {
    /// The script of a case or of one of its redrives (its `tasks` field).
    fn new(v: &Ordered) -> Script {
        Script {
            steps: v
                .get("tasks")
                .and_then(Ordered::as_array)
                .cloned()
                .unwrap_or_default(),
            next: 0,
            inputs: Vec::new(),
            mismatch: None,
        }
    }
}

impl TaskHandler for Script {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        self.inputs.push(call.input.clone());
        let Some(step) = self.steps.get(self.next) else {
            return TaskOutcome::SucceededJson(call.json_input.clone());
        };
        self.next += 1;
        if let Some(state) = step.get("state").and_then(Ordered::as_str)
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
            // `return_repeat`: a string of `count` copies of `text`, for results too large to
            // write into the case file.
            None => match step.get("return_repeat") {
                Some(r) => TaskOutcome::Succeeded(Value::String(
                    r["text"]
                        .as_str()
                        .unwrap_or_default()
                        .repeat(r["count"].as_u64().unwrap_or(0) as usize),
                )),
                None => TaskOutcome::SucceededJson(step.get("return").cloned().unwrap_or_default()),
            },
        };
        match step.get("elapsed").and_then(Ordered::as_i64) {
            Some(secs) => TaskOutcome::Elapsed {
                duration: time::Duration::seconds(secs),
                outcome: Box::new(outcome),
            },
            None => outcome,
        }
    }
}

/// Builds the case input, in the case file's key order, padding a string field to an exact
/// compact size when asked.
fn case_input(ordered: &Ordered) -> Ordered {
    let mut input = ordered
        .get("input")
        .cloned()
        .unwrap_or_else(|| Ordered::Object(Default::default()));
    if let Some(pad) = ordered.get("input_pad") {
        let field = pad["field"].as_str().expect("input_pad.field");
        let total = pad["total_bytes"].as_u64().expect("input_pad.total_bytes") as usize;
        let m = input.as_object_mut().expect("a padded input is an object");
        m.insert(field.into(), Ordered::from(""));
        let base = Ordered::Object(m.clone()).to_string().len();
        m.insert(field.into(), Ordered::from("x".repeat(total - base)));
    }
    input
}

/// `case` is the case as serde_json reads it (in its map's order), `ordered` the same case with the
/// file's key order: definitions and inputs keep it, and outputs are compared in it.
fn check_case(case: &Value, ordered: &Ordered) -> Result<(), String> {
    let expect = &case["expect"];
    // Parsed from text, so templates keep the order they are written in.
    let def = ordered["definition"].to_string();
    if let Some(wanted) = expect.get("validation") {
        let errors = match StateMachine::from_json(&def) {
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
    let machine = StateMachine::from_json(&def).map_err(|e| format!("definition rejected: {e}"))?;
    let mut options = ExecutionOptions {
        name: "exec-1".into(),
        state_machine_name: "conformance".into(),
        seed: case.get("seed").and_then(Value::as_u64).unwrap_or(0),
        ..ExecutionOptions::default()
    };
    options.abort_at = abort_at(case, &options);
    let mut script = Script::new(ordered);
    let mut run = execute(&machine, case_input(ordered), &mut script, &options);
    let mut diffs = Vec::new();
    compare(
        expect,
        &ordered["expect"],
        &run,
        script,
        &options,
        0,
        &mut diffs,
    )?;
    // `redrive`: each entry redrives the execution as it stands, `after_seconds` after its end,
    // with its own task script, abort time and expectations.
    let redrives = case.get("redrive").and_then(Value::as_array);
    for (i, step) in redrives.into_iter().flatten().enumerate() {
        let ordered_want = &ordered["redrive"][i]["expect"];
        let after = step
            .get("after_seconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let at = run.end_time + time::Duration::seconds(after);
        options.abort_at = abort_at(step, &options);
        let mut script = Script::new(&ordered["redrive"][i]);
        let before = run.history.len();
        let want = &step["expect"];
        match redrive(&machine, run.clone(), &mut script, &options, at) {
            Err(e) => {
                let got = redrive_error_name(&e);
                match want.get("redrive_error").and_then(Value::as_str) {
                    Some(w) if w == got => {}
                    _ => diffs.push(format!("redrive {i}: refused with {got} ({e})")),
                }
                break;
            }
            Ok(next) => {
                if let Some(w) = want.get("redrive_error") {
                    diffs.push(format!("redrive {i}: expected refusal {w}, but it ran"));
                }
                let mut found = Vec::new();
                compare(
                    want,
                    ordered_want,
                    &next,
                    script,
                    &options,
                    before,
                    &mut found,
                )
                .map_err(|e| format!("redrive {i}: {e}"))?;
                diffs.extend(found.into_iter().map(|d| format!("redrive {i}: {d}")));
                run = next;
            }
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("; "))
    }
}

/// `abort_after_seconds` (from the execution start) as `ExecutionOptions::abort_at`.
fn abort_at(v: &Value, options: &ExecutionOptions) -> Option<time::OffsetDateTime> {
    v.get("abort_after_seconds")
        .and_then(Value::as_i64)
        .map(|s| options.start_time + time::Duration::seconds(s))
}

fn redrive_error_name(e: &RedriveError) -> &'static str {
    match e {
        RedriveError::ExecutionNotRedrivable { .. } => "ExecutionNotRedrivable",
        RedriveError::HistoryLimitExceeded { .. } => "HistoryLimitExceeded",
        RedriveError::RedrivablePeriodExceeded { .. } => "RedrivablePeriodExceeded",
        RedriveError::MaxOpenTimeExceeded { .. } => "MaxOpenTimeExceeded",
        RedriveError::BeforeEnd { .. } => "BeforeEnd",
        RedriveError::NoResumePoint { .. } => "NoResumePoint",
    }
}

/// Compares one run (the first, or a redrive whose history starts at event `before`) with
/// its expectations (`ordered`: the same, in the file's key order), pushing each difference.
fn compare(
    expect: &Value,
    ordered: &Ordered,
    run: &Execution,
    script: Script,
    options: &ExecutionOptions,
    before: usize,
    diffs: &mut Vec<String>,
) -> Result<(), String> {
    if let Some(m) = script.mismatch {
        return Err(m);
    }
    let got = json!({"status": run.status.as_aws(), "output": run.output, "error": run.error, "cause": run.cause});
    for field in ["status", "output", "error", "cause"] {
        if let Some(want) = expect.get(field)
            && want != &got[field]
        {
            diffs.push(format!("{field}: expected {want}, got {}", got[field]));
        }
    }
    // The output's text, key order included, is AWS's: compared as text.
    if let Some(want) = ordered.get("output") {
        let want = want.to_string();
        let got = run.output_json().unwrap_or("null");
        if want != got {
            diffs.push(format!(
                "output text (key order): expected {want}, got {got}"
            ));
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
    if let Some(want) = expect.get("run_transitions").and_then(Value::as_u64)
        && want != run.run_transitions
    {
        diffs.push(format!(
            "run_transitions: expected {want}, got {}",
            run.run_transitions
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
    let kinds: Vec<&str> = run.history.iter().map(|e| e.kind.as_str()).collect();
    if let Some(want) = expect.get("history")
        && want != &json!(kinds)
    {
        diffs.push(format!("history: expected {want}, got {}", json!(kinds)));
    }
    let new = kinds.get(before..).unwrap_or_default();
    if let Some(want) = expect.get("new_history")
        && want != &json!(new)
    {
        diffs.push(format!("new_history: expected {want}, got {}", json!(new)));
    }
    // Event ids run 1, 2, 3… across the first run and every redrive.
    for (i, e) in run.history.iter().enumerate() {
        if e.id != i as u64 + 1 || e.previous_event_id != i as u64 {
            diffs.push(format!(
                "history event {i} has id {} / previous {}",
                e.id, e.previous_event_id
            ));
            break;
        }
    }
    Ok(())
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
        let ordered: Ordered = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let ordered_cases = ordered["cases"].as_array().expect("cases array");
        for (case, ordered) in doc["cases"]
            .as_array()
            .expect("cases array")
            .iter()
            .zip(ordered_cases)
        {
            total += 1;
            let name = case["name"].as_str().expect("case name").to_string();
            assert!(names.insert(name.clone()), "duplicate case name {name}");
            if let Err(e) = check_case(case, ordered) {
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
