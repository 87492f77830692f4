//! Running a definition file on an input, optionally with a Step Functions Local mock file,
//! reporting `{status, output, error, cause, transitions}`: what `scanflow asl exec` runs.
//! It knows nothing of command-line flags; the CLI names them in its own messages.

use crate::json::{Map, Value};
use crate::mocks::{MOCK_MISSING, MockConfig, MockError};
use crate::{
    ExecutionOptions, StateMachine, TaskCall, TaskHandler, TaskOutcome, ValidationErrors, execute,
};
use std::path::Path;

/// What stops `run` before anything runs (the CLI exits 2 on these and names its flags).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("cannot read definition {path}: {source}")]
    ReadDefinition {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {errors}")]
    Definition {
        path: String,
        errors: ValidationErrors,
    },
    #[error("the input is not valid JSON: {0}")]
    Input(serde_json::Error),
    #[error("{0}")]
    Mocks(#[from] MockError),
    /// Not expected: the engine's own output text did not parse back.
    #[error("the execution output could not be read back as JSON: {0}")]
    Output(serde_json::Error),
}

/// Without a mock file every task fails, saying so.
struct NoTasks;

impl TaskHandler for NoTasks {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        TaskOutcome::Failed {
            error: MOCK_MISSING.into(),
            cause: format!(
                "task state '{}' needs a mocked response: run with a mock file and one of its test cases",
                call.state_name
            ),
        }
    }
}

/// Runs the definition at `definition_path` on `input` (default `{}`). The report's keys, and
/// the output's, are in AWS's order (its `Display` is compact JSON).
///
/// The state machine is named after the file stem; with `mocks`, the file's only state machine
/// is used, or else the one named like the file stem.
pub fn run(
    definition_path: &Path,
    input: Option<&str>,
    mocks: Option<(&Path, &str)>,
) -> Result<Value, ExecError> {
    let path = definition_path.display().to_string();
    let text =
        std::fs::read_to_string(definition_path).map_err(|source| ExecError::ReadDefinition {
            path: path.clone(),
            source,
        })?;
    let machine =
        StateMachine::from_json(&text).map_err(|errors| ExecError::Definition { path, errors })?;
    let input: Value = serde_json::from_str(input.unwrap_or("{}")).map_err(ExecError::Input)?;
    let name = definition_path
        .file_stem()
        .map(|s| s.to_string_lossy().trim_end_matches(".asl").to_string())
        .unwrap_or_else(|| "StateMachine".into());
    let options = ExecutionOptions {
        state_machine_name: name.clone(),
        ..ExecutionOptions::default()
    };
    let execution = match mocks {
        Some((file, case)) => {
            let mut handler = MockConfig::from_file(file)?.handler(&name, case)?;
            execute(&machine, input, &mut handler, &options)
        }
        None => execute(&machine, input, &mut NoTasks, &options),
    };
    // In AWS's key order, the output's too: printed, this is what AWS would show.
    let text = |t: Option<String>| t.map_or(Value::Null, Value::String);
    let mut report = Map::with_capacity(5);
    report.insert("status".into(), execution.status.as_aws().into());
    let output = match execution.output_json() {
        Some(text) => text.parse().map_err(ExecError::Output)?,
        None => Value::Null,
    };
    report.insert("output".into(), output);
    report.insert("error".into(), text(execution.error));
    report.insert("cause".into(), text(execution.cause));
    report.insert("transitions".into(), execution.transitions.into());
    Ok(Value::Object(report))
}
