//! Security Hub in one account (the hub's own, or a member's through its scan role): finds the
//! Inspector findings still NEW, marks delivered ones NOTIFIED (recording the run in their
//! user-defined fields, never in a note), and imports scanflow's own notices as ASFF findings.
//!
//! Batches: both calls take at most [`SECURITY_HUB_BATCH`] items; more is refused before any
//! call (the caller splits). Throttling is retried by the SDK's standard retry; items the
//! service refuses come back as [`Unprocessed`].

use aws_sdk_securityhub::Client;
use std::collections::{BTreeMap, HashMap};

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, AwsSecurityFindingIdentifier,
    FindingProviderFields, FindingProviderSeverity, Partition, Recommendation, RecordState,
    Remediation, Resource, Severity as AsffSeverity, SeverityLabel, StringFilter,
    StringFilterComparison, WorkflowStatus, WorkflowUpdate,
};
use scanflow_core::ScanError;
use scanflow_core::model::Severity;
use scanflow_core::ports::{
    FindingRef, NewFinding, NewFindingsPage, Notice, NoticeKind, NoticeResource,
    SECURITY_HUB_BATCH, SecurityHub, Unprocessed,
};

use crate::error::Scope;
use scanflow_core::partition;

/// ASFF's only schema version.
const SCHEMA_VERSION: &str = "2018-10-08";
/// The finding type of every notice.
pub const NOTICE_TYPE: &str = "Software and Configuration Checks/Vulnerabilities";
/// `GeneratorId` and `UpdatedBy` of everything scanflow writes.
pub const GENERATOR: &str = "scanflow";
/// `BatchUpdateFindings` error codes worth a second try.
const RETRYABLE_UPDATE_CODES: &[&str] = &[
    "ConcurrentUpdateError",
    "InternalFailure",
    "LimitExceeded",
    "LimitExceededException",
    "ThrottlingException",
];
/// ASFF text limits (partner guide): title, description, remediation text, note text.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
const REMEDY_MAX: usize = 512;
/// `GetFindings` page size (its maximum).
const FINDINGS_PAGE: i32 = 100;

/// The AWS implementation of [`SecurityHub`] for one account and region.
#[derive(Debug, Clone)]
pub struct AwsSecurityHub {
    client: Client,
    scope: Scope,
}

impl AwsSecurityHub {
    /// `scope` is the calling account: `BatchImportFindings` only takes findings of its own.
    pub fn new(client: Client, scope: Scope) -> Self {
        Self { client, scope }
    }

    /// The custom-integration product ARN of the calling account.
    pub fn product_arn(&self) -> String {
        let Scope { account_id, region } = &self.scope;
        format!(
            "arn:{}:securityhub:{region}:{account_id}:product/{account_id}/default",
            partition::of(region)
        )
    }

    fn refuse_oversized(&self, what: &str, count: usize) -> Result<(), ScanError> {
        if count > SECURITY_HUB_BATCH {
            return Err(ScanError::invalid(
                what,
                format!("at most {SECURITY_HUB_BATCH} per Security Hub call"),
                format!("has {count}; split it into batches"),
            ));
        }
        Ok(())
    }

    /// The ASFF finding for a notice, owned by the calling account.
    pub fn asff(&self, notice: &Notice) -> AwsSecurityFinding {
        let (label, original) = asff_severity(notice.severity);
        let resource = match &notice.resource {
            NoticeResource::AwsAccount { id } => Resource::builder()
                .r#type("AwsAccount")
                .id(format!("AWS::::Account:{id}")),
            NoticeResource::AwsEc2Instance { id } => Resource::builder()
                .r#type("AwsEc2Instance")
                .id(if id.starts_with("arn:") {
                    id.clone()
                } else {
                    format!(
                        "arn:{}:ec2:{}:{}:instance/{id}",
                        partition::of(&notice.region),
                        notice.region,
                        notice.account_id
                    )
                }),
        }
        .partition(Partition::from(partition::of(&notice.region)))
        .region(&notice.region)
        .build();
        let kind = match notice.kind {
            NoticeKind::ScanFailed => "scan-failed",
            NoticeKind::NotScanned => "not-scanned",
        };
        AwsSecurityFinding::builder()
            .schema_version(SCHEMA_VERSION)
            .id(&notice.id)
            .product_arn(self.product_arn())
            .generator_id(GENERATOR)
            .aws_account_id(&self.scope.account_id)
            .types(NOTICE_TYPE)
            .created_at(&notice.created_at)
            .updated_at(notice.resolved_at.as_ref().unwrap_or(&notice.created_at))
            .record_state(if notice.resolved_at.is_some() {
                RecordState::Archived
            } else {
                RecordState::Active
            })
            .severity(
                AsffSeverity::builder()
                    .label(label.clone())
                    .original(original)
                    .build(),
            )
            .finding_provider_fields(
                FindingProviderFields::builder()
                    .severity(
                        FindingProviderSeverity::builder()
                            .label(label)
                            .original(original)
                            .build(),
                    )
                    .types(NOTICE_TYPE)
                    .build(),
            )
            .title(truncate(&notice.title, TITLE_MAX))
            .description(truncate(&notice.description, DESCRIPTION_MAX))
            .remediation(
                Remediation::builder()
                    .recommendation(
                        Recommendation::builder()
                            .text(truncate(&notice.remedy, REMEDY_MAX))
                            .build(),
                    )
                    .build(),
            )
            .resources(resource)
            .company_name(GENERATOR)
            .product_name(GENERATOR)
            .product_fields("scanflow/kind", kind)
            .product_fields("scanflow/execution", &notice.execution)
            .product_fields("scanflow/accountId", &notice.account_id)
            .product_fields("scanflow/region", &notice.region)
            .build()
    }
}

impl SecurityHub for AwsSecurityHub {
    async fn new_findings(&self, cursor: Option<String>) -> Result<NewFindingsPage, ScanError> {
        let Scope { account_id, region } = &self.scope;
        let call = self.scope.call(
            "securityhub:GetFindings",
            format!("NEW Inspector findings of {account_id} ({region})"),
        );
        let equals = |value: &str| {
            vec![
                StringFilter::builder()
                    .value(value)
                    .comparison(StringFilterComparison::Equals)
                    .build(),
            ]
        };
        let filters = AwsSecurityFindingFilters::builder()
            .set_product_arn(Some(equals(&inspector_product(region))))
            .set_aws_account_id(Some(equals(account_id)))
            .set_region(Some(equals(region)))
            .set_workflow_status(Some(equals("NEW")))
            .set_record_state(Some(equals("ACTIVE")))
            .build();
        let out = self
            .client
            .get_findings()
            .filters(filters)
            .max_results(FINDINGS_PAGE)
            .set_next_token(cursor)
            .send()
            .await
            .map_err(|e| call.error(&e))?;
        Ok(NewFindingsPage {
            findings: out
                .findings()
                .iter()
                .filter_map(|f| {
                    Some(NewFinding {
                        id: f.id()?.to_owned(),
                        user_defined_fields: f
                            .user_defined_fields()
                            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .unwrap_or_default(),
                    })
                })
                .collect(),
            next: crate::next_page(out.next_token()),
        })
    }

    async fn mark_notified(
        &self,
        findings: &[FindingRef],
        user_defined_fields: &BTreeMap<String, String>,
    ) -> Result<Vec<Unprocessed>, ScanError> {
        self.refuse_oversized("findings", findings.len())?;
        if findings.is_empty() {
            return Ok(Vec::new());
        }
        let call = self.scope.call(
            "securityhub:BatchUpdateFindings",
            format!("{} Inspector findings", findings.len()),
        );
        let fields: HashMap<String, String> = user_defined_fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut pending: Vec<AwsSecurityFindingIdentifier> = findings
            .iter()
            .map(|f| {
                AwsSecurityFindingIdentifier::builder()
                    .id(&f.id)
                    .product_arn(inspector_product(&f.region))
                    .build()
            })
            .collect();
        let mut refused = Vec::new();
        for attempt in 0..2 {
            let out = self
                .client
                .batch_update_findings()
                .set_finding_identifiers(Some(pending.clone()))
                .workflow(
                    WorkflowUpdate::builder()
                        .status(WorkflowStatus::Notified)
                        .build(),
                )
                .set_user_defined_fields(Some(fields.clone()))
                .send()
                .await
                .map_err(|e| call.error(&e))?;
            let mut again = Vec::new();
            for u in out.unprocessed_findings() {
                let code = u.error_code().unwrap_or("Unknown");
                match u.finding_identifier() {
                    Some(id) if attempt == 0 && RETRYABLE_UPDATE_CODES.contains(&code) => {
                        again.push(id.clone());
                    }
                    id => refused.push(Unprocessed {
                        id: id.and_then(|i| i.id()).unwrap_or_default().to_owned(),
                        reason: format!("{code}: {}", u.error_message().unwrap_or_default()),
                    }),
                }
            }
            if again.is_empty() {
                break;
            }
            tracing::info!(
                count = again.len(),
                "retrying findings Security Hub could not update"
            );
            pending = again;
        }
        Ok(refused)
    }

    async fn import_notices(&self, notices: &[Notice]) -> Result<Vec<Unprocessed>, ScanError> {
        self.refuse_oversized("notices", notices.len())?;
        if notices.is_empty() {
            return Ok(Vec::new());
        }
        let call = self.scope.call(
            "securityhub:BatchImportFindings",
            format!("{} scanflow notices", notices.len()),
        );
        let out = self
            .client
            .batch_import_findings()
            .set_findings(Some(notices.iter().map(|n| self.asff(n)).collect()))
            .send()
            .await
            .map_err(|e| call.error(&e))?;
        Ok(out
            .failed_findings()
            .iter()
            .map(|f| Unprocessed {
                id: f.id().unwrap_or_default().to_owned(),
                reason: format!(
                    "{}: {}",
                    f.error_code().unwrap_or("Unknown"),
                    f.error_message().unwrap_or_default()
                ),
            })
            .collect())
    }
}

/// The product both Inspector generations send their findings under.
fn inspector_product(region: &str) -> String {
    format!(
        "arn:{}:securityhub:{region}::product/aws/inspector",
        partition::of(region)
    )
}

/// ASFF has no UNTRIAGED label: it becomes INFORMATIONAL, the original kept.
fn asff_severity(severity: Severity) -> (SeverityLabel, &'static str) {
    let label = match severity {
        Severity::Critical => SeverityLabel::Critical,
        Severity::High => SeverityLabel::High,
        Severity::Medium => SeverityLabel::Medium,
        Severity::Low => SeverityLabel::Low,
        Severity::Informational | Severity::Untriaged => SeverityLabel::Informational,
    };
    (label, severity.as_str())
}

/// Cuts `text` to `max` characters, marking the cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_arn_names_the_calling_account() {
        let hub = AwsSecurityHub::new(
            aws_sdk_securityhub::Client::from_conf(
                aws_sdk_securityhub::Config::builder()
                    .behavior_version(aws_sdk_securityhub::config::BehaviorVersion::latest())
                    .build(),
            ),
            Scope::new("111122223333", "eu-west-1"),
        );
        assert_eq!(
            hub.product_arn(),
            "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
        );
    }

    #[test]
    fn truncation_is_by_characters_and_marked() {
        assert_eq!(truncate("abc", 3), "abc");
        let cut = truncate(&"é".repeat(300), TITLE_MAX);
        assert_eq!(cut.chars().count(), TITLE_MAX);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn untriaged_keeps_its_original_label() {
        assert_eq!(
            asff_severity(Severity::Untriaged),
            (SeverityLabel::Informational, "UNTRIAGED")
        );
        assert_eq!(asff_severity(Severity::High), (SeverityLabel::High, "HIGH"));
    }
}
