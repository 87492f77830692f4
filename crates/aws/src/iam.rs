//! What the templates must grant and set: the IAM actions each identity calls and the
//! environment variables each function reads. The templates' consistency test reads these, so
//! they list exactly what the adapters call, no more.

/// The member scan role's name; its ARN is `arn:{partition}:iam::{account}:role/{name}`.
pub const ENV_SCAN_ROLE_NAME: &str = "SCAN_ROLE_NAME";
/// Optional `sts:ExternalId` for assuming the scan role.
pub const ENV_EXTERNAL_ID: &str = "EXTERNAL_ID";
/// Optional SSM parameter name (in each member account) of the scan settings.
pub const ENV_SETTINGS_PARAMETER: &str = "SETTINGS_PARAMETER";
/// The hub's report bucket.
pub const ENV_REPORT_BUCKET: &str = "REPORT_BUCKET";
/// The KMS key ARN of the report bucket (also used for Inspector v2 findings reports).
pub const ENV_REPORT_KMS_KEY_ARN: &str = "REPORT_KMS_KEY_ARN";
/// The scanflow SNS topic ARN.
pub const ENV_TOPIC_ARN: &str = "TOPIC_ARN";
/// The hub (audit) account id.
pub const ENV_HUB_ACCOUNT_ID: &str = "HUB_ACCOUNT_ID";

/// `true` when the hub is the Inspector delegated administrator and reads v2 with its own
/// credentials (the `InspectorDelegatedAdmin` parameter); absent or `false` otherwise.
pub const ENV_INSPECTOR_DELEGATED_ADMIN: &str = "INSPECTOR_DELEGATED_ADMIN";

/// Variables a function may do without.
pub const OPTIONAL_ENV: &[&str] = &[
    ENV_EXTERNAL_ID,
    ENV_SETTINGS_PARAMETER,
    ENV_SLA_DAYS,
    ENV_INSPECTOR_DELEGATED_ADMIN,
    ENV_SIEM_FORMAT,
    ENV_REPORT_LINK_HOURS,
    ENV_EMAIL_MIN_SEVERITY,
];

/// Hub-wide SLA days per severity (`critical=15,high=30,...`; the `SlaDays` parameter).
pub const ENV_SLA_DAYS: &str = "SLA_DAYS";

/// How the SIEM parts write findings: `scanflow` or `ocsf` (the `SiemFormat` parameter).
pub const ENV_SIEM_FORMAT: &str = "SIEM_FORMAT";

/// The least severe findings the e-mail lists by name, `CRITICAL` ... `UNTRIAGED` (the
/// `EmailMinimumSeverity` parameter; format only).
pub const ENV_EMAIL_MIN_SEVERITY: &str = "EMAIL_MIN_SEVERITY";

/// Hours the e-mail's presigned link to the HTML report is valid, 0 for the S3 console path
/// (the `ReportLinkHours` parameter; publish and fleet-watch).
pub const ENV_REPORT_LINK_HOURS: &str = "REPORT_LINK_HOURS";

/// The functions, as `lambda::run` names them (one list, in the domain).
pub use scanflow_core::step::FUNCTIONS;

/// The variables `function` reads (required ones and those in [`OPTIONAL_ENV`]), or `None`
/// for an unknown function. Functions that enter member accounts need the role variables.
pub fn function_env(function: &str) -> Option<&'static [&'static str]> {
    const MEMBER: &[&str] = &[
        ENV_SCAN_ROLE_NAME,
        ENV_EXTERNAL_ID,
        ENV_SETTINGS_PARAMETER,
        ENV_REPORT_BUCKET,
        ENV_REPORT_KMS_KEY_ARN,
        ENV_HUB_ACCOUNT_ID,
        ENV_INSPECTOR_DELEGATED_ADMIN,
    ];
    const FORMAT: &[&str] = &[
        ENV_REPORT_BUCKET,
        ENV_REPORT_KMS_KEY_ARN,
        ENV_HUB_ACCOUNT_ID,
        ENV_SLA_DAYS,
        ENV_SIEM_FORMAT,
        ENV_EMAIL_MIN_SEVERITY,
    ];
    // The report link's lifetime last, so the notifier's set is this one without it.
    const PUBLISH: &[&str] = &[
        ENV_SCAN_ROLE_NAME,
        ENV_EXTERNAL_ID,
        ENV_SETTINGS_PARAMETER,
        ENV_REPORT_BUCKET,
        ENV_REPORT_KMS_KEY_ARN,
        ENV_HUB_ACCOUNT_ID,
        ENV_TOPIC_ARN,
        ENV_REPORT_LINK_HOURS,
    ];
    const NOTIFY: &[&str] = PUBLISH.split_at(PUBLISH.len() - 1).0;
    match function {
        "start-run" | "check-status" | "collect-findings" => Some(MEMBER),
        "format" => Some(FORMAT),
        // The notifier enters members (notices) and publishes its notices: publish's set,
        // without the report links it never makes.
        "notify" => Some(NOTIFY),
        // The fleet watch also links the rollup's HTML report, as publish links the scan's.
        "publish" | "fleet-watch" => Some(PUBLISH),
        _ => None,
    }
}

/// Actions called with the assumed member scan role (granted by the member template).
pub const MEMBER_ROLE_ACTIONS: &[&str] = &[
    // The account's scan settings.
    "ssm:GetParameter",
    // Inspector Classic.
    "inspector:DescribeAssessmentTemplates",
    "inspector:PreviewAgents",
    "inspector:StartAssessmentRun",
    "inspector:DescribeAssessmentRuns",
    "inspector:ListFindings",
    "inspector:DescribeFindings",
    "inspector:ListAssessmentRunAgents",
    // Inspector v2: coverage and findings in the scanned Region (unless the hub reads as the
    // delegated administrator); the status of a findings report recorded before.
    "inspector2:ListCoverage",
    "inspector2:ListFindings",
    "inspector2:GetFindingsReportStatus",
    // Inspector v2's status in a Classic account (start-run's migration pre-flight).
    "inspector2:BatchGetAccountStatus",
    // CIS scans (cisLevel): start-run creates the one-time scan, check-status follows it,
    // collect-findings reads its targets and failed checks (unless the hub does all of it as
    // the delegated administrator).
    "inspector2:CreateCisScanConfiguration",
    "inspector2:ListCisScanConfigurations",
    "inspector2:ListCisScans",
    "inspector2:ListCisScanResultsAggregatedByTargetResource",
    "inspector2:GetCisScanResultDetails",
    // The member's own Security Hub: which findings are still NEW, delivered ones marked,
    // notices imported.
    "securityhub:GetFindings",
    "securityhub:BatchUpdateFindings",
    "securityhub:BatchImportFindings",
];

/// Actions each function's own execution role calls (granted by the hub template), besides
/// CloudWatch Logs. Empty for an unknown function.
///
/// Reading the report bucket needs `s3:ListBucket` too: without it S3 answers a missing key
/// with AccessDenied instead of NoSuchKey, and collect-findings lists the Inspector v2 report
/// prefix. Objects are SSE-KMS: writing needs `kms:GenerateDataKey`, reading `kms:Decrypt`;
/// publishing to the KMS-encrypted topic needs both.
pub fn function_actions(function: &str) -> &'static [&'static str] {
    match function {
        // start-run claims the schedule slot and keeps the run for the notifier.
        // The `inspector2:` actions are the delegated-admin reads (the hub's own credentials):
        // the template grants them only when InspectorDelegatedAdmin is true
        // ([`DELEGATED_ADMIN_ACTIONS`]).
        "start-run" => &[
            "sts:AssumeRole",
            "s3:ListBucket",
            "s3:GetObject",
            "s3:PutObject",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "inspector2:GetMember",
            "inspector2:ListCoverage",
            "inspector2:ListCisScanConfigurations",
            "inspector2:CreateCisScanConfiguration",
        ],
        "check-status" => &["sts:AssumeRole", "inspector2:ListCisScans"],
        "collect-findings" => &[
            "sts:AssumeRole",
            "s3:ListBucket",
            "s3:GetObject",
            "s3:PutObject",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "inspector2:ListCoverage",
            "inspector2:ListFindings",
            "inspector2:ListCisScans",
            "inspector2:ListCisScanResultsAggregatedByTargetResource",
            "inspector2:GetCisScanResultDetails",
        ],
        "format" => &[
            "s3:ListBucket",
            "s3:GetObject",
            "s3:PutObject",
            "kms:Decrypt",
            "kms:GenerateDataKey",
        ],
        // Publish writes its delivery ledger, the run state and the last-delivery record; the
        // notifier (publish's failure mode) its notice ledger and the open notices: the same
        // actions on different keys (the template scopes the keys).
        "publish" | "notify" => &[
            "sts:AssumeRole",
            "s3:ListBucket",
            "s3:GetObject",
            "s3:PutObject",
            "sns:Publish",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "securityhub:BatchImportFindings",
        ],
        // Reads the registry and the delivery records, writes registry entries and its report,
        // reads member settings through the scan role, publishes the notice.
        "fleet-watch" => &[
            "sts:AssumeRole",
            "s3:ListBucket",
            "s3:GetObject",
            "s3:PutObject",
            "sns:Publish",
            "kms:Decrypt",
            "kms:GenerateDataKey",
        ],
        _ => &[],
    }
}

/// The actions a function role needs only in delegated-admin mode (granted under the template's
/// `DelegatedAdmin` condition).
pub const DELEGATED_ADMIN_ACTIONS: &[&str] = &[
    "inspector2:GetMember",
    "inspector2:ListCoverage",
    "inspector2:ListFindings",
    "inspector2:CreateCisScanConfiguration",
    "inspector2:ListCisScanConfigurations",
    "inspector2:ListCisScans",
    "inspector2:ListCisScanResultsAggregatedByTargetResource",
    "inspector2:GetCisScanResultDetails",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every `"service:Action"` literal the adapters name in their calls.
    fn actions_in_sources() -> BTreeSet<String> {
        let sources = [
            include_str!("platform.rs"),
            include_str!("account_status.rs"),
            include_str!("settings.rs"),
            include_str!("classic.rs"),
            include_str!("inspector2.rs"),
            include_str!("inspector2/cis.rs"),
            include_str!("securityhub.rs"),
            include_str!("sns.rs"),
            include_str!("s3.rs"),
        ];
        let services = [
            "sts",
            "ssm",
            "inspector",
            "inspector2",
            "securityhub",
            "sns",
            "s3",
        ];
        let mut found = BTreeSet::new();
        for src in sources {
            for piece in src.split('"').skip(1).step_by(2) {
                if let Some((service, op)) = piece.split_once(':')
                    && services.contains(&service)
                    && !op.is_empty()
                    && op.chars().all(|c| c.is_ascii_alphanumeric())
                    && op.starts_with(|c: char| c.is_ascii_uppercase())
                {
                    found.insert(piece.to_owned());
                }
            }
        }
        found
    }

    #[test]
    fn every_called_action_is_granted_somewhere_and_every_grant_is_called() {
        let called = actions_in_sources();
        let granted: BTreeSet<String> = MEMBER_ROLE_ACTIONS
            .iter()
            .chain(FUNCTIONS.iter().flat_map(|f| function_actions(f)))
            .filter(|a| !a.starts_with("kms:"))
            .map(|a| (*a).to_owned())
            .collect();
        assert!(called.len() > 15, "{called:?}");
        assert_eq!(called, granted);
    }

    #[test]
    fn lists_have_no_duplicates_and_only_publish_and_notify_read_the_topic() {
        let mut all: Vec<&[&str]> = FUNCTIONS.iter().map(|f| function_actions(f)).collect();
        all.push(MEMBER_ROLE_ACTIONS);
        for list in all {
            let set: BTreeSet<_> = list.iter().collect();
            assert_eq!(set.len(), list.len(), "{list:?}");
        }
        for f in FUNCTIONS {
            let env = function_env(f).expect("known");
            assert_eq!(
                env.contains(&ENV_TOPIC_ARN),
                f == "publish" || f == "notify" || f == "fleet-watch",
                "{f}"
            );
            assert_eq!(
                function_actions(f).contains(&"sts:AssumeRole"),
                env.contains(&ENV_SCAN_ROLE_NAME),
                "{f}"
            );
        }
        assert!(function_env("other").is_none());
        assert!(function_actions("other").is_empty());
    }
}
