//! The SIEM document (`scanflow.siem` 1.1, see `siem.schema.json` and `SIEM.md`): its parts,
//! how findings are packed into parts that each fit one SNS message with its attributes, and
//! the failure document publish sends when a scan could not be completed. Parts whose findings
//! are OCSF events ([`crate::ocsf`]) are 1.2: the same envelope, sized the same way, with
//! `findingsFormat` naming the OCSF version.

use scanflow_core::ScanError;
use scanflow_core::lifecycle::{Annotation, Resolved};
use scanflow_core::message::{SNS_MESSAGE_LIMIT, attributes_size};
use scanflow_core::model::{CisCoverage, Coverage, Engine, Finding, SeverityCounts, Uncovered};
use scanflow_core::ports::SiemFormat;
use scanflow_core::state::Run;
use scanflow_core::text::{CUT_MARK, clip};
use serde::Serialize;

use crate::envelope::part_attributes;

/// Names the format of a part's findings when it is not scanflow's own (1.2).
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingsFormat {
    pub name: &'static str,
    pub version: &'static str,
    pub class_uid: u32,
}

/// The envelope's `schemaVersion` and `findingsFormat` for parts in `format`.
fn envelope_of(format: SiemFormat) -> (&'static str, Option<&'static FindingsFormat>) {
    match format {
        SiemFormat::Scanflow => (SCHEMA_VERSION, None),
        SiemFormat::Ocsf => (SCHEMA_VERSION_OCSF, Some(&crate::ocsf::FINDINGS_FORMAT)),
    }
}

pub const SCHEMA: &str = "scanflow.siem";
/// scanflow's own findings parts and failure documents: 1.3 added each finding's `detail`,
/// 1.4 the CIS scan (`coverage.cis`, `detail.cis`).
pub const SCHEMA_VERSION: &str = "1.4";
/// The version of findings parts whose findings are OCSF events (`findingsFormat`, 1.2): the
/// detail travels in the OCSF event's own fields; 1.4 adds `coverage.cis` to the envelope.
pub const SCHEMA_VERSION_OCSF: &str = "1.4";
pub const KIND_FINDINGS: &str = "findings";
pub const KIND_FAILURE: &str = "failure";

/// The JSON Schema (draft 2020-12) every SIEM document validates against.
pub const SCHEMA_JSON: &str = include_str!("../siem.schema.json");

/// Part 1's coverage list stops at this many bytes so that findings still fit beside it; the
/// instances left out are counted in `coverage.truncated` (each is a Security Hub notice too).
pub const COVERAGE_BUDGET: usize = SNS_MESSAGE_LIMIT / 2;

/// Marks where long text was cut to make a finding fit one message.
const FINDINGS_OPEN: &str = ",\"findings\":[";
/// 1.1: every findings part also has a `resolved` array after `findings` (often empty).
const FINDINGS_CLOSE: &str = "],\"resolved\":[";
const RESOLVED_CLOSE: &str = "]}";

/// The run a document is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SiemRun {
    pub account_id: String,
    pub region: String,
    pub engine: Engine,
    pub run_id: String,
    pub execution: String,
    pub started_at: String,
    /// Absent in failure documents: nothing was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<String>,
    pub target: String,
    pub rerun: bool,
}

impl SiemRun {
    pub fn new(run: &Run, collected_at: Option<&str>) -> Self {
        Self {
            account_id: run.account_id.clone(),
            region: run.region.clone(),
            engine: run.engine,
            run_id: run.run_id.clone(),
            execution: run.execution.clone(),
            started_at: run.started_at.clone(),
            collected_at: collected_at.map(str::to_owned),
            target: run.target(),
            rerun: run.rerun,
        }
    }
}

/// The whole run's figures, repeated in every part so any one part can be read alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub counts: SeverityCounts,
    pub total: u64,
    pub instances_scanned: u64,
    pub instances_not_scanned: u64,
    /// 1.1: what changed since the last delivered scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<LifecycleSummary>,
}

/// The whole run's lifecycle figures (1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleSummary {
    /// When the scan compared against was collected; `null` on the first delivered scan.
    pub since: Option<String>,
    pub new: u64,
    pub open: u64,
    pub resolved: u64,
    pub overdue: u64,
    /// Findings of the last scan on instances this scan did not cover: kept, not resolved.
    pub carried_over: u64,
}

impl LifecycleSummary {
    /// The widest figures, for sizing (`since` is always a 20-character timestamp).
    fn widest() -> Self {
        Self {
            since: Some("9999-12-31T23:59:59Z".to_owned()),
            new: u64::MAX,
            open: u64::MAX,
            resolved: u64::MAX,
            overdue: u64::MAX,
            carried_over: u64::MAX,
        }
    }
}

impl Summary {
    pub fn new(counts: SeverityCounts, coverage: &Coverage) -> Self {
        Self {
            total: counts.total(),
            counts,
            instances_scanned: coverage.scanned.len() as u64,
            instances_not_scanned: coverage.not_scanned.len() as u64,
            lifecycle: None,
        }
    }
}

/// Part 1's list of instances in scope that were not scanned, capped at [`COVERAGE_BUDGET`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoverageSection {
    pub not_scanned: Vec<Uncovered>,
    /// How many not-scanned instances were left out of `notScanned` for size.
    pub truncated: u64,
    /// 1.4: the run's CIS scan (its list of unchecked instances is bounded where collected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cis: Option<CisCoverage>,
}

impl CoverageSection {
    pub fn capped(coverage: &Coverage) -> Result<Self, ScanError> {
        // Room for the wrapper with the largest possible `truncated` count.
        let wrapper = serde_json::to_string(&Self {
            not_scanned: Vec::new(),
            truncated: u64::MAX,
            cis: coverage.cis.clone(),
        })
        .map_err(ScanError::internal)?
        .len();
        let mut used = wrapper;
        let mut kept = Vec::new();
        for uncovered in &coverage.not_scanned {
            let item = serde_json::to_string(uncovered)
                .map_err(ScanError::internal)?
                .len();
            let add = item + usize::from(!kept.is_empty());
            if used + add > COVERAGE_BUDGET {
                break;
            }
            used += add;
            kept.push(uncovered.clone());
        }
        Ok(Self {
            truncated: (coverage.not_scanned.len() - kept.len()) as u64,
            not_scanned: kept,
            cis: coverage.cis.clone(),
        })
    }
}

#[derive(Serialize)]
struct PartNumber {
    index: usize,
    count: usize,
}

/// A findings part without its `findings` array, which is appended as raw JSON text so that
/// each part's size is known exactly before it is built.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Header<'a> {
    schema: &'static str,
    schema_version: &'static str,
    kind: &'static str,
    /// 1.2: how `findings` and `resolved` are written; absent for scanflow's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    findings_format: Option<&'static FindingsFormat>,
    run: &'a SiemRun,
    part: PartNumber,
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    coverage: Option<&'a CoverageSection>,
}

/// What the SIEM adds to a finding: its lifecycle (1.1) and accepted risk (1.3), flagged when
/// text was cut. Written inside the finding's own object, after its fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SiemFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifecycle: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_days: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sla_due_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    overdue: Option<bool>,
    /// 1.3: the accepted risk covering it (in force or expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    acceptance: Option<&'a scanflow_core::acceptance::Acceptance>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

/// Room a finding's SIEM JSON starts with, enough for most findings (their description is
/// most of it): grown from nothing, a buffer reaches 2 KiB after eight copies.
const ITEM_CAPACITY: usize = 2 << 10;

/// `finding`'s JSON object with `fields` inside it after the finding's own: the text
/// `#[serde(flatten)]` would give, written directly rather than entry by entry through a map.
fn siem_finding_json(finding: &Finding, fields: &SiemFields) -> Result<String, ScanError> {
    let mut out = Vec::with_capacity(ITEM_CAPACITY);
    serde_json::to_writer(&mut out, finding).map_err(ScanError::internal)?;
    let tail = serde_json::to_vec(fields).map_err(ScanError::internal)?;
    // Both are objects: `{...}` and `{...}` (or `{}`) become `{...,...}`.
    if let Some(inner) = tail.get(1..).filter(|rest| rest.len() > 1) {
        out.pop();
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(inner);
    }
    String::from_utf8(out).map_err(ScanError::internal)
}

/// Serializes a resolved entry (1.1). Its texts are bounded by the run state, so it always fits.
pub fn resolved_json(resolved: &Resolved) -> Result<String, ScanError> {
    serde_json::to_string(resolved).map_err(ScanError::internal)
}

/// The most bytes one finding may take: what is left in a part holding only that finding,
/// with the largest possible part numbers and summary. Only a finding that could not travel in
/// a message of its own is ever cut.
pub fn finding_budget(
    siem_run: &SiemRun,
    run: &Run,
    format: SiemFormat,
) -> Result<usize, ScanError> {
    let widest = SeverityCounts {
        critical: u64::MAX,
        high: u64::MAX,
        medium: u64::MAX,
        low: u64::MAX,
        informational: u64::MAX,
        untriaged: u64::MAX,
    };
    let summary = Summary {
        counts: widest,
        total: u64::MAX,
        instances_scanned: u64::MAX,
        instances_not_scanned: u64::MAX,
        lifecycle: Some(LifecycleSummary::widest()),
    };
    let header = header_json(format, siem_run, &summary, None, usize::MAX, usize::MAX)?;
    let overhead = header.len() - 1
        + FINDINGS_OPEN.len()
        + FINDINGS_CLOSE.len()
        + RESOLVED_CLOSE.len()
        + attributes_size(&part_attributes(run, usize::MAX, usize::MAX));
    SNS_MESSAGE_LIMIT.checked_sub(overhead).ok_or_else(|| {
        ScanError::internal(format!(
            "the run's description alone ({overhead} bytes) leaves no room for findings"
        ))
    })
}

/// Serializes a finding for the SIEM, cutting its longest text fields (description,
/// recommendation, title; then its tags) until it fits `budget`. It is never dropped: one that
/// cannot be made to fit fails the step.
pub fn finding_json(finding: Finding, budget: usize) -> Result<String, ScanError> {
    annotated_json(finding, None, budget)
}

/// [`finding_json`] with the finding's lifecycle (1.1): `firstSeen` becomes the lifecycle's
/// first sighting (the earlier of the engine's and scanflow's).
pub fn annotated_json(
    mut finding: Finding,
    annotation: Option<&Annotation>,
    budget: usize,
) -> Result<String, ScanError> {
    if let Some(a) = annotation {
        finding.first_seen = Some(a.first_seen.clone());
    }
    fit(finding, budget, |finding, truncated| {
        siem_finding_json(
            finding,
            &SiemFields {
                identity: annotation.map(|a| a.identity.as_str()),
                lifecycle: annotation.map(|a| a.lifecycle.as_str()),
                age_days: annotation.map(|a| a.age_days),
                sla_due_at: annotation.and_then(|a| a.sla_due_at.as_deref()),
                overdue: annotation.map(|a| a.overdue),
                acceptance: annotation.and_then(|a| a.acceptance.as_ref()),
                truncated,
            },
        )
    })
}

/// Renders `finding` with `render` (told whether text was cut), cutting its longest text
/// fields (description, recommendation, title; then its tags, then its detail) until the text
/// fits `budget`.
/// Both SIEM formats go through here, so a finding is cut the same way in either.
pub(crate) fn fit(
    mut finding: Finding,
    budget: usize,
    mut render: impl FnMut(&Finding, bool) -> Result<String, ScanError>,
) -> Result<String, ScanError> {
    let mut truncated = false;
    loop {
        let text = render(&finding, truncated)?;
        if text.len() <= budget {
            return Ok(text);
        }
        let excess = text.len() - budget;
        if !truncated {
            tracing::warn!(finding = %finding.id, bytes = text.len(), budget, "finding too large for one message: cutting its text");
        }
        truncated = true;
        if !cut_longest_text(&mut finding, excess) {
            if !finding.instance_tags.is_empty() {
                finding.instance_tags.clear();
            } else if finding.detail.is_some() {
                // Bounded, so this hardly happens; Inspector and Security Hub keep it whole.
                finding.detail = None;
            } else {
                return Err(ScanError::PayloadTooLarge {
                    what: format!("finding {} even without its text", clip(&finding.id, 300)),
                    size: text.len(),
                    limit: budget,
                });
            }
        }
    }
}

/// Cuts `excess` bytes (plus room for the mark) from the longest text field; false when every
/// text field is already empty. Each call strictly shortens a field, so the caller's loop ends.
fn cut_longest_text(finding: &mut Finding, excess: usize) -> bool {
    let Some(field) = [
        &mut finding.description,
        &mut finding.recommendation,
        &mut finding.title,
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .max_by_key(|s| s.len()) else {
        return false;
    };
    let keep = field.len().saturating_sub(excess + CUT_MARK.len());
    if keep == 0 {
        field.clear();
    } else {
        field.truncate(field.floor_char_boundary(keep));
        field.push_str(CUT_MARK);
    }
    true
}

fn header_json(
    format: SiemFormat,
    run: &SiemRun,
    summary: &Summary,
    coverage: Option<&CoverageSection>,
    index: usize,
    count: usize,
) -> Result<String, ScanError> {
    let (schema_version, findings_format) = envelope_of(format);
    serde_json::to_string(&Header {
        schema: SCHEMA,
        schema_version,
        kind: KIND_FINDINGS,
        findings_format,
        run,
        part: PartNumber { index, count },
        summary,
        coverage,
    })
    .map_err(ScanError::internal)
}

fn digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// The fixed part of every findings part, and the arithmetic that packs findings into parts.
pub struct Layout<'a> {
    format: SiemFormat,
    run: &'a Run,
    siem_run: &'a SiemRun,
    summary: &'a Summary,
    coverage: &'a CoverageSection,
    /// Header lengths with part numbers 0 and 0 (one digit each), with and without coverage.
    first_base: usize,
    other_base: usize,
}

impl<'a> Layout<'a> {
    pub fn new(
        run: &'a Run,
        siem_run: &'a SiemRun,
        summary: &'a Summary,
        coverage: &'a CoverageSection,
        format: SiemFormat,
    ) -> Result<Self, ScanError> {
        Ok(Self {
            first_base: header_json(format, siem_run, summary, Some(coverage), 0, 0)?.len(),
            other_base: header_json(format, siem_run, summary, None, 0, 0)?.len(),
            format,
            run,
            siem_run,
            summary,
            coverage,
        })
    }

    /// The bytes of message `index` of `count` that are not its findings: the header, the
    /// array's brackets and the attributes publish adds.
    fn overhead(&self, index: usize, count: usize) -> usize {
        let base = if index == 1 {
            self.first_base
        } else {
            self.other_base
        };
        base - 2 + digits(index) + digits(count) - 1
            + FINDINGS_OPEN.len()
            + FINDINGS_CLOSE.len()
            + RESOLVED_CLOSE.len()
            + attributes_size(&part_attributes(self.run, index, count))
    }

    /// How many items go into each part, given every item's serialized size in order: the
    /// findings, then the resolved entries. (A part holding both has one comma fewer than
    /// counted, so the count errs by a byte on the safe side.)
    /// The part count is only known at the end, and its digits change the sizes, so packing is
    /// repeated until the count it assumed has as many digits as the count it produced; from
    /// one digit up, that only grows, so it ends.
    pub fn plan(&self, sizes: &[u32]) -> Result<Vec<usize>, ScanError> {
        let mut assumed = 1;
        loop {
            let parts = self.pack(sizes, assumed)?;
            if digits(parts.len()) == digits(assumed) {
                return Ok(parts);
            }
            assumed = parts.len();
        }
    }

    fn pack(&self, sizes: &[u32], count: usize) -> Result<Vec<usize>, ScanError> {
        let mut parts = Vec::new();
        let mut in_part = 0;
        let mut size = self.overhead(1, count);
        for &item in sizes {
            let item = item as usize;
            let add = item + usize::from(in_part > 0);
            if size + add <= SNS_MESSAGE_LIMIT {
                size += add;
                in_part += 1;
                continue;
            }
            // Part 1 may close empty when its coverage leaves no room for a large finding.
            parts.push(in_part);
            size = self.overhead(parts.len() + 1, count) + item;
            if size > SNS_MESSAGE_LIMIT {
                return Err(ScanError::internal(format!(
                    "a {item}-byte finding does not fit an empty SIEM part"
                )));
            }
            in_part = 1;
        }
        parts.push(in_part);
        Ok(parts)
    }

    /// Part `index` of `count` with `items` (serialized findings) as its findings and
    /// `resolved` (serialized resolved entries) as its resolved entries.
    pub fn body(
        &self,
        index: usize,
        count: usize,
        items: &[String],
        resolved: &[String],
    ) -> Result<String, ScanError> {
        let coverage = (index == 1).then_some(self.coverage);
        let mut body = header_json(
            self.format,
            self.siem_run,
            self.summary,
            coverage,
            index,
            count,
        )?;
        body.pop();
        // Sized once: a part is up to 256 KiB, which growing by doubling would copy and
        // fault in about twice over.
        let joined = |list: &[String]| {
            list.iter().map(String::len).sum::<usize>() + list.len().saturating_sub(1)
        };
        body.reserve_exact(
            FINDINGS_OPEN.len()
                + joined(items)
                + FINDINGS_CLOSE.len()
                + joined(resolved)
                + RESOLVED_CLOSE.len(),
        );
        body.push_str(FINDINGS_OPEN);
        push_joined(&mut body, items);
        body.push_str(FINDINGS_CLOSE);
        push_joined(&mut body, resolved);
        body.push_str(RESOLVED_CLOSE);
        Ok(body)
    }
}

/// Appends `list` to `body`, comma-separated.
fn push_joined(body: &mut String, list: &[String]) {
    for (i, item) in list.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(item);
    }
}

/// What a failure document says about the failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureSection {
    /// The Step Functions error name (`RoleNotAssumable`, `States.Timeout`, ...).
    pub error: String,
    pub message: String,
    /// `None` when the execution input had no valid account id.
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub execution: String,
    pub remedy: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FailureDocument<'a> {
    schema: &'static str,
    schema_version: &'static str,
    kind: &'static str,
    /// `null` when the scan failed before a run existed.
    run: Option<&'a SiemRun>,
    failure: &'a FailureSection,
}

/// The SIEM document for a scan that could not be completed.
pub fn failure_document(run: Option<&Run>, failure: &FailureSection) -> Result<String, ScanError> {
    let siem_run = run.map(|r| SiemRun::new(r, None));
    serde_json::to_string(&FailureDocument {
        schema: SCHEMA,
        schema_version: SCHEMA_VERSION,
        kind: KIND_FAILURE,
        run: siem_run.as_ref(),
        failure,
    })
    .map_err(ScanError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(description: String) -> Finding {
        serde_json::from_value(serde_json::json!({
            "id": "arn:aws:inspector2:eu-west-1:111122223333:finding/f1",
            "engine": "inspector2",
            "accountId": "111122223333",
            "region": "eu-west-1",
            "severity": "HIGH",
            "title": "CVE-2024-0001 - openssl",
            "description": description,
            "recommendation": "Upgrade openssl.",
        }))
        .expect("finding")
    }

    #[test]
    fn a_finding_within_budget_is_untouched_and_one_byte_over_is_cut() {
        let text = finding_json(finding("é".repeat(500)), usize::MAX).expect("fits");
        let exact = text.len();
        assert_eq!(
            finding_json(finding("é".repeat(500)), exact).expect("fits"),
            text
        );
        let cut = finding_json(finding("é".repeat(500)), exact - 1).expect("cut");
        assert!(cut.len() < exact);
        let value: serde_json::Value = serde_json::from_str(&cut).expect("json");
        assert_eq!(value["truncated"], true);
        let description = value["description"].as_str().expect("text");
        assert!(description.ends_with(CUT_MARK) && description.starts_with("éé"));
        assert!(!text.contains("truncated"));
    }

    /// What the SIEM's findings were written as before they were spliced (serde's `flatten`):
    /// the reference the splice must give byte for byte.
    #[derive(Serialize)]
    struct Flattened<'a> {
        #[serde(flatten)]
        finding: &'a Finding,
        #[serde(flatten)]
        fields: &'a SiemFields<'a>,
    }

    #[test]
    fn a_spliced_finding_is_the_text_flatten_gives() {
        use scanflow_core::acceptance::{Acceptance, Standing};
        let mut full = finding("a \"quoted\"\n description".to_owned());
        full.instance_tags.insert("Name".into(), "web".into());
        full.score = Some(7.5);
        let acceptance = Acceptance {
            status: Standing::Accepted,
            reason: "compensating control".into(),
            owner: "team@example.com".into(),
            expires_at: "2027-01-01T00:00:00Z".into(),
        };
        let every = SiemFields {
            identity: Some("id-1"),
            lifecycle: Some("open"),
            age_days: Some(12),
            sla_due_at: Some("2026-12-31T00:00:00Z"),
            overdue: Some(false),
            acceptance: Some(&acceptance),
            truncated: true,
        };
        let none = SiemFields {
            identity: None,
            lifecycle: None,
            age_days: None,
            sla_due_at: None,
            overdue: None,
            acceptance: None,
            truncated: false,
        };
        for f in [&full, &finding(String::new())] {
            for fields in [&every, &none] {
                let spliced = siem_finding_json(f, fields).expect("json");
                let reference =
                    serde_json::to_string(&Flattened { finding: f, fields }).expect("json");
                assert_eq!(spliced, reference);
            }
        }
    }

    #[test]
    fn cutting_escaped_text_still_ends_and_fits() {
        let text = finding_json(finding("\u{1}".repeat(10_000)), 2_000).expect("cut");
        assert!(text.len() <= 2_000, "{}", text.len());
        let err = finding_json(finding(String::new()), 10).expect_err("id alone too big");
        assert_eq!(err.error_type(), "PayloadTooLarge");
    }

    #[test]
    fn coverage_is_capped_with_a_count_of_what_was_left_out() {
        let coverage = Coverage {
            scanned: Vec::new(),
            not_scanned: (0..20_000)
                .map(|i| Uncovered {
                    instance_id: format!("i-{i:017}"),
                    reason: "AGENT_NOT_INSTALLED".into(),
                    remedy: "Install the SSM agent and attach the instance profile.".into(),
                })
                .collect(),
            cis: None,
        };
        let section = CoverageSection::capped(&coverage).expect("capped");
        let size = serde_json::to_string(&section).expect("json").len();
        assert!(size <= COVERAGE_BUDGET, "{size}");
        assert!(section.truncated > 0);
        assert_eq!(section.not_scanned.len() as u64 + section.truncated, 20_000);
        let small = Coverage {
            scanned: Vec::new(),
            not_scanned: coverage.not_scanned[..3].to_vec(),
            cis: None,
        };
        let section = CoverageSection::capped(&small).expect("capped");
        assert_eq!((section.not_scanned.len(), section.truncated), (3, 0));
    }

    #[test]
    fn digits_count_decimal_places() {
        assert_eq!(
            [0, 9, 10, 99, 100, usize::MAX].map(digits),
            [1, 1, 2, 2, 3, 20]
        );
    }
}
