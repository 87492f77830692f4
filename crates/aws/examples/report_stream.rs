//! Figures for reading an Inspector v2 findings report as a stream: writes a synthetic
//! `{"findings": [...]}` report of N findings to a temporary file, then reads it the way
//! collect-findings reads the S3 object (64 KiB chunks through the scanner, findings mapped and
//! dropped page by page) and prints size, time, throughput and peak memory (VmHWM).
//!
//! Run: `cargo run --release -p scanflow-aws --example report_stream -- 200000`

use std::io::{BufWriter, Read, Write};
use std::time::Instant;

use scanflow_aws::error::Scope;
use scanflow_aws::inspector2::{REPORT_PAGE, report_finding};
use scanflow_core::report_stream::{Resume, Scanner};

const CHUNK: usize = 64 * 1024;

fn finding(i: usize) -> String {
    let severity = ["CRITICAL", "HIGH", "MEDIUM", "LOW"][i % 4];
    serde_json::json!({
        "findingArn": format!("arn:aws:inspector2:eu-west-1:111122223333:finding/{i:032x}"),
        "awsAccountId": "111122223333", "type": "PACKAGE_VULNERABILITY",
        "title": format!("CVE-2024-{i} - openssl"),
        "description": "A flaw in the handling of certificates allows a remote attacker to cause a denial of service.",
        "remediation": {"recommendation": {"text": "Upgrade openssl to 3.0.13 or later", "Url": "https://example.invalid/advisory"}},
        "severity": severity, "status": "ACTIVE",
        "firstObservedAt": "2026-11-01T00:00:00Z", "lastObservedAt": "2026-11-27T00:00:00Z",
        "resources": [{"type": "AWS_EC2_INSTANCE", "id": format!("i-{:017x}", i % 5000),
            "partition": "aws", "region": "eu-west-1", "tags": {"Patch": "Scan", "Team": "payments"},
            "details": {"awsEc2Instance": {"imageId": "ami-0abc", "platform": "AMAZON_LINUX_2"}}}],
        "packageVulnerabilityDetails": {"vulnerabilityId": format!("CVE-2024-{i}"), "source": "NVD",
            "vulnerablePackages": [{"name": "openssl", "version": "3.0.1", "fixedInVersion": "3.0.13"}]},
        "fixAvailable": "YES", "inspectorScore": 7.5
    })
    .to_string()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let path = std::env::temp_dir().join(format!("scanflow-report-{}.json", std::process::id()));
    {
        let mut out = BufWriter::new(std::fs::File::create(&path)?);
        out.write_all(b"{\"reportId\":\"r-1\",\"findings\":[")?;
        for i in 0..count {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(finding(i).as_bytes())?;
        }
        out.write_all(b"]}")?;
    }
    let size = std::fs::metadata(&path)?.len();
    let before = peak_rss_kib();

    let scope = Scope::new("111122223333", "eu-west-1");
    let started = Instant::now();
    let mut file = std::fs::File::open(&path)?;
    let mut scanner = Scanner::new(Resume::START);
    let mut chunk = vec![0u8; CHUNK];
    let (mut page, mut total, mut pages) = (Vec::with_capacity(REPORT_PAGE), 0usize, 0usize);
    let mut error = None;
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        scanner.feed(&chunk[..n], |bytes, _| {
            match report_finding(bytes, &scope) {
                Ok(f) => {
                    page.push(f);
                    if page.len() == REPORT_PAGE {
                        total += page.len();
                        pages += 1;
                        page.clear();
                    }
                    true
                }
                Err(e) => {
                    error = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = error.take() {
            return Err(e.into());
        }
    }
    scanner.finish()?;
    total += page.len();
    pages += usize::from(!page.is_empty());
    let elapsed = started.elapsed();
    std::fs::remove_file(&path)?;

    let mib = size as f64 / (1024.0 * 1024.0);
    println!("report: {count} findings, {mib:.1} MiB");
    println!(
        "read: {total} findings in {pages} pages of {REPORT_PAGE}, {:.2} s, {:.0} MiB/s, {:.0} findings/s",
        elapsed.as_secs_f64(),
        mib / elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "peak RSS: {:.1} MiB before reading, {:.1} MiB after (the report is {mib:.1} MiB)",
        before as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0
    );
    if total != count {
        return Err(format!("read {total} findings, wrote {count}").into());
    }
    Ok(())
}
