//! `mpdash dump PID` and `mpdash attach --headless PID`: a Python process
//! tree that is already running, read from outside (py-spy as a library,
//! never pausing the program; quitting leaves it running). `dump` prints
//! every process's threads and stacks once; `attach --headless` samples
//! every half second and says when the tree can never move again — proof
//! before alarm (DESIGN §8): every thread of every process of the program
//! idle in a wait without a deadline, the same waits for the whole grace,
//! and not one tick of CPU used by the tree meanwhile.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::telemetry::stacks::verdict::{Detector, Seen, round2, wait_json, wait_text};
use crate::telemetry::stacks::{
    self, PERMISSION_FIX, ProcInfo, ReadError, StackReader, ThreadStack,
};

/// Exit status when the tree can never move again.
pub const EXIT_STUCK: i32 = 3;
/// Time between two samples of `attach`.
const PERIOD: Duration = Duration::from_millis(500);

fn read_tree(root: i32, reader: &mut StackReader) -> anyhow::Result<Option<Vec<Seen>>> {
    let Some(tree) = stacks::tree(root) else {
        return Ok(None);
    };
    reader.retain(|pid| tree.iter().any(|p| p.pid == pid));
    let mut out = Vec::with_capacity(tree.len());
    for info in tree {
        let read = reader.read(&info);
        if let Err(ReadError::Permission(why)) = &read {
            anyhow::bail!(
                "cannot read process {} ({}): {why}\n  fix: {PERMISSION_FIX}",
                info.pid,
                info.cmdline
            );
        }
        out.push(Seen { info, read });
    }
    Ok(Some(out))
}

fn no_such(pid: i32) -> anyhow::Error {
    anyhow::anyhow!("no process with pid {pid}")
}

/// How long `dump` watches a tree that looks stuck before it says so: the
/// same grace as `attach`'s default.
const DUMP_GRACE: Duration = Duration::from_secs(2);

/// `mpdash dump [--json] PID`: every process's stacks once; when every
/// process of the program waits, it looks again after [`DUMP_GRACE`] and
/// gives the diagnosis (exit 3) only if nothing moved meanwhile.
pub fn dump(pid: i32, json: bool) -> anyhow::Result<i32> {
    let t = Instant::now();
    let mut reader = StackReader::new();
    let seen = read_tree(pid, &mut reader)?.ok_or_else(|| no_such(pid))?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let mut out = std::io::stdout().lock();
    for s in &seen {
        if json {
            writeln!(out, "{}", process_json(s))?;
        } else {
            write!(out, "{}", process_text(s))?;
        }
    }
    out.flush()?;
    let python = seen.iter().filter(|s| s.read.is_ok()).count();
    let mut detector = Detector::new(DUMP_GRACE);
    let mut verdict = detector.sample(t, &seen);
    if verdict.is_none() && detector.primed() {
        std::thread::sleep(DUMP_GRACE);
        if let Some(again) = read_tree(pid, &mut reader)? {
            verdict = detector.sample(Instant::now(), &again);
        }
    }
    if let Some(v) = &verdict {
        if json {
            writeln!(out, "{}", v.json())?;
        } else {
            write!(out, "{}", v.text())?;
        }
    }
    if json {
        writeln!(
            out,
            "{}",
            json!({
                "type": "dump",
                "pid": pid,
                "processes": seen.len(),
                "python": python,
                "stuck": verdict.is_some(),
                "ms": round2(ms),
                "attach_ms": figures(&reader.attach_times),
                "sample_ms": figures(&reader.sample_times),
            })
        )?;
    } else {
        writeln!(
            out,
            "{} process(es), {python} Python, read in {ms:.1} ms",
            seen.len()
        )?;
    }
    Ok(if verdict.is_some() { EXIT_STUCK } else { 0 })
}

/// `mpdash attach --headless [--json] [--for SECS] [--stuck-after SECS] PID`.
pub fn headless(
    pid: i32,
    json: bool,
    for_secs: Option<f64>,
    stuck_after: Duration,
) -> anyhow::Result<i32> {
    let t0 = Instant::now();
    let until = for_secs.map(|s| t0 + Duration::from_secs_f64(s.max(0.0)));
    let mut reader = StackReader::new();
    let mut detector = Detector::new(stuck_after);
    // (pid, start ticks) of every process listed, and whether it ended.
    let mut listed: HashMap<(i32, u64), bool> = HashMap::new();
    let mut samples = 0u64;
    let mut out = std::io::stdout().lock();
    let mut first = true;
    let (ended, stuck) = loop {
        let tick = Instant::now();
        let Some(seen) = read_tree(pid, &mut reader)? else {
            if first {
                return Err(no_such(pid));
            }
            for (key, gone) in listed.iter_mut().filter(|(_, g)| !**g) {
                *gone = true;
                say_exit(&mut out, json, key.0)?;
            }
            break (true, None);
        };
        first = false;
        samples += 1;
        for s in &seen {
            let key = (s.info.pid, s.info.start_ticks);
            if s.info.state == 'Z' || listed.contains_key(&key) {
                continue;
            }
            listed.insert(key, false);
            if json {
                writeln!(out, "{}", process_json(s))?;
            } else {
                write!(out, "{}", process_text(s))?;
            }
        }
        for (key, gone) in listed.iter_mut() {
            let alive = seen
                .iter()
                .any(|s| (s.info.pid, s.info.start_ticks) == *key && s.info.state != 'Z');
            if !*gone && !alive {
                *gone = true;
                say_exit(&mut out, json, key.0)?;
            }
        }
        out.flush()?;
        // The root ended (a zombie until its parent reaps it): so did the
        // tree, as far as attaching goes (its orphans leave it).
        if seen[0].info.state == 'Z' {
            break (true, None);
        }
        if let Some(v) = detector.sample(tick, &seen) {
            break (false, Some(v));
        }
        if until.is_some_and(|u| Instant::now() >= u) {
            break (false, None);
        }
        let next = tick + PERIOD;
        let now = Instant::now();
        let next = until.map_or(next, |u| next.min(u));
        if next > now {
            std::thread::sleep(next - now);
        }
    };
    if let Some(v) = &stuck {
        if json {
            writeln!(out, "{}", v.json())?;
        } else {
            write!(out, "{}", v.text())?;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if json {
        writeln!(
            out,
            "{}",
            json!({
                "type": "attach",
                "pid": pid,
                "seconds": round2(secs),
                "samples": samples,
                "processes": listed.len(),
                "ended": ended,
                "stuck": stuck.is_some(),
                "attach_ms": figures(&reader.attach_times),
                "sample_ms": figures(&reader.sample_times),
            })
        )?;
    } else {
        writeln!(
            out,
            "attach {pid}: {} process(es) over {secs:.1} s, {samples} samples{}{}",
            listed.len(),
            if ended { ", the tree ended" } else { "" },
            if stuck.is_some() { ", stuck" } else { "" },
        )?;
    }
    Ok(if stuck.is_some() { EXIT_STUCK } else { 0 })
}

fn say_exit(out: &mut impl Write, json: bool, pid: i32) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", json!({"type": "exit", "pid": pid}))
    } else {
        writeln!(out, "process {pid} ended")
    }
}

// ---------------------------------------------------------------------------
// Output.

/// Median and max, in ms.
fn figures(ds: &[Duration]) -> Value {
    if ds.is_empty() {
        return Value::Null;
    }
    let mut ms: Vec<f64> = ds.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    json!({
        "median": round2(ms[ms.len() / 2]),
        "max": round2(ms[ms.len() - 1]),
        "n": ms.len(),
    })
}

fn role(info: &ProcInfo) -> &'static str {
    info.helper().unwrap_or("program")
}

fn error_text(e: &ReadError) -> String {
    match e {
        ReadError::Gone => "ended".into(),
        ReadError::NotPython => "not a Python process".into(),
        ReadError::Permission(why) => format!("refused: {why}"),
        ReadError::Failed(why) => format!("Python stacks not readable: {why}"),
    }
}

fn thread_json(t: &ThreadStack) -> Value {
    json!({
        "ident": t.ident,
        "tid": t.tid,
        "name": t.name,
        "active": t.active,
        "owns_gil": t.owns_gil,
        "wait": t.wait.as_ref().map(wait_json),
        "user_frame": t.user_frame(),
        "frames": t.frames.iter().map(|f| json!({
            "function": f.function,
            "file": f.file,
            "line": f.line,
            "own": f.own,
        })).collect::<Vec<_>>(),
    })
}

fn process_json(s: &Seen) -> Value {
    let mut v = json!({
        "type": "process",
        "pid": s.info.pid,
        "ppid": s.info.ppid,
        "name": s.info.cmdline,
        "role": role(&s.info),
        "state": s.info.state.to_string(),
    });
    match &s.read {
        Ok(st) => {
            v["python"] = json!(st.version);
            v["threads"] = st.threads.iter().map(thread_json).collect();
        }
        Err(e) => {
            v["python"] = Value::Null;
            v["error"] = json!(error_text(e));
        }
    }
    v
}

fn process_text(s: &Seen) -> String {
    let i = &s.info;
    let mut out = format!("Process {} (parent {}): {}", i.pid, i.ppid, i.cmdline);
    if let Some(h) = i.helper() {
        out += &format!("  [{h}]");
    }
    out.push('\n');
    match &s.read {
        Err(e) => out += &format!("  {}\n", error_text(e)),
        Ok(st) => {
            out += &format!("  Python {}\n", st.version);
            for t in &st.threads {
                out += &format!(
                    "  Thread {} ({}): {:?}",
                    t.tid.unwrap_or(t.ident),
                    if t.active { "active" } else { "idle" },
                    t.name.as_deref().unwrap_or("?"),
                );
                if let Some(w) = &t.wait {
                    out += &format!(" — waits: {}", wait_text(w));
                }
                out.push('\n');
                let user = t.user_frame();
                for (k, f) in t.frames.iter().enumerate() {
                    let mark = if Some(k) == user { "→" } else { " " };
                    out += &format!(
                        "    {mark} {} ({}:{})\n",
                        f.function,
                        stacks::view::shown_file(f),
                        f.line
                    );
                }
            }
        }
    }
    out
}
