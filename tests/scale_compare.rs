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
    assert_eq!(points.len(), 9, "{points:#?}");
    for mode in ["processes", "gil_threads", "free_threads"] {
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
