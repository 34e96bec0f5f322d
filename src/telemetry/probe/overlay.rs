//! The probe's facts on the process rows: Python's names, roles and start
//! methods, waits, reaped exit statuses, pool tasks, and rows for processes
//! too short for the `/proc` scan.

use super::{Facts, PyProc};
use crate::runtime::board::Role;
use crate::telemetry::board_view::ProcRow;

/// Rows for the program's processes that ended before mpdash's scan of
/// `/proc` saw them (a child living a few milliseconds): named, placed and
/// ended as the probe says, with the CPU time the process measured itself.
fn add_missed(procs: &mut Vec<ProcRow>, facts: &Facts) {
    let mut missed: Vec<(&i32, &PyProc)> = facts
        .procs
        .iter()
        .filter(|(pid, _)| !procs.iter().any(|p| p.pid == **pid))
        .filter(|(pid, _)| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    missed.sort_by_key(|(pid, _)| **pid);
    for (pid, py) in missed {
        let end = facts.ends.get(pid);
        procs.push(ProcRow {
            slot: crate::telemetry::board_view::NO_SLOT,
            name: py.name.clone(),
            pid: *pid,
            os_ppid: py.ppid,
            logical_ppid: py.ppid,
            method: py.method,
            state: crate::runtime::board::ProcState::Exited,
            exitcode: facts.exits.get(pid).copied().or(end.map(|e| e.0)),
            cpu_s: end.map(|e| e.1),
            ..Default::default()
        });
    }
}

/// Puts what the probe says on the rows: Python's names and roles, and
/// each live process's wait.
pub fn overlay(procs: &mut Vec<ProcRow>, facts: &Facts) {
    add_missed(procs, facts);
    // The program's main process's parent is mpdash's watch guard: it
    // serves nobody (the stuck diagnosis must not wait for it).
    let guard: Vec<i32> = facts
        .procs
        .values()
        .filter(|p| p.role == "main")
        .map(|p| p.ppid)
        .collect();
    for p in procs.iter_mut() {
        if guard.contains(&p.pid) && !facts.procs.contains_key(&p.pid) {
            p.role = Some(Role::Helper);
        }
        if let Some(py) = facts.procs.get(&p.pid) {
            p.name = py.name.clone();
            p.role = Some(match py.role.as_str() {
                "main" => Role::Main,
                "pool worker" => Role::PoolWorker,
                "manager" => Role::Manager,
                "fork server" => Role::ForkServer,
                "resource tracker" => Role::Helper,
                "executor worker" => Role::PoolWorker,
                "process" => Role::Process,
                _ => Role::Foreign,
            });
            if py.method.is_some() {
                p.method = py.method;
            }
        }
        if p.alive() {
            p.wait = facts.waits.get(&p.pid).cloned();
        } else {
            if p.exitcode.is_none() {
                // Reaped by its Python parent: the status Python got.
                p.exitcode = facts.exits.get(&p.pid).copied();
            }
            if let Some((code, _)) = facts.ends.get(&p.pid) {
                p.exitcode = p.exitcode.or(Some(*code));
            }
            // The process's own count, said at its exit: what the kernel
            // gives whoever reaps it includes the children it reaped.
            let own = facts.own_cpu.get(&p.pid).copied();
            if let Some(cpu) = own.or_else(|| facts.ends.get(&p.pid).map(|e| e.1)) {
                p.cpu_s = Some(cpu);
            }
        }
        if let Some((task, done)) = facts.workers.get(&p.pid) {
            p.current_task = if p.alive() { *task } else { None };
            p.tasks_done = *done;
        }
    }
    drop_wrappers(procs, facts, &guard);
}

/// Interpreter wrappers (a pyenv shim, `env`, a shell script that execs
/// python) are not processes of the program: a row that is not Python and
/// ended, or was first seen, before the interpreter above it started — the
/// wrapper's helpers, run by the pid that later became Python — goes. (Its
/// end is known only when a scan finds it gone, up to a scan later: a
/// helper that ended just before the exec is told by when it was seen
/// alive, which no child of the interpreter can be before it started.)
fn drop_wrappers(procs: &mut Vec<ProcRow>, facts: &Facts, guard: &[i32]) {
    if facts.procs.is_empty() {
        return;
    }
    let parent: std::collections::HashMap<i32, i32> =
        procs.iter().map(|p| (p.pid, p.os_ppid)).collect();
    // The nearest Python process above `pid`, and when its interpreter began.
    let python_above = |mut pid: i32| {
        for _ in 0..64 {
            match parent.get(&pid) {
                Some(&pp) if pp != pid => pid = pp,
                _ => return None,
            }
            if let Some(py) = facts.procs.get(&pid) {
                return Some(py.t0);
            }
        }
        None
    };
    procs.retain(|p| {
        let python = facts.procs.contains_key(&p.pid);
        let before_python = !p.alive()
            && p.t_exit_ns != 0
            && python_above(p.pid)
                .is_some_and(|t0| t0 > p.t_exit_ns || (p.t_request_ns != 0 && t0 > p.t_request_ns));
        python || guard.contains(&p.pid) || p.role == Some(Role::Helper) || !before_python
    });
}
