//! Property tests of the execution input parser: arbitrary JSON-ish text and values are
//! refused with an `InvalidInput` (never a panic), valid inputs round-trip, and a key given
//! twice is always refused naming it. Bounded at `CASES` cases per property to run in seconds.

use proptest::prelude::*;
use scanflow_core::ScanError;
use scanflow_core::input::{AWS_REGIONS, ExecutionInput, FIELDS};
use serde_json::{Map, Value};

/// Cases per property: bounded so the suite runs in seconds on two cores, in CI too.
const CASES: u32 = 512;

/// The input's own fields, and near misses: another case, empty, unknown.
fn keys() -> Vec<&'static str> {
    let mut keys = FIELDS.to_vec();
    keys.extend(["AccountId", "", "x"]);
    keys
}

const STRINGS: &[&str] = &[
    "111122223333",
    "eu-west-1",
    "us-gov-west-1",
    "classic",
    "inspector2",
    "2026-11-30T03:00:00Z",
    "9999-12-31T23:59:59Z",
    "arn:aws:inspector:eu-west-1:111122223333:target/0-a/template/0-b/run/0-c",
    "0b9f-77",
    "",
    "\u{0}",
    "\u{1b}[31m",
    "\u{202e}",
    "a\nb",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0..=100_000u64).prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ]
}

fn json_ish() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(keys()).prop_map(String::from),
                        ".{0,12}"
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn tag_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::char::range('a', 'z'),
            prop::char::range('0', '9'),
            prop::sample::select(vec![' ', '_', '.', ':', '/', '=', '+', '-', '@', 'é', '日']),
        ],
        0..=max,
    )
    .prop_map(|c| c.into_iter().collect())
}

/// An execution input every field of which is valid.
fn valid_input() -> impl Strategy<Value = ExecutionInput> {
    (
        "[0-9]{12}",
        prop::sample::select(AWS_REGIONS.to_vec()),
        prop::option::of(prop::sample::select(vec!["classic", "inspector2"])),
        prop::option::of((tag_text(127).prop_map(|k| format!("k{k}")), tag_text(256))),
        prop::option::of(180..=86_400u32),
        prop::option::of((0..=253_402_300_799i64).prop_map(|s| {
            let t = time::OffsetDateTime::from_unix_timestamp(s).expect("in range");
            scanflow_core::time::format(t)
        })),
    )
        .prop_map(|(account, region, engine, tag, duration, scheduled)| {
            let (tag_key, tag_value) = tag.map_or((None, None), |(k, v)| (Some(k), Some(v)));
            ExecutionInput {
                account_id: Some(account),
                region: Some(region.to_owned()),
                engine: engine.map(str::to_owned),
                tag_key,
                tag_value,
                duration_seconds: duration,
                scheduled_at: scheduled,
                ..Default::default()
            }
        })
}

fn assert_invalid_or_ok(r: Result<ExecutionInput, ScanError>) -> Result<(), TestCaseError> {
    match r {
        Ok(input) => {
            // Whatever parsed validates or is refused, without panicking.
            if let Err(e) = input.validate() {
                prop_assert_eq!(e.error_type(), "InvalidInput");
                prop_assert!(e.to_string().len() < 1_500, "{}", e);
            }
        }
        Err(e) => {
            prop_assert_eq!(e.error_type(), "InvalidInput");
            prop_assert!(e.to_string().len() < 1_500, "{}", e);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_values_never_panic(value in json_ish()) {
        assert_invalid_or_ok(ExecutionInput::from_value(value.clone()))?;
        assert_invalid_or_ok(ExecutionInput::from_json(&value.to_string()))?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        assert_invalid_or_ok(ExecutionInput::from_json(&text))?;
    }

    #[test]
    fn valid_inputs_round_trip(input in valid_input()) {
        let text = serde_json::to_string(&input).expect("serializes");
        let parsed = ExecutionInput::from_json(&text).expect("parses");
        prop_assert_eq!(&parsed, &input);
        let request = parsed.validate();
        prop_assert!(request.is_ok(), "{:?}: {:?}", input, request);
    }

    #[test]
    fn a_repeated_key_is_refused_naming_it(input in valid_input(), pick in any::<prop::sample::Index>()) {
        let value = serde_json::to_value(&input).expect("serializes");
        let obj = value.as_object().expect("object");
        let keys: Vec<&String> = obj.keys().collect();
        let key = keys[pick.index(keys.len())];
        let mut text = value.to_string();
        text.pop();
        text.push_str(&format!(",{}:{}}}", Value::from(key.as_str()), obj[key]));
        match ExecutionInput::from_json(&text) {
            Err(ScanError::InvalidInput { field, .. }) => prop_assert_eq!(&field, key),
            other => prop_assert!(false, "{text}: {other:?}"),
        }
    }
}
