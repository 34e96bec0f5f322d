//! What mpdash's Python probe reports (see `session/python/sitecustomize.py`),
//! read from its directory: per process `p<pid>.jsonl` (processes, objects
//! and source locations, registered once each) and `p<pid>.bin` (counters
//! and waits, plain stores). Turned into the same rows and resource views as
//! a scenario's, so every panel, the waits and the stuck diagnosis work on a
//! CPython program too.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::runtime::board::{ResKind, Role, StartMethod, WaitOp};
use crate::telemetry::board_view::{PoolView, ProcRow, QueueView, ResourceView, WaitRow};
use crate::telemetry::labels::exit_label;
use crate::telemetry::waits::{Diagnosis, StuckKind, WaitFact, describe};

const MAGIC: &[u8; 8] = b"MPDPROB1";
const OBJ_SLOTS: usize = 512;
const WAIT_SLOTS: usize = 32;
const SLOT: usize = 64;
const OBJ_AT: usize = 64;
const WAIT_AT: usize = OBJ_AT + OBJ_SLOTS * SLOT;
const SIZE: usize = WAIT_AT + WAIT_SLOTS * SLOT;
/// A registration line longer than this is not the probe's.
const MAX_LINE: usize = 64 << 10;
/// CPython's SEM_VALUE_MAX: the maxsize of an unbounded Queue.
const UNBOUNDED: u64 = i32::MAX as u64;

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Record {
    Proc {
        pid: i32,
        #[serde(default)]
        ppid: i32,
        name: String,
        role: String,
        method: Option<String>,
    },
    Obj {
        id: i64,
        kind: String,
        name: String,
        at: String,
        #[serde(default)]
        maxsize: u64,
        #[serde(default)]
        parties: u32,
        #[serde(flatten)]
        more: More,
    },
    Kind {
        id: i64,
        kind: String,
    },
    Loc {
        id: i64,
        at: String,
    },
    /// A thread by Python's name.
    Thread {
        tid: i32,
        name: String,
    },
    /// A pool's number of worker processes.
    Workers {
        id: i64,
        n: u32,
    },
    /// A Value's or an Array's last elements, said at its maker's exit.
    Values {
        id: i64,
        values: Vec<String>,
    },
    /// A child's own end: the status `_bootstrap` returned, its CPU time.
    End {
        pid: i32,
        code: i32,
        cpu_s: f64,
    },
    /// An exit status a Python parent reaped itself (`Popen.poll`).
    Exit {
        pid: i32,
        code: i32,
    },
}

/// What some kinds of object add to their registration.
#[derive(Debug, Clone, Default, Deserialize)]
struct More {
    /// Pipe: both ways.
    #[serde(default)]
    duplex: bool,
    /// Value/Array: where it lives in the creating process, its size in
    /// bytes, element type (a `struct` code), length, and a lock around it.
    #[serde(default)]
    addr: u64,
    #[serde(default)]
    size: usize,
    #[serde(default)]
    typecode: Option<String>,
    #[serde(default)]
    len: usize,
    #[serde(default)]
    lock: bool,
    /// Manager: its server's pid; a manager's object or method: its manager.
    #[serde(default)]
    server: i32,
    #[serde(default)]
    manager: i64,
    #[serde(default)]
    typeid: Option<String>,
}

/// A Python process as the probe named it.
#[derive(Debug, Clone, PartialEq)]
pub struct PyProc {
    pub ppid: i32,
    pub name: String,
    pub role: String,
    pub method: Option<StartMethod>,
}

#[derive(Debug, Clone)]
struct PyObj {
    kind: String,
    name: String,
    at: String,
    maxsize: u64,
    parties: u32,
    workers: u32,
    more: More,
    /// The process that registered it (a Value's memory is read there).
    owner: i32,
    /// In the order the reader learnt of them.
    seq: usize,
}

/// One process's counters for one object.
#[derive(Debug, Clone, Copy, Default)]
struct Counts([i64; 7]);

#[derive(Debug, Clone, Copy)]
struct PyWait {
    op: i64,
    obj: i64,
    loc: i64,
    since_ns: i64,
    target: i64,
    deadline: bool,
    /// A pool result's job + 1.
    job: i64,
}

/// A task a pool worker took and has not finished: running, or lost with
/// the worker when it died.
#[derive(Debug, Clone, PartialEq)]
pub struct PyTask {
    pub pool: String,
    pub pid: i32,
    pub job: i64,
    pub index: i64,
    pub func: String,
    pub since_ns: u64,
    /// Lost without a word if its worker dies (a Pool's, not an executor's).
    pub silent: bool,
}

/// Reads a probe directory, incrementally.
pub struct ProbeReader {
    dir: PathBuf,
    /// Bytes of each `p<pid>.jsonl` already read.
    read: HashMap<i32, usize>,
    procs: HashMap<i32, PyProc>,
    objs: HashMap<i64, PyObj>,
    /// (pid, location id) → `file:line`.
    locs: HashMap<(i32, i64), String>,
    exits: HashMap<i32, i32>,
    ends: HashMap<i32, (i32, f64)>,
    threads: HashMap<i32, String>,
    /// Each Value's and Array's elements, as last read.
    values: HashMap<i64, Vec<String>>,
    /// The largest queue depth and number of lock waiters seen, by name
    /// (each read: every 100 ms headless, every sample on the dashboard).
    peaks: HashMap<(String, &'static str), u64>,
    /// Lines that were not the probe's (a hostile or damaged file), said once.
    pub bad_lines: u64,
}

/// What the probe says at one moment.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub procs: HashMap<i32, PyProc>,
    pub resources: Vec<ResourceView>,
    /// Each process's oldest wait (a live process only).
    pub waits: HashMap<i32, WaitRow>,
    /// Per object, for `--json`'s `resource` lines.
    pub summary: Vec<serde_json::Value>,
    /// The program's (first) pool, for the Pool panel.
    pub pool: Option<PoolView>,
    /// Per pool worker: the index of the task it runs, and tasks it finished.
    pub workers: HashMap<i32, (Option<u64>, u64)>,
    /// Tasks held by workers that are dead: nobody runs them again.
    pub lost: Vec<PyTask>,
    /// Processes waiting on a pool's result: (pid, job, the call).
    pub result_waits: Vec<(i32, i64, &'static str)>,
    /// Exit statuses reaped by the program itself.
    pub exits: HashMap<i32, i32>,
    /// Children's own ends: (status, CPU seconds).
    pub ends: HashMap<i32, (i32, f64)>,
    /// Threads by Python's names, by native thread id.
    pub threads: HashMap<i32, String>,
}

impl Facts {
    /// A thread's Python name: its own, or `MainThread` for a probed
    /// process's first thread.
    pub fn thread_name(&self, pid: i32, tid: i32) -> Option<String> {
        match self.threads.get(&tid) {
            Some(n) => Some(n.clone()),
            None => (tid == pid && self.procs.contains_key(&pid)).then(|| "MainThread".into()),
        }
    }
}

impl ProbeReader {
    pub fn new(dir: PathBuf) -> ProbeReader {
        ProbeReader {
            dir,
            read: HashMap::new(),
            procs: HashMap::new(),
            objs: HashMap::new(),
            locs: HashMap::new(),
            exits: HashMap::new(),
            ends: HashMap::new(),
            threads: HashMap::new(),
            values: HashMap::new(),
            peaks: HashMap::new(),
            bad_lines: 0,
        }
    }

    fn files(&self) -> Vec<(i32, PathBuf, bool)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (stem, log) = match name.strip_suffix(".jsonl") {
                    Some(s) => (s.to_string(), true),
                    None => (name.strip_suffix(".bin")?.to_string(), false),
                };
                let pid = stem.strip_prefix('p')?.parse().ok()?;
                Some((pid, e.path(), log))
            })
            .collect()
    }

    fn read_log(&mut self, pid: i32, path: &PathBuf) {
        use std::io::{Read, Seek, SeekFrom};
        let from = self.read.get(&pid).copied().unwrap_or(0);
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        if f.seek(SeekFrom::Start(from as u64)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if f.take(4 << 20).read_to_end(&mut buf).is_err() {
            return;
        }
        // Only whole lines; a line being written is read next time.
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            if buf.len() > MAX_LINE {
                self.bad_lines += 1;
                self.read.insert(pid, from + buf.len());
            }
            return;
        };
        self.read.insert(pid, from + end + 1);
        for line in buf[..end].split(|b| *b == b'\n') {
            match serde_json::from_slice::<Record>(line) {
                Ok(r) => self.learn(pid, r),
                Err(_) => self.bad_lines += 1,
            }
        }
    }

    fn learn(&mut self, pid: i32, r: Record) {
        match r {
            Record::Proc {
                pid: p,
                ppid,
                name,
                role,
                method,
            } => {
                let method = match method.as_deref() {
                    Some("fork") => Some(StartMethod::Fork),
                    Some("spawn") => Some(StartMethod::Spawn),
                    Some("forkserver") => Some(StartMethod::Forkserver),
                    _ => None,
                };
                self.procs.insert(
                    p,
                    PyProc {
                        ppid,
                        name,
                        role,
                        method,
                    },
                );
            }
            Record::Obj {
                id,
                kind,
                name,
                at,
                maxsize,
                parties,
                more,
            } => {
                self.objs.insert(
                    id,
                    PyObj {
                        kind,
                        name,
                        at,
                        maxsize,
                        parties,
                        workers: 0,
                        more,
                        owner: pid,
                        seq: self.objs.len(),
                    },
                );
            }
            Record::Thread { tid, name } => {
                self.threads.insert(tid, name);
            }
            Record::Workers { id, n } => {
                if let Some(o) = self.objs.get_mut(&id) {
                    o.workers = n;
                }
            }
            Record::Values { id, values } => {
                self.values.insert(id, values);
            }
            Record::End { pid, code, cpu_s } => {
                self.ends.insert(pid, (code, cpu_s));
            }
            Record::Exit { pid, code } => {
                self.exits.insert(pid, code);
            }
            Record::Kind { id, kind } => {
                if let Some(o) = self.objs.get_mut(&id) {
                    o.kind = kind;
                }
            }
            Record::Loc { id, at } => {
                self.locs.insert((pid, id), at);
            }
        }
    }

    /// Reads what changed and says what is true now; `alive` says which
    /// pids still run (a dead process's waits are over, its holds are not:
    /// a SemLock whose holder died stays taken).
    pub fn read(&mut self, alive: &dyn Fn(i32) -> bool, now_ns: u64) -> Facts {
        let files = self.files();
        for (pid, path, log) in &files {
            if *log {
                self.read_log(*pid, path);
            }
        }
        let mut counts: HashMap<i64, Vec<(i32, Counts)>> = HashMap::new();
        let mut waits: Vec<(i32, PyWait)> = Vec::new();
        for (pid, path, log) in files {
            if log {
                continue;
            }
            let Ok(b) = std::fs::read(&path) else {
                continue;
            };
            if b.len() != SIZE || &b[..8] != MAGIC {
                self.bad_lines += 1;
                continue;
            }
            let word = |at: usize| i64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
            for i in 0..OBJ_SLOTS {
                let at = OBJ_AT + i * SLOT;
                let id = word(at);
                if id == 0 {
                    break;
                }
                let mut c = Counts::default();
                for (k, v) in c.0.iter_mut().enumerate() {
                    *v = word(at + 8 * (k + 1));
                }
                counts.entry(id).or_default().push((pid, c));
            }
            if alive(pid) {
                for i in 0..WAIT_SLOTS {
                    let at = WAIT_AT + i * SLOT;
                    let op = word(at + 8);
                    if op != 0 {
                        waits.push((
                            pid,
                            PyWait {
                                op,
                                obj: word(at + 16),
                                loc: word(at + 24),
                                since_ns: word(at + 32),
                                target: word(at + 40),
                                deadline: word(at + 48) != 0,
                                job: word(at + 56),
                            },
                        ));
                    }
                }
            }
        }
        for (id, o) in &self.objs {
            if matches!(o.kind.as_str(), "Value" | "Array") && alive(o.owner) {
                let v = read_values(o);
                if !v.is_empty() {
                    self.values.insert(*id, v);
                }
            }
        }
        let mut facts = self.facts(&counts, &waits, now_ns);
        self.pool_facts(&mut facts, &counts, &waits, alive);
        facts.exits = self.exits.clone();
        facts.ends = self.ends.clone();
        facts.threads = self.threads.clone();
        self.peaks_of(&mut facts);
        facts
    }

    /// `max_depth` of each queue and `max_waiters` of each lock, as seen.
    fn peaks_of(&mut self, facts: &mut Facts) {
        for line in &mut facts.summary {
            let name = line["name"].as_str().unwrap_or_default().to_string();
            let (key, now) = match line["kind"].as_str() {
                Some("Queue" | "JoinableQueue" | "SimpleQueue") => (
                    "max_depth",
                    line["puts"]
                        .as_u64()
                        .unwrap_or(0)
                        .saturating_sub(line["gets"].as_u64().unwrap_or(0)),
                ),
                Some("Lock" | "RLock" | "Semaphore" | "BoundedSemaphore") => {
                    ("max_waiters", line["waiters"].as_u64().unwrap_or(0))
                }
                _ => continue,
            };
            let peak = self.peaks.entry((name, key)).or_insert(0);
            *peak = (*peak).max(now);
            line[key] = serde_json::json!(*peak);
        }
    }

    /// Unique names: `q`, then `q (prog.py:13)` for another object called q.
    fn names(&self) -> HashMap<i64, String> {
        let mut ids: Vec<&i64> = self.objs.keys().collect();
        ids.sort();
        let mut taken: HashMap<String, i64> = HashMap::new();
        let mut out = HashMap::new();
        for id in ids {
            let o = &self.objs[id];
            let mut name = o.name.clone();
            if taken.contains_key(&name) {
                name = format!("{} ({})", o.name, o.at);
            }
            let mut n = 2;
            while taken.contains_key(&name) {
                name = format!("{} ({}) #{n}", o.name, o.at);
                n += 1;
            }
            taken.insert(name.clone(), *id);
            out.insert(*id, name);
        }
        out
    }

    fn facts(
        &self,
        counts: &HashMap<i64, Vec<(i32, Counts)>>,
        waits: &[(i32, PyWait)],
        now_ns: u64,
    ) -> Facts {
        let names = self.names();
        let mut facts = Facts {
            procs: self.procs.clone(),
            ..Default::default()
        };
        let none = Vec::new();
        let mut ids: Vec<&i64> = self.objs.keys().collect();
        ids.sort();
        for id in ids {
            let o = &self.objs[id];
            let name = names[id].clone();
            let per = counts.get(id).unwrap_or(&none);
            let sum = |k: usize| per.iter().map(|(_, c)| c.0[k].max(0) as u64).sum::<u64>();
            let waiting = |op: WaitOp| {
                waits
                    .iter()
                    .filter(|(_, w)| w.obj == *id && w.op == op as i64)
                    .count() as u32
            };
            let (view, extra) = match o.kind.as_str() {
                "Queue" | "JoinableQueue" | "SimpleQueue" => {
                    let (puts, gets) = (sum(0), sum(1));
                    (
                        ResourceView::Queue {
                            name: name.clone(),
                            joinable: o.kind == "JoinableQueue",
                            depth: puts.saturating_sub(gets) as usize,
                            capacity: if o.maxsize >= UNBOUNDED {
                                0
                            } else {
                                o.maxsize as usize
                            },
                            puts,
                            gets,
                            lost_put: 0,
                            lost_get: 0,
                            waiting_getters: waiting(WaitOp::Get),
                            waiting_putters: waiting(WaitOp::Put),
                        },
                        serde_json::json!({"puts": puts, "gets": gets, "maxsize": o.maxsize}),
                    )
                }
                "Lock" | "RLock" | "Semaphore" | "BoundedSemaphore" => {
                    // c: [acquisitions, depth, since, loc, tid, max_hold, releases]
                    let holder = per.iter().find(|(_, c)| c.0[1] > 0);
                    let held_ms = holder
                        .map(|(_, c)| now_ns.saturating_sub(c.0[2].max(0) as u64) / 1_000_000);
                    let held_at = holder.and_then(|(p, c)| self.locs.get(&(*p, c.0[3])).cloned());
                    let max_hold_ms =
                        per.iter().map(|(_, c)| c.0[5].max(0)).max().unwrap_or(0) as f64 / 1e6;
                    let acquisitions = sum(0);
                    let view = if o.kind.ends_with("Lock") {
                        ResourceView::Lock {
                            name: name.clone(),
                            recursive: o.kind == "RLock",
                            holder_pid: holder.map_or(0, |(p, _)| *p),
                            holder_tid: 0,
                            held_ms,
                            waiters: waiting(WaitOp::Acquire),
                            acquisitions,
                            contended: 0,
                            owner_died: 0,
                            last_dead_owner: 0,
                        }
                    } else {
                        ResourceView::Semaphore {
                            name: name.clone(),
                            bounded: o.kind == "BoundedSemaphore",
                            value: 0,
                            bound: 0,
                            waiters: waiting(WaitOp::Acquire),
                            acquisitions,
                        }
                    };
                    let max_waiters = waiting(WaitOp::Acquire);
                    (
                        view,
                        serde_json::json!({
                            "acquisitions": acquisitions,
                            "max_hold_ms": max_hold_ms,
                            "waiters": max_waiters,
                            "held_by": holder.map(|(p, _)| *p),
                            "held_at": held_at,
                        }),
                    )
                }
                "Pipe" => {
                    let (msgs, bytes) = ([sum(0), sum(2)], [sum(1), sum(3)]);
                    (
                        ResourceView::Pipe {
                            name: name.clone(),
                            duplex: o.more.duplex,
                            msgs,
                            bytes,
                        },
                        serde_json::json!({"sent": msgs, "bytes": bytes, "duplex": o.more.duplex}),
                    )
                }
                "Value" | "Array" => {
                    let values = self.values.get(id).cloned().unwrap_or_default();
                    let code = o.more.typecode.as_deref().and_then(|c| c.chars().next());
                    (
                        ResourceView::Value {
                            name: name.clone(),
                            typecode: code.unwrap_or('?'),
                            values: values.clone(),
                            len: o.more.len,
                            lock: o.more.lock,
                            is_array: o.kind == "Array",
                        },
                        serde_json::json!({"typecode": code, "len": o.more.len, "values": values}),
                    )
                }
                "Manager" => {
                    let (view, extra) = self.manager_view(*id, &name, o, counts, &names);
                    (view, extra)
                }
                "Condition" => {
                    facts.summary.push(serde_json::json!({
                        "type": "resource", "kind": "Condition", "name": name,
                        "created_at": o.at, "notifies": sum(0),
                        "waiters": waiting(WaitOp::ConditionWait),
                    }));
                    continue;
                }
                "Event" => (
                    ResourceView::Event {
                        name: name.clone(),
                        set: sum(0) > 0,
                        waiters: waiting(WaitOp::EventWait),
                    },
                    serde_json::json!({"sets": sum(0)}),
                ),
                "Barrier" => {
                    let waiters = waiting(WaitOp::BarrierWait);
                    (
                        ResourceView::Barrier {
                            name: name.clone(),
                            parties: o.parties,
                            arrived: waiters,
                            broken: false,
                            waiters,
                            passes: sum(0) / u64::from(o.parties.max(1)),
                        },
                        serde_json::json!({"parties": o.parties, "waits": sum(0)}),
                    )
                }
                _ => continue,
            };
            let mut line = serde_json::json!({
                "type": "resource",
                "kind": o.kind,
                "name": name,
                "created_at": o.at,
            });
            if let (Some(l), serde_json::Value::Object(e)) = (line.as_object_mut(), extra) {
                l.extend(e);
            }
            facts.summary.push(line);
            facts.resources.push(view);
        }
        for (pid, w) in waits {
            let Some(op) = u32::try_from(w.op).ok().and_then(WaitOp::from_u32) else {
                continue;
            };
            let kind = self.objs.get(&w.obj).and_then(|o| match o.kind.as_str() {
                "Queue" | "SimpleQueue" => Some(ResKind::Queue),
                "JoinableQueue" => Some(ResKind::JoinableQueue),
                "Lock" => Some(ResKind::Lock),
                "RLock" => Some(ResKind::RLock),
                "Semaphore" => Some(ResKind::Semaphore),
                "BoundedSemaphore" => Some(ResKind::BoundedSemaphore),
                "Event" => Some(ResKind::Event),
                "Barrier" => Some(ResKind::Barrier),
                "Pool" => Some(ResKind::Pool),
                "Pipe" => Some(ResKind::Pipe),
                "Condition" => Some(ResKind::Condition),
                "ManagerObject" => Some(ResKind::Manager),
                _ => None,
            });
            let row = WaitRow {
                op,
                resource: names.get(&w.obj).cloned(),
                kind,
                target: w.target,
                since_s: now_ns.saturating_sub(w.since_ns.max(0) as u64) as f64 / 1e9,
                deadline: w.deadline,
                at: self.locs.get(&(*pid, w.loc)).cloned(),
            };
            let older = facts
                .waits
                .get(pid)
                .is_some_and(|o: &WaitRow| o.since_s >= row.since_s);
            if !older {
                facts.waits.insert(*pid, row);
            }
        }
        facts
    }
}

/// A Value's or an Array's first elements, read from the memory of the
/// process that made it (`process_vm_readv`; the same shared pages every
/// process of the run sees). Empty when that process is gone.
fn read_values(o: &PyObj) -> Vec<String> {
    use nix::sys::uio::{RemoteIoVec, process_vm_readv};
    let Some(code) = o.more.typecode.as_deref() else {
        return Vec::new();
    };
    let n = o.more.len.clamp(1, 12);
    let each = o.more.size / o.more.len.max(1);
    if !(1..=8).contains(&each) || o.more.addr == 0 {
        return Vec::new();
    }
    let mut buf = vec![0u8; each * n];
    let remote = [RemoteIoVec {
        base: o.more.addr as usize,
        len: buf.len(),
    }];
    let pid = nix::unistd::Pid::from_raw(o.owner);
    match process_vm_readv(pid, &mut [std::io::IoSliceMut::new(&mut buf)], &remote) {
        Ok(got) if got == buf.len() => {}
        _ => return Vec::new(),
    }
    buf.chunks(each).map(|b| element(code, b)).collect()
}

/// One element in Python's `struct`/ctypes type codes, as Python prints it.
fn element(code: &str, b: &[u8]) -> String {
    let int = |signed: bool| {
        let mut v = [0u8; 8];
        v[..b.len()].copy_from_slice(b);
        let u = u64::from_le_bytes(v);
        if signed {
            let shift = 64 - 8 * b.len() as u32;
            (((u << shift) as i64) >> shift).to_string()
        } else {
            u.to_string()
        }
    };
    match (code, b.len()) {
        ("d", 8) => format!("{:?}", f64::from_le_bytes(b.try_into().expect("8"))),
        ("f", 4) => format!("{:?}", f32::from_le_bytes(b.try_into().expect("4"))),
        ("?", 1) => if b[0] != 0 { "True" } else { "False" }.to_string(),
        ("c", 1) => format!("b{:?}", b[0] as char).replace('"', "'"),
        ("u", 4) => char::from_u32(u32::from_le_bytes(b.try_into().expect("4")))
            .map_or_else(|| "?".into(), |c| format!("{c:?}")),
        ("B" | "H" | "I" | "L" | "Q" | "P", _) => int(false),
        _ => int(true),
    }
}

impl ProbeReader {
    /// A Python manager: its server, the objects its proxies call, and
    /// the calls per method, from every process's counters.
    fn manager_view(
        &self,
        id: i64,
        name: &str,
        o: &PyObj,
        counts: &HashMap<i64, Vec<(i32, Counts)>>,
        names: &HashMap<i64, String>,
    ) -> (ResourceView, serde_json::Value) {
        use crate::telemetry::board_view::{ManagerMethodView, ManagerObjectView};
        let none = Vec::new();
        let mut clients = std::collections::HashSet::new();
        let mut objects = Vec::new();
        let mut methods = Vec::new();
        let mut ids: Vec<&i64> = self.objs.keys().collect();
        ids.sort();
        for oid in ids {
            let x = &self.objs[oid];
            if x.more.manager != id {
                continue;
            }
            let per = counts.get(oid).unwrap_or(&none);
            let sum = |k: usize| per.iter().map(|(_, c)| c.0[k].max(0) as u64).sum::<u64>();
            match x.kind.as_str() {
                "ManagerObject" => objects.push(ManagerObjectView {
                    name: names[oid].clone(),
                    kind: x.more.typeid.clone().unwrap_or_else(|| "?".into()),
                    len: None,
                    calls: sum(0),
                }),
                "ManagerMethod" if sum(0) > 0 => {
                    clients.extend(per.iter().filter(|(_, c)| c.0[0] > 0).map(|(p, _)| *p));
                    methods.push(ManagerMethodView {
                        method: x.name.clone(),
                        calls: sum(0),
                        total_ns: sum(1),
                    });
                }
                _ => {}
            }
        }
        let calls: u64 = methods.iter().map(|m| m.calls).sum();
        let extra = serde_json::json!({
            "server_pid": o.more.server,
            "calls": calls,
            "clients": clients.len(),
            "methods": methods.iter().map(|m| (m.method.clone(), m.calls)).collect::<HashMap<_, _>>(),
            "objects": objects.iter().map(|o| (o.name.clone(), serde_json::json!({"typeid": o.kind, "calls": o.calls}))).collect::<HashMap<_, _>>(),
        });
        (
            ResourceView::Manager {
                name: name.to_string(),
                server_pid: o.more.server,
                tcp_port: 0,
                clients: clients.len() as u32,
                refused: 0,
                objects,
                methods,
            },
            extra,
        )
    }
}

// A pool's counters: in the parent [tasks of the calls made, sent to the
// workers, results received]; in each worker [taken, the task it runs now
// (function name id << 32 | job + 1), its index, since].
const TOTAL: usize = 0;
const SENT: usize = 1;
const DONE: usize = 2;
const TAKEN: usize = 3;
const TASK: usize = 4;
const INDEX: usize = 5;
const SINCE: usize = 6;

impl ProbeReader {
    /// The pools: progress, what each worker runs, and the tasks that died
    /// with their worker.
    fn pool_facts(
        &self,
        facts: &mut Facts,
        counts: &HashMap<i64, Vec<(i32, Counts)>>,
        waits: &[(i32, PyWait)],
        alive: &dyn Fn(i32) -> bool,
    ) {
        let names = self.names();
        let mut ids: Vec<&i64> = self
            .objs
            .iter()
            .filter(|(_, o)| o.kind == "Pool" || o.kind == "ProcessPoolExecutor")
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        let none = Vec::new();
        for id in ids {
            let o = &self.objs[id];
            let name = names[id].clone();
            let per = counts.get(id).unwrap_or(&none);
            let sum = |k: usize| per.iter().map(|(_, c)| c.0[k].max(0) as u64).sum::<u64>();
            let (sent, done, taken) = (sum(SENT), sum(DONE), sum(TAKEN));
            let total = sum(TOTAL).max(sent);
            let mut busy = 0;
            for (pid, c) in per.iter().filter(|(_, c)| c.0[TAKEN] > 0) {
                let task = c.0[TASK];
                let running = (task != 0).then(|| PyTask {
                    // (An executor breaks when a worker dies: nothing is
                    // lost silently there.)
                    silent: o.kind == "Pool",
                    pool: name.clone(),
                    pid: *pid,
                    job: (task & 0xFFFF_FFFF) - 1,
                    index: c.0[INDEX],
                    func: self
                        .locs
                        .get(&(*pid, task >> 32))
                        .cloned()
                        .unwrap_or_else(|| "?".into()),
                    since_ns: c.0[SINCE].max(0) as u64,
                });
                let finished = c.0[TAKEN].max(0) as u64 - u64::from(running.is_some());
                match running {
                    Some(t) if !alive(*pid) => {
                        facts.lost.push(t);
                        facts.workers.insert(*pid, (None, finished));
                    }
                    Some(t) => {
                        busy += 1;
                        facts
                            .workers
                            .insert(*pid, (Some(t.index.max(0) as u64), finished));
                    }
                    None => {
                        facts.workers.insert(*pid, (None, finished));
                    }
                }
            }
            let lost = facts.lost.iter().filter(|t| t.pool == name).count() as u64;
            let returned = taken.saturating_sub(busy + lost);
            let left = total.saturating_sub(done);
            for (pid, w) in waits {
                if w.obj == *id && w.op == WaitOp::PoolResult as i64 {
                    let call = match w.job >> 32 {
                        1 => "apply_async(…).get()",
                        2 => "map",
                        3 => "imap",
                        _ => "future.result()",
                    };
                    facts
                        .result_waits
                        .push((*pid, (w.job & 0xFFFF_FFFF) - 1, call));
                    if let Some(row) = facts.waits.get_mut(pid)
                        && row.op == WaitOp::PoolResult
                    {
                        row.target = left as i64;
                    }
                }
            }
            facts.summary.push(serde_json::json!({
                "type": "resource",
                "kind": o.kind,
                "name": name,
                "created_at": o.at,
                "workers": o.workers,
                "tasks": total,
                "sent": sent,
                "done": done,
                "lost": lost,
            }));
            // The panel shows the newest pool.
            let newest = self
                .objs
                .values()
                .filter(|x| x.kind == "Pool" || x.kind == "ProcessPoolExecutor")
                .map(|x| x.seq)
                .max();
            if newest == Some(o.seq) {
                facts.pool = Some(PoolView {
                    name,
                    workers: u64::from(o.workers),
                    total,
                    done,
                    tasks: QueueView {
                        depth: sent.saturating_sub(taken) as usize,
                        capacity: 0,
                        puts: sent,
                        gets: taken,
                    },
                    results: QueueView {
                        depth: returned.saturating_sub(done) as usize,
                        capacity: 0,
                        puts: returned,
                        gets: done,
                    },
                    lost,
                    retried: 0,
                    replaced: 0,
                    failed: 0,
                });
            }
        }
    }
}

/// A pool task that died with its worker while a process waits for its
/// result: CPython's Pool starts a new worker but never runs the task again,
/// so the wait never ends (python/cpython#96062). Certain at once.
pub fn lost_task(
    procs: &[ProcRow],
    facts: &Facts,
    resources: &[ResourceView],
) -> Option<Diagnosis> {
    let (waiter, task, call) = facts.result_waits.iter().find_map(|(pid, job, call)| {
        let t = facts.lost.iter().find(|t| t.silent && t.job == *job)?;
        let w = procs.iter().find(|p| p.pid == *pid && p.alive())?;
        Some((w, t, call))
    })?;
    let worker = procs.iter().rev().find(|p| p.pid == task.pid);
    let worker_name = worker.map_or_else(|| format!("pid {}", task.pid), |p| p.name.clone());
    let how = match worker
        .and_then(|p| p.exitcode)
        .or(facts.exits.get(&task.pid).copied())
    {
        Some(c) if c < 0 => format!("died ({})", exit_label(Some(c))),
        Some(c) => format!("exited {c}"),
        None => "died".to_string(),
    };
    let wait = waiter.wait.as_ref()?;
    let waits = describe(wait, procs, resources);
    let at = wait
        .at
        .as_deref()
        .map_or(String::new(), |a| format!(" at {a}"));
    let summary = format!(
        "Stuck: pool worker {worker_name} {how} while running task {} ({}) of {}'s {call}; \
         CPython's Pool starts a new worker but never runs that task again, so {}'s {call}{at} \
         waits forever.",
        task.index, task.func, task.pool, waiter.name
    );
    let chain = vec![
        format!(
            "{worker_name} (pid {}) took task {} of job {} ({}) and {how} before returning its result",
            task.pid, task.index, task.job, task.func
        ),
        format!(
            "{} → {waits} → the task is lost: nobody will run it again (python/cpython#96062)",
            waiter.name
        ),
        "concurrent.futures.ProcessPoolExecutor raises BrokenProcessPool instead; \
         or give get() a timeout"
            .to_string(),
    ];
    Some(Diagnosis {
        kind: StuckKind::LostTask,
        summary,
        waits: vec![WaitFact {
            name: waiter.name.clone(),
            pid: waiter.pid,
            op: wait.op.verb().to_string(),
            resource: wait.resource.clone(),
            since_s: (wait.since_s * 10.0).round() / 10.0,
            holder: Some(worker_name),
        }],
        cycle: Vec::new(),
        chain,
        culprits: vec![waiter.pid, task.pid],
    })
}

/// Rows for the program's processes that ended before mpdash's scan of
/// `/proc` saw them (a child living a few milliseconds): named, placed and
/// ended as the probe says, with the CPU time the process measured itself.
fn add_missed(procs: &mut Vec<ProcRow>, facts: &Facts) {
    let mut missed: Vec<(&i32, &PyProc)> = facts
        .procs
        .iter()
        .filter(|(pid, _)| !procs.iter().any(|p| p.pid == **pid))
        .filter(|(pid, _)| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    missed.sort_by_key(|(pid, _)| **pid);
    for (pid, py) in missed {
        let end = facts.ends.get(pid);
        procs.push(ProcRow {
            slot: u32::MAX,
            name: py.name.clone(),
            pid: *pid,
            os_ppid: py.ppid,
            logical_ppid: py.ppid,
            method: py.method,
            state: crate::runtime::board::ProcState::Exited,
            exitcode: facts.exits.get(pid).copied().or(end.map(|e| e.0)),
            cpu_s: end.map(|e| e.1),
            ..Default::default()
        });
    }
}

/// Puts what the probe says on the rows: Python's names and roles, and
/// each live process's wait.
pub fn overlay(procs: &mut Vec<ProcRow>, facts: &Facts) {
    add_missed(procs, facts);
    // The program's main process's parent is mpdash's watch guard: it
    // serves nobody (the stuck diagnosis must not wait for it).
    let guard: Vec<i32> = facts
        .procs
        .values()
        .filter(|p| p.role == "main")
        .map(|p| p.ppid)
        .collect();
    for p in procs.iter_mut() {
        if guard.contains(&p.pid) && !facts.procs.contains_key(&p.pid) {
            p.role = Some(Role::Helper);
        }
        if let Some(py) = facts.procs.get(&p.pid) {
            p.name = py.name.clone();
            p.role = Some(match py.role.as_str() {
                "main" => Role::Main,
                "pool worker" => Role::PoolWorker,
                "manager" => Role::Manager,
                "fork server" => Role::ForkServer,
                "resource tracker" => Role::Helper,
                "executor worker" => Role::PoolWorker,
                "process" => Role::Process,
                _ => Role::Foreign,
            });
            if py.method.is_some() {
                p.method = py.method;
            }
        }
        if p.alive() {
            p.wait = facts.waits.get(&p.pid).cloned();
        } else {
            if p.exitcode.is_none() {
                // Reaped by its Python parent: the status Python got.
                p.exitcode = facts.exits.get(&p.pid).copied();
            }
            if let Some((code, cpu)) = facts.ends.get(&p.pid) {
                p.exitcode = p.exitcode.or(Some(*code));
                p.cpu_s = p.cpu_s.or(Some(*cpu));
            }
        }
        if let Some((task, done)) = facts.workers.get(&p.pid) {
            p.current_task = if p.alive() { *task } else { None };
            p.tasks_done = *done;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_values_read_as_python_prints_them() {
        assert_eq!(element("d", &2.5f64.to_le_bytes()), "2.5");
        assert_eq!(element("i", &(-7i32).to_le_bytes()), "-7");
        assert_eq!(element("I", &u32::MAX.to_le_bytes()), "4294967295");
        assert_eq!(element("h", &(-2i16).to_le_bytes()), "-2");
        assert_eq!(element("c", b"x"), "b'x'");
        assert_eq!(element("?", &[1]), "True");
    }

    #[test]
    fn threads_get_python_names_and_the_first_is_main() {
        let mut f = Facts::default();
        f.procs.insert(
            10,
            PyProc {
                ppid: 1,
                name: "MainProcess".into(),
                role: "main".into(),
                method: None,
            },
        );
        f.threads.insert(11, "QueueFeederThread".into());
        assert_eq!(f.thread_name(10, 11).as_deref(), Some("QueueFeederThread"));
        assert_eq!(f.thread_name(10, 10).as_deref(), Some("MainThread"));
        assert_eq!(
            f.thread_name(20, 20),
            None,
            "not a Python process of the run"
        );
    }

    #[test]
    fn a_damaged_report_is_counted_not_believed() {
        let dir = std::env::temp_dir().join(format!("mpdash-probe-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("p5.jsonl"),
            "{\"t\":\"proc\",\"pid\":5,\"ppid\":1,\"name\":\"MainProcess\",\"role\":\"main\",\"method\":null}\nnot json\n{\"t\":\"obj\"}\n",
        )
        .unwrap();
        std::fs::write(dir.join("p5.bin"), b"short").unwrap();
        let mut r = ProbeReader::new(dir.clone());
        let f = r.read(&|_| true, 0);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(f.procs.len(), 1);
        assert_eq!(r.bad_lines, 3, "two bad lines and a short counter file");
    }
}
