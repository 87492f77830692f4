//! Amazon Inspector Classic in one member account: start an assessment run from the member
//! stack's template, follow its 13 states, read its findings (`ListFindings` then
//! `DescribeFindings` ≤ 10 ARNs a call) and which agents it reached.
//!
//! `AgentsAlreadyRunningAssessmentException`: when a run of the same template is already
//! going (a redriven execution, a manual start, an SDK retry of a start that did succeed),
//! scanflow adopts that run and returns `Started { adopted: true }`, so the workflow follows
//! it instead of failing or scanning twice. When the busy agents belong to another template's
//! run, adopting would report someone else's scope, so the start fails `Transient` and the
//! state machine retries later.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_inspector::Client;
use aws_sdk_inspector::operation::start_assessment_run::StartAssessmentRunError;
use aws_sdk_inspector::types::{
    AgentHealth, AgentHealthCode, AssessmentRun, AssessmentRunState, FailedItemDetails,
    FailedItemErrorCode,
};
use aws_smithy_types::date_time::Format;
use futures_util::{StreamExt, TryStreamExt, stream};
use scanflow_core::ScanError;
use scanflow_core::model::{AccountSettings, Coverage, Engine, Finding, Severity, Uncovered};
use scanflow_core::ports::{FindingsPage, RunStatus, Started};

use crate::error::{Call, Scope};

/// `ListFindings` page size (the service's maximum; pages may still hold fewer).
pub const LIST_FINDINGS_MAX: i32 = 500;
/// `DescribeFindings` accepts at most 10 ARNs a call.
pub const DESCRIBE_FINDINGS_BATCH: usize = 10;
/// `DescribeFindings` calls in flight at once.
pub const DESCRIBE_CONCURRENCY: usize = 4;
/// Run names are 1-140 characters.
const RUN_NAME_MAX: usize = 140;

/// Inspector Classic through one member's scan role.
#[derive(Debug, Clone)]
pub struct Classic {
    client: Client,
    scope: Scope,
    settings_parameter: String,
}

impl Classic {
    pub fn new(client: Client, scope: Scope, settings_parameter: String) -> Self {
        Self {
            client,
            scope,
            settings_parameter,
        }
    }

    /// Checks the template and its target, then starts a run named `name`.
    pub async fn start_scan(
        &self,
        settings: &AccountSettings,
        name: &str,
    ) -> Result<Started, ScanError> {
        let template_arn =
            settings
                .assessment_template_arn
                .as_deref()
                .ok_or_else(|| ScanError::NotFound {
                    account_id: self.scope.account_id.clone(),
                    region: self.scope.region.clone(),
                    what: "the Inspector Classic assessment template".into(),
                    detail: format!(
                        "the engine is classic but SSM parameter {} has no assessmentTemplateArn; \
                     deploy the member stack with the classic engine so it creates one",
                        self.settings_parameter
                    ),
                })?;
        let target_arn = self.template_target(template_arn).await?;
        self.ensure_agents(&target_arn, settings).await?;

        let run_name: String = name.chars().take(RUN_NAME_MAX).collect();
        let call = self.scope.call(
            "inspector:StartAssessmentRun",
            format!("template {template_arn}"),
        );
        match self
            .client
            .start_assessment_run()
            .assessment_template_arn(template_arn)
            .assessment_run_name(&run_name)
            .send()
            .await
        {
            Ok(out) => Ok(Started {
                run_id: out.assessment_run_arn().to_owned(),
                adopted: false,
            }),
            Err(err) => match err.as_service_error() {
                Some(StartAssessmentRunError::AgentsAlreadyRunningAssessmentException(busy)) => {
                    let runs: Vec<String> = busy
                        .agents()
                        .iter()
                        .map(|a| a.assessment_run_arn().to_owned())
                        .collect();
                    self.adopt(template_arn, runs).await
                }
                Some(StartAssessmentRunError::InvalidCrossAccountRoleException(e)) => {
                    Err(self.disabled(e.message()))
                }
                _ => Err(call.error(&err)),
            },
        }
    }

    /// The target of the template, checking the template exists and is readable.
    async fn template_target(&self, template_arn: &str) -> Result<String, ScanError> {
        let call = self.scope.call(
            "inspector:DescribeAssessmentTemplates",
            format!("template {template_arn}"),
        );
        let out = self
            .client
            .describe_assessment_templates()
            .assessment_template_arns(template_arn)
            .send()
            .await
            .map_err(|e| call.error(&e))?;
        if let Some(failed) = out.failed_items().get(template_arn) {
            return Err(failed_item(&call, template_arn, failed));
        }
        out.assessment_templates()
            .iter()
            .find(|t| t.arn() == template_arn)
            .map(|t| t.assessment_target_arn().to_owned())
            .ok_or_else(|| ScanError::NotFound {
                account_id: self.scope.account_id.clone(),
                region: self.scope.region.clone(),
                what: format!("assessment template {template_arn}"),
                detail: "DescribeAssessmentTemplates did not return it; redeploy the member stack"
                    .into(),
            })
    }

    /// Fails with `NoInstancesMatched` when the target selects no instance.
    async fn ensure_agents(
        &self,
        target_arn: &str,
        settings: &AccountSettings,
    ) -> Result<(), ScanError> {
        let call = self
            .scope
            .call("inspector:PreviewAgents", format!("target {target_arn}"));
        let out = self
            .client
            .preview_agents()
            .preview_agents_arn(target_arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(aws_sdk_inspector::operation::preview_agents::PreviewAgentsError::InvalidCrossAccountRoleException(x)) => {
                    self.disabled(x.message())
                }
                _ => call.error(&e),
            })?;
        if out.agent_previews().is_empty() {
            return Err(ScanError::NoInstancesMatched {
                account_id: self.scope.account_id.clone(),
                region: self.scope.region.clone(),
                target: settings.tag.as_ref().map_or_else(
                    || format!("assessment target {target_arn}"),
                    ToString::to_string,
                ),
            });
        }
        Ok(())
    }

    /// Follows a run of `template_arn` that was already going, if the busy agents are in one.
    async fn adopt(&self, template_arn: &str, mut runs: Vec<String>) -> Result<Started, ScanError> {
        runs.sort();
        runs.dedup();
        runs.truncate(10);
        let call = self.scope.call(
            "inspector:DescribeAssessmentRuns",
            format!("runs holding the agents of template {template_arn}"),
        );
        let described = if runs.is_empty() {
            Vec::new()
        } else {
            self.client
                .describe_assessment_runs()
                .set_assessment_run_arns(Some(runs.clone()))
                .send()
                .await
                .map_err(|e| call.error(&e))?
                .assessment_runs()
                .to_vec()
        };
        if let Some(run) = described
            .iter()
            .find(|r| r.assessment_template_arn() == template_arn && !is_terminal(r.state()))
        {
            tracing::info!(
                run = run.arn(),
                "a run of this template was already going; adopting it"
            );
            return Ok(Started {
                run_id: run.arn().to_owned(),
                adopted: true,
            });
        }
        Err(self
            .scope
            .call(
                "inspector:StartAssessmentRun",
                format!("template {template_arn}"),
            )
            .transient(&format!(
                "the agents are busy with another template's assessment run ({}); scanflow \
                 starts this one once that run ends",
                runs.join(", ")
            )))
    }

    fn disabled(&self, message: &str) -> ScanError {
        ScanError::InspectorDisabled {
            account_id: self.scope.account_id.clone(),
            region: self.scope.region.clone(),
            engine: Engine::Classic.as_str().into(),
            detail: format!(
                "Inspector Classic cannot use its service role to list EC2 instances ({})",
                message
            ),
        }
    }

    pub async fn run_status(&self, run_arn: &str) -> Result<RunStatus, ScanError> {
        let run = self.describe_run(run_arn).await?;
        Ok(status_of(&run))
    }

    async fn describe_run(&self, run_arn: &str) -> Result<AssessmentRun, ScanError> {
        let call = self
            .scope
            .call("inspector:DescribeAssessmentRuns", format!("run {run_arn}"));
        let out = self
            .client
            .describe_assessment_runs()
            .assessment_run_arns(run_arn)
            .send()
            .await
            .map_err(|e| call.error(&e))?;
        if let Some(failed) = out.failed_items().get(run_arn) {
            return Err(failed_item(&call, run_arn, failed));
        }
        out.assessment_runs()
            .iter()
            .find(|r| r.arn() == run_arn)
            .cloned()
            .ok_or_else(|| ScanError::NotFound {
                account_id: self.scope.account_id.clone(),
                region: self.scope.region.clone(),
                what: format!("assessment run {run_arn}"),
                detail: "DescribeAssessmentRuns did not return it".into(),
            })
    }

    /// One `ListFindings` page (cursor = its `nextToken`), described in batches of 10.
    pub async fn findings_page(
        &self,
        run_arn: &str,
        cursor: Option<String>,
    ) -> Result<FindingsPage, ScanError> {
        let call = self
            .scope
            .call("inspector:ListFindings", format!("run {run_arn}"));
        let out = self
            .client
            .list_findings()
            .assessment_run_arns(run_arn)
            .max_results(LIST_FINDINGS_MAX)
            .set_next_token(cursor)
            .send()
            .await
            .map_err(|e| call.error(&e))?;
        let arns = out.finding_arns().to_vec();
        let next = crate::next_page(out.next_token());
        let findings = self.describe_findings(&arns).await?;
        Ok(FindingsPage { findings, next })
    }

    /// Describes `arns` in batches of [`DESCRIBE_FINDINGS_BATCH`], [`DESCRIBE_CONCURRENCY`] at
    /// a time, keeping their order.
    pub async fn describe_findings(&self, arns: &[String]) -> Result<Vec<Finding>, ScanError> {
        // Each call owns its batch and a client handle: borrowed futures inside `buffered`
        // would not be provably `Send` for every lifetime, which the ports require.
        let owned: Vec<Vec<String>> = arns
            .chunks(DESCRIBE_FINDINGS_BATCH)
            .map(<[String]>::to_vec)
            .collect();
        let batches: Vec<Vec<Finding>> = stream::iter(owned)
            .map(|batch| {
                let this = self.clone();
                async move { this.describe_batch(&batch).await }
            })
            .buffered(DESCRIBE_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(batches.into_iter().flatten().collect())
    }

    /// One `DescribeFindings` call. Items failing with a retryable code are asked for once
    /// more; findings deleted in between are skipped with a warning.
    async fn describe_batch(&self, batch: &[String]) -> Result<Vec<Finding>, ScanError> {
        let call = self.scope.call(
            "inspector:DescribeFindings",
            format!("{} findings", batch.len()),
        );
        let mut findings = Vec::with_capacity(batch.len());
        let mut pending = batch.to_vec();
        for attempt in 0..2 {
            let out = self
                .client
                .describe_findings()
                .set_finding_arns(Some(pending.clone()))
                .send()
                .await
                .map_err(|e| call.error(&e))?;
            findings.extend(out.findings().iter().map(|f| self.finding(f)));
            let mut retry = Vec::new();
            for (arn, failed) in out.failed_items() {
                match failed.failure_code() {
                    FailedItemErrorCode::ItemDoesNotExist => {
                        tracing::warn!(finding = %arn, "finding disappeared before it was described");
                    }
                    _ if failed.retryable() && attempt == 0 => retry.push(arn.clone()),
                    _ => return Err(failed_item(&call, arn, failed)),
                }
            }
            if retry.is_empty() {
                break;
            }
            pending = retry;
        }
        // Keep the listing's order, whatever order the service answered in.
        let position: HashMap<&str, usize> = batch
            .iter()
            .enumerate()
            .map(|(i, a)| (a.as_str(), i))
            .collect();
        findings.sort_by_key(|f| position.get(f.id.as_str()).copied().unwrap_or(usize::MAX));
        Ok(findings)
    }

    fn finding(&self, f: &aws_sdk_inspector::types::Finding) -> Finding {
        let asset = f.asset_attributes();
        let instance_tags: BTreeMap<String, String> = asset
            .map(|a| a.tags())
            .unwrap_or_default()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect();
        let cve = f
            .attributes()
            .iter()
            .filter_map(|a| a.value())
            .find(|v| v.starts_with("CVE-"));
        let vulnerability_id = cve.or(f.id()).filter(|v| !v.is_empty()).map(str::to_owned);
        let numeric = f.numeric_severity();
        Finding {
            id: f.arn().to_owned(),
            engine: Engine::Classic,
            account_id: self.scope.account_id.clone(),
            region: self.scope.region.clone(),
            severity: f
                .severity()
                .map_or(Severity::Untriaged, |s| Severity::from_label(s.as_str())),
            title: f
                .title()
                .or(f.id())
                .filter(|t| !t.is_empty())
                .unwrap_or("Inspector Classic finding")
                .to_owned(),
            instance_id: asset.and_then(|a| a.agent_id()).map(str::to_owned),
            instance_tags,
            vulnerability_id,
            description: f.description().unwrap_or_default().to_owned(),
            recommendation: f.recommendation().unwrap_or_default().to_owned(),
            fix_available: None,
            score: (numeric > 0.0).then_some(numeric),
            first_seen: f.created_at().fmt(Format::DateTime).ok(),
            last_seen: f.updated_at().fmt(Format::DateTime).ok(),
            rules_package_arn: f
                .service_attributes()
                .and_then(|a| a.rules_package_arn())
                .map(str::to_owned),
            detail: None,
        }
    }

    /// The run's agents: healthy ones were scanned, the others are reported with a remedy.
    pub async fn coverage(&self, run_arn: &str) -> Result<Coverage, ScanError> {
        let call = self.scope.call(
            "inspector:ListAssessmentRunAgents",
            format!("run {run_arn}"),
        );
        let mut coverage = Coverage::default();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_assessment_run_agents()
                .assessment_run_arn(run_arn)
                .max_results(LIST_FINDINGS_MAX)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| call.error(&e))?;
            for agent in out.assessment_run_agents() {
                if *agent.agent_health() == AgentHealth::Healthy {
                    coverage.scanned.push(agent.agent_id().to_owned());
                } else {
                    coverage.not_scanned.push(Uncovered {
                        instance_id: agent.agent_id().to_owned(),
                        reason: agent.agent_health_code().as_str().to_owned(),
                        remedy: agent_remedy(
                            agent.agent_health_code(),
                            agent.agent_health_details(),
                        ),
                    });
                }
            }
            token = crate::next_page(out.next_token());
            if token.is_none() {
                return Ok(coverage);
            }
        }
    }
}

fn is_terminal(state: &AssessmentRunState) -> bool {
    matches!(
        state,
        AssessmentRunState::Completed
            | AssessmentRunState::CompletedWithErrors
            | AssessmentRunState::Failed
            | AssessmentRunState::Error
            | AssessmentRunState::Canceled
    )
}

/// Maps all 13 run states: two successes (one partial), three failures, eight still going.
/// A state this SDK does not know counts as still going; the run's deadline bounds the wait.
pub fn status_of(run: &AssessmentRun) -> RunStatus {
    let state = run.state().as_str().to_owned();
    match run.state() {
        AssessmentRunState::Completed => RunStatus::Succeeded { state },
        AssessmentRunState::CompletedWithErrors => RunStatus::Succeeded {
            state: format!(
                "{state} (partial: some agents or rules packages reported errors; see the run's \
                 exclusions)"
            ),
        },
        AssessmentRunState::Failed | AssessmentRunState::Error | AssessmentRunState::Canceled => {
            RunStatus::Failed {
                detail: failure_detail(run),
                state,
            }
        }
        AssessmentRunState::Created
        | AssessmentRunState::StartDataCollectionPending
        | AssessmentRunState::StartDataCollectionInProgress
        | AssessmentRunState::CollectingData
        | AssessmentRunState::StopDataCollectionPending
        | AssessmentRunState::DataCollected
        | AssessmentRunState::StartEvaluatingRulesPending
        | AssessmentRunState::EvaluatingRules => RunStatus::Running { state },
        other => {
            tracing::warn!(
                state = other.as_str(),
                "unknown assessment run state; still waiting"
            );
            RunStatus::Running { state }
        }
    }
}

/// What went wrong, from the run's state history and its error notifications.
fn failure_detail(run: &AssessmentRun) -> String {
    let history: Vec<&str> = run
        .state_changes()
        .iter()
        .map(|c| c.state().as_str())
        .collect();
    let errors: Vec<&str> = run
        .notifications()
        .iter()
        .filter(|n| n.error())
        .filter_map(|n| n.message())
        .collect();
    let mut detail = if history.is_empty() {
        format!("the run ended {}", run.state().as_str())
    } else {
        format!("states {}", history.join(" → "))
    };
    if !errors.is_empty() {
        detail.push_str("; errors: ");
        detail.push_str(&errors.join("; "));
    }
    detail
}

/// A per-item failure of a batch call.
fn failed_item(call: &Call<'_>, arn: &str, failed: &FailedItemDetails) -> ScanError {
    let code = failed.failure_code().as_str();
    let scope = call.scope;
    match failed.failure_code() {
        FailedItemErrorCode::ItemDoesNotExist => ScanError::NotFound {
            account_id: scope.account_id.clone(),
            region: scope.region.clone(),
            what: arn.to_owned(),
            detail: format!("{} reported {code}", call.action),
        },
        FailedItemErrorCode::AccessDenied => ScanError::AccessDenied {
            account_id: scope.account_id.clone(),
            region: scope.region.clone(),
            action: call.action.to_owned(),
            detail: format!("{code} for {arn}"),
        },
        FailedItemErrorCode::InvalidArn | FailedItemErrorCode::DuplicateArn
            if !failed.retryable() =>
        {
            ScanError::invalid(
                format!("{} request", call.action),
                "valid, distinct Inspector ARNs",
                format!("{arn} failed with {code}"),
            )
        }
        _ => call.transient(&format!("{arn} failed with {code}")),
    }
}

fn agent_remedy(code: &AgentHealthCode, details: Option<&str>) -> String {
    let advice = match code {
        AgentHealthCode::UnknownValue => {
            "No Inspector Classic agent answered: install the agent on the instance (or check it \
             runs and can reach the Inspector endpoint), then rerun"
        }
        AgentHealthCode::Shutdown => {
            "The agent stopped during the run (instance stopped or agent shut down): start it \
             and rerun"
        }
        AgentHealthCode::Throttled => {
            "The agent was throttled and sent no telemetry: rerun, ideally outside peak load"
        }
        AgentHealthCode::Idle => {
            "The agent did not collect data for this run: check the agent logs and rerun"
        }
        _ => "The agent is unhealthy: restart or reinstall it, check its logs, then rerun",
    };
    match details.filter(|d| !d.is_empty()) {
        Some(d) => format!("{advice} (agent reported: {d})"),
        None => advice.to_owned(),
    }
}
