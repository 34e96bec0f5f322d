//! `mpdash run --headless`: a run without a terminal, printing the processes'
//! output and then a summary table (or JSON lines with `--json`).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::runtime::board::StartMethod;
use crate::scenario::Scenario;
use crate::session::{self, Session, SessionEvent};
use crate::telemetry::board_view::{ProcRow, read_procs};
use crate::telemetry::labels::{exit_label, ms_label};

/// Exit status of a run interrupted by Ctrl-C or SIGTERM (128 + SIGINT, as shells say).
pub const EXIT_INTERRUPTED: i32 = 130;

/// How a headless run ended.
pub struct Outcome {
    pub exit: i32,
    /// Peak summed PSS and RSS of the workers, sampled every 20 ms.
    pub peak_pss: u64,
    pub peak_rss: u64,
    /// Trace events, when asked for.
    pub trace: Option<Vec<serde_json::Value>>,
    pub rows: Vec<ProcRow>,
    pub wall_s: f64,
    pub interrupted: bool,
}

/// Runs the scenario to completion, calling `on_line` for each output line.
pub fn run_quiet(
    scenario: Arc<Scenario>,
    method: StartMethod,
    trace: bool,
    mut on_line: impl FnMut(&str),
) -> anyhow::Result<Outcome> {
    let (tx, rx) = crossbeam_channel::unbounded();
    session::start_reaper(tx.clone())?;
    let mut s = Session::launch(1, scenario, method, tx)?;
    let memory = crate::telemetry::memory::MemoryWatch::start(s.board.clone());
    let tracer = trace.then(|| crate::telemetry::trace::Tracer::start(s.board.clone()));
    let mut interrupted = false;
    while !s.is_done() {
        // Once the main process is gone, wait for the last writers a bounded time.
        let ev = if s.ended.is_some() {
            match rx.recv_timeout(Duration::from_secs(2)) {
                Ok(ev) => ev,
                Err(_) => break,
            }
        } else {
            rx.recv()?
        };
        match ev {
            SessionEvent::Output { line, .. } => on_line(&line),
            SessionEvent::OutputClosed { .. } => s.output_closed = true,
            SessionEvent::Reaped(r) => {
                s.on_reaped(&r);
            }
            SessionEvent::Signal(_) => {
                interrupted = true;
                s.kill();
            }
        }
    }
    let (peak_pss, peak_rss) = memory.finish();
    let label = format!("run with {method}");
    let trace = tracer.map(|t| t.finish(&label));
    s.kill();
    session::reap_remaining(Duration::from_millis(500));
    let rows = read_procs(&s.board);
    let exit = if interrupted {
        EXIT_INTERRUPTED
    } else {
        s.main_exit.unwrap_or(1)
    };
    Ok(Outcome {
        exit,
        peak_pss,
        peak_rss,
        trace,
        rows,
        wall_s: s.elapsed().as_secs_f64(),
        interrupted,
    })
}

/// `mpdash run --headless [--json]`: returns the process exit code.
pub fn run(
    scenario: Scenario,
    method: StartMethod,
    as_json: bool,
    trace: Option<&str>,
) -> anyhow::Result<i32> {
    let scenario = Arc::new(scenario);
    let out = std::io::stdout();
    let mut outcome = run_quiet(scenario.clone(), method, trace.is_some(), |line| {
        let mut o = out.lock();
        let _ = if as_json {
            writeln!(o, "{}", json!({"type": "output", "line": line}))
        } else {
            writeln!(o, "{line}")
        };
    })?;
    if let (Some(path), Some(events)) = (trace, outcome.trace.take()) {
        crate::telemetry::trace::write(path, events)?;
    }
    let mut o = out.lock();
    if as_json {
        for r in &outcome.rows {
            let mut v = serde_json::to_value(r)?;
            v["type"] = json!("process");
            writeln!(o, "{v}")?;
        }
        writeln!(
            o,
            "{}",
            json!({
                "type": "run",
                "scenario": scenario.title,
                "file": scenario.file,
                "method": method,
                "workers": scenario.pool.workers,
                "wall_s": outcome.wall_s,
                "exit": outcome.exit,
                "interrupted": outcome.interrupted,
                "ok": outcome.exit == 0,
            })
        )?;
    } else {
        writeln!(o)?;
        write!(o, "{}", table(&outcome.rows))?;
        writeln!(
            o,
            "{} with {method}: {} in {:.3} s",
            scenario.title,
            match (outcome.interrupted, outcome.exit) {
                (true, _) => "interrupted".to_string(),
                (false, 0) => "finished".to_string(),
                (false, c) => format!("failed (main exit {c})"),
            },
            outcome.wall_s
        )?;
    }
    if outcome.exit != 0 && !outcome.interrupted {
        eprintln!(
            "mpdash: {}: the scenario's main process exited with {}",
            scenario.file, outcome.exit
        );
    }
    Ok(outcome.exit)
}

/// The summary table of a finished run.
pub fn table(rows: &[ProcRow]) -> String {
    let mut s = format!(
        "{:<16} {:>7} {:>7} {:>7} {:<11} {:<10} {:>9} {:>9} {:>7} {:>7}\n",
        "NAME", "PID", "OS PPID", "PARENT", "ROLE", "METHOD", "START", "READY", "CPU s", "EXIT"
    );
    for r in rows {
        s += &format!(
            "{:<16} {:>7} {:>7} {:>7} {:<11} {:<10} {:>9} {:>9} {:>7} {:>7}\n",
            r.name,
            r.pid,
            r.os_ppid,
            r.logical_ppid,
            r.role.map_or("?", |x| x.label()),
            r.method.map_or("?", |m| m.name()),
            ms_label(r.start_us),
            ms_label(r.ready_us),
            r.cpu_s.map_or("-".into(), |c| format!("{c:.2}")),
            exit_label(r.exitcode),
        );
    }
    s
}
