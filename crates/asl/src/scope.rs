//! What paths read while a state runs: its effective input, the workflow variables and (built
//! only when a path asks for it) the context object.

use crate::error::{Failure, clip};
use crate::json::Value;
use crate::jsonpath::{Path, Root};
use crate::value::quote_value;
use crate::vars::Vars;
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
