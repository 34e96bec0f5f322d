//! `mpdash run --headless`: a run without a terminal, printing the processes'
//! output and then a summary table (or JSON lines with `--json`); with
//! `--record FILE`, saved for `mpdash replay FILE` as the dashboard saves it.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::app::{Action, App, DataAction, Printed, RunAction};
use crate::runtime::board::StartMethod;
use crate::scenario::Scenario;
use crate::session::{self, Happened, Session, SessionEvent};
use crate::telemetry::board_view::{ProcRow, read_procs};
use crate::telemetry::labels::{exit_label, ms_label};
use crate::telemetry::observer::Observer;
use crate::telemetry::snapshot::Snapshot;
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

/// `--record FILE` on a headless run: what the dashboard would have kept of
/// the run — a sample every `1/rate` s, the output, the end — fed to the
/// dashboard's own state and saved by its own code
/// ([`crate::app::recording`]), so `mpdash replay FILE` cannot tell the two
/// apart.
pub struct Recorder {
    app: App,
    path: String,
    every: Duration,
    next: Instant,
    /// The machine's CPUs and memory, for the header's meters, as the
    /// dashboard's sampler reads them.
    sys: sysinfo::System,
}

impl Recorder {
    /// Checks at once that `path` can be written (a run is not wasted on a
    /// file that cannot be saved).
    pub fn new(path: &str, scenario: Arc<Scenario>, rate_hz: f64) -> anyhow::Result<Recorder> {
        if !(rate_hz.is_finite() && (0.5..=30.0).contains(&rate_hz)) {
            anyhow::bail!("--rate: samples per second between 0.5 and 30 (got {rate_hz})");
        }
        std::fs::File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot write the recording {path}: {e}"))?;
        Ok(Recorder {
            app: App::new(scenario, rate_hz),
            path: path.to_string(),
            every: Duration::from_secs_f64(1.0 / rate_hz),
            next: Instant::now(),
            sys: sysinfo::System::new_with_specifics(
                sysinfo::RefreshKind::nothing()
                    .with_cpu(sysinfo::CpuRefreshKind::nothing().with_cpu_usage())
                    .with_memory(sysinfo::MemoryRefreshKind::nothing().with_ram()),
            ),
        })
    }

    /// A recording of a command (a Python program, probed): replay shows
    /// it as the dashboard showed `mpdash prog.py`.
    pub fn of_command(mut self, argv: &[String], probed: bool) -> Recorder {
        self.app.source = crate::session::Source::command(argv.to_vec(), probed);
        self
    }

    pub(crate) fn started(&mut self, run: u64, method: StartMethod) {
        self.app
            .update(Action::Run(RunAction::RunStarted { run, method }));
        self.next = Instant::now();
    }

    pub(crate) fn output(&mut self, pid: i32, line: &str) {
        self.app.update(Action::Data(DataAction::Output(Printed {
            pid,
            line: line.to_string(),
        })));
    }

    /// How long until the next sample is due.
    pub(crate) fn due_in(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    pub(crate) fn sample(&mut self, mut snap: Snapshot) {
        self.next = Instant::now() + self.every;
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        let cpus = self.sys.cpus();
        snap.system = crate::telemetry::snapshot::SystemView {
            cpus: cpus.len(),
            cpu_pct: self.sys.global_cpu_usage(),
            per_core: cpus.iter().map(|c| c.cpu_usage()).collect(),
            mem_used: self.sys.used_memory(),
            mem_total: self.sys.total_memory(),
        };
        self.app
            .update(Action::Data(DataAction::Sample(Box::new(snap))));
    }

    /// The end as the dashboard takes it (the board as the run left it, then
    /// one more sample to settle the last moment), saved.
    pub(crate) fn finish(
        mut self,
        exit: i32,
        wall: Duration,
        rows: Vec<ProcRow>,
        last: Snapshot,
    ) -> anyhow::Result<()> {
        self.app
            .update(Action::Run(RunAction::RunEnded { exit, wall, rows }));
        self.sample(last);
        crate::app::recording::save(&self.app, &self.path)
    }
}

/// Runs the scenario to completion, calling `on_line` for each output line
/// with the name of the process that printed it (when known).
pub fn run_quiet(
    scenario: Arc<Scenario>,
    method: StartMethod,
    trace: bool,
    stuck_after: Option<Duration>,
    on_line: impl FnMut(Option<&str>, &str),
) -> anyhow::Result<Outcome> {
    run_recorded(scenario, method, trace, stuck_after, None, on_line)
}

/// [`run_quiet`], and with `recorder` every sample saved for `mpdash replay`.
pub fn run_recorded(
    scenario: Arc<Scenario>,
    method: StartMethod,
    trace: bool,
    stuck_after: Option<Duration>,
    mut recorder: Option<Recorder>,
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
    // A recording keeps what the dashboard samples (threads too).
    let mut observer = Observer::new(s.watch(stuck_after, recorder.is_some()));
    if let Some(r) = recorder.as_mut() {
        r.started(s.id, method);
    }
    let mut stuck = None;
    let mut quiet_since = Instant::now();
    while !s.is_done() {
        if let Some(r) = recorder.as_mut()
            && r.due_in().is_zero()
        {
            if s.ended.is_some() {
                // What happens once the main process has ended is no evidence.
                observer.stop_judging();
            }
            let snap = observer.observe();
            if stuck.is_none() && s.ended.is_none() && snap.stuck.is_some() {
                stuck = snap.stuck.clone();
                s.kill();
            }
            r.sample(snap);
        }
        let wait = recorder
            .as_ref()
            .map_or(LOOK_EVERY, |r| r.due_in().min(LOOK_EVERY));
        let ev = match rx.recv_timeout(wait) {
            Ok(ev) => ev,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                // Once the main process is gone, wait for the last writers a bounded time.
                if s.ended.is_some() && quiet_since.elapsed() >= Duration::from_secs(2) {
                    break;
                }
                if stuck.is_none() && s.ended.is_none() && recorder.is_none() {
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
                if let Some(r) = recorder.as_mut() {
                    r.output(pid, &line);
                }
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
    if let Some(r) = recorder {
        observer.stop_judging();
        let last = observer.observe();
        r.finish(exit, s.elapsed(), rows.clone(), last)?;
    }
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

/// Where and how often a headless run is recorded (`--record FILE`, `--rate HZ`).
pub struct Record {
    pub path: String,
    pub rate_hz: f64,
}

/// `mpdash run --headless [--json] [--record FILE]`: returns the process exit code.
pub fn run(
    scenario: Scenario,
    method: StartMethod,
    as_json: bool,
    trace: Option<&str>,
    stuck_after: Option<Duration>,
    stuck_exit: i32,
    record: Option<Record>,
) -> anyhow::Result<i32> {
    let scenario = Arc::new(scenario);
    let recorder = record
        .as_ref()
        .map(|r| Recorder::new(&r.path, scenario.clone(), r.rate_hz))
        .transpose()?;
    let out = std::io::stdout();
    let mut outcome = run_recorded(
        scenario.clone(),
        method,
        trace.is_some(),
        stuck_after,
        recorder,
        |process, line| print_output(&mut out.lock(), as_json, process, line),
    )?;
    if let Some(r) = &record {
        // On stderr: stdout is the run's own output (or its JSON lines).
        eprintln!("mpdash: run saved to {} (mpdash replay {})", r.path, r.path);
    }
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
