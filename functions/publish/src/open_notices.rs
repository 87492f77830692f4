//! scanflow's notices still open in Security Hub, per account-Region, kept in the bucket: a
//! later delivery that shows the condition cleared (the scan ran, the instance was covered)
//! archives them, so Security Hub only shows what is still wrong.

use serde::{Deserialize, Serialize};

use scanflow_core::ports::{Notice, Platform, ReportStore};
use scanflow_core::{ScanError, keys, step};

/// Whose Security Hub holds a notice: the member's own (imported through its role) or the
/// hub's, when the member could not be entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecurityHubHome {
    Member,
    Hub,
}

/// A notice as imported, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenNotice {
    pub notice: Notice,
    pub home: SecurityHubHome,
}

/// The open notices of an account-Region (none when nothing was recorded yet).
pub async fn read<S: ReportStore>(
    store: &S,
    account_id: &str,
    region: &str,
) -> Result<Vec<OpenNotice>, ScanError> {
    let key = keys::open_notices(account_id, region);
    match store.get(&key).await {
        Ok(body) => serde_json::from_slice(&body).map_err(|e| {
            ScanError::internal(format!(
                "{key} is not a list of open notices ({e}); delete it, the next scan writes it again"
            ))
        }),
        Err(ScanError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

pub async fn write<S: ReportStore>(
    store: &S,
    account_id: &str,
    region: &str,
    open: &[OpenNotice],
) -> Result<(), ScanError> {
    store
        .put(
            &keys::open_notices(account_id, region),
            step::to_json_bytes(&open)?,
            "application/json",
        )
        .await
}

/// Records `notice` as open (replacing an earlier one with the same id).
pub async fn add<P: Platform>(
    platform: &P,
    account_id: &str,
    region: &str,
    open: OpenNotice,
) -> Result<(), ScanError> {
    let store = platform.store();
    let mut all = read(store, account_id, region).await?;
    all.retain(|o| o.notice.id != open.notice.id);
    all.push(open);
    write(store, account_id, region, &all).await
}

/// Forgets the notice `id` (it was archived).
pub async fn remove<P: Platform>(
    platform: &P,
    account_id: &str,
    region: &str,
    id: &str,
) -> Result<(), ScanError> {
    let store = platform.store();
    let mut all = read(store, account_id, region).await?;
    let before = all.len();
    all.retain(|o| o.notice.id != id);
    if all.len() == before {
        return Ok(());
    }
    write(store, account_id, region, &all).await
}
