//! Reads the board into plain data: what every view (screen, headless table,
//! JSON) shows about processes and resources. Reads only; trusts no offset.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use crate::runtime::board::{Board, ProcState, ResKind, Role, StartMethod, WaitOp};
use crate::runtime::pool::{
    STAT_DONE, STAT_FAILED, STAT_LOST, STAT_REPLACED, STAT_RESULTS_QUEUE, STAT_RETRIED, STAT_TOTAL,
    STAT_WORKERS,
};
use crate::runtime::queue::{QueueHeader, depth_of};
use crate::runtime::sys;

/// The slot of a row that has none on the board.
pub const NO_SLOT: u32 = u32::MAX;

/// `slot` in JSON: a number, or null — never the sentinel.
mod slot_or_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(slot: &u32, s: S) -> Result<S::Ok, S::Error> {
        if *slot == super::NO_SLOT {
            s.serialize_none()
        } else {
            s.serialize_u32(*slot)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        Ok(Option::<u32>::deserialize(d)?.unwrap_or(super::NO_SLOT))
    }
}

/// One process as the board describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProcRow {
    /// Its board slot; [`NO_SLOT`] (null in JSON) for a process known only
    /// from the probe.
    #[serde(with = "slot_or_null")]
    pub slot: u32,
    pub name: String,
    pub role: Option<Role>,
    pub method: Option<StartMethod>,
    pub index: u32,
    pub pid: i32,
    pub os_ppid: i32,
    pub logical_ppid: i32,
    pub state: ProcState,
    /// Request → first instruction, µs.
    pub start_us: Option<f64>,
    /// Request → ready, µs.
    pub ready_us: Option<f64>,
    /// CPython's exitcode once ended: status, or minus the signal.
    pub exitcode: Option<i32>,
    /// User + system CPU seconds from `wait4`, once ended.
    pub cpu_s: Option<f64>,
    pub current_task: Option<u64>,
    pub tasks_done: u64,
    /// Absolute request and ready times (CLOCK_MONOTONIC ns; 0 = not yet).
    pub t_request_ns: u64,
    pub t_ready_ns: u64,
    pub t_exit_ns: u64,
    /// What it is blocked on, if it is (a live process only).
    pub wait: Option<WaitRow>,
}

/// A blocked process's wait, with its resource by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitRow {
    pub op: WaitOp,
    /// The resource waited on, by its name in the scenario.
    pub resource: Option<String>,
    pub kind: Option<ResKind>,
    /// The pid joined, or the tasks left of a pool call.
    pub target: i64,
    /// How long it has waited, when sampled.
    pub since_s: f64,
    /// It has a timeout, so it ends by itself.
    pub deadline: bool,
    /// Where the program waits (`prog.py:12`), when a probe said so.
    #[serde(default)]
    pub at: Option<String>,
    /// Why the wait is no proof that the process can never move: something
    /// outside the tracked waits could end it (another thread of the
    /// process, a signal handler, a client outside the tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escape: Option<String>,
}

impl ProcRow {
    pub fn alive(&self) -> bool {
        matches!(self.state, ProcState::Started | ProcState::Running)
    }
}

fn micros(later: u64, earlier: u64) -> Option<f64> {
    (later != 0 && earlier != 0 && later >= earlier).then(|| (later - earlier) as f64 / 1000.0)
}

/// Every process slot handed out so far.
///
/// `wait4` reports a child's CPU together with the children it reaped itself,
/// so each row's `cpu_s` is made its own by taking its reaped children's out.
pub fn read_procs(board: &Board) -> Vec<ProcRow> {
    let mut rows = read_slots(board);
    let totals: Vec<(i32, f64)> = rows
        .iter()
        .filter_map(|r| Some((r.os_ppid, r.cpu_s?)))
        .collect();
    for r in rows.iter_mut() {
        if let Some(c) = r.cpu_s.as_mut() {
            let children: f64 = totals
                .iter()
                .filter(|(pp, _)| *pp == r.pid)
                .map(|(_, c)| c)
                .sum();
            *c = (*c - children).max(0.0);
        }
    }
    rows
}

fn read_slots(board: &Board) -> Vec<ProcRow> {
    (0..board.procs_used())
        .filter_map(|i| {
            let s = board.proc(i)?;
            let state = s.state();
            let t_req = s.t_request.load(Ordering::Relaxed);
            let exited = state == ProcState::Exited;
            // A start that failed before any process existed is no process.
            if exited && s.pid.load(Ordering::Relaxed) == 0 {
                return None;
            }
            let task = s.current_task.load(Ordering::Relaxed);
            Some(ProcRow {
                slot: i,
                name: s.name(),
                role: Role::from_u32(s.role.load(Ordering::Relaxed)),
                method: StartMethod::from_u32(s.method.load(Ordering::Relaxed)),
                index: s.index.load(Ordering::Relaxed),
                pid: s.pid.load(Ordering::Relaxed),
                os_ppid: s.os_ppid.load(Ordering::Relaxed),
                logical_ppid: s.logical_ppid.load(Ordering::Relaxed),
                state,
                start_us: micros(s.t_first.load(Ordering::Relaxed), t_req),
                ready_us: micros(s.t_ready.load(Ordering::Relaxed), t_req),
                exitcode: exited
                    .then(|| s.wait_status.load(Ordering::Relaxed))
                    .filter(|w| *w != crate::telemetry::discovery::STATUS_UNKNOWN)
                    .map(sys::exit_code_of),
                // Measured only by whoever reaped it with wait4: a process
                // another reaped (a Python parent) has no figure here.
                cpu_s: (exited
                    && s.wait_status.load(Ordering::Relaxed)
                        != crate::telemetry::discovery::STATUS_UNKNOWN)
                    .then(|| {
                        (s.cpu_user_us.load(Ordering::Relaxed) as f64
                            + s.cpu_sys_us.load(Ordering::Relaxed) as f64)
                            / 1e6
                    }),
                current_task: (task >= 0 && !exited).then_some(task as u64),
                tasks_done: s.tasks_done.load(Ordering::Relaxed),
                t_request_ns: t_req,
                t_ready_ns: s.t_ready.load(Ordering::Relaxed),
                t_exit_ns: s.t_exit.load(Ordering::Relaxed),
                wait: (!exited).then(|| wait_row(board, s)).flatten(),
            })
        })
        .collect()
}

fn wait_row(board: &Board, s: &crate::runtime::board::ProcSlot) -> Option<WaitRow> {
    let w = s.wait()?;
    let res = w.res.and_then(|i| board.res(i));
    Some(WaitRow {
        escape: None,
        op: w.op,
        resource: res.map(|r| r.name()),
        kind: res.and_then(|r| ResKind::from_u32(r.kind.load(Ordering::Relaxed))),
        target: w.target,
        since_s: sys::now_ns().saturating_sub(w.since_ns) as f64 / 1e9,
        deadline: w.deadline,
        at: None,
    })
}

/// A queue's state, read from the queue's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QueueView {
    pub depth: usize,
    pub capacity: usize,
    pub puts: u64,
    pub gets: u64,
}

fn queue_at(board: &Board, offset: u64) -> Option<QueueView> {
    let h = board
        .region()
        .get::<QueueHeader>(usize::try_from(offset).ok()?)?;
    Some(QueueView {
        depth: depth_of(h),
        capacity: h.capacity.load(Ordering::Relaxed) as usize,
        puts: h.enqueue.load(Ordering::Relaxed),
        gets: h.dequeue.load(Ordering::Relaxed),
    })
}

/// A pool's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PoolView {
    pub name: String,
    pub workers: u64,
    pub total: u64,
    pub done: u64,
    pub tasks: QueueView,
    pub results: QueueView,
    /// Tasks lost with dead workers, runs again, replacement workers.
    pub lost: u64,
    pub retried: u64,
    pub replaced: u64,
    /// Tasks whose result is an error (raised, or given up with a dead worker).
    pub failed: u64,
}

/// The first pool on the board, if the scenario made one.
pub fn read_pool(board: &Board) -> Option<PoolView> {
    (0..board.res_used()).find_map(|i| {
        let r = board.res(i)?;
        if r.ready.load(Ordering::Acquire) != 1
            || ResKind::from_u32(r.kind.load(Ordering::Relaxed)) != Some(ResKind::Pool)
        {
            return None;
        }
        Some(PoolView {
            name: r.name(),
            workers: r.stats[STAT_WORKERS].load(Ordering::Relaxed),
            total: r.stats[STAT_TOTAL].load(Ordering::Relaxed),
            done: r.stats[STAT_DONE].load(Ordering::Relaxed),
            tasks: queue_at(board, r.offset.load(Ordering::Relaxed)).unwrap_or_default(),
            results: queue_at(board, r.stats[STAT_RESULTS_QUEUE].load(Ordering::Relaxed))
                .unwrap_or_default(),
            lost: r.stats[STAT_LOST].load(Ordering::Relaxed),
            retried: r.stats[STAT_RETRIED].load(Ordering::Relaxed),
            replaced: r.stats[STAT_REPLACED].load(Ordering::Relaxed),
            failed: r.stats[STAT_FAILED].load(Ordering::Relaxed),
        })
    })
}

/// One resource of the run, read from the primitive's own shared words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResourceView {
    Queue {
        name: String,
        joinable: bool,
        depth: usize,
        capacity: usize,
        puts: u64,
        gets: u64,
        lost_put: u64,
        lost_get: u64,
        waiting_getters: u32,
        waiting_putters: u32,
    },
    Pipe {
        name: String,
        duplex: bool,
        /// Messages and bytes sent by the main process's end, and by the children's.
        msgs: [u64; 2],
        bytes: [u64; 2],
    },
    Lock {
        name: String,
        recursive: bool,
        holder_pid: i32,
        holder_tid: i32,
        /// How long the holder has held it, when the sample was taken.
        held_ms: Option<u64>,
        waiters: u32,
        acquisitions: u64,
        contended: u64,
        owner_died: u64,
        last_dead_owner: i32,
    },
    Semaphore {
        name: String,
        bounded: bool,
        value: u32,
        bound: u32,
        waiters: u32,
        acquisitions: u64,
    },
    Event {
        name: String,
        set: bool,
        waiters: u32,
    },
    Barrier {
        name: String,
        parties: u32,
        arrived: u32,
        broken: bool,
        waiters: u32,
        passes: u64,
    },
    Value {
        name: String,
        typecode: char,
        /// The first elements (up to 12).
        values: Vec<String>,
        len: usize,
        lock: bool,
        is_array: bool,
    },
    /// A manager server: its objects, clients, and per-method calls (counted
    /// and timed by the clients of the run).
    Manager {
        name: String,
        server_pid: i32,
        tcp_port: u16,
        clients: u32,
        /// Connections refused or dropped (wrong authkey, no handshake in
        /// time, too many at once, garbage).
        refused: u32,
        objects: Vec<ManagerObjectView>,
        methods: Vec<ManagerMethodView>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagerObjectView {
    pub name: String,
    pub kind: String,
    /// Its length, where the server says it (a probed Python program's
    /// proxies do not).
    pub len: Option<u64>,
    pub calls: u64,
}

/// A proxy method's cumulative calls and time (rates come from two samples).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagerMethodView {
    pub method: String,
    pub calls: u64,
    pub total_ns: u64,
}

fn manager_view(
    name: String,
    region: &crate::runtime::shm::Region,
    at: usize,
) -> Option<ResourceView> {
    use crate::runtime::manager::{ManagerShared, Method, ObjKind};
    let m = region.get::<ManagerShared>(at)?;
    let n = (m.objects.load(Ordering::Acquire) as usize).min(m.obj.len());
    let objects = (0..n)
        .map(|i| {
            let o = &m.obj[i];
            ManagerObjectView {
                name: m.object_name(i),
                kind: ObjKind::from_u32(o.kind.load(Ordering::Relaxed))
                    .map_or("?", ObjKind::name)
                    .to_string(),
                len: Some(o.len.load(Ordering::Relaxed)),
                calls: o.calls.load(Ordering::Relaxed),
            }
        })
        .collect();
    let methods = Method::ALL
        .iter()
        .zip(&m.methods)
        .filter(|(_, s)| s.calls.load(Ordering::Relaxed) > 0)
        .map(|(meth, s)| ManagerMethodView {
            method: meth.name().to_string(),
            calls: s.calls.load(Ordering::Relaxed),
            total_ns: s.ns.load(Ordering::Relaxed),
        })
        .collect();
    Some(ResourceView::Manager {
        name,
        refused: m.refused.load(Ordering::Relaxed),
        server_pid: m.server_pid.load(Ordering::Relaxed) as i32,
        tcp_port: m.tcp_port.load(Ordering::Relaxed) as u16,
        clients: m.clients.load(Ordering::Relaxed),
        objects,
        methods,
    })
}

impl ResourceView {
    pub fn name(&self) -> &str {
        match self {
            ResourceView::Queue { name, .. }
            | ResourceView::Pipe { name, .. }
            | ResourceView::Lock { name, .. }
            | ResourceView::Semaphore { name, .. }
            | ResourceView::Event { name, .. }
            | ResourceView::Barrier { name, .. }
            | ResourceView::Value { name, .. }
            | ResourceView::Manager { name, .. } => name,
        }
    }
}

/// Every resource on the board but pools and internal locks (`x.get_lock()`
/// is shown with its value).
pub fn read_resources(board: &Board) -> Vec<ResourceView> {
    use crate::runtime::shared_value::{read_cell, read_header};
    use crate::runtime::sync::{FutexShared, LockShared};
    let now = sys::coarse_now_ns();
    (0..board.res_used())
        .filter_map(|i| {
            let r = board.res(i)?;
            if r.ready.load(Ordering::Acquire) != 1 {
                return None;
            }
            let name = r.name();
            let kind = ResKind::from_u32(r.kind.load(Ordering::Relaxed))?;
            let at = usize::try_from(r.offset.load(Ordering::Relaxed)).ok()?;
            let region = board.region();
            Some(match kind {
                ResKind::Pool | ResKind::Condition => return None,
                ResKind::Manager => return manager_view(name, region, at),
                ResKind::Queue | ResKind::JoinableQueue => {
                    let h = region.get::<QueueHeader>(at)?;
                    ResourceView::Queue {
                        name,
                        joinable: kind == ResKind::JoinableQueue,
                        depth: depth_of(h),
                        capacity: h.capacity.load(Ordering::Relaxed) as usize,
                        puts: h.enqueue.load(Ordering::Relaxed),
                        gets: h.dequeue.load(Ordering::Relaxed),
                        lost_put: h.lost_put.load(Ordering::Relaxed),
                        lost_get: h.lost_get.load(Ordering::Relaxed),
                        waiting_getters: h.waiting_getters.load(Ordering::Relaxed),
                        waiting_putters: h.waiting_putters.load(Ordering::Relaxed),
                    }
                }
                ResKind::Pipe => {
                    let s = |k: usize| r.stats[k].load(Ordering::Relaxed);
                    use crate::runtime::pipe::*;
                    ResourceView::Pipe {
                        name,
                        duplex: r.len.load(Ordering::Relaxed) == 1,
                        msgs: [s(STAT_MSGS_0), s(STAT_MSGS_1)],
                        bytes: [s(STAT_BYTES_0), s(STAT_BYTES_1)],
                    }
                }
                ResKind::Lock | ResKind::RLock => {
                    if name.ends_with(".get_lock()") {
                        return None;
                    }
                    let l = region.get::<LockShared>(at)?;
                    let holder_pid = l.holder_pid();
                    let acquisitions = l.acquisitions.load(Ordering::Relaxed);
                    let stamped = l.since_acq.load(Ordering::Relaxed) == acquisitions;
                    let since = if stamped {
                        l.since_ns.load(Ordering::Relaxed)
                    } else {
                        0
                    };
                    ResourceView::Lock {
                        name,
                        recursive: kind == ResKind::RLock,
                        holder_pid,
                        holder_tid: l.holder_tid(),
                        held_ms: (holder_pid != 0 && since != 0)
                            .then(|| now.saturating_sub(since) / 1_000_000),
                        waiters: l.waiters.load(Ordering::Relaxed),
                        acquisitions,
                        contended: l.contended.load(Ordering::Relaxed),
                        owner_died: l.owner_died.load(Ordering::Relaxed),
                        last_dead_owner: l.last_dead_owner.load(Ordering::Relaxed),
                    }
                }
                ResKind::Semaphore | ResKind::BoundedSemaphore => {
                    let f = region.get::<FutexShared>(at)?;
                    ResourceView::Semaphore {
                        name,
                        bounded: kind == ResKind::BoundedSemaphore,
                        value: f.value.load(Ordering::Relaxed),
                        bound: f.limit.load(Ordering::Relaxed),
                        waiters: f.waiters.load(Ordering::Relaxed),
                        acquisitions: f.acquisitions.load(Ordering::Relaxed),
                    }
                }
                ResKind::Event => {
                    let f = region.get::<FutexShared>(at)?;
                    ResourceView::Event {
                        name,
                        set: f.value.load(Ordering::Relaxed) == 1,
                        waiters: f.waiters.load(Ordering::Relaxed),
                    }
                }
                ResKind::Barrier => {
                    let f = region.get::<FutexShared>(at)?;
                    ResourceView::Barrier {
                        name,
                        parties: f.limit.load(Ordering::Relaxed),
                        arrived: f.arrived.load(Ordering::Relaxed),
                        broken: f.broken.load(Ordering::Relaxed) != 0,
                        waiters: f.waiters.load(Ordering::Relaxed),
                        passes: f.acquisitions.load(Ordering::Relaxed),
                    }
                }
                ResKind::Value | ResKind::Array => {
                    let (tc, len, lock, _) = read_header(board, at)?;
                    ResourceView::Value {
                        name,
                        typecode: tc.letter(),
                        values: (0..len.min(12))
                            .map(|i| read_cell(board, at, tc, i).to_string())
                            .collect(),
                        len,
                        lock,
                        is_array: kind == ResKind::Array,
                    }
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::board::BoardSize;
    use crate::runtime::queue::Queue;
    use crate::runtime::shared_value::{Num, SharedArray, TypeCode};
    use crate::runtime::sync::Lock;

    #[test]
    fn resources_are_read_from_the_primitives_themselves() {
        let b = Board::create(BoardSize::default()).unwrap();
        let q = Queue::create(&b, "q", 4, 16).unwrap();
        q.put_nowait(b"a").unwrap();
        q.put_nowait(b"b").unwrap();
        let l = Lock::create(&b, "l", false).unwrap();
        let _g = l.acquire(None).unwrap();
        SharedArray::create(&b, "v", TypeCode::SI, &[Num::Int(7)], true).unwrap();
        let views = read_resources(&b);
        let names: Vec<&str> = views.iter().map(ResourceView::name).collect();
        assert_eq!(
            names,
            ["q", "l", "v"],
            "the value's own lock is not listed apart"
        );
        assert!(matches!(
            views[0],
            ResourceView::Queue {
                depth: 2,
                capacity: 4,
                puts: 2,
                ..
            }
        ));
        match &views[1] {
            ResourceView::Lock {
                holder_pid,
                held_ms,
                ..
            } => {
                assert_eq!(*holder_pid, std::process::id() as i32);
                assert!(
                    held_ms.is_none(),
                    "an uncontended acquire stamps no time; the sampler times it"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&views[2], ResourceView::Value { values, lock: true, .. } if values == &["7"])
        );
    }
}
