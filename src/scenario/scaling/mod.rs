//! `mpdash scale`: the same CPU-bound work with 1…N workers as processes, as
//! threads sharing a simulated GIL, and as free threads — the tutorial's whole
//! argument for processes, measured.

pub mod cpython;
pub mod gil;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::runtime::board::{Board, BoardSize, StartMethod};
use crate::runtime::process::{Context, Process};
use crate::scenario::ScalingSpec;
use crate::scenario::steps::{Work, count_primes};

/// How the workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Real processes (fork), no shared lock: true parallelism.
    Processes,
    /// Threads of one process that must hold one global lock to compute,
    /// handed over every switch interval: CPython's GIL, simulated.
    GilThreads,
    /// Threads with no global lock (free-threaded CPython, or Rust).
    FreeThreads,
    /// Real CPython threads, with the real GIL (when python3 is installed).
    CpythonThreads,
    /// Real CPython `multiprocessing.Pool` (when python3 is installed).
    CpythonProcesses,
}

impl Mode {
    /// Ours: always measured.
    pub const ALL: [Mode; 3] = [Mode::Processes, Mode::GilThreads, Mode::FreeThreads];
    /// Real CPython's, when `python3` runs here.
    pub const CPYTHON: [Mode; 2] = [Mode::CpythonThreads, Mode::CpythonProcesses];

    /// The modes to measure on this machine.
    pub fn available() -> Vec<Mode> {
        let mut v = Self::ALL.to_vec();
        if cpython::available() {
            v.extend(Self::CPYTHON);
        }
        v
    }

    pub fn label(self) -> &'static str {
        match self {
            Mode::Processes => "processes",
            Mode::GilThreads => "threads + GIL (simulated)",
            Mode::FreeThreads => "free threads",
            Mode::CpythonThreads => "CPython threads (real GIL, 1/10 of the work)",
            Mode::CpythonProcesses => "CPython multiprocessing (1/10 of the work)",
        }
    }
}

/// One measured point.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Point {
    pub mode: Mode,
    pub workers: usize,
    pub wall_s: f64,
    pub speedup: f64,
    /// Whether the curve is a simulation (the GIL) rather than the real thing.
    pub simulated: bool,
    /// The share of the range this curve computes: 1, or 1/10 for the real
    /// CPython curves (pure Python is that much slower). Speedups compare
    /// within a curve, so they stay comparable; wall times do not.
    #[serde(default = "whole")]
    pub work_fraction: f64,
}

fn whole() -> f64 {
    1.0
}

/// Chunks of `[0, below)`, dealt round-robin to `workers` so each gets a fair
/// share of the small (cheap) and large (dear) numbers.
pub fn deal(below: u64, chunks: u64, workers: usize) -> Vec<Vec<(u64, u64)>> {
    let step = below.div_ceil(chunks.max(1));
    let n = workers.max(1);
    let mut parts = vec![Vec::new(); n];
    for i in 0..chunks {
        let r = ((i * step).min(below), ((i + 1) * step).min(below));
        parts[i as usize % n].push(r);
    }
    parts
}

fn count(ranges: &[(u64, u64)]) -> u64 {
    ranges.iter().map(|(a, b)| count_primes(*a, *b)).sum()
}

/// Runs `parts` in `mode` and returns the wall time. Processes are started
/// in `ctx` (so they show on its board) or in a private one.
/// One measurement: its wall time, and the primes counted when they were
/// counted in this process (the thread modes; processes count in children).
pub struct Measured {
    pub wall: Duration,
    pub primes: Option<u64>,
}

pub fn run_once(
    mode: Mode,
    parts: &[Vec<(u64, u64)>],
    switch: Duration,
    ctx: Option<&Context>,
) -> anyhow::Result<Measured> {
    let t = Instant::now();
    let counted = std::sync::atomic::AtomicU64::new(0);
    match mode {
        Mode::CpythonThreads | Mode::CpythonProcesses => {
            let chunks: u64 = parts.iter().map(|p| p.len() as u64).sum();
            let below = parts.iter().flatten().map(|r| r.1).max().unwrap_or(0);
            let wall = cpython::run_once(
                mode == Mode::CpythonProcesses,
                parts.len(),
                below / cpython::SLOWDOWN,
                chunks,
                Duration::from_secs(300),
            )?;
            return Ok(Measured {
                wall: Duration::from_secs_f64(wall),
                primes: None,
            });
        }
        Mode::Processes => {
            let own;
            let ctx = match ctx {
                Some(c) => c,
                None => {
                    let board = Board::create(BoardSize {
                        proc_slots: parts.len() as u32 + 8,
                        res_slots: 4,
                        arena_bytes: 4096,
                    })?;
                    own = Context::new(board, StartMethod::Fork);
                    &own
                }
            };
            let mut ps = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let mut proc = Process::new(
                    ctx,
                    &format!("scale worker {} of {}", i + 1, parts.len()),
                    crate::scenario::steps::target(vec![Work::CountPrimesIn(p.clone())]),
                );
                proc.start()?;
                ps.push(proc);
            }
            for p in &mut ps {
                anyhow::ensure!(p.join(None) == Some(0), "a scaling worker failed");
            }
        }
        Mode::FreeThreads => std::thread::scope(|s| -> anyhow::Result<()> {
            let counted = &counted;
            for (i, p) in parts.iter().enumerate() {
                // Named, so the dashboard's per-thread rows say who is who.
                std::thread::Builder::new()
                    .name(format!("free thread {}", i + 1))
                    .spawn_scoped(s, move || {
                        counted.fetch_add(count(p), std::sync::atomic::Ordering::Relaxed)
                    })?;
            }
            Ok(())
        })?,
        Mode::GilThreads => {
            let gil = gil::Gil::new(switch);
            std::thread::scope(|s| -> anyhow::Result<()> {
                for (i, p) in parts.iter().enumerate() {
                    let (gil, counted) = (&gil, &counted);
                    std::thread::Builder::new()
                        .name(format!("GIL thread {}", i + 1))
                        .spawn_scoped(s, move || {
                            // Small steps, so the holder notices the switch interval.
                            let mut steps = p.iter().flat_map(|&(a, b)| {
                                (a..b).step_by(2000).map(move |x| (x, (x + 2000).min(b)))
                            });
                            gil.run(i, || match steps.next() {
                                Some((a, b)) => {
                                    counted.fetch_add(
                                        count_primes(a, b),
                                        std::sync::atomic::Ordering::Relaxed,
                                    );
                                    true
                                }
                                None => false,
                            })
                        })?;
                }
                Ok(())
            })?;
        }
    }
    let threads = matches!(mode, Mode::FreeThreads | Mode::GilThreads);
    Ok(Measured {
        wall: t.elapsed(),
        primes: threads.then(|| counted.load(std::sync::atomic::Ordering::Relaxed)),
    })
}

/// Every point of the curve for the given modes, 1…max_workers.
pub fn measure(
    spec: &ScalingSpec,
    modes: &[Mode],
    ctx: Option<&Context>,
    mut each: impl FnMut(&Point),
) -> anyhow::Result<Vec<Point>> {
    let switch = Duration::from_millis(spec.switch_interval_ms);
    let mut out = Vec::new();
    for &mode in modes {
        let mut base = None;
        for w in 1..=spec.max_workers {
            let parts = deal(spec.below, spec.chunks, w);
            let wall = run_once(mode, &parts, switch, ctx)?.wall.as_secs_f64();
            let b = *base.get_or_insert(wall);
            let p = Point {
                mode,
                workers: w,
                wall_s: wall,
                speedup: b / wall,
                simulated: mode == Mode::GilThreads,
                work_fraction: if Mode::CPYTHON.contains(&mode) {
                    1.0 / cpython::SLOWDOWN as f64
                } else {
                    1.0
                },
            };
            each(&p);
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dealing_covers_the_range_once_and_balances() {
        let parts = deal(1000, 10, 3);
        let mut all: Vec<(u64, u64)> = parts.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all.first().unwrap().0, 0);
        assert_eq!(all.last().unwrap().1, 1000);
        assert!(all.windows(2).all(|w| w[0].1 == w[1].0));
        assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [4, 3, 3]);
    }

    #[test]
    fn every_mode_counts_the_same_primes() {
        let parts = deal(20_000, 8, 3);
        let total: u64 = parts.iter().map(|p| count(p)).sum();
        assert_eq!(total, 2262);
        for m in [Mode::FreeThreads, Mode::GilThreads] {
            let got = run_once(m, &parts, Duration::from_millis(1), None).unwrap();
            assert_eq!(got.primes, Some(2262), "{m:?} counted every prime once");
        }
    }
}
