//! What a simulated fleet scan costs a month: list prices (constants with their source and the
//! date they were read, overridable by a JSON file), applied to what the simulation counted,
//! times the number of scans the schedule makes in an average month.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

/// When the default prices were read from the pages below.
pub const PRICES_AS_OF: &str = "2026-12-01";
/// The Region the default prices are for (the hub's Region changes them slightly).
pub const PRICES_REGION: &str = "us-east-1";

/// One unit price.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub usd: f64,
    pub unit: &'static str,
    pub source: &'static str,
}

/// Every price the estimate uses, keyed as a `--prices` file names them.
pub fn default_prices() -> BTreeMap<String, Price> {
    let lambda = "https://aws.amazon.com/lambda/pricing/";
    let sfn = "https://aws.amazon.com/step-functions/pricing/";
    let sns = "https://aws.amazon.com/sns/pricing/";
    let s3 = "https://aws.amazon.com/s3/pricing/";
    let sh = "https://aws.amazon.com/security-hub/pricing/";
    let eb = "https://aws.amazon.com/eventbridge/pricing/";
    let p = |usd, unit, source| Price { usd, unit, source };
    [
        (
            "lambdaGbSecondArm",
            p(0.000_013_333_4, "GB-second (arm64)", lambda),
        ),
        ("lambdaRequest", p(0.000_000_2, "request ($0.20 per million)", lambda)),
        (
            "stateTransition",
            p(0.000_025, "state transition, Standard ($0.025 per 1,000)", sfn),
        ),
        (
            "snsPublish",
            p(0.000_000_5, "64 KB publish request ($0.50 per million)", sns),
        ),
        (
            "snsHttpsDelivery",
            p(0.000_000_6, "HTTP/S delivery ($0.60 per million)", sns),
        ),
        (
            "snsEmailDelivery",
            p(0.000_02, "e-mail delivery ($2.00 per 100,000)", sns),
        ),
        ("s3Put", p(0.000_005, "PUT/COPY/POST/LIST ($0.005 per 1,000)", s3)),
        ("s3Get", p(0.000_000_4, "GET ($0.0004 per 1,000)", s3)),
        ("s3GbMonth", p(0.023, "GB-month, S3 Standard (first 50 TB)", s3)),
        (
            "securityHubIngestion",
            p(
                0.000_03,
                "finding ingestion event (BatchImportFindings; first 10,000 a month free, not applied)",
                sh,
            ),
        ),
        (
            "securityHubUpdate",
            p(
                0.0,
                "finding update by BatchUpdateFindings (customer updates are not billed as ingestion)",
                sh,
            ),
        ),
        (
            "eventBridgeEvent",
            p(0.000_001, "cross-account event or Scheduler invocation ($1.00 per million)", eb),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Replaces the prices a JSON file names (`{"lambdaGbSecondArm": 0.0000133334, ...}`); an
/// unknown key or a negative price is refused naming it.
pub fn load_overrides(prices: &mut BTreeMap<String, Price>, path: &Path) -> Result<(), String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--prices {}: {e}", path.display()))?;
    let map: BTreeMap<String, f64> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "--prices {}: expected an object of price names to USD numbers ({e})",
            path.display()
        )
    })?;
    for (key, usd) in map {
        let known = prices.keys().cloned().collect::<Vec<_>>().join(", ");
        let Some(p) = prices.get_mut(&key) else {
            return Err(format!(
                "--prices {}: {key:?} is not a price the estimate uses; expected one of {known}",
                path.display()
            ));
        };
        if !usd.is_finite() || usd < 0.0 {
            return Err(format!(
                "--prices {}: {key} must be a USD amount of 0 or more, got {usd}",
                path.display()
            ));
        }
        p.usd = usd;
    }
    Ok(())
}

/// What one fleet scan used, as the estimate prices it.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub lambda_gb_seconds: f64,
    pub lambda_requests: u64,
    pub transitions: u64,
    /// Publish requests as SNS bills them: each 64 KB of a message is one.
    pub sns_publish_requests: u64,
    pub sns_https_deliveries: u64,
    pub sns_email_deliveries: u64,
    pub s3_puts: u64,
    pub s3_gets: u64,
    /// Bytes the scan left in the bucket (kept `retention_days`).
    pub s3_bytes_stored: u64,
    pub security_hub_imports: u64,
    pub security_hub_updates: u64,
    pub event_bridge_events: u64,
}

/// Days in an average Gregorian month.
pub const DAYS_A_MONTH: f64 = 365.2425 / 12.0;

/// One line of the estimate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostLine {
    pub item: String,
    pub per_month: f64,
    pub unit: String,
    pub unit_usd: f64,
    pub monthly_usd: f64,
}

/// The estimate of a month at `scans_per_month` fleet scans like the simulated one, the bucket
/// keeping each scan's objects `retention_days`.
pub fn estimate(
    usage: &Usage,
    prices: &BTreeMap<String, Price>,
    scans_per_month: f64,
    retention_days: f64,
) -> Vec<CostLine> {
    let price = |k: &str| prices.get(k).cloned();
    // Each scan's objects stay for the retention period: so many GB-months per scan.
    let stored_gb_months = usage.s3_bytes_stored as f64 / 1e9 * (retention_days / DAYS_A_MONTH);
    let items: [(&str, &str, f64); 12] = [
        (
            "Lambda compute",
            "lambdaGbSecondArm",
            usage.lambda_gb_seconds,
        ),
        (
            "Lambda requests",
            "lambdaRequest",
            usage.lambda_requests as f64,
        ),
        (
            "Step Functions transitions",
            "stateTransition",
            usage.transitions as f64,
        ),
        (
            "SNS publishes",
            "snsPublish",
            usage.sns_publish_requests as f64,
        ),
        (
            "SNS HTTPS deliveries",
            "snsHttpsDelivery",
            usage.sns_https_deliveries as f64,
        ),
        (
            "SNS e-mail deliveries",
            "snsEmailDelivery",
            usage.sns_email_deliveries as f64,
        ),
        ("S3 PUT/LIST", "s3Put", usage.s3_puts as f64),
        ("S3 GET", "s3Get", usage.s3_gets as f64),
        ("S3 storage", "s3GbMonth", stored_gb_months),
        (
            "Security Hub imports",
            "securityHubIngestion",
            usage.security_hub_imports as f64,
        ),
        (
            "Security Hub updates",
            "securityHubUpdate",
            usage.security_hub_updates as f64,
        ),
        (
            "EventBridge events",
            "eventBridgeEvent",
            usage.event_bridge_events as f64,
        ),
    ];
    items
        .into_iter()
        .filter_map(|(item, key, per_scan)| {
            let p = price(key)?;
            let per_month = per_scan * scans_per_month;
            Some(CostLine {
                item: item.to_owned(),
                per_month,
                unit: p.unit.to_owned(),
                unit_usd: p.usd,
                monthly_usd: per_month * p.usd,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_is_quantity_times_price_times_scans() {
        let usage = Usage {
            lambda_gb_seconds: 1_000.0,
            transitions: 40_000,
            ..Usage::default()
        };
        let lines = estimate(&usage, &default_prices(), 4.0, 90.0);
        let get = |n: &str| lines.iter().find(|l| l.item == n).expect(n).monthly_usd;
        assert!((get("Step Functions transitions") - 4.0 * 40_000.0 * 0.000_025).abs() < 1e-9);
        assert!((get("Lambda compute") - 4.0 * 1_000.0 * 0.000_013_333_4).abs() < 1e-9);
        assert_eq!(get("SNS publishes"), 0.0);
    }

    #[test]
    fn storage_counts_every_scan_the_bucket_still_keeps() {
        let usage = Usage {
            s3_bytes_stored: 1_000_000_000,
            ..Usage::default()
        };
        // Weekly scans kept 90 days: about 12.9 scans' objects in the bucket at once.
        let lines = estimate(&usage, &default_prices(), 4.348, 90.0);
        let gb = lines
            .iter()
            .find(|l| l.item == "S3 storage")
            .expect("storage")
            .per_month;
        assert!((gb - 12.86).abs() < 0.05, "{gb}");
    }

    #[test]
    fn overrides_replace_known_prices_and_refuse_unknown_ones() {
        let dir = std::env::temp_dir().join(format!("scanflow-prices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("p.json");
        let mut prices = default_prices();
        std::fs::write(&file, r#"{"stateTransition": 0.00003}"#).expect("write");
        load_overrides(&mut prices, &file).expect("known");
        assert_eq!(prices["stateTransition"].usd, 0.000_03);
        std::fs::write(&file, r#"{"stateTransitions": 1}"#).expect("write");
        let e = load_overrides(&mut prices, &file).expect_err("typo");
        assert!(
            e.contains("\"stateTransitions\" is not") && e.contains("snsPublish, stateTransition"),
            "{e}"
        );
        std::fs::write(&file, r#"{"s3Get": -1}"#).expect("write");
        assert!(load_overrides(&mut prices, &file).is_err());
    }
}
