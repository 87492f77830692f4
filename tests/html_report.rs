//! The HTML reports as people get them: every report `scanflow run` writes over three scans a
//! week apart (one per scan and the org rollup) is self-contained, passes html-validate (an
//! implementation no one here wrote) and renders in headless Chromium to a picture that is not
//! blank: the severity colours of its charts are in it.
//!
//! The validator and the browser are the ones `tests/run-all.sh` installs (it sets
//! `SCANFLOW_HTML_VALIDATE` and `SCANFLOW_CHROMIUM`); without them those two checks say so and
//! are skipped, as the moto tests are without `SCANFLOW_MOTO_URL`.

use std::path::{Path, PathBuf};
use std::process::Command;

use scanflow_cli::local;
use scanflow_sandbox::Scenario;
use scanflow_tests::{weekly, workflow};

fn html_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the bucket folder lists") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            html_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "html") {
            found.push(path);
        }
    }
}

/// Every page through html-validate (`SCANFLOW_HTML_VALIDATE`), or says it was skipped.
fn html_validate(pages: &[PathBuf]) {
    let Some(validator) = std::env::var_os("SCANFLOW_HTML_VALIDATE") else {
        eprintln!("SCANFLOW_HTML_VALIDATE is not set: html-validate skipped");
        return;
    };
    let status = Command::new(validator)
        .arg("--config")
        .arg(scanflow_tests::repo_root().join("tests/htmlvalidate.json"))
        .args(pages)
        .status()
        .expect("html-validate runs");
    assert!(
        status.success(),
        "html-validate refused a report (see above)"
    );
}

fn reports() -> (PathBuf, Vec<PathBuf>) {
    let options = weekly(
        Scenario::default_scenario().expect("the built-in scenario"),
        3,
        "html-reports",
    );
    let run = local::run(&workflow(), options).expect("the local run");
    let out = run.sandbox.out_dir().to_path_buf();
    let mut found = Vec::new();
    html_files(&out.join("s3"), &mut found);
    found.sort();
    (out, found)
}

/// Pixels of `png` whose colour is within a few steps of `rgb`, and of the page's background.
fn census(png: &Path, rgb: [u8; 3]) -> (usize, usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png).expect("the screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    assert!(
        channels >= 3,
        "an RGB screenshot, got {:?}",
        info.color_type
    );
    let near = |p: &[u8], c: [u8; 3]| (0..3).all(|i| p[i].abs_diff(c[i]) <= 6);
    let (mut matching, mut background, mut total) = (0, 0, 0);
    for p in buf[..info.buffer_size()].chunks_exact(channels) {
        total += 1;
        if near(p, rgb) {
            matching += 1;
        }
        // The page's #f8fafc and the sections' white.
        if near(p, [0xf8, 0xfa, 0xfc]) || near(p, [0xff, 0xff, 0xff]) {
            background += 1;
        }
    }
    (matching, background, total)
}

#[test]
fn every_report_is_self_contained_valid_and_renders_its_charts() {
    let (out, found) = reports();
    let scans: Vec<&PathBuf> = found
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "report.html"))
        .collect();
    let rollups: Vec<&PathBuf> = found
        .iter()
        .filter(|p| p.to_string_lossy().contains("/fleet-watch/rollup-"))
        .collect();
    assert_eq!(
        scans.len(),
        9,
        "three accounts scanned three times: {found:#?}"
    );
    assert!(!rollups.is_empty(), "the org rollup's report: {found:#?}");
    for path in &found {
        let page = std::fs::read_to_string(path).expect("the report");
        assert!(page.starts_with("<!DOCTYPE html>"), "{}", path.display());
        assert!(
            page.contains("default-src 'none'"),
            "{}: its CSP",
            path.display()
        );
        assert!(
            !page.to_ascii_lowercase().contains("<script"),
            "{}",
            path.display()
        );
    }
    // Each account's trend grows a scan at a time: one report of 1, 2 and 3 scans each.
    let trend_of = |p: &PathBuf| {
        let page = std::fs::read_to_string(p).expect("report");
        (1..=3).find(|n| page.contains(&format!("Trend over the last {n} scan(s)")))
    };
    let mut lengths: Vec<Option<usize>> = scans.iter().map(|p| trend_of(p)).collect();
    lengths.sort();
    assert_eq!(lengths, [1, 1, 1, 2, 2, 2, 3, 3, 3].map(Some));
    let last = *scans
        .iter()
        .find(|p| trend_of(p) == Some(3))
        .expect("a report with three scans");

    html_validate(&found);

    let Some(chromium) = std::env::var_os("SCANFLOW_CHROMIUM") else {
        eprintln!("SCANFLOW_CHROMIUM is not set: the rendering check skipped");
        return;
    };
    for (page, name) in [(last, "scan"), (rollups[0], "rollup")] {
        let shot = out.join(format!("{name}.png"));
        let status = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1200,1600",
            ])
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("file://{}", page.display()))
            .status()
            .expect("chromium runs");
        assert!(
            status.success(),
            "chromium could not render {}",
            page.display()
        );
        // The critical bar and badges are #b91c1c; a blank or unstyled page has none.
        let (critical, background, total) = census(&shot, [0xb9, 0x1c, 0x1c]);
        assert!(
            critical > 200,
            "{name}: {critical} critical-red pixels of {total}"
        );
        assert!(
            background < total * 97 / 100,
            "{name}: {background} of {total} pixels are background: a blank page"
        );
    }
}

#[test]
fn a_cis_scan_is_told_in_the_report_and_the_page_stays_valid() {
    let run = scanflow_tests::run(
        scanflow_tests::scenario_file("cis.json"),
        vec![],
        "html-cis",
        None,
    );
    let mut found = Vec::new();
    html_files(&run.sandbox.out_dir().join("s3"), &mut found);
    let page_of = |account: &str| {
        let path = found
            .iter()
            .find(|p| {
                p.file_name().is_some_and(|n| n == "report.html")
                    && p.to_string_lossy().contains(account)
            })
            .unwrap_or_else(|| panic!("{account}'s report: {found:#?}"));
        std::fs::read_to_string(path).expect("the report")
    };
    let failing = page_of("323232323232");
    assert!(failing.contains("<b>CIS benchmark (LEVEL_2)</b>: The CIS LEVEL_2 scan checked 3"));
    assert!(failing.contains("<b>i-0c150000000007e49</b>: not checked, SSM_UNMANAGED"));
    assert!(
        failing.contains("LEVEL_1 fix: Set PermitRootLogin no"),
        "the fix beside the check"
    );
    let never = page_of("343434343434");
    assert!(never.contains("did not finish within the account"));
    html_validate(&found);
}
