//! Proof before alarm: a probed Python process is blocked only when *every*
//! one of its threads is in a wait that only another process of the tree
//! can end. This module names what could still end a wait — another thread
//! of the process that is not in such a wait (a producer thread, a
//! `threading.Timer`), a handler for a signal other than SIGINT (an
//! `alarm()` may be pending: the kernel does not show it) — and writes it
//! on the wait as its `escape`. The stuck detector never counts a wait with
//! an escape as proof.

use std::collections::{HashMap, HashSet};

use super::board_view::ProcRow;
use super::probe::Facts;

/// CPython's own threads that only serve the process's other threads or
/// the tree: a Queue's feeder, a Pool's handlers, an executor's manager.
fn internal(name: &str) -> bool {
    name == "QueueFeederThread"
        || name.ends_with("(_handle_workers)")
        || name.ends_with("(_handle_tasks)")
        || name.ends_with("(_handle_results)")
        || name.starts_with("_ExecutorManagerThread")
        || name.starts_with("_QueueManagerThread")
}

/// Signals with a handler, from `/proc/<pid>/status` (`SigCgt`), as a mask
/// with bit `n - 1` for signal `n`.
fn caught(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("SigCgt:"))?;
    u64::from_str_radix(line["SigCgt:".len()..].trim(), 16).ok()
}

/// The live threads of `pid` (zombie threads left out).
fn threads(pid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|tid| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat"))
                .ok()
                .and_then(|t| t.rfind(')').map(|i| t[i + 1..].trim_start().to_string()))
                .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
        })
        .collect()
}

/// Why `pid`'s wait could still end without another process of the tree.
fn escape_of(pid: i32, facts: &Facts) -> Option<String> {
    // CPython catches SIGINT in every process (KeyboardInterrupt), and
    // glibc catches signals 32 and 33 in every threaded one (thread
    // cancellation, setxid): none of them is the program's own handler.
    const NOT_THE_PROGRAM_S: u64 = 1 << (libc::SIGINT - 1) | 1 << 31 | 1 << 32;
    if let Some(mask) = caught(pid).map(|m| m & !NOT_THE_PROGRAM_S)
        && mask != 0
    {
        let names: Vec<String> = (1..=64)
            .filter(|n| mask & (1 << (n - 1)) != 0)
            .map(|n| {
                nix::sys::signal::Signal::try_from(n)
                    .map_or(format!("signal {n}"), |s| s.as_str().to_string())
            })
            .collect();
        return Some(format!(
            "a handler for {} could end it (a timer may be pending)",
            names.join(", ")
        ));
    }
    let waiting: HashSet<i32> = facts
        .thread_waits
        .get(&pid)
        .into_iter()
        .flatten()
        .filter(|(_, blocking)| *blocking)
        .filter_map(|(tid, _)| *tid)
        .collect();
    threads(pid)
        .into_iter()
        .filter(|tid| !waiting.contains(tid))
        .find_map(|tid| {
            let name = facts.threads.get(&tid);
            match name {
                Some(n) if internal(n) => None,
                Some(n) => Some(format!("its thread {n} is not waiting on the tree")),
                None if tid == pid => Some("its main thread is not waiting on the tree".into()),
                None => Some(format!("its thread {tid} is not waiting on the tree")),
            }
        })
}

/// An escape as the dashboard says it, in the screen's language (the
/// English text above stays what `--json` and headless runs say).
pub fn shown(escape: &str) -> String {
    if let Some(rest) = escape.strip_prefix("a handler for ")
        && let Some(signals) = rest.strip_suffix(" could end it (a timer may be pending)")
    {
        return crate::t!("escape-handler", signals = signals);
    }
    if escape == "its main thread is not waiting on the tree" {
        return crate::t!("escape-main-thread");
    }
    if let Some(rest) = escape.strip_prefix("its thread ")
        && let Some(name) = rest.strip_suffix(" is not waiting on the tree")
    {
        return crate::t!("escape-thread", name = name);
    }
    if let Some(rest) = escape.strip_suffix(": a client outside the tree could end it")
        && let Some((name, port)) = rest.rsplit_once(" listens on TCP port ")
    {
        return crate::t!("escape-listener", name = name, port = port);
    }
    escape.to_string()
}

/// TCP sockets in the LISTEN state, inode → port, from the kernel's tables
/// (IPv4 and IPv6).
pub fn tcp_listening() -> HashMap<u64, u16> {
    let mut out = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st … inode (the 10th field)
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let port = f[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Ok(inode)) = (port, f[9].parse::<u64>()) {
                out.insert(inode, port);
            }
        }
    }
    out
}

/// A TCP port `pid` listens on, if any (its fds that are listening sockets).
pub fn listens(pid: i32, listening: &HashMap<u64, u16>) -> Option<u16> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .flatten()
        .find_map(|e| {
            let link = std::fs::read_link(e.path()).ok()?;
            let inode = link
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()?;
            listening.get(&inode).copied()
        })
}

/// Writes on each live probed process's blocking wait what could still end
/// it, if anything. A process of the tree listening on TCP (a remote
/// manager, a Listener) may be served by clients outside the tree: then
/// every wait could end, and none is proof.
pub fn mark(procs: &mut [ProcRow], facts: &Facts) {
    let mut outside: Option<Option<String>> = None;
    let probed: Vec<(i32, String)> = procs
        .iter()
        .filter(|p| p.alive() && p.pid > 0 && facts.procs.contains_key(&p.pid))
        .map(|p| (p.pid, p.name.clone()))
        .collect();
    for p in procs.iter_mut().filter(|p| p.alive() && p.pid > 0) {
        let pid = p.pid;
        if !facts.procs.contains_key(&pid) {
            continue;
        }
        if let Some(w) = p.wait.as_mut().filter(|w| !w.deadline) {
            w.escape = escape_of(pid, facts).or_else(|| {
                // Looked up once a sample, and only when something waits.
                outside
                    .get_or_insert_with(|| {
                        let table = tcp_listening();
                        if table.is_empty() {
                            return None;
                        }
                        probed.iter().find_map(|(pid, name)| {
                            let port = listens(*pid, &table)?;
                            Some(format!(
                                "{name} listens on TCP port {port}: a client outside the tree could end it"
                            ))
                        })
                    })
                    .clone()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpython_s_own_serving_threads_are_no_escape_but_the_user_s_are() {
        assert!(internal("QueueFeederThread"));
        assert!(internal("Thread-3 (_handle_results)"));
        assert!(!internal("Thread-1 (producer)"));
        assert!(!internal("MainThread"));
    }

    #[test]
    fn a_handler_for_alarm_is_an_escape_and_sigint_alone_is_not() {
        // This test process: Rust's test harness installs no handler but
        // maybe SIGPIPE is ignored (ignored is not caught).
        let me = std::process::id() as i32;
        let mask = caught(me).expect("our own status");
        assert_eq!(mask & (1 << (libc::SIGALRM - 1)), 0);
    }

    #[test]
    fn every_escape_said_in_english_is_shown_in_the_screen_s_words() {
        for english in [
            "a handler for SIGALRM, SIGUSR1 could end it (a timer may be pending)",
            "its thread Thread-1 (producer) is not waiting on the tree",
            "its main thread is not waiting on the tree",
            "MainProcess listens on TCP port 50000: a client outside the tree could end it",
        ] {
            let shown = shown(english);
            assert_ne!(shown, english, "not matched: {english}");
            assert!(!shown.contains("could end it"), "{shown}");
        }
        assert!(
            shown("its thread Thread-1 (producer) is not waiting on the tree")
                .contains("Thread-1 (producer)")
        );
        assert!(
            shown("MainProcess listens on TCP port 50000: a client outside the tree could end it")
                .contains("50000")
        );
    }

    #[test]
    fn a_tcp_listener_of_ours_is_found_by_its_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let table = tcp_listening();
        assert!(
            table.values().any(|p| *p == port),
            "{port} not in {table:?}"
        );
        assert_eq!(listens(std::process::id() as i32, &table), Some(port));
        drop(l);
        let table = tcp_listening();
        assert_eq!(listens(std::process::id() as i32, &table), None);
    }
}
