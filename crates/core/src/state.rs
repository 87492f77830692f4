//! What flows between the steps through the state machine: small records of counts and keys,
//! never finding lists, so the execution state stays a few KiB whatever a scan finds.

use serde::{Deserialize, Serialize};

use crate::model::{CisLevel, Coverage, Engine, SeverityCounts, Tag};

/// The execution's identity, passed from the context object (`$$.Execution`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionContext {
    /// `$$.Execution.Name`: names the role session and the Security Hub notes.
    pub name: String,
    /// `$$.Execution.StartTime`.
    pub start_time: String,
}

/// start-run's input: the raw execution input (validated by the handler) and the context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartRunInput {
    pub input: serde_json::Value,
    pub execution: ExecutionContext,
}

/// Whether an Inspector v2 `run_id` is a findings report's id (a UUID, what
/// `CreateFindingsReport` returned for runs recorded before scanflow read with `ListFindings`)
/// rather than a listing run's name (`scanflow-<execution>`). The AWS adapter and the sandbox
/// both tell the two apart by it.
pub fn is_report_id(run_id: &str) -> bool {
    run_id.len() == 36
        && run_id.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// start-run's result, kept at `$.run` for every later step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub account_id: String,
    pub region: String,
    pub engine: Engine,
    /// Classic: the assessment run ARN. Inspector v2: the findings report id.
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    pub duration_seconds: u32,
    pub started_at: String,
    /// After this, a run still going is reported as timed out instead of waited for.
    pub deadline: String,
    /// The first wait: the assessment's own duration plus a little (0 for a rerun).
    pub wait_seconds: u32,
    /// True when the input named a finished run: no scan was started.
    pub rerun: bool,
    pub execution: String,
    /// Classic: the run was already going when asked to start one, and scanflow adopted it.
    #[serde(default)]
    pub adopted: bool,
    /// The schedule slot this scan serves (`scheduledAt` of the input), when it was scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// The member's SLA overrides from its settings (format applies them over the hub's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_days: Option<crate::lifecycle::SlaOverrides>,
    /// Classic accounts: whether Inspector v2 could take over (start-run's pre-flight), so
    /// the digest can say what moving to v2 changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2_readiness: Option<crate::migration::V2Readiness>,
    /// Inspector v2 with CIS in the settings: the one-time CIS scan started with this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cis: Option<CisRun>,
}

/// A one-time CIS scan started by start-run: check-status follows it, collect-findings reads
/// its failed checks beside the vulnerability findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CisRun {
    pub level: CisLevel,
    /// What `CreateCisScanConfiguration` returned; the scan is found by it (`ListCisScans`).
    pub configuration_arn: String,
}

/// start-run's result for an execution whose schedule slot another execution already
/// claimed: nothing is scanned or delivered, and the state machine ends at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Duplicate {
    /// The execution that claimed the slot first and does the scan.
    pub duplicate_of: String,
    pub account_id: String,
    pub region: String,
    pub scheduled_at: String,
}

/// What start-run returns at `$.run`: a run to follow, or a duplicate to drop. The state
/// machine tells them apart by `$.run.duplicateOf`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StartOutcome {
    Duplicate(Duplicate),
    /// Boxed: a run is several times a duplicate's size.
    Run(Box<Run>),
}

impl StartOutcome {
    /// The run to follow; `None` for a duplicate.
    pub fn into_run(self) -> Option<Run> {
        match self {
            Self::Run(run) => Some(*run),
            Self::Duplicate(_) => None,
        }
    }
}

/// The claim record of a schedule slot (`keys::schedule_claim`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    pub execution: String,
    pub claimed_at: String,
}

impl Run {
    /// The CIS scan this run follows: `None` without one, and for a findings report recorded
    /// by an earlier version (those had none). Both adapters decide by it.
    pub fn cis_scan(&self) -> Option<&CisRun> {
        self.cis.as_ref().filter(|_| !is_report_id(&self.run_id))
    }

    /// What the scan targeted, for people.
    pub fn target(&self) -> String {
        self.tag
            .as_ref()
            .map_or_else(|| "every instance".to_owned(), ToString::to_string)
    }
}

/// check-status's input: the run and the time the state was entered (virtual time locally).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckStatusInput {
    pub run: Run,
    pub now: String,
}

/// check-status's result at `$.status`: done, or how long to wait before asking again.
/// Failures and deadlines are errors (`ScanFailed`, `ScanTimedOut`), not statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub done: bool,
    /// The engine's own state name (`COLLECTING_DATA`, `SUCCEEDED`, ...).
    pub state: String,
    pub wait_seconds: u32,
}

/// collect-findings' input: the run and the time the state was entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectInput {
    pub run: Run,
    pub now: String,
}

/// format's input: the run and what collect-findings found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormatInput {
    pub run: Run,
    pub collected: Collected,
}

/// collect-findings' result at `$.collected`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collected {
    pub manifest_key: String,
    pub counts: SeverityCounts,
    pub instances_scanned: u64,
    pub instances_not_scanned: u64,
}

/// The manifest in the report store: every chunk of findings and the full coverage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub chunks: Vec<String>,
    pub counts: SeverityCounts,
    pub coverage: Coverage,
    pub collected_at: String,
}

/// How far collect-findings got for one execution: the chunks written, what they hold, and the
/// page to read next (`cursor`, `None` for the first) with how many of its findings the chunks
/// already hold (`skip`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectCheckpoint {
    /// The execution that wrote it: a rerun of the same run (another execution) starts over.
    pub execution: String,
    pub chunks: Vec<String>,
    pub counts: SeverityCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub skip: usize,
}

/// format's result at `$.formatted`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Formatted {
    pub digest_key: String,
    /// How many SIEM parts were written; their keys are `keys::siem_part(run, 1..=parts, parts)`.
    pub siem_parts: usize,
}

/// What publish is asked to send: a finished scan's digest, SIEM parts and Security Hub
/// updates. (Failures are told by the `notify` function, from the execution's status change.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishInput {
    pub run: Run,
    pub collected: Collected,
    pub formatted: Formatted,
}

/// publish's result at `$.published`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// Messages this invocation published.
    pub messages: u64,
    /// Messages an earlier attempt of the same delivery had published (skipped now).
    #[serde(default)]
    pub already_sent: u64,
    /// The delivery: the execution that published it (a rerun is a new delivery).
    #[serde(default)]
    pub delivery: String,
    /// Delivered findings Security Hub marked NOTIFIED (they were NEW).
    pub findings_marked: u64,
    /// Delivered findings left alone: people (or tools) had triaged them already.
    #[serde(default)]
    pub findings_triaged: u64,
    pub notices_imported: u64,
    /// scanflow's notices archived because this delivery shows them cleared.
    #[serde(default)]
    pub notices_resolved: u64,
    /// Security Hub updates that could not be made, with why (delivery is not undone for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_hub_problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::is_report_id;

    #[test]
    fn a_report_id_is_a_uuid_and_a_listing_run_is_not() {
        assert!(is_report_id("0f5e9c4a-1b2c-4d3e-8f90-a1b2c3d4e5f6"));
        assert!(!is_report_id(
            "scanflow-scan-111122223333-eu-west-1-20261201T03"
        ));
        assert!(!is_report_id("0f5e9c4a-1b2c-4d3e-8f90-a1b2c3d4e5f"));
        assert!(!is_report_id("0f5e9c4a_1b2c-4d3e-8f90-a1b2c3d4e5f6"));
    }
}
