//! The org rollup: one digest across every account-Region, built from what the scans stored
//! (the registry, each account-Region's current run state with its summary, and the fleet
//! watch's findings) without calling Inspector: a row per account-Region, the organisation's
//! top risks by accounts and instances affected, and the account-Regions that need attention
//! (not scanned on schedule, member stack lost, ...).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::fleet::FleetFinding;
use crate::lifecycle::{ScanSummary, StateRecord, TrendPoint};
use crate::model::{Severity, SeverityCounts};
use crate::text::{self, WIDTH};

/// Vulnerabilities named in the e-mail's top risks (the report object has the same list).
pub const TOP_RISKS: usize = 10;
/// Characters of a vulnerability id or title shown per line.
const ID_CHARS: usize = 64;
const TITLE_CHARS: usize = 120;

/// One account-Region as its last delivered scan left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub account_id: String,
    pub region: String,
    /// When the last delivered scan collected its findings; `None`: never delivered.
    pub last_scan: Option<String>,
    /// Its figures; `None` when never delivered (or delivered by a scanflow before summaries).
    pub summary: Option<ScanSummary>,
    /// How many of the fleet watch's findings name it (0: healthy).
    pub attention: usize,
    /// Its last delivered scans, oldest first (the HTML report's sparkline and the
    /// organisation's trend).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<TrendPoint>,
}

/// One vulnerability across the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopRisk {
    pub vulnerability_id: String,
    /// The most severe rating any of its findings has.
    pub severity: Severity,
    pub title: String,
    pub instances: usize,
    pub accounts: usize,
}

#[derive(Debug)]
struct Risk {
    severity: Severity,
    title: String,
    /// Distinct (account, instance) pairs and accounts that have it.
    instances: usize,
    accounts: usize,
}

/// Gathers the organisation's vulnerabilities from the run states' records, one at a time.
///
/// Kept small, as the daily fleet watch reads every finding of the organisation: account and
/// instance ids are held once each and named by number, and what makes an instance or an
/// account count once per vulnerability is one set of numbers for all of them (a million
/// findings take about 80 MB here instead of 400).
#[derive(Debug, Default)]
pub struct Risks {
    by_vulnerability: HashMap<String, u32>,
    risks: Vec<Risk>,
    accounts: Names,
    instances: Names,
    /// (vulnerability, account, instance) already counted.
    seen_instances: HashSet<(u32, u32, u32)>,
    /// (vulnerability, account) already counted.
    seen_accounts: HashSet<(u32, u32)>,
}

/// Ids held once each, numbered in the order they came.
#[derive(Debug, Default)]
struct Names(HashMap<String, u32>);

impl Names {
    fn number(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.0.get(name) {
            return n;
        }
        // Past 2^32 distinct ids (never) the last number is shared: counts come out low.
        let n = u32::try_from(self.0.len()).unwrap_or(u32::MAX);
        self.0.insert(name.to_owned(), n);
        n
    }
}

impl Risks {
    /// Counts one finding of `account_id`'s current state. A finding without a vulnerability
    /// id is counted under its title (Classic's non-CVE rules).
    pub fn offer(&mut self, account_id: &str, record: &StateRecord) {
        let id = record.vulnerability_id.as_deref().unwrap_or(&record.title);
        let index = match self.by_vulnerability.get(id) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(self.risks.len()).unwrap_or(u32::MAX);
                self.by_vulnerability.insert(id.to_owned(), i);
                self.risks.push(Risk {
                    severity: record.severity,
                    title: record.title.clone(),
                    instances: 0,
                    accounts: 0,
                });
                i
            }
        };
        let account = self.accounts.number(account_id);
        let instance = record
            .instance_id
            .as_deref()
            .map(|i| self.instances.number(i));
        let new_instance =
            instance.is_some_and(|n| self.seen_instances.insert((index, account, n)));
        let new_account = self.seen_accounts.insert((index, account));
        let Some(risk) = self.risks.get_mut(index as usize) else {
            return;
        };
        if record.severity < risk.severity {
            risk.severity = record.severity;
        }
        risk.instances += usize::from(new_instance);
        risk.accounts += usize::from(new_account);
    }

    /// The `n` worst: most severe, then most accounts, then most instances, then by id so the
    /// order does not depend on the order the states were read in.
    pub fn top(&self, n: usize) -> Vec<TopRisk> {
        let mut all: Vec<(&str, &Risk)> = self
            .by_vulnerability
            .iter()
            .filter_map(|(id, &i)| Some((id.as_str(), self.risks.get(i as usize)?)))
            .collect();
        all.sort_by(|(a_id, a), (b_id, b)| {
            a.severity
                .cmp(&b.severity)
                .then(b.accounts.cmp(&a.accounts))
                .then(b.instances.cmp(&a.instances))
                .then_with(|| a_id.cmp(b_id))
        });
        all.truncate(n);
        all.into_iter()
            .map(|(id, r)| TopRisk {
                vulnerability_id: id.to_owned(),
                severity: r.severity,
                title: r.title.clone(),
                instances: r.instances,
                accounts: r.accounts,
            })
            .collect()
    }
}

/// Everything the rollup says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollup {
    /// When it was made (the schedule's nominal time).
    pub at: String,
    /// Worst first: most critical, then most high, then by account and Region.
    pub rows: Vec<Row>,
    pub top_risks: Vec<TopRisk>,
    pub attention: Vec<FleetFinding>,
}

impl Rollup {
    pub fn new(
        at: String,
        mut rows: Vec<Row>,
        top_risks: Vec<TopRisk>,
        attention: Vec<FleetFinding>,
    ) -> Self {
        let figure =
            |r: &Row, f: fn(&SeverityCounts) -> u64| r.summary.as_ref().map_or(0, |s| f(&s.counts));
        rows.sort_by(|a, b| {
            figure(b, |c| c.critical)
                .cmp(&figure(a, |c| c.critical))
                .then(figure(b, |c| c.high).cmp(&figure(a, |c| c.high)))
                .then_with(|| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)))
        });
        Rollup {
            at,
            rows,
            top_risks,
            attention,
        }
    }

    /// How many account-Regions the fleet watch's findings name (a lost member stack's is
    /// not always a row).
    pub fn attention_places(&self) -> usize {
        let mut places: Vec<(&str, &str)> = self
            .attention
            .iter()
            .map(|f| (f.account_id.as_str(), f.region.as_str()))
            .collect();
        places.sort_unstable();
        places.dedup();
        places.len()
    }

    /// The organisation's findings: the sum of every account-Region's last delivered scan.
    pub fn totals(&self) -> ScanSummary {
        let mut t = ScanSummary::default();
        for s in self.rows.iter().filter_map(|r| r.summary.as_ref()) {
            t.counts.merge(&s.counts);
            t.new = t.new.saturating_add(s.new);
            t.resolved = t.resolved.saturating_add(s.resolved);
            t.overdue = t.overdue.saturating_add(s.overdue);
            t.instances_scanned = t.instances_scanned.saturating_add(s.instances_scanned);
            t.instances_not_scanned = t
                .instances_not_scanned
                .saturating_add(s.instances_not_scanned);
        }
        t
    }

    /// The e-mail: a short subject and a body of lines of at most [`WIDTH`] characters, at
    /// most `budget` bytes (rows past it are left to the report object at `report_key`);
    /// `link` (lines pointing at the HTML report) follows the summary.
    pub fn render(&self, report_key: &str, link: &str, budget: usize) -> (String, String) {
        let t = self.totals();
        let attention_places = self.attention_places();
        let subject = format!(
            "scanflow rollup: {} account-Region(s), {} critical, {} high",
            self.rows.len(),
            t.counts.critical,
            t.counts.high
        );
        let delivered = self.rows.iter().filter(|r| r.last_scan.is_some()).count();
        let mut body = format!("scanflow organisation rollup, {}\n\n", self.at);
        body.push_str(&text::wrap(
            &format!(
                "{} account-Region(s): {delivered} with a delivered scan, {attention_places} \
                 needing attention. As of each one's last delivered scan: {} critical, {} high, \
                 {} medium, {} low, {} informational, {} untriaged; {} new and {} resolved \
                 since the scan before; {} past their SLA. Instances scanned: {} of {}.",
                self.rows.len(),
                t.counts.critical,
                t.counts.high,
                t.counts.medium,
                t.counts.low,
                t.counts.informational,
                t.counts.untriaged,
                t.new,
                t.resolved,
                t.overdue,
                t.instances_scanned,
                t.instances_scanned.saturating_add(t.instances_not_scanned),
            ),
            WIDTH,
            "",
            "",
        ));
        if !link.is_empty() {
            body.push('\n');
            body.push_str(link);
        }
        if !self.attention.is_empty() {
            body.push_str("\nNEEDS ATTENTION\n");
            for f in &self.attention {
                let what = text::line(&format!("{} {}: {}", f.account_id, f.region, f.summary()));
                body.push_str(&text::wrap(&what, WIDTH, "- ", "  "));
                body.push_str(&text::wrap(
                    &text::line(&f.action),
                    WIDTH,
                    "  What to do: ",
                    "  ",
                ));
            }
        }
        if !self.top_risks.is_empty() {
            body.push_str("\nTOP RISKS (most severe, then most accounts and instances)\n");
            for (i, r) in self.top_risks.iter().enumerate() {
                // Inspector's titles usually start with the id: say it once.
                let what = if r.title.starts_with(&r.vulnerability_id) {
                    text::one_line(&r.title, TITLE_CHARS)
                } else {
                    format!(
                        "{}: {}",
                        text::one_line(&r.vulnerability_id, ID_CHARS),
                        text::one_line(&r.title, TITLE_CHARS)
                    )
                };
                let line = format!(
                    "{}. {} {what} - on {} instance(s), {} account(s)",
                    i + 1,
                    r.severity,
                    r.instances,
                    r.accounts
                );
                body.push_str(&text::wrap(&line, WIDTH, "", "    "));
            }
        }
        body.push_str("\nBY ACCOUNT-REGION (worst first)\n");
        body.push_str(&format!(
            "{:<12} {:<14} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {}\n",
            "ACCOUNT", "REGION", "CRIT", "HIGH", "NEW", "RSLVD", "OVRDU", "SCANNED", "LAST SCAN"
        ));
        let footer = format!(
            "\nEach row is the account-Region's last delivered scan; a ! marks one that needs \
             attention. The full rollup is in the report bucket at {report_key}."
        );
        let footer = text::wrap(&footer, WIDTH, "", "");
        let mut shown = 0;
        for row in &self.rows {
            let line = row_line(row);
            // Room for the line, the "more" line and the footer.
            if body.len() + line.len() + footer.len() + WIDTH + 1 > budget {
                break;
            }
            body.push_str(&line);
            shown += 1;
        }
        if shown < self.rows.len() {
            body.push_str(&format!(
                "... and {} more in the report bucket.\n",
                self.rows.len() - shown
            ));
        }
        body.push_str(&footer);
        (subject, body)
    }
}

fn row_line(row: &Row) -> String {
    let (crit, high, new, resolved, overdue, scanned) = match &row.summary {
        Some(s) => (
            s.counts.critical.to_string(),
            s.counts.high.to_string(),
            s.new.to_string(),
            s.resolved.to_string(),
            s.overdue.to_string(),
            format!(
                "{}/{}",
                s.instances_scanned,
                s.instances_scanned.saturating_add(s.instances_not_scanned)
            ),
        ),
        None => Default::default(),
    };
    let dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
    let last = row
        .last_scan
        .as_deref()
        .and_then(|t| t.get(..10))
        .unwrap_or("never");
    // 78 characters with the mark: a row that needs attention must not wrap.
    let mark = if row.attention > 0 { " !" } else { "" };
    format!(
        "{:<12} {:<14} {:>5} {:>5} {:>5} {:>5} {:>5} {:>7} {last}{mark}\n",
        text::one_line(&row.account_id, 12),
        text::one_line(&row.region, 14),
        dash(crit),
        dash(high),
        dash(new),
        dash(resolved),
        dash(overdue),
        dash(scanned),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Problem;

    fn record(vuln: &str, severity: Severity, instance: &str) -> StateRecord {
        StateRecord {
            identity: format!("{vuln}/{instance}"),
            id: format!("{vuln}/{instance}"),
            severity,
            instance_id: Some(instance.into()),
            vulnerability_id: Some(vuln.into()),
            title: format!("{vuln} in openssh"),
            first_seen: "2026-11-01T00:00:00Z".into(),
            last_seen: "2026-11-28T00:00:00Z".into(),
        }
    }

    fn summary(critical: u64, high: u64) -> ScanSummary {
        ScanSummary {
            counts: SeverityCounts {
                critical,
                high,
                ..Default::default()
            },
            new: 1,
            resolved: 2,
            overdue: 3,
            instances_scanned: 4,
            instances_not_scanned: 1,
        }
    }

    fn row(account: &str, critical: u64, high: u64) -> Row {
        Row {
            account_id: account.into(),
            region: "eu-west-1".into(),
            last_scan: Some("2026-11-28T02:01:00Z".into()),
            summary: Some(summary(critical, high)),
            attention: 0,
            trend: Vec::new(),
        }
    }

    #[test]
    fn risks_rank_by_severity_then_accounts_then_instances_and_count_each_instance_once() {
        let mut risks = Risks::default();
        // CVE-B: high, on 3 instances in 1 account (one instance twice: two packages).
        for i in ["i-1", "i-2", "i-3", "i-3"] {
            risks.offer("111111111111", &record("CVE-B", Severity::High, i));
        }
        // CVE-A: high, 2 instances in 2 accounts; the same instance id in two accounts is two.
        risks.offer("111111111111", &record("CVE-A", Severity::High, "i-1"));
        risks.offer("222222222222", &record("CVE-A", Severity::High, "i-1"));
        // CVE-C: one medium and one critical finding: critical.
        risks.offer("111111111111", &record("CVE-C", Severity::Medium, "i-9"));
        risks.offer("111111111111", &record("CVE-C", Severity::Critical, "i-8"));
        let top = risks.top(10);
        let order: Vec<(&str, usize, usize)> = top
            .iter()
            .map(|r| (r.vulnerability_id.as_str(), r.instances, r.accounts))
            .collect();
        assert_eq!(
            order,
            vec![("CVE-C", 2, 1), ("CVE-A", 2, 2), ("CVE-B", 3, 1)]
        );
        assert_eq!(top[0].severity, Severity::Critical);
        assert_eq!(risks.top(2).len(), 2);
    }

    #[test]
    fn a_row_that_needs_attention_fits_the_e_mail_width_in_the_longest_region() {
        let mut r = row("111111111111", 99_999, 99_999);
        r.region = "ap-southeast-2".into();
        r.attention = 1;
        if let Some(s) = &mut r.summary {
            s.instances_scanned = 999;
            s.instances_not_scanned = 0;
        }
        let line = row_line(&r);
        let line = line.trim_end_matches('\n');
        assert!(line.ends_with("2026-11-28 !"), "{line}");
        assert_eq!(line.chars().count(), WIDTH, "{line}");
    }

    #[test]
    fn rows_are_worst_first_and_the_totals_add_up() {
        let r = Rollup::new(
            "2026-11-30T06:00:00Z".into(),
            vec![
                row("111111111111", 0, 9),
                row("222222222222", 2, 1),
                row("333333333333", 2, 5),
            ],
            Vec::new(),
            Vec::new(),
        );
        let order: Vec<&str> = r.rows.iter().map(|r| r.account_id.as_str()).collect();
        assert_eq!(order, ["333333333333", "222222222222", "111111111111"]);
        let t = r.totals();
        assert_eq!(
            (
                t.counts.critical,
                t.counts.high,
                t.new,
                t.resolved,
                t.overdue
            ),
            (4, 15, 3, 6, 9)
        );
        assert_eq!((t.instances_scanned, t.instances_not_scanned), (12, 3));
    }

    #[test]
    fn the_email_fits_78_columns_names_attention_and_stays_within_its_budget() {
        let never = Row {
            account_id: "444444444444".into(),
            region: "ap-southeast-2".into(),
            last_scan: None,
            summary: None,
            attention: 1,
            trend: Vec::new(),
        };
        let attention = vec![FleetFinding {
            account_id: "444444444444".into(),
            region: "ap-southeast-2".into(),
            problem: Problem::MissedSchedule {
                due_at: "2026-11-30T03:00:00Z".into(),
                schedule: "cron(0 3 ? * MON *)".into(),
                last_scan: None,
            },
            action: "Check the execution's failure notice; redrive it once fixed.".into(),
        }];
        let mut risks = Risks::default();
        risks.offer(
            "111111111111",
            &record(&"CVE-2024-6387 ".repeat(40), Severity::Critical, "i-1"),
        );
        let mut rows: Vec<Row> = (0..300)
            .map(|i| row(&format!("{i:012}"), i % 7, i % 5))
            .collect();
        rows.push(never);
        let r = Rollup::new(
            "2026-11-30T06:00:00Z".into(),
            rows,
            risks.top(TOP_RISKS),
            attention,
        );
        let (subject, body) = r.render("scanflow/fleet-watch/rollup.json", "", 256 * 1024);
        assert!(subject.chars().count() <= WIDTH, "{subject}");
        for line in body.lines() {
            assert!(
                line.chars().count() <= WIDTH,
                "{} > {WIDTH}: {line}",
                line.chars().count()
            );
        }
        assert!(
            body.contains("NEEDS ATTENTION\n- 444444444444 ap-southeast-2: missed its schedule")
        );
        assert!(
            body.contains("444444444444 ap-southeast-2     -     -"),
            "{body}"
        );
        assert!(body.contains("never !"), "{body}");
        assert_eq!(body.matches("\n000000000").count(), 300, "every row");

        // A budget too small for every row: the rest is pointed at, never silently dropped.
        let (_, short) = r.render("scanflow/fleet-watch/rollup.json", "", 8 * 1024);
        assert!(short.len() <= 8 * 1024, "{}", short.len());
        let shown = short.matches("\n000000000").count();
        assert!(shown > 10 && shown < 300, "{shown}");
        assert!(
            short.contains(&format!(
                "... and {} more in the report bucket.",
                301 - shown
            )),
            "{short}"
        );
        assert!(short.contains("scanflow/fleet-watch/rollup.json"));
    }
}
