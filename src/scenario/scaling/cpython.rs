//! The same work in real CPython: threads and `multiprocessing.Pool`, under
//! each interpreter asked for (`--python`, else the machine's `python3`),
//! launched as a child process (its own process group, killed with us) and
//! timed by CPython itself. Each interpreter says its version and whether
//! its GIL is on (`sys._is_gil_enabled()`, 3.13+; before: always on): on a
//! free-threaded build (3.13t, 3.14t) threads scale as processes do.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// CPython is this much slower at trial division than we are; its share of
/// the range is cut by this much so a curve takes seconds, not minutes.
pub const SLOWDOWN: u64 = 10;

const SCRIPT: &str = r#"
import json, sys, threading, time
import multiprocessing as mp

def is_prime(n):
    if n < 2: return False
    if n < 4: return True
    if n % 2 == 0: return False
    d = 3
    while d * d <= n:
        if n % d == 0: return False
        d += 2
    return True

def count(ranges):
    return sum(1 for a, b in ranges for n in range(a, b) if is_prime(n))

def deal(below, chunks, workers):
    step = -(-below // chunks)
    parts = [[] for _ in range(workers)]
    for i in range(chunks):
        parts[i % workers].append((min(i * step, below), min((i + 1) * step, below)))
    return parts

if __name__ == "__main__":
    mode, workers, below, chunks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    parts = deal(below, chunks, workers)
    t = time.perf_counter()
    if mode == "threads":
        ts = [threading.Thread(target=count, args=(p,)) for p in parts]
        for th in ts: th.start()
        for th in ts: th.join()
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            pool.map(count, parts)
    wall = time.perf_counter() - t
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(json.dumps({"wall_s": wall, "gil": gil}))
"#;

/// What an interpreter says of itself.
const ABOUT: &str = r#"
import json, sys, sysconfig
print(json.dumps({
    "version": "%d.%d.%d" % sys.version_info[:3],
    "gil": getattr(sys, "_is_gil_enabled", lambda: True)(),
    "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
}))
"#;

/// The machine's interpreter when none is asked for.
pub const DEFAULT: &str = "python3";

/// An interpreter the CPython curves run under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// As given (`python3`, a path).
    pub path: String,
    /// `3.14.0`.
    pub version: String,
    /// `sys._is_gil_enabled()` (before 3.13: true).
    pub gil: bool,
    /// A free-threaded build (`Py_GIL_DISABLED`), whether or not its GIL
    /// was turned back on (`PYTHON_GIL=1`).
    pub free_threaded_build: bool,
}

impl Python {
    /// Runs `path` to ask its version and GIL.
    pub fn probe(path: &str) -> anyhow::Result<Python> {
        let out = Command::new(path)
            .args(["-c", ABOUT])
            .env_remove("PYTHONSTARTUP")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| anyhow::anyhow!("--python {path}: cannot run it: {e}"))?;
        anyhow::ensure!(
            out.status.success(),
            "--python {path}: not a working Python ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            anyhow::anyhow!("--python {path}: not a CPython 3 (it printed no version: {e})")
        })?;
        Ok(Python {
            path: path.to_string(),
            version: v["version"].as_str().unwrap_or("?").to_string(),
            gil: v["gil"].as_bool().unwrap_or(true),
            free_threaded_build: v["free_threaded_build"].as_bool().unwrap_or(false),
        })
    }

    /// `3.14.0` or, for a free-threaded build, `3.14.0t` (as its
    /// executable is named).
    pub fn name(&self) -> String {
        format!(
            "{}{}",
            self.version,
            if self.free_threaded_build { "t" } else { "" }
        )
    }

    /// `CPython 3.14.0t, GIL off`.
    pub fn label(&self) -> String {
        format!(
            "CPython {}, GIL {}",
            self.name(),
            if self.gil { "on" } else { "off" }
        )
    }
}

/// The interpreters of the CPython curves: each one `asked` (an error if one
/// does not run: it was asked for), or the machine's `python3` when there
/// is one (else none). GIL'd builds first, so a free-threaded build's
/// single-thread cost can be told against one already measured; the same
/// interpreter twice is measured once.
pub fn pythons(asked: &[String]) -> anyhow::Result<Vec<Python>> {
    let mut found = Vec::new();
    if asked.is_empty() {
        found.extend(Python::probe(DEFAULT).ok());
    }
    for path in asked {
        let p = Python::probe(path)?;
        if !found.iter().any(|q: &Python| q.path == p.path) {
            found.push(p);
        }
    }
    found.sort_by_key(|p| !p.gil);
    Ok(found)
}

/// What CPython reports of one run.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub wall_s: f64,
    /// Whether the GIL was on during the run.
    pub gil: bool,
}

/// Wall time CPython reports for `workers` threads or processes.
pub fn run_once(
    python: &str,
    processes: bool,
    workers: usize,
    below: u64,
    chunks: u64,
    limit: Duration,
) -> anyhow::Result<Timed> {
    let mut cmd = Command::new(python);
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg(if processes { "processes" } else { "threads" })
        .arg(workers.to_string())
        .arg(below.to_string())
        .arg(chunks.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    crate::runtime::sys::on_exec_die_with_parent(&mut cmd, libc::SIGKILL, Vec::new());
    let mut child = cmd.spawn()?;
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if t.elapsed() > limit {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            anyhow::bail!("CPython took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let mut out = String::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut out)?;
    }
    anyhow::ensure!(status.success(), "{python} exited with {status}");
    let v: serde_json::Value = serde_json::from_str(out.trim())?;
    Ok(Timed {
        wall_s: v["wall_s"]
            .as_f64()
            .ok_or_else(|| anyhow::anyhow!("{python} printed no wall time: {out}"))?,
        gil: v["gil"].as_bool().unwrap_or(true),
    })
}
