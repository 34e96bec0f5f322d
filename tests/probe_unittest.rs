//! The probe's own unittest tests (`src/session/python/tests/test_*.py`:
//! its file format, pickling, names, and the probe in real processes —
//! exact counts, exit statuses, ids through spawn and forkserver, nothing
//! printed under `-X dev -W error`) on every CPython `scripts/pythons`
//! prints: the machine's 3.11, Debian's 3.13 and 3.14 (fetched into a cache
//! on first use). When an interpreter cannot be had, or a test is skipped,
//! the test fails with what was said: never a silent skip.

use std::process::{Command, Stdio};
use std::sync::Mutex;

mod common;
use common::pythons;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One interpreter at a time (a 2-core machine).
static TURN: Mutex<()> = Mutex::new(());

/// Runs the probe's tests with the `nth` interpreter, which must be Python
/// `want` (any version for the machine's own).
fn unittests(nth: usize, want: Option<&str>) {
    let paths = pythons().as_ref().unwrap_or_else(|e| panic!("{e}"));
    let py = &paths[nth];
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let version = Command::new(py)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py}: {e}"));
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    if let Some(want) = want {
        assert_eq!(version, want, "{py}");
    }
    let out = Command::new(py)
        .args([
            "-m",
            "unittest",
            "discover",
            "-v",
            "-s",
            "src/session/python/tests",
            "-p",
            "test_*.py",
        ])
        .current_dir(ROOT)
        .env_remove("MPDASH_PROBE_DIR")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py}: {e}"));
    let report = String::from_utf8_lossy(&out.stderr);
    let ran: usize = report
        .lines()
        .find_map(|l| l.strip_prefix("Ran ")?.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert!(
        out.status.success() && report.trim_end().ends_with("OK"),
        "the probe's tests failed on {py} (Python {version}):\n{report}"
    );
    assert!(
        !report.contains("skipped"),
        "a test was skipped on {py} (Python {version}):\n{report}"
    );
    assert!(ran >= 25, "only {ran} tests ran on {py}:\n{report}");
    eprintln!("{py} (Python {version}): {ran} tests, OK");
}

#[test]
fn the_probe_s_own_tests_pass_on_the_machine_s_python() {
    unittests(0, None);
}

#[test]
fn the_probe_s_own_tests_pass_on_python_3_13() {
    unittests(1, Some("3.13"));
}

#[test]
fn the_probe_s_own_tests_pass_on_python_3_14() {
    unittests(2, Some("3.14"));
}
