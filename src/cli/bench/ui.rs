//! `mpdash bench ui`: what the dashboard itself costs. The real dashboard
//! loop runs in a child process (`mpdash __bench-ui …`) drawing real frames
//! into a discarded 160×50 screen; this process reads the child's CPU time
//! and resident memory from `/proc` while it runs, and the child reports its
//! frame times when it quits.
//!
//! - `many`: `scenarios/many.toml` (500 idle processes) sampled at 10 Hz.
//! - `idle`: the same file cut to one process per group, at 4 Hz.
//! - `top`: `top -b -d 0.1` over the same 500 processes, in the same
//!   window, as the yardstick: the CPU each of its refreshes costs, beside
//!   the dashboard's CPU per sample.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::dashboard::FrameStats;
use crate::runtime::sys;

/// Hidden argv[1] of the measured dashboard.
pub const CHILD_ARG: &str = "__bench-ui";

/// What one measured dashboard did.
struct Measured {
    cpu_pct: f64,
    rss_mib: f64,
    first_frame_ms: f64,
    frames: FrameStats,
}

/// (CPU seconds, resident MiB) of `pid`, from its `/proc/<pid>/stat`.
fn usage(pid: u32) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let st = crate::telemetry::proc_stat::parse_stat(&text, sys::page_size())?;
    Some((
        st.cpu_ticks as f64 / sys::clock_ticks() as f64,
        st.rss_bytes as f64 / (1 << 20) as f64,
    ))
}

/// Runs the dashboard on `file` at `rate` Hz; measures CPU over
/// `[warmup, warmup + window]`.
fn measure(
    file: &str,
    sets: &[&str],
    rate: f64,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Measured> {
    let exe = std::env::current_exe()?;
    let total = warmup + window + Duration::from_millis(500);
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_ARG)
        .arg(file)
        .arg(rate.to_string())
        .arg(total.as_secs_f64().to_string());
    for s in sets {
        cmd.arg(s);
    }
    let t_spawn = sys::now_ns();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let start = Instant::now();
    let mut rss: f64 = 0.0;
    let mut cpu0 = None;
    let mut cpu = 0.0;
    while start.elapsed() < warmup + window {
        std::thread::sleep(Duration::from_millis(250));
        let now = usage(pid);
        rss = rss.max(now.map_or(0.0, |u| u.1));
        if cpu0.is_none() && start.elapsed() >= warmup {
            cpu0 = now.map(|u| (u.0, Instant::now()));
        }
    }
    if let (Some((c0, t0)), Some((c1, _))) = (cpu0, usage(pid)) {
        cpu = 100.0 * (c1 - c0) / t0.elapsed().as_secs_f64();
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)?;
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "the measured dashboard failed: {status}");
    let frames: FrameStats = serde_json::from_str(out.lines().last().unwrap_or(""))
        .map_err(|e| anyhow::anyhow!("the measured dashboard reported {out:?}: {e}"))?;
    Ok(Measured {
        cpu_pct: cpu,
        rss_mib: rss,
        first_frame_ms: frames.first_frame_ns.saturating_sub(t_spawn) as f64 / 1e6,
        frames,
    })
}

/// `top -b -d 0.1` for `window` after `warmup`: CPU milliseconds per
/// refresh (refreshes counted from its output). `None` without `top`.
fn measure_top(warmup: Duration, window: Duration) -> Option<f64> {
    std::thread::sleep(warmup);
    let mut child = Command::new("top")
        .args(["-b", "-d", "0.1", "-w", "512"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id();
    let out = child.stdout.take()?;
    let refreshes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = refreshes.clone();
    let counter = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if line.starts_with("top - ") {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    // Its first refresh reads every process once more than the others.
    std::thread::sleep(Duration::from_millis(500));
    let (c0, n0) = (
        usage(pid)?.0,
        refreshes.load(std::sync::atomic::Ordering::Relaxed),
    );
    std::thread::sleep(window);
    let (c1, n1) = (
        usage(pid)?.0,
        refreshes.load(std::sync::atomic::Ordering::Relaxed),
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = counter.join();
    (n1 > n0).then(|| 1000.0 * (c1 - c0) / (n1 - n0) as f64)
}

pub fn run(as_json: bool, window: Duration) -> anyhow::Result<i32> {
    let file = "scenarios/many.toml";
    anyhow::ensure!(
        std::path::Path::new(file).exists(),
        "{file} not found: run from the project's directory"
    );
    // top measured over the same processes, in the same window.
    let top_window = window
        .saturating_sub(Duration::from_secs(1))
        .max(Duration::from_millis(400));
    let top = std::thread::spawn(move || measure_top(Duration::from_secs(4), top_window));
    let many = measure(file, &[], 10.0, Duration::from_secs(4), window)?;
    let top_ms = top.join().ok().flatten();
    let idle = measure(
        file,
        &["process.0.count=1", "process.1.count=1"],
        4.0,
        Duration::from_secs(2),
        window.mul_f64(0.8),
    )?;
    let mut out = BTreeMap::new();
    println!("{:<56} {:>10}", "measure", "figure");
    let mut row = |k: &'static str, label: &str, v: f64, unit: &str| {
        println!("{label:<56} {v:>10.2} {unit}");
        out.insert(k, v);
    };
    row(
        "many_cpu_pct",
        "500 processes at 10 Hz: dashboard CPU",
        many.cpu_pct,
        "% of a core",
    );
    // At 10 Hz, 1 % of a core is 1 ms of CPU per sample.
    row(
        "many_ms_per_sample",
        "500 processes: dashboard CPU per sample (10 Hz)",
        many.cpu_pct * 10.0 / 10.0,
        "ms",
    );
    match top_ms {
        Some(t) => {
            row(
                "top_ms_per_refresh",
                "500 processes: top -b -d 0.1, CPU per refresh",
                t,
                "ms",
            );
            row(
                "many_vs_top",
                "dashboard per sample / top per refresh",
                many.cpu_pct / t,
                "×",
            );
        }
        None => eprintln!("mpdash: bench ui: `top` not found or it printed nothing; no yardstick"),
    }
    row(
        "many_rss_mib",
        "500 processes at 10 Hz: dashboard resident memory",
        many.rss_mib,
        "MiB",
    );
    row(
        "first_frame_ms",
        "first frame on screen after launch (500 processes)",
        many.first_frame_ms,
        "ms",
    );
    row(
        "max_frame_ms",
        "slowest frame, build + draw (500 processes)",
        many.frames.max_frame_ms,
        "ms",
    );
    row(
        "mean_frame_ms",
        "mean frame, build + draw (500 processes)",
        many.frames.total_frame_ms / many.frames.frames.max(1) as f64,
        "ms",
    );
    row(
        "idle_cpu_pct",
        "small idle scenario at 4 Hz: dashboard CPU",
        idle.cpu_pct,
        "% of a core",
    );
    row(
        "idle_rss_mib",
        "small idle scenario: dashboard resident memory",
        idle.rss_mib,
        "MiB",
    );
    if as_json {
        println!("{}", json!(out));
    }
    Ok(0)
}

/// The measured dashboard: `mpdash __bench-ui FILE RATE SECONDS [KEY=VALUE…]`.
pub fn child(args: &[String]) -> anyhow::Result<i32> {
    let [file, rate, secs, sets @ ..] = args else {
        anyhow::bail!("usage: mpdash {CHILD_ARG} FILE RATE SECONDS [KEY=VALUE…]");
    };
    let sc = crate::scenario::load(
        file,
        &crate::scenario::Overrides {
            set: sets.to_vec(),
            ..Default::default()
        },
    )?;
    let screen = crate::cli::dashboard::Screen::sink(160, 50)?;
    let frames = crate::cli::dashboard::run_on(
        screen,
        sc,
        crate::cli::dashboard::Rates::new(rate.parse()?),
        Some(Duration::from_secs_f64(secs.parse()?)),
        crate::session::Source::Scenario,
        None,
    )?;
    println!("{}", serde_json::to_string(&frames)?);
    Ok(0)
}
