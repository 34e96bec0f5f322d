//! `mpdash scale` and `mpdash compare` print complete tables for every mode
//! and method.

mod common;
use common::*;

#[test]
fn scale_gives_a_point_per_mode_and_worker_count() {
    let out = mpdash(&[
        "scale",
        "scenarios/scaling.toml",
        "--json",
        "--max-workers",
        "3",
        "--set",
        "scaling.below=300000",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let points: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Real CPython curves are there when python3 is (.ci/run's machine has it).
    let cpython = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert_eq!(points.len(), if cpython { 15 } else { 9 }, "{points:#?}");
    let mut modes = vec!["processes", "gil_threads", "free_threads"];
    if cpython {
        modes.extend(["cpython_threads", "cpython_processes"]);
    }
    for mode in modes {
        let mine: Vec<_> = points.iter().filter(|p| p["mode"] == mode).collect();
        let workers: Vec<u64> = mine
            .iter()
            .map(|p| p["workers"].as_u64().unwrap())
            .collect();
        assert_eq!(workers, [1, 2, 3], "{mode}");
        assert_eq!(mine[0]["speedup"], 1.0, "{mode}: the baseline is itself");
        for p in &mine {
            assert!(p["wall_s"].as_f64().unwrap() > 0.0);
            assert!(p["speedup"].as_f64().unwrap() > 0.0);
            assert_eq!(p["simulated"], mode == "gil_threads");
            // Each point says what else ran meanwhile (a parallel test may).
            assert!(p["others_cpu_pct"].as_f64().unwrap() >= 0.0, "{p}");
            assert!(p["trustworthy"].is_boolean(), "{p}");
            assert_eq!(p["python"].is_string(), mode.starts_with("cpython"), "{p}");
        }
    }
}

/// The machine's CPython 3.14 as `scripts/pythons` gives it (its third line;
/// fetched into a cache on first use, see tests/python_matrix.rs).
fn python314() -> String {
    let out = std::process::Command::new(format!("{}/scripts/pythons", env!("CARGO_MANIFEST_DIR")))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run scripts/pythons");
    assert!(
        out.status.success(),
        "scripts/pythons: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    paths[2].clone()
}

fn points(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn scale_draws_a_cpython_curve_per_interpreter_with_its_version_and_gil() {
    let py314 = python314();
    let out = mpdash(&[
        "scale",
        "--json",
        "--max-workers",
        "2",
        "--python",
        "python3",
        "--python",
        &py314,
        "scenarios/scaling.toml",
        "--set",
        "scaling.below=200000",
    ]);
    let points = points(&out);
    let threads = |interpreter: &str| -> Vec<&serde_json::Value> {
        points
            .iter()
            .filter(|p| p["mode"] == "cpython_threads" && p["interpreter"] == interpreter)
            .collect()
    };
    let mut versions = Vec::new();
    for interpreter in ["python3", py314.as_str()] {
        let mine = threads(interpreter);
        assert_eq!(mine.len(), 2, "{interpreter}: {points:#?}");
        for p in &mine {
            // Neither is a free-threaded build: the GIL is on.
            assert_eq!(p["gil"], true, "{p}");
            assert!(p["python"].as_str().unwrap().starts_with("3."), "{p}");
        }
        versions.push(mine[0]["python"].as_str().unwrap().to_string());
        let procs = points
            .iter()
            .filter(|p| p["mode"] == "cpython_processes" && p["interpreter"] == interpreter)
            .count();
        assert_eq!(procs, 2, "{interpreter}: a processes curve too");
    }
    assert!(versions[1].starts_with("3.14."), "{versions:?}");
    assert_ne!(versions[0], versions[1]);
    // An interpreter asked for that does not run is an error, before anything runs.
    let out = mpdash(&[
        "scale",
        "--python",
        "/no/such/python",
        "scenarios/scaling.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--python /no/such/python: cannot run it"),
        "{err}"
    );
}

#[test]
fn scripts_pythons_free_threaded_fetches_one_or_says_none_exists() {
    let out = std::process::Command::new(format!("{}/scripts/pythons", env!("CARGO_MANIFEST_DIR")))
        .arg("--free-threaded")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run scripts/pythons");
    let err = String::from_utf8_lossy(&out.stderr);
    let paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    if out.status.success() {
        // The fourth is a free-threaded build whose GIL is off.
        assert_eq!(paths.len(), 4, "{paths:?}\n{err}");
        let gil = std::process::Command::new(&paths[3])
            .args(["-c", "import sys; print(sys._is_gil_enabled())"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&gil.stdout).trim(),
            "False",
            "{err}"
        );
    } else {
        // Debian has none today (checked with apt-cache in sid and trixie):
        // said, with the packages looked for, and the usual three printed.
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(paths.len(), 3, "{paths:?}\n{err}");
        for pkg in [
            "python3.14-nogil (Debian sid)",
            "python3.13-nogil (Debian trixie)",
        ] {
            assert!(err.contains(pkg), "{pkg} in {err}");
        }
        assert!(err.contains("no free-threaded CPython"), "{err}");
    }
}

/// CPU hogs, killed and reaped when dropped (also when the test fails).
struct Hogs(Vec<std::process::Child>);

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One CPU hog per CPU (at least two), each seen running.
fn hogs() -> Hogs {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hogs = Hogs(
        (0..cpus.max(2))
            .map(|_| {
                std::process::Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .expect("start a CPU hog")
            })
            .collect(),
    );
    for h in &hogs.0 {
        let pid = h.id() as i32;
        wait_until("a hog to run", PATIENCE, || match proc_stat(pid) {
            Some((_, 'R')) => Ok(()),
            other => Err(format!("{other:?}")),
        });
    }
    hogs
}

#[test]
fn points_measured_beside_cpu_hogs_say_they_are_not_trustworthy() {
    let busy = hogs();
    let out = mpdash(&[
        "scale",
        "--json",
        "--max-workers",
        "2",
        "scenarios/scaling.toml",
        "--set",
        "scaling.below=1000000",
    ]);
    drop(busy);
    let points = points(&out);
    assert!(points.len() >= 6, "{points:#?}");
    for p in &points {
        assert_eq!(p["trustworthy"], false, "{p}");
        assert!(p["others_cpu_pct"].as_f64().unwrap() > 50.0, "{p}");
    }
    // The table says which points and why.
    let busy = hogs();
    let out = mpdash(&[
        "scale",
        "--max-workers",
        "1",
        "scenarios/scaling.toml",
        "--set",
        "scaling.below=1000000",
    ]);
    drop(busy);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("busy!"), "{text}");
    assert!(text.contains("the machine was busy"), "{text}");
}

#[test]
fn scale_refuses_a_file_without_a_scaling_table() {
    let out = mpdash(&["scale", "scenarios/process.toml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [scaling] table"));
}

#[test]
fn compare_gives_a_row_per_method_with_the_fields_it_promises() {
    let out = mpdash(&[
        "compare",
        "scenarios/start_methods.toml",
        "--json",
        "--set",
        "process.0.steps.0={ sleep_ms = 300 }",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["fork", "spawn", "forkserver"]);
    for r in &rows {
        for k in [
            "wall_s",
            "start_p50_us",
            "start_p99_us",
            "workers_pss_mib",
            "workers_rss_mib",
            "cpu_s",
        ] {
            assert!(r[k].as_f64().is_some_and(|v| v >= 0.0), "{k} in {r}");
        }
        assert_eq!(r["workers"], 8);
        assert_eq!(r["exit"], 0);
        assert_eq!(
            r["helpers"],
            if r["method"] == "forkserver" { 1 } else { 0 }
        );
    }
    // The point of the scenario, measured: forked children share the parent's
    // 256 MiB heap, so their RSS is large and their PSS a fraction of it.
    let fork = &rows[0];
    let (pss, rss) = (
        fork["workers_pss_mib"].as_f64().unwrap(),
        fork["workers_rss_mib"].as_f64().unwrap(),
    );
    assert!(
        rss > 1000.0 && pss < rss / 3.0,
        "fork: PSS {pss} MiB, RSS {rss} MiB"
    );
    let spawn_rss = rows[1]["workers_rss_mib"].as_f64().unwrap();
    assert!(
        spawn_rss < 200.0,
        "spawn children start fresh: RSS {spawn_rss} MiB"
    );
}
