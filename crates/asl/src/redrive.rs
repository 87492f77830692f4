//! Redrive (`RedriveExecution`): the resumable point an unsuccessful execution leaves behind,
//! the checks AWS makes before it lets an execution be redriven, and the typed refusals.

use crate::context::{Info, timestamp};
use crate::json::Value;
use crate::rng::Rng;
use crate::{Execution, Status};
use time::{Duration, OffsetDateTime};

/// How long after an execution ends AWS still lets it be redriven.
pub const REDRIVABLE_PERIOD: Duration = Duration::days(14);

/// AWS's maximum open time of a Standard execution, counted from its first start.
pub const MAX_OPEN_TIME: Duration = Duration::days(365);

/// Where an unsuccessful execution stopped, so that `redrive` can carry on from there.
///
/// Opaque on purpose: it is built by the engine when an execution fails, times out or is
/// aborted, and only the engine reads it back. Everything a redrive needs (the identity and
/// input of the execution, the state to resume at with its original input, the outputs of
/// the Map iterations and Parallel branches that already succeeded, the random source) is in
/// here, so the caller keeps nothing but the [`Execution`].
#[derive(Debug, Clone)]
pub struct Resume {
    pub(crate) info: Info,
    pub(crate) rng: Rng,
    /// `None`: the execution failed before its first state (e.g. an oversized input), so a
    /// redrive starts at `StartAt` with the execution input.
    pub(crate) point: Option<Point>,
}

/// A state to re-enter, in the top-level machine, a Parallel branch or a Map iteration.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    pub state: String,
    /// The raw input the state was entered with the first time.
    pub input: Value,
    /// For Map and Parallel: which iterations/branches already succeeded.
    pub inner: Option<Inner>,
    /// The variables of this machine's scope when it stopped (assignments happen when a
    /// state exits, so these are the ones the state was entered with).
    pub vars: crate::json::Map,
}

/// The progress of a Map or Parallel state when the execution stopped inside it.
#[derive(Debug, Clone)]
pub(crate) enum Inner {
    Parallel(Vec<Slot>),
    Map(Vec<Slot>),
}

/// One Map iteration or Parallel branch.
#[derive(Debug, Clone)]
pub(crate) enum Slot {
    /// Succeeded: its output is kept and it is not run again.
    Done(Value),
    /// Failed, timed out or was aborted at this point: it resumes there.
    Resume(Point),
    /// Never started: it runs from the beginning.
    NotRun,
}

/// Why an execution cannot be redriven. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedriveError {
    /// AWS `ExecutionNotRedrivable`: only FAILED, TIMED_OUT and ABORTED executions redrive.
    #[error(
        "ExecutionNotRedrivable: execution '{execution_arn}' is {status} and cannot be redriven; start a new execution instead"
    )]
    ExecutionNotRedrivable {
        execution_arn: String,
        status: &'static str,
    },
    /// AWS needs fewer than 24,999 events so that `ExecutionRedriven` and at least one more
    /// event fit under the 25,000-event cap.
    #[error(
        "ExecutionNotRedrivable: the execution history has {events} events and a redrive needs fewer than {limit} (the cap is {max}); start a new execution instead"
    )]
    HistoryLimitExceeded {
        events: usize,
        limit: usize,
        max: usize,
    },
    /// More than 14 days since the execution ended.
    #[error(
        "ExecutionNotRedrivable: the redrivable period of 14 days ended at {} (the execution ended at {}, the redrive is at {}); start a new execution instead",
        timestamp(*deadline),
        timestamp(*ended),
        timestamp(*at)
    )]
    RedrivablePeriodExceeded {
        ended: OffsetDateTime,
        deadline: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// More than a year since the execution first started.
    #[error(
        "ExecutionNotRedrivable: the execution started at {} and has exceeded the maximum open time of one year at {}; start a new execution instead",
        timestamp(*started),
        timestamp(*at)
    )]
    MaxOpenTimeExceeded {
        started: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// The virtual clock only moves forward: a redrive cannot happen before the end.
    #[error(
        "the redrive time {} is before the end of the previous run ({}); redrive at or after the end time",
        timestamp(*at),
        timestamp(*ended)
    )]
    BeforeEnd {
        ended: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// The `Execution` carries no resume point (its `resume` field was cleared).
    #[error(
        "execution '{execution_arn}' has no resume point; pass the Execution exactly as execute or redrive returned it"
    )]
    NoResumePoint { execution_arn: String },
}

/// AWS's eligibility checks, in the order the API documents them.
pub(crate) fn check(
    previous: &Execution,
    max_events: Option<usize>,
    at: OffsetDateTime,
) -> Result<(), RedriveError> {
    if previous.status == Status::Succeeded {
        return Err(RedriveError::ExecutionNotRedrivable {
            execution_arn: previous.execution_arn.clone(),
            status: previous.status.as_aws(),
        });
    }
    if at < previous.end_time {
        return Err(RedriveError::BeforeEnd {
            ended: previous.end_time,
            at,
        });
    }
    // Past the calendar's end no redrive period can be computed: treat it as expired.
    let deadline = previous
        .end_time
        .checked_add(REDRIVABLE_PERIOD)
        .unwrap_or(previous.end_time);
    if at > deadline {
        return Err(RedriveError::RedrivablePeriodExceeded {
            ended: previous.end_time,
            deadline,
            at,
        });
    }
    let open_until = previous
        .start_time
        .checked_add(MAX_OPEN_TIME)
        .unwrap_or(previous.start_time);
    if at > open_until {
        return Err(RedriveError::MaxOpenTimeExceeded {
            started: previous.start_time,
            at,
        });
    }
    if let Some(max) = max_events {
        // ExecutionRedriven plus at least one more event must still fit under the cap.
        let limit = max.saturating_sub(1);
        if previous.history.len() >= limit {
            return Err(RedriveError::HistoryLimitExceeded {
                events: previous.history.len(),
                limit,
                max,
            });
        }
    }
    if previous.resume.is_none() {
        return Err(RedriveError::NoResumePoint {
            execution_arn: previous.execution_arn.clone(),
        });
    }
    Ok(())
}
