//! The context object `$$` and what it is built from (kept across a redrive), and AWS's
//! timestamp form.

use crate::json::{Map, Value};
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
        let s = |t: &str| Value::String(t.to_string());
        // Keys in the order of AWS's description of the context object.
        let mut exec = Map::with_capacity(6);
        exec.insert("Id".into(), s(&self.exec_arn));
        if with_input {
            exec.insert("Input".into(), self.exec_input.clone());
        }
        exec.insert("Name".into(), s(&self.exec_name));
        exec.insert("RoleArn".into(), s(&self.role_arn));
        exec.insert("StartTime".into(), s(&self.start_time));
        exec.insert("RedriveCount".into(), self.redrive_count.into());
        let mut st = Map::with_capacity(3);
        st.insert("EnteredTime".into(), Value::String(timestamp(entered)));
        st.insert("Name".into(), s(state));
        st.insert("RetryCount".into(), retry.into());
        let mut machine = Map::with_capacity(2);
        machine.insert("Id".into(), s(&self.machine_arn));
        machine.insert("Name".into(), s(&self.machine_name));
        let mut ctx = Map::with_capacity(4);
        ctx.insert("Execution".into(), exec.into());
        ctx.insert("State".into(), st.into());
        ctx.insert("StateMachine".into(), machine.into());
        if let Some((index, value)) = item {
            let mut it = Map::with_capacity(2);
            it.insert("Index".into(), index.into());
            it.insert("Value".into(), value.clone());
            let mut map = Map::with_capacity(1);
            map.insert("Item".into(), it.into());
            ctx.insert("Map".into(), map.into());
        }
        Value::Object(ctx)
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
