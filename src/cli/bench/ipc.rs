//! `mpdash bench ipc`: throughput and latency of the primitives between real
//! processes, next to the raw system limits measured in the same run.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Runs, quantile};
use crate::runtime::board::{Board, BoardSize, StartMethod};
use crate::runtime::pipe::Connection;
use crate::runtime::process::{Context, Process};
use crate::runtime::queue::Queue;
use crate::runtime::shared_value::{Num, SharedArray, TypeCode};
use crate::runtime::sync::{Event, Lock};
use crate::scenario::steps::Work;

pub(crate) fn ctx() -> anyhow::Result<Context> {
    let board = Board::create(BoardSize {
        proc_slots: 64,
        res_slots: 32,
        arena_bytes: 32 << 20,
    })?;
    Ok(Context::new(board, StartMethod::Fork))
}

fn start(
    ctx: &Context,
    name: &str,
    steps: Vec<Work>,
    fds: &[(&str, &OwnedFd)],
) -> anyhow::Result<Process> {
    let mut p = Process::new(ctx, name, crate::scenario::steps::target(steps));
    for (n, fd) in fds {
        p = p.pass_fd(n, fd.as_fd());
    }
    p.start()?;
    Ok(p)
}

fn join_ok(ps: &mut [Process]) -> anyhow::Result<()> {
    for p in ps {
        let code = p.join(None);
        anyhow::ensure!(code == Some(0), "{} exited with {code:?}", p.name());
    }
    Ok(())
}

/// Messages per second through one queue, `producers` → `consumers`, 64 B each.
fn queue_rate(producers: u64, consumers: u64, total: u64) -> anyhow::Result<f64> {
    let ctx = ctx()?;
    let _q = Queue::create(ctx.board(), "q", 4096, 64)?;
    let go = Event::create(ctx.board(), "go")?;
    let mut ps = Vec::new();
    for i in 0..producers {
        let steps = vec![
            Work::Wait("go".into()),
            Work::BenchPut {
                queue: "q".into(),
                count: total / producers,
                size: 64,
            },
        ];
        ps.push(start(&ctx, &format!("producer {i}"), steps, &[])?);
    }
    let mut cs = Vec::new();
    for i in 0..consumers {
        let steps = vec![
            Work::Wait("go".into()),
            Work::BenchGet {
                queue: "q".into(),
                count: total / consumers,
            },
        ];
        cs.push(start(&ctx, &format!("consumer {i}"), steps, &[])?);
    }
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    go.set();
    join_ok(&mut cs)?;
    let dt = t.elapsed();
    join_ok(&mut ps)?;
    ctx.shutdown();
    Ok(total as f64 / dt.as_secs_f64())
}

/// Round-trip times (µs, sorted) of 64 B through our Pipe, and through a raw socketpair.
pub(crate) fn pipe_rtts(rounds: u64) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let ctx = ctx()?;
    let (mut a, b) = Connection::pair_on_board(ctx.board(), "pipe", true)?;
    let b: OwnedFd = b.into();
    let mut echo = start(
        &ctx,
        "echo",
        vec![Work::Pong {
            pipe: "pipe".into(),
            count: rounds,
        }],
        &[("pipe", &b)],
    )?;
    let msg = [7u8; 64];
    let mut ours = Vec::with_capacity(rounds as usize);
    for _ in 0..rounds {
        let t = Instant::now();
        a.send_bytes(&msg)?;
        a.recv_bytes()?;
        ours.push(t.elapsed().as_secs_f64() * 1e6);
    }
    join_ok(std::slice::from_mut(&mut echo))?;

    let (raw_a, raw_b) = Connection::pair(true)?;
    let raw_a: OwnedFd = raw_a.into();
    let raw_b: OwnedFd = raw_b.into();
    ctx.board()
        .new_res(crate::runtime::board::ResKind::Pipe, "raw", 0, 1)?;
    let mut echo = start(
        &ctx,
        "raw echo",
        vec![Work::RawEcho {
            pipe: "raw".into(),
            count: rounds,
        }],
        &[("raw", &raw_b)],
    )?;
    let mut raw = Vec::with_capacity(rounds as usize);
    let mut buf = [0u8; 64];
    for _ in 0..rounds {
        let t = Instant::now();
        nix::unistd::write(&raw_a, &msg)?;
        let mut got = 0;
        while got < 64 {
            got += nix::unistd::read(&raw_a, &mut buf[got..])?;
        }
        raw.push(t.elapsed().as_secs_f64() * 1e6);
    }
    join_ok(std::slice::from_mut(&mut echo))?;
    ctx.shutdown();
    ours.sort_by(f64::total_cmp);
    raw.sort_by(f64::total_cmp);
    Ok((ours, raw))
}

/// One-way 64 B frames per second through our Pipe.
fn pipe_oneway(count: u64) -> anyhow::Result<f64> {
    let ctx = ctx()?;
    let (mut r, w) = Connection::pair_on_board(ctx.board(), "pipe", false)?;
    let w: OwnedFd = w.into();
    let t = Instant::now();
    let mut sender = start(
        &ctx,
        "sender",
        vec![Work::BenchSend {
            pipe: "pipe".into(),
            count,
            size: 64,
        }],
        &[("pipe", &w)],
    )?;
    drop(w);
    for _ in 0..count {
        r.recv_bytes()?;
    }
    let dt = t.elapsed();
    join_ok(std::slice::from_mut(&mut sender))?;
    ctx.shutdown();
    Ok(count as f64 / dt.as_secs_f64())
}

/// Uncontended acquire + release, ns per pair.
fn lock_uncontended(n: u64, telemetry: bool) -> anyhow::Result<f64> {
    let ctx = ctx()?;
    let mut l = Lock::create(ctx.board(), "l", false)?;
    l.telemetry = telemetry;
    let t = Instant::now();
    for _ in 0..n {
        l.acquire_raw(true, None)?;
        l.release()?;
    }
    Ok(t.elapsed().as_nanos() as f64 / n as f64)
}

/// Two processes incrementing one Value under its lock: increments per second.
fn value_locked_2proc(per_proc: u64) -> anyhow::Result<f64> {
    let ctx = ctx()?;
    let v = SharedArray::create(ctx.board(), "v", TypeCode::SQ, &[Num::Int(0)], true)?;
    let go = Event::create(ctx.board(), "go")?;
    let steps = || {
        vec![
            Work::Wait("go".into()),
            Work::Increment {
                value: "v".into(),
                times: per_proc,
            },
        ]
    };
    let mut ps = vec![
        start(&ctx, "adder 0", steps(), &[])?,
        start(&ctx, "adder 1", steps(), &[])?,
    ];
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    go.set();
    join_ok(&mut ps)?;
    let dt = t.elapsed();
    anyhow::ensure!(
        v.get(0) == Num::Int(2 * per_proc as i64),
        "lost increments: {:?}",
        v.get(0)
    );
    ctx.shutdown();
    Ok(2.0 * per_proc as f64 / dt.as_secs_f64())
}

pub fn run(as_json: bool) -> anyhow::Result<i32> {
    let mut out = BTreeMap::new();
    let mut spread = BTreeMap::new();
    let q11 = Runs::of(5, || queue_rate(1, 1, 2_000_000))?;
    let q22 = Runs::of(5, || queue_rate(2, 2, 2_000_000))?;
    let (ours, raw) = pipe_rtts(20_000)?;
    let oneway = Runs::of(5, || pipe_oneway(500_000))?;
    let (mut lock_on, mut lock_off) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        lock_on.push(lock_uncontended(3_000_000, true)?);
        lock_off.push(lock_uncontended(3_000_000, false)?);
    }
    let (lock_on, lock_off) = (Runs::from(lock_on), Runs::from(lock_off));
    let value2 = Runs::of(5, || value_locked_2proc(1_000_000))?;
    let overhead = |on: f64, off: f64| 100.0 * (on - off) / off;
    let lock_overhead = overhead(lock_on.median(), lock_off.median());
    let (rtt, raw_rtt) = (quantile(&ours, 0.5), quantile(&raw, 0.5));

    println!(
        "{:<42} {:>14}",
        "measure (median of N runs, and the range)", "figure"
    );
    let mut runs = |k: &'static str, label: &str, r: &Runs, unit: &str| {
        println!("{label:<42} {:>14} {unit}", r.text());
        out.insert(k, r.median());
        spread.insert(k, r.json());
    };
    runs("queue_1p1c_msgs_per_s", "queue 1 → 1, 64 B", &q11, "msgs/s");
    runs("queue_2p2c_msgs_per_s", "queue 2 → 2, 64 B", &q22, "msgs/s");
    runs(
        "pipe_oneway_64b_msgs_per_s",
        "pipe one-way, 64 B",
        &oneway,
        "msgs/s",
    );
    runs(
        "lock_uncontended_ns",
        "lock acquire + release, uncontended",
        &lock_on,
        "ns",
    );
    runs(
        "lock_uncontended_no_telemetry_ns",
        "  … with board telemetry off",
        &lock_off,
        "ns",
    );
    runs(
        "value_locked_2proc_incr_per_s",
        "Value += 1 under its lock, 2 processes",
        &value2,
        "incr/s",
    );
    let mut row = |k: &'static str, label: &str, v: f64, unit: &str| {
        println!("{label:<42} {v:>14.2} {unit}");
        out.insert(k, v);
    };
    row(
        "pipe_rtt_us",
        "pipe round trip, 64 B (p50 of 20 000)",
        rtt,
        "µs",
    );
    row(
        "raw_socketpair_rtt_us",
        "raw socketpair round trip, 64 B (p50)",
        raw_rtt,
        "µs",
    );
    row(
        "pipe_rtt_vs_raw",
        "pipe / raw round trip",
        rtt / raw_rtt,
        "×",
    );
    row(
        "lock_telemetry_overhead_pct",
        "lock telemetry cost (medians)",
        lock_overhead,
        "%",
    );
    // The queue's counts are its own positions (enqueue, dequeue): it pays
    // nothing for being watched, so only the lock has a cost to measure.
    row(
        "telemetry_overhead_pct",
        "telemetry cost, worst primitive (the lock)",
        lock_overhead,
        "%",
    );
    if as_json {
        let mut v = json!(out);
        v["spread"] = json!(spread);
        println!("{v}");
    }
    Ok(0)
}
