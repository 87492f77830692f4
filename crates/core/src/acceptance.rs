//! Accepted risks: the security team's decisions that a vulnerability (on an instance, or
//! everywhere, in one account or all) is known and tolerated until a date, with a reason and
//! an owner. An accepted finding still goes to the SIEM, flagged; it is left out of the figures
//! that page people (new critical/high, overdue) until its acceptance expires, and an expired
//! acceptance is called out so it is renewed or the finding fixed.
//!
//! The list is one object in the hub bucket, [`crate::keys::ACCEPTED_RISKS`], edited by the
//! team (the bucket's versioning keeps who changed what); format reads it for every scan.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ScanError;
use crate::model::Finding;
use crate::ports::ReportStore;

/// The most entries the list may hold: every finding is checked against them.
pub const MAX_ENTRIES: usize = 10_000;
/// The most characters of a reason or an owner.
pub const TEXT_CHARS: usize = 256;
/// The most bytes the object may have.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// One accepted risk, as the team writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptedRisk {
    /// The vulnerability (a CVE id, or Classic's rule id); absent: every finding on `resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerability_id: Option<String>,
    /// The instance id; absent: the vulnerability on every instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The account; absent: every account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub reason: String,
    /// Who accepted it (a person or a team's address): who is asked when it expires.
    pub owner: String,
    /// RFC 3339; the acceptance holds strictly before this instant.
    pub expires_at: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    accepted_risks: Vec<AcceptedRisk>,
}

/// Whether an acceptance covers a finding at the time of the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    Accepted,
    Expired,
}

/// The acceptance a finding carries into the digest and the SIEM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Acceptance {
    pub status: Standing,
    pub reason: String,
    pub owner: String,
    pub expires_at: String,
}

/// The validated list, each expiry parsed once.
#[derive(Debug, Default)]
pub struct AcceptedRisks {
    entries: Vec<(AcceptedRisk, OffsetDateTime)>,
}

impl AcceptedRisks {
    /// Parses and checks the list; a bad entry fails the whole list, naming it, so a typo never
    /// silently un-accepts (or accepts) anything.
    pub fn parse(bytes: &[u8]) -> Result<Self, ScanError> {
        const FIELD: &str = "acceptedRisks";
        if bytes.len() > MAX_BYTES {
            return Err(ScanError::invalid(
                FIELD,
                format!("at most {MAX_BYTES} bytes"),
                format!("is {} bytes", bytes.len()),
            ));
        }
        let file: File = serde_json::from_slice(bytes).map_err(|e| {
            ScanError::invalid(
                FIELD,
                "{\"acceptedRisks\": [{\"vulnerabilityId\", \"resource\", \"accountId\", \
                 \"reason\", \"owner\", \"expiresAt\"}, ...]}",
                crate::text::clip(&e.to_string(), 200),
            )
        })?;
        if file.accepted_risks.len() > MAX_ENTRIES {
            return Err(ScanError::invalid(
                FIELD,
                format!("at most {MAX_ENTRIES} entries"),
                format!("has {}", file.accepted_risks.len()),
            ));
        }
        let mut entries = Vec::with_capacity(file.accepted_risks.len());
        for (i, r) in file.accepted_risks.into_iter().enumerate() {
            let field = |name: &str| format!("{FIELD}[{i}].{name}");
            if r.vulnerability_id.is_none() && r.resource.is_none() {
                return Err(ScanError::invalid(
                    field("vulnerabilityId"),
                    "a vulnerability id, a resource, or both (an entry naming neither would \
                     accept everything)",
                    "neither is given",
                ));
            }
            for (name, value) in [("reason", &r.reason), ("owner", &r.owner)] {
                let chars = value.trim().chars().count();
                if chars == 0 || chars > TEXT_CHARS {
                    return Err(ScanError::invalid(
                        field(name),
                        format!("1 to {TEXT_CHARS} characters"),
                        format!("has {chars}"),
                    ));
                }
            }
            for (name, value) in [
                ("vulnerabilityId", &r.vulnerability_id),
                ("resource", &r.resource),
            ] {
                if value
                    .as_ref()
                    .is_some_and(|v| v.is_empty() || v.len() > 256)
                {
                    return Err(ScanError::invalid(
                        field(name),
                        "1 to 256 bytes, or left out",
                        "is empty or longer",
                    ));
                }
            }
            if let Some(account) = &r.account_id {
                crate::input::validate_account_id(&field("accountId"), account)?;
            }
            let expires = crate::time::parse(&field("expiresAt"), &r.expires_at)?;
            entries.push((r, expires));
        }
        Ok(Self { entries })
    }

    /// The list in the report store; none when the object does not exist.
    pub async fn load<S: ReportStore>(store: &S) -> Result<Self, ScanError> {
        match store.get(crate::keys::ACCEPTED_RISKS).await {
            Ok(bytes) => Self::parse(&bytes),
            Err(ScanError::NotFound { .. }) => Ok(Self::default()),
            Err(e) => Err(e),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The acceptance covering `finding` at `at`: one in force wins over an expired one, and
    /// of several, the most specific (naming both the vulnerability and the resource).
    pub fn check(&self, finding: &Finding, at: OffsetDateTime) -> Option<Acceptance> {
        let matches = |r: &AcceptedRisk| {
            r.vulnerability_id
                .as_deref()
                .is_none_or(|v| finding.vulnerability_id.as_deref() == Some(v))
                && r.resource
                    .as_deref()
                    .is_none_or(|i| finding.instance_id.as_deref() == Some(i))
                && r.account_id
                    .as_deref()
                    .is_none_or(|a| finding.account_id == a)
        };
        let specificity = |r: &AcceptedRisk| {
            usize::from(r.vulnerability_id.is_some()) + usize::from(r.resource.is_some())
        };
        self.entries
            .iter()
            .filter(|(r, _)| matches(r))
            .max_by_key(|(r, expires)| (at < *expires, specificity(r)))
            .map(|(r, expires)| Acceptance {
                status: if at < *expires {
                    Standing::Accepted
                } else {
                    Standing::Expired
                },
                reason: r.reason.clone(),
                owner: r.owner.clone(),
                expires_at: r.expires_at.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Engine, Severity};

    fn finding(vuln: &str, instance: &str) -> Finding {
        Finding {
            id: format!("arn:{vuln}:{instance}"),
            engine: Engine::Inspector2,
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            severity: Severity::Critical,
            title: vuln.into(),
            instance_id: Some(instance.into()),
            instance_tags: Default::default(),
            vulnerability_id: Some(vuln.into()),
            description: String::new(),
            recommendation: String::new(),
            fix_available: None,
            score: None,
            first_seen: None,
            last_seen: None,
            rules_package_arn: None,
            detail: None,
        }
    }

    fn list(entries: serde_json::Value) -> Result<AcceptedRisks, ScanError> {
        AcceptedRisks::parse(
            serde_json::json!({ "acceptedRisks": entries })
                .to_string()
                .as_bytes(),
        )
    }

    fn at(t: &str) -> OffsetDateTime {
        crate::time::parse("t", t).expect("time")
    }

    #[test]
    fn an_acceptance_holds_until_the_instant_it_expires_and_not_at_it() {
        let risks = list(serde_json::json!([{
            "vulnerabilityId": "CVE-2024-6387", "reason": "sshd not exposed", "owner": "alice",
            "expiresAt": "2026-12-01T00:00:00Z"
        }]))
        .expect("valid");
        let f = finding("CVE-2024-6387", "i-1");
        let standing = |t| risks.check(&f, at(t)).map(|a| a.status);
        assert_eq!(standing("2026-11-30T23:59:59Z"), Some(Standing::Accepted));
        assert_eq!(standing("2026-12-01T00:00:00Z"), Some(Standing::Expired));
        assert_eq!(standing("2027-06-01T00:00:00Z"), Some(Standing::Expired));
        assert_eq!(
            risks.check(&finding("CVE-2024-0001", "i-1"), at("2026-11-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn the_narrowest_acceptance_in_force_wins_and_scopes_are_respected() {
        let risks = list(serde_json::json!([
            {"vulnerabilityId": "CVE-1", "reason": "everywhere, expired", "owner": "a",
             "expiresAt": "2026-01-01T00:00:00Z"},
            {"resource": "i-1", "reason": "the whole host", "owner": "b",
             "expiresAt": "2027-01-01T00:00:00Z"},
            {"vulnerabilityId": "CVE-1", "resource": "i-1", "reason": "this one", "owner": "c",
             "expiresAt": "2027-01-01T00:00:00Z"},
            {"vulnerabilityId": "CVE-2", "accountId": "444455556666", "reason": "other account",
             "owner": "d", "expiresAt": "2027-01-01T00:00:00Z"}
        ]))
        .expect("valid");
        let now = at("2026-11-30T00:00:00Z");
        let owner = |v, i| risks.check(&finding(v, i), now).map(|a| a.owner);
        assert_eq!(
            owner("CVE-1", "i-1").as_deref(),
            Some("c"),
            "the most specific"
        );
        assert_eq!(owner("CVE-9", "i-1").as_deref(), Some("b"), "the host");
        let elsewhere = risks
            .check(&finding("CVE-1", "i-2"), now)
            .expect("the expired one");
        assert_eq!(
            (elsewhere.owner.as_str(), elsewhere.status),
            ("a", Standing::Expired)
        );
        assert_eq!(
            owner("CVE-2", "i-1").as_deref(),
            Some("b"),
            "CVE-2's is another account's"
        );
        assert_eq!(owner("CVE-2", "i-3"), None);
    }

    #[test]
    fn a_bad_entry_is_refused_naming_it() {
        let ok = serde_json::json!({"vulnerabilityId": "CVE-1", "reason": "r", "owner": "o",
                                    "expiresAt": "2027-01-01T00:00:00Z"});
        let cases = [
            (
                serde_json::json!({"reason": "r", "owner": "o", "expiresAt": "2027-01-01T00:00:00Z"}),
                "acceptedRisks[1].vulnerabilityId",
            ),
            (
                serde_json::json!({"resource": "i-1", "reason": " ", "owner": "o",
                                "expiresAt": "2027-01-01T00:00:00Z"}),
                "acceptedRisks[1].reason",
            ),
            (
                serde_json::json!({"resource": "i-1", "reason": "r", "owner": "o".repeat(257),
                                "expiresAt": "2027-01-01T00:00:00Z"}),
                "acceptedRisks[1].owner",
            ),
            (
                serde_json::json!({"resource": "i-1", "reason": "r", "owner": "o",
                                "expiresAt": "next year"}),
                "acceptedRisks[1].expiresAt",
            ),
            (
                serde_json::json!({"resource": "i-1", "reason": "r", "owner": "o", "accountId": "12",
                                "expiresAt": "2027-01-01T00:00:00Z"}),
                "acceptedRisks[1].accountId",
            ),
        ];
        for (bad, field) in cases {
            let err = list(serde_json::json!([ok.clone(), bad])).expect_err(field);
            assert!(
                matches!(&err, ScanError::InvalidInput { field: f, .. } if f == field),
                "{field}: {err}"
            );
        }
        let unknown = list(
            serde_json::json!([{"resource": "i-1", "reason": "r", "owner": "o",
            "expiresAt": "2027-01-01T00:00:00Z", "expires": "typo"}]),
        );
        assert!(unknown.is_err(), "an unknown field (a typo) is refused");
        // The limits, at and one past.
        let many = |n: usize| serde_json::Value::Array(vec![ok.clone(); n]);
        assert!(list(many(MAX_ENTRIES)).is_ok());
        assert!(list(many(MAX_ENTRIES + 1)).is_err());
        let owner_at = |n: usize| {
            list(
                serde_json::json!([{"resource": "i-1", "reason": "r", "owner": "ü".repeat(n),
                                     "expiresAt": "2027-01-01T00:00:00Z"}]),
            )
        };
        assert!(owner_at(TEXT_CHARS).is_ok());
        assert!(owner_at(TEXT_CHARS + 1).is_err());
    }
}
