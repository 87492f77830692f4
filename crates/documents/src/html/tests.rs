//! The HTML reports: hostile text is escaped, nothing loads or runs, the charts and lists
//! follow the figures, and the organisation's trend adds each account-Region once per day.

use super::*;
use scanflow_core::fleet::Problem;
use scanflow_core::lifecycle::{ScanSummary, Sla};
use scanflow_core::model::{CisCoverage, CisLevel, CisOutcome, Finding, Uncovered};

const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)> & \"quoted\" 'x'";

fn run() -> Run {
    serde_json::from_value(serde_json::json!({
        "accountId": "111122223333", "region": "eu-west-1", "engine": "inspector2",
        "runId": "report-1", "durationSeconds": 0, "startedAt": "2026-11-28T10:00:00Z",
        "deadline": "2026-11-28T12:00:00Z", "waitSeconds": 0, "rerun": false,
        "execution": "sched-111122223333-eu-west-1-20261128"
    }))
    .expect("run")
}

fn finding(i: usize, severity: Severity, title: &str) -> Finding {
    serde_json::from_value(serde_json::json!({
        "id": format!("f-{i}"), "engine": "inspector2", "accountId": "111122223333",
        "region": "eu-west-1", "severity": severity, "score": 9.8,
        "title": title, "description": "d", "recommendation": "r",
        "instanceId": format!("i-{i:017x}"), "instanceTags": {"Name": HOSTILE},
        "vulnerabilityId": "CVE-2024-6387", "fixAvailable": true
    }))
    .expect("finding")
}

fn point(at: &str, critical: u64, high: u64) -> TrendPoint {
    TrendPoint {
        collected_at: at.into(),
        counts: SeverityCounts {
            critical,
            high,
            ..SeverityCounts::default()
        },
        new: 1,
        resolved: 0,
    }
}

fn scan_page(title: &str, trend: &[TrendPoint]) -> String {
    let mut counts = SeverityCounts::default();
    let mut top = crate::digest::TopVulnerabilities::new(25);
    let changes = Changes::new(Some("2026-11-21T10:00:00Z".into()), Sla::default());
    for i in 0..40 {
        let severity = if i % 4 == 0 {
            Severity::Critical
        } else {
            Severity::High
        };
        let f = finding(i, severity, title);
        counts.add(severity);
        top.offer(&f);
    }
    let coverage = Coverage {
        scanned: vec!["i-1".into()],
        not_scanned: vec![Uncovered {
            instance_id: "i-0000000000000000f".into(),
            reason: HOSTILE.into(),
            remedy: "Install the SSM agent".into(),
        }],
        cis: Some(CisCoverage {
            level: CisLevel::Level1,
            scan_arn: None,
            outcome: CisOutcome::NotFinished,
            checked: 0,
            failing: 0,
            not_checked: vec![Uncovered {
                instance_id: "i-0000000000000000c".into(),
                reason: HOSTILE.into(),
                remedy: HOSTILE.into(),
            }],
            not_checked_total: 150,
        }),
    };
    let top = top.into_sorted();
    scan_report(&ScanFacts {
        run: &run(),
        counts: &counts,
        coverage: &coverage,
        collected_at: "2026-11-28T11:00:00Z",
        changes: &changes,
        top: &top,
        trend,
    })
}

/// The page's own tags: nothing from a finding may add one.
fn tags(page: &str) -> Vec<String> {
    page.split('<')
        .skip(1)
        .filter_map(|t| {
            t.split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .find(|n| !n.is_empty())
                .map(str::to_ascii_lowercase)
        })
        .collect()
}

#[test]
fn hostile_titles_tags_and_reasons_are_escaped_and_nothing_can_run_or_load() {
    let page = scan_page(HOSTILE, &[point("2026-11-28T11:00:00Z", 10, 30)]);
    for tag in tags(&page) {
        assert!(
            !["script", "img", "iframe", "link", "object", "embed"].contains(&tag.as_str()),
            "a <{tag}> tag in the page"
        );
    }
    // Inside the page's real tags (escaped text has no '<'): no handler, no resource.
    for tag in page.split('<').skip(1).filter_map(|t| t.split('>').next()) {
        let lower = tag.to_ascii_lowercase();
        assert!(!lower.contains(" on"), "an event handler in <{tag}>");
        assert!(!lower.contains(" src="), "a resource in <{tag}>");
    }
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("&amp; &quot;quoted&quot; &#39;x&#39;"));
    assert!(
        page.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"")
    );
    // No request leaves the page from its style either.
    for css in ["url(", "@import"] {
        assert!(!STYLE.contains(css), "{css} in the style");
    }
}

#[test]
fn a_thousand_character_title_is_cut_and_the_page_stays_bounded() {
    let long = "overflow ".repeat(500);
    let page = scan_page(&long, &[]);
    assert!(
        !page.contains(&"overflow ".repeat(40)),
        "a title is cut to 200 characters"
    );
    assert!(page.len() < 200 * 1024, "{} bytes", page.len());
    assert!(page.contains("No delivered scan yet."));
}

#[test]
fn the_severity_chart_and_the_trend_follow_the_figures() {
    let trend = [
        point("2026-11-14T11:00:00Z", 4, 10),
        point("2026-11-21T11:00:00Z", 8, 20),
        point("2026-11-28T11:00:00Z", 10, 30),
    ];
    let page = scan_page("CVE-2024-6387 - openssh", &trend);
    // The largest count (high, 30) gets the full 420 px; critical's 10 gets a third, 140.
    assert!(page.contains("width=\"420\" height=\"20\" rx=\"3\" fill=\"#ea580c\""));
    assert!(page.contains("width=\"140\" height=\"20\" rx=\"3\" fill=\"#b91c1c\""));
    assert!(page.contains("Trend over the last 3 scan(s)"));
    for day in ["11-14", "11-21", "11-28"] {
        assert!(page.contains(&format!(">{day}</text>")), "{day}");
    }
    // The tallest stack (40) is the axis maximum.
    assert!(page.contains(">40</text>"));
    let critical_bars = page.matches("fill=\"#b91c1c\"/>").count();
    assert!(
        critical_bars >= 3,
        "a critical segment per scan: {critical_bars}"
    );
}

#[test]
fn thousands_are_grouped() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
    assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
}

fn row(account: &str, trend: Vec<TrendPoint>) -> Row {
    let last = trend.last().cloned().unwrap_or_default();
    Row {
        account_id: account.into(),
        region: "eu-west-1".into(),
        last_scan: Some(last.collected_at.clone()),
        summary: Some(ScanSummary {
            counts: last.counts.clone(),
            ..ScanSummary::default()
        }),
        attention: 0,
        trend,
    }
}

#[test]
fn the_organisations_trend_counts_each_account_region_once_a_day_at_its_latest_scan() {
    let rows = vec![
        row(
            "111111111111",
            vec![
                point("2026-11-27T02:00:00Z", 1, 0),
                point("2026-11-28T02:00:00Z", 2, 0),
                point("2026-11-28T20:00:00Z", 3, 0),
            ],
        ),
        row("222222222222", vec![point("2026-11-28T05:00:00Z", 10, 1)]),
    ];
    let trend = fleet_trend(&rows);
    let days: Vec<&str> = trend.iter().map(|p| &p.collected_at[..10]).collect();
    assert_eq!(days, ["2026-11-27", "2026-11-28"]);
    // 27th: only the first account had scanned. 28th: its later scan that day, plus the other.
    assert_eq!(trend[0].counts.critical, 1);
    assert_eq!(trend[1].counts.critical, 3 + 10);
    assert_eq!(trend[1].counts.high, 1);
}

#[test]
fn the_rollup_page_has_a_row_per_account_region_and_names_what_needs_attention() {
    let rows: Vec<Row> = (0..5)
        .map(|i| {
            row(
                &format!("{i:012}"),
                vec![
                    point("2026-11-21T02:00:00Z", i, 2),
                    point("2026-11-28T02:00:00Z", i + 1, 3),
                ],
            )
        })
        .collect();
    let attention = vec![FleetFinding {
        account_id: "000000000003".into(),
        region: "eu-west-1".into(),
        problem: Problem::MissedSchedule {
            due_at: "2026-11-30T03:00:00Z".into(),
            schedule: "cron(0 3 ? * MON *)".into(),
            last_scan: None,
        },
        action: HOSTILE.into(),
    }];
    let r = Rollup::new("2026-11-30T06:00:00Z".into(), rows, Vec::new(), attention);
    let page = rollup_report(&r);
    assert_eq!(page.matches("<tr><td>0000000000").count(), 5, "a row each");
    assert_eq!(page.matches("<polyline").count(), 5, "a sparkline each");
    assert!(page.contains("Need attention"));
    assert!(
        page.contains("<b>1</b><span>need attention</span>"),
        "one place named"
    );
    assert!(page.contains("000000000003 eu-west-1</b>: missed its schedule"));
    assert!(!tags(&page).iter().any(|t| t == "script"));
    // 1+2+3+4+5 critical now across the five.
    assert!(page.contains("<b class=\"c-critical\">15</b>"));
}

/// A store whose presigning fails or signs a URL of `url_len` bytes; its console page works.
struct Linking {
    presign: Result<usize, ()>,
}

impl ReportStore for Linking {
    async fn put(&self, _: &str, _: Vec<u8>, _: &str) -> Result<(), ScanError> {
        Err(ScanError::internal("unused"))
    }
    async fn get(&self, _: &str) -> Result<Vec<u8>, ScanError> {
        Err(ScanError::internal("unused"))
    }
    async fn put_if_absent(&self, _: &str, _: Vec<u8>, _: &str) -> Result<bool, ScanError> {
        Err(ScanError::internal("unused"))
    }
    async fn list(&self, _: &str) -> Result<Vec<String>, ScanError> {
        Err(ScanError::internal("unused"))
    }
    async fn link(
        &self,
        key: &str,
        valid_for: Option<std::time::Duration>,
    ) -> Result<ObjectLink, ScanError> {
        match (valid_for, self.presign) {
            (None, _) => Ok(ObjectLink::Console {
                url: format!("https://console/{key}"),
            }),
            (Some(_), Ok(len)) => Ok(ObjectLink::Presigned {
                url: format!("https://b/{key}?{}", "s".repeat(len)),
                expires_at: "2026-12-02T06:00:00Z".into(),
            }),
            (Some(_), Err(())) => Err(ScanError::internal("no credentials to sign with")),
        }
    }
}

#[test]
fn the_link_falls_back_to_the_console_page_when_presigning_fails_or_does_not_fit() {
    let day = Some(std::time::Duration::from_secs(86_400));
    let link = |presign, valid_for| {
        pollster::block_on(link_to(&Linking { presign }, "r.html", valid_for)).expect("a link")
    };
    assert!(matches!(link(Ok(1500), day), ObjectLink::Presigned { .. }));
    let console = ObjectLink::Console {
        url: "https://console/r.html".into(),
    };
    assert_eq!(link(Err(()), day), console, "presigning failed");
    assert_eq!(
        link(Ok(LINK_ROOM), day),
        console,
        "longer than the e-mail keeps room for"
    );
    assert_eq!(link(Ok(1500), None), console, "presigning turned off");
}

#[test]
fn the_cis_scan_is_told_with_its_unchecked_instances() {
    let page = scan_page("openssl", &[]);
    assert!(page.contains("<b>CIS benchmark (LEVEL_1)</b>: The CIS LEVEL_1 scan did not finish"));
    assert!(page.contains("<b>i-0000000000000000c</b>: not checked"));
    assert!(page.contains("… and 149 more: see CIS scans in the Inspector console."));
}
