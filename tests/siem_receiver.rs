//! `scanflow run --http-endpoint` into `scanflow siem receive`, over real HTTP: the sandbox
//! signs every delivery as SNS does, the receiver verifies each against the sandbox's
//! certificate and writes every run back together, each finding exactly once, in either SIEM
//! format.

use std::collections::HashSet;
use std::sync::Arc;

use scanflow_cli::siem::{self, ReceiveOptions, verify::Freshness};
use scanflow_core::ports::SiemFormat;
use scanflow_tests::{out_dir, repo_root, run, siem_documents};

/// The id a receiver keys a finding on: scanflow's `id`, or an OCSF event's `finding_info.uid`.
fn finding_id(f: &serde_json::Value) -> String {
    f.get("id")
        .unwrap_or(&f["finding_info"]["uid"])
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn every_finding_the_sandbox_sends_is_verified_and_reassembled_exactly_once() {
    receive_every_finding(SiemFormat::Scanflow);
}

#[test]
fn ocsf_parts_are_reassembled_to_one_ocsf_event_a_line() {
    receive_every_finding(SiemFormat::Ocsf);
}

fn receive_every_finding(format: SiemFormat) {
    let received = out_dir("siem-receiver-in");
    let (listener, receiver) = siem::bind(ReceiveOptions {
        listen: "127.0.0.1:0".into(),
        out_dir: received.clone(),
        trust_cert: Some(repo_root().join(scanflow_sandbox::signing::CERT_PATH)),
        // The sandbox's clock is virtual.
        freshness: Freshness::Off,
        basic_auth: None,
    })
    .expect("the receiver binds");
    let url = format!("http://{}/siem", listener.local_addr().expect("addr"));
    let receiver = Arc::new(receiver);
    std::thread::spawn(move || siem::server::serve(listener, receiver));

    let mut scenario = scanflow_sandbox::Scenario::default_scenario().expect("default scenario");
    scenario.hub.config.siem_format = Some(format);
    let local = run(scenario, Vec::new(), "siem-receiver", Some(url));
    let messages = local.sandbox.sns_messages();
    let mut checked = 0;
    for ex in &local.executions {
        let account = ex.input["accountId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let docs: Vec<_> = siem_documents(&messages, &account)
            .into_iter()
            .filter(|d| d["kind"] == "findings")
            .collect();
        let Some(first) = docs.first() else { continue };
        let run = &first["run"];
        let file = received
            .join(run["accountId"].as_str().unwrap_or_default())
            .join(run["region"].as_str().unwrap_or_default())
            .join(format!(
                "{}.ndjson",
                siem::assemble::file_stem(run["runId"].as_str().unwrap_or_default())
            ));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{account}: {}: {e}", file.display()));
        let ids: Vec<String> = text
            .lines()
            .map(|l| {
                let f: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                assert_eq!(
                    f.get("class_uid").is_some(),
                    format == SiemFormat::Ocsf,
                    "{l}"
                );
                finding_id(&f)
            })
            .collect();
        let sent: HashSet<String> = docs
            .iter()
            .flat_map(|d| d["findings"].as_array().cloned().unwrap_or_default())
            .map(|f| finding_id(&f))
            .collect();
        assert_eq!(
            ids.len(),
            first["summary"]["total"].as_u64().unwrap_or(0) as usize,
            "{account}"
        );
        assert_eq!(
            ids.iter().cloned().collect::<HashSet<_>>(),
            sent,
            "{account}"
        );
        assert_eq!(ids.len(), sent.len(), "{account}: no finding twice");
        checked += 1;
    }
    assert!(
        checked >= 2,
        "the default scenario delivers findings for several accounts"
    );
}
