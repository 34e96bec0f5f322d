//! `mpdash bench attach`: what attaching to a running program costs.
//!
//! - `tree`: a 20-process Python tree (a `Pool(19)` mapping short sleeps),
//!   started by plain `python3`, observed as `mpdash attach` observes it
//!   (the dashboard's [`Observer`] with Python stacks read from outside, at
//!   the dashboard's default 4 Hz) for the window: our CPU per sample
//!   (this thread's CPU clock), the stack reads (median per process), the
//!   attachments.
//! - `slowdown`: a CPU-bound `Pool(2)` program with a fixed amount of work,
//!   timed alone and attached (the same observer, its own clock), three
//!   times each, alternated: the median wall of each and their ratio.
//!   Drawing frames is not included (see `bench ui` for that).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::Runs;
use crate::session::Session;
use crate::telemetry::observer::Observer;

const TREE: &str = r#"
import multiprocessing as mp, sys, time
def idle(i):
    time.sleep(0.05)
    return i
if __name__ == "__main__":
    with mp.Pool(19) as p:
        t = time.monotonic()
        while time.monotonic() - t < float(sys.argv[1]):
            p.map(idle, range(19))
"#;

const BURN: &str = r#"
import multiprocessing as mp, sys, time
def burn(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
if __name__ == "__main__":
    t = time.perf_counter()
    with mp.Pool(2) as p:
        p.map(burn, [int(sys.argv[1])] * 8)
    print(time.perf_counter() - t)
"#;

/// The sample period of the dashboard at its default rate.
const PERIOD: Duration = Duration::from_millis(250);

fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

fn python(args: &[&str], stdout: Stdio) -> anyhow::Result<Child> {
    Command::new("python3")
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| anyhow::anyhow!("bench attach needs python3: {e}"))
}

/// What observing one tree cost.
struct Observed {
    samples: u64,
    cpu: Duration,
    procs: usize,
    stack_ms: Vec<Duration>,
}

/// Observes the tree below `pid` as the attach dashboard does until `stop`
/// (or the tree ends).
fn observe(pid: i32, stop: &AtomicBool) -> anyhow::Result<Observed> {
    let sc = crate::session::command::attached_scenario(pid, "bench");
    let mut session = Session::attach(1, Arc::new(sc), pid)?;
    let mut obs = Observer::new(session.watch(None, true));
    let mut o = Observed {
        samples: 0,
        cpu: Duration::ZERO,
        procs: 0,
        stack_ms: Vec::new(),
    };
    while !stop.load(Ordering::Relaxed) && !session.attached_root_ended() {
        let t = Instant::now();
        let c = thread_cpu();
        let snap = obs.observe();
        o.cpu += thread_cpu() - c;
        o.samples += 1;
        o.procs = o.procs.max(snap.live.len());
        let left = PERIOD.saturating_sub(t.elapsed());
        std::thread::sleep(left);
    }
    o.stack_ms = obs.stack_sample_times().to_vec();
    Ok(o)
}

fn kill(child: &mut Child) {
    let pid = child.id() as i32;
    for p in crate::telemetry::discovery::descendants(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// One timed run of the burn program, attached or not: its own wall (s).
fn burn_once(n: u64, attached: bool) -> anyhow::Result<f64> {
    let mut child = python(&["-c", BURN, &n.to_string()], Stdio::piped())?;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = attached.then(|| {
        let (pid, stop) = (child.id() as i32, stop.clone());
        std::thread::spawn(move || observe(pid, &stop))
    });
    let out = {
        let mut s = String::new();
        use std::io::Read;
        child.stdout.take().map(|mut o| o.read_to_string(&mut s));
        s
    };
    let status = child.wait()?;
    stop.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        w.join()
            .map_err(|_| anyhow::anyhow!("the observer panicked"))??;
    }
    anyhow::ensure!(status.success(), "the burn program failed: {status}");
    out.trim()
        .parse::<f64>()
        .map_err(|e| anyhow::anyhow!("the burn program printed {out:?}: {e}"))
}

pub fn run(window: f64, json: bool) -> anyhow::Result<i32> {
    // The tree: 20 processes, observed for the window.
    let mut tree = python(&["-c", TREE, &(window + 30.0).to_string()], Stdio::null())?;
    let pid = tree.id() as i32;
    let t = Instant::now();
    while crate::telemetry::discovery::descendants(pid).len() < 19 {
        if t.elapsed() > Duration::from_secs(30) {
            kill(&mut tree);
            anyhow::bail!("the 20-process tree did not start in 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(window));
            stop.store(true, Ordering::Relaxed);
        })
    };
    let observed = observe(pid, &stop);
    let _ = timer.join();
    kill(&mut tree);
    let o = observed?;
    let per_sample = o.cpu.as_secs_f64() * 1e3 / o.samples.max(1) as f64;
    let mut reads = o.stack_ms.clone();
    reads.sort();
    let read_median = reads.get(reads.len() / 2).copied().unwrap_or_default();

    // The slowdown: alone, attached, alternated.
    let n = 4_000_000;
    let mut alone = Vec::new();
    let mut attached = Vec::new();
    for _ in 0..3 {
        alone.push(burn_once(n, false)?);
        attached.push(burn_once(n, true)?);
    }
    let (alone, attached) = (Runs::from(alone), Runs::from(attached));
    let speed = alone.median() / attached.median();
    // The figures as text (a table), then, with --json, one JSON line.
    println!(
        "attach, {} processes at 4 Hz over {window:.0} s: {per_sample:.2} ms CPU per sample \
         ({:.1} % of a core), a stack read {:.2} ms (median of {})",
        o.procs,
        o.cpu.as_secs_f64() / window * 100.0,
        ms(read_median),
        reads.len()
    );
    println!(
        "CPU-bound Pool(2): alone {} s, attached {} s: {speed:.3}× its speed alone",
        alone.text(),
        attached.text()
    );
    if json {
        println!(
            "{}",
            json!({
                "tree": {
                    "processes": o.procs,
                    "samples": o.samples,
                    "cpu_ms_per_sample": (per_sample * 100.0).round() / 100.0,
                    "cpu_pct_of_core": (o.cpu.as_secs_f64() / window * 1000.0).round() / 10.0,
                    "stack_read_ms_median": ms(read_median),
                    "stack_reads": reads.len(),
                },
                "slowdown": {
                    "alone_s": alone.median(),
                    "attached_s": attached.median(),
                    "speed_ratio": (speed * 1000.0).round() / 1000.0,
                },
            })
        );
    }
    Ok(0)
}
