//! JSONPath as Step Functions accepts it: parsing, evaluation, and writing at reference paths.
//!
//! Evaluation follows Jayway JsonPath (what AWS runs): a definite path yields one value or
//! "no results", an indefinite path (wildcards, slices, filters, `..`, unions) yields an array.

use crate::error::clip;
use crate::json::{Map, Value};
use std::fmt;

/// Which document a path reads: the state input (`$`), the context object (`$$`) or a
/// workflow variable (`$name`, see [`Path::variable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    Input,
    Context,
    Variable,
}

/// The longest workflow variable name AWS accepts.
pub(crate) const MAX_VARIABLE_NAME: usize = 80;

/// Why `name` cannot be a workflow variable name, if it cannot: AWS takes names of a
/// Unicode ID_Start character followed by ID_Continue characters (UAX #31; checked with
/// their XID forms, which differ from them in a handful of compatibility characters), at
/// most 80 characters, and reserves `states`.
pub(crate) fn variable_name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(unicode_ident::is_xid_start);
    if !starts_well || !chars.all(unicode_ident::is_xid_continue) {
        return Some(format!(
            "'{}' is not a variable name: it must start with a letter (Unicode ID_Start) and go on with letters, digits, combining marks or '_' (Unicode ID_Continue)",
            clip(name)
        ));
    }
    if name.chars().count() > MAX_VARIABLE_NAME {
        return Some(format!(
            "variable name '{}' is longer than {MAX_VARIABLE_NAME} characters",
            clip(name)
        ));
    }
    if name == "states" {
        return Some(
            "'$states' is reserved by Step Functions (JSONata states); pick another variable name"
                .into(),
        );
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Name(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Child(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Union(Vec<Selector>),
    Filter(Filter),
    /// `..` followed by the segment it applies to at every depth.
    Descend(Box<Segment>),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Current(Vec<Segment>),
    Root(Vec<Segment>),
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Or(Vec<Filter>),
    And(Vec<Filter>),
    Not(Box<Filter>),
    Exists(Operand),
    Cmp(Operand, CmpOp, Operand),
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    text: String,
    root: Root,
    /// The variable a `$name…` path reads (empty for other roots).
    variable: String,
    segments: Vec<Segment>,
}

/// Why a path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathSyntaxError(pub String);

impl fmt::Display for PathSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Path {
    /// Parses `text`, which must start with `$`.
    pub(crate) fn parse(text: &str) -> Result<Path, PathSyntaxError> {
        let mut variable = String::new();
        let (root, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            // `$name`: a workflow variable, then the path into its value.
            let end = rest
                .find(|c: char| c == '.' || c == '[' || c.is_whitespace())
                .unwrap_or(rest.len());
            if end == 0 {
                (Root::Input, rest)
            } else {
                variable = rest[..end].to_string();
                if let Some(problem) = variable_name_problem(&variable) {
                    return Err(PathSyntaxError(problem));
                }
                (Root::Variable, &rest[end..])
            }
        } else {
            return Err(PathSyntaxError(format!(
                "'{}' must start with '$'",
                clip(text)
            )));
        };
        let mut parser = Parser {
            chars: rest.chars().collect(),
            pos: 0,
            text,
            depth: 0,
        };
        let segments = parser.segments(false)?;
        if segments.len() > MAX_PATH_SEGMENTS {
            return Err(PathSyntaxError(format!(
                "invalid JSONPath: it has {} segments, more than the {MAX_PATH_SEGMENTS} allowed",
                segments.len()
            )));
        }
        if parser.pos != parser.chars.len() {
            return Err(parser.error("unexpected character"));
        }
        Ok(Path {
            text: text.to_string(),
            root,
            variable,
            segments,
        })
    }

    /// Parses a reference path: definite, no wildcards, filters, slices or unions.
    pub(crate) fn parse_reference(text: &str) -> Result<Path, PathSyntaxError> {
        let path = Path::parse(text)?;
        if !path.is_definite() {
            return Err(PathSyntaxError(format!(
                "'{}' is not a reference path: it must select a single node (no '*', '..', ':', '?', ',' or negative index)",
                clip(text)
            )));
        }
        Ok(path)
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The path as error messages quote it (at most ~100 characters).
    pub(crate) fn shown(&self) -> std::borrow::Cow<'_, str> {
        clip(&self.text)
    }

    pub(crate) fn root(&self) -> Root {
        self.root
    }

    /// The workflow variable a `$name…` path reads.
    pub(crate) fn variable(&self) -> Option<&str> {
        (self.root == Root::Variable).then_some(self.variable.as_str())
    }

    pub(crate) fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Child(_)) || matches!(s, Segment::Index(i) if *i >= 0))
    }

    /// Whether this context path can reach `$$.Execution.Input`.
    pub(crate) fn may_read_execution_input(&self) -> bool {
        match self.segments.first() {
            None => true,
            Some(Segment::Child(n)) if n == "Execution" => {
                !matches!(self.segments.get(1), Some(Segment::Child(m)) if m != "Input")
            }
            Some(Segment::Child(_)) => false,
            _ => true,
        }
    }

    /// Jayway's normalised form, used in AWS error causes: `$['a'][0]`.
    pub(crate) fn normalized(&self) -> String {
        let mut out = String::from("$");
        for seg in &self.segments {
            match seg {
                Segment::Child(n) => out.push_str(&format!("['{n}']")),
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
                Segment::Wildcard => out.push_str("[*]"),
                _ => out.push_str("[?]"),
            }
        }
        out
    }

    /// Evaluates against `doc`. `Ok(None)` means "no results" for a definite path; an
    /// indefinite path always yields an array (possibly empty). `Err` says which budget
    /// (results, steps, depth) the evaluation ran out of, naming the path.
    pub(crate) fn eval(&self, doc: &Value) -> Result<Option<Value>, String> {
        if self.is_definite() {
            return Ok(self.lookup(doc).cloned());
        }
        let mut walk = Walk::new(doc);
        let mut out = Vec::new();
        match walk.select(&self.segments, doc, &mut out) {
            Ok(()) => Ok(Some(Value::Array(out.into_iter().cloned().collect()))),
            Err(over) => Err(format!(
                "The JSONPath '{}' {}",
                self.shown(),
                match over {
                    Over::Results => format!("selects more than {MAX_PATH_RESULTS} values"),
                    Over::Steps =>
                        format!("visits more than {MAX_PATH_STEPS} nodes while it is evaluated"),
                    Over::Depth => format!(
                        "nests more than {MAX_PATH_DEPTH} levels deep while it is evaluated"
                    ),
                }
            )),
        }
    }

    /// Borrowing lookup for definite paths (no clone on the hot path).
    pub(crate) fn lookup<'v>(&self, doc: &'v Value) -> Option<&'v Value> {
        let mut cur = doc;
        for seg in &self.segments {
            cur = match (seg, cur) {
                (Segment::Child(n), Value::Object(m)) => m.get(n)?,
                (Segment::Index(i), Value::Array(a)) if *i >= 0 => {
                    a.get(usize::try_from(*i).ok()?)?
                }
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Whether `set` can write at this path in `doc` (intermediate nodes must be objects,
    /// missing or null; indexes must exist).
    pub(crate) fn can_set(&self, doc: &Value) -> bool {
        let mut cur = Some(doc);
        for seg in &self.segments {
            cur = match (seg, cur) {
                (Segment::Child(_), None | Some(Value::Null)) => None,
                (Segment::Child(n), Some(Value::Object(m))) => m.get(n),
                (Segment::Index(i), Some(Value::Array(a))) => {
                    match usize::try_from(*i).ok().and_then(|i| a.get(i)) {
                        Some(v) => Some(v),
                        None => return false,
                    }
                }
                _ => return false,
            };
        }
        true
    }

    /// Writes `value` into `doc` at this (definite) path, creating missing objects.
    pub(crate) fn set(&self, doc: Value, value: Value) -> Result<Value, String> {
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut doc = doc;
        let mut cur = &mut doc;
        let last = self.segments.len() - 1;
        for (i, seg) in self.segments.iter().enumerate() {
            cur = match seg {
                Segment::Child(n) => match cur {
                    Value::Object(m) => m.get_or_insert_with(n, || Value::Null),
                    _ => return Err(self.text.clone()),
                },
                Segment::Index(i) => match cur {
                    Value::Array(a) => usize::try_from(*i)
                        .ok()
                        .and_then(|i| a.get_mut(i))
                        .ok_or_else(|| self.text.clone())?,
                    _ => return Err(self.text.clone()),
                },
                _ => return Err(self.text.clone()),
            };
            if i < last && cur.is_null() {
                *cur = Value::Object(Map::new());
            }
        }
        *cur = value;
        Ok(doc)
    }
}

/// Budgets of our own, where AWS documents none, so that no path makes evaluation grow
/// without bound: chained recursive descent (`$..*..*`) multiplies its results by the
/// document's size at every `..`, and deep documents or long paths deepen the recursion.
pub(crate) const MAX_PATH_RESULTS: usize = 100_000;
/// Nodes visited by one evaluation, filters included: bounds the work of paths that visit
/// much and select little (`$..*..*..nothing`).
pub(crate) const MAX_PATH_STEPS: usize = 5_000_000;
/// How deep evaluation may recurse (one level per segment and per level of the document
/// under `..`): far below what the stack holds, far above any real document.
pub(crate) const MAX_PATH_DEPTH: usize = 1_000;
/// Segments a path may have, checked when it is parsed.
pub(crate) const MAX_PATH_SEGMENTS: usize = 256;

/// Which budget an evaluation ran out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    Results,
    Steps,
    Depth,
}

/// One evaluation: the root document, the budgets spent so far, and the values of filter
/// operands that read from the root, which do not depend on the candidate and so are
/// evaluated once per evaluation rather than once per candidate (else `[?(@.a == $..x)]`
/// over a large array is quadratic).
struct Walk<'a> {
    root: &'a Value,
    steps: usize,
    depth: usize,
    memo: Vec<(*const Operand, Option<&'a Value>)>,
}

impl<'a> Walk<'a> {
    fn new(root: &'a Value) -> Walk<'a> {
        Walk {
            root,
            steps: 0,
            depth: 0,
            memo: Vec::new(),
        }
    }

    fn select(
        &mut self,
        segments: &'a [Segment],
        cur: &'a Value,
        out: &mut Vec<&'a Value>,
    ) -> Result<(), Over> {
        self.steps = self.steps.saturating_add(1);
        if self.steps > MAX_PATH_STEPS {
            return Err(Over::Steps);
        }
        if self.depth >= MAX_PATH_DEPTH {
            return Err(Over::Depth);
        }
        self.depth += 1;
        let r = self.step(segments, cur, out);
        self.depth -= 1;
        r
    }

    fn step(
        &mut self,
        segments: &'a [Segment],
        cur: &'a Value,
        out: &mut Vec<&'a Value>,
    ) -> Result<(), Over> {
        let Some((seg, rest)) = segments.split_first() else {
            if out.len() >= MAX_PATH_RESULTS {
                return Err(Over::Results);
            }
            out.push(cur);
            return Ok(());
        };
        match seg {
            Segment::Child(n) => {
                if let Some(v) = cur.as_object().and_then(|m| m.get(n)) {
                    self.select(rest, v, out)?;
                }
            }
            Segment::Index(i) => {
                if let Some(v) = cur.as_array().and_then(|a| index(a, *i)) {
                    self.select(rest, v, out)?;
                }
            }
            Segment::Wildcard => match cur {
                Value::Object(m) => {
                    for v in m.values() {
                        self.select(rest, v, out)?;
                    }
                }
                Value::Array(a) => {
                    for v in a {
                        self.select(rest, v, out)?;
                    }
                }
                _ => {}
            },
            Segment::Slice(start, end, step) => {
                if let Some(a) = cur.as_array() {
                    for i in slice_indices(a.len(), *start, *end, *step) {
                        if let Some(v) = a.get(i) {
                            self.select(rest, v, out)?;
                        }
                    }
                }
            }
            Segment::Union(sels) => {
                for sel in sels {
                    let v = match (sel, cur) {
                        (Selector::Name(n), Value::Object(m)) => m.get(n),
                        (Selector::Index(i), Value::Array(a)) => index(a, *i),
                        _ => None,
                    };
                    if let Some(v) = v {
                        self.select(rest, v, out)?;
                    }
                }
            }
            Segment::Filter(f) => match cur {
                Value::Array(a) => {
                    for v in a {
                        if self.filter_matches(f, v)? {
                            self.select(rest, v, out)?;
                        }
                    }
                }
                Value::Object(_) if self.filter_matches(f, cur)? => {
                    self.select(rest, cur, out)?;
                }
                _ => {}
            },
            Segment::Descend(inner) => {
                let one = std::slice::from_ref(inner.as_ref());
                let mut here = Vec::new();
                self.select(one, cur, &mut here)?;
                for v in here {
                    self.select(rest, v, out)?;
                }
                match cur {
                    Value::Object(m) => {
                        for v in m.values() {
                            self.select(segments, v, out)?;
                        }
                    }
                    Value::Array(a) => {
                        for v in a {
                            self.select(segments, v, out)?;
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn operand_value(
        &mut self,
        op: &'a Operand,
        cur: &'a Value,
    ) -> Result<Option<&'a Value>, Over> {
        let (segs, base) = match op {
            Operand::Literal(v) => return Ok(Some(v)),
            Operand::Current(s) => (s, cur),
            Operand::Root(s) => {
                let key: *const Operand = op;
                if let Some((_, v)) = self.memo.iter().find(|(k, _)| *k == key) {
                    return Ok(*v);
                }
                (s, self.root)
            }
        };
        let mut out = Vec::new();
        self.select(segs, base, &mut out)?;
        let first = out.into_iter().next();
        if matches!(op, Operand::Root(_)) {
            self.memo.push((op, first));
        }
        Ok(first)
    }

    fn filter_matches(&mut self, f: &'a Filter, cur: &'a Value) -> Result<bool, Over> {
        Ok(match f {
            Filter::Or(fs) => {
                for f in fs {
                    if self.filter_matches(f, cur)? {
                        return Ok(true);
                    }
                }
                false
            }
            Filter::And(fs) => {
                for f in fs {
                    if !self.filter_matches(f, cur)? {
                        return Ok(false);
                    }
                }
                true
            }
            Filter::Not(f) => !self.filter_matches(f, cur)?,
            Filter::Exists(op) => self.operand_value(op, cur)?.is_some(),
            Filter::Cmp(a, op, b) => {
                let (Some(a), Some(b)) = (self.operand_value(a, cur)?, self.operand_value(b, cur)?)
                else {
                    return Ok(false);
                };
                compare(a, *op, b)
            }
        })
    }
}

/// The number starting at `pos` (a digit or `-`), with the position after it: filters and
/// intrinsic arguments write numbers the same way. The text is returned when it is no number.
pub(crate) fn number_literal(
    chars: &[char],
    pos: usize,
) -> (Result<serde_json::Number, String>, usize) {
    let end = pos
        + 1
        + chars[pos + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
            .count();
    let text: String = chars[pos..end].iter().collect();
    (serde_json::from_str(&text).map_err(|_| text), end)
}

/// `true`, `false` or `null` at `pos`, with the position after it: the bare-word literals
/// both filter expressions and intrinsic arguments accept.
pub(crate) fn keyword_literal(chars: &[char], pos: usize) -> Option<(Value, usize)> {
    [
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("null", Value::Null),
    ]
    .into_iter()
    .find_map(|(word, v)| {
        let end = pos + word.len();
        (end <= chars.len() && chars[pos..end].iter().copied().eq(word.chars())).then_some((v, end))
    })
}

fn index(a: &[Value], i: i64) -> Option<&Value> {
    let len = i64::try_from(a.len()).ok()?;
    let i = if i < 0 { len + i } else { i };
    usize::try_from(i).ok().and_then(|i| a.get(i))
}

fn slice_indices(
    len: usize,
    start: Option<i64>,
    end: Option<i64>,
    step: Option<i64>,
) -> Vec<usize> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let step = step.unwrap_or(1);
    if step <= 0 {
        return Vec::new();
    }
    let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
    let start = start.map_or(0, clamp);
    let end = end.map_or(len, clamp);
    let mut out = Vec::new();
    let mut i = start;
    while i < end {
        if let Ok(u) = usize::try_from(i) {
            out.push(u);
        }
        i = i.saturating_add(step);
    }
    out
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => {
            return match op {
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
                _ => false,
            };
        }
    };
    match (op, ord) {
        (CmpOp::Eq, Some(o)) => o == Ordering::Equal,
        (CmpOp::Ne, Some(o)) => o != Ordering::Equal,
        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
        (_, None) => false,
    }
}

struct Parser<'t> {
    chars: Vec<char>,
    pos: usize,
    text: &'t str,
    /// Nesting of filter parentheses and negations, bounded so hostile paths cannot exhaust the stack.
    depth: usize,
}

const MAX_FILTER_DEPTH: usize = 32;

impl Parser<'_> {
    fn error(&self, what: &str) -> PathSyntaxError {
        PathSyntaxError(format!(
            "invalid JSONPath '{}': {what} at position {}",
            clip(self.text),
            self.pos + 1
        ))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Parses segments until the end, or (inside a filter) until a character that ends an operand.
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Segment>, PathSyntaxError> {
        let mut segs = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    let inner = if self.peek() == Some('[') {
                        self.bracket()?
                    } else {
                        self.dot_member()?
                    };
                    segs.push(Segment::Descend(Box::new(inner)));
                }
                '.' => {
                    self.pos += 1;
                    segs.push(self.dot_member()?);
                }
                '[' => segs.push(self.bracket()?),
                _ if in_filter => break,
                _ => return Err(self.error("expected '.' or '['")),
            }
        }
        Ok(segs)
    }

    fn dot_member(&mut self) -> Result<Segment, PathSyntaxError> {
        if self.eat('*') {
            return Ok(Segment::Wildcard);
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if matches!(
                c,
                '.' | '[' | ']' | '(' | ')' | '\'' | '"' | ',' | '=' | '!' | '<' | '>' | '&' | '|'
            ) || c.is_whitespace()
            {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a field name"));
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if self.peek() == Some('(') {
            return Err(self.error("functions are not supported"));
        }
        Ok(Segment::Child(name))
    }

    fn quoted(&mut self) -> Result<String, PathSyntaxError> {
        let Some(q) = self.peek().filter(|c| *c == '\'' || *c == '"') else {
            return Err(self.error("expected a quote"));
        };
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => s.push(c),
                        None => return Err(self.error("unterminated string")),
                    }
                    self.pos += 1;
                }
                Some(c) if c == q => {
                    self.pos += 1;
                    return Ok(s);
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn integer(&mut self) -> Result<Option<i64>, PathSyntaxError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Ok(None);
        }
        let s: String = self.chars[start..self.pos].iter().collect();
        s.parse::<i64>()
            .map(Some)
            .map_err(|_| self.error("invalid number"))
    }

    fn bracket(&mut self) -> Result<Segment, PathSyntaxError> {
        self.pos += 1; // '['
        self.skip_ws();
        let seg = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Segment::Wildcard
            }
            Some('?') => {
                self.pos += 1;
                self.skip_ws();
                if !self.eat('(') {
                    return Err(self.error("expected '(' after '?'"));
                }
                let f = self.filter_or()?;
                self.skip_ws();
                if !self.eat(')') {
                    return Err(self.error("expected ')' closing the filter"));
                }
                Segment::Filter(f)
            }
            Some('\'') | Some('"') => {
                let mut names = vec![Selector::Name(self.quoted()?)];
                self.skip_ws();
                while self.eat(',') {
                    self.skip_ws();
                    names.push(Selector::Name(self.quoted()?));
                    self.skip_ws();
                }
                match names.as_slice() {
                    [Selector::Name(n)] => Segment::Child(n.clone()),
                    _ => Segment::Union(names),
                }
            }
            _ => {
                let first = self.integer()?;
                self.skip_ws();
                if self.peek() == Some(':') {
                    self.pos += 1;
                    let end = self.integer()?;
                    self.skip_ws();
                    let step = if self.eat(':') { self.integer()? } else { None };
                    Segment::Slice(first, end, step)
                } else if let Some(first) = first {
                    let mut idx = vec![Selector::Index(first)];
                    while self.eat(',') {
                        match self.integer()? {
                            Some(i) => idx.push(Selector::Index(i)),
                            None => return Err(self.error("expected an index")),
                        }
                        self.skip_ws();
                    }
                    match idx.as_slice() {
                        [Selector::Index(i)] => Segment::Index(*i),
                        _ => Segment::Union(idx),
                    }
                } else {
                    return Err(self.error("expected an index, a quoted name, '*' or a filter"));
                }
            }
        };
        self.skip_ws();
        if !self.eat(']') {
            return Err(self.error("expected ']'"));
        }
        Ok(seg)
    }

    fn filter_or(&mut self) -> Result<Filter, PathSyntaxError> {
        let mut items = vec![self.filter_and()?];
        loop {
            self.skip_ws();
            if self.peek() == Some('|') && self.peek_at(1) == Some('|') {
                self.pos += 2;
                items.push(self.filter_and()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Filter::Or(items)
        })
    }

    fn filter_and(&mut self) -> Result<Filter, PathSyntaxError> {
        let mut items = vec![self.filter_unary()?];
        loop {
            self.skip_ws();
            if self.peek() == Some('&') && self.peek_at(1) == Some('&') {
                self.pos += 2;
                items.push(self.filter_unary()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Filter::And(items)
        })
    }

    fn filter_unary(&mut self) -> Result<Filter, PathSyntaxError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.error("filter nests too deeply"));
        }
        let f = self.filter_unary_inner();
        self.depth -= 1;
        f
    }

    fn filter_unary_inner(&mut self) -> Result<Filter, PathSyntaxError> {
        self.skip_ws();
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.pos += 1;
            return Ok(Filter::Not(Box::new(self.filter_unary()?)));
        }
        if self.eat('(') {
            let f = self.filter_or()?;
            self.skip_ws();
            if !self.eat(')') {
                return Err(self.error("expected ')'"));
            }
            return Ok(f);
        }
        let left = self.operand()?;
        self.skip_ws();
        let op = match (self.peek(), self.peek_at(1)) {
            (Some('='), Some('=')) => Some((CmpOp::Eq, 2)),
            (Some('!'), Some('=')) => Some((CmpOp::Ne, 2)),
            (Some('<'), Some('=')) => Some((CmpOp::Le, 2)),
            (Some('>'), Some('=')) => Some((CmpOp::Ge, 2)),
            (Some('<'), _) => Some((CmpOp::Lt, 1)),
            (Some('>'), _) => Some((CmpOp::Gt, 1)),
            _ => None,
        };
        match op {
            Some((op, n)) => {
                self.pos += n;
                let right = self.operand()?;
                Ok(Filter::Cmp(left, op, right))
            }
            None if matches!(left, Operand::Literal(_)) => Err(self.error("expected a comparison")),
            None => Ok(Filter::Exists(left)),
        }
    }

    fn operand(&mut self) -> Result<Operand, PathSyntaxError> {
        self.skip_ws();
        match self.peek() {
            Some('@') => {
                self.pos += 1;
                Ok(Operand::Current(self.segments(true)?))
            }
            Some('$') => {
                self.pos += 1;
                Ok(Operand::Root(self.segments(true)?))
            }
            Some('\'') | Some('"') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let (number, end) = number_literal(&self.chars, self.pos);
                self.pos = end;
                number
                    .map(|n| Operand::Literal(Value::Number(n)))
                    .map_err(|_| self.error("invalid number"))
            }
            _ => match keyword_literal(&self.chars, self.pos) {
                Some((v, end)) => {
                    self.pos = end;
                    Ok(Operand::Literal(v))
                }
                None => Err(self.error("expected '@', '$' or a literal in the filter")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(p: &str, doc: &Value) -> Option<Value> {
        Path::parse(p)
            .expect("valid path")
            .eval(doc)
            .expect("within the budgets")
    }

    #[test]
    fn definite_paths() {
        let doc = json!({"a": {"b": [10, {"c": "x"}]}, "k y": 1});
        assert_eq!(eval("$", &doc), Some(doc.clone()));
        assert_eq!(eval("$.a.b[0]", &doc), Some(json!(10)));
        assert_eq!(eval("$['a']['b'][1].c", &doc), Some(json!("x")));
        assert_eq!(eval("$.a.missing", &doc), None);
        assert_eq!(eval("$.a.b[5]", &doc), None);
        assert_eq!(eval("$['k y']", &doc), Some(json!(1)));
    }

    #[test]
    fn indefinite_paths() {
        let doc =
            json!({"items": [{"v": 1, "n": "a"}, {"v": 5, "n": "b"}, {"v": 9}], "x": {"v": 2}});
        assert_eq!(eval("$.items[*].v", &doc), Some(json!([1, 5, 9])));
        assert_eq!(eval("$.items[*].n", &doc), Some(json!(["a", "b"])));
        assert_eq!(eval("$..v", &doc), Some(json!([1, 5, 9, 2])));
        assert_eq!(
            eval("$.items[1:]", &doc),
            Some(json!([{"v": 5, "n": "b"}, {"v": 9}]))
        );
        assert_eq!(eval("$.items[-1:].v", &doc), Some(json!([9])));
        assert_eq!(eval("$.items[?(@.v > 2)].v", &doc), Some(json!([5, 9])));
        assert_eq!(eval("$.items[?(@.n == 'b')].v", &doc), Some(json!([5])));
        assert_eq!(eval("$.items[?(@.n)].v", &doc), Some(json!([1, 5])));
        assert_eq!(
            eval("$.items[?(@.v >= 5 && @.n)].n", &doc),
            Some(json!(["b"]))
        );
        assert_eq!(eval("$.items[0,2].v", &doc), Some(json!([1, 9])));
        assert_eq!(eval("$.nothing[*]", &doc), Some(json!([])));
    }

    #[test]
    fn reference_paths_reject_indefinite_forms() {
        assert!(Path::parse_reference("$.a.b[0]").is_ok());
        for bad in [
            "$.a[*]",
            "$..a",
            "$.a[1:2]",
            "$.a[?(@.x)]",
            "a.b",
            "$.a[",
            "$.a.length()",
        ] {
            assert!(
                Path::parse_reference(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn set_creates_missing_objects_and_rejects_scalars() {
        let p = Path::parse_reference("$.a.b.c").expect("path");
        assert_eq!(
            p.set(json!({"x": 1}), json!(2)),
            Ok(json!({"x": 1, "a": {"b": {"c": 2}}}))
        );
        assert!(p.set(json!("str"), json!(2)).is_err());
        assert!(p.set(json!({"a": 3}), json!(2)).is_err());
        let idx = Path::parse_reference("$.l[1]").expect("path");
        assert_eq!(
            idx.set(json!({"l": [0, 0]}), json!(7)),
            Ok(json!({"l": [0, 7]}))
        );
        assert!(idx.set(json!({"l": [0]}), json!(7)).is_err());
    }

    #[test]
    fn evaluation_budgets_name_the_path() {
        // Deeper than the recursion budget: `..` reports it instead of overflowing the stack.
        let mut deep = json!({"x": 1});
        for _ in 0..MAX_PATH_DEPTH {
            deep = Value::Array(vec![deep]);
        }
        let err = Path::parse("$..x").expect("path").eval(&deep);
        assert_eq!(
            err,
            Err(
                "The JSONPath '$..x' nests more than 1000 levels deep while it is evaluated".into()
            )
        );
        // 2,000 items nested 10 deep: `$..*` selects 20,000 values, `$..*..*..*` would
        // select about 330,000.
        let item = |i: i32| (0..10).fold(json!(i), |v, _| Value::Array(vec![v]));
        let wide = Value::Array((0..2_000).map(item).collect());
        assert!(Path::parse("$..*").expect("path").eval(&wide).is_ok());
        let err = Path::parse("$..*..*..*").expect("path").eval(&wide);
        assert!(
            err.as_ref()
                .is_err_and(|e| e.contains("selects more than 100000 values")),
            "{err:?}"
        );
    }

    #[test]
    fn deeply_nested_path_text_is_refused_not_overflowed() {
        for text in [
            format!("$[?({}@.a{})]", "(".repeat(50_000), ")".repeat(50_000)),
            format!("$[?({}@.a)]", "!".repeat(50_000)),
            format!("${}", "[?(@".repeat(50_000)),
        ] {
            let err = Path::parse(&text).expect_err("too deep");
            assert!(err.0.contains("nests too deeply"), "{}", err.0);
        }
        let long = format!("${}", ".a".repeat(MAX_PATH_SEGMENTS + 1));
        assert!(Path::parse(&long).is_err());
        let ok = format!("${}", ".a".repeat(MAX_PATH_SEGMENTS));
        assert!(Path::parse(&ok).is_ok());
    }

    #[test]
    fn normalized_form_matches_jayway() {
        assert_eq!(
            Path::parse("$.a[0].b").expect("path").normalized(),
            "$['a'][0]['b']"
        );
    }
}
