//! Statistics of runs: quantiles, and one finished run summarised (start
//! latency, readiness, memory, helpers, CPU) for `mpdash compare` and the
//! dashboard's Compare tab.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::runtime::board::{Role, StartMethod};
use crate::scenario::Scenario;
use crate::telemetry::board_view::ProcRow;

/// The `q`-quantile (0..=1) of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

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
    /// Workers that died by a signal (a killed worker makes a run's figures
    /// not comparable with the others').
    pub killed: usize,
    /// The scenario's title in the other languages, by language code, for
    /// the screen (`scenario` is the English one, the run's key).
    #[serde(skip)]
    pub titles: BTreeMap<String, String>,
}

impl RunStats {
    /// The scenario's title in the screen's language.
    pub fn shown_title(&self) -> &str {
        self.titles
            .get(crate::i18n::lang().code())
            .map_or(&self.scenario, String::as_str)
    }
}

/// The title of the scenario whose English title is `title`, in the
/// screen's language: the current scenario's, or a finished run's.
pub fn shown_title<'a>(title: &'a str, current: &'a Scenario, runs: &'a [RunStats]) -> &'a str {
    if title == current.title {
        return current.shown_title();
    }
    runs.iter()
        .find(|r| r.scenario == title)
        .map_or(title, RunStats::shown_title)
}

/// Is this row one of the run's workers (processes and pool workers)?
pub fn is_worker(r: &ProcRow) -> bool {
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
    // ALL READY is the first set of workers: those asked for before any
    // worker ended (a replacement started minutes later is not part of it).
    let first_exit = workers
        .iter()
        .map(|r| r.t_exit_ns)
        .filter(|t| *t > 0)
        .min()
        .unwrap_or(u64::MAX);
    let first_set: Vec<&&ProcRow> = workers
        .iter()
        .filter(|r| r.t_request_ns > 0 && r.t_request_ns < first_exit)
        .collect();
    let first_req = first_set.iter().map(|r| r.t_request_ns).min();
    let last_ready = first_set
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
        killed: workers
            .iter()
            .filter(|r| r.exitcode.is_some_and(|c| c < 0))
            .count(),
        titles: scenario
            .translations
            .iter()
            .map(|(lang, t)| (lang.clone(), t.title.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::quantile(&v, 0.5), 50.0);
        assert_eq!(super::quantile(&v, 0.99), 99.0);
        assert_eq!(super::quantile(&v[..1], 0.99), 1.0);
        assert!(super::quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn all_ready_is_the_first_set_of_workers_not_a_late_replacement() {
        use crate::runtime::board::{ProcState, Role, StartMethod};
        use crate::telemetry::board_view::ProcRow;
        let w = |req: u64, ready: u64, exit: u64| ProcRow {
            role: Some(Role::PoolWorker),
            state: ProcState::Exited,
            t_request_ns: req,
            t_ready_ns: ready,
            t_exit_ns: exit,
            ..Default::default()
        };
        // Two workers ready 5 ms after the first request; one ends at 1 s
        // and its replacement is ready at 60 s.
        let rows = vec![
            w(1_000_000, 4_000_000, 1_000_000_000),
            w(2_000_000, 6_000_000, 90_000_000_000),
            w(59_000_000_000, 60_000_000_000, 90_000_000_000),
        ];
        let sc = crate::scenario::parse(
            "scenarios/pool.toml",
            include_str!("../../scenarios/pool.toml"),
            &Default::default(),
        )
        .unwrap();
        let r = super::summarise(
            1,
            &sc,
            StartMethod::Fork,
            &rows,
            std::time::Duration::from_secs(90),
            0,
            0,
            0,
        );
        assert_eq!(r.all_ready_ms, 5.0);
        assert_eq!(r.workers, 3);
    }
}
