//! Security Hub problems met while publishing: they never undo a delivery, so they are
//! counted, logged at WARN (ids only) and returned in `Published`, grouped so that a Security
//! Hub outage across 100,000 findings still leaves the execution state small.

use scanflow_core::ports::Unprocessed;
use scanflow_core::text::clip;

/// At most this many distinct problems are kept; the rest are only counted.
pub const MAX_PROBLEMS: usize = 20;
/// Ids logged per failed call, to point at examples without flooding the log.
const LOGGED_IDS: usize = 5;

struct Group {
    operation: &'static str,
    reason: String,
    items: u64,
    example: String,
}

#[derive(Default)]
pub struct Problems {
    groups: Vec<Group>,
    /// Items whose problem did not fit in `groups`.
    overflow: u64,
}

impl Problems {
    /// Records that `items` items of `operation` were not done because of `reason`.
    pub fn record(&mut self, operation: &'static str, reason: &str, items: u64, example: &str) {
        let reason = clip(reason, 300);
        if let Some(g) = self
            .groups
            .iter_mut()
            .find(|g| g.operation == operation && g.reason == reason)
        {
            g.items += items;
        } else if self.groups.len() < MAX_PROBLEMS {
            self.groups.push(Group {
                operation,
                reason,
                items,
                example: clip(example, 300),
            });
        } else {
            self.overflow += items;
        }
    }

    /// Records the items Security Hub answered it could not process, grouped by reason.
    pub fn record_unprocessed(&mut self, operation: &'static str, unprocessed: &[Unprocessed]) {
        if unprocessed.is_empty() {
            return;
        }
        let ids: Vec<&str> = unprocessed
            .iter()
            .take(LOGGED_IDS)
            .map(|u| u.id.as_str())
            .collect();
        tracing::warn!(
            operation,
            unprocessed = unprocessed.len(),
            ?ids,
            "Security Hub did not process every item"
        );
        for u in unprocessed {
            self.record(operation, &u.reason, 1, &u.id);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.overflow == 0
    }

    /// One line per problem, for `Published.security_hub_problems`.
    pub fn into_lines(self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .groups
            .into_iter()
            .map(|g| {
                let example = if g.example.is_empty() {
                    String::new()
                } else {
                    format!(" (e.g. {})", g.example)
                };
                format!(
                    "{}: {} not done: {}{example}",
                    g.operation, g.items, g.reason
                )
            })
            .collect();
        if self.overflow > 0 {
            lines.push(format!(
                "{} more items had other problems; see the publish function's log",
                self.overflow
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_grouped_by_reason_and_capped() {
        let mut p = Problems::default();
        assert!(p.is_empty());
        let unprocessed: Vec<Unprocessed> = (0..250)
            .map(|i| Unprocessed {
                id: format!("f{i}"),
                reason: if i % 2 == 0 {
                    "FindingNotFound"
                } else {
                    "InternalFailure"
                }
                .into(),
            })
            .collect();
        p.record_unprocessed("mark NOTIFIED", &unprocessed);
        let lines = p.into_lines();
        assert_eq!(
            lines,
            [
                "mark NOTIFIED: 125 not done: FindingNotFound (e.g. f0)",
                "mark NOTIFIED: 125 not done: InternalFailure (e.g. f1)"
            ]
        );

        let mut p = Problems::default();
        for i in 0..MAX_PROBLEMS + 3 {
            p.record("import", &format!("reason {i}"), 2, "");
        }
        let lines = p.into_lines();
        assert_eq!(lines.len(), MAX_PROBLEMS + 1);
        assert_eq!(lines[0], "import: 2 not done: reason 0");
        assert!(lines[MAX_PROBLEMS].starts_with("6 more items"));
    }
}
