//! `mpdash run --headless [--json] prog.py [-- ARGS]`: a CPython program run
//! to its end with mpdash's probe, printing exactly what it printed, then its
//! processes (Python's names and roles) and, with `--json`, one `resource`
//! line per object it made; a program that can never move again is stopped
//! with the diagnosis and exit status 3 instead of hanging.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::headless::{EXIT_INTERRUPTED, Record, Recorder, end_run, print_output, typed};
use crate::session::{self, Happened, Session};
use crate::telemetry::observer::Observer;
use crate::telemetry::probe::{Facts, overlay};
use crate::telemetry::waits::NoProgress;

/// How often the program's processes and the probe are read.
const LOOK_EVERY: Duration = Duration::from_millis(100);

pub fn run(
    argv: Vec<String>,
    as_json: bool,
    stuck_after: Option<Duration>,
    stuck_exit: i32,
    record: Option<Record>,
) -> anyhow::Result<i32> {
    let file = argv.get(1).cloned().unwrap_or_default();
    let (tx, rx) = crossbeam_channel::unbounded();
    session::start_reaper(tx.clone())?;
    let scenario = Arc::new(session::command::scenario_for(&argv, true));
    // `--record FILE`: saved as the dashboard saves `mpdash prog.py`.
    let mut recorder = record
        .as_ref()
        .map(|r| Recorder::new(&r.path, scenario.clone(), r.rate_hz))
        .transpose()?
        .map(|r| r.of_command(&argv, true));
    let method = scenario.start_method;
    let mut s = Session::launch_command(1, scenario, &argv, true, tx)?;
    if let Some(r) = recorder.as_mut() {
        r.started(s.id, method);
    }
    let mut observer = Observer::new(s.watch(stuck_after, recorder.is_some()));
    let mut stuck = None;
    let mut interrupted = false;
    let mut looked = Instant::now();
    let mut quiet_since = Instant::now();
    let mut facts = Facts::default();
    let mut warned: Option<NoProgress> = None;
    let stdout = std::io::stdout();
    while !s.is_done() {
        let sample_due = recorder.as_ref().is_some_and(|r| r.due_in().is_zero());
        if looked.elapsed() >= LOOK_EVERY || sample_due {
            looked = Instant::now();
            if s.ended.is_some() {
                // What happens once the program has ended is no evidence.
                observer.stop_judging();
            }
            let snap = observer.observe();
            if stuck.is_none()
                && let Some(found) = snap.stuck.clone()
            {
                stuck = Some(found);
                s.kill();
            }
            // Nothing moves, but nothing is proven: said once (again only
            // when what waits, or what could end it, changes), never ended.
            if stuck.is_none()
                && let Some(w) = &snap.no_progress
                && warned.as_ref().is_none_or(|l| !w.same_as(l))
            {
                warn_no_progress(&mut stdout.lock(), as_json, &file, w)?;
                warned = Some(w.clone());
            }
            facts = observer.facts().cloned().unwrap_or_default();
            if let Some(r) = recorder.as_mut()
                && sample_due
            {
                r.sample(snap);
            }
        }
        let wait = recorder
            .as_ref()
            .map_or(LOOK_EVERY, |r| r.due_in().min(LOOK_EVERY));
        match rx.recv_timeout(wait) {
            Ok(ev) => {
                quiet_since = Instant::now();
                match s.absorb(ev) {
                    // The probe tags each line with the pid that printed it;
                    // a process the reader has not met yet is read now (its
                    // record is written before its first line).
                    Happened::Output { line, pid } => {
                        if pid != 0 && !facts.procs.contains_key(&pid) && as_json {
                            observer.observe();
                            facts = observer.facts().cloned().unwrap_or_default();
                        }
                        let name = facts.procs.get(&pid).map(|p| p.name.as_str());
                        if let Some(r) = recorder.as_mut() {
                            r.output(pid, &line);
                        }
                        print_output(&mut stdout.lock(), as_json, name, &line)
                    }
                    Happened::Signal(_) => {
                        interrupted = true;
                        s.kill();
                    }
                    Happened::Ended | Happened::Nothing => {}
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if s.ended.is_some() && quiet_since.elapsed() >= Duration::from_secs(2) {
                    break;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    end_run(&mut s, &rx);
    // The last word: what the probe says once everything has stopped.
    observer.stop_judging();
    let last_snap = observer.observe();
    let mut rows = last_snap.procs.clone();
    let last = observer.facts().cloned().unwrap_or_default();
    // (A stuck program's objects are told as they were when it got stuck,
    // not after mpdash stopped it.)
    if stuck.is_none() && (!last.procs.is_empty() || facts.procs.is_empty()) {
        facts = last;
    }
    overlay(&mut rows, &facts);
    // The guard is ours, not the program's.
    rows.retain(|r| r.pid != s.main_pid.as_raw());
    let exit = if interrupted {
        EXIT_INTERRUPTED
    } else if stuck.is_some() {
        stuck_exit
    } else {
        i32::from(crate::cli::shell_status(s.main_exit.unwrap_or(1)))
    };
    if let Some(r) = recorder {
        let mut last_snap = last_snap;
        last_snap.procs = rows.clone();
        r.finish(exit, s.elapsed(), rows.clone(), last_snap)?;
        if let Some(rec) = &record {
            eprintln!(
                "mpdash: run saved to {} (mpdash replay {})",
                rec.path, rec.path
            );
        }
    }
    if observer.probe_bad_lines() > 0 {
        eprintln!(
            "mpdash: {file}: {} report lines from the probe's directory were not the probe's (ignored)",
            observer.probe_bad_lines()
        );
    }
    let mut o = stdout.lock();
    if let Some(d) = &stuck {
        eprintln!("mpdash: {file}: {}", d.summary);
        for line in &d.chain {
            eprintln!("  {line}");
        }
    }
    // A program that ran but never heard from the probe: its interpreter
    // ignored PYTHONPATH or site (`-I`, `-E`, `-S`), or is not CPython.
    let unprobed = facts.procs.is_empty() && !interrupted;
    let why = "the probe did not load: the interpreter ignores PYTHONPATH or site \
               (-I, -E or -S), so no process, object or wait of the program is known \
               from inside; only its output and exit are";
    if unprobed {
        eprintln!("mpdash: {file}: {why}");
    }
    if as_json {
        writeln!(
            o,
            "{}",
            json!({"type": "probe", "loaded": !unprobed, "why": unprobed.then_some(why)})
        )?;
        for r in &rows {
            writeln!(o, "{}", typed("process", r)?)?;
        }
        for r in &facts.summary {
            writeln!(o, "{r}")?;
        }
        if let Some(d) = &stuck {
            writeln!(o, "{}", typed("stuck", d)?)?;
        }
        writeln!(
            o,
            "{}",
            json!({
                "type": "run",
                "file": file,
                "argv": argv,
                "wall_s": s.elapsed().as_secs_f64(),
                "exit": exit,
                "interrupted": interrupted,
                "stuck": stuck.is_some(),
                "ok": exit == 0,
            })
        )?;
    } else {
        writeln!(o)?;
        write!(o, "{}", crate::cli::headless::table(&rows))?;
        writeln!(
            o,
            "{file}: exit {exit} in {:.3} s",
            s.elapsed().as_secs_f64()
        )?;
    }
    Ok(exit)
}

/// "No progress for N s": a `warning` JSON line, or one line on stderr. The
/// run goes on; its exit status stays the program's.
fn warn_no_progress(
    o: &mut impl Write,
    as_json: bool,
    file: &str,
    w: &NoProgress,
) -> anyhow::Result<()> {
    if as_json {
        writeln!(
            o,
            "{}",
            json!({
                "type": "warning",
                "kind": "no_progress",
                "for_secs": w.for_secs,
                "waits": w.waits,
                "escapes": w.escapes,
            })
        )?;
        return Ok(());
    }
    let waits: Vec<String> = w
        .waits
        .iter()
        .map(|f| {
            let what = match (&f.resource, &f.holder) {
                (Some(r), _) => format!("{} {r}", f.op),
                (None, Some(h)) => format!("{} {h}", f.op),
                (None, None) => f.op.clone(),
            };
            format!("{} waits to {what}", f.name)
        })
        .collect();
    let escapes: Vec<String> = w
        .escapes
        .iter()
        .map(|e| format!("{}: {}", e.name, e.escape))
        .collect();
    eprintln!(
        "mpdash: {file}: warning: no progress for {:.1} s ({}), but nothing proves a hang: {}",
        w.for_secs,
        waits.join(", "),
        escapes.join("; ")
    );
    Ok(())
}
