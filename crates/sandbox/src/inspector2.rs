//! Inspector v2: continuous scanning read with `ListFindings` in the scanned Region (pages of at
//! most 100 with a `nextToken`, the filter criteria scanflow sends, throttling under the quota
//! model, AccessDenied as AWS answers it), coverage as `ListCoverage` reports it, and the
//! delegated administrator, who sees the findings of its organisation's members only. A
//! findings report written by an earlier version (a rerun of a run recorded then) is still
//! read from the local S3 folder.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use scanflow_core::ScanError;
use scanflow_core::model;
use scanflow_core::model::{AccountSettings, Coverage, Engine, Finding, Severity, Tag, Uncovered};
use scanflow_core::ports::{FindingsPage, RunStatus, Started};
use scanflow_core::report_stream::{Resume, Scanner};
use scanflow_core::state::Run;

use crate::generate::{InstanceFacts, Vuln, instance_facts};
use crate::member::Member;
use crate::scenario::{AccountSpec, Inspector2Outcome};
use crate::{Shared, ids, lock, security_hub};

/// Findings per `findings_page` call when reading a report written by an earlier version.
pub(crate) const REPORT_PAGE: usize = 1000;
/// `ListCoverage` returns at most 200 resources a page.
const COVERAGE_PAGE: usize = 200;
/// `ListFindings` accepts `maxResults` 1 to 100
/// (<https://docs.aws.amazon.com/inspector/v2/APIReference/API_ListFindings.html>).
pub const LIST_FINDINGS_MAX: usize = 100;
/// A filter criterion holds 1 to 10 filters (`API_FilterCriteria.html`).
const FILTERS_MAX: usize = 10;
/// The state of a listing run: nothing runs, v2 scans continuously.
pub const CONTINUOUS: &str = "CONTINUOUS";
const EC2: &str = "AWS_EC2_INSTANCE";

/// Where a findings report landed in the bucket (the adapter's `keyPrefix` plus `<id>.json`).
pub fn report_key(account_id: &str, region: &str, report_id: &str) -> String {
    format!("inspector2-reports/{account_id}/{region}/{report_id}.json")
}

/// The listing runs started, per account: which scan of the account each is (what the
/// scenario's churn and missed scans follow) and when it started.
#[derive(Default)]
pub(crate) struct Listings {
    runs: Vec<Listing>,
}

#[derive(Debug, Clone)]
struct Listing {
    id: String,
    account_index: usize,
    scan: u32,
    at: OffsetDateTime,
}

impl Listings {
    /// The account's current scan and when it was read first: findings as they stand now.
    fn current(&self, account_index: usize) -> Option<(u32, OffsetDateTime)> {
        self.runs
            .iter()
            .rev()
            .find(|r| r.account_index == account_index)
            .map(|r| (r.scan, r.at))
    }
}

pub(crate) fn in_scope(m: &Member, account_index: usize, tag: Option<&Tag>) -> Vec<usize> {
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

/// Which scan of the account a run is (the scenario's churn and missed scans follow it): the
/// run `run_id`'s, or with `None` the account's latest. A report written by an earlier version,
/// or an account not read yet, is taken to be the first.
pub(crate) fn scan_number(shared: &Shared, run_id: Option<&str>, account_index: usize) -> u32 {
    let listings = lock(&shared.inspector2);
    match run_id {
        Some(id) => listings
            .runs
            .iter()
            .find(|r| r.id == id && r.account_index == account_index)
            .map_or(1, |r| r.scan),
        None => listings.current(account_index).map_or(1, |(scan, _)| scan),
    }
}

fn pages(items: usize, page: usize) -> u64 {
    items.div_ceil(page).max(1) as u64
}

/// Which account the calls of `m` are made in (and whose quota they draw on).
pub(crate) fn caller_account(m: &Member) -> &str {
    if m.caller.hub_inspector2() {
        &m.shared.scenario.hub.account_id
    } else {
        &m.account_id
    }
}

/// Whether the caller of `m` sees Inspector v2 data of scenario account `a`: its own, or, for
/// the hub as delegated administrator, a member of the organisation it administers.
pub(crate) fn visible(m: &Member, a: &AccountSpec) -> bool {
    if !m.caller.hub_inspector2() {
        return a.account_id == m.account_id;
    }
    let hub = &m.shared.scenario.hub;
    a.account_id == hub.account_id
        || (hub.delegated_admin_of.is_some() && a.organization == hub.delegated_admin_of)
}

pub(crate) fn disabled(m: &Member) -> ScanError {
    ScanError::InspectorDisabled {
        account_id: m.account_id.clone(),
        region: m.region.clone(),
        engine: Engine::Inspector2.to_string(),
        detail: "AccessDeniedException: Amazon Inspector is not enabled for this account in this \
                 Region"
            .into(),
    }
}

/// `GetMember` by the hub as delegated administrator: the account must be an ENABLED member of
/// the organisation it administers. AWS answers AccessDenied to an account that is no delegated
/// administrator, ResourceNotFound for an account that is not its member.
pub(crate) fn get_member(m: &Member) -> Result<(), ScanError> {
    let shared = &m.shared;
    let hub = &shared.scenario.hub;
    shared.admit("inspector2:GetMember", &hub.account_id, &m.region)?;
    shared.count("inspector2:GetMember", 1);
    let advice = "The hub reads v2 findings as the Inspector delegated administrator: designate it \
                  in this Region and associate the account, or set the hub's \
                  InspectorDelegatedAdmin parameter to false to read through the member role";
    let not_member = |detail: String| ScanError::NotFound {
        account_id: m.account_id.clone(),
        region: m.region.clone(),
        what: "the account's membership of the hub's Inspector organisation".into(),
        detail: format!("{detail}. {advice}"),
    };
    if hub.delegated_admin_of.is_none() {
        return Err(not_member(format!(
            "AccessDeniedException: account {} is not the Amazon Inspector delegated \
             administrator (inspector2:GetMember on member {})",
            hub.account_id, m.account_id
        )));
    }
    let member = m
        .index
        .and_then(|i| shared.account(i))
        .filter(|a| visible(m, a));
    if member.is_none() {
        return Err(not_member(format!(
            "ResourceNotFoundException: account {} is not a member of the delegated \
             administrator's organisation",
            m.account_id
        )));
    }
    Ok(())
}

/// `ListCoverage` (filtered by account and tag), then the run's name as its id: nothing starts.
/// Inspector sends the account's findings to Security Hub by itself; the sandbox does that here.
pub(crate) fn start(
    m: &Member,
    settings: &AccountSettings,
    name: &str,
) -> Result<Started, ScanError> {
    let shared = &m.shared;
    if m.caller.hub_inspector2() {
        get_member(m)?;
    }
    let account = m.index.and_then(|i| shared.account(i).map(|a| (i, a)));
    let Some((account_index, account)) = account.filter(|(_, a)| a.v2_enabled()) else {
        // ListCoverage is the first call; it is what fails when Inspector is off.
        shared.count("inspector2:ListCoverage", 1);
        return Err(disabled(m));
    };
    let scope = in_scope(m, account_index, settings.tag.as_ref());
    let n = pages(scope.len(), COVERAGE_PAGE);
    shared.admit_n("inspector2:ListCoverage", caller_account(m), &m.region, n)?;
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
    let now = shared.now();
    let scan = {
        let mut listings = lock(&shared.inspector2);
        let scan = listings
            .current(account_index)
            .map_or(1, |(scan, _)| scan.saturating_add(1));
        listings.runs.push(Listing {
            id: name.to_owned(),
            account_index,
            scan,
            at: now,
        });
        scan
    };
    send_to_security_hub(
        shared,
        m,
        account_index,
        account,
        settings.tag.as_ref(),
        scan,
    );
    tracing::info!(run = %name, account_id = %m.account_id, region = %m.region, scan, "findings read as they stand (continuous scanning)");
    Ok(Started {
        run_id: name.to_owned(),
        adopted: false,
    })
}

/// What Inspector sends to the account's Security Hub by itself, of the run's scope (what the
/// simulated Security Hub needs to know: the findings scanflow delivers). Only the ids are
/// made, one at a time, so this costs the step that triggers it no memory.
fn send_to_security_hub(
    shared: &Shared,
    m: &Member,
    account_index: usize,
    account: &AccountSpec,
    tag: Option<&Tag>,
    scan: u32,
) {
    let vulns = shared.vulns(account_index);
    let findings = (0..vulns.len())
        .filter(|&i| {
            vulns.present_at(i, scan)
                && vulns.instance(i).is_some_and(|n| {
                    let inst = &account.instances[n];
                    inst.managed_at(scan) && inst.matches(tag)
                })
        })
        .filter_map(|i| vulns.identity(i))
        .map(|(instance, cve, package)| {
            let inst = &account.instances[instance];
            let id = finding_id(&m.account_id, &m.region, &inst.id, &cve, package);
            (id, cve.into_owned())
        });
    security_hub::register_arns(
        shared,
        &m.account_id,
        &arn_prefix(&m.account_id, &m.region),
        findings,
    );
}

/// The 16 bytes a finding's ARN ends with (as 32 hex digits): stable for one vulnerability
/// of one package on one instance.
fn finding_id(
    account_id: &str,
    region: &str,
    instance_id: &str,
    cve: &str,
    package: &str,
) -> [u8; 16] {
    let digest = ids::digest(&[account_id, region, instance_id, cve, package]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// What every finding ARN of the account and Region starts with.
fn arn_prefix(account_id: &str, region: &str) -> String {
    format!(
        "arn:{}:inspector2:{region}:{account_id}:finding/",
        scanflow_core::partition::of(region)
    )
}

/// The finding's ARN: stable for one vulnerability on one instance.
fn finding_arn(account_id: &str, region: &str, instance_id: &str, v: &Vuln) -> String {
    let id = finding_id(account_id, region, instance_id, &v.cve, &v.package);
    format!("{}{}", arn_prefix(account_id, region), hex::encode(id))
}

/// A listing run has nothing to wait for; a findings report recorded before is done when its
/// object is in the bucket.
pub(crate) fn status(m: &Member, run: &Run) -> Result<RunStatus, ScanError> {
    if !scanflow_core::state::is_report_id(&run.run_id) {
        return Ok(RunStatus::Succeeded {
            state: CONTINUOUS.into(),
        });
    }
    m.shared.admit(
        "inspector2:GetFindingsReportStatus",
        &m.account_id,
        &m.region,
    )?;
    m.shared.count("inspector2:GetFindingsReportStatus", 1);
    let key = report_key(&m.account_id, &m.region, &run.run_id);
    if m.shared.s3_root.join(&key).is_file() {
        Ok(RunStatus::Succeeded {
            state: "SUCCEEDED".into(),
        })
    } else {
        Err(ScanError::NotFound {
            account_id: m.account_id.clone(),
            region: m.region.clone(),
            what: format!("findings report {}", run.run_id),
            detail: "ResourceNotFoundException: no such report".into(),
        })
    }
}

/// One `StringFilter` of a filter criterion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StringFilter {
    /// `EQUALS`, `PREFIX` or `NOT_EQUALS`.
    pub comparison: String,
    pub value: String,
}

impl StringFilter {
    pub fn equals(value: &str) -> Self {
        Self {
            comparison: "EQUALS".into(),
            value: value.to_owned(),
        }
    }

    fn matches(&self, v: &str) -> bool {
        match self.comparison.as_str() {
            "EQUALS" => v == self.value,
            "PREFIX" => v.starts_with(&self.value),
            _ => v != self.value,
        }
    }
}

/// One `MapFilter` (tags): `EQUALS` is the only comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapFilter {
    pub comparison: String,
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// The members of `FilterCriteria` scanflow sends. Filters in one member are OR-ed, members
/// AND-ed; an empty member does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingsFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aws_account_id: Vec<StringFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finding_status: Vec<StringFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_type: Vec<StringFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_tags: Vec<MapFilter>,
}

impl FindingsFilter {
    /// What scanflow asks for: the account's ACTIVE EC2 findings, with its tag when it has one.
    pub fn for_run(account_id: &str, tag: Option<&Tag>) -> Self {
        Self {
            aws_account_id: vec![StringFilter::equals(account_id)],
            finding_status: vec![StringFilter::equals("ACTIVE")],
            resource_type: vec![StringFilter::equals(EC2)],
            resource_tags: tag
                .map(|t| MapFilter {
                    comparison: "EQUALS".into(),
                    key: t.key.clone(),
                    value: t.value.clone(),
                })
                .into_iter()
                .collect(),
        }
    }

    /// AWS's ValidationException for what the model refuses.
    fn validate(&self) -> Result<(), ScanError> {
        let strings = [
            ("awsAccountId", &self.aws_account_id),
            ("findingStatus", &self.finding_status),
            ("resourceType", &self.resource_type),
        ];
        for (name, list) in strings {
            check_len(name, list.len())?;
            for f in list {
                if !matches!(f.comparison.as_str(), "EQUALS" | "PREFIX" | "NOT_EQUALS")
                    || !(1..=1024).contains(&f.value.len())
                {
                    return Err(validation(
                        &format!("filterCriteria.{name}"),
                        "a StringFilter: comparison EQUALS, PREFIX or NOT_EQUALS and a value of 1 to 1024 characters",
                        &format!("{}/{}", f.comparison, f.value),
                    ));
                }
            }
        }
        check_len("resourceTags", self.resource_tags.len())?;
        for f in &self.resource_tags {
            if f.comparison != "EQUALS" || !(1..=128).contains(&f.key.len()) || f.value.len() > 256
            {
                return Err(validation(
                    "filterCriteria.resourceTags",
                    "a MapFilter: comparison EQUALS, a key of 1 to 128 and a value of 0 to 256 characters",
                    &format!("{}/{}", f.comparison, f.key),
                ));
            }
        }
        Ok(())
    }

    fn matches_account(&self, account_id: &str) -> bool {
        any(&self.aws_account_id, account_id)
    }

    fn matches(&self, account_id: &str, tags: &BTreeMap<String, String>) -> bool {
        self.matches_account(account_id)
            // Simulated findings are all ACTIVE EC2 package vulnerabilities.
            && any(&self.finding_status, "ACTIVE")
            && any(&self.resource_type, EC2)
            && (self.resource_tags.is_empty()
                || self
                    .resource_tags
                    .iter()
                    .any(|f| tags.get(&f.key) == Some(&f.value)))
    }

    /// A digest of the filter, carried in the token so a token is refused with another filter.
    fn digest(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        ids::hex_id(&["filter", &text], 12)
    }
}

/// An empty filter list admits everything; otherwise one of its filters must match.
fn any(list: &[StringFilter], v: &str) -> bool {
    list.is_empty() || list.iter().any(|f| f.matches(v))
}

fn check_len(name: &str, len: usize) -> Result<(), ScanError> {
    if len > FILTERS_MAX {
        return Err(validation(
            &format!("filterCriteria.{name}"),
            "1 to 10 filters",
            &format!("{len} filters"),
        ));
    }
    Ok(())
}

fn validation(field: &str, expected: &str, got: &str) -> ScanError {
    ScanError::invalid(
        format!("inspector2:ListFindings {field}"),
        expected,
        format!(
            "is {}: ValidationException",
            scanflow_core::error::quote(got)
        ),
    )
}

/// A `ListFindings` request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFindingsRequest {
    pub filter: FindingsFilter,
    /// 1 to 100; absent, the service's default page.
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

/// A `ListFindings` answer: one page and the token of the next (absent on the last).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFindingsResponse {
    pub findings: Vec<Inspector2Finding>,
    pub next_token: Option<String>,
}

/// Where a page starts: the position among the accounts the caller sees, the index into that
/// account's vulnerabilities, and the filter it was issued for.
fn parse_token(token: &str, filter: &str) -> Option<(usize, usize)> {
    let mut parts = token.split('.');
    let (v, account, index, digest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if v != "v1" || digest != filter || parts.next().is_some() {
        return None;
    }
    Some((account.parse().ok()?, index.parse().ok()?))
}

/// `ListFindings` in the member's Region with the caller's credentials (the member role, or the
/// hub as delegated administrator). Throttled under the quota model; pages hold at most
/// `maxResults` findings; a token is only good for the filter it was issued with.
pub fn list_findings(
    m: &Member,
    request: &ListFindingsRequest,
) -> Result<ListFindingsResponse, ScanError> {
    let shared = &m.shared;
    shared.admit("inspector2:ListFindings", caller_account(m), &m.region)?;
    shared.count("inspector2:ListFindings", 1);
    let page = request.max_results.unwrap_or(LIST_FINDINGS_MAX);
    if !(1..=LIST_FINDINGS_MAX).contains(&page) {
        return Err(validation("maxResults", "1 to 100", &page.to_string()));
    }
    request.filter.validate()?;
    // The caller's own Inspector: the member's, or (delegated admin) the hub's, which is on.
    if !m.caller.hub_inspector2() {
        let enabled = m
            .index
            .and_then(|i| shared.account(i))
            .is_some_and(|a| a.v2_enabled());
        if !enabled {
            return Err(disabled(m));
        }
    }
    let listed = |a: &AccountSpec| a.region == m.region && a.v2_enabled() && visible(m, a);
    let accounts: Vec<usize> = match m.index {
        // Through the scan role the member sees its own account only: its scenario entry
        // (not every account of a fleet scanned again on each page).
        Some(i) if !m.caller.hub_inspector2() => shared
            .account(i)
            .filter(|a| listed(a))
            .map(|_| i)
            .into_iter()
            .collect(),
        _ => shared
            .scenario
            .accounts
            .iter()
            .enumerate()
            .filter(|(_, a)| listed(a))
            .map(|(i, _)| i)
            .collect(),
    };
    let digest = request.filter.digest();
    let (mut position, mut index) = match &request.next_token {
        None => (0, 0),
        Some(token) => parse_token(token, &digest).ok_or_else(|| {
            validation(
                "nextToken",
                "the nextToken the previous page returned, with the same filter",
                token,
            )
        })?,
    };
    let mut findings = Vec::new();
    while let Some(&account_index) = accounts.get(position) {
        let Some(account) = shared.account(account_index) else {
            break;
        };
        if account.inspector2.outcome == Inspector2Outcome::Fails
            && request.filter.matches_account(&account.account_id)
        {
            return Err(ScanError::Transient {
                service: format!(
                    "inspector2:ListFindings in account {} ({})",
                    caller_account(m),
                    m.region
                ),
                detail: "InternalServerException: the request failed due to an internal failure"
                    .into(),
            });
        }
        let Some((scan, observed)) = lock(&shared.inspector2).current(account_index) else {
            // Never read before: nothing of it is listed in this sandbox yet.
            position += 1;
            index = 0;
            continue;
        };
        let vulns = shared.vulns(account_index);
        let mut facts: BTreeMap<usize, InstanceFacts> = BTreeMap::new();
        while let Some(instance) = vulns.instance(index) {
            if findings.len() == page {
                return Ok(ListFindingsResponse {
                    findings,
                    next_token: Some(format!("v1.{position}.{index}.{digest}")),
                });
            }
            let vi = index;
            index += 1;
            let inst = &account.instances[instance];
            if !vulns.present_at(vi, scan)
                || !inst.managed_at(scan)
                || !request.filter.matches(&account.account_id, &inst.tags)
            {
                continue;
            }
            let Some(v) = vulns.get(vi) else {
                continue;
            };
            let v = &v;
            let f = facts
                .entry(v.instance)
                .or_insert_with(|| instance_facts(&account.account_id, &account.region, inst));
            findings.push(shape(
                &account.account_id,
                &account.region,
                v,
                &inst.id,
                &inst.tags,
                f,
                observed,
            ));
        }
        position += 1;
        index = 0;
    }
    Ok(ListFindingsResponse {
        findings,
        next_token: None,
    })
}

/// One page of the run's findings: `ListFindings` with the run's filter, 100 at a time (the
/// token is the cursor); a findings report recorded before is read from the bucket instead.
pub(crate) fn findings_page(
    m: &Member,
    run: &Run,
    cursor: Option<&str>,
) -> Result<FindingsPage, ScanError> {
    if scanflow_core::state::is_report_id(&run.run_id) {
        return report_page(m, run, cursor);
    }
    let out = list_findings(
        m,
        &ListFindingsRequest {
            filter: FindingsFilter::for_run(&m.account_id, run.tag.as_ref()),
            max_results: Some(LIST_FINDINGS_MAX),
            next_token: cursor.map(str::to_owned),
        },
    )?;
    Ok(FindingsPage {
        findings: out
            .findings
            .into_iter()
            .map(normalize)
            .collect::<Result<_, _>>()?,
        next: out.next_token,
    })
}

/// Reads a findings report object a page at a time with the scanner the AWS adapter uses
/// (`scanflow_core::report_stream`), from the byte offset the cursor names.
fn report_page(m: &Member, run: &Run, cursor: Option<&str>) -> Result<FindingsPage, ScanError> {
    let shared = &m.shared;
    let resume = parse_report_cursor(cursor)?;
    if cursor.is_none() {
        shared.count("s3:ListObjectsV2", 1);
    }
    let key = report_key(&m.account_id, &m.region, &run.run_id);
    let path = shared.s3_root.join(&key);
    if !path.is_file() {
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
    if cursor.is_none() {
        shared.count("s3:GetObject", 1);
    }
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
                    .and_then(|f| normalize(f).map_err(|e| e.to_string()))
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
    let mut cov = Coverage::default();
    let Some(account) = shared.account(index) else {
        shared.count("inspector2:ListCoverage", 1);
        return Ok(cov);
    };
    // A delegated administrator sees nothing of an account outside its organisation.
    let scope = if visible(m, account) {
        in_scope(m, index, run.tag.as_ref())
    } else {
        Vec::new()
    };
    let n = pages(scope.len(), COVERAGE_PAGE);
    shared.admit_n("inspector2:ListCoverage", caller_account(m), &m.region, n)?;
    shared.count("inspector2:ListCoverage", n);
    let scan = scan_number(shared, Some(&run.run_id), index);
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_reachability_details: Option<NetworkReachabilityDetails>,
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

/// `networkReachabilityDetails`: the open ports and the path to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkReachabilityDetails {
    pub protocol: String,
    pub open_port_range: PortRange,
    pub network_path: NetworkPathDetails,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortRange {
    pub begin: u16,
    pub end: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkPathDetails {
    #[serde(default)]
    pub steps: Vec<NetworkStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkStep {
    pub component_id: String,
    pub component_type: String,
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
    let finding =
        Inspector2Finding {
            finding_arn: finding_arn(account_id, region, instance_id, v),
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
                partition: Some(scanflow_core::partition::of(region).into()),
                region: Some(region.to_owned()),
                tags: tags.clone(),
                details: Some(ResourceDetails {
                    aws_ec2_instance: Some(Ec2Details {
                        instance_type: Some(facts.instance_type.to_owned()),
                        image_id: Some(facts.ami_id.clone()),
                        ip_v4_addresses: vec![facts.private_ip.clone()],
                        vpc_id: Some(facts.vpc_id.clone()),
                        subnet_id: Some(facts.subnet_id.clone()),
                        launched_at: Some(crate::iso_millis(observed.saturating_sub(
                            time::Duration::days(i64::from(facts.launched_days_ago)),
                        ))),
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
            network_reachability_details: None,
            fix_available: Some(fix.into()),
            exploit_available: Some(if v.exploit_available { "YES" } else { "NO" }.into()),
            epss: Some(Epss { score: v.epss }),
        };
    match &v.network {
        Some(n) => reachability(finding, v, n),
        None => finding,
    }
}

/// A network reachability finding as Inspector v2 returns it: the same frame (ARN, status,
/// times, instance) with no package, no CVE, no score, EPSS or instance details; the open
/// ports and the path from the outside in.
fn reachability(
    mut f: Inspector2Finding,
    v: &Vuln,
    n: &crate::scenario::NetworkSpec,
) -> Inspector2Finding {
    let ports = if n.port_from == n.port_to {
        format!("Port {}", n.port_from)
    } else {
        format!("Ports {}-{}", n.port_from, n.port_to)
    };
    f.kind = "NETWORK_REACHABILITY".into();
    f.title =
        Some(v.title.clone().unwrap_or_else(|| {
            format!("{ports} is reachable from an Internet Gateway - open port")
        }));
    f.remediation = Remediation {
        recommendation: Some(Recommendation {
            text: Some(format!(
                "Restrict the security group rules that open {} {} to the internet.",
                n.protocol,
                ports.to_ascii_lowercase()
            )),
            url: None,
        }),
    };
    f.inspector_score = None;
    for r in &mut f.resources {
        r.details = None;
    }
    f.package_vulnerability_details = None;
    f.network_reachability_details = Some(NetworkReachabilityDetails {
        protocol: n.protocol.clone(),
        open_port_range: PortRange {
            begin: n.port_from,
            end: n.port_to,
        },
        network_path: NetworkPathDetails {
            steps: n
                .path
                .iter()
                .map(|p| NetworkStep {
                    component_id: p.component_id.clone(),
                    component_type: p.component_type.clone(),
                })
                .collect(),
        },
    });
    f.fix_available = None;
    f.exploit_available = None;
    f.epss = None;
    f
}

/// Maps an Inspector v2 `Finding` into scanflow's normalized [`Finding`]. `fixAvailable`
/// PARTIAL counts as a fix being available (for at least one of the packages).
pub fn normalize(f: Inspector2Finding) -> Result<Finding, ScanError> {
    let Some(region) = f
        .finding_arn
        .split(':')
        .nth(3)
        .filter(|r| f.finding_arn.starts_with("arn:") && !r.is_empty())
        .map(str::to_owned)
    else {
        return Err(ScanError::invalid(
            "findingArn",
            "arn:aws:inspector2:<region>:<account>:finding/<id>",
            format!("is {}", scanflow_core::error::quote(&f.finding_arn)),
        ));
    };
    // The detail borrows what the fields below then move.
    let triage = detail(
        &f,
        f.resources.iter().find(|r| r.kind == "AWS_EC2_INSTANCE"),
    )
    .bounded();
    let resource = f
        .resources
        .into_iter()
        .find(|r| r.kind == "AWS_EC2_INSTANCE");
    let (instance_id, instance_tags) = match resource {
        Some(r) => (Some(r.id), r.tags),
        None => (None, BTreeMap::new()),
    };
    Ok(Finding {
        id: f.finding_arn,
        engine: Engine::Inspector2,
        account_id: f.aws_account_id,
        region,
        severity: Severity::from_label(&f.severity),
        title: f.title.unwrap_or_default(),
        instance_id,
        instance_tags,
        vulnerability_id: f.package_vulnerability_details.map(|p| p.vulnerability_id),
        description: f.description,
        recommendation: f
            .remediation
            .recommendation
            .and_then(|r| r.text)
            .unwrap_or_default(),
        fix_available: match f.fix_available.as_deref() {
            Some("YES" | "PARTIAL") => Some(true),
            Some("NO") => Some(false),
            _ => None,
        },
        score: f.inspector_score,
        first_seen: Some(f.first_observed_at),
        last_seen: Some(f.last_observed_at),
        rules_package_arn: None,
        detail: Some(Box::new(triage)),
    })
}

/// The triage details, as the AWS adapter keeps them from the API's finding: the packages,
/// the preferred CVSS score, EPSS, the exploit flag, the references (the
/// advisory first) and the instance's AMI, platform and type.
fn detail(f: &Inspector2Finding, resource: Option<&Resource>) -> model::FindingDetail {
    let pv = f.package_vulnerability_details.as_ref();
    model::FindingDetail {
        kind: match f.kind.as_str() {
            "NETWORK_REACHABILITY" => model::FindingKind::NetworkReachability,
            "CODE_VULNERABILITY" => model::FindingKind::Code,
            _ => model::FindingKind::PackageVulnerability,
        },
        packages: pv
            .map(|p| {
                p.vulnerable_packages
                    .iter()
                    .map(|v| model::VulnerablePackage {
                        name: v.name.clone(),
                        installed_version: v.version.clone(),
                        fixed_in_version: v.fixed_in_version.clone(),
                        package_manager: v.package_manager.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        cvss: pv.and_then(|p| {
            model::Cvss::preferred(p.cvss.iter().map(|c| model::Cvss {
                base_score: c.base_score,
                vector: c.scoring_vector.clone(),
                version: c.version.clone(),
                source: Some(c.source.clone()),
            }))
        }),
        epss: f.epss.as_ref().map(|e| e.score),
        exploit_available: match f.exploit_available.as_deref() {
            Some("YES") => Some(true),
            Some("NO") => Some(false),
            _ => None,
        },
        references: pv
            .map(|p| {
                p.source_url
                    .iter()
                    .chain(&p.reference_urls)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        network: f
            .network_reachability_details
            .as_ref()
            .map(|n| model::NetworkPath {
                protocol: n.protocol.clone(),
                port_from: n.open_port_range.begin,
                port_to: n.open_port_range.end,
                steps: n
                    .network_path
                    .steps
                    .iter()
                    .map(|s| model::PathStep {
                        component_type: s.component_type.clone(),
                        component_id: s.component_id.clone(),
                    })
                    .collect(),
            }),
        instance: resource
            .and_then(|r| r.details.as_ref())
            .and_then(|d| d.aws_ec2_instance.as_ref())
            .map(|i| model::InstanceFacts {
                ami: i.image_id.clone(),
                platform: i.platform.clone(),
                instance_type: i.instance_type.clone(),
            }),
        cis: None,
    }
}
