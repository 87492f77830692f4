//! A member account's scan settings: the JSON its member stack writes to an SSM parameter,
//! read through the scan role and checked field by field.

use scanflow_core::ScanError;
use scanflow_core::error::quote;
use scanflow_core::input::{DURATION_RANGE, validate_tag};
use scanflow_core::lifecycle::SlaOverrides;
use scanflow_core::model::{AccountSettings, CisLevel, Engine, Tag};
use serde_json::{Map, Value};

use crate::error::Scope;

/// Inspector Classic's documented default assessment duration.
const DEFAULT_DURATION_SECONDS: u32 = 3600;

/// Reads and checks the settings parameter in the member account.
pub(crate) async fn read(
    ssm: &aws_sdk_ssm::Client,
    scope: &Scope,
    parameter: &str,
) -> Result<AccountSettings, ScanError> {
    let call = scope.call("ssm:GetParameter", format!("SSM parameter {parameter}"));
    let out = ssm
        .get_parameter()
        .name(parameter)
        .send()
        .await
        .map_err(|e| match call.error(&e) {
            ScanError::NotFound {
                account_id,
                region,
                what,
                detail,
            } => ScanError::NotFound {
                account_id,
                region,
                what,
                detail: format!(
                    "{detail}. Deploy the scanflow member stack to this account and region, or \
                     set SETTINGS_PARAMETER to the parameter it created"
                ),
            },
            other => other,
        })?;
    let text = out.parameter().and_then(|p| p.value()).unwrap_or_default();
    parse(parameter, text)
}

/// Parses the settings JSON. Empty strings count as absent (CloudFormation parameters default
/// to ""); unknown keys are ignored so newer member stacks keep working.
pub fn parse(parameter: &str, text: &str) -> Result<AccountSettings, ScanError> {
    let field = |name: &str| format!("{name} in SSM parameter {parameter}");
    let doc: Map<String, Value> = serde_json::from_str(text).map_err(|e| {
        ScanError::invalid(
            format!("SSM parameter {parameter}"),
            "a JSON object such as {\"engine\":\"inspector2\",\"durationSeconds\":3600}",
            format!("does not parse ({e})"),
        )
    })?;
    let text_of = |name: &str| -> Result<Option<String>, ScanError> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(other) => Err(ScanError::invalid(
                field(name),
                "a string",
                format!("is {}", quote(&other.to_string())),
            )),
        }
    };
    let engine = match text_of("engine")? {
        None => Engine::default(),
        Some(name) => Engine::parse(&name).ok_or_else(|| {
            ScanError::invalid(
                field("engine"),
                "\"classic\" or \"inspector2\"",
                format!("is {}", quote(&name)),
            )
        })?,
    };
    let tag = match (text_of("tagKey")?, text_of("tagValue")?) {
        (None, None) => None,
        (Some(key), Some(value)) => {
            let tag = Tag { key, value };
            validate_tag(&field("tagKey"), &field("tagValue"), &tag)?;
            Some(tag)
        }
        (Some(_), None) => {
            return Err(ScanError::invalid(
                field("tagValue"),
                "a value whenever tagKey is set",
                "is missing",
            ));
        }
        (None, Some(_)) => {
            return Err(ScanError::invalid(
                field("tagKey"),
                "a key whenever tagValue is set",
                "is missing",
            ));
        }
    };
    let duration_seconds = match doc.get("durationSeconds") {
        None | Some(Value::Null) => DEFAULT_DURATION_SECONDS,
        Some(v) => {
            let parsed = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            parsed
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| DURATION_RANGE.contains(n))
                .ok_or_else(|| {
                    ScanError::invalid(
                        field("durationSeconds"),
                        "whole seconds from 180 to 86400",
                        format!("is {}", quote(&v.to_string())),
                    )
                })?
        }
    };
    let assessment_template_arn = text_of("assessmentTemplateArn")?;
    if let Some(arn) = assessment_template_arn
        .as_ref()
        .filter(|a| !a.starts_with("arn:") || !a.contains(":inspector:"))
    {
        return Err(ScanError::invalid(
            field("assessmentTemplateArn"),
            "an Inspector Classic template ARN (arn:aws:inspector:...)",
            format!("is {}", quote(arn)),
        ));
    }
    // Checked by the fleet watch, which names a bad expression; here it only has to be text.
    let schedule = text_of("schedule")?;
    let sla_days = match doc.get("slaDays") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let o: SlaOverrides = serde_json::from_value(v.clone()).map_err(|e| {
                ScanError::invalid(
                    field("slaDays"),
                    "an object of whole days per severity, e.g. {\"critical\":15,\"high\":30}",
                    format!("is {} ({e})", quote(&v.to_string())),
                )
            })?;
            o.validate(&field("slaDays"))?;
            Some(o)
        }
    };
    // The member template writes "none" when the account runs no CIS scan.
    let cis = match text_of("cisLevel")? {
        None => None,
        Some(level) if level == "none" => None,
        Some(level) => Some(CisLevel::parse(&field("cisLevel"), &level)?),
    };
    Ok(AccountSettings {
        engine,
        tag,
        duration_seconds,
        assessment_template_arn,
        schedule,
        sla_days,
        cis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/scanflow/settings";
    const TEMPLATE: &str = "arn:aws:inspector:eu-west-1:111122223333:target/0-abc/template/0-def";

    #[test]
    fn reads_the_cis_level_and_refuses_an_unknown_one() {
        let read = |level: &str| {
            parse(
                P,
                &format!(
                    r#"{{"engine":"inspector2","tagKey":"k","tagValue":"v","cisLevel":"{level}"}}"#
                ),
            )
        };
        assert_eq!(read("LEVEL_2").expect("valid").cis, Some(CisLevel::Level2));
        assert_eq!(read("none").expect("valid").cis, None);
        assert_eq!(read("").expect("valid").cis, None);
        let e = read("LEVEL_3").expect_err("no such level");
        assert!(e.to_string().contains("cisLevel in SSM parameter"), "{e}");
        assert!(e.to_string().contains("LEVEL_1 or LEVEL_2"), "{e}");
    }

    #[test]
    fn reads_a_classic_account() {
        let s = parse(
            P,
            &format!(
                r#"{{"engine":"classic","tagKey":"Patch","tagValue":"Scan","durationSeconds":"900",
                    "assessmentTemplateArn":"{TEMPLATE}","schedule":"cron(0 2 * * ? *)"}}"#
            ),
        )
        .expect("valid");
        assert_eq!(s.engine, Engine::Classic);
        assert_eq!(
            s.tag,
            Some(Tag {
                key: "Patch".into(),
                value: "Scan".into()
            })
        );
        assert_eq!(s.duration_seconds, 900);
        assert_eq!(s.assessment_template_arn.as_deref(), Some(TEMPLATE));
        assert_eq!(s.schedule.as_deref(), Some("cron(0 2 * * ? *)"));
    }

    #[test]
    fn empty_fields_mean_absent_and_defaults_apply() {
        let s = parse(
            P,
            r#"{"tagKey":"","tagValue":"","assessmentTemplateArn":""}"#,
        )
        .expect("valid");
        assert_eq!(s.engine, Engine::Inspector2);
        assert_eq!(s.tag, None);
        assert_eq!(s.duration_seconds, 3600);
        assert_eq!(s.assessment_template_arn, None);
        // Settings written before the schedule was recorded still parse.
        assert_eq!(s.schedule, None);
    }

    #[test]
    fn errors_name_the_parameter_and_the_field() {
        for (doc, field) in [
            (r#"{"engine":"v3"}"#, "engine"),
            (r#"{"tagKey":"Patch"}"#, "tagValue"),
            (r#"{"tagValue":"Scan"}"#, "tagKey"),
            (r#"{"durationSeconds":179}"#, "durationSeconds"),
            (r#"{"durationSeconds":86401}"#, "durationSeconds"),
            (r#"{"durationSeconds":"1h"}"#, "durationSeconds"),
            (r#"{"tagKey":5,"tagValue":"x"}"#, "tagKey"),
            (r#"{"tagKey":"Pa\u0000tch","tagValue":"x"}"#, "tagKey"),
            (r#"{"tagKey":"Patch","tagValue":"x\u001b[2J"}"#, "tagValue"),
            (r#"{"tagKey":"Patch","tagValue":"x\u202ey"}"#, "tagValue"),
            (
                r#"{"assessmentTemplateArn":"template-1"}"#,
                "assessmentTemplateArn",
            ),
        ] {
            let err = parse(P, doc).expect_err(doc);
            let text = err.to_string();
            assert_eq!(err.error_type(), "InvalidInput");
            assert!(text.contains(field) && text.contains(P), "{doc}: {text}");
        }
        let at_limit = format!(
            r#"{{"tagKey":"{}","tagValue":"{}"}}"#,
            "k".repeat(128),
            "v".repeat(256)
        );
        assert!(parse(P, &at_limit).is_ok());
        for past in [
            format!(r#"{{"tagKey":"{}","tagValue":"v"}}"#, "k".repeat(129)),
            format!(r#"{{"tagKey":"k","tagValue":"{}"}}"#, "v".repeat(257)),
        ] {
            assert!(parse(P, &past).is_err(), "{past}");
        }
        assert!(parse(P, r#"{"durationSeconds":180}"#).is_ok());
        assert!(parse(P, r#"{"durationSeconds":86400}"#).is_ok());
        let err = parse(P, "engine=classic").expect_err("not json");
        assert!(err.to_string().contains(P));
    }
}
