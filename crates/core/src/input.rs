//! The execution input contract: what EventBridge, the console and `scanflow executions start`
//! send, validated once here for every caller.

use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::model::{AccountSettings, Engine, Tag};

/// Shortest and longest assessment durations Inspector Classic accepts.
pub const DURATION_RANGE: std::ops::RangeInclusive<u32> = 180..=86_400;

/// The raw execution input. Only `accountId` and `region` are required; the rest override the
/// account's settings or name a finished run to deliver again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecutionInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    /// Rerun: a finished Inspector Classic assessment run to collect and deliver again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_arn: Option<String>,
    /// Rerun: a finished Inspector v2 findings report to collect and deliver again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_id: Option<String>,
    /// The schedule slot this execution serves (the nominal time the schedule fired): one
    /// scan per account, Region and slot, however often the event is delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
}

/// What to do, once the input is known to be well formed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanRequest {
    pub account_id: String,
    pub region: String,
    pub overrides: Overrides,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<Rerun>,
    /// `scheduledAt`, normalized to whole seconds in UTC (`2026-11-30T03:00:00Z`), so the
    /// same slot written two ways is still one slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
}

/// Settings the input overrides for this execution only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
}

impl Overrides {
    pub fn apply(&self, mut settings: AccountSettings) -> AccountSettings {
        if let Some(engine) = self.engine {
            settings.engine = engine;
        }
        if let Some(tag) = &self.tag {
            settings.tag = Some(tag.clone());
        }
        if let Some(d) = self.duration_seconds {
            settings.duration_seconds = d;
        }
        settings
    }
}

/// A finished run to deliver again instead of scanning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rerun {
    pub engine: Engine,
    pub run_id: String,
}

impl ExecutionInput {
    /// Parses JSON text, naming the offending field when it is not an object of known fields.
    pub fn from_json(text: &str) -> Result<Self, ScanError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ScanError::invalid("$", "a JSON object", format!("is not valid JSON ({e})"))
        })?;
        Self::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Self, ScanError> {
        let obj = value.as_object().ok_or_else(|| {
            ScanError::invalid("$", "a JSON object such as {\"accountId\": \"111122223333\", \"region\": \"eu-west-1\"}", format!("is {}", kind(&value)))
        })?;
        const KNOWN: [&str; 9] = [
            "accountId",
            "region",
            "engine",
            "tagKey",
            "tagValue",
            "durationSeconds",
            "runArn",
            "reportId",
            "scheduledAt",
        ];
        if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(ScanError::invalid(
                unknown.clone(),
                format!("one of {}", KNOWN.join(", ")),
                "is not a known field",
            ));
        }
        for (field, v) in obj {
            let ok = match field.as_str() {
                "durationSeconds" => v.as_u64().is_some_and(|n| u32::try_from(n).is_ok()),
                _ => v.is_string(),
            };
            if !ok {
                let expected = if field == "durationSeconds" {
                    "a whole number of seconds"
                } else {
                    "a string"
                };
                return Err(ScanError::invalid(
                    field.clone(),
                    expected,
                    format!("is {}", kind(v)),
                ));
            }
        }
        serde_json::from_value(value)
            .map_err(|e| ScanError::invalid("$", "the documented input fields", e.to_string()))
    }

    /// Checks every field and resolves the request.
    pub fn validate(&self) -> Result<ScanRequest, ScanError> {
        let account_id = required("accountId", &self.account_id)?;
        validate_account_id("accountId", account_id)?;
        let region = required("region", &self.region)?;
        validate_region("region", region)?;

        let engine = self
            .engine
            .as_deref()
            .map(|e| {
                Engine::parse(e).ok_or_else(|| {
                    ScanError::invalid(
                        "engine",
                        "\"classic\" or \"inspector2\"",
                        format!("is {e:?}"),
                    )
                })
            })
            .transpose()?;

        let tag = match (&self.tag_key, &self.tag_value) {
            (None, None) => None,
            (Some(key), value) => {
                let len = key.chars().count();
                if len == 0 || len > 128 {
                    return Err(ScanError::invalid(
                        "tagKey",
                        "1 to 128 characters",
                        format!("has {len}"),
                    ));
                }
                let value = value.clone().unwrap_or_default();
                if value.chars().count() > 256 {
                    return Err(ScanError::invalid(
                        "tagValue",
                        "at most 256 characters",
                        "is longer",
                    ));
                }
                Some(Tag {
                    key: key.clone(),
                    value,
                })
            }
            (None, Some(_)) => {
                return Err(ScanError::invalid(
                    "tagKey",
                    "a tag key to go with tagValue",
                    "is missing",
                ));
            }
        };

        if let Some(d) = self.duration_seconds
            && !DURATION_RANGE.contains(&d)
        {
            return Err(ScanError::invalid(
                "durationSeconds",
                "180 to 86400 seconds",
                format!("is {d}"),
            ));
        }

        let rerun = match (&self.run_arn, &self.report_id) {
            (Some(_), Some(_)) => {
                return Err(ScanError::invalid(
                    "reportId",
                    "only one of runArn (Classic) or reportId (Inspector v2)",
                    "is given with runArn",
                ));
            }
            (Some(arn), None) => {
                validate_run_arn(arn, account_id, region)?;
                Some(Rerun {
                    engine: Engine::Classic,
                    run_id: arn.clone(),
                })
            }
            (None, Some(id)) => {
                let ok = !id.is_empty()
                    && id.len() <= 128
                    && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                if !ok {
                    return Err(ScanError::invalid(
                        "reportId",
                        "the report id CreateFindingsReport returned (letters, digits, '-')",
                        format!("is {id:?}"),
                    ));
                }
                Some(Rerun {
                    engine: Engine::Inspector2,
                    run_id: id.clone(),
                })
            }
            (None, None) => None,
        };
        if let (Some(r), Some(e)) = (&rerun, engine)
            && r.engine != e
        {
            return Err(ScanError::invalid(
                "engine",
                format!("{} to match the rerun id", r.engine),
                format!("is {e}"),
            ));
        }

        Ok(ScanRequest {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            overrides: Overrides {
                engine,
                tag,
                duration_seconds: self.duration_seconds,
            },
            rerun,
            scheduled_at: self
                .scheduled_at
                .as_deref()
                .map(|t| crate::time::parse("scheduledAt", t).map(crate::time::format))
                .transpose()?,
        })
    }
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn required<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str, ScanError> {
    v.as_deref().ok_or_else(|| {
        ScanError::invalid(
            field,
            if field == "accountId" {
                "a 12-digit AWS account id"
            } else {
                "an AWS region such as eu-west-1"
            },
            "is missing",
        )
    })
}

pub fn validate_account_id(field: &str, id: &str) -> Result<(), ScanError> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ScanError::invalid(
            field,
            "a 12-digit AWS account id",
            format!("is {id:?}"),
        ))
    }
}

/// Accepts the shape of every AWS region name (`eu-west-1`, `us-gov-west-1`, `ap-southeast-5`).
pub fn validate_region(field: &str, region: &str) -> Result<(), ScanError> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts.last().is_some_and(|n| {
            !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(ScanError::invalid(
            field,
            "an AWS region such as eu-west-1",
            format!("is {region:?}"),
        ))
    }
}

fn validate_run_arn(arn: &str, account_id: &str, region: &str) -> Result<(), ScanError> {
    let expected = format!("arn:aws:inspector:{region}:{account_id}:target/");
    let shaped = arn.starts_with(&expected)
        && arn.contains("/template/")
        && arn.contains("/run/")
        && arn.len() <= 300;
    if shaped {
        Ok(())
    } else {
        Err(ScanError::invalid(
            "runArn",
            format!(
                "an assessment run ARN of this account and region ({expected}.../template/.../run/...)"
            ),
            format!("is {arn:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<ScanRequest, ScanError> {
        ExecutionInput::from_value(v)?.validate()
    }

    fn field_of(e: ScanError) -> String {
        match e {
            ScanError::InvalidInput { field, .. } => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn minimal_input_scans_with_account_settings() {
        let r = parse(json!({"accountId": "111122223333", "region": "eu-west-1"})).expect("valid");
        assert_eq!(r.account_id, "111122223333");
        assert_eq!(r.overrides, Overrides::default());
        assert!(r.rerun.is_none());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({"region": "eu-west-1"}), "accountId"),
            (
                json!({"accountId": "12345", "region": "eu-west-1"}),
                "accountId",
            ),
            (
                json!({"accountId": 111122223333u64, "region": "eu-west-1"}),
                "accountId",
            ),
            (json!({"accountId": "111122223333"}), "region"),
            (
                json!({"accountId": "111122223333", "region": "EU_WEST"}),
                "region",
            ),
            (
                json!({"accountId": "111122223333", "region": "eu-west-1", "engine": "v3"}),
                "engine",
            ),
            (
                json!({"accountId": "111122223333", "region": "eu-west-1", "durationSeconds": 179}),
                "durationSeconds",
            ),
            (
                json!({"accountId": "111122223333", "region": "eu-west-1", "durationSeconds": "60"}),
                "durationSeconds",
            ),
            (
                json!({"accountId": "111122223333", "region": "eu-west-1", "tagValue": "x"}),
                "tagKey",
            ),
            (
                json!({"accountId": "111122223333", "region": "eu-west-1", "acountId": "x"}),
                "acountId",
            ),
            (
                json!({"accountId": "111122223333", "region": "eu-west-1", "runArn": "arn:aws:inspector:us-east-1:111122223333:target/a/template/b/run/c"}),
                "runArn",
            ),
            (
                json!({"accountId": "111122223333", "region": "eu-west-1", "reportId": "a b"}),
                "reportId",
            ),
            (json!([1]), "$"),
        ];
        for (input, field) in cases {
            assert_eq!(
                field_of(parse(input.clone()).expect_err(&input.to_string())),
                field,
                "{input}"
            );
        }
        assert_eq!(
            field_of(ExecutionInput::from_json("{").expect_err("bad json")),
            "$"
        );
    }

    #[test]
    fn duration_limits_are_inclusive() {
        for (d, ok) in [(179, false), (180, true), (86_400, true), (86_401, false)] {
            let r = parse(
                json!({"accountId": "111122223333", "region": "eu-west-1", "durationSeconds": d}),
            );
            assert_eq!(r.is_ok(), ok, "{d}");
        }
    }

    #[test]
    fn rerun_inputs_name_the_engine() {
        let arn = "arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b/run/0-c";
        let r = parse(json!({"accountId": "111122223333", "region": "eu-west-1", "runArn": arn}))
            .expect("valid");
        assert_eq!(
            r.rerun,
            Some(Rerun {
                engine: Engine::Classic,
                run_id: arn.into()
            })
        );
        let r = parse(
            json!({"accountId": "111122223333", "region": "eu-west-1", "reportId": "0b9f-77"}),
        )
        .expect("valid");
        assert_eq!(r.rerun.map(|r| r.engine), Some(Engine::Inspector2));
        let e = parse(
            json!({"accountId": "111122223333", "region": "eu-west-1", "reportId": "x", "engine": "classic"}),
        );
        assert_eq!(field_of(e.expect_err("mismatch")), "engine");
    }

    #[test]
    fn overrides_replace_only_what_is_given() {
        let base = AccountSettings {
            engine: Engine::Classic,
            tag: None,
            duration_seconds: 3600,
            assessment_template_arn: None,
            schedule: None,
            sla_days: None,
        };
        let r = parse(json!({"accountId": "111122223333", "region": "us-gov-west-1", "tagKey": "scan", "tagValue": "yes"})).expect("valid");
        let s = r.overrides.apply(base.clone());
        assert_eq!(s.engine, Engine::Classic);
        assert_eq!(
            s.tag,
            Some(Tag {
                key: "scan".into(),
                value: "yes".into()
            })
        );
        assert_eq!(s.duration_seconds, 3600);
    }
}
