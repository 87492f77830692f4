//! The format step: turns the collected findings into the e-mail digest and the numbered SIEM
//! parts, reading the findings one chunk at a time, and returns only the digest key and the
//! part count.
//!
//! One pass over the chunks: each finding is read once, counted, ranked, given its lifecycle
//! against the account-Region's run state (the next state is written pending until publish has
//! delivered) and the accepted risk covering it, if any, and serialised for the SIEM once — as
//! scanflow's own finding or, when the hub's `SiemFormat` is `ocsf`, as an OCSF event — into a
//! spool (in memory up to 8 MiB, then a local file), its size noted. The parts' keys and
//! attributes name how many there are, which is known only once every size is: then the spool
//! is read back in order and packed into the planned parts. Findings of the last scan that are
//! gone come after the findings, as `resolved` entries, spooled the same way. Memory stays one
//! chunk's text (its findings decoded one at a time), one part and the spool's 8 MiB whatever
//! the count; past that the spool takes the SIEM's size on local disk (Lambda's `/tmp`) for the
//! invocation. Last, the scan's HTML report for people (written from the same bounded lists as
//! the digest, with the trend the run state keeps).

use scanflow_core::acceptance::AcceptedRisks;
use scanflow_core::lifecycle::{self, Gone, Previous, Seen, Sla, StateWriter};
use scanflow_core::message::{SNS_MESSAGE_LIMIT, attributes_size};
use scanflow_core::model::SeverityCounts;
use scanflow_core::ports::{Platform, ReportStore, SiemFormat};
use scanflow_core::state::{FormatInput, Formatted, Run};
use scanflow_core::{ScanError, keys, step};

use scanflow_documents::digest::{Changes, DigestFacts, TopVulnerabilities};
use scanflow_documents::envelope::part_attributes;
use scanflow_documents::html::{self, ScanFacts};
use scanflow_documents::ocsf;
use scanflow_documents::siem::{CoverageSection, Layout, LifecycleSummary, SiemRun, Summary};

/// Entry point shared by the Lambda main and the local engine.
pub async fn invoke<P: Platform>(
    platform: &P,
    event: serde_json::Value,
) -> Result<serde_json::Value, ScanError> {
    let input: FormatInput = step::decode(event)?;
    step::encode(&format_run(platform, &input).await?)
}

/// Writes the digest to `keys::digest(run)` and the SIEM parts to `keys::siem_part(run, i, n)`.
pub async fn format_run<P: Platform>(
    platform: &P,
    input: &FormatInput,
) -> Result<Formatted, ScanError> {
    let run = &input.run;
    let collected = &input.collected;
    let store = platform.store();
    let manifest =
        scanflow_documents::report::read_manifest(store, &collected.manifest_key).await?;
    let siem_run = SiemRun::new(run, Some(&manifest.collected_at));
    let config = platform.config();
    let format = config.siem_format;
    let budget = scanflow_documents::siem::finding_budget(&siem_run, run, format)?;
    let ocsf = ocsf::Context::new(run, &manifest.collected_at)?;
    let collected_at = scanflow_core::time::parse("collectedAt", &manifest.collected_at)?;
    let sla = Sla::resolve(&config.sla_days, run.sla_days.as_ref());
    let current = lifecycle::read_pointer(
        store,
        &keys::lifecycle_current(&run.account_id, &run.region),
    )
    .await?;
    let previous = Previous::load(store, lifecycle::previous_for(current, run)).await?;
    let accepted_risks = AcceptedRisks::load(store).await?;
    let mut seen = Seen::new(&manifest.coverage.scanned);
    let mut state = StateWriter::new(keys::lifecycle_pending_prefix(run), config.chunk_size);
    let floor = config.email_min_severity;
    let mut changes = Changes::new(previous.pointer().map(|p| p.collected_at.clone()), sla)
        .listing_down_to(floor);

    // The one pass: counts, the digest's most severe findings and what changed, the next run
    // state, and every finding serialised for the SIEM once, into the spool (its size noted).
    let mut counts = SeverityCounts::default();
    let mut top = TopVulnerabilities::new(config.digest_top_findings);
    let mut sizes: Vec<u32> = Vec::new();
    let mut spool = Spool::create();
    for key in &manifest.chunks {
        let chunk = scanflow_documents::report::read_chunk(store, key).await?;
        for finding in chunk.findings() {
            let finding = finding?;
            counts.add(finding.severity);
            let mut annotation = lifecycle::annotate(&finding, &previous, &sla, collected_at);
            if !accepted_risks.is_empty() {
                annotation.acceptance = accepted_risks.check(&finding, collected_at);
            }
            // An accepted risk is named in its own section, not among the most severe; what is
            // less severe than the e-mail's floor is counted, not listed.
            if finding.severity <= floor && !annotation.is_accepted() {
                top.offer(&finding);
            }
            changes.offer(&finding, &annotation);
            if seen.insert(&annotation.identity) {
                let record = lifecycle::record_of(&finding, &annotation, &manifest.collected_at);
                state.push(store, &record).await?;
            }
            let item = match format {
                SiemFormat::Scanflow => {
                    scanflow_documents::siem::annotated_json(finding, Some(&annotation), budget)?
                }
                SiemFormat::Ocsf => ocsf::finding_json(finding, &annotation, &ocsf, budget)?,
            };
            sizes.push(u32::try_from(item.len()).map_err(ScanError::internal)?);
            spool.push(item)?;
        }
    }
    let findings_in_spool = sizes.len();
    // The last scan's findings not found now: resolved where the instance was scanned, kept
    // unchanged where it was not (nothing is known about them).
    if let Some(p) = previous.pointer() {
        for key in &p.chunks {
            for gone in lifecycle::gone_in_chunk(store, key, &seen, &manifest.collected_at).await? {
                match gone {
                    Gone::Resolved(r) => {
                        changes.offer_resolved(&r);
                        let item = match format {
                            SiemFormat::Scanflow => scanflow_documents::siem::resolved_json(&r)?,
                            SiemFormat::Ocsf => ocsf::resolved_json(&r, &ocsf)?,
                        };
                        sizes.push(u32::try_from(item.len()).map_err(ScanError::internal)?);
                        spool.push(item)?;
                    }
                    Gone::CarriedOver(record) => {
                        changes.carried_over();
                        state.push(store, &record).await?;
                    }
                }
            }
        }
    }
    let scan_summary = lifecycle::ScanSummary {
        counts: counts.clone(),
        new: changes.new.total(),
        resolved: changes.resolved.total(),
        overdue: changes.overdue.total(),
        instances_scanned: manifest.coverage.scanned.len() as u64,
        instances_not_scanned: manifest.coverage.not_scanned.len() as u64,
    };
    let pending = state
        .finish(
            store,
            run,
            &manifest.collected_at,
            previous.pointer(),
            scan_summary,
        )
        .await?;
    if counts != manifest.counts {
        tracing::warn!(
            manifest = manifest.counts.total(),
            read = counts.total(),
            "the manifest's counts differ from the findings in its chunks; reporting what was read"
        );
    }

    let mut summary = Summary::new(counts.clone(), &manifest.coverage);
    summary.lifecycle = Some(LifecycleSummary {
        since: changes.since.clone(),
        new: changes.new.total(),
        open: changes.open,
        resolved: changes.resolved.total(),
        overdue: changes.overdue.total(),
        carried_over: changes.carried_over,
    });
    let coverage = CoverageSection::capped(&manifest.coverage)?;
    let layout = Layout::new(run, &siem_run, &summary, &coverage, format)?;
    let plan = layout.plan(&sizes)?;
    drop(sizes);

    // The parts, now that their count is known: the spooled items, in order, as planned.
    let mut writer = PartWriter::new(run, &layout, plan);
    let mut items = spool.into_reader()?;
    let mut index = 0usize;
    while let Some(item) = items.next_item()? {
        writer.push(store, item, index >= findings_in_spool).await?;
        index += 1;
    }
    let siem_parts = writer.finish(store).await?;

    let top = top.into_sorted();
    // The HTML report first: the digest keeps room for the link publish makes to it.
    let report_key = keys::report_html(run);
    let report = html::scan_report(&ScanFacts {
        run,
        counts: &counts,
        coverage: &manifest.coverage,
        collected_at: &manifest.collected_at,
        changes: &changes,
        top: &top,
        trend: &pending.history,
    });
    store
        .put(&report_key, report.into_bytes(), html::CONTENT_TYPE)
        .await?;
    let digest = scanflow_documents::digest::render(&mut DigestFacts {
        changes: &mut changes,
        run,
        counts: &counts,
        coverage: &manifest.coverage,
        collected_at: &manifest.collected_at,
        top: &top,
        siem_parts,
        report_key: Some(&report_key),
    });
    let digest_key = keys::digest(run);
    let body = serde_json::to_vec(&digest).map_err(ScanError::internal)?;
    store.put(&digest_key, body, "application/json").await?;

    tracing::info!(
        account = %run.account_id,
        region = %run.region,
        findings = counts.total(),
        new = changes.new.total(),
        resolved = changes.resolved.total(),
        overdue = changes.overdue.total(),
        state_records = pending.findings,
        siem_parts,
        siem_format = %format,
        "formatted the digest and the SIEM parts"
    );
    Ok(Formatted {
        digest_key,
        siem_parts,
    })
}

/// Fills and writes the parts in order, following the plan made in the first pass.
struct PartWriter<'a> {
    run: &'a Run,
    layout: &'a Layout<'a>,
    plan: Vec<usize>,
    /// 0-based index of the part being filled.
    current: usize,
    items: Vec<String>,
    resolved: Vec<String>,
}

impl<'a> PartWriter<'a> {
    fn new(run: &'a Run, layout: &'a Layout<'a>, plan: Vec<usize>) -> Self {
        Self {
            run,
            layout,
            plan,
            current: 0,
            items: Vec::new(),
            resolved: Vec::new(),
        }
    }

    fn in_part(&self) -> usize {
        self.items.len() + self.resolved.len()
    }

    /// Adds a finding, or (`resolved`) a resolved entry: every finding comes before them.
    async fn push<S: ReportStore>(
        &mut self,
        store: &S,
        item: String,
        resolved: bool,
    ) -> Result<(), ScanError> {
        while self.plan.get(self.current) == Some(&self.in_part()) {
            self.write_current(store).await?;
        }
        if self.current >= self.plan.len() {
            return Err(changed_between_passes());
        }
        if resolved {
            self.resolved.push(item);
        } else {
            self.items.push(item);
        }
        Ok(())
    }

    async fn finish<S: ReportStore>(mut self, store: &S) -> Result<usize, ScanError> {
        while self.current < self.plan.len() {
            if self.in_part() != self.plan[self.current] {
                return Err(changed_between_passes());
            }
            self.write_current(store).await?;
        }
        Ok(self.plan.len())
    }

    async fn write_current<S: ReportStore>(&mut self, store: &S) -> Result<(), ScanError> {
        let (index, count) = (self.current + 1, self.plan.len());
        let body = self
            .layout
            .body(index, count, &self.items, &self.resolved)?;
        let size = body.len() + attributes_size(&part_attributes(self.run, index, count));
        if size > SNS_MESSAGE_LIMIT {
            return Err(changed_between_passes());
        }
        store
            .put(
                &keys::siem_part(self.run, index, count),
                body.into_bytes(),
                "application/json",
            )
            .await?;
        self.items.clear();
        self.resolved.clear();
        self.current += 1;
        Ok(())
    }
}

/// The parts do not hold what was planned: the spool read back differs from what was written.
fn changed_between_passes() -> ScanError {
    ScanError::internal(
        "the spooled SIEM items read back differ from the plan made when they were written \
         (was the spool file in the temporary directory changed meanwhile?); run the format \
         step again",
    )
}

/// The SIEM items of one format invocation: in memory up to [`SPOOL_IN_MEMORY`] bytes, then
/// in a temporary file removed when done, one JSON document a line (serde_json escapes
/// newlines inside strings, so a line is an item).
struct Spool {
    memory: Vec<String>,
    in_memory: usize,
    file: Option<(std::io::BufWriter<std::fs::File>, SpoolFile)>,
}

/// The spool's bytes kept in memory: an account's usual thousands of findings never touch the
/// disk (a file created, written and read back on every invocation),
/// while a large one spills to `/tmp` and memory stays bounded.
const SPOOL_IN_MEMORY: usize = 8 << 20;

/// Removes the spool file when the invocation is over, however it ends: a warm Lambda reuses
/// its `/tmp`.
struct SpoolFile(std::path::PathBuf);

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn spool_error(path: &std::path::Path, e: &std::io::Error) -> ScanError {
    ScanError::internal(format!(
        "the SIEM spool {}: {e}; the temporary directory needs room for the account's SIEM \
         parts (in Lambda, raise the format function's EphemeralStorage)",
        path.display()
    ))
}

impl Spool {
    fn create() -> Self {
        Self {
            memory: Vec::new(),
            in_memory: 0,
            file: None,
        }
    }

    fn push(&mut self, item: String) -> Result<(), ScanError> {
        use std::io::Write;
        if self.file.is_none() {
            if self.in_memory + item.len() < SPOOL_IN_MEMORY {
                // Counted as the file would take it: with its newline.
                self.in_memory += item.len() + 1;
                self.memory.push(item);
                return Ok(());
            }
            self.spill()?;
        }
        let Some((out, file)) = &mut self.file else {
            return Err(ScanError::internal("the SIEM spool file was lost"));
        };
        out.write_all(item.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| spool_error(&file.0, &e))
    }

    /// Moves what is in memory to a new spool file, which takes the rest.
    fn spill(&mut self) -> Result<(), ScanError> {
        use std::io::Write;
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "scanflow-format-{}-{}.ndjson",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = std::fs::File::create(&path).map_err(|e| spool_error(&path, &e))?;
        let guard = SpoolFile(path);
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        for item in std::mem::take(&mut self.memory) {
            out.write_all(item.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| spool_error(&guard.0, &e))?;
        }
        self.in_memory = 0;
        self.file = Some((out, guard));
        Ok(())
    }

    fn into_reader(self) -> Result<SpoolReader, ScanError> {
        let Some((out, guard)) = self.file else {
            return Ok(SpoolReader::Memory(self.memory.into_iter()));
        };
        let file = out
            .into_inner()
            .map_err(|e| spool_error(&guard.0, e.error()))?;
        drop(file);
        let file = std::fs::File::open(&guard.0).map_err(|e| spool_error(&guard.0, &e))?;
        Ok(SpoolReader::File {
            input: std::io::BufReader::with_capacity(256 * 1024, file),
            file: guard,
        })
    }
}

enum SpoolReader {
    Memory(std::vec::IntoIter<String>),
    File {
        input: std::io::BufReader<std::fs::File>,
        file: SpoolFile,
    },
}

impl SpoolReader {
    fn next_item(&mut self) -> Result<Option<String>, ScanError> {
        use std::io::BufRead;
        match self {
            SpoolReader::Memory(items) => Ok(items.next()),
            SpoolReader::File { input, file } => {
                let mut line = String::new();
                let read = input
                    .read_line(&mut line)
                    .map_err(|e| spool_error(&file.0, &e))?;
                if read == 0 {
                    return Ok(None);
                }
                if line.ends_with('\n') {
                    line.pop();
                }
                Ok(Some(line))
            }
        }
    }
}

#[cfg(test)]
mod tests;
