//! End-to-end: CIS benchmark scans beside Inspector v2's vulnerability findings
//! (`scenarios/cis.json`), two scans a week apart. A scan that passes, one whose instances
//! fail checks (one of them not SSM managed), one Inspector ends FAILED and one that never
//! finishes within the Duration: every account's vulnerability findings are delivered, its
//! failed checks are findings of kind `cis` in the SIEM and the digest, and the digest says
//! what happened to the benchmark. A CIS level on an account without a tag is refused. The
//! passing account also has a network reachability finding, delivered with its path.

use std::collections::BTreeMap;

use scanflow_asl::Status;
use scanflow_cli::local;
use scanflow_sandbox::Scenario;
use scanflow_tests::{of_kind, run, scenario_file, siem_documents, weekly, workflow};
use serde_json::Value;

const PASSES: &str = "313131313131";
const FAILS_CHECKS: &str = "323232323232";
const SCAN_FAILS: &str = "333333333333";
const NEVER_ENDS: &str = "343434343434";

/// Each delivery's findings parts of `account`, oldest first: (coverage.cis, findings).
fn deliveries(
    messages: &[scanflow_sandbox::PublishedMessage],
    account: &str,
) -> Vec<(Value, Vec<Value>, u64)> {
    let mut by_run: BTreeMap<String, (Value, Vec<Value>, u64)> = BTreeMap::new();
    for d in siem_documents(messages, account)
        .into_iter()
        .filter(|d| d["kind"] == "findings")
    {
        assert_eq!(d["schemaVersion"], "1.4");
        let at = d["run"]["collectedAt"]
            .as_str()
            .expect("collectedAt")
            .to_owned();
        let e = by_run.entry(at).or_default();
        if d["part"]["index"] == 1 {
            e.0 = d["coverage"]["cis"].clone();
            e.2 = d["summary"]["total"].as_u64().expect("total");
        }
        e.1.extend(d["findings"].as_array().expect("findings").iter().cloned());
    }
    by_run.into_values().collect()
}

fn digest_of(messages: &[scanflow_sandbox::PublishedMessage], account: &str) -> Vec<String> {
    of_kind(messages, "digest")
        .into_iter()
        .filter(|m| m.attributes.get("scanflow_account").map(String::as_str) == Some(account))
        .map(|m| m.message)
        .collect()
}

fn cis_findings(findings: &[Value]) -> Vec<&Value> {
    findings
        .iter()
        .filter(|f| f["detail"]["kind"] == "cis")
        .collect()
}

#[test]
fn cis_scans_deliver_failed_checks_and_never_hold_back_the_vulnerabilities() {
    let options = weekly(scenario_file("cis.json"), 2, "cis-weekly");
    let local = local::run(&workflow(), options).expect("the local run starts");
    let messages = local.sandbox.sns_messages();
    assert_eq!(local.executions.len(), 8);
    for e in &local.executions {
        assert_eq!(e.execution.status, Status::Succeeded, "{}", e.name);
    }

    // Passes: three instances checked, nothing failed, no CIS finding.
    for (cis, findings, total) in deliveries(&messages, PASSES) {
        assert_eq!(cis["outcome"]["state"], "completed");
        assert_eq!(
            (cis["checked"].as_u64(), cis["failing"].as_u64()),
            (Some(3), Some(0))
        );
        assert!(cis_findings(&findings).is_empty());
        assert_eq!(findings.len() as u64, total, "the SIEM has every finding");
    }
    for body in digest_of(&messages, PASSES) {
        assert!(body.contains("CIS BENCHMARK (LEVEL_1)"), "{body}");
        assert!(
            body.contains("checked 3 instances; none failed a check"),
            "{body}"
        );
        // Its one network reachability finding shows the path a triager follows.
        assert!(
            body.contains("TCP 22 open via igw-0a1b2c3d4e5f60718 > rtb-0a1b2c3d4e5f60719 >"),
            "{body}"
        );
    }
    for (_, findings, _) in deliveries(&messages, PASSES) {
        let open: Vec<_> = findings
            .iter()
            .filter(|f| f["detail"]["kind"] == "networkReachability")
            .collect();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0]["detail"]["network"]["portFrom"], 22);
        assert_eq!(
            open[0]["detail"]["network"]["steps"]
                .as_array()
                .map(Vec::len),
            Some(4)
        );
        assert_eq!(
            open[0]["detail"]["network"]["steps"][0]["componentType"],
            "AWS::EC2::InternetGateway"
        );
    }

    // Fails checks, at LEVEL_2: 1.1.1.1 (Level 1) and 1.6.1.3 (Level 2) on the three managed
    // instances, 5.2.8 (Level 1) on web-1; the unmanaged instance is not checked.
    let runs = deliveries(&messages, FAILS_CHECKS);
    assert_eq!(runs.len(), 2);
    for (k, (cis, findings, total)) in runs.iter().enumerate() {
        assert_eq!(cis["outcome"]["state"], "completed");
        assert_eq!(cis["level"], "LEVEL_2");
        assert_eq!(
            (cis["checked"].as_u64(), cis["failing"].as_u64()),
            (Some(3), Some(3))
        );
        assert_eq!(cis["notCheckedTotal"], 1);
        assert_eq!(cis["notChecked"][0]["reason"], "SSM_UNMANAGED");
        let failed = cis_findings(findings);
        assert_eq!(failed.len(), 7, "3 + 3 + 1 failed checks");
        let by_severity = |s: &str| failed.iter().filter(|f| f["severity"] == s).count();
        assert_eq!(
            (by_severity("MEDIUM"), by_severity("LOW")),
            (4, 3),
            "Level 1 MEDIUM, Level 2 LOW"
        );
        assert_eq!(findings.len() as u64, *total, "the SIEM has every finding");
        assert!(
            findings.len() > failed.len(),
            "the vulnerabilities are there too"
        );
        for f in &failed {
            assert!(
                f["vulnerabilityId"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("CIS "))
            );
            assert!(
                f["detail"]["cis"]["scanArn"]
                    .as_str()
                    .is_some_and(|a| a.contains(":owner/323232323232/cis-scan/"))
            );
            assert_eq!(
                f["identity"]
                    .as_str()
                    .map(|i| i.starts_with("cis:323232323232:eu-west-1:i-")),
                Some(true)
            );
            // The same check on the same instance a week later is the same finding, whatever
            // ARN the new scan gives it.
            let expected = if k == 0 { "new" } else { "open" };
            assert_eq!(f["lifecycle"], expected, "{f}");
        }
    }
    let bodies = digest_of(&messages, FAILS_CHECKS);
    // README's excerpt is this digest's, word for word.
    let readme =
        std::fs::read_to_string(scanflow_tests::repo_root().join("README.md")).expect("README");
    let start = readme
        .find("CIS BENCHMARK (LEVEL_2)")
        .expect("README shows a CIS section");
    let excerpt = &readme[start..start + readme[start..].find("\n  ...").expect("its end")];
    assert!(
        bodies[0].contains(excerpt),
        "README's excerpt is not the digest's:\n{excerpt}"
    );
    assert!(
        bodies[0].contains("checked 3 instances; 3 instances failed at least one"),
        "{}",
        bodies[0]
    );
    assert!(
        bodies[0].contains("i-0c150000000007e49: SSM_UNMANAGED"),
        "{}",
        bodies[0]
    );
    assert!(
        bodies[0].contains("CIS 1.1.1.1 Ensure mounting of cramfs filesystems is"),
        "{}",
        bodies[0]
    );
    assert!(
        bodies[0].contains("on 3 instances"),
        "one line for one check on three instances"
    );

    // Inspector ended the scan FAILED: no CIS results, vulnerabilities delivered, and said.
    for (cis, findings, total) in deliveries(&messages, SCAN_FAILS) {
        assert_eq!(cis["outcome"]["state"], "failed");
        assert_eq!(cis["outcome"]["status"], "FAILED");
        assert!(cis_findings(&findings).is_empty());
        assert!(total > 0 && findings.len() as u64 == total);
    }
    for body in digest_of(&messages, SCAN_FAILS) {
        assert!(
            body.contains("scan ended FAILED, so this report has no CIS results"),
            "{body}"
        );
    }

    // Never finishes: check-status gives up at the Duration and the digest says so.
    for (cis, findings, total) in deliveries(&messages, NEVER_ENDS) {
        assert_eq!(cis["outcome"]["state"], "notFinished");
        assert!(cis_findings(&findings).is_empty());
        assert!(total > 0);
    }
    for body in digest_of(&messages, NEVER_ENDS) {
        assert!(
            body.contains("did not finish within the account's Duration (3600"),
            "{body}"
        );
    }
    let waited = local
        .executions
        .iter()
        .find(|e| e.input["accountId"] == NEVER_ENDS)
        .expect("an execution");
    let took = waited.execution.end_time - waited.execution.start_time;
    assert!(
        took >= time::Duration::seconds(3600),
        "it waited out the Duration: {took}"
    );
    // The deadline is the Duration plus the hub's evaluation allowance (30 minutes).
    assert!(
        took <= time::Duration::seconds(3600 + 1800 + 60),
        "and no longer than the deadline: {took}"
    );

    // The fleet watch names the two account-Regions whose CIS scan delivered nothing, and
    // only them, with what to do: the rollup is where a team of 300 accounts looks.
    let watch = local.fleet_watch.as_ref().expect("the fleet watch ran");
    let cis: Vec<(&str, String)> = watch
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.problem,
                scanflow_core::fleet::Problem::CisIncomplete { .. }
            )
        })
        .map(|f| (f.account_id.as_str(), f.summary()))
        .collect();
    assert_eq!(cis.len(), 2, "{cis:?}");
    assert_eq!(cis[0].0, SCAN_FAILS);
    assert!(cis[0].1.contains("ended FAILED"), "{cis:?}");
    assert_eq!(cis[1].0, NEVER_ENDS);
    assert!(
        cis[1].1.contains("did not finish within the Duration"),
        "{cis:?}"
    );

    // The calls AWS would see: one CreateCisScanConfiguration per execution, one
    // GetCisScanResultDetails per failing instance per scan.
    let calls = local.sandbox.api_calls();
    assert_eq!(calls.get("inspector2:CreateCisScanConfiguration"), Some(&8));
    assert_eq!(calls.get("inspector2:GetCisScanResultDetails"), Some(&6));
}

#[test]
fn a_cis_level_without_a_tag_is_refused_before_anything_starts() {
    let mut doc: Value =
        serde_json::to_value(scenario_file("cis.json")).expect("the scenario is JSON");
    let accounts = doc["accounts"].as_array_mut().expect("accounts");
    accounts.truncate(1);
    accounts[0]["settings"]
        .as_object_mut()
        .expect("settings")
        .remove("tag");
    let scenario = Scenario::from_json(&doc.to_string()).expect("a valid scenario");
    let local = run(scenario, vec![], "cis-no-tag", None);
    let e = &local.executions[0];
    assert_eq!(e.execution.status, Status::Failed);
    let error = e.execution.error.as_deref().unwrap_or_default();
    let cause = e.execution.cause.as_deref().unwrap_or_default();
    assert_eq!(error, "InvalidInput", "{cause}");
    assert!(cause.contains("cisLevel"), "{cause}");
    assert!(cause.contains("targetResourceTags is required"), "{cause}");
    let calls = local.sandbox.api_calls();
    assert!(!calls.contains_key("inspector2:CreateCisScanConfiguration"));
    assert!(
        !calls.contains_key("inspector2:ListCoverage"),
        "nothing was started: {calls:?}"
    );
}
