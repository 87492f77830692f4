//! The engine's JSON value: serde_json's `Value` with objects that keep their keys in the
//! order they were written, as Step Functions does (`States.JsonToString`, causes, state and
//! execution outputs). serde_json's own order cannot be relied on: its `preserve_order`
//! feature is unified over everything in a build, so its maps sort their keys when this
//! crate builds alone and keep insertion order in the workspace (where aws-smithy-http-client
//! turns the feature on); turning it on here would change every other crate's documents.
//! The engine's value gives AWS's order in every build.
//!
//! The public API converts at its edges: inputs and task results come in as
//! `serde_json::Value` (converted with `From`, in whatever order serde_json's map holds
//! them), history events and `Execution::output` go out as `serde_json::Value`;
//! [`crate::StateMachine::from_json`], [`crate::execute`] given this type and
//! [`crate::Execution::output_json`] keep the order, as do `TaskCall::json_input` and
//! `TaskOutcome::SucceededJson` for tasks.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};
use std::fmt;

pub use serde_json::Number;

/// A JSON value whose objects keep their insertion order. Equality ignores key order, as
/// JSON's (and serde_json's) does.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// An object: its members in insertion order, each key once.
///
/// A plain vector: the engine's objects are mostly small, where a scan beats hashing and one
/// allocation per object (what a `BTreeMap` leaf costs too) beats an index's three. Lookups
/// scan; operations that add many keys at once (parsing, `extend`) find repeats through a
/// hash set when there are many, so a large object still builds in linear time.
#[derive(Clone, Debug, Default)]
pub struct Map(Vec<(String, Value)>);

/// Past this many members, adding many keys at once looks repeats up in a hash set.
const SCAN_MAX: usize = 16;

pub type Iter<'a> = std::iter::Map<
    std::slice::Iter<'a, (String, Value)>,
    fn(&'a (String, Value)) -> (&'a String, &'a Value),
>;

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with_capacity(n: usize) -> Map {
        Map(Vec::with_capacity(n))
    }

    fn position(&self, k: &str) -> Option<usize> {
        self.0.iter().position(|(key, _)| key == k)
    }

    /// Inserts `k`; a key already there keeps its place and takes the new value.
    pub fn insert(&mut self, k: String, v: Value) -> Option<Value> {
        match self.position(&k) {
            Some(i) => Some(std::mem::replace(&mut self.0[i].1, v)),
            None => {
                self.0.push((k, v));
                None
            }
        }
    }

    /// The value of `k`, inserted as `make()` at the end if absent.
    pub fn get_or_insert_with(&mut self, k: &str, make: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.position(k) {
            Some(i) => i,
            None => {
                self.0.push((k.to_string(), make()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }

    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0.iter().find(|(key, _)| key == k).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.0.iter_mut().find(|(key, _)| key == k).map(|(_, v)| v)
    }

    pub fn contains_key(&self, k: &str) -> bool {
        self.position(k).is_some()
    }

    /// Removes `k`, keeping the order of the other keys.
    pub fn remove(&mut self, k: &str) -> Option<Value> {
        self.position(k).map(|i| self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> Iter<'_> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    /// Appends members whose keys are known not to be there yet (a serde_json map's).
    fn push_unique(&mut self, k: String, v: Value) {
        self.0.push((k, v));
    }
}

impl Extend<(String, Value)> for Map {
    /// Adds each member as [`Map::insert`] does, in linear time however many there are:
    /// past 16 members, repeats are found through a hash index.
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, iter: I) {
        let mut at: Option<std::collections::HashMap<String, usize>> = None;
        for (k, v) in iter {
            if at.is_none() && self.0.len() < SCAN_MAX {
                self.insert(k, v);
                continue;
            }
            let at = at.get_or_insert_with(|| {
                self.0
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect()
            });
            match at.get(&k) {
                Some(&i) => self.0[i].1 = v,
                None => {
                    at.insert(k.clone(), self.0.len());
                    self.0.push((k, v));
                }
            }
        }
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Map {
        Map::from_members(iter.into_iter().collect())
    }
}

impl Map {
    /// The members as a map: kept as they are when no key repeats (the usual case), else
    /// each repeated key at its first place with its last value.
    pub(crate) fn from_members(members: Vec<(String, Value)>) -> Map {
        let repeats = if members.len() <= SCAN_MAX {
            members
                .iter()
                .enumerate()
                .any(|(i, (k, _))| members[..i].iter().any(|(seen, _)| seen == k))
        } else {
            let mut seen = std::collections::HashSet::with_capacity(members.len());
            !members.iter().all(|(k, _)| seen.insert(k.as_str()))
        };
        if !repeats {
            return Map(members);
        }
        let mut m = Map::new();
        m.extend(members);
        m
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl PartialEq for Map {
    /// The same members, in any order (JSON's equality).
    fn eq(&self, other: &Map) -> bool {
        if self.len() != other.len() {
            return false;
        }
        if self.len() <= SCAN_MAX {
            return self.iter().all(|(k, v)| other.get(k) == Some(v));
        }
        let theirs: std::collections::HashMap<&str, &Value> =
            other.iter().map(|(k, v)| (k.as_str(), v)).collect();
        self.iter()
            .all(|(k, v)| theirs.get(k.as_str()).is_some_and(|w| *w == v))
    }
}

static NULL: Value = Value::Null;

impl Value {
    /// The member `k` of an object; `None` for anything else.
    pub fn get(&self, k: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(k))
    }

    pub fn get_mut(&mut self, k: &str) -> Option<&mut Value> {
        self.as_object_mut().and_then(|m| m.get_mut(k))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// Takes the value out, leaving `null`.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;
    /// The member `k`, or `null` when there is none (as serde_json answers).
    fn index(&self, k: &str) -> &Value {
        self.get(k).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl PartialEq<serde_json::Value> for Value {
    /// Equal as JSON (key order aside).
    fn eq(&self, other: &serde_json::Value) -> bool {
        type Other = serde_json::Value;
        match (self, other) {
            (Value::Null, Other::Null) => true,
            (Value::Bool(a), Other::Bool(b)) => a == b,
            (Value::Number(a), Other::Number(b)) => a == b,
            (Value::String(a), Other::String(b)) => a == b,
            (Value::Array(a), Other::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Value::Object(a), Other::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl fmt::Display for Value {
    /// Compact JSON, keys in order; `{:#}` is indented.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        };
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

impl std::str::FromStr for Value {
    type Err = serde_json::Error;
    /// Parses JSON text, keeping each object's key order (serde_json's depth limit of 128
    /// applies).
    fn from_str(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str(text)
    }
}

macro_rules! from_scalar {
    ($($t:ty => $variant:ident),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::$variant(v.into())
            }
        }
    )*};
}
from_scalar!(bool => Bool, i32 => Number, i64 => Number, u32 => Number, u64 => Number,
    usize => Number, String => String, &str => String, Number => Number);

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Value {
        Value::Array(v)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(t) => s.serialize_str(t),
            Value::Array(a) => s.collect_seq(a),
            Value::Object(m) => s.collect_map(m.iter()),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json's own answer for a float JSON cannot hold (it never parses one).
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut members = Vec::new();
        while let Some(kv) = access.next_entry::<String, Value>()? {
            members.push(kv);
        }
        // JSON gives no count ahead: trimmed, so a parsed object holds no spare room.
        members.shrink_to_fit();
        // A repeated key keeps its first place and its last value (serde_json keeps the
        // last value too).
        Ok(Value::Object(Map::from_members(members)))
    }
}

/// Converts between serde_json's value and this one without recursion, so a value nested
/// deeper than the stack holds (a caller may build one) converts too; the engine then refuses
/// it for its depth. `$from`/`$to` name the two value types, `$map` the target's map type and
/// `$insert` how it takes a member (whose key the source holds once).
macro_rules! convert {
    ($v:expr, $from:ident, $to:ident, $map:ty, $insert:ident) => {{
        enum Frame<A, O> {
            Array(Vec<$to>, A),
            Object($map, O, String),
        }
        let mut stack = Vec::new();
        let mut todo = Some($v);
        loop {
            // A finished value for the container on top of the stack, if any.
            let mut carry = None;
            match todo.take() {
                Some($from::Null) => carry = Some($to::Null),
                Some($from::Bool(b)) => carry = Some($to::Bool(b)),
                Some($from::Number(n)) => carry = Some($to::Number(n)),
                Some($from::String(s)) => carry = Some($to::String(s)),
                Some($from::Array(a)) => {
                    stack.push(Frame::Array(Vec::with_capacity(a.len()), a.into_iter()))
                }
                Some($from::Object(m)) => stack.push(Frame::Object(
                    <$map>::with_capacity(m.len()),
                    m.into_iter(),
                    String::new(),
                )),
                None => {}
            }
            loop {
                let Some(top) = stack.last_mut() else {
                    return carry.unwrap_or_default();
                };
                match top {
                    Frame::Array(out, rest) => {
                        if let Some(c) = carry.take() {
                            out.push(c);
                        }
                        if let Some(n) = rest.next() {
                            todo = Some(n);
                            break;
                        }
                    }
                    Frame::Object(out, rest, key) => {
                        if let Some(c) = carry.take() {
                            out.$insert(std::mem::take(key), c);
                        }
                        if let Some((k, n)) = rest.next() {
                            *key = k;
                            todo = Some(n);
                            break;
                        }
                    }
                }
                carry = match stack.pop() {
                    Some(Frame::Array(out, _)) => Some($to::Array(out)),
                    Some(Frame::Object(out, _, _)) => Some($to::Object(out)),
                    None => None,
                };
            }
        }
    }};
}

impl From<serde_json::Value> for Value {
    /// Keys come in the order serde_json's map holds them.
    fn from(v: serde_json::Value) -> Value {
        type Src = serde_json::Value;
        convert!(v, Src, Value, Map, push_unique)
    }
}

impl From<Value> for serde_json::Value {
    /// Keys go out in serde_json's map's order (sorted unless `preserve_order` is on).
    fn from(v: Value) -> serde_json::Value {
        type Src = Value;
        type Dst = serde_json::Value;
        convert!(v, Src, Dst, serde_json::Map<String, Dst>, insert)
    }
}

impl From<&Value> for serde_json::Value {
    /// Recurses once per level: for the engine's own values, which it keeps within
    /// `MAX_VALUE_DEPTH` (plus a path's segments).
    fn from(v: &Value) -> serde_json::Value {
        type Out = serde_json::Value;
        match v {
            Value::Null => Out::Null,
            Value::Bool(b) => Out::Bool(*b),
            Value::Number(n) => Out::Number(n.clone()),
            Value::String(s) => Out::String(s.clone()),
            Value::Array(a) => Out::Array(a.iter().map(Out::from).collect()),
            Value::Object(m) => {
                // Inserted one by one: collecting would sort through a vector first, one
                // more allocation for every object of every history event.
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    out.insert(k.clone(), Out::from(v));
                }
                Out::Object(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        text.parse().expect("valid JSON")
    }

    #[test]
    fn parsing_and_printing_keep_the_key_order() {
        let text = r#"{"zeta":1,"alpha":{"y":true,"b":null},"mid":[{"k2":1.5,"k1":"v"}]}"#;
        assert_eq!(parse(text).to_string(), text);
        // serde_json's own order depends on the build's features; the value survives.
        assert_eq!(
            Value::from(serde_json::Value::from(parse(text))),
            parse(text)
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_its_last_value() {
        assert_eq!(
            parse(r#"{"b":1,"a":2,"b":3}"#).to_string(),
            r#"{"b":3,"a":2}"#
        );
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("{{{},\"k3\":\"last\"}}", many.join(","));
        let v = parse(&text);
        let m = v.as_object().expect("object");
        assert_eq!(m.len(), 40);
        assert_eq!(m.keys().nth(3).map(String::as_str), Some("k3"));
        assert_eq!(v["k3"], "last");
    }

    #[test]
    fn insert_replaces_in_place_and_remove_keeps_the_others_order() {
        let mut m = parse(r#"{"c":1,"a":2,"b":3}"#)
            .as_object()
            .cloned()
            .expect("object");
        assert_eq!(m.insert("a".into(), Value::from(9)), Some(Value::from(2)));
        m.insert("d".into(), Value::Null);
        assert_eq!(m.remove("c"), Some(Value::from(1)));
        assert_eq!(Value::Object(m).to_string(), r#"{"a":9,"b":3,"d":null}"#);
    }

    #[test]
    fn extend_past_the_scan_limit_finds_repeats() {
        let mut m = Map::new();
        m.extend((0..100).map(|i| (format!("k{}", i % 60), Value::from(i))));
        assert_eq!(m.len(), 60);
        assert_eq!(m.get("k5"), Some(&Value::from(65)));
        assert_eq!(m.keys().next().map(String::as_str), Some("k0"));
    }

    #[test]
    fn equality_ignores_key_order_small_and_large() {
        assert_eq!(
            parse(r#"{"a":1,"b":[{"x":1,"y":2}]}"#),
            parse(r#"{"b":[{"y":2,"x":1}],"a":1}"#)
        );
        assert_ne!(parse(r#"{"a":1}"#), parse(r#"{"a":1,"b":2}"#));
        let fwd: Map = (0..50).map(|i| (format!("k{i}"), Value::from(i))).collect();
        let back: Map = (0..50)
            .rev()
            .map(|i| (format!("k{i}"), Value::from(i)))
            .collect();
        assert_eq!(fwd, back);
        let mut other = back.clone();
        other.insert("k7".into(), Value::from(0));
        assert_ne!(fwd, other);
    }

    #[test]
    fn conversion_from_serde_json_does_not_recurse() {
        let mut deep = serde_json::json!(1);
        for _ in 0..200_000 {
            deep = serde_json::Value::Array(vec![deep]);
        }
        let ours = Value::from(deep);
        assert!(crate::value::deeper_than(&ours, 199_999));
        let back = serde_json::Value::from(ours);
        // Both directions consume their input; this one is dropped one level at a time.
        let mut stack = vec![back];
        while let Some(v) = stack.pop() {
            if let serde_json::Value::Array(a) = v {
                stack.extend(a);
            }
        }
    }

    #[test]
    fn scalars_and_indexing_answer_like_serde_json() {
        let v = parse(r#"{"s":"x","n":-3,"f":2.5,"b":true,"l":[10]}"#);
        assert_eq!(v["s"].as_str(), Some("x"));
        assert_eq!(v["n"].as_i64(), Some(-3));
        assert_eq!(v["n"].as_u64(), None);
        assert_eq!(v["f"].as_f64(), Some(2.5));
        assert_eq!(v["b"].as_bool(), Some(true));
        assert_eq!(v["l"][0], Value::from(10));
        assert!(v["missing"].is_null() && v["l"][5].is_null());
        assert_eq!(
            v,
            serde_json::json!({"b": true, "f": 2.5, "l": [10], "n": -3, "s": "x"})
        );
        assert_eq!(
            format!("{:#}", parse(r#"{"b":1,"a":2}"#)),
            "{\n  \"b\": 1,\n  \"a\": 2\n}"
        );
    }
}
