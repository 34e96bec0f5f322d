//! The real binary in a real terminal (tmux): live worker PIDs on screen, `m`
//! switches start method, `q` quits, the terminal is restored and nothing is left.

mod common;
use common::*;

use std::process::Command;

struct Tmux {
    socket: String,
}

impl Tmux {
    /// A missing tmux fails the test: skipping takes `MPDASH_SKIP_TMUX=1`,
    /// said out loud (`.ci/run` installs tmux and sets nothing of the sort).
    fn start(name: &str, cmd: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var_os("MPDASH_SKIP_TMUX").is_some_and(|v| v == "1"),
                "tmux is not installed: install it (apt-get install tmux), or set \
                 MPDASH_SKIP_TMUX=1 to skip the end-to-end tests on purpose"
            );
            eprintln!("MPDASH_SKIP_TMUX=1: skipping the end-to-end test {name}");
            return None;
        }
        let t = Tmux {
            socket: format!("mpdash-e2e-{name}-{}", std::process::id()),
        };
        let ok = t
            .run(&[
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "36",
                "-c",
                env!("CARGO_MANIFEST_DIR"),
                cmd,
            ])
            .status
            .success();
        assert!(ok, "tmux new-session failed");
        Some(t)
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap()
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    fn keys(&self, k: &str) {
        self.run(&["send-keys", k]);
    }

    /// `q`, and `y` when the dashboard asks (it asks while a run is live).
    /// Either way the dashboard's exit is left for the caller to wait for.
    fn quit(&self) {
        self.keys("q");
        let asked = self
            .wait_for("the quit question or the exit", |s| {
                s.contains("quit and kill") || s.contains("MPDASH-EXITED:")
            })
            .contains("quit and kill");
        if asked {
            self.keys("y");
        }
    }

    fn format(&self, f: &str) -> String {
        String::from_utf8_lossy(&self.run(&["display-message", "-p", f]).stdout)
            .trim()
            .to_string()
    }

    /// Waits until `pred` holds for the screen; returns that screen (fails
    /// with the last screen seen).
    #[track_caller]
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        wait_until(what, PATIENCE, || {
            let s = self.screen();
            if pred(&s) {
                Ok(s)
            } else {
                Err(format!("screen:\n{s}"))
            }
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// Makes `scenarios/pool.toml` take minutes (primes below 400 000 000): a
/// process that outlived the dashboard cannot pass for one that ended on
/// its own before [`GONE`].
const LONG: &str = "--set task.below=400000000";

/// PIDs of the rows named `pool worker N` that the screen shows running.
fn running_worker_pids(screen: &str) -> Vec<i32> {
    screen
        .lines()
        .filter(|l| l.contains("pool worker") && l.contains("running"))
        .filter_map(|l| {
            l.trim_start_matches('│')
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn dashboard_shows_live_workers_switches_method_quits_and_restores_the_terminal() {
    let cmd = format!(
        "{BIN} scenarios/pool.toml --workers 2 {LONG}; echo MPDASH-EXITED:$?; stty -a; sleep 60"
    );
    let Some(tmux) = Tmux::start("keys", &cmd) else {
        return;
    };

    let screen = tmux.wait_for("two running workers", |s| running_worker_pids(s).len() == 2);
    assert!(
        screen.contains("fork") && screen.contains("Pool"),
        "{screen}"
    );
    let pids = running_worker_pids(&screen);
    for pid in &pids {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(
            comm.trim().trim_end_matches(char::is_numeric).trim(),
            "pool worker",
            "pid {pid} on screen is a real worker"
        );
    }
    assert_eq!(tmux.format("#{alternate_on}"), "1");

    tmux.keys("m");
    let screen = tmux.wait_for("a spawn run with two new workers", |s| {
        s.contains("spawn │ run 2") && running_worker_pids(s).len() == 2
    });
    let spawn_pids = running_worker_pids(&screen);
    assert!(
        spawn_pids.iter().all(|p| !pids.contains(p)),
        "new run, new workers"
    );
    wait_gone("the fork run's workers, killed on rerun", &pids);

    // q asks while the run is live; n (any key but y) says no.
    tmux.keys("q");
    tmux.wait_for("the quit question", |s| {
        s.contains("quit and kill the run's processes? y / n")
    });
    tmux.keys("n");
    tmux.wait_for("the answer", |s| {
        s.contains("not quitting: only y confirms")
    });
    tmux.keys("q");
    tmux.wait_for("the quit question", |s| s.contains("quit and kill"));
    tmux.keys("y");
    let screen = tmux.wait_for("the shell after exit", |s| s.contains("MPDASH-EXITED:"));
    assert!(screen.contains("MPDASH-EXITED:0"), "{screen}");
    assert_eq!(tmux.format("#{alternate_on}"), "0", "alternate screen left");
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "cursor shown again");
    let stty = tmux.wait_for("stty output", |s| s.contains("icanon"));
    assert!(
        !stty.contains("-icanon") && !stty.contains("-echo "),
        "raw mode left on:\n{stty}"
    );
    let workers: Vec<i32> = pids.iter().chain(&spawn_pids).copied().collect();
    wait_gone("the workers, after the dashboard quit", &workers);
}

#[test]
fn sigterm_restores_the_terminal_and_kills_the_run() {
    let cmd = format!(
        "{BIN} scenarios/pool.toml --workers 2 --start-method forkserver {LONG}; echo MPDASH-EXITED:$?; sleep 60"
    );
    let Some(tmux) = Tmux::start("sigterm", &cmd) else {
        return;
    };
    let screen = tmux.wait_for("two running workers", |s| running_worker_pids(s).len() == 2);
    let pids = running_worker_pids(&screen);
    let shell: i32 = tmux.format("#{pane_pid}").parse().unwrap();
    let dash = descendants(shell)
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.contains("pool.toml"))
        })
        .expect("the dashboard process");
    let run = descendants(dash);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dash),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    tmux.wait_for("the shell after SIGTERM", |s| s.contains("MPDASH-EXITED:"));
    assert_eq!(tmux.format("#{alternate_on}"), "0");
    let all: Vec<i32> = pids.iter().chain(&run).copied().collect();
    wait_gone("the run, after the dashboard's SIGTERM", &all);
}

#[test]
fn a_panic_restores_the_terminal_and_kills_the_run() {
    let cmd = format!(
        "MPDASH_TEST_PANIC=1 {BIN} scenarios/pool.toml --workers 2 --rate 20 {LONG}; echo MPDASH-EXITED:$?; sleep 60"
    );
    let Some(tmux) = Tmux::start("panic", &cmd) else {
        return;
    };
    let shell: i32 = tmux.format("#{pane_pid}").parse().unwrap();
    // Collect the run's processes while it is alive (the panic comes quickly).
    // Each try looks at the tree many times between two looks at the screen.
    let mut seen = Vec::new();
    let screen = wait_until("the panic's exit", PATIENCE, || {
        for _ in 0..20 {
            for p in descendants(shell) {
                if !seen.contains(&p) {
                    seen.push(p);
                }
            }
        }
        let s = tmux.screen();
        if s.contains("MPDASH-EXITED:") {
            Ok(s)
        } else {
            Err(format!("screen:\n{s}"))
        }
    });
    assert!(seen.len() >= 3, "saw the dashboard and its run: {seen:?}");
    assert!(screen.contains("MPDASH-EXITED:101"), "{screen}");
    assert!(
        screen.contains("MPDASH_TEST_PANIC"),
        "the panic message is readable:\n{screen}"
    );
    assert_eq!(tmux.format("#{alternate_on}"), "0");
    // Everything seen but the shell and its `sleep 60` (a pid is named
    // now, while the process lives, so a sleep is not mistaken later).
    let run: Vec<i32> = seen
        .into_iter()
        .filter(|p| *p != shell && !comm(*p).starts_with("sleep"))
        .collect();
    wait_gone("the run, after a panic", &run);
}

#[test]
fn compare_tab_keeps_each_finished_run() {
    let cmd = format!("{BIN} scenarios/process.toml --speed 10; echo MPDASH-EXITED:$?; sleep 60");
    let Some(tmux) = Tmux::start("compare", &cmd) else {
        return;
    };
    tmux.wait_for("the fork run to finish", |s| {
        s.contains("fork │ run 1 finished")
    });
    tmux.keys("m");
    tmux.wait_for("the spawn run to finish", |s| {
        s.contains("spawn │ run 2 finished")
    });
    tmux.keys("2");
    let screen = tmux.wait_for("the Compare tab", |s| {
        s.contains("START p50") && s.contains("spawn#2")
    });
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("│1 ") || l.contains("│2 "))
        .collect();
    assert_eq!(rows.len(), 2, "{screen}");
    assert!(
        rows[0].contains("fork") && rows[1].contains("spawn"),
        "{screen}"
    );
    tmux.quit();
    let screen = tmux.wait_for("exit", |s| s.contains("MPDASH-EXITED:"));
    assert!(screen.contains("MPDASH-EXITED:0"));
}

#[test]
fn killing_a_worker_from_the_dashboard_gets_it_replaced_and_the_count_stays_exact() {
    let cmd = format!(
        "{BIN} scenarios/pool.toml --workers 2 --set task.below=12000000; echo MPDASH-EXITED:$?; sleep 60"
    );
    let Some(tmux) = Tmux::start("kill", &cmd) else {
        return;
    };
    let screen = tmux.wait_for("two running workers", |s| running_worker_pids(s).len() == 2);
    let victim = running_worker_pids(&screen)[0];
    tmux.keys("Down");
    tmux.keys("k");
    tmux.wait_for("the confirmation", |s| {
        s.contains(&format!("(pid {victim})? y / n"))
    });
    tmux.keys("y");
    let screen = tmux.wait_for("the run to finish", |s| s.contains("finished in"));
    assert!(!alive(victim), "the selected worker was killed");
    tmux.keys("Tab");
    tmux.keys("1");
    let out = tmux.wait_for("the pool's report", |s| s.contains("primes below 12000000"));
    assert!(
        out.contains("primes below 12000000: 788060"),
        "exact despite the kill:\n{out}"
    );
    assert!(
        screen.contains("workers died: 1") || out.contains("workers died: 1"),
        "the pool panel reports the death:\n{screen}"
    );
    // Then the next start method, a freeze on the way, and quit: the
    // terminal is restored and nothing of either run is left.
    let shell: i32 = tmux.format("#{pane_pid}").parse().unwrap();
    tmux.keys("m");
    let screen = tmux.wait_for("the spawn run's workers", |s| {
        s.contains("spawn │ run 2") && running_worker_pids(s).len() == 2
    });
    let spawned = running_worker_pids(&screen);
    tmux.keys("Space");
    tmux.wait_for("the frozen display", |s| s.contains(" AT "));
    tmux.keys("Space");
    let run: Vec<i32> = descendants(shell);
    tmux.quit();
    tmux.wait_for("exit", |s| s.contains("MPDASH-EXITED:0"));
    assert_eq!(tmux.format("#{alternate_on}"), "0", "alternate screen left");
    let all: Vec<i32> = spawned
        .iter()
        .chain(&run)
        .copied()
        .filter(|p| !comm(*p).starts_with("sleep"))
        .collect();
    wait_gone("both runs, after the dashboard quit", &all);
}

/// (pid, parent, name, state) of the process rows on screen.
fn process_rows(screen: &str) -> Vec<(i32, i32, String, String)> {
    screen
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim_start_matches('│').split_whitespace().collect();
            let pid = f.first()?.parse().ok()?;
            let parent = f.get(2)?.parse().ok()?;
            let name = f
                .get(3..)?
                .iter()
                .find(|w| w.chars().all(|c| c.is_ascii_alphabetic()))?;
            let state = ["sleeping", "running", "ended", "exited", "killed", "zombie"]
                .into_iter()
                .find(|s| l.contains(s))?;
            Some((pid, parent, name.to_string(), state.to_string()))
        })
        .collect()
}

#[test]
fn watch_shows_a_foreign_pipeline_with_parents_and_exit_status_and_leaves_nothing() {
    let cmd = format!(
        "{BIN} watch -- sh -c 'sleep 30 | sleep 31 & sleep 2; exit 3'; echo MPDASH-EXITED:$?; sleep 60"
    );
    let Some(tmux) = Tmux::start("watch", &cmd) else {
        return;
    };
    let screen = tmux.wait_for("the pipeline's processes", |s| {
        process_rows(s).iter().filter(|r| r.2 == "sleep").count() == 3
    });
    let rows = process_rows(&screen);
    let sh = rows.iter().find(|r| r.2 == "sh").expect("the root row").0;
    let sleeps: Vec<i32> = rows
        .iter()
        .filter(|r| r.2 == "sleep")
        .map(|r| r.0)
        .collect();
    for r in rows.iter().filter(|r| r.2 == "sleep") {
        assert_eq!(r.1, sh, "each sleep's parent is the shell:\n{screen}");
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", r.0)).unwrap();
        assert_eq!(comm.trim(), "sleep", "the pid on screen is a real sleep");
    }
    assert!(screen.contains("no queue, lock or pool panels"), "{screen}");
    // The run ends once what the root left has had its grace to end by
    // itself (a second), then was killed.
    tmux.wait_for("the root's exit status and the run's end", |s| {
        s.contains("exited 3") && s.contains("failed (exit 3)")
    });
    // The background pipeline outlived the shell: it went with the run
    // (on its own the first sleep would end 30 s after it started).
    wait_gone("the background pipeline, after its shell ended", &sleeps);
    tmux.quit();
    tmux.wait_for("exit", |s| s.contains("MPDASH-EXITED:0"));
}

#[test]
fn sigkill_of_a_watching_dashboard_takes_the_foreign_tree_down_even_a_setsid_one() {
    let cmd = format!(
        "{BIN} watch -- sh -c 'setsid sleep 40 & sleep 41 & sleep 42'; echo MPDASH-EXITED:$?; sleep 60"
    );
    let Some(tmux) = Tmux::start("watchkill", &cmd) else {
        return;
    };
    tmux.wait_for("three sleeps", |s| {
        process_rows(s).iter().filter(|r| r.2 == "sleep").count() == 3
    });
    let shell: i32 = tmux.format("#{pane_pid}").parse().unwrap();
    let dash = descendants(shell)
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.starts_with(BIN) && c.contains("watch"))
        })
        .expect("the dashboard process");
    let tree = descendants(dash);
    assert!(tree.len() >= 4, "guard, sh and the sleeps: {tree:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dash),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // (The screen is left as it was: nothing restores a terminal after SIGKILL.)
    wait_gone("the dashboard, after SIGKILL", &[dash]);
    // (The sleeps would end on their own 40 s after they started.)
    wait_gone("the watched tree, after the dashboard's SIGKILL", &tree);
}

#[test]
fn a_deadlock_appears_on_screen_and_q_leaves_nothing() {
    let cmd = format!("{BIN} scenarios/stuck/lock_order.toml; echo MPDASH-EXITED:$?; sleep 60");
    let Some(tmux) = Tmux::start("deadlock", &cmd) else {
        return;
    };
    let screen = tmux.wait_for("the deadlock banner", |s| s.contains("DEADLOCK"));
    assert!(screen.contains("Deadlock: "), "{screen}");
    assert!(screen.contains("WAITING ON"), "{screen}");
    assert!(
        screen.contains("acquire two (held by b)") || screen.contains("acquire one (held by a)"),
        "{screen}"
    );
    let pids: Vec<i32> = screen
        .lines()
        .filter(|l| l.contains("├─ a") || l.contains("└─ b") || l.contains("├─ b"))
        .filter_map(|l| {
            l.trim_start_matches('│')
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(pids.len(), 2, "both culprits on screen: {screen}");
    assert!(pids.iter().all(|p| alive(*p)), "the run stays as it is");
    tmux.quit();
    let screen = tmux.wait_for("the shell after exit", |s| s.contains("MPDASH-EXITED:"));
    assert!(screen.contains("MPDASH-EXITED:0"), "{screen}");
    wait_gone("the deadlocked run, after the dashboard quit", &pids);
}

/// Which sample the display shows after a step through time: K of
/// `at 1.23 s, sample K/N (← → step, …)`.
fn sample(screen: &str) -> Option<u32> {
    let rest = &screen[screen.find(", sample ")? + ", sample ".len()..];
    rest.split('/').next()?.parse().ok()
}

/// The queue depth climbing in a run, read back after the run has ended:
/// `←` steps to a moment when the queue was full and a producer was alive
/// (at the end both are gone), the output is cut to that moment, and the
/// same run saved with `--record` plays back with `mpdash replay`.
#[test]
fn after_the_end_stepping_back_shows_an_earlier_queue_and_the_producer_alive() {
    let dir = TempDir::new("e2e-travel");
    let rec = dir.join("queue.jsonl");
    let cmd = format!(
        "{BIN} scenarios/queue.toml --record {}; echo MPDASH-EXITED:$?; sleep 60",
        rec.display()
    );
    let Some(tmux) = Tmux::start("travel", &cmd) else {
        return;
    };
    let work_depth = |s: &str| -> Option<u32> {
        let l = s
            .lines()
            .find(|l| l.contains("QUEUE") && l.contains("work"))?;
        let frac = l.split_whitespace().find(|w| w.ends_with("/32"))?;
        frac.trim_end_matches("/32").parse().ok()
    };
    let producer_alive = |s: &str| {
        s.lines()
            .any(|l| l.contains("─ producer 0") && !l.contains("exited"))
    };
    // The settled end: the run finished, the queue drained (the last moment
    // is completed by the first sample after the end), the producers
    // exited and both consumers' last lines printed.
    let settled = |s: &str| {
        s.contains("finished in")
            && work_depth(s) == Some(0)
            && !producer_alive(s)
            && s.contains("consumer 0 got 150 messages")
            && s.contains("consumer 1 got 150 messages")
    };
    tmux.wait_for("the run's settled end", settled);
    // One step back at a time, each one waited for on screen (the notice
    // says "sample K/N"), until a moment when the queue held messages and a
    // producer was alive.
    let step_back = |tmux: &Tmux| -> String {
        let mut at: Option<u32> = None;
        loop {
            tmux.keys("Left");
            let screen = tmux.wait_for("the previous sample", |s| {
                sample(s).is_some_and(|k| at.is_none_or(|a| k < a))
            });
            if work_depth(&screen).is_some_and(|d| d > 0) && producer_alive(&screen) {
                return screen;
            }
            let k = sample(&screen).unwrap();
            assert!(
                k > 1,
                "back at the first sample, and no moment with messages queued \
                 and a producer alive:\n{screen}"
            );
            at = Some(k);
        }
    };
    let earlier = step_back(&tmux);
    assert!(
        earlier.contains(" AT "),
        "the moment is said in the header:\n{earlier}"
    );
    assert!(
        work_depth(&earlier).is_some_and(|d| d > 0),
        "an earlier depth:\n{earlier}"
    );
    assert!(
        producer_alive(&earlier),
        "the producer alive then:\n{earlier}"
    );
    assert!(
        !earlier.contains("consumer 1 got 150 messages"),
        "output printed later is not shown at that moment:\n{earlier}"
    );
    tmux.quit();
    tmux.wait_for("exit", |s| s.contains("MPDASH-EXITED:0"));
    let size = std::fs::metadata(&rec).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 0 && size < 4 << 20,
        "a small recording: {size} bytes"
    );
    drop(tmux);
    let cmd = format!(
        "{BIN} replay {}; echo MPDASH-EXITED:$?; sleep 60",
        rec.display()
    );
    let tmux = Tmux::start("replay", &cmd).expect("tmux ran a moment ago");
    // The replay opens at the same settled end: the recording must hold the
    // completed last moment (work 0/32), not the sample before the run ended.
    tmux.wait_for(
        "the replayed settled end (the recorded last moment completed, work 0/32)",
        settled,
    );
    tmux.keys("r");
    tmux.wait_for("nothing runs", |s| s.contains("nothing runs"));
    let back = step_back(&tmux);
    assert!(
        producer_alive(&back) && work_depth(&back).is_some_and(|d| d > 0),
        "the replay steps back to the same moments:\n{back}"
    );
    tmux.keys("q");
    tmux.wait_for("exit", |s| s.contains("MPDASH-EXITED:0"));
}

/// A real CPython program in the dashboard: the Pool's worker killed
/// mid-task is named in the banner, the Pool panel counts the lost task,
/// the picker lists the other Python programs, and quitting leaves neither
/// a process nor the probe's directory.
#[test]
fn a_python_pool_that_lost_a_task_is_named_on_screen_and_q_leaves_nothing() {
    let cmd =
        format!("{BIN} scenarios/python/pool_worker_dies.py; echo MPDASH-EXITED:$?; sleep 60");
    let Some(tmux) = Tmux::start("pylost", &cmd) else {
        return;
    };
    let screen = tmux.wait_for("the lost-task banner", |s| s.contains("LOST TASK"));
    assert!(screen.contains("died (SIGKILL)"), "{screen}");
    assert!(screen.contains("task 6 (work)"), "{screen}");
    assert!(screen.contains("tasks lost 1"), "the Pool panel:\n{screen}");
    assert!(screen.contains("ForkPoolWorker"), "{screen}");
    let main_pid: i32 = screen
        .lines()
        .find(|l| l.contains("─ MainProcess"))
        .and_then(|l| {
            l.trim_start_matches(['│', ' '])
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("MainProcess's row:\n{screen}"));
    assert!(alive(main_pid), "the run stays as it is");
    tmux.keys("o");
    let picker = tmux.wait_for("the picker", |s| s.contains("lock_order.py"));
    assert!(picker.contains("join_before_get.py"), "{picker}");
    assert!(picker.contains("pool.toml"), "{picker}");
    // The last Python program of the list runs in place of the hung one.
    tmux.keys("End");
    tmux.keys("Enter");
    let screen = tmux.wait_for("another program's children", |s| {
        s.contains("Start methods") && s.contains("spawn child")
    });
    assert!(!screen.contains("LOST TASK"), "{screen}");
    wait_gone("the hung program's MainProcess, replaced", &[main_pid]);
    tmux.quit();
    let screen = tmux.wait_for("the shell after exit", |s| s.contains("MPDASH-EXITED:"));
    assert!(screen.contains("MPDASH-EXITED:0"), "{screen}");
    let dashboard = tmux.format("#{pane_pid}");
    wait_until("no probe directory left", GONE, || {
        let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("mpdash-probe-") && !dashboard.is_empty())
            .filter(|n| {
                // Ours: made by a dashboard that is gone now.
                n.split('-')
                    .nth(2)
                    .and_then(|p| p.parse::<i32>().ok())
                    .is_some_and(|p| !alive(p))
            })
            .collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("probe directories left: {left:?}"))
        }
    });
}

/// SIGKILL of the dashboard on a probed Python program in a deadlock: the
/// program's processes die and the probe's private directory goes too.
#[test]
fn sigkill_of_the_dashboard_on_a_python_program_leaves_no_process_and_no_probe_dir() {
    let cmd = format!("{BIN} scenarios/python/lock_order.py; echo MPDASH-EXITED:$?; sleep 60");
    let Some(tmux) = Tmux::start("pykill", &cmd) else {
        return;
    };
    tmux.wait_for("the deadlock", |s| s.contains("DEADLOCK"));
    let shell: i32 = tmux.format("#{pane_pid}").parse().unwrap();
    let dash = descendants(shell)
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.starts_with(BIN) && c.contains("lock_order.py"))
        })
        .expect("the dashboard process");
    let tree = descendants(dash);
    assert!(tree.len() >= 4, "guard, main and the two takers: {tree:?}");
    let dirs = |pid: i32| -> Vec<String> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("mpdash-probe-{pid}-")))
            .collect()
    };
    assert_eq!(
        dirs(dash).len(),
        1,
        "the run's probe directory exists while it runs"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dash),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_gone("the dashboard, after SIGKILL", &[dash]);
    wait_gone(
        "the program's processes, after the dashboard's SIGKILL",
        &tree,
    );
    wait_until(
        "the probe's directory gone",
        GONE,
        || match dirs(dash)[..] {
            [] => Ok(()),
            ref left => Err(format!("left after SIGKILL: {left:?}")),
        },
    );
}

#[test]
fn attach_shows_a_running_deadlock_with_stacks_and_quitting_leaves_the_program_running() {
    // A program started by plain python3, not by mpdash.
    let tree = Tree::start("python3", "lock_order.py", &["fork"]);
    let root = tree.pid();
    let cmd = format!("{BIN} attach {root}; echo MPDASH-EXITED:$?; sleep 60");
    let Some(tmux) = Tmux::start("attach", &cmd) else {
        return;
    };
    let screen = tmux.wait_for("the deadlock, proven from the stacks", |s| {
        s.contains("DEADLOCK") && s.contains("acquire at lock_order.py:")
    });
    assert!(screen.contains(&format!("attach {root}")), "{screen}");
    // WHERE: each taker at its own acquire; the STACK panel with the
    // program's line marked.
    assert_eq!(
        screen.matches("acquire at lock_order.py:").count(),
        2,
        "{screen}"
    );
    assert!(screen.contains("WHERE"), "{screen}");
    assert!(screen.contains(&format!("Stack pid {root}")), "{screen}");
    assert!(screen.contains("→ <module>"), "{screen}");
    let takers = descendants(root);
    assert_eq!(takers.len(), 2, "{screen}");
    // q detaches at once (nothing to ask: nothing will be killed).
    tmux.keys("q");
    let screen = tmux.wait_for("the shell after exit", |s| s.contains("MPDASH-EXITED:"));
    assert!(screen.contains("MPDASH-EXITED:0"), "{screen}");
    assert!(alive(root), "the attached program was killed");
    assert!(takers.iter().all(|p| alive(*p)), "a taker was killed");
    for pid in std::iter::once(root).chain(takers) {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = state
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert_ne!(state, "T", "process {pid} left stopped");
    }
}
