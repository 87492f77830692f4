//! `scanflow executions`: start, watch, list and redrive scans of a deployed hub stack. Each
//! command is a function over SDK clients writing to `impl Write`, so tests drive them with
//! mocked clients; [`main`] only builds the clients from the standard AWS configuration chain.

mod error;
mod list;
mod redrive;
mod stack;
mod start;
mod watch;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sfn::types::ExecutionStatus;
use scanflow_core::input::ExecutionInput;
use time::OffsetDateTime;
use time::macros::format_description;

pub use crate::names::{MAX_NAME_LEN, account_in_name, check_name, execution_name};
pub use error::{Error, INVALID};
pub use list::{ListOptions, Listed, list, parse_since};
pub use redrive::{REDRIVE_WINDOW, redrive};
pub use stack::{OUTPUT_KEY, state_machine_arn};
pub use start::{Started, build_input, start};
pub use watch::{Outcome, WatchOptions, trace_event, watch};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Start a scan (or a rerun) on a deployed hub stack; repeating it within the hour finds the
    /// execution it already started.
    Start(StartArgs),
    /// Follow an execution state by state until it ends (exit 1 unless it succeeds).
    Watch(WatchArgs),
    /// List a stack's executions, newest first.
    List(ListArgs),
    /// Resume a failed, timed-out or aborted execution from the step that failed.
    Redrive(RedriveArgs),
}

/// Where the AWS credentials come from.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Profile {
    /// Named profile of ~/.aws/config [default: AWS_PROFILE, else the default chain].
    #[arg(long)]
    pub profile: Option<String>,
}

/// The hub stack and its region.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Stack {
    /// The hub stack (name or id); its output StateMachineArn names the state machine.
    #[arg(long)]
    pub stack: String,
    /// Region the hub stack is deployed in [default: AWS_REGION, else the profile's region].
    #[arg(long)]
    pub stack_region: Option<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Follow {
    /// Seconds between polls while the execution runs.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub interval: u64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StartArgs {
    #[command(flatten)]
    pub stack: Stack,
    /// Member account to scan (12 digits).
    #[arg(
        long,
        required_unless_present = "input",
        conflicts_with = "input",
        requires = "region"
    )]
    pub account: Option<String>,
    /// Region of the member account to scan.
    #[arg(long, requires = "account")]
    pub region: Option<String>,
    /// Execution input file (JSON, the documented fields), instead of --account/--region.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Deliver a finished run again: an Inspector Classic run ARN (sets runArn) or an Inspector
    /// v2 report id (sets reportId).
    #[arg(long, value_name = "RUN")]
    pub rerun_of: Option<String>,
    /// Execution name [default: scan-<account>-<region>-<UTC hour>, rerun-...-<hash of the run>].
    #[arg(long)]
    pub name: Option<String>,
    /// Follow the execution to its end, as `watch` does.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub follow: Follow,
    #[command(flatten)]
    pub profile: Profile,
}

#[derive(clap::Args, Debug, Clone)]
pub struct WatchArgs {
    /// arn:aws:states:<region>:<account>:execution:<state machine>:<name>
    pub execution_arn: String,
    #[command(flatten)]
    pub follow: Follow,
    #[command(flatten)]
    pub profile: Profile,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ListArgs {
    #[command(flatten)]
    pub stack: Stack,
    /// Only executions with this status.
    #[arg(long, ignore_case = true, value_parser = clap::builder::PossibleValuesParser::new(ExecutionStatus::values().iter().copied()))]
    pub status: Option<String>,
    /// Only executions scanning this account (read from the execution name, or from the input
    /// when the name was not made by `scanflow executions start`).
    #[arg(long)]
    pub account: Option<String>,
    /// Only executions started within this long: 30m, 12h, 7d.
    #[arg(long)]
    pub since: Option<String>,
    #[command(flatten)]
    pub profile: Profile,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RedriveArgs {
    /// arn:aws:states:<region>:<account>:execution:<state machine>:<name>
    pub execution_arn: String,
    #[command(flatten)]
    pub profile: Profile,
}

/// Runs one `scanflow executions` command and prints its errors; the exit status is 0 on
/// success, 1 for a failed, timed-out or aborted execution or an AWS error, 2 for bad arguments.
pub fn main(command: Command) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("scanflow executions: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let live = std::io::stdout().is_terminal();
    let mut stdout = std::io::stdout().lock();
    match runtime.block_on(dispatch(command, live, &mut stdout)) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            let _ = stdout.flush();
            eprintln!("scanflow executions: {e}");
            ExitCode::from(e.exit_status())
        }
    }
}

async fn dispatch(command: Command, live: bool, out: &mut impl Write) -> Result<u8, Error> {
    let now = OffsetDateTime::now_utc();
    match command {
        Command::Start(args) => {
            let config = sdk_config(&args.profile, args.stack.stack_region.as_deref()).await?;
            let clients = Clients::new(&config);
            let started = run_start(&clients, &args, now, live, out).await?;
            Ok(started.outcome.map_or(0, Outcome::exit_status))
        }
        Command::Watch(args) => {
            let config = sdk_config(&args.profile, Some(region_of(&args.execution_arn)?)).await?;
            let options = WatchOptions {
                interval: Duration::from_secs(args.follow.interval),
                live,
            };
            let outcome = watch(
                &aws_sdk_sfn::Client::new(&config),
                &args.execution_arn,
                &options,
                out,
            )
            .await?;
            Ok(outcome.exit_status())
        }
        Command::List(args) => {
            let config = sdk_config(&args.profile, args.stack.stack_region.as_deref()).await?;
            run_list(&Clients::new(&config), &args, now, out).await?;
            Ok(0)
        }
        Command::Redrive(args) => {
            let config = sdk_config(&args.profile, Some(region_of(&args.execution_arn)?)).await?;
            redrive(
                &aws_sdk_sfn::Client::new(&config),
                &args.execution_arn,
                now,
                out,
            )
            .await?;
            Ok(0)
        }
    }
}

/// The clients the stack commands need.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sfn: aws_sdk_sfn::Client,
    pub cfn: aws_sdk_cloudformation::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            sfn: aws_sdk_sfn::Client::new(config),
            cfn: aws_sdk_cloudformation::Client::new(config),
        }
    }
}

/// The standard chain (environment, profile, SSO, process, instance role), with `--profile`
/// and the region given.
async fn sdk_config(profile: &Profile, region: Option<&str>) -> Result<SdkConfig, Error> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(name) = &profile.profile {
        loader = loader.profile_name(name);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(Error::NoRegion);
    }
    Ok(config)
}

/// What `start` did, and with `--wait` how the execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartResult {
    pub started: Started,
    pub name: String,
    pub input: ExecutionInput,
    pub outcome: Option<Outcome>,
}

/// `scanflow executions start`: build and validate the input, find the state machine, start
/// (idempotently), and follow with `--wait`.
pub async fn run_start(
    clients: &Clients,
    args: &StartArgs,
    now: OffsetDateTime,
    live: bool,
    out: &mut impl Write,
) -> Result<StartResult, Error> {
    let base = match (&args.input, &args.account, &args.region) {
        (Some(path), _, _) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Usage(format!("--input {}: cannot read it ({e})", path.display()))
            })?;
            ExecutionInput::from_json(&text)?
        }
        (None, Some(account), Some(region)) => ExecutionInput {
            account_id: Some(account.clone()),
            region: Some(region.clone()),
            ..Default::default()
        },
        _ => {
            return Err(Error::Usage(
                "give --account and --region, or --input FILE".into(),
            ));
        }
    };
    let (input, request) = build_input(base, args.rerun_of.as_deref())?;
    let name = match &args.name {
        Some(name) => {
            check_name(name).map_err(Error::Usage)?;
            name.clone()
        }
        None => execution_name(&request, now),
    };
    let machine = state_machine_arn(&clients.cfn, &args.stack.stack).await?;
    let started = start(&clients.sfn, &machine, &input, &name, out).await?;
    let outcome = if args.wait {
        let options = WatchOptions {
            interval: Duration::from_secs(args.follow.interval),
            live,
        };
        Some(watch(&clients.sfn, &started.execution_arn, &options, out).await?)
    } else {
        writeln!(
            out,
            "  follow it: scanflow executions watch {}",
            started.execution_arn
        )?;
        None
    };
    Ok(StartResult {
        started,
        name,
        input,
        outcome,
    })
}

/// `scanflow executions list`.
pub async fn run_list(
    clients: &Clients,
    args: &ListArgs,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<Vec<Listed>, Error> {
    let options = ListOptions {
        status: args
            .status
            .as_deref()
            .map(|s| ExecutionStatus::from(s.to_ascii_uppercase().as_str())),
        account: args.account.clone(),
        since: args.since.as_deref().map(parse_since).transpose()?,
    };
    if let Some(account) = &options.account {
        scanflow_core::input::validate_account_id("--account", account)
            .map_err(|e| Error::Usage(e.to_string()))?;
    }
    let machine = state_machine_arn(&clients.cfn, &args.stack.stack).await?;
    list(&clients.sfn, &machine, &options, now, out).await
}

/// The region of an execution ARN, which is where its state machine runs.
pub fn region_of(execution_arn: &str) -> Result<&str, Error> {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "states", region, _, "execution", _, name, ..]
            if !region.is_empty() && !name.is_empty() =>
        {
            Ok(region)
        }
        _ => Err(Error::Usage(format!(
            "{execution_arn:?} is not an execution ARN; expected arn:aws:states:<region>:<account>:execution:<state machine>:<name>"
        ))),
    }
}

/// The region of a state machine ARN, for messages.
fn region_of_state_machine(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or("?")
}

/// `2026-11-28 10:00:03Z`.
fn fmt_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default()
}
