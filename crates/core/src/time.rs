//! RFC 3339 timestamps as Step Functions writes them (`2026-11-28T10:00:00Z`).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ScanError;

pub type Timestamp = OffsetDateTime;

/// Parses an RFC 3339 timestamp found in `field`.
pub fn parse(field: &str, value: &str) -> Result<Timestamp, ScanError> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|e| {
        ScanError::invalid(
            field,
            "an RFC 3339 timestamp such as 2026-11-28T10:00:00Z",
            format!("is {} ({e})", crate::error::quote(value)),
        )
    })
}

/// Formats in UTC with whole seconds, the form Step Functions' `Wait.Timestamp` accepts.
pub fn format(t: Timestamp) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `t` plus `seconds`, or an error naming `field` when the result would fall outside the
/// years the `time` crate represents (−9999 to 9999): a time that near the end of the calendar
/// is bad input, never a reason to panic or to wrap to a wrong wait.
pub fn add_seconds(field: &str, t: Timestamp, seconds: i64) -> Result<Timestamp, ScanError> {
    t.checked_add(time::Duration::seconds(seconds))
        .ok_or_else(|| {
            ScanError::invalid(
                field,
                "a time that leaves room for the run before the end of year 9999",
                format!("is {} plus {seconds} seconds, past 9999-12-31", format(t)),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_step_functions_timestamps_and_formats_whole_seconds() {
        let t = parse("now", "2026-11-28T10:00:00.192Z").expect("valid");
        assert_eq!(
            format(add_seconds("now", t, 3600).expect("in range")),
            "2026-11-28T11:00:00Z"
        );
        let err = parse("now", "yesterday").expect_err("invalid");
        assert!(err.to_string().contains("`now`"));
    }

    #[test]
    fn adding_past_the_end_of_year_9999_is_an_error_naming_the_field() {
        let t = parse("start", "9999-12-31T23:59:00Z").expect("valid");
        // At the limit: the last representable second is reached.
        assert_eq!(
            format(add_seconds("deadline", t, 59).expect("last second")),
            "9999-12-31T23:59:59Z"
        );
        // One past it.
        let err = add_seconds("deadline", t, 60).expect_err("past 9999");
        assert!(err.to_string().contains("`deadline`"), "{err}");
        assert!(add_seconds("deadline", t, i64::MAX).is_err());
        assert!(add_seconds("deadline", t, i64::MIN).is_err());
    }
}
