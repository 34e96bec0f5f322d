//! `mpdash scale FILE`: speedup against workers for processes, threads
//! under a simulated GIL, free threads and real CPython (a threads and a
//! processes curve per `--python`), as a table or JSON; each point says
//! whether the machine was quiet enough to trust it.

use crate::runtime::board::{Board, BoardSize, StartMethod};
use crate::runtime::process::Context;
use crate::scenario::ScalingSpec;
use crate::scenario::scaling::{Curve, Point, busy, cpython, measure};

/// `mpdash scale FILE [--max-workers N] [--python PATH]… [--json]`.
pub fn run(
    mut spec: ScalingSpec,
    max_workers: Option<usize>,
    as_json: bool,
    trace: Option<&str>,
    pythons: Vec<String>,
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
    // Every interpreter asked for must run, before anything is measured.
    let pythons = cpython::pythons(&pythons)?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let width = 46;
    if !as_json {
        println!(
            "primes below {} in {} chunks, 1…{} workers, {cpus} CPUs, switch interval {} ms",
            spec.below, spec.chunks, spec.max_workers, spec.switch_interval_ms
        );
        match pythons.len() {
            0 => println!("(python3 not found: no real CPython curves; --python PATH names one)"),
            _ => println!(
                "(the GIL curve is simulated; CPython curves are real, on 1/{} of the range: {})",
                cpython::SLOWDOWN,
                pythons
                    .iter()
                    .map(|p| format!("{} = {}", p.path, p.label()))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
        println!(
            "{:<width$} {:>7} {:>8} {:>8} {:>6} {:>7}",
            "MODE", "WORKERS", "WALL s", "SPEEDUP", "IDEAL", "OTHERS%"
        );
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
    let points = measure(&spec, &Curve::all(&pythons), Some(&ctx), |p| {
        if as_json {
            println!("{}", serde_json::to_string(p).unwrap_or_default());
        } else {
            println!(
                "{:<width$} {:>7} {:>8.3} {:>8.2} {:>6} {:>7.0}{}",
                p.curve_label(),
                p.workers,
                p.wall_s,
                p.speedup,
                p.workers.min(cpus),
                p.others_cpu_pct,
                if p.trustworthy { "" } else { "  busy!" }
            );
        }
    })?;
    if !as_json {
        for line in conclusions(&points) {
            println!("{line}");
        }
    }
    if let (Some(path), Some(t)) = (trace, tracer) {
        crate::telemetry::trace::write(path, t.finish("scale"))?;
    }
    Ok(0)
}

/// What the points say beyond their rows: a busy machine, and the price of
/// free threading for a single thread.
pub fn conclusions(points: &[Point]) -> Vec<String> {
    let mut out = Vec::new();
    let busy: Vec<&Point> = points.iter().filter(|p| !p.trustworthy).collect();
    if let Some(worst) = busy.iter().map(|p| p.others_cpu_pct).reduce(f64::max) {
        out.push(format!(
            "busy! {} of {} points: the machine was busy — other processes used up to {worst:.0}% \
             of a core meanwhile (more than {:.0}%), so those speedups are not trustworthy; \
             measure again on a quiet machine",
            busy.len(),
            points.len(),
            busy::BUSY_PCT
        ));
    }
    for p in points {
        if let Some(cost) = p.single_thread_cost {
            out.push(format!(
                "CPython {} without its GIL: one thread takes {cost:.2}× the time of the GIL'd build",
                p.python.as_deref().unwrap_or("?")
            ));
        }
    }
    out
}
