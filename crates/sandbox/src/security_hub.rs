//! Security Hub in each account: the Inspector findings it already has (Inspector sends them
//! natively), which of them were marked NOTIFIED and with what note, and scanflow's own imported
//! notices, with AWS's batch limit and its own-account rule for imports.

use std::collections::{BTreeMap, HashSet};
use std::future::{Future, ready};
use std::sync::Arc;

use scanflow_core::ScanError;
use scanflow_core::ports::{FindingRef, Notice, SECURITY_HUB_BATCH, SecurityHub, Unprocessed};

use crate::{Shared, lock};

/// `Note.Text` of `BatchUpdateFindings` holds at most 512 characters.
const NOTE_MAX: usize = 512;
/// ASFF limits on imported findings (partner guide).
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;

/// What one account's Security Hub holds of what scanflow sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityHubState {
    /// Imported notices by id (the latest import of each id wins).
    pub notices: BTreeMap<String, Notice>,
    /// Inspector finding ids marked NOTIFIED, with the note of the latest update.
    pub notified: BTreeMap<String, String>,
}

#[derive(Default)]
pub(crate) struct Account {
    pub state: SecurityHubState,
    /// Inspector findings Security Hub knows (only these can be updated).
    known: HashSet<String>,
}

/// Inspector delivered these findings to the account's Security Hub.
pub(crate) fn register_findings(
    shared: &Shared,
    account_id: &str,
    ids: impl Iterator<Item = String>,
) {
    let mut hubs = lock(&shared.security_hubs);
    hubs.entry(account_id.to_owned())
        .or_default()
        .known
        .extend(ids);
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

    /// `BatchUpdateFindings` with Workflow NOTIFIED and a note.
    fn mark_now(&self, findings: &[FindingRef], note: &str) -> Result<Vec<Unprocessed>, ScanError> {
        if findings.is_empty() {
            return Ok(Vec::new());
        }
        self.shared.count("securityhub:BatchUpdateFindings", 1);
        self.batch_limit("FindingIdentifiers", findings.len())?;
        let note_len = note.chars().count();
        if note_len == 0 || note_len > NOTE_MAX {
            return Err(ScanError::invalid(
                "Note.Text",
                format!("1 to {NOTE_MAX} characters"),
                format!("has {note_len}"),
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
            } else if !account.known.contains(&f.id) || f.region != self.region {
                unprocessed.push(Unprocessed {
                    id: f.id.clone(),
                    reason: format!(
                        "FindingNotFound: Security Hub in account {} ({}) has no finding with this id",
                        self.account_id, self.region
                    ),
                });
            } else {
                account.state.notified.insert(f.id.clone(), note.to_owned());
            }
        }
        Ok(unprocessed)
    }

    /// `BatchImportFindings` under the account's default product: only the caller's account.
    fn import_now(&self, notices: &[Notice]) -> Result<Vec<Unprocessed>, ScanError> {
        if notices.is_empty() {
            return Ok(Vec::new());
        }
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
    fn mark_notified(
        &self,
        findings: &[FindingRef],
        note: &str,
    ) -> impl Future<Output = Result<Vec<Unprocessed>, ScanError>> + Send {
        ready(self.mark_now(findings, note))
    }

    fn import_notices(
        &self,
        notices: &[Notice],
    ) -> impl Future<Output = Result<Vec<Unprocessed>, ScanError>> + Send {
        ready(self.import_now(notices))
    }
}
