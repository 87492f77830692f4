//! The context object `$$` and what it is built from (kept across a redrive), and AWS's
//! timestamp form.

use serde_json::{Value, json};
use time::OffsetDateTime;

/// Everything the context object `$$` is built from; kept in a `Resume` so a redrive
/// runs as the same execution.
#[derive(Debug, Clone)]
pub(crate) struct Info {
    pub(crate) exec_arn: String,
    pub(crate) exec_name: String,
    pub(crate) exec_input: Value,
    pub(crate) start: OffsetDateTime,
    pub(crate) start_time: String,
    pub(crate) role_arn: String,
    pub(crate) machine_arn: String,
    pub(crate) machine_name: String,
    pub(crate) redrive_count: u32,
}

impl Info {
    pub(crate) fn context(
        &self,
        state: &str,
        entered: OffsetDateTime,
        retry: u32,
        item: Option<(usize, &Value)>,
        with_input: bool,
    ) -> Value {
        let mut ctx = json!({
            "Execution": {
                "Id": self.exec_arn,
                "Name": self.exec_name,
                "RoleArn": self.role_arn,
                "StartTime": self.start_time,
                "RedriveCount": self.redrive_count
            },
            "State": {"EnteredTime": timestamp(entered), "Name": state, "RetryCount": retry},
            "StateMachine": {"Id": self.machine_arn, "Name": self.machine_name}
        });
        if with_input && let Some(exec) = ctx.get_mut("Execution").and_then(Value::as_object_mut) {
            exec.insert("Input".into(), self.exec_input.clone());
        }
        if let (Some((index, value)), Some(m)) = (item, ctx.as_object_mut()) {
            m.insert(
                "Map".into(),
                json!({"Item": {"Index": index, "Value": value}}),
            );
        }
        ctx
    }
}

/// AWS's context-object timestamp form: UTC with milliseconds, e.g. `2026-01-01T00:00:00.000Z`.
pub(crate) fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
