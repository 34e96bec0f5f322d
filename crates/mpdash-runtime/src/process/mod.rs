//! `Process`: a real OS process started with one of CPython's three start
//! methods, with CPython's vocabulary (`start`, `join`, `is_alive`,
//! `terminate`, `kill`, `exitcode`, `pid`, `name`, `daemon`).
//!
//! Every child gets `PR_SET_PDEATHSIG = SIGKILL` (it dies with its parent) and
//! writes its start on the board: request → first instruction → ready.
//!
//! ```no_run
//! # use mpdash_runtime::{board::*, process::*, registry::Target};
//! let board = Board::create(BoardSize::default()).unwrap();
//! let ctx = Context::new(board, StartMethod::Spawn);
//! let mut p = Process::new(&ctx, "f", Target::exit());
//! p.start().unwrap();
//! assert_eq!(p.join(None), Some(0));
//! ```

use std::cell::RefCell;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{ForkResult, Pid, getpid, getppid};
use serde::{Deserialize, Serialize};

pub mod forkserver;

use crate::board::{Board, BoardError, ProcState, Role, StartMethod, WaitNote, WaitOp};
use crate::registry::{Child, Target, registry};
use crate::sys;
use forkserver::ForkServerClient;

/// Fd number where an exec'd child finds the board.
pub const BOARD_FD: i32 = 3;
/// Fd number where an exec'd child finds its extra fd (the fork server's socket).
pub const EXTRA_FD: i32 = 4;
/// argv[1] that marks an exec'd child of ours.
pub const SPAWN_ARG: &str = "__spawn";

/// Exit status of a child that could not set itself up (sysexits' `EX_SOFTWARE`).
pub const EXIT_SOFTWARE: i32 = 70;
/// Exit status of a child whose system calls failed at set-up (sysexits' `EX_OSERR`).
pub const EXIT_OSERR: i32 = 71;
/// Exit status of a child given data it cannot read (sysexits' `EX_DATAERR`).
pub const EXIT_DATAERR: i32 = 65;
/// Exit status of a spawned child whose `exec` failed (as shells use it).
pub const EXIT_EXEC_FAILED: i32 = 127;

/// What a child needs to rebuild itself after exec or in the fork server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildSpec {
    pub slot: u32,
    pub name: String,
    pub method: StartMethod,
    pub logical_ppid: i32,
    /// Index within its group (`{i}` in printed text, `pool worker {i}`).
    #[serde(default)]
    pub index: u32,
    /// Fds handed to the child by name (pipe ends), with their numbers *in the child*.
    #[serde(default)]
    pub fds: Vec<(String, i32)>,
    /// Whether an extra fd (the fork server's socket) waits at [`EXTRA_FD`].
    #[serde(default)]
    pub has_extra: bool,
    pub target: Target,
}

/// First fd number where an exec'd child finds the fds handed to it.
pub const FIRST_PASSED_FD: i32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("process {0:?} was already started")]
    AlreadyStarted(String),
    #[error("{0}")]
    Board(#[from] BoardError),
    #[error("starting {0:?}: {1}")]
    Sys(String, nix::Error),
    #[error("at most {0} fds can be handed to a child")]
    TooManyFds(usize),
    #[error("the child's spec cannot be written: {0}")]
    Spec(#[from] serde_json::Error),
    #[error("fork server {pid}: {source}")]
    ForkServerIo { pid: i32, source: nix::Error },
    #[error("the fork server {0} is gone")]
    ForkServerGone(i32),
    #[error("fork server {pid} could not start the child: {reason}")]
    ForkServerRefused { pid: i32, reason: String },
    #[error("fork server {0} sent a garbled reply")]
    ForkServerGarbled(i32),
}

struct Inner {
    board: Board,
    method: StartMethod,
    /// The program spawn children exec (CPython's `set_executable`).
    exe: CString,
    forkserver: RefCell<Option<(ForkServerClient, Process)>>,
}

/// The process-wide setting a `multiprocessing` context carries: the board and
/// the start method. Single-threaded by design (fork requires it).
#[derive(Clone)]
pub struct Context {
    inner: Rc<Inner>,
}

impl Context {
    pub fn new(board: Board, method: StartMethod) -> Context {
        Self::with_executable(board, method, c"/proc/self/exe".into())
    }

    /// A context whose spawn children (and fork server) exec `exe`, which
    /// must be the mpdash binary: for using the runtime from another program.
    pub fn with_executable(board: Board, method: StartMethod, exe: CString) -> Context {
        Context {
            inner: Rc::new(Inner {
                board,
                method,
                exe,
                forkserver: RefCell::new(None),
            }),
        }
    }

    pub fn board(&self) -> &Board {
        &self.inner.board
    }

    pub fn method(&self) -> StartMethod {
        self.inner.method
    }

    /// Asks the fork server (started on first use) to fork a child for `spec`.
    /// A fork server that died (killed, crashed) is reaped and replaced by a
    /// new one, as CPython's `ensure_running` does, instead of failing every
    /// start after it.
    fn forkserver_start(&self, spec: &ChildSpec) -> Result<Pid, ProcessError> {
        let mut fs = self.inner.forkserver.borrow_mut();
        for attempt in 0..2 {
            if let Some((_, server)) = fs.as_mut()
                && !server.is_alive()
            {
                fs.take();
            }
            if fs.is_none() {
                *fs = Some(ForkServerClient::start(self)?);
            }
            let (client, _) = fs.as_mut().expect("just set");
            match client.request(spec, self.board().region().fd()) {
                Err(ProcessError::ForkServerIo { .. } | ProcessError::ForkServerGone(_))
                    if attempt == 0 =>
                {
                    // It died since we last looked: the next round replaces it.
                    if let Some((_, server)) = fs.as_mut() {
                        server.join(Some(Duration::from_millis(200)));
                    }
                }
                other => return other,
            }
        }
        Err(ProcessError::ForkServerGone(0))
    }

    /// Stops the fork server, if one was started, and reaps it.
    pub fn shutdown(&self) {
        if let Some((client, mut server)) = self.inner.forkserver.borrow_mut().take() {
            drop(client);
            if server.join(Some(Duration::from_secs(1))).is_none() {
                server.kill();
                server.join(None);
            }
        }
    }
}

/// A process of the run, in CPython's vocabulary.
pub struct Process {
    ctx: Context,
    name: String,
    role: Role,
    index: u32,
    target: Target,
    method: StartMethod,
    /// Daemonic processes are killed, not joined, when the main process ends.
    pub daemon: bool,
    slot: Option<u32>,
    pid: Option<Pid>,
    pidfd: Option<OwnedFd>,
    own_child: bool,
    exitcode: Option<i32>,
    /// Fds to hand over by name; they must stay open until `start` returns.
    passed: Vec<(String, i32)>,
}

impl Process {
    /// A process that will run `target` with the context's start method.
    pub fn new(ctx: &Context, name: &str, target: Target) -> Process {
        Process {
            ctx: ctx.clone(),
            name: name.to_string(),
            role: Role::Process,
            index: 0,
            target,
            method: ctx.method(),
            daemon: false,
            slot: None,
            pid: None,
            pidfd: None,
            own_child: true,
            exitcode: None,
            passed: Vec::new(),
        }
    }

    /// Hands the child an fd (a pipe end) under `name`; it stays owned by the
    /// caller, who keeps it open at least until `start` returns.
    pub fn pass_fd(mut self, name: &str, fd: BorrowedFd<'_>) -> Process {
        use std::os::fd::AsRawFd;
        self.passed.push((name.to_string(), fd.as_raw_fd()));
        self
    }

    /// Sets the role and index shown on the board (`pool worker 3`).
    pub fn with_role(mut self, role: Role, index: u32) -> Process {
        self.role = role;
        self.index = index;
        self
    }

    /// Overrides the context's start method for this process.
    pub fn with_method(mut self, method: StartMethod) -> Process {
        self.method = method;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> Option<Pid> {
        self.pid
    }

    pub fn slot(&self) -> Option<u32> {
        self.slot
    }

    /// CPython's `exitcode`: `None` while running, the exit status, or minus
    /// the signal that killed it.
    pub fn exitcode(&self) -> Option<i32> {
        self.exitcode
    }

    /// Starts the process. Returns once the child exists (it may not have run
    /// its first instruction yet).
    pub fn start(&mut self) -> Result<(), ProcessError> {
        self.start_with_extra_fd(None)
    }

    pub(crate) fn start_with_extra_fd(
        &mut self,
        extra: Option<BorrowedFd<'_>>,
    ) -> Result<(), ProcessError> {
        if self.slot.is_some() {
            return Err(ProcessError::AlreadyStarted(self.name.clone()));
        }
        let board = self.ctx.board().clone();
        let me = getpid();
        let slot = board.new_proc(&self.name, self.role, self.method, self.index, me.as_raw())?;
        self.slot = Some(slot);
        let spec = ChildSpec {
            slot,
            name: self.name.clone(),
            method: self.method,
            logical_ppid: me.as_raw(),
            index: self.index,
            fds: self.passed.clone(),
            has_extra: extra.is_some(),
            target: self.target.clone(),
        };
        let pid = match self.method {
            StartMethod::Fork => fork_child(&board, &spec, me),
            StartMethod::Spawn => spawn_child(&self.ctx.inner.exe, &board, &spec, me, extra),
            StartMethod::Forkserver => {
                self.own_child = false;
                self.ctx.forkserver_start(&spec)
            }
        };
        let pid = match pid {
            Ok(p) => p,
            Err(e) => {
                if let Some(s) = board.proc(slot) {
                    s.set_state(ProcState::Exited);
                }
                return Err(e);
            }
        };
        if let Some(s) = board.proc(slot) {
            s.pid.store(pid.as_raw(), Ordering::Relaxed);
        }
        self.pid = Some(pid);
        if self.own_child {
            self.pidfd = sys::pidfd_open(pid).ok();
        }
        Ok(())
    }

    /// Waits for the process to end, at most `timeout`; returns its exitcode,
    /// or `None` if it is still running (or was never started).
    pub fn join(&mut self, timeout: Option<Duration>) -> Option<i32> {
        if self.exitcode.is_some() {
            return self.exitcode;
        }
        let (pid, slot) = (self.pid?, self.slot?);
        let deadline = timeout.map(|t| Instant::now() + t);
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let board = self.ctx.board().clone();
        let slot = board.proc(slot)?;
        let mut note =
            WaitNote::new(&board, WaitOp::Join, None, i64::from(pid.as_raw())).timeout(timeout);
        if self.own_child {
            loop {
                if let Ok(Some(r)) = sys::wait4(pid.as_raw(), true) {
                    slot.record_exit(&r);
                    self.exitcode = Some(sys::exit_code_of(r.status));
                    return self.exitcode;
                }
                let wait = left();
                if wait == Some(Duration::ZERO) {
                    return None;
                }
                note.sleep();
                match &self.pidfd {
                    Some(fd) => {
                        let ms = wait.map_or(PollTimeout::NONE, |d| {
                            PollTimeout::try_from(d.as_millis().min(60_000) as i32 + 1)
                                .unwrap_or(PollTimeout::MAX)
                        });
                        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                        let _ = poll(&mut fds, ms);
                    }
                    None => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        } else {
            loop {
                let s = slot.state.load(Ordering::Acquire);
                if ProcState::from_u32(s) == ProcState::Exited {
                    self.exitcode =
                        Some(sys::exit_code_of(slot.wait_status.load(Ordering::Relaxed)));
                    return self.exitcode;
                }
                let wait = left();
                if wait == Some(Duration::ZERO) {
                    return None;
                }
                note.sleep();
                sys::futex_wait(&slot.state, s, wait);
            }
        }
    }

    /// Whether the process has started and not yet ended.
    pub fn is_alive(&mut self) -> bool {
        if self.pid.is_none() {
            return false;
        }
        self.join(Some(Duration::ZERO)).is_none()
    }

    /// CPython's `repr(process)`: `<Process name='f' pid=12 parent=10 started>`,
    /// `… stopped exitcode=-SIGTERM>` once it ended.
    pub fn repr(&mut self) -> String {
        let parent = getpid();
        match (self.pid, self.is_alive()) {
            (None, _) => format!("<Process name='{}' parent={parent} initial>", self.name),
            (Some(pid), true) => format!(
                "<Process name='{}' pid={pid} parent={parent} started>",
                self.name
            ),
            (Some(pid), false) => {
                let code = match self.exitcode {
                    Some(0) | None => String::new(),
                    Some(c) if c < 0 => match Signal::try_from(-c) {
                        Ok(s) => format!(" exitcode=-{}", s.as_str()),
                        Err(_) => format!(" exitcode={c}"),
                    },
                    Some(c) => format!(" exitcode={c}"),
                };
                format!(
                    "<Process name='{}' pid={pid} parent={parent} stopped{code}>",
                    self.name
                )
            }
        }
    }

    /// Sends SIGTERM (CPython's `terminate`).
    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Sends SIGKILL (CPython's `kill`).
    pub fn kill(&self) {
        self.signal(Signal::SIGKILL);
    }

    fn signal(&self, sig: Signal) {
        if let (Some(pid), None) = (self.pid, self.exitcode) {
            let _ = kill(pid, sig);
        }
    }
}

/// First words of every child right after `fork`: die with the parent, and
/// leave at once if the parent is already gone.
fn adopt_parent(parent: Pid) {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if getppid() != parent {
        sys::exit_now(1);
    }
}

fn fork_child(board: &Board, spec: &ChildSpec, me: Pid) -> Result<Pid, ProcessError> {
    // SAFETY: the processes that start children (scenario main, fork server,
    // benchmark) are single-threaded.
    match unsafe { sys::fork() } {
        Ok(ForkResult::Child) => {
            let t_first = sys::now_ns();
            sys::forget_ids();
            adopt_parent(me);
            sys::exit_now(child_main(board, spec, t_first, None))
        }
        Ok(ForkResult::Parent { child }) => Ok(child),
        Err(e) => Err(ProcessError::Sys(spec.name.clone(), e)),
    }
}

fn spawn_child(
    exe: &CString,
    board: &Board,
    spec: &ChildSpec,
    me: Pid,
    extra: Option<BorrowedFd<'_>>,
) -> Result<Pid, ProcessError> {
    let err = |e| ProcessError::Sys(spec.name.clone(), e);
    // In the exec'd child the handed fds sit at FIRST_PASSED_FD, +1, …
    let sources: Vec<i32> = spec.fds.iter().map(|(_, fd)| *fd).collect();
    let mut spec = spec.clone();
    for (i, (_, fd)) in spec.fds.iter_mut().enumerate() {
        *fd = FIRST_PASSED_FD + i as i32;
    }
    let spec = &spec;
    let json = serde_json::to_string(spec)?;
    // The spec travels on the child's stdin (a memfd), not in argv: an
    // argument holds at most 128 KiB, and `ps` would show it to everyone.
    let spec_fd = sys::text_fd(&json).map_err(err)?;
    let argv = [
        CString::new(format!("mpdash: {}", spec.name)).unwrap_or_default(),
        CString::new(SPAWN_ARG).unwrap_or_default(),
        CString::new(SPEC_ON_STDIN).unwrap_or_default(),
    ];
    // SAFETY: single-threaded caller, as in `fork_child`.
    match unsafe { sys::fork() }.map_err(err)? {
        ForkResult::Child => {
            adopt_parent(me);
            let b = sys::dup_above(&board.region().fd(), 10);
            let x = extra.map(|fd| sys::dup_above(&fd, 10));
            let passed: Vec<_> = sources.iter().map(|fd| sys::dup_above(fd, 10)).collect();
            let placed = sys::place_fd(&spec_fd, 0).is_ok()
                && b.and_then(|b| sys::place_fd(&b, BOARD_FD)).is_ok()
                && x.is_none_or(|x| x.and_then(|x| sys::place_fd(&x, EXTRA_FD)).is_ok())
                && passed.into_iter().enumerate().all(|(i, fd)| {
                    fd.and_then(|fd| sys::place_fd(&fd, FIRST_PASSED_FD + i as i32))
                        .is_ok()
                });
            if placed {
                let _ = nix::unistd::execv(exe, &argv);
            }
            sys::exit_now(EXIT_EXEC_FAILED)
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

/// argv[2] of a spawned child whose spec waits on its stdin.
pub const SPEC_ON_STDIN: &str = "@stdin";

/// Entry of an exec'd child (`mpdash __spawn @stdin`, or the spec itself):
/// called first thing in `main`.
pub fn spawn_entry(t_first: u64, spec_arg: &str) -> i32 {
    // SAFETY: our parent placed the spec's memfd at fd 0 before exec; nothing
    // else in this fresh process uses it.
    let spec_json = match unsafe { sys::spec_text(spec_arg, SPEC_ON_STDIN, 0) } {
        Ok(s) => s,
        Err(e) => {
            crate::registry::report(&format!("mpdash: cannot read the child spec: {e}"));
            return EXIT_SOFTWARE;
        }
    };
    let spec: ChildSpec = match serde_json::from_str(&spec_json) {
        Ok(s) => s,
        Err(e) => {
            crate::registry::report(&format!("mpdash: bad child spec: {e}"));
            return EXIT_SOFTWARE;
        }
    };
    // SAFETY: our parent placed the board at BOARD_FD just before exec, and
    // nothing else in this fresh process owns it.
    let board = match Board::open(unsafe { sys::adopt_fd(BOARD_FD) }) {
        Ok(b) => b,
        Err(e) => {
            crate::registry::report(&format!("mpdash: {}: cannot map the board: {e}", spec.name));
            return EXIT_SOFTWARE;
        }
    };
    let extra = spec.has_extra.then(|| {
        // SAFETY: placed by our parent at EXTRA_FD for a fork server, ours alone.
        unsafe { sys::adopt_fd(EXTRA_FD) }
    });
    child_main(&board, &spec, t_first, extra)
}

/// What every child runs once it exists, whatever its start method: it
/// writes its start on the board, then runs its entry point.
pub fn child_main(board: &Board, spec: &ChildSpec, t_first: u64, extra: Option<OwnedFd>) -> i32 {
    let Some(slot) = board.proc(spec.slot) else {
        return EXIT_SOFTWARE;
    };
    sys::set_my_slot(spec.slot);
    slot.record_start(t_first, spec.logical_ppid);
    set_comm(&spec.name);
    let fds = spec
        .fds
        .iter()
        .map(|(name, fd)| {
            // SAFETY: the parent handed us this fd under this name (inherited
            // by fork, placed before exec, or received by SCM_RIGHTS); in this
            // process nothing else owns it.
            (name.clone(), unsafe { sys::adopt_fd(*fd) })
        })
        .collect();
    slot.record_ready();
    let Some(entry) = registry().find_entry(&spec.target.entry) else {
        crate::registry::report(&format!(
            "{}: no entry point {:?} (register it with runtime::init)",
            spec.name, spec.target.entry
        ));
        return EXIT_SOFTWARE;
    };
    let child = Child {
        board,
        slot,
        name: &spec.name,
        method: spec.method,
        index: spec.index,
        fds,
        extra,
    };
    entry(child, &spec.target.arg)
}

/// Names the process for `ps`/`top` (`comm`, at most 15 bytes).
pub fn set_comm(name: &str) {
    let mut n = name.len().min(15);
    while !name.is_char_boundary(n) {
        n -= 1;
    }
    if let Ok(c) = CString::new(&name[..n]) {
        let _ = nix::sys::prctl::set_name(&c);
    }
}
