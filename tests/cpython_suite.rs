//! CPython's own multiprocessing tests under the probe: the same unittest
//! summary with and without mpdash. `scripts/cpython-mp-tests` runs a
//! subset of `test._test_multiprocessing` (the classes of what the probe
//! patches: queues, locks, semaphores, conditions, events, barriers, pools,
//! pipes and connections, managers, shared ctypes; listed in
//! `scripts/cpython-mp-runner.py`) once plainly and once under
//! `mpdash run --headless --json`, on 3.11 under fork and forkserver and on
//! 3.14 under forkserver, and compares the summaries and every test's
//! outcome. The interpreters and 3.14's test suite (Debian's
//! libpython3.14-testsuite) come from `scripts/pythons --with-tests`; when
//! an interpreter or its test suite cannot be had, the test fails with why:
//! never a silent skip. `scripts/cpython-mp-tests --full` runs the whole
//! suite, for a human.
//!
//! The subset takes 6-15 s a run plainly (2 loaded cores), about 50 s for
//! all six runs; a run is stopped after 120 s (`--timeout`), which fails
//! the test: a probe that makes CPython's tests crawl is a bug too.

use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_mpdash");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The runs the issue asks for at least: (version, start method).
const RUNS: [(&str, &str); 3] = [
    ("3.11", "fork"),
    ("3.11", "forkserver"),
    ("3.14", "forkserver"),
];

#[test]
fn cpython_multiprocessing_tests_give_the_same_summary_under_the_probe() {
    let runs: Vec<String> = RUNS.iter().map(|(v, m)| format!("{v}:{m}")).collect();
    let t = Instant::now();
    let out = Command::new(format!("{ROOT}/scripts/cpython-mp-tests"))
        .args([
            "--mpdash",
            BIN,
            "--runs",
            &runs.join(","),
            "--timeout",
            "120",
        ])
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/cpython-mp-tests: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stderr}{stdout}");
    eprintln!(
        "scripts/cpython-mp-tests took {:.1} s:\n{all}",
        t.elapsed().as_secs_f64()
    );
    assert!(
        out.status.success(),
        "scripts/cpython-mp-tests --runs {}: {} (2: an interpreter, its test suite or mpdash \
         missing; 1: a difference with the probe):\n{all}",
        runs.join(","),
        out.status
    );
    // Each run has its row: the same summary, of tests that ran.
    for (version, method) in RUNS {
        let row = stdout
            .lines()
            .find(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some(version) && words.nth(1) == Some(method)
            })
            .unwrap_or_else(|| panic!("no row for {version} {method} in the table:\n{all}"));
        assert!(row.ends_with("  yes"), "{version} {method}: {row}\n{all}");
        let ran: Vec<u64> = row
            .match_indices("Ran ")
            .map(|(at, _)| {
                row[at + 4..]
                    .split(',')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            })
            .collect();
        assert!(
            ran.len() == 2 && ran[0] == ran[1] && ran[0] >= 100,
            "{version} {method}: the subset should be well over 100 tests, run by both: {row}\n{all}"
        );
    }
}
