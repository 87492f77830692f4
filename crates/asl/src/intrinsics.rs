//! The 18 JSONPath intrinsic functions (`States.Format(...)` and friends): parsing with AWS's
//! argument rules and evaluation. Failures become `States.IntrinsicFailure`.

use crate::error::{Failure, clip, names};
use crate::json::{Map, Value};
use crate::jsonpath::{Path, keyword_literal, number_literal};
use crate::rng::Rng;
use crate::scope::Scope;
use crate::value::{MAX_PAYLOAD_BYTES, MAX_VALUE_DEPTH, deeper_than, json_size};
use base64::Engine as _;

/// Step Functions' cap on the string inputs of the encoding and hash functions.
const MAX_STRING_INPUT: usize = 10_000;
/// Step Functions' cap on the number of items `States.ArrayRange` may produce.
const MAX_RANGE_ITEMS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "States.Format" => Func::Format,
            "States.StringToJson" => Func::StringToJson,
            "States.JsonToString" => Func::JsonToString,
            "States.Array" => Func::Array,
            "States.ArrayPartition" => Func::ArrayPartition,
            "States.ArrayContains" => Func::ArrayContains,
            "States.ArrayRange" => Func::ArrayRange,
            "States.ArrayGetItem" => Func::ArrayGetItem,
            "States.ArrayLength" => Func::ArrayLength,
            "States.ArrayUnique" => Func::ArrayUnique,
            "States.Base64Encode" => Func::Base64Encode,
            "States.Base64Decode" => Func::Base64Decode,
            "States.Hash" => Func::Hash,
            "States.JsonMerge" => Func::JsonMerge,
            "States.MathRandom" => Func::MathRandom,
            "States.MathAdd" => Func::MathAdd,
            "States.StringSplit" => Func::StringSplit,
            "States.UUID" => Func::Uuid,
            _ => return None,
        })
    }

    /// Allowed argument counts (inclusive).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::Uuid => (0, 0),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::Hash
            | Func::MathAdd
            | Func::StringSplit => (2, 2),
            Func::MathRandom => (2, 3),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A single-quoted literal: its decoded text, and the text with escapes kept (for Format).
    Str {
        value: String,
        raw: String,
    },
    Literal(Value),
    Path(Path),
    Call(Call),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    name: String,
    func: Func,
    args: Vec<Arg>,
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub(crate) fn looks_like_call(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}

impl Call {
    pub(crate) fn parse(text: &str) -> Result<Call, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut p = CallParser {
            chars: &chars,
            pos: 0,
            text,
            depth: 0,
        };
        p.skip_ws();
        let call = p.call()?;
        p.skip_ws();
        if p.pos != chars.len() {
            return Err(format!(
                "unexpected text after the closing ')' in intrinsic function '{}'",
                clip(text)
            ));
        }
        Ok(call)
    }

    /// Evaluates the call and its nested calls. A function's own failure is
    /// `States.IntrinsicFailure`; a result (nested or not) over the payload cap is
    /// `States.DataLimitExceeded`, checked at every call so nesting cannot multiply sizes
    /// (`States.Array($, $, ...)` ten levels deep) past what memory holds.
    pub(crate) fn eval(&self, scope: &Scope<'_>, rng: &mut Rng) -> Result<Value, Failure> {
        let mut args = Vec::with_capacity(self.args.len());
        for a in &self.args {
            args.push(match a {
                Arg::Str { value, .. } => Value::String(value.clone()),
                Arg::Literal(v) => v.clone(),
                Arg::Path(p) => scope.resolve(p)?.ok_or_else(|| {
                    Failure::new(
                        names::INTRINSIC_FAILURE,
                        format!(
                            "The JsonPath {} could not be found in the input of {}",
                            p.shown(),
                            self.name
                        ),
                    )
                })?,
                Arg::Call(c) => c.eval(scope, rng)?,
            });
        }
        let out = self
            .apply(args, rng)
            .map_err(|cause| Failure::new(names::INTRINSIC_FAILURE, cause))?;
        if deeper_than(&out, MAX_VALUE_DEPTH) {
            return Err(Failure::new(
                names::INTRINSIC_FAILURE,
                format!(
                    "The intrinsic function {} returned a value nested more than {MAX_VALUE_DEPTH} levels deep",
                    self.name
                ),
            ));
        }
        if json_size(&out) > MAX_PAYLOAD_BYTES {
            return Err(Failure::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The intrinsic function {} returned a result larger than {MAX_PAYLOAD_BYTES} bytes",
                    self.name
                ),
            ));
        }
        Ok(out)
    }

    /// The function itself, on evaluated arguments.
    fn apply(&self, args: Vec<Value>, rng: &mut Rng) -> Result<Value, String> {
        let f = self.name.as_str();
        match self.func {
            Func::Format => {
                let template = match &self.args[0] {
                    Arg::Str { raw, .. } => raw.clone(),
                    _ => escape_template(string_arg(f, &args, 0)?),
                };
                format(f, &template, &args[1..])
            }
            Func::StringToJson => {
                let s = string_arg(f, &args, 0)?;
                // AWS answers `null` for an empty or all-whitespace string.
                if s.trim().is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(s)
                    .map_err(|e| format!("{f}: the argument is not valid JSON text ({e})"))
            }
            Func::JsonToString => serde_json::to_string(&args[0])
                .map(Value::String)
                .map_err(|e| format!("{f}: {e}")),
            Func::Array => Ok(Value::Array(args)),
            Func::ArrayPartition => {
                let arr = array_arg(f, &args, 0)?;
                let size = int_arg(f, &args, 1)?;
                if size <= 0 {
                    return Err(format!(
                        "{f}: the chunk size must be a positive integer, got {size}"
                    ));
                }
                let size =
                    usize::try_from(size).map_err(|_| format!("{f}: chunk size too large"))?;
                Ok(Value::Array(
                    arr.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
                ))
            }
            Func::ArrayContains => Ok(Value::Bool(array_arg(f, &args, 0)?.contains(&args[1]))),
            Func::ArrayRange => {
                let (start, end, step) = (
                    int_arg(f, &args, 0)?,
                    int_arg(f, &args, 1)?,
                    int_arg(f, &args, 2)?,
                );
                if step == 0 {
                    return Err(format!("{f}: the step must not be 0"));
                }
                let mut out = Vec::new();
                let mut i = start;
                while (step > 0 && i <= end) || (step < 0 && i >= end) {
                    if out.len() == MAX_RANGE_ITEMS {
                        return Err(format!(
                            "{f}: the range would have more than {MAX_RANGE_ITEMS} items"
                        ));
                    }
                    out.push(Value::from(i));
                    i = match i.checked_add(step) {
                        Some(n) => n,
                        None => break,
                    };
                }
                Ok(Value::Array(out))
            }
            Func::ArrayGetItem => {
                let arr = array_arg(f, &args, 0)?;
                let idx = int_arg(f, &args, 1)?;
                usize::try_from(idx)
                    .ok()
                    .and_then(|i| arr.get(i))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "{f}: index {idx} is out of bounds for an array of {} items",
                            arr.len()
                        )
                    })
            }
            Func::ArrayLength => Ok(Value::from(array_arg(f, &args, 0)?.len())),
            Func::ArrayUnique => {
                let mut out: Vec<Value> = Vec::new();
                for v in array_arg(f, &args, 0)? {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                Ok(Value::Array(out))
            }
            Func::Base64Encode => {
                let s = limited_string_arg(f, &args, 0)?;
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                ))
            }
            Func::Base64Decode => {
                let s = limited_string_arg(f, &args, 0)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map_err(|e| format!("{f}: the argument is not valid base64 ({e})"))?;
                String::from_utf8(bytes)
                    .map(Value::String)
                    .map_err(|_| format!("{f}: the decoded bytes are not UTF-8 text"))
            }
            Func::Hash => {
                let data = match &args[0] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if data.chars().count() > MAX_STRING_INPUT {
                    return Err(format!(
                        "{f}: the input must be at most {MAX_STRING_INPUT} characters"
                    ));
                }
                let alg = string_arg(f, &args, 1)?;
                Ok(Value::String(hash(alg, data.as_bytes()).ok_or_else(|| {
                    format!("{f}: unsupported algorithm '{}' (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)", clip(alg))
                })?))
            }
            Func::JsonMerge => {
                let (Value::Object(a), Value::Object(b)) = (&args[0], &args[1]) else {
                    return Err(format!("{f}: the first two arguments must be JSON objects"));
                };
                if args[2] != Value::Bool(false) {
                    return Err(format!(
                        "{f}: only shallow merging is supported: the third argument must be false"
                    ));
                }
                let mut merged: Map = a.clone();
                merged.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
                Ok(Value::Object(merged))
            }
            Func::MathRandom => {
                let (start, end) = (rounded_arg(f, &args, 0)?, rounded_arg(f, &args, 1)?);
                if start >= end {
                    return Err(format!(
                        "{f}: the start ({start}) must be less than the end ({end})"
                    ));
                }
                match args.get(2) {
                    Some(_) => {
                        let seed = int_arg(f, &args, 2)?;
                        Ok(Value::from(Rng::new(seed as u64).range(start, end)))
                    }
                    None => Ok(Value::from(rng.range(start, end))),
                }
            }
            Func::MathAdd => {
                let (a, b) = (rounded_arg(f, &args, 0)?, rounded_arg(f, &args, 1)?);
                a.checked_add(b)
                    .map(Value::from)
                    .ok_or_else(|| format!("{f}: the sum overflows"))
            }
            Func::StringSplit => {
                let s = string_arg(f, &args, 0)?;
                let delims: Vec<char> = string_arg(f, &args, 1)?.chars().collect();
                Ok(Value::Array(
                    s.split(|c| delims.contains(&c))
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.to_string()))
                        .collect(),
                ))
            }
            Func::Uuid => Ok(Value::String(rng.uuid())),
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn string_arg<'v>(f: &str, args: &'v [Value], i: usize) -> Result<&'v str, String> {
    args[i].as_str().ok_or_else(|| {
        format!(
            "{f}: argument {} must be a string, got {}",
            i + 1,
            type_name(&args[i])
        )
    })
}

fn limited_string_arg<'v>(f: &str, args: &'v [Value], i: usize) -> Result<&'v str, String> {
    let s = string_arg(f, args, i)?;
    if s.chars().count() > MAX_STRING_INPUT {
        return Err(format!(
            "{f}: the input must be at most {MAX_STRING_INPUT} characters"
        ));
    }
    Ok(s)
}

fn array_arg<'v>(f: &str, args: &'v [Value], i: usize) -> Result<&'v Vec<Value>, String> {
    args[i].as_array().ok_or_else(|| {
        format!(
            "{f}: argument {} must be an array, got {}",
            i + 1,
            type_name(&args[i])
        )
    })
}

fn int_arg(f: &str, args: &[Value], i: usize) -> Result<i64, String> {
    let v = &args[i];
    if let Some(n) = v.as_i64() {
        return Ok(n);
    }
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(x as i64),
        _ => Err(format!(
            "{f}: argument {} must be an integer, got {}",
            i + 1,
            clip(&v.to_string())
        )),
    }
}

/// A number argument of `States.MathAdd`/`States.MathRandom`: AWS takes non-integers and
/// rounds them half up, as Java's `Math.round` does (floor(x + 0.5): 1.5 → 2, -1.5 → -1,
/// -3.5 → -3, 2.5 → 3).
fn rounded_arg(f: &str, args: &[Value], i: usize) -> Result<i64, String> {
    let v = &args[i];
    if let Some(n) = v.as_i64() {
        return Ok(n);
    }
    match v.as_f64() {
        Some(x) if v.is_number() && x.abs() < 9.0e15 => Ok((x + 0.5).floor() as i64),
        _ => Err(format!(
            "{f}: argument {} must be a number, got {}",
            i + 1,
            clip(&v.to_string())
        )),
    }
}

fn hash(alg: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest as _;
    Some(match alg {
        "MD5" => hex::encode(md5::Md5::digest(data)),
        "SHA-1" => hex::encode(sha1::Sha1::digest(data)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(data)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(data)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(data)),
        _ => return None,
    })
}

/// A template read from a path has no escapes: protect its backslashes so `format` reads it as-is.
fn escape_template(s: &str) -> String {
    s.replace('\\', "\\\\")
}

/// How `States.Format` prints an argument: AWS's Java `toString` — strings bare, objects as
/// `{Arg1=1, Arg2=[]}`, arrays as `[1, a]`. Iterative, since a value may nest deep.
fn java_text(v: &Value, out: &mut String) {
    enum Step<'v> {
        Value(&'v Value),
        Text(&'static str),
        Key(&'v str),
    }
    let mut todo = vec![Step::Value(v)];
    while let Some(step) = todo.pop() {
        match step {
            Step::Text(t) => out.push_str(t),
            Step::Key(k) => {
                out.push_str(k);
                out.push('=');
            }
            Step::Value(Value::String(s)) => out.push_str(s),
            Step::Value(Value::Array(a)) => {
                todo.push(Step::Text("]"));
                for (i, item) in a.iter().enumerate().rev() {
                    todo.push(Step::Value(item));
                    if i > 0 {
                        todo.push(Step::Text(", "));
                    }
                }
                todo.push(Step::Text("["));
            }
            Step::Value(Value::Object(m)) => {
                todo.push(Step::Text("}"));
                let entries: Vec<_> = m.iter().collect();
                for (i, (k, item)) in entries.into_iter().enumerate().rev() {
                    todo.push(Step::Value(item));
                    todo.push(Step::Key(k));
                    if i > 0 {
                        todo.push(Step::Text(", "));
                    }
                }
                todo.push(Step::Text("{"));
            }
            Step::Value(other) => out.push_str(&other.to_string()),
        }
    }
}

fn format(f: &str, template: &str, args: &[Value]) -> Result<Value, String> {
    let mut out = String::new();
    let mut used = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let v = args.get(used).ok_or_else(|| {
                    format!("{f}: the template has more '{{}}' placeholders than the {} argument(s) given", args.len())
                })?;
                java_text(v, &mut out);
                used += 1;
            }
            c => out.push(c),
        }
    }
    if used != args.len() {
        return Err(format!(
            "{f}: the template has {used} '{{}}' placeholder(s) but {} argument(s) were given",
            args.len()
        ));
    }
    Ok(Value::String(out))
}

/// Nesting limit Step Functions applies to intrinsic calls.
const MAX_DEPTH: usize = 10;

struct CallParser<'c> {
    chars: &'c [char],
    pos: usize,
    text: &'c str,
    depth: usize,
}

impl CallParser<'_> {
    fn err(&self, what: &str) -> String {
        format!(
            "invalid intrinsic function '{}': {what} at position {}",
            clip(self.text),
            self.pos + 1
        )
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn call(&mut self) -> Result<Call, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("intrinsic functions nest at most 10 deep"));
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let func = Func::from_name(&name)
            .ok_or_else(|| self.err(&format!("unknown function '{}'", clip(&name))))?;
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(self.err("expected '('"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or ')'")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!(
                "{name} takes {expected} argument(s), got {}",
                args.len()
            ));
        }
        self.depth -= 1;
        Ok(Call { name, func, args })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        match self.peek() {
            Some('\'') => {
                self.pos += 1;
                let (mut value, mut raw) = (String::new(), String::new());
                loop {
                    match self.peek() {
                        None => return Err(self.err("unterminated string literal")),
                        Some('\\') => {
                            let Some(n) = self.chars.get(self.pos + 1).copied() else {
                                return Err(self.err("unterminated string literal"));
                            };
                            value.push(n);
                            raw.push('\\');
                            raw.push(n);
                            self.pos += 2;
                        }
                        Some('\'') => {
                            self.pos += 1;
                            return Ok(Arg::Str { value, raw });
                        }
                        Some(c) => {
                            value.push(c);
                            raw.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            Some('$') => {
                let start = self.pos;
                let (mut brackets, mut parens, mut quote) = (0i32, 0i32, None::<char>);
                while let Some(c) = self.peek() {
                    match (quote, c) {
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'') | (None, '"') => quote = Some(c),
                        (None, '[') => brackets += 1,
                        (None, ']') => brackets -= 1,
                        (None, '(') => parens += 1,
                        (None, ')') if parens == 0 && brackets == 0 => break,
                        (None, ')') => parens -= 1,
                        (None, ',') if parens == 0 && brackets == 0 => break,
                        _ => {}
                    }
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                Path::parse(text.trim_end()).map(Arg::Path).map_err(|e| {
                    format!(
                        "invalid path argument in intrinsic function '{}': {e}",
                        clip(self.text)
                    )
                })
            }
            Some('S') => Ok(Arg::Call(self.call()?)),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let (number, end) = number_literal(self.chars, self.pos);
                self.pos = end;
                number
                    .map(|n| Arg::Literal(Value::Number(n)))
                    .map_err(|text| self.err(&format!("invalid number '{}'", clip(&text))))
            }
            _ => match keyword_literal(self.chars, self.pos) {
                Some((v, end)) => {
                    self.pos = end;
                    Ok(Arg::Literal(v))
                }
                None => Err(self.err(
                    "expected a 'string', a number, true, false, null, a path or a States. function",
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expr: &str, input: Value) -> Result<Value, String> {
        let call = Call::parse(expr)?;
        let ctx = |_: bool| json!({"Execution": {"Name": "exec"}});
        let vars = crate::vars::Vars::default();
        let scope = Scope::new(&input, &ctx, &vars);
        call.eval(&scope, &mut Rng::new(1)).map_err(|f| f.cause)
    }

    #[test]
    fn format_with_escapes_paths_and_context() {
        assert_eq!(
            run(
                r"States.Format('Hi {} \{\} \' {} {}', $.n, $$.Execution.Name, 3)",
                json!({"n": "Ann"})
            ),
            Ok(json!("Hi Ann {} ' exec 3"))
        );
        assert!(run("States.Format('{} {}', 1)", json!({})).is_err());
    }

    #[test]
    fn nested_calls_and_arrays() {
        assert_eq!(
            run(
                "States.ArrayLength(States.ArrayPartition(States.ArrayRange(1, 10, 1), 4))",
                json!({})
            ),
            Ok(json!(3))
        );
        assert_eq!(
            run(
                "States.ArrayUnique(States.Array(1, 1, 'a', 'a'))",
                json!({})
            ),
            Ok(json!([1, "a"]))
        );
        assert_eq!(
            run("States.ArrayGetItem($.a, 1)", json!({"a": [5, 6]})),
            Ok(json!(6))
        );
        assert!(run("States.ArrayGetItem($.a, 2)", json!({"a": [5, 6]})).is_err());
        assert_eq!(
            run(
                "States.ArrayContains($.a, $.v)",
                json!({"a": [{"x": 1}], "v": {"x": 1}})
            ),
            Ok(json!(true))
        );
    }

    #[test]
    fn array_range_limit_is_1000_items() {
        assert_eq!(
            run(
                "States.ArrayLength(States.ArrayRange(1, 1000, 1))",
                json!({})
            ),
            Ok(json!(1000))
        );
        assert!(run("States.ArrayRange(1, 1001, 1)", json!({})).is_err());
    }

    #[test]
    fn encoding_hash_merge_math_split() {
        assert_eq!(
            run("States.Base64Encode('Data to encode')", json!({})),
            Ok(json!("RGF0YSB0byBlbmNvZGU="))
        );
        assert_eq!(
            run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')", json!({})),
            Ok(json!("Data to encode"))
        );
        assert_eq!(
            run("States.Hash('input data', 'SHA-1')", json!({})),
            Ok(json!("aaff4a450a104cd177d28d18d74485e8cae074b7"))
        );
        assert_eq!(
            run(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}})
            ),
            Ok(json!({"x": 1, "y": 2}))
        );
        assert!(run("States.JsonMerge($.a, $.a, true)", json!({"a": {}})).is_err());
        assert_eq!(run("States.MathAdd(111, -1)", json!({})), Ok(json!(110)));
        assert_eq!(
            run(
                "States.StringSplit('This.is+a,test=string', '.+')",
                json!({})
            ),
            Ok(json!(["This", "is", "a,test=string"]))
        );
        let r = run("States.MathRandom(1, 5)", json!({})).expect("random");
        assert!((1..5).contains(&r.as_i64().expect("int")));
    }

    #[test]
    fn base64_input_limit_is_10000_characters() {
        let at = "a".repeat(10_000);
        let past = "a".repeat(10_001);
        assert!(run("States.Base64Encode($.s)", json!({ "s": at })).is_ok());
        assert!(run("States.Base64Encode($.s)", json!({ "s": past })).is_err());
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "States.Nope(1)",
            "States.Format(",
            "States.UUID(1)",
            "States.Array('x)",
            "States.ArrayLength($.a) x",
        ] {
            assert!(Call::parse(bad).is_err(), "{bad}");
        }
    }
}
