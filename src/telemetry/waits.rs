//! Who waits for whom, and when a run can never move again, why.
//!
//! Built from one snapshot of the board (each blocked process's wait, each
//! lock's holder): the wait-for graph goes process → resource → the
//! processes that could serve it. Two diagnoses, no guessing:
//! - **deadlock**: a cycle of waits through lock holders and joins. Certain;
//!   reported as soon as two samples in a row show it.
//! - **nobody can serve**: every live process of the run is blocked (none
//!   computing, sleeping or waiting with a timeout), and nothing on the board
//!   changed for a grace period, so what they wait for can only come from
//!   processes that are dead, exited or themselves waiting.
//!
//! A process in `sleep_ms`, computing, or waiting with a timeout records no
//! wait that counts, so it is never called stuck (Go reports "all goroutines
//! are asleep" on the same rule; PostgreSQL waits `deadlock_timeout` first).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::runtime::board::{ProcState, ResKind, Role, WaitOp};
use crate::t;
use crate::telemetry::board_view::{ProcRow, ResourceView, WaitRow};
use crate::telemetry::labels::exit_label;

/// Grace period of no change before "nobody can serve" is said.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StuckKind {
    Deadlock,
    NobodyCanServe,
    /// A pool task died with its worker and a process waits for its result.
    LostTask,
}

/// One blocked process, as the diagnosis names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitFact {
    pub name: String,
    pub pid: i32,
    pub op: String,
    pub resource: Option<String>,
    pub since_s: f64,
    /// The process holding what it waits for, by name (a lock's holder, the
    /// process it joins).
    pub holder: Option<String>,
}

/// Why a run can never move again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub kind: StuckKind,
    /// One sentence.
    pub summary: String,
    pub waits: Vec<WaitFact>,
    /// The deadlock's cycle, by name (`a → L1 → b → L2 → a`); empty otherwise.
    pub cycle: Vec<String>,
    /// The chain that explains it, a line each, reading as sentences.
    pub chain: Vec<String>,
    /// Pids of the processes involved (highlighted on screen).
    pub culprits: Vec<i32>,
}

/// Every live process of the run blocked for the grace, but some wait could
/// still end without another process of the tree (another thread, a signal
/// handler, a TCP listener: [`super::escapes`]): nothing is proven, so it is
/// only said — a warning that never ends the run, gone when something moves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoProgress {
    /// How long nothing on the board changed, in seconds.
    pub for_secs: f64,
    pub waits: Vec<WaitFact>,
    /// What could still end a wait, per process.
    pub escapes: Vec<EscapeFact>,
}

/// What could still end one process's wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscapeFact {
    pub name: String,
    pub pid: i32,
    pub escape: String,
}

impl NoProgress {
    /// The same waits and escapes (how long is left out): said once, and
    /// again only when this changes.
    pub fn same_as(&self, other: &NoProgress) -> bool {
        let key = |n: &NoProgress| {
            let waits: Vec<_> = n
                .waits
                .iter()
                .map(|w| (w.pid, w.op.clone(), w.resource.clone(), w.holder.clone()))
                .collect();
            (waits, n.escapes.clone())
        };
        key(self) == key(other)
    }
}

/// Marks rows whose process is already dead though nobody reaped it yet (a
/// zombie whose parent is itself blocked): `/proc` says so, with the exit
/// status the kernel keeps for the parent.
pub fn settle_zombies(procs: &mut [ProcRow]) {
    settle_zombies_with(procs, zombie_status);
}

/// [`settle_zombies`] with readings already taken: `ended(pid)` is
/// `Some(status)` for a zombie (its wait status, when known) or a process
/// gone (`Some(None)`), `None` while it runs.
pub fn settle_zombies_with(procs: &mut [ProcRow], ended: impl Fn(i32) -> Option<Option<i32>>) {
    for p in procs.iter_mut().filter(|p| p.alive() && p.pid > 0) {
        if let Some(status) = ended(p.pid) {
            p.state = ProcState::Exited;
            p.exitcode = status.map(crate::runtime::sys::exit_code_of);
            p.wait = None;
        }
    }
}

/// `Some(status)` when `pid` is a zombie (its wait status from the last
/// field of `/proc/<pid>/stat`) or gone (`Some(None)`); `None` while it runs.
fn zombie_status(pid: i32) -> Option<Option<i32>> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Some(None);
    };
    let after = &text[text.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    if fields.next()? != "Z" {
        return None;
    }
    Some(fields.last().and_then(|s| s.parse().ok()))
}

/// Processes that serve others but never put, set or arrive themselves.
fn is_helper(r: &ProcRow) -> bool {
    matches!(
        r.role,
        Some(Role::ForkServer) | Some(Role::Manager) | Some(Role::Helper)
    )
}

/// A wait that can end only when another process acts: no timeout, and
/// nothing outside the tracked waits could end it (see
/// [`super::escapes`]).
fn blocking_wait(r: &ProcRow) -> Option<&WaitRow> {
    r.wait
        .as_ref()
        .filter(|w| !w.deadline && w.escape.is_none())
}

/// How a wait reads in the table and the diagnosis: `get work (empty)`,
/// `acquire A`, `join producer 0`, `map: 3 tasks left`.
pub fn describe(w: &WaitRow, procs: &[ProcRow], resources: &[ResourceView]) -> String {
    match &w.at {
        Some(at) => t!("wait-at", what = describe_op(w, procs, resources), at = at),
        None => describe_op(w, procs, resources),
    }
}

fn describe_op(w: &WaitRow, procs: &[ProcRow], resources: &[ResourceView]) -> String {
    let res = w.resource.as_deref().unwrap_or("?");
    let view = resources.iter().find(|v| v.name() == res);
    match w.op {
        WaitOp::Get => t!("wait-get", res = res),
        WaitOp::Put => t!("wait-put", res = res),
        WaitOp::JoinQueue => t!("wait-join-queue", res = res),
        WaitOp::Recv => t!("wait-recv", res = res),
        WaitOp::Acquire => match holder_of(view, procs) {
            Some(h) => t!("wait-acquire-held", res = res, holder = h),
            None => t!("wait-acquire", res = res),
        },
        WaitOp::ConditionWait => t!("wait-condition", res = res),
        WaitOp::EventWait => t!("wait-event", res = res),
        WaitOp::BarrierWait => match view {
            Some(ResourceView::Barrier {
                parties, arrived, ..
            }) => t!(
                "wait-barrier-count",
                res = res,
                arrived = arrived.to_string(),
                parties = parties.to_string()
            ),
            _ => t!("wait-barrier", res = res),
        },
        WaitOp::Join => t!("wait-join", name = name_of(w.target as i32, procs)),
        WaitOp::PoolResult => t!("pool-tasks-left", n = w.target),
        WaitOp::ManagerCall => t!("wait-manager"),
        WaitOp::Flush => match view {
            Some(ResourceView::Queue { depth, .. }) => {
                t!("wait-flush-unread", res = res, n = *depth)
            }
            _ => t!("wait-flush", res = res),
        },
    }
}

fn name_of(pid: i32, procs: &[ProcRow]) -> String {
    procs
        .iter()
        .rev()
        .find(|p| p.pid == pid)
        .map_or_else(|| format!("pid {pid}"), |p| p.name.clone())
}

/// The holder of a lock, by name.
fn holder_of(view: Option<&ResourceView>, procs: &[ProcRow]) -> Option<String> {
    match view {
        Some(ResourceView::Lock { holder_pid, .. }) if *holder_pid != 0 => {
            Some(name_of(*holder_pid, procs))
        }
        _ => None,
    }
}

fn holder_pid(view: Option<&ResourceView>) -> Option<i32> {
    match view {
        Some(ResourceView::Lock { holder_pid, .. }) if *holder_pid != 0 => Some(*holder_pid),
        _ => None,
    }
}

/// The process a blocked process waits on for certain (a lock's holder, the
/// process it joins): the edges a deadlock cycle runs through.
fn waits_on(r: &ProcRow, resources: &[ResourceView]) -> Option<i32> {
    let w = blocking_wait(r)?;
    match w.op {
        WaitOp::Acquire
            if w.kind
                .is_some_and(|k| matches!(k, ResKind::Lock | ResKind::RLock)) =>
        {
            let res = w.resource.as_deref()?;
            holder_pid(resources.iter().find(|v| v.name() == res)).filter(|&h| h != r.pid)
        }
        WaitOp::Join => Some(w.target as i32),
        _ => None,
    }
}

/// Watches a run's samples and says when it is stuck, once.
pub struct Detector {
    grace: Duration,
    fingerprint: u64,
    unchanged_since: Option<Instant>,
    /// The cycle seen last time (a cycle must hold for two samples).
    last_cycle: Vec<i32>,
    reported: bool,
    /// Everyone blocked for the grace, but not provably: as of the last sample.
    no_progress: Option<NoProgress>,
}

impl Detector {
    pub fn new(grace: Duration) -> Detector {
        Detector {
            grace,
            fingerprint: 0,
            unchanged_since: None,
            last_cycle: Vec::new(),
            reported: false,
            no_progress: None,
        }
    }

    /// Every live process blocked for the grace with some wait that could
    /// still end by itself, as of the last sample (`None` once stuck is
    /// proven, and as soon as anything moves).
    pub fn no_progress(&self) -> Option<&NoProgress> {
        self.no_progress.as_ref()
    }

    /// Looks at one sample; the diagnosis the first time the run is stuck.
    pub fn observe(
        &mut self,
        procs: &[ProcRow],
        resources: &[ResourceView],
        now: Instant,
    ) -> Option<Diagnosis> {
        let fp = fingerprint(procs, resources);
        if fp != self.fingerprint || self.unchanged_since.is_none() {
            self.fingerprint = fp;
            self.unchanged_since = Some(now);
        }
        self.no_progress = None;
        if self.reported {
            return None;
        }
        let d = self.diagnose(procs, resources, now);
        self.reported = d.is_some();
        if d.is_none() {
            self.no_progress = self.unproven(procs, resources, now);
        }
        d
    }

    /// Every live process waits without a deadline and nothing changed for
    /// the grace, but some wait has an escape: no proof, a warning.
    fn unproven(
        &self,
        procs: &[ProcRow],
        resources: &[ResourceView],
        now: Instant,
    ) -> Option<NoProgress> {
        let since = self.unchanged_since?;
        let quiet = now.duration_since(since);
        if quiet < self.grace {
            return None;
        }
        let live: Vec<&ProcRow> = procs
            .iter()
            .filter(|p| p.alive() && !is_helper(p))
            .collect();
        let waiting = |p: &&ProcRow| p.wait.as_ref().is_some_and(|w| !w.deadline);
        if live.is_empty() || !live.iter().all(waiting) {
            return None;
        }
        let escapes: Vec<EscapeFact> = live
            .iter()
            .filter_map(|p| {
                Some(EscapeFact {
                    name: p.name.clone(),
                    pid: p.pid,
                    escape: p.wait.as_ref()?.escape.clone()?,
                })
            })
            .collect();
        (!escapes.is_empty()).then(|| NoProgress {
            for_secs: (quiet.as_secs_f64() * 10.0).round() / 10.0,
            waits: facts(&live, procs, resources),
            escapes,
        })
    }

    fn diagnose(
        &mut self,
        procs: &[ProcRow],
        resources: &[ResourceView],
        now: Instant,
    ) -> Option<Diagnosis> {
        let cycle = find_cycle(procs, resources);
        let confirmed = !cycle.is_empty() && same_cycle(&cycle, &self.last_cycle);
        self.last_cycle = cycle.clone();
        if confirmed {
            return Some(deadlock(&cycle, procs, resources));
        }
        let live: Vec<&ProcRow> = procs
            .iter()
            .filter(|p| p.alive() && !is_helper(p))
            .collect();
        let all_blocked = !live.is_empty() && live.iter().all(|p| blocking_wait(p).is_some());
        let quiet = self
            .unchanged_since
            .is_some_and(|t| now.duration_since(t) >= self.grace);
        (all_blocked && quiet).then(|| nobody_can_serve(&live, procs, resources))
    }
}

/// A cycle of certain waits (lock holders, joins) among live processes.
fn find_cycle(procs: &[ProcRow], resources: &[ResourceView]) -> Vec<i32> {
    let live = |pid: i32| procs.iter().any(|p| p.pid == pid && p.alive());
    let next = |pid: i32| {
        procs
            .iter()
            .find(|p| p.pid == pid && p.alive())
            .and_then(|p| waits_on(p, resources))
            .filter(|&q| live(q))
    };
    for start in procs.iter().filter(|p| p.alive()).map(|p| p.pid) {
        let mut path = vec![start];
        let mut at = start;
        while let Some(n) = next(at) {
            if let Some(i) = path.iter().position(|&p| p == n) {
                return path[i..].to_vec();
            }
            if path.len() > procs.len() {
                break;
            }
            path.push(n);
            at = n;
        }
    }
    Vec::new()
}

fn same_cycle(a: &[i32], b: &[i32]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

fn facts(who: &[&ProcRow], procs: &[ProcRow], resources: &[ResourceView]) -> Vec<WaitFact> {
    who.iter()
        .filter_map(|p| {
            let w = p.wait.as_ref()?;
            let view = w
                .resource
                .as_deref()
                .and_then(|r| resources.iter().find(|v| v.name() == r));
            let holder = match w.op {
                WaitOp::Join => Some(name_of(w.target as i32, procs)),
                _ => holder_of(view, procs),
            };
            Some(WaitFact {
                name: p.name.clone(),
                pid: p.pid,
                op: w.op.verb().to_string(),
                resource: w.resource.clone(),
                since_s: (w.since_s * 10.0).round() / 10.0,
                holder,
            })
        })
        .collect()
}

fn deadlock(cycle: &[i32], procs: &[ProcRow], resources: &[ResourceView]) -> Diagnosis {
    let who: Vec<&ProcRow> = cycle
        .iter()
        .filter_map(|pid| procs.iter().find(|p| p.pid == *pid && p.alive()))
        .collect();
    let mut names = Vec::new();
    let mut chain = Vec::new();
    for p in &who {
        names.push(p.name.clone());
        if let Some(w) = &p.wait {
            if let Some(r) = &w.resource {
                names.push(r.clone());
            }
            chain.push(format!("{} → {}", p.name, describe(w, procs, resources)));
        }
    }
    if let Some(first) = who.first() {
        names.push(first.name.clone());
    }
    let locks = who
        .iter()
        .any(|p| p.wait.as_ref().is_some_and(|w| w.op == WaitOp::Acquire));
    let how = if locks {
        t!("stuck-how-locks")
    } else {
        t!("stuck-how-joins")
    };
    Diagnosis {
        kind: StuckKind::Deadlock,
        summary: t!("stuck-deadlock", cycle = names.join(" → "), how = how),
        waits: facts(&who, procs, resources),
        cycle: names,
        chain,
        culprits: cycle.to_vec(),
    }
}

/// The run's processes that can serve nobody any more, and how they ended:
/// `producer 0 died (SIGKILL)`, `writer exited 0`.
fn gone(procs: &[ProcRow]) -> Vec<String> {
    procs
        .iter()
        .filter(|p| !p.alive() && !is_helper(p) && p.role != Some(Role::Main))
        .map(|p| match p.exitcode {
            Some(c) if c < 0 => t!("gone-died", name = &p.name, signal = exit_label(Some(c))),
            Some(c) => t!("gone-exited", name = &p.name, code = c.to_string()),
            None if p.state == ProcState::Exited => t!("gone-ended", name = &p.name),
            None => t!("gone-never-started", name = &p.name),
        })
        .collect()
}

/// The classic hang of a Python program: a parent joins a child that
/// cannot exit until its queue's feeder thread has written what it put
/// into the pipe, which only the parent would read, after the join.
fn join_before_get(
    live: &[&ProcRow],
    procs: &[ProcRow],
    resources: &[ResourceView],
) -> Option<Diagnosis> {
    let (child, flush) = live.iter().find_map(|p| {
        let w = blocking_wait(p).filter(|w| w.op == WaitOp::Flush)?;
        Some((*p, w))
    })?;
    let parent = live.iter().find(|p| {
        blocking_wait(p).is_some_and(|w| w.op == WaitOp::Join && w.target as i32 == child.pid)
    })?;
    let join = parent.wait.as_ref()?;
    let its_queue = t!("stuck-its-queue");
    let q = flush.resource.as_deref().unwrap_or(&its_queue);
    let at = join
        .at
        .as_deref()
        .map_or(String::new(), |a| format!(" {}", t!("at-place", at = a)));
    Some(Diagnosis {
        kind: StuckKind::NobodyCanServe,
        summary: t!(
            "stuck-join-before-get",
            child = &child.name,
            parent = &parent.name,
            queue = q,
            at = at
        ),
        waits: facts(&[*parent, child], procs, resources),
        cycle: Vec::new(),
        chain: vec![
            format!("{} → {}", parent.name, describe(join, procs, resources)),
            t!(
                "stuck-flush-chain",
                child = &child.name,
                flush = describe(flush, procs, resources),
                parent = &parent.name
            ),
        ],
        culprits: vec![parent.pid, child.pid],
    })
}

fn nobody_can_serve(live: &[&ProcRow], procs: &[ProcRow], resources: &[ResourceView]) -> Diagnosis {
    if let Some(d) = join_before_get(live, procs, resources) {
        return d;
    }
    let gone = gone(procs);
    let why = if gone.is_empty() {
        t!("stuck-every-waits")
    } else {
        t!("stuck-every-waits-gone", gone = gone.join("; "))
    };
    let mut chain = Vec::new();
    for p in live {
        if let Some(w) = &p.wait {
            chain.push(format!(
                "{} → {} → {}",
                p.name,
                describe(w, procs, resources),
                t!("serve-nobody", verb = serve_verb(w.op), why = &why)
            ));
        }
    }
    let doing: Vec<String> = live
        .iter()
        .filter_map(|p| {
            Some(t!(
                "stuck-waits-to",
                name = &p.name,
                what = describe(p.wait.as_ref()?, procs, resources)
            ))
        })
        .collect();
    Diagnosis {
        kind: StuckKind::NobodyCanServe,
        summary: t!(
            "stuck-nobody-can-serve",
            doing = doing.join(", "),
            why = &why
        ),
        waits: facts(live, procs, resources),
        cycle: Vec::new(),
        chain,
        culprits: live.iter().map(|p| p.pid).collect(),
    }
}

/// The wait-for graph as sentences, one chain per blocked process that no
/// other blocked process leads to: `main → join consumer 0 → get work
/// (empty) → nobody can put: producer 0 died (SIGKILL); producer 1 exited 0`.
pub fn graph(procs: &[ProcRow], resources: &[ResourceView]) -> Vec<String> {
    let live = |pid: i32| procs.iter().find(|p| p.pid == pid && p.alive());
    // A pool worker waiting for its next task is idle, not blocked: its
    // pool's parent feeds that queue. A chain starts at a real waiter.
    let idle_worker = |p: &ProcRow| {
        p.role == Some(Role::PoolWorker) && p.wait.as_ref().is_some_and(|w| w.op == WaitOp::Get)
    };
    let waiting: Vec<&ProcRow> = procs
        .iter()
        .filter(|p| p.alive() && p.wait.is_some() && !idle_worker(p))
        .collect();
    // Processes another waiter leads to (it joins them, or they hold its lock).
    let led_to: Vec<i32> = waiting
        .iter()
        .filter_map(|p| waits_on(p, resources).or_else(|| join_target(p)))
        .collect();
    let mut out = Vec::new();
    for start in waiting.iter().filter(|p| !led_to.contains(&p.pid)) {
        let mut parts = vec![start.name.clone()];
        let mut seen = vec![start.pid];
        let mut cur: &ProcRow = start;
        loop {
            let Some(w) = &cur.wait else {
                parts.push(t!("graph-runs", name = &cur.name));
                break;
            };
            parts.push(describe(w, procs, resources));
            let next = waits_on(cur, resources)
                .or_else(|| join_target(cur))
                .and_then(live);
            match next {
                Some(n) if !seen.contains(&n.pid) => {
                    seen.push(n.pid);
                    cur = n;
                }
                Some(_) => {
                    parts.push(t!("graph-cycle"));
                    break;
                }
                None => {
                    parts.push(servers(cur, w, procs));
                    break;
                }
            }
        }
        out.push(parts.join(" → "));
    }
    out
}

fn join_target(p: &ProcRow) -> Option<i32> {
    p.wait
        .as_ref()
        .filter(|w| w.op == WaitOp::Join)
        .map(|w| w.target as i32)
}

/// Who could end a wait that no one process owns: the live processes that
/// are not blocked, or why nobody can.
fn servers(me: &ProcRow, w: &WaitRow, procs: &[ProcRow]) -> String {
    if w.deadline {
        return t!("graph-timeout");
    }
    let free: Vec<&str> = procs
        .iter()
        .filter(|p| p.alive() && !is_helper(p) && p.pid != me.pid && blocking_wait(p).is_none())
        .map(|p| p.name.as_str())
        .collect();
    if !free.is_empty() {
        let shown: Vec<&str> = free.iter().take(4).copied().collect();
        let more = if free.len() > 4 { ", …" } else { "" };
        return t!(
            "serve-can",
            n = free.len(),
            verb = serve_verb(w.op),
            names = format!("{}{more}", shown.join(", "))
        );
    }
    let gone = gone(procs);
    let why = if gone.is_empty() {
        t!("stuck-every-waits")
    } else {
        gone.join("; ")
    };
    t!("serve-nobody", verb = serve_verb(w.op), why = why)
}

/// What would have to happen for a wait to end: `put`, `set`, `arrive`…
fn serve_verb(op: WaitOp) -> String {
    match op {
        WaitOp::Get => t!("serve-put"),
        WaitOp::Put => t!("serve-get"),
        WaitOp::JoinQueue => t!("serve-task-done"),
        WaitOp::Recv => t!("serve-send"),
        WaitOp::Acquire => t!("serve-release"),
        WaitOp::ConditionWait => t!("serve-notify"),
        WaitOp::EventWait => t!("serve-set"),
        WaitOp::BarrierWait => t!("serve-arrive"),
        WaitOp::Join => t!("serve-end"),
        WaitOp::PoolResult => t!("serve-run-tasks"),
        WaitOp::ManagerCall => t!("serve-answer"),
        WaitOp::Flush => t!("serve-read"),
    }
}

/// What changes when a run moves: states, waits, the primitives' counters.
/// Times (how long held, since when) are left out: they change by themselves.
fn fingerprint(procs: &[ProcRow], resources: &[ResourceView]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in procs {
        (p.pid, p.state as u32, p.tasks_done, p.current_task).hash(&mut h);
        if let Some(w) = &p.wait {
            (w.op as u32, &w.resource, w.target).hash(&mut h);
        }
    }
    for r in resources {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("held_ms");
        }
        v.to_string().hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pid: i32, name: &str, wait: Option<WaitRow>) -> ProcRow {
        ProcRow {
            pid,
            name: name.into(),
            role: Some(Role::Process),
            state: ProcState::Running,
            wait,
            ..Default::default()
        }
    }

    fn wait(op: WaitOp, res: Option<&str>, kind: Option<ResKind>, target: i64) -> Option<WaitRow> {
        Some(WaitRow {
            escape: None,
            op,
            resource: res.map(str::to_string),
            kind,
            target,
            since_s: 1.0,
            deadline: false,
            at: None,
        })
    }

    fn lock(name: &str, holder: i32) -> ResourceView {
        ResourceView::Lock {
            name: name.into(),
            recursive: false,
            holder_pid: holder,
            holder_tid: holder,
            held_ms: Some(5),
            waiters: 1,
            acquisitions: 1,
            contended: 1,
            owner_died: 0,
            last_dead_owner: 0,
        }
    }

    #[test]
    fn two_locks_in_opposite_orders_are_a_deadlock_on_the_second_sample() {
        let procs = vec![
            proc(
                1,
                "a",
                wait(WaitOp::Acquire, Some("L2"), Some(ResKind::Lock), 0),
            ),
            proc(
                2,
                "b",
                wait(WaitOp::Acquire, Some("L1"), Some(ResKind::Lock), 0),
            ),
        ];
        let res = vec![lock("L1", 1), lock("L2", 2)];
        let mut d = Detector::new(Duration::from_secs(60));
        let t = Instant::now();
        assert!(
            d.observe(&procs, &res, t).is_none(),
            "one sample is not enough"
        );
        let got = d.observe(&procs, &res, t).expect("a deadlock");
        assert_eq!(got.kind, StuckKind::Deadlock);
        assert_eq!(got.cycle, ["a", "L2", "b", "L1", "a"]);
        assert!(got.summary.contains("opposite orders"), "{}", got.summary);
        assert_eq!(got.waits[0].holder.as_deref(), Some("b"));
        assert!(d.observe(&procs, &res, t).is_none(), "said once");
    }

    #[test]
    fn everyone_blocked_and_nothing_changing_is_stuck_after_the_grace_period() {
        let mut dead = proc(3, "producer 0", None);
        dead.state = ProcState::Exited;
        dead.exitcode = Some(-9);
        let procs = vec![
            proc(
                1,
                "consumer 0",
                wait(WaitOp::Get, Some("work"), Some(ResKind::Queue), 0),
            ),
            proc(
                2,
                "consumer 1",
                wait(WaitOp::Get, Some("work"), Some(ResKind::Queue), 0),
            ),
            dead,
        ];
        let mut d = Detector::new(Duration::from_secs(2));
        let t = Instant::now();
        assert!(d.observe(&procs, &[], t).is_none());
        assert!(d.observe(&procs, &[], t + Duration::from_secs(1)).is_none());
        let got = d
            .observe(&procs, &[], t + Duration::from_millis(2100))
            .expect("stuck");
        assert_eq!(got.kind, StuckKind::NobodyCanServe);
        assert!(
            got.summary.contains("producer 0 died (SIGKILL)"),
            "{}",
            got.summary
        );
        assert!(
            got.chain[0].contains("get work (empty) → nobody can put"),
            "{:?}",
            got.chain
        );
    }

    #[test]
    fn a_process_that_computes_or_sleeps_or_has_a_timeout_is_never_stuck() {
        let mut timed = wait(WaitOp::Get, Some("work"), Some(ResKind::Queue), 0);
        if let Some(w) = timed.as_mut() {
            w.deadline = true;
        }
        for other in [proc(2, "worker", None), proc(2, "timed", timed)] {
            let procs = vec![
                proc(
                    1,
                    "consumer",
                    wait(WaitOp::Get, Some("work"), Some(ResKind::Queue), 0),
                ),
                other,
            ];
            let mut d = Detector::new(Duration::from_secs(1));
            let t = Instant::now();
            for s in 0..10 {
                assert!(d.observe(&procs, &[], t + Duration::from_secs(s)).is_none());
            }
        }
    }

    #[test]
    fn a_wait_with_an_escape_is_a_warning_never_a_diagnosis_and_goes_when_things_move() {
        let mut w = wait(WaitOp::EventWait, Some("ev"), Some(ResKind::Event), 0);
        if let Some(w) = w.as_mut() {
            w.escape = Some("its thread Thread-1 is not waiting on the tree".into());
        }
        let mut procs = vec![
            proc(1, "main", w),
            proc(
                2,
                "child",
                wait(WaitOp::EventWait, Some("ev"), Some(ResKind::Event), 0),
            ),
        ];
        let mut d = Detector::new(Duration::from_secs(1));
        let t = Instant::now();
        assert!(d.observe(&procs, &[], t).is_none());
        assert!(d.no_progress().is_none(), "not before the grace");
        for s in 1..5 {
            assert!(d.observe(&procs, &[], t + Duration::from_secs(s)).is_none());
        }
        let warned = d.no_progress().expect("no progress").clone();
        assert_eq!(warned.for_secs, 4.0);
        assert_eq!(warned.waits.len(), 2);
        assert_eq!(warned.escapes.len(), 1);
        assert_eq!(warned.escapes[0].name, "main");
        // Something moves: gone at once.
        procs[1].tasks_done = 1;
        assert!(d.observe(&procs, &[], t + Duration::from_secs(5)).is_none());
        assert!(d.no_progress().is_none(), "gone when something moves");
        // Without the escape it is proof, and no longer a warning.
        procs[0].wait.as_mut().unwrap().escape = None;
        assert!(d.observe(&procs, &[], t + Duration::from_secs(7)).is_some());
        assert!(d.no_progress().is_none());
    }

    #[test]
    fn a_change_on_the_board_restarts_the_grace_period() {
        let mut procs = vec![proc(
            1,
            "c",
            wait(WaitOp::Get, Some("q"), Some(ResKind::Queue), 0),
        )];
        let mut d = Detector::new(Duration::from_secs(2));
        let t = Instant::now();
        assert!(d.observe(&procs, &[], t).is_none());
        procs[0].tasks_done = 1;
        assert!(
            d.observe(&procs, &[], t + Duration::from_millis(1900))
                .is_none()
        );
        assert!(
            d.observe(&procs, &[], t + Duration::from_millis(3000))
                .is_none()
        );
        assert!(
            d.observe(&procs, &[], t + Duration::from_millis(4000))
                .is_some()
        );
    }

    #[test]
    fn the_graph_reads_as_sentences_from_each_root() {
        let mut dead = proc(4, "producer 0", None);
        dead.state = ProcState::Exited;
        dead.exitcode = Some(-9);
        let mut main = proc(1, "main", wait(WaitOp::Join, None, None, 2));
        main.role = Some(Role::Main);
        let procs = vec![
            main,
            proc(
                2,
                "consumer 0",
                wait(WaitOp::Get, Some("work"), Some(ResKind::Queue), 0),
            ),
            proc(3, "worker", None),
            dead,
        ];
        assert_eq!(
            graph(&procs, &[]),
            ["main → join consumer 0 → get work (empty) → can put: worker"]
        );
        let procs: Vec<ProcRow> = procs.into_iter().filter(|p| p.pid != 3).collect();
        assert_eq!(
            graph(&procs, &[]),
            [
                "main → join consumer 0 → get work (empty) → nobody can put: producer 0 died (SIGKILL)"
            ]
        );
    }

    #[test]
    fn an_idle_pool_worker_is_no_chain_of_its_own() {
        let mut worker = proc(
            11,
            "ForkPoolWorker-2",
            wait(WaitOp::Get, Some("pool"), Some(ResKind::Queue), 0),
        );
        worker.role = Some(Role::PoolWorker);
        let main = proc(
            10,
            "MainProcess",
            wait(WaitOp::PoolResult, Some("pool"), None, 1),
        );
        let chains = graph(&[main, worker], &[]);
        assert_eq!(chains.len(), 1, "{chains:?}");
        assert!(chains[0].starts_with("MainProcess"), "{chains:?}");
    }
}
