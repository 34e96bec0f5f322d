//! `mpdash bench start`: start latency per start method, request → the
//! child's first instruction, from the timestamps the children write on the board.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde_json::json;

use super::quantile;
use crate::runtime::board::{Board, BoardSize, Role, StartMethod};
use crate::runtime::process::{Context, Process};
use crate::runtime::registry::Target;

/// Latencies in µs of `children` children started one after another.
pub fn measure(method: StartMethod, children: usize) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let board = Board::create(BoardSize {
        proc_slots: children as u32 + 8,
        res_slots: 4,
        arena_bytes: 4096,
    })?;
    let ctx = Context::new(board.clone(), method);
    let mut first = Vec::with_capacity(children);
    let mut ready = Vec::with_capacity(children);
    for _ in 0..children {
        let mut p = Process::new(&ctx, "bench child", Target::exit()).with_role(Role::Bench, 0);
        p.start()?;
        let code = p.join(None);
        anyhow::ensure!(code == Some(0), "a bench child exited with {code:?}");
        let s = board.proc(p.slot().expect("started")).expect("slot");
        let req = s.t_request.load(Ordering::Relaxed);
        first.push((s.t_first.load(Ordering::Relaxed).saturating_sub(req)) as f64 / 1000.0);
        ready.push((s.t_ready.load(Ordering::Relaxed).saturating_sub(req)) as f64 / 1000.0);
    }
    ctx.shutdown();
    first.sort_by(f64::total_cmp);
    ready.sort_by(f64::total_cmp);
    Ok((first, ready))
}

pub fn run(children: usize, as_json: bool) -> anyhow::Result<i32> {
    let children = children.max(1);
    let mut out = BTreeMap::new();
    println!(
        "start latency, request → first instruction (and → ready), {children} children per method"
    );
    println!(
        "{:<11} {:>10} {:>10} {:>12} {:>12}",
        "METHOD", "p50 µs", "p99 µs", "ready p50", "ready p99"
    );
    for m in StartMethod::ALL {
        let (first, ready) = measure(m, children)?;
        let (p50, p99) = (quantile(&first, 0.5), quantile(&first, 0.99));
        println!(
            "{:<11} {:>10.1} {:>10.1} {:>12.1} {:>12.1}",
            m.name(),
            p50,
            p99,
            quantile(&ready, 0.5),
            quantile(&ready, 0.99)
        );
        out.insert(m.name(), json!({"p50": p50, "p99": p99}));
    }
    if as_json {
        println!("{}", json!({"start_us": out, "children": children}));
    }
    Ok(0)
}
