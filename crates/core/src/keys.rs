//! Where a run's data lives in the report store, so every step derives the same keys.

use sha2::{Digest, Sha256};

use crate::state::Run;

/// A short, stable folder name for a run: reruns of the same run overwrite, never duplicate.
pub fn run_prefix(run: &Run) -> String {
    let digest = Sha256::digest(run.run_id.as_bytes());
    format!(
        "scanflow/{}/{}/{}",
        run.account_id,
        run.region,
        &hex::encode(digest)[..16]
    )
}

/// The manifest collect-findings writes: chunk keys, counts and coverage.
pub fn manifest(run: &Run) -> String {
    format!("{}/manifest.json", run_prefix(run))
}

/// Where collect-findings records how far it got, so the next invocation of the same execution
/// (a retry after it stopped before its deadline) continues there.
pub fn collect_checkpoint(run: &Run) -> String {
    format!("{}/collect-checkpoint.json", run_prefix(run))
}

/// One chunk of normalized findings, as JSON lines.
pub fn findings_chunk(run: &Run, index: usize) -> String {
    format!("{}/findings/{index:05}.jsonl", run_prefix(run))
}

/// The e-mail digest format writes and publish sends.
pub fn digest(run: &Run) -> String {
    format!("{}/digest.json", run_prefix(run))
}

/// The security team's accepted risks, one object for the hub ([`crate::acceptance`]).
pub const ACCEPTED_RISKS: &str = "scanflow/accepted-risks.json";

/// The scan's HTML report for people (format writes it, the digest links to it).
pub fn report_html(run: &Run) -> String {
    format!("{}/report.html", run_prefix(run))
}

/// The org rollup's objects at `at`: `<stem>.json` (the whole rollup) and `<stem>.html`.
pub fn rollup_stem(at: &str) -> String {
    format!("scanflow/fleet-watch/rollup-{at}")
}

/// One numbered part of the SIEM document (1-based, as receivers see it).
pub fn siem_part(run: &Run, part: usize, parts: usize) -> String {
    format!("{}/siem/part-{part:05}-of-{parts:05}.json", run_prefix(run))
}

/// The claim on one schedule slot of one account and Region: the first execution to write it
/// scans, any other execution for the same slot ends as a duplicate. `scheduled_at` is the
/// normalized RFC 3339 form (`ScanRequest::scheduled_at`).
pub fn schedule_claim(account_id: &str, region: &str, scheduled_at: &str) -> String {
    let slot: String = scheduled_at
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("scanflow/claims/{account_id}/{region}/{slot}.json")
}

/// The ledger of the messages the status-change notifier published for one event (an
/// execution's status after its `redrive_count`-th redrive): a repeated delivery of the event
/// publishes nothing twice.
pub fn notice_ledger(execution: &str, redrive_count: u32, status: &str) -> String {
    let digest = Sha256::digest(execution.as_bytes());
    format!(
        "scanflow/notices/{}/{redrive_count}-{status}",
        &hex::encode(digest)[..24]
    )
}

/// The ledger of one delivery of `run`: the messages publish has published for the execution
/// `execution`. A retry or redrive of that execution resumes it; another execution (a rerun by
/// `runArn`/`reportId`) is a new delivery with a ledger of its own.
pub fn delivery_ledger(run: &Run, execution: &str) -> String {
    let digest = Sha256::digest(execution.as_bytes());
    format!(
        "{}/deliveries/{}",
        run_prefix(run),
        &hex::encode(digest)[..24]
    )
}

/// The notifier's record of an execution's latest failure notice.
pub fn execution_failure(execution: &str) -> String {
    let digest = Sha256::digest(execution.as_bytes());
    format!(
        "scanflow/executions/{}/failure.json",
        &hex::encode(digest)[..24]
    )
}

/// What start-run knew of the execution's run, kept so the notifier can name it in a failure
/// notice (the status change event carries only the execution input).
pub fn execution_run(execution: &str) -> String {
    let digest = Sha256::digest(execution.as_bytes());
    format!(
        "scanflow/executions/{}/run.json",
        &hex::encode(digest)[..24]
    )
}

/// Where the fleet watch's registry lives: one entry per account-Region.
pub const REGISTRY_PREFIX: &str = "scanflow/registry/";

/// The registry entry of an account-Region (written from its member stack's settings events).
pub fn registry_entry(account_id: &str, region: &str) -> String {
    format!("{REGISTRY_PREFIX}{account_id}/{region}.json")
}

/// scanflow's notices still open in Security Hub for an account-Region.
pub fn open_notices(account_id: &str, region: &str) -> String {
    format!("{STATE_PREFIX}{account_id}/{region}/open-notices.json")
}

/// Per account-Region state kept between scans.
pub const STATE_PREFIX: &str = "scanflow/state/";

/// File name of the last-delivery record under an account-Region's state folder.
pub const LAST_DELIVERY_FILE: &str = "last-delivery.json";

/// What publish last delivered for an account-Region (read by the fleet watch).
pub fn last_delivery(account_id: &str, region: &str) -> String {
    format!("{STATE_PREFIX}{account_id}/{region}/{LAST_DELIVERY_FILE}")
}

/// File name of the account-Region's current lifecycle state pointer (under its state folder).
pub const LIFECYCLE_CURRENT_FILE: &str = "findings-state.json";

/// The account-Region's current run state: the pointer of the last completed delivery's state.
pub fn lifecycle_current(account_id: &str, region: &str) -> String {
    format!("{STATE_PREFIX}{account_id}/{region}/{LIFECYCLE_CURRENT_FILE}")
}

/// Where format writes the next state's chunks for one delivery of a run: keyed by the
/// execution too, so a re-delivery never rewrites chunks the current state still names.
pub fn lifecycle_pending_prefix(run: &Run) -> String {
    let digest = Sha256::digest(run.execution.as_bytes());
    format!(
        "{}/lifecycle/{}",
        run_prefix(run),
        &hex::encode(digest)[..16]
    )
}

/// The pending state pointer of one delivery of a run, promoted by publish once delivered.
pub fn lifecycle_pending(run: &Run) -> String {
    format!("{}/pending.json", lifecycle_pending_prefix(run))
}
