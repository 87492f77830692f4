//! Workflow variables (`Assign`, `$name`): the scopes an execution keeps them in, the
//! checks of AWS's size limits on assignment, and the order in which assignments land.

use crate::error::{Failure, names};
use crate::json::{Map, Value};
use crate::value::json_size;

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
    frames: Vec<Frame>,
}

/// One scope, with each value's compact size kept so that checking the 10 MiB limit costs
/// the assignment's size, not that of every variable held.
#[derive(Debug, Clone, Default)]
struct Frame {
    values: Map,
    sizes: std::collections::HashMap<String, usize>,
    bytes: usize,
}

impl Frame {
    fn new(values: Map) -> Frame {
        let sizes: std::collections::HashMap<String, usize> = values
            .iter()
            .map(|(k, v)| (k.clone(), json_size(v)))
            .collect();
        let bytes = sizes.values().fold(0, |a: usize, n| a.saturating_add(*n));
        Frame {
            values,
            sizes,
            bytes,
        }
    }
}

impl Vars {
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.frames.iter().rev().find_map(|f| f.values.get(name))
    }

    /// Enters a Map iteration or Parallel branch, with the variables it had when a redrive
    /// resumes it.
    pub(crate) fn push(&mut self, frame: Map) {
        self.frames.push(Frame::new(frame));
    }

    /// Leaves it; what it assigned is dropped.
    pub(crate) fn pop(&mut self) {
        self.frames.pop();
    }

    /// The innermost scope as it stands (kept in a redrive's resume point).
    pub(crate) fn innermost(&self) -> Map {
        self.frames
            .last()
            .map(|f| f.values.clone())
            .unwrap_or_default()
    }

    /// Replaces the innermost scope (a redrive restoring what it held).
    pub(crate) fn restore(&mut self, frame: Map) {
        let frame = Frame::new(frame);
        match self.frames.last_mut() {
            Some(f) => *f = frame,
            None => self.frames.push(frame),
        }
    }

    /// Sets every value of one `Assign` at once, after checking AWS's limits on a single
    /// value, on one `Assign` and on all variables held (an outer scope's variable of the
    /// same name still counts: it is shadowed, not replaced). `state` names the state in
    /// causes.
    pub(crate) fn assign(&mut self, state: &str, values: Map) -> Result<(), Failure> {
        let too_large = |what: String| {
            Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!("The state '{state}' assigns {what}."),
            )
        };
        let mut sizes = Vec::with_capacity(values.len());
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
            sizes.push(size);
        }
        if together > MAX_ASSIGN_BYTES {
            return Err(too_large(format!(
                "values of more than {MAX_ASSIGN_BYTES} bytes together"
            )));
        }
        if self.frames.is_empty() {
            self.frames.push(Frame::default());
        }
        let held = self
            .frames
            .iter()
            .fold(0, |a: usize, f| a.saturating_add(f.bytes));
        let replaced = self.frames.last().map_or(0, |f| {
            values
                .keys()
                .filter_map(|k| f.sizes.get(k))
                .fold(0, |a: usize, n| a.saturating_add(*n))
        });
        let stored = held.saturating_sub(replaced).saturating_add(together);
        if stored > MAX_STORED_BYTES {
            return Err(too_large(format!(
                "variables that would hold more than {MAX_STORED_BYTES} bytes in all"
            )));
        }
        if let Some(f) = self.frames.last_mut() {
            for ((k, v), size) in values.into_iter().zip(sizes) {
                let before = f.sizes.insert(k.clone(), size).unwrap_or(0);
                f.bytes = f.bytes.saturating_sub(before).saturating_add(size);
                f.values.insert(k, v);
            }
        }
        Ok(())
    }
}
