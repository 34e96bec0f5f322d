//! What mpdash's Python probe reports (see `session/python/_mpdash_probe/`),
//! read from its directory: per process `p<pid>.jsonl` (processes, objects
//! and source locations, registered once each) and `p<pid>.bin` (counters
//! and waits, plain stores). Turned into the same rows and resource views as
//! a scenario's, so every panel, the waits and the stuck diagnosis work on a
//! CPython program too.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::runtime::board::StartMethod;
use crate::telemetry::board_view::{PoolView, ResourceView, WaitRow};

mod overlay;
mod pool;
mod views;

pub use overlay::overlay;
pub use pool::lost_task;

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
        #[serde(default)]
        t0: u64,
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
        /// Python's `threading.get_ident()` (masked as in the wait slots).
        #[serde(default)]
        ident: Option<i64>,
        /// The thread's class (`_ExecutorManagerThread`…).
        #[serde(default)]
        cls: Option<String>,
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
        /// An int; an older probe wrote `sys.exit(True)`'s `true`.
        #[serde(deserialize_with = "exit_code")]
        code: i32,
        cpu_s: f64,
    },
    /// A process's own CPU time at its exit (its children's left out).
    Cpu {
        pid: i32,
        cpu_s: f64,
    },
    /// An exit status a Python parent reaped itself (`Popen.poll`).
    Exit {
        pid: i32,
        code: i32,
    },
}

/// An exit status as the probe writes it: an int, or a bool (`true` is 1,
/// as `sys.exit(True)` exits), or null (0, as `sys.exit(None)`).
fn exit_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Int(i32),
        Bool(bool),
        Null(()),
    }
    Ok(match Code::deserialize(d)? {
        Code::Int(c) => c,
        Code::Bool(b) => i32::from(b),
        Code::Null(()) => 0,
    })
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
    /// Semaphore: its value when made, and a BoundedSemaphore's bound.
    #[serde(default)]
    value: i64,
    #[serde(default)]
    bound: i64,
}

/// A Python process as the probe named it.
#[derive(Debug, Clone, PartialEq)]
pub struct PyProc {
    pub ppid: i32,
    pub name: String,
    pub role: String,
    pub method: Option<StartMethod>,
    /// When the interpreter (its probe) started, CLOCK_MONOTONIC ns; 0
    /// when not said.
    pub t0: u64,
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
    /// The waiting thread's Python ident (masked).
    ident: i64,
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
    /// (pid, Python ident) → native thread id.
    own_cpu: HashMap<i32, f64>,
    idents: HashMap<(i32, i64), i32>,
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
    /// Each process's own CPU seconds, said at its exit.
    pub own_cpu: HashMap<i32, f64>,
    /// Threads by Python's names, by native thread id.
    pub threads: HashMap<i32, String>,
    /// Per process, each thread in a wait the probe tracks: its native id
    /// (when the probe said it) and whether only another process can end
    /// it (no timeout).
    pub thread_waits: HashMap<i32, Vec<(Option<i32>, bool)>>,
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
            own_cpu: HashMap::new(),
            idents: HashMap::new(),
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
                t0,
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
                        t0,
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
            Record::Thread {
                tid,
                name,
                ident,
                cls,
            } => {
                // CPython's serving threads are known by their class.
                let name = match cls.as_deref() {
                    Some(c @ ("_ExecutorManagerThread" | "_QueueManagerThread")) => {
                        format!("{c} ({name})")
                    }
                    _ => name,
                };
                self.threads.insert(tid, name);
                if let Some(ident) = ident {
                    self.idents.insert((pid, ident), tid);
                }
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
            Record::Cpu { pid, cpu_s } => {
                self.own_cpu.insert(pid, cpu_s);
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
            // A file being made (empty, or sized but not yet marked) is
            // read next time; anything else that is not the probe's is said.
            let fresh = b.is_empty() || (b.len() == SIZE && b[..8] == [0; 8]);
            if b.len() != SIZE || &b[..8] != MAGIC {
                if !fresh {
                    self.bad_lines += 1;
                }
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
                                ident: word(at),
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
                let v = views::read_values(o);
                if !v.is_empty() {
                    self.values.insert(*id, v);
                }
            }
        }
        // Every object's unique name, made once per read.
        let names = self.names();
        let mut facts = self.facts(&counts, &waits, now_ns, &names);
        self.pool_facts(&mut facts, &counts, &waits, alive, &names);
        facts.exits = self.exits.clone();
        facts.ends = self.ends.clone();
        facts.own_cpu = self.own_cpu.clone();
        facts.threads = self.threads.clone();
        for (pid, w) in &waits {
            let tid = self.idents.get(&(*pid, w.ident)).copied();
            facts
                .thread_waits
                .entry(*pid)
                .or_default()
                .push((tid, !w.deadline));
        }
        self.peaks_of(&mut facts);
        facts
    }

    /// `max_depth` of each queue and `max_waiters` of each lock, as seen.
    fn peaks_of(&mut self, facts: &mut Facts) {
        for line in &mut facts.summary {
            let name = line["name"].as_str().unwrap_or_default().to_string();
            let (key, now) = match line["kind"].as_str() {
                // Counts are read from each process's file in turn (a get
                // may be counted before the put it took): a bounded queue
                // never holds more than its maxsize.
                Some("Queue" | "JoinableQueue" | "SimpleQueue") => (
                    "max_depth",
                    line["puts"]
                        .as_u64()
                        .unwrap_or(0)
                        .saturating_sub(line["gets"].as_u64().unwrap_or(0))
                        .min(line["maxsize"].as_u64().unwrap_or(u64::MAX)),
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
}

#[cfg(test)]
mod tests {
    use super::views::element;
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
                t0: 0,
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
    fn an_end_status_may_be_a_bool_as_sys_exit_true_gave_it() {
        let end = |code: &str| {
            let line = format!("{{\"t\":\"end\",\"pid\":7,\"code\":{code},\"cpu_s\":0.5}}");
            match serde_json::from_str::<Record>(&line) {
                Ok(Record::End { code, .. }) => Some(code),
                _ => None,
            }
        };
        assert_eq!(end("3"), Some(3));
        assert_eq!(end("true"), Some(1));
        assert_eq!(end("false"), Some(0));
        assert_eq!(end("null"), Some(0));
        assert_eq!(end("\"x\""), None);
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

    /// The probe's file layout is written twice — in the probe's
    /// `_mpdash_probe/fileformat.py` and here — so this reads the Python
    /// constants and fails when the two differ (a slot moved on one side
    /// would read garbage silently).
    #[test]
    fn the_python_probe_and_this_reader_agree_on_the_file_layout() {
        let py = crate::session::python::FILE_FORMAT;
        let constant = |name: &str| -> String {
            let line = py
                .lines()
                .find(|l| l.starts_with(&format!("{name} = ")))
                .unwrap_or_else(|| panic!("fileformat.py no longer sets {name}"));
            line[name.len() + 3..].trim().to_string()
        };
        assert_eq!(
            constant("MAGIC"),
            format!("b{:?}", std::str::from_utf8(MAGIC).unwrap())
        );
        assert_eq!(constant("OBJ_SLOTS"), OBJ_SLOTS.to_string());
        assert_eq!(constant("WAIT_SLOTS"), WAIT_SLOTS.to_string());
        assert_eq!(constant("SLOT"), SLOT.to_string());
        assert_eq!(constant("OBJ_AT"), OBJ_AT.to_string());
        assert_eq!(constant("WAIT_AT"), "OBJ_AT + OBJ_SLOTS * SLOT");
        assert_eq!(constant("SIZE"), "WAIT_AT + WAIT_SLOTS * SLOT");
        // A slot is eight i64 words: the Python side's memoryview of it.
        assert_eq!(constant("WORDS"), "SLOT // 8");
        assert_eq!(SLOT, 8 * 8);
        assert_eq!(
            Counts::default().0.len(),
            7,
            "a slot's id and its seven counters"
        );
        // The wait operations, numbered as the runtime's WaitOp.
        let start = py.find("(GET, PUT,").expect("the probe's wait operations");
        let names: Vec<&str> = py[start + 1..py[start..].find(')').unwrap() + start]
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        let end = start + py[start..].find('\n').unwrap();
        let end = end + 1 + py[end + 1..].find('\n').unwrap();
        assert!(
            py[start..end].ends_with(&format!(") = range(1, {})", names.len() + 1)),
            "the wait operations are numbered from 1: {}",
            &py[start..end]
        );
        let ours: Vec<String> = crate::runtime::board::WaitOp::ALL
            .iter()
            .map(|op| format!("{op:?}"))
            .collect();
        let spelled = |n: &str| -> String {
            // GET → Get, JOIN_QUEUE → JoinQueue, COND_WAIT → ConditionWait.
            let n = n.replace("COND_", "CONDITION_");
            n.split('_')
                .map(|w| w[..1].to_string() + &w[1..].to_lowercase())
                .collect()
        };
        assert_eq!(names.iter().map(|n| spelled(n)).collect::<Vec<_>>(), ours);
        for (k, op) in crate::runtime::board::WaitOp::ALL.iter().enumerate() {
            assert_eq!(*op as usize, k + 1, "{op:?} is numbered {}", k + 1);
        }
    }
}
