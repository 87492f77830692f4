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
