//! Helpers shared by the integration tests: run the real binary, read /proc.
#![allow(dead_code)]

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mpdash");

/// Runs the binary to completion; a run that hangs is stopped after 90 s
/// (SIGTERM: the dashboard takes its run down) and fails the test.
pub fn mpdash(args: &[&str]) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mpdash");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let hung = rx.recv_timeout(Duration::from_secs(90)).is_err();
        if hung {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        hung
    });
    let out = child.wait_with_output().expect("wait for mpdash");
    let _ = tx.send(());
    let hung = watchdog.join().unwrap_or(false);
    assert!(
        !hung,
        "mpdash {args:?} hung and was stopped after 90 s; output so far:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// How long a test waits for something that must happen: generous, so that
/// it fires only when the thing never happens, never on a slow-but-correct
/// run (a loaded 2-core CI machine). Latency targets are `mpdash bench`'s.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How long processes may take to be gone after their run was killed. Shorter
/// than `PATIENCE` (the runs the tests kill would end on their own after
/// longer than this, which would hide a process that was not killed), and
/// still far above the milliseconds a SIGKILL takes on a loaded machine.
pub const GONE: Duration = Duration::from_secs(20);

/// Polls `probe` until it returns `Ok`, and returns that value. `Err` says
/// what was seen instead; at `deadline` the test fails with `what` and the
/// last thing seen. The pause between tries grows from 5 to 100 ms.
///
/// The one way the tests wait: never a fixed sleep followed by one look,
/// never an upper bound on wall time.
#[track_caller]
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let t = Instant::now();
    let mut pause = Duration::from_millis(5);
    let mut tries = 0u32;
    loop {
        tries += 1;
        let seen = match probe() {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        if t.elapsed() >= deadline {
            panic!(
                "waited {:.1} s ({tries} tries) for {what}; last seen:\n{seen}",
                t.elapsed().as_secs_f64()
            );
        }
        std::thread::sleep(pause.min(deadline.saturating_sub(t.elapsed())));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Waits (up to [`GONE`]) until none of `pids` runs; fails naming the ones
/// left, after killing them (a failing test leaves nothing behind).
#[track_caller]
pub fn wait_gone(what: &str, pids: &[i32]) {
    let what = format!("{what} [{}]", std::panic::Location::caller());
    let left = || -> Vec<i32> { pids.iter().copied().filter(|p| alive(*p)).collect() };
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(&what, GONE, || match left()[..] {
            [] => Ok(()),
            ref left => Err(format!(
                "still running: {}",
                left.iter()
                    .map(|p| format!("{p} ({})", comm(*p)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
    }));
    if let Err(panic) = waited {
        for p in left() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::panic::resume_unwind(panic)
    }
}

/// A child's exit status, waited for up to `deadline` (the child is killed
/// when the test fails, so nothing is left behind).
#[track_caller]
pub fn wait_exit(what: &str, child: &mut Child, deadline: Duration) -> ExitStatus {
    let what = format!("{what} [{}]", std::panic::Location::caller());
    let pid = child.id() as i32;
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_until(&what, deadline, || match child.try_wait() {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err(format!("pid {pid} ({}) still runs", comm(pid))),
            Err(e) => Err(format!("wait for pid {pid}: {e}")),
        })
    }));
    match waited {
        Ok(status) => status,
        Err(panic) => {
            let _ = child.kill();
            let _ = child.wait();
            std::panic::resume_unwind(panic)
        }
    }
}

/// Runs `f`, which must return within `deadline`: a call that blocks in this
/// process (no probe can look at it) and must not hang. If it does, the
/// test binary stops with `what` (a thread cannot fail another thread's test).
pub fn within<T>(what: &str, deadline: Duration, f: impl FnOnce() -> T) -> T {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let what = what.to_string();
    let watchdog = std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(deadline) {
            eprintln!("{what}: still not done after {deadline:?}; stopping the test binary");
            std::process::exit(101);
        }
    });
    let out = f();
    drop(tx);
    let _ = watchdog.join();
    out
}

/// Takes this test binary's turn, held for a test's whole run by tests that
/// must not run beside each other: one that forks from the test process (the
/// runtime as a library, `fork` start method; a fork child gets only the
/// forking thread, so no other test thread may be in the middle of
/// something, holding a lock, when it forks: the others wait here, holding
/// nothing), or a bench. A failed test does not stop the next ones (the
/// lock's poison is ignored).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// A process's name (`/proc/PID/comm`), empty once it is gone.
pub fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// JSON lines of `mpdash run --headless --json ARGS`.
pub fn run_json(args: &[&str]) -> (Vec<serde_json::Value>, Output) {
    let mut all = vec!["run", "--headless", "--json"];
    all.extend_from_slice(args);
    let out = mpdash(&all);
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    (lines, out)
}

pub fn output_lines(v: &[serde_json::Value]) -> Vec<String> {
    v.iter()
        .filter(|l| l["type"] == "output")
        .map(|l| l["line"].as_str().unwrap().to_string())
        .collect()
}

pub fn process_rows(v: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    v.iter().filter(|l| l["type"] == "process").collect()
}

/// (ppid, state letter) of a pid from /proc, None once it is gone.
pub fn proc_stat(pid: i32) -> Option<(i32, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((ppid, state))
}

/// Every live descendant of `root` (not zombies), found by walking /proc.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut all: Vec<(i32, i32)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>()
            && let Some((ppid, state)) = proc_stat(pid)
            && state != 'Z'
        {
            all.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether `pid` still runs (a zombie does not count: it runs nothing and holds nothing).
pub fn alive(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|(_, s)| s != 'Z')
}

/// Runs scenario `text` (written to a temporary file) headless; it must succeed.
pub fn run_text(name: &str, text: &str) -> Vec<serde_json::Value> {
    let dir = std::env::temp_dir().join(format!("mpdash-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let (v, out) = run_json(&[path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

/// A scratch directory of one test, removed when dropped — also when the
/// test fails, so a failing run leaves nothing in the temporary directory.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("mpdash-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The same output, printed by several processes: the same lines in any
/// order — or, where two processes of the plain run printed at the same
/// instant and their bytes interleaved mid-line (mpdash reads each process
/// from its own pipe, so its lines never are), the same bytes.
pub fn same_output(ours: &[String], theirs: &[String]) -> bool {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    if sorted(ours) == sorted(theirs) {
        return true;
    }
    let bytes = |v: &[String]| {
        let mut b: Vec<u8> = v.concat().into_bytes();
        b.sort_unstable();
        b
    };
    bytes(ours) == bytes(theirs)
}

/// A program's process tree, killed whole on drop.
pub struct Tree {
    pub root: Child,
}

impl Tree {
    /// `python tests/py/attach/FILE ARGS…`, its output thrown away.
    pub fn start(python: &str, file: &str, args: &[&str]) -> Tree {
        let root = Command::new(python)
            .arg(format!(
                "{}/tests/py/attach/{file}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python} {file}: {e}"));
        Tree { root }
    }

    pub fn pid(&self) -> i32 {
        self.root.id() as i32
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let root = self.pid();
        // A Python program's resource tracker unlinks the named semaphores
        // of spawn and forkserver children once every other process is
        // gone: it is spared until then (killed with them, it leaves them
        // in /dev/shm), and killed only if it does not end by itself.
        let tracker = |pid: &i32| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("resource_tracker import main"))
        };
        // Stop first, so nothing forks while the tree is listed.
        let _ = kill(Pid::from_raw(root), Signal::SIGSTOP);
        let all: Vec<i32> = descendants(root)
            .into_iter()
            .filter(|p| !tracker(p))
            .collect();
        for p in &all {
            let _ = kill(Pid::from_raw(*p), Signal::SIGSTOP);
        }
        let mut trackers = Vec::new();
        for p in descendants(root).iter().chain(&all).chain([&root]) {
            if tracker(p) {
                trackers.push(*p);
            } else {
                let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
            }
        }
        let _ = self.root.wait();
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until && trackers.iter().any(|p| alive(*p)) {
            std::thread::sleep(Duration::from_millis(10));
        }
        for p in trackers {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
}

/// What `scripts/pythons` printed (one path a line: 3.11, 3.13, 3.14), or
/// why it failed; run once per test binary.
pub fn pythons() -> &'static Result<Vec<String>, String> {
    static PYTHONS: std::sync::OnceLock<Result<Vec<String>, String>> = std::sync::OnceLock::new();
    PYTHONS.get_or_init(|| {
        let t = std::time::Instant::now();
        let out =
            std::process::Command::new(format!("{}/scripts/pythons", env!("CARGO_MANIFEST_DIR")))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("cannot run scripts/pythons: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "scripts/pythons took {:.1} s{}{stderr}",
            t.elapsed().as_secs_f64(),
            if stderr.is_empty() { "" } else { ":\n" }
        );
        if !out.status.success() {
            return Err(format!(
                "scripts/pythons failed ({}):\n{stderr}",
                out.status
            ));
        }
        let paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        if paths.len() != 3 {
            return Err(format!(
                "scripts/pythons printed {} paths, not 3 (3.11, 3.13, 3.14): {paths:?}\n{stderr}",
                paths.len()
            ));
        }
        Ok(paths)
    })
}
