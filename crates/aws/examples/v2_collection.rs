//! Figures for the two ways of reading Inspector v2 findings, measured through the real adapter
//! (`Inspector2::findings_page`) and the real SDK stack against a local HTTP peer that answers
//! as the services do:
//!
//! * `list`: `ListFindings` pages of 100 (the API's maximum) in the scanned Region;
//! * `report`: a JSON findings report of the same findings in a bucket, found with
//!   `ListObjectsV2` and streamed with one `GetObject` (what `CreateFindingsReport` leaves).
//!
//! Each run prints the calls the adapter made, wall and CPU time, findings per CPU second and
//! the process's peak resident set (VmHWM). Run one method per process, so the peaks do not mix:
//!
//! ```sh
//! cargo run --release -p scanflow-aws --example v2_collection -- list 100000
//! cargo run --release -p scanflow-aws --example v2_collection -- report 100000
//! ```
//!
//! The peer's own cost (generating pages, reading the report file) is in the same process and
//! included in the figures; it is small next to the SDK's parsing. Service-side time (how long
//! AWS takes to answer a page, or to write a report) is not measured here: see the README.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use scanflow_aws::error::Scope;
use scanflow_aws::inspector2::ReportDestination;
use scanflow_aws::inspector2::{Inspector2, LIST_FINDINGS_MAX};
use scanflow_core::model::Engine;
use scanflow_core::state::Run;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
const BUCKET: &str = "hub-reports";
const REPORT_ID: &str = "8a7c9f2e-0000-4000-8000-000000000001";

/// One finding in the API's shape. `epoch`: timestamps as REST-JSON sends them (epoch
/// seconds); otherwise as strings, as a JSON report may write them.
fn finding(i: usize, epoch: bool) -> serde_json::Value {
    let severity = ["CRITICAL", "HIGH", "MEDIUM", "LOW"][i % 4];
    let (first, last) = if epoch {
        (
            serde_json::json!(1_761_955_200),
            serde_json::json!(1_764_201_600),
        )
    } else {
        (
            serde_json::json!("2026-11-01T00:00:00Z"),
            serde_json::json!("2026-11-27T00:00:00Z"),
        )
    };
    serde_json::json!({
        "findingArn": format!("arn:aws:inspector2:{REGION}:{ACCOUNT}:finding/{i:032x}"),
        "awsAccountId": ACCOUNT, "type": "PACKAGE_VULNERABILITY",
        "title": format!("CVE-2024-{i} - openssl"),
        "description": "A flaw in the handling of certificates allows a remote attacker to cause a denial of service.",
        "remediation": {"recommendation": {"text": "Upgrade openssl to 3.0.13 or later", "Url": "https://example.invalid/advisory"}},
        "severity": severity, "status": "ACTIVE",
        "firstObservedAt": first, "lastObservedAt": last,
        "resources": [{"type": "AWS_EC2_INSTANCE", "id": format!("i-{:017x}", i % 5000),
            "partition": "aws", "region": REGION, "tags": {"Patch": "Scan", "Team": "payments"},
            "details": {"awsEc2Instance": {"imageId": "ami-0abc", "platform": "AMAZON_LINUX_2"}}}],
        "packageVulnerabilityDetails": {"vulnerabilityId": format!("CVE-2024-{i}"), "source": "NVD",
            "vulnerablePackages": [{"name": "openssl", "version": "3.0.1", "fixedInVersion": "3.0.13"}]},
        "fixAvailable": "YES", "inspectorScore": 7.5
    })
}

/// What the peer serves and what it was asked.
struct Peer {
    count: usize,
    report: std::path::PathBuf,
    report_key: String,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    /// Time spent building `ListFindings` bodies: the peer's work, taken out of the figures
    /// (a report is written before the clock starts).
    building: Mutex<std::time::Duration>,
}

impl Peer {
    fn count(&self, op: &'static str) {
        *self
            .calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(op)
            .or_default() += 1;
    }

    fn serve(self: Arc<Self>, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut out = BufWriter::new(stream);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let target = parts.next().unwrap_or_default().to_owned();
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header)?;
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            match (method.as_str(), target.as_str()) {
                ("POST", "/findings/list") => {
                    self.count("inspector2:ListFindings");
                    let building = Instant::now();
                    let request: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    let start: usize = request["nextToken"]
                        .as_str()
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    let max = request["maxResults"].as_u64().unwrap_or(10) as usize;
                    let end = (start + max).min(self.count);
                    let findings: Vec<_> = (start..end).map(|i| finding(i, true)).collect();
                    let mut page = serde_json::json!({ "findings": findings });
                    if end < self.count {
                        page["nextToken"] = serde_json::json!(end.to_string());
                    }
                    let body = page.to_string();
                    *self
                        .building
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) += building.elapsed();
                    respond(&mut out, "application/json", body.as_bytes())?;
                }
                // Path-style: `GET /bucket/?list-type=2&prefix=...` lists, `GET /bucket/key` reads.
                ("GET", t) if t.starts_with(&format!("/{BUCKET}")) && t.contains("list-type=2") => {
                    self.count("s3:ListObjectsV2");
                    let size = std::fs::metadata(&self.report)?.len();
                    let xml = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>{BUCKET}</Name>\
                         <KeyCount>1</KeyCount><IsTruncated>false</IsTruncated><Contents><Key>{}</Key>\
                         <Size>{size}</Size></Contents></ListBucketResult>",
                        self.report_key
                    );
                    respond(&mut out, "application/xml", xml.as_bytes())?;
                }
                ("GET", t) if t.starts_with(&format!("/{BUCKET}/")) => {
                    self.count("s3:GetObject");
                    let mut file = std::fs::File::open(&self.report)?;
                    let size = file.metadata()?.len();
                    write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
                    )?;
                    std::io::copy(&mut file, &mut out)?;
                    out.flush()?;
                }
                _ => respond(&mut out, "text/plain", b"not modelled")?,
            }
        }
    }
}

fn respond(out: &mut impl Write, content_type: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    out.write_all(body)?;
    out.flush()
}

/// From `/proc/self/status` (kB).
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

/// User + system CPU seconds of this process (`/proc/self/stat`, clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

fn run(run_id: &str) -> Run {
    Run {
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        engine: Engine::Inspector2,
        run_id: run_id.into(),
        tag: None,
        duration_seconds: 0,
        started_at: "2026-12-01T00:00:00Z".into(),
        deadline: "2026-12-01T01:00:00Z".into(),
        wait_seconds: 0,
        rerun: false,
        execution: "bench".into(),
        adopted: false,
        scheduled_at: None,
        sla_days: None,
        v2_readiness: None,
        cis: None,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let method = args.next().unwrap_or_else(|| "list".into());
    let count: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    if method != "list" && method != "report" {
        return Err(format!("method {method:?}: expected list or report").into());
    }

    let report = std::env::temp_dir().join(format!("scanflow-v2-{}.json", std::process::id()));
    if method == "report" {
        let mut out = BufWriter::new(std::fs::File::create(&report)?);
        out.write_all(b"{\"findings\":[")?;
        for i in 0..count {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut out, &finding(i, false))?;
        }
        out.write_all(b"]}")?;
        out.flush()?;
    }
    let peer = Arc::new(Peer {
        count,
        report: report.clone(),
        report_key: format!("inspector2-reports/{ACCOUNT}/{REGION}/{REPORT_ID}.json"),
        calls: Mutex::default(),
        building: Mutex::default(),
    });
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let serving = peer.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let peer = serving.clone();
            std::thread::spawn(move || peer.serve(stream));
        }
    });

    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&url)
        .credentials_provider(Credentials::new("AKIDBENCH", "secret", None, None, "bench"))
        .load()
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let scope = Scope::new(ACCOUNT, REGION);
    let inspector = Inspector2::new(
        aws_sdk_inspector2::Client::new(&sdk),
        s3,
        scope.clone(),
        ReportDestination {
            hub: scope,
            bucket: BUCKET.into(),
            kms_key_arn: format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/k"),
        },
        false,
    );
    let run = run(if method == "list" {
        "scanflow-bench"
    } else {
        REPORT_ID
    });

    let before = peak_rss_kib();
    let (cpu0, started) = (cpu_seconds(), Instant::now());
    let (mut total, mut pages, mut largest, mut cursor) = (0usize, 0usize, 0usize, None);
    loop {
        let page = inspector.findings_page(&run, cursor).await?;
        total += page.findings.len();
        largest = largest.max(page.findings.len());
        pages += 1;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let peer_secs = peer
        .building
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .as_secs_f64();
    // The peer's page building is CPU-bound: its wall time is its CPU time.
    let wall = started.elapsed().as_secs_f64() - peer_secs;
    let cpu = cpu_seconds() - cpu0 - peer_secs;
    let _ = std::fs::remove_file(&report);
    if total != count {
        return Err(format!("read {total} findings, served {count}").into());
    }

    let calls = peer
        .calls
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let all: u64 = calls.values().sum();
    println!("method: {method}, {count} findings in {pages} pages (largest {largest})");
    println!("calls: {all} {calls:?}");
    if method == "list" {
        println!(
            "ListFindings pages of {LIST_FINDINGS_MAX}: at an assumed 10 calls a second (the \
             sandbox's quota model), {:.0} s of quota",
            all as f64 / 10.0
        );
    }
    println!(
        "time: {wall:.2} s wall, {cpu:.2} s CPU, {:.0} findings per CPU second (the peer's \
         {peer_secs:.2} s building pages left out)",
        total as f64 / cpu.max(1e-9)
    );
    println!(
        "peak RSS: {:.1} MiB before reading, {:.1} MiB after",
        before as f64 / 1024.0,
        peak_rss_kib() as f64 / 1024.0
    );
    Ok(())
}
