//! A run that can never move again is diagnosed, named and stopped (exit 3),
//! under every start method; no scenario that moves is ever called stuck.

mod common;
use common::*;

use std::time::Instant;

/// Runs a stuck scenario headless with JSON; returns its stuck line, its
/// exit status and how long the run took.
fn stuck_line(file: &str, method: &str) -> (serde_json::Value, Option<i32>, f64) {
    let t = Instant::now();
    let (lines, out) = run_json(&[file, "--start-method", method]);
    let took = t.elapsed().as_secs_f64();
    let stuck = lines
        .iter()
        .find(|l| l["type"] == "stuck")
        .unwrap_or_else(|| panic!("{file} {method}: no stuck line in {lines:?}"))
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(stuck["summary"].as_str().unwrap()),
        "{file} {method}: the diagnosis goes to stderr too: {err}"
    );
    // The stuck line comes right before the run line.
    let n = lines.len();
    assert_eq!(lines[n - 2]["type"], "stuck", "{file}");
    assert_eq!(lines[n - 1]["type"], "run", "{file}");
    (stuck, out.status.code(), took)
}

fn names(v: &serde_json::Value) -> Vec<String> {
    v["waits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_locks_in_opposite_orders_are_a_deadlock_named_at_once() {
    for m in ["fork", "spawn", "forkserver"] {
        let (s, code, took) = stuck_line("scenarios/stuck/lock_order.toml", m);
        assert_eq!(code, Some(3), "{m}");
        assert_eq!(s["kind"], "deadlock", "{m}: {s}");
        let cycle: Vec<&str> = s["cycle"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert!(
            cycle == ["a", "two", "b", "one", "a"] || cycle == ["b", "one", "a", "two", "b"],
            "{m}: {cycle:?}"
        );
        let holders: Vec<&str> = s["waits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["holder"].as_str().unwrap())
            .collect();
        assert!(holders.contains(&"a") && holders.contains(&"b"), "{m}: {s}");
        // Both take their first lock, sleep 0.2 s, then close the cycle:
        // said well before any grace period.
        assert!(took < 1.5, "{m}: a deadlock took {took:.2} s to report");
    }
}

#[test]
fn a_writer_joined_before_anyone_reads_is_stuck_after_the_grace_period() {
    for m in ["fork", "spawn", "forkserver"] {
        let (s, code, took) = stuck_line("scenarios/stuck/join_before_get.toml", m);
        assert_eq!(code, Some(3), "{m}");
        assert_eq!(s["kind"], "nobody_can_serve", "{m}: {s}");
        assert_eq!(names(&s), ["main", "writer"], "{m}");
        let writer = &s["waits"][1];
        assert_eq!(
            (writer["op"].as_str(), writer["resource"].as_str()),
            (Some("put"), Some("numbers"))
        );
        assert_eq!(s["waits"][0]["holder"], "writer", "main joins the writer");
        assert!(
            (2.0..3.5).contains(&took),
            "{m}: {took:.2} s (grace 2 s + 1 s)"
        );
    }
}

#[test]
fn a_barrier_short_of_a_party_and_an_event_nobody_sets() {
    let (s, code, _) = stuck_line("scenarios/stuck/barrier_short.toml", "spawn");
    assert_eq!(code, Some(3));
    assert!(
        s["summary"].as_str().unwrap().contains("barrier meet 2/3"),
        "{s}"
    );
    assert_eq!(names(&s), ["main", "party 0", "party 1"]);
    let (s, code, _) = stuck_line("scenarios/stuck/event_never_set.toml", "forkserver");
    assert_eq!(code, Some(3));
    assert!(
        s["chain"][1]
            .as_str()
            .unwrap()
            .contains("wait go (set) → nobody can set it"),
        "{s}"
    );
}

#[test]
fn a_consumer_whose_producer_was_killed_says_so() {
    for m in ["fork", "spawn", "forkserver"] {
        let (s, code, _) = stuck_line("scenarios/stuck/dead_producer.toml", m);
        assert_eq!(code, Some(3), "{m}");
        assert_eq!(names(&s), ["main", "consumer"], "{m}");
        assert!(
            s["summary"]
                .as_str()
                .unwrap()
                .contains("producer died (SIGKILL)"),
            "{m}: {s}"
        );
    }
}

#[test]
fn on_stuck_wait_keeps_cpythons_hang_and_a_short_grace_is_honoured() {
    // With --on-stuck wait nothing stops the run: the harness' own kill
    // (a 3 s timeout here) is what ends it.
    let mut child = std::process::Command::new(BIN)
        .args([
            "run",
            "--headless",
            "--on-stuck",
            "wait",
            "scenarios/stuck/event_never_set.toml",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none(),
        "it still waits, as CPython would"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let t = Instant::now();
    let (_, code, _) = {
        let (lines, out) = run_json(&[
            "scenarios/stuck/event_never_set.toml",
            "--stuck-after",
            "0.5",
        ]);
        (lines, out.status.code(), ())
    };
    assert_eq!(code, Some(3));
    assert!(
        t.elapsed().as_secs_f64() < 2.0,
        "--stuck-after 0.5 is honoured"
    );
}

#[test]
fn no_scenario_that_moves_is_ever_called_stuck() {
    let mut files: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| format!("scenarios/{}", p.file_name().unwrap().to_string_lossy()))
            .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for f in &files {
        let mut args = vec![f.as_str()];
        // many.toml's idle processes sleep two minutes: 3 s (past the grace
        // period) shows the same thing, that sleepers are not stuck.
        if f.ends_with("many.toml") {
            args.extend([
                "--set",
                "process.0.steps=[{ sleep_ms = 3000 }]",
                "--set",
                "process.1.steps=[{ sleep_ms = 3000 }]",
            ]);
        }
        let (lines, out) = run_json(&args);
        assert!(
            !lines.iter().any(|l| l["type"] == "stuck"),
            "{f}: a false alarm: {:?}",
            lines.iter().find(|l| l["type"] == "stuck")
        );
        assert_ne!(out.status.code(), Some(3), "{f}");
    }
}
