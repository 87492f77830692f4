//! Delivering a finished scan: the e-mail digest, then every SIEM part in order, then Security
//! Hub (delivered findings that are still NEW marked NOTIFIED, with the run in their
//! user-defined fields; instances not scanned imported as notices).
//!
//! Each message is published once per delivery (one execution): a ledger in the bucket records
//! every message as it goes out, so when SNS or the Lambda fails part-way and the state
//! machine retries (or an operator redrives) the step, it publishes only what is missing.
//! Security Hub updates are idempotent by id, and their problems never undo a delivery.

use scanflow_core::fleet::{CisDelivered, LastDelivery, ScanScope};
use scanflow_core::message::Message;
use scanflow_core::migration::V2Readiness;
use scanflow_core::model::{Severity, Uncovered};
use scanflow_core::ports::{
    FindingRef, MemberAccount, Notice, NoticeKind, NoticeResource, Platform, ReportStore,
    SECURITY_HUB_BATCH, SecurityHub,
};
use scanflow_core::state::{Collected, Formatted, Manifest, Published, Run};
use scanflow_core::text::clip;
use scanflow_core::{ScanError, fingerprint, keys};
use scanflow_documents::digest::Digest;
use scanflow_documents::envelope::{digest_attributes, part_attributes, part_subject};
use scanflow_documents::html;
use scanflow_documents::report;
use std::collections::{BTreeMap, HashMap};

use crate::ledger::Ledger;
use crate::open_notices::{self, OpenNotice, SecurityHubHome};
use crate::problems::Problems;

const MARK: &str = "mark NOTIFIED";
const IMPORT: &str = "import not-scanned notices";
/// After this many failed calls in a row, Security Hub is taken to be unavailable for the rest
/// of the run rather than called once per remaining batch.
pub const MAX_CONSECUTIVE_FAILURES: u32 = 3;

pub async fn deliver<P: Platform>(
    platform: &P,
    run: &Run,
    collected: &Collected,
    formatted: &Formatted,
) -> Result<Published, ScanError> {
    let store = platform.store();
    let notifier = platform.notifier();
    let ledger = Ledger::new(store, keys::delivery_ledger(run, &run.execution));
    let (mut messages, mut already_sent) = (0, 0);
    let mut count = |sent: bool| {
        if sent {
            messages += 1;
        } else {
            already_sent += 1;
        }
    };

    let digest = read_digest(store, &formatted.digest_key).await?;
    // The link to the HTML report is made now, so a re-delivery gets a fresh one.
    let link = match &digest.report {
        Some(slot) => {
            Some(html::link_to(store, &slot.key, platform.config().report_link_validity()).await?)
        }
        None => None,
    };
    let body = digest.text(link.as_ref())?;
    let message = Message::for_people(&digest.subject, &body, digest_attributes(run))?;
    count(ledger.publish_once(notifier, "digest", &message).await?);

    let parts = formatted.siem_parts;
    for index in 1..=parts {
        let key = keys::siem_part(run, index, parts);
        let body = String::from_utf8(store.get(&key).await?).map_err(|e| {
            ScanError::internal(format!(
                "SIEM part {key} is not UTF-8 text ({e}); run the format step again"
            ))
        })?;
        let message = Message::new(
            &part_subject(run, index, parts),
            body,
            part_attributes(run, index, parts),
        )?;
        let part = format!("siem-{index:05}-of-{parts:05}");
        count(ledger.publish_once(notifier, &part, &message).await?);
    }
    tracing::info!(account = %run.account_id, region = %run.region, messages, already_sent, delivery = %run.execution, "published the digest and the SIEM parts");

    let mut problems = Problems::default();
    let (findings_marked, findings_triaged, notices_imported, notices_resolved) =
        update_security_hub(platform, run, collected, &mut problems).await;
    if !problems.is_empty() {
        tracing::warn!(account = %run.account_id, region = %run.region, "Security Hub was not fully updated; the delivery stands");
    }
    record_delivery(store, run, collected).await;
    // Only now, with everything published, does this scan become the one the next compares
    // against. A failure here fails the step (retried): a lost promotion would report the
    // same findings as new again and never report what this scan resolved.
    scanflow_core::lifecycle::promote(store, run).await?;
    Ok(Published {
        messages,
        already_sent,
        delivery: run.execution.clone(),
        findings_marked,
        findings_triaged,
        notices_imported,
        notices_resolved,
        security_hub_problems: problems.into_lines(),
    })
}

/// Records what was delivered for the fleet watch. Its failure does not undo the delivery (a
/// retry would publish everything again): it is logged, and tomorrow's watch names the
/// account-Region as having missed its scan, which sends someone to look.
async fn record_delivery<S: ReportStore>(store: &S, run: &Run, collected: &Collected) {
    // The manifest's collection time stands for the delivery time: the handlers have no clock
    // of their own (the local engine's is virtual), and delivery follows collection at once.
    let (delivered_at, cis) = match report::read_manifest(store, &collected.manifest_key).await {
        Ok(manifest) => (
            manifest.collected_at,
            manifest.coverage.cis.map(|c| CisDelivered {
                level: c.level,
                outcome: c.outcome,
            }),
        ),
        Err(_) => (run.started_at.clone(), None),
    };
    let record = LastDelivery {
        account_id: run.account_id.clone(),
        region: run.region.clone(),
        execution: run.execution.clone(),
        started_at: run.started_at.clone(),
        delivered_at,
        scheduled_at: run.scheduled_at.clone(),
        scope: ScanScope {
            engine: run.engine,
            tag: run.tag.clone(),
            duration_seconds: run.duration_seconds,
        },
        cis,
        v2_ec2: match &run.v2_readiness {
            Some(V2Readiness::Reported { ec2 }) => Some(*ec2),
            _ => None,
        },
    };
    let key = keys::last_delivery(&run.account_id, &run.region);
    let written = match serde_json::to_vec(&record) {
        Ok(body) => store.put(&key, body, "application/json").await,
        Err(e) => Err(ScanError::internal(e)),
    };
    if let Err(e) = written {
        tracing::warn!(account = %run.account_id, region = %run.region, key, error = %e, "could not record the delivery for the fleet watch");
    }
}

async fn read_digest<S: ReportStore>(store: &S, key: &str) -> Result<Digest, ScanError> {
    let bytes = store.get(key).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ScanError::internal(format!(
            "digest {key} is not a scanflow digest ({e}); run the format step again"
        ))
    })
}

/// Marks the delivered findings and imports the not-scanned notices through the member's role.
/// Returns (findings marked, findings left alone as already triaged, notices imported,
/// notices archived as cleared); everything that went wrong is in `problems`.
async fn update_security_hub<P: Platform>(
    platform: &P,
    run: &Run,
    collected: &Collected,
    problems: &mut Problems,
) -> (u64, u64, u64, u64) {
    let member = match platform
        .member(&run.account_id, &run.region, &run.execution)
        .await
    {
        Ok(member) => member,
        Err(e) => {
            tracing::warn!(account = %run.account_id, error = %e, "cannot enter the member account for Security Hub");
            problems.record(
                "Security Hub",
                &format!("cannot enter account {}: {e}", run.account_id),
                collected.counts.total() + collected.instances_not_scanned,
                "",
            );
            return (0, 0, 0, 0);
        }
    };
    let manifest = match report::read_manifest(platform.store(), &collected.manifest_key).await {
        Ok(manifest) => manifest,
        Err(e) => {
            problems.record(
                "Security Hub",
                &format!("cannot read the manifest: {e}"),
                collected.counts.total() + collected.instances_not_scanned,
                &collected.manifest_key,
            );
            return (0, 0, 0, 0);
        }
    };
    let hub = member.security_hub();
    let (marked, triaged) = mark_delivered(
        platform.store(),
        hub,
        run,
        &manifest,
        collected.counts.total(),
        problems,
    )
    .await;
    let notices: Vec<Notice> = manifest
        .coverage
        .not_scanned
        .iter()
        .map(|u| not_scanned_notice(run, &manifest.collected_at, u))
        .collect();
    let imported = import_notices(hub, &notices, problems).await;
    let resolved = archive_cleared(platform, run, &manifest.collected_at, &notices, problems).await;
    (marked, triaged, imported, resolved)
}

/// Archives the notices this delivery shows cleared: every open "scan failed" notice of the
/// account-Region (it was scanned), and every "not scanned" notice of an instance that is
/// covered now. Then the open notices are the not-scanned ones just imported. Returns how many
/// were archived.
async fn archive_cleared<P: Platform>(
    platform: &P,
    run: &Run,
    cleared_at: &str,
    current: &[Notice],
    problems: &mut Problems,
) -> u64 {
    const ARCHIVE: &str = "archive cleared notices";
    let store = platform.store();
    let open = match open_notices::read(store, &run.account_id, &run.region).await {
        Ok(open) => open,
        Err(e) => {
            problems.record(ARCHIVE, &e.to_string(), 1, "");
            return 0;
        }
    };
    let (mut member, mut hub) = (Vec::new(), Vec::new());
    for o in open {
        if current.iter().any(|n| n.id == o.notice.id) {
            continue;
        }
        let mut notice = o.notice;
        notice.resolved_at = Some(cleared_at.to_owned());
        notice.execution = run.execution.clone();
        match o.home {
            SecurityHubHome::Member => member.push(notice),
            SecurityHubHome::Hub => hub.push(notice),
        }
    }
    let mut archived = 0;
    if !member.is_empty() {
        match platform
            .member(&run.account_id, &run.region, &run.execution)
            .await
        {
            Ok(m) => archived += import_notices(m.security_hub(), &member, problems).await,
            Err(e) => problems.record(ARCHIVE, &e.to_string(), member.len() as u64, ""),
        }
    }
    archived += import_notices(platform.hub_security_hub(), &hub, problems).await;
    let still_open: Vec<OpenNotice> = current
        .iter()
        .map(|n| OpenNotice {
            notice: n.clone(),
            home: SecurityHubHome::Member,
        })
        .collect();
    if let Err(e) = open_notices::write(store, &run.account_id, &run.region, &still_open).await {
        problems.record(ARCHIVE, &e.to_string(), still_open.len() as u64, "");
    }
    archived
}

/// Calls Security Hub batch by batch, counting what it did, recording what it did not, and
/// giving up after [`MAX_CONSECUTIVE_FAILURES`] failed calls in a row.
struct Batches<'a> {
    operation: &'static str,
    problems: &'a mut Problems,
    done: u64,
    attempted: u64,
    failures_in_a_row: u32,
}

impl<'a> Batches<'a> {
    fn new(operation: &'static str, problems: &'a mut Problems) -> Self {
        Self {
            operation,
            problems,
            done: 0,
            attempted: 0,
            failures_in_a_row: 0,
        }
    }

    /// Accounts for one call over `ids`; false once Security Hub is given up on.
    fn settle(
        &mut self,
        ids: &[&str],
        result: Result<Vec<scanflow_core::ports::Unprocessed>, ScanError>,
    ) -> bool {
        let size = ids.len() as u64;
        self.attempted += size;
        match result {
            Ok(unprocessed) => {
                self.failures_in_a_row = 0;
                self.done += size.saturating_sub(unprocessed.len() as u64);
                self.problems
                    .record_unprocessed(self.operation, &unprocessed);
                true
            }
            Err(e) => {
                self.failures_in_a_row += 1;
                let first = ids.first().copied().unwrap_or_default();
                tracing::warn!(operation = self.operation, items = size, first, error = %e, "Security Hub call failed");
                self.problems
                    .record(self.operation, &e.to_string(), size, first);
                self.failures_in_a_row < MAX_CONSECUTIVE_FAILURES
            }
        }
    }

    fn give_up(&mut self, total: u64) {
        let left = total.saturating_sub(self.attempted);
        if left > 0 {
            self.problems.record(
                self.operation,
                &format!("not attempted after {MAX_CONSECUTIVE_FAILURES} failed calls in a row"),
                left,
                "",
            );
        }
    }
}

/// The user-defined fields scanflow adds to a finding it marks (people's notes stay theirs).
pub const FIELD_EXECUTION: &str = "scanflow_execution";
pub const FIELD_RUN: &str = "scanflow_run";

/// Marks NOTIFIED the delivered findings that Security Hub holds as NEW, in batches of at most
/// [`SECURITY_HUB_BATCH`], reading one chunk at a time. Findings people have triaged
/// (NOTIFIED, SUPPRESSED, RESOLVED) are left exactly as they are, and no note is written.
/// Returns (marked, left alone because already triaged).
async fn mark_delivered<S: ReportStore, H: SecurityHub>(
    store: &S,
    hub: &H,
    run: &Run,
    manifest: &Manifest,
    total: u64,
    problems: &mut Problems,
) -> (u64, u64) {
    // What is NEW now. Without it nothing is marked: marking blind could undo triage.
    let mut new = NewFindings::default();
    let mut cursor = None;
    loop {
        match hub.new_findings(cursor).await {
            Ok(page) => {
                for f in page.findings {
                    new.insert(&f.id, f.user_defined_fields);
                }
                cursor = page.next;
                if cursor.is_none() {
                    break;
                }
            }
            Err(e) => {
                problems.record(
                    MARK,
                    &format!("cannot read which findings are still NEW ({e}); none was marked"),
                    total,
                    "",
                );
                return (0, 0);
            }
        }
    }
    let mark = |existing: &BTreeMap<String, String>| {
        let mut fields = existing.clone();
        fields.insert(FIELD_EXECUTION.to_owned(), run.execution.clone());
        fields.insert(FIELD_RUN.to_owned(), clip(&run.run_id, 512));
        fields
    };
    let mut batches = Batches::new(MARK, problems);
    let mut triaged = 0_u64;
    // One call sets one map of fields: findings are grouped by the fields they will have,
    // made once for each distinct map they have now.
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<FindingRef>> = BTreeMap::new();
    let mut marked: HashMap<u32, BTreeMap<String, String>> = HashMap::new();
    for key in &manifest.chunks {
        let findings = match report::read_chunk_refs(store, key).await {
            Ok(findings) => findings,
            Err(e) => {
                batches.problems.record(
                    MARK,
                    &format!("cannot read the findings: {e}"),
                    total.saturating_sub(batches.attempted),
                    key,
                );
                return (batches.done, triaged);
            }
        };
        for finding in findings {
            let Some((index, existing)) = new.get(&finding.id) else {
                triaged += 1;
                continue;
            };
            let fields = marked.entry(index).or_insert_with(|| mark(existing));
            if !groups.contains_key(fields) {
                groups.insert(fields.clone(), Vec::new());
            }
            let Some(group) = groups.get_mut(fields) else {
                continue;
            };
            group.push(finding);
            if group.len() == SECURITY_HUB_BATCH {
                let batch = std::mem::take(group);
                let result = hub.mark_notified(&batch, fields).await;
                if !batches.settle(&ids(&batch), result) {
                    batches.give_up(total.saturating_sub(triaged));
                    return (batches.done, triaged);
                }
            }
        }
    }
    for (fields, batch) in groups {
        if batch.is_empty() {
            continue;
        }
        let result = hub.mark_notified(&batch, &fields).await;
        if !batches.settle(&ids(&batch), result) {
            batches.give_up(total.saturating_sub(triaged));
            break;
        }
    }
    (batches.done, triaged)
}

/// The findings Security Hub holds as NEW, with their user-defined fields, kept small: each id
/// as its 16-byte [`fingerprint`], each distinct map of fields once (NEW findings rarely have
/// any). A million NEW findings take about 40 MB here, not 170.
#[derive(Default)]
struct NewFindings {
    ids: HashMap<[u8; 16], u32>,
    fields: Vec<BTreeMap<String, String>>,
    field_index: HashMap<BTreeMap<String, String>, u32>,
}

impl NewFindings {
    fn insert(&mut self, id: &str, fields: BTreeMap<String, String>) {
        let index = match self.field_index.get(&fields) {
            Some(&i) => i,
            None => {
                // Past 2^32 distinct maps (never) a finding reads as not NEW: left alone.
                let i = u32::try_from(self.fields.len()).unwrap_or(u32::MAX);
                self.fields.push(fields.clone());
                self.field_index.insert(fields, i);
                i
            }
        };
        self.ids.insert(fingerprint::of(id), index);
    }

    /// The fields of `id` if it is NEW, with the index of that map of fields.
    fn get(&self, id: &str) -> Option<(u32, &BTreeMap<String, String>)> {
        let &i = self.ids.get(&fingerprint::of(id))?;
        self.fields.get(i as usize).map(|f| (i, f))
    }
}

fn ids(batch: &[FindingRef]) -> Vec<&str> {
    batch.iter().map(|f| f.id.as_str()).collect()
}

/// Imports notices in batches of at most [`SECURITY_HUB_BATCH`]; returns how many were taken.
pub(crate) async fn import_notices<H: SecurityHub>(
    hub: &H,
    notices: &[Notice],
    problems: &mut Problems,
) -> u64 {
    let mut batches = Batches::new(IMPORT, problems);
    for batch in notices.chunks(SECURITY_HUB_BATCH) {
        let ids: Vec<&str> = batch.iter().map(|n| n.id.as_str()).collect();
        let result = hub.import_notices(batch).await;
        if !batches.settle(&ids, result) {
            batches.give_up(notices.len() as u64);
            break;
        }
    }
    batches.done
}

/// The Security Hub notice for an instance in scope that the scan did not cover.
fn not_scanned_notice(run: &Run, collected_at: &str, uncovered: &Uncovered) -> Notice {
    Notice {
        id: Notice::id_for(
            &run.account_id,
            &run.region,
            NoticeKind::NotScanned,
            &uncovered.instance_id,
        ),
        account_id: run.account_id.clone(),
        region: run.region.clone(),
        kind: NoticeKind::NotScanned,
        severity: Severity::Medium,
        title: clip(
            &format!(
                "EC2 instance {} was not scanned for vulnerabilities",
                uncovered.instance_id
            ),
            256,
        ),
        description: clip(
            &format!(
                "Instance {} in account {} ({}) is in the scope of scanflow's scan ({}) but was \
                 not scanned: {}. Run {}, execution {}.",
                uncovered.instance_id,
                run.account_id,
                run.region,
                run.target(),
                uncovered.reason,
                run.run_id,
                run.execution
            ),
            1024,
        ),
        remedy: clip(&uncovered.remedy, 512),
        resource: NoticeResource::AwsEc2Instance {
            id: uncovered.instance_id.clone(),
        },
        // The collection time: a retry of this delivery re-sends the same notice unchanged.
        created_at: collected_at.to_owned(),
        execution: run.execution.clone(),
        resolved_at: None,
    }
}
