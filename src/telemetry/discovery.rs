//! Discovery of foreign process trees: a watched program's processes, found
//! in `/proc` (its process group, and every descendant of the root) and kept
//! as rows of the run's board, so the dashboard shows them like its own.
//! A process reaped by its own parent shows as "ended" with no status,
//! because only its parent saw it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use crate::runtime::board::{Board, ProcState, Role, StartMethod};
use crate::telemetry::proc_stat::parse_stat;

/// `wait_status` of a process that ended without us reaping it.
pub const STATUS_UNKNOWN: i32 = i32::MIN;

/// What one scan of `/proc` found of a process.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    ppid: i32,
    start_ticks: u64,
    name: String,
}

/// Finds the watched program's processes and keeps the board's rows in step:
/// new processes get a row, vanished ones are marked ended.
pub struct Discovery {
    root: i32,
    me: i32,
    /// pid → (slot, start ticks) of the rows this discovery made.
    rows: HashMap<i32, (u32, u64)>,
}

impl Discovery {
    pub fn new(board: &Board, root: i32, root_slot: u32) -> Discovery {
        let mut rows = HashMap::new();
        let start = read(root).map_or(0, |s| s.1.start_ticks);
        if let Some(row) = board.proc(root_slot) {
            row.start_ticks.store(start, Ordering::Relaxed);
        }
        rows.insert(root, (root_slot, start));
        Discovery {
            root,
            me: std::process::id() as i32,
            rows,
        }
    }

    /// One scan.
    pub fn scan(&mut self, board: &Board) {
        let all = all_processes();
        let ours = |pid: i32| -> bool {
            let mut p = pid;
            for _ in 0..64 {
                let Some((s, pgrp)) = all.get(&p) else {
                    return false;
                };
                if p == self.root || *pgrp == self.root {
                    return true;
                }
                // An orphan of the program, adopted by us (the subreaper).
                if s.ppid == self.me && self.rows.contains_key(&p) {
                    return true;
                }
                p = s.ppid;
            }
            false
        };
        let mut found: Vec<(i32, &Seen)> = all
            .iter()
            .filter(|(pid, _)| **pid != self.me && ours(**pid))
            .map(|(pid, (s, _))| (*pid, s))
            .collect();
        // Parents before children, so each row's parent has a row already.
        found.sort_by_key(|(pid, s)| (s.start_ticks, *pid));
        for (pid, s) in &found {
            if let Some((slot, start)) = self.rows.get(pid)
                && *start == s.start_ticks
            {
                // The same process; it may have exec'd another program since.
                if let Some(row) = board.proc(*slot)
                    && *pid != self.root
                    && row.name() != s.name
                {
                    row.set_name(&s.name);
                }
                continue;
            }
            // A row the guard made for it already (it saw it end first).
            if let Some(i) = (0..board.procs_used()).find(|&i| {
                board.proc(i).is_some_and(|r| {
                    r.pid.load(Ordering::Relaxed) == *pid
                        && r.start_ticks.load(Ordering::Relaxed) == s.start_ticks
                })
            }) {
                self.rows.insert(*pid, (i, s.start_ticks));
                continue;
            }
            // An orphan adopted by us still belongs under the program.
            let parent = if s.ppid == self.me && *pid != self.root {
                self.root
            } else {
                s.ppid
            };
            let Ok(slot) = board.new_proc(&s.name, Role::Foreign, StartMethod::Fork, 0, parent)
            else {
                continue;
            };
            if let Some(row) = board.proc(slot) {
                row.pid.store(*pid, Ordering::Relaxed);
                row.os_ppid.store(s.ppid, Ordering::Relaxed);
                row.start_ticks.store(s.start_ticks, Ordering::Relaxed);
                row.set_state(ProcState::Running);
            }
            self.rows.insert(*pid, (slot, s.start_ticks));
        }
        // Rows whose process is gone (reaped by its parent, not by us).
        for (pid, (slot, start)) in &self.rows {
            let alive = all.get(pid).is_some_and(|(s, _)| s.start_ticks == *start);
            if let Some(row) = board.proc(*slot)
                && !alive
                && row.state() != ProcState::Exited
            {
                row.wait_status.store(STATUS_UNKNOWN, Ordering::Relaxed);
                row.t_exit
                    .store(crate::runtime::sys::now_ns(), Ordering::Relaxed);
                row.set_state(ProcState::Exited);
            }
        }
    }
}

/// Every process in `/proc`: pid → (what we need, process group).
fn all_processes() -> HashMap<i32, (Seen, i32)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| read(pid).map(|(pgrp, seen)| (pid, (seen, pgrp))))
        .collect()
}

/// (process group, what we need) of a live process.
fn read(pid: i32) -> Option<(i32, Seen)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let st = parse_stat(&text, 1)?;
    let name = text
        .find('(')
        .zip(text.rfind(')'))
        .map(|(a, b)| text[a + 1..b].to_string())
        .unwrap_or_default();
    Some((
        st.pgrp,
        Seen {
            ppid: st.ppid,
            start_ticks: st.start_ticks,
            name,
        },
    ))
}

/// Pids of the board's foreign rows that still run as the process the row
/// was made for (same start time), to kill them with the run.
pub fn live_pids(board: &Board) -> Vec<i32> {
    (0..board.procs_used())
        .filter_map(|i| board.proc(i))
        .filter(|s| s.state() != ProcState::Exited)
        .filter(|s| Role::from_u32(s.role.load(Ordering::Relaxed)) == Some(Role::Foreign))
        .filter_map(|s| {
            let pid = s.pid.load(Ordering::Relaxed);
            let start = s.start_ticks.load(Ordering::Relaxed);
            (pid > 0 && read(pid).is_some_and(|(_, seen)| seen.start_ticks == start)).then_some(pid)
        })
        .collect()
}

/// Descendants of `root` (through parent links in `/proc`), deepest last.
pub fn descendants(root: i32) -> Vec<i32> {
    let parent: HashMap<i32, i32> = all_processes()
        .into_iter()
        .map(|(pid, (s, _))| (pid, s.ppid))
        .collect();
    parent
        .keys()
        .copied()
        .filter(|&p| {
            let mut q = p;
            for _ in 0..64 {
                match parent.get(&q) {
                    Some(&pp) if pp == root => return true,
                    Some(&pp) if pp > 1 => q = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}
