//! `mpdash watch -- CMD ARGS…`: any program as the root of a run. Its
//! processes are found in `/proc` (its process group, and every descendant of
//! the root) and written as rows of the run's board, so the dashboard shows
//! them like its own: CPU, RSS, PIDs and parents, states, exit statuses.
//! mpdash is a child subreaper, so orphans of the program come back to it to
//! be reaped (their exit status is then known); a process reaped by its own
//! parent shows as "ended" with no status, because only its parent saw it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use crate::runtime::board::{Board, ProcState, Role, StartMethod};
use crate::scenario::Scenario;
use crate::telemetry::proc_stat::parse_stat;

/// `wait_status` of a process that ended without us reaping it.
pub const STATUS_UNKNOWN: i32 = i32::MIN;

/// The dashboard's scenario for a watched command.
pub fn scenario_for(argv: &[String]) -> Scenario {
    let shown = argv.join(" ");
    Scenario {
        file: String::new(),
        title: format!("watch: {shown}"),
        explain: format!(
            "A foreign program, run as the root of this run: `{shown}`. mpdash finds its \
             processes in /proc (its process group and the root's descendants) and shows \
             CPU, RSS, PIDs and parents, states and exit statuses; when it ends or you quit, \
             whatever it left is killed, as for a scenario. There are no queue, lock or pool \
             panels: mpdash reads those from its own primitives, which a foreign program \
             does not use. r runs the command again."
        ),
        start_method: StartMethod::Fork,
        pool: crate::scenario::PoolSpec {
            workers: 1,
            chunksize: None,
            maxtasksperchild: 0,
            initializer: None,
            on_worker_death: Default::default(),
            retries: 0,
        },
        task: None,
        resources: Vec::new(),
        processes: Vec::new(),
        main: Vec::new(),
        scaling: None,
    }
}

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

/// argv[1] of the guard process that runs a watched command.
pub const GUARD_ARG: &str = "__guard";

/// Descendants of `root` (through parent links in `/proc`), deepest last.
fn descendants(root: i32) -> Vec<i32> {
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

/// The guard: `mpdash __guard PARENT CMD ARGS…`, started by the dashboard with
/// the board at [`crate::runtime::process::BOARD_FD`]. It is a child
/// subreaper, so everything the command starts stays below it even when
/// orphaned; it reaps them, writes their exit statuses on the board, and when
/// the command ends, or the dashboard goes (SIGTERM by `PR_SET_PDEATHSIG`),
/// it kills whatever is left before it leaves. It exits as the command did.
pub fn guard_main(args: &[String]) -> i32 {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    let [parent, prog, rest @ ..] = args else {
        eprintln!("mpdash: usage: mpdash {GUARD_ARG} PARENT CMD ARGS…");
        return 2;
    };
    let term = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        let _ = signal_hook::flag::register(sig, term.clone());
    }
    if nix::unistd::getppid().as_raw().to_string() != *parent {
        return 1; // the dashboard is already gone
    }
    crate::runtime::process::set_comm("watch guard");
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // SAFETY: the dashboard placed the board at BOARD_FD before exec; nothing
    // else in this process owns it.
    let board =
        Board::open(unsafe { crate::runtime::sys::adopt_fd(crate::runtime::process::BOARD_FD) })
            .ok();
    let child = match std::process::Command::new(prog).args(rest).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mpdash watch: cannot start {prog:?}: {e}");
            return 127;
        }
    };
    let me = std::process::id() as i32;
    let cmd_pid = child.id() as i32;
    drop(child);
    let mut status = None;
    // Writes what we reaped on the board, where the dashboard shows it.
    let reaped = |r: &crate::runtime::sys::Reaped, status: &mut Option<i32>| {
        if let Some(b) = &board
            && let Some(slot) = b.find_pid_any(r.pid.as_raw())
            && (slot.state() != ProcState::Exited
                || slot.wait_status.load(Ordering::Relaxed) == STATUS_UNKNOWN)
        {
            slot.record_exit(r);
        }
        if r.pid.as_raw() == cmd_pid {
            *status = Some(r.status);
        }
    };
    loop {
        match crate::runtime::sys::wait4(-1, true) {
            Ok(Some(r)) => {
                reaped(&r, &mut status);
                continue;
            }
            Ok(None) => {}
            Err(_) if status.is_some() => break,
            Err(_) => {}
        }
        if status.is_some() || term.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Whatever the command left goes with it (and with us).
    for _ in 0..50 {
        let left = descendants(me);
        if left.is_empty() {
            break;
        }
        for pid in left {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        while let Ok(Some(r)) = crate::runtime::sys::wait4(-1, true) {
            reaped(&r, &mut status);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    match status.map(crate::runtime::sys::exit_code_of) {
        Some(code) if code >= 0 => code,
        Some(sig) => {
            // Die of the same signal, so the dashboard reports what the command did.
            if let Ok(s) = Signal::try_from(-sig) {
                let _ = signal_hook::low_level::emulate_default_handler(s as i32);
                let _ = kill(Pid::from_raw(me), s);
            }
            128 - sig
        }
        None => 128 + 15,
    }
}
