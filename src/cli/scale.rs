//! `mpdash scale FILE`: speedup against workers for processes, threads
//! under a simulated GIL, free threads and real CPython, as a table or JSON.

use crate::runtime::board::{Board, BoardSize, StartMethod};
use crate::runtime::process::Context;
use crate::scenario::ScalingSpec;
use crate::scenario::scaling::{Mode, cpython, measure};

/// `mpdash scale FILE [--max-workers N] [--json]`.
pub fn run(
    mut spec: ScalingSpec,
    max_workers: Option<usize>,
    as_json: bool,
    trace: Option<&str>,
) -> anyhow::Result<i32> {
    if let Some(n) = max_workers {
        if !(1..=crate::scenario::MAX_WORKERS as usize).contains(&n) {
            anyhow::bail!(
                "--max-workers: must be between 1 and {} (got {n}), as [scaling] max_workers",
                crate::scenario::MAX_WORKERS
            );
        }
        spec.max_workers = n;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !as_json {
        println!(
            "primes below {} in {} chunks, 1…{} workers, {cpus} CPUs, switch interval {} ms",
            spec.below, spec.chunks, spec.max_workers, spec.switch_interval_ms
        );
        println!(
            "{:<28} {:>7} {:>8} {:>8} {:>6}",
            "MODE", "WORKERS", "WALL s", "SPEEDUP", "IDEAL"
        );
        println!(
            "(the GIL curve is simulated; CPython curves are real python3 on 1/{} of the range)",
            cpython::SLOWDOWN
        );
    }
    let modes = Mode::available();
    if !as_json && modes.len() == Mode::ALL.len() {
        println!("(python3 not found: no real CPython curves)");
    }
    // One board for every process the measurement starts, so a trace can follow them.
    let slots = spec.max_workers * (spec.max_workers + 1) / 2 + 8;
    let board = Board::create(BoardSize {
        proc_slots: slots as u32,
        res_slots: 4,
        arena_bytes: 4096,
    })?;
    let ctx = Context::new(board.clone(), StartMethod::Fork);
    let tracer = trace.map(|_| crate::telemetry::trace::Tracer::start(board));
    measure(&spec, &modes, Some(&ctx), |p| {
        if as_json {
            println!("{}", serde_json::to_string(p).unwrap_or_default());
        } else {
            println!(
                "{:<28} {:>7} {:>8.3} {:>8.2} {:>6}",
                p.mode.label(),
                p.workers,
                p.wall_s,
                p.speedup,
                p.workers.min(cpus)
            );
        }
    })?;
    if let (Some(path), Some(t)) = (trace, tracer) {
        crate::telemetry::trace::write(path, t.finish("scale"))?;
    }
    Ok(0)
}
