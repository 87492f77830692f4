//! Amazon Inspector (v2) in one member account and Region. v2 scans continuously, so a "run" is
//! a reading of the findings as they stand: start-run checks coverage (and, in delegated-admin
//! mode, that the account is a member of the hub's Inspector organisation) and names the run
//! after the execution; check-status has nothing to wait for; collect-findings pages through
//! `ListFindings` (the account's ACTIVE EC2 findings, optionally by tag) in the scanned Region,
//! so one hub serves every Region (a findings report would have to land in a bucket in the
//! scanned Region: `INCOMPATIBLE_BUCKET_REGION`). Coverage comes from `ListCoverage`.
//!
//! Runs recorded before this change are findings reports (their id is the report's UUID): a
//! rerun of one still reads its report object from the hub bucket.
//!
//! Tags: findings filters have no `ec2InstanceTags`, so reports and `ListFindings` filter on
//! `resourceTags`; coverage filters on `ec2InstanceTags`.
//!
//! A run whose settings ask for CIS also has a one-time CIS scan ([`cis`]): check-status
//! follows it, coverage says how it went, and its failed checks follow the vulnerability
//! findings.

mod cis;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_inspector2::Client;
use aws_sdk_inspector2::error::ProvideErrorMetadata;
use aws_sdk_inspector2::types::{
    CoverageFilterCriteria, CoverageMapComparison, CoverageMapFilter, CoverageStringComparison,
    CoverageStringFilter, ExternalReportStatus, FilterCriteria, MapComparison, MapFilter,
    RelationshipStatus, ReportingErrorCode, ScanStatusCode, StringComparison, StringFilter,
};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use scanflow_core::ScanError;
use scanflow_core::model::{
    AccountSettings, Coverage, Cvss, Engine, Finding, FindingDetail, FindingKind, InstanceFacts,
    NetworkPath, PathStep, Severity, Tag, Uncovered, VulnerablePackage,
};
use scanflow_core::ports::{FindingsPage, RunStatus, Started};
use scanflow_core::state::Run;
use serde::Deserialize;

use crate::error::{Call, Scope};
use scanflow_core::report_stream::{Resume, Scanner};

/// The state a listing run reports: v2 scans continuously, there is no run to wait for.
pub const CONTINUOUS: &str = "CONTINUOUS";

/// Findings per page read from a report object.
pub const REPORT_PAGE: usize = 1000;
/// `ListFindings` page size (the service maximum).
pub const LIST_FINDINGS_MAX: i32 = 100;
/// `ListCoverage` page size (the service maximum).
pub const LIST_COVERAGE_MAX: i32 = 200;
const EC2: &str = "AWS_EC2_INSTANCE";

/// Where Inspector v2 writes findings reports: the hub's bucket, encrypted with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDestination {
    /// The hub account and region, where the bucket is read with the hub's credentials.
    pub hub: Scope,
    pub bucket: String,
    pub kms_key_arn: String,
}

/// Inspector v2 through one member's scan role, and the hub bucket its reports land in.
#[derive(Debug, Clone)]
pub struct Inspector2 {
    client: Client,
    s3: aws_sdk_s3::Client,
    scope: Scope,
    reports: ReportDestination,
    /// The hub is the account's Inspector delegated administrator and `client` carries the
    /// hub's credentials: start-run checks the membership first.
    delegated_admin: bool,
    /// The report object being read, kept between pages: the next page continues the same
    /// GET instead of opening a new ranged one (each GET of a KMS-encrypted object is also a
    /// KMS decrypt). A member lives for one invocation, so the stream does too.
    open: Arc<Mutex<Option<OpenReport>>>,
    /// The CIS targets page last read, kept between findings pages: each page holds one
    /// failing instance's checks, so up to 100 pages in a row share one targets page.
    cis_targets: Arc<Mutex<Option<cis::TargetsPage>>>,
}

/// A report object's body still being read, the scanner where the last page stopped, and the
/// bytes S3 delivered after that point (the rest of the last chunk).
struct OpenReport {
    key: String,
    at: Resume,
    scanner: Scanner,
    body: aws_sdk_s3::primitives::ByteStream,
    rest: Vec<u8>,
}

impl std::fmt::Debug for OpenReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenReport")
            .field("key", &self.key)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// What scanning some bytes of the report gave.
enum Scanned {
    /// The page is full; this many bytes were used.
    Full(usize),
    /// Every byte was used and the page has room for more.
    More,
}

impl OpenReport {
    /// Scans `bytes` into `findings` until the page is full.
    fn scan(
        &mut self,
        bytes: &[u8],
        findings: &mut Vec<Finding>,
        scope: &Scope,
        location: &str,
    ) -> Result<Scanned, ScanError> {
        let mut parse_error = None;
        let at = &mut self.at;
        let used = self
            .scanner
            .feed(bytes, |raw, after| {
                match report_finding(raw, scope) {
                    Ok(f) => findings.push(f),
                    Err(e) => {
                        parse_error =
                            Some(format!("a finding ending at byte {} ({e})", after.offset));
                        return false;
                    }
                }
                *at = after;
                findings.len() < REPORT_PAGE
            })
            .map_err(|e| report_shape_error(location, &e.to_string()))?;
        if let Some(problem) = parse_error {
            return Err(report_shape_error(location, &problem));
        }
        Ok(if findings.len() >= REPORT_PAGE {
            Scanned::Full(used)
        } else {
            Scanned::More
        })
    }
}

/// Where the next findings page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    /// In the report object `key`.
    Report { key: String, resume: Resume },
    /// In `ListFindings`, at this `nextToken`.
    Api(String),
    /// In the failed checks of the run's CIS scan, after the vulnerability findings.
    Cis(cis::CisCursor),
}

impl Cursor {
    fn encode(&self) -> String {
        match self {
            Cursor::Report { key, resume } => format!(
                "report:{}:{}:{key}",
                resume.offset,
                if resume.in_array { "a" } else { "l" }
            ),
            Cursor::Api(token) => format!("api:{token}"),
            Cursor::Cis(at) => format!("cis:{}", at.encode()),
        }
    }

    fn decode(text: &str) -> Result<Self, ScanError> {
        let bad = || {
            ScanError::invalid(
                "cursor",
                "a cursor returned by the previous findings page",
                format!("is {}", scanflow_core::error::quote(text)),
            )
        };
        if let Some(token) = text.strip_prefix("api:") {
            return Ok(Cursor::Api(token.to_owned()));
        }
        if let Some(at) = text.strip_prefix("cis:") {
            return cis::CisCursor::decode(at).map(Cursor::Cis).ok_or_else(bad);
        }
        let rest = text.strip_prefix("report:").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, ':');
        let offset = parts.next().and_then(|o| o.parse().ok()).ok_or_else(bad)?;
        let in_array = match parts.next() {
            Some("a") => true,
            Some("l") => false,
            _ => return Err(bad()),
        };
        let key = parts.next().filter(|k| !k.is_empty()).ok_or_else(bad)?;
        Ok(Cursor::Report {
            key: key.to_owned(),
            resume: Resume { offset, in_array },
        })
    }
}

impl Inspector2 {
    /// `client` carries the member role's credentials, or the hub's when `delegated_admin`.
    pub fn new(
        client: Client,
        s3: aws_sdk_s3::Client,
        scope: Scope,
        reports: ReportDestination,
        delegated_admin: bool,
    ) -> Self {
        Self {
            client,
            s3,
            scope,
            reports,
            delegated_admin,
            open: Arc::default(),
            cis_targets: Arc::default(),
        }
    }

    /// Where this account's reports are written in the hub bucket.
    pub fn key_prefix(&self) -> String {
        format!(
            "inspector2-reports/{}/{}",
            self.scope.account_id, self.scope.region
        )
    }

    /// Checks the account can be read and something is in scope. Nothing is started: v2 scans
    /// continuously, so the run is named after the execution (`name`) and its findings are the
    /// ones `ListFindings` returns when collect-findings reads them.
    pub async fn start_scan(
        &self,
        settings: &AccountSettings,
        name: &str,
    ) -> Result<Started, ScanError> {
        if self.delegated_admin {
            self.ensure_member().await?;
        }
        self.ensure_coverage(settings.tag.as_ref()).await?;
        Ok(Started {
            run_id: name.to_owned(),
            adopted: false,
        })
    }

    /// Delegated-admin mode: the hub reads the account's findings with its own credentials, which
    /// works only while the account is an ENABLED member of the hub's Inspector organisation in
    /// this Region (the delegated administrator is Regional). Otherwise `ListFindings` would
    /// answer an empty list, and an empty list must never read as "0 findings".
    async fn ensure_member(&self) -> Result<(), ScanError> {
        let account = &self.scope.account_id;
        let call = self.scope.call(
            "inspector2:GetMember",
            format!("member {account} of the hub's Inspector organisation"),
        );
        let not_member = |detail: String| ScanError::NotFound {
            account_id: account.clone(),
            region: self.scope.region.clone(),
            what: "the account's membership of the hub's Inspector organisation".to_owned(),
            detail: format!(
                "{detail}. The hub reads v2 findings as the Inspector delegated administrator: \
                 designate it in this Region and associate the account, or set the hub's \
                 InspectorDelegatedAdmin parameter to false to read through the member role"
            ),
        };
        let out = match self.client.get_member().account_id(account).send().await {
            Ok(out) => out,
            Err(e) => {
                return Err(match self.error(&call, &e) {
                    ScanError::AccessDenied { detail, .. } | ScanError::NotFound { detail, .. } => {
                        not_member(detail)
                    }
                    other => other,
                });
            }
        };
        match out.member().and_then(|m| m.relationship_status()) {
            Some(RelationshipStatus::Enabled) => Ok(()),
            status => Err(not_member(format!(
                "GetMember answered relationship status {}",
                status.map_or("none", |s| s.as_str())
            ))),
        }
    }

    /// Fails with `NoInstancesMatched` when coverage lists no EC2 instance in scope.
    async fn ensure_coverage(&self, tag: Option<&Tag>) -> Result<(), ScanError> {
        let call = self
            .scope
            .call("inspector2:ListCoverage", "EC2 instances in scope");
        let filter = self.coverage_filter(tag)?;
        let mut token = None;
        loop {
            let out = self
                .client
                .list_coverage()
                .filter_criteria(filter.clone())
                .max_results(LIST_COVERAGE_MAX)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.error(&call, &e))?;
            if !out.covered_resources().is_empty() {
                return Ok(());
            }
            // Filtered listings may return empty pages before matching ones.
            token = crate::next_page(out.next_token());
            if token.is_none() {
                return Err(ScanError::NoInstancesMatched {
                    account_id: self.scope.account_id.clone(),
                    region: self.scope.region.clone(),
                    target: tag.map_or_else(|| "any EC2 instance".to_owned(), ToString::to_string),
                });
            }
        }
    }

    /// A listing run has nothing to wait for. A findings report (a run recorded before
    /// scanflow read with `ListFindings`) is followed; `NO_FINDINGS_FOUND` is a clean result.
    /// A run with a CIS scan is followed until the scan ends ([`scanflow_core::cis::run_status`]).
    pub async fn run_status(&self, run: &Run) -> Result<RunStatus, ScanError> {
        if let Some(cis) = run.cis_scan() {
            return self.cis_run_status(cis).await;
        }
        let run_id = run.run_id.as_str();
        if !scanflow_core::state::is_report_id(run_id) {
            return Ok(RunStatus::Succeeded {
                state: CONTINUOUS.to_owned(),
            });
        }
        let report_id = run_id;
        let call = self.scope.call(
            "inspector2:GetFindingsReportStatus",
            format!("report {report_id}"),
        );
        let out = self
            .client
            .get_findings_report_status()
            .report_id(report_id)
            .send()
            .await
            .map_err(|e| self.error(&call, &e))?;
        if out.error_code() == Some(&ReportingErrorCode::NoFindingsFound) {
            return Ok(RunStatus::Succeeded {
                state: ReportingErrorCode::NoFindingsFound.as_str().to_owned(),
            });
        }
        let status = out.status();
        let state = status.map_or("UNKNOWN", |s| s.as_str()).to_owned();
        Ok(match status {
            Some(ExternalReportStatus::Succeeded) => RunStatus::Succeeded { state },
            Some(ExternalReportStatus::Failed | ExternalReportStatus::Cancelled) => {
                RunStatus::Failed {
                    detail: report_failure(out.error_code(), out.error_message(), &self.reports),
                    state,
                }
            }
            _ => RunStatus::Running { state },
        })
    }

    /// One page of findings: `ListFindings` in the scanned Region; for a findings report (a
    /// run recorded before), its object in the hub bucket when there is one.
    pub async fn findings_page(
        &self,
        run: &Run,
        cursor: Option<String>,
    ) -> Result<FindingsPage, ScanError> {
        let cursor = match cursor {
            Some(text) => Cursor::decode(&text)?,
            None if !scanflow_core::state::is_report_id(&run.run_id) => Cursor::Api(String::new()),
            None => match self.report_key(&run.run_id).await? {
                Some(key) => Cursor::Report {
                    key,
                    resume: Resume::START,
                },
                None => {
                    tracing::info!(report = %run.run_id, "no report object; reading ListFindings");
                    Cursor::Api(String::new())
                }
            },
        };
        match cursor {
            Cursor::Report { key, resume } => self.report_page(&key, resume).await,
            Cursor::Api(token) => {
                let mut page = self.list_findings_page(run.tag.as_ref(), token).await?;
                if page.next.is_none() && run.cis_scan().is_some() {
                    page.next = Some(Cursor::Cis(cis::CisCursor::default()).encode());
                }
                Ok(page)
            }
            Cursor::Cis(at) => match run.cis_scan() {
                Some(cis) => self.cis_findings_page(cis, at).await,
                None => Err(ScanError::invalid(
                    "cursor",
                    "a cursor returned by the previous findings page",
                    format!(
                        "is a CIS cursor for run {}, which has no CIS scan",
                        scanflow_core::error::quote(&run.run_id)
                    ),
                )),
            },
        }
    }

    /// The report object's key: under the account's prefix, named after the report id.
    async fn report_key(&self, report_id: &str) -> Result<Option<String>, ScanError> {
        let prefix = self.key_prefix();
        let call = self.reports.hub.call(
            "s3:ListBucket",
            format!("s3://{}/{prefix}", self.reports.bucket),
        );
        let mut candidates = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&self.reports.bucket)
                .prefix(&prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| call.error(&e))?;
            candidates.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| k.contains(report_id))
                    .map(str::to_owned),
            );
            token = crate::next_page(out.next_continuation_token());
            if token.is_none() {
                break;
            }
        }
        candidates.sort_by_key(|k| !k.ends_with(".json"));
        Ok(candidates.into_iter().next())
    }

    /// Opens the report object at `resume` (a ranged GET past the start).
    async fn open_report(&self, key: &str, resume: Resume) -> Result<OpenReport, ScanError> {
        let location = format!("s3://{}/{key}", self.reports.bucket);
        let call = self.reports.hub.call("s3:GetObject", location);
        let mut request = self.s3.get_object().bucket(&self.reports.bucket).key(key);
        if resume.offset > 0 {
            request = request.range(format!("bytes={}-", resume.offset));
        }
        let out = request.send().await.map_err(|e| call.error(&e))?;
        Ok(OpenReport {
            key: key.to_owned(),
            at: resume,
            scanner: Scanner::new(resume),
            body: out.body,
            rest: Vec::new(),
        })
    }

    /// Reads up to [`REPORT_PAGE`] findings from the report object, starting at `resume`,
    /// holding one S3 chunk and one finding at a time. The object stays open for the next
    /// page when it continues where this one stopped (the same invocation); a new member (a
    /// new invocation, a retry) resumes with a ranged GET at the cursor.
    async fn report_page(&self, key: &str, resume: Resume) -> Result<FindingsPage, ScanError> {
        let location = format!("s3://{}/{key}", self.reports.bucket);
        let kept = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .filter(|o| o.key == key && o.at == resume);
        let mut open = match kept {
            Some(open) => open,
            None => self.open_report(key, resume).await?,
        };
        let mut findings = Vec::new();
        let rest = std::mem::take(&mut open.rest);
        let mut full = match open.scan(&rest, &mut findings, &self.scope, &location)? {
            Scanned::Full(used) => {
                open.rest = rest.get(used..).unwrap_or_default().to_vec();
                true
            }
            Scanned::More => false,
        };
        let mut reopened = false;
        while !full && !open.scanner.is_done() {
            let chunk = match open.body.next().await {
                None => break,
                Some(Ok(chunk)) => chunk,
                // A dropped connection: continue once with a ranged GET just past the last
                // finding read (the scanner's partial finding is read again from there).
                Some(Err(e)) if !reopened => {
                    tracing::warn!(key, offset = open.at.offset, error = %e, "report stream broke; resuming");
                    reopened = true;
                    open = self.open_report(key, open.at).await?;
                    continue;
                }
                Some(Err(e)) => {
                    return Err(self
                        .reports
                        .hub
                        .call("s3:GetObject", location.clone())
                        .transient(&format!("reading the report: {e}")));
                }
            };
            if let Scanned::Full(used) = open.scan(&chunk, &mut findings, &self.scope, &location)? {
                open.rest = chunk.get(used..).unwrap_or_default().to_vec();
                full = true;
            }
        }
        if !full {
            open.scanner
                .finish()
                .map_err(|e| report_shape_error(&location, &e.to_string()))?;
            return Ok(FindingsPage {
                findings,
                next: None,
            });
        }
        let next = Cursor::Report {
            key: key.to_owned(),
            resume: open.at,
        }
        .encode();
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = Some(open);
        Ok(FindingsPage {
            findings,
            next: Some(next),
        })
    }

    /// One `ListFindings` page with the report's filter (`token` empty for the first).
    pub async fn list_findings_page(
        &self,
        tag: Option<&Tag>,
        token: String,
    ) -> Result<FindingsPage, ScanError> {
        let call = self
            .scope
            .call("inspector2:ListFindings", "ACTIVE EC2 findings");
        let out = self
            .client
            .list_findings()
            .filter_criteria(self.findings_filter(tag)?)
            .max_results(LIST_FINDINGS_MAX)
            .set_next_token(crate::next_page(Some(&token)))
            .send()
            .await
            .map_err(|e| self.error(&call, &e))?;
        let findings = out
            .findings()
            .iter()
            .map(|f| V2Fields::from_sdk(f).into_finding(&self.scope))
            .collect();
        let next = crate::next_page(out.next_token()).map(|t| Cursor::Api(t).encode());
        Ok(FindingsPage { findings, next })
    }

    /// Every EC2 instance in scope: scanned (`ACTIVE`) or not, with why and what to do; with a
    /// CIS scan, how it went.
    pub async fn coverage(&self, run: &Run) -> Result<Coverage, ScanError> {
        let mut coverage = self.instance_coverage(run.tag.as_ref()).await?;
        if let Some(cis) = run.cis_scan() {
            coverage.cis = Some(self.cis_coverage(cis).await?);
        }
        Ok(coverage)
    }

    async fn instance_coverage(&self, tag: Option<&Tag>) -> Result<Coverage, ScanError> {
        let call = self
            .scope
            .call("inspector2:ListCoverage", "EC2 instances in scope");
        let filter = self.coverage_filter(tag)?;
        // An instance has one entry per scan type; the package scan decides when present.
        let mut by_instance: BTreeMap<String, (bool, String)> = BTreeMap::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_coverage()
                .filter_criteria(filter.clone())
                .max_results(LIST_COVERAGE_MAX)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| self.error(&call, &e))?;
            for r in out.covered_resources() {
                let active = r
                    .scan_status()
                    .is_some_and(|s| *s.status_code() == ScanStatusCode::Active);
                let reason = r
                    .scan_status()
                    .map_or("UNKNOWN", |s| s.reason().as_str())
                    .to_owned();
                let package = r.scan_type().as_str() == "PACKAGE";
                by_instance
                    .entry(r.resource_id().to_owned())
                    .and_modify(|e| {
                        if package {
                            *e = (active, reason.clone());
                        }
                    })
                    .or_insert((active, reason));
            }
            token = crate::next_page(out.next_token());
            if token.is_none() {
                break;
            }
        }
        let mut coverage = Coverage::default();
        for (instance_id, (active, reason)) in by_instance {
            if active {
                coverage.scanned.push(instance_id);
            } else {
                coverage.not_scanned.push(Uncovered {
                    remedy: coverage_remedy(&reason),
                    instance_id,
                    reason,
                });
            }
        }
        Ok(coverage)
    }

    /// The account's ACTIVE EC2 findings, with the tag when given.
    fn findings_filter(&self, tag: Option<&Tag>) -> Result<FilterCriteria, ScanError> {
        let eq = |value: &str| {
            StringFilter::builder()
                .comparison(StringComparison::Equals)
                .value(value)
                .build()
                .map_err(ScanError::internal)
        };
        let mut filter = FilterCriteria::builder()
            .aws_account_id(eq(&self.scope.account_id)?)
            .finding_status(eq("ACTIVE")?)
            .resource_type(eq(EC2)?);
        if let Some(tag) = tag {
            filter = filter.resource_tags(
                MapFilter::builder()
                    .comparison(MapComparison::Equals)
                    .key(&tag.key)
                    .value(&tag.value)
                    .build()
                    .map_err(ScanError::internal)?,
            );
        }
        Ok(filter.build())
    }

    fn coverage_filter(&self, tag: Option<&Tag>) -> Result<CoverageFilterCriteria, ScanError> {
        let eq = |value: &str| {
            CoverageStringFilter::builder()
                .comparison(CoverageStringComparison::Equals)
                .value(value)
                .build()
                .map_err(ScanError::internal)
        };
        let mut filter = CoverageFilterCriteria::builder()
            .account_id(eq(&self.scope.account_id)?)
            .resource_type(eq(EC2)?);
        if let Some(tag) = tag {
            filter = filter.ec2_instance_tags(
                CoverageMapFilter::builder()
                    .comparison(CoverageMapComparison::Equals)
                    .key(&tag.key)
                    .value(&tag.value)
                    .build()
                    .map_err(ScanError::internal)?,
            );
        }
        Ok(filter.build())
    }

    /// v2 answers calls in an account where it is off with AccessDenied or a validation error
    /// saying so; that is `InspectorDisabled`, everything else the common classification.
    fn error<E>(
        &self,
        call: &Call<'_>,
        err: &aws_sdk_inspector2::error::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> ScanError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let message = err.message().unwrap_or_default().to_ascii_lowercase();
        let code = err.code().unwrap_or_default();
        if matches!(code, "AccessDeniedException" | "ValidationException")
            && (message.contains("not enabled") || message.contains("not activated"))
        {
            return ScanError::InspectorDisabled {
                account_id: self.scope.account_id.clone(),
                region: self.scope.region.clone(),
                engine: Engine::Inspector2.as_str().into(),
                detail: format!("{}: {}", code, err.message().unwrap_or_default()),
            };
        }
        call.error(err)
    }
}

/// One finding object of a JSON report (as [`Scanner`] hands them out), normalized.
pub fn report_finding(bytes: &[u8], scope: &Scope) -> Result<Finding, serde_json::Error> {
    serde_json::from_slice::<ReportFinding>(bytes).map(|f| f.into_fields().into_finding(scope))
}

fn report_shape_error(location: &str, problem: &str) -> ScanError {
    ScanError::invalid(
        format!("Inspector v2 report {location}"),
        "a JSON findings report ({\"findings\": [...]} or JSON lines)",
        problem.to_owned(),
    )
}

fn report_failure(
    code: Option<&ReportingErrorCode>,
    message: Option<&str>,
    reports: &ReportDestination,
) -> String {
    let advice = match code {
        Some(ReportingErrorCode::InvalidPermissions) => format!(
            "let inspector2.amazonaws.com write to bucket {} (bucket policy) and use key {} \
             (key policy)",
            reports.bucket, reports.kms_key_arn
        ),
        Some(ReportingErrorCode::BucketNotFound) => {
            format!(
                "bucket {} does not exist: check REPORT_BUCKET",
                reports.bucket
            )
        }
        Some(ReportingErrorCode::IncompatibleBucketRegion) => {
            "the report bucket must be in the scanned region".to_owned()
        }
        Some(ReportingErrorCode::MalformedKmsKey) => format!(
            "key {} must be a symmetric key in the bucket's region: check REPORT_KMS_KEY_ARN",
            reports.kms_key_arn
        ),
        _ => "rerun the scan".to_owned(),
    };
    format!(
        "{}: {}; {advice}",
        code.map_or("no error code", |c| c.as_str()),
        message.unwrap_or("no message")
    )
}

fn coverage_remedy(reason: &str) -> String {
    match reason {
        "PENDING_INITIAL_SCAN" | "PENDING_REVIVAL_SCAN" | "SCAN_IN_PROGRESS" => {
            "Inspector has not finished scanning this instance yet; a later run covers it".into()
        }
        "UNMANAGED_EC2_INSTANCE" | "RESOURCE_UNMANAGED" => {
            "Make the instance an SSM managed instance (SSM Agent running, an instance profile \
             with AmazonSSMManagedInstanceCore or Default Host Management Configuration), or \
             switch Inspector to hybrid scanning so agentless scans cover it"
                .into()
        }
        "NO_INVENTORY" | "STALE_INVENTORY" | "DEEP_INSPECTION_NO_INVENTORY" => {
            "SSM inventory is missing or stale: check the SSM Agent runs and the Inspector SSM \
             association succeeds on the instance"
                .into()
        }
        "UNSUPPORTED_OS" => {
            "Inspector does not support this operating system: patch it by other means or move \
             the workload to a supported OS"
                .into()
        }
        "EXCLUDED_BY_TAG" => {
            "The instance carries the InspectorEc2Exclusion tag: remove it to have it scanned"
                .into()
        }
        "EC2_INSTANCE_STOPPED" | "RESOURCE_STOPPED" => {
            "The instance is stopped; it is scanned once it runs again".into()
        }
        "RESOURCE_TERMINATED" => "The instance was terminated; nothing to do".into(),
        "ACCESS_DENIED" | "ACCESS_DENIED_TO_ENCRYPTION_KEY" => {
            "Inspector lacks permissions: check its service-linked roles and the KMS key policy \
             of the instance's volumes"
                .into()
        }
        "NO_RESOURCES_FOUND" => {
            "Inspector found nothing to scan on the instance: check the SSM Agent and inventory"
                .into()
        }
        other => format!(
            "Inspector reports {other}: see the account's coverage page in the Inspector console"
        ),
    }
}

/// The fields scanflow keeps from a v2 finding, from either the SDK or a report object.
#[derive(Debug, Default)]
struct V2Fields {
    arn: String,
    severity: String,
    title: Option<String>,
    description: String,
    recommendation: Option<String>,
    resource_id: Option<String>,
    tags: BTreeMap<String, String>,
    vulnerability_id: Option<String>,
    fix_available: Option<String>,
    score: Option<f64>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    /// Only from the API: findings reports of older versions are read without it.
    detail: Option<FindingDetail>,
}

impl V2Fields {
    fn from_sdk(f: &aws_sdk_inspector2::types::Finding) -> Self {
        let resource = f.resources().first();
        Self {
            arn: f.finding_arn().to_owned(),
            severity: f.severity().as_str().to_owned(),
            title: f.title().map(str::to_owned),
            description: f.description().to_owned(),
            recommendation: f
                .remediation()
                .and_then(|r| r.recommendation())
                .and_then(|r| r.text())
                .map(str::to_owned),
            resource_id: resource.map(|r| r.id().to_owned()),
            tags: resource
                .and_then(|r| r.tags())
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            vulnerability_id: f
                .package_vulnerability_details()
                .map(|p| p.vulnerability_id().to_owned()),
            fix_available: f.fix_available().map(|x| x.as_str().to_owned()),
            score: f.inspector_score(),
            first_seen: rfc3339(f.first_observed_at()),
            last_seen: rfc3339(f.last_observed_at()),
            detail: Some(detail_from_sdk(f)),
        }
    }

    fn into_finding(self, scope: &Scope) -> Finding {
        let instance_id = self
            .resource_id
            .map(|id| match id.rsplit_once("instance/") {
                Some((_, instance)) => instance.to_owned(),
                None => id,
            });
        Finding {
            id: self.arn,
            engine: Engine::Inspector2,
            account_id: scope.account_id.clone(),
            region: scope.region.clone(),
            severity: Severity::from_label(&self.severity),
            title: self
                .title
                .filter(|t| !t.is_empty())
                .or_else(|| self.vulnerability_id.clone())
                .unwrap_or_else(|| "Inspector finding".to_owned()),
            instance_id,
            instance_tags: self.tags,
            vulnerability_id: self.vulnerability_id,
            description: self.description,
            recommendation: self.recommendation.unwrap_or_default(),
            // PARTIAL: a fix exists for at least one affected package.
            fix_available: self.fix_available.as_deref().and_then(|f| match f {
                "YES" | "PARTIAL" => Some(true),
                "NO" => Some(false),
                _ => None,
            }),
            score: self.score,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            rules_package_arn: None,
            detail: self.detail.map(|d| Box::new(d.bounded())),
        }
    }
}

/// The triage details of an API finding: its type, packages with installed and fixed-in
/// versions, the preferred CVSS score ([`Cvss::preferred`]), EPSS, exploit
/// availability, references, the open ports and network path, and the instance's AMI and
/// platform. The one place its limits are applied is [`FindingDetail::bounded`], after.
fn detail_from_sdk(f: &aws_sdk_inspector2::types::Finding) -> FindingDetail {
    use aws_sdk_inspector2::types::{ExploitAvailable, FindingType};
    let kind = match f.r#type() {
        FindingType::NetworkReachability => FindingKind::NetworkReachability,
        FindingType::CodeVulnerability => FindingKind::Code,
        _ => FindingKind::PackageVulnerability,
    };
    let pv = f.package_vulnerability_details();
    let packages = pv
        .map(|p| {
            p.vulnerable_packages()
                .iter()
                .map(|v| {
                    let mut installed = v.version().to_owned();
                    if let Some(release) = v.release().filter(|r| !r.is_empty()) {
                        installed = format!("{installed}-{release}");
                    }
                    if v.epoch() > 0 {
                        installed = format!("{}:{installed}", v.epoch());
                    }
                    VulnerablePackage {
                        name: v.name().to_owned(),
                        installed_version: installed,
                        fixed_in_version: v
                            .fixed_in_version()
                            .filter(|x| !x.is_empty() && *x != "NotAvailable")
                            .map(str::to_owned),
                        package_manager: v.package_manager().map(|m| m.as_str().to_owned()),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let cvss = pv.and_then(|p| {
        Cvss::preferred(p.cvss().iter().map(|c| Cvss {
            base_score: c.base_score(),
            vector: c.scoring_vector().to_owned(),
            version: c.version().to_owned(),
            source: Some(c.source().to_owned()).filter(|s| !s.is_empty()),
        }))
    });
    let references = pv
        .map(|p| {
            p.source_url()
                .into_iter()
                .chain(p.reference_urls().iter().map(String::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let network = f.network_reachability_details().map(|n| {
        let port = |p: i32| u16::try_from(p).unwrap_or(0);
        NetworkPath {
            protocol: n.protocol().as_str().to_owned(),
            port_from: n.open_port_range().map_or(0, |r| port(r.begin())),
            port_to: n.open_port_range().map_or(0, |r| port(r.end())),
            steps: n
                .network_path()
                .map(|p| {
                    p.steps()
                        .iter()
                        .map(|s| PathStep {
                            component_type: s.component_type().to_owned(),
                            component_id: s.component_id().to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    });
    let instance = f
        .resources()
        .first()
        .and_then(|r| r.details())
        .and_then(|d| d.aws_ec2_instance())
        .map(|i| InstanceFacts {
            ami: i.image_id().map(str::to_owned),
            platform: i.platform().map(str::to_owned),
            instance_type: i.r#type().map(str::to_owned),
        });
    FindingDetail {
        kind,
        packages,
        cvss,
        epss: f.epss().map(|e| e.score()),
        exploit_available: f.exploit_available().and_then(|e| match e {
            ExploitAvailable::Yes => Some(true),
            ExploitAvailable::No => Some(false),
            _ => None,
        }),
        references,
        network,
        instance,
        cis: None,
    }
}

fn rfc3339(t: &DateTime) -> Option<String> {
    t.fmt(Format::DateTime).ok()
}

/// A finding as a JSON report writes it (the API's field names); timestamps may be strings or
/// epoch seconds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportFinding {
    finding_arn: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    remediation: Option<ReportRemediation>,
    #[serde(default)]
    resources: Vec<ReportResource>,
    #[serde(default)]
    package_vulnerability_details: Option<ReportVulnerability>,
    #[serde(default)]
    fix_available: Option<String>,
    #[serde(default)]
    inspector_score: Option<f64>,
    #[serde(default)]
    first_observed_at: Option<serde_json::Value>,
    #[serde(default)]
    last_observed_at: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct ReportRemediation {
    #[serde(default)]
    recommendation: Option<ReportRecommendation>,
}

#[derive(Debug, Deserialize)]
struct ReportRecommendation {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReportResource {
    id: String,
    #[serde(default)]
    tags: HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportVulnerability {
    #[serde(default)]
    vulnerability_id: Option<String>,
}

impl ReportFinding {
    fn into_fields(self) -> V2Fields {
        let resource = self.resources.into_iter().next();
        V2Fields {
            arn: self.finding_arn,
            severity: self.severity.unwrap_or_default(),
            title: self.title,
            description: self.description.unwrap_or_default(),
            recommendation: self
                .remediation
                .and_then(|r| r.recommendation)
                .and_then(|r| r.text),
            tags: resource
                .as_ref()
                .map(|r| r.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            resource_id: resource.map(|r| r.id),
            vulnerability_id: self
                .package_vulnerability_details
                .and_then(|p| p.vulnerability_id),
            fix_available: self.fix_available,
            score: self.inspector_score,
            first_seen: self.first_observed_at.as_ref().and_then(timestamp),
            last_seen: self.last_observed_at.as_ref().and_then(timestamp),
            detail: None,
        }
    }
}

/// A report timestamp as RFC 3339: strings are kept, epoch seconds converted.
fn timestamp(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => n
            .as_f64()
            .map(DateTime::from_secs_f64)
            .and_then(|t| rfc3339(&t)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        for c in [
            Cursor::Api("tok:with:colons".into()),
            Cursor::Report {
                key: "inspector2-reports/1/eu-west-1/r:1.json".into(),
                resume: Resume {
                    offset: 1234,
                    in_array: true,
                },
            },
            Cursor::Report {
                key: "k".into(),
                resume: Resume {
                    offset: 0,
                    in_array: false,
                },
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()).expect("round trip"), c);
        }
        for bad in ["", "report:x:a:k", "report:1:z:k", "report:1:a:", "page-2"] {
            let err = Cursor::decode(bad).expect_err(bad);
            assert_eq!(err.error_type(), "InvalidInput");
        }
    }

    #[test]
    fn report_findings_map_like_api_findings() {
        let json = r#"{"findingArn":"arn:aws:inspector2:eu-west-1:111122223333:finding/abc",
            "awsAccountId":"111122223333","severity":"CRITICAL","title":"CVE-2024-1 - openssl",
            "description":"d","remediation":{"recommendation":{"text":"upgrade","Url":"u"}},
            "resources":[{"type":"AWS_EC2_INSTANCE","id":"i-0abc","tags":{"Patch":"Scan"},
              "details":{"awsEc2Instance":{"imageId":"ami-1"}}}],
            "packageVulnerabilityDetails":{"vulnerabilityId":"CVE-2024-1","source":"NVD"},
            "fixAvailable":"PARTIAL","inspectorScore":9.8,
            "firstObservedAt":"2026-01-10T08:00:00Z","lastObservedAt":1767000000}"#;
        let f: ReportFinding = serde_json::from_str(json).expect("parses");
        let scope = Scope::new("111122223333", "eu-west-1");
        let finding = f.into_fields().into_finding(&scope);
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.instance_id.as_deref(), Some("i-0abc"));
        assert_eq!(
            finding.instance_tags.get("Patch").map(String::as_str),
            Some("Scan")
        );
        assert_eq!(finding.vulnerability_id.as_deref(), Some("CVE-2024-1"));
        assert_eq!(finding.fix_available, Some(true));
        assert_eq!(finding.recommendation, "upgrade");
        assert_eq!(finding.score, Some(9.8));
        assert_eq!(finding.first_seen.as_deref(), Some("2026-01-10T08:00:00Z"));
        assert_eq!(finding.last_seen.as_deref(), Some("2025-12-29T09:20:00Z"));
    }

    #[test]
    fn untriaged_and_missing_fields_degrade_gracefully() {
        let f: ReportFinding = serde_json::from_str(
            r#"{"findingArn":"arn:x","severity":"UNTRIAGED","fixAvailable":"NO",
                "resources":[{"id":"arn:aws:ec2:eu-west-1:111122223333:instance/i-9"}]}"#,
        )
        .expect("parses");
        let finding = f
            .into_fields()
            .into_finding(&Scope::new("111122223333", "eu-west-1"));
        assert_eq!(finding.severity, Severity::Untriaged);
        assert_eq!(finding.instance_id.as_deref(), Some("i-9"));
        assert_eq!(finding.fix_available, Some(false));
        assert_eq!(finding.title, "Inspector finding");
    }

    #[test]
    fn every_failure_code_gets_advice() {
        let dest = ReportDestination {
            hub: Scope::new("999999999999", "eu-west-1"),
            bucket: "hub-reports".into(),
            kms_key_arn: "arn:aws:kms:eu-west-1:9:key/k".into(),
        };
        let text = report_failure(
            Some(&ReportingErrorCode::InvalidPermissions),
            Some("denied"),
            &dest,
        );
        assert!(text.contains("hub-reports") && text.contains("inspector2.amazonaws.com"));
        assert!(coverage_remedy("UNMANAGED_EC2_INSTANCE").contains("SSM"));
        assert!(coverage_remedy("SOMETHING_NEW").contains("SOMETHING_NEW"));
    }
}
