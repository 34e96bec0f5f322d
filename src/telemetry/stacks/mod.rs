//! Stacks of Python processes mpdash did not start (DESIGN §10): the tree
//! below a pid from `/proc`, each Python process's threads and frames read
//! from outside with the `py-spy` crate, never pausing the program
//! (`LockingStrategy::NonBlocking`), and the wait each thread is in
//! ([`waits`]).

pub mod semlock;
pub mod verdict;
pub mod view;
pub mod waits;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use py_spy::config::LockingStrategy;
use py_spy::{Config, PythonSpy};

use crate::telemetry::proc_stat::parse_stat;
pub use waits::Wait;

/// A local variable of a frame (only the API frames' arguments are used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    pub name: String,
    pub addr: usize,
    pub arg: bool,
    pub repr: Option<String>,
}

/// One frame of a Python stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The qualified name (`Queue.get`) on CPython 3.11+, else the name.
    pub function: String,
    pub file: String,
    pub line: i32,
    /// In the program's own files (not the stdlib, not site-packages).
    pub own: bool,
    pub locals: Option<Vec<Local>>,
}

impl Frame {
    /// The file's last component: `prog.py`.
    pub fn short_file(&self) -> String {
        self.file
            .rsplit('/')
            .next()
            .unwrap_or(&self.file)
            .to_string()
    }
}

/// One Python thread.
#[derive(Debug, Clone)]
pub struct ThreadStack {
    /// `threading`'s name (`MainThread`), when it could be read.
    pub name: Option<String>,
    /// Python's ident (`threading.get_ident()`).
    pub ident: u64,
    /// The kernel's thread id.
    pub tid: Option<u64>,
    /// Running or runnable (the kernel's `R`), else sleeping.
    pub active: bool,
    pub owns_gil: bool,
    /// Innermost first.
    pub frames: Vec<Frame>,
    pub wait: Option<Wait>,
    /// One of a Pool's own threads (`Pool._handle_results`).
    pub pool_thread: Option<&'static str>,
}

impl ThreadStack {
    /// The innermost frame in the program's own files.
    pub fn user_frame(&self) -> Option<usize> {
        waits::own_frame(&self.frames)
    }

    /// Idle in a wait that only someone else can end (no deadline).
    pub fn provably_waiting(&self) -> bool {
        !self.active && self.wait.as_ref().is_some_and(|w| !w.ends_by_itself)
    }
}

/// Why a process's stacks could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// It ended.
    Gone,
    /// The kernel refused (another user, Yama's `ptrace_scope`, seccomp).
    Permission(String),
    /// Not a Python process.
    NotPython,
    /// Python, but its interpreter could not be read (yet): just started,
    /// an unsupported version, a torn read.
    Failed(String),
}

/// What to do about a refusal, for the message.
pub const PERMISSION_FIX: &str = "run mpdash as the same user as the program (and, under Yama, \
     `sudo sysctl kernel.yama.ptrace_scope=0`), or as root / with CAP_SYS_PTRACE \
     (`sudo setcap cap_sys_ptrace+ep $(which mpdash)`); in a container add --cap-add SYS_PTRACE";

/// A process of the tree, from `/proc/PID/stat` and `cmdline`.
#[derive(Debug, Clone)]
pub struct ProcInfo {
    pub pid: i32,
    pub ppid: i32,
    pub start_ticks: u64,
    pub cpu_ticks: u64,
    /// The kernel's state letter (`Z`: ended, not yet reaped).
    pub state: char,
    /// The kernel's count of its threads.
    pub threads: u64,
    pub cmdline: String,
    /// A helper of `multiprocessing` ([`helper_of`]); not one for a child
    /// the fork server forked, which keeps the server's command line.
    pub helper: Option<&'static str>,
}

impl ProcInfo {
    /// The command line with the program's directory left out
    /// (`python3 prog.py`), for a row's name.
    pub fn short_name(&self) -> String {
        let (prog, args) = self.cmdline.split_once(' ').unwrap_or((&self.cmdline, ""));
        let prog = prog.rsplit('/').next().unwrap_or(prog);
        if args.is_empty() {
            prog.to_string()
        } else {
            format!("{prog} {args}")
        }
    }

    pub fn read(pid: i32) -> Option<ProcInfo> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let st = parse_stat(&text, 1)?;
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let mut cmdline = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        if cmdline.is_empty() {
            // A zombie or a kernel thread: its name.
            cmdline = text
                .find('(')
                .zip(text.rfind(')'))
                .map(|(a, b)| format!("[{}]", &text[a + 1..b]))
                .unwrap_or_default();
        }
        Some(ProcInfo {
            pid,
            ppid: st.ppid,
            start_ticks: st.start_ticks,
            cpu_ticks: st.cpu_ticks,
            state: st.state,
            threads: st.threads,
            helper: helper_of(&cmdline),
            cmdline,
        })
    }

    /// `multiprocessing`'s helpers, which wait forever by design.
    pub fn helper(&self) -> Option<&'static str> {
        self.helper
    }
}

/// A handler for a signal the program chose (`/proc/PID/status` SigCgt):
/// an `alarm()` or a timer may end any wait, and the kernel does not show
/// it. CPython's SIGINT handler and glibc's signals 32 and 33 are not the
/// program's. `Some(signal numbers)`, or `None` when there is none.
pub fn own_signal_handlers(pid: i32) -> Option<Vec<i32>> {
    const NOT_THE_PROGRAM_S: u64 = 1 << (libc::SIGINT - 1) | 1 << 31 | 1 << 32;
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("SigCgt:"))?;
    let mask = u64::from_str_radix(line["SigCgt:".len()..].trim(), 16).ok()? & !NOT_THE_PROGRAM_S;
    (mask != 0).then(|| (1..=64).filter(|n| mask & (1 << (n - 1)) != 0).collect())
}

/// Asleep in `wait4`/`waitid` without WNOHANG (a shell or an interpreter
/// wrapper waiting for its child): it can serve nothing, only its children
/// can end that wait (`/proc/PID/syscall`, readable by whoever may read its
/// memory).
pub fn waiting_for_child(pid: i32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return false;
    };
    let Some(nr) = text
        .split_ascii_whitespace()
        .next()
        .and_then(|n| n.parse::<i64>().ok())
    else {
        return false;
    };
    nr == libc::SYS_wait4 || nr == libc::SYS_waitid
}

/// A helper of `multiprocessing`, by its command line.
pub fn helper_of(cmdline: &str) -> Option<&'static str> {
    if cmdline.contains("from multiprocessing.forkserver import main") {
        Some("fork server")
    } else if cmdline.contains("resource_tracker import main") {
        Some("resource tracker")
    } else {
        None
    }
}

/// The process `root` and all its descendants, parents before children;
/// `None` when `root` does not exist.
pub fn tree(root: i32) -> Option<Vec<ProcInfo>> {
    let first = ProcInfo::read(root)?;
    let mut all: Vec<ProcInfo> = crate::telemetry::discovery::descendants(root)
        .into_iter()
        .filter_map(ProcInfo::read)
        .collect();
    all.sort_by_key(|p| (p.start_ticks, p.pid));
    all.insert(0, first);
    // The fork server's children run the program, under its command line.
    let helpers: HashMap<i32, Option<&'static str>> =
        all.iter().map(|p| (p.pid, p.helper)).collect();
    for p in &mut all {
        if p.helper.is_some() && helpers.get(&p.ppid).copied().flatten() == p.helper {
            p.helper = None;
        }
    }
    Some(all)
}

/// A process attached to.
struct Attached {
    spy: PythonSpy,
    start_ticks: u64,
}

/// Reads stacks, keeping one attachment per process.
pub struct StackReader {
    spies: HashMap<i32, Attached>,
    /// The program's source files as read (for calls that leave no frame).
    sources: HashMap<String, Option<Vec<String>>>,
    config: Config,
    /// Time to attach to each process (`PythonSpy::new`).
    pub attach_times: Vec<Duration>,
    /// Time of each sample of one process (`get_stack_traces`).
    pub sample_times: Vec<Duration>,
}

/// One read of one process.
#[derive(Debug, Clone)]
pub struct Stacks {
    /// `3.11.7`.
    pub version: String,
    pub threads: Vec<ThreadStack>,
}

impl Default for StackReader {
    fn default() -> Self {
        StackReader::new()
    }
}

impl StackReader {
    pub fn new() -> StackReader {
        let config = Config {
            blocking: LockingStrategy::NonBlocking,
            // The arguments of the API frames: a timeout, `self`'s address.
            dump_locals: 1,
            collect_thread_names: true,
            ..Config::default()
        };
        StackReader {
            spies: HashMap::new(),
            sources: HashMap::new(),
            config,
            attach_times: Vec::new(),
            sample_times: Vec::new(),
        }
    }

    /// Forgets processes that are no longer of the tree.
    pub fn retain(&mut self, keep: impl Fn(i32) -> bool) {
        self.spies.retain(|pid, _| keep(*pid));
    }

    /// The stacks of `p` now.
    pub fn read(&mut self, p: &ProcInfo) -> Result<Stacks, ReadError> {
        if p.state == 'Z' || p.state == 'X' {
            return Err(ReadError::Gone);
        }
        if self
            .spies
            .get(&p.pid)
            .is_some_and(|a| a.start_ticks != p.start_ticks)
        {
            self.spies.remove(&p.pid);
        }
        if !self.spies.contains_key(&p.pid) {
            if !looks_like_python(p.pid) {
                return Err(
                    if std::path::Path::new(&format!("/proc/{}", p.pid)).exists() {
                        ReadError::NotPython
                    } else {
                        ReadError::Gone
                    },
                );
            }
            let t = Instant::now();
            let spy = PythonSpy::new(p.pid, &self.config).map_err(|e| classify(p.pid, &e))?;
            self.attach_times.push(t.elapsed());
            self.spies.insert(
                p.pid,
                Attached {
                    spy,
                    start_ticks: p.start_ticks,
                },
            );
        }
        let a = self.spies.get_mut(&p.pid).expect("attached above");
        let t = Instant::now();
        let traces = a.spy.get_stack_traces();
        self.sample_times.push(t.elapsed());
        let traces = traces.map_err(|e| classify(p.pid, &e))?;
        let threads = traces
            .into_iter()
            .map(|t| {
                let frames: Vec<Frame> = t
                    .frames
                    .into_iter()
                    .map(|f| Frame {
                        own: waits::is_own_file(&f.filename),
                        function: f.name,
                        file: f.filename,
                        line: f.line,
                        locals: f.locals.map(|ls| {
                            ls.into_iter()
                                .map(|l| Local {
                                    name: l.name,
                                    addr: l.addr,
                                    arg: l.arg,
                                    repr: l.repr,
                                })
                                .collect()
                        }),
                    })
                    .collect();
                // An idle thread whose innermost frame is the program's
                // own may be in a C call that leaves no frame: its line says.
                let wait = waits::wait_of(&frames).or_else(|| {
                    let f = frames
                        .first()
                        .filter(|f| f.own && !t.active && waits::own_frame(&frames) == Some(0))?;
                    let line = source_line(&mut self.sources, p.pid, &f.file, f.line)?;
                    waits::bare_acquire(&frames, &line)
                });
                ThreadStack {
                    name: t.thread_name,
                    ident: t.thread_id,
                    tid: t.os_thread_id,
                    active: t.active,
                    owns_gil: t.owns_gil,
                    wait,
                    pool_thread: waits::pool_thread(&frames),
                    frames,
                }
            })
            .collect();
        Ok(Stacks {
            version: a.spy.version.to_string(),
            threads,
        })
    }
}

/// Line `line` (1-based) of the program's file `file`, read once.
fn source_line(
    cache: &mut HashMap<String, Option<Vec<String>>>,
    pid: i32,
    file: &str,
    line: i32,
) -> Option<String> {
    // A relative name is the process's own working directory's.
    let file = if file.starts_with('/') {
        file.to_string()
    } else {
        format!("/proc/{pid}/cwd/{file}")
    };
    // A few programs' files at most: a bound all the same.
    if cache.len() > 256 {
        cache.clear();
    }
    let lines = cache.entry(file.clone()).or_insert_with(|| {
        let meta = std::fs::metadata(&file).ok()?;
        if meta.len() > 4 << 20 {
            return None;
        }
        Some(
            std::fs::read_to_string(&file)
                .ok()?
                .lines()
                .map(String::from)
                .collect(),
        )
    });
    lines
        .as_ref()?
        .get(usize::try_from(line).ok()?.checked_sub(1)?)
        .cloned()
}

/// An interpreter, or a program with libpython mapped.
fn looks_like_python(pid: i32) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = exe.rsplit('/').next().unwrap_or("");
    if base.starts_with("python") || base.starts_with("pypy") {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
        Ok(maps) => maps.contains("libpython"),
        // Refused: let py-spy say why.
        Err(e) => e.kind() == std::io::ErrorKind::PermissionDenied,
    }
}

fn classify(pid: i32, e: &anyhow::Error) -> ReadError {
    let refused = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
            || {
                let s = c.to_string();
                s.contains("Permission denied") || s.contains("Operation not permitted")
            }
    });
    if refused {
        let mut why = format!(
            "{} — reading another process's memory needs ptrace permission",
            e.root_cause()
        );
        if let Ok(scope) = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope") {
            why += &format!(" (kernel.yama.ptrace_scope is {})", scope.trim());
        }
        return ReadError::Permission(why);
    }
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return ReadError::Gone;
    }
    ReadError::Failed(format!("{e:#}"))
}
