//! A pool worker SIGKILLed during `map`: the pool notices, starts a
//! replacement, runs the lost task again, and every result is still exact.

mod common;
use common::*;

use std::process::{Command, Stdio};

/// CPU time a process has used, in clock ticks (utime + stime).
fn cpu_ticks(pid: i32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(close) = s.rfind(')') else { return 0 };
    let f: Vec<&str> = s[close + 1..].split_whitespace().collect();
    // Fields 14 and 15 of stat(5); f[0] is field 3 (state).
    f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// A headless pool run (primes below 12 000 000, two workers) in which the
/// process `pick` chooses among the run's descendants is SIGKILLed once it
/// exists and the workers are on their tasks; returns its pid and the run's
/// JSON lines (the run must succeed).
fn kill_during_pool_run(
    method: &str,
    pick: impl Fn(&[i32]) -> Option<i32>,
) -> (i32, Vec<serde_json::Value>) {
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--headless",
            "--json",
            "scenarios/pool.toml",
            "--workers",
            "2",
        ])
        .args(["--start-method", method, "--set", "task.below=12000000"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dash = child.id() as i32;
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let victim = wait_until(&format!("{method}: something to kill"), PATIENCE, || {
            let d = descendants(dash);
            pick(&d).ok_or_else(|| format!("the run's processes: {d:?}"))
        });
        // Mid-task: every worker has computed for a while (20 ms of CPU).
        wait_until(
            &format!("{method}: the workers on their tasks"),
            PATIENCE,
            || {
                let workers: Vec<(i32, u64)> = descendants(dash)
                    .into_iter()
                    .filter(|p| comm(*p).starts_with("pool worker"))
                    .map(|p| (p, cpu_ticks(p)))
                    .collect();
                if !workers.is_empty() && workers.iter().all(|(_, t)| *t >= 2) {
                    Ok(())
                } else {
                    Err(format!("workers and their CPU ticks: {workers:?}"))
                }
            },
        );
        victim
    }));
    let victim = match found {
        Ok(v) => v,
        Err(panic) => {
            let _ = child.kill();
            let _ = child.wait();
            std::panic::resume_unwind(panic)
        }
    };
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Read the output on threads, so the run never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let read_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).map(|_| v)
    });
    let read_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut v).map(|_| v)
    });
    let status = wait_exit(
        &format!("{method}: the run after the kill"),
        &mut child,
        PATIENCE,
    );
    let out = std::process::Output {
        status,
        stdout: read_out.join().unwrap().unwrap(),
        stderr: read_err.join().unwrap().unwrap(),
    };
    assert!(
        out.status.success(),
        "{method}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (victim, lines)
}

#[test]
fn a_killed_worker_is_replaced_and_its_task_retried() {
    for method in ["fork", "spawn", "forkserver"] {
        let (victim, lines) = kill_during_pool_run(method, |d| {
            d.iter().copied().find(|p| {
                comm(*p).starts_with("pool worker") && proc_stat(*p).is_some_and(|(_, s)| s == 'R')
            })
        });
        let text = output_lines(&lines);
        // π(12 000 000) = 788 060
        assert!(
            text.contains(&"primes below 12000000: 788060".to_string()),
            "{method}: {text:#?}"
        );
        let died = text
            .iter()
            .find(|l| l.contains("died (SIGKILL)"))
            .unwrap_or_else(|| panic!("{method}: {text:#?}"));
        assert!(
            died.contains(&format!("(pid {victim})")) && died.contains("replacement started"),
            "{died}"
        );
        let rows = process_rows(&lines);
        let workers: Vec<_> = rows.iter().filter(|r| r["role"] == "pool_worker").collect();
        assert_eq!(
            workers.len(),
            3,
            "{method}: two workers and one replacement"
        );
        assert_eq!(workers.iter().filter(|w| w["exitcode"] == -9).count(), 1);
        assert_eq!(workers.iter().filter(|w| w["exitcode"] == 0).count(), 2);
    }
}

#[test]
fn a_worker_per_task_never_runs_the_board_out_of_slots() {
    // maxtasksperchild = 1 over 96 tiny chunks: 96 workers come and go on
    // a board sized for a few dozen; retired workers give their slots back.
    for method in ["fork", "spawn", "forkserver"] {
        let (lines, out) = run_json(&[
            "scenarios/pool.toml",
            "--workers",
            "2",
            "--start-method",
            method,
            "--set",
            "pool.maxtasksperchild=1",
            "--set",
            "task.chunks=96",
            "--set",
            "task.below=256000",
        ]);
        assert!(
            out.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out_lines = output_lines(&lines);
        // π(256 000) = 22 525, as a sieve in CPython says.
        assert!(
            out_lines.iter().any(|l| l == "primes below 256000: 22525"),
            "{method}: {out_lines:?}"
        );
    }
}

#[test]
fn a_killed_fork_server_is_replaced_and_the_pool_finishes_exactly() {
    // Once both workers run, kill their parent, the fork server.
    let (_, lines) = kill_during_pool_run("forkserver", |d| {
        let busy = d
            .iter()
            .filter(|p| comm(**p).starts_with("pool worker"))
            .count();
        d.iter()
            .copied()
            .find(|p| comm(*p) == "forkserver")
            .filter(|_| busy == 2)
    });
    let text = output_lines(&lines);
    assert!(
        text.contains(&"primes below 12000000: 788060".to_string()),
        "{text:#?}"
    );
    let rows = process_rows(&lines);
    let servers: Vec<_> = rows.iter().filter(|r| r["role"] == "fork_server").collect();
    assert_eq!(servers.len(), 2, "the dead server and its replacement");
    assert_eq!(servers[0]["exitcode"], -9);
    assert!(
        rows.iter().all(|r| r["pid"].as_i64() != Some(0)),
        "no row for a process that never started"
    );
}
