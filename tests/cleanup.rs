//! Every process of a run dies with the dashboard, however it ends.

mod common;
use common::*;

use std::process::{Command, Stdio};

/// Starts a long headless pool run and waits until main and `workers` workers exist.
/// The caller kills and waits for the returned child. The run would take
/// minutes (primes below 400 000 000), far longer than [`GONE`], so a
/// process left behind cannot pass for one that ended on its own.
#[allow(clippy::zombie_processes)]
fn start_run(method: &str, workers: usize) -> (std::process::Child, Vec<i32>) {
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--headless",
            "scenarios/pool.toml",
            "--start-method",
            method,
            "--set",
            "task.below=400000000",
        ])
        .args(["--workers", &workers.to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let want = 1 + workers + usize::from(method == "forkserver");
    let dash = child.id() as i32;
    let started = std::panic::catch_unwind(|| {
        wait_until(
            &format!("{method}: main and {workers} workers"),
            PATIENCE,
            || {
                let d = descendants(dash);
                if d.len() >= want {
                    Ok(d)
                } else {
                    Err(format!("only {d:?} started"))
                }
            },
        )
    });
    match started {
        Ok(d) => (child, d),
        Err(panic) => {
            let _ = child.kill();
            let _ = child.wait();
            std::panic::resume_unwind(panic)
        }
    }
}

#[test]
fn sigkill_of_the_dashboard_leaves_nothing() {
    for method in ["fork", "spawn", "forkserver"] {
        let (mut dash, pids) = start_run(method, 2);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(dash.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        wait_exit(
            &format!("{method}: the dashboard, after SIGKILL"),
            &mut dash,
            PATIENCE,
        );
        wait_gone(
            &format!("{method}: the run after the dashboard's SIGKILL"),
            &pids,
        );
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
        let status = wait_exit(&format!("{sig}: the dashboard"), &mut dash, PATIENCE);
        assert_eq!(status.code(), Some(130), "{sig}");
        wait_gone(&format!("{sig}: the run"), &pids);
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
    let status = wait_exit(
        "the dashboard, after its main was killed",
        &mut dash,
        PATIENCE,
    );
    assert_eq!(status.code(), Some(137), "128 + SIGKILL, as shells say");
    wait_gone("the run, after main was killed", &pids);
}
