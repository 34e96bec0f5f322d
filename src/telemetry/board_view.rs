//! Reads the board into plain data: what every view (screen, headless table,
//! JSON) shows about processes and resources. Reads only; trusts no offset.

use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::runtime::board::{Board, ProcState, ResKind, Role, StartMethod};
use crate::runtime::pool::{STAT_DONE, STAT_RESULTS_QUEUE, STAT_TOTAL, STAT_WORKERS};
use crate::runtime::queue::{QueueHeader, depth_of};
use crate::runtime::sys;

/// One process as the board describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ProcRow {
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
                exitcode: exited.then(|| sys::exit_code_of(s.wait_status.load(Ordering::Relaxed))),
                cpu_s: exited.then(|| {
                    (s.cpu_user_us.load(Ordering::Relaxed) + s.cpu_sys_us.load(Ordering::Relaxed))
                        as f64
                        / 1e6
                }),
                current_task: (task >= 0 && !exited).then_some(task as u64),
                tasks_done: s.tasks_done.load(Ordering::Relaxed),
            })
        })
        .collect()
}

/// A queue's state, read from the queue's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
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
        puts: h.puts.load(Ordering::Relaxed),
        gets: h.gets.load(Ordering::Relaxed),
    })
}

/// A pool's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct PoolView {
    pub name: String,
    pub workers: u64,
    pub total: u64,
    pub done: u64,
    pub tasks: QueueView,
    pub results: QueueView,
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
        })
    })
}
