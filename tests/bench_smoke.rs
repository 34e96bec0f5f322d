//! `mpdash bench`: every subcommand runs at its smallest size, exits 0 and
//! prints its table and its figures (`--json`: every key there, every figure
//! a finite number). The figures themselves are never asserted here: latency
//! and throughput targets belong to `mpdash bench`, read by people, not to
//! tests that a loaded machine would fail.
//!
//! `ipc`, `pool` and `ui` have no size option (fixed counts and windows):
//! they run at their only size. The benches take turns (`common::serial`):
//! measuring on a 2-core machine is heavy enough one at a time.

mod common;
use common::*;

use std::time::Instant;

/// A bench subcommand, the options that make it tiny, and the figures its
/// JSON line must hold (JSON pointers).
struct Bench {
    sub: &'static str,
    tiny: &'static [&'static str],
    figures: &'static [&'static str],
}

const START: Bench = Bench {
    sub: "start",
    tiny: &["--children", "1"],
    figures: &[
        "/children",
        "/start_us/fork/p50",
        "/start_us/fork/p99",
        "/start_us/spawn/p50",
        "/start_us/spawn/p99",
        "/start_us/forkserver/p50",
        "/start_us/forkserver/p99",
    ],
};

const IPC: Bench = Bench {
    sub: "ipc",
    tiny: &[],
    figures: &[
        "/queue_1p1c_msgs_per_s",
        "/queue_2p2c_msgs_per_s",
        "/pipe_oneway_64b_msgs_per_s",
        "/pipe_rtt_us",
        "/raw_socketpair_rtt_us",
        "/pipe_rtt_vs_raw",
        "/lock_uncontended_ns",
        "/lock_uncontended_no_telemetry_ns",
        "/lock_telemetry_overhead_pct",
        "/telemetry_overhead_pct",
        "/value_locked_2proc_incr_per_s",
        "/spread/queue_1p1c_msgs_per_s/median",
        "/spread/queue_1p1c_msgs_per_s/runs",
    ],
};

const UI: Bench = Bench {
    sub: "ui",
    tiny: &["--window", "1"],
    figures: &[
        "/many_cpu_pct",
        "/many_ms_per_sample",
        "/many_rss_mib",
        "/first_frame_ms",
        "/max_frame_ms",
        "/mean_frame_ms",
        "/idle_cpu_pct",
        "/idle_rss_mib",
    ],
};

const ATTACH: Bench = Bench {
    sub: "attach",
    tiny: &["--window", "1"],
    figures: &[
        "/tree/processes",
        "/tree/samples",
        "/tree/cpu_ms_per_sample",
        "/tree/cpu_pct_of_core",
        "/tree/stack_read_ms_median",
        "/slowdown/alone_s",
        "/slowdown/attached_s",
        "/slowdown/speed_ratio",
    ],
};

const STUCK: Bench = Bench {
    sub: "stuck",
    tiny: &["--runs", "1"],
    figures: &[
        "/detection_latency/lock_order/p50_s",
        "/detection_latency/lock_order/max_s",
        "/detection_latency/join_before_get/p50_s",
        "/detection_latency/join_before_get/max_s",
        "/detection_latency/barrier_short/p50_s",
        "/detection_latency/barrier_short/max_s",
        "/detection_latency/dead_producer/p50_s",
        "/detection_latency/dead_producer/max_s",
        "/detection_latency/event_never_set/p50_s",
        "/detection_latency/event_never_set/max_s",
    ],
};

const POOL: Bench = Bench {
    sub: "pool",
    tiny: &[],
    figures: &[
        "/pool_map_chunk1_items_per_s",
        "/pool_map_default_items_per_s",
        "/manager_dict_rt_per_s",
        "/manager_dict_rt_us",
        "/manager_dict_tcp_rt_per_s",
        "/manager_dict_tcp_rt_us",
        // CPython's SyncManager beside ours (python3 is needed by the suite).
        "/cpython_manager_dict_rt_per_s",
        "/cpython_manager_dict_tcp_rt_per_s",
        "/raw_socketpair_rtt_us",
        "/spread/pool_map_chunk1_items_per_s/median",
    ],
};

const PROBE: Bench = Bench {
    sub: "probe",
    tiny: &["--runs", "1"],
    figures: &[
        "/queue/plain/median",
        "/queue/probed/median",
        "/queue/ratio",
        "/pool_map/plain/median",
        "/pool_map/probed/median",
        "/pool_map/ratio",
        "/lock/plain/median",
        "/lock/probed/median",
        "/lock/ratio",
        "/startup_bare/plain/median",
        "/startup_bare/added_ms",
        "/startup_mp/plain/median",
        "/startup_mp/added_ms",
    ],
};

const ALL: [&Bench; 7] = [&START, &IPC, &ATTACH, &UI, &STUCK, &POOL, &PROBE];

/// Runs `mpdash bench SUB TINY… --json` (a hang is stopped by `mpdash`'s
/// watchdog); checks the table and the figures; returns the JSON line.
fn smoke(b: &Bench) -> serde_json::Value {
    let _turn = serial();
    let mut args = vec!["bench", b.sub];
    args.extend_from_slice(b.tiny);
    args.push("--json");
    let t = Instant::now();
    let out = mpdash(&args);
    // How long the smallest run takes (for the report; never asserted).
    eprintln!(
        "mpdash {}: {:.1} s",
        args.join(" "),
        t.elapsed().as_secs_f64()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mpdash {args:?}: {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let Some((json, table)) = lines.split_last() else {
        panic!("mpdash {args:?} printed nothing")
    };
    assert!(
        table.len() >= 2,
        "mpdash {args:?}: a table (a heading and rows) before the JSON line:\n{stdout}"
    );
    let v: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("mpdash {args:?}: the last line is not JSON ({e}):\n{stdout}"));
    for f in b.figures {
        let x = v.pointer(f);
        assert!(
            x.and_then(|x| x.as_f64()).is_some_and(f64::is_finite),
            "mpdash {args:?}: {f} is not a number: {x:?} in {v}"
        );
    }
    // serde_json writes NaN and ∞ as null: no figure may be one.
    let mut nulls = Vec::new();
    find_nulls(&v, "", &mut nulls);
    assert!(
        nulls.is_empty(),
        "mpdash {args:?}: figures that are not numbers (NaN or ∞): {nulls:?} in {v}"
    );
    v
}

fn find_nulls(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Null => out.push(at.to_string()),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                find_nulls(x, &format!("{at}/{i}"), out);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                find_nulls(x, &format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn bench_start() {
    let v = smoke(&START);
    assert_eq!(v["children"], 1);
}

#[test]
fn bench_ipc() {
    smoke(&IPC);
}

#[test]
fn bench_attach() {
    let v = smoke(&ATTACH);
    // The 20-process tree was all seen, and its stacks were read.
    assert!(v["tree"]["processes"].as_u64().unwrap_or(0) >= 20, "{v}");
    assert!(v["tree"]["stack_reads"].as_u64().unwrap_or(0) > 0, "{v}");
}

#[test]
fn bench_ui() {
    smoke(&UI);
}

#[test]
fn bench_stuck() {
    let v = smoke(&STUCK);
    let d = &v["detection_latency"];
    assert_eq!(d["lock_order"]["kind"], "deadlock", "{v}");
    for hang in [
        "join_before_get",
        "barrier_short",
        "dead_producer",
        "event_never_set",
    ] {
        assert_eq!(d[hang]["kind"], "nobody_can_serve", "{hang}: {v}");
        assert_eq!(d[hang]["runs"], 1, "{hang}: {v}");
    }
}

#[test]
fn bench_pool() {
    smoke(&POOL);
}

#[test]
fn bench_probe() {
    let v = python3_version();
    assert!(!v.is_empty(), "python3 is needed (apt-get install python3)");
    smoke(&PROBE);
}

fn python3_version() -> String {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Every subcommand `mpdash bench --help` lists has its smoke test above.
#[test]
fn every_bench_subcommand_is_smoke_tested() {
    let out = mpdash(&["bench", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    let tested: Vec<&str> = ALL.iter().map(|b| b.sub).collect();
    assert!(!listed.is_empty(), "{help}");
    assert_eq!(
        listed, tested,
        "a bench subcommand without a smoke test here (or one gone):\n{help}"
    );
}
