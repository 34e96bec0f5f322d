//! `mpdash run --headless`: a run without a terminal, printing the processes'
//! output and then a summary table (or JSON lines with `--json`).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::runtime::board::StartMethod;
use crate::scenario::Scenario;
use crate::session::{self, Happened, Session, SessionEvent};
use crate::telemetry::board_view::{ProcRow, read_procs};
use crate::telemetry::labels::{exit_label, ms_label};
use crate::telemetry::observer::Observer;
use crate::telemetry::waits::Diagnosis;

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
    /// Why the run could never move again, when it was stopped for that.
    pub stuck: Option<Diagnosis>,
}

/// How often a headless run looks for a stuck run.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Exit status of a run stopped because it could never move again.
pub const EXIT_STUCK: i32 = 3;

/// Runs the scenario to completion, calling `on_line` for each output line
/// with the name of the process that printed it (when known).
pub fn run_quiet(
    scenario: Arc<Scenario>,
    method: StartMethod,
    trace: bool,
    stuck_after: Option<Duration>,
    mut on_line: impl FnMut(Option<&str>, &str),
) -> anyhow::Result<Outcome> {
    // Who printed: looked up on the board once per pid.
    let mut names: std::collections::HashMap<i32, Option<String>> = Default::default();
    let (tx, rx) = crossbeam_channel::unbounded();
    session::start_reaper(tx.clone())?;
    let mut s = Session::launch(1, scenario, method, tx)?;
    let memory = crate::telemetry::memory::MemoryWatch::start(s.board.clone());
    let tracer = trace.then(|| crate::telemetry::trace::Tracer::start(s.board.clone()));
    let mut interrupted = false;
    let mut observer = Observer::new(s.watch(stuck_after, false));
    let mut stuck = None;
    let mut quiet_since = Instant::now();
    while !s.is_done() {
        let ev = match rx.recv_timeout(LOOK_EVERY) {
            Ok(ev) => ev,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                // Once the main process is gone, wait for the last writers a bounded time.
                if s.ended.is_some() && quiet_since.elapsed() >= Duration::from_secs(2) {
                    break;
                }
                if stuck.is_none() && s.ended.is_none() {
                    stuck = observer.observe().stuck;
                    if stuck.is_some() {
                        s.kill();
                    }
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        quiet_since = Instant::now();
        match s.absorb(ev) {
            Happened::Output { pid, line } => {
                let name = names.entry(pid).or_insert_with(|| {
                    read_procs(&s.board)
                        .into_iter()
                        .find(|p| p.pid == pid && pid > 0)
                        .map(|p| p.name)
                });
                on_line(name.as_deref(), &line)
            }
            Happened::Signal(_) => {
                interrupted = true;
                s.kill();
            }
            Happened::Ended | Happened::Nothing => {}
        }
    }
    let (peak_pss, peak_rss) = memory.finish();
    let label = format!("run with {method}");
    let trace = tracer.map(|t| t.finish(&label));
    end_run(&mut s, &rx);
    let rows = read_procs(&s.board);
    let exit = if interrupted {
        EXIT_INTERRUPTED
    } else if stuck.is_some() {
        EXIT_STUCK
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
        stuck,
    })
}

/// Kills what is left of the run and records how each process ended: what
/// the run's end killed is reaped by the reaper thread, so the table says
/// SIGKILL with the run, not `-`.
pub fn end_run(s: &mut Session, rx: &crossbeam_channel::Receiver<SessionEvent>) {
    s.kill();
    let until = Instant::now() + Duration::from_millis(500);
    // (Nothing left alive: no event to wait for.)
    while s.board_has_live() {
        match rx.recv_deadline(until) {
            Ok(ev) => {
                s.absorb(ev);
            }
            Err(_) => break,
        }
    }
    session::reap_remaining(Duration::from_millis(100));
}

/// A `--json` line: `x`'s fields with `"type": t`.
pub fn typed(t: &str, x: &impl serde::Serialize) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(x)?;
    v["type"] = json!(t);
    Ok(v)
}

/// One output line: as printed, or as a JSON `output` line naming who
/// printed it (null when not known).
pub fn print_output(o: &mut impl Write, as_json: bool, process: Option<&str>, line: &str) {
    let _ = if as_json {
        writeln!(
            o,
            "{}",
            json!({"type": "output", "process": process, "line": line})
        )
    } else {
        writeln!(o, "{line}")
    };
}

/// `mpdash run --headless [--json]`: returns the process exit code.
pub fn run(
    scenario: Scenario,
    method: StartMethod,
    as_json: bool,
    trace: Option<&str>,
    stuck_after: Option<Duration>,
    stuck_exit: i32,
) -> anyhow::Result<i32> {
    let scenario = Arc::new(scenario);
    let out = std::io::stdout();
    let mut outcome = run_quiet(
        scenario.clone(),
        method,
        trace.is_some(),
        stuck_after,
        |process, line| print_output(&mut out.lock(), as_json, process, line),
    )?;
    if outcome.stuck.is_some() && !outcome.interrupted {
        outcome.exit = stuck_exit;
    }
    if let (Some(path), Some(events)) = (trace, outcome.trace.take()) {
        crate::telemetry::trace::write(path, events)?;
    }
    let mut o = out.lock();
    if let Some(d) = &outcome.stuck {
        eprintln!("mpdash: {}: {}", scenario.file, d.summary);
        for line in &d.chain {
            eprintln!("  {line}");
        }
    }
    if as_json {
        for r in &outcome.rows {
            writeln!(o, "{}", typed("process", r)?)?;
        }
        if let Some(d) = &outcome.stuck {
            writeln!(o, "{}", typed("stuck", d)?)?;
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
                "stuck": outcome.stuck.is_some(),
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
                (false, _) if outcome.stuck.is_some() => "stopped: stuck".to_string(),
                (false, 0) => "finished".to_string(),
                (false, c) => format!("failed (main exit {c})"),
            },
            outcome.wall_s
        )?;
    }
    if outcome.exit != 0 && !outcome.interrupted && outcome.stuck.is_none() {
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
