//! start-run against the sandbox: validation before any call, timing per engine, overrides,
//! reruns and role failures.

use pollster::block_on;
use scanflow_core::ScanError;
use scanflow_core::model::Engine;
use scanflow_core::state::{ExecutionContext, Run, StartRunInput};
use scanflow_sandbox::{Sandbox, Scenario};
use serde_json::{Value, json};

const START: &str = "2026-11-28T02:00:00Z";

fn sandbox(label: &str) -> Sandbox {
    let dir =
        std::env::temp_dir().join(format!("scanflow-start-run-{}-{label}", std::process::id()));
    Sandbox::new(
        Scenario::default_scenario().expect("the built-in scenario"),
        &dir,
        None,
    )
    .expect("sandbox")
}

fn account(engine: Engine) -> (String, String, u32) {
    let scenario = Scenario::default_scenario().expect("the built-in scenario");
    let a = scenario
        .accounts
        .iter()
        .find(|a| a.settings.engine == engine && a.role_deployed)
        .expect("account");
    (
        a.account_id.clone(),
        a.region.clone(),
        a.settings.duration_seconds,
    )
}

fn start(sb: &Sandbox, input: Value) -> Result<Run, ScanError> {
    let input = StartRunInput {
        input,
        execution: ExecutionContext {
            name: "exec-1".into(),
            start_time: START.into(),
        },
    };
    block_on(start_run::start(sb, &input)).map(|o| o.into_run().expect("not a duplicate"))
}

fn at(offset: u32) -> String {
    let t = scanflow_core::time::parse("t", START).expect("time");
    scanflow_core::time::format(
        scanflow_core::time::add_seconds("t", t, i64::from(offset)).expect("in range"),
    )
}

#[test]
fn classic_waits_the_assessment_duration_and_allows_evaluation_before_the_deadline() {
    let sb = sandbox("classic");
    let (id, region, duration) = account(Engine::Classic);
    let run = start(&sb, json!({"accountId": id, "region": region})).expect("starts");
    let config = Scenario::default_scenario()
        .expect("the built-in scenario")
        .hub
        .hub_config();
    assert_eq!(run.engine, Engine::Classic);
    assert!(run.run_id.contains("/run/"), "{}", run.run_id);
    assert_eq!(
        run.wait_seconds,
        duration + config.first_wait_margin_seconds
    );
    assert_eq!(
        run.deadline,
        at(duration + config.evaluation_allowance_seconds)
    );
    assert!(!run.rerun);
    assert_eq!(sb.api_calls().get("inspector:StartAssessmentRun"), Some(&1));
}

#[test]
fn inspector2_has_no_duration_to_wait_for() {
    let sb = sandbox("v2");
    let (id, region, _) = account(Engine::Inspector2);
    let run = start(&sb, json!({"accountId": id, "region": region})).expect("starts");
    let config = Scenario::default_scenario()
        .expect("the built-in scenario")
        .hub
        .hub_config();
    assert_eq!(run.engine, Engine::Inspector2);
    // Continuous scanning: the findings are read at once, under the same deadline.
    assert_eq!(run.wait_seconds, 0);
    assert_eq!(run.deadline, at(config.evaluation_allowance_seconds));
    assert!(run.run_id.starts_with("scanflow-"), "{}", run.run_id);
    assert_eq!(sb.api_calls().get("inspector2:ListCoverage"), Some(&1));
    assert_eq!(sb.api_calls().get("inspector2:ListFindings"), None);
}

#[test]
fn input_overrides_the_account_settings_for_this_execution() {
    let sb = sandbox("overrides");
    let (id, region, _) = account(Engine::Classic);
    // Classic's target and duration are fixed by the member stack's assessment template.
    for (field, input) in [
        (
            "durationSeconds",
            json!({"accountId": id, "region": region, "durationSeconds": 900}),
        ),
        (
            "tagKey",
            json!({"accountId": id, "region": region, "tagKey": "Patch", "tagValue": "weekly"}),
        ),
    ] {
        match start(&sb, input) {
            Err(ScanError::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{other:?}"),
        }
    }
    assert!(!sb.api_calls().contains_key("inspector:StartAssessmentRun"));
    // Inspector v2 filters at read time, so its tag can change per execution.
    let (v2, v2_region, _) = account(Engine::Inspector2);
    let run = start(
        &sb,
        json!({"accountId": v2, "region": v2_region, "tagKey": "Environment", "tagValue": "prod"}),
    )
    .expect("prod instances exist");
    assert_eq!(
        run.tag.map(|t| t.to_string()),
        Some("tag Environment=prod".to_owned())
    );
    let err = start(&sb, json!({"accountId": v2, "region": v2_region, "tagKey": "Environment", "tagValue": "nowhere"})).expect_err("no match");
    assert_eq!(err.error_type(), "NoInstancesMatched");
    let err = start(
        &sb,
        json!({"accountId": v2, "region": v2_region, "tagKey": "Patch", "tagValue": "never"}),
    )
    .expect_err("no match");
    assert_eq!(err.error_type(), "NoInstancesMatched");
}

#[test]
fn a_rerun_names_the_finished_run_and_starts_nothing() {
    let sb = sandbox("rerun");
    let (id, region, _) = account(Engine::Inspector2);
    let run = start(
        &sb,
        json!({"accountId": id, "region": region, "reportId": "0b9f2c1e-77aa"}),
    )
    .expect("rerun");
    assert!(run.rerun);
    assert_eq!(run.run_id, "0b9f2c1e-77aa");
    assert_eq!(run.wait_seconds, 0);
    assert!(
        sb.api_calls()
            .keys()
            .all(|k| !k.ends_with("CreateFindingsReport") && !k.ends_with("StartAssessmentRun"))
    );
}

#[test]
fn bad_input_fails_before_any_call_and_names_the_field() {
    let sb = sandbox("invalid");
    for (input, field) in [
        (
            json!({"accountId": "1", "region": "eu-west-1"}),
            "accountId",
        ),
        (json!("not an object"), "$"),
        (
            json!({"accountId": "111122223333", "region": "eu-west-1", "engine": "v3"}),
            "engine",
        ),
    ] {
        match start(&sb, input) {
            Err(ScanError::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{other:?}"),
        }
    }
    let bad_time = StartRunInput {
        input: json!({"accountId": "111122223333", "region": "eu-west-1"}),
        execution: ExecutionContext {
            name: "e".into(),
            start_time: "yesterday".into(),
        },
    };
    match block_on(start_run::start(&sb, &bad_time)) {
        Err(ScanError::InvalidInput { field, .. }) => assert_eq!(field, "execution.startTime"),
        other => panic!("{other:?}"),
    }
    assert!(sb.api_calls().is_empty(), "{:?}", sb.api_calls());
}

#[test]
fn a_missing_member_role_is_reported_with_the_account() {
    let sb = sandbox("role");
    let broken = Scenario::default_scenario()
        .expect("the built-in scenario")
        .accounts
        .into_iter()
        .find(|a| !a.role_deployed)
        .expect("broken account");
    let err = start(
        &sb,
        json!({"accountId": broken.account_id, "region": broken.region}),
    )
    .expect_err("denied");
    assert_eq!(err.error_type(), "RoleNotAssumable");
    assert!(err.to_string().contains(&broken.account_id));
}

#[test]
fn the_lambda_entry_point_decodes_and_encodes() {
    let sb = sandbox("invoke");
    let (id, region, _) = account(Engine::Inspector2);
    let event = json!({"input": {"accountId": id, "region": region}, "execution": {"name": "e", "startTime": START}});
    let out = block_on(start_run::invoke(&sb, event)).expect("runs");
    assert_eq!(out["accountId"], json!(id));
    let err = block_on(start_run::invoke(&sb, json!({"input": {}}))).expect_err("no execution");
    assert_eq!(err.error_type(), "InvalidInput");
}

/// The migration scenario's accounts (see `crates/sandbox/scenarios/classic-migration.json`).
fn migration_sandbox(label: &str) -> Sandbox {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scenario =
        Scenario::from_file(&root.join("crates/sandbox/scenarios/classic-migration.json"))
            .expect("the migration scenario");
    let dir =
        std::env::temp_dir().join(format!("scanflow-start-run-{}-{label}", std::process::id()));
    Sandbox::new(scenario, &dir, None).expect("sandbox")
}

#[test]
fn a_classic_run_carries_v2s_status_and_a_v2_run_none() {
    use scanflow_core::migration::{ScanningStatus, V2Readiness};
    let sb = migration_sandbox("migration");
    for (account, region, readiness) in [
        (
            "222233334444",
            "us-east-1",
            Some(V2Readiness::Reported {
                ec2: ScanningStatus::Enabled,
            }),
        ),
        (
            "555566667777",
            "eu-west-1",
            Some(V2Readiness::Reported {
                ec2: ScanningStatus::Disabled,
            }),
        ),
        ("121212121212", "eu-central-1", None),
    ] {
        let run = start(&sb, json!({"accountId": account, "region": region})).expect("starts");
        assert_eq!(run.v2_readiness, readiness, "{account}");
    }
    // Where Classic refuses, the error says what v2 answered and what to change.
    let err = start(
        &sb,
        json!({"accountId": "888899990000", "region": "us-west-2"}),
    )
    .expect_err("Classic is not available there");
    assert_eq!(err.error_type(), "InspectorDisabled");
    let text = err.to_string();
    assert!(
        text.contains("Inspector v2 EC2 scanning is ENABLED in 888899990000 (us-west-2)"),
        "{text}"
    );
    assert!(
        !text.contains(".."),
        "one full stop between sentences: {text}"
    );
    // Asking for Classic where the member stack wrote no template: refused, naming `engine`.
    let err = start(
        &sb,
        json!({"accountId": "121212121212", "region": "eu-central-1", "engine": "classic"}),
    )
    .expect_err("no Classic template");
    assert!(
        matches!(&err, ScanError::InvalidInput { field, .. } if field == "engine"),
        "{err:?}"
    );
}
