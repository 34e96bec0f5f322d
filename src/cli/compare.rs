//! `mpdash compare FILE`: one scenario under several start methods, a table
//! (or JSON lines) of start latency, readiness, memory, helpers and CPU.

use crate::runtime::board::StartMethod;
use crate::scenario::Scenario;
use crate::telemetry::stats::summarise;
use std::sync::Arc;
use std::time::Duration;

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
            let mut outcome = crate::cli::headless::run_quiet(
                scenario.clone(),
                m,
                trace.is_some(),
                Some(crate::telemetry::waits::DEFAULT_STUCK_AFTER),
                |_, _| {},
            )?;
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
        crate::telemetry::trace::write(path, events)?;
    }
    Ok(code)
}
