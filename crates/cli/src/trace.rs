//! The state-by-state trace printed by `scanflow run` and `scanflow executions watch`: one
//! formatter over Step Functions history events, wherever they came from.

use time::OffsetDateTime;

/// A history event reduced to what the trace shows; built from the local engine's history or
/// from `GetExecutionHistory`.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceEvent {
    pub timestamp: OffsetDateTime,
    /// Step Functions' event type name (`TaskStateEntered`, `ExecutionFailed`, ...).
    pub kind: String,
    pub state: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Turns events into lines as they arrive, so a live follower prints each state once it ends.
pub struct Tracer {
    start: Option<OffsetDateTime>,
    entered: Option<(String, OffsetDateTime)>,
    failures_in_state: u32,
    /// The error the state's last attempt ended with; a state exited with it was caught.
    last_error: Option<String>,
}

impl Default for Tracer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracer {
    pub fn new() -> Self {
        Self {
            start: None,
            entered: None,
            failures_in_state: 0,
            last_error: None,
        }
    }

    /// The state entered and not yet left, and when it was entered: what a live follower shows
    /// while a long state (a wait, a poll) runs.
    pub fn current_state(&self) -> Option<(&str, OffsetDateTime)> {
        self.entered
            .as_ref()
            .map(|(state, at)| (state.as_str(), *at))
    }

    /// The line this event completes, if any.
    pub fn feed(&mut self, event: &TraceEvent) -> Option<String> {
        let start = *self.start.get_or_insert(event.timestamp);
        let at = offset(event.timestamp - start);
        let kind = event.kind.as_str();
        if kind.ends_with("StateEntered") {
            self.entered = Some((event.state.clone().unwrap_or_default(), event.timestamp));
            self.failures_in_state = 0;
            self.last_error = None;
            return None;
        }
        if kind.ends_with("StateExited") {
            let (state, since) = self
                .entered
                .take()
                .unwrap_or_else(|| (event.state.clone().unwrap_or_default(), event.timestamp));
            let took = event.timestamp - since;
            let kind_name = kind.trim_end_matches("StateExited");
            let took = if took.is_zero() {
                String::new()
            } else {
                format!("  {}", duration(took))
            };
            let (verdict, note) = match self.last_error.take() {
                Some(error) => (format!("caught {error}"), String::new()),
                None if self.failures_in_state > 0 => (
                    "ok".to_owned(),
                    format!("  (after {} retried error(s))", self.failures_in_state),
                ),
                None => ("ok".to_owned(), String::new()),
            };
            let state = scanflow_core::text::line(&state);
            let verdict = scanflow_core::text::line(&verdict);
            return Some(format!(
                "{at:>10}  {state:<18} {kind_name:<8} {verdict}{took}{note}"
            ));
        }
        match kind {
            "TaskFailed" | "TaskTimedOut" | "LambdaFunctionFailed" | "LambdaFunctionTimedOut" => {
                self.failures_in_state += 1;
                self.last_error = event.error.clone().or_else(|| Some("error".to_owned()));
                let state = scanflow_core::text::line(
                    self.entered.as_ref().map_or("", |(s, _)| s.as_str()),
                );
                Some(format!(
                    "{at:>10}  {state:<18} {:<8} {} {}",
                    "error",
                    scanflow_core::text::line(event.error.as_deref().unwrap_or("?")),
                    summary(event.cause.as_deref())
                ))
            }
            "TaskSucceeded" | "LambdaFunctionSucceeded" => {
                self.last_error = None;
                None
            }
            "ExecutionSucceeded" => Some(format!("{at:>10}  SUCCEEDED")),
            // The history goes on in the same execution: the failed state is entered again.
            "ExecutionRedriven" => Some(format!(
                "{at:>10}  REDRIVEN  resumes at the state that failed, with the same input"
            )),
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted" => {
                let status = match kind {
                    "ExecutionFailed" => "FAILED",
                    "ExecutionTimedOut" => "TIMED_OUT",
                    _ => "ABORTED",
                };
                Some(
                    format!(
                        "{at:>10}  {status}  {} {}",
                        scanflow_core::text::line(event.error.as_deref().unwrap_or("")),
                        summary(event.cause.as_deref())
                    )
                    .trim_end()
                    .to_owned(),
                )
            }
            _ => None,
        }
    }
}

/// The trace of a whole history.
pub fn lines(events: &[TraceEvent]) -> Vec<String> {
    let mut tracer = Tracer::new();
    events.iter().filter_map(|e| tracer.feed(e)).collect()
}

/// The human message of a cause: `errorMessage` of a Lambda error payload, first line, capped.
pub fn summary(cause: Option<&str>) -> String {
    let Some(cause) = cause else {
        return String::new();
    };
    let message = serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| cause.to_owned());
    // The cause may come from anywhere (a tag, an input): no escape sequence reaches the
    // terminal, no line is forged.
    let first = scanflow_core::text::line(message.lines().next().unwrap_or_default());
    const MAX: usize = 160;
    if first.chars().count() > MAX {
        format!("{}…", first.chars().take(MAX).collect::<String>())
    } else {
        first
    }
}

fn offset(d: time::Duration) -> String {
    format!("+{}", duration(d))
}

/// `+45s`: time since the start.
pub fn since(start: OffsetDateTime, t: OffsetDateTime) -> String {
    offset(t - start)
}

/// `45s`, `3m05s`, `1h01m`.
pub fn duration(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(secs: i64, kind: &str, state: Option<&str>) -> TraceEvent {
        TraceEvent {
            timestamp: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(secs),
            kind: kind.into(),
            state: state.map(Into::into),
            error: None,
            cause: None,
        }
    }

    #[test]
    fn one_line_per_finished_state_with_retries_noted() {
        let mut failed = ev(1, "TaskFailed", None);
        failed.error = Some("Transient".into());
        failed.cause =
            Some(r#"{"errorType":"Transient","errorMessage":"SNS did not answer\nmore"}"#.into());
        let events = [
            ev(0, "ExecutionStarted", None),
            ev(0, "TaskStateEntered", Some("StartRun")),
            failed,
            ev(2, "TaskSucceeded", None),
            ev(3, "TaskStateExited", Some("StartRun")),
            ev(3, "WaitStateEntered", Some("WaitForScan")),
            ev(3663, "WaitStateExited", Some("WaitForScan")),
            ev(3663, "ExecutionSucceeded", None),
        ];
        let out = lines(&events);
        assert_eq!(out.len(), 4, "{out:#?}");
        assert!(
            out[0].contains("StartRun")
                && out[0].contains("Transient SNS did not answer")
                && !out[0].contains("more")
        );
        assert!(out[1].contains("(after 1 retried error(s))") && out[1].contains("3s"));
        assert!(out[2].contains("WaitForScan") && out[2].contains("1h01m"));
        assert!(out[3].contains("+1h01m") && out[3].ends_with("SUCCEEDED"));
    }

    #[test]
    fn a_caught_error_is_not_reported_as_ok() {
        let mut failed = ev(1, "TaskFailed", None);
        failed.error = Some("ScanFailed".into());
        let out = lines(&[
            ev(0, "TaskStateEntered", Some("CheckStatus")),
            failed,
            ev(1, "TaskStateExited", Some("CheckStatus")),
        ]);
        assert!(
            out[1].contains("caught ScanFailed") && !out[1].contains(" ok"),
            "{out:#?}"
        );
    }

    #[test]
    fn hostile_causes_and_names_cannot_reach_the_terminal_raw() {
        let mut failed = ev(1, "TaskFailed", None);
        failed.error = Some("Bad\u{1b}[31m".into());
        failed.cause = Some(
            r#"{"errorType":"InvalidInput","errorMessage":"tag \u001b]0;pwned\u0007 \u202Efdp.exe\nAccount: 1"}"#
                .into(),
        );
        let out = lines(&[ev(0, "TaskStateEntered", Some("Start\u{202E}Run")), failed]);
        let line = &out[0];
        assert!(!line.contains('\u{1b}') && !line.contains('\u{7}') && !line.contains('\u{202E}'));
        assert!(
            line.contains("<U+001B>") && line.contains("<U+202E>"),
            "{line}"
        );
        assert!(
            !line.contains("Account: 1"),
            "the forged second line is cut: {line}"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(time::Duration::seconds(59)), "59s");
        assert_eq!(duration(time::Duration::seconds(185)), "3m05s");
        assert_eq!(duration(time::Duration::seconds(7260)), "2h01m");
    }
}
