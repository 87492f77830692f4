//! Workflow variables (`Assign`, `$name`): the scopes an execution keeps them in, the
//! checks of AWS's size limits on assignment, and the order in which assignments land.

use crate::error::{Failure, names};
use crate::value::json_size;
use crate::json::{Map, Value};

/// AWS's limit on one variable's value: 256 KiB of compact JSON.
pub(crate) const MAX_VARIABLE_BYTES: usize = 262_144;
/// AWS's limit on the values one `Assign` field sets together.
pub(crate) const MAX_ASSIGN_BYTES: usize = 262_144;
/// AWS's limit on all variables an execution holds at once: 10 MiB.
pub(crate) const MAX_STORED_BYTES: usize = 10 * 1024 * 1024;

/// The variable scopes, outermost first: the top-level machine, then one per enclosing Map
/// iteration or Parallel branch. A state reads every scope (the innermost name wins) and
/// assigns into the innermost, so what a branch or iteration assigns stays inside it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vars {
    frames: Vec<Map>,
}

impl Vars {
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.frames.iter().rev().find_map(|f| f.get(name))
    }

    /// Enters a Map iteration or Parallel branch, with the variables it had when a redrive
    /// resumes it.
    pub(crate) fn push(&mut self, frame: Map) {
        self.frames.push(frame);
    }

    /// Leaves it; what it assigned is dropped.
    pub(crate) fn pop(&mut self) {
        self.frames.pop();
    }

    /// The innermost scope as it stands (kept in a redrive's resume point).
    pub(crate) fn innermost(&self) -> Map {
        self.frames.last().cloned().unwrap_or_default()
    }

    /// Replaces the innermost scope (a redrive restoring what it held).
    pub(crate) fn restore(&mut self, frame: Map) {
        match self.frames.last_mut() {
            Some(f) => *f = frame,
            None => self.frames.push(frame),
        }
    }

    /// Sets every value of one `Assign` at once, after checking AWS's limits on a single
    /// value, on one `Assign` and on all variables held. `state` names the state in causes.
    pub(crate) fn assign(
        &mut self,
        state: &str,
        values: Map,
    ) -> Result<(), Failure> {
        let too_large = |what: String| {
            Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!("The state '{state}' assigns {what}."),
            )
        };
        let mut together = 0usize;
        for (name, v) in &values {
            let size = json_size(v);
            if size > MAX_VARIABLE_BYTES {
                return Err(too_large(format!(
                    "the variable '{}' a value of more than {MAX_VARIABLE_BYTES} bytes",
                    crate::error::clip(name)
                )));
            }
            together = together.saturating_add(size);
        }
        if together > MAX_ASSIGN_BYTES {
            return Err(too_large(format!(
                "values of more than {MAX_ASSIGN_BYTES} bytes together"
            )));
        }
        if self.frames.is_empty() {
            self.frames.push(Map::new());
        }
        let stored: usize = self
            .frames
            .iter()
            .flat_map(|f| f.iter())
            .filter(|(k, _)| !values.contains_key(*k))
            .map(|(_, v)| json_size(v))
            .fold(together, usize::saturating_add);
        if stored > MAX_STORED_BYTES {
            return Err(too_large(format!(
                "variables that would hold more than {MAX_STORED_BYTES} bytes in all"
            )));
        }
        if let Some(f) = self.frames.last_mut() {
            f.extend(values);
        }
        Ok(())
    }
}
