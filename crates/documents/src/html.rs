//! The HTML reports for people: one per scan (format writes it beside the digest) and one for
//! the org rollup (fleet-watch), each a single self-contained page: inline CSS and SVG
//! charts, no scripts, no external requests (its Content-Security-Policy forbids both, so a
//! finding title that slipped past escaping still could not run or fetch anything).
//!
//! Every text that came from a finding, a tag or a setting is escaped and cut to a bounded
//! length, so the page stays a few hundred KiB whatever the scan found.

use std::fmt::Write as _;

use scanflow_core::fleet::FleetFinding;
use scanflow_core::lifecycle::TrendPoint;
use scanflow_core::model::{Coverage, Severity, SeverityCounts};
use scanflow_core::rollup::{Rollup, Row};
use scanflow_core::state::Run;
use scanflow_core::text::one_line;

use scanflow_core::ScanError;
use scanflow_core::ports::{ObjectLink, ReportStore};

use crate::digest::{
    Brief, Changes, LINK_ROOM, ResolvedBrief, engine_name, inspector_link, link_lines,
    security_hub_link,
};

/// How the e-mail links to the report at `key`: presigned for `valid_for` when asked and the
/// link fits the room the e-mail keeps for it ([`LINK_ROOM`]); otherwise, or when presigning
/// fails (logged), the object's S3 console page, so the e-mail always says where it is.
pub async fn link_to<S: ReportStore>(
    store: &S,
    key: &str,
    valid_for: Option<std::time::Duration>,
) -> Result<ObjectLink, ScanError> {
    if valid_for.is_some() {
        match store.link(key, valid_for).await {
            // The lines and the blank line after them fit the room the digest keeps.
            Ok(link) if link_lines(&link).len() < LINK_ROOM => return Ok(link),
            Ok(link) => tracing::warn!(
                key,
                bytes = link_lines(&link).len(),
                room = LINK_ROOM,
                "the presigned report link does not fit the e-mail; linking the S3 console page"
            ),
            Err(e) => tracing::warn!(
                key,
                error = %e,
                "could not presign the report link; linking the S3 console page"
            ),
        }
    }
    store.link(key, None).await
}

/// The media type the reports are stored with.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";
/// Not-scanned instances and fleet-watch findings listed before "and N more".
const LIST_LINES: usize = 100;
/// Account-Region rows of the rollup's table (the JSON beside it has every row).
const ROLLUP_ROWS: usize = 1000;
/// Characters of a title shown.
const TITLE_CHARS: usize = 200;

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;\
margin:0;background:#f8fafc;color:#0f172a;font-size:15px;line-height:1.45}\
main{max-width:1100px;margin:0 auto;padding:24px}\
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}\
.meta{color:#475569;margin:0 0 20px;overflow-wrap:anywhere}\
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:16px 20px;\
margin:0 0 16px}\
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 16px}\
.card{flex:1 1 140px;background:#fff;border:1px solid #e2e8f0;border-radius:8px;\
padding:12px 16px}\
.card b{display:block;font-size:26px}.card span{color:#475569}\
table{border-collapse:collapse;width:100%;font-size:14px}\
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e2e8f0;vertical-align:top}\
th{background:#f1f5f9}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.sev{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;\
font-weight:600}\
.s-critical{background:#b91c1c}.s-high{background:#ea580c}.s-medium{background:#ca8a04}\
.s-low{background:#2563eb}.s-informational{background:#64748b}.s-untriaged{background:#94a3b8}\
.c-critical{color:#b91c1c}.c-high{color:#ea580c}.muted{color:#64748b}.warn{color:#b91c1c;font-weight:600}\
ul{margin:4px 0 8px;padding-left:20px}\
a{color:#1d4ed8;overflow-wrap:anywhere}\
footer{color:#64748b;font-size:13px;margin:8px 0 24px}";

/// The colour of a severity in charts (the same as its `.s-*` badge).
fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#b91c1c",
        Severity::High => "#ea580c",
        Severity::Medium => "#ca8a04",
        Severity::Low => "#2563eb",
        Severity::Informational => "#64748b",
        Severity::Untriaged => "#94a3b8",
    }
}

/// Text made safe for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text from outside scanflow: one line, cut to `max` characters, escaped.
fn text(s: &str, max: usize) -> String {
    escape(&one_line(s, max))
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn page(title: &str, heading: &str, meta: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>{heading}</h1>\n<p class=\"meta\">{meta}</p>\n{body}</main>\n</body>\n</html>\n"
    )
}

fn badge(severity: Severity) -> String {
    format!(
        "<span class=\"sev s-{0}\">{0}</span>",
        severity.as_str().to_ascii_lowercase()
    )
}

/// Big figures across the top: critical, high, total, and two more the caller picks.
fn cards(counts: &SeverityCounts, extra: &[(&str, String)]) -> String {
    let mut s = String::from("<div class=\"cards\">\n");
    let mut card = |value: String, label: &str, class: &str| {
        let _ = writeln!(
            s,
            "<div class=\"card\"><b{class}>{value}</b><span>{label}</span></div>"
        );
    };
    card(
        thousands(counts.critical),
        "critical",
        " class=\"c-critical\"",
    );
    card(thousands(counts.high), "high", " class=\"c-high\"");
    card(thousands(counts.total()), "findings in all", "");
    for (label, value) in extra {
        card(value.clone(), label, "");
    }
    s.push_str("</div>\n");
    s
}

/// A horizontal bar per severity, as wide as its share of the largest count.
fn severity_bars(counts: &SeverityCounts) -> String {
    let (row, label_w, bar_w) = (28u64, 120u64, 420u64);
    let max = Severity::ALL
        .iter()
        .map(|s| counts.get(*s))
        .max()
        .unwrap_or(0)
        .max(1);
    let height = row * Severity::ALL.len() as u64 + 8;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{height}\" \
         viewBox=\"0 0 640 {height}\" role=\"img\" aria-label=\"Findings by severity\">\n"
    );
    for (i, severity) in Severity::ALL.iter().enumerate() {
        let y = i as u64 * row + 4;
        let n = counts.get(*severity);
        // At least a sliver for a non-zero count, so 1 of 100,000 still shows.
        let w = if n == 0 {
            0
        } else {
            (n.saturating_mul(bar_w) / max).max(2)
        };
        let _ = writeln!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"13\" fill=\"#334155\">{}</text>\
             <rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\" rx=\"3\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#0f172a\">{}</text>",
            y + 15,
            severity.as_str(),
            row - 8,
            colour(*severity),
            label_w + w + 8,
            y + 15,
            thousands(n)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Stacked bars of critical, high, medium and low (the rest are few and not paged on) per
/// delivered scan, oldest left; with one scan, a note that the trend starts here.
fn trend_chart(points: &[TrendPoint]) -> String {
    const SHOWN: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];
    if points.is_empty() {
        return "<p class=\"muted\">No delivered scan yet.</p>\n".to_owned();
    }
    let (width, height, top, bottom, left) = (720u64, 240u64, 16u64, 40u64, 56u64);
    let plot = height - top - bottom;
    let stack = |p: &TrendPoint| -> u64 {
        SHOWN
            .iter()
            .fold(0u64, |a, s| a.saturating_add(p.counts.get(*s)))
    };
    let max = points.iter().map(stack).max().unwrap_or(0).max(1);
    let slot = (width - left) / points.len() as u64;
    let bar = (slot * 3 / 5).clamp(4, 48);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"Critical, high, medium and low findings per scan\">\n\
         <line x1=\"{left}\" y1=\"{}\" x2=\"{width}\" y2=\"{}\" stroke=\"#cbd5e1\"/>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#475569\" text-anchor=\"end\">{}</text>\n\
         <text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#475569\" text-anchor=\"end\">0</text>\n",
        top + plot,
        top + plot,
        left - 6,
        top + 10,
        thousands(max),
        left - 6,
        top + plot,
    );
    for (i, p) in points.iter().enumerate() {
        let x = left + i as u64 * slot + (slot - bar) / 2;
        let mut y = top + plot;
        for severity in SHOWN.iter().rev() {
            let n = p.counts.get(*severity);
            if n == 0 {
                continue;
            }
            let h = (n.saturating_mul(plot) / max).max(1);
            y = y.saturating_sub(h);
            let _ = writeln!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\" fill=\"{}\"/>",
                colour(*severity)
            );
        }
        // The date of the scan (MM-DD) under its bar.
        let day = p.collected_at.get(5..10).unwrap_or("");
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#475569\" \
             text-anchor=\"middle\">{}</text>",
            x + bar / 2,
            top + plot + 16,
            escape(day)
        );
    }
    let mut legend_x = left;
    for severity in SHOWN {
        let _ = writeln!(
            s,
            "<rect x=\"{legend_x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#334155\">{}</text>",
            height - 14,
            colour(severity),
            legend_x + 14,
            height - 5,
            severity.as_str()
        );
        legend_x += 100;
    }
    s.push_str("</svg>\n");
    if points.len() == 1 {
        s.push_str(
            "<p class=\"muted\">The first delivered scan: the trend grows with each scan.</p>\n",
        );
    }
    s
}

/// A tiny line of critical + high over an account-Region's scans.
fn sparkline(points: &[TrendPoint]) -> String {
    if points.len() < 2 {
        return String::new();
    }
    let (w, h) = (90u64, 20u64);
    let value = |p: &TrendPoint| p.counts.critical.saturating_add(p.counts.high);
    let max = points.iter().map(value).max().unwrap_or(0).max(1);
    let step = (w - 2) / (points.len() as u64 - 1);
    let coords: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let x = 1 + i as u64 * step;
            let y = h - 2 - value(p).saturating_mul(h - 4) / max;
            format!("{x},{y}")
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Critical and high over the last \
         scans\"><polyline points=\"{}\" fill=\"none\" stroke=\"#b91c1c\" \
         stroke-width=\"1.5\"/></svg>",
        coords.join(" ")
    )
}

fn what(vulnerability_id: Option<&str>, title: &str) -> String {
    match vulnerability_id {
        Some(v) if !title.contains(v) => format!("{}: {}", text(v, 64), text(title, TITLE_CHARS)),
        _ => text(title, TITLE_CHARS),
    }
}

fn instance_cell(id: Option<&str>, name: Option<&str>) -> String {
    let id = id.map_or_else(
        || "<span class=\"muted\">(no instance)</span>".to_owned(),
        |i| text(i, 64),
    );
    match name {
        Some(n) => format!("{id}<br><span class=\"muted\">{}</span>", text(n, 64)),
        None => id,
    }
}

fn findings_table(briefs: &[Brief], aged: bool) -> String {
    let mut s = String::from(
        "<table>\n<thead><tr><th>#</th><th>Severity</th><th class=\"n\">Score</th>\
         <th>Instance</th><th>Vulnerability</th><th>Fix</th>",
    );
    if aged {
        s.push_str("<th class=\"n\">Open, days</th>");
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (i, b) in briefs.iter().enumerate() {
        let score = b
            .score
            .map_or_else(|| "–".to_owned(), |v| format!("{v:.1}"));
        let fix = match b.fix_available {
            Some(true) => "available",
            Some(false) => "not yet",
            None => "unknown",
        };
        let _ = write!(
            s,
            "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{score}</td><td>{}</td>\
             <td>{}</td><td>{fix}</td>",
            i + 1,
            badge(b.severity),
            if b.instances > 1 {
                format!(
                    "{}<br><b>and {} more instance(s)</b>",
                    instance_cell(b.instance_id.as_deref(), b.instance_name.as_deref()),
                    thousands(b.instances - 1)
                )
            } else {
                instance_cell(b.instance_id.as_deref(), b.instance_name.as_deref())
            },
            match &b.detail {
                Some(triage) => format!(
                    "{}<br><span class=\"muted\">{}</span>",
                    what(b.vulnerability_id.as_deref(), &b.title),
                    text(triage, TITLE_CHARS)
                ),
                None => what(b.vulnerability_id.as_deref(), &b.title),
            },
        );
        if aged {
            let _ = write!(
                s,
                "<td class=\"n\">{}</td>",
                b.age_days.map_or_else(String::new, thousands)
            );
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

fn resolved_table(resolved: &[ResolvedBrief]) -> String {
    let mut s = String::from(
        "<table>\n<thead><tr><th>Severity</th><th>Instance</th><th>Vulnerability</th>\
         <th>First seen</th></tr></thead>\n<tbody>\n",
    );
    for r in resolved {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            badge(r.severity),
            instance_cell(r.instance_id.as_deref(), None),
            what(r.vulnerability_id.as_deref(), &r.title),
            text(&r.first_seen, 40)
        );
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// "and N more" under a list that names `listed` of `total`.
fn more(total: u64, listed: u64, where_: &str) -> String {
    let rest = total.saturating_sub(listed);
    if rest == 0 {
        String::new()
    } else {
        format!(
            "<p class=\"muted\">… and {} more: {where_}.</p>\n",
            thousands(rest)
        )
    }
}

/// Everything a scan's report is written from (format has it all after its one pass).
pub struct ScanFacts<'a> {
    pub run: &'a Run,
    pub counts: &'a SeverityCounts,
    pub coverage: &'a Coverage,
    pub collected_at: &'a str,
    pub changes: &'a Changes,
    pub top: &'a [Brief],
    /// The account-Region's trend, ending with this scan.
    pub trend: &'a [TrendPoint],
}

/// One scan's report.
pub fn scan_report(f: &ScanFacts<'_>) -> String {
    let run = f.run;
    let c = f.changes;
    let heading = format!(
        "Account {} · {}",
        text(&run.account_id, 64),
        text(&run.region, 32)
    );
    let mut meta = format!(
        "{} · collected {} · run {}",
        engine_name(run.engine),
        text(f.collected_at, 40),
        text(&run.run_id, 200)
    );
    if run.rerun {
        meta.push_str(" · a re-delivery of a finished run");
    }
    let mut b = cards(
        f.counts,
        &[
            ("new since the last scan", thousands(c.paging_new.total())),
            (
                "overdue against the SLA",
                thousands(c.paging_overdue.total()),
            ),
        ],
    );

    b.push_str("<section>\n<h2>Findings by severity</h2>\n");
    b.push_str(&severity_bars(f.counts));
    b.push_str("</section>\n");

    let _ = writeln!(
        b,
        "<section>\n<h2>Trend over the last {} scan(s)</h2>",
        f.trend.len().max(1)
    );
    b.push_str(&trend_chart(f.trend));
    b.push_str("</section>\n");

    b.push_str("<section>\n<h2>What changed</h2>\n");
    match &c.since {
        Some(since) => {
            let _ = writeln!(
                b,
                "<p>Compared with the scan collected {}.</p>",
                text(since, 40)
            );
        }
        None => b.push_str(
            "<p>The first delivered scan of this account and Region: every finding is new, \
             nothing can be resolved yet.</p>\n",
        ),
    }
    // Findings under an acceptance in force are left out of the figures that page people.
    let new_ch = c.paging_new.critical.saturating_add(c.paging_new.high);
    let _ = writeln!(
        b,
        "<h3>New critical and high: {} ({} new in all)</h3>",
        thousands(new_ch),
        thousands(c.new.total())
    );
    let new_listed = c.new_listed();
    if !new_listed.is_empty() {
        b.push_str(&findings_table(&new_listed, false));
        b.push_str(&more(
            new_ch,
            new_listed.len() as u64,
            "see the SIEM delivery",
        ));
    }
    let _ = writeln!(b, "<h3>Resolved: {}</h3>", thousands(c.resolved.total()));
    let resolved = c.resolved_listed();
    if !resolved.is_empty() {
        b.push_str(&resolved_table(&resolved));
        b.push_str(&more(
            c.resolved.total(),
            resolved.len() as u64,
            "see the SIEM delivery",
        ));
    }
    let _ = writeln!(
        b,
        "<h3>Overdue against the SLA: {}</h3>\n<p class=\"muted\">SLA: critical {} days, \
         high {}, medium {}, low {}.</p>",
        thousands(c.paging_overdue.total()),
        c.sla.critical,
        c.sla.high,
        c.sla.medium,
        c.sla.low
    );
    let overdue = c.overdue_listed();
    if !overdue.is_empty() {
        b.push_str(&findings_table(&overdue, true));
        b.push_str(&more(
            c.paging_overdue.total(),
            overdue.len() as u64,
            "see the SIEM delivery",
        ));
    }
    if c.carried_over > 0 {
        let _ = writeln!(
            b,
            "<p>{} earlier finding(s) on instances this scan did not cover are kept open, \
             not resolved.</p>",
            thousands(c.carried_over)
        );
    }
    b.push_str(&acceptance_part(c));
    b.push_str("</section>\n");

    if !f.top.is_empty() {
        // Accepted risks are not among them: they are named under what changed. An entry
        // stands for every finding of its vulnerability.
        let candidates = f.counts.total().saturating_sub(c.accepted.total());
        let shown: u64 = f.top.iter().map(|t| t.findings).sum();
        let _ = writeln!(
            b,
            "<section>\n<h2>Most severe vulnerabilities ({} findings of {})</h2>",
            thousands(shown),
            thousands(candidates)
        );
        b.push_str(&findings_table(f.top, false));
        b.push_str(&more(
            candidates,
            shown,
            "every finding is in the SIEM delivery and Security Hub",
        ));
        b.push_str("</section>\n");
    }

    b.push_str(&coverage_section(f.coverage, f.run.duration_seconds));
    let _ = writeln!(
        b,
        "<section>\n<h2>Where to look</h2>\n<ul>\n\
         <li><a href=\"{}\">Security Hub, findings of account {}</a></li>\n\
         <li><a href=\"{}\">{} (signed in to account {})</a></li>\n</ul>\n</section>",
        escape(&security_hub_link(&run.account_id, &run.region)),
        text(&run.account_id, 64),
        escape(&inspector_link(run.engine, &run.region)),
        engine_name(run.engine),
        text(&run.account_id, 64),
    );
    let _ = writeln!(
        b,
        "<footer>Sent by scanflow, execution {}.</footer>",
        text(&run.execution, 200)
    );
    page(
        &format!(
            "scanflow: {} {} — {} critical, {} high",
            text(&run.account_id, 64),
            text(&run.region, 32),
            f.counts.critical,
            f.counts.high
        ),
        &heading,
        &meta,
        &b,
    )
}

/// What is accepted as a risk (left out of the figures above) and what acceptance expired.
fn acceptance_part(c: &Changes) -> String {
    let mut b = String::new();
    if c.accepted.total() > 0 {
        let _ = writeln!(
            b,
            "<h3>Accepted risks: {} finding(s), not counted as new or overdue</h3>\n<ul>",
            thousands(c.accepted.total())
        );
        for (a, n) in &c.acceptances {
            let _ = writeln!(
                b,
                "<li>{} until {}, owner {}: {}</li>",
                thousands(*n),
                text(&a.expires_at, 40),
                text(&a.owner, 64),
                text(&a.reason, TITLE_CHARS)
            );
        }
        b.push_str("</ul>\n");
    }
    if c.expired > 0 {
        let _ = writeln!(
            b,
            "<h3 class=\"warn\">Acceptance expired: {} finding(s), renew it or fix them</h3>\n<ul>",
            thousands(c.expired)
        );
        for (brief, a) in c.expired_listed() {
            let _ = writeln!(
                b,
                "<li>{} {} on {}: accepted by {} until {}</li>",
                badge(brief.severity),
                what(brief.vulnerability_id.as_deref(), &brief.title),
                instance_cell(brief.instance_id.as_deref(), brief.instance_name.as_deref()),
                text(&a.owner, 64),
                text(&a.expires_at, 40)
            );
        }
        b.push_str("</ul>\n");
        b.push_str(&more(
            c.expired,
            c.expired_listed().len() as u64,
            "see the SIEM delivery",
        ));
    }
    b
}

fn coverage_section(coverage: &Coverage, duration_seconds: u32) -> String {
    let mut b = String::from("<section>\n<h2>Coverage</h2>\n");
    if let Some(cis) = &coverage.cis {
        let _ = writeln!(
            b,
            "<p><b>CIS benchmark ({})</b>: {}</p>",
            cis.level,
            text(&crate::digest::cis_summary(cis, duration_seconds), 1024)
        );
        if !cis.not_checked.is_empty() {
            b.push_str("<ul>\n");
            for u in cis.not_checked.iter().take(LIST_LINES) {
                let _ = writeln!(
                    b,
                    "<li><b>{}</b>: not checked, {} {}</li>",
                    text(&u.instance_id, 64),
                    text(&u.reason, TITLE_CHARS),
                    text(&u.remedy, TITLE_CHARS)
                );
            }
            b.push_str("</ul>\n");
            let listed = cis.not_checked.len().min(LIST_LINES) as u64;
            b.push_str(&more(
                cis.not_checked_total,
                listed,
                "see CIS scans in the Inspector console",
            ));
        }
    }
    let not = coverage.not_scanned.len();
    let _ = writeln!(
        b,
        "<p>{} instance(s) scanned; {} in scope not scanned{}</p>",
        thousands(coverage.scanned.len() as u64),
        thousands(not as u64),
        if not > 0 {
            " (each is also a Security Hub finding):"
        } else {
            "."
        }
    );
    if not > 0 {
        b.push_str("<ul>\n");
        for u in coverage.not_scanned.iter().take(LIST_LINES) {
            let _ = writeln!(
                b,
                "<li><b>{}</b>: {} {}</li>",
                text(&u.instance_id, 64),
                text(&u.reason, TITLE_CHARS),
                text(&u.remedy, TITLE_CHARS)
            );
        }
        b.push_str("</ul>\n");
        b.push_str(&more(not as u64, LIST_LINES as u64, "see Security Hub"));
    }
    b.push_str("</section>\n");
    b
}

/// The organisation's trend: on each of the last few days any account-Region was scanned,
/// the sum over account-Regions of their latest scan on or before that day.
pub fn fleet_trend(rows: &[Row]) -> Vec<TrendPoint> {
    let mut days: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.trend.iter().filter_map(|p| p.collected_at.get(..10)))
        .collect();
    days.sort_unstable();
    days.dedup();
    let keep = days
        .len()
        .saturating_sub(scanflow_core::lifecycle::TREND_SCANS);
    days.drain(..keep);
    days.iter()
        .map(|day| {
            let mut point = TrendPoint {
                collected_at: format!("{day}T23:59:59Z"),
                ..TrendPoint::default()
            };
            for row in rows {
                // A row's points are oldest first: the last one on or before the day.
                if let Some(p) = row
                    .trend
                    .iter()
                    .rev()
                    .find(|p| p.collected_at.get(..10).is_some_and(|d| d <= *day))
                {
                    point.counts.merge(&p.counts);
                    point.new = point.new.saturating_add(p.new);
                    point.resolved = point.resolved.saturating_add(p.resolved);
                }
            }
            point
        })
        .collect()
}

/// The org rollup's report.
pub fn rollup_report(r: &Rollup) -> String {
    let t = r.totals();
    let mut b = cards(
        &t.counts,
        &[
            ("account-Regions", thousands(r.rows.len() as u64)),
            ("need attention", thousands(r.attention_places() as u64)),
        ],
    );
    b.push_str("<section>\n<h2>Findings by severity, whole organisation</h2>\n");
    b.push_str(&severity_bars(&t.counts));
    b.push_str("</section>\n");
    let trend = fleet_trend(&r.rows);
    let _ = writeln!(
        b,
        "<section>\n<h2>Trend over the last {} day(s) with scans</h2>",
        trend.len().max(1)
    );
    b.push_str(&trend_chart(&trend));
    b.push_str("</section>\n");

    if !r.top_risks.is_empty() {
        b.push_str(
            "<section>\n<h2>Top risks</h2>\n<table>\n<thead><tr><th>Severity</th>\
             <th>Vulnerability</th><th class=\"n\">Instances</th><th class=\"n\">Accounts</th>\
             </tr></thead>\n<tbody>\n",
        );
        for risk in &r.top_risks {
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                badge(risk.severity),
                what(Some(&risk.vulnerability_id), &risk.title),
                thousands(risk.instances as u64),
                thousands(risk.accounts as u64)
            );
        }
        b.push_str("</tbody>\n</table>\n</section>\n");
    }

    if !r.attention.is_empty() {
        b.push_str("<section>\n<h2>Need attention</h2>\n<ul>\n");
        for f in r.attention.iter().take(LIST_LINES) {
            b.push_str(&attention_item(f));
        }
        b.push_str("</ul>\n");
        b.push_str(&more(
            r.attention.len() as u64,
            LIST_LINES.min(r.attention.len()) as u64,
            "see the rollup's JSON",
        ));
        b.push_str("</section>\n");
    }

    b.push_str(
        "<section>\n<h2>By account and Region</h2>\n<table>\n<thead><tr><th>Account</th>\
         <th>Region</th><th class=\"n\">Critical</th><th class=\"n\">High</th>\
         <th class=\"n\">All</th><th class=\"n\">New</th><th class=\"n\">Resolved</th>\
         <th class=\"n\">Overdue</th><th class=\"n\">Not scanned</th><th>Last scan</th>\
         <th>Trend</th></tr></thead>\n<tbody>\n",
    );
    for row in r.rows.iter().take(ROLLUP_ROWS) {
        let attention = if row.attention > 0 {
            format!(
                " <span class=\"warn\">({} to look at)</span>",
                row.attention
            )
        } else {
            String::new()
        };
        let cells = match &row.summary {
            Some(s) => format!(
                "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td>",
                thousands(s.counts.critical),
                thousands(s.counts.high),
                thousands(s.counts.total()),
                thousands(s.new),
                thousands(s.resolved),
                thousands(s.overdue),
                thousands(s.instances_not_scanned)
            ),
            None => "<td colspan=\"7\" class=\"muted\">no delivered scan</td>".to_owned(),
        };
        let _ = writeln!(
            b,
            "<tr><td>{}{attention}</td><td>{}</td>{cells}<td>{}</td><td>{}</td></tr>",
            text(&row.account_id, 64),
            text(&row.region, 32),
            row.last_scan
                .as_deref()
                .map_or_else(|| "never".to_owned(), |t| text(t, 40)),
            sparkline(&row.trend)
        );
    }
    b.push_str("</tbody>\n</table>\n");
    b.push_str(&more(
        r.rows.len() as u64,
        ROLLUP_ROWS.min(r.rows.len()) as u64,
        "see the rollup's JSON",
    ));
    b.push_str("</section>\n<footer>Sent by scanflow's org rollup.</footer>\n");
    page(
        &format!(
            "scanflow org rollup {} — {} critical, {} high",
            text(&r.at, 40),
            t.counts.critical,
            t.counts.high
        ),
        "Organisation rollup",
        &format!(
            "{} · {} account-Region(s)",
            text(&r.at, 40),
            thousands(r.rows.len() as u64)
        ),
        &b,
    )
}

fn attention_item(f: &FleetFinding) -> String {
    format!(
        "<li><b>{} {}</b>: {} <span class=\"muted\">{}</span></li>\n",
        text(&f.account_id, 64),
        text(&f.region, 32),
        text(&f.summary(), TITLE_CHARS),
        text(&f.action, TITLE_CHARS)
    )
}

#[cfg(test)]
mod tests;
