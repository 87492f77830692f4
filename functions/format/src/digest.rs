//! The e-mail digest: one plain-text message for people with the counts, the most severe
//! findings, what the scan covered and where to look next. It always fits one SNS message.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write as _;

use scanflow_core::message::{SNS_MESSAGE_LIMIT, attributes_size};
use scanflow_core::model::{Coverage, Engine, Finding, Severity, SeverityCounts};
use scanflow_core::state::Run;
use serde::{Deserialize, Serialize};

use crate::envelope::digest_attributes;
use crate::siem::clip;

/// How many not-scanned instances the digest lists by name before "and N more".
pub const COVERAGE_LINES: usize = 50;
/// Titles and coverage lines are cut to this many characters so a line stays a line.
const LINE_CHARS: usize = 240;

/// The digest as format stores it and publish sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub subject: String,
    pub body: String,
}

/// What the digest says about one finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Brief {
    pub id: String,
    pub severity: Severity,
    pub score: Option<f64>,
    pub instance_id: Option<String>,
    pub vulnerability_id: Option<String>,
    pub title: String,
    pub fix_available: Option<bool>,
}

impl Brief {
    fn of(finding: &Finding) -> Self {
        Self {
            id: finding.id.clone(),
            severity: finding.severity,
            score: finding.score,
            instance_id: finding.instance_id.as_deref().map(|s| one_line(s, 64)),
            vulnerability_id: finding.vulnerability_id.as_deref().map(|s| one_line(s, 64)),
            title: one_line(&finding.title, LINE_CHARS),
            fix_available: finding.fix_available,
        }
    }

    /// Most severe first: severity, then score (higher first, none last), then id so the
    /// order does not depend on the order findings were read in.
    fn rank(&self, other: &Self) -> Ordering {
        let score = |b: &Self| b.score.unwrap_or(f64::NEG_INFINITY);
        self.severity
            .cmp(&other.severity)
            .then_with(|| score(other).total_cmp(&score(self)))
            .then_with(|| self.id.cmp(&other.id))
    }
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
pub struct TopFindings {
    cap: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopFindings {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            heap: BinaryHeap::with_capacity(cap.min(1024) + 1),
        }
    }

    pub fn offer(&mut self, finding: &Finding) {
        if self.cap == 0 {
            return;
        }
        if self.heap.len() == self.cap {
            let Some(least) = self.heap.peek() else {
                return;
            };
            let brief = Brief::of(finding);
            if brief.rank(&least.0) == Ordering::Less {
                self.heap.pop();
                self.heap.push(Ranked(brief));
            }
            return;
        }
        self.heap.push(Ranked(Brief::of(finding)));
    }

    /// The kept findings, most severe first.
    pub fn into_sorted(self) -> Vec<Brief> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }
}

/// Everything the digest is written from.
pub struct DigestFacts<'a> {
    pub run: &'a Run,
    pub counts: &'a SeverityCounts,
    pub coverage: &'a Coverage,
    pub collected_at: &'a str,
    pub top: &'a [Brief],
    pub siem_parts: usize,
}

/// Writes the digest. Its body never exceeds what one SNS message holds beside its
/// attributes: when the findings list would not fit, it is shortened.
pub fn render(facts: &DigestFacts<'_>) -> Digest {
    let budget = SNS_MESSAGE_LIMIT - attributes_size(&digest_attributes(facts.run));
    let head = head_section(facts);
    let tail = tail_section(facts);
    let room = budget.saturating_sub(head.len() + tail.len());
    let mut body = head;
    body.push_str(&top_section(facts, room));
    body.push_str(&tail);
    Digest {
        subject: subject(facts),
        body,
    }
}

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clip(flat.trim(), max)
}

fn engine_name(engine: Engine) -> &'static str {
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

fn head_section(facts: &DigestFacts<'_>) -> String {
    let run = facts.run;
    let counts = facts.counts;
    let total = counts.total();
    let scanned = facts.coverage.scanned.len() as u64;
    let not_scanned = facts.coverage.not_scanned.len() as u64;
    let mut s = String::new();
    let _ = writeln!(s, "scanflow vulnerability scan report\n");
    let _ = writeln!(s, "Account:    {}", run.account_id);
    let _ = writeln!(s, "Region:     {}", run.region);
    let _ = writeln!(s, "Engine:     {}", engine_name(run.engine));
    let _ = writeln!(s, "Target:     {}", one_line(&run.target(), LINE_CHARS));
    let _ = writeln!(s, "Run:        {}", run.run_id);
    let _ = writeln!(s, "Execution:  {}", run.execution);
    let _ = writeln!(s, "Started:    {}", run.started_at);
    let _ = writeln!(s, "Collected:  {}", facts.collected_at);
    if run.rerun {
        let _ = writeln!(
            s,
            "\nThis is a re-delivery: the run had already finished and was collected and sent \
             again on request, so you may have received these findings before."
        );
    }
    if run.adopted {
        let _ = writeln!(
            s,
            "\nThe assessment was already running when this execution started; scanflow \
             followed it instead of starting another."
        );
    }
    let _ = writeln!(s, "\nSUMMARY");
    if total > 0 {
        let _ = writeln!(
            s,
            "{} on {} ({} in scope not scanned).",
            plural(total, "finding"),
            plural(scanned, "scanned instance"),
            not_scanned
        );
    } else if scanned > 0 {
        let _ = writeln!(
            s,
            "No findings on {} ({} in scope not scanned).",
            plural(scanned, "scanned instance"),
            not_scanned
        );
    } else {
        let _ = writeln!(
            s,
            "Nothing was scanned: none of the {} in scope was covered, so this run says \
             nothing about their vulnerabilities. See COVERAGE below for why and what to do.",
            plural(not_scanned, "instance")
        );
    }
    for severity in Severity::ALL {
        let _ = writeln!(s, "  {:<14}{:>8}", severity.as_str(), counts.get(severity));
    }
    s
}

fn brief_line(rank: usize, b: &Brief) -> String {
    let score = b
        .score
        .map_or_else(|| "  -  ".to_owned(), |v| format!("{v:>5.1}"));
    let instance = b.instance_id.as_deref().unwrap_or("(no instance)");
    let what = match &b.vulnerability_id {
        Some(v) if !b.title.contains(v.as_str()) => format!("{v}: {}", b.title),
        _ => b.title.clone(),
    };
    let fix = match b.fix_available {
        Some(true) => "fix available",
        Some(false) => "no fix yet",
        None => "fix unknown",
    };
    format!(
        "{rank:>4}. {:<13} {score}  {instance}  {what} [{fix}]\n",
        b.severity.as_str()
    )
}

fn top_section(facts: &DigestFacts<'_>, room: usize) -> String {
    let total = facts.counts.total();
    if total == 0 || facts.top.is_empty() {
        return String::new();
    }
    let heading = format!(
        "\nMOST SEVERE FINDINGS ({} of {})\n",
        facts.top.len(),
        total
    );
    // Room for the heading and the longest "and N more" line, whatever N turns out to be.
    let more_reserve =
        "  ... and 18446744073709551615 more: see the SIEM delivery or Security Hub\n".len();
    let mut lines = String::new();
    let mut listed = 0;
    for (i, brief) in facts.top.iter().enumerate() {
        let line = brief_line(i + 1, brief);
        if heading.len() + lines.len() + line.len() + more_reserve > room {
            break;
        }
        lines.push_str(&line);
        listed += 1;
    }
    if listed == 0 {
        return String::new();
    }
    let mut s = if listed == facts.top.len() {
        heading
    } else {
        format!("\nMOST SEVERE FINDINGS ({listed} of {total})\n")
    };
    s.push_str(&lines);
    let rest = total - listed as u64;
    if rest > 0 {
        let _ = writeln!(
            s,
            "  ... and {rest} more: see the SIEM delivery or Security Hub"
        );
    }
    s
}

fn console_host(region: &str) -> String {
    if region.starts_with("us-gov-") {
        "console.amazonaws-us-gov.com".to_owned()
    } else if region.starts_with("cn-") {
        "console.amazonaws.cn".to_owned()
    } else {
        format!("{region}.console.aws.amazon.com")
    }
}

/// The Security Hub console's findings page filtered to one account.
pub fn security_hub_link(account_id: &str, region: &str) -> String {
    format!(
        "https://{}/securityhub/home?region={region}#/findings?search=AwsAccountId%3D%255Coperator%255C%253AEQUALS%255C%253A{account_id}",
        console_host(region)
    )
}

/// The Inspector console page of the engine that ran the scan.
pub fn inspector_link(engine: Engine, region: &str) -> String {
    let host = console_host(region);
    match engine {
        Engine::Classic => format!("https://{host}/inspector/home?region={region}#/run"),
        Engine::Inspector2 => {
            format!("https://{host}/inspector/v2/home?region={region}#/findings")
        }
    }
}

fn tail_section(facts: &DigestFacts<'_>) -> String {
    let run = facts.run;
    let coverage = facts.coverage;
    let mut s = String::new();
    let _ = writeln!(s, "\nCOVERAGE");
    let _ = writeln!(
        s,
        "Scanned:     {}",
        plural(coverage.scanned.len() as u64, "instance")
    );
    let not_scanned = coverage.not_scanned.len();
    if not_scanned == 0 {
        let _ = writeln!(s, "Not scanned: none of the instances in scope");
    } else {
        let _ = writeln!(
            s,
            "Not scanned: {} in scope (each is also a Security Hub finding):",
            plural(not_scanned as u64, "instance")
        );
        for u in coverage.not_scanned.iter().take(COVERAGE_LINES) {
            let line = format!("{}: {}. {}", u.instance_id, u.reason, u.remedy);
            let _ = writeln!(s, "  - {}", one_line(&line, LINE_CHARS));
        }
        if not_scanned > COVERAGE_LINES {
            let _ = writeln!(s, "  ... and {} more", not_scanned - COVERAGE_LINES);
        }
    }
    let _ = writeln!(s, "\nWHERE TO LOOK");
    let _ = writeln!(
        s,
        "Security Hub, findings of account {}:\n  {}",
        run.account_id,
        security_hub_link(&run.account_id, &run.region)
    );
    let _ = writeln!(
        s,
        "{} (signed in to account {}):\n  {}",
        engine_name(run.engine),
        run.account_id,
        inspector_link(run.engine, &run.region)
    );
    let _ = writeln!(
        s,
        "\nEvery finding went to the SIEM endpoint as JSON in {} for run {}.",
        plural(facts.siem_parts as u64, "part"),
        run.run_id
    );
    let _ = writeln!(s, "\n-- \nSent by scanflow, execution {}.", run.execution);
    s
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
        let ids: Vec<_> = top.into_sorted().into_iter().map(|b| b.id).collect();
        assert_eq!(ids, ["c", "d", "b"]);
    }

    #[test]
    fn a_cap_of_zero_keeps_nothing() {
        let mut top = TopFindings::new(0);
        top.offer(&finding("a", Severity::Critical, None));
        assert!(top.into_sorted().is_empty());
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
}
