//! `mpdash scale`: the same CPU-bound work with 1…N workers as processes, as
//! threads sharing a simulated GIL, and as free threads — the tutorial's whole
//! argument for processes, measured — and in real CPython, a threads curve and
//! a processes curve per interpreter. Each point says how much CPU other
//! processes took meanwhile, and whether that leaves it trustworthy.

pub mod busy;
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
    /// Real CPython's, once per interpreter.
    pub const CPYTHON: [Mode; 2] = [Mode::CpythonThreads, Mode::CpythonProcesses];

    pub fn label(self) -> &'static str {
        match self {
            Mode::Processes => "processes",
            Mode::GilThreads => "threads + GIL (simulated)",
            Mode::FreeThreads => "free threads",
            Mode::CpythonThreads => "CPython threads",
            Mode::CpythonProcesses => "CPython multiprocessing",
        }
    }
}

/// One curve: a mode, and for CPython's the interpreter.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub mode: Mode,
    pub python: Option<cpython::Python>,
}

impl Curve {
    /// Ours, then a threads and a processes curve per interpreter.
    pub fn all(pythons: &[cpython::Python]) -> Vec<Curve> {
        let mut v: Vec<Curve> = Mode::ALL
            .iter()
            .map(|&mode| Curve { mode, python: None })
            .collect();
        for p in pythons {
            for mode in Mode::CPYTHON {
                v.push(Curve {
                    mode,
                    python: Some(p.clone()),
                });
            }
        }
        v
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
    /// The CPython curves' interpreter: its version (`3.14.0`, `3.14.0t`
    /// for a free-threaded build); null for ours.
    #[serde(default)]
    pub python: Option<String>,
    /// The interpreter as given (`python3`, a path); null for ours.
    #[serde(default)]
    pub interpreter: Option<String>,
    /// Whether a global lock serialised the threads: CPython's GIL as the
    /// run reported it, ours simulated (true) or free (false); null for
    /// our processes.
    #[serde(default)]
    pub gil: Option<bool>,
    /// CPU other processes used while this point ran, in percent of one core.
    #[serde(default)]
    pub others_cpu_pct: f64,
    /// False when other processes took more than [`busy::BUSY_PCT`] of a
    /// core meanwhile: the machine was busy, and the speedup is theirs too.
    #[serde(default = "yes")]
    pub trustworthy: bool,
    /// On a free-threaded CPython's one-thread point: its wall time over a
    /// GIL'd build's (the same version if measured, else another), the
    /// price of free threading for a single thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_thread_cost: Option<f64>,
}

fn whole() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

impl Point {
    /// The curve's name: `processes`, `CPython 3.14.0t, GIL off threads`.
    pub fn curve_label(&self) -> String {
        match (&self.python, self.gil) {
            (Some(v), gil) => format!(
                "{} {v}{}",
                self.mode.label(),
                match (self.mode, gil) {
                    (Mode::CpythonThreads, Some(false)) => ", GIL off",
                    (Mode::CpythonThreads, _) => ", GIL on",
                    _ => "",
                }
            ),
            (None, _) => self.mode.label().to_string(),
        }
    }

    /// Whether `other` is on the same curve.
    pub fn same_curve(&self, other: &Point) -> bool {
        self.mode == other.mode && self.interpreter == other.interpreter
    }
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
    /// CPython's GIL during the run, as it said.
    pub gil: Option<bool>,
    /// What other processes used meanwhile.
    pub others: busy::Others,
}

pub fn run_once(
    curve: &Curve,
    parts: &[Vec<(u64, u64)>],
    switch: Duration,
    ctx: Option<&Context>,
) -> anyhow::Result<Measured> {
    let mark = busy::Mark::now();
    let t = Instant::now();
    let counted = std::sync::atomic::AtomicU64::new(0);
    // The workers' CPU as the board recorded it (a fork server's children
    // are not ours to reap).
    let mut workers_cpu = Duration::ZERO;
    let mode = curve.mode;
    match mode {
        Mode::CpythonThreads | Mode::CpythonProcesses => {
            let python = curve
                .python
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("a CPython curve needs an interpreter"))?;
            let chunks: u64 = parts.iter().map(|p| p.len() as u64).sum();
            let below = parts.iter().flatten().map(|r| r.1).max().unwrap_or(0);
            let timed = cpython::run_once(
                &python.path,
                mode == Mode::CpythonProcesses,
                parts.len(),
                below / cpython::SLOWDOWN,
                chunks,
                Duration::from_secs(300),
            )?;
            let others = mark.others_until(&busy::Mark::now(), Duration::ZERO);
            return Ok(Measured {
                wall: Duration::from_secs_f64(timed.wall_s),
                primes: None,
                gil: Some(timed.gil),
                others,
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
                if let Some(slot) = p.slot().and_then(|i| ctx.board().proc(i)) {
                    let us = slot.cpu_user_us.load(std::sync::atomic::Ordering::Relaxed)
                        + slot.cpu_sys_us.load(std::sync::atomic::Ordering::Relaxed);
                    workers_cpu += Duration::from_micros(us);
                }
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
    let wall = t.elapsed();
    let others = mark.others_until(&busy::Mark::now(), workers_cpu);
    let threads = matches!(mode, Mode::FreeThreads | Mode::GilThreads);
    Ok(Measured {
        wall,
        primes: threads.then(|| counted.load(std::sync::atomic::Ordering::Relaxed)),
        gil: None,
        others,
    })
}

/// Every point of each curve, 1…max_workers.
pub fn measure(
    spec: &ScalingSpec,
    curves: &[Curve],
    ctx: Option<&Context>,
    mut each: impl FnMut(&Point),
) -> anyhow::Result<Vec<Point>> {
    let switch = Duration::from_millis(spec.switch_interval_ms);
    let mut out: Vec<Point> = Vec::new();
    for curve in curves {
        let mode = curve.mode;
        let mut base = None;
        for w in 1..=spec.max_workers {
            let parts = deal(spec.below, spec.chunks, w);
            let m = run_once(curve, &parts, switch, ctx)?;
            let wall = m.wall.as_secs_f64();
            let b = *base.get_or_insert(wall);
            let mut p = Point {
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
                python: curve.python.as_ref().map(cpython::Python::name),
                interpreter: curve.python.as_ref().map(|p| p.path.clone()),
                gil: match mode {
                    Mode::Processes => None,
                    Mode::GilThreads => Some(true),
                    Mode::FreeThreads => Some(false),
                    Mode::CpythonThreads | Mode::CpythonProcesses => m.gil,
                },
                others_cpu_pct: m.others.cpu_pct,
                trustworthy: m.others.trustworthy,
                single_thread_cost: None,
            };
            if mode == Mode::CpythonThreads && w == 1 && p.gil == Some(false) {
                p.single_thread_cost = single_thread_cost(&p, curve, &out);
            }
            each(&p);
            out.push(p);
        }
    }
    Ok(out)
}

/// A free-threaded CPython's one thread against a GIL'd build's, already
/// measured: the same version first, else the nearest.
fn single_thread_cost(free: &Point, curve: &Curve, done: &[Point]) -> Option<f64> {
    let version = curve.python.as_ref().map(|p| p.version.clone())?;
    let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    done.iter()
        .filter(|q| q.mode == Mode::CpythonThreads && q.workers == 1 && q.gil == Some(true))
        .min_by_key(|q| {
            let v = q.python.as_deref().unwrap_or("").trim_end_matches('t');
            (v != version, minor(v) != minor(&version))
        })
        .map(|gild| free.wall_s / gild.wall_s)
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

    fn cpython_point(version: &str, gil: bool, workers: usize, wall_s: f64) -> Point {
        Point {
            mode: Mode::CpythonThreads,
            workers,
            wall_s,
            speedup: 1.0,
            simulated: false,
            work_fraction: 0.1,
            python: Some(version.into()),
            interpreter: Some(format!("/opt/python{version}")),
            gil: Some(gil),
            others_cpu_pct: 0.0,
            trustworthy: true,
            single_thread_cost: None,
        }
    }

    #[test]
    fn a_free_threaded_build_is_priced_against_the_gild_build_of_its_version() {
        let done = [
            cpython_point("3.11.7", true, 1, 1.0),
            cpython_point("3.11.7", true, 2, 1.0),
            cpython_point("3.14.0", true, 1, 0.8),
        ];
        let python = cpython::Python {
            path: "/opt/python3.14t".into(),
            version: "3.14.0".into(),
            gil: false,
            free_threaded_build: true,
        };
        let curve = Curve {
            mode: Mode::CpythonThreads,
            python: Some(python.clone()),
        };
        let free = cpython_point(&python.name(), false, 1, 1.0);
        assert_eq!(single_thread_cost(&free, &curve, &done), Some(1.25));
        // No GIL'd 3.14: the nearest other is taken.
        assert_eq!(single_thread_cost(&free, &curve, &done[..2]), Some(1.0));
        assert_eq!(single_thread_cost(&free, &curve, &[]), None);
        assert_eq!(python.name(), "3.14.0t");
        assert_eq!(python.label(), "CPython 3.14.0t, GIL off");
        assert_eq!(free.curve_label(), "CPython threads 3.14.0t, GIL off");
        assert_eq!(done[0].curve_label(), "CPython threads 3.11.7, GIL on");
        // A curve per interpreter, after ours: threads then processes.
        let curves = Curve::all(&[python]);
        let modes: Vec<Mode> = curves.iter().map(|c| c.mode).collect();
        assert_eq!(
            modes,
            [
                Mode::Processes,
                Mode::GilThreads,
                Mode::FreeThreads,
                Mode::CpythonThreads,
                Mode::CpythonProcesses
            ]
        );
    }

    #[test]
    fn every_mode_counts_the_same_primes() {
        let parts = deal(20_000, 8, 3);
        let total: u64 = parts.iter().map(|p| count(p)).sum();
        assert_eq!(total, 2262);
        for mode in [Mode::FreeThreads, Mode::GilThreads] {
            let m = mode;
            let curve = Curve { mode, python: None };
            let got = run_once(&curve, &parts, Duration::from_millis(1), None).unwrap();
            assert_eq!(got.primes, Some(2262), "{m:?} counted every prime once");
        }
    }
}
