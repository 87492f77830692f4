//! Inspector v2: findings reports that stay IN_PROGRESS for a while and are then written into the
//! local S3 folder as `{"findings": [...]}` in the API's `Finding` shape, streamed back a page
//! of 1,000 at a time and normalized; coverage as `ListCoverage` reports it.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use scanflow_core::ScanError;
use scanflow_core::model::{AccountSettings, Coverage, Engine, Finding, Severity, Tag, Uncovered};
use scanflow_core::ports::{FindingsPage, RunStatus, Started};
use scanflow_core::report_stream::{Resume, Scanner};
use scanflow_core::state::Run;

use crate::generate::{InstanceFacts, Vuln, instance_facts};
use crate::member::Member;
use crate::scenario::ReportOutcome;
use crate::{Shared, ids, lock, security_hub};

/// Findings per `findings_page` call when reading a report.
pub(crate) const REPORT_PAGE: usize = 1000;
/// `ListCoverage` returns at most 200 resources a page.
const COVERAGE_PAGE: usize = 200;

/// Where a findings report lands in the bucket (the adapter's `keyPrefix` plus `<id>.json`).
pub fn report_key(account_id: &str, region: &str, report_id: &str) -> String {
    format!("inspector2-reports/{account_id}/{region}/{report_id}.json")
}

#[derive(Default)]
pub(crate) struct Reports {
    reports: Vec<Report>,
}

#[derive(Debug, Clone)]
struct Report {
    id: String,
    account_index: usize,
    ready_at: OffsetDateTime,
    outcome: ReportOutcome,
    /// Managed instances matching the tag: what the report covers.
    scanned: Vec<usize>,
    result: Option<ReportResult>,
    /// Which scan of the account this is (1-based): what the scenario's churn shows.
    scan: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportResult {
    Written,
    NoFindings,
    Failed,
}

fn in_scope(m: &Member, account_index: usize, tag: Option<&Tag>) -> Vec<usize> {
    m.shared
        .account(account_index)
        .map(|a| {
            a.instances
                .iter()
                .enumerate()
                .filter(|(_, i)| i.matches(tag))
                .map(|(n, _)| n)
                .collect()
        })
        .unwrap_or_default()
}

fn pages(items: usize, page: usize) -> u64 {
    items.div_ceil(page).max(1) as u64
}

/// `ListCoverage` (filtered by account and tag) + `CreateFindingsReport`.
pub(crate) fn start(
    m: &Member,
    settings: &AccountSettings,
    name: &str,
) -> Result<Started, ScanError> {
    let shared = &m.shared;
    let account = m.index.and_then(|i| shared.account(i).map(|a| (i, a)));
    let Some((account_index, account)) = account.filter(|(_, a)| a.inspector_enabled) else {
        // ListCoverage is the first call; it is what fails when Inspector is off.
        shared.count("inspector2:ListCoverage", 1);
        return Err(ScanError::InspectorDisabled {
            account_id: m.account_id.clone(),
            region: m.region.clone(),
            engine: Engine::Inspector2.to_string(),
            detail: "AccessDeniedException: Amazon Inspector is not enabled for this account \
                     in this Region"
                .into(),
        });
    };
    let scope = in_scope(m, account_index, settings.tag.as_ref());
    let n = pages(scope.len(), COVERAGE_PAGE);
    shared.admit_n("inspector2:ListCoverage", &m.account_id, &m.region, n)?;
    shared.count("inspector2:ListCoverage", n);
    if scope.is_empty() {
        return Err(ScanError::NoInstancesMatched {
            account_id: m.account_id.clone(),
            region: m.region.clone(),
            target: settings
                .tag
                .as_ref()
                .map_or_else(|| "any EC2 instance".to_owned(), ToString::to_string),
        });
    }
    shared.admit("inspector2:CreateFindingsReport", &m.account_id, &m.region)?;
    shared.count("inspector2:CreateFindingsReport", 1);
    let now = shared.now();
    let mut reports = lock(&shared.inspector2);
    let seq = reports.reports.len().to_string();
    let scan = 1 + reports
        .reports
        .iter()
        .filter(|r| r.account_index == account_index)
        .count() as u32;
    let id = ids::uuid(&["report", &m.account_id, &m.region, name, &seq]);
    reports.reports.push(Report {
        id: id.clone(),
        account_index,
        // Saturating: near the end of representable time the report is simply never ready.
        ready_at: now.saturating_add(time::Duration::seconds(i64::from(
            account.inspector2.report_seconds,
        ))),
        outcome: account.inspector2.outcome,
        scanned: scope
            .into_iter()
            .filter(|&n| account.instances[n].managed_at(scan))
            .collect(),
        result: None,
        scan,
    });
    tracing::info!(report_id = %id, account_id = %m.account_id, region = %m.region, "findings report requested");
    Ok(Started {
        run_id: id,
        adopted: false,
    })
}

/// The report's outcome once its time has come, writing the report object on first success.
fn settle(m: &Member, report_id: &str) -> Result<Option<ReportResult>, ScanError> {
    let shared = &m.shared;
    let now = shared.now();
    let report = lock(&shared.inspector2)
        .reports
        .iter()
        .find(|r| r.id == report_id)
        .cloned();
    let Some(report) = report else {
        // A report written by an earlier sandbox is still in the bucket.
        let key = report_key(&m.account_id, &m.region, report_id);
        return if shared.s3_root.join(&key).is_file() {
            Ok(Some(ReportResult::Written))
        } else {
            Err(ScanError::NotFound {
                account_id: m.account_id.clone(),
                region: m.region.clone(),
                what: format!("findings report {report_id}"),
                detail: "ResourceNotFoundException: no such report".into(),
            })
        };
    };
    if let Some(result) = report.result {
        return Ok(Some(result));
    }
    if now < report.ready_at {
        return Ok(None);
    }
    let result = match report.outcome {
        ReportOutcome::Fails => ReportResult::Failed,
        ReportOutcome::Succeeds => {
            let written = write_report(shared, m, &report)?;
            if written == 0 {
                ReportResult::NoFindings
            } else {
                ReportResult::Written
            }
        }
    };
    if let Some(r) = lock(&shared.inspector2)
        .reports
        .iter_mut()
        .find(|r| r.id == report_id)
    {
        r.result = Some(result);
    }
    Ok(Some(result))
}

/// `GetFindingsReportStatus`. The API answers FAILED + `NO_FINDINGS_FOUND` for a clean filter;
/// the adapter reports that as success with state `NO_FINDINGS_FOUND`.
pub(crate) fn status(m: &Member, run: &Run) -> Result<RunStatus, ScanError> {
    m.shared.admit(
        "inspector2:GetFindingsReportStatus",
        &m.account_id,
        &m.region,
    )?;
    m.shared.count("inspector2:GetFindingsReportStatus", 1);
    Ok(match settle(m, &run.run_id)? {
        None => RunStatus::Running {
            state: "IN_PROGRESS".into(),
        },
        Some(ReportResult::Written) => RunStatus::Succeeded {
            state: "SUCCEEDED".into(),
        },
        Some(ReportResult::NoFindings) => RunStatus::Succeeded {
            state: "NO_FINDINGS_FOUND".into(),
        },
        Some(ReportResult::Failed) => RunStatus::Failed {
            state: "FAILED".into(),
            detail: "errorCode INTERNAL_ERROR: the findings report could not be generated".into(),
        },
    })
}

/// Writes the report object, streaming one finding at a time; returns how many it holds.
fn write_report(shared: &Shared, m: &Member, report: &Report) -> Result<usize, ScanError> {
    let Some(account) = shared.account(report.account_index) else {
        return Ok(0);
    };
    let vulns = shared.vulns(report.account_index);
    let scanned: HashSet<usize> = report.scanned.iter().copied().collect();
    let chosen: Vec<&Vuln> = vulns
        .iter()
        .filter(|v| scanned.contains(&v.instance) && v.present_at(report.scan))
        .collect();
    if chosen.is_empty() {
        return Ok(0);
    }
    let key = report_key(&m.account_id, &m.region, &report.id);
    let path = shared.s3_root.join(&key);
    let io = |e: std::io::Error| ScanError::internal(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::File::create(&path).map_err(io)?;
    let mut out = BufWriter::new(file);
    out.write_all(b"{\"findings\":[").map_err(io)?;
    let mut facts: BTreeMap<usize, InstanceFacts> = BTreeMap::new();
    let mut arns = Vec::with_capacity(chosen.len());
    for (n, v) in chosen.iter().enumerate() {
        let inst = &account.instances[v.instance];
        let f = facts
            .entry(v.instance)
            .or_insert_with(|| instance_facts(&account.account_id, &account.region, inst));
        let finding = shape(
            &m.account_id,
            &m.region,
            v,
            &inst.id,
            &inst.tags,
            f,
            report.ready_at,
        );
        if n > 0 {
            out.write_all(b",").map_err(io)?;
        }
        serde_json::to_writer(&mut out, &finding).map_err(ScanError::internal)?;
        let vulnerability = finding
            .package_vulnerability_details
            .as_ref()
            .map(|p| p.vulnerability_id.clone());
        arns.push((finding.finding_arn, vulnerability));
    }
    out.write_all(b"]}").map_err(io)?;
    out.flush().map_err(io)?;
    // Inspector sends its findings to Security Hub by itself.
    security_hub::register_findings(
        shared,
        &m.account_id,
        arns.iter().map(|(arn, v)| (arn.clone(), v.as_deref())),
    );
    tracing::info!(key, findings = arns.len(), "findings report written");
    Ok(arns.len())
}

/// Reads the report object a page at a time with the scanner the AWS adapter uses
/// (`scanflow_core::report_stream`), from the byte offset the cursor names, so memory holds one
/// page whatever the report's size. Counted as the adapter calls: `s3:ListObjectsV2` to find
/// the object and one `s3:GetObject` it keeps open for every page of the invocation.
pub(crate) fn findings_page(
    m: &Member,
    run: &Run,
    cursor: Option<&str>,
) -> Result<FindingsPage, ScanError> {
    let shared = &m.shared;
    let resume = parse_report_cursor(cursor)?;
    if cursor.is_none() {
        shared.count("s3:ListObjectsV2", 1);
    }
    let key = report_key(&m.account_id, &m.region, &run.run_id);
    match settle(m, &run.run_id)? {
        Some(ReportResult::Written) => {}
        Some(ReportResult::NoFindings) => return Ok(FindingsPage::default()),
        Some(ReportResult::Failed) | None => {
            return Err(ScanError::NotFound {
                account_id: shared.scenario.hub.account_id.clone(),
                region: shared.scenario.hub.region.clone(),
                what: format!("S3 object {key}"),
                detail: format!(
                    "NoSuchKey: findings report {} has not written its object",
                    run.run_id
                ),
            });
        }
    }
    if cursor.is_none() {
        shared.count("s3:GetObject", 1);
    }
    let path = shared.s3_root.join(&key);
    let io = |e: std::io::Error| ScanError::internal(format!("reading {}: {e}", path.display()));
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let length = file.metadata().map_err(io)?.len();
    if resume.offset > length {
        return Err(ScanError::invalid(
            "cursor",
            "the cursor the previous page returned",
            format!("points past the {length} bytes of the report"),
        ));
    }
    file.seek(SeekFrom::Start(resume.offset)).map_err(io)?;
    let mut scanner = Scanner::new(resume);
    let mut findings = Vec::with_capacity(REPORT_PAGE);
    let mut last = resume;
    let mut problem = None;
    let mut buffer = vec![0u8; 64 * 1024];
    while findings.len() < REPORT_PAGE && !scanner.is_done() {
        let read = file.read(&mut buffer).map_err(io)?;
        if read == 0 {
            break;
        }
        scanner
            .feed(&buffer[..read], |raw, after| {
                match serde_json::from_slice::<Inspector2Finding>(raw)
                    .map_err(|e| e.to_string())
                    .and_then(|f| normalize(&f).map_err(|e| e.to_string()))
                {
                    Ok(f) => findings.push(f),
                    Err(e) => {
                        problem = Some(format!("a finding ending at byte {}: {e}", after.offset));
                        return false;
                    }
                }
                last = after;
                findings.len() < REPORT_PAGE
            })
            .map_err(|e| report_error(&e.to_string()))?;
        if let Some(problem) = problem.take() {
            return Err(report_error(&problem));
        }
    }
    let full = findings.len() >= REPORT_PAGE;
    if !full {
        scanner.finish().map_err(|e| report_error(&e.to_string()))?;
    }
    Ok(FindingsPage {
        findings,
        next: full.then(|| format!("{}:{}", last.offset, if last.in_array { "a" } else { "l" })),
    })
}

fn report_error(problem: &str) -> ScanError {
    ScanError::invalid(
        "findings",
        "an Inspector v2 findings report ({\"findings\": [Finding, ...]})",
        format!("does not parse: {problem}"),
    )
}

/// The cursor [`findings_page`] returns: `<byte offset>:<a|l>` (in the array, or JSON lines).
fn parse_report_cursor(cursor: Option<&str>) -> Result<Resume, ScanError> {
    let Some(text) = cursor else {
        return Ok(Resume::START);
    };
    let parsed = text.split_once(':').and_then(|(offset, mode)| {
        let in_array = match mode {
            "a" => true,
            "l" => false,
            _ => return None,
        };
        Some(Resume {
            offset: offset.parse().ok()?,
            in_array,
        })
    });
    parsed.ok_or_else(|| {
        ScanError::invalid(
            "cursor",
            "the token the previous page returned",
            format!(
                "is {}, which this API did not issue",
                scanflow_core::error::quote(text)
            ),
        )
    })
}

/// `ListCoverage` filtered by the run's tag: managed instances are scanned, the others not.
pub(crate) fn coverage(m: &Member, run: &Run) -> Result<Coverage, ScanError> {
    let shared = &m.shared;
    let Some(index) = m.index else {
        shared.count("inspector2:ListCoverage", 1);
        return Ok(Coverage::default());
    };
    let scope = in_scope(m, index, run.tag.as_ref());
    let n = pages(scope.len(), COVERAGE_PAGE);
    shared.admit_n("inspector2:ListCoverage", &m.account_id, &m.region, n)?;
    shared.count("inspector2:ListCoverage", n);
    let mut cov = Coverage::default();
    let Some(account) = shared.account(index) else {
        return Ok(cov);
    };
    // A report written by an earlier sandbox is taken to be its first scan.
    let scan = lock(&shared.inspector2)
        .reports
        .iter()
        .find(|r| r.id == run.run_id)
        .map_or(1, |r| r.scan);
    for n in scope {
        let inst = &account.instances[n];
        if inst.managed_at(scan) {
            cov.scanned.push(inst.id.clone());
        } else {
            cov.not_scanned.push(Uncovered {
                instance_id: inst.id.clone(),
                reason: "UNMANAGED_EC2_INSTANCE".into(),
                remedy: format!(
                    "Make the instance {} an SSM managed instance (SSM Agent running and an \
                     instance profile with AmazonSSMManagedInstanceCore, or Default Host \
                     Management Configuration), or switch Inspector to hybrid scanning so it \
                     is scanned agentless",
                    inst.id
                ),
            });
        }
    }
    Ok(cov)
}

/// A `Finding` as Inspector v2 returns it (aws-facts §2.5); only package vulnerabilities of EC2
/// instances are simulated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspector2Finding {
    pub finding_arn: String,
    pub aws_account_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub title: Option<String>,
    pub description: String,
    pub remediation: Remediation,
    pub severity: String,
    pub status: String,
    pub first_observed_at: String,
    pub last_observed_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub inspector_score: Option<f64>,
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub package_vulnerability_details: Option<PackageVulnerabilityDetails>,
    #[serde(default)]
    pub fix_available: Option<String>,
    #[serde(default)]
    pub exploit_available: Option<String>,
    #[serde(default)]
    pub epss: Option<Epss>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remediation {
    #[serde(default)]
    pub recommendation: Option<Recommendation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    #[serde(default)]
    pub text: Option<String>,
    /// The API spells this member `Url`.
    #[serde(rename = "Url", default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub details: Option<ResourceDetails>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDetails {
    #[serde(default)]
    pub aws_ec2_instance: Option<Ec2Details>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ec2Details {
    #[serde(rename = "type", default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub image_id: Option<String>,
    #[serde(default)]
    pub ip_v4_addresses: Vec<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub subnet_id: Option<String>,
    #[serde(default)]
    pub launched_at: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageVulnerabilityDetails {
    pub vulnerability_id: String,
    #[serde(default)]
    pub vulnerable_packages: Vec<VulnerablePackage>,
    pub source: String,
    #[serde(default)]
    pub cvss: Vec<Cvss>,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub vendor_severity: Option<String>,
    #[serde(default)]
    pub reference_urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerablePackage {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub package_manager: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cvss {
    pub base_score: f64,
    pub scoring_vector: String,
    pub version: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    pub score: f64,
}

fn shape(
    account_id: &str,
    region: &str,
    v: &Vuln,
    instance_id: &str,
    tags: &BTreeMap<String, String>,
    facts: &InstanceFacts,
    observed: OffsetDateTime,
) -> Inspector2Finding {
    let arn_id = ids::hex_id(&[account_id, region, instance_id, &v.cve, &v.package], 32);
    // Saturating, so a clock near the start of representable time cannot panic.
    let first = observed.saturating_sub(time::Duration::days(i64::from(v.first_seen_days_ago)));
    let last = observed.saturating_sub(time::Duration::minutes(17));
    let fix = match (&v.fixed_in, v.partial_fix) {
        (None, _) => "NO",
        (Some(_), true) => "PARTIAL",
        (Some(_), false) => "YES",
    };
    let recommendation = match &v.fixed_in {
        Some(fixed) => format!("Upgrade {} to version {fixed} or later.", v.package),
        None => "None Provided".to_owned(),
    };
    Inspector2Finding {
        finding_arn: format!("arn:aws:inspector2:{region}:{account_id}:finding/{arn_id}"),
        aws_account_id: account_id.to_owned(),
        kind: "PACKAGE_VULNERABILITY".into(),
        title: Some(
            v.title
                .clone()
                .unwrap_or_else(|| format!("{} - {}", v.cve, v.package)),
        ),
        description: v.description(),
        remediation: Remediation {
            recommendation: Some(Recommendation {
                text: Some(recommendation),
                url: None,
            }),
        },
        severity: v.severity.as_str().to_owned(),
        status: "ACTIVE".into(),
        first_observed_at: crate::iso_millis(first),
        last_observed_at: crate::iso_millis(last),
        updated_at: Some(crate::iso_millis(last)),
        inspector_score: v.score,
        resources: vec![Resource {
            kind: "AWS_EC2_INSTANCE".into(),
            id: instance_id.to_owned(),
            partition: Some("aws".into()),
            region: Some(region.to_owned()),
            tags: tags.clone(),
            details: Some(ResourceDetails {
                aws_ec2_instance: Some(Ec2Details {
                    instance_type: Some(facts.instance_type.to_owned()),
                    image_id: Some(facts.ami_id.clone()),
                    ip_v4_addresses: vec![facts.private_ip.clone()],
                    vpc_id: Some(facts.vpc_id.clone()),
                    subnet_id: Some(facts.subnet_id.clone()),
                    launched_at: Some(crate::iso_millis(
                        observed.saturating_sub(time::Duration::days(i64::from(
                            facts.launched_days_ago,
                        ))),
                    )),
                    platform: Some(facts.platform.name().to_owned()),
                }),
            }),
        }],
        package_vulnerability_details: Some(PackageVulnerabilityDetails {
            vulnerability_id: v.cve.clone(),
            vulnerable_packages: vec![VulnerablePackage {
                name: v.package.clone(),
                version: v.version.clone(),
                arch: Some(facts.platform.arch().to_owned()),
                package_manager: Some("OS".into()),
                fixed_in_version: v.fixed_in.clone(),
                remediation: v
                    .fixed_in
                    .as_ref()
                    .map(|f| facts.platform.update_command(&v.package, f)),
            }],
            source: "NVD".into(),
            cvss: match (v.cvss_vector, v.score) {
                (Some(vector), Some(score)) => vec![Cvss {
                    base_score: score,
                    scoring_vector: vector.to_owned(),
                    version: "3.1".into(),
                    source: "NVD".into(),
                }],
                _ => Vec::new(),
            },
            source_url: Some(format!("https://nvd.nist.gov/vuln/detail/{}", v.cve)),
            vendor_severity: Some(match v.severity {
                Severity::Untriaged => "N/A".to_owned(),
                s => s.as_str().to_owned(),
            }),
            reference_urls: vec![format!("https://www.cve.org/CVERecord?id={}", v.cve)],
        }),
        fix_available: Some(fix.into()),
        exploit_available: Some(if v.exploit_available { "YES" } else { "NO" }.into()),
        epss: Some(Epss { score: v.epss }),
    }
}

/// Maps an Inspector v2 `Finding` into scanflow's normalized [`Finding`]. `fixAvailable`
/// PARTIAL counts as a fix being available (for at least one of the packages).
pub fn normalize(f: &Inspector2Finding) -> Result<Finding, ScanError> {
    let region = f
        .finding_arn
        .split(':')
        .nth(3)
        .filter(|r| f.finding_arn.starts_with("arn:") && !r.is_empty())
        .ok_or_else(|| {
            ScanError::invalid(
                "findingArn",
                "arn:aws:inspector2:<region>:<account>:finding/<id>",
                format!("is {}", scanflow_core::error::quote(&f.finding_arn)),
            )
        })?;
    let resource = f.resources.iter().find(|r| r.kind == "AWS_EC2_INSTANCE");
    Ok(Finding {
        id: f.finding_arn.clone(),
        engine: Engine::Inspector2,
        account_id: f.aws_account_id.clone(),
        region: region.to_owned(),
        severity: Severity::from_label(&f.severity),
        title: f.title.clone().unwrap_or_default(),
        instance_id: resource.map(|r| r.id.clone()),
        instance_tags: resource.map(|r| r.tags.clone()).unwrap_or_default(),
        vulnerability_id: f
            .package_vulnerability_details
            .as_ref()
            .map(|p| p.vulnerability_id.clone()),
        description: f.description.clone(),
        recommendation: f
            .remediation
            .recommendation
            .as_ref()
            .and_then(|r| r.text.clone())
            .unwrap_or_default(),
        fix_available: match f.fix_available.as_deref() {
            Some("YES" | "PARTIAL") => Some(true),
            Some("NO") => Some(false),
            _ => None,
        },
        score: f.inspector_score,
        first_seen: Some(f.first_observed_at.clone()),
        last_seen: Some(f.last_observed_at.clone()),
        rules_package_arn: None,
    })
}
