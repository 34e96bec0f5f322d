//! `mpdash bench pool`: `Pool(2).map` over 100 000 trivial items, with
//! chunksize 1 and with CPython's default; the Manager's round trip; and the
//! raw socketpair round trip measured in the same run, for scale.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;

use super::Runs;
use super::ipc::{ctx, pipe_rtts};
use super::quantile;
use crate::runtime::pool::{Items, Pool, PoolOptions};
use crate::scenario::builtins::SQUARE;

const ITEMS: i64 = 100_000;

/// Items per second of `Pool(2).map(square, range(100_000), chunksize)`.
fn map_rate(chunksize: Option<usize>) -> anyhow::Result<f64> {
    let ctx = ctx()?;
    let mut pool = Pool::new(&ctx, "bench pool", PoolOptions::with_workers(2))?;
    // Warm up: workers started and their pages touched.
    pool.map(&SQUARE, Items::range(0, 1000, 1), None)?;
    let t = Instant::now();
    let v = pool.map(&SQUARE, Items::range(0, ITEMS, 1), chunksize)?;
    let rate = ITEMS as f64 / t.elapsed().as_secs_f64();
    anyhow::ensure!(
        v.len() == ITEMS as usize && v[ITEMS as usize - 1] == (ITEMS - 1) * (ITEMS - 1),
        "wrong results"
    );
    pool.close();
    pool.join()?;
    ctx.shutdown();
    Ok(rate)
}

pub fn run(as_json: bool) -> anyhow::Result<i32> {
    let mut out = BTreeMap::new();
    let chunk1 = Runs::of(5, || map_rate(Some(1)))?;
    let default = Runs::of(5, || map_rate(None))?;
    let (_, raw) = pipe_rtts(5_000)?;
    use super::manager_rt::{cpython_dict_round_trips, dict_round_trips};
    let manager = dict_round_trips(20_000, false)?;
    let manager_tcp = dict_round_trips(20_000, true)?;
    let cpython = cpython_dict_round_trips(20_000, false);
    let cpython_tcp = cpython_dict_round_trips(20_000, true);
    println!(
        "{:<48} {:>14}",
        "measure (median of N runs, and the range)", "figure"
    );
    let mut spread = BTreeMap::new();
    for (k, label, r) in [
        (
            "pool_map_chunk1_items_per_s",
            "Pool(2).map, 100 000 trivial items, chunksize 1",
            &chunk1,
        ),
        (
            "pool_map_default_items_per_s",
            "… CPython's default chunksize (12 500)",
            &default,
        ),
    ] {
        println!("{label:<48} {:>14} items/s", r.text());
        out.insert(k, r.median());
        spread.insert(k, r.json());
    }
    let mut row = |k: &'static str, label: &str, v: f64, unit: &str| {
        println!("{label:<48} {v:>14.2} {unit}");
        out.insert(k, v);
    };
    row(
        "manager_dict_rt_per_s",
        "Manager dict set + get from a child",
        manager.rate,
        "round trips/s",
    );
    row(
        "manager_dict_rt_us",
        "… one round trip (p50)",
        manager.p50_us,
        "µs",
    );
    row(
        "manager_dict_tcp_rt_per_s",
        "… the same over TCP on 127.0.0.1",
        manager_tcp.rate,
        "round trips/s",
    );
    row(
        "manager_dict_tcp_rt_us",
        "… one TCP round trip (p50)",
        manager_tcp.p50_us,
        "µs",
    );
    for (k, label, theirs, ours) in [
        (
            "cpython_manager_dict_rt_per_s",
            "CPython SyncManager dict, same loop, now",
            cpython,
            manager.rate,
        ),
        (
            "cpython_manager_dict_tcp_rt_per_s",
            "… over TCP on 127.0.0.1",
            cpython_tcp,
            manager_tcp.rate,
        ),
    ] {
        if let Some(theirs) = theirs {
            let unit = format!("round trips/s (mpdash {:.1}×)", ours / theirs);
            row(k, label, theirs, &unit);
        }
    }
    row(
        "raw_socketpair_rtt_us",
        "raw socketpair round trip, 64 B (p50)",
        quantile(&raw, 0.5),
        "µs",
    );
    if as_json {
        let mut v = json!(out);
        v["spread"] = json!(spread);
        println!("{v}");
    }
    Ok(0)
}
