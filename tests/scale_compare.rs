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
        }
    }
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
