//! The status-change notifier: publish's failure mode, deployed as a function of its own with
//! its own reserved concurrency, invoked by EventBridge with Step Functions' "Execution Status
//! Change" events. A FAILED, TIMED_OUT or ABORTED execution gets its failure notice; a
//! redriven execution that then SUCCEEDED gets a short "resolved" message and its Security Hub
//! notice archived. A ledger in the report store makes a repeated event send nothing twice.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use scanflow_core::error::CaughtError;
use scanflow_core::message::{KIND_RESOLVED, Message};
use scanflow_core::ports::{Platform, ReportStore};
use scanflow_core::state::{ExecutionContext, Run};
use scanflow_core::{ScanError, keys, step};
use scanflow_documents::envelope::attributes;

use crate::failure::{self, Place};
use crate::ledger::Ledger;
use crate::open_notices::{self, SecurityHubHome};

/// What EventBridge calls Step Functions' events (aws-facts: `source`, `detail-type`).
pub const SOURCE: &str = "aws.states";
pub const DETAIL_TYPE: &str = "Step Functions Execution Status Change";

/// Whether the hub's EventBridge rule sends a status to the notifier: every end but success,
/// and success after a redrive (the failure it resolves was told). The rule in
/// `templates/hub.yaml` matches exactly these.
pub fn wanted(status: &str, redrive_count: u32) -> bool {
    matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED")
        || (status == "SUCCEEDED" && redrive_count > 0)
}

/// One "Step Functions Execution Status Change" event, as EventBridge delivers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: ExecutionDetail,
}

/// The event's `detail`: the execution as `DescribeExecution` would show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    pub execution_arn: String,
    pub name: String,
    pub status: String,
    /// Epoch milliseconds.
    pub start_date: i64,
    #[serde(default)]
    pub stop_date: Option<i64>,
    /// The execution input as JSON text; `null` when Step Functions left it out for size.
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub redrive_count: u32,
}

/// What the notifier did with one event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notified {
    /// `failure`, `resolved`, or `none` (a status nobody needs to hear about).
    pub action: String,
    /// Messages published by this invocation.
    pub messages: u64,
    /// Messages an earlier delivery of the same event had already published.
    pub already_sent: u64,
    pub notices_imported: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_hub_problems: Vec<String>,
}

/// What the notifier remembers of a failure notice, so the "resolved" message after a
/// successful redrive can name the failure and archive its Security Hub notice where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureRecord {
    pub status: String,
    pub error: String,
    pub message: String,
    pub stopped_at: String,
    pub redrive_count: u32,
    pub security_hub: SecurityHubHome,
}

/// Entry point shared by the Lambda main and the local engine.
pub async fn invoke<P: Platform>(
    platform: &P,
    event: serde_json::Value,
) -> Result<serde_json::Value, ScanError> {
    let event: StatusChange = step::decode(event)?;
    step::encode(&notify(platform, &event).await?)
}

pub async fn notify<P: Platform>(
    platform: &P,
    event: &StatusChange,
) -> Result<Notified, ScanError> {
    if event.source != SOURCE {
        return Err(ScanError::invalid(
            "source",
            SOURCE,
            format!("is {:?}", event.source),
        ));
    }
    if event.detail_type != DETAIL_TYPE {
        return Err(ScanError::invalid(
            "detail-type",
            DETAIL_TYPE,
            format!("is {:?}", event.detail_type),
        ));
    }
    let d = &event.detail;
    let ledger = Ledger::new(
        platform.store(),
        keys::notice_ledger(&d.execution_arn, d.redrive_count, &d.status),
    );
    match d.status.as_str() {
        "FAILED" | "TIMED_OUT" | "ABORTED" => failed(platform, d, &ledger).await,
        "SUCCEEDED" if d.redrive_count > 0 => resolved(platform, d, &ledger).await,
        "SUCCEEDED" | "RUNNING" | "PENDING_REDRIVE" => {
            tracing::debug!(execution = %d.name, status = %d.status, "nothing to tell");
            Ok(Notified {
                action: "none".into(),
                ..Notified::default()
            })
        }
        other => Err(ScanError::invalid(
            "detail.status",
            "RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED or PENDING_REDRIVE",
            format!("is {other:?}"),
        )),
    }
}

/// The error Step Functions reports, or what the status means when it names none.
fn caught(d: &ExecutionDetail) -> CaughtError {
    let (error, cause) = match d.status.as_str() {
        "TIMED_OUT" => (
            "States.Timeout",
            "The execution ran past the state machine's TimeoutSeconds and was stopped.",
        ),
        "ABORTED" => (
            "ExecutionAborted",
            "The execution was stopped (StopExecution, from the console, the CLI or an \
             operator's script) before it finished.",
        ),
        _ => ("States.Runtime", "Step Functions reported no error."),
    };
    CaughtError {
        error: d.error.clone().unwrap_or_else(|| error.to_owned()),
        cause: d.cause.clone().unwrap_or_else(|| cause.to_owned()),
    }
}

fn context(d: &ExecutionDetail) -> ExecutionContext {
    ExecutionContext {
        name: d.name.clone(),
        start_time: millis_to_rfc3339(d.start_date),
    }
}

fn millis_to_rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms).saturating_mul(1_000_000);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(scanflow_core::time::format)
        .unwrap_or_else(|_| format!("{ms} ms after 1970"))
}

/// The execution input from the event: JSON text, or `null` when it was left out or is not
/// JSON (the notice then says the account is unknown rather than not being sent).
fn input_of(d: &ExecutionDetail) -> serde_json::Value {
    d.input
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The run start-run recorded for this execution, if it got that far. A store that cannot be
/// read must not stop the notice: only a transient error is worth retrying for.
async fn recorded_run<S: ReportStore>(
    store: &S,
    execution: &str,
) -> Result<Option<Run>, ScanError> {
    match store.get(&keys::execution_run(execution)).await {
        Ok(body) => Ok(serde_json::from_slice(&body).ok()),
        Err(ScanError::NotFound { .. }) => Ok(None),
        Err(e @ ScanError::Transient { .. }) => Err(e),
        Err(e) => {
            tracing::warn!(execution, error = %e, "cannot read the run record; the notice names no run");
            Ok(None)
        }
    }
}

async fn failed<P: Platform>(
    platform: &P,
    d: &ExecutionDetail,
    ledger: &Ledger<'_, P::Store>,
) -> Result<Notified, ScanError> {
    let failure = caught(d);
    let run = recorded_run(platform.store(), &d.name).await?;
    let input = input_of(d);
    let execution = context(d);
    let mut out = failure::notify_failure(
        platform,
        &failure,
        &input,
        &execution,
        &d.execution_arn,
        run.as_ref(),
        ledger,
    )
    .await?;
    let record = FailureRecord {
        status: d.status.clone(),
        error: failure.error.clone(),
        message: failure.message(),
        stopped_at: d.stop_date.map_or_else(String::new, millis_to_rfc3339),
        redrive_count: d.redrive_count,
        security_hub: out.open.home,
    };
    platform
        .store()
        .put(
            &keys::execution_failure(&d.name),
            step::to_json_bytes(&record)?,
            "application/json",
        )
        .await?;
    // So a later scan that succeeds archives the notice even if nobody redrives this one.
    let place = Place::of(run.as_ref(), &input);
    if let (Some(account), Some(region)) = (place.account.value(), place.region.value())
        && let Err(e) = open_notices::add(platform, account, region, out.open.clone()).await
    {
        tracing::warn!(account, region, error = %e, "could not record the open notice; archive it by hand once the scan runs");
    }
    out.notified.action = "failure".into();
    Ok(out.notified)
}

async fn resolved<P: Platform>(
    platform: &P,
    d: &ExecutionDetail,
    ledger: &Ledger<'_, P::Store>,
) -> Result<Notified, ScanError> {
    let record: Option<FailureRecord> = match platform
        .store()
        .get(&keys::execution_failure(&d.name))
        .await
    {
        Ok(body) => serde_json::from_slice(&body).ok(),
        Err(ScanError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let run = recorded_run(platform.store(), &d.name).await?;
    let input = input_of(d);
    let place = Place::of(run.as_ref(), &input);
    let account = place.account.value();
    let region = place.region.value();
    let resolved_at = d.stop_date.map_or_else(String::new, millis_to_rfc3339);

    let subject = format!(
        "scanflow: scan RESOLVED — {} {} (redrive {})",
        account.unwrap_or("unknown account"),
        region.unwrap_or("unknown region"),
        d.redrive_count
    );
    let mut body = String::new();
    let _ = writeln!(
        body,
        "The scan of account {} ({}) that failed has completed after redrive {}.\n",
        account.unwrap_or("unknown"),
        region.unwrap_or("unknown region"),
        d.redrive_count
    );
    match &record {
        Some(r) => {
            let _ = writeln!(
                body,
                "It had ended {} with {} at {}:\n{}\n",
                r.status, r.error, r.stopped_at, r.message
            );
        }
        None => {
            let _ = writeln!(
                body,
                "(scanflow has no record of the failure notice: it may have gone to the notifier's dead-letter queue.)\n"
            );
        }
    }
    let _ = writeln!(
        body,
        "Execution:  {} (started {}, completed {resolved_at})",
        d.name,
        millis_to_rfc3339(d.start_date)
    );
    let _ = writeln!(
        body,
        "\nIts findings were delivered in the usual digest and SIEM documents; the Security Hub \
         notice of the failure is archived. Nothing else to do.\n\n-- \nSent by scanflow."
    );
    let message = Message::for_people(
        &subject,
        &body,
        attributes(
            KIND_RESOLVED,
            account,
            region,
            run.as_ref().map(|r| r.run_id.as_str()),
        ),
    )?;
    let sent = ledger
        .publish_once(platform.notifier(), "resolved", &message)
        .await?;

    let mut notified = Notified {
        action: "resolved".into(),
        messages: u64::from(sent),
        already_sent: u64::from(!sent),
        ..Notified::default()
    };
    if let Some(r) = &record {
        let (imported, problems) = failure::archive_notice(
            platform,
            &place,
            &r.error,
            &context(d),
            &r.security_hub,
            &resolved_at,
        )
        .await;
        notified.notices_imported = imported;
        notified.security_hub_problems = problems;
        if let (Some(account), Some(region)) = (account, region) {
            let id = scanflow_core::ports::Notice::id_for(
                account,
                region,
                scanflow_core::ports::NoticeKind::ScanFailed,
                &r.error,
            );
            if let Err(e) = open_notices::remove(platform, account, region, &id).await {
                tracing::warn!(account, region, error = %e, "could not update the open notices");
            }
        }
    }
    Ok(notified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_formatted_and_absurd_ones_do_not_panic() {
        assert_eq!(millis_to_rfc3339(1_764_324_000_000), "2025-11-28T10:00:00Z");
        assert!(millis_to_rfc3339(i64::MAX).contains("ms after 1970"));
        assert!(millis_to_rfc3339(i64::MIN).contains("ms after 1970"));
    }

    #[test]
    fn statuses_without_an_error_still_say_what_happened() {
        let d = ExecutionDetail {
            execution_arn: "arn".into(),
            name: "n".into(),
            status: "ABORTED".into(),
            start_date: 0,
            stop_date: None,
            input: Some("not json".into()),
            error: None,
            cause: None,
            redrive_count: 0,
        };
        assert_eq!(caught(&d).error, "ExecutionAborted");
        assert_eq!(input_of(&d), serde_json::Value::Null);
        let timed_out = ExecutionDetail {
            status: "TIMED_OUT".into(),
            ..d
        };
        assert_eq!(caught(&timed_out).error, "States.Timeout");
    }
}
