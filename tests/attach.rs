//! `mpdash dump PID` and `mpdash attach --headless PID` on Python trees
//! mpdash did not start: programs from `tests/py/attach/` run with plain
//! `python3` (and 3.14 from `scripts/pythons`), then mpdash reads them from
//! outside. Every tree a test starts is killed by a guard, also when the
//! test fails.

mod common;

use std::process::{Command, Stdio};

use common::{PATIENCE, Tree, mpdash, wait_until};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The line of `file` (in tests/py/attach) that holds `marker`: `file:N`.
fn line_of(file: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(format!("{ROOT}/tests/py/attach/{file}")).unwrap();
    let n = text
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("{file} has no line with {marker:?}"));
    format!("{file}:{}", n + 1)
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Every wait of every thread `dump --json` says, as (op, at).
fn dump_waits(pid: i32) -> Result<Vec<(String, String)>, String> {
    let out = mpdash(&["dump", "--json", &pid.to_string()]);
    // 3: stuck, said after a second look.
    if !matches!(out.status.code(), Some(0 | 3)) {
        return Err(format!(
            "dump exited {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut waits = Vec::new();
    for v in json_lines(&out.stdout) {
        for t in v["threads"].as_array().into_iter().flatten() {
            let w = &t["wait"];
            if w.is_object() {
                waits.push((
                    w["op"].as_str().unwrap_or("").to_string(),
                    w["at"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    Ok(waits)
}

/// Polls `dump` until every wait in `want` is there.
fn wait_for_waits(pid: i32, want: &[(&str, &str)]) {
    wait_until(
        &format!("waits {want:?} in pid {pid}'s tree"),
        PATIENCE,
        || {
            let waits = dump_waits(pid)?;
            let all = want
                .iter()
                .all(|(op, at)| waits.iter().any(|(o, a)| o == op && a == at));
            if all {
                Ok(())
            } else {
                Err(format!("{waits:?}"))
            }
        },
    );
}

/// `attach --headless --json --for 10 PID`: (exit status, JSON lines).
fn attach(pid: i32, secs: &str) -> (i32, Vec<Value>, String) {
    let out = mpdash(&[
        "attach",
        "--headless",
        "--json",
        "--for",
        secs,
        &pid.to_string(),
    ]);
    (
        out.status.code().unwrap_or(-1),
        json_lines(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stuck_line(lines: &[Value]) -> &Value {
    let stuck: Vec<&Value> = lines.iter().filter(|v| v["type"] == "stuck").collect();
    assert_eq!(stuck.len(), 1, "one stuck line: {lines:#?}");
    stuck[0]
}

fn stuck_waits(lines: &[Value]) -> Vec<(String, String)> {
    stuck_line(lines)["waits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["op"].as_str().unwrap_or("").to_string(),
                w["at"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// `kind`: what the stuck line must say — `deadlock` under fork, where the
/// main process has the locks at the addresses its children wait on, so
/// every process's share of each lock is read; `nobody_can_serve` when the
/// holders cannot all be proved (forkserver: the main process's locks are
/// its globals, which no frame shows).
fn lock_order_on(python: &str, method: &str, kind: &str) {
    lock_order_in("lock_order.py", python, method, kind);
}

/// [`lock_order_on`] with the program `file` (`lock_order.py` takes its
/// locks with `with`, `bare_acquire.py` with `acquire()`).
fn lock_order_in(file: &str, python: &str, method: &str, kind: &str) {
    let tree = Tree::start(python, file, &[method]);
    let fwd = line_of(file, "waits for b");
    let bwd = line_of(file, "waits for a");
    let join = line_of(file, "p.join()");
    wait_for_waits(tree.pid(), &[("acquire", &fwd), ("acquire", &bwd)]);

    let (code, lines, err) = attach(tree.pid(), "10");
    assert_eq!(code, 3, "stuck: exit 3; stderr: {err}; {lines:#?}");
    let waits = stuck_waits(&lines);
    for want in [("acquire", &fwd), ("acquire", &bwd), ("join", &join)] {
        assert!(
            waits.iter().any(|(o, a)| o == want.0 && a == want.1),
            "{want:?} among the stuck waits {waits:?}"
        );
    }
    let stuck = stuck_line(&lines);
    assert_eq!(stuck["kind"], kind, "{stuck:#}");
    if kind == "deadlock" {
        let cycle = stuck["cycle"].as_array().expect("a cycle");
        assert_eq!(cycle.len(), 2, "{stuck:#}");
        let at: Vec<&str> = cycle.iter().map(|c| c["at"].as_str().unwrap()).collect();
        assert!(
            at.contains(&fwd.as_str()) && at.contains(&bwd.as_str()),
            "{stuck:#}"
        );
        // Each waits for the lock the other holds.
        assert_eq!(cycle[0]["held_by"], cycle[1]["pid"], "{stuck:#}");
        assert_eq!(cycle[1]["held_by"], cycle[0]["pid"], "{stuck:#}");
        assert_ne!(cycle[0]["lock"], cycle[1]["lock"], "{stuck:#}");
    } else {
        assert!(stuck["cycle"].is_null(), "{stuck:#}");
    }
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "attach");
    assert_eq!(last["stuck"], true);
    // Attaching paused nothing and quitting killed nothing.
    assert!(tree.root.id() > 0 && common::alive(tree.pid()));
}

#[test]
fn a_lock_order_deadlock_is_stuck_naming_both_acquires() {
    lock_order_on("python3", "fork", "deadlock");
}

#[test]
fn a_deadlock_of_bare_acquire_calls_is_proved_from_the_programs_lines() {
    // `a.acquire()` is the C method: no frame of its own; the line says.
    lock_order_in("bare_acquire.py", "python3", "fork", "deadlock");
}

#[test]
fn a_lock_order_deadlock_on_3_14_under_forkserver_and_fork() {
    let paths = common::pythons().as_ref().unwrap_or_else(|e| panic!("{e}"));
    let py = paths[2].as_str();
    // 3.14's own default: the fork server and the resource tracker are in
    // the tree — helpers, never parties; the server's children run the
    // program.
    lock_order_on(py, "forkserver", "nobody_can_serve");
    // 3.14's object layout (inline values): the holders are read.
    lock_order_on(py, "fork", "deadlock");
}

#[test]
fn dump_prints_the_acquire_frame_and_the_users_line() {
    let tree = Tree::start("python3", "lock_order.py", &["fork"]);
    let fwd = line_of("lock_order.py", "waits for b");
    let bwd = line_of("lock_order.py", "waits for a");
    wait_for_waits(tree.pid(), &[("acquire", &fwd), ("acquire", &bwd)]);
    let out = mpdash(&["dump", &tree.pid().to_string()]);
    // A deadlock: it looked again after the grace, and says so.
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("stuck: deadlock"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SemLock.__enter__"), "{text}");
    assert!(
        text.contains(&format!("waits: acquire (SemLock.__enter__) at {fwd}")),
        "{text}"
    );
    // The program's own frame is marked, with its full path.
    let (file, line) = fwd.split_once(':').unwrap();
    assert!(
        text.contains(&format!("→ forward ({ROOT}/tests/py/attach/{file}:{line})")),
        "{text}"
    );
    // JSON: a process line per process, then the dump line.
    let out = mpdash(&["dump", "--json", &tree.pid().to_string()]);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.last().unwrap()["type"], "dump");
    let python = lines
        .iter()
        .filter(|v| v["type"] == "process" && v["python"].is_string())
        .count();
    assert!(python >= 3, "{lines:#?}");
}

#[test]
fn a_consumer_whose_producer_left_is_stuck() {
    let tree = Tree::start("python3", "lost_producer.py", &[]);
    let get = line_of("lost_producer.py", "q.get()");
    let join = line_of("lost_producer.py", "cons.join()");
    wait_for_waits(tree.pid(), &[("get", &get), ("join", &join)]);
    let (code, lines, err) = attach(tree.pid(), "10");
    assert_eq!(code, 3, "stuck: exit 3; stderr: {err}; {lines:#?}");
    let waits = stuck_waits(&lines);
    assert_eq!(stuck_line(&lines)["kind"], "nobody_can_serve");
    for want in [("get", &get), ("join", &join)] {
        assert!(
            waits.iter().any(|(o, a)| o == want.0 && a == want.1),
            "{want:?} among the stuck waits {waits:?}"
        );
    }
}

#[test]
fn a_dead_pool_worker_is_stuck_naming_the_map_line() {
    let tree = Tree::start("python3", "pool_worker_dies.py", &["fork"]);
    let map = line_of("pool_worker_dies.py", "p.map(");
    wait_for_waits(tree.pid(), &[("pool result", &map)]);
    // The pool's own threads keep looping (one wakes every 0.1 s to replace
    // dead workers): they produce no result, so they do not hide the hang.
    let (code, lines, err) = attach(tree.pid(), "15");
    assert_eq!(code, 3, "stuck: exit 3; stderr: {err}; {lines:#?}");
    assert_eq!(stuck_line(&lines)["kind"], "nobody_can_serve");
    let waits = stuck_waits(&lines);
    assert!(
        waits.iter().any(|(o, a)| o == "pool result" && *a == map),
        "the map call among the stuck waits {waits:?}"
    );
    // The workers wait for tasks: their own wait, not the parent's line
    // that forked them.
    let gets: Vec<_> = waits.iter().filter(|(o, _)| o == "get").collect();
    assert_eq!(gets.len(), 2, "{waits:?}");
    assert!(gets.iter().all(|(_, a)| a.is_empty()), "{waits:?}");
}

#[test]
fn a_slow_healthy_pool_is_not_stuck() {
    let tree = Tree::start("python3", "slow_pool.py", &["fork"]);
    let map = line_of("slow_pool.py", "p.map(");
    wait_for_waits(tree.pid(), &[("pool result", &map)]);
    let (code, lines, err) = attach(tree.pid(), "6");
    assert_eq!(code, 0, "healthy: exit 0; stderr: {err}; {lines:#?}");
    assert!(lines.iter().all(|v| v["type"] != "stuck"), "{lines:#?}");
}

#[test]
fn a_slow_healthy_program_is_not_stuck() {
    let tree = Tree::start("python3", "slow_healthy.py", &["fork", "20"]);
    let get = line_of("slow_healthy.py", "q.get()");
    wait_for_waits(tree.pid(), &[("get", &get)]);
    let (code, lines, err) = attach(tree.pid(), "10");
    assert_eq!(code, 0, "healthy: exit 0; stderr: {err}; {lines:#?}");
    assert!(lines.iter().all(|v| v["type"] != "stuck"), "{lines:#?}");
    let python = lines
        .iter()
        .filter(|v| v["type"] == "process" && v["python"].is_string())
        .count();
    assert!(python >= 3, "3 Python processes listed: {lines:#?}");
    let last = lines.last().unwrap();
    assert_eq!(
        (&last["type"], &last["stuck"]),
        (&"attach".into(), &false.into())
    );
    // dump: a producer sleeping between items is no hang either.
    let out = mpdash(&["dump", &tree.pid().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_missing_pid_is_named() {
    // A pid that was just used and is gone.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id().to_string();
    child.wait().unwrap();
    for args in [
        vec!["attach", "--headless", "--for", "2", pid.as_str()],
        vec!["dump", pid.as_str()],
    ] {
        let out = mpdash(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("no process with pid {pid}")), "{err}");
    }
}

#[test]
fn a_process_that_is_not_python_is_listed() {
    let tree = Tree {
        root: Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let (code, lines, err) = attach(tree.pid(), "2");
    assert_eq!(code, 0, "{err} {lines:#?}");
    let p = lines
        .iter()
        .find(|v| v["type"] == "process")
        .unwrap_or_else(|| panic!("a process line: {lines:#?}"));
    assert_eq!(p["pid"], tree.pid());
    assert_eq!(p["error"], "not a Python process");
    assert!(p["name"].as_str().unwrap().starts_with("sleep 30"), "{p}");
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "attach");
    assert_eq!(last["stuck"], false);
    // The for-seconds bound held.
    assert!(last["seconds"].as_f64().unwrap() < 30.0, "{last}");
}

#[test]
fn attach_ends_with_the_tree() {
    let tree = Tree {
        root: Command::new("python3")
            .args(["-c", "import time; time.sleep(1.5)"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    };
    let pid = tree.pid();
    // No --for: until the tree ends (here the root stays a zombie until
    // the guard reaps it: a zombie has ended).
    let out = mpdash(&["attach", "--headless", "--json", &pid.to_string()]);
    let lines = json_lines(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{lines:#?}");
    let last = lines.last().unwrap();
    assert_eq!(
        (&last["ended"], &last["stuck"]),
        (&true.into(), &false.into()),
        "{last}"
    );
    assert!(
        lines.iter().any(|v| v["type"] == "exit" && v["pid"] == pid),
        "{lines:#?}"
    );
}

#[test]
fn a_manager_clients_outside_the_tree_can_reach_is_not_stuck() {
    // The remote-manager pattern: the consumer waits on a manager that
    // listens on TCP; a client outside the tree could put at any time.
    let dir = std::env::temp_dir().join(format!("mpdash-attach-remote-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = dir.join("port");
    let tree = Tree {
        root: Command::new("python3")
            .arg(format!("{ROOT}/tests/py/healthy/remote_manager.py"))
            .arg(&port)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    };
    wait_until("the manager's port file", PATIENCE, || {
        if port.exists() {
            Ok(())
        } else {
            Err("not yet".into())
        }
    });
    let (code, lines, err) = attach(tree.pid(), "5");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "not stuck: exit 0; stderr: {err}; {lines:#?}");
    assert!(lines.iter().all(|v| v["type"] != "stuck"), "{lines:#?}");
}
