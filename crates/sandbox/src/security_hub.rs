//! Security Hub in each account: the Inspector findings it already has (Inspector sends them
//! natively) with their triage (workflow status, analysts' notes, user-defined fields, some
//! set by an analyst in the scenario), which of them scanflow marked NOTIFIED, and scanflow's
//! own imported notices, with AWS's batch limits and its own-account rule for imports.

use std::collections::{BTreeMap, HashSet};
use std::future::{Future, ready};
use std::sync::Arc;

use scanflow_core::ScanError;
use scanflow_core::ports::{
    FindingRef, NewFinding, NewFindingsPage, Notice, SECURITY_HUB_BATCH, SecurityHub, Unprocessed,
    WorkflowStatus,
};

use crate::{Shared, lock};

/// ASFF limits on imported findings (partner guide).
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
/// `GetFindings` returns at most 100 findings a page.
const PAGE: usize = 100;

/// An Inspector finding in Security Hub, as people triage it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triage {
    pub workflow: WorkflowStatus,
    pub note: Option<String>,
    pub user_defined_fields: BTreeMap<String, String>,
}

/// What one account's Security Hub holds of what scanflow and the analysts did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityHubState {
    /// Imported notices by id (the latest import of each id wins).
    pub notices: BTreeMap<String, Notice>,
    /// Inspector findings scanflow marked NOTIFIED, with the user-defined fields it set.
    pub notified: BTreeMap<String, BTreeMap<String, String>>,
    /// Every Inspector finding Security Hub has, with its triage.
    pub findings: BTreeMap<String, Triage>,
}

#[derive(Default)]
pub(crate) struct Account {
    pub state: SecurityHubState,
}

/// Inspector delivered these findings (id, vulnerability id) to the account's Security Hub.
/// A finding it already has keeps its triage; a new one is NEW, unless the scenario's analyst
/// has triaged its vulnerability.
pub(crate) fn register_findings<'a>(
    shared: &Shared,
    account_id: &str,
    findings: impl Iterator<Item = (String, Option<&'a str>)>,
) {
    let analyst = shared
        .scenario
        .accounts
        .iter()
        .find(|a| a.account_id == account_id)
        .map(|a| a.analyst.as_slice())
        .unwrap_or_default();
    let mut hubs = lock(&shared.security_hubs);
    let known = &mut hubs
        .entry(account_id.to_owned())
        .or_default()
        .state
        .findings;
    for (id, vulnerability) in findings {
        known.entry(id).or_insert_with(|| {
            let mark = analyst
                .iter()
                .find(|m| Some(m.vulnerability_id.as_str()) == vulnerability);
            Triage {
                workflow: mark.map_or(WorkflowStatus::New, |m| m.workflow),
                note: mark.and_then(|m| m.note.clone()),
                user_defined_fields: BTreeMap::new(),
            }
        });
    }
}

/// Security Hub of one account, as the caller's credentials reach it.
pub struct SecurityHubSim {
    shared: Arc<Shared>,
    account_id: String,
    region: String,
}

impl SecurityHubSim {
    pub(crate) fn new(shared: Arc<Shared>, account_id: String, region: String) -> Self {
        Self {
            shared,
            account_id,
            region,
        }
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn batch_limit(&self, field: &str, n: usize) -> Result<(), ScanError> {
        if n > SECURITY_HUB_BATCH {
            return Err(ScanError::invalid(
                field,
                format!("1 to {SECURITY_HUB_BATCH} items per call (Security Hub's limit)"),
                format!("has {n}"),
            ));
        }
        Ok(())
    }

    /// `GetFindings` filtered on workflow NEW, a page at a time.
    fn new_now(&self, cursor: Option<String>) -> Result<NewFindingsPage, ScanError> {
        self.shared
            .admit("securityhub:GetFindings", &self.account_id, &self.region)?;
        self.shared.count("securityhub:GetFindings", 1);
        let skip: usize = match cursor.as_deref() {
            None => 0,
            Some(c) => c.parse().map_err(|_| {
                ScanError::invalid(
                    "NextToken",
                    "a token GetFindings returned",
                    format!("is {}", scanflow_core::error::quote(c)),
                )
            })?,
        };
        let hubs = lock(&self.shared.security_hubs);
        let Some(account) = hubs.get(&self.account_id) else {
            return Ok(NewFindingsPage::default());
        };
        let new: Vec<NewFinding> = account
            .state
            .findings
            .iter()
            .filter(|(_, t)| t.workflow == WorkflowStatus::New)
            .skip(skip)
            .take(PAGE + 1)
            .map(|(id, t)| NewFinding {
                id: id.clone(),
                user_defined_fields: t.user_defined_fields.clone(),
            })
            .collect();
        let more = new.len() > PAGE;
        Ok(NewFindingsPage {
            findings: new.into_iter().take(PAGE).collect(),
            next: more.then(|| (skip + PAGE).to_string()),
        })
    }

    /// `BatchUpdateFindings` with Workflow NOTIFIED and user-defined fields (which replace the
    /// finding's). Like AWS, it updates whatever it is given: keeping triage is the caller's
    /// job.
    fn mark_now(
        &self,
        findings: &[FindingRef],
        fields: &BTreeMap<String, String>,
    ) -> Result<Vec<Unprocessed>, ScanError> {
        if findings.is_empty() {
            return Ok(Vec::new());
        }
        self.shared.admit(
            "securityhub:BatchUpdateFindings",
            &self.account_id,
            &self.region,
        )?;
        self.shared.count("securityhub:BatchUpdateFindings", 1);
        self.batch_limit("FindingIdentifiers", findings.len())?;
        if fields.len() > 50 {
            return Err(ScanError::invalid(
                "UserDefinedFields",
                "at most 50 fields",
                format!("has {}", fields.len()),
            ));
        }
        let mut hubs = lock(&self.shared.security_hubs);
        let account = hubs.entry(self.account_id.clone()).or_default();
        let mut seen = HashSet::new();
        let mut unprocessed = Vec::new();
        for f in findings {
            if !seen.insert(f.id.as_str()) {
                unprocessed.push(Unprocessed {
                    id: f.id.clone(),
                    reason: "DuplicatedFindingIdentifier: the finding is listed twice in this call"
                        .into(),
                });
            } else if f.region != self.region {
                unprocessed.push(Unprocessed {
                    id: f.id.clone(),
                    reason: format!(
                        "FindingNotFound: Security Hub in account {} ({}) has no finding with this id",
                        self.account_id, self.region
                    ),
                });
            } else if let Some(t) = account.state.findings.get_mut(&f.id) {
                t.workflow = WorkflowStatus::Notified;
                t.user_defined_fields = fields.clone();
                account.state.notified.insert(f.id.clone(), fields.clone());
            } else {
                unprocessed.push(Unprocessed {
                    id: f.id.clone(),
                    reason: format!(
                        "FindingNotFound: Security Hub in account {} ({}) has no finding with this id",
                        self.account_id, self.region
                    ),
                });
            }
        }
        Ok(unprocessed)
    }

    /// `BatchImportFindings` under the account's default product: only the caller's account.
    fn import_now(&self, notices: &[Notice]) -> Result<Vec<Unprocessed>, ScanError> {
        if notices.is_empty() {
            return Ok(Vec::new());
        }
        self.shared.admit(
            "securityhub:BatchImportFindings",
            &self.account_id,
            &self.region,
        )?;
        self.shared.count("securityhub:BatchImportFindings", 1);
        self.batch_limit("Findings", notices.len())?;
        let mut hubs = lock(&self.shared.security_hubs);
        let account = hubs.entry(self.account_id.clone()).or_default();
        let mut unprocessed = Vec::new();
        for n in notices {
            let refused = if n.account_id != self.account_id {
                Some(format!(
                    "AccessDeniedException: account {} cannot import a finding whose AwsAccountId \
                     is {}: with the default product ARN \
                     (arn:aws:securityhub:{}:{}:product/{}/default) only the caller's own account \
                     is accepted. Import it with credentials of account {}",
                    self.account_id,
                    n.account_id,
                    self.region,
                    self.account_id,
                    self.account_id,
                    n.account_id
                ))
            } else if n.title.is_empty() || n.title.chars().count() > TITLE_MAX {
                Some(format!(
                    "InvalidInput: Title must have 1 to {TITLE_MAX} characters, has {}",
                    n.title.chars().count()
                ))
            } else if n.description.is_empty() || n.description.chars().count() > DESCRIPTION_MAX {
                Some(format!(
                    "InvalidInput: Description must have 1 to {DESCRIPTION_MAX} characters, has {}",
                    n.description.chars().count()
                ))
            } else {
                None
            };
            match refused {
                Some(reason) => unprocessed.push(Unprocessed {
                    id: n.id.clone(),
                    reason,
                }),
                None => {
                    account.state.notices.insert(n.id.clone(), n.clone());
                }
            }
        }
        Ok(unprocessed)
    }
}

impl SecurityHub for SecurityHubSim {
    fn new_findings(
        &self,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<NewFindingsPage, ScanError>> + Send {
        ready(self.new_now(cursor))
    }

    fn mark_notified(
        &self,
        findings: &[FindingRef],
        user_defined_fields: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<Vec<Unprocessed>, ScanError>> + Send {
        ready(self.mark_now(findings, user_defined_fields))
    }

    fn import_notices(
        &self,
        notices: &[Notice],
    ) -> impl Future<Output = Result<Vec<Unprocessed>, ScanError>> + Send {
        ready(self.import_now(notices))
    }
}
