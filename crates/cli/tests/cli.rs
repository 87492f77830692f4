//! The `scanflow` binary as a user meets it: exit statuses and what `run` and `asl exec` print.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the binary from the repository root; `run` writes into a folder of its own per test.
fn scanflow(args: &[&str], label: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scanflow"));
    command.current_dir(repo()).args(args);
    if args.first() == Some(&"run") {
        command
            .arg("--out")
            .arg(std::env::temp_dir().join(format!("scanflow-cli-{}-{label}", std::process::id())));
    }
    command.output().expect("scanflow runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_on_the_default_scenario_exits_0_with_the_broken_account_reported() {
    let out = scanflow(&["run", "--start-time", "2026-11-28T02:00:00Z"], "default");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("SUCCEEDED ·"))
            .count(),
        3,
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED, notice sent (RoleNotAssumable)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("== E-mail: scanflow: scan FAILED"),
        "{stdout}"
    );
    assert!(stdout.contains("WaitForScan"), "the trace shows the states");
}

#[test]
fn invalid_input_scenario_or_definition_exit_2_naming_the_problem() {
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "run",
                "--input",
                "{\"accountId\": \"12\", \"region\": \"eu-west-1\"}",
            ],
            "accountId",
        ),
        (&["run", "--input", "not json"], "JSON"),
        (
            &["run", "--scenario", "no/such/file.json"],
            "no/such/file.json",
        ),
        (&["run", "--definition", "Cargo.toml"], "Cargo.toml"),
        (&["run", "--siem-format", "OCSF"], "--siem-format"),
    ];
    for (i, (args, says)) in cases.into_iter().enumerate() {
        let out = scanflow(args, &format!("invalid-{i}"));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// The SIEM parts' findings files under `run`'s output folder.
fn siem_parts(dir: &Path, found: &mut Vec<serde_json::Value>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            siem_parts(&path, found);
        } else if path.parent().is_some_and(|p| p.ends_with("siem")) {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            found.push(serde_json::from_str(&text).expect("a part is JSON"));
        }
    }
}

#[test]
fn siem_format_ocsf_makes_the_parts_carry_ocsf_events() {
    for (format, version) in [("ocsf", "1.4"), ("scanflow", "1.4")] {
        let label = format!("siem-format-{format}");
        let out = scanflow(&["run", "--quiet", "--siem-format", format], &label);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let dir = std::env::temp_dir().join(format!("scanflow-cli-{}-{label}", std::process::id()));
        let mut parts = Vec::new();
        siem_parts(&dir, &mut parts);
        assert!(parts.len() >= 3, "{format}: {} parts", parts.len());
        for part in &parts {
            assert_eq!(part["schemaVersion"], version, "{format}");
            for f in part["findings"].as_array().into_iter().flatten() {
                assert_eq!(f.get("class_uid").is_some(), format == "ocsf", "{f}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn an_unreported_failure_exits_1() {
    // The notify function is down for the whole run: the role failure's notice cannot go out.
    let text_scenario =
        std::fs::read_to_string(repo().join("crates/sandbox/scenarios/default.json"))
            .expect("scenario");
    let mut scenario: serde_json::Value = serde_json::from_str(&text_scenario).expect("json");
    scenario["hub"]["lambda"] = serde_json::json!({
        "outages": [{"function": "notify", "fromSeconds": 0, "untilSeconds": 864000}]
    });
    let path =
        std::env::temp_dir().join(format!("scanflow-cli-{}-silent.json", std::process::id()));
    std::fs::write(&path, scenario.to_string()).expect("write");
    let out = scanflow(
        &[
            "run",
            "--scenario",
            path.to_str().expect("utf-8"),
            "--account",
            "123456789012",
        ],
        "silent",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("without a published notice"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("NOTICE NOT SENT"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn asl_exec_prints_the_result_or_exits_2_for_a_bad_definition() {
    let exec = repo().join("crates/asl/tests/exec");
    let def = exec.join("poll.asl.json");
    let mocks = exec.join("mocks.json");
    let out = scanflow(
        &[
            "asl",
            "exec",
            def.to_str().expect("utf-8"),
            "--mocks",
            mocks.to_str().expect("utf-8"),
            "--test-case",
            "happy",
        ],
        "exec",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(result["status"], "SUCCEEDED");
    assert!(result["transitions"].as_u64().is_some_and(|n| n > 0));

    let bad =
        std::env::temp_dir().join(format!("scanflow-cli-{}-bad.asl.json", std::process::id()));
    std::fs::write(
        &bad,
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#,
    )
    .expect("write");
    let out = scanflow(&["asl", "exec", bad.to_str().expect("utf-8")], "exec-bad");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("A") && stderr.contains("Nowhere"),
        "{stderr}"
    );
}

#[test]
fn a_start_time_near_the_end_of_year_9999_is_refused_with_exit_2_not_a_panic() {
    // At the limit: the run and its 30-day margin end on the last day of year 9999.
    let out = scanflow(
        &["run", "--quiet", "--start-time", "9999-12-01T23:59:59Z"],
        "year-9999-limit",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // One second past it, and a start one minute before the calendar ends.
    for (start, label) in [
        ("9999-12-02T00:00:00Z", "year-9999-past"),
        ("9999-12-31T23:59:00Z", "year-9999-end"),
    ] {
        let out = scanflow(&["run", "--quiet", "--start-time", start], label);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{start}: {stderr}");
        assert!(stderr.contains("--start-time"), "{stderr}");
        assert!(stderr.contains("earlier start time"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // --repeat stretches the run: 52 weekly scans must end before 9999 too.
    let out = scanflow(
        &[
            "run",
            "--quiet",
            "--repeat",
            "52",
            "--start-time",
            "9999-06-01T00:00:00Z",
        ],
        "year-9999-repeat",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// Runs the binary with `stdin` as its standard input.
fn scanflow_with_stdin(args: &[&str], label: &str, stdin: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let out_dir = std::env::temp_dir().join(format!("scanflow-cli-{}-{label}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_scanflow"))
        .current_dir(repo())
        .args(args)
        .arg("--out")
        .arg(out_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scanflow starts");
    let mut pipe = child.stdin.take().expect("stdin");
    // The binary may stop reading early (the size cap): a broken pipe is its answer.
    let _ = pipe.write_all(stdin);
    drop(pipe);
    child.wait_with_output().expect("scanflow runs")
}

const INPUT: &str = r#"{"accountId": "123456789012", "region": "eu-west-1"}"#;

#[test]
fn input_is_read_from_a_file_or_standard_input_up_to_256_kib() {
    let dir = std::env::temp_dir();
    let file = dir.join(format!("scanflow-cli-{}-input.json", std::process::id()));
    std::fs::write(&file, INPUT).expect("write");
    let at_file = format!("@{}", file.display());
    let out = scanflow(
        &[
            "run",
            "--quiet",
            "--start-time",
            "2026-11-28T02:00:00Z",
            "--input",
            &at_file,
        ],
        "input-file",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("123456789012"),
        "{}",
        text(&out.stdout)
    );

    let out = scanflow_with_stdin(
        &[
            "run",
            "--quiet",
            "--start-time",
            "2026-11-28T02:00:00Z",
            "--input",
            "-",
        ],
        "input-stdin",
        INPUT.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // At the limit: 262,144 bytes (padded with spaces) is read and parsed.
    let limit = 262_144;
    let padded = format!("{INPUT}{}", " ".repeat(limit - INPUT.len()));
    std::fs::write(&file, &padded).expect("write");
    let out = scanflow(
        &[
            "run",
            "--quiet",
            "--start-time",
            "2026-11-28T02:00:00Z",
            "--input",
            &at_file,
        ],
        "input-limit",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // One byte past it, from a file and from standard input.
    let over = format!("{padded} ");
    std::fs::write(&file, &over).expect("write");
    let out = scanflow(&["run", "--quiet", "--input", &at_file], "input-over");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("262144 bytes (256 KiB)"), "{stderr}");
    let out = scanflow_with_stdin(
        &["run", "--quiet", "--input", "-"],
        "input-stdin-over",
        over.as_bytes(),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("standard input") && stderr.contains("256 KiB"),
        "{stderr}"
    );

    // A missing file and a duplicate key are clear errors too.
    let out = scanflow(&["run", "--input", "@no/such/input.json"], "input-missing");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no/such/input.json"), "{stderr}");
    let dup = r#"{"accountId": "123456789012", "region": "eu-west-1", "region": "us-east-1"}"#;
    let out = scanflow(&["run", "--input", dup], "input-dup");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`region` is given more than once"),
        "{stderr}"
    );
}

#[test]
fn asl_exec_reads_its_input_from_a_file() {
    let def = repo().join("crates/asl/tests/exec/poll.asl.json");
    let file = std::env::temp_dir().join(format!(
        "scanflow-cli-{}-asl-input.json",
        std::process::id()
    ));
    std::fs::write(&file, "{}").expect("write");
    let at_file = format!("@{}", file.display());
    let out = scanflow(
        &[
            "asl",
            "exec",
            def.to_str().expect("utf-8"),
            "--input",
            &at_file,
        ],
        "asl-input",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = scanflow(
        &[
            "asl",
            "exec",
            def.to_str().expect("utf-8"),
            "--input",
            "@no/such.json",
        ],
        "asl-missing",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

/// What a test endpoint does with every request.
#[derive(Clone, Copy)]
enum Endpoint {
    Answers(u16),
    Hangs,
}

/// A local HTTP endpoint behaving as `how`; its URL.
fn endpoint(how: Endpoint) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/siem", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end().to_ascii_lowercase();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                match how {
                    Endpoint::Answers(status) => {
                        let _ = (&stream).write_all(
                            format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                                .as_bytes(),
                        );
                    }
                    // Holds the connection until the client gives up.
                    Endpoint::Hangs => while (&stream).read(&mut [0u8; 64]).is_ok_and(|n| n > 0) {},
                }
            });
        }
    });
    url
}

/// The default scenario's SIEM messages: three accounts' findings and one failure document.
const SIEM_MESSAGES: usize = 4;

fn run_against(url: &str, label: &str) -> (Option<i32>, String, String) {
    let out = scanflow(
        &[
            "run",
            "--start-time",
            "2026-11-28T02:00:00Z",
            "--quiet",
            "--http-endpoint",
            url,
            "--http-timeout",
            "1",
        ],
        label,
    );
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn run_exits_0_when_the_endpoint_takes_every_message() {
    let (code, stdout, stderr) = run_against(&endpoint(Endpoint::Answers(200)), "http-200");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("NOT DELIVERED"), "{stdout}");
}

#[test]
fn run_exits_1_and_names_each_message_an_endpoint_did_not_take() {
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/siem", l.local_addr().expect("addr"))
        // dropped: nothing listens there
    };
    for (label, url, why) in [
        (
            "http-500",
            endpoint(Endpoint::Answers(500)),
            "HTTP 500 (after 4 attempt(s))",
        ),
        (
            "http-403",
            endpoint(Endpoint::Answers(403)),
            "HTTP 403: the endpoint refused it",
        ),
        (
            "http-hangs",
            endpoint(Endpoint::Hangs),
            "(after 4 attempt(s))",
        ),
        ("http-refused", refused, "(after 4 attempt(s))"),
    ] {
        let (code, stdout, stderr) = run_against(&url, label);
        assert_eq!(code, Some(1), "{label}: {stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!(
                "{SIEM_MESSAGES} message(s) were not delivered to {url}"
            )),
            "{label}: {stderr}"
        );
        let named = stderr
            .lines()
            .filter(|l| l.trim_start().starts_with("NOT DELIVERED") && l.contains(why))
            .count();
        assert_eq!(named, SIEM_MESSAGES, "{label}: {stderr}");
        // Each execution says what it lost, in its trace and in the outcome table.
        let table = stdout.split("== Outcome").nth(1).unwrap_or_default();
        assert_eq!(
            table.matches("1 NOT DELIVERED").count(),
            SIEM_MESSAGES,
            "{label}: {table}"
        );
        assert_eq!(
            stdout
                .lines()
                .filter(|l| l.trim_start().starts_with("NOT DELIVERED"))
                .count(),
            SIEM_MESSAGES,
            "{label}: {stdout}"
        );
    }
}

#[test]
fn an_http_timeout_past_snss_fifteen_seconds_is_refused() {
    for bad in ["0", "16"] {
        let out = scanflow(
            &[
                "run",
                "--http-endpoint",
                "http://127.0.0.1:9/",
                "--http-timeout",
                bad,
            ],
            "http-timeout",
        );
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(text(&out.stderr).contains("--http-timeout"), "{bad}");
    }
}

#[test]
fn run_exits_1_when_a_message_matches_no_subscription() {
    let mut scenario: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("crates/sandbox/scenarios/owners.json"))
            .expect("owners.json"),
    )
    .expect("json");
    let file =
        std::env::temp_dir().join(format!("scanflow-cli-{}-unrouted.json", std::process::id()));
    for (central, code) in [("everything", 0), ("rollup", 1)] {
        scenario["hub"]["centralEmail"] = serde_json::json!(central);
        std::fs::write(&file, scenario.to_string()).expect("scenario file");
        let out = scanflow(
            &[
                "run",
                "--quiet",
                "--scenario",
                file.to_str().expect("utf-8 path"),
            ],
            "unrouted",
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{central}: {stderr}");
        // The failure notice of the account whose member stack (and owners) is gone.
        assert_eq!(
            stderr.contains("1 message(s) matched no subscription")
                && stderr.contains("NOT SENT")
                && stderr.contains("123456789012"),
            code == 1,
            "{central}: {stderr}"
        );
    }
}
