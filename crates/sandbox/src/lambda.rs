//! Lambda as the state machine meets it: the account's concurrency (an invocation that finds
//! every slot busy is throttled, `Lambda.TooManyRequestsException`) and outages of one function
//! (`Lambda.ServiceException` for a window of virtual time), so `scanflow run` can show how the
//! workflow's retries, failures and redrives behave under load and faults.
//!
//! Executions run one after another on their own virtual clocks, so admission checks a whole
//! invocation interval against every interval admitted so far: the admitted set never has
//! more than `concurrency` invocations running at any instant, whichever order they came in.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use scanflow_core::step::FUNCTIONS;

use crate::SandboxError;
use crate::lock;

/// Lambda's own ceiling for an account's concurrency quota (it can be raised to tens of
/// thousands; the sandbox stops at what a scenario can sensibly simulate).
pub const MAX_CONCURRENCY: u32 = 100_000;
/// Lambda's maximum function timeout, 15 minutes.
pub const MAX_INVOCATION_MILLIS: u32 = 900_000;

/// The scenario's `hub.lambda`: absent, every invocation is admitted and takes no time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LambdaSpec {
    /// Concurrent executions the scan functions share (the account's unreserved concurrency).
    /// Absent: unlimited. The notifier has its own reserved concurrency and is never throttled
    /// by the scan functions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// How long each invocation holds its slot, in virtual milliseconds.
    #[serde(default = "default_invocation_millis")]
    pub invocation_millis: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<OutageSpec>,
}

/// One function failing every invocation for a while, counted from the run's start time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutageSpec {
    /// The function as the template names its binary (`scanflow_core::step::FUNCTIONS`).
    pub function: String,
    #[serde(default)]
    pub from_seconds: u32,
    pub until_seconds: u32,
    /// The error Step Functions sees (a Lambda service error by default).
    #[serde(default = "default_outage_error")]
    pub error: String,
}

fn default_invocation_millis() -> u32 {
    1_000
}

fn default_outage_error() -> String {
    "Lambda.ServiceException".into()
}

impl LambdaSpec {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        if let Some(c) = self.concurrency
            && !(1..=MAX_CONCURRENCY).contains(&c)
        {
            return Err(SandboxError::scenario(
                "hub.lambda.concurrency",
                format!("expected 1 to {MAX_CONCURRENCY} concurrent executions, got {c}"),
            ));
        }
        if !(1..=MAX_INVOCATION_MILLIS).contains(&self.invocation_millis) {
            return Err(SandboxError::scenario(
                "hub.lambda.invocationMillis",
                format!(
                    "expected 1 to {MAX_INVOCATION_MILLIS} ms (Lambda's 15-minute timeout), got {}",
                    self.invocation_millis
                ),
            ));
        }
        for (i, o) in self.outages.iter().enumerate() {
            let at = format!("hub.lambda.outages[{i}]");
            if !FUNCTIONS.contains(&o.function.as_str()) {
                return Err(SandboxError::scenario(
                    format!("{at}.function"),
                    format!(
                        "expected one of {}, got {:?}",
                        FUNCTIONS.join(", "),
                        o.function
                    ),
                ));
            }
            if o.until_seconds <= o.from_seconds {
                return Err(SandboxError::scenario(
                    format!("{at}.untilSeconds"),
                    format!(
                        "expected more than fromSeconds ({}), got {}",
                        o.from_seconds, o.until_seconds
                    ),
                ));
            }
            let named = !o.error.is_empty()
                && o.error.len() <= 256
                && o.error
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.');
            if !named {
                return Err(SandboxError::scenario(
                    format!("{at}.error"),
                    format!(
                        "expected an error name such as Lambda.ServiceException, got {:?}",
                        o.error
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Why Lambda did not run an invocation, as Step Functions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub error: String,
    pub cause: String,
}

/// The account's Lambda service over virtual time.
pub struct LambdaSim {
    spec: Option<LambdaSpec>,
    origin: Mutex<Option<OffsetDateTime>>,
    /// Admitted invocations: start → ends.
    busy: Mutex<BTreeMap<OffsetDateTime, Vec<OffsetDateTime>>>,
    throttled: Mutex<u64>,
    peak: Mutex<u32>,
}

impl LambdaSim {
    pub(crate) fn new(spec: Option<LambdaSpec>) -> Self {
        Self {
            spec,
            origin: Mutex::new(None),
            busy: Mutex::new(BTreeMap::new()),
            throttled: Mutex::new(0),
            peak: Mutex::new(0),
        }
    }

    /// Outages are counted from here (the run's start time).
    pub fn set_origin(&self, t: OffsetDateTime) {
        *lock(&self.origin) = Some(t);
    }

    /// Invocations refused for concurrency so far.
    pub fn throttled(&self) -> u64 {
        *lock(&self.throttled)
    }

    /// The most invocations admitted at one instant.
    pub fn peak_concurrency(&self) -> u32 {
        *lock(&self.peak)
    }

    /// Asks Lambda to run `function` at `at`: how long the invocation takes, or why it was
    /// refused. `notify` runs on its own reserved concurrency: never throttled here.
    pub fn invoke(&self, function: &str, at: OffsetDateTime) -> Result<Duration, Refused> {
        let Some(spec) = &self.spec else {
            return Ok(Duration::ZERO);
        };
        if let Some(o) = self.outage(spec, function, at) {
            return Err(Refused {
                error: o.error.clone(),
                cause: format!(
                    "{{\"errorType\":\"{}\",\"errorMessage\":\"the {function} function is failing (a simulated outage until +{}s)\"}}",
                    o.error, o.until_seconds
                ),
            });
        }
        let duration = Duration::milliseconds(i64::from(spec.invocation_millis));
        let (Some(limit), false) = (spec.concurrency, function == "notify") else {
            return Ok(duration);
        };
        let end = at.checked_add(duration).unwrap_or(at);
        let mut busy = lock(&self.busy);
        let peak = peak_within(&busy, at, end, duration);
        if peak >= limit {
            *lock(&self.throttled) += 1;
            return Err(Refused {
                error: "Lambda.TooManyRequestsException".into(),
                cause: "Rate Exceeded. (Service: Lambda, Status Code: 429, Error Code: \
                        TooManyRequestsException, Reason: ConcurrentInvocationLimitExceeded)"
                    .into(),
            });
        }
        busy.entry(at).or_default().push(end);
        let mut top = lock(&self.peak);
        *top = (*top).max(peak + 1);
        Ok(duration)
    }

    fn outage<'s>(
        &self,
        spec: &'s LambdaSpec,
        function: &str,
        at: OffsetDateTime,
    ) -> Option<&'s OutageSpec> {
        let origin = (*lock(&self.origin))?;
        let since = (at - origin).whole_seconds();
        spec.outages.iter().find(|o| {
            o.function == function
                && since >= i64::from(o.from_seconds)
                && since < i64::from(o.until_seconds)
        })
    }
}

/// The most admitted invocations running at one instant of `[from, to)`. Every interval lasts
/// `longest` at most, so only those starting after `from - longest` can overlap.
fn peak_within(
    busy: &BTreeMap<OffsetDateTime, Vec<OffsetDateTime>>,
    from: OffsetDateTime,
    to: OffsetDateTime,
    longest: Duration,
) -> u32 {
    let earliest = from.checked_sub(longest).unwrap_or(from);
    let overlapping: Vec<(OffsetDateTime, OffsetDateTime)> = busy
        .range(earliest..to)
        .flat_map(|(s, ends)| ends.iter().map(move |e| (*s, *e)))
        .filter(|(s, e)| *s < to && *e > from)
        .collect();
    // The count only rises at a start, so the peak is at `from` or at a start inside.
    std::iter::once(from)
        .chain(overlapping.iter().map(|(s, _)| *s).filter(|s| *s > from))
        .map(|p| {
            overlapping
                .iter()
                .filter(|(s, e)| *s <= p && p < *e)
                .count()
        })
        .max()
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(concurrency: u32) -> LambdaSim {
        LambdaSim::new(Some(LambdaSpec {
            concurrency: Some(concurrency),
            invocation_millis: 1_000,
            outages: vec![OutageSpec {
                function: "publish".into(),
                from_seconds: 60,
                until_seconds: 120,
                error: "Lambda.ServiceException".into(),
            }],
        }))
    }

    fn t(ms: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms)
    }

    #[test]
    fn concurrency_is_never_exceeded_at_the_limit_and_one_past_it() {
        let l = sim(2);
        assert!(l.invoke("start-run", t(0)).is_ok());
        assert!(l.invoke("start-run", t(500)).is_ok());
        // A third would overlap both.
        let refused = l.invoke("format", t(600)).expect_err("throttled");
        assert_eq!(refused.error, "Lambda.TooManyRequestsException");
        // Starting before the others but running into them is refused too.
        assert!(l.invoke("format", t(-400)).is_err());
        // Once the first has ended there is room.
        assert!(l.invoke("format", t(1_000)).is_ok());
        assert_eq!(l.throttled(), 2);
        assert_eq!(l.peak_concurrency(), 2);
        // The notifier has its own reserved concurrency.
        assert!(l.invoke("notify", t(1_100)).is_ok());
    }

    #[test]
    fn outages_cover_their_window_only() {
        let l = sim(100);
        l.set_origin(t(0));
        assert!(l.invoke("publish", t(59_999)).is_ok());
        let refused = l.invoke("publish", t(60_000)).expect_err("outage");
        assert_eq!(refused.error, "Lambda.ServiceException");
        assert!(l.invoke("format", t(60_000)).is_ok());
        assert!(l.invoke("publish", t(120_000)).is_ok());
    }

    #[test]
    fn without_a_spec_everything_runs_at_once_in_no_time() {
        let l = LambdaSim::new(None);
        for _ in 0..1_000 {
            assert_eq!(l.invoke("start-run", t(0)), Ok(Duration::ZERO));
        }
    }

    #[test]
    fn specs_are_validated_naming_the_field() {
        let mut spec = LambdaSpec {
            concurrency: Some(0),
            invocation_millis: 1,
            outages: vec![],
        };
        let e = spec.validate().expect_err("zero");
        assert_eq!(e.field(), Some("hub.lambda.concurrency"));
        spec.concurrency = Some(MAX_CONCURRENCY);
        assert!(spec.validate().is_ok());
        spec.concurrency = Some(MAX_CONCURRENCY + 1);
        assert!(spec.validate().is_err());
        spec.concurrency = None;
        spec.invocation_millis = MAX_INVOCATION_MILLIS + 1;
        assert_eq!(
            spec.validate().expect_err("long").field(),
            Some("hub.lambda.invocationMillis")
        );
        spec.invocation_millis = MAX_INVOCATION_MILLIS;
        spec.outages.push(OutageSpec {
            function: "publsh".into(),
            from_seconds: 0,
            until_seconds: 1,
            error: "X".into(),
        });
        assert_eq!(
            spec.validate().expect_err("typo").field(),
            Some("hub.lambda.outages[0].function")
        );
    }
}
