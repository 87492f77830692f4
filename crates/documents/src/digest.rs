//! The e-mail digest: one plain-text message for people. It leads with what changed since the
//! last delivered scan (new critical/high findings, what was resolved, what is overdue against
//! the SLA), then the counts, the most severe findings, what the scan covered and where to look
//! next. It always fits one SNS message, and every line fits [`WIDTH`] (78) characters,
//! broken at spaces; only a URL or an ARN, which must stay whole to be used, may be longer, on
//! a line of its own.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::fmt::Write as _;

use scanflow_core::ScanError;
use scanflow_core::acceptance::Acceptance;
use scanflow_core::lifecycle::{Annotation, Resolved, Sla, Status};
use scanflow_core::message::{SNS_MESSAGE_LIMIT, attributes_size};
use scanflow_core::migration::{CLASSIC_END, MigrationPlan};
use scanflow_core::model::{
    CisCoverage, CisOutcome, Coverage, Engine, Finding, Severity, SeverityCounts,
};
use scanflow_core::ports::ObjectLink;
use scanflow_core::state::Run;
use scanflow_core::text::{WIDTH, wrap};
use serde::{Deserialize, Serialize};

use crate::envelope::digest_attributes;
use scanflow_core::text::one_line;

/// How many not-scanned instances the digest lists by name before "and N more".
pub const COVERAGE_LINES: usize = 50;
/// Titles and coverage lines are cut to this many characters (then wrapped to
/// [`WIDTH`]), so one finding never takes more than a few lines.
const LINE_CHARS: usize = 240;
/// An instance's Name tag is cut to this many characters: it shares a line with the rank,
/// severity, score and instance id.
const NAME_CHARS: usize = 24;
/// Continuation lines of a listed finding start under its title.
const ITEM_INDENT: &str = "      ";
/// How many findings each list of "what changed" names before "and N more".
pub const CHANGE_LINES: usize = 10;

/// The digest as format stores it and publish sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub subject: String,
    pub body: String,
    /// The scan's HTML report, linked from the body where publish puts the link (made when
    /// sending, so a re-delivery days later gets a fresh one). `None`: digests of a scanflow
    /// before reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportSlot>,
}

/// Where the link to the HTML report goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSlot {
    /// The report's key in the report store.
    pub key: String,
    /// The byte offset in the body, at the start of a line, where the link lines go.
    pub at: usize,
}

/// Bytes of the body kept free for the link lines: a presigned URL signed with a role's
/// session token is about 1.5 KB; a longer link is replaced by the console path.
pub const LINK_ROOM: usize = 4096;

impl Digest {
    /// The body as sent, with the lines linking to the report at their place. A slot that
    /// does not fall at the start of a line of the body is refused (a digest edited by hand).
    pub fn text(&self, link: Option<&ObjectLink>) -> Result<String, ScanError> {
        let (Some(slot), Some(link)) = (&self.report, link) else {
            return Ok(self.body.clone());
        };
        // `get` is None past the end or off a character boundary.
        let at_line_start =
            slot.at == 0 || self.body.get(..slot.at).is_some_and(|h| h.ends_with('\n'));
        if !at_line_start {
            return Err(ScanError::internal(format!(
                "the digest's report link slot ({} of {} bytes) is not at the start of a \
                 line; run the format step again",
                slot.at,
                self.body.len()
            )));
        }
        let lines = link_lines(link);
        let mut body = String::with_capacity(self.body.len() + lines.len() + 1);
        body.push_str(&self.body[..slot.at]);
        body.push_str(&lines);
        // A blank line sets the report apart from the console links under it.
        body.push('\n');
        body.push_str(&self.body[slot.at..]);
        Ok(body)
    }
}

/// The lines that point a reader at an HTML report, by how it can be opened.
pub fn link_lines(link: &ObjectLink) -> String {
    let (intro, url) = match link {
        ObjectLink::Presigned { url, expires_at } => (
            format!(
                "The report with charts (HTML). Anyone with this link can open it, until \
                 {expires_at} at the latest:"
            ),
            url,
        ),
        ObjectLink::Console { url } => (
            "The report with charts (HTML), in the hub's report bucket (sign in to the hub \
             account):"
                .to_owned(),
            url,
        ),
        ObjectLink::File { url } => (
            "The report with charts (HTML), a file in the sandbox's bucket folder:".to_owned(),
            url,
        ),
    };
    let mut s = wrap(&intro, WIDTH, "", "");
    let _ = writeln!(s, "  {url}");
    s
}

/// What the digest says about one finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Brief {
    pub id: String,
    pub severity: Severity,
    pub score: Option<f64>,
    pub instance_id: Option<String>,
    /// The instance's `Name` tag, which is what people call it.
    pub instance_name: Option<String>,
    pub vulnerability_id: Option<String>,
    pub title: String,
    pub fix_available: Option<bool>,
    /// Days since first seen, for the overdue list.
    pub age_days: Option<u64>,
    /// What to upgrade, or the open port and its path, and the exposure (exploit, EPSS): the
    /// triage line from the finding's detail, when it has one.
    pub detail: Option<String>,
    /// Whether a public exploit is known: ranks first within a severity.
    pub exploit_available: bool,
    /// In the most severe list, one entry stands for every finding of its vulnerability: how
    /// many findings and on how many instances (1 and 1 elsewhere).
    pub findings: u64,
    pub instances: u64,
}

impl Brief {
    fn of(finding: &Finding) -> Self {
        Self {
            age_days: None,
            id: finding.id.clone(),
            severity: finding.severity,
            score: finding.score,
            instance_id: finding.instance_id.as_deref().map(|s| one_line(s, 64)),
            instance_name: finding
                .instance_tags
                .get("Name")
                .map(|s| one_line(s, NAME_CHARS))
                .filter(|s| !s.is_empty()),
            vulnerability_id: finding.vulnerability_id.as_deref().map(|s| one_line(s, 64)),
            title: one_line(&finding.title, LINE_CHARS),
            fix_available: finding.fix_available,
            detail: finding
                .detail
                .as_deref()
                .and_then(|d| triage_line(d, &finding.recommendation)),
            exploit_available: finding
                .detail
                .as_deref()
                .is_some_and(|d| d.exploit_available == Some(true)),
            findings: 1,
            instances: 1,
        }
    }

    fn rank(&self, other: &Self) -> Ordering {
        self.rank_key().cmp(&other.rank_key())
    }

    fn rank_key(&self) -> RankKey<'_> {
        RankKey {
            severity: self.severity,
            exploit_available: self.exploit_available,
            fix_available: self.fix_available == Some(true),
            score: self.score,
            id: &self.id,
        }
    }
}

/// What a [`Brief`] is ranked by, read from the finding it would be made of: most findings
/// rank below the kept ones and need no brief (whose lines take allocations to write).
#[derive(Clone, Copy)]
struct RankKey<'a> {
    severity: Severity,
    exploit_available: bool,
    fix_available: bool,
    score: Option<f64>,
    id: &'a str,
}

impl<'a> RankKey<'a> {
    fn of(finding: &'a Finding) -> Self {
        Self {
            severity: finding.severity,
            exploit_available: finding
                .detail
                .as_deref()
                .is_some_and(|d| d.exploit_available == Some(true)),
            fix_available: finding.fix_available == Some(true),
            score: finding.score,
            id: &finding.id,
        }
    }

    /// Most urgent first: severity; within it, a known exploit first, then a fix available
    /// (something to do now), then score (higher first, none last); then id, so the order does
    /// not depend on the order findings were read in.
    fn cmp(&self, other: &Self) -> Ordering {
        let score = |k: &Self| k.score.unwrap_or(f64::NEG_INFINITY);
        self.severity
            .cmp(&other.severity)
            .then_with(|| other.exploit_available.cmp(&self.exploit_available))
            .then_with(|| other.fix_available.cmp(&self.fix_available))
            .then_with(|| score(other).total_cmp(&score(self)))
            .then_with(|| self.id.cmp(other.id))
    }
}

/// `openssl 3.0.8-1 (fixed in 3.0.8-2); exploit available, EPSS 0.94`, for a reachability
/// finding `TCP 22 open via igw-1 > sg-2`, for a failed CIS check `LEVEL_1 fix: <its
/// remediation>`, cut to one line's worth.
fn triage_line(d: &scanflow_core::model::FindingDetail, recommendation: &str) -> Option<String> {
    let what = d
        .network_summary()
        .or_else(|| d.package_summary())
        .or_else(|| {
            d.cis.as_ref().map(|c| match recommendation.trim() {
                "" => format!("a failed {} check", c.level),
                fix => format!("{} fix: {fix}", c.level),
            })
        });
    let line = match (what, d.risk_summary()) {
        (Some(w), Some(r)) => format!("{w}; {r}"),
        (Some(w), None) => w,
        (None, Some(r)) => r,
        (None, None) => return None,
    };
    Some(one_line(&line, LINE_CHARS))
}

/// Heap entry ordered so the heap's top is the least severe finding kept.
struct Ranked(Brief);

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.rank(&other.0)
    }
}

/// The `cap` most severe findings seen, kept in a bounded heap so memory does not grow with
/// the number of findings.
struct TopFindings {
    cap: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopFindings {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            heap: BinaryHeap::with_capacity(cap.min(1024) + 1),
        }
    }

    fn offer(&mut self, finding: &Finding) {
        if self.admits(finding) {
            self.keep(Brief::of(finding));
        }
    }

    /// Whether `finding` would be kept: room left, or more urgent than the least kept.
    fn admits(&self, finding: &Finding) -> bool {
        if self.cap == 0 {
            return false;
        }
        match self.heap.peek() {
            Some(least) if self.heap.len() >= self.cap => {
                RankKey::of(finding).cmp(&least.0.rank_key()) == Ordering::Less
            }
            _ => true,
        }
    }

    /// Keeps `brief`, admitted by [`Self::admits`], dropping the least urgent when full.
    fn keep(&mut self, brief: Brief) {
        if self.heap.len() >= self.cap {
            self.heap.pop();
        }
        self.heap.push(Ranked(brief));
    }

    /// Offers a finding with its age in days (shown in the overdue list).
    fn offer_aged(&mut self, finding: &Finding, age_days: u64) {
        if self.admits(finding) {
            let mut brief = Brief::of(finding);
            brief.age_days = Some(age_days);
            self.keep(brief);
        }
    }
}

/// The `cap` most severe vulnerabilities for the e-mail's main list: one entry per
/// vulnerability however many instances have it (CVE-2024-6387 on 37 instances is one line),
/// shown by its most urgent finding. Memory: the rank of each distinct vulnerability's most
/// urgent finding and 8 bytes per instance it is on, whatever the number of findings.
///
/// A brief (whose lines take allocations to write) is made only for a finding that becomes
/// its vulnerability's most urgent while that ranks among the `cap` most urgent so far. No
/// other is needed: a vulnerability's rank only rises as findings come, so one among the `cap`
/// at the end was among them when its most urgent finding came.
pub struct TopVulnerabilities {
    cap: usize,
    by_vulnerability: HashMap<String, Vulnerability>,
    /// Every vulnerability's rank, most urgent first.
    ranks: BTreeSet<Rank>,
}

/// What is kept of each vulnerability: small, as a fleet's accounts have many thousands.
struct Vulnerability {
    rank: Rank,
    /// Its most urgent finding's brief, when that ranked among the `cap` when it came.
    brief: Option<Box<Brief>>,
    findings: u64,
    instances: Instances,
}

/// The instances a vulnerability is on, by hash; most are on one.
enum Instances {
    One(u64),
    Many(HashSet<u64>),
}

impl Instances {
    fn insert(&mut self, instance: u64) {
        match self {
            Self::One(first) if *first != instance => {
                *self = Self::Many(HashSet::from([*first, instance]));
            }
            Self::One(_) => {}
            Self::Many(set) => {
                set.insert(instance);
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(set) => set.len(),
        }
    }
}

/// A [`RankKey`] that owns its id (shared by the vulnerability and the ranking).
#[derive(Clone)]
struct Rank {
    severity: Severity,
    exploit_available: bool,
    fix_available: bool,
    score: Option<f64>,
    id: std::sync::Arc<str>,
}

impl Rank {
    fn of(key: RankKey<'_>) -> Self {
        Self {
            severity: key.severity,
            exploit_available: key.exploit_available,
            fix_available: key.fix_available,
            score: key.score,
            id: key.id.into(),
        }
    }

    fn key(&self) -> RankKey<'_> {
        RankKey {
            severity: self.severity,
            exploit_available: self.exploit_available,
            fix_available: self.fix_available,
            score: self.score,
            id: &self.id,
        }
    }
}

impl PartialEq for Rank {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Rank {}
impl PartialOrd for Rank {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Rank {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl TopVulnerabilities {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            by_vulnerability: HashMap::new(),
            ranks: BTreeSet::new(),
        }
    }

    pub fn offer(&mut self, finding: &Finding) {
        if self.cap == 0 {
            return;
        }
        // Without a vulnerability id (some Classic rules) a finding is its own entry.
        let name = finding.vulnerability_id.as_deref().unwrap_or(&finding.id);
        let instance = {
            use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
            BuildHasherDefault::<DefaultHasher>::default()
                .hash_one(finding.instance_id.as_deref().unwrap_or(&finding.id))
        };
        let key = RankKey::of(finding);
        let rank = match self.by_vulnerability.get_mut(name) {
            Some(v) => {
                v.instances.insert(instance);
                v.findings = v.findings.saturating_add(1);
                if key.cmp(&v.rank.key()) != Ordering::Less {
                    return;
                }
                // More urgent than the one shown: this finding stands for it now.
                let rank = Rank::of(key);
                self.ranks.remove(&v.rank);
                v.rank = rank.clone();
                v.brief = None;
                rank
            }
            None => {
                let rank = Rank::of(key);
                self.by_vulnerability.insert(
                    name.to_owned(),
                    Vulnerability {
                        rank: rank.clone(),
                        brief: None,
                        findings: 1,
                        instances: Instances::One(instance),
                    },
                );
                rank
            }
        };
        let among_cap = self.ranks.len() < self.cap
            || self
                .ranks
                .iter()
                .nth(self.cap - 1)
                .is_some_and(|last| rank < *last);
        self.ranks.insert(rank);
        if among_cap && let Some(v) = self.by_vulnerability.get_mut(name) {
            v.brief = Some(Box::new(Brief::of(finding)));
        }
    }

    /// The kept vulnerabilities, most urgent first, each with its counts.
    pub fn into_sorted(self) -> Vec<Brief> {
        let mut all: Vec<(Rank, Brief)> = self
            .by_vulnerability
            .into_values()
            .filter_map(|v| {
                let mut brief = *v.brief?;
                brief.findings = v.findings;
                brief.instances = v.instances.len() as u64;
                Some((v.rank, brief))
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.truncate(self.cap);
        all.into_iter().map(|(_, b)| b).collect()
    }
}

/// A resolved finding as the digest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedBrief {
    pub identity: String,
    pub severity: Severity,
    pub instance_id: Option<String>,
    pub vulnerability_id: Option<String>,
    pub title: String,
    pub first_seen: String,
}

/// What changed since the last delivered scan, gathered while format reads the findings:
/// counts of everything, and bounded lists of what the digest names.
pub struct Changes {
    /// When the scan compared against was collected; `None` on the first delivered scan.
    pub since: Option<String>,
    pub sla: Sla,
    pub new: SeverityCounts,
    pub open: u64,
    pub overdue: SeverityCounts,
    pub resolved: SeverityCounts,
    pub carried_over: u64,
    /// The figures that page people: new and overdue findings not covered by an acceptance in
    /// force (`new` and `overdue` count every finding, as the SIEM's lifecycle does).
    pub paging_new: SeverityCounts,
    pub paging_overdue: SeverityCounts,
    /// Findings covered by an acceptance in force, and the acceptances, with their counts.
    pub accepted: SeverityCounts,
    pub acceptances: Vec<(Acceptance, u64)>,
    /// Findings whose acceptance has expired (counted and listed as any other, and named here).
    pub expired: u64,
    expired_listed: Vec<(Brief, Acceptance)>,
    /// The least severe findings the lists name ([`Changes::listing_down_to`]).
    floor: Severity,
    new_top: TopFindings,
    overdue_top: TopFindings,
    resolved_top: Vec<ResolvedBrief>,
}

/// Acceptances the digest names, each with its count (the rest are summed).
pub const ACCEPTANCE_LINES: usize = 20;

impl Changes {
    pub fn new(since: Option<String>, sla: Sla) -> Self {
        Self {
            since,
            sla,
            new: SeverityCounts::default(),
            open: 0,
            overdue: SeverityCounts::default(),
            resolved: SeverityCounts::default(),
            carried_over: 0,
            paging_new: SeverityCounts::default(),
            paging_overdue: SeverityCounts::default(),
            accepted: SeverityCounts::default(),
            acceptances: Vec::new(),
            expired: 0,
            expired_listed: Vec::new(),
            floor: Severity::Untriaged,
            new_top: TopFindings::new(CHANGE_LINES),
            overdue_top: TopFindings::new(CHANGE_LINES),
            resolved_top: Vec::new(),
        }
    }

    pub fn offer(&mut self, finding: &Finding, a: &Annotation) {
        let accepted = a.is_accepted();
        match &a.acceptance {
            Some(acc) if accepted => {
                self.accepted.add(finding.severity);
                let room = self.acceptances.len() < ACCEPTANCE_LINES;
                match self.acceptances.iter_mut().find(|(known, _)| known == acc) {
                    Some((_, n)) => *n += 1,
                    None if room => self.acceptances.push((acc.clone(), 1)),
                    None => {}
                }
            }
            Some(acc) => {
                self.expired += 1;
                if self.expired_listed.len() < CHANGE_LINES && finding.severity <= self.floor {
                    self.expired_listed.push((Brief::of(finding), acc.clone()));
                }
            }
            None => {}
        }
        match a.lifecycle {
            Status::New => {
                self.new.add(finding.severity);
                if !accepted {
                    self.paging_new.add(finding.severity);
                    if matches!(finding.severity, Severity::Critical | Severity::High)
                        && finding.severity <= self.floor
                    {
                        self.new_top.offer(finding);
                    }
                }
            }
            Status::Open => self.open += 1,
        }
        if a.overdue {
            self.overdue.add(finding.severity);
            if !accepted {
                self.paging_overdue.add(finding.severity);
                if finding.severity <= self.floor {
                    self.overdue_top.offer_aged(finding, a.age_days);
                }
            }
        }
    }

    /// Lists only findings at least as severe as `floor` (the hub's `EmailMinimumSeverity`);
    /// every finding is still counted.
    pub fn listing_down_to(mut self, floor: Severity) -> Self {
        self.floor = floor;
        self
    }

    /// Findings whose acceptance has expired, each with it (at most [`CHANGE_LINES`]).
    pub fn expired_listed(&self) -> &[(Brief, Acceptance)] {
        &self.expired_listed
    }

    pub fn offer_resolved(&mut self, r: &Resolved) {
        self.resolved.add(r.record.severity);
        self.resolved_top.push(ResolvedBrief {
            identity: r.record.identity.clone(),
            severity: r.record.severity,
            instance_id: r.record.instance_id.as_deref().map(|s| one_line(s, 64)),
            vulnerability_id: r
                .record
                .vulnerability_id
                .as_deref()
                .map(|s| one_line(s, 64)),
            title: one_line(&r.record.title, LINE_CHARS),
            first_seen: r.record.first_seen.clone(),
        });
        // Keep the most severe few; sorting a bounded buffer now and then keeps memory flat.
        if self.resolved_top.len() >= 4 * CHANGE_LINES {
            self.trim_resolved();
        }
    }

    fn trim_resolved(&mut self) {
        sort_resolved(&mut self.resolved_top);
    }

    pub fn carried_over(&mut self) {
        self.carried_over += 1;
    }

    /// The new critical and high findings named, most severe first.
    pub fn new_listed(&self) -> Vec<Brief> {
        clone_sorted(&self.new_top)
    }

    /// The overdue findings named, most severe first, with their ages.
    pub fn overdue_listed(&self) -> Vec<Brief> {
        clone_sorted(&self.overdue_top)
    }

    /// The resolved findings named, most severe first.
    pub fn resolved_listed(&self) -> Vec<ResolvedBrief> {
        let mut v = self.resolved_top.clone();
        sort_resolved(&mut v);
        v
    }
}

/// Most severe first, then by identity; the first [`CHANGE_LINES`] kept.
fn sort_resolved(v: &mut Vec<ResolvedBrief>) {
    v.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| a.identity.cmp(&b.identity))
    });
    v.truncate(CHANGE_LINES);
}

/// Everything the digest is written from.
pub struct DigestFacts<'a> {
    pub changes: &'a mut Changes,
    pub run: &'a Run,
    pub counts: &'a SeverityCounts,
    pub coverage: &'a Coverage,
    pub collected_at: &'a str,
    pub top: &'a [Brief],
    pub siem_parts: usize,
    /// The HTML report's key, when one was written: room is kept for its link.
    pub report_key: Option<&'a str>,
}

/// Writes the digest. Its body never exceeds what one SNS message holds beside its
/// attributes: when the findings list would not fit, it is shortened.
pub fn render(facts: &mut DigestFacts<'_>) -> Digest {
    facts.changes.trim_resolved();
    let facts = &*facts;
    let mut budget = SNS_MESSAGE_LIMIT - attributes_size(&digest_attributes(facts.run));
    if facts.report_key.is_some() {
        budget -= LINK_ROOM;
    }
    let head = head_section(facts);
    let (tail, slot_in_tail) = tail_section(facts);
    let room = budget.saturating_sub(head.len() + tail.len());
    let mut body = head;
    body.push_str(&top_section(facts, room));
    let report = facts.report_key.map(|key| ReportSlot {
        key: key.to_owned(),
        at: body.len() + slot_in_tail,
    });
    body.push_str(&tail);
    Digest {
        subject: subject(facts),
        body,
        report,
    }
}

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

pub(crate) fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Classic => "Amazon Inspector Classic",
        Engine::Inspector2 => "Amazon Inspector (v2)",
    }
}

fn subject(facts: &DigestFacts<'_>) -> String {
    let run = facts.run;
    let total = facts.counts.total();
    let scanned = facts.coverage.scanned.len() as u64;
    let what = if total > 0 {
        format!(
            "{} critical, {} high ({})",
            facts.counts.critical,
            facts.counts.high,
            plural(total, "finding")
        )
    } else if scanned > 0 {
        format!("no findings on {}", plural(scanned, "instance"))
    } else {
        "nothing was scanned".to_owned()
    };
    let prefix = if run.rerun {
        "scanflow (re-delivery)"
    } else {
        "scanflow"
    };
    format!("{prefix}: {} {} — {what}", run.account_id, run.region)
}

/// Whether a line of the digest keeps the layout rule: at most [`WIDTH`] characters, or longer
/// only by one URL or ARN that must stay whole.
pub fn fits_width(line: &str) -> bool {
    let chars = line.chars().count();
    if chars <= WIDTH {
        return true;
    }
    line.split(' ')
        .filter(|w| scanflow_core::text::unbreakable(w))
        .any(|w| chars - w.chars().count() <= WIDTH)
}

/// A labelled value, `Label:     value`, wrapped under the value.
fn field(s: &mut String, label: &str, value: &str) {
    labelled(s, 12, label, value);
}

/// [`field`] with the values at column `column` (at least one space after the label).
fn labelled(s: &mut String, column: usize, label: &str, value: &str) {
    let first = format!("{:<column$}", format!("{label} "));
    let rest = " ".repeat(first.len());
    s.push_str(&wrap(value, WIDTH, &first, &rest));
}

/// A paragraph of scanflow's own words, wrapped.
fn para(s: &mut String, text: &str) {
    s.push_str(&wrap(text, WIDTH, "", ""));
}

fn head_section(facts: &DigestFacts<'_>) -> String {
    let run = facts.run;
    let counts = facts.counts;
    let total = counts.total();
    let scanned = facts.coverage.scanned.len() as u64;
    let not_scanned = facts.coverage.not_scanned.len() as u64;
    let mut s = String::new();
    let _ = writeln!(s, "scanflow vulnerability scan report\n");
    field(&mut s, "Account:", &run.account_id);
    field(&mut s, "Region:", &run.region);
    field(&mut s, "Engine:", engine_name(run.engine));
    field(&mut s, "Target:", &one_line(&run.target(), LINE_CHARS));
    field(&mut s, "Run:", &run.run_id);
    field(&mut s, "Execution:", &run.execution);
    field(&mut s, "Started:", &run.started_at);
    field(&mut s, "Collected:", facts.collected_at);
    if run.rerun {
        s.push('\n');
        para(
            &mut s,
            "This is a re-delivery: the run had already finished and was collected and sent \
             again on request, so you may have received these findings before.",
        );
    }
    if run.adopted {
        s.push('\n');
        para(
            &mut s,
            "The assessment was already running when this execution started; scanflow \
             followed it instead of starting another.",
        );
    }
    s.push_str(&changes_section(facts));
    let _ = writeln!(s, "\nSUMMARY");
    if total > 0 {
        para(
            &mut s,
            &format!(
                "{} on {} ({} in scope not scanned).",
                plural(total, "finding"),
                plural(scanned, "scanned instance"),
                not_scanned
            ),
        );
    } else if scanned > 0 {
        para(
            &mut s,
            &format!(
                "No findings on {} ({} in scope not scanned).",
                plural(scanned, "scanned instance"),
                not_scanned
            ),
        );
    } else {
        para(
            &mut s,
            &format!(
                "Nothing was scanned: none of the {} in scope was covered, so this run says \
                 nothing about their vulnerabilities. See COVERAGE below for why and what to \
                 do.",
                plural(not_scanned, "instance")
            ),
        );
    }
    for severity in Severity::ALL {
        let _ = writeln!(s, "  {:<14}{:>8}", severity.as_str(), counts.get(severity));
    }
    if let Some(cis) = &facts.coverage.cis {
        cis_section(&mut s, cis, run.duration_seconds);
    }
    if let Some(plan) = MigrationPlan::for_run(run) {
        migration_section(&mut s, &plan);
    }
    s
}

/// How the run's CIS benchmark scan went: its failed checks are among the findings; a scan
/// that failed or did not finish is said, never left to look like a clean benchmark.
fn cis_section(s: &mut String, cis: &CisCoverage, duration_seconds: u32) {
    let _ = writeln!(s, "\nCIS BENCHMARK ({})", cis.level);
    para(s, &cis_summary(cis, duration_seconds));
    if cis.not_checked_total > 0 {
        para(
            s,
            &format!(
                "Not checked: {}.",
                plural(cis.not_checked_total, "instance")
            ),
        );
        for u in cis.not_checked.iter().take(COVERAGE_LINES) {
            let line = format!("{}: {}. {}", u.instance_id, u.reason, u.remedy);
            s.push_str(&wrap(&one_line(&line, LINE_CHARS), WIDTH, "  - ", "    "));
        }
        let listed = cis.not_checked.len().min(COVERAGE_LINES) as u64;
        if cis.not_checked_total > listed {
            let _ = writeln!(s, "  ... and {} more", cis.not_checked_total - listed);
        }
    }
}

/// What became of the run's CIS scan, in a sentence or three (the digest and the HTML report).
pub(crate) fn cis_summary(cis: &CisCoverage, duration_seconds: u32) -> String {
    match &cis.outcome {
        CisOutcome::Completed => format!(
            "The CIS {} scan checked {}; {}. Each failed check is a finding (MEDIUM for a \
             Level 1 check, LOW for a Level 2 one) named CIS and its check id, with the \
             fix the benchmark gives.",
            cis.level,
            plural(cis.checked, "instance"),
            match cis.failing {
                0 => "none failed a check".to_owned(),
                n => format!("{} failed at least one", plural(n, "instance")),
            }
        ),
        CisOutcome::Failed { status, detail } => format!(
            "The CIS {} scan ended {status}, so this report has no CIS results; the \
             vulnerability findings are complete. {detail}.",
            cis.level
        ),
        CisOutcome::NotFinished => format!(
            "The CIS {} scan did not finish within the account's Duration ({duration_seconds} \
             s), so this report has no CIS results; the vulnerability findings are complete. \
             Raise the member stack's Duration, or see the scan under CIS scans in the \
             Inspector console.",
            cis.level
        ),
    }
}

/// A Classic account: whether Inspector v2 can take over, and what changes when it does.
fn migration_section(s: &mut String, plan: &MigrationPlan) {
    let _ = writeln!(
        s,
        "\nMOVING TO INSPECTOR V2 (Classic ended on {CLASSIC_END})"
    );
    para(s, &plan.verdict());
    for change in plan.changes() {
        s.push_str(&wrap(&change, WIDTH, "  - ", "    "));
    }
}

fn critical_high(c: &SeverityCounts) -> u64 {
    c.critical + c.high
}

/// "What changed": new critical/high, resolved, overdue. Each list is at most
/// [`CHANGE_LINES`] entries, so the section stays a few KiB whatever the scan found.
fn changes_section(facts: &DigestFacts<'_>) -> String {
    let c = &*facts.changes;
    let mut s = String::new();
    match &c.since {
        Some(since) => {
            let _ = writeln!(s, "\nWHAT CHANGED SINCE THE LAST SCAN (collected {since})");
        }
        None => {
            let _ = writeln!(s, "\nWHAT CHANGED");
            para(
                &mut s,
                "This is the first delivered scan of this account and Region: every finding \
                 is new, and nothing can be resolved yet.",
            );
        }
    }
    // Findings under an acceptance in force are left out of the figures that page people.
    let new_ch = critical_high(&c.paging_new);
    labelled(
        &mut s,
        20,
        "New critical/high:",
        &format!("{new_ch} ({} new in all)", c.new.total()),
    );
    let new_top = clone_sorted(&c.new_top);
    for (i, b) in new_top.iter().enumerate() {
        s.push_str(&brief_lines(i + 1, b, None));
    }
    more(&mut s, new_ch, new_top.len());
    let resolved = c.resolved.total();
    labelled(
        &mut s,
        20,
        "Resolved:",
        &format!(
            "{resolved} ({} critical/high), gone from instances this scan covered",
            critical_high(&c.resolved)
        ),
    );
    for r in &c.resolved_top {
        let what = match &r.vulnerability_id {
            Some(v) if !r.title.contains(v.as_str()) => format!("{v}: {}", r.title),
            _ => r.title.clone(),
        };
        let _ = writeln!(
            s,
            "   - {:<13} {}",
            r.severity.as_str(),
            r.instance_id.as_deref().unwrap_or("(no instance)")
        );
        s.push_str(&wrap(
            &format!("{what} (first seen {})", r.first_seen),
            WIDTH,
            ITEM_INDENT,
            ITEM_INDENT,
        ));
    }
    more(&mut s, resolved, c.resolved_top.len());
    let overdue = c.paging_overdue.total();
    labelled(
        &mut s,
        20,
        "Overdue (SLA):",
        &format!(
            "{overdue} (SLA critical {} d, high {} d, medium {} d, low {} d)",
            c.sla.critical, c.sla.high, c.sla.medium, c.sla.low
        ),
    );
    let overdue_top = clone_sorted(&c.overdue_top);
    for (i, b) in overdue_top.iter().enumerate() {
        s.push_str(&brief_lines(i + 1, b, b.age_days));
    }
    more(&mut s, overdue, overdue_top.len());
    labelled(&mut s, 20, "Still open:", &c.open.to_string());
    if c.carried_over > 0 {
        labelled(
            &mut s,
            20,
            "Not re-checked:",
            &format!(
                "{} earlier finding(s) on instances this scan did not cover (kept open, not \
                 resolved; see COVERAGE)",
                c.carried_over
            ),
        );
    }
    s.push_str(&acceptance_section(c));
    s
}

/// Accepted risks: what is accepted (left out of the figures above), by whom and until when;
/// and the findings whose acceptance has expired, called out so it is renewed or they are
/// fixed. Empty when nothing is covered by an acceptance.
fn acceptance_section(c: &Changes) -> String {
    let mut s = String::new();
    if c.accepted.total() == 0 && c.expired == 0 {
        return s;
    }
    let _ = writeln!(s, "\nACCEPTED RISKS");
    if c.accepted.total() > 0 {
        labelled(
            &mut s,
            20,
            "Accepted:",
            &format!(
                "{} ({} critical/high), not counted as new or overdue above",
                plural(c.accepted.total(), "finding"),
                critical_high(&c.accepted)
            ),
        );
        let mut listed = 0u64;
        for (a, n) in &c.acceptances {
            listed += n;
            let line = format!(
                "{n} until {}, owner {}: {}",
                a.expires_at,
                one_line(&a.owner, 64),
                one_line(&a.reason, LINE_CHARS)
            );
            s.push_str(&wrap(&line, WIDTH, "  - ", "    "));
        }
        let rest = c.accepted.total().saturating_sub(listed);
        if rest > 0 {
            let _ = writeln!(s, "  ... and {rest} more under other acceptances");
        }
    }
    if c.expired > 0 {
        labelled(
            &mut s,
            20,
            "Expired:",
            &format!(
                "{} whose acceptance has expired: renew it or fix them (counted above)",
                plural(c.expired, "finding")
            ),
        );
        for (i, (b, a)) in c.expired_listed.iter().enumerate() {
            s.push_str(&brief_lines(i + 1, b, None));
            s.push_str(&wrap(
                &format!(
                    "accepted by {} until {}: {}",
                    one_line(&a.owner, 64),
                    a.expires_at,
                    one_line(&a.reason, LINE_CHARS)
                ),
                WIDTH,
                ITEM_INDENT,
                ITEM_INDENT,
            ));
        }
        more(&mut s, c.expired, c.expired_listed.len());
    }
    s
}

fn clone_sorted(top: &TopFindings) -> Vec<Brief> {
    let mut v: Vec<Brief> = top.heap.iter().map(|r| r.0.clone()).collect();
    v.sort_by(|a, b| a.rank(b));
    v
}

fn more(s: &mut String, total: u64, listed: usize) {
    let rest = total.saturating_sub(listed as u64);
    if rest > 0 && listed > 0 {
        let _ = writeln!(s, "  ... and {rest} more: see the SIEM delivery");
    }
}

/// One listed finding: rank, severity, score, instance id and Name on the first line (in
/// columns), then its title, whether a fix exists and, for overdue findings, its age,
/// wrapped under it.
fn brief_lines(rank: usize, b: &Brief, open_days: Option<u64>) -> String {
    let score = b
        .score
        .map_or_else(|| "  - ".to_owned(), |v| format!("{v:>4.1}"));
    let instance = b.instance_id.as_deref().unwrap_or("(no instance)");
    let mut first = format!("{rank:>4}. {:<13} {score}  {instance}", b.severity.as_str());
    if let Some(name) = &b.instance_name {
        let _ = write!(first, " ({name})");
    }
    let what = match &b.vulnerability_id {
        Some(v) if !b.title.contains(v.as_str()) => format!("{v}: {}", b.title),
        _ => b.title.clone(),
    };
    let fix = match b.fix_available {
        Some(true) => "fix available",
        Some(false) => "no fix yet",
        None => "fix unknown",
    };
    let spread = if b.instances > 1 {
        format!("; on {} instances", b.instances)
    } else if b.findings > 1 {
        format!("; {} packages", b.findings)
    } else {
        String::new()
    };
    let detail = match open_days {
        Some(days) => format!("{what} [{fix}{spread}; open {days} days]"),
        None => format!("{what} [{fix}{spread}]"),
    };
    // The columns keep their spacing; only an overlong id or name makes the line wrap.
    let mut out = if first.chars().count() <= WIDTH {
        first + "\n"
    } else {
        wrap(&first, WIDTH, "", ITEM_INDENT)
    };
    out.push_str(&wrap(&detail, WIDTH, ITEM_INDENT, ITEM_INDENT));
    if let Some(triage) = &b.detail {
        out.push_str(&wrap(triage, WIDTH, ITEM_INDENT, ITEM_INDENT));
    }
    out
}

/// What the hub's `EmailMinimumSeverity` leaves unnamed: counted above, listed nowhere here.
fn floor_note(facts: &DigestFacts<'_>) -> String {
    let floor = facts.changes.floor;
    let unlisted: u64 = Severity::ALL
        .iter()
        .filter(|s| **s > floor)
        .map(|s| facts.counts.get(*s))
        .sum();
    if unlisted == 0 {
        return String::new();
    }
    wrap(
        &format!(
            "{} less severe than {} are counted above but not listed in this e-mail; the SIEM \
             delivery and Security Hub have every one.",
            plural(unlisted, "finding"),
            floor.as_str()
        ),
        WIDTH,
        "  ",
        "  ",
    )
}

fn top_section(facts: &DigestFacts<'_>, room: usize) -> String {
    // Accepted risks are not among them (format does not offer them): they have their section.
    let total = facts
        .counts
        .total()
        .saturating_sub(facts.changes.accepted.total());
    if total == 0 {
        return String::new();
    }
    if facts.top.is_empty() {
        // Everything is below the floor (or accepted): say so rather than show nothing.
        let note = floor_note(facts);
        return if note.is_empty() {
            note
        } else {
            format!("\nMOST SEVERE FINDINGS\n{note}")
        };
    }
    // Each entry stands for every finding of its vulnerability.
    let represented = |entries: &[Brief]| entries.iter().map(|b| b.findings).sum::<u64>();
    let heading = format!(
        "\nMOST SEVERE FINDINGS ({} of {})\n",
        represented(facts.top),
        total
    );
    // Room for the heading and the longest "and N more" line, whatever N turns out to be.
    let more_reserve =
        "  ... and 18446744073709551615 more: see the SIEM delivery or Security Hub\n".len();
    let mut lines = String::new();
    let mut listed = 0;
    for (i, brief) in facts.top.iter().enumerate() {
        let entry = brief_lines(i + 1, brief, None);
        if heading.len() + lines.len() + entry.len() + more_reserve > room {
            break;
        }
        lines.push_str(&entry);
        listed += 1;
    }
    if listed == 0 {
        return String::new();
    }
    let shown = represented(&facts.top[..listed]);
    let mut s = if listed == facts.top.len() {
        heading
    } else {
        format!("\nMOST SEVERE FINDINGS ({shown} of {total})\n")
    };
    s.push_str(&floor_note(facts));
    s.push_str(&lines);
    let rest = total.saturating_sub(shown);
    if rest > 0 {
        let _ = writeln!(
            s,
            "  ... and {rest} more: see the SIEM delivery or Security Hub"
        );
    }
    s
}

/// The Security Hub console's findings page filtered to one account.
pub fn security_hub_link(account_id: &str, region: &str) -> String {
    format!(
        "https://{}/securityhub/home?region={region}#/findings?search=AwsAccountId%3D%255Coperator%255C%253AEQUALS%255C%253A{account_id}",
        scanflow_core::console::host(region)
    )
}

/// The Inspector console page of the engine that ran the scan.
pub fn inspector_link(engine: Engine, region: &str) -> String {
    let host = scanflow_core::console::host(region);
    match engine {
        Engine::Classic => format!("https://{host}/inspector/home?region={region}#/run"),
        Engine::Inspector2 => {
            format!("https://{host}/inspector/v2/home?region={region}#/findings")
        }
    }
}

/// The coverage and where to look; with the offset, in it, where the report's link goes (the
/// first thing under "WHERE TO LOOK").
fn tail_section(facts: &DigestFacts<'_>) -> (String, usize) {
    let run = facts.run;
    let coverage = facts.coverage;
    let mut s = String::new();
    let _ = writeln!(s, "\nCOVERAGE");
    // The values line up after the longer label, "Not scanned:".
    labelled(
        &mut s,
        13,
        "Scanned:",
        &plural(coverage.scanned.len() as u64, "instance"),
    );
    let not_scanned = coverage.not_scanned.len();
    if not_scanned == 0 {
        labelled(&mut s, 13, "Not scanned:", "none of the instances in scope");
    } else {
        labelled(
            &mut s,
            13,
            "Not scanned:",
            &format!(
                "{} in scope (each is also a Security Hub finding):",
                plural(not_scanned as u64, "instance")
            ),
        );
        for u in coverage.not_scanned.iter().take(COVERAGE_LINES) {
            let line = format!("{}: {}. {}", u.instance_id, u.reason, u.remedy);
            s.push_str(&wrap(&one_line(&line, LINE_CHARS), WIDTH, "  - ", "    "));
        }
        if not_scanned > COVERAGE_LINES {
            let _ = writeln!(s, "  ... and {} more", not_scanned - COVERAGE_LINES);
        }
    }
    let _ = writeln!(s, "\nWHERE TO LOOK");
    let slot = s.len();
    para(
        &mut s,
        &format!("Security Hub, findings of account {}:", run.account_id),
    );
    let _ = writeln!(s, "  {}", security_hub_link(&run.account_id, &run.region));
    para(
        &mut s,
        &format!(
            "{} (signed in to account {}):",
            engine_name(run.engine),
            run.account_id
        ),
    );
    let _ = writeln!(s, "  {}", inspector_link(run.engine, &run.region));
    s.push('\n');
    para(
        &mut s,
        &format!(
            "Every finding went to the SIEM endpoint as JSON in {} for run {}.",
            plural(facts.siem_parts as u64, "part"),
            run.run_id
        ),
    );
    let _ = writeln!(s, "\n-- ");
    para(
        &mut s,
        &format!("Sent by scanflow, execution {}.", run.execution),
    );
    (s, slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, severity: Severity, score: Option<f64>) -> Finding {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "engine": "inspector2",
            "accountId": "111122223333",
            "region": "eu-west-1",
            "severity": severity,
            "title": format!("title {id}"),
        }))
        .map(|mut f: Finding| {
            f.score = score;
            f
        })
        .expect("finding")
    }

    /// A digest of findings whose title, Name tag, instance id and coverage remedy are a
    /// thousand characters of words, on a Classic run (whose id is an ARN).
    fn long_text_digest(word: &str) -> Digest {
        let title: String = (0..200).map(|i| format!("{word}{i} ")).collect();
        let mut findings: Vec<Finding> = (0..30)
            .map(|i| {
                let mut f = finding(&format!("f{i}"), Severity::ALL[i % 6], Some(7.5));
                f.title = title.clone();
                f.vulnerability_id = Some(format!("CVE-2026-{i:05}"));
                f.instance_id = Some(format!("i-{i:017x}"));
                f.instance_tags.insert("Name".into(), title.clone());
                f
            })
            .collect();
        findings[0].instance_id = Some("i-".to_owned() + &"0".repeat(100));
        let mut top = TopVulnerabilities::new(25);
        let mut counts = SeverityCounts::default();
        let mut changes = Changes::new(Some("2026-11-21T00:00:00Z".into()), Sla::default());
        for (i, f) in findings.iter().enumerate() {
            top.offer(f);
            counts.add(f.severity);
            let a = Annotation {
                identity: f.id.clone(),
                lifecycle: if i % 2 == 0 {
                    Status::New
                } else {
                    Status::Open
                },
                first_seen: "2026-01-01T00:00:00Z".into(),
                age_days: 300,
                sla_due_at: Some("2026-01-16T00:00:00Z".into()),
                overdue: true,
                acceptance: None,
            };
            changes.offer(f, &a);
        }
        let run: Run = serde_json::from_value(serde_json::json!({
            "accountId": "111122223333", "region": "ap-southeast-2", "engine": "classic",
            "runId": "arn:aws:inspector:ap-southeast-2:111122223333:target/0-abcdefgh/template/0-ijklmnop/run/0-qrstuvwx",
            "tag": {"key": title.clone(), "value": title.clone()},
            "durationSeconds": 3600, "startedAt": "2026-11-28T10:00:00Z",
            "deadline": "2026-11-28T12:00:00Z", "waitSeconds": 0, "rerun": true,
            "execution": "sched-111122223333-ap-southeast-2-20261128", "adopted": true,
            "v2Readiness": {"result": "unknown", "reason": title.clone()}
        }))
        .expect("run");
        let coverage = Coverage {
            scanned: vec!["i-1".into()],
            not_scanned: (0..3)
                .map(|i| scanflow_core::model::Uncovered {
                    instance_id: format!("i-{i:017x}"),
                    reason: "AGENT_NOT_INSTALLED".into(),
                    remedy: title.clone(),
                })
                .collect(),
            cis: None,
        };
        let top = top.into_sorted();
        render(&mut DigestFacts {
            changes: &mut changes,
            run: &run,
            counts: &counts,
            coverage: &coverage,
            collected_at: "2026-11-28T11:00:00Z",
            top: &top,
            siem_parts: 3,
            report_key: Some("scanflow/111122223333/ap-southeast-2/0/report.html"),
        })
    }

    #[test]
    fn every_line_fits_78_characters_and_no_word_is_cut_with_thousand_character_texts() {
        let digest = long_text_digest("word");
        let long: Vec<&str> = digest.body.lines().filter(|l| !fits_width(l)).collect();
        assert!(long.is_empty(), "lines over 78 characters: {long:#?}");
        // Every word of the long texts appears whole: "word17", never "wor" or "d17".
        for w in digest.body.split_whitespace() {
            let w = w.trim_end_matches(['…', ')', ']', ':', '.', ';', ',']);
            let w = w.trim_start_matches(['(', '[']);
            if w.starts_with("wor") {
                assert!(
                    w.strip_prefix("word")
                        .is_some_and(|n| n.parse::<u32>().is_ok()),
                    "cut word {w:?}"
                );
            }
            // The tail of a cut word: "rd17", "d17", "17" right after a line break.
            let digits = w.trim_start_matches(|c: char| !c.is_ascii_digit());
            if !digits.is_empty() && digits.len() < w.len() && w != format!("word{digits}") {
                assert!(!format!("word{digits}").ends_with(w), "cut word {w:?}");
            }
        }
        assert!(digest.body.contains("word0 word1 word2"));
        // The migration section quotes the long tag and reason, wrapped like the rest.
        assert!(digest.body.contains("\nMOVING TO INSPECTOR V2"));
        // The ARN and the console URLs are whole, each on its own line or after its label.
        assert!(digest.body.contains("arn:aws:inspector:ap-southeast-2:111122223333:target/0-abcdefgh/template/0-ijklmnop/run/0-qrstuvwx"));
        assert!(
            digest
                .body
                .contains(&security_hub_link("111122223333", "ap-southeast-2"))
        );
        assert!(digest.body.len() <= SNS_MESSAGE_LIMIT);
    }

    #[test]
    fn a_word_longer_than_a_line_is_cut_at_the_width_and_nothing_passes_it() {
        let digest = long_text_digest(&"x".repeat(120));
        let long: Vec<&str> = digest.body.lines().filter(|l| !fits_width(l)).collect();
        assert!(long.is_empty(), "lines over 78 characters: {long:#?}");
    }

    #[test]
    fn the_layout_rule_allows_only_urls_and_arns_past_the_width() {
        assert!(fits_width(&"a".repeat(78)));
        assert!(!fits_width(&"a".repeat(79)));
        assert!(fits_width(&format!(
            "  https://example.com/{}",
            "p".repeat(100)
        )));
        assert!(fits_width(&format!(
            "Run:        arn:aws:x:{}",
            "p".repeat(100)
        )));
        assert!(!fits_width(&format!("{} https://e.com/x", "a".repeat(80))));
    }

    #[test]
    fn keeps_the_most_severe_by_severity_then_score() {
        let mut top = TopFindings::new(3);
        let all = [
            finding("a", Severity::Low, Some(9.9)),
            finding("b", Severity::High, Some(7.0)),
            finding("c", Severity::Critical, None),
            finding("d", Severity::High, Some(8.1)),
            finding("e", Severity::Medium, Some(6.0)),
            finding("f", Severity::High, None),
        ];
        for f in &all {
            top.offer(f);
        }
        let ids: Vec<_> = clone_sorted(&top).into_iter().map(|b| b.id).collect();
        assert_eq!(ids, ["c", "d", "b"]);
    }

    #[test]
    fn a_cap_of_zero_keeps_nothing() {
        let mut top = TopFindings::new(0);
        top.offer(&finding("a", Severity::Critical, None));
        assert!(clone_sorted(&top).is_empty());
    }

    #[test]
    fn links_are_filtered_to_the_account_and_follow_the_partition() {
        assert_eq!(
            security_hub_link("111122223333", "eu-west-1"),
            "https://eu-west-1.console.aws.amazon.com/securityhub/home?region=eu-west-1#/findings?search=AwsAccountId%3D%255Coperator%255C%253AEQUALS%255C%253A111122223333"
        );
        assert!(
            inspector_link(Engine::Classic, "us-gov-west-1")
                .starts_with("https://console.amazonaws-us-gov.com/inspector/home")
        );
    }

    #[test]
    fn the_report_link_goes_first_under_where_to_look_and_keeps_the_layout() {
        let digest = long_text_digest("word");
        let slot = digest.report.clone().expect("a slot");
        assert!(digest.body[..slot.at].ends_with("\nWHERE TO LOOK\n"));
        let presigned = ObjectLink::Presigned {
            url: format!(
                "https://b.s3.eu-west-1.amazonaws.com/k?{}",
                "X".repeat(1500)
            ),
            expires_at: "2026-12-02T06:00:00Z".into(),
        };
        let console = ObjectLink::Console {
            url: "https://eu-west-1.console.aws.amazon.com/s3/object/b?prefix=k".into(),
        };
        for link in [&presigned, &console] {
            let body = digest.text(Some(link)).expect("placed");
            assert!(body.len() <= digest.body.len() + LINK_ROOM);
            let long: Vec<&str> = body.lines().filter(|l| !fits_width(l)).collect();
            assert!(long.is_empty(), "{long:#?}");
            assert!(body.contains("\nWHERE TO LOOK\nThe report with charts (HTML)"));
        }
        assert!(
            digest
                .text(Some(&presigned))
                .expect("placed")
                .contains("until\n2026-12-02T06:00:00Z at the latest:")
        );
        // Without a link (or a digest from before reports) the body goes as stored.
        assert_eq!(digest.text(None).expect("as is"), digest.body);
        // A slot inside a line is refused rather than splitting it.
        let mut broken = digest.clone();
        broken.report = Some(ReportSlot {
            key: slot.key.clone(),
            at: slot.at + 1,
        });
        let err = broken.text(Some(&console)).expect_err("mid-line");
        assert!(
            err.to_string().contains("run the format step again"),
            "{err}"
        );
        broken.report = Some(ReportSlot {
            key: slot.key,
            at: digest.body.len() + 1,
        });
        assert!(broken.text(Some(&console)).is_err(), "past the end");
    }

    #[test]
    fn a_listed_finding_says_what_to_upgrade_or_which_port_is_open_and_its_exposure() {
        use scanflow_core::model::{FindingDetail, NetworkPath, PathStep, VulnerablePackage};
        let mut package = FindingDetail {
            packages: vec![VulnerablePackage {
                name: "openssh-server".into(),
                installed_version: "8.7p1-8.amzn2023.0.10".into(),
                fixed_in_version: Some("8.7p1-8.amzn2023.0.11".into()),
                package_manager: None,
            }],
            epss: Some(0.9412),
            exploit_available: Some(true),
            ..FindingDetail::default()
        };
        assert_eq!(
            triage_line(&package, "").as_deref(),
            Some(
                "openssh-server 8.7p1-8.amzn2023.0.10 (fixed in 8.7p1-8.amzn2023.0.11); \
                 exploit\u{a0}available, EPSS\u{a0}0.94"
            )
        );
        package.packages[0].fixed_in_version = None;
        package.exploit_available = Some(false);
        package.epss = None;
        assert_eq!(
            triage_line(&package, "").as_deref(),
            Some("openssh-server 8.7p1-8.amzn2023.0.10 (no fixed version yet)")
        );
        let reachable = FindingDetail {
            network: Some(NetworkPath {
                protocol: "TCP".into(),
                port_from: 22,
                port_to: 22,
                steps: ["igw-1", "sg-2", "eni-3"]
                    .map(|id| PathStep {
                        component_type: "t".into(),
                        component_id: id.into(),
                    })
                    .to_vec(),
            }),
            ..FindingDetail::default()
        };
        assert_eq!(
            triage_line(&reachable, "").as_deref(),
            Some("TCP 22 open via igw-1 > sg-2 > eni-3")
        );
        assert_eq!(triage_line(&FindingDetail::default(), "upgrade"), None);
        let cis = FindingDetail {
            kind: scanflow_core::model::FindingKind::Cis,
            cis: Some(scanflow_core::model::CisCheck {
                check_id: "5.2.8".into(),
                level: scanflow_core::model::CisLevel::Level1,
                scan_arn: "arn:scan".into(),
            }),
            ..FindingDetail::default()
        };
        assert_eq!(
            triage_line(&cis, "Set PermitRootLogin no.").as_deref(),
            Some("LEVEL_1 fix: Set PermitRootLogin no.")
        );
        assert_eq!(
            triage_line(&cis, " ").as_deref(),
            Some("a failed LEVEL_1 check")
        );
        // In the digest, wrapped under the title like the rest of the entry.
        let mut f = finding("f-1", Severity::Critical, Some(9.8));
        f.detail = Some(Box::new(package));
        let lines = brief_lines(1, &Brief::of(&f), None);
        assert!(lines.lines().all(fits_width), "{lines}");
        assert!(
            lines.ends_with("      openssh-server 8.7p1-8.amzn2023.0.10 (no fixed version yet)\n"),
            "{lines}"
        );
    }

    #[test]
    fn below_the_floor_findings_are_counted_not_listed() {
        let findings: Vec<Finding> = (0..30)
            .map(|i| finding(&format!("f-{i}"), Severity::ALL[i % 6], Some(5.0)))
            .collect();
        let mut top = TopVulnerabilities::new(25);
        let mut counts = SeverityCounts::default();
        let mut changes = Changes::new(None, Sla::default()).listing_down_to(Severity::High);
        for f in &findings {
            counts.add(f.severity);
            if f.severity <= Severity::High {
                top.offer(f);
            }
            let a = Annotation {
                identity: f.id.clone(),
                lifecycle: Status::New,
                first_seen: "2026-01-01T00:00:00Z".into(),
                age_days: 300,
                sla_due_at: None,
                overdue: true,
                acceptance: None,
            };
            changes.offer(f, &a);
        }
        assert_eq!(changes.overdue.total(), 30, "every finding is counted");
        assert!(
            changes
                .overdue_listed()
                .iter()
                .all(|b| b.severity <= Severity::High)
        );
        let run: Run = serde_json::from_value(serde_json::json!({
            "accountId": "111122223333", "region": "eu-west-1", "engine": "inspector2",
            "runId": "r", "durationSeconds": 0, "startedAt": "2026-11-28T10:00:00Z",
            "deadline": "2026-11-28T12:00:00Z", "waitSeconds": 0, "rerun": false,
            "execution": "e"
        }))
        .expect("run");
        let top = top.into_sorted();
        let digest = render(&mut DigestFacts {
            changes: &mut changes,
            run: &run,
            counts: &counts,
            coverage: &Coverage::default(),
            collected_at: "2026-11-28T11:00:00Z",
            top: &top,
            siem_parts: 1,
            report_key: None,
        });
        for severity in ["MEDIUM", "LOW", "INFORMATIONAL", "UNTRIAGED"] {
            assert!(
                !digest.body.contains(&format!(". {severity:<13}")),
                "no {severity} finding is listed:\n{}",
                digest.body
            );
        }
        assert!(
            digest
                .body
                .contains("  20 findings less severe than HIGH are counted above")
        );
        assert!(
            digest.body.contains("MOST SEVERE FINDINGS (10 of 30)"),
            "{}",
            digest.body
        );
    }

    #[test]
    fn one_vulnerability_on_many_instances_is_one_line_with_its_spread() {
        let mut top = TopVulnerabilities::new(5);
        // CVE-A on 37 instances (one of them twice: two packages), CVE-B once.
        for i in 0..38 {
            let mut f = finding(
                &format!("a-{i}"),
                Severity::High,
                Some(7.0 + f64::from(i % 3)),
            );
            f.vulnerability_id = Some("CVE-A".into());
            f.instance_id = Some(format!("i-{:03}", i.min(36)));
            top.offer(&f);
        }
        let mut b = finding("b-1", Severity::Critical, Some(5.0));
        b.vulnerability_id = Some("CVE-B".into());
        top.offer(&b);
        let listed = top.into_sorted();
        assert_eq!(listed.len(), 2, "one entry per vulnerability");
        assert_eq!(
            listed[0].vulnerability_id.as_deref(),
            Some("CVE-B"),
            "critical first"
        );
        let a = &listed[1];
        assert_eq!((a.findings, a.instances), (38, 37));
        assert_eq!(a.score, Some(9.0), "shown by its most urgent finding");
        let lines = brief_lines(2, a, None);
        assert!(lines.contains("; on 37 instances]"), "{lines}");
    }

    /// Briefs made only for findings that rank among the kept ones list what a brief made for
    /// every finding lists: the same vulnerabilities, each by its most urgent finding, with
    /// its counts, whatever the order the findings come in.
    #[test]
    fn the_most_severe_vulnerabilities_do_not_depend_on_which_briefs_were_made() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for (cap, vulns, count) in [(1, 3, 40), (5, 40, 300), (25, 998, 1000), (25, 60, 2000)] {
            let findings: Vec<Finding> = (0..count)
                .map(|i| {
                    let severity = Severity::ALL[next(6) as usize];
                    let score = (next(4) > 0).then(|| next(100) as f64 / 10.0);
                    let mut f = finding(
                        &format!("f-{:05}", next(100_000) * 10_000 + i),
                        severity,
                        score,
                    );
                    f.vulnerability_id = (next(20) > 0).then(|| format!("CVE-{}", next(vulns)));
                    f.instance_id = Some(format!("i-{}", next(7)));
                    f.fix_available = Some(next(2) == 0);
                    f
                })
                .collect();
            let mut top = TopVulnerabilities::new(cap);
            for f in &findings {
                top.offer(f);
            }
            // Every finding's brief, the most urgent kept per vulnerability.
            let mut naive: HashMap<String, (Brief, HashSet<String>, u64)> = HashMap::new();
            for f in &findings {
                let name = f.vulnerability_id.clone().unwrap_or_else(|| f.id.clone());
                let brief = Brief::of(f);
                let entry = naive
                    .entry(name)
                    .or_insert_with(|| (brief.clone(), HashSet::new(), 0));
                entry
                    .1
                    .insert(f.instance_id.clone().unwrap_or_else(|| f.id.clone()));
                entry.2 += 1;
                if brief.rank(&entry.0) == Ordering::Less {
                    entry.0 = brief;
                }
            }
            let mut expected: Vec<Brief> = naive
                .into_values()
                .map(|(mut b, instances, findings)| {
                    b.instances = instances.len() as u64;
                    b.findings = findings;
                    b
                })
                .collect();
            expected.sort_by(|a, b| a.rank(b));
            expected.truncate(cap);
            assert_eq!(
                top.into_sorted(),
                expected,
                "cap {cap}, {vulns} vulnerabilities"
            );
        }
    }
}
