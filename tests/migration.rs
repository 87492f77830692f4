//! End-to-end: moving from Inspector Classic to v2 (`scenarios/classic-migration.json`). Each
//! Classic account's owners are told whether v2's EC2 scanning is enabled and what changes; an
//! account whose Classic no longer answers learns from its failure notice what to switch; an
//! input asking for Classic on an account whose member stack wrote no Classic template is
//! refused before any Inspector call.

use scanflow_asl::Status;
use scanflow_documents::digest::fits_width;
use scanflow_sandbox::{PublishedMessage, Subscription};
use scanflow_tests::{of_kind, run, scenario_file};
use serde_json::json;

const READY: &str = "222233334444";
const NOT_READY: &str = "555566667777";
const CLASSIC_GONE: &str = "888899990000";
const MOVED: &str = "121212121212";

/// The one message of `kind` about `account`, checked to reach that account's owner.
fn told(messages: &[PublishedMessage], kind: &str, account: &str, owner: &str) -> String {
    let mine: Vec<PublishedMessage> = of_kind(messages, kind)
        .into_iter()
        .filter(|m| m.attributes.get("scanflow_account").map(String::as_str) == Some(account))
        .collect();
    assert_eq!(mine.len(), 1, "{account}: one {kind}");
    let m = &mine[0];
    assert!(
        m.deliveries
            .iter()
            .any(|d| d.subscription == Subscription::Owner && d.endpoint.as_deref() == Some(owner)),
        "{account}: the {kind} reaches {owner}: {:?}",
        m.deliveries
    );
    m.message.clone()
}

/// The digest's migration section: from its heading to the next blank line.
fn section(digest: &str) -> Option<String> {
    let start = digest.find("MOVING TO INSPECTOR V2")?;
    let rest = &digest[start..];
    Some(rest[..rest.find("\n\n").unwrap_or(rest.len())].to_owned())
}

#[test]
fn each_classic_account_is_told_whether_it_can_move_and_what_changes() {
    let local = run(
        scenario_file("classic-migration.json"),
        vec![],
        "migration",
        None,
    );
    let messages = local.sandbox.sns_messages();

    let ready = told(&messages, "digest", READY, "payments-team@example.com");
    let s = section(&ready).expect("a Classic account's digest has the section");
    for said in [
        "Inspector v2 EC2 scanning is ENABLED in 222233334444 (us-east-1)",
        "the account\nis ready. Set the member stack's Engine parameter to inspector2.",
        "tagged Scan=true (its resource\n    group)",
        "InspectorEc2Exclusion",
        "scanned (and billed) but not reported",
        "the 900 seconds",
        "only\n    decides when results are delivered",
        "every finding as new",
    ] {
        assert!(s.contains(said), "{said:?} not in:\n{s}");
    }

    let not_ready = told(&messages, "digest", NOT_READY, "data-team@example.com");
    let s = section(&not_ready).expect("section");
    assert!(
        s.contains("is DISABLED in 555566667777 (eu-west-1): not ready."),
        "{s}"
    );
    assert!(
        s.contains("Enable Inspector v2 EC2 scanning there first"),
        "{s}"
    );
    assert!(!s.contains("is ready"), "{s}");
    assert!(s.contains("tagged Patch=weekly"), "{s}");

    for digest in [&ready, &not_ready] {
        let long: Vec<&str> = digest.lines().filter(|l| !fits_width(l)).collect();
        assert!(long.is_empty(), "lines over 78 characters: {long:#?}");
    }

    // Classic no longer answers there: the failure notice says v2 is ready and what to change.
    let gone = local
        .executions
        .iter()
        .find(|ex| ex.input["accountId"] == json!(CLASSIC_GONE))
        .expect("the account's execution");
    assert_eq!(gone.execution.status, Status::Failed);
    assert_eq!(gone.execution.error.as_deref(), Some("InspectorDisabled"));
    let notice = told(&messages, "failure", CLASSIC_GONE, "web-team@example.com");
    let one_line = notice.replace('\n', " ");
    assert!(
        one_line.contains("Inspector Classic ended on 2026-05-20. Inspector v2 EC2 scanning is ENABLED in 888899990000 (us-west-2)"),
        "{notice}"
    );
    assert!(
        one_line.contains("Set the member stack's Engine parameter to inspector2"),
        "{notice}"
    );
    assert!(
        of_kind(&messages, "digest").iter().all(|m| m
            .attributes
            .get("scanflow_account")
            .map(String::as_str)
            != Some(CLASSIC_GONE)),
        "nothing was scanned, so no digest"
    );

    // README's and DEPLOY.md's excerpts are this output, verbatim (up to their "  ...").
    for (doc, digest) in [("README.md", &ready), ("templates/DEPLOY.md", &not_ready)] {
        let text = std::fs::read_to_string(scanflow_tests::repo_root().join(doc)).expect(doc);
        let start = text
            .find("MOVING TO INSPECTOR V2 (")
            .unwrap_or_else(|| panic!("{doc} shows the section"));
        let excerpt = &text[start..];
        let excerpt = &excerpt[..excerpt.find("  ...\n").expect("the excerpt ends with ...")];
        assert!(
            digest.contains(excerpt),
            "{doc}'s excerpt is not the output:\n{excerpt}"
        );
    }

    // The account already on v2 is not checked and its digest says nothing of moving.
    let moved = told(&messages, "digest", MOVED, "search-team@example.com");
    assert_eq!(section(&moved), None, "{moved}");
    assert_eq!(
        local
            .sandbox
            .api_calls()
            .get("inspector2:BatchGetAccountStatus"),
        Some(&3),
        "one pre-flight per Classic account"
    );
}

#[test]
fn asking_for_classic_where_the_member_stack_wrote_no_template_is_refused_naming_engine() {
    let local = run(
        scenario_file("classic-migration.json"),
        vec![json!({"accountId": MOVED, "region": "eu-central-1", "engine": "classic"})],
        "migration-override",
        None,
    );
    let ex = &local.executions[0];
    assert_eq!(ex.execution.status, Status::Failed);
    assert_eq!(ex.execution.error.as_deref(), Some("InvalidInput"));
    let cause = ex.execution.cause.clone().unwrap_or_default();
    for said in [
        "`engine` is \\\"classic\\\"",
        "deployed with Engine inspector2",
        "created no Inspector Classic assessment template",
        "Leave engine out",
    ] {
        assert!(cause.contains(said), "{said:?} not in {cause}");
    }
    let calls = local.sandbox.api_calls();
    assert!(
        calls.keys().all(|k| !k.starts_with("inspector:")),
        "refused before any Classic call: {calls:?}"
    );
    let notice = told(
        &local.sandbox.sns_messages(),
        "failure",
        MOVED,
        "search-team@example.com",
    );
    assert!(notice.contains("InvalidInput"), "{notice}");
    assert!(
        notice
            .replace('\n', " ")
            .contains("deployed with Engine inspector2"),
        "{notice}"
    );
}
