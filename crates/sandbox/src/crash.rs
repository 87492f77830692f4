//! Fault injection on the publish Lambda (`crashAfterMessages` of an account): the process
//! dies after publishing that many messages of the account's delivery, once, as an
//! out-of-memory kill or a timeout would, so runs can show a retried publish resuming without
//! sending anything twice.

use std::collections::{BTreeMap, BTreeSet};

/// What the fault has done, across the run and within the current publish invocation.
#[derive(Debug, Default)]
pub(crate) struct Crashes {
    /// A publish invocation is running (only publish's messages count).
    running: bool,
    /// Messages published in this invocation, per account.
    published: BTreeMap<String, u32>,
    /// Accounts whose crash has happened (it happens once).
    fired: BTreeSet<String>,
    /// The process died during this invocation.
    died: bool,
}

impl Crashes {
    pub(crate) fn begin(&mut self) {
        self.running = true;
        self.published.clear();
        self.died = false;
    }

    /// Before one of `account`'s messages is published: `true` when the process dies now
    /// instead (it already published `limit`).
    pub(crate) fn dies_before_publish(&mut self, account: &str, limit: Option<u32>) -> bool {
        if !self.running || self.died {
            return self.died;
        }
        let Some(limit) = limit else {
            return false;
        };
        if self.fired.contains(account) {
            return false;
        }
        let done = self.published.entry(account.to_owned()).or_default();
        if *done >= limit {
            self.fired.insert(account.to_owned());
            self.died = true;
            return true;
        }
        *done += 1;
        false
    }

    /// The invocation is over: `true` when the process died in it, including right after its
    /// last message when that was the `limit`-th.
    pub(crate) fn end(&mut self, limit_of: impl Fn(&str) -> Option<u32>) -> bool {
        self.running = false;
        if self.died {
            return true;
        }
        let due: Vec<String> = self
            .published
            .iter()
            .filter(|(account, n)| !self.fired.contains(*account) && limit_of(account) == Some(**n))
            .map(|(account, _)| account.clone())
            .collect();
        self.fired.extend(due.iter().cloned());
        self.died = !due.is_empty();
        self.died
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dies_once_after_the_limit_and_only_inside_publish() {
        let mut c = Crashes::default();
        // Outside a publish invocation (the notifier) nothing dies.
        assert!(!c.dies_before_publish("a", Some(0)));
        c.begin();
        assert!(!c.dies_before_publish("a", Some(2)));
        assert!(!c.dies_before_publish("a", Some(2)));
        assert!(
            c.dies_before_publish("a", Some(2)),
            "the third publish never happens"
        );
        assert!(c.end(|_| Some(2)));
        // The retry goes through.
        c.begin();
        for _ in 0..5 {
            assert!(!c.dies_before_publish("a", Some(2)));
        }
        assert!(!c.end(|_| Some(2)));
    }

    #[test]
    fn a_limit_equal_to_the_messages_dies_at_the_end() {
        let mut c = Crashes::default();
        c.begin();
        assert!(!c.dies_before_publish("a", Some(2)));
        assert!(!c.dies_before_publish("a", Some(2)));
        assert!(c.end(|_| Some(2)), "died after its last message");
        c.begin();
        assert!(!c.end(|_| Some(2)), "once");
        // Past the messages: never.
        let mut c = Crashes::default();
        c.begin();
        assert!(!c.dies_before_publish("b", Some(3)));
        assert!(!c.end(|_| Some(3)));
    }
}
