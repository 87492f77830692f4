//! The fleet watch: once a day, compares what the registry says should have been scanned with
//! what publish last delivered, and sends ONE notice naming every account-Region that missed
//! its schedule, lost its member stack or changed scope since its last scan (nothing when all
//! is well). On its own schedule it sends the org rollup instead: one digest across every
//! account-Region, from the stored run states ([`scanflow_core::rollup`]). Its other entry
//! point is the registry writer, fed by the member stacks' settings
//! parameter events (Create/Update: the settings are read through the scan role; Delete: the
//! entry is marked deleted).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use scanflow_core::fleet::{
    self, FleetFinding, LastDelivery, Problem, RegistryEntry, RegistryStatus, ScanScope,
};
use scanflow_core::input::{validate_account_id, validate_region};
use scanflow_core::lifecycle::{self, StatePointer};
use scanflow_core::message::{
    ATTR_KIND, KIND_FLEET_WATCH, KIND_ROLLUP, Message, SNS_MESSAGE_LIMIT,
};
use scanflow_core::ports::{MemberAccount, Notifier, Platform, ReportStore};
use scanflow_core::rollup::{self, Risks, Rollup, Row};
use scanflow_core::{ScanError, keys, step, time as ts};
use scanflow_documents::digest::link_lines;
use scanflow_documents::html;

/// The `detail-type` of the settings parameter's events (source `aws.ssm`).
pub const PARAMETER_STORE_CHANGE: &str = "Parameter Store Change";
/// The role session the registry writer opens in member accounts.
pub const REGISTRY_SESSION: &str = "scanflow-fleet-registry";
/// The longest grace period accepted: a week, the usual scan interval.
pub const MAX_GRACE_HOURS: u32 = 168;
/// Room kept in the notice for the subject and attributes, under SNS's message limit.
const NOTICE_MARGIN: usize = 4096;

/// The daily check's input (the hub schedule's `Input`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckInput {
    /// `"fleet"` (the daily check) or `"rollup"` (the org rollup): tells them from a
    /// forwarded parameter event.
    pub check: String,
    /// The nominal time of the check (`<aws.scheduler.scheduled-time>`).
    pub now: String,
    /// Hours allowed after a scheduled time before its scan counts as missed.
    pub grace_hours: u32,
}

/// What the daily check did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// Account-Regions in the registry.
    pub checked: usize,
    /// Account-Regions in the notice.
    pub attention: usize,
    pub findings: Vec<FleetFinding>,
    /// The notice's message id, when one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The full list of findings in the report store (the notice may be clipped to fit SNS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
}

/// What the org rollup did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupResult {
    /// Account-Regions in it (the registry's active ones and any that delivered scans).
    pub account_regions: usize,
    /// Account-Regions the fleet watch's findings name.
    pub attention: usize,
    pub message_id: String,
    /// The whole rollup as JSON in the report store.
    pub report_key: String,
    /// Its HTML page, which the e-mail links to.
    pub html_key: String,
}

/// What the registry writer did with one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum RegistryOutcome {
    Recorded {
        key: String,
        status: RegistryStatus,
    },
    /// An older event than the entry already holds (EventBridge does not keep order).
    #[serde(rename_all = "camelCase")]
    Stale {
        key: String,
        entry_updated_at: String,
    },
    /// An operation that does not change the settings (`LabelParameterVersion`).
    Ignored {
        operation: String,
    },
}

/// Entry point shared by the Lambda main and the local run: a forwarded Parameter Store
/// Change event goes to the registry writer, `{"check": "fleet", ...}` to the daily check.
pub async fn invoke<P: Platform>(platform: &P, event: Value) -> Result<Value, ScanError> {
    if event.get("detail-type").and_then(Value::as_str) == Some(PARAMETER_STORE_CHANGE) {
        return step::encode(&record_change(platform, &event).await?);
    }
    if event.get("check").is_some() {
        let input: CheckInput = step::decode(event)?;
        if input.check != "fleet" && input.check != "rollup" {
            return Err(ScanError::invalid(
                "check",
                "\"fleet\" or \"rollup\"",
                format!("is {}", scanflow_core::error::quote(&input.check)),
            ));
        }
        if input.grace_hours > MAX_GRACE_HOURS {
            return Err(ScanError::invalid(
                "graceHours",
                format!("0 to {MAX_GRACE_HOURS} hours"),
                format!("is {}", input.grace_hours),
            ));
        }
        let now = ts::parse("now", &input.now)?;
        let grace = Duration::hours(i64::from(input.grace_hours));
        if input.check == "rollup" {
            return step::encode(&send_rollup(platform, now, grace).await?);
        }
        return step::encode(&check(platform, now, grace).await?);
    }
    Err(ScanError::invalid(
        "$",
        "a Parameter Store Change event or {\"check\": \"fleet\" or \"rollup\", \"now\": ..., \"graceHours\": ...}",
        "is neither",
    ))
}

/// The daily check at `now`. Fails (and says so) when the registry or the delivery records
/// cannot be listed: an unlisted fleet is not a healthy one.
pub async fn check<P: Platform>(
    platform: &P,
    now: OffsetDateTime,
    grace: Duration,
) -> Result<CheckResult, ScanError> {
    let store = platform.store();
    let Fleet {
        registry,
        deliveries,
        findings,
    } = read_fleet(store, now, grace).await?;
    let attention = places(&findings).len();
    tracing::info!(
        checked = registry.len(),
        deliveries = deliveries.len(),
        attention,
        "fleet watch checked the registry"
    );
    if registry.is_empty() {
        tracing::warn!(
            "the fleet registry is empty: no member stack has been recorded yet (the member \
             stacks' settings events reach the hub bus only from the current member template)"
        );
    }
    let mut result = CheckResult {
        checked: registry.len(),
        attention,
        findings,
        message_id: None,
        report_key: None,
    };
    let Some((subject, body)) = fleet::notice(&result.findings, result.checked, now) else {
        return Ok(result);
    };
    // The whole list goes to the report store first, so a clipped notice can point at it.
    let report_key = format!("scanflow/fleet-watch/{}.json", ts::format(now));
    let report = serde_json::to_vec_pretty(&result.findings).map_err(ScanError::internal)?;
    store.put(&report_key, report, "application/json").await?;
    let body = clip(body, &report_key, result.findings.len());
    let attributes = BTreeMap::from([(ATTR_KIND.to_owned(), KIND_FLEET_WATCH.to_owned())]);
    let message = Message::for_people(&subject, &body, attributes)?;
    result.message_id = Some(platform.notifier().publish(&message).await?);
    result.report_key = Some(report_key);
    Ok(result)
}

/// The registry, the delivery records and what the watch finds in them, sorted by place.
struct Fleet {
    registry: Vec<RegistryEntry>,
    deliveries: Vec<LastDelivery>,
    findings: Vec<FleetFinding>,
}

async fn read_fleet<S: ReportStore>(
    store: &S,
    now: OffsetDateTime,
    grace: Duration,
) -> Result<Fleet, ScanError> {
    let mut findings = Vec::new();
    let registry: Vec<RegistryEntry> = read_all(
        store,
        keys::REGISTRY_PREFIX,
        |k| k.ends_with(".json"),
        &mut findings,
    )
    .await?;
    let deliveries: Vec<LastDelivery> = read_all(
        store,
        keys::STATE_PREFIX,
        |k| k.ends_with(&format!("/{}", keys::LAST_DELIVERY_FILE)),
        &mut findings,
    )
    .await?;
    findings.extend(fleet::compare(&registry, &deliveries, now, grace));
    findings.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    Ok(Fleet {
        registry,
        deliveries,
        findings,
    })
}

/// The distinct account-Regions `findings` name, in order.
fn places(findings: &[FleetFinding]) -> Vec<(&str, &str)> {
    let mut places: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.account_id.as_str(), f.region.as_str()))
        .collect();
    places.dedup();
    places
}

/// The org rollup at `now`: every active account-Region of the registry and every one that
/// delivered a scan, each as its current run state has it, the top risks over all their
/// findings, and what the fleet watch finds. Reads the report store only. A state that cannot
/// be read is named among the findings, not skipped; listing failures fail the rollup.
pub async fn send_rollup<P: Platform>(
    platform: &P,
    now: OffsetDateTime,
    grace: Duration,
) -> Result<RollupResult, ScanError> {
    let store = platform.store();
    let Fleet {
        registry,
        deliveries,
        mut findings,
    } = read_fleet(store, now, grace).await?;
    // Every active registry entry and every account-Region that delivered, with its delivery.
    let mut wanted: BTreeMap<(&str, &str), Option<&LastDelivery>> = registry
        .iter()
        .filter(|e| e.status == RegistryStatus::Active)
        .map(|e| ((e.account_id.as_str(), e.region.as_str()), None))
        .collect();
    for d in &deliveries {
        wanted.insert((d.account_id.as_str(), d.region.as_str()), Some(d));
    }
    let mut risks = Risks::default();
    let mut rows = Vec::with_capacity(wanted.len());
    for ((account, region), delivered) in wanted {
        let pointer = read_state(store, account, region, &mut risks)
            .await
            .unwrap_or_else(|(key, error)| {
                findings.push(FleetFinding {
                    account_id: account.to_owned(),
                    region: region.to_owned(),
                    problem: Problem::Unreadable { key, error },
                    action: "Delete the account-Region's findings-state.json; its next scan \
                             reports every finding as new and the rollup counts it again"
                        .into(),
                });
                None
            });
        rows.push(Row {
            last_scan: pointer
                .as_ref()
                .map(|p| p.collected_at.clone())
                .or_else(|| delivered.map(|d| d.delivered_at.clone())),
            trend: pointer
                .as_ref()
                .map(StatePointer::trend)
                .unwrap_or_default(),
            summary: pointer.and_then(|p| p.summary),
            attention: 0,
            account_id: account.to_owned(),
            region: region.to_owned(),
        });
    }
    let mut named: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for f in &findings {
        *named
            .entry((f.account_id.as_str(), f.region.as_str()))
            .or_default() += 1;
    }
    for row in &mut rows {
        row.attention = named
            .get(&(row.account_id.as_str(), row.region.as_str()))
            .copied()
            .unwrap_or(0);
    }
    findings.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    let attention = places(&findings).len();
    let at = ts::format(now);
    let report = Rollup::new(at.clone(), rows, risks.top(rollup::TOP_RISKS), findings);
    // The whole rollup and its HTML page go to the report store first, so the e-mail can
    // point at them.
    let stem = keys::rollup_stem(&at);
    let report_key = format!("{stem}.json");
    let json = serde_json::to_vec_pretty(&report).map_err(ScanError::internal)?;
    store.put(&report_key, json, "application/json").await?;
    let html_key = format!("{stem}.html");
    store
        .put(
            &html_key,
            html::rollup_report(&report).into_bytes(),
            html::CONTENT_TYPE,
        )
        .await?;
    let link = html::link_to(store, &html_key, platform.config().report_link_validity()).await?;
    let (subject, body) = report.render(
        &report_key,
        &link_lines(&link),
        SNS_MESSAGE_LIMIT - NOTICE_MARGIN,
    );
    let attributes = BTreeMap::from([(ATTR_KIND.to_owned(), KIND_ROLLUP.to_owned())]);
    let message = Message::for_people(&subject, &body, attributes)?;
    let message_id = platform.notifier().publish(&message).await?;
    tracing::info!(
        account_regions = report.rows.len(),
        attention,
        report_key,
        "org rollup sent"
    );
    Ok(RollupResult {
        account_regions: report.rows.len(),
        attention,
        message_id,
        report_key,
        html_key,
    })
}

/// The account-Region's current run state, its records offered to `risks`; `Err` names the
/// object that could not be read and why.
async fn read_state<S: ReportStore>(
    store: &S,
    account: &str,
    region: &str,
    risks: &mut Risks,
) -> Result<Option<StatePointer>, (String, String)> {
    let key = keys::lifecycle_current(account, region);
    let pointer = lifecycle::read_pointer(store, &key)
        .await
        .map_err(|e| (key.clone(), e.to_string()))?;
    if let Some(p) = &pointer {
        for chunk in &p.chunks {
            let records = lifecycle::read_chunk(store, chunk)
                .await
                .map_err(|e| (chunk.clone(), e.to_string()))?;
            for record in &records {
                risks.offer(account, record);
            }
        }
    }
    Ok(pointer)
}

/// Keeps the notice under SNS's limit: whole lines up to the limit, then where the rest is.
fn clip(body: String, report_key: &str, count: usize) -> String {
    let limit = SNS_MESSAGE_LIMIT - NOTICE_MARGIN;
    if body.len() <= limit {
        return body;
    }
    let mut end = limit;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    // Line starts are ASCII, so `cut` is a character boundary.
    let cut = body[..end].rfind("\n- ").unwrap_or(end);
    let shown = body[..cut].matches("\n- ").count();
    format!(
        "{}\n\n... and {} more. The full list of {count} is in the report bucket at {report_key}.\n",
        &body[..cut],
        count.saturating_sub(shown)
    )
}

/// Reads and parses every object under `prefix` whose key `wanted` accepts. An object that
/// does not parse becomes an `Unreadable` finding (named, not skipped); listing or reading
/// errors propagate.
async fn read_all<S: ReportStore, T: serde::de::DeserializeOwned>(
    store: &S,
    prefix: &str,
    wanted: impl Fn(&str) -> bool,
    findings: &mut Vec<FleetFinding>,
) -> Result<Vec<T>, ScanError> {
    let mut out = Vec::new();
    for key in store.list(prefix).await? {
        if !wanted(&key) {
            continue;
        }
        let body = store.get(&key).await?;
        match serde_json::from_slice::<T>(&body) {
            Ok(record) => out.push(record),
            Err(e) => {
                let mut parts = key.trim_start_matches(prefix).split('/');
                let account = parts.next().unwrap_or_default().to_owned();
                let region = parts
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches(".json")
                    .to_owned();
                findings.push(FleetFinding {
                    account_id: account,
                    region,
                    problem: Problem::Unreadable {
                        key: key.clone(),
                        error: e.to_string(),
                    },
                    action: "Delete the object; the next settings change or delivery writes it \
                             again"
                        .into(),
                });
            }
        }
    }
    Ok(out)
}

/// A Parameter Store Change event as it reaches the hub bus (forwarded unchanged from the
/// member's default bus, so `account` and `region` are the member's).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeEvent {
    account: String,
    region: String,
    time: String,
    detail: ChangeDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct ChangeDetail {
    operation: String,
    name: String,
}

/// The registry writer: records the member stack's settings as its parameter changes.
pub async fn record_change<P: Platform>(
    platform: &P,
    event: &Value,
) -> Result<RegistryOutcome, ScanError> {
    let e: ChangeEvent = step::decode(event.clone())?;
    validate_account_id("account", &e.account)?;
    validate_region("region", &e.region)?;
    let at = ts::parse("time", &e.time)?;
    let key = keys::registry_entry(&e.account, &e.region);
    let existing = read_entry(platform.store(), &key).await?;
    if let Some(entry) = &existing
        && ts::parse("updatedAt", &entry.updated_at).is_ok_and(|u| u > at)
    {
        tracing::info!(account = %e.account, region = %e.region, operation = %e.detail.operation, "older than the registry entry; left as is");
        return Ok(RegistryOutcome::Stale {
            key,
            entry_updated_at: entry.updated_at.clone(),
        });
    }
    let time = ts::format(at);
    let entry = match e.detail.operation.as_str() {
        "Create" | "Update" => {
            let member = platform
                .member(&e.account, &e.region, REGISTRY_SESSION)
                .await?;
            let settings = member.settings().await?;
            // A stack created again after a deletion starts afresh; an update keeps the date
            // the stack first appeared (rate schedules count from it).
            let created_at = existing
                .as_ref()
                .filter(|x| x.status == RegistryStatus::Active && e.detail.operation != "Create")
                .map_or_else(|| time.clone(), |x| x.created_at.clone());
            RegistryEntry {
                account_id: e.account.clone(),
                region: e.region.clone(),
                status: RegistryStatus::Active,
                scope: Some(ScanScope {
                    engine: settings.engine,
                    tag: settings.tag,
                    duration_seconds: settings.duration_seconds,
                }),
                schedule: settings.schedule,
                created_at,
                updated_at: time,
            }
        }
        "Delete" => match existing {
            Some(x) => RegistryEntry {
                status: RegistryStatus::Deleted,
                updated_at: time,
                ..x
            },
            None => RegistryEntry {
                account_id: e.account.clone(),
                region: e.region.clone(),
                status: RegistryStatus::Deleted,
                scope: None,
                schedule: None,
                created_at: time.clone(),
                updated_at: time,
            },
        },
        other => {
            tracing::info!(account = %e.account, region = %e.region, operation = other, "not a settings change; ignored");
            return Ok(RegistryOutcome::Ignored {
                operation: other.to_owned(),
            });
        }
    };
    let body = serde_json::to_vec_pretty(&entry).map_err(ScanError::internal)?;
    platform.store().put(&key, body, "application/json").await?;
    tracing::info!(account = %e.account, region = %e.region, parameter = %e.detail.name, status = ?entry.status, "registry entry recorded");
    Ok(RegistryOutcome::Recorded {
        key,
        status: entry.status,
    })
}

/// The current entry, `None` when there is none; an entry that does not parse is replaced
/// (the event carries the truth).
async fn read_entry<S: ReportStore>(
    store: &S,
    key: &str,
) -> Result<Option<RegistryEntry>, ScanError> {
    match store.get(key).await {
        Ok(body) => Ok(serde_json::from_slice(&body).ok()),
        Err(ScanError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
