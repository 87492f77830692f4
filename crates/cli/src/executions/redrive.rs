//! Redriving a failed, timed-out or aborted execution: it resumes from the step that failed,
//! with the same input. When it can't be redriven, say why.

use std::io::Write;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::redrive_execution::RedriveExecutionError;
use aws_sdk_sfn::types::{ExecutionRedriveStatus, ExecutionStatus};
use time::OffsetDateTime;

use super::watch::to_time;
use super::{Error, fmt_time, region_of};

/// How long after it stops an execution can be redriven.
pub const REDRIVE_WINDOW: time::Duration = time::Duration::days(14);

/// Redrives `arn` and returns when Step Functions accepted it.
pub async fn redrive(
    sfn: &Client,
    arn: &str,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<OffsetDateTime, Error> {
    let region = region_of(arn)?;
    let described = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("states:DescribeExecution", region, &e))?;
    let not_redrivable = |why: String| Error::NotRedrivable {
        arn: arn.to_owned(),
        why,
    };
    match described.status() {
        ExecutionStatus::Succeeded => {
            return Err(not_redrivable(
                "it SUCCEEDED; only FAILED, TIMED_OUT or ABORTED executions can be redriven. To scan again, \
                 start a new execution (scanflow executions start)"
                    .into(),
            ));
        }
        ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {
            return Err(not_redrivable(format!(
                "it is still {}; follow it with `scanflow executions watch {arn}`",
                described.status().as_str()
            )));
        }
        _ => {}
    }
    if described.redrive_status() == Some(&ExecutionRedriveStatus::NotRedrivable) {
        return Err(not_redrivable(why_not(&described, now, None)));
    }
    match sfn.redrive_execution().execution_arn(arn).send().await {
        Ok(redriven) => {
            let at = to_time(redriven.redrive_date());
            writeln!(out, "redriven  {arn}  at {}", fmt_time(at))?;
            writeln!(
                out,
                "  it resumes from the step that failed, with the same input"
            )?;
            writeln!(out, "  follow it: scanflow executions watch {arn}")?;
            Ok(at)
        }
        Err(e) => match e.as_service_error() {
            Some(RedriveExecutionError::ExecutionNotRedrivable(refused)) => {
                Err(not_redrivable(why_not(&described, now, refused.message())))
            }
            _ => Err(Error::aws("states:RedriveExecution", region, &e)),
        },
    }
}

/// The reason, most specific first: the redrive window, then what Step Functions said.
fn why_not(
    described: &DescribeExecutionOutput,
    now: OffsetDateTime,
    service: Option<&str>,
) -> String {
    let status = described.status().as_str();
    if let Some(stopped) = described.stop_date().map(to_time)
        && now - stopped > REDRIVE_WINDOW
    {
        return format!(
            "it stopped ({status}) on {}, {} days ago, and executions can be redriven for 14 days only. \
             Start a new execution with the same input instead (scanflow executions start --input FILE)",
            fmt_time(stopped),
            (now - stopped).whole_days()
        );
    }
    let reason = service
        .or(described.redrive_status_reason())
        .unwrap_or("Step Functions gave no reason");
    format!(
        "{reason} (status {status}). Redrive also refuses Express workflows and executions whose history \
         is near 25,000 events; start a new execution with the same input instead"
    )
}
