//! Every process of a run dies with the dashboard, however it ends.

mod common;
use common::*;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts a long headless pool run and waits until main and `workers` workers exist.
/// The caller kills and waits for the returned child.
#[allow(clippy::zombie_processes)]
fn start_run(method: &str, workers: usize) -> (std::process::Child, Vec<i32>) {
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--headless",
            "scenarios/pool.toml",
            "--start-method",
            method,
        ])
        .args(["--workers", &workers.to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let want = 1 + workers + usize::from(method == "forkserver");
    let t = Instant::now();
    loop {
        let d = descendants(child.id() as i32);
        if d.len() >= want {
            return (child, d);
        }
        if t.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{method}: only {d:?} started");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_all_gone(what: &str, pids: &[i32]) {
    let left: Vec<i32> = pids.iter().copied().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "{what}: still running: {left:?}");
}

#[test]
fn sigkill_of_the_dashboard_leaves_nothing_after_one_second() {
    for method in ["fork", "spawn", "forkserver"] {
        let (mut dash, pids) = start_run(method, 2);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(dash.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        dash.wait().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        assert_all_gone(method, &pids);
    }
}

#[test]
fn sigterm_and_sigint_end_the_run_cleanly() {
    for sig in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
    ] {
        let (mut dash, pids) = start_run("fork", 2);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(dash.id() as i32), sig).unwrap();
        let t = Instant::now();
        let status = loop {
            if let Some(s) = dash.try_wait().unwrap() {
                break s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{sig}: the dashboard did not stop"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(130), "{sig}");
        assert_all_gone(sig.as_str(), &pids);
    }
}

#[test]
fn a_main_process_killed_by_a_signal_is_a_failing_run_137() {
    let (mut dash, pids) = start_run("fork", 2);
    let dash_pid = dash.id() as i32;
    let main = *pids
        .iter()
        .find(|&&p| proc_stat(p).is_some_and(|(ppid, _)| ppid == dash_pid))
        .expect("the scenario's main process is the dashboard's child");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(main),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = dash.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "the run did not end");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(137), "128 + SIGKILL, as shells say");
    assert_all_gone("after main was killed", &pids);
}
