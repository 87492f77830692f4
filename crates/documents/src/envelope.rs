//! The SNS message attributes around everything scanflow publishes, built in one place so that
//! format reserves exactly the room publish will use, and receivers can filter on them.

use std::collections::BTreeMap;

use scanflow_core::message::{
    ATTR_ACCOUNT, ATTR_KIND, ATTR_PART, ATTR_PARTS, ATTR_REGION, ATTR_RUN, KIND_DIGEST, KIND_SIEM,
};
use scanflow_core::state::Run;

/// `scanflow_kind` plus whichever of account, region and run id are known (a failure notice
/// may know none of them).
pub fn attributes(
    kind: &str,
    account_id: Option<&str>,
    region: Option<&str>,
    run_id: Option<&str>,
) -> BTreeMap<String, String> {
    [
        (ATTR_KIND, Some(kind)),
        (ATTR_ACCOUNT, account_id),
        (ATTR_REGION, region),
        (ATTR_RUN, run_id),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name.to_owned(), v.to_owned())))
    .collect()
}

/// The attributes of a message about `run`.
pub fn run_attributes(run: &Run, kind: &str) -> BTreeMap<String, String> {
    attributes(
        kind,
        Some(&run.account_id),
        Some(&run.region),
        Some(&run.run_id),
    )
}

/// The e-mail digest's attributes.
pub fn digest_attributes(run: &Run) -> BTreeMap<String, String> {
    run_attributes(run, KIND_DIGEST)
}

/// The attributes of SIEM part `index` of `count` (1-based).
pub fn part_attributes(run: &Run, index: usize, count: usize) -> BTreeMap<String, String> {
    let mut attrs = run_attributes(run, KIND_SIEM);
    attrs.insert(ATTR_PART.to_owned(), index.to_string());
    attrs.insert(ATTR_PARTS.to_owned(), count.to_string());
    attrs
}

/// The SNS subject of SIEM part `index` of `count`.
pub fn part_subject(run: &Run, index: usize, count: usize) -> String {
    format!(
        "scanflow SIEM {} {} part {index}/{count}",
        run.account_id, run.region
    )
}
