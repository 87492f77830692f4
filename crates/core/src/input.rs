//! The execution input contract: what EventBridge, the console and `scanflow executions start`
//! send, validated once here for every caller.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::error::{QUOTE_MAX_CHARS, quote};
use crate::model::{AccountSettings, Engine, Tag};

/// The fields an execution input may have; any other is refused, naming it.
pub const FIELDS: [&str; 9] = [
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

/// Shortest and longest assessment durations Inspector Classic accepts.
pub const DURATION_RANGE: RangeInclusive<u32> = 180..=86_400;

/// Every AWS Region of the commercial (`aws`), GovCloud (`aws-us-gov`) and China (`aws-cn`)
/// partitions, from botocore 1.43.11's `data/endpoints.json` (its `partitions[].regions`).
/// Inspector v2 is offered in most of them, Inspector Classic in the few of
/// `templates/member.yaml`'s `ClassicRulesPackages` (the sandbox's `CLASSIC_REGIONS`), which
/// are all in this list. The isolated partitions (`aws-iso*`, `aws-eusc`) are left out: the
/// templates do not deploy there. A new Region is one line here.
pub const AWS_REGIONS: [&str; 38] = [
    // aws
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    // aws-us-gov
    "us-gov-east-1",
    "us-gov-west-1",
    // aws-cn
    "cn-north-1",
    "cn-northwest-1",
];

/// Tag key length in characters, as EC2 and Inspector accept it.
pub const TAG_KEY_CHARS: RangeInclusive<usize> = 1..=128;
/// Tag value length in characters (an empty value is a valid tag).
pub const TAG_VALUE_CHARS: RangeInclusive<usize> = 0..=256;
/// What `validate_tag` expects of each character, for messages.
const TAG_CHARS: &str = "Unicode letters, digits, spaces and _ . : / = + - @";

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
    /// A key given twice is refused: `serde_json::Value` would keep the last silently, so
    /// `{"accountId": "a", ..., "accountId": "b"}` would scan an account the reader did not see
    /// first.
    pub fn from_json(text: &str) -> Result<Self, ScanError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ScanError::invalid("$", "a JSON object", format!("is not valid JSON ({e})"))
        })?;
        if let Some(key) = crate::json::first_duplicate_key(text) {
            return Err(ScanError::invalid(
                field_name(&key),
                "each field at most once",
                "is given more than once",
            ));
        }
        Self::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Self, ScanError> {
        let obj = value.as_object().ok_or_else(|| {
            ScanError::invalid("$", "a JSON object such as {\"accountId\": \"111122223333\", \"region\": \"eu-west-1\"}", format!("is {}", kind(&value)))
        })?;
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(ScanError::invalid(
                field_name(unknown),
                format!("one of {}", FIELDS.join(", ")),
                "is not a known field",
            ));
        }
        for (field, v) in obj {
            let ok = match field.as_str() {
                "durationSeconds" => v.as_u64().is_some_and(|n| u32::try_from(n).is_ok()),
                _ => v.is_string(),
            };
            if !ok {
                let (expected, problem) = match (field.as_str(), v) {
                    ("durationSeconds", serde_json::Value::Number(n)) => {
                        (duration_expected(), format!("is {}", quote(&n.to_string())))
                    }
                    ("durationSeconds", _) => (duration_expected(), format!("is {}", kind(v))),
                    _ => ("a string".to_owned(), format!("is {}", kind(v))),
                };
                return Err(ScanError::invalid(field.clone(), expected, problem));
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
                        format!("is {}", quote(e)),
                    )
                })
            })
            .transpose()?;

        let tag = match (&self.tag_key, &self.tag_value) {
            (None, None) => None,
            (Some(key), value) => {
                let tag = Tag {
                    key: key.clone(),
                    value: value.clone().unwrap_or_default(),
                };
                validate_tag("tagKey", "tagValue", &tag)?;
                Some(tag)
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
                duration_expected(),
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
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    return Err(ScanError::invalid(
                        "reportId",
                        "the run id of an Inspector v2 run (scanflow-<execution name>, or the id \
                         of a findings report of an earlier version): letters, digits, '-', '_'",
                        format!("is {}", quote(id)),
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
            format!("is {}", quote(id)),
        ))
    }
}

/// Accepts the Regions of [`AWS_REGIONS`], naming them all when `region` is not one.
pub fn validate_region(field: &str, region: &str) -> Result<(), ScanError> {
    if AWS_REGIONS.contains(&region) {
        Ok(())
    } else {
        Err(ScanError::invalid(
            field,
            format!("an AWS Region code, one of {}", AWS_REGIONS.join(", ")),
            format!("is {}", quote(region)),
        ))
    }
}

/// Checks a tag as EC2 and Inspector do: a key of 1 to 128 and a value of 0 to 256 Unicode
/// characters, each a letter, digit, space or one of `_ . : / = + - @` (AWS's
/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`). Stricter than AWS on one point: of the separators only
/// those that do not break a line are accepted (no U+2028/U+2029), and no control character,
/// since tags are printed in notices and traces people read.
pub fn validate_tag(key_field: &str, value_field: &str, tag: &Tag) -> Result<(), ScanError> {
    for (field, text, range) in [
        (key_field, &tag.key, &TAG_KEY_CHARS),
        (value_field, &tag.value, &TAG_VALUE_CHARS),
    ] {
        let len = text.chars().count();
        let expected = || {
            format!(
                "{} to {} characters: {TAG_CHARS}",
                range.start(),
                range.end()
            )
        };
        if !range.contains(&len) {
            return Err(ScanError::invalid(
                field,
                expected(),
                format!("has {len} characters"),
            ));
        }
        if let Some(bad) = text.chars().find(|&c| !is_tag_char(c)) {
            return Err(ScanError::invalid(
                field,
                expected(),
                format!(
                    "contains {} (U+{:04X}) in {}",
                    quote(&bad.to_string()),
                    u32::from(bad),
                    quote(text)
                ),
            ));
        }
    }
    Ok(())
}

fn is_tag_char(c: char) -> bool {
    if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
        return false;
    }
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

fn duration_expected() -> String {
    format!(
        "a whole number of seconds from {} to {}",
        DURATION_RANGE.start(),
        DURATION_RANGE.end()
    )
}

/// A key from the input as a field name: as given when short and printable, else quoted
/// (cut and escaped), so a hostile key cannot fill or forge the message.
fn field_name(key: &str) -> String {
    if key.chars().count() <= QUOTE_MAX_CHARS && !key.chars().any(char::is_control) {
        key.to_owned()
    } else {
        quote(key)
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
            format!("is {}", quote(arn)),
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

    const MIN: &str = r#""accountId": "111122223333", "region": "eu-west-1""#;

    #[test]
    fn a_key_given_twice_is_refused_naming_it() {
        let text = format!(r#"{{{MIN}, "accountId": "444455556666"}}"#);
        let err = ExecutionInput::from_json(&text).expect_err("duplicate");
        assert!(err.to_string().contains("more than once"), "{err}");
        assert_eq!(field_of(err), "accountId");
        // The same key in different case is two keys (and the second is unknown).
        let text = format!(r#"{{{MIN}, "AccountId": "444455556666"}}"#);
        assert_eq!(
            field_of(ExecutionInput::from_json(&text).expect_err("unknown")),
            "AccountId"
        );
        // Each key once still parses.
        let text = format!(r#"{{{MIN}, "tagKey": "scan", "tagValue": "yes"}}"#);
        ExecutionInput::from_json(&text)
            .expect("valid")
            .validate()
            .expect("valid");
    }

    #[test]
    fn scheduled_at_is_rfc_3339_or_absent_and_normalized() {
        let r = parse(json!({"accountId": "111122223333", "region": "eu-west-1"})).expect("absent");
        assert_eq!(r.scheduled_at, None);
        let r = parse(json!({"accountId": "111122223333", "region": "eu-west-1", "scheduledAt": "2026-11-30T04:00:00.5+01:00"})).expect("valid");
        assert_eq!(r.scheduled_at.as_deref(), Some("2026-11-30T03:00:00Z"));
        for bad in ["", "2026-11-30", "yesterday", "2026-13-01T00:00:00Z"] {
            let e = parse(
                json!({"accountId": "111122223333", "region": "eu-west-1", "scheduledAt": bad}),
            );
            assert_eq!(field_of(e.expect_err(bad)), "scheduledAt", "{bad}");
        }
        let e =
            parse(json!({"accountId": "111122223333", "region": "eu-west-1", "scheduledAt": 5}));
        assert_eq!(field_of(e.expect_err("number")), "scheduledAt");
    }

    #[test]
    fn the_region_is_one_of_the_known_list_shown_in_the_error() {
        for ok in [
            "us-east-1",
            "ap-southeast-7",
            "us-gov-west-1",
            "cn-northwest-1",
            "mx-central-1",
        ] {
            parse(json!({"accountId": "111122223333", "region": ok})).expect(ok);
        }
        for bad in ["eu-west-9", "moon-base-1", "us-iso-east-1", "EU-WEST-1", ""] {
            let err = parse(json!({"accountId": "111122223333", "region": bad})).expect_err(bad);
            let text = err.to_string();
            assert!(text.contains("eu-west-1, eu-west-2"), "{text}");
            assert_eq!(field_of(err), "region");
        }
        let mut sorted = AWS_REGIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), AWS_REGIONS.len(), "no Region twice");
    }

    #[test]
    fn every_region_the_templates_name_is_known() {
        let member = include_str!("../../../templates/member.yaml");
        let mut named = 0;
        for word in member.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            let parts: Vec<&str> = word.split('-').collect();
            let region_shaped = (3..=4).contains(&parts.len())
                && parts
                    .last()
                    .is_some_and(|n| n.len() == 1 && n.bytes().all(|b| b.is_ascii_digit()))
                && parts[..parts.len() - 1]
                    .iter()
                    .all(|p| p.len() >= 2 && p.bytes().all(|b| b.is_ascii_lowercase()))
                && ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn"].contains(&parts[0]);
            if region_shaped {
                named += 1;
                assert!(
                    AWS_REGIONS.contains(&word),
                    "{word} is in templates/member.yaml"
                );
            }
        }
        assert!(
            named >= 10,
            "found {named} Regions in templates/member.yaml"
        );
    }

    #[test]
    fn duration_out_of_range_names_the_field_and_the_range() {
        for bad in [
            json!(179),
            json!(86_401),
            json!(4_294_967_296u64),
            json!(1e300),
            json!(-1),
            json!(1.5),
        ] {
            let err = parse(
                json!({"accountId": "111122223333", "region": "eu-west-1", "durationSeconds": bad}),
            )
            .expect_err(&bad.to_string());
            let text = err.to_string();
            assert!(text.contains("from 180 to 86400"), "{bad}: {text}");
            assert_eq!(field_of(err), "durationSeconds", "{bad}");
        }
    }

    #[test]
    fn messages_quote_at_most_100_characters_of_a_bad_value() {
        let huge = "x".repeat(127 * 1024);
        let cases = [
            json!({"accountId": huge, "region": "eu-west-1"}),
            json!({"accountId": "111122223333", "region": huge}),
            json!({"accountId": "111122223333", "region": "eu-west-1", "tagKey": "k", "tagValue": format!("{huge}\u{0}")}),
            json!({"accountId": "111122223333", "region": "eu-west-1", "reportId": huge}),
            json!({"accountId": "111122223333", "region": "eu-west-1", "engine": huge}),
            json!({"accountId": "111122223333", "region": "eu-west-1", "scheduledAt": huge}),
            json!({"accountId": "111122223333", "region": "eu-west-1", "runArn": huge}),
            json!({"accountId": "111122223333", "region": "eu-west-1", huge.clone(): 1}),
        ];
        for input in cases {
            let err = parse(input).expect_err("huge");
            let text = err.to_string();
            // The Region list is the longest fixed part of any message.
            assert!(
                text.len() < 1_200,
                "{} characters: {}",
                text.len(),
                &text[..200]
            );
        }
    }

    #[test]
    fn tags_are_checked_like_aws_at_their_limits_and_one_past() {
        let tag = |k: &str, v: &str| Tag {
            key: k.into(),
            value: v.into(),
        };
        let ok = [
            tag(&"k".repeat(128), &"v".repeat(256)),
            tag("k", ""),
            tag("Name", "web 01"),
            tag("a_b.c:d/e=f+g-h@i", "ünïcødé 日本 ٣"),
        ];
        for t in ok {
            validate_tag("tagKey", "tagValue", &t).expect(&t.key);
        }
        let bad = [
            (tag(&"k".repeat(129), "v"), "tagKey"),
            (tag("", "v"), "tagKey"),
            (tag("k", &"v".repeat(257)), "tagValue"),
            (tag("k\u{0}", "v"), "tagKey"),
            (tag("k", "v\u{1b}[31m"), "tagValue"),
            (tag("k", "line\nSubject: forged"), "tagValue"),
            (tag("k", "abc\u{202e}def"), "tagValue"),
            (tag("k", "zero\u{200b}width"), "tagValue"),
            (tag("k", "para\u{2029}graph"), "tagValue"),
            (tag("k*", "v"), "tagKey"),
        ];
        for (t, field) in bad {
            let err = validate_tag("tagKey", "tagValue", &t).expect_err(&t.value);
            let text = err.to_string();
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains('\n'),
                "{text:?}"
            );
            assert_eq!(field_of(err), field, "{t:?}");
        }
        let e = parse(
            json!({"accountId": "111122223333", "region": "eu-west-1", "tagKey": "k", "tagValue": "a\u{7}"}),
        );
        assert_eq!(field_of(e.expect_err("bell")), "tagValue");
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
            cis: None,
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
