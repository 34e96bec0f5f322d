//! `mpdash bench probe`: what mpdash's Python probe costs a CPython program,
//! side by side in one run (the same interpreter, the same script, with and
//! without the probe, alternated): Queue 1→1 small messages, `Pool.map` with
//! the default chunksize, an uncontended `Lock`, the interpreter's start-up,
//! and how long after a program ends `mpdash run --headless` does.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde_json::json;

use super::Runs;
use crate::session::python::{ProbeDir, probe_env};

/// The measured programs (fork start method, 2 pool workers).
const SCRIPT: &str = include_str!("probe_bench.py");

/// (figure, argument, unit, higher is better).
const FIGURES: [(&str, u64, &str, bool); 3] = [
    ("queue", 50_000, "msgs/s", true),
    ("pool_map", 200_000, "items/s", true),
    ("lock", 200_000, "ns", false),
];

fn python(script: &Path, args: &[String], probe: Option<&ProbeDir>) -> anyhow::Result<f64> {
    let mut c = Command::new("python3");
    c.arg(script).args(args);
    if let Some(d) = probe {
        c.envs(probe_env(
            d.root(),
            std::env::var("PYTHONPATH").ok().as_deref(),
        ));
    }
    let out = c.output()?;
    if !out.status.success() {
        anyhow::bail!(
            "python3 {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if probe.is_some() && String::from_utf8_lossy(&out.stderr).contains("mpdash probe: off") {
        anyhow::bail!(
            "the probe turned itself off: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // (The probe tags each line with its pid, as mpdash's reader expects.)
    let last = text.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&crate::scenario::steps::untag(last).1)?;
    v["value"]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("python3 printed no figure: {text}"))
}

/// Wall time of `python3 ARGS` from spawn to exit, in ms.
fn start_ms(args: &[&str], probe: Option<&ProbeDir>) -> anyhow::Result<f64> {
    let mut c = Command::new("python3");
    c.args(args);
    if let Some(d) = probe {
        c.envs(probe_env(
            d.root(),
            std::env::var("PYTHONPATH").ok().as_deref(),
        ));
    }
    let t = Instant::now();
    let s = c.status()?;
    anyhow::ensure!(s.success(), "python3 {} failed", args.join(" "));
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

pub fn run(runs: usize, as_json: bool) -> anyhow::Result<i32> {
    let runs = runs.max(1);
    let dir = ProbeDir::create()?;
    let script = dir.root().join("probe_bench.py");
    std::fs::write(&script, SCRIPT)?;
    println!(
        "CPython with and without mpdash's probe, alternated, {runs} runs each (median, range)"
    );
    println!(
        "{:<34} {:>22} {:>22} {:>7}",
        "FIGURE", "PLAIN", "PROBED", "RATIO"
    );
    let mut out = serde_json::Map::new();
    for (what, n, unit, higher) in FIGURES {
        let (mut plain, mut probed) = (Vec::new(), Vec::new());
        let args = [what.to_string(), n.to_string()];
        for _ in 0..runs {
            plain.push(python(&script, &args, None)?);
            probed.push(python(&script, &args, Some(&dir))?);
        }
        let (plain, probed) = (Runs::from(plain), Runs::from(probed));
        // The ratio reads "probed is this much of plain" (≥ 1 is no cost).
        let ratio = if higher {
            probed.median() / plain.median()
        } else {
            plain.median() / probed.median()
        };
        let label = match what {
            "queue" => format!("Queue 1→1 small messages ({unit})"),
            "pool_map" => format!("Pool.map default chunksize ({unit})"),
            _ => format!("Lock acquire+release ({unit})"),
        };
        println!(
            "{label:<34} {:>22} {:>22} {ratio:>6.2}×",
            short(&plain),
            short(&probed)
        );
        out.insert(
            what.into(),
            json!({"unit": unit, "n": n, "plain": plain.json(), "probed": probed.json(), "ratio": ratio}),
        );
    }
    anyhow::ensure!(
        std::fs::read_dir(dir.out())?.count() > 0,
        "the probe wrote nothing: it did not run"
    );
    // Start-up: a bare interpreter, and one that imports multiprocessing.
    for (key, args) in [
        ("startup_bare", vec!["-c", "pass"]),
        ("startup_mp", vec!["-c", "import multiprocessing.queues"]),
    ] {
        let (mut plain, mut probed) = (Vec::new(), Vec::new());
        for _ in 0..runs * 4 {
            plain.push(start_ms(&args, None)?);
            probed.push(start_ms(&args, Some(&dir))?);
        }
        let (plain, probed) = (Runs::from(plain), Runs::from(probed));
        let added = probed.median() - plain.median();
        println!(
            "{:<34} {:>22} {:>22} {added:>+5.1} ms",
            format!("start-up, python3 {} (ms)", args.join(" ")),
            short(&plain),
            short(&probed)
        );
        out.insert(
            key.into(),
            json!({"unit": "ms", "plain": plain.json(), "probed": probed.json(), "added_ms": added}),
        );
    }
    // The end of a run: from the program's last instruction (it prints the
    // time) to `mpdash run --headless` exiting.
    let mut after = Vec::new();
    for _ in 0..runs {
        after.push(run_end_ms(&script)?);
    }
    let after = Runs::from(after);
    println!(
        "{:<34} {:>22} {:>22}",
        "run ends after the program (ms)",
        "",
        short(&after)
    );
    out.insert(
        "run_end".into(),
        json!({"unit": "ms", "after_program": after.json()}),
    );
    if as_json {
        println!("{}", serde_json::Value::Object(out));
    }
    Ok(0)
}

/// ms from the end of `probe_bench.py end` (the monotonic time it prints)
/// to the exit of `mpdash run --headless` running it.
fn run_end_ms(script: &Path) -> anyhow::Result<f64> {
    let out = Command::new(std::env::current_exe()?)
        .args(["run", "--headless"])
        .arg(script)
        .args(["--", "end", "100"])
        .stdin(std::process::Stdio::null())
        .output()?;
    let ended = crate::runtime::sys::now_ns();
    anyhow::ensure!(
        out.status.success(),
        "mpdash run --headless {} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text
        .lines()
        .rfind(|l| l.contains("\"end\""))
        .unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(last).map_err(|e| anyhow::anyhow!("no end time in {text:?}: {e}"))?;
    let at = v["value"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no end time in {text:?}"))?;
    Ok(ended.saturating_sub(at) as f64 / 1e6)
}

/// `12.3k (11.0k–13.5k)`.
fn short(r: &Runs) -> String {
    let j = r.json();
    let f = |v: &serde_json::Value| {
        let v = v.as_f64().unwrap_or(f64::NAN);
        if v >= 1e4 {
            crate::ui::format::rate(v)
        } else {
            format!("{v:.1}")
        }
    };
    format!("{} ({}–{})", f(&j["median"]), f(&j["min"]), f(&j["max"]))
}
