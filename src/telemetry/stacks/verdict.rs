//! Proof before alarm, from outside (DESIGN §8): a tree whose every thread
//! of every process is idle in a wait without a deadline, the same waits
//! for the whole grace, and not one tick of CPU used meanwhile, can never
//! move again; a lock-order cycle is named when who holds what is proved.
//! Used by `mpdash attach` (headless and the dashboard).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::semlock::CycleStep;
use super::{ProcInfo, ReadError, Stacks, ThreadStack, Wait};
use crate::telemetry::waits::{Diagnosis, StuckKind, WaitFact};

/// One process as read in one sample.
pub struct Seen {
    pub info: ProcInfo,
    pub read: Result<Stacks, ReadError>,
}

/// CPU ticks of one thread, from `/proc`.
fn thread_ticks(pid: i32, tid: u64) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    Some(crate::telemetry::proc_stat::parse_stat(&text, 1)?.cpu_ticks)
}

/// Two decimals, for JSON figures.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A wait as JSON (`op`, `call`, `at`, `object`, `ends_by_itself`).
pub fn wait_json(w: &Wait) -> Value {
    json!({
        "op": w.op,
        "call": w.call,
        "at": w.at_str(),
        "object": w.object.map(|a| format!("{a:#x}")),
        "ends_by_itself": w.ends_by_itself,
    })
}

/// `acquire (SemLock.__enter__) at prog.py:11`.
pub fn wait_text(w: &Wait) -> String {
    let mut s = format!("{} ({})", w.op, w.call);
    match w.at_str() {
        Some(at) => s += &format!(" at {at}"),
        None if w.op == "wait for child" => {}
        None if w.call == "SimpleQueue.get" => s += ", a pool worker waiting for its next task",
        None => s += " (the library's own thread, or at exit)",
    }
    if w.ends_by_itself {
        s += ", with a timeout";
    }
    s
}

/// [`wait_text`] in the screen's language, for the dashboard's diagnosis.
pub fn wait_text_shown(w: &Wait) -> String {
    let mut s = format!("{} ({})", super::view::shown_op(w.op), w.call);
    match w.at_str() {
        Some(at) => s += &format!(" {}", crate::t!("at-place", at = at)),
        None if w.op == "wait for child" => {}
        None if w.call == "SimpleQueue.get" => {
            s += &format!(", {}", crate::t!("attach-pool-worker-idle"))
        }
        None => s += &format!(" ({})", crate::t!("attach-library-thread")),
    }
    if w.ends_by_itself {
        s += &format!(", {}", crate::t!("stack-with-timeout"));
    }
    s
}

/// One blocked process's waits, as compared from sample to sample.
type WaitKey = Vec<(
    u64,
    &'static str,
    String,
    Option<(String, i32)>,
    Option<usize>,
)>;

/// The verdict.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Seconds the tree stood still before it was said.
    pub for_secs: f64,
    /// (pid, wait) of every thread of every blocked process.
    pub waits: Vec<(i32, Wait)>,
    /// A lock-order deadlock, when who holds what is proved.
    pub cycle: Option<Vec<CycleStep>>,
}

impl Verdict {
    pub fn json(&self) -> Value {
        json!({
            "type": "stuck",
            "kind": if self.cycle.is_some() { "deadlock" } else { "nobody_can_serve" },
            "cycle": self.cycle.as_ref().map(|c| c.iter().map(|s| json!({
                "pid": s.pid,
                "op": "acquire",
                "at": s.at,
                "lock": s.lock,
                "held_by": s.held_by,
            })).collect::<Vec<_>>()),
            "for_secs": round2(self.for_secs),
            "waits": self.waits.iter().map(|(pid, w)| {
                let mut v = wait_json(w);
                v["pid"] = json!(pid);
                v
            }).collect::<Vec<_>>(),
        })
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(cycle) = &self.cycle {
            s += "stuck: deadlock — each process holds a lock the next one waits for:\n";
            for c in cycle {
                s += &format!(
                    "  pid {} waits at {} for lock {}, held by pid {}\n",
                    c.pid,
                    c.at.as_deref().unwrap_or("?"),
                    c.lock,
                    c.held_by
                );
            }
        }
        s += &format!(
            "{}every process of the program has waited for {:.1} s and the tree used no CPU:\n",
            if self.cycle.is_some() {
                ""
            } else {
                "stuck: nobody can serve — "
            },
            self.for_secs
        );
        for (pid, w) in &self.waits {
            s += &format!("  pid {pid}: {}\n", wait_text(w));
        }
        s
    }
}

/// Every blocked process's waits, by (pid, start ticks).
type Blocked = BTreeMap<(i32, u64), WaitKey>;

/// Proof before alarm, from outside.
pub struct Detector {
    grace: Duration,
    /// The tree as it stood when it was last seen all blocked: every
    /// process's waits, and the tree's CPU ticks; with since when.
    still: Option<(Blocked, u64, Instant)>,
}

impl Detector {
    pub fn new(grace: Duration) -> Detector {
        Detector { grace, still: None }
    }

    /// The tree was all blocked at the last sample: watching it stand still.
    pub fn primed(&self) -> bool {
        self.still.is_some()
    }

    /// Feeds one sample; the verdict once the tree has stood still, every
    /// process of the program blocked, for the whole grace.
    pub fn sample(&mut self, now: Instant, seen: &[Seen]) -> Option<Verdict> {
        let Some((blocked, waits)) = all_blocked(seen) else {
            self.still = None;
            return None;
        };
        // The CPU the program's threads used, a Pool's own loops left out.
        let cpu: u64 = seen
            .iter()
            .map(|s| {
                let pool: u64 = s
                    .read
                    .as_ref()
                    .map(|st| {
                        st.threads
                            .iter()
                            .filter(|t| t.pool_thread.is_some())
                            .filter_map(|t| thread_ticks(s.info.pid, t.tid?))
                            .sum()
                    })
                    .unwrap_or(0);
                s.info.cpu_ticks.saturating_sub(pool)
            })
            .sum();
        match &self.still {
            Some((b, c, since)) if *b == blocked && *c == cpu => {
                let d = now.duration_since(*since);
                if d < self.grace {
                    return None;
                }
                let python: Vec<(i32, &Stacks)> = seen
                    .iter()
                    .filter(|s| s.info.helper().is_none() && s.info.state != 'Z')
                    .filter_map(|s| Some((s.info.pid, s.read.as_ref().ok()?)))
                    .collect();
                Some(Verdict {
                    for_secs: d.as_secs_f64(),
                    waits,
                    cycle: super::semlock::lock_cycle(&python),
                })
            }
            _ => {
                self.still = Some((blocked, cpu, now));
                None
            }
        }
    }
}

/// Every process of the program (helpers left out) is blocked: their waits
/// as keys, and as a list for the verdict. `None` when any could still
/// move, or when there is no one.
fn all_blocked(seen: &[Seen]) -> Option<(Blocked, Vec<(i32, Wait)>)> {
    let mut keys = BTreeMap::new();
    let mut list = Vec::new();
    for s in seen {
        if s.info.state == 'Z' || s.info.helper().is_some() {
            continue;
        }
        // A wrapper (a pyenv shim's bash, a shell) waiting for its child.
        if matches!(s.read, Err(ReadError::NotPython))
            && s.info.threads == 1
            && super::waiting_for_child(s.info.pid)
        {
            let w = Wait {
                op: "wait for child",
                call: "wait4".into(),
                at: None,
                object: None,
                ends_by_itself: false,
            };
            keys.insert(
                (s.info.pid, s.info.start_ticks),
                vec![(0, w.op, w.call.clone(), None, None)],
            );
            list.push((s.info.pid, w));
            continue;
        }
        // A process we cannot read (not Python, not yet readable) may serve.
        let st = s.read.as_ref().ok()?;
        // A Pool's own threads loop (one wakes every 0.1 s to replace dead
        // workers) but produce no result by themselves: not parties, while
        // idle in their loops.
        let party = |t: &&ThreadStack| t.pool_thread.is_none() || t.active;
        if st.threads.is_empty()
            || !st.threads.iter().filter(party).all(ThreadStack::provably_waiting)
            // A thread Python does not know (a C library's) may serve.
            || s.info.threads > st.threads.len() as u64
            // A signal handler: a pending alarm may end the wait.
            || super::own_signal_handlers(s.info.pid).is_some()
        {
            return None;
        }
        let mut key = Vec::new();
        for t in st.threads.iter().filter(party) {
            let w = t.wait.as_ref().expect("provably waiting");
            key.push((t.ident, w.op, w.call.clone(), w.at.clone(), w.object));
            // A queue's feeder only serves its own process: not a party.
            if w.op != "queue feeder" {
                list.push((s.info.pid, w.clone()));
            }
        }
        keys.insert((s.info.pid, s.info.start_ticks), key);
    }
    if list.is_empty() {
        return None;
    }
    // A process of the tree listening on TCP (a remote manager, a
    // Listener) may be served by clients outside the tree: no proof.
    let table = crate::telemetry::escapes::tcp_listening();
    if !table.is_empty()
        && seen
            .iter()
            .any(|s| crate::telemetry::escapes::listens(s.info.pid, &table).is_some())
    {
        return None;
    }
    Some((keys, list))
}

impl Verdict {
    /// The same verdict as the dashboard's diagnosis, in the screen's
    /// language ([`Verdict::json`] and [`Verdict::text`] stay English);
    /// `name(pid)` is how the screen names a process.
    pub fn diagnosis(&self, name: impl Fn(i32) -> String) -> Diagnosis {
        let waits: Vec<WaitFact> = self
            .waits
            .iter()
            .map(|(pid, w)| WaitFact {
                name: name(*pid),
                pid: *pid,
                op: wait_text_shown(w),
                resource: w.object.map(|a| format!("{a:#x}")),
                since_s: self.for_secs,
                holder: None,
            })
            .collect();
        let mut culprits: Vec<i32> = self.waits.iter().map(|(pid, _)| *pid).collect();
        culprits.dedup();
        match &self.cycle {
            Some(cycle) => Diagnosis {
                kind: StuckKind::Deadlock,
                summary: crate::t!("attach-deadlock", n = cycle.len()),
                cycle: cycle
                    .iter()
                    .map(|c| {
                        crate::t!(
                            "attach-cycle-step",
                            name = name(c.pid),
                            lock = &c.lock,
                            holder = name(c.held_by)
                        )
                    })
                    .collect(),
                chain: cycle
                    .iter()
                    .map(|c| {
                        crate::t!(
                            "attach-waits-for-lock",
                            name = name(c.pid),
                            at = c.at.as_deref().unwrap_or("?"),
                            lock = &c.lock,
                            holder = name(c.held_by)
                        )
                    })
                    .collect(),
                waits,
                culprits,
            },
            None => Diagnosis {
                kind: StuckKind::NobodyCanServe,
                summary: crate::t!(
                    "attach-nobody-can-serve",
                    secs = format!("{:.1}", self.for_secs)
                ),
                cycle: Vec::new(),
                chain: self
                    .waits
                    .iter()
                    .map(|(pid, w)| {
                        crate::t!("attach-waits", name = name(*pid), what = wait_text_shown(w))
                    })
                    .collect(),
                waits,
                culprits,
            },
        }
    }
}
