#![cfg(feature = "aws")]
//! `scanflow executions` against moto's Step Functions in its executing mode and its
//! CloudFormation: start (new, idempotent, conflicting), watch to the end, list, and read back
//! the input the command built. Needs `SCANFLOW_MOTO_URL` (a `moto_server` started with
//! `MOTO_PORT` equal to its port); skipped without it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use scanflow_cli::executions::{
    self, Clients, Error, Follow, ListArgs, Outcome, Profile, StartArgs,
};
use time::OffsetDateTime;

/// Runs with the scan's closing shape (Summary) or a failure (Failed), using only states
/// moto's interpreter runs.
const DEFINITION: &str = r#"{
  "StartAt": "Init",
  "States": {
    "Init": {"Type": "Pass", "Next": "IsBroken"},
    "IsBroken": {
      "Type": "Choice",
      "Choices": [{"Variable": "$.accountId", "StringEquals": "999999999999", "Next": "Failed"}],
      "Default": "Summary"
    },
    "Summary": {
      "Type": "Pass",
      "Parameters": {
        "accountId.$": "$.accountId", "region.$": "$.region", "engine": "classic", "runId": "run-1",
        "counts": {"critical": 1, "high": 2, "medium": 3, "low": 0, "informational": 0, "untriaged": 0},
        "instancesScanned": 4, "instancesNotScanned": 1, "messages": 2
      },
      "End": true
    },
    "Failed": {
      "Type": "Fail",
      "Error": "RoleNotAssumable",
      "Cause": "{\"errorType\":\"RoleNotAssumable\",\"errorMessage\":\"Could not assume the member role\"}"
    }
  }
}"#;

fn post(base: &str, path: &str, body: &str) -> String {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).expect("moto reachable");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    response
}

fn clients(url: &str) -> Clients {
    let credentials = Credentials::new("test", "test", None, None, "moto");
    let sfn = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials.clone())
        .build();
    let cfn = aws_sdk_cloudformation::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .build();
    Clients {
        sfn: aws_sdk_sfn::Client::from_conf(sfn),
        cfn: aws_sdk_cloudformation::Client::from_conf(cfn),
    }
}

fn start_args(stack: &str, account: &str) -> StartArgs {
    StartArgs {
        stack: executions::Stack {
            stack: stack.into(),
            stack_region: None,
        },
        account: Some(account.into()),
        region: Some("eu-west-1".into()),
        input: None,
        rerun_of: None,
        name: None,
        wait: true,
        follow: Follow { interval: 1 },
        profile: Profile::default(),
    }
}

#[tokio::test]
async fn start_watch_list_against_moto() {
    let Ok(url) = std::env::var("SCANFLOW_MOTO_URL") else {
        println!("skipped: SCANFLOW_MOTO_URL not set");
        return;
    };
    let answer = post(
        &url,
        "/moto-api/config",
        r#"{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}"#,
    );
    let status = answer.split(' ').nth(1).unwrap_or_default();
    assert!(status.starts_with('2'), "moto refused the config: {answer}");
    let clients = clients(&url);
    let unique = format!(
        "{}{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    );

    // moto's CloudFormation creates state machines outside its executing backend, so the
    // machine is created directly and the stack only carries its ARN as the output.
    let machine = clients
        .sfn
        .create_state_machine()
        .name(format!("scanflow-exec-{unique}"))
        .definition(DEFINITION)
        .role_arn("arn:aws:iam::123456789012:role/scanflow-test")
        .send()
        .await
        .expect("state machine created")
        .state_machine_arn()
        .to_owned();
    let stack = format!("scanflow-exec-{unique}");
    let template = serde_json::json!({
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"StateMachineArn": {"Value": machine}}
    });
    clients
        .cfn
        .create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .send()
        .await
        .expect("stack created");
    assert_eq!(
        executions::state_machine_arn(&clients.cfn, &stack)
            .await
            .expect("found"),
        machine
    );

    let follow = |args: StartArgs| {
        let clients = clients.clone();
        async move {
            let mut out = Vec::new();
            let now = OffsetDateTime::now_utc();
            let result = tokio::time::timeout(
                Duration::from_secs(60),
                executions::run_start(&clients, &args, now, false, &mut out),
            )
            .await
            .expect("finishes within a minute");
            (result, String::from_utf8(out).expect("utf-8"))
        }
    };

    // A scan: started, followed to its Summary.
    let (result, out) = follow(start_args(&stack, "111122223333")).await;
    let first = result.expect("started");
    assert_eq!(first.outcome, Some(Outcome::Succeeded), "{out}");
    assert!(
        first.name.starts_with("scan-111122223333-eu-west-1-"),
        "{}",
        first.name
    );
    for state in ["Init", "IsBroken", "Summary"] {
        assert!(out.contains(&format!("  {state} ")), "{state} in:\n{out}");
    }
    assert!(out.contains("findings: 1 critical · 2 high · 3 medium · 0 low · 0 informational · 0 untriaged (6 in all)"), "{out}");
    let described = clients
        .sfn
        .describe_execution()
        .execution_arn(&first.started.execution_arn)
        .send()
        .await
        .expect("described");
    let sent: serde_json::Value =
        serde_json::from_str(described.input().expect("input")).expect("json input");
    assert_eq!(
        sent,
        serde_json::json!({"accountId": "111122223333", "region": "eu-west-1"})
    );

    // The same command again: Step Functions refuses the closed name, the command finds it.
    let (again, out) = follow(start_args(&stack, "111122223333")).await;
    let again = again.expect("idempotent");
    assert_eq!(again.started.execution_arn, first.started.execution_arn);
    assert_eq!(again.started.existing, Some(ExecutionStatus::Succeeded));
    assert!(out.contains("already ran"), "{out}");

    // The same name with another input: a clear refusal.
    let mut other = start_args(&stack, "444455556666");
    other.name = Some(first.name.clone());
    let (conflict, _) = follow(other).await;
    let err = conflict.expect_err("different input");
    assert!(matches!(err, Error::DifferentInput { .. }), "{err}");

    // A failing scan: outcome, error, cause, notice and what to do.
    let (failed, out) = follow(start_args(&stack, "999999999999")).await;
    let failed = failed.expect("started");
    assert_eq!(failed.outcome, Some(Outcome::Failed), "{out}");
    assert!(
        out.contains("error:  RoleNotAssumable")
            && out.contains("cause:  Could not assume the member role"),
        "{out}"
    );
    assert!(
        out.contains("notify function sends the failure notice")
            && out.contains("scanflow executions redrive"),
        "{out}"
    );

    // Listed, by account and by status.
    let list = |account: Option<&str>, status: Option<&str>| ListArgs {
        stack: executions::Stack {
            stack: stack.clone(),
            stack_region: None,
        },
        status: status.map(Into::into),
        account: account.map(Into::into),
        since: Some("1h".into()),
        profile: Profile::default(),
    };
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::new();
    let listed = executions::run_list(&clients, &list(None, None), now, &mut out)
        .await
        .expect("listed");
    assert_eq!(listed.len(), 2, "{}", String::from_utf8_lossy(&out));
    let listed = executions::run_list(
        &clients,
        &list(Some("111122223333"), None),
        now,
        &mut Vec::new(),
    )
    .await
    .expect("listed");
    assert_eq!(
        listed.iter().map(|l| l.arn.as_str()).collect::<Vec<_>>(),
        [first.started.execution_arn.as_str()]
    );
    let listed = executions::run_list(&clients, &list(None, Some("FAILED")), now, &mut Vec::new())
        .await
        .expect("listed");
    assert_eq!(
        listed.iter().map(|l| l.arn.as_str()).collect::<Vec<_>>(),
        [failed.started.execution_arn.as_str()]
    );

    // A succeeded execution is not redriven; DescribeExecution says why before any redrive call.
    let err = executions::redrive(
        &clients.sfn,
        &first.started.execution_arn,
        now,
        &mut Vec::new(),
    )
    .await
    .expect_err("succeeded");
    assert!(
        matches!(err, Error::NotRedrivable { .. }) && err.to_string().contains("SUCCEEDED"),
        "{err}"
    );
}
