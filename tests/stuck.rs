//! A run that can never move again is diagnosed, named and stopped (exit 3),
//! under every start method; no scenario that moves is ever called stuck.

mod common;
use common::*;

/// Runs a stuck scenario headless with JSON (with `extra` options); returns
/// its stuck line and its exit status.
fn stuck_line(file: &str, method: &str, extra: &[&str]) -> (serde_json::Value, Option<i32>) {
    let mut args = vec![file, "--start-method", method];
    args.extend_from_slice(extra);
    let (lines, out) = run_json(&args);
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
    (stuck, out.status.code())
}

/// How long each wait of a stuck line had lasted when the run was diagnosed
/// (`since_s`, measured by the run itself, to 0.1 s).
fn waited(v: &serde_json::Value) -> Vec<f64> {
    v["waits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["since_s"].as_f64().unwrap())
        .collect()
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
        // A grace period far longer than any test: a deadlock is certain and
        // said at once, so it must not wait for it (if it did, the run would
        // hang until the harness stops it after 90 s, and fail).
        let (s, code) = stuck_line(
            "scenarios/stuck/lock_order.toml",
            m,
            &["--stuck-after", "3600"],
        );
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
    }
}

#[test]
fn a_writer_joined_before_anyone_reads_is_stuck_after_the_grace_period() {
    for m in ["fork", "spawn", "forkserver"] {
        let (s, code) = stuck_line("scenarios/stuck/join_before_get.toml", m, &[]);
        assert_eq!(code, Some(3), "{m}");
        assert_eq!(s["kind"], "nobody_can_serve", "{m}: {s}");
        assert_eq!(names(&s), ["main", "writer"], "{m}");
        let writer = &s["waits"][1];
        assert_eq!(
            (writer["op"].as_str(), writer["resource"].as_str()),
            (Some("put"), Some("numbers"))
        );
        assert_eq!(s["waits"][0]["holder"], "writer", "main joins the writer");
        // Not before the grace period (2 s by default): every wait had
        // lasted at least that long (since_s is rounded to 0.1 s).
        assert!(
            waited(&s).iter().all(|w| *w >= 1.95),
            "{m}: called stuck before the 2 s grace period: {s}"
        );
    }
}

#[test]
fn a_barrier_short_of_a_party_and_an_event_nobody_sets() {
    let (s, code) = stuck_line("scenarios/stuck/barrier_short.toml", "spawn", &[]);
    assert_eq!(code, Some(3));
    assert!(
        s["summary"].as_str().unwrap().contains("barrier meet 2/3"),
        "{s}"
    );
    assert_eq!(names(&s), ["main", "party 0", "party 1"]);
    let (s, code) = stuck_line("scenarios/stuck/event_never_set.toml", "forkserver", &[]);
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
        let (s, code) = stuck_line("scenarios/stuck/dead_producer.toml", m, &[]);
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
fn on_stuck_wait_keeps_cpythons_hang() {
    // With --on-stuck wait nothing stops the run: the test's own SIGTERM is
    // what ends it.
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
    let dash = child.id() as i32;
    // The trap is set once main and both waiters exist and sleep.
    let run = wait_until(
        "the run's main and its two waiters, asleep",
        PATIENCE,
        || {
            let d = descendants(dash);
            let asleep = d
                .iter()
                .filter(|p| proc_stat(**p).is_some_and(|(_, s)| s == 'S'))
                .count();
            if d.len() >= 3 && asleep == d.len() {
                Ok(d)
            } else {
                Err(format!("{} processes, {asleep} asleep: {d:?}", d.len()))
            }
        },
    );
    // That nothing ends it can only be watched for a while: past the 2 s
    // grace period that --on-stuck stop would honour, it is still there.
    // (A fixed wait that can only pass late, never fail, on a slow machine.)
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        child.try_wait().unwrap().is_none() && run.iter().all(|p| alive(*p)),
        "it still waits, as CPython would"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dash),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_exit("the run, after SIGTERM", &mut child, PATIENCE);
    assert_eq!(status.code(), Some(130));
    wait_gone("the run after SIGTERM", &run);
}

#[test]
fn a_grace_period_given_with_stuck_after_is_honoured() {
    // Longer than the default 2 s: the waits had lasted that long when the
    // diagnosis came (a run that ignored the option would say 2.1 s).
    let (s, code) = stuck_line(
        "scenarios/stuck/event_never_set.toml",
        "fork",
        &["--stuck-after", "3"],
    );
    assert_eq!(code, Some(3));
    assert!(waited(&s).iter().all(|w| *w >= 2.95), "{s}");
    // And a short one still ends the run as stuck.
    let (s, code) = stuck_line(
        "scenarios/stuck/event_never_set.toml",
        "fork",
        &["--stuck-after", "0.5"],
    );
    assert_eq!(code, Some(3));
    assert!(waited(&s).iter().all(|w| *w >= 0.45), "{s}");
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
