//! `mpdash bench stuck`: how long after a run can no longer move mpdash says
//! so, per kind of hang (the scenarios in `scenarios/stuck/`). The latency of
//! one run is the time from the last wait that closed the trap (the newest
//! `since` among the diagnosis's waits) to the diagnosis.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::quantile;
use crate::cli::headless::run_quiet;
use crate::telemetry::waits::DEFAULT_STUCK_AFTER;

/// The hangs measured, one scenario each.
const HANGS: [&str; 5] = [
    "scenarios/stuck/lock_order.toml",
    "scenarios/stuck/join_before_get.toml",
    "scenarios/stuck/barrier_short.toml",
    "scenarios/stuck/dead_producer.toml",
    "scenarios/stuck/event_never_set.toml",
];

pub fn run(runs: usize, as_json: bool) -> anyhow::Result<i32> {
    let runs = runs.max(1);
    println!(
        "detection latency: last wait that closed the trap → diagnosis, {runs} runs each, grace {:.1} s",
        DEFAULT_STUCK_AFTER.as_secs_f64()
    );
    println!(
        "{:<44} {:<17} {:>8} {:>8}",
        "HANG", "KIND", "p50 s", "max s"
    );
    let mut out = BTreeMap::new();
    for file in HANGS {
        let sc = Arc::new(crate::scenario::load(file, &Default::default())?);
        let mut lat = Vec::with_capacity(runs);
        let mut kind = String::new();
        for _ in 0..runs {
            let o = run_quiet(
                sc.clone(),
                sc.start_method,
                false,
                Some(DEFAULT_STUCK_AFTER),
                |_, _| {},
            )?;
            let d = o
                .stuck
                .ok_or_else(|| anyhow::anyhow!("{file}: not diagnosed (exit {})", o.exit))?;
            kind = serde_json::to_value(d.kind)?
                .as_str()
                .unwrap_or_default()
                .to_string();
            let newest = d
                .waits
                .iter()
                .map(|w| w.since_s)
                .fold(f64::INFINITY, f64::min);
            lat.push(newest);
        }
        lat.sort_by(f64::total_cmp);
        let (p50, max) = (quantile(&lat, 0.5), lat[lat.len() - 1]);
        let name = file
            .trim_start_matches("scenarios/stuck/")
            .trim_end_matches(".toml");
        println!("{name:<44} {kind:<17} {p50:>8.2} {max:>8.2}");
        out.insert(
            name.to_string(),
            json!({"kind": kind, "p50_s": p50, "max_s": max, "runs": runs}),
        );
    }
    if as_json {
        println!("{}", json!({"detection_latency": out}));
    }
    Ok(0)
}
