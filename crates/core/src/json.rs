//! JSON rules shared by every reader of untrusted JSON text: a key given twice is refused,
//! because `serde_json` keeps the last silently while another reader (a person, a SIEM, AWS)
//! may take the first.

use std::collections::BTreeSet;

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The first key that `text`'s top-level object gives twice, if any. `None` also when `text`
/// is not a JSON object: the caller's own parse names that problem better.
pub fn first_duplicate_key(text: &str) -> Option<String> {
    serde_json::from_str::<FirstDuplicate>(text).ok()?.0
}

/// Reads a JSON object's keys only, remembering the first one given twice.
struct FirstDuplicate(Option<String>);

impl<'de> Deserialize<'de> for FirstDuplicate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = FirstDuplicate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut seen = BTreeSet::new();
                let mut duplicate = None;
                while let Some(key) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    if duplicate.is_none() && !seen.insert(key.clone()) {
                        duplicate = Some(key);
                    }
                }
                Ok(FirstDuplicate(duplicate))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_given_twice_is_named_and_nested_objects_are_their_own_scope() {
        assert_eq!(
            first_duplicate_key(r#"{"a":1,"b":{"a":2},"b":3,"a":4}"#).as_deref(),
            Some("b")
        );
        assert_eq!(first_duplicate_key(r#"{"a":{"x":1,"x":2}}"#), None);
        assert_eq!(first_duplicate_key(r#"{"a":1,"b":2}"#), None);
        assert_eq!(first_duplicate_key("[1,1]"), None);
        assert_eq!(first_duplicate_key("not json"), None);
    }
}
