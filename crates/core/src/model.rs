//! The normalized vocabulary both Inspector generations map into: engines, severities,
//! findings, coverage and per-account scan settings.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Which Amazon Inspector generation scans an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Amazon Inspector Classic (agent-based assessment runs; end of support 2026-05-20).
    Classic,
    /// Amazon Inspector (v2): continuous scanning; scanflow reads findings and coverage.
    #[default]
    Inspector2,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Inspector2 => "inspector2",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "classic" => Some(Self::Classic),
            "inspector2" => Some(Self::Inspector2),
            _ => None,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity on one scale for both engines, most severe first so that `Ord` sorts digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    /// Inspector v2 `UNTRIAGED`, Classic `Undefined`.
    Untriaged,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
        Severity::Untriaged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "CRITICAL",
            Self::High => "HIGH",
            Self::Medium => "MEDIUM",
            Self::Low => "LOW",
            Self::Informational => "INFORMATIONAL",
            Self::Untriaged => "UNTRIAGED",
        }
    }

    /// Maps either engine's severity label (case-insensitive); unknown labels are untriaged
    /// rather than dropped, so no finding is lost over a new label.
    /// The severity named exactly by its label (`CRITICAL`, ..., `UNTRIAGED`): for settings,
    /// where an unknown label is a mistake to report, not a finding to keep.
    pub fn parse(field: &str, label: &str) -> Result<Self, crate::ScanError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == label)
            .ok_or_else(|| {
                crate::ScanError::invalid(
                    field,
                    "CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNTRIAGED",
                    format!("is {}", crate::error::quote(label)),
                )
            })
    }

    pub fn from_label(label: &str) -> Self {
        match label.to_ascii_uppercase().as_str() {
            "CRITICAL" => Self::Critical,
            "HIGH" => Self::High,
            "MEDIUM" => Self::Medium,
            "LOW" => Self::Low,
            "INFORMATIONAL" => Self::Informational,
            _ => Self::Untriaged,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An EC2 tag selecting the instances to scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tag {}={}", self.key, self.value)
    }
}

/// A member account's scan settings, as its StackSet instance records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSettings {
    pub engine: Engine,
    /// `None` scans every instance of the account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    pub duration_seconds: u32,
    /// Classic only: the assessment template the member stack created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment_template_arn: Option<String>,
    /// The member's `AssessmentSchedule` (what the fleet watch checks); absent in settings
    /// written by member templates that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The member's SLA days per severity, over the hub's (`slaDays` in the settings JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_days: Option<crate::lifecycle::SlaOverrides>,
    /// Inspector v2 only: a one-time CIS benchmark scan at this level with every scan
    /// (`cisLevel` in the settings JSON). CIS scans select instances by tag, so it needs `tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cis: Option<CisLevel>,
}

/// A CIS benchmark profile level, as Inspector names it (`LEVEL_1`, `LEVEL_2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CisLevel {
    /// Essential hardening with little impact on service.
    #[serde(rename = "LEVEL_1")]
    Level1,
    /// Level 1 and defence in depth for high-security environments.
    #[serde(rename = "LEVEL_2")]
    Level2,
}

impl CisLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Level1 => "LEVEL_1",
            Self::Level2 => "LEVEL_2",
        }
    }

    /// `LEVEL_1` or `LEVEL_2`; anything else is refused naming `field`.
    pub fn parse(field: &str, label: &str) -> Result<Self, crate::ScanError> {
        match label {
            "LEVEL_1" => Ok(Self::Level1),
            "LEVEL_2" => Ok(Self::Level2),
            other => Err(crate::ScanError::invalid(
                field,
                "LEVEL_1 or LEVEL_2 (or none)",
                format!("is {}", crate::error::quote(other)),
            )),
        }
    }

    /// The severity a failed check of this level is counted at. Inspector gives CIS checks no
    /// severity: a failed Level 1 check (basic hardening every instance should have) counts as
    /// MEDIUM, a Level 2 one (defence in depth) as LOW, so neither pages people as a CRITICAL
    /// vulnerability would, and both stay above an INFORMATIONAL e-mail floor.
    pub fn failed_check_severity(self) -> Severity {
        match self {
            Self::Level1 => Severity::Medium,
            Self::Level2 => Severity::Low,
        }
    }
}

impl fmt::Display for CisLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One vulnerability finding, normalized from either engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The Inspector finding ARN; Security Hub uses it as the finding `Id`.
    pub id: String,
    pub engine: Engine,
    pub account_id: String,
    pub region: String,
    pub severity: Severity,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instance_tags: BTreeMap<String, String>,
    /// CVE id (v2 package findings) or the Classic rule / finding id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_id: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub recommendation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_available: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Inspector Classic: the rules package that produced the finding, part of its identity
    /// across runs (`lifecycle::identity`). `None` for Inspector v2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_package_arn: Option<String>,
    /// What Inspector v2 says beyond the headline, for a triager to act on: `None` for Classic
    /// (and for v2 findings read from a findings report of an older scanflow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Box<FindingDetail>>,
}

/// What kind of problem a v2 finding is (Inspector's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum FindingKind {
    /// A vulnerable package (a CVE or vendor advisory).
    #[default]
    PackageVulnerability,
    /// A port open to a network path (internet gateway, VPN, peering, ...).
    NetworkReachability,
    /// A failed CIS benchmark check.
    Cis,
    /// A flaw in application code (Lambda code scanning).
    Code,
}

/// The most of each list kept from a finding: enough to act on, bounded against a finding
/// that names thousands (input from outside scanflow).
pub mod detail_limits {
    pub const PACKAGES: usize = 20;
    pub const REFERENCES: usize = 10;
    pub const PATH_STEPS: usize = 20;
    /// Characters of a name, version, id or vector.
    pub const SHORT: usize = 256;
    /// Characters of a URL.
    pub const URL: usize = 1024;
}

/// The triage details of a v2 finding. Every list and text is bounded by [`detail_limits`]
/// ([`FindingDetail::bounded`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingDetail {
    pub kind: FindingKind,
    /// The vulnerable packages, each with its installed and fixed-in versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<VulnerablePackage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<Cvss>,
    /// EPSS: the probability (0 to 1) that the vulnerability is exploited in the next 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<f64>,
    /// Whether a public exploit is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploit_available: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// For a network reachability finding: the open ports and the path to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkPath>,
    /// The instance, as Inspector describes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceFacts>,
    /// For a failed CIS check: which check, at which level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cis: Option<CisCheck>,
}

/// A CIS benchmark check an instance failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CisCheck {
    /// The benchmark's check id, e.g. `1.1.1.1`.
    pub check_id: String,
    pub level: CisLevel,
    /// The CIS scan that found it.
    pub scan_arn: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerablePackage {
    pub name: String,
    pub installed_version: String,
    /// `None`: no fixed version is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_manager: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cvss {
    pub base_score: f64,
    /// e.g. `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H`.
    pub vector: String,
    /// e.g. `3.1`.
    pub version: String,
    /// Who scored it, e.g. `NVD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPath {
    /// `TCP` or `UDP`.
    pub protocol: String,
    pub port_from: u16,
    pub port_to: u16,
    /// From the outside in: internet gateway, route table, network ACL, security group, ENI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<PathStep>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathStep {
    /// e.g. `AWS::EC2::InternetGateway`, `AWS::EC2::SecurityGroup`.
    pub component_type: String,
    /// e.g. `igw-0123456789abcdef0`.
    pub component_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ami: Option<String>,
    /// e.g. `AMAZON_LINUX_2023`, `WINDOWS_SERVER_2022`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
}

impl Cvss {
    /// The score a finding shows of those Inspector cites: NVD's CVSS 3.x when there is one
    /// (the scale Inspector's own score starts from), else the first given.
    pub fn preferred(scores: impl IntoIterator<Item = Cvss>) -> Option<Cvss> {
        let mut first = None;
        for c in scores {
            if c.source.as_deref() == Some("NVD") && c.version.starts_with('3') {
                return Some(c);
            }
            first.get_or_insert(c);
        }
        first
    }
}

impl FindingDetail {
    /// The same detail with every list cut to its limit and every text to its length, and
    /// scores outside their scales dropped: what an adapter keeps of what Inspector sent.
    pub fn bounded(mut self) -> Self {
        use crate::text::clip;
        use detail_limits as l;
        let short = |s: &mut String| *s = clip(s, l::SHORT);
        self.packages.truncate(l::PACKAGES);
        for p in &mut self.packages {
            short(&mut p.name);
            short(&mut p.installed_version);
            p.fixed_in_version = p.fixed_in_version.as_deref().map(|v| clip(v, l::SHORT));
            p.package_manager = p.package_manager.as_deref().map(|v| clip(v, l::SHORT));
        }
        self.cvss = self
            .cvss
            .filter(|c| (0.0..=10.0).contains(&c.base_score))
            .map(|mut c| {
                short(&mut c.vector);
                short(&mut c.version);
                c.source = c.source.as_deref().map(|v| clip(v, l::SHORT));
                c
            });
        self.epss = self.epss.filter(|e| (0.0..=1.0).contains(e));
        self.references.truncate(l::REFERENCES);
        for r in &mut self.references {
            *r = clip(r, l::URL);
        }
        if let Some(n) = &mut self.network {
            short(&mut n.protocol);
            n.steps.truncate(l::PATH_STEPS);
            for s in &mut n.steps {
                short(&mut s.component_type);
                short(&mut s.component_id);
            }
        }
        if let Some(i) = &mut self.instance {
            for v in [&mut i.ami, &mut i.platform, &mut i.instance_type] {
                *v = v.as_deref().map(|x| clip(x, l::SHORT));
            }
        }
        if let Some(c) = &mut self.cis {
            short(&mut c.check_id);
            c.scan_arn = clip(&c.scan_arn, l::URL);
        }
        self
    }

    /// The package line a person reads: `openssl 3.0.8-1 (fixed in 3.0.8-1.1)`, the first
    /// package and how many more.
    pub fn package_summary(&self) -> Option<String> {
        let first = self.packages.first()?;
        let mut s = format!("{} {}", first.name, first.installed_version);
        match &first.fixed_in_version {
            Some(fixed) => s.push_str(&format!(" (fixed in {fixed})")),
            None => s.push_str(" (no fixed version yet)"),
        }
        if self.packages.len() > 1 {
            s.push_str(&format!(" and {} more package(s)", self.packages.len() - 1));
        }
        Some(s)
    }

    /// The exposure a person reads first: `exploit available, EPSS 0.94`. Each figure is
    /// held together by a no-break space, so wrapping never leaves `0.94` alone on a line.
    pub fn risk_summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.exploit_available == Some(true) {
            parts.push("exploit\u{a0}available".to_owned());
        }
        if let Some(e) = self.epss {
            parts.push(format!("EPSS\u{a0}{e:.2}"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// For a reachability finding: `TCP 22 open via igw-1 > sg-2 > eni-3`.
    pub fn network_summary(&self) -> Option<String> {
        let n = self.network.as_ref()?;
        let ports = if n.port_from == n.port_to {
            n.port_from.to_string()
        } else {
            format!("{}-{}", n.port_from, n.port_to)
        };
        let path: Vec<&str> = n.steps.iter().map(|s| s.component_id.as_str()).collect();
        Some(if path.is_empty() {
            format!("{} {ports} open", n.protocol)
        } else {
            format!("{} {ports} open via {}", n.protocol, path.join(" > "))
        })
    }
}

/// Why an instance in scope was not scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Uncovered {
    pub instance_id: String,
    /// Short machine-readable reason, e.g. `AGENT_NOT_INSTALLED`, `UNMANAGED_EC2_INSTANCE`.
    pub reason: String,
    /// What to do about it, for people.
    pub remedy: String,
}

/// What the scan reached: the instances scanned and those in scope but not scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    pub scanned: Vec<String>,
    pub not_scanned: Vec<Uncovered>,
    /// The run's CIS scan, when the account's settings asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cis: Option<CisCoverage>,
}

/// How a run's CIS benchmark scan went: what a person must know besides its failed checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CisCoverage {
    pub level: CisLevel,
    /// `None` while Inspector has not listed the scan yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_arn: Option<String>,
    pub outcome: CisOutcome,
    /// Instances the scan checked to the end.
    pub checked: u64,
    /// Instances with at least one failed check.
    pub failing: u64,
    /// Instances in the scan's scope it could not check, and why (`SSM_UNMANAGED`,
    /// `UNSUPPORTED_OS`, `TIMED_OUT`, ...). At most [`CIS_NOT_CHECKED_KEPT`] are listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_checked: Vec<Uncovered>,
    /// How many instances could not be checked in all (the list may be cut).
    #[serde(default)]
    pub not_checked_total: u64,
}

/// The most unchecked instances a CIS coverage lists (the manifest stays small).
pub const CIS_NOT_CHECKED_KEPT: usize = 100;

/// The end of a run's CIS scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum CisOutcome {
    /// `COMPLETED`: the failed checks are among the run's findings.
    Completed,
    /// `FAILED` or `CANCELLED`: no checks were delivered; `detail` says what Inspector said.
    Failed { status: String, detail: String },
    /// Still `IN_PROGRESS` (or not yet listed) when the run's Duration was up: no checks were
    /// delivered; the vulnerability findings were.
    NotFinished,
}

/// Finding counts by severity, carried in the state instead of the findings themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub informational: u64,
    pub untriaged: u64,
}

impl SeverityCounts {
    pub fn add(&mut self, severity: Severity) {
        *self.slot(severity) += 1;
    }

    pub fn get(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Informational => self.informational,
            Severity::Untriaged => self.untriaged,
        }
    }

    pub fn total(&self) -> u64 {
        Severity::ALL.iter().map(|s| self.get(*s)).sum()
    }

    /// Adds `other`'s counts (saturating: sums over a fleet come from stored objects).
    pub fn merge(&mut self, other: &SeverityCounts) {
        for severity in Severity::ALL {
            let slot = self.slot(severity);
            *slot = slot.saturating_add(other.get(severity));
        }
    }

    fn slot(&mut self, severity: Severity) -> &mut u64 {
        match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Informational => &mut self.informational,
            Severity::Untriaged => &mut self.untriaged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_sort_most_severe_first_and_unknown_labels_are_kept() {
        let mut v = vec![
            Severity::Low,
            Severity::Critical,
            Severity::Untriaged,
            Severity::High,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Severity::Critical,
                Severity::High,
                Severity::Low,
                Severity::Untriaged
            ]
        );
        assert_eq!(Severity::from_label("high"), Severity::High);
        assert_eq!(Severity::from_label("Undefined"), Severity::Untriaged);
    }

    #[test]
    fn counts_add_up() {
        let mut c = SeverityCounts::default();
        for s in [
            Severity::High,
            Severity::High,
            Severity::Low,
            Severity::Untriaged,
        ] {
            c.add(s);
        }
        assert_eq!((c.high, c.low, c.untriaged, c.total()), (2, 1, 1, 4));
    }

    #[test]
    fn engine_names_round_trip() {
        for e in [Engine::Classic, Engine::Inspector2] {
            assert_eq!(Engine::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).ok(),
                Some(serde_json::json!(e.as_str()))
            );
        }
        assert_eq!(Engine::parse("v3"), None);
    }
}
