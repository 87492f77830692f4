//! Findings over time: each account-Region's run state (every finding's stable identity, first
//! and last seen, severity, instance), the lifecycle of each delivered finding against it
//! (`new`, `open`, `resolved`) and the SLA per severity.
//!
//! The state lives in the report store as JSON-lines chunks (like the findings chunks) and a
//! small pointer object naming them. Format computes the next state while it reads the run's
//! findings and writes it as a *pending* pointer keyed by the run and execution; publish, once
//! a delivery has completed, promotes it to the account-Region's current pointer
//! ([`keys::lifecycle_current`]). A delivery that never completes therefore never moves the
//! state, and the next scan compares against the last scan somebody actually received.
//!
//! Memory stays bounded by the number of findings times a fixed 32 bytes or so: the previous
//! state is held as a map from a 128-bit digest of each identity to its first-seen time, never
//! as records; records are streamed from and to the chunks.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::model::{Engine, Finding, Severity, SeverityCounts};
use crate::ports::ReportStore;
use crate::state::Run;
use crate::{ScanError, fingerprint, keys, time as ts};

/// `schema` of a state pointer.
pub const STATE_SCHEMA: &str = "scanflow.state";
/// Version of the state format; a reader refuses other versions with a message saying what to do.
pub const STATE_VERSION: u32 = 1;
/// Accepted SLA days (1 day to 10 years).
pub const SLA_RANGE: std::ops::RangeInclusive<u32> = 1..=3650;
/// Titles kept in the state are cut to this many characters: the state only needs enough to
/// name a resolved finding, and a bounded record keeps 250,000 findings small.
const STATE_TITLE_CHARS: usize = 200;
const SECONDS_PER_DAY: i64 = 86_400;

/// The stable identity of a finding across scans. Inspector v2 keeps one finding ARN per
/// instance, vulnerability and package for as long as the finding lives, so it is the ARN.
/// Classic issues new ARNs for every assessment run, so the identity is derived from what
/// does not change between runs: account, Region, instance, rules package and the finding's
/// vulnerability id (the CVE for the CVE package, the rule id for the others).
pub fn identity(finding: &Finding) -> String {
    if let Some(cis) = crate::cis::identity(finding) {
        return cis;
    }
    match finding.engine {
        Engine::Inspector2 => finding.id.clone(),
        Engine::Classic => format!(
            "classic:{}:{}:{}:{}:{}",
            finding.account_id,
            finding.region,
            finding.instance_id.as_deref().unwrap_or("-"),
            finding.rules_package_arn.as_deref().unwrap_or("-"),
            // Without a vulnerability id the title is all that names the rule.
            finding
                .vulnerability_id
                .as_deref()
                .unwrap_or(finding.title.as_str()),
        ),
    }
}

/// SLA days per severity, each optional: an override of the defaults (hub-wide or per member).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlaOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<u32>,
}

impl SlaOverrides {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks every day count is within [`SLA_RANGE`]; `field` names where they came from
    /// (e.g. `slaDays in SSM parameter /scanflow/settings`).
    pub fn validate(&self, field: &str) -> Result<(), ScanError> {
        for (name, days) in [
            ("critical", self.critical),
            ("high", self.high),
            ("medium", self.medium),
            ("low", self.low),
        ] {
            if let Some(d) = days
                && !SLA_RANGE.contains(&d)
            {
                return Err(ScanError::invalid(
                    format!("{field}.{name}"),
                    "whole days from 1 to 3650",
                    format!("is {d}"),
                ));
            }
        }
        Ok(())
    }

    /// Parses the hub parameter's form, `critical=15,high=30,medium=90,low=180` (any subset,
    /// any order; empty means no override).
    pub fn parse_spec(field: &str, text: &str) -> Result<Self, ScanError> {
        let mut out = Self::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = |problem: String| {
                ScanError::invalid(
                    field,
                    "severity=days pairs such as critical=15,high=30,medium=90,low=180",
                    problem,
                )
            };
            let (name, days) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("has {item:?} without '='")))?;
            let days: u32 = days
                .trim()
                .parse()
                .map_err(|_| bad(format!("has {item:?}, whose days are not a whole number")))?;
            let slot = match name.trim().to_ascii_lowercase().as_str() {
                "critical" => &mut out.critical,
                "high" => &mut out.high,
                "medium" => &mut out.medium,
                "low" => &mut out.low,
                other => return Err(bad(format!("names severity {other:?}"))),
            };
            *slot = Some(days);
        }
        out.validate(field)?;
        Ok(out)
    }
}

/// The SLA in force for a run: days per severity. Informational and untriaged findings have
/// none (nothing is due).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sla {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

impl Default for Sla {
    fn default() -> Self {
        Self {
            critical: 15,
            high: 30,
            medium: 90,
            low: 180,
        }
    }
}

impl Sla {
    /// The defaults, then the hub's overrides, then the member's.
    pub fn resolve(hub: &SlaOverrides, member: Option<&SlaOverrides>) -> Self {
        let mut sla = Self::default();
        for o in [Some(hub), member].into_iter().flatten() {
            sla.critical = o.critical.unwrap_or(sla.critical);
            sla.high = o.high.unwrap_or(sla.high);
            sla.medium = o.medium.unwrap_or(sla.medium);
            sla.low = o.low.unwrap_or(sla.low);
        }
        sla
    }

    pub fn days(&self, severity: Severity) -> Option<u32> {
        match severity {
            Severity::Critical => Some(self.critical),
            Severity::High => Some(self.high),
            Severity::Medium => Some(self.medium),
            Severity::Low => Some(self.low),
            Severity::Informational | Severity::Untriaged => None,
        }
    }
}

/// What a finding is, compared with the last delivered scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not in the last delivered scan (or there was none).
    New,
    /// In the last delivered scan too.
    Open,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Open => "open",
        }
    }
}

/// The lifecycle of one delivered finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    pub identity: String,
    pub lifecycle: Status,
    /// The earlier of the engine's first observation and scanflow's first delivery of it.
    pub first_seen: String,
    pub age_days: u64,
    /// `None` for severities without an SLA.
    pub sla_due_at: Option<String>,
    pub overdue: bool,
    /// The accepted risk covering it, in force or expired ([`crate::acceptance`]).
    pub acceptance: Option<crate::acceptance::Acceptance>,
}

impl Annotation {
    /// Whether an acceptance in force covers it: it then pages no one.
    pub fn is_accepted(&self) -> bool {
        self.acceptance
            .as_ref()
            .is_some_and(|a| a.status == crate::acceptance::Standing::Accepted)
    }
}

/// One line of the run state: a finding as the last delivered scan (or an earlier one, for a
/// finding on an instance not scanned since) knew it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateRecord {
    pub identity: String,
    /// The finding id it was last delivered under (Classic ids change every run).
    pub id: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_id: Option<String>,
    #[serde(default)]
    pub title: String,
    pub first_seen: String,
    /// When the last delivered scan that found it collected its findings.
    pub last_seen: String,
}

/// A finding of the last delivered scan that is gone now, on an instance this scan covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    #[serde(flatten)]
    pub record: StateRecord,
    /// This run's collection time: when it was seen to be gone.
    pub resolved_at: String,
}

/// The pointer to a state's chunks: what is pending for a delivery, or current for an
/// account-Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatePointer {
    pub schema: String,
    pub version: u32,
    pub account_id: String,
    pub region: String,
    /// The run whose delivery this state records.
    pub run_id: String,
    pub execution: String,
    pub collected_at: String,
    pub findings: u64,
    pub chunks: Vec<String>,
    /// The state this one was computed from (without its own basis), so a re-delivery of the
    /// same run compares against what the original delivery compared against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Box<StatePointer>>,
    /// What the delivery said about the account-Region (the org rollup reads it; `None` in
    /// states written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ScanSummary>,
    /// The account-Region's last [`TREND_SCANS`] delivered scans, oldest first, ending with
    /// this one: the HTML report's trend (empty in states written before it existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<TrendPoint>,
}

/// How many delivered scans a run state remembers for the trend.
pub const TREND_SCANS: usize = 12;

/// One delivered scan in an account-Region's trend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    pub collected_at: String,
    pub counts: SeverityCounts,
    pub new: u64,
    pub resolved: u64,
}

impl StatePointer {
    /// The trend this state carries: its history, or (a state written before histories) its
    /// own summary as the one point known.
    pub fn trend(&self) -> Vec<TrendPoint> {
        if !self.history.is_empty() {
            return self.history.clone();
        }
        self.summary
            .as_ref()
            .map(|s| TrendPoint {
                collected_at: self.collected_at.clone(),
                counts: s.counts.clone(),
                new: s.new,
                resolved: s.resolved,
            })
            .into_iter()
            .collect()
    }
}

/// The figures of one delivered scan that the org rollup shows per account-Region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanSummary {
    pub counts: SeverityCounts,
    pub new: u64,
    pub resolved: u64,
    pub overdue: u64,
    pub instances_scanned: u64,
    pub instances_not_scanned: u64,
}

fn state_error(key: &str, e: impl std::fmt::Display) -> ScanError {
    ScanError::internal(format!(
        "run state {key} is not a scanflow state ({e}); delete it (and the account-Region's \
         {} object) to start the lifecycle afresh: the next scan then reports every finding as new",
        keys::LIFECYCLE_CURRENT_FILE
    ))
}

/// Reads a pointer; `None` when there is none (the first scan, or a pending state not written).
pub async fn read_pointer<S: ReportStore>(
    store: &S,
    key: &str,
) -> Result<Option<StatePointer>, ScanError> {
    let bytes = match store.get(key).await {
        Ok(b) => b,
        Err(ScanError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let pointer: StatePointer = serde_json::from_slice(&bytes).map_err(|e| state_error(key, e))?;
    if pointer.schema != STATE_SCHEMA || pointer.version != STATE_VERSION {
        return Err(state_error(
            key,
            format!(
                "schema {} version {}, expected {STATE_SCHEMA} {STATE_VERSION}",
                pointer.schema, pointer.version
            ),
        ));
    }
    Ok(Some(pointer))
}

/// Reads one state chunk.
pub async fn read_chunk<S: ReportStore>(
    store: &S,
    key: &str,
) -> Result<Vec<StateRecord>, ScanError> {
    let bytes = store.get(key).await?;
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|l| serde_json::from_slice(l).map_err(|e| state_error(key, e)))
        .collect()
}

/// Which state a run compares against: the current one, unless it records this very run (a
/// re-delivery), in which case the state that delivery compared against.
pub fn previous_for(current: Option<StatePointer>, run: &Run) -> Option<StatePointer> {
    let current = current?;
    if current.run_id == run.run_id {
        current.basis.map(|b| *b)
    } else {
        Some(current)
    }
}

/// The previous state, as the lifecycle needs it in memory: first-seen per identity
/// ([`fingerprint`]).
#[derive(Debug, Default)]
pub struct Previous {
    pointer: Option<StatePointer>,
    first_seen: HashMap<[u8; 16], i64>,
}

impl Previous {
    /// Reads the previous state's chunks into the digest map (one chunk at a time).
    pub async fn load<S: ReportStore>(
        store: &S,
        pointer: Option<StatePointer>,
    ) -> Result<Self, ScanError> {
        let mut first_seen = HashMap::new();
        if let Some(p) = &pointer {
            first_seen.reserve(usize::try_from(p.findings).unwrap_or(0));
            for key in &p.chunks {
                for r in read_chunk(store, key).await? {
                    let t = ts::parse("firstSeen", &r.first_seen)
                        .map_err(|e| state_error(key, e))?
                        .unix_timestamp();
                    first_seen.insert(fingerprint::of(&r.identity), t);
                }
            }
        }
        Ok(Self {
            pointer,
            first_seen,
        })
    }

    pub fn pointer(&self) -> Option<&StatePointer> {
        self.pointer.as_ref()
    }

    /// True when there is no earlier delivered scan: every finding is new.
    pub fn is_first(&self) -> bool {
        self.pointer.is_none()
    }
}

/// The lifecycle of a finding collected at `collected_at`, given the previous state and the SLA.
/// Pure and deterministic, so format's two passes annotate every finding the same way.
pub fn annotate(
    finding: &Finding,
    previous: &Previous,
    sla: &Sla,
    collected_at: OffsetDateTime,
) -> Annotation {
    let identity = identity(finding);
    let now = collected_at.unix_timestamp();
    let engine_first = finding
        .first_seen
        .as_deref()
        .and_then(|s| ts::parse("firstSeen", s).ok())
        .map(OffsetDateTime::unix_timestamp);
    let known = previous
        .first_seen
        .get(&fingerprint::of(&identity))
        .copied();
    let lifecycle = if known.is_some() {
        Status::Open
    } else {
        Status::New
    };
    // The earliest sighting wins; a clock that reports the future is not trusted past now.
    let first = [known, engine_first, Some(now)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now);
    let first_at = OffsetDateTime::from_unix_timestamp(first).unwrap_or(collected_at);
    let age_days = u64::try_from(now.saturating_sub(first) / SECONDS_PER_DAY).unwrap_or(0);
    let due = sla
        .days(finding.severity)
        .and_then(|d| first_at.checked_add(Duration::days(i64::from(d))));
    Annotation {
        identity,
        lifecycle,
        first_seen: ts::format(first_at),
        age_days,
        overdue: due.is_some_and(|d| collected_at > d),
        sla_due_at: due.map(ts::format),
        acceptance: None,
    }
}

/// The state record of a finding delivered now.
pub fn record_of(finding: &Finding, annotation: &Annotation, collected_at: &str) -> StateRecord {
    StateRecord {
        identity: annotation.identity.clone(),
        id: finding.id.clone(),
        severity: finding.severity,
        instance_id: finding.instance_id.clone(),
        vulnerability_id: finding.vulnerability_id.clone(),
        title: finding.title.chars().take(STATE_TITLE_CHARS).collect(),
        first_seen: annotation.first_seen.clone(),
        last_seen: collected_at.to_owned(),
    }
}

/// What became of a finding of the previous state that this scan did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gone {
    /// Its instance was scanned: fixed (or the instance no longer has it).
    Resolved(Resolved),
    /// Its instance was not scanned this time: nothing is known, the record is kept unchanged.
    CarriedOver(StateRecord),
}

/// Which findings the current scan saw, by identity ([`fingerprint`]), and which instances it
/// scanned.
#[derive(Debug, Default)]
pub struct Seen {
    identities: HashSet<[u8; 16]>,
    scanned: HashSet<String>,
}

impl Seen {
    pub fn new<'a>(scanned: impl IntoIterator<Item = &'a String>) -> Self {
        Self {
            identities: HashSet::new(),
            scanned: scanned.into_iter().cloned().collect(),
        }
    }

    /// Records a finding of this scan; false if its identity was already seen in this scan
    /// (a duplicate: its state record is written once).
    pub fn insert(&mut self, identity: &str) -> bool {
        self.identities.insert(fingerprint::of(identity))
    }

    /// What became of a previous record, or `None` if this scan found it again.
    pub fn gone(&self, record: StateRecord, collected_at: &str) -> Option<Gone> {
        if self.identities.contains(&fingerprint::of(&record.identity)) {
            return None;
        }
        // A finding on no instance belongs to the account-Region, which was scanned.
        let covered = record
            .instance_id
            .as_ref()
            .is_none_or(|i| self.scanned.contains(i));
        Some(if covered {
            Gone::Resolved(Resolved {
                record,
                resolved_at: collected_at.to_owned(),
            })
        } else {
            Gone::CarriedOver(record)
        })
    }
}

/// Writes state records as JSON-lines chunks of at most `chunk_size` records, streaming.
pub struct StateWriter {
    prefix: String,
    chunk_size: usize,
    buffer: Vec<u8>,
    in_buffer: usize,
    chunks: Vec<String>,
    written: u64,
}

impl StateWriter {
    /// Chunks go under `prefix` (see [`keys::lifecycle_pending_prefix`]).
    pub fn new(prefix: String, chunk_size: usize) -> Self {
        Self {
            prefix,
            chunk_size: chunk_size.max(1),
            buffer: Vec::new(),
            in_buffer: 0,
            chunks: Vec::new(),
            written: 0,
        }
    }

    pub async fn push<S: ReportStore>(
        &mut self,
        store: &S,
        record: &StateRecord,
    ) -> Result<(), ScanError> {
        serde_json::to_writer(&mut self.buffer, record).map_err(ScanError::internal)?;
        self.buffer.push(b'\n');
        self.in_buffer += 1;
        self.written += 1;
        if self.in_buffer == self.chunk_size {
            self.flush(store).await?;
        }
        Ok(())
    }

    async fn flush<S: ReportStore>(&mut self, store: &S) -> Result<(), ScanError> {
        let key = format!("{}/{:05}.jsonl", self.prefix, self.chunks.len());
        store
            .put(
                &key,
                std::mem::take(&mut self.buffer),
                "application/x-ndjson",
            )
            .await?;
        self.chunks.push(key);
        self.in_buffer = 0;
        Ok(())
    }

    /// Writes the last chunk and the pending pointer for `run`; returns the pointer.
    pub async fn finish<S: ReportStore>(
        mut self,
        store: &S,
        run: &Run,
        collected_at: &str,
        basis: Option<&StatePointer>,
        summary: ScanSummary,
    ) -> Result<StatePointer, ScanError> {
        if self.in_buffer > 0 {
            self.flush(store).await?;
        }
        // The trend: the basis's (a re-delivery compares against the same basis, so it
        // replaces its own point rather than adding one), then this scan, the last few kept.
        let mut history: Vec<TrendPoint> = basis.map(StatePointer::trend).unwrap_or_default();
        history.push(TrendPoint {
            collected_at: collected_at.to_owned(),
            counts: summary.counts.clone(),
            new: summary.new,
            resolved: summary.resolved,
        });
        let excess = history.len().saturating_sub(TREND_SCANS);
        history.drain(..excess);
        let pointer = StatePointer {
            schema: STATE_SCHEMA.to_owned(),
            version: STATE_VERSION,
            account_id: run.account_id.clone(),
            region: run.region.clone(),
            run_id: run.run_id.clone(),
            execution: run.execution.clone(),
            collected_at: collected_at.to_owned(),
            findings: self.written,
            chunks: self.chunks,
            basis: basis.map(|b| {
                Box::new(StatePointer {
                    basis: None,
                    ..b.clone()
                })
            }),
            summary: Some(summary),
            history,
        };
        let body = serde_json::to_vec(&pointer).map_err(ScanError::internal)?;
        store
            .put(&keys::lifecycle_pending(run), body, "application/json")
            .await?;
        Ok(pointer)
    }
}

/// The records of one chunk of the previous state that this scan did not find, in order.
pub async fn gone_in_chunk<S: ReportStore>(
    store: &S,
    key: &str,
    seen: &Seen,
    collected_at: &str,
) -> Result<Vec<Gone>, ScanError> {
    Ok(read_chunk(store, key)
        .await?
        .into_iter()
        .filter_map(|r| seen.gone(r, collected_at))
        .collect())
}

/// Makes the pending state of `run`'s delivery the account-Region's current state. Called by
/// publish once everything was published. A re-delivery of an older run (not the one the
/// current state records) does not roll the state back. Returns whether the state moved.
pub async fn promote<S: ReportStore>(store: &S, run: &Run) -> Result<bool, ScanError> {
    let pending_key = keys::lifecycle_pending(run);
    let Some(pending) = read_pointer(store, &pending_key).await? else {
        tracing::warn!(account = %run.account_id, region = %run.region, key = pending_key, "no pending run state for this delivery (formatted by an older scanflow?); the lifecycle state is unchanged");
        return Ok(false);
    };
    let current_key = keys::lifecycle_current(&run.account_id, &run.region);
    if run.rerun {
        let current = read_pointer(store, &current_key).await?;
        if current.as_ref().is_some_and(|c| c.run_id != run.run_id) {
            tracing::info!(account = %run.account_id, region = %run.region, "re-delivery of an earlier run: the lifecycle state keeps the later scan");
            return Ok(false);
        }
    }
    let body = serde_json::to_vec(&pending).map_err(ScanError::internal)?;
    store.put(&current_key, body, "application/json").await?;
    tracing::info!(account = %run.account_id, region = %run.region, findings = pending.findings, "lifecycle state promoted");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> OffsetDateTime {
        ts::parse("t", s).expect("time")
    }

    fn finding(id: &str, severity: Severity, first_seen: Option<&str>) -> Finding {
        Finding {
            id: id.into(),
            engine: Engine::Inspector2,
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            severity,
            title: format!("title {id}"),
            instance_id: Some("i-0123456789abcdef0".into()),
            instance_tags: Default::default(),
            vulnerability_id: Some("CVE-2024-0001".into()),
            description: String::new(),
            recommendation: String::new(),
            fix_available: None,
            score: None,
            first_seen: first_seen.map(str::to_owned),
            last_seen: None,
            rules_package_arn: None,
            detail: None,
        }
    }

    fn previous(entries: &[(&str, &str)]) -> Previous {
        Previous {
            pointer: None,
            first_seen: entries
                .iter()
                .map(|(id, at)| (fingerprint::of(id), t(at).unix_timestamp()))
                .collect(),
        }
    }

    #[test]
    fn the_first_scan_reports_every_finding_new_from_the_engines_first_sighting() {
        let prev = Previous::default();
        assert!(prev.is_first());
        let now = t("2026-11-28T10:00:00Z");
        let a = annotate(
            &finding("f1", Severity::High, Some("2026-11-18T10:00:00Z")),
            &prev,
            &Sla::default(),
            now,
        );
        assert_eq!(a.lifecycle, Status::New);
        assert_eq!(a.first_seen, "2026-11-18T10:00:00Z");
        assert_eq!(a.age_days, 10);
        assert_eq!(a.sla_due_at.as_deref(), Some("2026-12-18T10:00:00Z"));
        assert!(!a.overdue);
        // No engine time: first seen now, age 0.
        let b = annotate(
            &finding("f2", Severity::Low, None),
            &prev,
            &Sla::default(),
            now,
        );
        assert_eq!(
            (b.first_seen.as_str(), b.age_days),
            ("2026-11-28T10:00:00Z", 0)
        );
        // An engine time in the future is not believed.
        let c = annotate(
            &finding("f3", Severity::Low, Some("2027-01-01T00:00:00Z")),
            &prev,
            &Sla::default(),
            now,
        );
        assert_eq!(c.first_seen, "2026-11-28T10:00:00Z");
    }

    #[test]
    fn a_finding_seen_before_is_open_and_keeps_its_first_sighting() {
        let prev = previous(&[("f1", "2026-10-01T00:00:00Z")]);
        let a = annotate(
            &finding("f1", Severity::Medium, Some("2026-11-01T00:00:00Z")),
            &prev,
            &Sla::default(),
            t("2026-11-28T00:00:00Z"),
        );
        assert_eq!(a.lifecycle, Status::Open);
        assert_eq!(a.first_seen, "2026-10-01T00:00:00Z");
        assert_eq!(a.age_days, 58);
    }

    #[test]
    fn the_sla_is_due_at_the_instant_and_overdue_one_second_past_it() {
        let prev = previous(&[("f1", "2026-11-01T00:00:00Z")]);
        let f = finding("f1", Severity::Critical, None);
        let sla = Sla::default();
        let at_due = annotate(&f, &prev, &sla, t("2026-11-16T00:00:00Z"));
        assert_eq!(at_due.sla_due_at.as_deref(), Some("2026-11-16T00:00:00Z"));
        assert!(!at_due.overdue);
        let past = annotate(&f, &prev, &sla, t("2026-11-16T00:00:01Z"));
        assert!(past.overdue);
        // No SLA for informational findings: nothing due, never overdue.
        let info = annotate(
            &finding("f1", Severity::Informational, None),
            &prev,
            &sla,
            t("2036-01-01T00:00:00Z"),
        );
        assert_eq!((info.sla_due_at, info.overdue), (None, false));
    }

    #[test]
    fn a_changed_severity_keeps_the_first_sighting_and_takes_the_new_severitys_sla() {
        let prev = previous(&[("f1", "2026-11-01T00:00:00Z")]);
        let now = t("2026-11-20T00:00:00Z");
        let as_medium = annotate(
            &finding("f1", Severity::Medium, None),
            &prev,
            &Sla::default(),
            now,
        );
        assert!(!as_medium.overdue);
        let as_critical = annotate(
            &finding("f1", Severity::Critical, None),
            &prev,
            &Sla::default(),
            now,
        );
        assert_eq!(as_critical.lifecycle, Status::Open);
        assert_eq!(as_critical.first_seen, "2026-11-01T00:00:00Z");
        assert!(as_critical.overdue);
    }

    #[test]
    fn age_counts_whole_days_across_a_leap_day() {
        let prev = previous(&[("f1", "2028-02-28T12:00:00Z")]);
        let f = finding("f1", Severity::Low, None);
        let a = annotate(&f, &prev, &Sla::default(), t("2028-03-01T12:00:00Z"));
        assert_eq!(a.age_days, 2);
        let b = annotate(&f, &prev, &Sla::default(), t("2028-03-01T11:59:59Z"));
        assert_eq!(b.age_days, 1);
        // 180 days from 2028-02-28 counts the 29th.
        assert_eq!(a.sla_due_at.as_deref(), Some("2028-08-26T12:00:00Z"));
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let prev = previous(&[("f1", "9999-12-31T00:00:00Z")]);
        let f = finding("f1", Severity::Low, Some("0001-01-01T00:00:00Z"));
        let a = annotate(&f, &prev, &Sla::default(), t("9999-12-31T23:59:59Z"));
        assert_eq!(a.first_seen, "0001-01-01T00:00:00Z");
        // The due date would be past year 9999: none rather than a wrapped one.
        let late = previous(&[("f1", "9999-12-30T00:00:00Z")]);
        let b = annotate(
            &finding("f1", Severity::Low, None),
            &late,
            &Sla::default(),
            t("9999-12-31T00:00:00Z"),
        );
        assert_eq!((b.sla_due_at, b.overdue), (None, false));
    }

    fn record(id: &str, instance: Option<&str>) -> StateRecord {
        StateRecord {
            identity: id.into(),
            id: id.into(),
            severity: Severity::High,
            instance_id: instance.map(str::to_owned),
            vulnerability_id: None,
            title: String::new(),
            first_seen: "2026-11-01T00:00:00Z".into(),
            last_seen: "2026-11-21T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_finding_gone_from_an_unscanned_instance_is_carried_over_not_resolved() {
        let scanned = vec!["i-aaaaaaaa".to_owned()];
        let mut seen = Seen::new(&scanned);
        assert!(seen.insert("still-here"));
        assert!(!seen.insert("still-here"));
        let at = "2026-11-28T00:00:00Z";
        assert_eq!(
            seen.gone(record("still-here", Some("i-aaaaaaaa")), at),
            None
        );
        assert!(matches!(
            seen.gone(record("fixed", Some("i-aaaaaaaa")), at),
            Some(Gone::Resolved(r)) if r.resolved_at == at && r.record.identity == "fixed"
        ));
        assert_eq!(
            seen.gone(record("unknown", Some("i-bbbbbbbb")), at),
            Some(Gone::CarriedOver(record("unknown", Some("i-bbbbbbbb"))))
        );
        assert!(matches!(
            seen.gone(record("acct", None), at),
            Some(Gone::Resolved(_))
        ));
    }

    #[test]
    fn classic_identity_survives_new_run_arns_and_v2_identity_is_the_arn() {
        let mut a = finding(
            "arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b/run/0-r1/finding/0-x",
            Severity::High,
            None,
        );
        a.engine = Engine::Classic;
        a.rules_package_arn =
            Some("arn:aws:inspector:eu-west-1:357557129151:rulespackage/0-ubA5XvBh".into());
        let mut b = a.clone();
        b.id = a.id.replace("0-r1", "0-r2");
        assert_eq!(identity(&a), identity(&b));
        let mut other_instance = a.clone();
        other_instance.instance_id = Some("i-0fffffffffffffff0".into());
        assert_ne!(identity(&a), identity(&other_instance));
        let v2 = finding(
            "arn:aws:inspector2:eu-west-1:111122223333:finding/abc",
            Severity::High,
            None,
        );
        assert_eq!(identity(&v2), v2.id);
    }

    #[test]
    fn sla_overrides_layer_and_are_checked_at_their_limits() {
        let hub = SlaOverrides::parse_spec("SLA_DAYS", "critical=7, high=14").expect("valid");
        let member = SlaOverrides {
            high: Some(3650),
            ..SlaOverrides::default()
        };
        member.validate("slaDays").expect("3650 is allowed");
        let sla = Sla::resolve(&hub, Some(&member));
        assert_eq!(
            (sla.critical, sla.high, sla.medium, sla.low),
            (7, 3650, 90, 180)
        );
        assert_eq!(
            SlaOverrides::parse_spec("SLA_DAYS", "").expect("empty"),
            SlaOverrides::default()
        );
        SlaOverrides::parse_spec("SLA_DAYS", "low=1").expect("1 is allowed");
        for bad in ["low=0", "low=3651", "urgent=3", "high", "high=x"] {
            let err = SlaOverrides::parse_spec("SLA_DAYS", bad).expect_err(bad);
            assert!(err.to_string().contains("SLA_DAYS"), "{err}");
        }
        let err = SlaOverrides {
            medium: Some(0),
            ..SlaOverrides::default()
        }
        .validate("slaDays")
        .expect_err("0");
        assert!(err.to_string().contains("slaDays.medium"), "{err}");
    }
}
