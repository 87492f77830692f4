//! Consistency between what is deployed and what the code expects: the state machine
//! definitions, the hub (SAM) and member (StackSet) templates, the function crates, and what the
//! AWS adapters call, read and parse. Each test fails when one side drifts from the other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use scanflow_aws::iam;
use scanflow_core::ScanError;
use scanflow_core::input::ExecutionInput;
use scanflow_core::message;
use scanflow_core::model::Engine;
use scanflow_sandbox::Subscription;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

const HUB: &str = "templates/hub.yaml";
const MEMBER: &str = "templates/member.yaml";
/// Path of the hub roles the member scan role trusts (hub `RolePath`, member `aws:PrincipalArn`).
const TRUSTED_ROLE_PATH: &str = "/scanflow/";
/// Inspector Classic's regions (aws-facts §1.1).
const CLASSIC_REGIONS: [&str; 14] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-southeast-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-north-1",
    "us-gov-east-1",
    "us-gov-west-1",
];
/// Step Functions' predefined error names (aws-facts §5.5).
const STATES_ERRORS: [&str; 16] = [
    "States.ALL",
    "States.TaskFailed",
    "States.Timeout",
    "States.HeartbeatTimeout",
    "States.Runtime",
    "States.DataLimitExceeded",
    "States.Permissions",
    "States.BranchFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.ResultPathMatchFailure",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.ExceedToleratedFailureThreshold",
    "States.QueryEvaluationError",
];
/// Errors the Lambda service raises around an invocation (aws-facts §5.5).
const LAMBDA_ERRORS: [&str; 5] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
];

// ------------------------------------------------------------------------------------------
// Reading the files
// ------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_owned()
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn template(rel: &str) -> Yaml {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

/// Every `statemachine/*.asl.json`, as (path relative to the root, text).
fn definitions() -> Vec<(String, String)> {
    let dir = root().join("statemachine");
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .map(|p| {
            let rel = format!(
                "statemachine/{}",
                p.file_name().expect("file").to_string_lossy()
            );
            let text = read(&rel);
            (rel, text)
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no statemachine/*.asl.json");
    found
}

fn resources(doc: &Yaml) -> Vec<(String, &Yaml)> {
    doc.get("Resources")
        .and_then(Yaml::as_mapping)
        .expect("template has Resources")
        .iter()
        .map(|(k, v)| (k.as_str().expect("logical id").to_owned(), v))
        .collect()
}

fn resources_of_type<'a>(doc: &'a Yaml, ty: &str) -> Vec<(String, &'a Yaml)> {
    resources(doc)
        .into_iter()
        .filter(|(_, r)| r.get("Type").and_then(Yaml::as_str) == Some(ty))
        .collect()
}

fn resource<'a>(doc: &'a Yaml, id: &str) -> &'a Yaml {
    doc.get("Resources")
        .and_then(|r| r.get(id))
        .unwrap_or_else(|| panic!("no resource {id}"))
}

fn props(resource: &Yaml) -> &Yaml {
    resource.get("Properties").expect("resource has Properties")
}

/// A CloudFormation short-form intrinsic (`!Sub x` → ("Sub", x)).
fn intrinsic(v: &Yaml) -> Option<(String, &Yaml)> {
    match v {
        Yaml::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            &t.value,
        )),
        _ => None,
    }
}

/// The text of a plain string or a `!Sub` string.
fn text(v: &Yaml) -> Option<&str> {
    match intrinsic(v) {
        Some((tag, inner)) if tag == "Sub" => inner.as_str(),
        Some(_) => None,
        None => v.as_str(),
    }
}

/// `!Ref X` → X.
fn ref_name(v: &Yaml) -> Option<&str> {
    intrinsic(v)
        .filter(|(t, _)| t == "Ref")
        .and_then(|(_, inner)| inner.as_str())
}

/// `!GetAtt X.Arn` → X.
fn get_att_arn(v: &Yaml) -> Option<&str> {
    intrinsic(v)
        .filter(|(t, _)| t == "GetAtt")
        .and_then(|(_, inner)| inner.as_str())
        .and_then(|s| s.strip_suffix(".Arn"))
}

fn strings(v: &Yaml) -> Vec<String> {
    match v {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Sequence(seq) => seq
            .iter()
            .filter_map(Yaml::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn parameter_default<'a>(doc: &'a Yaml, name: &str) -> &'a Yaml {
    doc.get("Parameters")
        .and_then(|p| p.get(name))
        .and_then(|p| p.get("Default"))
        .unwrap_or_else(|| panic!("parameter {name} has a Default"))
}

/// `${Name}` placeholders in a definition.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("placeholder is closed");
        found.insert(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    found
}

/// Workspace binary targets whose package lives under `functions/`, as `cargo metadata` sees them.
/// The workspace's own packages, as `cargo metadata --no-deps` describes them.
fn cargo_metadata() -> Json {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

fn function_bins() -> BTreeSet<String> {
    let meta = cargo_metadata();
    let functions_dir = root().join("functions");
    let mut bins = BTreeSet::new();
    for package in meta["packages"].as_array().expect("packages") {
        let manifest = Path::new(package["manifest_path"].as_str().expect("manifest_path"));
        if !manifest.starts_with(&functions_dir) {
            continue;
        }
        for target in package["targets"].as_array().expect("targets") {
            let is_bin = strings_json(&target["kind"]).iter().any(|k| k == "bin");
            if is_bin {
                bins.insert(target["name"].as_str().expect("target name").to_owned());
            }
        }
    }
    bins
}

fn strings_json(v: &Json) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The hub's functions: logical id → cargo binary (`Metadata.BuildProperties.Binary`).
fn hub_functions(hub: &Yaml) -> BTreeMap<String, String> {
    resources_of_type(hub, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, r)| {
            let binary = r
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Yaml::as_str)
                .unwrap_or_else(|| panic!("{id} has no Metadata.BuildProperties.Binary"));
            (id, binary.to_owned())
        })
        .collect()
}

/// A function property, falling back to `Globals.Function` as SAM does.
fn function_property<'a>(hub: &'a Yaml, function: &'a Yaml, name: &str) -> Option<&'a Yaml> {
    props(function).get(name).or_else(|| {
        hub.get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(|f| f.get(name))
    })
}

/// Allow statements found anywhere under `v` (policies, key policies, bucket/queue/topic/bus
/// policies), as (Action list, whole statement).
fn allow_statements(v: &Yaml) -> Vec<&Yaml> {
    let mut found = Vec::new();
    collect_statements(v, &mut found);
    found
}

fn collect_statements<'a>(v: &'a Yaml, found: &mut Vec<&'a Yaml>) {
    match v {
        Yaml::Mapping(m) => {
            if m.get("Effect").and_then(Yaml::as_str) == Some("Allow") {
                found.push(v);
            }
            m.values()
                .for_each(|child| collect_statements(child, found));
        }
        Yaml::Sequence(seq) => seq
            .iter()
            .for_each(|child| collect_statements(child, found)),
        Yaml::Tagged(t) => collect_statements(&t.value, found),
        _ => {}
    }
}

fn allowed_actions(v: &Yaml) -> BTreeSet<String> {
    allow_statements(v)
        .into_iter()
        .flat_map(|s| strings(s.get("Action").expect("Allow statement has Action")))
        .collect()
}

fn to_set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The leaves of nested `!If [cond, a, b]` values.
fn if_leaves(v: &Yaml) -> Vec<&Yaml> {
    match intrinsic(v) {
        Some((tag, Yaml::Sequence(args))) if tag == "If" && args.len() == 3 => {
            let mut leaves = if_leaves(&args[1]);
            leaves.extend(if_leaves(&args[2]));
            leaves
        }
        _ => vec![v],
    }
}

fn is_no_value(v: &Yaml) -> bool {
    ref_name(v) == Some("AWS::NoValue")
}

/// `StartRunFunction` for `start-run`: the naming the brief fixes for the five functions.
fn logical_id_for(bin: &str) -> String {
    let pascal: String = bin
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{pascal}Function")
}

// ------------------------------------------------------------------------------------------
// State machine ⇄ hub template
// ------------------------------------------------------------------------------------------

#[test]
fn every_placeholder_has_a_substitution_and_every_substitution_is_used() {
    let hub = template(HUB);
    let machines = resources_of_type(&hub, "AWS::Serverless::StateMachine");
    assert!(
        !machines.is_empty(),
        "{HUB} has no AWS::Serverless::StateMachine"
    );
    let mut deployed = BTreeSet::new();
    for (id, machine) in &machines {
        let uri = props(machine)
            .get("DefinitionUri")
            .and_then(Yaml::as_str)
            .unwrap_or_else(|| panic!("{id}: DefinitionUri is a local path"));
        // SAM resolves DefinitionUri relative to the template.
        let path = root().join("templates").join(uri);
        let rel = path
            .canonicalize()
            .unwrap_or_else(|e| panic!("{id}: DefinitionUri {uri} → {}: {e}", path.display()))
            .strip_prefix(root().canonicalize().expect("root"))
            .expect("definition inside the repository")
            .to_string_lossy()
            .into_owned();
        let used = placeholders(&read(&rel));
        let subs = props(machine)
            .get("DefinitionSubstitutions")
            .and_then(Yaml::as_mapping)
            .unwrap_or_else(|| panic!("{id} has no DefinitionSubstitutions"));
        let given: BTreeSet<String> = subs
            .keys()
            .map(|k| k.as_str().expect("key").to_owned())
            .collect();
        assert_eq!(
            used, given,
            "{id}: placeholders of {rel} vs DefinitionSubstitutions"
        );

        // Each substitution names a function of this template; the machine may invoke exactly
        // those functions.
        let functions = hub_functions(&hub);
        let mut invoked = BTreeSet::new();
        for (key, value) in subs {
            let target = get_att_arn(value)
                .unwrap_or_else(|| panic!("{id}: {key:?} is not !GetAtt <Function>.Arn"));
            assert!(
                functions.contains_key(target),
                "{id}: {key:?} names {target}, not a function"
            );
            invoked.insert(target.to_owned());
        }
        let policy_targets: BTreeSet<String> =
            allow_statements(props(machine).get("Policies").expect("Policies"))
                .into_iter()
                .filter(|s| {
                    strings(s.get("Action").expect("Action"))
                        .iter()
                        .any(|a| a == "lambda:InvokeFunction")
                })
                .flat_map(|s| match s.get("Resource") {
                    Some(Yaml::Sequence(seq)) => seq
                        .iter()
                        .filter_map(get_att_arn)
                        .map(str::to_owned)
                        .collect(),
                    Some(one) => get_att_arn(one).map(str::to_owned).into_iter().collect(),
                    None => Vec::new(),
                })
                .collect();
        assert_eq!(
            invoked, policy_targets,
            "{id}: lambda:InvokeFunction resources"
        );
        deployed.insert(rel);
    }
    let all: BTreeSet<String> = definitions().into_iter().map(|(rel, _)| rel).collect();
    assert_eq!(
        all, deployed,
        "every statemachine/*.asl.json is deployed by {HUB}"
    );
}

#[test]
fn every_error_the_definitions_name_is_known_and_only_transient_errors_are_retried_never_caught() {
    let transient = ScanError::Transient {
        service: String::new(),
        detail: String::new(),
    };
    for (rel, text) in definitions() {
        let asl: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut retried = BTreeSet::new();
        let mut caught = BTreeSet::new();
        collect_errors(&asl, &mut retried, &mut caught);
        // A Catch would end a failure away from the failed task: a redrive resumes at the
        // unsuccessful state, so it must be the task itself. Notices come from the status
        // change event instead.
        assert!(caught.is_empty(), "{rel} catches {caught:?}");
        for name in retried.iter().chain(&caught) {
            let known = if name.starts_with("States.") {
                STATES_ERRORS.contains(&name.as_str())
            } else if name.starts_with("Lambda.") {
                LAMBDA_ERRORS.contains(&name.as_str())
            } else {
                ScanError::ERROR_TYPES.contains(&name.as_str())
            };
            assert!(
                known,
                "{rel}: error {name:?} is neither States.*, Lambda.* nor a ScanError type"
            );
        }
        let retried_own: BTreeSet<&str> = retried
            .iter()
            .map(String::as_str)
            .filter(|n| !n.starts_with("States.") && !n.starts_with("Lambda."))
            .collect();
        assert_eq!(
            retried_own,
            BTreeSet::from([transient.error_type()]),
            "{rel}: retried errors"
        );
    }
}

/// The most time a retrier can spend before its last attempt (full jitter waits at most this).
fn retry_budget_seconds(rule: &Json) -> f64 {
    let interval = rule["IntervalSeconds"].as_f64().unwrap_or(1.0);
    let attempts = rule["MaxAttempts"].as_u64().unwrap_or(3);
    let rate = rule["BackoffRate"].as_f64().unwrap_or(2.0);
    let cap = rule["MaxDelaySeconds"].as_f64().unwrap_or(f64::INFINITY);
    (0..attempts)
        .map(|i| (interval * rate.powi(i32::try_from(i).unwrap_or(i32::MAX))).min(cap))
        .sum()
}

#[test]
fn every_task_retries_lambda_throttling_for_long_enough_and_its_service_errors() {
    for (rel, text) in definitions() {
        let asl: Json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        for (name, state) in asl["States"].as_object().expect("States") {
            if state["Type"] != "Task" {
                continue;
            }
            let retry = state["Retry"].as_array().cloned().unwrap_or_default();
            let rule_for = |error: &str| {
                retry
                    .iter()
                    .find(|r| strings_json(&r["ErrorEquals"]).iter().any(|e| e == error))
                    .unwrap_or_else(|| panic!("{rel}: {name} does not retry {error}"))
            };
            for error in LAMBDA_ERRORS.iter().filter(|e| **e != "Lambda.Unknown") {
                rule_for(error);
            }
            // A storm of scheduled starts clears in minutes; half an hour of backed-off,
            // jittered retries outlasts it without hiding an outage for long.
            let throttled = rule_for("Lambda.TooManyRequestsException");
            let budget = retry_budget_seconds(throttled);
            assert!(
                (1_800.0..=7_200.0).contains(&budget),
                "{rel}: {name} retries throttling for {budget} s"
            );
            assert_eq!(throttled["JitterStrategy"], "FULL", "{rel}: {name}");
        }
    }
}

#[test]
fn the_notifier_hears_exactly_the_statuses_it_acts_on() {
    let hub = template(HUB);
    let notify = resource(&hub, "NotifyFunction");
    let event = props(notify)
        .get("Events")
        .and_then(|e| e.get("ExecutionStatusChange"))
        .expect("NotifyFunction has its ExecutionStatusChange event");
    assert_eq!(
        event.get("Type").and_then(Yaml::as_str),
        Some("EventBridgeRule")
    );
    let p = event.get("Properties").expect("Properties");
    assert!(
        p.get("EventBusName").is_none(),
        "Step Functions sends to the default bus"
    );
    assert!(
        p.get("DeadLetterConfig").is_some(),
        "undeliverable events are kept"
    );
    let pattern = p.get("Pattern").expect("Pattern");
    assert_eq!(
        strings(pattern.get("source").expect("source")),
        ["aws.states"]
    );
    assert_eq!(
        strings(pattern.get("detail-type").expect("detail-type")),
        ["Step Functions Execution Status Change"]
    );
    let detail = pattern.get("detail").expect("detail");
    assert_eq!(
        detail
            .get("stateMachineArn")
            .and_then(Yaml::as_sequence)
            .and_then(|s| s.first())
            .and_then(ref_name),
        Some("ScanStateMachine")
    );
    // Every status the pattern lets through is one the notifier acts on, and back.
    let alternatives = detail.get("$or").and_then(Yaml::as_sequence).expect("$or");
    let mut matched = BTreeSet::new();
    for alt in alternatives {
        let after_redrive = alt.get("redriveCount").is_some();
        for status in strings(alt.get("status").expect("status")) {
            matched.insert((status, after_redrive));
        }
    }
    let statuses = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];
    for status in statuses {
        for redriven in [false, true] {
            let let_through = matched.contains(&(status.to_owned(), false))
                || (redriven && matched.contains(&(status.to_owned(), true)));
            assert_eq!(
                let_through,
                publish::notify::wanted(status, u32::from(redriven)),
                "{status} (redriven: {redriven})"
            );
        }
    }
    assert!(
        props(notify).get("ReservedConcurrentExecutions").is_some(),
        "the notifier has its own concurrency"
    );
    assert!(props(notify).get("DeadLetterQueue").is_some());
}

fn collect_errors(v: &Json, retried: &mut BTreeSet<String>, caught: &mut BTreeSet<String>) {
    match v {
        Json::Object(map) => {
            for (key, into) in [("Retry", &mut *retried), ("Catch", &mut *caught)] {
                if let Some(list) = map.get(key).and_then(Json::as_array) {
                    for rule in list {
                        into.extend(strings_json(&rule["ErrorEquals"]));
                    }
                }
            }
            map.values()
                .for_each(|child| collect_errors(child, retried, caught));
        }
        Json::Array(list) => list
            .iter()
            .for_each(|child| collect_errors(child, retried, caught)),
        _ => {}
    }
}

#[test]
fn lambda_timeouts_fit_inside_their_task_timeouts() {
    let hub = template(HUB);
    let machine = &resources_of_type(&hub, "AWS::Serverless::StateMachine")[0].1;
    let subs = props(machine)
        .get("DefinitionSubstitutions")
        .expect("substitutions");
    for (rel, text) in definitions() {
        let asl: Json = serde_json::from_str(&text).expect("JSON");
        let states = asl["States"].as_object().expect("States");
        for (name, state) in states.iter().filter(|(_, s)| s["Type"] == "Task") {
            let task_resource = state["Resource"].as_str().expect("Resource");
            let key = task_resource.trim_start_matches("${").trim_end_matches('}');
            let function_id = get_att_arn(subs.get(key).expect("substituted")).expect("function");
            let function = resource(&hub, function_id);
            let timeout = function_property(&hub, function, "Timeout")
                .and_then(Yaml::as_u64)
                .expect("Timeout");
            let task_timeout = state["TimeoutSeconds"].as_u64().unwrap_or(60);
            assert!(timeout <= 900, "{function_id}: Lambda allows at most 900 s");
            assert!(
                timeout <= task_timeout,
                "{rel}: {name} gives up after {task_timeout} s but {function_id} may run {timeout} s"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Hub functions ⇄ workspace ⇄ adapters
// ------------------------------------------------------------------------------------------

/// Headroom over the measured memory of a function (its cold start plus the most its handler
/// allocated at any benchmarked size): each MemorySize must be at least this many times that.
/// The one place the margin is stated; templates/hub.yaml's comments refer to it.
const MEMORY_SAFETY_FACTOR: f64 = 2.0;
/// The committed figures the benchmarks write (README's performance section runs them).
const COLD_START_FIGURES: &str = "benchmarks/cold-start.json";
const HANDLER_MEMORY_FIGURES: &str = "benchmarks/handler-memory.json";

#[test]
fn each_function_has_the_measured_memory_with_the_safety_factor() {
    let hub = template(HUB);
    let cold: Json =
        serde_json::from_str(&read(COLD_START_FIGURES)).expect("cold-start figures are JSON");
    let handlers: Json = serde_json::from_str(&read(HANDLER_MEMORY_FIGURES))
        .expect("handler-memory figures are JSON");
    let sizes = handlers["findings"].as_object().expect("findings by size");
    assert!(
        sizes.contains_key("250000"),
        "{HANDLER_MEMORY_FIGURES} measures 250,000 findings"
    );
    for (id, bin) in hub_functions(&hub) {
        let rss = cold["functions"][&bin]["peakRssMib"]
            .as_f64()
            .unwrap_or_else(|| panic!("{COLD_START_FIGURES} has no peakRssMib for {bin}"));
        // notify and fleet-watch are not steps of a scan: their work does not grow with the
        // findings, and their cold start is what they hold.
        let step_heap = sizes
            .values()
            .filter_map(|n| n["steps"][&bin]["handlerHeapMib"].as_f64())
            .fold(0.0, f64::max);
        let step_measured = sizes.values().any(|n| n["steps"].get(&bin).is_some());
        assert!(
            step_measured || bin == "notify" || bin == "fleet-watch",
            "{HANDLER_MEMORY_FIGURES} does not measure the {bin} step"
        );
        let memory = function_property(&hub, resource(&hub, &id), "MemorySize")
            .and_then(Yaml::as_f64)
            .unwrap_or_else(|| panic!("{id} has no MemorySize"));
        let needed = MEMORY_SAFETY_FACTOR * (rss + step_heap);
        assert!(
            memory >= needed,
            "{id}: MemorySize {memory} MB is below {MEMORY_SAFETY_FACTOR} x ({rss:.1} MiB at cold \
             start + {step_heap:.1} MiB of handler heap) = {needed:.0}; rerun the benchmarks or \
             raise it"
        );
        assert!(
            (128.0..=10_240.0).contains(&memory),
            "{id}: Lambda allows 128-10240 MB"
        );
    }
}

#[test]
fn every_built_function_is_a_workspace_bin_under_functions() {
    let hub = template(HUB);
    let functions = hub_functions(&hub);
    let bins = function_bins();
    let built: BTreeSet<String> = functions.values().cloned().collect();
    assert_eq!(
        built.len(),
        functions.len(),
        "two functions build the same binary"
    );
    assert_eq!(
        built, bins,
        "functions {HUB} builds vs bins under functions/"
    );
    assert_eq!(
        built,
        to_set(&iam::FUNCTIONS),
        "functions {HUB} builds vs scanflow_aws::iam::FUNCTIONS"
    );
    for (id, bin) in &functions {
        assert_eq!(id, &logical_id_for(bin), "logical id of {bin}");
        let f = resource(&hub, id);
        let metadata = f.get("Metadata").expect("Metadata");
        assert_eq!(
            metadata.get("BuildMethod").and_then(Yaml::as_str),
            Some("rust-cargolambda"),
            "{id}"
        );
        let prop = |name: &str| function_property(&hub, f, name);
        assert_eq!(
            prop("Runtime").and_then(Yaml::as_str),
            Some("provided.al2023"),
            "{id}"
        );
        assert_eq!(
            prop("Handler").and_then(Yaml::as_str),
            Some("bootstrap"),
            "{id}"
        );
        assert_eq!(
            prop("Architectures").map(strings),
            Some(vec!["arm64".to_owned()]),
            "{id}"
        );
        assert_eq!(
            prop("Tracing").and_then(Yaml::as_str),
            Some("Active"),
            "{id}"
        );
        assert_eq!(
            prop("LoggingConfig")
                .and_then(|l| l.get("LogFormat"))
                .and_then(Yaml::as_str),
            Some("JSON"),
            "{id}"
        );
        // The workspace root, where the Cargo.toml cargo-lambda builds from.
        let code_uri = prop("CodeUri").and_then(Yaml::as_str).expect("CodeUri");
        let code_dir = root().join("templates").join(code_uri);
        assert!(
            code_dir.join("Cargo.toml").exists(),
            "{id}: CodeUri {code_uri} has no Cargo.toml"
        );
        assert_eq!(
            code_dir.canonicalize().expect("CodeUri exists"),
            root().canonicalize().expect("root"),
            "{id}: CodeUri is the workspace root"
        );
    }
}

#[test]
fn each_function_gets_exactly_the_environment_its_adapter_reads() {
    let hub = template(HUB);
    let global = hub
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Environment"))
        .and_then(|e| e.get("Variables"))
        .and_then(Yaml::as_mapping)
        .cloned()
        .unwrap_or_default();
    for (id, bin) in hub_functions(&hub) {
        let own = props(resource(&hub, &id))
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Yaml::as_mapping)
            .cloned()
            .unwrap_or_default();
        let mut always = BTreeSet::new();
        let mut sometimes = BTreeSet::new();
        for (name, value) in global.iter().chain(own.iter()) {
            let name = name.as_str().expect("variable name").to_owned();
            // `!If [c, x, !Ref AWS::NoValue]` leaves the variable out when c is false.
            if if_leaves(value).into_iter().any(is_no_value) {
                sometimes.insert(name);
            } else {
                always.insert(name);
            }
        }
        let reads =
            iam::function_env(&bin).unwrap_or_else(|| panic!("scanflow_aws knows no {bin}"));
        let all: BTreeSet<String> = always.union(&sometimes).cloned().collect();
        assert_eq!(
            all,
            to_set(reads),
            "{id}: environment vs scanflow_aws::iam::function_env({bin:?})"
        );
        for name in &sometimes {
            assert!(
                iam::OPTIONAL_ENV.contains(&name.as_str()),
                "{id}: required {name} may be unset"
            );
        }
    }
}

#[test]
fn each_function_is_granted_exactly_what_its_adapter_calls() {
    let hub = template(HUB);
    for (id, bin) in hub_functions(&hub) {
        let f = resource(&hub, &id);
        let policies = props(f)
            .get("Policies")
            .unwrap_or_else(|| panic!("{id} has no Policies"));
        let seq = policies.as_sequence().expect("Policies is a list");
        assert_eq!(seq.len(), 1, "{id}: one least-privilege policy");
        assert!(
            seq[0].get("Statement").is_some(),
            "{id}: the policy is an inline statement list"
        );
        assert_eq!(
            allowed_actions(policies),
            to_set(iam::function_actions(&bin)),
            "{id}: granted vs scanflow_aws::iam::function_actions({bin:?})"
        );
        // The member scan role trusts exactly the roles on this path: the functions that
        // assume it, and no other.
        let assumes = iam::function_actions(&bin).contains(&"sts:AssumeRole");
        let path = props(f).get("RolePath").and_then(Yaml::as_str);
        assert_eq!(
            path == Some(TRUSTED_ROLE_PATH),
            assumes,
            "{id}: RolePath {path:?}"
        );
    }
}

#[test]
fn delegated_admin_reads_are_granted_only_when_the_hub_is_the_delegated_admin() {
    let hub = template(HUB);
    let condition = "ReadsAsDelegatedAdmin";
    let param = hub
        .get("Parameters")
        .and_then(|p| p.get("InspectorDelegatedAdmin"))
        .expect("the InspectorDelegatedAdmin parameter");
    assert_eq!(param.get("Default").and_then(Yaml::as_str), Some("false"));
    let delegated = to_set(iam::DELEGATED_ADMIN_ACTIONS);
    let mut granted_under_condition = BTreeSet::new();
    for (id, bin) in hub_functions(&hub) {
        let f = resource(&hub, &id);
        let statements = props(f)
            .get("Policies")
            .and_then(Yaml::as_sequence)
            .and_then(|p| p.first())
            .and_then(|p| p.get("Statement"))
            .and_then(Yaml::as_sequence)
            .unwrap_or_else(|| panic!("{id}: a statement list"));
        for statement in statements {
            let actions = allowed_actions(statement);
            match intrinsic(statement) {
                Some((tag, Yaml::Sequence(args))) if tag == "If" => {
                    assert_eq!(args[0].as_str(), Some(condition), "{id}");
                    assert!(is_no_value(&args[2]), "{id}: nothing granted otherwise");
                    assert!(actions.is_subset(&delegated), "{id}: {actions:?}");
                    granted_under_condition.extend(actions);
                }
                _ => assert!(
                    actions.is_disjoint(&delegated),
                    "{id}: {actions:?} granted whatever InspectorDelegatedAdmin says"
                ),
            }
        }
        // The functions told to read as the delegated admin are the ones granted to.
        let env = props(f)
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(|v| v.get(iam::ENV_INSPECTOR_DELEGATED_ADMIN));
        let reads = iam::function_actions(&bin)
            .iter()
            .any(|a| delegated.contains(*a));
        assert_eq!(
            env.is_some(),
            iam::function_env(&bin)
                .is_some_and(|e| e.contains(&iam::ENV_INSPECTOR_DELEGATED_ADMIN)),
            "{id}"
        );
        if let Some(env) = env {
            match intrinsic(env) {
                Some((tag, Yaml::Sequence(args))) if tag == "If" => {
                    assert_eq!(args[0].as_str(), Some(condition), "{id}");
                    assert_eq!(args[1].as_str(), Some("true"), "{id}");
                    assert!(is_no_value(&args[2]), "{id}");
                }
                _ => panic!(
                    "{id}: {} must follow {condition}",
                    iam::ENV_INSPECTOR_DELEGATED_ADMIN
                ),
            }
        } else {
            assert!(
                !reads,
                "{id} is granted delegated reads but not told to use them"
            );
        }
    }
    assert_eq!(granted_under_condition, delegated);
    // Nothing writes findings reports into the hub any more: no grant to Inspector itself.
    assert!(
        !read(HUB).contains("inspector2.amazonaws.com"),
        "the hub grants nothing to the Inspector service"
    );
}

#[test]
fn the_member_scan_role_is_granted_exactly_what_the_adapters_call_through_it() {
    let member = template(MEMBER);
    let role = resource(&member, "ScanRole");
    let policies = props(role).get("Policies").expect("Policies");
    assert_eq!(policies.as_sequence().map(Vec::len), Some(1), "one policy");
    assert_eq!(allowed_actions(policies), to_set(iam::MEMBER_ROLE_ACTIONS));
    assert_eq!(
        ref_name(props(role).get("RoleName").expect("RoleName")),
        Some("ScanRoleName")
    );
}

#[test]
fn no_template_allows_a_wildcard_action() {
    for rel in [HUB, MEMBER] {
        let doc = template(rel);
        let statements = allow_statements(doc.get("Resources").expect("Resources"));
        assert!(
            statements.len() > 5,
            "{rel}: found only {} Allow statements",
            statements.len()
        );
        for statement in statements {
            assert!(
                statement.get("NotAction").is_none(),
                "{rel}: Allow with NotAction"
            );
            let actions = strings(statement.get("Action").expect("Action"));
            assert!(
                !actions.is_empty(),
                "{rel}: Allow statement without actions"
            );
            for action in actions {
                assert!(!action.contains('*'), "{rel}: Allow {action:?}");
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Member ⇄ hub
// ------------------------------------------------------------------------------------------

#[test]
fn the_member_trusts_the_hub_function_roles_of_the_organization() {
    let member = template(MEMBER);
    let trust = props(resource(&member, "ScanRole"))
        .get("AssumeRolePolicyDocument")
        .expect("trust");
    let statements = allow_statements(trust);
    assert_eq!(statements.len(), 1);
    let s = statements[0];
    assert_eq!(
        strings(s.get("Action").expect("Action")),
        ["sts:AssumeRole"]
    );
    let principal = s
        .get("Principal")
        .and_then(|p| p.get("AWS"))
        .and_then(text)
        .expect("AWS principal");
    assert!(
        principal.ends_with(":iam::${HubAccountId}:root"),
        "{principal}"
    );
    let condition = s.get("Condition").expect("Condition");
    let principal_arn = condition
        .get("ArnLike")
        .and_then(|c| c.get("aws:PrincipalArn"))
        .and_then(text)
        .expect("ArnLike aws:PrincipalArn");
    assert!(
        principal_arn.ends_with(&format!(":iam::${{HubAccountId}}:role{TRUSTED_ROLE_PATH}*")),
        "{principal_arn}"
    );
    // Every variant (with and without ExternalId) pins the organization.
    for branch in if_leaves(condition.get("StringEquals").expect("StringEquals")) {
        assert_eq!(
            branch.get("aws:PrincipalOrgID").and_then(ref_name),
            Some("OrganizationId"),
            "{branch:?}"
        );
    }

    let hub = template(HUB);
    for name in ["ScanRoleName", "SettingsParameterName", "ExternalId"] {
        assert_eq!(
            parameter_default(&hub, name),
            parameter_default(&member, name),
            "{name} default"
        );
    }
    assert_eq!(
        parameter_default(&hub, "SettingsParameterName").as_str(),
        Some(scanflow_aws::config::DEFAULT_SETTINGS_PARAMETER)
    );
}

/// A member rule forwarding to the hub bus: its event pattern, after checking that it
/// targets the bus with the forwarding role and no input transformation.
fn forwarder<'a>(member: &'a Yaml, id: &str) -> (&'a Yaml, String) {
    let rule = props(resource(member, id));
    assert!(
        rule.get("EventBusName").is_none(),
        "{id}: on the default bus"
    );
    let name = rule
        .get("Name")
        .and_then(Yaml::as_str)
        .unwrap_or_else(|| panic!("{id}: fixed rule Name"))
        .to_owned();
    let targets = rule
        .get("Targets")
        .and_then(Yaml::as_sequence)
        .expect("Targets");
    assert_eq!(targets.len(), 1, "{id}");
    assert_eq!(
        ref_name(targets[0].get("Arn").expect("Arn")),
        Some("HubEventBusArn"),
        "{id}"
    );
    assert_eq!(
        get_att_arn(targets[0].get("RoleArn").expect("RoleArn")),
        Some("ForwardToHubRole"),
        "{id}"
    );
    for field in ["Input", "InputPath", "InputTransformer"] {
        assert!(
            targets[0].get(field).is_none(),
            "{id}: cross-account bus targets forward the event unchanged: no {field}"
        );
    }
    (rule.get("EventPattern").expect("EventPattern"), name)
}

/// Applies an EventBridge InputTransformer to `event` as EventBridge would for string values.
fn transform(transformer: &Yaml, event: &Json) -> String {
    let paths = transformer
        .get("InputPathsMap")
        .and_then(Yaml::as_mapping)
        .expect("InputPathsMap");
    let mut input = transformer
        .get("InputTemplate")
        .and_then(Yaml::as_str)
        .expect("InputTemplate")
        .to_owned();
    for (placeholder, path) in paths {
        let pointer = path
            .as_str()
            .and_then(|p| p.strip_prefix("$."))
            .expect("$.field path")
            .split('.')
            .fold(String::new(), |acc, part| format!("{acc}/{part}"));
        let value = event
            .pointer(&pointer)
            .and_then(Json::as_str)
            .unwrap_or_else(|| panic!("event has no {pointer}"));
        input = input.replace(&format!("<{}>", placeholder.as_str().expect("name")), value);
    }
    input
}

#[test]
fn member_schedules_spread_reach_the_hub_rule_and_become_valid_execution_input() {
    let member = template(MEMBER);
    let schedule = props(resource(&member, "ScanSchedule"));
    assert_eq!(
        resource(&member, "ScanSchedule")
            .get("Type")
            .and_then(Yaml::as_str),
        Some("AWS::Scheduler::Schedule")
    );
    let schedule_name = schedule
        .get("Name")
        .and_then(Yaml::as_str)
        .expect("fixed schedule Name");
    assert_eq!(
        schedule.get("ScheduleExpression").and_then(ref_name),
        Some("AssessmentSchedule"),
        "AssessmentSchedule keeps its meaning"
    );
    assert_eq!(
        schedule
            .get("ScheduleExpressionTimezone")
            .and_then(Yaml::as_str),
        Some("UTC")
    );
    // Spreading: a flexible window unless the member asks for none.
    let windows = if_leaves(
        schedule
            .get("FlexibleTimeWindow")
            .expect("FlexibleTimeWindow"),
    );
    let modes: BTreeSet<&str> = windows
        .iter()
        .filter_map(|w| w.get("Mode").and_then(Yaml::as_str))
        .collect();
    assert_eq!(modes, BTreeSet::from(["FLEXIBLE", "OFF"]));
    let flexible = windows
        .iter()
        .find(|w| w.get("Mode").and_then(Yaml::as_str) == Some("FLEXIBLE"))
        .expect("flexible");
    assert_eq!(
        flexible.get("MaximumWindowInMinutes").and_then(ref_name),
        Some("ScheduleWindowMinutes")
    );
    let window = member["Parameters"]["ScheduleWindowMinutes"].clone();
    assert_eq!(window.get("Default").and_then(Yaml::as_u64), Some(60));
    assert_eq!(window.get("MaxValue").and_then(Yaml::as_u64), Some(1440));

    // The schedule puts a custom event on this account's default bus.
    let target = schedule.get("Target").expect("Target");
    assert!(
        text(target.get("Arn").expect("Arn"))
            .expect("!Sub")
            .ends_with(":event-bus/default")
    );
    let source = target["EventBridgeParameters"]["Source"]
        .as_str()
        .expect("Source");
    let detail_type = target["EventBridgeParameters"]["DetailType"]
        .as_str()
        .expect("DetailType");
    assert!(
        !source.starts_with("aws."),
        "PutEvents refuses aws.* sources"
    );
    let detail_text = text(target.get("Input").expect("Input"))
        .expect("!Sub")
        .replace("${AWS::AccountId}", "111122223333")
        .replace("${AWS::Region}", "eu-west-1")
        .replace("<aws.scheduler.scheduled-time>", "2026-11-30T03:00:00Z");
    let detail: Json = serde_json::from_str(&detail_text)
        .unwrap_or_else(|e| panic!("{detail_text} is not JSON: {e}"));
    assert_eq!(
        detail["scheduledAt"], "2026-11-30T03:00:00Z",
        "the nominal time"
    );

    // The member rule forwards exactly those events to the hub bus.
    let (pattern, _) = forwarder(&member, "ScheduledScanForwarder");
    assert_eq!(
        pattern.get("source").map(strings),
        Some(vec![source.to_owned()])
    );
    assert_eq!(
        pattern.get("detail-type").map(strings),
        Some(vec![detail_type.to_owned()])
    );

    // The hub rule matches them and builds the execution input.
    let hub = template(HUB);
    let rule = props(resource(&hub, "ScheduledScanRule"));
    assert_eq!(rule.get("EventBusName").and_then(ref_name), Some("ScanBus"));
    let hub_pattern = rule.get("EventPattern").expect("EventPattern");
    assert_eq!(hub_pattern, pattern, "hub pattern vs member forwarder");
    let target = &rule
        .get("Targets")
        .and_then(Yaml::as_sequence)
        .expect("Targets")[0];
    assert_eq!(
        ref_name(target.get("Arn").expect("Arn")),
        Some("ScanStateMachine")
    );
    // The event as it reaches the hub bus from member 111122223333, half an hour into the
    // flexible window.
    let event = serde_json::json!({
        "version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
        "detail-type": detail_type, "source": source,
        "account": "111122223333", "time": "2026-11-30T03:31:07Z", "region": "eu-west-1",
        "resources": [], "detail": detail
    });
    let input = transform(
        target.get("InputTransformer").expect("InputTransformer"),
        &event,
    );
    let parsed = ExecutionInput::from_json(&input)
        .unwrap_or_else(|e| panic!("{input} is not an execution input: {e}"));
    assert_eq!(
        parsed.scheduled_at.as_deref(),
        Some("2026-11-30T03:00:00Z"),
        "the nominal scheduled time, not the moment it fired"
    );
    let request = parsed
        .validate()
        .unwrap_or_else(|e| panic!("{input} is not a valid execution input: {e}"));
    assert_eq!(request.account_id, "111122223333");
    assert_eq!(request.region, "eu-west-1");
    assert!(request.rerun.is_none());

    // The schedule's role may only put events on the default bus, for this schedule.
    let role = props(resource(&member, "ScanScheduleRole"));
    assert_eq!(
        allowed_actions(role.get("Policies").expect("Policies")),
        to_set(&["events:PutEvents"])
    );
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        trust["Principal"]["Service"].as_str(),
        Some("scheduler.amazonaws.com")
    );
    let source_arn = trust["Condition"]["ArnEquals"]
        .get("aws:SourceArn")
        .and_then(text)
        .expect("aws:SourceArn");
    assert!(
        source_arn.ends_with(&format!(":schedule/default/{schedule_name}")),
        "{source_arn}"
    );
}

#[test]
fn the_forwarding_role_serves_exactly_the_forwarding_rules() {
    let member = template(MEMBER);
    let names: BTreeSet<String> = ["ScheduledScanForwarder", "SettingsChangeForwarder"]
        .iter()
        .map(|id| forwarder(&member, id).1)
        .collect();
    let role = props(resource(&member, "ForwardToHubRole"));
    assert_eq!(
        allowed_actions(role.get("Policies").expect("Policies")),
        to_set(&["events:PutEvents"])
    );
    let arns: BTreeSet<String> =
        role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"]
            .as_sequence()
            .expect("one ARN per rule")
            .iter()
            .filter_map(text)
            .filter_map(|a| a.rsplit_once(":rule/").map(|(_, n)| n.to_owned()))
            .collect();
    assert_eq!(arns, names);
}

#[test]
fn settings_changes_reach_the_fleet_watch_and_its_schedule_input_is_what_it_reads() {
    let member = template(MEMBER);
    let (pattern, _) = forwarder(&member, "SettingsChangeForwarder");
    assert_eq!(
        pattern.get("source").map(strings),
        Some(vec!["aws.ssm".to_owned()])
    );
    assert_eq!(
        pattern.get("detail-type").map(strings),
        Some(vec![fleet_watch::PARAMETER_STORE_CHANGE.to_owned()])
    );
    assert_eq!(
        pattern["detail"]["name"]
            .as_sequence()
            .and_then(|s| s.first())
            .and_then(ref_name),
        Some("SettingsParameterName"),
        "the member's own settings parameter"
    );

    let hub = template(HUB);
    let function = props(resource(&hub, "FleetWatchFunction"));
    let events = function.get("Events").expect("Events");
    let rule = &events["SettingsChanged"];
    assert_eq!(rule["Type"].as_str(), Some("EventBridgeRule"));
    assert_eq!(
        rule["Properties"].get("EventBusName").and_then(ref_name),
        Some("ScanBus")
    );
    assert_eq!(
        &rule["Properties"]["Pattern"], pattern,
        "hub pattern vs member forwarder"
    );

    let daily = &events["DailyCheck"];
    assert_eq!(daily["Type"].as_str(), Some("ScheduleV2"));
    assert_eq!(
        daily["Properties"]
            .get("ScheduleExpression")
            .and_then(ref_name),
        Some("FleetWatchSchedule")
    );
    let schedule = parameter_default(&hub, "FleetWatchSchedule")
        .as_str()
        .expect("default");
    scanflow_core::schedule::Schedule::parse(schedule).expect("the default schedule parses");
    let grace = parameter_default(&hub, "FleetWatchGraceHours")
        .as_u64()
        .expect("default");
    assert_eq!(
        grace,
        u64::from(scanflow_cli::local::FLEET_WATCH_GRACE_HOURS),
        "scanflow run uses the hub's default grace"
    );
    let max = hub["Parameters"]["FleetWatchGraceHours"]["MaxValue"]
        .as_u64()
        .expect("MaxValue");
    assert_eq!(max, u64::from(fleet_watch::MAX_GRACE_HOURS));
    let input = text(&daily["Properties"]["Input"])
        .expect("!Sub")
        .replace("${FleetWatchGraceHours}", &grace.to_string())
        .replace("<aws.scheduler.scheduled-time>", "2026-12-01T06:00:00Z");
    let check: fleet_watch::CheckInput = serde_json::from_str(&input)
        .unwrap_or_else(|e| panic!("{input} is not the check's input: {e}"));
    assert_eq!(check.check, "fleet");
    assert_eq!(u64::from(check.grace_hours), grace);

    // The org rollup: its own schedule, the same function, the same grace.
    let rollup = &events["Rollup"];
    assert_eq!(rollup["Type"].as_str(), Some("ScheduleV2"));
    assert_eq!(
        rollup["Properties"]
            .get("ScheduleExpression")
            .and_then(ref_name),
        Some("RollupSchedule")
    );
    let schedule = parameter_default(&hub, "RollupSchedule")
        .as_str()
        .expect("default");
    scanflow_core::schedule::Schedule::parse(schedule).expect("the rollup's schedule parses");
    let input = text(&rollup["Properties"]["Input"])
        .expect("!Sub")
        .replace("${FleetWatchGraceHours}", &grace.to_string())
        .replace("<aws.scheduler.scheduled-time>", "2026-12-01T07:00:00Z");
    let check: fleet_watch::CheckInput = serde_json::from_str(&input)
        .unwrap_or_else(|e| panic!("{input} is not the rollup's input: {e}"));
    assert_eq!(check.check, "rollup");

    // Asynchronous invocations: reserved concurrency and a dead-letter queue, both alarmed.
    assert!(
        function
            .get("ReservedConcurrentExecutions")
            .and_then(Yaml::as_u64)
            .is_some()
    );
    assert_eq!(
        function_property(&hub, resource(&hub, "FleetWatchFunction"), "MemorySize")
            .and_then(Yaml::as_u64),
        Some(128)
    );
    let dlq = function["DeadLetterQueue"]
        .get("TargetArn")
        .and_then(get_att_arn)
        .expect("DeadLetterQueue");
    for event in ["SettingsChanged", "DailyCheck"] {
        assert_eq!(
            events[event]["Properties"]["DeadLetterConfig"]
                .get("Arn")
                .and_then(get_att_arn),
            Some(dlq),
            "{event}"
        );
    }
    assert!(props(resource(&hub, dlq)).get("KmsMasterKeyId").is_some());
}

#[test]
fn the_hub_bus_accepts_only_the_organization() {
    let hub = template(HUB);
    let policy = props(resource(&hub, "ScanBusPolicy"));
    assert_eq!(
        policy.get("EventBusName").and_then(ref_name),
        Some("ScanBus")
    );
    let statement = policy.get("Statement").expect("Statement");
    assert_eq!(
        strings(statement.get("Action").expect("Action")),
        ["events:PutEvents"]
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]
            .get("aws:PrincipalOrgID")
            .and_then(ref_name),
        Some("OrganizationId")
    );
}

#[test]
fn member_settings_parse_as_the_adapter_reads_them() {
    let member = template(MEMBER);
    let value = props(resource(&member, "ScanSettings"))
        .get("Value")
        .expect("Value");
    let samples = [
        ("${Tagkey}", "Patch Group"),
        ("${Tagvalue}", "web"),
        ("${Duration}", "3600"),
        ("${AssessmentSchedule}", "cron(0 3 ? * MON *)"),
        ("${CisLevel}", "LEVEL_1"),
        (
            "${ClassicAssessmentTemplate.Arn}",
            "arn:aws:inspector:eu-west-1:111122223333:target/0-abc/template/0-def",
        ),
    ];
    let mut seen = BTreeSet::new();
    for leaf in if_leaves(value) {
        let mut json = text(leaf).expect("each branch is a !Sub string").to_owned();
        for (placeholder, sample) in samples {
            json = json.replace(placeholder, sample);
        }
        assert!(!json.contains("${"), "unknown placeholder in {json}");
        let settings = scanflow_aws::settings::parse("/scanflow/settings", &json)
            .unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(settings.duration_seconds, 3600);
        assert_eq!(
            settings.schedule.as_deref(),
            Some("cron(0 3 ? * MON *)"),
            "{json}: the fleet watch reads the schedule"
        );
        if let Some(tag) = &settings.tag {
            assert_eq!(
                (tag.key.as_str(), tag.value.as_str()),
                ("Patch Group", "web")
            );
        }
        assert_eq!(
            settings.assessment_template_arn.is_some(),
            settings.engine == Engine::Classic,
            "{json}: the template ARN comes with Classic only"
        );
        assert_eq!(
            settings.cis,
            (settings.engine == Engine::Inspector2)
                .then_some(scanflow_core::model::CisLevel::Level1),
            "{json}: the CIS level is written for Inspector v2 only"
        );
        seen.insert((settings.engine.as_str(), settings.tag.is_some()));
    }
    // classic/inspector2 × with/without tag.
    assert_eq!(seen.len(), 4, "{seen:?}");

    let engine = parameter_default(&member, "Engine")
        .as_str()
        .expect("Engine default");
    assert_eq!(Engine::parse(engine), Some(Engine::default()));
    let duration = member
        .get("Parameters")
        .and_then(|p| p.get("Duration"))
        .expect("Duration");
    let range = scanflow_core::input::DURATION_RANGE;
    assert_eq!(
        duration.get("MinValue").and_then(Yaml::as_u64),
        Some(u64::from(*range.start()))
    );
    assert_eq!(
        duration.get("MaxValue").and_then(Yaml::as_u64),
        Some(u64::from(*range.end()))
    );
}

#[test]
fn the_cis_level_parameter_offers_what_the_settings_reader_accepts_and_needs_v2_and_a_tag() {
    use scanflow_core::model::CisLevel;
    let member = template(MEMBER);
    let param = member
        .get("Parameters")
        .and_then(|p| p.get("CisLevel"))
        .expect("CisLevel parameter");
    let allowed = strings(param.get("AllowedValues").expect("AllowedValues"));
    assert_eq!(allowed, ["none", "LEVEL_1", "LEVEL_2"]);
    assert_eq!(
        parameter_default(&member, "CisLevel").as_str(),
        Some("none")
    );
    // Each value reads back as the level (or none) through the settings reader.
    for value in &allowed {
        let json = format!(
            r#"{{"engine":"inspector2","tagKey":"k","tagValue":"v","durationSeconds":3600,"cisLevel":"{value}"}}"#
        );
        let settings = scanflow_aws::settings::parse("/scanflow/settings", &json)
            .unwrap_or_else(|e| panic!("{json}: {e}"));
        let expected =
            (value != "none").then(|| CisLevel::parse("cisLevel", value).expect("a level"));
        assert_eq!(settings.cis, expected, "{value}");
    }
    // A level without a tag, or for Classic, is refused by the stack itself, as start-run
    // would refuse it (cis::refuse_untargeted).
    let rule = member
        .get("Rules")
        .and_then(|r| r.get("CisNeedsInspector2AndATag"))
        .expect("Rules.CisNeedsInspector2AndATag");
    let condition = format!("{:?}", rule.get("RuleCondition").expect("RuleCondition"));
    assert!(
        condition.contains("CisLevel") && condition.contains("none"),
        "{condition}"
    );
    let assertions = format!("{:?}", rule.get("Assertions").expect("Assertions"));
    for needle in ["Engine", "inspector2", "Tagkey"] {
        assert!(assertions.contains(needle), "{needle}: {assertions}");
    }
}

#[test]
fn classic_rules_packages_are_mapped_for_every_classic_region() {
    let member = template(MEMBER);
    let mapping = member
        .get("Mappings")
        .and_then(|m| m.get("ClassicRulesPackages"))
        .and_then(Yaml::as_mapping)
        .expect("Mappings.ClassicRulesPackages");
    let regions: BTreeSet<&str> = mapping.keys().filter_map(Yaml::as_str).collect();
    assert_eq!(regions, CLASSIC_REGIONS.into_iter().collect());
    for (region, entry) in mapping {
        let region = region.as_str().expect("region");
        let arns = strings(entry.get("Arns").expect("Arns"));
        let gov = region.starts_with("us-gov-");
        // CVE, CIS, Network Reachability, Security Best Practices; GovCloud lacks Network
        // Reachability.
        assert_eq!(arns.len(), if gov { 3 } else { 4 }, "{region}");
        let owners: BTreeSet<&str> = arns.iter().filter_map(|a| a.split(':').nth(4)).collect();
        assert_eq!(owners.len(), 1, "{region}: one Inspector service account");
        for arn in &arns {
            let parts: Vec<&str> = arn.split(':').collect();
            assert_eq!(parts.len(), 6, "{arn}");
            assert_eq!(parts[1], if gov { "aws-us-gov" } else { "aws" }, "{arn}");
            assert_eq!((parts[2], parts[3]), ("inspector", region), "{arn}");
            assert!(parts[5].starts_with("rulespackage/0-"), "{arn}");
        }
    }
}

#[test]
fn the_member_template_is_plain_cloudformation() {
    let text = read(MEMBER);
    let member = template(MEMBER);
    assert!(
        member.get("Transform").is_none(),
        "StackSets take no transforms"
    );
    assert!(!text.contains("AWS::Serverless"), "no SAM resources");
    assert!(!text.contains("Fn::ForEach"), "no language extensions");
    assert!(
        resources_of_type(&member, "AWS::CloudFormation::Stack").is_empty(),
        "no nested stacks"
    );
    // DEPLOY.md passes it as --template-body, which CloudFormation caps at 51,200 bytes.
    assert!(text.len() <= 51_200, "{MEMBER} is {} bytes", text.len());
}

// ------------------------------------------------------------------------------------------
// Notifications
// ------------------------------------------------------------------------------------------

#[test]
fn subscriptions_filter_on_the_kinds_publish_sets() {
    let hub = template(HUB);
    let filters: BTreeMap<String, (String, Json)> =
        resources_of_type(&hub, "AWS::SNS::Subscription")
            .into_iter()
            .filter(|(_, s)| props(s).get("TopicArn").and_then(ref_name) == Some("ScanTopic"))
            .map(|(_, s)| {
                let p = props(s);
                let protocol = p
                    .get("Protocol")
                    .and_then(Yaml::as_str)
                    .expect("Protocol")
                    .to_owned();
                let endpoint = p
                    .get("Endpoint")
                    .and_then(ref_name)
                    .expect("Endpoint")
                    .to_owned();
                let filter: Json =
                    serde_json::to_value(p.get("FilterPolicy").expect("FilterPolicy"))
                        .expect("FilterPolicy is plain JSON");
                assert_eq!(
                    p.get("FilterPolicyScope").and_then(Yaml::as_str),
                    Some("MessageAttributes"),
                    "{protocol}"
                );
                (protocol, (endpoint, filter))
            })
            .collect();
    // The deployed filters are the ones `scanflow run` simulates.
    let expect =
        |sub: Subscription| serde_json::json!({ message::ATTR_KIND: sub.accepted_kinds() });
    // The central address's depends on CentralEmailReceives: rollup, or everything.
    let (endpoint, central) = filters.get("email").expect("e-mail subscription");
    assert_eq!(endpoint, "DestinationEmailAddress");
    assert_eq!(
        central,
        &serde_json::json!({"!If": [
            "CentralRollupOnly",
            { message::ATTR_KIND: scanflow_sandbox::CentralEmail::Rollup.accepted_kinds() },
            { message::ATTR_KIND: scanflow_sandbox::CentralEmail::Everything.accepted_kinds() },
        ]})
    );
    assert_eq!(
        hub["Parameters"]["CentralEmailReceives"]["AllowedValues"],
        serde_yaml::from_str::<Yaml>("[everything, rollup]").expect("yaml")
    );
    assert_eq!(
        serde_json::to_value(scanflow_sandbox::CentralEmail::Rollup).expect("json"),
        "rollup"
    );
    assert_eq!(
        Subscription::Email.accepted_kinds(),
        scanflow_sandbox::CentralEmail::Everything.accepted_kinds()
    );

    // Owners: the member stack subscribes up to MAX_OWNERS addresses, filtered on its account.
    let member = template("templates/member.yaml");
    let owners: Vec<_> = resources_of_type(&member, "AWS::SNS::Subscription");
    assert_eq!(owners.len(), scanflow_sandbox::MAX_OWNERS);
    for (name, sub) in owners {
        let p = props(sub);
        assert_eq!(
            p.get("TopicArn").and_then(ref_name),
            Some("HubTopicArn"),
            "{name}"
        );
        assert_eq!(
            p.get("Protocol").and_then(Yaml::as_str),
            Some("email"),
            "{name}"
        );
        let filter: Json =
            serde_json::to_value(p.get("FilterPolicy").expect("FilterPolicy")).expect("plain JSON");
        assert_eq!(
            filter,
            serde_json::json!({
                message::ATTR_KIND: Subscription::Owner.accepted_kinds(),
                message::ATTR_ACCOUNT: [{"!Ref": "AWS::AccountId"}],
            }),
            "{name}"
        );
        let condition = sub
            .get("Condition")
            .and_then(Yaml::as_str)
            .expect("Condition");
        let text = serde_json::to_string(&member["Conditions"][condition]).expect("json");
        assert!(text.contains("SubscribeOwners"), "{name}: {text}");
    }
    let subscribe = serde_json::to_string(&member["Conditions"]["SubscribeOwners"]).expect("json");
    assert!(
        subscribe.contains("CreateScanRole"),
        "one Region's stack per account subscribes the owners: {subscribe}"
    );
    assert_eq!(
        filters.get("https"),
        Some(&("HTTPEndpoint".to_owned(), expect(Subscription::Https)))
    );
    // SNS e-mail takes at most 10 messages a second: the SIEM parts never go there.
    assert!(
        !Subscription::Email
            .accepted_kinds()
            .contains(&message::KIND_SIEM)
    );
    assert_eq!(filters.len(), 2, "{filters:?}");

    let siem = resources_of_type(&hub, "AWS::SNS::Subscription")
        .into_iter()
        .find(|(_, s)| props(s).get("Protocol").and_then(Yaml::as_str) == Some("https"))
        .expect("https subscription")
        .1;
    let dlq = props(siem)["RedrivePolicy"]
        .get("deadLetterTargetArn")
        .and_then(get_att_arn);
    let queue = resource(&hub, dlq.expect("RedrivePolicy.deadLetterTargetArn"));
    assert!(
        props(queue).get("KmsMasterKeyId").is_some(),
        "the SIEM dead-letter queue is encrypted"
    );

    // The publish function publishes to the topic it is told about.
    let publish = props(resource(&hub, "PublishFunction"));
    assert_eq!(
        publish["Environment"]["Variables"]
            .get(iam::ENV_TOPIC_ARN)
            .and_then(ref_name),
        Some("ScanTopic")
    );
}

// ------------------------------------------------------------------------------------------
// checkov exceptions
// ------------------------------------------------------------------------------------------

#[test]
fn every_checkov_skip_gives_its_reason() {
    for rel in [HUB, MEMBER] {
        let doc = template(rel);
        for (id, r) in resources(&doc) {
            let Some(skips) = r
                .get("Metadata")
                .and_then(|m| m.get("checkov"))
                .and_then(|c| c.get("skip"))
            else {
                continue;
            };
            for skip in skips.as_sequence().expect("skip is a list") {
                let check = skip.get("id").and_then(Yaml::as_str).unwrap_or_default();
                let reason = skip
                    .get("comment")
                    .and_then(Yaml::as_str)
                    .unwrap_or_default();
                assert!(
                    check.starts_with("CKV"),
                    "{rel}: {id}: skip without a check id"
                );
                assert!(
                    reason.split_whitespace().count() >= 8,
                    "{rel}: {id}: {check} needs a reason"
                );
            }
        }
    }
}

/// An S3 resource pattern (`*` matches anything, `/` included) against a key.
fn glob(pattern: &str, key: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = key.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = parts.collect();
    for (i, piece) in pieces.iter().enumerate() {
        if i == pieces.len() - 1 {
            return rest.ends_with(piece);
        }
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// The bucket key patterns `function`'s role may call `action` on (`${ReportBucket.Arn}/…`).
fn bucket_grants(hub: &Yaml, function: &str, action: &str) -> Vec<String> {
    let f = resource(hub, &logical_id_for(function));
    let policies = props(f).get("Policies").expect("Policies");
    allow_statements(policies)
        .into_iter()
        .filter(|s| {
            strings(s.get("Action").expect("Action"))
                .iter()
                .any(|a| a == action)
        })
        .flat_map(|s| {
            let resources = s.get("Resource").expect("Resource");
            let list: Vec<&Yaml> = match resources {
                Yaml::Sequence(seq) => seq.iter().collect(),
                one => vec![one],
            };
            list.into_iter()
                .filter_map(|r| match intrinsic(r) {
                    Some((tag, inner)) if tag == "Sub" => inner.as_str().map(str::to_owned),
                    _ => None,
                })
                .filter_map(|p| p.strip_prefix("${ReportBucket.Arn}/").map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn each_function_may_read_and_write_the_bucket_keys_it_uses() {
    use scanflow_core::keys;
    let run = scanflow_core::state::Run {
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        engine: Engine::Inspector2,
        run_id: "0b9f-77aa-report".into(),
        tag: None,
        duration_seconds: 3600,
        started_at: "2026-11-28T02:00:00Z".into(),
        deadline: "2026-11-28T03:00:00Z".into(),
        wait_seconds: 60,
        rerun: false,
        execution: "scan-111122223333-eu-west-1-20261128T02".into(),
        adopted: false,
        scheduled_at: None,
        sla_days: None,
        v2_readiness: None,
        cis: None,
    };
    let (a, r, exec) = (&run.account_id, &run.region, run.execution.as_str());
    let arn = format!("arn:aws:states:eu-west-1:999999999999:execution:scanflow-scan:{exec}");
    let (get, put) = ("s3:GetObject", "s3:PutObject");
    let uses: Vec<(&str, &str, String)> = vec![
        (
            "start-run",
            put,
            keys::schedule_claim(a, r, "2026-11-28T02:00:00Z"),
        ),
        (
            "start-run",
            get,
            keys::schedule_claim(a, r, "2026-11-28T02:00:00Z"),
        ),
        ("start-run", put, keys::execution_run(exec)),
        ("collect-findings", put, keys::manifest(&run)),
        ("collect-findings", put, keys::findings_chunk(&run, 0)),
        ("format", get, keys::manifest(&run)),
        ("format", get, keys::lifecycle_current(a, r)),
        ("format", put, keys::digest(&run)),
        ("format", put, keys::siem_part(&run, 1, 2)),
        ("format", put, keys::lifecycle_pending(&run)),
        ("publish", get, keys::digest(&run)),
        ("publish", get, keys::siem_part(&run, 1, 2)),
        ("publish", get, keys::findings_chunk(&run, 0)),
        (
            "publish",
            get,
            format!("{}/digest.json", keys::delivery_ledger(&run, exec)),
        ),
        (
            "publish",
            put,
            format!("{}/digest.json", keys::delivery_ledger(&run, exec)),
        ),
        ("publish", get, keys::lifecycle_pending(&run)),
        ("publish", put, keys::lifecycle_current(a, r)),
        ("publish", put, keys::last_delivery(a, r)),
        ("publish", get, keys::open_notices(a, r)),
        ("publish", put, keys::open_notices(a, r)),
        ("notify", get, keys::execution_run(exec)),
        (
            "notify",
            get,
            format!("{}/failure.json", keys::notice_ledger(&arn, 0, "FAILED")),
        ),
        (
            "notify",
            put,
            format!("{}/failure.json", keys::notice_ledger(&arn, 0, "FAILED")),
        ),
        ("notify", put, keys::execution_failure(exec)),
        ("notify", get, keys::execution_failure(exec)),
        ("notify", get, keys::open_notices(a, r)),
        ("notify", put, keys::open_notices(a, r)),
        ("fleet-watch", get, keys::registry_entry(a, r)),
        ("fleet-watch", put, keys::registry_entry(a, r)),
        ("fleet-watch", get, keys::last_delivery(a, r)),
        // The rollup reads each current state and its chunks, and writes its report.
        ("fleet-watch", get, keys::lifecycle_current(a, r)),
        (
            "fleet-watch",
            get,
            format!("{}/00000.jsonl", keys::lifecycle_pending_prefix(&run)),
        ),
        (
            "fleet-watch",
            put,
            "scanflow/fleet-watch/rollup-2026-12-01T07:00:00Z.json".to_owned(),
        ),
    ];
    let hub = template(HUB);
    for (function, action, key) in uses {
        let grants = bucket_grants(&hub, function, action);
        assert!(
            grants.iter().any(|g| glob(g, &key)),
            "{function} calls {action} on {key}, but its role grants it only on {grants:?}"
        );
    }
    assert!(glob(
        "scanflow/*/deliveries/*",
        "scanflow/a/b/c/deliveries/d.json"
    ));
    assert!(!glob("scanflow/state/*", "scanflow/111/deliveries/x"));
}

#[test]
fn the_functions_are_equals_no_step_depends_on_another() {
    let meta = cargo_metadata();
    let functions_dir = root().join("functions");
    let packages = meta["packages"].as_array().expect("packages");
    let is_function = |p: &Json| {
        Path::new(p["manifest_path"].as_str().unwrap_or_default()).starts_with(&functions_dir)
    };
    let functions: BTreeSet<&str> = packages
        .iter()
        .filter(|p| is_function(p))
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(functions.len() >= 6, "{functions:?}");
    for p in packages.iter().filter(|p| is_function(p)) {
        let name = p["name"].as_str().unwrap_or_default();
        for d in p["dependencies"].as_array().expect("dependencies") {
            let dep = d["name"].as_str().unwrap_or_default();
            let normal = d["kind"].is_null();
            assert!(
                !(normal && functions.contains(dep)),
                "{name} depends on the {dep} function: what they share belongs in crates/core or crates/documents"
            );
        }
    }
}

#[test]
fn the_siem_endpoint_may_carry_basic_auth_credentials_and_is_never_echoed() {
    let hub = template("templates/hub.yaml");
    let param = hub
        .get("Parameters")
        .and_then(|p| p.get("HTTPEndpoint"))
        .expect("HTTPEndpoint parameter");
    assert_eq!(
        param.get("NoEcho").and_then(Yaml::as_bool),
        Some(true),
        "credentials in the URL must not show in DescribeStacks"
    );
    let pattern = param
        .get("AllowedPattern")
        .and_then(Yaml::as_str)
        .expect("AllowedPattern");
    let re = regex::Regex::new(pattern).expect("the pattern is a regular expression");
    for good in [
        "https://siem.example.com/sns",
        "https://siem.example.com:8443/sns?tenant=1",
        "https://siem:s3cr%40t@siem.example.com/sns",
        "https://siem@siem.example.com/sns",
    ] {
        assert!(re.is_match(good), "{good} must be accepted");
    }
    for bad in [
        "http://siem.example.com/sns",
        "https://siem:pass@/sns",
        "https://si em:pass@siem.example.com/sns",
        "https://a:b@c@siem.example.com/sns",
        "https://siem.example.com/sns with space",
    ] {
        assert!(!re.is_match(bad), "{bad} must be refused");
    }
}

#[test]
fn the_siem_format_parameter_offers_exactly_the_formats_the_format_step_reads() {
    use scanflow_core::ports::SiemFormat;
    let hub = template(HUB);
    let param = hub
        .get("Parameters")
        .and_then(|p| p.get("SiemFormat"))
        .expect("SiemFormat parameter");
    let allowed = strings(param.get("AllowedValues").expect("AllowedValues"));
    assert_eq!(
        allowed,
        SiemFormat::ALL.map(|f| f.as_str().to_owned()),
        "AllowedValues vs scanflow_core::ports::SiemFormat::ALL"
    );
    assert_eq!(
        parameter_default(&hub, "SiemFormat").as_str(),
        Some(SiemFormat::default().as_str())
    );
    // Only the format function reads it, straight from the parameter.
    assert_read_only_by(&hub, iam::ENV_SIEM_FORMAT, "SiemFormat", &["format"]);
    // Each allowed value becomes that format in the hub configuration the handlers read.
    for value in &allowed {
        let config = config_with("format", iam::ENV_SIEM_FORMAT, value)
            .unwrap_or_else(|e| panic!("SIEM_FORMAT={value}: {e}"));
        assert_eq!(config.siem_format.as_str(), value);
    }
    // The scenario's hub section chooses it the same way (`scanflow run --siem-format` sets it).
    let scenario: scanflow_sandbox::Scenario = serde_json::from_value(serde_json::json!({
        "hub": {"accountId": "999988887777", "config": {"siemFormat": "ocsf"}},
        "accounts": [],
    }))
    .expect("a scenario choosing ocsf");
    assert_eq!(scenario.hub.hub_config().siem_format, SiemFormat::Ocsf);
}

#[test]
fn the_report_link_parameter_matches_the_range_publish_and_the_fleet_watch_read() {
    use scanflow_core::ports::{DEFAULT_REPORT_LINK_HOURS, hub_ranges};
    let hub = template(HUB);
    let param = &hub["Parameters"]["ReportLinkHours"];
    let bound = |name: &str| param.get(name).and_then(Yaml::as_u64);
    assert_eq!(
        bound("MinValue"),
        Some(u64::from(*hub_ranges::REPORT_LINK_HOURS.start()))
    );
    assert_eq!(
        bound("MaxValue"),
        Some(u64::from(*hub_ranges::REPORT_LINK_HOURS.end()))
    );
    assert_eq!(bound("Default"), Some(u64::from(DEFAULT_REPORT_LINK_HOURS)));
    // Exactly the functions that link a report read it, straight from the parameter.
    assert_read_only_by(
        &hub,
        iam::ENV_REPORT_LINK_HOURS,
        "ReportLinkHours",
        &["publish", "fleet-watch"],
    );
    // The limits and one past them, as the functions read the variable.
    let read = |hours: &str| {
        config_with("publish", iam::ENV_REPORT_LINK_HOURS, hours).map(|c| c.report_link_hours)
    };
    assert_eq!(read("0").ok(), Some(0));
    assert_eq!(read("168").ok(), Some(168));
    assert!(read("169").is_err());
}

#[test]
fn the_email_floor_parameter_offers_exactly_the_severities_format_reads() {
    use scanflow_core::model::Severity;
    let hub = template(HUB);
    let param = &hub["Parameters"]["EmailMinimumSeverity"];
    let allowed = strings(param.get("AllowedValues").expect("AllowedValues"));
    assert_eq!(allowed, Severity::ALL.map(|s| s.as_str().to_owned()));
    assert_eq!(
        parameter_default(&hub, "EmailMinimumSeverity").as_str(),
        Some(
            scanflow_core::ports::HubConfig::default()
                .email_min_severity
                .as_str()
        ),
        "the default lists every severity"
    );
    assert_read_only_by(
        &hub,
        iam::ENV_EMAIL_MIN_SEVERITY,
        "EmailMinimumSeverity",
        &["format"],
    );
    for value in &allowed {
        let config = config_with("format", iam::ENV_EMAIL_MIN_SEVERITY, value)
            .unwrap_or_else(|e| panic!("EMAIL_MIN_SEVERITY={value}: {e}"));
        assert_eq!(config.email_min_severity.as_str(), value);
    }
}

/// Asserts that exactly the `readers` functions have `variable`, straight from `!Ref parameter`.
fn assert_read_only_by(hub: &Yaml, variable: &str, parameter: &str, readers: &[&str]) {
    for (id, bin) in hub_functions(hub) {
        let value = props(resource(hub, &id))
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(|v| v.get(variable));
        assert_eq!(
            value.and_then(ref_name),
            readers.contains(&bin.as_str()).then_some(parameter),
            "{id}: {variable} is !Ref {parameter} on {readers:?} only"
        );
    }
}

/// `function`'s configuration as read from the hub's environment with `variable` = `value`
/// (and what the hub gives every function that needs it).
fn config_with(
    function: &str,
    variable: &str,
    value: &str,
) -> Result<scanflow_aws::config::Config, scanflow_aws::config::ConfigError> {
    scanflow_aws::config::Config::from_lookup(function, |name| match name {
        n if n == variable => Some(value.to_owned()),
        "HUB_ACCOUNT_ID" => Some("999999999999".to_owned()),
        "REPORT_KMS_KEY_ARN" => Some("arn:aws:kms:eu-west-1:999999999999:key/k".to_owned()),
        "REPORT_BUCKET" => Some("hub-reports".to_owned()),
        "SCAN_ROLE_NAME" => Some("scanflow-scan".to_owned()),
        "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:999999999999:scanflow".to_owned()),
        _ => None,
    })
}
