//! Property tests of the scenario parser: arbitrary JSON-ish documents and arbitrary edits of
//! the shipped scenarios are refused with a scenario error (never a panic), and whatever parses
//! round-trips through `to_json`. Bounded at `CASES` cases per property to run in seconds.

use proptest::prelude::*;
use scanflow_sandbox::Scenario;
use serde_json::{Map, Value};

/// Cases per property: bounded so the suite runs in seconds on two cores, in CI too.
const CASES: u32 = 512;

const KEYS: &[&str] = &[
    "hub",
    "accounts",
    "accountId",
    "region",
    "config",
    "settings",
    "engine",
    "tag",
    "key",
    "value",
    "instances",
    "durationSeconds",
    "chunkSize",
    "minPollSeconds",
    "maxPollSeconds",
    "copies",
    "schedule",
    "x",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0..=100_000u64).prop_map(Value::from),
        prop::sample::select(vec![
            "111122223333",
            "eu-west-1",
            "inspector2",
            "classic",
            "\u{1b}[2J",
            "rate(7 days)",
            ""
        ])
        .prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
    ]
}

fn json_ish() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (prop::sample::select(KEYS).prop_map(String::from), inner),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn shipped() -> Vec<Value> {
    [
        "default.json",
        "fleet.json",
        "role-missing.json",
        "classic-run-fails.json",
    ]
    .iter()
    .map(|name| {
        let path = format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("scenario")).expect("json")
    })
    .collect()
}

/// Sets `value` at the object path `keys` (array indexes as numbers), creating objects.
fn set(doc: &mut Value, keys: &[String], value: Value) {
    let Some((key, rest)) = keys.split_first() else {
        *doc = value;
        return;
    };
    if let Value::Array(items) = doc
        && !items.is_empty()
    {
        let i = key.parse::<usize>().unwrap_or(0) % items.len();
        return set(&mut items[i], rest, value);
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    if let Value::Object(map) = doc {
        set(map.entry(key.clone()).or_insert(Value::Null), rest, value);
    }
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match Scenario::from_json(text) {
        Ok(s) => {
            let again = Scenario::from_json(&s.to_json());
            prop_assert!(again.is_ok(), "{:?}", again.err());
            prop_assert_eq!(again.ok().map(|a| a.to_json()), Some(s.to_json()));
        }
        Err(e) => prop_assert!(e.to_string().len() < 2_000, "{}", e),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_documents_never_panic(doc in json_ish()) {
        check(&doc.to_string())?;
    }

    #[test]
    fn edited_shipped_scenarios_never_panic_and_round_trip(
        pick in any::<prop::sample::Index>(),
        path in prop::collection::vec(
            prop_oneof![prop::sample::select(KEYS).prop_map(String::from), (0..4usize).prop_map(|i| i.to_string())],
            1..5,
        ),
        value in json_ish(),
    ) {
        let docs = shipped();
        let mut doc = docs[pick.index(docs.len())].clone();
        set(&mut doc, &path, value);
        check(&doc.to_string())?;
    }

    #[test]
    fn shipped_scenarios_round_trip(pick in any::<prop::sample::Index>()) {
        let docs = shipped();
        let text = docs[pick.index(docs.len())].to_string();
        prop_assert!(Scenario::from_json(&text).is_ok());
        check(&text)?;
    }
}
