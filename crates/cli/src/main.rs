//! The `scanflow` command: `run` the workflow locally on simulated accounts, `simulate` a fleet
//! under AWS's quotas, `asl exec` any state machine definition offline, `siem receive` SIEM
//! documents as an integrator would.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use scanflow_asl::Status;
use scanflow_cli::definition::{Workflow, find_upwards};
use scanflow_cli::error::CliError;
use scanflow_cli::local::{self, RunOptions};
use scanflow_cli::trace;
use scanflow_sandbox::{DeliveryOutcome, HttpEndpoint, PublishedMessage, Scenario, Subscription};

// The command's allocator (not the Lambdas'): a fleet simulation allocates and frees millions of
// findings' strings on many threads, where glibc's malloc was the largest single cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "scanflow",
    version,
    about = "Scheduled Inspector scans across AWS accounts, delivered to people, SIEMs and Security Hub"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the scan workflow (statemachine/scan.asl.json) locally on simulated accounts.
    Run(RunArgs),
    /// Simulate a fleet scan (accounts × Regions at once) under AWS's quotas: outcomes,
    /// throttles, transitions, Lambda GB-seconds, API calls and a monthly cost.
    Simulate(SimulateArgs),
    /// Amazon States Language tools.
    Asl {
        #[command(subcommand)]
        command: AslCommand,
    },
    /// Tools for the SIEM side: the reference receiver.
    Siem {
        #[command(subcommand)]
        command: SiemCommand,
    },
    /// Start, watch, list and redrive scans of a deployed hub stack.
    #[cfg(feature = "aws")]
    Executions {
        #[command(subcommand)]
        command: scanflow_cli::executions::Command,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario file (JSON); default: the built-in scenario.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// One execution input (JSON, @FILE or - for standard input; at most 256 KiB), instead of
    /// one execution per scenario account.
    #[arg(long)]
    input: Option<String>,
    /// Only the scenario's executions for this account id.
    #[arg(long)]
    account: Option<String>,
    /// POST every SIEM message to this URL in SNS's HTTP notification envelope.
    #[arg(long)]
    http_endpoint: Option<String>,
    /// Seconds each HTTP delivery attempt may take (1 to 15, SNS's own) [default: 15].
    #[arg(long, value_name = "SECONDS", requires = "http_endpoint",
          value_parser = clap::value_parser!(u64).range(1..=scanflow_sandbox::HTTP_TIMEOUT.as_secs()))]
    http_timeout: Option<u64>,
    /// How the SIEM parts write findings, as the hub's SiemFormat parameter does: scanflow or
    /// ocsf (OCSF Vulnerability Finding events) [default: the scenario's
    /// hub.config.siemFormat, else scanflow].
    #[arg(long, value_name = "FORMAT")]
    siem_format: Option<String>,
    /// Where findings, digests, HTML reports, SIEM parts and published messages are written.
    #[arg(long, default_value = "scanflow-out")]
    out: PathBuf,
    /// State machine definition [default: statemachine/scan.asl.json, found upwards].
    #[arg(long)]
    definition: Option<PathBuf>,
    /// SAM template whose DefinitionSubstitutions resolve the definition's placeholders
    /// [default: templates/hub.yaml, found upwards].
    #[arg(long)]
    template: Option<PathBuf>,
    /// Virtual start time (RFC 3339) [default: now].
    #[arg(long)]
    start_time: Option<String>,
    /// Redrive each execution that did not succeed, once, this long (virtual time) after it
    /// ended, as an operator would: 30m, 2h, 1d (at most 14 days, as in AWS).
    #[arg(long, value_name = "DURATION")]
    redrive_after: Option<String>,
    /// Scan each account N times (1 to 52), keeping each account-Region's run state between
    /// scans, so later digests and SIEM documents say what is new and what was resolved.
    #[arg(long, value_name = "N", default_value_t = 1)]
    repeat: u32,
    /// Virtual time between repeated scans: 12h, 7d, ... (at most 365 days) [default: 7d].
    #[arg(long, value_name = "DURATION", requires = "repeat")]
    every: Option<String>,
    /// Print traces and outcome only, not the digests.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// Member accounts (1 to 10,000).
    #[arg(long)]
    accounts: u32,
    /// Regions each account is scanned in (1 to 12).
    #[arg(long, default_value_t = 1)]
    regions: u32,
    /// Findings per account and Region (at most 100,000).
    #[arg(long, default_value_t = 1_000)]
    findings: u32,
    /// Every schedule fires in the same minute, as without a flexible window [default: spread
    /// over the member template's ScheduleWindowMinutes].
    #[arg(long)]
    same_minute: bool,
    /// The scan functions' Lambda concurrency [default: 1,000, the account default].
    #[arg(long, value_name = "C")]
    lambda_concurrency: Option<u32>,
    /// JSON quotas replacing the defaults: {"lambdaConcurrency": 100, "rates": {"sns:Publish":
    /// {"rate": 5, "burst": 5}}}.
    #[arg(long, value_name = "FILE")]
    quotas: Option<PathBuf>,
    /// JSON prices replacing the defaults: {"stateTransition": 0.000025, ...}.
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// The schedule the monthly cost assumes [default: the member template's AssessmentSchedule].
    #[arg(long, value_name = "EXPRESSION")]
    schedule: Option<String>,
    /// The scheduled time (RFC 3339) [default: 2026-11-30T03:00:00Z, a Monday].
    #[arg(long)]
    start_time: Option<String>,
    /// Invocations run at once in real time; the figures do not depend on it (the quota
    /// models see the same order) [default: this machine's cores, at most 8].
    #[arg(long)]
    slots: Option<usize>,
    /// Where the simulated bucket is written (cleared first if the simulation wrote it).
    #[arg(long, default_value = "scanflow-simulate-out")]
    out: PathBuf,
    /// Keep every object and SNS message in --out (by default each execution's are counted,
    /// then removed once it has ended: a fleet's reports would fill the disk).
    #[arg(long)]
    keep: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum AslCommand {
    /// Execute a definition and print {"status", "output", "error", "cause", "transitions"}.
    Exec {
        definition: PathBuf,
        /// Execution input (JSON, @FILE or - for standard input; at most 256 KiB) [default: {}].
        #[arg(long)]
        input: Option<String>,
        /// AWS Step Functions Local mock configuration file.
        #[arg(long, requires = "test_case")]
        mocks: Option<PathBuf>,
        /// Test case in the mock file.
        #[arg(long, requires = "mocks")]
        test_case: Option<String>,
    },
}

#[derive(Subcommand)]
enum SiemCommand {
    /// Receive scanflow's SIEM documents from SNS over HTTP: verify SNS's signature, confirm
    /// the subscription, drop repeats and write each complete run as
    /// OUT/<accountId>/<region>/<runId>.ndjson. Basic authentication: set
    /// SCANFLOW_SIEM_BASIC_AUTH=user:password (the credentials in the endpoint URL).
    Receive {
        /// Address to listen on, e.g. 127.0.0.1:8080 (put TLS in front of it for SNS's HTTPS).
        #[arg(long)]
        listen: String,
        /// Where complete runs and failure documents are written.
        #[arg(long, default_value = "siem-received")]
        out: PathBuf,
        /// Trust this PEM certificate for every message instead of downloading SNS's (for
        /// `scanflow run --http-endpoint`: crates/sandbox/signing/cert.pem).
        #[arg(long)]
        trust_cert: Option<PathBuf>,
        /// Refuse messages sent longer ago than this (replays): 30m, 1h, ... or `off` for
        /// `scanflow run`, whose clock is virtual [default: 1h].
        #[arg(long, value_name = "DURATION|off")]
        max_age: Option<String>,
    },
}

fn main() -> ExitCode {
    let (command, outcome) = match Cli::parse().command {
        Command::Run(args) => ("run", run(args)),
        Command::Siem {
            command:
                SiemCommand::Receive {
                    listen,
                    out,
                    trust_cert,
                    max_age,
                },
        } => (
            "siem receive",
            receive(listen, out, trust_cert, max_age.as_deref()),
        ),
        Command::Simulate(args) => ("simulate", simulate(args)),
        #[cfg(feature = "aws")]
        Command::Executions { command } => return scanflow_cli::executions::main(command),
        Command::Asl {
            command:
                AslCommand::Exec {
                    definition,
                    input,
                    mocks,
                    test_case,
                },
        } => (
            "asl exec",
            asl_exec(
                &definition,
                input.as_deref(),
                mocks.as_deref(),
                test_case.as_deref(),
            ),
        ),
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("scanflow {command}: {e}");
        ExitCode::from(e.exit_code())
    })
}

fn asl_exec(
    definition: &std::path::Path,
    input: Option<&str>,
    mocks: Option<&std::path::Path>,
    test_case: Option<&str>,
) -> Result<ExitCode, CliError> {
    let input = input
        .map(|arg| local::read_input_arg(arg, std::io::stdin().lock()))
        .transpose()
        .map_err(|e| CliError::invalid(format!("--input: {e}")))?;
    let result = scanflow_asl::exec::run(definition, input.as_deref(), mocks.zip(test_case))
        .map_err(|e| {
            // The engine's errors name no flags; say which flag each one is about.
            let flag = match &e {
                scanflow_asl::exec::ExecError::Input(_) => "--input: ",
                scanflow_asl::exec::ExecError::Mocks(_) => "--mocks: ",
                _ => "",
            };
            CliError::invalid(format!("{flag}{e}"))
        })?;
    println!("{result}");
    Ok(ExitCode::SUCCESS)
}

fn receive(
    listen: String,
    out_dir: PathBuf,
    trust_cert: Option<PathBuf>,
    max_age: Option<&str>,
) -> Result<ExitCode, CliError> {
    use scanflow_cli::siem::{self, verify::Freshness};
    let freshness = match max_age {
        None => Freshness::DEFAULT,
        Some("off") => Freshness::Off,
        Some(text) => {
            let d = scanflow_cli::duration::parse("--max-age", text, time::Duration::days(14))
                .map_err(|e| CliError::invalid(format!("{e}, or off")))?;
            Freshness::Window {
                max_age_seconds: d.whole_seconds(),
                max_ahead_seconds: 300,
            }
        }
    };
    siem::receive(siem::ReceiveOptions {
        listen,
        out_dir,
        trust_cert,
        freshness,
        basic_auth: std::env::var(siem::BASIC_AUTH_ENV).ok(),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> Result<ExitCode, CliError> {
    let began = Instant::now();
    let Some(definition) = args
        .definition
        .clone()
        .or_else(|| find_upwards("statemachine/scan.asl.json"))
    else {
        return Err(CliError::invalid(
            "statemachine/scan.asl.json not found here or above; run from the repository or pass --definition",
        ));
    };
    let template = args
        .template
        .clone()
        .or_else(|| find_upwards("templates/hub.yaml"));
    let workflow = Workflow::load(&definition, template.as_deref())?;
    let mut scenario = match &args.scenario {
        Some(path) => Scenario::from_file(path),
        None => Scenario::default_scenario(),
    }
    .map_err(CliError::invalid)?;
    if let Some(text) = &args.siem_format {
        scenario.hub.config.siem_format = Some(
            scanflow_core::ports::SiemFormat::parse("--siem-format", text)
                .map_err(CliError::invalid)?,
        );
    }
    if let Some(account) = &args.account {
        scenario.accounts.retain(|a| &a.account_id == account);
        if scenario.accounts.is_empty() {
            return Err(CliError::invalid(format!(
                "--account {account}: no such account in the scenario"
            )));
        }
    }
    let inputs = match &args.input {
        Some(arg) => vec![
            local::read_input_arg(arg, std::io::stdin().lock())
                .and_then(|text| local::parse_input(&text).map_err(|e| e.to_string()))
                .map_err(|e| CliError::invalid(format!("--input: {e}")))?,
        ],
        None => Vec::new(),
    };
    let start_time = match &args.start_time {
        Some(t) => scanflow_core::time::parse("--start-time", t).map_err(CliError::invalid)?,
        None => time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
    };
    let redrive_after = args
        .redrive_after
        .as_deref()
        .map(|text| {
            scanflow_cli::duration::parse("--redrive-after", text, time::Duration::days(14))
        })
        .transpose()
        .map_err(CliError::invalid)?;
    if !(1..=local::MAX_REPEAT).contains(&args.repeat) {
        return Err(CliError::invalid(format!(
            "--repeat {}: give 1 to {} scans",
            args.repeat,
            local::MAX_REPEAT
        )));
    }
    let every = match &args.every {
        Some(text) => scanflow_cli::duration::parse("--every", text, time::Duration::days(365))
            .map_err(CliError::invalid)?,
        None => local::DEFAULT_EVERY,
    };
    local::check_horizon(start_time, args.repeat, every, redrive_after)
        .map_err(CliError::invalid)?;
    let options = RunOptions {
        repeat: args.repeat,
        every,
        scenario,
        inputs,
        out_dir: args.out.clone(),
        http_endpoint: args.http_endpoint.clone().map(|url| HttpEndpoint {
            url,
            timeout: args
                .http_timeout
                .map_or(scanflow_sandbox::HTTP_TIMEOUT, Duration::from_secs),
        }),
        start_time,
        seed: 7,
        redrive_after,
    };
    let result = local::run(&workflow, options)?;

    // Waits for the deliveries still under way: bounded by their timeouts.
    let (unrouted, undelivered): (Vec<_>, Vec<_>) = result
        .sandbox
        .undelivered()
        .map_err(|e| CliError::failed(format!("cannot tell which messages were delivered: {e}")))?
        .into_iter()
        .partition(PublishedMessage::unrouted);
    let source = workflow.template_path.as_ref().map_or_else(
        || "built-in function names".to_owned(),
        |t| t.display().to_string(),
    );
    println!(
        "scanflow run: {} execution(s) of {} (placeholders from {source})",
        result.executions.len(),
        workflow.definition_path.display()
    );
    for ex in &result.executions {
        println!("\n== {}", ex.name);
        // Each run (the first, then each redrive) is followed by what the notifier did with
        // its status change, as they happened.
        let mut tracer = trace::Tracer::new();
        let mut run = 0;
        let notices_of = |run: u32| ex.notices.iter().filter(move |n| n.redrive_count == run);
        for event in ex.trace_events() {
            if event.kind == "ExecutionRedriven" {
                for n in notices_of(run) {
                    println!("{}", n.line(ex.execution.start_time));
                }
                run += 1;
            }
            if let Some(line) = tracer.feed(&event) {
                println!("{line}");
            }
        }
        for n in notices_of(run) {
            println!("{}", n.line(ex.execution.start_time));
        }
        let took = trace::duration(ex.execution.end_time - ex.execution.start_time);
        println!(
            "   {} · {} transitions · {took} virtual",
            ex.execution.status.as_aws(),
            ex.execution.transitions
        );
        for m in undelivered.iter().filter(|m| ex.published(m.sequence)) {
            println!("   {}", undelivered_line(m));
        }
    }

    println!("\n== Outcome");
    let mut unreported = Vec::new();
    let mut rows = Vec::new();
    for ex in &result.executions {
        let out = ex.execution.output.as_ref();
        let field = |k: &str| {
            ex.input
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("?")
                .to_owned()
        };
        let engine = out
            .and_then(|o| o.get("engine"))
            .and_then(|v| v.as_str())
            .unwrap_or("-");
        let findings = out
            .and_then(|o| o.pointer("/counts"))
            .map(count_total)
            .map_or_else(|| "-".to_owned(), |n| n.to_string());
        let status_name = ex.execution.status.as_aws();
        let error = ex.execution.error.as_deref().unwrap_or("?");
        let status = match ex.execution.status {
            Status::Succeeded if out.and_then(|o| o.get("duplicateOf")).is_some() => {
                "SUCCEEDED, duplicate: not scanned".to_owned()
            }
            Status::Succeeded if ex.execution.redrive_count > 0 => {
                format!("SUCCEEDED after redrive {}", ex.execution.redrive_count)
            }
            Status::Succeeded => "SUCCEEDED".to_owned(),
            _ if ex.reported() => format!("{status_name}, notice sent ({error})"),
            _ => {
                unreported.push(ex.name.clone());
                format!("{status_name}, NOT REPORTED ({error})")
            }
        };
        let lost = undelivered
            .iter()
            .filter(|m| ex.published(m.sequence))
            .count();
        let status = if lost > 0 {
            format!("{status}, {lost} NOT DELIVERED")
        } else {
            status
        };
        rows.push([
            field("accountId"),
            field("region"),
            engine.to_owned(),
            status,
            findings,
        ]);
    }
    // The status column is as wide as its widest entry (at least the usual 42).
    let width = rows
        .iter()
        .map(|r| r[3].chars().count())
        .fold(42, usize::max);
    println!(
        "{:<14} {:<16} {:<11} {:<width$} {:>9}",
        "account", "region", "engine", "status", "findings"
    );
    for [account, region, engine, status, findings] in &rows {
        println!("{account:<14} {region:<16} {engine:<11} {status:<width$} {findings:>9}");
    }

    for (account, region) in &result.skipped {
        println!(
            "{account:<14} {region:<16} {:<11} schedule DISABLED: no scheduled event, not started",
            "-"
        );
    }
    if let Some(watch) = &result.fleet_watch {
        println!(
            "\n== Fleet watch: {} account-Region(s) checked, {} need attention{}",
            watch.checked,
            watch.attention,
            if watch.attention > 0 {
                " (notice below)"
            } else {
                ""
            }
        );
    }
    if let Some(rollup) = &result.rollup {
        println!(
            "\n== Org rollup: {} account-Region(s), {} need attention (e-mail below; all of it in s3/{})",
            rollup.account_regions, rollup.attention, rollup.report_key
        );
    }
    if let Some(spec) = &result.sandbox.scenario().hub.lambda {
        let lambda = result.sandbox.lambda();
        println!(
            "\nLambda: {} invocation(s) throttled and retried; peak concurrency {}{}",
            lambda.throttled(),
            lambda.peak_concurrency(),
            spec.concurrency
                .map_or_else(String::new, |c| format!(" of {c}"))
        );
    }

    if !args.quiet {
        let emails = result
            .sandbox
            .sns_messages_to(&[Subscription::Email, Subscription::Owner]);
        for message in emails
            .iter()
            .filter(|m| m.subscriptions().contains(&Subscription::Email))
        {
            println!("\n== E-mail: {}\n{}", message.subject, message.message);
        }
        // Owners get the same digests and notices as the central address would: named here.
        for message in &emails {
            for d in &message.deliveries {
                if let (Subscription::Owner, Some(owner)) = (d.subscription, &d.endpoint) {
                    println!("\n== E-mail to owner {owner}: {}", message.subject);
                }
            }
        }
    }
    println!(
        "\nOutputs in {}: s3/ (findings, digests, HTML reports, SIEM parts), sns-messages.jsonl (every message published). Took {:.2} s.",
        args.out.display(),
        began.elapsed().as_secs_f64()
    );
    if !unreported.is_empty() {
        eprintln!(
            "scanflow run: {} execution(s) ended without a published notice: {}",
            unreported.len(),
            unreported.join(", ")
        );
    }
    if !undelivered.is_empty() {
        eprintln!(
            "scanflow run: {} message(s) were not delivered to {}:",
            undelivered.len(),
            args.http_endpoint.as_deref().unwrap_or("the HTTP endpoint")
        );
        for m in &undelivered {
            eprintln!("  {}", undelivered_line(m));
        }
    }
    if !unrouted.is_empty() {
        eprintln!(
            "scanflow run: {} message(s) matched no subscription, so SNS would drop them (an \
             account without owners while CentralEmailReceives is rollup?):",
            unrouted.len()
        );
        for m in &unrouted {
            eprintln!("  NOT SENT {} \"{}\"", m.message_id, m.subject);
        }
    }
    // Each was named above, line by line.
    Ok(
        if unreported.is_empty() && undelivered.is_empty() && unrouted.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// One line naming a message the HTTP endpoint did not take, and why.
fn undelivered_line(m: &scanflow_sandbox::PublishedMessage) -> String {
    let why = m
        .deliveries
        .iter()
        .find_map(|d| match &d.outcome {
            DeliveryOutcome::Failed { attempts, error } => {
                Some(format!("{error} (after {attempts} attempt(s))"))
            }
            _ => None,
        })
        .unwrap_or_default();
    let subject = if m.subject.is_empty() {
        m.attributes
            .get(scanflow_core::message::ATTR_KIND)
            .map_or("message", String::as_str)
    } else {
        &m.subject
    };
    format!("NOT DELIVERED {} \"{subject}\": {why}", m.message_id)
}

fn simulate(args: SimulateArgs) -> Result<ExitCode, CliError> {
    use scanflow_cli::simulate::{self, SimulateOptions, TemplateFacts, cost};
    let found = |rel: &str| {
        find_upwards(rel)
            .ok_or_else(|| format!("{rel} not found here or above; run from the repository"))
    };
    let paths = found("statemachine/scan.asl.json").and_then(|d| {
        Ok((
            d,
            found("templates/hub.yaml")?,
            found("templates/member.yaml")?,
        ))
    });
    let (definition, hub, member) = paths.map_err(CliError::invalid)?;
    let workflow = Workflow::load(&definition, Some(&hub))?;
    let facts = TemplateFacts::read(&hub, &member).map_err(CliError::invalid)?;
    let mut quotas = scanflow_sandbox::quota::QuotaSpec::aws_defaults(simulate::REGIONS[0]);
    if let Some(path) = &args.quotas {
        simulate::load_quota_overrides(&mut quotas, path).map_err(CliError::invalid)?;
    }
    if let Some(c) = args.lambda_concurrency {
        quotas.lambda_concurrency = c;
        quotas
            .validate()
            .map_err(|e| CliError::invalid(format!("--lambda-concurrency: {e}")))?;
    }
    let mut prices = cost::default_prices();
    if let Some(path) = &args.prices {
        cost::load_overrides(&mut prices, path).map_err(CliError::invalid)?;
    }
    let start_time = match &args.start_time {
        Some(t) => scanflow_core::time::parse("--start-time", t).map_err(CliError::invalid)?,
        None => time::macros::datetime!(2026-11-30 03:00 UTC),
    };
    let options = SimulateOptions {
        accounts: args.accounts,
        regions: args.regions,
        findings: args.findings,
        same_minute: args.same_minute,
        quotas,
        prices,
        schedule: args
            .schedule
            .clone()
            .unwrap_or_else(|| facts.schedule.clone()),
        facts,
        start_time,
        out_dir: args.out.clone(),
        seed: 7,
        slots: args
            .slots
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8))),
        bill_cpu: true,
        keep: args.keep,
    };
    let sim = simulate::run(workflow, options)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&sim.report).map_err(CliError::failed)?
        );
    } else {
        print!("{}", simulate::render(&sim.report));
    }
    if sim.report.lost > 0 {
        return Err(CliError::failed(format!(
            "{} execution(s) ended neither delivered nor noticed",
            sim.report.lost
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn count_total(counts: &serde_json::Value) -> u64 {
    counts.as_object().map_or(0, |o| {
        o.values().filter_map(serde_json::Value::as_u64).sum()
    })
}
