//! Security Hub in each account: the Inspector findings it already has (Inspector sends them
//! natively) with their triage (workflow status, analysts' notes, user-defined fields, some
//! set by an analyst in the scenario), which of them scanflow marked NOTIFIED, and scanflow's
//! own imported notices, with AWS's batch limits and its own-account rule for imports.

use std::collections::{BTreeMap, HashMap, HashSet};
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

/// What one account's Security Hub holds, kept compactly: a million Inspector findings take
/// about 70 MB here instead of the gigabyte of strings and maps a [`SecurityHubState`] of them
/// is (which [`crate::Sandbox::security_hub_state`] writes out when asked).
#[derive(Default)]
pub(crate) struct Account {
    notices: BTreeMap<String, Notice>,
    findings: BTreeMap<Key, Held>,
    /// The `…:finding/` prefixes of the Inspector v2 ARNs held (one per account and Region).
    prefixes: Vec<Box<str>>,
    /// Distinct user-defined field maps; [`Held::fields`] indexes them (0: none). Every finding
    /// marked in one delivery shares its map.
    field_sets: Vec<BTreeMap<String, String>>,
    field_index: HashMap<BTreeMap<String, String>, u32>,
}

/// A finding id: an Inspector v2 finding ARN (`arn:aws:inspector2:<region>:<account>:finding/`
/// and 32 lowercase hex digits) as its prefix's index and 16 bytes, any other id as text.
/// An id has one form only, so looking one up never misses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Arn { prefix: u32, id: [u8; 16] },
    Text(Box<str>),
}

/// One finding's triage.
#[derive(Debug, Clone)]
struct Held {
    workflow: WorkflowStatus,
    note: Option<Box<str>>,
    /// Index into [`Account::field_sets`].
    fields: u32,
    /// scanflow marked it NOTIFIED (with these fields).
    notified: bool,
}

/// `id` as an Inspector v2 ARN's prefix and 16 bytes, when it is one.
fn split_arn(id: &str) -> Option<(&str, [u8; 16])> {
    const MARK: &str = ":finding/";
    if !id.starts_with("arn:") || id.split(':').nth(2) != Some("inspector2") {
        return None;
    }
    let at = id.rfind(MARK)? + MARK.len();
    let (prefix, hex) = id.split_at(at);
    if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(hex, &mut bytes).ok()?;
    Some((prefix, bytes))
}

impl Account {
    /// The key of `id`, its prefix recorded.
    fn key(&mut self, id: &str) -> Key {
        let Some((prefix, bytes)) = split_arn(id) else {
            return Key::Text(id.into());
        };
        Key::Arn {
            prefix: self.prefix_index(prefix),
            id: bytes,
        }
    }

    /// The index of an ARN prefix in [`Account::prefixes`], added if new.
    fn prefix_index(&mut self, prefix: &str) -> u32 {
        let index = match self.prefixes.iter().position(|p| &**p == prefix) {
            Some(i) => i,
            None => {
                self.prefixes.push(prefix.into());
                self.prefixes.len() - 1
            }
        };
        index as u32
    }

    /// The key of `id` if this account can hold it.
    fn find(&self, id: &str) -> Option<Key> {
        match split_arn(id) {
            None => Some(Key::Text(id.into())),
            Some((prefix, bytes)) => {
                let index = self.prefixes.iter().position(|p| &**p == prefix)?;
                Some(Key::Arn {
                    prefix: index as u32,
                    id: bytes,
                })
            }
        }
    }

    fn id_of(&self, key: &Key) -> String {
        match key {
            Key::Text(text) => text.to_string(),
            Key::Arn { prefix, id } => format!(
                "{}{}",
                self.prefixes.get(*prefix as usize).map_or("", |p| &**p),
                hex::encode(id)
            ),
        }
    }

    fn fields_of(&self, held: &Held) -> BTreeMap<String, String> {
        self.field_sets
            .get(held.fields as usize)
            .cloned()
            .unwrap_or_default()
    }

    /// The index of `fields` in [`Account::field_sets`], added if new.
    fn intern(&mut self, fields: &BTreeMap<String, String>) -> u32 {
        if self.field_sets.is_empty() {
            self.field_sets.push(BTreeMap::new());
            self.field_index.insert(BTreeMap::new(), 0);
        }
        if let Some(&i) = self.field_index.get(fields) {
            return i;
        }
        let i = self.field_sets.len() as u32;
        self.field_sets.push(fields.clone());
        self.field_index.insert(fields.clone(), i);
        i
    }

    /// Everything held, written out.
    pub(crate) fn state(&self) -> SecurityHubState {
        let mut state = SecurityHubState {
            notices: self.notices.clone(),
            ..SecurityHubState::default()
        };
        for (key, held) in &self.findings {
            let id = self.id_of(key);
            let fields = self.fields_of(held);
            if held.notified {
                state.notified.insert(id.clone(), fields.clone());
            }
            state.findings.insert(
                id,
                Triage {
                    workflow: held.workflow,
                    note: held.note.as_deref().map(str::to_owned),
                    user_defined_fields: fields,
                },
            );
        }
        state
    }
}

/// Inspector delivered these findings (id, vulnerability id) to the account's Security Hub.
/// A finding it already has keeps its triage; a new one is NEW, unless the scenario's analyst
/// has triaged its vulnerability.
pub(crate) fn register_findings<V: AsRef<str>>(
    shared: &Shared,
    account_id: &str,
    findings: impl Iterator<Item = (String, Option<V>)>,
) {
    let analyst = analyst_of(shared, account_id);
    let mut hubs = lock(&shared.security_hubs);
    let account = hubs.entry(account_id.to_owned()).or_default();
    for (id, vulnerability) in findings {
        let key = account.key(&id);
        account
            .findings
            .entry(key)
            .or_insert_with(|| triage(analyst, vulnerability.as_ref().map(AsRef::as_ref)));
    }
}

/// [`register_findings`] for Inspector v2 findings given as the ARN's prefix
/// (`arn:aws:inspector2:<region>:<account>:finding/`) and the 16 bytes its hex id spells:
/// nothing is written out as text.
pub(crate) fn register_arns(
    shared: &Shared,
    account_id: &str,
    prefix: &str,
    findings: impl Iterator<Item = ([u8; 16], String)>,
) {
    let analyst = analyst_of(shared, account_id);
    let mut hubs = lock(&shared.security_hubs);
    let account = hubs.entry(account_id.to_owned()).or_default();
    let index = account.prefix_index(prefix);
    for (id, vulnerability) in findings {
        account
            .findings
            .entry(Key::Arn { prefix: index, id })
            .or_insert_with(|| triage(analyst, Some(&vulnerability)));
    }
}

fn analyst_of<'a>(shared: &'a Shared, account_id: &str) -> &'a [crate::scenario::AnalystMark] {
    shared
        .scenario
        .accounts
        .iter()
        .find(|a| a.account_id == account_id)
        .map(|a| a.analyst.as_slice())
        .unwrap_or_default()
}

/// A finding Security Hub gets first: NEW, or as the scenario's analyst triaged its
/// vulnerability.
fn triage(analyst: &[crate::scenario::AnalystMark], vulnerability: Option<&str>) -> Held {
    let mark = analyst
        .iter()
        .find(|m| Some(m.vulnerability_id.as_str()) == vulnerability);
    Held {
        workflow: mark.map_or(WorkflowStatus::New, |m| m.workflow),
        note: mark.and_then(|m| m.note.as_deref()).map(Box::from),
        fields: 0,
        notified: false,
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
        let hubs = lock(&self.shared.security_hubs);
        let Some(account) = hubs.get(&self.account_id) else {
            return Ok(NewFindingsPage::default());
        };
        // The token names the last finding of the page before: a page costs its own size,
        // not a walk over every finding before it.
        let after = match cursor.as_deref() {
            None => None,
            Some(c) => Some(account.find(c).ok_or_else(|| {
                ScanError::invalid(
                    "NextToken",
                    "a token GetFindings returned",
                    format!("is {}", scanflow_core::error::quote(c)),
                )
            })?),
        };
        let range = match &after {
            None => account.findings.range::<Key, _>(..),
            Some(k) => account
                .findings
                .range::<Key, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded)),
        };
        let mut new: Vec<(&Key, &Held)> = range
            .filter(|(_, h)| h.workflow == WorkflowStatus::New)
            .take(PAGE + 1)
            .collect();
        let more = new.len() > PAGE;
        new.truncate(PAGE);
        Ok(NewFindingsPage {
            next: more
                .then(|| new.last().map(|(k, _)| account.id_of(k)))
                .flatten(),
            findings: new
                .into_iter()
                .map(|(k, h)| NewFinding {
                    id: account.id_of(k),
                    user_defined_fields: account.fields_of(h),
                })
                .collect(),
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
        let fields_index = account.intern(fields);
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
            } else if let Some(held) = account
                .find(&f.id)
                .and_then(|k| account.findings.get_mut(&k))
            {
                held.workflow = WorkflowStatus::Notified;
                held.fields = fields_index;
                held.notified = true;
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
                    account.notices.insert(n.id.clone(), n.clone());
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
