//! An SNS message as scanflow publishes it, with SNS's limits checked before anything is sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ScanError;

/// SNS's cap on body plus attributes for topics with e-mail and HTTPS subscribers.
pub const SNS_MESSAGE_LIMIT: usize = 262_144;
/// SNS subjects must be shorter than 100 characters.
pub const SUBJECT_MAX_CHARS: usize = 99;

/// Message attribute carrying what a message is, for subscription filter policies.
pub const ATTR_KIND: &str = "scanflow_kind";
pub const ATTR_ACCOUNT: &str = "scanflow_account";
pub const ATTR_REGION: &str = "scanflow_region";
pub const ATTR_RUN: &str = "scanflow_run";
pub const ATTR_PART: &str = "scanflow_part";
pub const ATTR_PARTS: &str = "scanflow_parts";

/// The `scanflow_kind` values: the e-mail subscription takes digests, failure notices and
/// their resolutions, the
/// HTTPS subscription SIEM documents only (a failure reaches it as a SIEM document of kind
/// `failure`, so it never has to parse the text meant for people).
pub const KIND_DIGEST: &str = "digest";
pub const KIND_SIEM: &str = "siem";
pub const KIND_FAILURE: &str = "failure";
/// A failed scan that a redrive completed: a short e-mail referring to the failure notice.
pub const KIND_RESOLVED: &str = "resolved";
/// The daily fleet watch's notice (people only: it names accounts, not findings).
pub const KIND_FLEET_WATCH: &str = "fleet-watch";
/// The org rollup: one digest across every account-Region (people only).
pub const KIND_ROLLUP: &str = "rollup";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub subject: String,
    pub body: String,
    /// String attributes (SNS `DataType: String`).
    pub attributes: BTreeMap<String, String>,
}

impl Message {
    /// Builds a message, cleaning the subject into what SNS accepts and refusing a message SNS
    /// would reject for size.
    pub fn new(
        subject: &str,
        body: String,
        attributes: BTreeMap<String, String>,
    ) -> Result<Self, ScanError> {
        let msg = Self {
            subject: clean_subject(subject),
            body,
            attributes,
        };
        msg.check()?;
        Ok(msg)
    }

    /// A message for people (e-mail): the subject and body pass through the one sanitiser
    /// ([`crate::text`]), so nothing in them can forge a line or hide what they say. Machine
    /// documents (SIEM JSON) use [`Message::new`] and keep their exact text.
    pub fn for_people(
        subject: &str,
        body: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<Self, ScanError> {
        Self::new(
            &crate::text::line(subject),
            crate::text::block(body),
            attributes,
        )
    }

    /// Everything SNS `Publish` would refuse, found before calling it: every notifier checks
    /// here, so the sandbox refuses exactly what AWS would.
    pub fn check(&self) -> Result<(), ScanError> {
        let size = self.size();
        if size > SNS_MESSAGE_LIMIT {
            return Err(ScanError::PayloadTooLarge {
                what: format!("SNS message {:?}", self.subject),
                size,
                limit: SNS_MESSAGE_LIMIT,
            });
        }
        if self.body.is_empty() {
            return Err(ScanError::invalid(
                "Message",
                "a non-empty message",
                "is empty",
            ));
        }
        if self.subject.is_empty() || clean_subject(&self.subject) != self.subject {
            return Err(ScanError::invalid(
                "Subject",
                "1 to 99 characters without line breaks or control characters",
                format!("is {}", crate::error::quote(&self.subject)),
            ));
        }
        if let Some((name, _)) = self.attributes.iter().find(|(_, v)| v.is_empty()) {
            return Err(ScanError::invalid(
                format!("MessageAttributes.{name}"),
                "a non-empty String value",
                "is empty",
            ));
        }
        Ok(())
    }

    /// The size SNS counts: UTF-8 body bytes plus, for each attribute, its name, data type and value.
    pub fn size(&self) -> usize {
        self.body.len() + attributes_size(&self.attributes)
    }
}

pub fn attributes_size(attributes: &BTreeMap<String, String>) -> usize {
    attributes
        .iter()
        .map(|(k, v)| k.len() + "String".len() + v.len())
        .sum()
}

/// Replaces control characters (line breaks included) and cuts to the subject limit.
pub fn clean_subject(subject: &str) -> String {
    let cleaned: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cleaned.chars().count() <= SUBJECT_MAX_CHARS {
        return cleaned;
    }
    let mut cut: String = cleaned.chars().take(SUBJECT_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> BTreeMap<String, String> {
        BTreeMap::from([(ATTR_KIND.to_owned(), KIND_SIEM.to_owned())])
    }

    #[test]
    fn size_limit_counts_attributes_and_is_inclusive() {
        let overhead = attributes_size(&attrs());
        assert_eq!(overhead, ATTR_KIND.len() + 6 + KIND_SIEM.len());
        let at_limit = "x".repeat(SNS_MESSAGE_LIMIT - overhead);
        assert!(Message::new("s", at_limit.clone(), attrs()).is_ok());
        let err = Message::new("s", at_limit + "x", attrs()).expect_err("one byte over");
        assert_eq!(err.error_type(), "PayloadTooLarge");
    }

    #[test]
    fn size_is_bytes_not_characters() {
        let body = "é".repeat(SNS_MESSAGE_LIMIT / 2 + 1);
        assert!(Message::new("s", body, BTreeMap::new()).is_err());
    }

    #[test]
    fn what_sns_refuses_is_refused_before_sending() {
        let ok = Message::new("s", "b".into(), attrs()).expect("valid");
        let field = |m: Message| match m.check() {
            Err(ScanError::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(Message {
                body: String::new(),
                ..ok.clone()
            }),
            "Message"
        );
        assert_eq!(
            field(Message {
                subject: "a\nb".into(),
                ..ok.clone()
            }),
            "Subject"
        );
        assert_eq!(
            field(Message {
                subject: "x".repeat(100),
                ..ok.clone()
            }),
            "Subject"
        );
        assert!(
            Message {
                subject: "x".repeat(99),
                ..ok.clone()
            }
            .check()
            .is_ok()
        );
        let empty_attr = BTreeMap::from([(ATTR_KIND.to_owned(), String::new())]);
        assert_eq!(
            field(Message {
                attributes: empty_attr,
                ..ok
            }),
            format!("MessageAttributes.{ATTR_KIND}")
        );
    }

    #[test]
    fn subjects_are_made_acceptable() {
        assert_eq!(clean_subject("a\nb"), "a b");
        let long = "x".repeat(150);
        let s = clean_subject(&long);
        assert_eq!(s.chars().count(), SUBJECT_MAX_CHARS);
        assert_eq!(clean_subject(&"y".repeat(99)).chars().count(), 99);
    }
}
