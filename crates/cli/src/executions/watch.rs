//! Following an execution: its history printed state by state through the shared
//! [`Tracer`] (the same lines `scanflow run` prints), then the outcome and what to do next.

use std::io::Write;
use std::time::Duration;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use scanflow_core::model::SeverityCounts;
use time::OffsetDateTime;

use super::{Error, region_of};
use crate::trace::{self, TraceEvent, Tracer};

/// How to follow.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Pause between polls while the execution runs.
    pub interval: Duration,
    /// Keep a progress line rewritten in place (`\r`): for a terminal, not for a pipe.
    pub live: bool,
}

/// How a followed execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl Outcome {
    /// 0 for success, 1 for failed, timed-out or aborted.
    pub fn exit_status(self) -> u8 {
        u8::from(self != Self::Succeeded)
    }
}

/// `GetExecutionHistory`'s largest page.
const PAGE: i32 = 1000;

/// Follows `arn` until it stops, printing each finished state, and returns how it ended.
pub async fn watch(
    sfn: &Client,
    arn: &str,
    options: &WatchOptions,
    out: &mut impl Write,
) -> Result<Outcome, Error> {
    let region = region_of(arn)?;
    let mut tracer = Tracer::new();
    let mut seen = 0_i64;
    let mut progress_shown = false;
    writeln!(out, "Following {arn}")?;
    loop {
        // Status first, history second: once the status is final, the history read after it is
        // complete.
        let described = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| Error::aws("states:DescribeExecution", region, &e))?;
        let mut token = None;
        loop {
            let page = sfn
                .get_execution_history()
                .execution_arn(arn)
                .max_results(PAGE)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| Error::aws("states:GetExecutionHistory", region, &e))?;
            for event in page.events() {
                if event.id() <= seen {
                    continue;
                }
                seen = event.id();
                let event = trace_event(event);
                if let Some(line) = tracer.feed(&event) {
                    if progress_shown {
                        write!(out, "\r\x1b[2K")?;
                        progress_shown = false;
                    }
                    writeln!(out, "{line}")?;
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let outcome = match described.status() {
            ExecutionStatus::Succeeded => Some(Outcome::Succeeded),
            ExecutionStatus::Failed => Some(Outcome::Failed),
            ExecutionStatus::TimedOut => Some(Outcome::TimedOut),
            ExecutionStatus::Aborted => Some(Outcome::Aborted),
            _ => None,
        };
        if let Some(outcome) = outcome {
            if progress_shown {
                write!(out, "\r\x1b[2K")?;
            }
            report(&described, outcome, out)?;
            return Ok(outcome);
        }
        if options.live {
            let now = OffsetDateTime::now_utc();
            let running = trace::duration(now - to_time(described.start_date()));
            let state = tracer
                .current_state()
                .map(|(state, since)| format!("  in {state} for {}", trace::duration(now - since)))
                .unwrap_or_default();
            write!(
                out,
                "\r\x1b[2K  … {} {running}{state}",
                described.status().as_str()
            )?;
            out.flush()?;
            progress_shown = true;
        }
        tokio::time::sleep(options.interval).await;
    }
}

/// A Step Functions history event as the shared trace formatter reads it.
pub fn trace_event(event: &HistoryEvent) -> TraceEvent {
    let state = event
        .state_entered_event_details()
        .map(|d| d.name())
        .or_else(|| event.state_exited_event_details().map(|d| d.name()));
    macro_rules! first_failure {
        ($($details:ident),+) => {
            None$(.or_else(|| event.$details().map(|d| (d.error(), d.cause()))))+
        };
    }
    let (error, cause) = first_failure!(
        task_failed_event_details,
        task_timed_out_event_details,
        task_start_failed_event_details,
        task_submit_failed_event_details,
        lambda_function_failed_event_details,
        lambda_function_timed_out_event_details,
        lambda_function_start_failed_event_details,
        lambda_function_schedule_failed_event_details,
        activity_failed_event_details,
        activity_timed_out_event_details,
        execution_failed_event_details,
        execution_timed_out_event_details,
        execution_aborted_event_details,
        map_run_failed_event_details
    )
    .unwrap_or((None, None));
    TraceEvent {
        timestamp: to_time(event.timestamp()),
        kind: event.r#type().as_str().to_owned(),
        state: state.map(str::to_owned),
        error: error.map(str::to_owned),
        cause: cause.map(str::to_owned),
    }
}

pub(crate) fn to_time(at: &DateTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(at.as_nanos()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The closing block: outcome, duration, the summary's counts or the error, and what to do.
fn report(
    described: &DescribeExecutionOutput,
    outcome: Outcome,
    out: &mut impl Write,
) -> Result<(), Error> {
    let arn = described.execution_arn();
    let took = described
        .stop_date()
        .map(|stop| {
            format!(
                " after {}",
                trace::duration(to_time(stop) - to_time(described.start_date()))
            )
        })
        .unwrap_or_default();
    writeln!(
        out,
        "\n== {}{took}  {}",
        described.status().as_str(),
        described.name().unwrap_or(arn)
    )?;
    match outcome {
        Outcome::Succeeded => summary(described.output(), out),
        _ => {
            let error = described.error().unwrap_or("(none given)");
            writeln!(out, "error:  {error}")?;
            let cause = trace::summary(described.cause());
            if !cause.is_empty() {
                writeln!(out, "cause:  {cause}")?;
            }
            writeln!(
                out,
                "notice: the hub's notify function sends the failure notice (e-mail, SIEM, Security \
                 Hub) from this status change; if it cannot, the NotifierDeadLetters alarm fires"
            )?;
            let why = match outcome {
                Outcome::TimedOut => "it ran past the state machine's TimeoutSeconds. ",
                Outcome::Aborted => "it was stopped (StopExecution or the console's Stop button). ",
                _ => "",
            };
            if error == "InvalidInput" {
                writeln!(
                    out,
                    "next:   the input was rejected and a redrive reuses it: start a new execution with a corrected \
                     input (scanflow executions start --stack STACK --input FILE)"
                )?;
            } else {
                writeln!(
                    out,
                    "next:   {why}Fix the cause, then resume from the failed step with the same input (within 14 days):\n        \
                     scanflow executions redrive {arn}"
                )?;
            }
            Ok(())
        }
    }
}

/// The `Summary` state's output: who was scanned, the counts, what was delivered.
fn summary(output: Option<&str>, out: &mut impl Write) -> Result<(), Error> {
    let Some(value) = output.and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok()) else {
        writeln!(out, "output: {}", output.unwrap_or("(none)"))?;
        return Ok(());
    };
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    let number = |key: &str| value.get(key).and_then(serde_json::Value::as_u64);
    let counts = value
        .get("counts")
        .and_then(|c| serde_json::from_value::<SeverityCounts>(c.clone()).ok());
    let (Some(account), Some(region), Some(counts)) = (text("accountId"), text("region"), counts)
    else {
        // Not the scan's Summary (another definition): show it as it is.
        writeln!(out, "output: {value}")?;
        return Ok(());
    };
    writeln!(
        out,
        "scan:     account {account} · {region} · {} · run {}",
        text("engine").unwrap_or("?"),
        text("runId").unwrap_or("?")
    )?;
    writeln!(
        out,
        "findings: {} critical · {} high · {} medium · {} low · {} informational · {} untriaged ({} in all)",
        counts.critical,
        counts.high,
        counts.medium,
        counts.low,
        counts.informational,
        counts.untriaged,
        counts.total()
    )?;
    if let (Some(scanned), Some(not_scanned)) =
        (number("instancesScanned"), number("instancesNotScanned"))
    {
        writeln!(
            out,
            "instances: {scanned} scanned · {not_scanned} not scanned"
        )?;
    }
    if let Some(messages) = number("messages") {
        writeln!(out, "delivered: {messages} message(s) published")?;
    }
    Ok(())
}
