//! The hub as the handlers see it in AWS: one SDK configuration loaded at cold start, the hub's
//! own clients (each built the first time the function uses it, so format never builds SNS
//! or Security Hub clients), and member accounts entered by assuming their scan role.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::error::{DisplayErrorContext, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use scanflow_core::ScanError;
use scanflow_core::ports::{HubConfig, Platform, role_session_name};

use crate::config::{Config, ConfigError, is_account_id};
use crate::error::Scope;
use crate::inspector2::ReportDestination;
use crate::member::{Access, AwsMember, MemberClients};
use crate::s3::S3Store;
use crate::securityhub::AwsSecurityHub;
use crate::sns::SnsNotifier;
use scanflow_core::model::Engine;
use scanflow_core::state::Run;

/// Role chaining (a Lambda role assuming another role) caps sessions at one hour.
const SESSION_LENGTH: Duration = Duration::from_secs(3600);

/// The AWS implementation of [`Platform`].
#[derive(Debug)]
pub struct AwsPlatform {
    sdk: SdkConfig,
    config: Config,
    hub: HubConfig,
    hub_scope: Scope,
    store: OnceLock<S3Store>,
    notifier: OnceLock<SnsNotifier>,
    hub_security_hub: OnceLock<AwsSecurityHub>,
}

impl AwsPlatform {
    /// Builds the platform from the SDK configuration loaded once at cold start.
    pub fn new(sdk: SdkConfig, config: Config) -> Result<Self, ConfigError> {
        let region = sdk
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| ConfigError::Missing {
                function: config.function.clone(),
                variable: "AWS_REGION",
                purpose: "the hub's region (Lambda sets it)",
            })?;
        let hub_scope = Scope::new(config.hub_account_id.clone(), region);
        let hub = HubConfig {
            hub_account_id: config.hub_account_id.clone(),
            sla_days: config.sla_days,
            siem_format: config.siem_format,
            report_link_hours: config.report_link_hours,
            email_min_severity: config.email_min_severity,
            ..HubConfig::default()
        };
        hub.validate("").map_err(ConfigError::Hub)?;
        Ok(Self {
            sdk,
            config,
            hub,
            hub_scope,
            store: OnceLock::new(),
            notifier: OnceLock::new(),
            hub_security_hub: OnceLock::new(),
        })
    }

    /// The environment configuration this platform was built from.
    pub fn settings(&self) -> &Config {
        &self.config
    }

    /// The member scan role's ARN in `account_id`.
    pub fn role_arn(&self, account_id: &str, region: &str) -> String {
        format!(
            "arn:{}:iam::{account_id}:role/{}",
            scanflow_core::partition::of(region),
            self.config.scan_role_name
        )
    }

    fn member_with(
        &self,
        account_id: &str,
        region: &str,
        clients: MemberClients,
        access: Access,
    ) -> AwsMember {
        AwsMember::new(
            Scope::new(account_id, region),
            clients,
            self.config.settings_parameter.clone(),
            ReportDestination {
                hub: self.hub_scope.clone(),
                bucket: self.config.report_bucket.clone(),
                kms_key_arn: self.config.report_kms_key_arn.clone(),
            },
            access,
        )
    }

    /// Assumes the scan role once and returns its (static, one-hour) credentials, so a role
    /// that cannot be assumed fails here, naming the account, not at the first member call.
    async fn assume(
        &self,
        account_id: &str,
        region: &str,
        session: &str,
    ) -> Result<Credentials, ScanError> {
        let role_arn = self.role_arn(account_id, region);
        let mut builder = AssumeRoleProvider::builder(role_arn.clone())
            .session_name(role_session_name(session))
            .session_length(SESSION_LENGTH)
            .configure(&self.sdk);
        if let Some(external_id) = &self.config.external_id {
            builder = builder.external_id(external_id);
        }
        let provider = builder.build().await;
        provider
            .provide_credentials()
            .await
            .map_err(|e| assume_error(&self.hub_scope, account_id, &role_arn, &e))
    }
}

impl Platform for AwsPlatform {
    type Member = AwsMember;
    type Store = S3Store;
    type Notifier = SnsNotifier;
    type SecurityHub = AwsSecurityHub;

    fn config(&self) -> &HubConfig {
        &self.hub
    }

    async fn member(
        &self,
        account_id: &str,
        region: &str,
        session: &str,
    ) -> Result<AwsMember, ScanError> {
        if self.config.scan_role_name.is_empty() {
            return Err(ScanError::internal(format!(
                "the {} function cannot enter member accounts: SCAN_ROLE_NAME is not set for it",
                self.config.function
            )));
        }
        if !is_account_id(account_id) {
            return Err(ScanError::invalid(
                "accountId",
                "a 12-digit AWS account id",
                format!("is {}", scanflow_core::error::quote(account_id)),
            ));
        }
        let credentials = self.assume(account_id, region, session).await?;
        tracing::debug!(account_id, region, "assumed the scan role");
        let mut clients = MemberClients::new(&self.sdk, credentials, region, s3_client(&self.sdk));
        let access = if self.config.inspector_delegated_admin {
            clients = clients.with_hub_inspector2(&self.sdk, region);
            Access::RoleAndHubInspector2
        } else {
            Access::Role
        };
        Ok(self.member_with(account_id, region, clients, access))
    }

    async fn reader(&self, run: &Run) -> Result<AwsMember, ScanError> {
        // A findings report recorded before was created by the member: only its role sees it.
        let hub_reads = self.config.inspector_delegated_admin
            && run.engine == Engine::Inspector2
            && !scanflow_core::state::is_report_id(&run.run_id);
        if !hub_reads {
            return self
                .member(&run.account_id, &run.region, &run.execution)
                .await;
        }
        if !is_account_id(&run.account_id) {
            return Err(ScanError::invalid(
                "run.accountId",
                "a 12-digit AWS account id",
                format!("is {}", scanflow_core::error::quote(&run.account_id)),
            ));
        }
        let clients = MemberClients::hub(&self.sdk, &run.region, s3_client(&self.sdk));
        Ok(self.member_with(&run.account_id, &run.region, clients, Access::HubReadsOnly))
    }

    fn store(&self) -> &S3Store {
        self.store.get_or_init(|| {
            S3Store::new(
                s3_client(&self.sdk),
                self.hub_scope.clone(),
                self.config.report_bucket.clone(),
                self.config.report_kms_key_arn.clone(),
            )
            .with_credentials(self.sdk.credentials_provider())
        })
    }

    fn notifier(&self) -> &SnsNotifier {
        self.notifier.get_or_init(|| {
            SnsNotifier::new(
                aws_sdk_sns::Client::new(&self.sdk),
                self.hub_scope.clone(),
                self.config.topic_arn.clone(),
            )
        })
    }

    fn hub_security_hub(&self) -> &AwsSecurityHub {
        self.hub_security_hub.get_or_init(|| {
            AwsSecurityHub::new(
                aws_sdk_securityhub::Client::new(&self.sdk),
                self.hub_scope.clone(),
            )
        })
    }

    fn deadline(&self) -> Option<SystemTime> {
        DEADLINE.try_with(|d| *d).ok()
    }
}

tokio::task_local! {
    /// The deadline of the invocation being served (Lambda's `Lambda-Runtime-Deadline-Ms`).
    static DEADLINE: SystemTime;
}

/// Runs `work` (one invocation's handler) with `deadline` as what [`Platform::deadline`]
/// answers while it runs; outside it (tests, the sandbox's callers) there is none.
pub(crate) fn within_deadline<F: std::future::Future>(
    deadline: SystemTime,
    work: F,
) -> impl std::future::Future<Output = F::Output> {
    DEADLINE.scope(deadline, work)
}

/// The hub's S3 client. A custom endpoint (moto, LocalStack) needs path-style addressing.
fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A failed assume: throttling and outages stay `Transient`; anything else means the role is
/// missing or does not trust the hub, which retrying does not fix.
fn assume_error(
    hub: &Scope,
    account_id: &str,
    role_arn: &str,
    err: &CredentialsError,
) -> ScanError {
    let classified = std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>())
        .map(|sdk_err| hub.call("sts:AssumeRole", role_arn).error(sdk_err));
    match (err, classified) {
        (_, Some(e @ ScanError::Transient { .. })) => e,
        (CredentialsError::ProviderTimedOut(_), _) => hub
            .call("sts:AssumeRole", role_arn)
            .transient(&DisplayErrorContext(err).to_string()),
        (_, Some(e)) => ScanError::RoleNotAssumable {
            account_id: account_id.to_owned(),
            role_arn: role_arn.to_owned(),
            detail: match e {
                ScanError::AccessDenied { detail, .. }
                | ScanError::NotFound { detail, .. }
                | ScanError::Internal { detail } => detail,
                other => other.to_string(),
            },
        },
        (_, None) => ScanError::RoleNotAssumable {
            account_id: account_id.to_owned(),
            role_arn: role_arn.to_owned(),
            detail: DisplayErrorContext(err).to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn sts_error(code: &str, status: u16) -> CredentialsError {
        let meta = ErrorMetadata::builder().code(code).message("m").build();
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::empty(),
        );
        let err = SdkError::service_error(AssumeRoleError::generic(meta), raw);
        CredentialsError::provider_error(err)
    }

    #[test]
    fn a_denied_assume_is_not_retried_but_throttling_is() {
        let hub = Scope::new("999999999999", "eu-west-1");
        let role = "arn:aws:iam::111122223333:role/scan";
        let denied = assume_error(&hub, "111122223333", role, &sts_error("AccessDenied", 403));
        match &denied {
            ScanError::RoleNotAssumable {
                account_id,
                role_arn,
                detail,
            } => {
                assert_eq!(account_id, "111122223333");
                assert_eq!(role_arn, role);
                assert!(detail.contains("AccessDenied"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!denied.is_retryable());
        let throttled = assume_error(&hub, "111122223333", role, &sts_error("Throttling", 400));
        assert_eq!(throttled.error_type(), "Transient");
        let not_loaded = CredentialsError::not_loaded("no base credentials");
        assert_eq!(
            assume_error(&hub, "111122223333", role, &not_loaded).error_type(),
            "RoleNotAssumable"
        );
    }
}
