//! One member account entered through its scan role: its settings, the engine chosen for it
//! (Inspector Classic or v2), and its own Security Hub.

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use scanflow_core::ScanError;
use scanflow_core::migration::ScanningStatus;
use scanflow_core::model::{AccountSettings, CisLevel, Coverage, Engine};
use scanflow_core::ports::{FindingsPage, MemberAccount, RunStatus, Started};
use scanflow_core::state::Run;

use crate::classic::Classic;
use crate::error::Scope;
use crate::inspector2::{Inspector2, ReportDestination};
use crate::securityhub::AwsSecurityHub;

/// The clients a member needs. All but `s3` carry the member's credentials; `s3` is the hub's
/// (reports land in the hub bucket).
#[derive(Debug, Clone)]
pub struct MemberClients {
    pub inspector: aws_sdk_inspector::Client,
    pub inspector2: aws_sdk_inspector2::Client,
    /// Inspector v2 with the member role's credentials even when `inspector2` carries the
    /// hub's (delegated admin): the account's own status, for the migration pre-flight.
    pub inspector2_own: aws_sdk_inspector2::Client,
    pub securityhub: aws_sdk_securityhub::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub s3: aws_sdk_s3::Client,
}

impl MemberClients {
    /// Clients sharing the hub's configuration (HTTP client, retries, endpoint) with the
    /// member's credentials and region.
    pub fn new(
        sdk: &SdkConfig,
        credentials: Credentials,
        region: &str,
        s3: aws_sdk_s3::Client,
    ) -> Self {
        Self::build(sdk, Some(credentials), region, s3)
    }

    /// Every client with the hub's own credentials in `region`: what a delegated administrator
    /// reads Inspector v2 with, assuming no member role.
    pub fn hub(sdk: &SdkConfig, region: &str, s3: aws_sdk_s3::Client) -> Self {
        Self::build(sdk, None, region, s3)
    }

    /// Inspector v2 through the hub's own credentials in `region` (delegated-admin mode), the
    /// other clients as they are.
    pub fn with_hub_inspector2(mut self, sdk: &SdkConfig, region: &str) -> Self {
        self.inspector2 = Self::hub(sdk, region, self.s3.clone()).inspector2;
        self
    }

    fn build(
        sdk: &SdkConfig,
        credentials: Option<Credentials>,
        region: &str,
        s3: aws_sdk_s3::Client,
    ) -> Self {
        let region = Region::new(region.to_owned());
        macro_rules! client {
            ($sdk:ident) => {{
                let mut conf = $sdk::config::Builder::from(sdk).region(region.clone());
                if let Some(credentials) = &credentials {
                    conf = conf.credentials_provider(credentials.clone());
                }
                $sdk::Client::from_conf(conf.build())
            }};
        }
        Self {
            inspector: client!(aws_sdk_inspector),
            inspector2: client!(aws_sdk_inspector2),
            inspector2_own: client!(aws_sdk_inspector2),
            securityhub: client!(aws_sdk_securityhub),
            ssm: client!(aws_sdk_ssm),
            s3,
        }
    }
}

/// How the member was entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Through its scan role; Inspector v2 through the role too.
    Role,
    /// Through its scan role; Inspector v2 with the hub's credentials (delegated admin).
    RoleAndHubInspector2,
    /// No role assumed: Inspector v2 reads with the hub's credentials only (check-status and
    /// collect-findings in delegated-admin mode). Settings, scans and Classic are refused.
    HubReadsOnly,
}

/// The AWS implementation of [`MemberAccount`].
#[derive(Debug)]
pub struct AwsMember {
    scope: Scope,
    access: Access,
    settings_parameter: String,
    ssm: aws_sdk_ssm::Client,
    classic: Classic,
    inspector2: Inspector2,
    inspector2_own: aws_sdk_inspector2::Client,
    security_hub: AwsSecurityHub,
}

impl AwsMember {
    /// `clients` must match `access` (see [`MemberClients::hub`], [`MemberClients::with_hub_inspector2`]).
    pub fn new(
        scope: Scope,
        clients: MemberClients,
        settings_parameter: String,
        reports: ReportDestination,
        access: Access,
    ) -> Self {
        Self {
            access,
            classic: Classic::new(clients.inspector, scope.clone(), settings_parameter.clone()),
            inspector2: Inspector2::new(
                clients.inspector2,
                clients.s3,
                scope.clone(),
                reports,
                access != Access::Role,
            ),
            inspector2_own: clients.inspector2_own,
            security_hub: AwsSecurityHub::new(clients.securityhub, scope.clone()),
            ssm: clients.ssm,
            settings_parameter,
            scope,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Refuses what needs the member role when none was assumed.
    fn entered(&self, what: &str) -> Result<(), ScanError> {
        if self.access == Access::HubReadsOnly {
            return Err(ScanError::internal(format!(
                "{what} in account {} ({}) needs the member's scan role, but this handle only \
                 reads Inspector v2 as the delegated administrator",
                self.scope.account_id, self.scope.region
            )));
        }
        Ok(())
    }
}

impl MemberAccount for AwsMember {
    type SecurityHub = AwsSecurityHub;

    async fn settings(&self) -> Result<AccountSettings, ScanError> {
        self.entered("reading the scan settings")?;
        crate::settings::read(&self.ssm, &self.scope, &self.settings_parameter).await
    }

    async fn start_scan(
        &self,
        settings: &AccountSettings,
        name: &str,
    ) -> Result<Started, ScanError> {
        self.entered("starting a scan")?;
        match settings.engine {
            Engine::Classic => self.classic.start_scan(settings, name).await,
            Engine::Inspector2 => self.inspector2.start_scan(settings, name).await,
        }
    }

    async fn start_cis_scan(
        &self,
        settings: &AccountSettings,
        level: CisLevel,
        name: &str,
    ) -> Result<String, ScanError> {
        self.entered("starting a CIS scan")?;
        match settings.engine {
            Engine::Inspector2 => self.inspector2.start_cis_scan(settings, level, name).await,
            Engine::Classic => Err(ScanError::internal(format!(
                "a CIS scan for Inspector Classic account {} ({}): CIS scans are Inspector \
                 v2's; start-run checks cis::refuse_untargeted first",
                self.scope.account_id, self.scope.region
            ))),
        }
    }

    async fn run_status(&self, run: &Run) -> Result<RunStatus, ScanError> {
        match run.engine {
            Engine::Classic => {
                self.entered("Inspector Classic")?;
                self.classic.run_status(&run.run_id).await
            }
            Engine::Inspector2 => self.inspector2.run_status(run).await,
        }
    }

    async fn findings_page(
        &self,
        run: &Run,
        cursor: Option<String>,
    ) -> Result<FindingsPage, ScanError> {
        match run.engine {
            Engine::Classic => {
                self.entered("Inspector Classic")?;
                self.classic.findings_page(&run.run_id, cursor).await
            }
            Engine::Inspector2 => self.inspector2.findings_page(run, cursor).await,
        }
    }

    async fn coverage(&self, run: &Run) -> Result<Coverage, ScanError> {
        match run.engine {
            Engine::Classic => {
                self.entered("Inspector Classic")?;
                self.classic.coverage(&run.run_id).await
            }
            Engine::Inspector2 => self.inspector2.coverage(run).await,
        }
    }

    async fn v2_ec2_status(&self) -> Result<ScanningStatus, ScanError> {
        self.entered("checking Inspector v2's account status")?;
        crate::account_status::ec2_status(&self.inspector2_own, &self.scope).await
    }

    fn security_hub(&self) -> &AwsSecurityHub {
        &self.security_hub
    }
}
