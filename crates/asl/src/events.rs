//! The EventBridge "Step Functions Execution Status Change" events (source `aws.states`) an
//! execution emits: RUNNING when it starts and on each redrive, then the terminal one.

use crate::context::timestamp;
use crate::{Execution, Status};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// AWS leaves out `input` when the escaped input and output together exceed 248 KB, and
/// `output` when the escaped output alone does (EventBridge's event size quota). AWS writes
/// "248KB"; read as KiB, like the other Step Functions size limits.
pub const EVENT_PAYLOAD_LIMIT_BYTES: usize = 248 * 1024;

/// AWS's history cap, which a redrive needs two events of room under.
const HISTORY_CAP: usize = 25_000;

const DETAIL_TYPE: &str = "Step Functions Execution Status Change";

impl Execution {
    /// The RUNNING event EventBridge delivers when this run began: at the start
    /// (`redriveCount` 0) or, after a redrive, at the latest redrive.
    pub fn running_event(&self) -> Value {
        let at = self.redrive_date.unwrap_or(self.start_time);
        let input = compact(&self.input);
        let (input, input_included) = included(input, 0);
        self.event(
            "RUNNING",
            at,
            serde_json::json!({
                "stopDate": null,
                "input": input,
                "inputDetails": {"included": input_included},
                "output": null,
                "outputDetails": null,
                "error": null,
                "cause": null,
                "redriveStatus": "NOT_REDRIVABLE",
                "redriveStatusReason": "Execution is RUNNING and cannot be redriven"
            }),
        )
    }

    /// The event EventBridge delivers when the execution stopped: SUCCEEDED, FAILED,
    /// TIMED_OUT or ABORTED, with the redrive fields as they stand at that moment.
    pub fn status_change_event(&self) -> Value {
        // The output's text in AWS's key order, as the event carries it.
        let output = self.output_json().map(str::to_string);
        let output_len = output.as_deref().map_or(0, escaped_len);
        let (input, input_included) = included(compact(&self.input), output_len);
        let (output, output_details) = match output {
            None => (Value::Null, Value::Null),
            Some(text) => {
                let (v, inc) = included(text, 0);
                (v, serde_json::json!({"included": inc}))
            }
        };
        let (redrive_status, reason) = match self.status {
            Status::Succeeded => (
                "NOT_REDRIVABLE",
                serde_json::json!("Execution is SUCCEEDED and cannot be redriven"),
            ),
            _ if self.history.len() >= HISTORY_CAP - 1 => (
                "NOT_REDRIVABLE",
                serde_json::json!("Execution history event limit exceeded"),
            ),
            _ => ("REDRIVABLE", Value::Null),
        };
        self.event(
            self.status.as_aws(),
            self.end_time,
            serde_json::json!({
                "stopDate": millis(self.end_time),
                "input": input,
                "inputDetails": {"included": input_included},
                "output": output,
                "outputDetails": output_details,
                "error": self.error,
                "cause": self.cause,
                "redriveStatus": redrive_status,
                "redriveStatusReason": reason
            }),
        )
    }

    /// The envelope and the fields every status change shares; `rest` adds the others.
    fn event(&self, status: &str, at: OffsetDateTime, rest: Value) -> Value {
        // arn:aws:states:<region>:<account>:execution:<machine>:<name>
        let mut parts = self.execution_arn.split(':');
        let region = parts.nth(3).unwrap_or_default();
        let account = parts.next().unwrap_or_default();
        let mut detail = serde_json::json!({
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": status,
            "startDate": millis(self.start_time),
            "redriveCount": self.redrive_count,
            "redriveDate": self.redrive_date.map(millis),
        });
        if let (Some(d), Value::Object(more)) = (detail.as_object_mut(), rest) {
            d.extend(more);
        }
        serde_json::json!({
            "version": "0",
            "id": event_id(&self.execution_arn, status, at, self.redrive_count),
            "detail-type": DETAIL_TYPE,
            "source": "aws.states",
            "account": account,
            "time": seconds(at),
            "region": region,
            "resources": [self.execution_arn],
            "detail": detail
        })
    }
}

/// `text` if its escaped form fits with `other` bytes of escaped payload beside it.
fn included(text: String, other: usize) -> (Value, bool) {
    if escaped_len(&text).saturating_add(other) > EVENT_PAYLOAD_LIMIT_BYTES {
        (Value::Null, false)
    } else {
        (Value::String(text), true)
    }
}

/// Bytes of `text` once escaped as a JSON string, without the enclosing quotes: the size it
/// takes inside the event.
pub(crate) fn escaped_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len(), |s| s.len().saturating_sub(2))
}

fn compact(v: &Value) -> String {
    v.to_string()
}

/// Epoch milliseconds, as the event's `startDate`/`stopDate`/`redriveDate` give them.
fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// EventBridge's `time`: UTC to the second, e.g. `2019-02-26T19:42:21Z`.
fn seconds(t: OffsetDateTime) -> String {
    let mut s = timestamp(t);
    // `timestamp` writes `.000Z`; the envelope has no fraction.
    s.truncate(s.len().saturating_sub(5));
    s.push('Z');
    s
}

/// A stable UUID-shaped id, so the same execution yields the same events on every run.
fn event_id(arn: &str, status: &str, at: OffsetDateTime, redrives: u32) -> String {
    let digest = Sha256::digest(format!("{arn}|{status}|{}|{redrives}", millis(at)));
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}
