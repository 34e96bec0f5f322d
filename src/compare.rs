//! Comparing runs of one scenario under different start methods: start
//! latency, readiness, memory (PSS, so copy-on-write sharing shows), helper
//! processes and CPU. Used by `mpdash compare` and the dashboard's Compare tab.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::bench::quantile;
use crate::runtime::board::{Board, Role, StartMethod};
use crate::scenario::Scenario;
use crate::telemetry::board_view::{ProcRow, read_procs};
use crate::telemetry::memory::pss_rss;

/// One finished run, summarised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStats {
    pub run: u64,
    pub scenario: String,
    pub method: StartMethod,
    /// Children that do the work (processes and pool workers).
    pub workers: usize,
    pub wall_s: f64,
    /// Request → first instruction over the workers, µs.
    pub start_p50_us: f64,
    pub start_p99_us: f64,
    /// From the first worker's request to the last worker's ready, ms.
    pub all_ready_ms: f64,
    /// Peak of the workers' summed PSS and RSS, MiB (0 when never sampled).
    pub workers_pss_mib: f64,
    pub workers_rss_mib: f64,
    /// Helper processes (fork server, manager).
    pub helpers: usize,
    /// CPU seconds of every process of the run (from `wait4`).
    pub cpu_s: f64,
    pub exit: i32,
}

fn is_worker(r: &ProcRow) -> bool {
    matches!(r.role, Some(Role::Process) | Some(Role::PoolWorker))
}

/// Summarises a run from its board rows and the memory peaks seen during it.
#[allow(clippy::too_many_arguments)]
pub fn summarise(
    run: u64,
    scenario: &Scenario,
    method: StartMethod,
    rows: &[ProcRow],
    wall: Duration,
    peak_pss: u64,
    peak_rss: u64,
    exit: i32,
) -> RunStats {
    let workers: Vec<&ProcRow> = rows.iter().filter(|r| is_worker(r)).collect();
    let mut starts: Vec<f64> = workers.iter().filter_map(|r| r.start_us).collect();
    starts.sort_by(f64::total_cmp);
    let first_req = workers
        .iter()
        .map(|r| r.t_request_ns)
        .filter(|t| *t > 0)
        .min();
    let last_ready = workers
        .iter()
        .map(|r| r.t_ready_ns)
        .filter(|t| *t > 0)
        .max();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    RunStats {
        run,
        scenario: scenario.title.clone(),
        method,
        workers: workers.len(),
        wall_s: wall.as_secs_f64(),
        start_p50_us: quantile(&starts, 0.5),
        start_p99_us: quantile(&starts, 0.99),
        all_ready_ms: match (first_req, last_ready) {
            (Some(a), Some(b)) if b >= a => (b - a) as f64 / 1e6,
            _ => f64::NAN,
        },
        workers_pss_mib: mib(peak_pss),
        workers_rss_mib: mib(peak_rss),
        helpers: rows
            .iter()
            .filter(|r| r.role == Some(Role::ForkServer))
            .count(),
        cpu_s: rows.iter().filter_map(|r| r.cpu_s).sum(),
        exit,
    }
}

/// The workers' summed (PSS, RSS) right now.
pub fn workers_memory(rows: &[ProcRow]) -> (u64, u64) {
    rows.iter()
        .filter(|r| is_worker(r) && r.alive())
        .filter_map(|r| pss_rss(r.pid))
        .fold((0, 0), |(p, r), (a, b)| (p + a, r + b))
}

/// Samples the workers' memory every 20 ms on a thread until dropped,
/// keeping the peaks.
pub struct MemoryWatch {
    stop: Arc<AtomicBool>,
    pss: Arc<AtomicU64>,
    rss: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MemoryWatch {
    pub fn start(board: Board) -> MemoryWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let pss = Arc::new(AtomicU64::new(0));
        let rss = Arc::new(AtomicU64::new(0));
        let (s, p, r) = (stop.clone(), pss.clone(), rss.clone());
        let thread = std::thread::Builder::new()
            .name("memory".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let (a, b) = workers_memory(&read_procs(&board));
                    p.fetch_max(a, Ordering::Relaxed);
                    r.fetch_max(b, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .ok();
        MemoryWatch {
            stop,
            pss,
            rss,
            thread,
        }
    }

    /// Stops and returns the peaks (PSS, RSS).
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (
            self.pss.load(Ordering::Relaxed),
            self.rss.load(Ordering::Relaxed),
        )
    }
}

/// `mpdash compare FILE [--methods …] [--runs N] [--json]`.
pub fn run(
    scenario: Scenario,
    methods: &[StartMethod],
    runs: usize,
    as_json: bool,
    trace: Option<&str>,
) -> anyhow::Result<i32> {
    let mut events = Vec::new();
    let scenario = Arc::new(scenario);
    if !as_json {
        println!(
            "{:<11} {:>4} {:>8} {:>10} {:>10} {:>10} {:>9} {:>9} {:>7} {:>7} {:>5}",
            "METHOD",
            "RUN",
            "WALL s",
            "START p50",
            "START p99",
            "ALL READY",
            "PSS MiB",
            "RSS MiB",
            "HELPERS",
            "CPU s",
            "EXIT"
        );
    }
    let mut code = 0;
    let mut n = 0;
    for &m in methods {
        for _ in 0..runs.max(1) {
            n += 1;
            let mut outcome =
                crate::headless::run_quiet(scenario.clone(), m, trace.is_some(), |_| {})?;
            events.extend(outcome.trace.take().unwrap_or_default());
            let s = summarise(
                n,
                &scenario,
                m,
                &outcome.rows,
                Duration::from_secs_f64(outcome.wall_s),
                outcome.peak_pss,
                outcome.peak_rss,
                outcome.exit,
            );
            if s.exit != 0 {
                code = 1;
            }
            if as_json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!(
                    "{:<11} {:>4} {:>8.3} {:>8.0}µs {:>8.0}µs {:>8.1}ms {:>9.1} {:>9.1} {:>7} {:>7.2} {:>5}",
                    m.name(),
                    n,
                    s.wall_s,
                    s.start_p50_us,
                    s.start_p99_us,
                    s.all_ready_ms,
                    s.workers_pss_mib,
                    s.workers_rss_mib,
                    s.helpers,
                    s.cpu_s,
                    s.exit
                );
            }
        }
    }
    if let Some(path) = trace {
        crate::trace::write(path, events)?;
    }
    Ok(code)
}
