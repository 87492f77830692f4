//! Helpers shared by the sandbox's integration tests: scenarios from JSON, a fixed clock, runs.
#![allow(dead_code)]

use std::path::PathBuf;

use scanflow_core::model::{AccountSettings, Engine, Finding, Tag};
use scanflow_core::ports::{MemberAccount, Platform, RunStatus};
use scanflow_core::state::Run;
use scanflow_sandbox::{HttpEndpoint, Member, Sandbox, Scenario};
use time::OffsetDateTime;
use time::macros::datetime;

pub const HUB: &str = "999988887777";
pub const ACCT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
pub const TEMPLATE: &str =
    "arn:aws:inspector:us-east-1:111122223333:target/0-AbCdEf12/template/0-GhIjKl34";

pub fn t0() -> OffsetDateTime {
    datetime!(2026-11-28 10:00:00 UTC)
}

pub fn at(seconds: i64) -> OffsetDateTime {
    t0() + time::Duration::seconds(seconds)
}

/// A fresh, empty output folder under the target directory.
pub fn out_dir(name: &str) -> PathBuf {
    let base = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join("sandbox-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test output folder");
    dir
}

/// A sandbox over `scenario` (JSON), with its clock at [`t0`].
pub fn sandbox(name: &str, scenario: serde_json::Value) -> Sandbox {
    sandbox_with_endpoint(name, scenario, None)
}

pub fn sandbox_with_endpoint(
    name: &str,
    scenario: serde_json::Value,
    endpoint: Option<String>,
) -> Sandbox {
    let scenario = Scenario::from_json(&scenario.to_string()).expect("valid scenario");
    let sb =
        Sandbox::new(scenario, &out_dir(name), endpoint.map(HttpEndpoint::new)).expect("sandbox");
    sb.set_now(t0());
    sb
}

/// One account (ACCT in REGION) with the given account fields merged over a classic default.
pub fn one_account(account: serde_json::Value) -> serde_json::Value {
    let mut base = serde_json::json!({
        "accountId": ACCT,
        "region": REGION,
        "settings": {"engine": "classic", "durationSeconds": 180, "assessmentTemplateArn": TEMPLATE},
        "instances": [
            {"id": "i-0123456789abcdef0", "tags": {"Scan": "true"}, "agent": "healthy"}
        ]
    });
    if let (Some(b), Some(a)) = (base.as_object_mut(), account.as_object()) {
        for (k, v) in a {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::json!({"hub": {"accountId": HUB}, "accounts": [base]})
}

pub fn member(sb: &Sandbox) -> Member {
    pollster::block_on(sb.member(ACCT, REGION, "exec-1")).expect("member")
}

pub fn settings(m: &Member) -> AccountSettings {
    pollster::block_on(m.settings()).expect("settings")
}

pub fn run_for(engine: Engine, run_id: &str, tag: Option<Tag>) -> Run {
    Run {
        account_id: ACCT.into(),
        region: REGION.into(),
        engine,
        run_id: run_id.into(),
        tag,
        duration_seconds: 180,
        started_at: "2026-11-28T10:00:00Z".into(),
        deadline: "2026-11-28T12:00:00Z".into(),
        wait_seconds: 240,
        rerun: false,
        execution: "exec-1".into(),
        adopted: false,
        scheduled_at: None,
        sla_days: None,
        v2_readiness: None,
        cis: None,
    }
}

pub fn status(m: &Member, run: &Run) -> RunStatus {
    pollster::block_on(m.run_status(run)).expect("status")
}

/// Every finding of the run, following cursors; returns the findings and the page sizes.
pub fn all_findings(m: &Member, run: &Run) -> (Vec<Finding>, Vec<usize>) {
    let mut cursor = None;
    let mut all = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let page = pollster::block_on(m.findings_page(run, cursor)).expect("page");
        sizes.push(page.findings.len());
        all.extend(page.findings);
        match page.next {
            Some(n) => cursor = Some(n),
            None => return (all, sizes),
        }
    }
}

pub fn calls(sb: &Sandbox, key: &str) -> u64 {
    sb.api_calls().get(key).copied().unwrap_or(0)
}
