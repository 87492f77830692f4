//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`, `Assign`): `.$` keys
//! resolved against the state input, a variable or the context object `$$`, or computed by
//! intrinsic functions.

use crate::error::Failure;
use crate::intrinsics::{self, Call};
use crate::json::{Map, Value};
use crate::jsonpath::Path;
use crate::rng::Rng;
use crate::scope::Scope;

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
            // In the template's key order (`a` and `a.$` both set `a`: the later wins), in
            // a vector of the exact size: every object a template builds is kept that big.
            Template::Object(entries) => {
                let mut members = Vec::with_capacity(entries.len());
                for (k, t) in entries {
                    members.push((k.clone(), t.eval(scope, rng)?));
                }
                Value::Object(Map::from_members(members))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::Vars;

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
}
