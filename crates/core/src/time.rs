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
            format!("is {value:?} ({e})"),
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

pub fn add_seconds(t: Timestamp, seconds: i64) -> Timestamp {
    t + time::Duration::seconds(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_step_functions_timestamps_and_formats_whole_seconds() {
        let t = parse("now", "2026-11-28T10:00:00.192Z").expect("valid");
        assert_eq!(format(add_seconds(t, 3600)), "2026-11-28T11:00:00Z");
        let err = parse("now", "yesterday").expect_err("invalid");
        assert!(err.to_string().contains("`now`"));
    }
}
