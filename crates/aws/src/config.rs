//! The Lambda functions' configuration, read once from environment variables at cold start,
//! with an error naming the variable when one is missing or malformed.

use scanflow_core::ScanError;
use scanflow_core::lifecycle::SlaOverrides;
use scanflow_core::ports::SiemFormat;

use crate::iam;

/// Default SSM parameter (in each member account) holding the account's scan settings.
pub const DEFAULT_SETTINGS_PARAMETER: &str = "/scanflow/settings";

/// A configuration problem found at cold start; the function refuses to serve events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "environment variable {variable} is not set; the {function} function needs it ({purpose}). \
         Set it in the SAM template"
    )]
    Missing {
        function: String,
        variable: &'static str,
        purpose: &'static str,
    },
    #[error("environment variable {variable} is {value:?}: {problem}")]
    Invalid {
        variable: &'static str,
        value: String,
        problem: String,
    },
    /// A hub setting outside its documented range (`scanflow_core::ports::hub_ranges`).
    #[error("hub setting out of range: {0}")]
    Hub(ScanError),
    #[error(
        "unknown function {0:?}: expected one of start-run, check-status, collect-findings, \
         format, publish, notify, fleet-watch"
    )]
    UnknownFunction(String),
}

/// Everything the adapters need that is not in the SDK's own configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The function this process serves (`start-run`, ...).
    pub function: String,
    /// The member scan role's name (`SCAN_ROLE_NAME`).
    pub scan_role_name: String,
    /// `sts:ExternalId` sent when assuming the scan role (`EXTERNAL_ID`).
    pub external_id: Option<String>,
    /// SSM parameter in each member account with its scan settings (`SETTINGS_PARAMETER`).
    pub settings_parameter: String,
    /// The hub's report bucket (`REPORT_BUCKET`).
    pub report_bucket: String,
    /// The KMS key encrypting the bucket's objects and Inspector v2 reports (`REPORT_KMS_KEY_ARN`).
    pub report_kms_key_arn: String,
    /// The scanflow SNS topic (`TOPIC_ARN`); only the publish function has one.
    pub topic_arn: Option<String>,
    /// The hub (audit) account id (`HUB_ACCOUNT_ID`).
    pub hub_account_id: String,
    /// Hub-wide SLA days per severity over the defaults (`SLA_DAYS`; format only).
    pub sla_days: SlaOverrides,
    /// The hub is the Inspector delegated administrator of the members' organisation and reads
    /// their v2 findings and coverage with its own credentials (`INSPECTOR_DELEGATED_ADMIN`).
    pub inspector_delegated_admin: bool,
    /// How the SIEM parts write findings (`SIEM_FORMAT`; format only; default scanflow).
    pub siem_format: SiemFormat,
    /// Hours the e-mail's link to the HTML report is valid, 0 for the S3 console path
    /// (`REPORT_LINK_HOURS`; publish and fleet-watch; default a day).
    pub report_link_hours: u32,
    /// The least severe findings the e-mail lists (`EMAIL_MIN_SEVERITY`; format only; default
    /// every severity).
    pub email_min_severity: scanflow_core::model::Severity,
}

impl Config {
    /// Reads the configuration of `function` from the process environment.
    pub fn from_env(function: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(function, |name| std::env::var(name).ok())
    }

    /// Reads the configuration of `function` through `lookup` (the environment, or a map in
    /// tests). Only the variables `function` uses are required.
    pub fn from_lookup(
        function: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let needs = iam::function_env(function)
            .ok_or_else(|| ConfigError::UnknownFunction(function.to_owned()))?;
        let get = |variable: &'static str| -> Result<Option<String>, ConfigError> {
            match lookup(variable).map(|v| v.trim().to_owned()) {
                Some(v) if !v.is_empty() => Ok(Some(v)),
                _ if needs.contains(&variable) && !iam::OPTIONAL_ENV.contains(&variable) => {
                    Err(ConfigError::Missing {
                        function: function.to_owned(),
                        variable,
                        purpose: purpose(variable),
                    })
                }
                _ => Ok(None),
            }
        };
        let hub_account_id = get(iam::ENV_HUB_ACCOUNT_ID)?.unwrap_or_default();
        if !is_account_id(&hub_account_id) {
            return Err(ConfigError::Invalid {
                variable: iam::ENV_HUB_ACCOUNT_ID,
                value: hub_account_id,
                problem: "expected a 12-digit AWS account id".into(),
            });
        }
        let scan_role_name = get(iam::ENV_SCAN_ROLE_NAME)?.unwrap_or_default();
        if !scan_role_name.is_empty() && !is_role_name(&scan_role_name) {
            return Err(ConfigError::Invalid {
                variable: iam::ENV_SCAN_ROLE_NAME,
                value: scan_role_name,
                problem: "expected an IAM role name: 1-64 of letters, digits and +=,.@_-".into(),
            });
        }
        let report_kms_key_arn = get(iam::ENV_REPORT_KMS_KEY_ARN)?.unwrap_or_default();
        if !report_kms_key_arn.is_empty() && !report_kms_key_arn.starts_with("arn:") {
            return Err(ConfigError::Invalid {
                variable: iam::ENV_REPORT_KMS_KEY_ARN,
                value: report_kms_key_arn,
                problem: "expected a KMS key ARN (arn:aws:kms:...); Inspector v2 reports need \
                          the full ARN"
                    .into(),
            });
        }
        let external_id = get(iam::ENV_EXTERNAL_ID)?;
        if let Some(id) = external_id.as_ref().filter(|id| !is_external_id(id)) {
            return Err(ConfigError::Invalid {
                variable: iam::ENV_EXTERNAL_ID,
                value: id.clone(),
                problem: "expected 2-1224 of letters, digits and +=,.@:/-_ (what STS accepts)"
                    .into(),
            });
        }
        let topic_arn = get(iam::ENV_TOPIC_ARN)?;
        if let Some(arn) = topic_arn.as_ref().filter(|a| !a.starts_with("arn:")) {
            return Err(ConfigError::Invalid {
                variable: iam::ENV_TOPIC_ARN,
                value: arn.clone(),
                problem: "expected an SNS topic ARN (arn:aws:sns:...)".into(),
            });
        }
        let sla_days = match get(iam::ENV_SLA_DAYS)? {
            None => SlaOverrides::default(),
            Some(text) => SlaOverrides::parse_spec(iam::ENV_SLA_DAYS, &text).map_err(|e| {
                let problem = match e {
                    ScanError::InvalidInput {
                        field,
                        expected,
                        problem,
                    } => format!("`{field}` {problem}; expected {expected}"),
                    other => other.to_string(),
                };
                ConfigError::Invalid {
                    variable: iam::ENV_SLA_DAYS,
                    value: text.clone(),
                    problem,
                }
            })?,
        };
        let inspector_delegated_admin = match get(iam::ENV_INSPECTOR_DELEGATED_ADMIN)?.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: iam::ENV_INSPECTOR_DELEGATED_ADMIN,
                    value: other.to_owned(),
                    problem: "expected true or false (the hub's InspectorDelegatedAdmin parameter)"
                        .into(),
                });
            }
        };
        let siem_format = match get(iam::ENV_SIEM_FORMAT)? {
            None => SiemFormat::default(),
            Some(text) => SiemFormat::parse(iam::ENV_SIEM_FORMAT, &text).map_err(|_| {
                ConfigError::Invalid {
                    variable: iam::ENV_SIEM_FORMAT,
                    value: text.clone(),
                    problem: "expected scanflow or ocsf (the SiemFormat parameter)".into(),
                }
            })?,
        };
        let report_link_hours = match get(iam::ENV_REPORT_LINK_HOURS)? {
            None => scanflow_core::ports::DEFAULT_REPORT_LINK_HOURS,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|h| scanflow_core::ports::hub_ranges::REPORT_LINK_HOURS.contains(h))
                .ok_or_else(|| ConfigError::Invalid {
                    variable: iam::ENV_REPORT_LINK_HOURS,
                    value: text.clone(),
                    problem: format!(
                        "expected whole hours from 0 (no presigned link) to {} (7 days, the \
                         longest a presigned URL lives): the ReportLinkHours parameter",
                        scanflow_core::ports::LINK_MAX_HOURS
                    ),
                })?,
        };
        let email_min_severity = match get(iam::ENV_EMAIL_MIN_SEVERITY)? {
            None => scanflow_core::model::Severity::Untriaged,
            Some(text) => scanflow_core::model::Severity::parse(iam::ENV_EMAIL_MIN_SEVERITY, &text)
                .map_err(|_| ConfigError::Invalid {
                    variable: iam::ENV_EMAIL_MIN_SEVERITY,
                    value: text.clone(),
                    problem: "expected CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL or UNTRIAGED \
                              (the EmailMinimumSeverity parameter)"
                        .into(),
                })?,
        };
        Ok(Self {
            email_min_severity,
            report_link_hours,
            inspector_delegated_admin,
            sla_days,
            siem_format,
            function: function.to_owned(),
            scan_role_name,
            external_id,
            settings_parameter: get(iam::ENV_SETTINGS_PARAMETER)?
                .unwrap_or_else(|| DEFAULT_SETTINGS_PARAMETER.to_owned()),
            report_bucket: get(iam::ENV_REPORT_BUCKET)?.unwrap_or_default(),
            report_kms_key_arn,
            topic_arn,
            hub_account_id,
        })
    }
}

fn purpose(variable: &str) -> &'static str {
    match variable {
        iam::ENV_SCAN_ROLE_NAME => "the member accounts' scan role name",
        iam::ENV_REPORT_BUCKET => "the hub's report bucket",
        iam::ENV_REPORT_KMS_KEY_ARN => "the KMS key of the report bucket",
        iam::ENV_TOPIC_ARN => "the scanflow SNS topic",
        iam::ENV_HUB_ACCOUNT_ID => "the hub (audit) account id",
        _ => "scanflow configuration",
    }
}

/// The one account-id rule, core's, as a yes/no for the messages this module writes.
pub(crate) fn is_account_id(s: &str) -> bool {
    scanflow_core::input::validate_account_id("", s).is_ok()
}

fn is_external_id(s: &str) -> bool {
    (2..=1224).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/_-".contains(&b))
}

fn is_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        ("SCAN_ROLE_NAME", "scanflow-scan"),
        ("REPORT_BUCKET", "hub-reports"),
        (
            "REPORT_KMS_KEY_ARN",
            "arn:aws:kms:eu-west-1:999999999999:key/k",
        ),
        ("HUB_ACCOUNT_ID", "999999999999"),
        ("TOPIC_ARN", "arn:aws:sns:eu-west-1:999999999999:scanflow"),
    ];

    #[test]
    fn reads_everything_with_defaults() {
        let c = Config::from_lookup("publish", env(FULL)).expect("valid");
        assert_eq!(c.settings_parameter, DEFAULT_SETTINGS_PARAMETER);
        assert_eq!(c.external_id, None);
        assert_eq!(
            c.topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:999999999999:scanflow")
        );
        let mut with = FULL.to_vec();
        with.push(("EXTERNAL_ID", "ext-1"));
        with.push(("SETTINGS_PARAMETER", "/custom"));
        let c = Config::from_lookup("start-run", env(&with)).expect("valid");
        assert_eq!(c.external_id.as_deref(), Some("ext-1"));
        assert_eq!(c.settings_parameter, "/custom");
        assert!(!c.inspector_delegated_admin);
        with.push(("INSPECTOR_DELEGATED_ADMIN", "true"));
        let c = Config::from_lookup("collect-findings", env(&with)).expect("valid");
        assert!(c.inspector_delegated_admin);
        assert_eq!(c.siem_format, SiemFormat::Scanflow, "the default");
        with.push(("SIEM_FORMAT", "ocsf"));
        let c = Config::from_lookup("format", env(&with)).expect("valid");
        assert_eq!(c.siem_format, SiemFormat::Ocsf);
        assert_eq!(c.report_link_hours, 24, "the default: a day");
        assert_eq!(
            c.email_min_severity,
            scanflow_core::model::Severity::Untriaged
        );
        let mut floor = with.clone();
        floor.push(("EMAIL_MIN_SEVERITY", "HIGH"));
        let c = Config::from_lookup("format", env(&floor)).expect("valid");
        assert_eq!(c.email_min_severity, scanflow_core::model::Severity::High);
        for hours in ["0", "168"] {
            let mut at_limit = with.clone();
            at_limit.push(("REPORT_LINK_HOURS", hours));
            let c = Config::from_lookup("publish", env(&at_limit)).expect(hours);
            assert_eq!(c.report_link_hours.to_string(), hours);
        }
    }

    #[test]
    fn only_publish_needs_the_topic() {
        let without_topic: Vec<_> = FULL
            .iter()
            .copied()
            .filter(|(k, _)| *k != "TOPIC_ARN")
            .collect();
        for f in ["start-run", "check-status", "collect-findings", "format"] {
            assert!(Config::from_lookup(f, env(&without_topic)).is_ok(), "{f}");
        }
        let err = Config::from_lookup("publish", env(&without_topic)).expect_err("needs topic");
        assert!(err.to_string().contains("TOPIC_ARN"), "{err}");
        assert!(err.to_string().contains("publish"), "{err}");
    }

    #[test]
    fn each_required_variable_is_named_when_missing_or_blank() {
        for missing in [
            "SCAN_ROLE_NAME",
            "REPORT_BUCKET",
            "REPORT_KMS_KEY_ARN",
            "HUB_ACCOUNT_ID",
        ] {
            let pairs: Vec<_> = FULL
                .iter()
                .map(|&(k, v)| if k == missing { (k, " ") } else { (k, v) })
                .collect();
            let err = Config::from_lookup("start-run", env(&pairs)).expect_err(missing);
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn malformed_values_are_refused() {
        for (var, bad) in [
            ("HUB_ACCOUNT_ID", "12345"),
            ("SCAN_ROLE_NAME", "bad role"),
            ("REPORT_KMS_KEY_ARN", "alias/reports"),
            ("TOPIC_ARN", "scanflow"),
            ("EXTERNAL_ID", "x"),
            ("EXTERNAL_ID", "has space"),
            ("SLA_DAYS", "critical=0"),
            ("SLA_DAYS", "urgent=3"),
            ("INSPECTOR_DELEGATED_ADMIN", "yes"),
            ("SIEM_FORMAT", "OCSF"),
            ("SIEM_FORMAT", "cef"),
            ("REPORT_LINK_HOURS", "169"),
            ("REPORT_LINK_HOURS", "-1"),
            ("REPORT_LINK_HOURS", "12h"),
            ("EMAIL_MIN_SEVERITY", "high"),
            ("EMAIL_MIN_SEVERITY", "SEVERE"),
        ] {
            let mut pairs: Vec<_> = FULL
                .iter()
                .map(|&(k, v)| if k == var { (k, bad) } else { (k, v) })
                .collect();
            if !pairs.iter().any(|(k, _)| *k == var) {
                pairs.push((var, bad));
            }
            let err = Config::from_lookup("publish", env(&pairs)).expect_err(var);
            assert!(matches!(err, ConfigError::Invalid { variable, .. } if variable == var));
        }
        assert!(matches!(
            Config::from_lookup("nope", env(FULL)),
            Err(ConfigError::UnknownFunction(_))
        ));
    }
}
