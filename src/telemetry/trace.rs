//! `--trace FILE`: a Chrome Trace Event file (opens in Perfetto or
//! chrome://tracing) of a run: one track per OS process named by its role,
//! its life from first instruction to exit, start/ready/exit instants, task
//! slices and lock holds, and queue depths as counters.
//!
//! Process lives and start instants come from the board's exact timestamps.
//! Task slices, lock holds and queue depths are *observed* by sampling the
//! board every 2 ms, so a slice's ends are accurate to about 2 ms; the trace
//! says so in its metadata.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::runtime::board::{Board, ProcState};
use crate::runtime::sys;
use crate::telemetry::board_view::{ProcRow, ResourceView, read_procs, read_resources};

const PERIOD: Duration = Duration::from_millis(2);

/// What the sampling thread saw, turned into trace events.
#[derive(Default)]
struct Observed {
    events: Vec<Value>,
    /// Open task slice per pid: (task, since µs).
    tasks: HashMap<i32, (u64, f64)>,
    /// Open lock hold per lock: (holder pid, since µs).
    holds: HashMap<String, (i32, f64)>,
    depths: HashMap<String, usize>,
}

impl Observed {
    fn sample(&mut self, board: &Board, t0: u64) {
        let now = us(sys::now_ns(), t0);
        for p in read_procs(board) {
            let cur = if p.state == ProcState::Exited {
                None
            } else {
                p.current_task
            };
            match (self.tasks.get(&p.pid).copied(), cur) {
                (Some((t, _)), Some(c)) if t == c => {}
                (open, cur) => {
                    if let Some((t, since)) = open {
                        self.events
                            .push(slice(p.pid, &format!("task #{t}"), "task", since, now));
                        self.tasks.remove(&p.pid);
                    }
                    if let Some(c) = cur {
                        self.tasks.insert(p.pid, (c, now));
                    }
                }
            }
        }
        for r in read_resources(board) {
            match r {
                ResourceView::Lock {
                    name, holder_pid, ..
                } => {
                    let open = self.holds.get(&name).copied();
                    if open.map(|o| o.0) != Some(holder_pid) {
                        if let Some((pid, since)) = open {
                            self.events.push(slice(
                                pid,
                                &format!("holds {name}"),
                                "lock",
                                since,
                                now,
                            ));
                            self.holds.remove(&name);
                        }
                        if holder_pid != 0 {
                            self.holds.insert(name, (holder_pid, now));
                        }
                    }
                }
                ResourceView::Queue { name, depth, .. }
                    if self.depths.get(&name) != Some(&depth) =>
                {
                    self.events.push(json!({
                        "ph": "C", "name": format!("queue {name}"), "pid": 0, "ts": now,
                        "args": {"depth": depth}
                    }));
                    self.depths.insert(name, depth);
                }
                _ => {}
            }
        }
    }

    fn close(&mut self, t_end: f64) {
        for (pid, (t, since)) in self.tasks.drain() {
            self.events
                .push(slice(pid, &format!("task #{t}"), "task", since, t_end));
        }
        for (name, (pid, since)) in self.holds.drain() {
            self.events
                .push(slice(pid, &format!("holds {name}"), "lock", since, t_end));
        }
    }
}

fn us(t: u64, t0: u64) -> f64 {
    t.saturating_sub(t0) as f64 / 1000.0
}

/// Lock holds get a track of their own in the holder's process, so they
/// never half-overlap its task slices.
const LOCK_TRACK: i64 = 1 << 30;

fn slice(pid: i32, name: &str, cat: &str, from: f64, to: f64) -> Value {
    let tid = if cat == "lock" {
        LOCK_TRACK + i64::from(pid)
    } else {
        i64::from(pid)
    };
    json!({"ph": "X", "name": name, "cat": cat, "pid": pid, "tid": tid, "ts": from, "dur": (to - from).max(0.0)})
}

/// Keeps sampled slices inside their process's exact life, so slices on a
/// track nest.
fn clamp_to_lives(events: &mut [Value], rows: &[ProcRow], t0: u64) {
    let lives: HashMap<i64, (f64, f64)> = rows
        .iter()
        .filter_map(|r| {
            let start = us(r.t_request_ns, t0) + r.start_us?;
            let end = if r.t_exit_ns > 0 {
                us(r.t_exit_ns, t0)
            } else {
                f64::MAX
            };
            Some((i64::from(r.pid), (start, end)))
        })
        .collect();
    for e in events.iter_mut() {
        let (Some(pid), Some(ts), Some(dur)) =
            (e["pid"].as_i64(), e["ts"].as_f64(), e["dur"].as_f64())
        else {
            continue;
        };
        if let Some(&(start, end)) = lives.get(&pid) {
            let from = ts.clamp(start, end.max(start));
            let to = (ts + dur).clamp(from, end.max(from));
            e["ts"] = json!(from);
            e["dur"] = json!(to - from);
        }
    }
}

/// Samples a run's board on a thread until [`Tracer::finish`].
pub struct Tracer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Observed>>,
    board: Board,
}

impl Tracer {
    pub fn start(board: Board) -> Tracer {
        let stop = Arc::new(AtomicBool::new(false));
        let (s, b) = (stop.clone(), board.clone());
        let thread = std::thread::Builder::new()
            .name("trace".into())
            .spawn(move || {
                let mut o = Observed::default();
                let t0 = b.created_ns();
                while !s.load(Ordering::Relaxed) {
                    o.sample(&b, t0);
                    std::thread::sleep(PERIOD);
                }
                o.sample(&b, t0);
                o
            })
            .ok();
        Tracer {
            stop,
            thread,
            board,
        }
    }

    /// Stops sampling and returns every event of the run, metadata first.
    pub fn finish(mut self, label: &str) -> Vec<Value> {
        self.stop.store(true, Ordering::Relaxed);
        let mut o = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let t0 = self.board.created_ns();
        let rows = read_procs(&self.board);
        let t_end = rows
            .iter()
            .map(|r| r.t_exit_ns.max(r.t_request_ns))
            .chain(std::iter::once(sys::now_ns()))
            .max()
            .map_or(0.0, |t| us(t, t0));
        o.close(t_end);
        clamp_to_lives(&mut o.events, &rows, t0);
        let mut events = vec![json!({
            "ph": "M", "name": "process_name", "pid": 0, "args": {"name": format!("{label}: queues")}
        })];
        for r in &rows {
            events.extend(process_events(r, t0, label));
        }
        events.extend(o.events);
        events
    }
}

fn process_events(r: &ProcRow, t0: u64, label: &str) -> Vec<Value> {
    let role = r.role.map_or("?", |x| x.label());
    let method = r.method.map_or("?", |m| m.name());
    let mut v = vec![
        json!({"ph": "M", "name": "process_name", "pid": r.pid,
               "args": {"name": format!("{} ({role}, {method}) · {label}", r.name)}}),
        json!({"ph": "M", "name": "thread_name", "pid": r.pid, "tid": r.pid, "args": {"name": r.name}}),
        json!({"ph": "M", "name": "thread_name", "pid": r.pid, "tid": LOCK_TRACK + i64::from(r.pid), "args": {"name": "lock holds"}}),
    ];
    let req = us(r.t_request_ns, t0);
    v.push(json!({"ph": "i", "s": "p", "name": "start requested", "pid": r.pid, "tid": r.pid, "ts": req}));
    if let Some(s) = r.start_us {
        v.push(json!({"ph": "i", "s": "p", "name": "first instruction", "pid": r.pid, "tid": r.pid, "ts": req + s}));
    }
    if let Some(s) = r.ready_us {
        v.push(json!({"ph": "i", "s": "p", "name": "ready", "pid": r.pid, "tid": r.pid, "ts": req + s}));
    }
    if let (Some(s), true) = (r.start_us, r.t_exit_ns > 0) {
        let end = us(r.t_exit_ns, t0);
        let exit = crate::telemetry::labels::exit_label(r.exitcode);
        v.push(slice(
            r.pid,
            &format!("{} ({role})", r.name),
            "process",
            req + s,
            end.max(req + s),
        ));
        v.push(json!({"ph": "i", "s": "p", "name": format!("exit {exit}"), "pid": r.pid, "tid": r.pid, "ts": end}));
    }
    v
}

/// Writes events as a Chrome Trace Event JSON object.
pub fn write(path: &str, events: Vec<Value>) -> anyhow::Result<()> {
    let doc = json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "producer": "mpdash",
            "note": "task slices, lock holds and queue depths are sampled every 2 ms; process starts are exact"
        }
    });
    std::fs::write(path, serde_json::to_vec(&doc)?)
        .map_err(|e| anyhow::anyhow!("cannot write the trace to {path}: {e}"))
}
