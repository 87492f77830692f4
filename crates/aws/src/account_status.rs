//! Inspector v2's status in one member account and Region (`BatchGetAccountStatus`): start-run's
//! pre-flight for an account still on Inspector Classic, which tells people whether v2's EC2
//! scanning is enabled before they switch the member stack's Engine parameter.

use aws_sdk_inspector2::Client;
use aws_sdk_inspector2::types::{ErrorCode, Status};
use scanflow_core::ScanError;
use scanflow_core::migration::ScanningStatus;

use crate::error::Scope;

/// The account's EC2 scanning status (`accounts[].resourceState.ec2.status`), asked with the
/// member role's own credentials for the member's own account.
pub async fn ec2_status(client: &Client, scope: &Scope) -> Result<ScanningStatus, ScanError> {
    let call = scope.call(
        "inspector2:BatchGetAccountStatus",
        format!("account {}", scope.account_id),
    );
    let out = client
        .batch_get_account_status()
        .account_ids(&scope.account_id)
        .send()
        .await
        .map_err(|e| call.error(&e))?;
    if let Some(failed) = out
        .failed_accounts()
        .iter()
        .find(|f| f.account_id() == scope.account_id)
    {
        let detail = format!(
            "{}: {}",
            failed.error_code().as_str(),
            scanflow_core::text::one_line(failed.error_message(), 200)
        );
        return Err(match failed.error_code() {
            ErrorCode::AccessDenied => ScanError::AccessDenied {
                account_id: scope.account_id.clone(),
                region: scope.region.clone(),
                action: call.action.to_owned(),
                detail,
            },
            _ => ScanError::NotFound {
                account_id: scope.account_id.clone(),
                region: scope.region.clone(),
                what: "Inspector v2's account status".into(),
                detail: format!("BatchGetAccountStatus failed for the account ({detail})"),
            },
        });
    }
    let ec2 = out
        .accounts()
        .iter()
        .find(|a| a.account_id() == scope.account_id)
        .and_then(|a| a.resource_state())
        .and_then(|r| r.ec2())
        .ok_or_else(|| ScanError::NotFound {
            account_id: scope.account_id.clone(),
            region: scope.region.clone(),
            what: "Inspector v2's EC2 scanning status".into(),
            detail: "BatchGetAccountStatus answered without this account's EC2 state; \
                     Inspector v2 may never have been activated here"
                .into(),
        })?;
    status(ec2.status()).ok_or_else(|| ScanError::NotFound {
        account_id: scope.account_id.clone(),
        region: scope.region.clone(),
        what: "Inspector v2's EC2 scanning status".into(),
        detail: format!(
            "BatchGetAccountStatus answered {}, a status this version of scanflow does not \
             know",
            scanflow_core::error::quote(ec2.status().as_str())
        ),
    })
}

fn status(s: &Status) -> Option<ScanningStatus> {
    ScanningStatus::parse(s.as_str())
}
