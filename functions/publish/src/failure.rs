//! The failure notice: a scan that could not be completed is told to people (e-mail), to the
//! SIEM (a `failure` document) and to Security Hub (a notice), each saying what went wrong, in
//! which account and region, and what to do.

use std::fmt::Write as _;

use crate::delivery::import_notices;
use crate::ledger::Ledger;
use crate::notify::Notified;
use crate::open_notices::{OpenNotice, SecurityHubHome};
use crate::problems::Problems;
use scanflow_core::error::CaughtError;
use scanflow_core::input::{validate_account_id, validate_region};
use scanflow_core::message::{KIND_FAILURE, KIND_SIEM, Message};
use scanflow_core::model::{Engine, Severity};
use scanflow_core::ports::{MemberAccount, Notice, NoticeKind, NoticeResource, Platform};
use scanflow_core::state::{ExecutionContext, Run};
use scanflow_core::text::clip;
use scanflow_core::{ScanError, text};
use scanflow_documents::envelope::attributes;
use scanflow_documents::siem::{FailureSection, failure_document};

/// What a failure notice did, and the Security Hub notice it imported (and where).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureNotice {
    pub notified: Notified,
    pub open: OpenNotice,
}

/// Long messages and inputs are cut so the notice always fits one SNS message.
const MESSAGE_CHARS: usize = 8_000;
const INPUT_CHARS: usize = 4_000;

/// An account id or region as far as the failure lets us know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    Yes(String),
    /// The execution input had no such field.
    Missing,
    /// The execution input had this (JSON) value, which is not valid.
    Invalid(String),
}

impl Known {
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Yes(v) => Some(v),
            Self::Missing | Self::Invalid(_) => None,
        }
    }

    fn describe(&self, field: &str, what: &str) -> String {
        match self {
            Self::Yes(v) => v.clone(),
            Self::Missing => format!("unknown: the execution input has no {field}"),
            Self::Invalid(raw) => {
                format!("unknown: the execution input's {field} {raw} is not {what}")
            }
        }
    }
}

/// Where the failed scan was meant to run: from the run when it had started, else from the
/// raw execution input, which may be what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub account: Known,
    pub region: Known,
}

impl Place {
    pub fn of(run: Option<&Run>, input: &serde_json::Value) -> Self {
        if let Some(run) = run {
            return Self {
                account: Known::Yes(run.account_id.clone()),
                region: Known::Yes(run.region.clone()),
            };
        }
        let field = |name: &str, valid: fn(&str, &str) -> Result<(), ScanError>| match input
            .get(name)
        {
            None | Some(serde_json::Value::Null) => Known::Missing,
            Some(serde_json::Value::String(s)) if valid(name, s).is_ok() => Known::Yes(s.clone()),
            Some(other) => Known::Invalid(clip(&other.to_string(), 80)),
        };
        Self {
            account: field("accountId", validate_account_id),
            region: field("region", validate_region),
        }
    }
}

/// What to do about `error`, as specific as what is known allows.
pub fn remedy(error: &str, place: &Place, execution: &str, run: Option<&Run>) -> String {
    let account = place.account.value().unwrap_or("<account id>");
    let region = place.region.value().unwrap_or("<region>");
    let rerun = format!("{{\"accountId\": \"{account}\", \"region\": \"{region}\"}}");
    match error {
        "RoleNotAssumable" => format!(
            "Deploy the scanflow member stack (its StackSet instance) to account {account} in \
             {region}, or fix it: its scan role must exist and trust this hub account's scanflow \
             functions (with the external id, if one is configured). Then start a scan with \
             {rerun}."
        ),
        "AccessDenied" => format!(
            "Update account {account}'s scanflow member stack (StackSet instance) to the current \
             template so its scan role grants the action named above. Then start a scan with \
             {rerun}."
        ),
        "InspectorDisabled" => format!(
            "Enable Amazon Inspector EC2 scanning in account {account}, region {region} (or for \
             the organization from Inspector's delegated administrator), or set the account's \
             engine to the other Inspector generation in its member stack. Then start a scan \
             with {rerun}."
        ),
        "NoInstancesMatched" => format!(
            "Tag the EC2 instances to scan in account {account} ({region}) with the account's \
             scan tag, or change the member stack's Tagkey/Tagvalue (leave them empty to scan \
             every instance). Then start a scan with {rerun}."
        ),
        "ScanFailed" => format!(
            "Check the instances' agents in account {account} ({region}): Inspector Classic \
             needs its agent installed, running and reaching Inspector; Inspector v2 needs the \
             SSM agent and an instance profile. Look at the run in the Inspector console, then \
             start a scan with {rerun}."
        ),
        "ScanTimedOut" => {
            let finished = match run {
                Some(r) => {
                    let field = match r.engine {
                        Engine::Classic => "runArn",
                        Engine::Inspector2 => "reportId",
                    };
                    format!(
                        "{{\"accountId\": \"{account}\", \"region\": \"{region}\", \"{field}\": \"{}\"}}",
                        r.run_id
                    )
                }
                None => format!(
                    "{{\"accountId\": \"{account}\", \"region\": \"{region}\", \"runArn\" or \
                     \"reportId\": \"<the run named above>\"}}"
                ),
            };
            format!(
                "The scan may still finish. Once it has, collect and deliver it without scanning \
                 again by starting scanflow with {finished}. If runs keep timing out, give the \
                 account a shorter duration or the hub a longer evaluation allowance."
            )
        }
        "InvalidInput" => "Fix the execution input and start the scan again; the message above \
             names the field. The input is a JSON object: {\"accountId\": \"111122223333\", \
             \"region\": \"eu-west-1\"} is required; optional are \"engine\" (\"classic\" or \
             \"inspector2\"), \"tagKey\" and \"tagValue\", \"durationSeconds\" (180 to 86400), \
             and, to deliver a finished run again without scanning, \"runArn\" (Inspector \
             Classic) or \"reportId\" (Inspector v2)."
            .to_owned(),
        "Transient" => format!(
            "An AWS service kept failing after every retry. Start the scan again later with \
             {rerun}; if it persists, check the AWS Health Dashboard and execution {execution}'s \
             history in the Step Functions console."
        ),
        e if e.starts_with("States.") || e.starts_with("Lambda.") => format!(
            "Look at execution {execution} of the scanflow state machine in the Step Functions \
             console of the hub account: its event history shows which step failed and why, and \
             that function's CloudWatch logs have the details. Then start a scan with {rerun}."
        ),
        _ => format!(
            "Look at execution {execution} in the Step Functions console of the hub account and \
             at the scanflow functions' CloudWatch logs, fix the cause, then start a scan with \
             {rerun}."
        ),
    }
}

/// The remedy, and for every failure but a rejected input (a redrive would reuse it), how to
/// resume the execution where it stopped instead of scanning again.
fn with_redrive(remedy: String, error: &str, execution_arn: &str) -> String {
    if error == "InvalidInput" {
        return remedy;
    }
    format!(
        "{remedy} Once the cause is fixed you can instead resume this execution at the step \
         that failed, with the same input and without scanning again (within 14 days): \
         scanflow executions redrive {execution_arn} (or Redrive in the Step Functions console)."
    )
}

/// Publishes the failure to people and to the SIEM (each message once per event, through
/// `ledger`), then records it in Security Hub.
pub async fn notify_failure<P: Platform>(
    platform: &P,
    failure: &CaughtError,
    input: &serde_json::Value,
    execution: &ExecutionContext,
    execution_arn: &str,
    run: Option<&Run>,
    ledger: &Ledger<'_, P::Store>,
) -> Result<FailureNotice, ScanError> {
    let place = Place::of(run, input);
    let error = failure.error.as_str();
    let message = clip(&failure.message(), MESSAGE_CHARS);
    let remedy = with_redrive(
        remedy(error, &place, &execution.name, run),
        error,
        execution_arn,
    );
    let account = place.account.value();
    let region = place.region.value();
    let run_id = run.map(|r| r.run_id.as_str());
    tracing::warn!(error, account = account.unwrap_or("unknown"), region = region.unwrap_or("unknown"), execution = %execution.name, "publishing a failure notice");

    let notifier = platform.notifier();
    let subject = format!(
        "scanflow: scan FAILED — {} {} ({error})",
        account.unwrap_or("unknown account"),
        region.unwrap_or("unknown region")
    );
    let body = human_body(&HumanFacts {
        error,
        message: &message,
        place: &place,
        execution,
        run,
        remedy: &remedy,
        input,
    });
    let mut sent = [false; 2];
    sent[0] = ledger
        .publish_once(
            notifier,
            "failure",
            &Message::for_people(
                &subject,
                &body,
                attributes(KIND_FAILURE, account, region, run_id),
            )?,
        )
        .await?;

    let document = failure_document(
        run,
        &FailureSection {
            error: error.to_owned(),
            message: message.clone(),
            account_id: account.map(str::to_owned),
            region: region.map(str::to_owned),
            execution: execution.name.clone(),
            remedy: remedy.clone(),
        },
    )?;
    sent[1] = ledger
        .publish_once(
            notifier,
            "siem",
            &Message::new(
                &format!(
                    "scanflow SIEM failure {} {}",
                    account.unwrap_or("unknown"),
                    region.unwrap_or("unknown")
                ),
                document,
                attributes(KIND_SIEM, account, region, run_id),
            )?,
        )
        .await?;

    let mut problems = Problems::default();
    let facts = NoticeFacts {
        place: &place,
        error,
        message: &message,
        remedy: &remedy,
        execution,
    };
    let (notices_imported, open) =
        record_in_security_hub(platform, &facts, None, None, &mut problems).await;
    let published = sent.iter().filter(|s| **s).count() as u64;
    Ok(FailureNotice {
        notified: Notified {
            action: "failure".into(),
            messages: published,
            already_sent: 2 - published,
            notices_imported,
            security_hub_problems: problems.into_lines(),
        },
        open,
    })
}

/// Archives the failure notice of `error` where it was imported, once a redrive completed the
/// scan. Returns how many notices were re-imported (0 or 1) and what went wrong, if anything.
pub async fn archive_notice<P: Platform>(
    platform: &P,
    place: &Place,
    error: &str,
    execution: &ExecutionContext,
    home: &SecurityHubHome,
    resolved_at: &str,
) -> (u64, Vec<String>) {
    let mut problems = Problems::default();
    let message = format!(
        "Resolved: a redrive of execution {} completed the scan.",
        execution.name
    );
    let facts = NoticeFacts {
        place,
        error,
        message: &message,
        remedy: "Nothing to do: the scan completed.",
        execution,
    };
    let (n, _) = record_in_security_hub(
        platform,
        &facts,
        Some(*home),
        Some(resolved_at),
        &mut problems,
    )
    .await;
    (n, problems.into_lines())
}

struct HumanFacts<'a> {
    error: &'a str,
    message: &'a str,
    place: &'a Place,
    execution: &'a ExecutionContext,
    run: Option<&'a Run>,
    remedy: &'a str,
    input: &'a serde_json::Value,
}

/// The e-mail. Every value from outside (the error message, the input, tags, names) goes
/// through the sanitiser for people on its own line, so none can forge a line of the notice;
/// `Message::for_people` then sanitises the whole.
fn human_body(f: &HumanFacts<'_>) -> String {
    let v = text::line;
    let mut s = String::new();
    let _ = writeln!(s, "scanflow could not complete a vulnerability scan.\n");
    let _ = writeln!(s, "WHAT WENT WRONG");
    s.push_str(&text::wrap(&v(f.message), text::WIDTH, "", ""));
    s.push('\n');
    let _ = writeln!(
        s,
        "Account:    {}",
        v(&f.place
            .account
            .describe("accountId", "a 12-digit account id"))
    );
    let _ = writeln!(
        s,
        "Region:     {}",
        v(&f.place.region.describe("region", "an AWS region"))
    );
    let _ = writeln!(s, "Error:      {}", v(f.error));
    let _ = writeln!(
        s,
        "Execution:  {} (started {})",
        v(&f.execution.name),
        v(&f.execution.start_time)
    );
    if let Some(run) = f.run {
        let _ = writeln!(
            s,
            "Run:        {} ({}, {})",
            v(&run.run_id),
            run.engine,
            v(&run.target())
        );
    }
    let _ = writeln!(s, "\nWHAT TO DO");
    s.push_str(&text::wrap(&v(f.remedy), text::WIDTH, "", ""));
    s.push('\n');
    // Pretty JSON escapes control characters itself; its line breaks are its own layout.
    let input = serde_json::to_string_pretty(f.input).unwrap_or_else(|_| f.input.to_string());
    let _ = writeln!(s, "THE EXECUTION INPUT\n{}\n", clip(&input, INPUT_CHARS));
    let _ = writeln!(
        s,
        "-- \nSent by scanflow. The failure is also a Security Hub finding and a SIEM \
         `failure` document."
    );
    s
}

/// What a failure notice in Security Hub says.
struct NoticeFacts<'a> {
    place: &'a Place,
    error: &'a str,
    message: &'a str,
    remedy: &'a str,
    execution: &'a ExecutionContext,
}

/// Imports the failure notice through the member's role, or into the hub's own Security Hub
/// when the member cannot be entered (Security Hub only takes findings about the caller's own
/// account); `home` forces one of them (archiving goes where the notice is). Returns how many
/// notices were imported (0 or 1), and the notice with where it went.
async fn record_in_security_hub<P: Platform>(
    platform: &P,
    facts: &NoticeFacts<'_>,
    home: Option<SecurityHubHome>,
    resolved_at: Option<&str>,
    problems: &mut Problems,
) -> (u64, OpenNotice) {
    let NoticeFacts {
        place,
        error,
        message,
        remedy,
        execution,
    } = *facts;
    let account = place.account.value();
    let region = place.region.value();
    let notice = |owner: &str| Notice {
        id: Notice::id_for(
            account.unwrap_or("unknown"),
            region.unwrap_or("unknown"),
            NoticeKind::ScanFailed,
            error,
        ),
        account_id: owner.to_owned(),
        region: region.unwrap_or("unknown").to_owned(),
        kind: NoticeKind::ScanFailed,
        severity: Severity::High,
        // Security Hub shows these to people: the same sanitiser as the e-mail.
        title: clip(
            &text::line(&format!(
                "scanflow could not scan account {} ({}): {error}",
                account.unwrap_or("unknown"),
                region.unwrap_or("unknown region")
            )),
            256,
        ),
        description: clip(
            &text::line(&format!(
                "{message} (Step Functions execution {})",
                execution.name
            )),
            1024,
        ),
        remedy: clip(&text::line(remedy), 512),
        resource: NoticeResource::AwsAccount {
            id: account.unwrap_or("unknown").to_owned(),
        },
        // The execution's start: a retry re-sends the same notice, a later failure updates it.
        created_at: execution.start_time.clone(),
        execution: execution.name.clone(),
        resolved_at: resolved_at.map(str::to_owned),
    };

    if let (Some(account), Some(region)) = (account, region)
        && error != "RoleNotAssumable"
        && home != Some(SecurityHubHome::Hub)
    {
        match platform.member(account, region, &execution.name).await {
            Ok(member) => {
                let notice = notice(account);
                let n = import_notices(
                    member.security_hub(),
                    std::slice::from_ref(&notice),
                    problems,
                )
                .await;
                let home = SecurityHubHome::Member;
                return (n, OpenNotice { notice, home });
            }
            Err(e) => {
                tracing::warn!(account, error = %e, "cannot enter the member account; recording the failure in the hub account");
            }
        }
    }
    let notice = notice(&platform.config().hub_account_id);
    let n = import_notices(
        platform.hub_security_hub(),
        std::slice::from_ref(&notice),
        problems,
    )
    .await;
    let home = SecurityHubHome::Hub;
    (n, OpenNotice { notice, home })
}
