//! Simulated member accounts for `scanflow run`: the ports of `scanflow_core::ports` implemented
//! over a [`Scenario`] on a virtual clock. Inspector Classic runs walk through every real run
//! state, Inspector v2 writes findings reports into a local S3 folder, Security Hub and SNS
//! record what they are sent, and every call the AWS adapters would make is counted.
//!
//! Every port method is immediately ready (drive it with `pollster::block_on`); progress
//! depends only on the time given to [`Sandbox::set_now`].

// `ScanError` is the ports' error type, fixed by scanflow-core; boxing it here would only move
// its allocation and break the signatures the handlers call.

pub mod cis;
pub mod classic;
mod crash;
mod engines;
mod error;
mod generate;
mod ids;
pub mod inspector2;
pub mod lambda;
mod member;
pub mod quota;
mod s3;
mod scenario;
mod scratch;
mod security_hub;
pub mod signing;
mod sns;

mod builtin;

use std::collections::{BTreeMap, HashMap};
use std::future::{Future, ready};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use time::OffsetDateTime;

use scanflow_core::fleet::{RegistryEntry, RegistryStatus};
use scanflow_core::ports::{HubConfig, Platform};
use scanflow_core::state::Run;
use scanflow_core::{ScanError, keys};

pub use classic::{
    AssetAttributes, ClassicFinding, ClassicServiceAttributes, KeyValue, RUN_STATES,
    normalize as normalize_classic, run_status_from_state,
};
pub use error::SandboxError;
pub use ids::uuid;
pub use inspector2::{
    FindingsFilter, Inspector2Finding, ListFindingsRequest, ListFindingsResponse, MapFilter,
    StringFilter, normalize as normalize_inspector2, report_key,
};
pub use member::Member;
pub use s3::{Bucket, LocalS3};
pub use scenario::{
    AccountSpec, AgentHealth, AnalystMark, CentralEmail, ChurnSpec, CisCheckSpec, CisScanOutcome,
    CisSpec, ClassicOutcome, ClassicSpec, DEFAULT_SCHEDULE, FindingSpec, FindingsSpec,
    GeneratorSpec, HubConfigOverrides, HubSpec, Inspector2Outcome, Inspector2Spec, InstanceSpec,
    MAX_CHURN_PER_SCAN, MAX_COPIES, MAX_GENERATED_FINDINGS, MAX_OWNERS, MAX_SCANS, Scenario,
    ScheduleSpec, ScheduleState, ScopeChange, SettingsSpec, TagSpec,
};
pub use security_hub::{SecurityHubSim, SecurityHubState, Triage};
pub use sns::{
    CENTRAL_ROLLUP_KINDS, Delivery, DeliveryOutcome, HTTP_ATTEMPTS, HTTP_TIMEOUT, HttpEndpoint,
    MAX_DELIVERIES_IN_FLIGHT, PublishedMessage, SnsSim, Subscription, TOPIC_NAME,
};

use generate::Vulns;

/// The simulated hub and its member accounts. Implements [`Platform`].
pub struct Sandbox {
    shared: Arc<Shared>,
    lambda: lambda::LambdaSim,
    store: LocalS3,
    notifier: SnsSim,
    hub_security_hub: SecurityHubSim,
}

/// State every simulated service shares: the clock, the call counts, and what has happened.
pub(crate) struct Shared {
    pub scenario: Scenario,
    pub config: HubConfig,
    pub out_dir: PathBuf,
    pub s3_root: PathBuf,
    now: Mutex<OffsetDateTime>,
    calls: Mutex<BTreeMap<String, u64>>,
    vulns: Mutex<HashMap<usize, Arc<Vulns>>>,
    pub classic: Mutex<classic::Runs>,
    pub inspector2: Mutex<inspector2::Listings>,
    pub cis: Mutex<cis::CisScans>,
    pub security_hubs: Mutex<BTreeMap<String, security_hub::Account>>,
    pub crashes: Mutex<crash::Crashes>,
    /// AWS's request quotas (`scanflow simulate`); `None` admits everything at once.
    pub quotas: Option<Arc<quota::Quotas>>,
    /// Where this sandbox's messages are in `sns-messages.jsonl`; the lock also orders appends.
    pub sns_log: Mutex<sns::LogCursor>,
    /// Whether the log holds the messages' bodies (else their sizes only).
    pub keep_bodies: AtomicBool,
}

/// [`iso_millis`] the plain way, with `format!`'s padding (UTC `t`).
fn padded(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// ISO 8601 with milliseconds in UTC, as SNS and Inspector v2 write timestamps.
pub(crate) fn iso_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let Some(year) = u16::try_from(t.year()).ok().filter(|y| *y < 10_000) else {
        // Outside years 0 to 9999: never a real timestamp, written as `format!` writes it.
        return padded(t);
    };
    // Digit by digit: Inspector v2's generated findings carry four of these each, and
    // `format!`'s padding machinery was a visible share of a fleet simulation.
    fn digits(out: &mut String, n: u16, width: u32) {
        for place in (0..width).rev() {
            let digit = (n / 10u16.pow(place)) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
    }
    let mut out = String::with_capacity(24);
    digits(&mut out, year, 4);
    for (sep, n, width) in [
        ('-', u16::from(u8::from(t.month())), 2),
        ('-', u16::from(t.day()), 2),
        ('T', u16::from(t.hour()), 2),
        (':', u16::from(t.minute()), 2),
        (':', u16::from(t.second()), 2),
        ('.', t.millisecond(), 3),
    ] {
        out.push(sep);
        digits(&mut out, n, width);
    }
    out.push('Z');
    out
}

/// Locks a mutex; a panic elsewhere while holding it leaves data that is still usable here.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The virtual clock: under quotas, the clock of the invocation running on this thread
    /// (`quota::begin_invocation`), else what [`Sandbox::set_now`] set.
    pub fn now(&self) -> OffsetDateTime {
        quota::invocation_now().unwrap_or_else(|| *lock(&self.now))
    }

    /// Records `n` calls of `action` (`service:Operation`); under quotas each takes its time.
    pub fn count(&self, action: &str, n: u64) {
        if n > 0 {
            *lock(&self.calls).entry(action.to_owned()).or_default() += n;
            if self.quotas.is_some() {
                quota::spend_calls(n);
            }
        }
    }

    /// Under quotas, the call to `action` by `account` in `region` waits for its token as the
    /// SDK would, or fails with the service's throttling error (`Transient`).
    pub fn admit(&self, action: &str, account: &str, region: &str) -> Result<(), ScanError> {
        self.admit_n(action, account, region, 1)
    }

    /// [`Shared::admit`] for `n` calls in a row (pages of one listing).
    pub fn admit_n(
        &self,
        action: &str,
        account: &str,
        region: &str,
        n: u64,
    ) -> Result<(), ScanError> {
        let Some(q) = &self.quotas else {
            return Ok(());
        };
        for _ in 0..n {
            q.admit(action, account, region, self.now())?;
        }
        Ok(())
    }

    /// The account's vulnerabilities, generated once and shared.
    pub fn vulns(&self, account_index: usize) -> Arc<Vulns> {
        let mut cache = lock(&self.vulns);
        cache
            .entry(account_index)
            .or_insert_with(|| {
                Arc::new(
                    self.scenario
                        .accounts
                        .get(account_index)
                        .map(generate::account_vulns)
                        .unwrap_or_default(),
                )
            })
            .clone()
    }

    pub fn account(&self, index: usize) -> Option<&AccountSpec> {
        self.scenario.accounts.get(index)
    }
}

impl Sandbox {
    /// Builds the sandbox; writes go under `out_dir` (`s3/` for the bucket, `sns-messages.jsonl`).
    /// `http_endpoint` (plain `http://` only) receives the HTTPS subscription's messages in
    /// SNS's envelope.
    pub fn new(
        scenario: Scenario,
        out_dir: &Path,
        http_endpoint: Option<HttpEndpoint>,
    ) -> Result<Sandbox, SandboxError> {
        Self::build(scenario, out_dir, http_endpoint, None, Bucket::Folder)
    }

    /// A sandbox that refuses and throttles what AWS would under `quotas` (see [`quota`]).
    pub fn with_quotas(
        scenario: Scenario,
        out_dir: &Path,
        quotas: quota::QuotaSpec,
        bucket: Bucket,
    ) -> Result<Sandbox, SandboxError> {
        quotas
            .validate()
            .map_err(|e| SandboxError::scenario("quotas", e))?;
        let q = quota::Quotas::new(quotas, &scenario.hub.account_id, &scenario.hub.region);
        Self::build(scenario, out_dir, None, Some(Arc::new(q)), bucket)
    }

    fn build(
        scenario: Scenario,
        out_dir: &Path,
        http_endpoint: Option<HttpEndpoint>,
        quotas: Option<Arc<quota::Quotas>>,
        bucket: Bucket,
    ) -> Result<Sandbox, SandboxError> {
        scenario.validate()?;
        let s3_root = out_dir.join("s3");
        std::fs::create_dir_all(&s3_root).map_err(|source| SandboxError::Write {
            path: s3_root.clone(),
            source,
        })?;
        let now = OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        let shared = Arc::new(Shared {
            config: scenario.hub.hub_config(),
            scenario,
            out_dir: out_dir.to_owned(),
            s3_root: s3_root.clone(),
            now: Mutex::new(now),
            calls: Mutex::new(BTreeMap::new()),
            vulns: Mutex::new(HashMap::new()),
            classic: Mutex::new(classic::Runs::default()),
            inspector2: Mutex::new(inspector2::Listings::default()),
            cis: Mutex::default(),
            security_hubs: Mutex::new(BTreeMap::new()),
            crashes: Mutex::new(crash::Crashes::default()),
            quotas,
            sns_log: Mutex::new(sns::LogCursor::at_end_of(out_dir)),
            keep_bodies: AtomicBool::new(true),
        });
        let hub_account = shared.scenario.hub.account_id.clone();
        let hub_region = shared.scenario.hub.region.clone();
        let sandbox = Sandbox {
            lambda: lambda::LambdaSim::new(shared.scenario.hub.lambda.clone()),
            store: LocalS3::new(shared.clone(), s3_root, bucket),
            notifier: SnsSim::new(shared.clone(), http_endpoint)?,
            hub_security_hub: SecurityHubSim::new(shared.clone(), hub_account, hub_region),
            shared,
        };
        sandbox.seed_accepted_risks()?;
        Ok(sandbox)
    }

    /// The scenario's accepted risks, as the security team keeps them in the hub bucket.
    fn seed_accepted_risks(&self) -> Result<(), SandboxError> {
        let Some(list) = &self.shared.scenario.hub.accepted_risks else {
            return Ok(());
        };
        let body = serde_json::to_vec_pretty(&serde_json::json!({ "acceptedRisks": list }))
            .map_err(|e| SandboxError::scenario("hub.acceptedRisks", e.to_string()))?;
        // Checked as format will read it, so a bad list fails here, naming the entry.
        scanflow_core::acceptance::AcceptedRisks::parse(&body)
            .map_err(|e| SandboxError::scenario("hub.acceptedRisks", e.to_string()))?;
        self.store
            .seed(keys::ACCEPTED_RISKS, &body)
            .map_err(|e| SandboxError::scenario("hub.acceptedRisks", e.to_string()))
    }

    /// Sets the virtual clock. Every simulated progress (run states, report readiness,
    /// timestamps) derives from it. The clock may move backwards: states are computed, not
    /// stepped.
    pub fn set_now(&self, t: OffsetDateTime) {
        *lock(&self.shared.now) = t;
    }

    pub fn now(&self) -> OffsetDateTime {
        self.shared.now()
    }

    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// A publish invocation starts: `crashAfterMessages` counts its messages.
    pub fn begin_publish_invocation(&self) {
        lock(&self.shared.crashes).begin();
    }

    /// The publish invocation is over: `true` when its process died (`crashAfterMessages`),
    /// whatever the handler returned.
    pub fn end_publish_invocation(&self) -> bool {
        let limit_of = |account: &str| {
            self.shared
                .scenario
                .accounts
                .iter()
                .find(|a| a.account_id == account)
                .and_then(|a| a.crash_after_messages)
        };
        lock(&self.shared.crashes).end(limit_of)
    }

    /// The account's Lambda service: concurrency and outages (`hub.lambda` of the scenario).
    pub fn lambda(&self) -> &lambda::LambdaSim {
        &self.lambda
    }

    pub fn out_dir(&self) -> &Path {
        &self.shared.out_dir
    }

    /// API calls the AWS adapters would have made for the same work, keyed
    /// `service:Operation` (for example `inspector:DescribeFindings`).
    pub fn api_calls(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.calls).clone()
    }

    /// Starts counting from zero (for example between executions of a benchmark).
    pub fn reset_api_calls(&self) {
        lock(&self.shared.calls).clear();
    }

    /// What `account_id`'s Security Hub holds (empty if nothing was sent to it). All regions
    /// of the account share one record; notices keep their own region.
    pub fn security_hub_state(&self, account_id: &str) -> SecurityHubState {
        lock(&self.shared.security_hubs)
            .get(account_id)
            .map(security_hub::Account::state)
            .unwrap_or_default()
    }

    /// Every message published to the topic, in order, with where it was delivered (read
    /// back from `sns-messages.jsonl`; an unreadable log is reported and reads as empty).
    pub fn sns_messages(&self) -> Vec<PublishedMessage> {
        self.sns_messages_to(&[])
    }

    /// The messages delivered to any of `subscriptions` (all with `&[]`), in order: the CLI
    /// prints the e-mails of a run without reading its SIEM parts into memory.
    pub fn sns_messages_to(&self, subscriptions: &[Subscription]) -> Vec<PublishedMessage> {
        self.notifier.settle();
        SnsSim::read_log(&self.shared, |m| {
            subscriptions.is_empty()
                || m.deliveries
                    .iter()
                    .any(|d| subscriptions.contains(&d.subscription))
        })
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the published messages back");
            Vec::new()
        })
    }

    /// The messages published since the last call, read back from the log; with `discard`
    /// the log is emptied too (a fleet simulation counts the bodies as it goes instead of
    /// keeping every one on disk).
    pub fn take_sns_messages(&self, discard: bool) -> Vec<PublishedMessage> {
        self.notifier.settle();
        SnsSim::take_log(&self.shared, discard).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the published messages back");
            Vec::new()
        })
    }

    /// From now on the message log records each message's size ([`PublishedMessage::bytes`]),
    /// subject, attributes and deliveries but not its body: a fleet simulation counts bodies and
    /// never reads one.
    pub fn drop_message_bodies(&self) {
        self.shared.keep_bodies.store(false, Ordering::Relaxed);
    }

    /// How many messages have been published so far; a message's `sequence` is below it (the
    /// CLI tells an execution's messages by the count before and after it).
    pub fn sns_published(&self) -> u64 {
        self.notifier.published()
    }

    /// The messages that did not reach everyone meant to get them, once every delivery under
    /// way has ended: the HTTPS endpoint did not take them, or no subscription's filter policy
    /// did (SNS accepts and drops those). One pass over the log; an unreadable log is an error
    /// here, never "all delivered".
    pub fn undelivered(&self) -> Result<Vec<PublishedMessage>, ScanError> {
        self.notifier.settle();
        SnsSim::read_log(&self.shared, PublishedMessage::undelivered)
    }

    /// The quota models, when the sandbox was built [`Sandbox::with_quotas`].
    pub fn quotas(&self) -> Option<&quota::Quotas> {
        self.shared.quotas.as_deref()
    }

    /// Drops the generated vulnerabilities of scenario account `index` (regenerated if asked
    /// for again), so a fleet simulation holds only the accounts still scanning.
    pub fn release_account(&self, index: usize) {
        lock(&self.shared.vulns).remove(&index);
    }

    /// Seeds the fleet registry as if each member stack had been created at `created_at`: an
    /// active entry per account-Region whose stack is deployed, a deleted one where the scan
    /// role is missing (the stack was there once and was removed, which is what the hub would
    /// have recorded).
    pub fn seed_registry(&self, created_at: OffsetDateTime) -> Result<(), ScanError> {
        let at = scanflow_core::time::format(created_at);
        for a in &self.shared.scenario.accounts {
            let entry = RegistryEntry {
                account_id: a.account_id.clone(),
                region: a.region.clone(),
                status: if a.role_deployed {
                    RegistryStatus::Active
                } else {
                    RegistryStatus::Deleted
                },
                scope: Some(a.scope()),
                schedule: Some(a.schedule.expression.clone()),
                created_at: at.clone(),
                updated_at: at.clone(),
            };
            self.write_entry(&entry)?;
        }
        Ok(())
    }

    /// Applies each account's `scopeChange` to its registry entry at `at`, as the registry
    /// writer would on the settings parameter's Update event.
    pub fn apply_scope_changes(&self, at: OffsetDateTime) -> Result<usize, ScanError> {
        let mut changed = 0;
        for a in &self.shared.scenario.accounts {
            let Some(scope) = a.changed_scope() else {
                continue;
            };
            let key = keys::registry_entry(&a.account_id, &a.region);
            let text = self.store.read(&key).map_err(|e| {
                ScanError::internal(format!(
                    "{key}: {e}; seed the registry before applying scope changes"
                ))
            })?;
            let mut entry: RegistryEntry = serde_json::from_slice(&text)
                .map_err(|e| ScanError::internal(format!("{key}: {e}")))?;
            entry.scope = Some(scope);
            entry.updated_at = scanflow_core::time::format(at);
            self.write_entry(&entry)?;
            changed += 1;
        }
        Ok(changed)
    }

    fn write_entry(&self, entry: &RegistryEntry) -> Result<(), ScanError> {
        let body = serde_json::to_vec_pretty(entry).map_err(ScanError::internal)?;
        self.store.seed(
            &keys::registry_entry(&entry.account_id, &entry.region),
            &body,
        )
    }

    /// The simulated topic's ARN (`arn:aws:sns:<hub region>:<hub account>:scanflow`).
    pub fn topic_arn(&self) -> String {
        self.notifier.topic_arn().to_owned()
    }
}

impl Platform for Sandbox {
    type Member = Member;
    type Store = LocalS3;
    type Notifier = SnsSim;
    type SecurityHub = SecurityHubSim;

    fn config(&self) -> &HubConfig {
        &self.shared.config
    }

    fn member(
        &self,
        account_id: &str,
        region: &str,
        session: &str,
    ) -> impl Future<Output = Result<Member, ScanError>> + Send {
        ready(member::assume_role(
            &self.shared,
            account_id,
            region,
            session,
        ))
    }

    fn reader(&self, run: &Run) -> impl Future<Output = Result<Member, ScanError>> + Send {
        // As the AWS platform: a delegated-admin hub reads v2 listing runs itself; a findings
        // report recorded before was the member's, seen only through its role.
        let hub_reads = self.shared.scenario.hub.inspector_delegated_admin
            && run.engine == scanflow_core::model::Engine::Inspector2
            && !scanflow_core::state::is_report_id(&run.run_id);
        ready(if hub_reads {
            Ok(member::entered(
                &self.shared,
                &run.account_id,
                &run.region,
                member::Caller::HubReadsOnly,
            ))
        } else {
            member::assume_role(&self.shared, &run.account_id, &run.region, &run.execution)
        })
    }

    fn store(&self) -> &LocalS3 {
        &self.store
    }

    fn notifier(&self) -> &SnsSim {
        &self.notifier
    }

    fn hub_security_hub(&self) -> &SecurityHubSim {
        &self.hub_security_hub
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Written digit by digit, a timestamp reads as `format!` would write it, whatever
        /// the instant (years 0 to 9999 included at both ends).
        #[test]
        fn iso_millis_is_the_padded_format(
            seconds in -62_167_219_200i64..253_402_300_800,
            millis in 0u16..1000,
        ) {
            let t = time::OffsetDateTime::from_unix_timestamp(seconds).expect("in range")
                + time::Duration::milliseconds(i64::from(millis));
            prop_assert_eq!(super::iso_millis(t), super::padded(t));
        }
    }

    #[test]
    fn iso_millis_at_the_ends_of_four_digit_years() {
        let at = |s: &str| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .expect("valid")
        };
        assert_eq!(
            super::iso_millis(at("0000-01-01T00:00:00.000Z")),
            "0000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            super::iso_millis(at("9999-12-31T23:59:59.999Z")),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            super::iso_millis(at("2026-11-30T03:00:00.080+01:00")),
            "2026-11-30T02:00:00.080Z"
        );
    }
}
