//! Execution names, one scheme for `scanflow run` and `scanflow executions`: readable and
//! deterministic per account, region and hour, so repeating a start within the hour finds the
//! execution it already started instead of scanning twice.

use scanflow_core::input::ScanRequest;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;

/// Step Functions' limit on execution names.
pub const MAX_NAME_LEN: usize = 80;

/// `scan-<account>-<region>-<YYYYMMDDTHH>` (UTC hour of `now`); a rerun is
/// `rerun-<account>-<region>-<YYYYMMDDTHH>-<8 hex of SHA-256 of the run id>`, so reruns of
/// different runs in one hour get different names. Real region names give at most 54
/// characters; a longer region is cut so the name stays within 80.
pub fn execution_name(request: &ScanRequest, now: OffsetDateTime) -> String {
    let slot = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!("[year][month][day]T[hour]"))
        .unwrap_or_default();
    let (kind, suffix) = match &request.rerun {
        None => ("scan", String::new()),
        Some(rerun) => (
            "rerun",
            format!(
                "-{}",
                &hex::encode(Sha256::digest(rerun.run_id.as_bytes()))[..8]
            ),
        ),
    };
    let account = &request.account_id;
    let fixed = format!("{kind}-{account}--{slot}{suffix}").len();
    let region: String = request
        .region
        .chars()
        .take(MAX_NAME_LEN.saturating_sub(fixed))
        .collect();
    format!("{kind}-{account}-{region}-{slot}{suffix}")
}

/// A name given with `--name`: 1 to 80 of `0-9 A-Z a-z - _`, the characters that keep the
/// execution's CloudWatch Logs working (Step Functions itself accepts more).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--name {name:?}: use 1 to {MAX_NAME_LEN} letters, digits, '-' or '_'"
        ))
    }
}

/// The account id in a name this module made (`scan-<account>-...`, `rerun-<account>-...`).
pub fn account_in_name(name: &str) -> Option<&str> {
    let rest = name
        .strip_prefix("scan-")
        .or_else(|| name.strip_prefix("rerun-"))?;
    let account = rest.get(..12)?;
    let shaped = scanflow_core::input::validate_account_id("execution name", account).is_ok()
        && rest.as_bytes().get(12) == Some(&b'-');
    shaped.then_some(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scanflow_core::input::ExecutionInput;

    fn request(region: &str, run_arn: Option<&str>) -> ScanRequest {
        ExecutionInput {
            account_id: Some("111122223333".into()),
            region: Some(region.into()),
            run_arn: run_arn.map(Into::into),
            ..Default::default()
        }
        .validate()
        .expect("valid input")
    }

    #[test]
    fn names_follow_the_hour_and_the_run() {
        let at = time::macros::datetime!(2026-11-28 10:59:59 UTC);
        assert_eq!(
            execution_name(&request("eu-west-1", None), at),
            "scan-111122223333-eu-west-1-20261128T10"
        );
        let next_hour = time::macros::datetime!(2026-11-28 11:00:00 UTC);
        assert_eq!(
            execution_name(&request("eu-west-1", None), next_hour),
            "scan-111122223333-eu-west-1-20261128T11"
        );
        // A local-time clock must not move the slot.
        let same_instant = time::macros::datetime!(2026-11-28 12:59:59 +2);
        assert_eq!(
            execution_name(&request("eu-west-1", None), same_instant),
            "scan-111122223333-eu-west-1-20261128T10"
        );

        let run_a = "arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b/run/0-c";
        let run_b = "arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b/run/0-d";
        let a = execution_name(&request("eu-west-1", Some(run_a)), at);
        assert!(
            a.starts_with("rerun-111122223333-eu-west-1-20261128T10-"),
            "{a}"
        );
        assert_eq!(
            a.len(),
            "rerun-111122223333-eu-west-1-20261128T10-".len() + 8
        );
        assert_eq!(a, execution_name(&request("eu-west-1", Some(run_a)), at));
        assert_ne!(a, execution_name(&request("eu-west-1", Some(run_b)), at));
    }

    #[test]
    fn longest_names_fit_and_use_safe_characters() {
        let run_in = |region: &str| {
            format!("arn:aws:inspector:{region}:111122223333:target/0-a/template/0-b/run/0-c")
        };
        // Built directly, not validated: the input accepts only known Regions (the longest
        // has 14 characters), but names must stay safe for any region a request carries.
        let name_for = |region: &str| {
            let request = ScanRequest {
                account_id: "111122223333".into(),
                region: region.into(),
                overrides: scanflow_core::input::Overrides::default(),
                rerun: Some(scanflow_core::input::Rerun {
                    engine: scanflow_core::model::Engine::Classic,
                    run_id: run_in(region),
                }),
                scheduled_at: None,
            };
            execution_name(&request, OffsetDateTime::UNIX_EPOCH)
        };
        assert_eq!(
            name_for("ap-southeast-5"),
            execution_name(
                &request("ap-southeast-5", Some(&run_in("ap-southeast-5"))),
                OffsetDateTime::UNIX_EPOCH
            )
        );
        assert_eq!(name_for("ap-southeast-5").len(), 54);
        // 40 characters fill a rerun name exactly, one more is cut.
        let fits = format!("{}-b-1", "a".repeat(36));
        let over = format!("{}-b-1", "a".repeat(37));
        assert_eq!(name_for(&fits).len(), MAX_NAME_LEN);
        assert!(name_for(&fits).contains(&fits));
        assert_eq!(name_for(&over).len(), MAX_NAME_LEN);
        assert!(!name_for(&over).contains(&over));
        for name in [name_for(&fits), name_for(&over)] {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{name}"
            );
        }
    }

    #[test]
    fn given_names_are_checked_at_the_limit() {
        assert!(check_name(&"a".repeat(80)).is_ok());
        assert!(check_name(&"a".repeat(81)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("scan 1").is_err());
        assert!(check_name("scan:1").is_err());
        assert!(check_name("retry_2-B").is_ok());
    }

    #[test]
    fn account_is_read_back_from_names_made_here_only() {
        assert_eq!(
            account_in_name("scan-111122223333-eu-west-1-20261128T10"),
            Some("111122223333")
        );
        assert_eq!(
            account_in_name("rerun-111122223333-eu-west-1-20261128T10-1a2b3c4d"),
            Some("111122223333")
        );
        assert_eq!(account_in_name("scan-11112222333-eu-west-1"), None);
        assert_eq!(account_in_name("scan-1111222233334-eu"), None);
        assert_eq!(
            account_in_name("0b4c1f9e-5f7e-4c3b-9a51-3c8e2f1d7a60"),
            None
        );
        assert_eq!(account_in_name("scan-"), None);
    }
}
