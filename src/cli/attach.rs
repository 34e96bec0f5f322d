//! `mpdash dump PID` and `mpdash attach --headless PID`: a Python process
//! tree that is already running, read from outside (py-spy as a library,
//! never pausing the program; quitting leaves it running). `dump` prints
//! every process's threads and stacks once; `attach --headless` samples
//! every half second and says when the tree can never move again — proof
//! before alarm (DESIGN §8): every thread of every process of the program
//! idle in a wait without a deadline, the same waits for the whole grace,
//! and not one tick of CPU used by the tree meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::telemetry::stacks::semlock::CycleStep;
use crate::telemetry::stacks::{
    self, PERMISSION_FIX, ProcInfo, ReadError, StackReader, Stacks, ThreadStack, Wait,
};

/// Exit status when the tree can never move again.
pub const EXIT_STUCK: i32 = 3;
/// Time between two samples of `attach`.
const PERIOD: Duration = Duration::from_millis(500);

/// One process as read in one sample.
struct Seen {
    info: ProcInfo,
    read: Result<Stacks, ReadError>,
}

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

/// `mpdash dump [--json] PID`.
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
    let python = seen.iter().filter(|s| s.read.is_ok()).count();
    if json {
        writeln!(
            out,
            "{}",
            json!({
                "type": "dump",
                "pid": pid,
                "processes": seen.len(),
                "python": python,
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
    Ok(0)
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
// The stuck detector.

/// One blocked process's waits, as compared from sample to sample.
type WaitKey = Vec<(
    u64,
    &'static str,
    String,
    Option<(String, i32)>,
    Option<usize>,
)>;

/// The verdict.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Seconds the tree stood still before it was said.
    pub for_secs: f64,
    /// (pid, wait) of every thread of every blocked process.
    pub waits: Vec<(i32, Wait)>,
    /// A lock-order deadlock, when who holds what is proved.
    pub cycle: Option<Vec<CycleStep>>,
}

impl Verdict {
    fn json(&self) -> Value {
        json!({
            "type": "stuck",
            "kind": if self.cycle.is_some() { "deadlock" } else { "nobody_can_serve" },
            "cycle": self.cycle.as_ref().map(|c| c.iter().map(|s| json!({
                "pid": s.pid,
                "op": "acquire",
                "at": s.at,
                "lock": s.lock,
                "held_by": s.held_by,
            })).collect::<Vec<_>>()),
            "for_secs": round2(self.for_secs),
            "waits": self.waits.iter().map(|(pid, w)| {
                let mut v = wait_json(w);
                v["pid"] = json!(pid);
                v
            }).collect::<Vec<_>>(),
        })
    }

    fn text(&self) -> String {
        let mut s = String::new();
        if let Some(cycle) = &self.cycle {
            s += "stuck: deadlock — each process holds a lock the next one waits for:\n";
            for c in cycle {
                s += &format!(
                    "  pid {} waits at {} for lock {}, held by pid {}\n",
                    c.pid,
                    c.at.as_deref().unwrap_or("?"),
                    c.lock,
                    c.held_by
                );
            }
        }
        s += &format!(
            "{}every process of the program has waited for {:.1} s and the tree used no CPU:\n",
            if self.cycle.is_some() {
                ""
            } else {
                "stuck: nobody can serve — "
            },
            self.for_secs
        );
        for (pid, w) in &self.waits {
            s += &format!("  pid {pid}: {}\n", wait_text(w));
        }
        s
    }
}

/// Every blocked process's waits, by (pid, start ticks).
type Blocked = BTreeMap<(i32, u64), WaitKey>;

/// Proof before alarm, from outside.
struct Detector {
    grace: Duration,
    /// The tree as it stood when it was last seen all blocked: every
    /// process's waits, and the tree's CPU ticks; with since when.
    still: Option<(Blocked, u64, Instant)>,
}

impl Detector {
    fn new(grace: Duration) -> Detector {
        Detector { grace, still: None }
    }

    /// Feeds one sample; the verdict once the tree has stood still, every
    /// process of the program blocked, for the whole grace.
    fn sample(&mut self, now: Instant, seen: &[Seen]) -> Option<Verdict> {
        let Some((blocked, waits)) = all_blocked(seen) else {
            self.still = None;
            return None;
        };
        let cpu: u64 = seen.iter().map(|s| s.info.cpu_ticks).sum();
        match &self.still {
            Some((b, c, since)) if *b == blocked && *c == cpu => {
                let d = now.duration_since(*since);
                if d < self.grace {
                    return None;
                }
                let python: Vec<(i32, &Stacks)> = seen
                    .iter()
                    .filter(|s| s.info.helper().is_none() && s.info.state != 'Z')
                    .filter_map(|s| Some((s.info.pid, s.read.as_ref().ok()?)))
                    .collect();
                Some(Verdict {
                    for_secs: d.as_secs_f64(),
                    waits,
                    cycle: stacks::semlock::lock_cycle(&python),
                })
            }
            _ => {
                self.still = Some((blocked, cpu, now));
                None
            }
        }
    }
}

/// Every process of the program (helpers left out) is blocked: their waits
/// as keys, and as a list for the verdict. `None` when any could still
/// move, or when there is no one.
fn all_blocked(seen: &[Seen]) -> Option<(Blocked, Vec<(i32, Wait)>)> {
    let mut keys = BTreeMap::new();
    let mut list = Vec::new();
    for s in seen {
        if s.info.state == 'Z' || s.info.helper().is_some() {
            continue;
        }
        // A wrapper (a pyenv shim's bash, a shell) waiting for its child.
        if matches!(s.read, Err(ReadError::NotPython))
            && s.info.threads == 1
            && stacks::waiting_for_child(s.info.pid)
        {
            let w = Wait {
                op: "wait for child",
                call: "wait4".into(),
                at: None,
                object: None,
                ends_by_itself: false,
            };
            keys.insert(
                (s.info.pid, s.info.start_ticks),
                vec![(0, w.op, w.call.clone(), None, None)],
            );
            list.push((s.info.pid, w));
            continue;
        }
        // A process we cannot read (not Python, not yet readable) may serve.
        let st = s.read.as_ref().ok()?;
        if st.threads.is_empty()
            || !st.threads.iter().all(ThreadStack::provably_waiting)
            // A thread Python does not know (a C library's) may serve.
            || s.info.threads > st.threads.len() as u64
            // A signal handler: a pending alarm may end the wait.
            || stacks::own_signal_handlers(s.info.pid).is_some()
        {
            return None;
        }
        let mut key = Vec::new();
        for t in &st.threads {
            let w = t.wait.as_ref().expect("provably waiting");
            key.push((t.ident, w.op, w.call.clone(), w.at.clone(), w.object));
            // A queue's feeder only serves its own process: not a party.
            if w.op != "queue feeder" {
                list.push((s.info.pid, w.clone()));
            }
        }
        keys.insert((s.info.pid, s.info.start_ticks), key);
    }
    (!list.is_empty()).then_some((keys, list))
}

// ---------------------------------------------------------------------------
// Output.

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

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

fn wait_json(w: &Wait) -> Value {
    json!({
        "op": w.op,
        "call": w.call,
        "at": w.at_str(),
        "object": w.object.map(|a| format!("{a:#x}")),
        "ends_by_itself": w.ends_by_itself,
    })
}

/// `acquire (SemLock.__enter__) at prog.py:11`.
fn wait_text(w: &Wait) -> String {
    let mut s = format!("{} ({})", w.op, w.call);
    match w.at_str() {
        Some(at) => s += &format!(" at {at}"),
        None if w.op == "wait for child" => {}
        None => s += " (the library's own thread, or at exit)",
    }
    if w.ends_by_itself {
        s += ", with a timeout";
    }
    s
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

/// A library file as its module's path (`multiprocessing/queues.py`), the
/// program's own as given.
fn show_file(f: &stacks::Frame) -> String {
    if f.own {
        return f.file.clone();
    }
    match f.file.find("/lib/python") {
        Some(i) => {
            let rest = &f.file[i + "/lib/python".len()..];
            rest.find('/')
                .map_or(f.file.clone(), |j| rest[j + 1..].to_string())
        }
        None => f.file.clone(),
    }
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
                    out += &format!("    {mark} {} ({}:{})\n", f.function, show_file(f), f.line);
                }
            }
        }
    }
    out
}
