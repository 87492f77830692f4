//! Starting a scan: the input built and validated by the shared input contract, a
//! deterministic name, and Step Functions' name-based idempotency turned into "already started".

use std::io::Write;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use scanflow_core::input::{ExecutionInput, ScanRequest};

use super::watch::to_time;
use super::{Error, fmt_time, region_of_state_machine};

/// The execution input for `--account/--region` or `--input`, with `--rerun-of` set as `runArn`
/// (an Inspector Classic run ARN) or `reportId` (anything else), checked by the same validation
/// the start-run Lambda applies.
pub fn build_input(
    mut input: ExecutionInput,
    rerun_of: Option<&str>,
) -> Result<(ExecutionInput, ScanRequest), Error> {
    if let Some(run) = rerun_of {
        if input.run_arn.is_some() || input.report_id.is_some() {
            return Err(Error::Usage(
                "--rerun-of: the input already names a run (runArn or reportId); give it once"
                    .into(),
            ));
        }
        if run.starts_with("arn:") {
            input.run_arn = Some(run.to_owned());
        } else {
            input.report_id = Some(run.to_owned());
        }
    }
    let request = input.validate()?;
    Ok((input, request))
}

/// What `start` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub execution_arn: String,
    /// `None` when this call started it; the status of the execution found under the same name
    /// with the same input otherwise.
    pub existing: Option<ExecutionStatus>,
}

/// Starts `input` on `state_machine_arn` as `name`. A name already used with the same input is
/// success (the existing execution, whatever its status); with another input it is
/// [`Error::DifferentInput`].
pub async fn start(
    sfn: &Client,
    state_machine_arn: &str,
    input: &ExecutionInput,
    name: &str,
    out: &mut impl Write,
) -> Result<Started, Error> {
    let region = region_of_state_machine(state_machine_arn);
    let requested = serde_json::to_string(input)
        .map_err(|e| Error::Usage(format!("cannot encode the input: {e}")))?;
    let sent = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(name)
        .input(&requested)
        .send()
        .await;
    let err = match sent {
        Ok(started) => {
            writeln!(out, "started  {}", started.execution_arn())?;
            return Ok(Started {
                execution_arn: started.execution_arn().to_owned(),
                existing: None,
            });
        }
        Err(e) => e,
    };
    if !err
        .as_service_error()
        .is_some_and(|e| e.is_execution_already_exists())
    {
        return Err(Error::aws("states:StartExecution", region, &err));
    }
    // Step Functions answers ExecutionAlreadyExists once that execution has closed, or when the
    // input differs: read it back to tell which.
    let arn = execution_arn(state_machine_arn, name);
    let existing = sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .map_err(|e| Error::aws("states:DescribeExecution", region, &e))?;
    let existing_input = existing.input().unwrap_or("{}");
    let same = serde_json::from_str::<serde_json::Value>(existing_input).ok()
        == serde_json::from_str::<serde_json::Value>(&requested).ok();
    if !same {
        return Err(Error::DifferentInput {
            name: name.to_owned(),
            arn,
            existing: existing_input.to_owned(),
            requested,
        });
    }
    let status = existing.status().clone();
    let since = fmt_time(to_time(existing.start_date()));
    match &status {
        ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {
            writeln!(
                out,
                "already started  {arn}  ({} since {since})",
                status.as_str()
            )?;
        }
        other => {
            writeln!(
                out,
                "already ran  {arn}  ({}, started {since})",
                other.as_str()
            )?;
            if matches!(
                other,
                ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted
            ) {
                writeln!(
                    out,
                    "  resume it from the failed step: scanflow executions redrive {arn}\n  \
                     or start it again under another name: add --name NAME"
                )?;
            }
        }
    }
    Ok(Started {
        execution_arn: arn,
        existing: Some(status),
    })
}

/// `arn:...:stateMachine:<machine>` + name → `arn:...:execution:<machine>:<name>`.
fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rerun_ids_go_to_the_field_their_shape_says() {
        let base = || ExecutionInput {
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            ..Default::default()
        };
        let arn = "arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b/run/0-c";
        let (input, _) = build_input(base(), Some(arn)).expect("classic rerun");
        assert_eq!(
            (input.run_arn.as_deref(), input.report_id.as_deref()),
            (Some(arn), None)
        );
        let (input, _) = build_input(base(), Some("0b9f-77")).expect("v2 rerun");
        assert_eq!(
            (input.run_arn.as_deref(), input.report_id.as_deref()),
            (None, Some("0b9f-77"))
        );
        // The shared validation still applies: a run of another region is refused.
        let other = arn.replace("eu-west-1", "us-east-1");
        assert!(matches!(
            build_input(base(), Some(&other)),
            Err(Error::Input(_))
        ));
        let mut named = base();
        named.report_id = Some("0b9f-77".into());
        assert!(matches!(
            build_input(named, Some("1c2d")),
            Err(Error::Usage(_))
        ));
    }

    #[test]
    fn execution_arns_are_derived_from_the_machine() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:eu-west-1:999988887777:stateMachine:scan",
                "scan-1"
            ),
            "arn:aws:states:eu-west-1:999988887777:execution:scan:scan-1"
        );
    }
}
