//! The same work in real CPython, when `python3` is installed: threads (with
//! the real GIL) and `multiprocessing.Pool`, launched as a child process (its
//! own process group, killed with us) and timed by CPython itself.

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
    print(json.dumps({"wall_s": time.perf_counter() - t}))
"#;

/// Whether a `python3` can be run here.
pub fn available() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Wall time CPython reports for `workers` threads or processes.
pub fn run_once(
    processes: bool,
    workers: usize,
    below: u64,
    chunks: u64,
    limit: Duration,
) -> anyhow::Result<f64> {
    let mut cmd = Command::new("python3");
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
    anyhow::ensure!(status.success(), "python3 exited with {status}");
    let v: serde_json::Value = serde_json::from_str(out.trim())?;
    v["wall_s"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("python3 printed no wall time: {out}"))
}
