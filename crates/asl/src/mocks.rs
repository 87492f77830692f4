//! AWS Step Functions Local mock configuration (`StateMachines` → `TestCases` → mocked
//! responses by invocation index) turned into a [`TaskHandler`].

use crate::{TaskCall, TaskHandler, TaskOutcome};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Why a mock configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("cannot read mock file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("mock file is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid mock configuration at {at}: {message}")]
    Invalid { at: String, message: String },
    #[error(
        "mock file has no state machine '{wanted}' (it has: {available}); name the definition file after one of them"
    )]
    NoMachine { wanted: String, available: String },
    #[error(
        "state machine '{machine}' has no test case '{case}' in the mock file (it has: {available})"
    )]
    NoTestCase {
        machine: String,
        case: String,
        available: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Response {
    Return(Value),
    Throw { error: String, cause: String },
}

/// One mocked response's invocation ranges (inclusive, 0-based).
#[derive(Debug, Clone, PartialEq)]
struct Responses(Vec<(u32, u32, Response)>);

impl Responses {
    fn at(&self, invocation: u32) -> Option<&Response> {
        self.0
            .iter()
            .find(|(lo, hi, _)| (*lo..=*hi).contains(&invocation))
            .map(|(_, _, r)| r)
    }
}

/// A parsed, checked mock configuration.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// machine → test case → state → mocked response name.
    machines: HashMap<String, HashMap<String, HashMap<String, String>>>,
    responses: HashMap<String, Responses>,
}

impl MockConfig {
    pub fn from_file(path: &Path) -> Result<MockConfig, MockError> {
        let text = std::fs::read_to_string(path).map_err(|source| MockError::Read {
            path: path.display().to_string(),
            source,
        })?;
        MockConfig::from_value(&serde_json::from_str(&text)?)
    }

    pub fn from_value(v: &Value) -> Result<MockConfig, MockError> {
        let invalid = |at: &str, message: &str| MockError::Invalid {
            at: at.to_string(),
            message: message.to_string(),
        };
        let machines_v = v
            .get("StateMachines")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("StateMachines", "must be an object of state machine names"))?;
        let responses_v = v
            .get("MockedResponses")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                invalid(
                    "MockedResponses",
                    "must be an object of mocked response names",
                )
            })?;
        let mut responses = HashMap::new();
        for (name, r) in responses_v {
            let at = format!("MockedResponses.{name}");
            let obj = r
                .as_object()
                .ok_or_else(|| invalid(&at, "must be an object keyed by invocation index"))?;
            let mut list = Vec::new();
            for (key, resp) in obj {
                let at = format!("{at}.{key}");
                let (lo, hi) = parse_range(key).ok_or_else(|| {
                    invalid(
                        &at,
                        "keys must be an index like \"0\" or a range like \"1-2\"",
                    )
                })?;
                let resp = match (resp.get("Return"), resp.get("Throw")) {
                    (Some(v), None) => Response::Return(v.clone()),
                    (None, Some(t)) => Response::Throw {
                        error: t
                            .get("Error")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        cause: t
                            .get("Cause")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    },
                    _ => return Err(invalid(&at, "must hold exactly one of Return or Throw")),
                };
                if let Some((_, _, _)) = list
                    .iter()
                    .find(|(l, h, _): &&(u32, u32, Response)| lo <= *h && *l <= hi)
                {
                    return Err(invalid(&at, "overlaps another invocation range"));
                }
                list.push((lo, hi, resp));
            }
            responses.insert(name.clone(), Responses(list));
        }
        let mut machines = HashMap::new();
        for (machine, m) in machines_v {
            let at = format!("StateMachines.{machine}.TestCases");
            let cases = m
                .get("TestCases")
                .and_then(Value::as_object)
                .ok_or_else(|| invalid(&at, "must be an object of test cases"))?;
            let mut parsed = HashMap::new();
            for (case, states) in cases {
                let at = format!("{at}.{case}");
                let states = states
                    .as_object()
                    .ok_or_else(|| invalid(&at, "must map state names to mocked response names"))?;
                let mut map = HashMap::new();
                for (state, resp) in states {
                    let at = format!("{at}.{state}");
                    let resp = resp
                        .as_str()
                        .ok_or_else(|| invalid(&at, "must be a mocked response name"))?;
                    if !responses.contains_key(resp) {
                        return Err(invalid(
                            &at,
                            &format!(
                                "names mocked response '{resp}', which is not in MockedResponses"
                            ),
                        ));
                    }
                    map.insert(state.clone(), resp.to_string());
                }
                parsed.insert(case.clone(), map);
            }
            machines.insert(machine.clone(), parsed);
        }
        Ok(MockConfig {
            machines,
            responses,
        })
    }

    /// The handler for one test case. `machine` picks the state machine when the file has
    /// several; with one, it is used whatever its name.
    pub fn handler(&self, machine: &str, test_case: &str) -> Result<MockHandler, MockError> {
        let mut names: Vec<&String> = self.machines.keys().collect();
        names.sort();
        let cases = match (self.machines.get(machine), self.machines.len()) {
            (Some(c), _) => c,
            (None, 1) => self
                .machines
                .values()
                .next()
                .unwrap_or_else(|| unreachable!("one machine")),
            _ => {
                return Err(MockError::NoMachine {
                    wanted: machine.to_string(),
                    available: names
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        };
        let case = cases.get(test_case).ok_or_else(|| {
            let mut available: Vec<&str> = cases.keys().map(String::as_str).collect();
            available.sort();
            MockError::NoTestCase {
                machine: machine.to_string(),
                case: test_case.to_string(),
                available: available.join(", "),
            }
        })?;
        let states = case
            .iter()
            .map(|(state, resp)| (state.clone(), self.responses[resp].clone()))
            .collect();
        Ok(MockHandler {
            test_case: test_case.to_string(),
            states,
            invocations: HashMap::new(),
        })
    }
}

fn parse_range(key: &str) -> Option<(u32, u32)> {
    match key.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a <= b).then_some((a, b))
        }
        None => key.trim().parse().ok().map(|n| (n, n)),
    }
}

/// Answers task invocations from one test case, counting invocations per state.
#[derive(Debug, Clone)]
pub struct MockHandler {
    test_case: String,
    states: HashMap<String, Responses>,
    invocations: HashMap<String, u32>,
}

/// The error a task gets when the test case does not cover it.
pub const MOCK_MISSING: &str = "Mock.NotFound";

impl TaskHandler for MockHandler {
    fn invoke(&mut self, call: &TaskCall<'_>) -> TaskOutcome {
        let count = self
            .invocations
            .entry(call.state_name.to_string())
            .or_insert(0);
        let n = *count;
        *count += 1;
        let Some(responses) = self.states.get(call.state_name) else {
            return TaskOutcome::Failed {
                error: MOCK_MISSING.into(),
                cause: format!(
                    "test case '{}' has no mocked response for task state '{}'",
                    self.test_case, call.state_name
                ),
            };
        };
        match responses.at(n) {
            Some(Response::Return(v)) => TaskOutcome::Succeeded(v.clone()),
            Some(Response::Throw { error, cause }) => TaskOutcome::Failed {
                error: error.clone(),
                cause: cause.clone(),
            },
            None => TaskOutcome::Failed {
                error: MOCK_MISSING.into(),
                cause: format!(
                    "test case '{}' has no mocked response for invocation {n} of task state '{}'",
                    self.test_case, call.state_name
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    static NULL: crate::json::Value = crate::json::Value::Null;

    fn call<'a>(state: &'a str, input: &'a Value) -> TaskCall<'a> {
        TaskCall {
            state_name: state,
            resource: "arn:x",
            input,
            json_input: &NULL,
            now: OffsetDateTime::UNIX_EPOCH,
            attempt: 0,
        }
    }

    #[test]
    fn responses_follow_invocation_ranges() {
        let cfg = MockConfig::from_value(&serde_json::json!({
            "StateMachines": {"m": {"TestCases": {"happy": {"T": "R"}}}},
            "MockedResponses": {"R": {"0": {"Throw": {"Error": "E", "Cause": "c"}}, "1-2": {"Return": {"ok": 1}}}}
        }))
        .expect("valid");
        let mut h = cfg.handler("whatever", "happy").expect("case");
        let input = serde_json::json!({});
        assert_eq!(
            h.invoke(&call("T", &input)),
            TaskOutcome::Failed {
                error: "E".into(),
                cause: "c".into()
            }
        );
        assert_eq!(
            h.invoke(&call("T", &input)),
            TaskOutcome::Succeeded(serde_json::json!({"ok": 1}))
        );
        assert_eq!(
            h.invoke(&call("T", &input)),
            TaskOutcome::Succeeded(serde_json::json!({"ok": 1}))
        );
        assert!(
            matches!(h.invoke(&call("T", &input)), TaskOutcome::Failed { error, .. } if error == MOCK_MISSING)
        );
        assert!(
            matches!(h.invoke(&call("U", &input)), TaskOutcome::Failed { error, .. } if error == MOCK_MISSING)
        );
    }

    #[test]
    fn bad_configs_are_rejected() {
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"StateMachines": {"m": {"TestCases": {"c": {"T": "Missing"}}}}, "MockedResponses": {}}),
            serde_json::json!({"StateMachines": {}, "MockedResponses": {"R": {"x": {"Return": 1}}}}),
            serde_json::json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1, "Throw": {}}}}}),
            serde_json::json!({"StateMachines": {}, "MockedResponses": {"R": {"0-1": {"Return": 1}, "1": {"Return": 2}}}}),
        ] {
            assert!(MockConfig::from_value(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn machine_is_chosen_by_name_when_several() {
        let cfg = MockConfig::from_value(&serde_json::json!({
            "StateMachines": {"a": {"TestCases": {"c": {}}}, "b": {"TestCases": {"d": {}}}},
            "MockedResponses": {}
        }))
        .expect("valid");
        assert!(cfg.handler("b", "d").is_ok());
        assert!(matches!(
            cfg.handler("x", "d"),
            Err(MockError::NoMachine { .. })
        ));
        assert!(matches!(
            cfg.handler("a", "d"),
            Err(MockError::NoTestCase { .. })
        ));
    }
}
