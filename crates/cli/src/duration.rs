//! Durations typed on the command line (`30m`, `12h`, `7d`), for `--since` and
//! `--redrive-after`: one parser, each flag with its own ceiling.

use time::Duration;

/// `text` as a positive whole number of minutes (`m`), hours (`h`) or days (`d`), at most
/// `max`. The error names `flag` and says what is accepted.
pub fn parse(flag: &str, text: &str, max: Duration) -> Result<Duration, String> {
    let bad = || {
        format!("{flag} {text:?}: use a number of minutes, hours or days such as 30m, 12h or 7d")
    };
    let too_far = || {
        format!(
            "{flag} {text:?}: give more than 0 and at most {} days",
            max.whole_days()
        )
    };
    let Some(unit) = text.chars().last() else {
        return Err(bad());
    };
    let number = &text[..text.len() - unit.len_utf8()];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    // Checked before the duration is built, which would overflow on absurd numbers.
    let n: i64 = number.parse().map_err(|_| too_far())?;
    if n == 0 || n > max.whole_minutes() {
        return Err(too_far());
    }
    let d = match unit {
        'm' => Duration::minutes(n),
        'h' => Duration::hours(n),
        'd' => Duration::days(n),
        _ => return Err(bad()),
    };
    if d > max {
        return Err(too_far());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_up_to_the_limit_and_refuses_one_past_it() {
        let max = Duration::days(14);
        assert_eq!(parse("--x", "2h", max), Ok(Duration::hours(2)));
        assert_eq!(parse("--x", "14d", max), Ok(max));
        assert_eq!(parse("--x", "20160m", max), Ok(max));
        assert!(
            parse("--x", "20161m", max)
                .unwrap_err()
                .contains("at most 14 days")
        );
        assert!(parse("--x", "15d", max).is_err());
        assert!(parse("--x", "0h", max).is_err());
        assert!(parse("--x", "99999999999999999999d", max).is_err());
        for bad in ["", "h", "2", "2w", "-2h", "2.5h", "2 h"] {
            assert!(
                parse("--x", bad, max).unwrap_err().starts_with("--x"),
                "{bad}"
            );
        }
    }
}
