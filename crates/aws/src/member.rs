//! One member account entered through its scan role: its settings, the engine chosen for it
//! (Inspector Classic or v2), and its own Security Hub.

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use scanflow_core::ScanError;
use scanflow_core::model::{AccountSettings, Coverage, Engine};
use scanflow_core::ports::{FindingsPage, MemberAccount, RunStatus, Started};
use scanflow_core::state::Run;

use crate::classic::Classic;
use crate::error::Scope;
use crate::inspector2::Inspector2;
use crate::securityhub::AwsSecurityHub;

/// Where Inspector v2 writes findings reports: the hub's bucket, encrypted with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportDestination {
    /// The hub account and region, where the bucket is read with the hub's credentials.
    pub hub: Scope,
    pub bucket: String,
    pub kms_key_arn: String,
}

/// The clients a member needs. All but `s3` carry the member's credentials; `s3` is the hub's
/// (reports land in the hub bucket).
#[derive(Debug, Clone)]
pub struct MemberClients {
    pub inspector: aws_sdk_inspector::Client,
    pub inspector2: aws_sdk_inspector2::Client,
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
        let region = Region::new(region.to_owned());
        Self {
            inspector: aws_sdk_inspector::Client::from_conf(
                aws_sdk_inspector::config::Builder::from(sdk)
                    .credentials_provider(credentials.clone())
                    .region(region.clone())
                    .build(),
            ),
            inspector2: aws_sdk_inspector2::Client::from_conf(
                aws_sdk_inspector2::config::Builder::from(sdk)
                    .credentials_provider(credentials.clone())
                    .region(region.clone())
                    .build(),
            ),
            securityhub: aws_sdk_securityhub::Client::from_conf(
                aws_sdk_securityhub::config::Builder::from(sdk)
                    .credentials_provider(credentials.clone())
                    .region(region.clone())
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(sdk)
                    .credentials_provider(credentials)
                    .region(region)
                    .build(),
            ),
            s3,
        }
    }
}

/// The AWS implementation of [`MemberAccount`].
#[derive(Debug)]
pub struct AwsMember {
    scope: Scope,
    settings_parameter: String,
    ssm: aws_sdk_ssm::Client,
    classic: Classic,
    inspector2: Inspector2,
    security_hub: AwsSecurityHub,
}

impl AwsMember {
    pub fn new(
        scope: Scope,
        clients: MemberClients,
        settings_parameter: String,
        reports: ReportDestination,
    ) -> Self {
        Self {
            classic: Classic::new(clients.inspector, scope.clone(), settings_parameter.clone()),
            inspector2: Inspector2::new(clients.inspector2, clients.s3, scope.clone(), reports),
            security_hub: AwsSecurityHub::new(clients.securityhub, scope.clone()),
            ssm: clients.ssm,
            settings_parameter,
            scope,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

impl MemberAccount for AwsMember {
    type SecurityHub = AwsSecurityHub;

    async fn settings(&self) -> Result<AccountSettings, ScanError> {
        crate::settings::read(&self.ssm, &self.scope, &self.settings_parameter).await
    }

    async fn start_scan(
        &self,
        settings: &AccountSettings,
        name: &str,
    ) -> Result<Started, ScanError> {
        match settings.engine {
            Engine::Classic => self.classic.start_scan(settings, name).await,
            Engine::Inspector2 => self.inspector2.start_scan(settings).await,
        }
    }

    async fn run_status(&self, run: &Run) -> Result<RunStatus, ScanError> {
        match run.engine {
            Engine::Classic => self.classic.run_status(&run.run_id).await,
            Engine::Inspector2 => self.inspector2.run_status(&run.run_id).await,
        }
    }

    async fn findings_page(
        &self,
        run: &Run,
        cursor: Option<String>,
    ) -> Result<FindingsPage, ScanError> {
        match run.engine {
            Engine::Classic => self.classic.findings_page(&run.run_id, cursor).await,
            Engine::Inspector2 => self.inspector2.findings_page(run, cursor).await,
        }
    }

    async fn coverage(&self, run: &Run) -> Result<Coverage, ScanError> {
        match run.engine {
            Engine::Classic => self.classic.coverage(&run.run_id).await,
            Engine::Inspector2 => self.inspector2.coverage(run.tag.as_ref()).await,
        }
    }

    fn security_hub(&self) -> &AwsSecurityHub {
        &self.security_hub
    }
}
