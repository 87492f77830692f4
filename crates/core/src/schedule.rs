//! EventBridge schedule expressions (`cron(...)`, `rate(...)`, `at(...)`, aws-facts §6.1),
//! evaluated backwards: the most recent scheduled time at or before a given instant. The fleet
//! watch uses it to know which scan each account-Region should already have had.
//!
//! Times are UTC (scanflow's schedules set no `ScheduleExpressionTimezone`), to the minute.

use std::fmt;

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// The years EventBridge accepts in the sixth cron field.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=2199;

/// What is wrong with an expression. Each message names the expression, the field and the
/// problem, and says how EventBridge wants it written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "schedule expression {expression:?} is not rate(...), cron(...) or at(...): {problem}. \
         Write it as EventBridge does, e.g. cron(0 3 ? * MON *) or rate(7 days)"
    )]
    Syntax { expression: String, problem: String },
    #[error(
        "schedule expression {expression:?}: the {field} field {value:?} {problem}. Fix the \
         member stack's AssessmentSchedule parameter (six cron fields: minutes hours \
         day-of-month month day-of-week year)"
    )]
    Field {
        expression: String,
        field: &'static str,
        value: String,
        problem: String,
    },
}

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Cron(Box<Cron>),
    /// Every `seconds`, counted from the schedule's creation.
    Rate {
        seconds: i64,
    },
    /// Once, at this UTC time.
    At(PrimitiveDateTime),
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cron(_) => f.write_str("cron schedule"),
            Self::Rate { seconds } => write!(f, "every {seconds} s"),
            Self::At(t) => write!(f, "once at {t}"),
        }
    }
}

/// A six-field cron expression, each field reduced to what it selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    day_of_month: DayOfMonth,
    months: u16,
    day_of_week: DayOfWeek,
    /// Bit `y - 1970` for each selected year.
    years: [u64; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayOfMonth {
    /// `?` (the day-of-week field decides) or `*`.
    Any,
    /// Bits 1..=31.
    Days(u32),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    LastWeekday,
    /// `15W`: the weekday nearest the 15th, within the month.
    NearestWeekday(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayOfWeek {
    Any,
    /// Bits 1..=7, 1 = Sunday.
    Days(u8),
    /// `5L`: the last Thursday of the month (`L` alone: the last Saturday).
    Last(u8),
    /// `3#2`: the second Tuesday of the month.
    Nth(u8, u8),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl Schedule {
    /// Parses an EventBridge schedule expression.
    pub fn parse(expression: &str) -> Result<Self, ScheduleError> {
        let trimmed = expression.trim();
        let syntax = |problem: &str| ScheduleError::Syntax {
            expression: expression.to_owned(),
            problem: problem.to_owned(),
        };
        let (kind, body) = trimmed
            .split_once('(')
            .ok_or_else(|| syntax("there is no '('"))?;
        let body = body
            .strip_suffix(')')
            .ok_or_else(|| syntax("it does not end with ')'"))?;
        match kind {
            "cron" => Cron::parse(expression, body).map(|c| Self::Cron(Box::new(c))),
            "rate" => parse_rate(expression, body),
            "at" => parse_at(expression, body),
            _ => Err(syntax(&format!(
                "{kind:?} is not one of rate, cron, at (lower case)"
            ))),
        }
    }

    /// The most recent scheduled time at or before `now`, and not before `anchor` (when the
    /// schedule was created: nothing was due before it existed; `rate` counts from it).
    /// `None` when nothing has been due yet.
    pub fn latest_at_or_before(
        &self,
        now: OffsetDateTime,
        anchor: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let now = now.to_offset(UtcOffset::UTC);
        let anchor = anchor.to_offset(UtcOffset::UTC);
        if now < anchor {
            return None;
        }
        let found = match self {
            Self::Cron(cron) => cron.latest_at_or_before(now),
            Self::Rate { seconds } => {
                // The first invocation is one period after creation; the watch never expects
                // a scan at the instant the member stack appeared.
                let elapsed = (now - anchor).whole_seconds();
                let periods = elapsed.checked_div(*seconds).filter(|p| *p >= 1)?;
                let offset = periods.checked_mul(*seconds)?;
                anchor.checked_add(Duration::seconds(offset))
            }
            Self::At(t) => Some(t.assume_utc()).filter(|t| *t <= now),
        }?;
        (found >= anchor).then_some(found)
    }
}

fn parse_rate(expression: &str, body: &str) -> Result<Schedule, ScheduleError> {
    let field = |value: &str, problem: String| ScheduleError::Field {
        expression: expression.to_owned(),
        field: "rate",
        value: value.to_owned(),
        problem,
    };
    let mut parts = body.split(' ');
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(field(
            body,
            "is not \"<value> <unit>\" with one space, e.g. rate(7 days)".into(),
        ));
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field(value, "is not a positive whole number".into()));
    }
    let n: i64 = value
        .parse()
        .map_err(|_| field(value, "is too large".into()))?;
    if n == 0 {
        return Err(field(value, "is zero; the value must be positive".into()));
    }
    let (unit_seconds, singular) = match unit {
        "minute" => (60, true),
        "minutes" => (60, false),
        "hour" => (3600, true),
        "hours" => (3600, false),
        "day" => (86_400, true),
        "days" => (86_400, false),
        _ => {
            return Err(field(
                unit,
                "is not a unit EventBridge knows (minute(s), hour(s), day(s))".into(),
            ));
        }
    };
    if singular != (n == 1) {
        return Err(field(
            body,
            "mixes singular and plural: EventBridge wants the singular unit for 1 only \
             (rate(1 day), rate(2 days))"
                .into(),
        ));
    }
    let seconds = n
        .checked_mul(unit_seconds)
        .ok_or_else(|| field(value, "is too large".into()))?;
    Ok(Schedule::Rate { seconds })
}

fn parse_at(expression: &str, body: &str) -> Result<Schedule, ScheduleError> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(body, &format)
        .map(Schedule::At)
        .map_err(|e| ScheduleError::Field {
            expression: expression.to_owned(),
            field: "at",
            value: body.to_owned(),
            problem: format!("is not yyyy-mm-ddThh:mm:ss ({e})"),
        })
}

/// One cron field being parsed: the expression and the field's name, for errors.
struct FieldParser<'a> {
    expression: &'a str,
    field: &'static str,
    min: u32,
    max: u32,
    names: &'a [&'a str],
}

impl FieldParser<'_> {
    fn err(&self, value: &str, problem: impl Into<String>) -> ScheduleError {
        ScheduleError::Field {
            expression: self.expression.to_owned(),
            field: self.field,
            value: value.to_owned(),
            problem: problem.into(),
        }
    }

    fn number(&self, text: &str) -> Result<u32, ScheduleError> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            // Names count from the field's minimum (JAN = 1, SUN = 1).
            return Ok(self.min + i as u32);
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            let names = if self.names.is_empty() {
                String::new()
            } else {
                format!(
                    " or a name ({}-{})",
                    self.names[0],
                    self.names[self.names.len() - 1]
                )
            };
            return Err(self.err(
                text,
                format!("is not a number from {} to {}{names}", self.min, self.max),
            ));
        }
        let n: u32 = text.parse().map_err(|_| self.err(text, "is too large"))?;
        if n < self.min || n > self.max {
            return Err(self.err(text, format!("is outside {} to {}", self.min, self.max)));
        }
        Ok(n)
    }

    /// `*`, `a`, `a-b`, with an optional `/step`, comma-separated: the selected values.
    fn values(&self, text: &str) -> Result<Vec<u32>, ScheduleError> {
        let mut out = Vec::new();
        for item in text.split(',') {
            if item.is_empty() {
                return Err(self.err(text, "has an empty list item"));
            }
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let step: u32 = s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        self.err(item, "has a step that is not a positive number")
                    })?;
                    (r, Some(step))
                }
                None => (item, None),
            };
            let (lo, hi) = if range == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (self.number(a)?, self.number(b)?);
                if a > b {
                    return Err(self.err(
                        item,
                        "is a range whose start is after its end; write it as two ranges",
                    ));
                }
                (a, b)
            } else {
                let a = self.number(range)?;
                // `5/15`: from 5 to the end, every 15.
                (a, if step.is_some() { self.max } else { a })
            };
            let step = step.unwrap_or(1);
            let mut v = lo;
            while v <= hi {
                out.push(v);
                v = match v.checked_add(step) {
                    Some(next) => next,
                    None => break,
                };
            }
        }
        Ok(out)
    }
}

impl Cron {
    fn parse(expression: &str, body: &str) -> Result<Self, ScheduleError> {
        let fields: Vec<&str> = body.split(' ').collect();
        if fields.len() != 6 || fields.iter().any(|f| f.is_empty()) {
            return Err(ScheduleError::Syntax {
                expression: expression.to_owned(),
                problem: format!(
                    "cron takes six fields separated by single spaces, found {}",
                    fields.iter().filter(|f| !f.is_empty()).count()
                ),
            });
        }
        let parser = |field, min, max, names| FieldParser {
            expression,
            field,
            min,
            max,
            names,
        };
        let minutes_p = parser("minutes", 0, 59, &[]);
        let minutes = bits64(&minutes_p, fields[0])?;
        let hours_p = parser("hours", 0, 23, &[]);
        let hours = u32::try_from(bits64(&hours_p, fields[1])?)
            .map_err(|_| hours_p.err(fields[1], "selects an hour past 23"))?;
        let months_p = parser("month", 1, 12, &MONTHS);
        let months = u16::try_from(bits64(&months_p, fields[3])?)
            .map_err(|_| months_p.err(fields[3], "selects a month past 12"))?;
        let dom_p = parser("day-of-month", 1, 31, &[]);
        let day_of_month = parse_dom(&dom_p, fields[2])?;
        let dow_p = parser("day-of-week", 1, 7, &DAYS);
        let day_of_week = parse_dow(&dow_p, fields[4])?;
        match (fields[2], fields[4]) {
            ("?", "?") => {
                return Err(dow_p.err(
                    fields[4],
                    "is '?' and so is day-of-month: exactly one of the two must be '?'",
                ));
            }
            (dom, dow) if dom != "?" && dow != "?" => {
                return Err(dow_p.err(
                    dow,
                    format!(
                        "is given with day-of-month {dom:?}: EventBridge needs one of the two \
                         to be '?'"
                    ),
                ));
            }
            _ => {}
        }
        let years_p = parser("year", *YEARS.start() as u32, *YEARS.end() as u32, &[]);
        let mut years = [0u64; 4];
        for y in years_p.values(fields[5])? {
            let i = (y - *YEARS.start() as u32) as usize;
            years[i / 64] |= 1 << (i % 64);
        }
        Ok(Self {
            minutes,
            hours,
            day_of_month,
            months,
            day_of_week,
            years,
        })
    }

    fn year_selected(&self, year: i32) -> bool {
        if !YEARS.contains(&year) {
            return false;
        }
        let i = (year - YEARS.start()) as usize;
        self.years[i / 64] & (1 << (i % 64)) != 0
    }

    fn month_selected(&self, month: Month) -> bool {
        self.months & (1 << u8::from(month)) != 0
    }

    fn day_selected(&self, date: Date) -> bool {
        let last = date.month().length(date.year());
        let day = date.day();
        let dom = match self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(bits) => bits & (1 << day) != 0,
            DayOfMonth::Last => day == last,
            DayOfMonth::LastWeekday => {
                let mut d = last;
                while is_weekend(weekday_of(date, d)) {
                    d -= 1;
                }
                day == d
            }
            DayOfMonth::NearestWeekday(n) => {
                n <= last && {
                    let target = match weekday_of(date, n) {
                        Weekday::Saturday if n == 1 => 3,
                        Weekday::Saturday => n - 1,
                        Weekday::Sunday if n == last => n - 2,
                        Weekday::Sunday => n + 1,
                        _ => n,
                    };
                    day == target
                }
            }
        };
        let dow_number = date.weekday().number_from_sunday();
        let dow = match self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(bits) => bits & (1 << dow_number) != 0,
            DayOfWeek::Last(d) => dow_number == d && day + 7 > last,
            DayOfWeek::Nth(d, n) => dow_number == d && (day - 1) / 7 + 1 == n,
        };
        dom && dow
    }

    /// The latest minute of `date` at or before `limit` (hour, minute) that is selected.
    fn latest_in_day(&self, limit: Option<(u8, u8)>) -> Option<(u8, u8)> {
        let (max_h, max_m) = limit.unwrap_or((23, 59));
        (0..=max_h).rev().find_map(|h| {
            if self.hours & (1 << h) == 0 {
                return None;
            }
            let top = if h == max_h { max_m } else { 59 };
            (0..=top)
                .rev()
                .find(|m| self.minutes & (1 << m) != 0)
                .map(|m| (h, m))
        })
    }

    fn latest_at_or_before(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let mut date = now.date();
        let mut limit = Some((now.hour(), now.minute()));
        // Walking back day by day, skipping unselected years and months whole; bounded by
        // 1970, the first year EventBridge accepts.
        while date.year() >= *YEARS.start() {
            if !self.year_selected(date.year()) {
                date = Date::from_calendar_date(date.year() - 1, Month::December, 31).ok()?;
                limit = None;
                continue;
            }
            if !self.month_selected(date.month()) {
                date = date.replace_day(1).ok()?.previous_day()?;
                limit = None;
                continue;
            }
            if self.day_selected(date)
                && let Some((h, m)) = self.latest_in_day(limit)
            {
                let t = Time::from_hms(h, m, 0).ok()?;
                return Some(PrimitiveDateTime::new(date, t).assume_utc());
            }
            date = date.previous_day()?;
            limit = None;
        }
        None
    }
}

fn bits64(p: &FieldParser<'_>, text: &str) -> Result<u64, ScheduleError> {
    if text == "?" {
        return Err(p.err(
            text,
            "cannot be '?' (only day-of-month and day-of-week can)",
        ));
    }
    Ok(p.values(text)?
        .into_iter()
        .fold(0u64, |acc, v| acc | (1 << v)))
}

fn parse_dom(p: &FieldParser<'_>, text: &str) -> Result<DayOfMonth, ScheduleError> {
    match text {
        "?" | "*" => Ok(DayOfMonth::Any),
        "L" => Ok(DayOfMonth::Last),
        "LW" => Ok(DayOfMonth::LastWeekday),
        _ if text.ends_with('W') => {
            let n = p.number(&text[..text.len() - 1])?;
            Ok(DayOfMonth::NearestWeekday(n as u8))
        }
        _ => Ok(DayOfMonth::Days(
            p.values(text)?
                .into_iter()
                .fold(0u32, |acc, v| acc | (1 << v)),
        )),
    }
}

fn parse_dow(p: &FieldParser<'_>, text: &str) -> Result<DayOfWeek, ScheduleError> {
    match text {
        "?" | "*" => Ok(DayOfWeek::Any),
        "L" => Ok(DayOfWeek::Last(7)),
        _ if text.contains('#') => {
            let (d, n) = text.split_once('#').unwrap_or((text, ""));
            let day = p.number(d)?;
            let nth: u8 = n
                .parse()
                .ok()
                .filter(|n| (1..=5).contains(n))
                .ok_or_else(|| {
                    p.err(
                        text,
                        "needs 1 to 5 after '#' (the nth weekday of the month)",
                    )
                })?;
            Ok(DayOfWeek::Nth(day as u8, nth))
        }
        _ if text.len() > 1 && text.ends_with('L') => {
            let day = p.number(&text[..text.len() - 1])?;
            Ok(DayOfWeek::Last(day as u8))
        }
        _ => Ok(DayOfWeek::Days(
            p.values(text)?
                .into_iter()
                .fold(0u8, |acc, v| acc | (1 << v)),
        )),
    }
}

fn weekday_of(date: Date, day: u8) -> Weekday {
    date.replace_day(day)
        .map_or(date.weekday(), |d| d.weekday())
}

fn is_weekend(d: Weekday) -> bool {
    matches!(d, Weekday::Saturday | Weekday::Sunday)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const EPOCH: OffsetDateTime = datetime!(1970-01-01 00:00 UTC);

    fn latest(expr: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
        Schedule::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .latest_at_or_before(now, EPOCH)
    }

    #[test]
    fn weekly_and_daily_crons() {
        // 2026-11-30 is a Monday.
        let now = datetime!(2026-12-02 10:15 UTC);
        assert_eq!(
            latest("cron(0 3 ? * MON *)", now),
            Some(datetime!(2026-11-30 03:00 UTC))
        );
        assert_eq!(
            latest("cron(0 3 ? * 2 *)", now),
            Some(datetime!(2026-11-30 03:00 UTC))
        );
        assert_eq!(
            latest("cron(0 6 * * ? *)", now),
            Some(datetime!(2026-12-02 06:00 UTC))
        );
        // Exactly at the scheduled minute counts.
        assert_eq!(
            latest("cron(15 10 * * ? *)", now),
            Some(datetime!(2026-12-02 10:15 UTC))
        );
        assert_eq!(
            latest("cron(16 10 * * ? *)", now),
            Some(datetime!(2026-12-01 10:16 UTC))
        );
    }

    #[test]
    fn lists_ranges_steps_and_names() {
        let now = datetime!(2026-12-02 10:15 UTC);
        assert_eq!(
            latest("cron(0/20 8-17 ? * MON-FRI *)", now),
            Some(datetime!(2026-12-02 10:00 UTC))
        );
        assert_eq!(
            latest("cron(*/7 * * * ? *)", now),
            Some(datetime!(2026-12-02 10:14 UTC))
        );
        assert_eq!(
            latest("cron(5,35 1,13 ? * sat,sun *)", now),
            Some(datetime!(2026-11-29 13:35 UTC))
        );
        assert_eq!(
            latest("cron(0 0 1 JAN-MAR,JUL ? *)", now),
            Some(datetime!(2026-07-01 00:00 UTC))
        );
        assert_eq!(
            latest("cron(0 0 1 1/6 ? 2020-2030/5)", now),
            Some(datetime!(2025-07-01 00:00 UTC))
        );
    }

    #[test]
    fn last_weekday_and_nth() {
        let now = datetime!(2026-12-02 10:15 UTC);
        // L: last day of the month; November 2026 has 30 days.
        assert_eq!(
            latest("cron(0 0 L * ? *)", now),
            Some(datetime!(2026-11-30 00:00 UTC))
        );
        // February of a leap year.
        assert_eq!(
            latest("cron(0 0 L 2 ? *)", now),
            Some(datetime!(2026-02-28 00:00 UTC))
        );
        assert_eq!(
            latest("cron(0 0 L 2 ? 2024)", now),
            Some(datetime!(2024-02-29 00:00 UTC))
        );
        // LW: 2026-10-31 is a Saturday, so the 30th.
        assert_eq!(
            latest("cron(0 0 LW 10 ? *)", now),
            Some(datetime!(2026-10-30 00:00 UTC))
        );
        // 15W: 2026-11-15 is a Sunday → Monday the 16th; 1W on Saturday 2026-08-01 → Monday 3rd.
        assert_eq!(
            latest("cron(0 0 15W 11 ? *)", now),
            Some(datetime!(2026-11-16 00:00 UTC))
        );
        assert_eq!(
            latest("cron(0 0 1W 8 ? *)", now),
            Some(datetime!(2026-08-03 00:00 UTC))
        );
        // 31W in a month of 30 days never fires; in 2026 the last 31W before now is October
        // (31 Oct is a Saturday → Friday 30th).
        assert_eq!(
            latest("cron(0 0 31W * ? *)", now),
            Some(datetime!(2026-10-30 00:00 UTC))
        );
        // 3#2: second Tuesday; 6L: last Friday.
        assert_eq!(
            latest("cron(0 0 ? * 3#2 *)", now),
            Some(datetime!(2026-11-10 00:00 UTC))
        );
        assert_eq!(
            latest("cron(0 0 ? * 6L *)", now),
            Some(datetime!(2026-11-27 00:00 UTC))
        );
        assert_eq!(
            latest("cron(0 0 ? * L *)", now),
            Some(datetime!(2026-11-28 00:00 UTC))
        );
        // A fifth Monday exists in November 2026 only on the 30th.
        assert_eq!(
            latest("cron(0 0 ? 11 MON#5 *)", now),
            Some(datetime!(2026-11-30 00:00 UTC))
        );
    }

    #[test]
    fn years_at_the_limits() {
        let now = datetime!(2026-12-02 10:15 UTC);
        assert_eq!(
            latest("cron(0 0 1 1 ? 1970)", now),
            Some(datetime!(1970-01-01 00:00 UTC))
        );
        assert_eq!(latest("cron(0 0 1 1 ? 2199)", now), None);
        assert_eq!(
            latest("cron(59 23 31 12 ? 2199)", datetime!(2199-12-31 23:59 UTC)),
            Some(datetime!(2199-12-31 23:59 UTC))
        );
        // Beyond 2199 the year field selects nothing more.
        assert_eq!(
            latest("cron(0 0 * * ? *)", datetime!(2250-06-01 00:00 UTC)),
            Some(datetime!(2199-12-31 00:00 UTC))
        );
        // Before 1970: nothing.
        assert_eq!(
            Schedule::parse("cron(0 0 * * ? *)")
                .expect("valid")
                .latest_at_or_before(
                    datetime!(1969-12-31 00:00 UTC),
                    datetime!(1960-01-01 00:00 UTC)
                ),
            None
        );
    }

    #[test]
    fn nothing_is_due_before_the_anchor() {
        let s = Schedule::parse("cron(0 3 ? * MON *)").expect("valid");
        let created = datetime!(2026-12-01 00:00 UTC);
        assert_eq!(
            s.latest_at_or_before(datetime!(2026-12-06 00:00 UTC), created),
            None
        );
        assert_eq!(
            s.latest_at_or_before(datetime!(2026-12-07 03:00 UTC), created),
            Some(datetime!(2026-12-07 03:00 UTC))
        );
        assert_eq!(
            s.latest_at_or_before(created - Duration::DAY, created),
            None
        );
    }

    #[test]
    fn rates_count_from_the_anchor() {
        let created = datetime!(2026-12-01 10:30 UTC);
        let week = Schedule::parse("rate(7 days)").expect("valid");
        assert_eq!(
            week.latest_at_or_before(datetime!(2026-12-08 10:29 UTC), created),
            None
        );
        assert_eq!(
            week.latest_at_or_before(datetime!(2026-12-20 00:00 UTC), created),
            Some(datetime!(2026-12-15 10:30 UTC))
        );
        let minute = Schedule::parse("rate(1 minute)").expect("valid");
        assert_eq!(
            minute.latest_at_or_before(datetime!(2026-12-01 10:31:30 UTC), created),
            Some(datetime!(2026-12-01 10:31 UTC))
        );
        // Huge but valid rates do not overflow; they are just never due.
        let huge = Schedule::parse(&format!("rate({} days)", i64::MAX / 86_400)).expect("valid");
        assert_eq!(
            huge.latest_at_or_before(datetime!(2199-01-01 00:00 UTC), created),
            None
        );
        assert!(Schedule::parse(&format!("rate({} days)", i64::MAX)).is_err());
        assert!(Schedule::parse("rate(99999999999999999999999 days)").is_err());
    }

    #[test]
    fn one_time_schedules() {
        let s = Schedule::parse("at(2026-12-01T12:00:00)").expect("valid");
        assert_eq!(
            s.latest_at_or_before(datetime!(2026-12-02 00:00 UTC), EPOCH),
            Some(datetime!(2026-12-01 12:00 UTC))
        );
        assert_eq!(
            s.latest_at_or_before(datetime!(2026-11-30 00:00 UTC), EPOCH),
            None
        );
    }

    #[test]
    fn bad_expressions_name_what_is_wrong() {
        for (expr, needle) in [
            ("", "no '('"),
            ("cron(0 3 * * ?)", "six fields"),
            ("cron(0 3 * * ? * *)", "six fields"),
            ("cron(0  3 * * ? *)", "six fields"),
            ("cron(60 3 * * ? *)", "minutes"),
            ("cron(0 24 * * ? *)", "hours"),
            ("cron(0 3 32 * ? *)", "day-of-month"),
            ("cron(0 3 0 * ? *)", "day-of-month"),
            ("cron(0 3 * 13 ? *)", "month"),
            ("cron(0 3 * FOO ? *)", "JAN-DEC"),
            ("cron(0 3 ? * 8 *)", "day-of-week"),
            ("cron(0 3 ? * MON#6 *)", "'#'"),
            ("cron(0 3 * * MON *)", "one of the two"),
            ("cron(0 3 ? * ? *)", "exactly one"),
            ("cron(0 3 ? * MON 1969)", "year"),
            ("cron(0 3 ? * MON 2200)", "year"),
            ("cron(0/0 3 ? * MON *)", "step"),
            ("cron(10-5 3 ? * MON *)", "start is after"),
            ("cron(0,,5 3 ? * MON *)", "empty list item"),
            ("cron(? 3 * * ? *)", "cannot be '?'"),
            ("cron(0 3 ? * MON *", "')'"),
            ("Cron(0 3 ? * MON *)", "lower case"),
            ("rate(0 days)", "zero"),
            ("rate(1 days)", "singular"),
            ("rate(2 day)", "singular"),
            ("rate(7 weeks)", "unit"),
            ("rate(-1 days)", "positive whole number"),
            ("rate(7days)", "one space"),
            ("at(2026-13-01T00:00:00)", "yyyy-mm-dd"),
        ] {
            let err = Schedule::parse(expr).expect_err(expr).to_string();
            assert!(err.contains(needle), "{expr}: {err}");
            assert!(err.contains(&format!("{expr:?}")), "{expr}: {err}");
        }
    }
}
