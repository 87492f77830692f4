//! Entering a member account: STS's AssumeRole (denied as AWS denies it when the scan role is
//! missing), the account's settings, and what every engine's calls check first.

use std::sync::Arc;

use scanflow_core::ScanError;
use scanflow_core::migration::ScanningStatus;
use scanflow_core::model::AccountSettings;
use scanflow_core::state::Run;

use crate::Shared;
use crate::security_hub::SecurityHubSim;

/// The SSM parameter the member stack writes the account's settings to.
pub(crate) const SETTINGS_PARAMETER: &str = "/scanflow/settings";

/// One member account and region, entered through its (simulated) scan role.
pub struct Member {
    pub(crate) shared: Arc<Shared>,
    pub(crate) account_id: String,
    pub(crate) region: String,
    /// The scenario entry for this account and region; `None` when the account exists but the
    /// member stack was not deployed in this region.
    pub(crate) index: Option<usize>,
    /// Whose credentials the calls carry.
    pub(crate) caller: Caller,
    pub(crate) security_hub: SecurityHubSim,
}

/// Whose credentials a member's calls carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The member's scan role, for everything.
    Role,
    /// The scan role, with Inspector v2 called by the hub as delegated administrator.
    RoleAndHubInspector2,
    /// No role assumed: only Inspector v2 reads, by the hub as delegated administrator.
    HubReadsOnly,
}

impl Caller {
    /// Whether Inspector v2 is called with the hub's credentials.
    pub(crate) fn hub_inspector2(self) -> bool {
        self != Caller::Role
    }
}

impl Member {
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// A run that belongs to another account or region is unknown here, as in AWS.
    pub(crate) fn check_run(&self, run: &Run) -> Result<(), ScanError> {
        if run.account_id == self.account_id && run.region == self.region {
            Ok(())
        } else {
            Err(ScanError::NotFound {
                account_id: self.account_id.clone(),
                region: self.region.clone(),
                what: format!("scan {}", run.run_id),
                detail: format!(
                    "it belongs to account {} ({}), not to this one",
                    run.account_id, run.region
                ),
            })
        }
    }
}

/// STS AssumeRole into the member's scan role.
pub(crate) fn assume_role(
    shared: &Arc<Shared>,
    account_id: &str,
    region: &str,
    session: &str,
) -> Result<Member, ScanError> {
    shared.count("sts:AssumeRole", 1);
    let hub = &shared.scenario.hub;
    // As the AWS adapter does: the execution name becomes a session name STS accepts.
    let session = scanflow_core::ports::role_session_name(session);
    let is_account = scanflow_core::input::validate_account_id("RoleArn", account_id).is_ok();
    let role_arn = format!(
        "arn:{}:iam::{account_id}:role/{}",
        scanflow_core::partition::of(region),
        hub.member_role_name
    );
    if !is_account {
        return Err(ScanError::invalid(
            "RoleArn",
            "the ARN of a role in a 12-digit account",
            format!("is {}", scanflow_core::error::quote(&role_arn)),
        ));
    }
    let deployed = shared
        .scenario
        .accounts
        .iter()
        .any(|a| a.account_id == account_id && a.role_deployed);
    if !deployed {
        tracing::info!(
            account_id,
            region,
            "AssumeRole denied: no scan role in the account"
        );
        return Err(ScanError::RoleNotAssumable {
            account_id: account_id.to_owned(),
            role_arn: role_arn.clone(),
            detail: format!(
                "AccessDenied: User: arn:aws:sts::{}:assumed-role/{}/{session} is not authorized \
                 to perform: sts:AssumeRole on resource: {role_arn}",
                hub.account_id, hub.function_role_name
            ),
        });
    }
    let caller = if hub.inspector_delegated_admin {
        Caller::RoleAndHubInspector2
    } else {
        Caller::Role
    };
    Ok(entered(shared, account_id, region, caller))
}

/// The member handle for `caller`, with no role check.
pub(crate) fn entered(
    shared: &Arc<Shared>,
    account_id: &str,
    region: &str,
    caller: Caller,
) -> Member {
    let index = shared
        .scenario
        .accounts
        .iter()
        .position(|a| a.account_id == account_id && a.region == region);
    Member {
        shared: shared.clone(),
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        index,
        caller,
        security_hub: SecurityHubSim::new(shared.clone(), account_id.to_owned(), region.to_owned()),
    }
}

impl Member {
    /// Refuses what needs the member role when none was assumed, as the AWS adapter does.
    pub(crate) fn entered(&self, what: &str) -> Result<(), ScanError> {
        if self.caller == Caller::HubReadsOnly {
            return Err(ScanError::internal(format!(
                "{what} in account {} ({}) needs the member's scan role, but this handle only \
                 reads Inspector v2 as the delegated administrator",
                self.account_id, self.region
            )));
        }
        Ok(())
    }

    pub(crate) fn settings_now(&self) -> Result<AccountSettings, ScanError> {
        self.entered("reading the scan settings")?;
        self.shared.count("ssm:GetParameter", 1);
        self.index
            .and_then(|i| self.shared.account(i))
            .map(|a| AccountSettings {
                schedule: Some(a.schedule.expression.clone()),
                ..a.settings.to_settings()
            })
            .ok_or_else(|| ScanError::NotFound {
                account_id: self.account_id.clone(),
                region: self.region.clone(),
                what: format!("SSM parameter {SETTINGS_PARAMETER}"),
                detail: format!(
                    "ParameterNotFound: the scanflow member stack is not deployed in {}. \
                     Add this region to the StackSet",
                    self.region
                ),
            })
    }
}

impl Member {
    /// `BatchGetAccountStatus` for the member's own account, through its scan role: the
    /// scenario's v2 EC2 scanning status; an account or Region without the member stack has
    /// never been enrolled, and v2 answers DISABLED for it.
    pub(crate) fn v2_ec2_status_now(&self) -> Result<ScanningStatus, ScanError> {
        self.entered("checking Inspector v2's account status")?;
        let action = "inspector2:BatchGetAccountStatus";
        self.shared.admit(action, &self.account_id, &self.region)?;
        self.shared.count(action, 1);
        Ok(self
            .index
            .and_then(|i| self.shared.account(i))
            .map_or(ScanningStatus::Disabled, |a| a.v2_ec2_status()))
    }
}

/// Parses a page cursor (a decimal offset), refusing anything else as the APIs refuse a
/// token they did not issue.
pub(crate) fn parse_cursor(cursor: Option<&str>, field: &str) -> Result<usize, ScanError> {
    match cursor {
        None => Ok(0),
        Some(c) => c.parse::<usize>().map_err(|_| {
            ScanError::invalid(
                field,
                "the token the previous page returned",
                format!(
                    "is {}, which this API did not issue",
                    scanflow_core::error::quote(c)
                ),
            )
        }),
    }
}
