//! `--trace` writes a Chrome Trace Event file that is well formed: every
//! process named, no negative duration, slices on a track nested.

mod common;
use common::*;

use serde_json::Value;

fn trace_of(args: &[&str]) -> Vec<Value> {
    let path = std::env::temp_dir().join(format!(
        "mpdash-trace-{}-{}.json",
        std::process::id(),
        args[1].replace('/', "_")
    ));
    let path = path.to_string_lossy().into_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--trace", &path]);
    let out = mpdash(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("valid JSON");
    let _ = std::fs::remove_file(&path);
    doc["traceEvents"].as_array().expect("traceEvents").clone()
}

fn check_well_formed(ev: &[Value]) {
    let named: Vec<i64> = ev
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .map(|e| e["pid"].as_i64().unwrap())
        .collect();
    for e in ev {
        assert!(e["ph"].is_string(), "{e}");
        if let Some(pid) = e["pid"].as_i64() {
            assert!(named.contains(&pid), "pid {pid} has no process_name: {e}");
        }
        if e["ph"] == "X" {
            assert!(e["dur"].as_f64().unwrap() >= 0.0, "{e}");
            assert!(e["ts"].as_f64().unwrap() >= 0.0, "{e}");
        }
    }
    // Slices on one track nest: sorted by start, each either ends before the
    // next begins or contains it.
    let mut tracks: std::collections::HashMap<(i64, i64), Vec<(f64, f64)>> = Default::default();
    for e in ev.iter().filter(|e| e["ph"] == "X") {
        let ts = e["ts"].as_f64().unwrap();
        tracks
            .entry((e["pid"].as_i64().unwrap(), e["tid"].as_i64().unwrap()))
            .or_default()
            .push((ts, ts + e["dur"].as_f64().unwrap()));
    }
    for (track, mut s) in tracks {
        s.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let mut open: Vec<f64> = Vec::new();
        for (a, b) in s {
            while open.last().is_some_and(|end| *end <= a + 1e-6) {
                open.pop();
            }
            if let Some(end) = open.last() {
                assert!(
                    b <= end + 1e-6,
                    "track {track:?}: [{a}, {b}] half-overlaps a slice ending at {end}"
                );
            }
            open.push(b);
        }
    }
}

#[test]
fn a_pool_run_traces_tasks_per_worker() {
    let ev = trace_of(&[
        "run",
        "scenarios/pool.toml",
        "--headless",
        "--workers",
        "2",
        "--set",
        "task.below=3000000",
    ]);
    check_well_formed(&ev);
    let tasks = ev.iter().filter(|e| e["cat"] == "task").count();
    assert!(tasks >= 10, "task slices: {tasks}");
    let names: Vec<&str> = ev
        .iter()
        .filter(|e| e["name"] == "process_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("pool worker 1 (pool worker, fork)")),
        "{names:?}"
    );
    assert!(ev.iter().any(|e| e["name"] == "first instruction"));
    assert!(
        ev.iter()
            .any(|e| e["ph"] == "C" && e["name"] == "queue pool tasks")
    );
}

#[test]
fn compare_traces_lock_holds_of_every_run() {
    let ev = trace_of(&[
        "compare",
        "scenarios/sync.toml",
        "--methods",
        "fork,forkserver",
    ]);
    check_well_formed(&ev);
    let holds = ev.iter().filter(|e| e["cat"] == "lock").count();
    assert!(holds >= 10, "lock holds: {holds}");
    assert!(ev.iter().any(|e| {
        e["args"]["name"]
            .as_str()
            .is_some_and(|n| n.contains("forkserver (forkserver"))
    }));
}

#[test]
fn scale_traces_its_worker_processes() {
    let ev = trace_of(&[
        "scale",
        "scenarios/scaling.toml",
        "--max-workers",
        "2",
        "--set",
        "scaling.below=200000",
    ]);
    check_well_formed(&ev);
    let workers = ev
        .iter()
        .filter(|e| e["name"] == "process_name")
        .filter(|e| {
            e["args"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("scale worker"))
        })
        .count();
    assert_eq!(workers, 3, "1 + 2 worker processes");
}
