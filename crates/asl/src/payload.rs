//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`): `.$` keys resolved
//! against the state input or the context object `$$`, or computed by intrinsic functions.

use crate::error::{Failure, clip};
use crate::intrinsics::{self, Call};
use crate::jsonpath::{Path, Root};
use crate::rng::Rng;
use crate::vars::Vars;
use serde_json::{Map, Value};
use std::cell::OnceCell;

/// Builds the context object; the flag says whether to include `Execution.Input`, which can
/// be large and most context paths never read.
pub(crate) type MakeContext<'a> = &'a dyn Fn(bool) -> Value;

/// What paths read: the effective input, the workflow variables and (built only when asked
/// for) the context object.
pub(crate) struct Scope<'a> {
    pub(crate) input: &'a Value,
    make_context: MakeContext<'a>,
    vars: &'a Vars,
    light: OnceCell<Value>,
    full: OnceCell<Value>,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(
        input: &'a Value,
        make_context: MakeContext<'a>,
        vars: &'a Vars,
    ) -> Scope<'a> {
        Scope {
            input,
            make_context,
            vars,
            light: OnceCell::new(),
            full: OnceCell::new(),
        }
    }

    /// The document `path` reads; `None` for a variable that is not assigned.
    pub(crate) fn doc(&self, path: &Path) -> Option<&Value> {
        match path.root() {
            Root::Input => Some(self.input),
            Root::Context if path.may_read_execution_input() => {
                Some(self.full.get_or_init(|| (self.make_context)(true)))
            }
            Root::Context => Some(self.light.get_or_init(|| (self.make_context)(false))),
            Root::Variable => path.variable().and_then(|name| self.vars.get(name)),
        }
    }

    /// The value `path` selects (`Ok(None)`: no results); a path past its evaluation
    /// budgets is a `States.Runtime` failure naming the path.
    pub(crate) fn resolve(&self, path: &Path) -> Result<Option<Value>, Failure> {
        match self.doc(path) {
            Some(doc) => path.eval(doc).map_err(Failure::runtime),
            None => Ok(None),
        }
    }

    pub(crate) fn lookup(&self, path: &Path) -> Option<&Value> {
        self.doc(path).and_then(|doc| path.lookup(doc))
    }

    /// What a cause says a path was looked for in: the input (AWS quotes it) or, for a
    /// variable, that it is not assigned.
    pub(crate) fn searched(&self, path: &Path) -> String {
        match (path.variable(), self.doc(path)) {
            (Some(name), None) => {
                format!("the variables (no variable '{}' is assigned)", clip(name))
            }
            (Some(name), Some(v)) => format!("the variable '{}' {}", clip(name), quote_value(v)),
            (None, doc) => format!("the input '{}'", doc.map(quote_value).unwrap_or_default()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Literal(Value),
    Path { field: String, path: Path },
    Intrinsic { field: String, call: Call },
}

impl Template {
    /// Parses a template, reporting each bad `.$` value as (field path, message).
    pub(crate) fn parse(v: &Value, field: &str, errors: &mut Vec<(String, String)>) -> Template {
        match v {
            Value::Object(m) => Template::Object(
                m.iter()
                    .map(|(k, v)| {
                        let sub = format!("{field}.{k}");
                        match k.strip_suffix(".$") {
                            Some(name) => (name.to_string(), Template::dynamic(v, &sub, k, errors)),
                            None => (k.clone(), Template::parse(v, &sub, errors)),
                        }
                    })
                    .collect(),
            ),
            Value::Array(a) => Template::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| Template::parse(v, &format!("{field}[{i}]"), errors))
                    .collect(),
            ),
            other => Template::Literal(other.clone()),
        }
    }

    fn dynamic(v: &Value, field: &str, key: &str, errors: &mut Vec<(String, String)>) -> Template {
        let Some(text) = v.as_str() else {
            errors.push((
                field.to_string(),
                "a field ending in '.$' must hold a path or an intrinsic function string".into(),
            ));
            return Template::Literal(Value::Null);
        };
        let field_name = key.to_string();
        if intrinsics::looks_like_call(text) {
            match Call::parse(text) {
                Ok(call) => Template::Intrinsic {
                    field: field_name,
                    call,
                },
                Err(e) => {
                    errors.push((field.to_string(), e));
                    Template::Literal(Value::Null)
                }
            }
        } else {
            match Path::parse(text) {
                Ok(path) => Template::Path {
                    field: field_name,
                    path,
                },
                Err(e) => {
                    errors.push((field.to_string(), e.0));
                    Template::Literal(Value::Null)
                }
            }
        }
    }

    pub(crate) fn eval(&self, scope: &Scope<'_>, rng: &mut Rng) -> Result<Value, Failure> {
        Ok(match self {
            Template::Literal(v) => v.clone(),
            Template::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|t| t.eval(scope, rng))
                    .collect::<Result<_, _>>()?,
            ),
            Template::Object(entries) => {
                let mut m = Map::new();
                for (k, t) in entries {
                    m.insert(k.clone(), t.eval(scope, rng)?);
                }
                Value::Object(m)
            }
            Template::Path { field, path } => scope.resolve(path)?.ok_or_else(|| {
                Failure::runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in {}",
                    path.shown(),
                    scope.searched(path)
                ))
            })?,
            Template::Intrinsic { call, .. } => call.eval(scope, rng)?,
        })
    }
}

/// How deeply a value built during an execution may nest (arrays and objects inside one
/// another). AWS documents no such limit; serde_json refuses to parse text nested more than
/// 128 deep, but values also come from task handlers and grow inside an execution (a
/// `ResultPath` of many segments nests the input deeper at every state), and cloning,
/// measuring or dropping a value recurses once per level.
pub(crate) const MAX_VALUE_DEPTH: usize = 512;

/// Whether `v` nests more than `max` arrays/objects deep; iterative, so it is safe on any
/// value, and it stops at the first level past `max`.
pub(crate) fn deeper_than(v: &Value, max: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(v, 1)];
    while let Some((v, level)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(m) => Box::new(m.values()),
            _ => continue,
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
pub(crate) fn json_size(v: &Value) -> usize {
    json_size_within(v, usize::MAX).unwrap_or(usize::MAX)
}

/// The compact JSON size of `v` if it is at most `limit` bytes; stops counting as soon as
/// it passes `limit`, so asking about a large value costs no more than `limit` bytes' work.
pub(crate) fn json_size_within(v: &Value, limit: usize) -> Option<usize> {
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
    use serde_json::json;

    #[test]
    fn template_resolves_paths_context_and_intrinsics() {
        let mut errs = Vec::new();
        let t = Template::parse(
            &json!({"a.$": "$.x", "lit": {"k": 1, "n.$": "$$.State.Name"}, "arr": [{"i.$": "States.ArrayLength($.l)"}]}),
            "Parameters",
            &mut errs,
        );
        assert!(errs.is_empty(), "{errs:?}");
        let input = json!({"x": 5, "l": [1, 2]});
        let ctx = |_: bool| json!({"State": {"Name": "S"}});
        let vars = Vars::default();
        let scope = Scope::new(&input, &ctx, &vars);
        assert_eq!(
            t.eval(&scope, &mut Rng::new(0)),
            Ok(json!({"a": 5, "lit": {"k": 1, "n": "S"}, "arr": [{"i": 2}]}))
        );
    }

    #[test]
    fn missing_path_is_a_runtime_error_worded_like_aws() {
        let mut errs = Vec::new();
        let t = Template::parse(&json!({"y.$": "$.x"}), "Parameters", &mut errs);
        let input = json!({"a": 1});
        let ctx = |_: bool| json!({});
        let err = t
            .eval(
                &Scope::new(&input, &ctx, &Vars::default()),
                &mut Rng::new(0),
            )
            .expect_err("missing");
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause,
            "The JSONPath '$.x' specified for the field 'y.$' could not be found in the input '{\"a\":1}'"
        );
    }

    #[test]
    fn bad_dynamic_values_are_reported_with_their_field() {
        let mut errs = Vec::new();
        Template::parse(
            &json!({"a.$": 3, "b": {"c.$": "nope"}, "d.$": "States.Nope()"}),
            "Parameters",
            &mut errs,
        );
        let fields: Vec<&str> = errs.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec!["Parameters.a.$", "Parameters.b.c.$", "Parameters.d.$"]
        );
    }

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
