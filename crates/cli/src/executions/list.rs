//! Listing a state machine's executions, newest first, by status, age and scanned account.

use std::io::Write;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use time::OffsetDateTime;

use super::watch::to_time;
use super::{Error, fmt_time, region_of_state_machine};
use crate::names::account_in_name;
use crate::trace;

/// What to keep.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub status: Option<ExecutionStatus>,
    /// Only executions scanning this account.
    pub account: Option<String>,
    /// Only executions started within this long before now.
    pub since: Option<time::Duration>,
}

/// One listed execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub name: String,
    pub arn: String,
    pub status: ExecutionStatus,
    pub started: OffsetDateTime,
    pub stopped: Option<OffsetDateTime>,
    /// From the name when this tool made it, else from the input when it had to be read.
    pub account: Option<String>,
}

/// `ListExecutions` page size; pages stop early once they pass `since`.
const PAGE: i32 = 100;

/// Lists executions of `state_machine_arn`, prints them as a table and returns them.
///
/// The account filter reads the account from names made by `scanflow executions start`
/// (`scan-<account>-...`, `rerun-<account>-...`) and, for any other name (scheduled
/// executions), from the execution's input, with one `DescribeExecution` each.
pub async fn list(
    sfn: &Client,
    state_machine_arn: &str,
    options: &ListOptions,
    now: OffsetDateTime,
    out: &mut impl Write,
) -> Result<Vec<Listed>, Error> {
    let region = region_of_state_machine(state_machine_arn);
    let cutoff = options.since.map(|since| now - since);
    let mut listed = Vec::new();
    let mut token = None;
    'pages: loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(state_machine_arn)
            .set_status_filter(options.status.clone())
            .max_results(PAGE)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::aws("states:ListExecutions", region, &e))?;
        for item in page.executions() {
            let started = to_time(item.start_date());
            // Step Functions lists the newest first: the first one too old ends the listing.
            if cutoff.is_some_and(|c| started < c) {
                break 'pages;
            }
            let mut account = account_in_name(item.name()).map(str::to_owned);
            if let Some(wanted) = &options.account {
                if account.is_none() {
                    account = account_in_input(sfn, item.execution_arn(), region).await?;
                }
                if account.as_ref() != Some(wanted) {
                    continue;
                }
            }
            listed.push(Listed {
                name: item.name().to_owned(),
                arn: item.execution_arn().to_owned(),
                status: item.status().clone(),
                started,
                stopped: item.stop_date().map(to_time),
                account,
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    print(&listed, now, out)?;
    Ok(listed)
}

async fn account_in_input(sfn: &Client, arn: &str, region: &str) -> Result<Option<String>, Error> {
    let described = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("states:DescribeExecution", region, &e))?;
    Ok(described
        .input()
        .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
        .and_then(|v| v.get("accountId")?.as_str().map(str::to_owned)))
}

fn print(listed: &[Listed], now: OffsetDateTime, out: &mut impl Write) -> Result<(), Error> {
    if listed.is_empty() {
        writeln!(out, "no executions match")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<48} {:<15} {:<20} {:>8}  {:<12}  ARN",
        "NAME", "STATUS", "STARTED (UTC)", "TOOK", "ACCOUNT"
    )?;
    for e in listed {
        let took = trace::duration(e.stopped.unwrap_or(now) - e.started);
        writeln!(
            out,
            "{:<48} {:<15} {:<20} {took:>8}  {:<12}  {}",
            e.name,
            e.status.as_str(),
            fmt_time(e.started),
            e.account.as_deref().unwrap_or("-"),
            e.arn
        )?;
    }
    writeln!(out, "{} execution(s)", listed.len())?;
    Ok(())
}

/// `30m`, `12h`, `7d`: at most 90 days, the history Step Functions keeps.
pub fn parse_since(text: &str) -> Result<time::Duration, Error> {
    crate::duration::parse("--since", text, time::Duration::days(90)).map_err(Error::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_minutes_hours_days_up_to_the_retention() {
        assert_eq!(
            parse_since("30m").expect("30m"),
            time::Duration::minutes(30)
        );
        assert_eq!(parse_since("12h").expect("12h"), time::Duration::hours(12));
        assert_eq!(parse_since("7d").expect("7d"), time::Duration::days(7));
        assert_eq!(parse_since("90d").expect("limit"), time::Duration::days(90));
        for bad in [
            "91d",
            "2161h",
            "0m",
            "7",
            "d",
            "",
            "-1d",
            "+1d",
            "7w",
            "1.5h",
            "99999999999999999999d",
            "9999999999999999d",
            "7 d",
            "7D",
            "7é",
        ] {
            assert!(matches!(parse_since(bad), Err(Error::Usage(_))), "{bad}");
        }
        assert!(parse_since("2160h").is_ok());
    }
}
