//! JSON value helpers the engine's budgets rest on: the payload cap, nesting depth, compact
//! size (counted without building the text), iterative dropping, and quoting in messages.

use crate::error::clip;
use crate::json::Value;

/// Step Functions' payload cap: 256 KiB of compact UTF-8 JSON.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// How deeply a value built during an execution may nest (arrays and objects inside one
/// another). AWS documents no such limit; serde_json refuses to parse text nested more than
/// 128 deep, but values also come from task handlers and grow inside an execution (a
/// `ResultPath` of many segments nests the input deeper at every state), and cloning,
/// measuring or dropping a value recurses once per level.
pub(crate) const MAX_VALUE_DEPTH: usize = 512;

/// A JSON value whose nesting [`deeper_than`] measures: the engine's and serde_json's (which
/// callers hand in).
pub(crate) trait Nested {
    /// The direct children of an array or object; `None` for a scalar.
    fn children(&self) -> Option<Box<dyn Iterator<Item = &Self> + '_>>;
}

impl Nested for Value {
    fn children(&self) -> Option<Box<dyn Iterator<Item = &Value> + '_>> {
        match self {
            Value::Array(a) => Some(Box::new(a.iter())),
            Value::Object(m) => Some(Box::new(m.values())),
            _ => None,
        }
    }
}

impl Nested for serde_json::Value {
    fn children(&self) -> Option<Box<dyn Iterator<Item = &serde_json::Value> + '_>> {
        match self {
            serde_json::Value::Array(a) => Some(Box::new(a.iter())),
            serde_json::Value::Object(m) => Some(Box::new(m.values())),
            _ => None,
        }
    }
}

/// Whether `v` nests more than `max` arrays/objects deep; iterative, so it is safe on any
/// value, and it stops at the first level past `max`.
pub(crate) fn deeper_than<T: Nested>(v: &T, max: usize) -> bool {
    let mut stack: Vec<(&T, usize)> = vec![(v, 1)];
    while let Some((v, level)) = stack.pop() {
        let Some(children) = v.children() else {
            continue;
        };
        if level > max {
            return true;
        }
        stack.extend(children.map(|c| (c, level.saturating_add(1))));
    }
    false
}

/// Drops `v` one level at a time: dropping a value nested deeper than the stack holds
/// (a task handler may return one) would otherwise overflow it.
pub(crate) fn dispose(v: Value) {
    let mut stack = vec![v];
    while let Some(mut v) = stack.pop() {
        match &mut v {
            Value::Array(a) => stack.extend(std::mem::take(a)),
            Value::Object(m) => stack.extend(std::mem::take(m).into_iter().map(|(_, c)| c)),
            _ => {}
        }
    }
}

/// Compact JSON text, as AWS prints inputs in causes.
pub(crate) fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A value as an error message quotes it: its compact JSON, clipped like [`clip`].
pub(crate) fn quote_value(v: &Value) -> String {
    clip(&compact(v)).into_owned()
}

/// Size in bytes of the compact UTF-8 JSON text, without building it.
pub(crate) fn json_size(v: &impl serde::Serialize) -> usize {
    json_size_within(v, usize::MAX).unwrap_or(usize::MAX)
}

/// The compact JSON size of `v` if it is at most `limit` bytes; stops counting as soon as
/// it passes `limit`, so asking about a large value costs no more than `limit` bytes' work.
pub(crate) fn json_size_within(v: &impl serde::Serialize, limit: usize) -> Option<usize> {
    struct Counter {
        n: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.write_all(buf).map(|()| buf.len())
        }
        // serde_json writes through `write_all`; answering it directly spares its loop.
        #[inline]
        fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
            match self.n.checked_add(buf.len()) {
                Some(n) if n <= self.limit => {
                    self.n = n;
                    Ok(())
                }
                _ => Err(std::io::ErrorKind::Other.into()),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter { n: 0, limit };
    serde_json::to_writer(&mut c, v).ok().map(|()| c.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nested_containers() {
        assert!(!deeper_than(&json!(1), 0));
        assert!(deeper_than(&json!([]), 0));
        assert!(!deeper_than(&json!([[1], {"a": []}]), 3));
        assert!(deeper_than(&json!([[1], {"a": [[]]}]), 3));
        let mut deep = json!(0);
        for _ in 0..MAX_VALUE_DEPTH {
            deep = Value::Array(vec![deep]);
        }
        assert!(!deeper_than(&deep, MAX_VALUE_DEPTH));
        assert!(deeper_than(&Value::Array(vec![deep]), MAX_VALUE_DEPTH));
    }

    #[test]
    fn json_size_counts_compact_utf8_bytes() {
        assert_eq!(json_size(&json!({"a": "é"})), "{\"a\":\"é\"}".len());
    }

    #[test]
    fn json_size_within_answers_at_the_limit_and_refuses_one_past() {
        let v = json!({"a": [1, 2]});
        let n = json_size(&v);
        assert_eq!(json_size_within(&v, n), Some(n));
        assert_eq!(json_size_within(&v, n - 1), None);
        assert_eq!(json_size_within(&v, 0), None);
    }
}
