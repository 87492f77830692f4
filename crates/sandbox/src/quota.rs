//! AWS's request quotas as a fleet simulation (`scanflow simulate`) meets them: token buckets
//! for the API calls the handlers make (Security Hub, SNS, Inspector), retried the way the AWS
//! SDK's standard retry mode does inside the invocation, and the account's Lambda concurrency.
//!
//! `scanflow run` builds its sandbox without quotas and nothing here applies. With quotas
//! ([`crate::Sandbox::with_quotas`]), each invocation runs on the calling thread's own
//! [`Invocation`] clock (the sandbox's clock reads it): every API call takes [`API_CALL_MILLIS`] of virtual time and a
//! throttled one waits the SDK's backoff before its next attempt, so an invocation's duration
//! (billed as GB-seconds, holding its Lambda slot) grows with what it waits for.
//!
//! Requests reach the models in virtual-time order as far as one invocation's calls overlap
//! another's in virtual time; a request older than the bucket's last one is charged at the
//! bucket's time, which can only refuse more than AWS would, never less. A simulator running
//! several invocations at once learns how far each has got ([`Progress`]) and runs at once only
//! invocations that draw on no bucket shared between executions ([`begin_invocation`]'s
//! `shared`), so the models see the same requests in the same order as one at a time.

use std::cell::RefCell;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use scanflow_core::ScanError;

use crate::lock;

/// Virtual time every simulated API call takes (an in-Region round trip; an assumption of the
/// model, not an AWS figure).
pub const API_CALL_MILLIS: i64 = 20;
/// The AWS SDK's standard retry mode: three attempts in all, the n-th retry after a random
/// delay of up to `min(1 s × 2^(n-1), 20 s)`.
/// <https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>
pub const SDK_MAX_ATTEMPTS: u32 = 3;
const SDK_BASE_BACKOFF_MILLIS: f64 = 1_000.0;
const SDK_MAX_BACKOFF_MILLIS: f64 = 20_000.0;

/// Whose quota a call draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum QuotaScope {
    /// The calling account in the call's Region (Security Hub, Inspector: each member's own).
    Caller,
    /// The hub account in the hub's Region (SNS, Step Functions: one for the whole fleet).
    Hub,
}

/// One request-rate quota: a token bucket of `burst` tokens refilled at `rate` a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateQuota {
    pub rate: f64,
    pub burst: f64,
    pub scope: QuotaScope,
    /// Where the figure comes from.
    #[serde(default)]
    pub source: String,
}

/// The quotas the simulation applies, keyed `service:Operation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotaSpec {
    /// Concurrent executions the scan functions share (the account's unreserved concurrency).
    pub lambda_concurrency: u32,
    pub rates: BTreeMap<String, RateQuota>,
}

const SECURITY_HUB_SOURCE: &str = "https://docs.aws.amazon.com/securityhub/1.0/APIReference/Welcome.html (throttling limits per operation); BatchImportFindings: https://docs.aws.amazon.com/securityhub/latest/partnerguide/guidelines-batchimportfindings.html";
const SNS_SOURCE: &str = "https://docs.aws.amazon.com/general/latest/gr/sns.html (Publish, standard topics, per account and Region)";
const SFN_SOURCE: &str = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html (API action throttling, StartExecution, Standard)";
const LAMBDA_SOURCE: &str = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (concurrent executions)";
const INSPECTOR_SOURCE: &str = "not published (https://docs.aws.amazon.com/general/latest/gr/inspector2.html lists none): an assumed 10 a second, burst 20, per member account and Region";

/// Lambda's default concurrency quota per account and Region.
pub const DEFAULT_LAMBDA_CONCURRENCY: u32 = 1_000;

impl QuotaSpec {
    /// AWS's default quotas for a hub in `hub_region`.
    pub fn aws_defaults(hub_region: &str) -> Self {
        // Step Functions and SNS give their three largest Regions more.
        let (starts, start_burst) = if matches!(hub_region, "us-east-1" | "us-west-2" | "eu-west-1")
        {
            (300.0, 1_300.0)
        } else {
            (150.0, 800.0)
        };
        let publish = match hub_region {
            "us-east-1" => 30_000.0,
            "us-west-2" | "eu-west-1" => 9_000.0,
            _ => 1_500.0,
        };
        let rate = |rate: f64, burst: f64, scope, source: &str| RateQuota {
            rate,
            burst,
            scope,
            source: source.to_owned(),
        };
        let mut rates = BTreeMap::new();
        for op in ["BatchUpdateFindings", "BatchImportFindings"] {
            rates.insert(
                format!("securityhub:{op}"),
                rate(10.0, 30.0, QuotaScope::Caller, SECURITY_HUB_SOURCE),
            );
        }
        rates.insert(
            "securityhub:GetFindings".into(),
            rate(3.0, 6.0, QuotaScope::Caller, SECURITY_HUB_SOURCE),
        );
        rates.insert(
            "sns:Publish".into(),
            rate(publish, publish, QuotaScope::Hub, SNS_SOURCE),
        );
        rates.insert(
            START_EXECUTION.into(),
            rate(starts, start_burst, QuotaScope::Hub, SFN_SOURCE),
        );
        for op in [
            "inspector2:ListCoverage",
            "inspector2:ListFindings",
            "inspector2:GetMember",
            "inspector2:GetFindingsReportStatus",
            "inspector2:BatchGetAccountStatus",
            "inspector:StartAssessmentRun",
            "inspector:DescribeAssessmentRuns",
            "inspector:ListFindings",
            "inspector:DescribeFindings",
        ] {
            rates.insert(
                op.into(),
                rate(10.0, 20.0, QuotaScope::Caller, INSPECTOR_SOURCE),
            );
        }
        Self {
            lambda_concurrency: DEFAULT_LAMBDA_CONCURRENCY,
            rates,
        }
    }

    /// Where the Lambda concurrency figure comes from.
    pub fn lambda_source() -> &'static str {
        LAMBDA_SOURCE
    }

    /// Checks every figure: positive rates and bursts, a concurrency of at least one.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=crate::lambda::MAX_CONCURRENCY).contains(&self.lambda_concurrency) {
            return Err(format!(
                "lambdaConcurrency: expected 1 to {}, got {}",
                crate::lambda::MAX_CONCURRENCY,
                self.lambda_concurrency
            ));
        }
        for (action, q) in &self.rates {
            let ok = |v: f64| v.is_finite() && v > 0.0 && v <= 1e9;
            if !ok(q.rate) || !ok(q.burst) || q.burst < 1.0 {
                return Err(format!(
                    "rates.{action}: expected a rate above 0 and a burst of at least 1 (at most \
                     1e9 each), got rate {} burst {}",
                    q.rate, q.burst
                ));
            }
        }
        Ok(())
    }
}

/// The quota `StartExecution` draws on (EventBridge's rule target starting the state machine).
pub const START_EXECUTION: &str = "states:StartExecution";

/// A token bucket over virtual time, full at first.
#[derive(Debug, Clone)]
struct TokenBucket {
    tokens: f64,
    at: Option<OffsetDateTime>,
}

impl TokenBucket {
    fn take(&mut self, q: &RateQuota, now: OffsetDateTime) -> bool {
        let now = match self.at {
            // Out of order: charged at the bucket's time (refuses more, never less).
            Some(at) if now < at => at,
            Some(at) => {
                let secs = (now - at).as_seconds_f64();
                self.tokens = (self.tokens + secs * q.rate).min(q.burst);
                now
            }
            None => {
                self.tokens = q.burst;
                now
            }
        };
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// How one quota's refusals went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttles {
    /// Attempts refused.
    pub refused: u64,
    /// Refused attempts the SDK (or EventBridge, or Step Functions) tried again.
    pub retried: u64,
    /// Refused last attempts handed to the caller as an error.
    pub surfaced: u64,
}

/// What the quota models did, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaStats {
    pub throttles: BTreeMap<String, Throttles>,
    pub lambda_peak_concurrency: u32,
    /// Calls that drew on a bucket every execution shares (the hub's) from an invocation
    /// begun as drawing on none: run beside another, its requests could reach the bucket out
    /// of order. Zero unless the simulator's list of such functions is out of date.
    pub shared_calls_unordered: u64,
}

/// The quota models of one simulation.
pub struct Quotas {
    spec: QuotaSpec,
    hub_account: String,
    hub_region: String,
    buckets: Mutex<HashMap<(String, String, String), TokenBucket>>,
    stats: Mutex<QuotaStats>,
    /// Ends of the Lambda invocations holding a slot (`None` while the end is not known yet).
    lambda: Mutex<LambdaSlots>,
}

#[derive(Default)]
struct LambdaSlots {
    /// Ends of ended invocations not yet settled ([`Quotas::lambda_settled`]).
    ends: BinaryHeap<std::cmp::Reverse<OffsetDateTime>>,
    open: u32,
    /// Every ended invocation's start and end, for the peak: counted when the figures are
    /// read, so the peak does not depend on the order invocations were asked for in.
    spans: Vec<(OffsetDateTime, OffsetDateTime)>,
}

/// A Lambda slot held by an invocation in progress; give it back with [`Quotas::lambda_end`].
#[derive(Debug)]
#[must_use]
pub struct LambdaSlot {
    start: OffsetDateTime,
}

thread_local! {
    static INVOCATION: RefCell<Option<Invocation>> = const { RefCell::new(None) };
}

/// The virtual clock of the invocation running on this thread.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub start: OffsetDateTime,
    pub elapsed: Duration,
    /// Actions whose throttling error this invocation's handler was given.
    pub surfaced: Vec<String>,
    rng: u64,
    shared: bool,
    progress: Option<Progress>,
}

/// Told an invocation's virtual time each time its clock moves on (a call made, a backoff
/// waited): nothing it does from then on happens earlier.
#[derive(Clone)]
pub struct Progress(std::sync::Arc<dyn Fn(OffsetDateTime) + Send + Sync>);

impl Progress {
    pub fn new(f: impl Fn(OffsetDateTime) + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// Starts an invocation at `start` on this thread: the sandbox's clock reads its time and
/// its API calls add to its elapsed time. `shared`: it may call what draws on a bucket every
/// execution shares (SNS's, the hub's); `progress` is told its clock as it moves.
pub fn begin_invocation(
    start: OffsetDateTime,
    seed: u64,
    shared: bool,
    progress: Option<Progress>,
) {
    INVOCATION.with(|i| {
        *i.borrow_mut() = Some(Invocation {
            start,
            elapsed: Duration::ZERO,
            surfaced: Vec::new(),
            rng: seed | 1,
            shared,
            progress,
        });
    });
}

/// Ends this thread's invocation: the virtual time its API calls and backoffs took, and the
/// throttles it was handed.
pub fn end_invocation() -> Option<Invocation> {
    INVOCATION.with(|i| i.borrow_mut().take())
}

/// The virtual time in this thread's invocation, if one is running: its start plus what its
/// calls and backoffs have taken so far (SNS stamps a message when it accepts it).
pub(crate) fn invocation_now() -> Option<OffsetDateTime> {
    INVOCATION.with(|i| {
        i.borrow()
            .as_ref()
            .map(|i| i.start.saturating_add(i.elapsed))
    })
}

/// Adds `n` API calls' time to this thread's invocation.
pub(crate) fn spend_calls(n: u64) {
    let ms = i64::try_from(n)
        .unwrap_or(i64::MAX)
        .saturating_mul(API_CALL_MILLIS);
    advance(|_| Duration::milliseconds(ms));
}

/// Moves this thread's invocation clock on by what `by` draws (from its random state), then
/// tells its [`Progress`], outside the borrow of the invocation.
fn advance(by: impl FnOnce(&mut u64) -> Duration) {
    let told = INVOCATION.with(|i| {
        let mut i = i.borrow_mut();
        let inv = i.as_mut()?;
        inv.elapsed = inv.elapsed.saturating_add(by(&mut inv.rng));
        let now = inv.start.saturating_add(inv.elapsed);
        inv.progress.clone().map(|p| (p, now))
    });
    if let Some((progress, now)) = told {
        (progress.0)(now);
    }
}

fn with_invocation<T>(f: impl FnOnce(&mut Invocation) -> T) -> Option<T> {
    INVOCATION.with(|i| i.borrow_mut().as_mut().map(f))
}

/// A uniform draw in [0, 1) from a splitmix64 state.
pub fn unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

impl Quotas {
    pub fn new(spec: QuotaSpec, hub_account: &str, hub_region: &str) -> Self {
        Self {
            spec,
            hub_account: hub_account.to_owned(),
            hub_region: hub_region.to_owned(),
            buckets: Mutex::new(HashMap::new()),
            stats: Mutex::new(QuotaStats::default()),
            lambda: Mutex::new(LambdaSlots::default()),
        }
    }

    pub fn spec(&self) -> &QuotaSpec {
        &self.spec
    }

    pub fn stats(&self) -> QuotaStats {
        let mut stats = lock(&self.stats).clone();
        stats.lambda_peak_concurrency = peak(&lock(&self.lambda).spans);
        stats
    }

    /// One attempt at `action` at `at` for `account` in `region`: `true` when the quota (if
    /// any) has a token for it. Counts a refusal; the caller says whether it retries
    /// ([`Quotas::record_retry`]) or gives up ([`Quotas::record_surfaced`]).
    pub fn try_take(&self, action: &str, account: &str, region: &str, at: OffsetDateTime) -> bool {
        let Some(q) = self.spec.rates.get(action) else {
            return true;
        };
        let (account, region) = match q.scope {
            QuotaScope::Caller => (account, region),
            QuotaScope::Hub => (self.hub_account.as_str(), self.hub_region.as_str()),
        };
        let key = (action.to_owned(), account.to_owned(), region.to_owned());
        let admitted = lock(&self.buckets)
            .entry(key)
            .or_insert(TokenBucket {
                tokens: q.burst,
                at: None,
            })
            .take(q, at);
        if !admitted {
            lock(&self.stats)
                .throttles
                .entry(action.to_owned())
                .or_default()
                .refused += 1;
        }
        admitted
    }

    pub fn record_retry(&self, action: &str) {
        lock(&self.stats)
            .throttles
            .entry(action.to_owned())
            .or_default()
            .retried += 1;
    }

    pub fn record_surfaced(&self, action: &str) {
        lock(&self.stats)
            .throttles
            .entry(action.to_owned())
            .or_default()
            .surfaced += 1;
    }

    /// An API call from the invocation on this thread, retried as the SDK's standard mode
    /// does: up to [`SDK_MAX_ATTEMPTS`] attempts, backing off (on the invocation's clock)
    /// between them. The last refusal is the service's throttling error, which the adapters
    /// report as `Transient`.
    /// Outside an invocation the calls happen at `now`, without backoff.
    pub(crate) fn admit(
        &self,
        action: &str,
        account: &str,
        region: &str,
        now: OffsetDateTime,
    ) -> Result<(), ScanError> {
        let Some(q) = self.spec.rates.get(action) else {
            return Ok(());
        };
        let shared_bucket = q.scope == QuotaScope::Hub || account == self.hub_account;
        if shared_bucket && with_invocation(|i| i.shared) == Some(false) {
            lock(&self.stats).shared_calls_unordered += 1;
        }
        for attempt in 1..=SDK_MAX_ATTEMPTS {
            let at = with_invocation(|i| i.start.saturating_add(i.elapsed)).unwrap_or(now);
            if self.try_take(action, account, region, at) {
                return Ok(());
            }
            if attempt == SDK_MAX_ATTEMPTS {
                break;
            }
            self.record_retry(action);
            let cap = (SDK_BASE_BACKOFF_MILLIS * f64::from(1u32 << (attempt - 1)))
                .min(SDK_MAX_BACKOFF_MILLIS);
            advance(|rng| Duration::milliseconds((unit(rng) * cap) as i64));
        }
        self.record_surfaced(action);
        with_invocation(|i| i.surfaced.push(action.to_owned()));
        let service = action.split(':').next().unwrap_or(action);
        Err(ScanError::Transient {
            service: service.to_owned(),
            detail: format!(
                "ThrottlingException: Rate exceeded calling {action} in account {account} \
                 ({region}) after {SDK_MAX_ATTEMPTS} attempts"
            ),
        })
    }

    /// Asks for a Lambda slot at `at`: `None` (throttled, `TooManyRequestsException`) when every
    /// slot is held by an invocation still running then.
    pub fn lambda_start(&self, at: OffsetDateTime) -> Option<LambdaSlot> {
        let mut slots = lock(&self.lambda);
        if slots.held_after(at) >= self.spec.lambda_concurrency {
            drop(slots);
            lock(&self.stats)
                .throttles
                .entry(LAMBDA_INVOKE.to_owned())
                .or_default()
                .refused += 1;
            return None;
        }
        slots.open += 1;
        Some(LambdaSlot { start: at })
    }

    /// The invocation holding `slot` ends at `end`: the slot is free from then on.
    pub fn lambda_end(&self, slot: LambdaSlot, end: OffsetDateTime) {
        let mut slots = lock(&self.lambda);
        slots.open = slots.open.saturating_sub(1);
        slots.ends.push(std::cmp::Reverse(end));
        slots.spans.push((slot.start, end));
    }

    /// The Lambda slots free for every request from `from` on, counting as held each slot held
    /// now or by an invocation ending after `from`.
    pub fn lambda_free_after(&self, from: OffsetDateTime) -> u32 {
        let held = lock(&self.lambda).held_after(from);
        self.spec.lambda_concurrency.saturating_sub(held)
    }

    /// No Lambda request will come before `before`: the ends up to it are forgotten.
    pub fn lambda_settled(&self, before: OffsetDateTime) {
        let mut slots = lock(&self.lambda);
        while slots.ends.peek().is_some_and(|e| e.0 <= before) {
            slots.ends.pop();
        }
    }
}

impl LambdaSlots {
    /// Slots held at `at`: by invocations in progress, or ended after `at`.
    fn held_after(&self, at: OffsetDateTime) -> u32 {
        let ended_after = self.ends.iter().filter(|e| e.0 > at).count();
        u32::try_from(ended_after)
            .unwrap_or(u32::MAX)
            .saturating_add(self.open)
    }
}

/// The most invocations running at once: at each start, those begun no later and not ended by
/// then, itself included (a slot given back at `t` is free for a request at `t`).
fn peak(spans: &[(OffsetDateTime, OffsetDateTime)]) -> u32 {
    // At one instant: ends first, then starts, then the ends of invocations that took no time
    // (each counts itself at its start).
    let mut events: Vec<(OffsetDateTime, u8)> = Vec::with_capacity(spans.len() * 2);
    for &(start, end) in spans {
        events.push((start, 1));
        events.push(if end > start { (end, 0) } else { (start, 2) });
    }
    events.sort_unstable();
    let (mut running, mut most) = (0u32, 0u32);
    for (_, kind) in events {
        if kind == 1 {
            running += 1;
            most = most.max(running);
        } else {
            running = running.saturating_sub(1);
        }
    }
    most
}

/// The throttle key of Lambda's concurrency (`Lambda.TooManyRequestsException`).
pub const LAMBDA_INVOKE: &str = "lambda:Invoke";

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms)
    }

    fn spec(rate: f64, burst: f64, concurrency: u32) -> QuotaSpec {
        let mut rates = BTreeMap::new();
        rates.insert(
            "sns:Publish".to_owned(),
            RateQuota {
                rate,
                burst,
                scope: QuotaScope::Hub,
                source: String::new(),
            },
        );
        rates.insert(
            "securityhub:BatchUpdateFindings".to_owned(),
            RateQuota {
                rate,
                burst,
                scope: QuotaScope::Caller,
                source: String::new(),
            },
        );
        QuotaSpec {
            lambda_concurrency: concurrency,
            rates,
        }
    }

    #[test]
    fn a_bucket_admits_its_burst_at_once_then_its_rate() {
        let q = Quotas::new(spec(10.0, 30.0, 1), "999988887777", "eu-west-1");
        let admitted = (0..31)
            .filter(|_| q.try_take("sns:Publish", "1", "x", t(0)))
            .count();
        assert_eq!(admitted, 30, "the burst, and not one more");
        // 100 ms refill one token at 10 a second; a refusal takes none.
        assert!(!q.try_take("sns:Publish", "1", "x", t(99)));
        assert!(q.try_take("sns:Publish", "1", "x", t(200)));
        assert!(q.try_take("sns:Publish", "1", "x", t(200)));
        assert!(!q.try_take("sns:Publish", "1", "x", t(200)));
        assert_eq!(q.stats().throttles["sns:Publish"].refused, 3);
    }

    #[test]
    fn hub_quotas_are_shared_and_caller_quotas_are_per_account_and_region() {
        let q = Quotas::new(spec(1.0, 1.0, 1), "999988887777", "eu-west-1");
        assert!(q.try_take("sns:Publish", "111111111111", "eu-west-1", t(0)));
        assert!(!q.try_take("sns:Publish", "222222222222", "us-east-1", t(0)));
        let hub = "securityhub:BatchUpdateFindings";
        assert!(q.try_take(hub, "111111111111", "eu-west-1", t(0)));
        assert!(q.try_take(hub, "111111111111", "us-east-1", t(0)));
        assert!(q.try_take(hub, "222222222222", "eu-west-1", t(0)));
        assert!(!q.try_take(hub, "111111111111", "eu-west-1", t(0)));
        // Unmodelled actions always pass.
        assert!(q.try_take("s3:PutObject", "1", "x", t(0)));
    }

    #[test]
    fn a_late_request_is_charged_at_the_buckets_time() {
        let q = Quotas::new(spec(1.0, 1.0, 1), "9", "r");
        assert!(q.try_take("sns:Publish", "1", "x", t(10_000)));
        // Earlier in virtual time but after in order: no refill backwards.
        assert!(!q.try_take("sns:Publish", "1", "x", t(5_000)));
        assert!(q.try_take("sns:Publish", "1", "x", t(11_000)));
    }

    #[test]
    fn the_sdk_retries_twice_on_the_invocations_clock_then_surfaces_the_throttle() {
        let q = Quotas::new(spec(0.001, 1.0, 1), "9", "eu-west-1");
        let told = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&told);
        let progress = Progress::new(move |now| lock(&seen).push(now));
        begin_invocation(t(0), 7, true, Some(progress));
        assert!(q.admit("sns:Publish", "1", "eu-west-1", t(0)).is_ok());
        let e = q
            .admit("sns:Publish", "1", "eu-west-1", t(0))
            .expect_err("throttled three times");
        assert_eq!(e.error_type(), "Transient");
        assert!(e.to_string().contains("ThrottlingException"), "{e}");
        let end = end_invocation().expect("an invocation");
        // Two backoffs (at most 1 s and 2 s) and two calls' time.
        assert!(end.elapsed <= Duration::seconds(3), "{}", end.elapsed);
        assert_eq!(end.surfaced, ["sns:Publish"]);
        let s = &q.stats().throttles["sns:Publish"];
        assert_eq!((s.refused, s.retried, s.surfaced), (3, 2, 1));
        // The backoffs were told as they were waited, the last at the invocation's time.
        let told = lock(&told).clone();
        assert_eq!(told.len(), 2, "{told:?}");
        assert!(told.windows(2).all(|w| w[0] <= w[1]), "{told:?}");
        assert_eq!(told.last().copied(), Some(t(0) + end.elapsed));
        assert_eq!(q.stats().shared_calls_unordered, 0);
    }

    #[test]
    fn a_hub_bucket_drawn_on_by_an_invocation_begun_as_not_shared_is_counted() {
        let q = Quotas::new(spec(100.0, 100.0, 1), "999988887777", "eu-west-1");
        begin_invocation(t(0), 1, false, None);
        assert!(q.admit("sns:Publish", "1", "eu-west-1", t(0)).is_ok());
        // A member's own bucket is no other execution's.
        let member = "securityhub:BatchUpdateFindings";
        assert!(q.admit(member, "111122223333", "eu-west-1", t(0)).is_ok());
        assert!(q.admit(member, "999988887777", "eu-west-1", t(0)).is_ok());
        let _ = end_invocation();
        assert_eq!(
            q.stats().shared_calls_unordered,
            2,
            "SNS's and the hub's own"
        );
        // Outside an invocation (no simulator running several) nothing is counted.
        assert!(q.admit("sns:Publish", "1", "eu-west-1", t(0)).is_ok());
        assert_eq!(q.stats().shared_calls_unordered, 2);
    }

    #[test]
    fn lambda_concurrency_holds_at_the_limit_and_refuses_one_past_it() {
        let q = Quotas::new(spec(1.0, 1.0, 2), "9", "r");
        let a = q.lambda_start(t(0)).expect("first");
        let b = q.lambda_start(t(0)).expect("second");
        assert!(
            q.lambda_start(t(0)).is_none(),
            "a third is one past the limit"
        );
        q.lambda_end(a, t(1_000));
        q.lambda_end(b, t(2_000));
        assert!(q.lambda_start(t(999)).is_none(), "both still running");
        let c = q.lambda_start(t(1_000)).expect("the first has ended");
        q.lambda_end(c, t(1_500));
        let s = q.stats();
        assert_eq!(s.throttles[LAMBDA_INVOKE].refused, 2);
        assert_eq!(s.lambda_peak_concurrency, 2);
    }

    #[test]
    fn slots_asked_for_out_of_time_order_are_counted_as_in_order() {
        // Two invocations over [0, 1000) and [500, 2000); asked for last to first.
        let q = Quotas::new(spec(1.0, 1.0, 3), "9", "r");
        let late = q.lambda_start(t(500)).expect("late");
        q.lambda_end(late, t(2_000));
        assert_eq!(
            q.lambda_free_after(t(0)),
            2,
            "the late one is held from 0 on"
        );
        let early = q.lambda_start(t(0)).expect("early");
        assert_eq!(q.lambda_free_after(t(0)), 1);
        q.lambda_end(early, t(1_000));
        assert_eq!(
            q.lambda_free_after(t(1_000)),
            2,
            "the early one ended at 1000"
        );
        assert_eq!(q.lambda_free_after(t(2_000)), 3);
        // A third beside both: the peak is three whatever the order they were asked for in.
        let third = q.lambda_start(t(600)).expect("third");
        q.lambda_end(third, t(700));
        assert_eq!(q.stats().lambda_peak_concurrency, 3);
        q.lambda_settled(t(1_500));
        assert_eq!(q.lambda_free_after(t(0)), 2, "ends up to 1500 forgotten");
    }

    #[test]
    fn the_peak_counts_a_slot_given_back_at_an_instant_as_free_then() {
        let at = |a: i64, b: i64| (t(a), t(b));
        assert_eq!(peak(&[]), 0);
        assert_eq!(peak(&[at(0, 10), at(10, 20)]), 1);
        assert_eq!(peak(&[at(0, 10), at(9, 20), at(5, 6)]), 2);
        assert_eq!(peak(&[at(0, 10), at(0, 10), at(0, 10)]), 3);
        // One that took no time still held a slot at its start.
        assert_eq!(peak(&[at(0, 10), at(5, 5)]), 2);
    }

    #[test]
    fn defaults_name_their_source_and_validate() {
        let d = QuotaSpec::aws_defaults("eu-west-1");
        assert!(d.validate().is_ok());
        assert_eq!(d.rates["sns:Publish"].rate, 9_000.0);
        assert_eq!(d.rates[START_EXECUTION].burst, 1_300.0);
        assert_eq!(
            QuotaSpec::aws_defaults("ap-southeast-2").rates[START_EXECUTION].rate,
            150.0
        );
        assert!(d.rates.values().all(|q| !q.source.is_empty()));
        let mut bad = d.clone();
        bad.lambda_concurrency = 0;
        assert!(bad.validate().is_err());
        let mut bad = d;
        if let Some(q) = bad.rates.get_mut("sns:Publish") {
            q.burst = 0.5;
        }
        assert!(bad.validate().expect_err("burst").contains("sns:Publish"));
    }
}
