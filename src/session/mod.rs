//! One run of a scenario, seen from the dashboard: it creates the board,
//! starts the scenario's main process (our binary again, in its own process
//! group, with `PR_SET_PDEATHSIG`), relays its output and kills the whole
//! group when dropped. The dashboard is a child subreaper, so every process of
//! a run that loses its parent comes back to it to be reaped.

pub mod command;
pub mod output;
pub mod python;
pub mod source;

pub use source::Source;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossbeam_channel::Sender;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::runtime::board::{Board, ProcState, Role, StartMethod};
use crate::runtime::process::{BOARD_FD, EXTRA_FD};
use crate::runtime::sys::{self, Reaped};
use crate::scenario::Scenario;
use crate::scenario::main_process::{MAIN_ARG, MainSpec, SPEC_ON_FD};
use crate::telemetry::observer::Watch;

/// How long a killed Python program's resource tracker may take to clean
/// up after the program's other processes are gone.
pub const TRACKER_GRACE: Duration = Duration::from_secs(2);

/// Longest output line kept; the rest is cut (a hostile child cannot make us allocate).
pub const MAX_LINE: usize = 4096;

/// What happens around a run, delivered to the loop that owns it.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    Output {
        run: u64,
        /// Who printed it (0: not known, e.g. a watched command).
        pid: i32,
        line: String,
    },
    OutputClosed {
        run: u64,
    },
    Reaped(Reaped),
    /// SIGINT, SIGTERM or SIGHUP reached the dashboard.
    Signal(i32),
}

/// What a [`SessionEvent`] means to the loop that owns the run, once the
/// session has taken what it keeps (exit statuses, the output's end).
#[derive(Debug, Clone, PartialEq)]
pub enum Happened {
    /// A line the run printed (`pid` 0: not known who).
    Output { pid: i32, line: String },
    /// The run's main process was just reaped.
    Ended,
    /// SIGINT, SIGTERM or SIGHUP reached mpdash.
    Signal(i32),
    /// Nothing the owner needs to act on (another run's event, a reap).
    Nothing,
}

/// A running (or finished) run of a scenario.
pub struct Session {
    pub id: u64,
    pub scenario: Arc<Scenario>,
    pub method: StartMethod,
    pub board: Board,
    pub main_pid: Pid,
    pub started: Instant,
    /// When the main process was reaped.
    pub ended: Option<Instant>,
    pub main_exit: Option<i32>,
    pub output_closed: bool,
    killed: bool,
    /// Where the run comes from (a command's rows are found in `/proc`).
    pub source: Source,
    /// A Python program's probe directory (removed with the session).
    pub probe: Option<python::ProbeDir>,
}

impl Session {
    /// Creates the board and starts the scenario's main process. Call from the
    /// main thread: `PR_SET_PDEATHSIG` fires when the *thread* that forked exits.
    pub fn launch(
        id: u64,
        scenario: Arc<Scenario>,
        method: StartMethod,
        events: Sender<SessionEvent>,
    ) -> anyhow::Result<Session> {
        Self::launch_mode(id, scenario, method, false, events)
    }

    /// `scale`: the main process measures the scenario's `[scaling]`.
    pub fn launch_mode(
        id: u64,
        scenario: Arc<Scenario>,
        method: StartMethod,
        scale: bool,
        events: Sender<SessionEvent>,
    ) -> anyhow::Result<Session> {
        let board = Board::create(scenario.board_size()).context("creating the board")?;
        let me = std::process::id() as i32;
        let slot = board.new_proc("main", Role::Main, method, 0, me)?;
        let spec = MainSpec {
            scenario: (*scenario).clone(),
            method,
            slot,
            parent: me,
            scale,
        };
        // The spec (the whole scenario) goes by fd, not argv: no size limit,
        // and not on display in `ps`.
        let spec = sys::text_fd(&serde_json::to_string(&spec)?).context("writing the spec")?;
        let (main_pid, reader, key) = spawn_self(
            "mpdash: main",
            &[MAIN_ARG, SPEC_ON_FD],
            &board,
            libc::SIGKILL,
            Some(spec.as_raw_fd()),
        )
        .context("starting the scenario's main process")?;
        drop(spec);
        if let Some(s) = board.proc(slot) {
            s.pid
                .store(main_pid.as_raw(), std::sync::atomic::Ordering::Relaxed);
        }
        output::relay(id, reader, key, true, None, events);
        Ok(Session::new(
            id,
            scenario,
            method,
            board,
            main_pid,
            Source::Scenario,
        ))
    }

    fn new(
        id: u64,
        scenario: Arc<Scenario>,
        method: StartMethod,
        board: Board,
        main_pid: Pid,
        source: Source,
    ) -> Session {
        Session {
            id,
            scenario,
            method,
            board,
            main_pid,
            started: Instant::now(),
            ended: None,
            main_exit: None,
            output_closed: false,
            killed: false,
            source,
            probe: None,
        }
    }

    /// Starts `argv` as the root of a run (`mpdash watch`): in its own process
    /// group, killed if we die, its output relayed; its processes are then
    /// found in `/proc` by the sampler and written on the board.
    pub fn launch_command(
        id: u64,
        scenario: Arc<Scenario>,
        argv: &[String],
        probe: bool,
        events: Sender<SessionEvent>,
    ) -> anyhow::Result<Session> {
        let probe_dir = if probe {
            Some(python::ProbeDir::create()?)
        } else {
            None
        };
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| anyhow::anyhow!("watch: no command given"))?;
        let board = Board::create(crate::runtime::board::BoardSize {
            proc_slots: 4096,
            res_slots: 4,
            arena_bytes: 4096,
        })
        .context("creating the board")?;
        let me = std::process::id() as i32;
        let slot = board.new_proc("watch guard", Role::Foreign, StartMethod::Fork, 0, me)?;
        // The command runs under a guard (our binary again): a subreaper
        // that keeps its orphans below it and kills them when it ends or
        // when we die, which PR_SET_PDEATHSIG tells it with SIGTERM.
        let me_arg = me.to_string();
        let probe_root = probe_dir
            .as_ref()
            .map(|d| d.root().to_string_lossy().into_owned());
        let mut guard_args = vec![crate::session::command::GUARD_ARG, me_arg.as_str()];
        if let Some(root) = &probe_root {
            guard_args.extend(["--probe", root.as_str()]);
        }
        guard_args.push(prog.as_str());
        guard_args.extend(args.iter().map(String::as_str));
        // A probed program's processes hand us pipes of their own here.
        let listener = match &probe_dir {
            Some(d) => Some(d.listen_output()?),
            None => None,
        };
        let (main_pid, reader, key) = spawn_self(
            "mpdash: watch guard",
            &guard_args,
            &board,
            libc::SIGTERM,
            None,
        )
        .with_context(|| format!("watch: cannot start {prog:?}"))?;
        if let Some(s) = board.proc(slot) {
            s.pid
                .store(main_pid.as_raw(), std::sync::atomic::Ordering::Relaxed);
            s.os_ppid.store(me, std::sync::atomic::Ordering::Relaxed);
            s.set_state(ProcState::Running);
        }
        output::relay(id, reader, key, false, listener, events);
        let source = Source::command(argv.to_vec(), probe);
        let mut s = Session::new(id, scenario, StartMethod::Fork, board, main_pid, source);
        s.probe = probe_dir;
        Ok(s)
    }

    /// Follows a process tree that is already running (`mpdash attach PID`):
    /// nothing is started, nothing is ever signalled; its processes are
    /// found in `/proc` from `pid` down and written on the board, and the
    /// run ends when the root does (it is not our child: its exit status
    /// is its own parent's to read).
    pub fn attach(id: u64, scenario: Arc<Scenario>, pid: i32) -> anyhow::Result<Session> {
        let info = crate::telemetry::stacks::ProcInfo::read(pid)
            .filter(|i| i.state != 'Z')
            .ok_or_else(|| anyhow::anyhow!("no process with pid {pid}"))?;
        let board = Board::create(crate::runtime::board::BoardSize {
            proc_slots: 4096,
            res_slots: 4,
            arena_bytes: 4096,
        })
        .context("creating the board")?;
        let slot = board.new_proc(
            &info.short_name(),
            Role::Foreign,
            StartMethod::Fork,
            0,
            info.ppid,
        )?;
        if let Some(s) = board.proc(slot) {
            use std::sync::atomic::Ordering::Relaxed;
            s.pid.store(pid, Relaxed);
            s.os_ppid.store(info.ppid, Relaxed);
            s.start_ticks.store(info.start_ticks, Relaxed);
            s.set_state(ProcState::Running);
        }
        let mut s = Session::new(
            id,
            scenario,
            StartMethod::Fork,
            board,
            Pid::from_raw(pid),
            Source::Attached(pid),
        );
        // Its output goes where it always went: we relay none.
        s.output_closed = true;
        Ok(s)
    }

    /// An attached tree's root is gone (or a zombie): the run has ended.
    /// True the first time it is seen.
    pub fn attached_root_ended(&mut self) -> bool {
        if self.source.attached().is_none() || self.ended.is_some() {
            return false;
        }
        let start = self
            .board
            .proc(0)
            .map(|s| s.start_ticks.load(std::sync::atomic::Ordering::Relaxed));
        let alive = crate::telemetry::stacks::ProcInfo::read(self.main_pid.as_raw())
            .is_some_and(|i| i.state != 'Z' && Some(i.start_ticks) == start);
        if alive {
            return false;
        }
        self.ended = Some(Instant::now());
        true
    }

    /// Takes one event: the one place where what happens around a run is
    /// handled, for the dashboard and every headless runner.
    pub fn absorb(&mut self, ev: SessionEvent) -> Happened {
        match ev {
            SessionEvent::Signal(sig) => Happened::Signal(sig),
            SessionEvent::Output { run, pid, line } if run == self.id => {
                Happened::Output { pid, line }
            }
            SessionEvent::OutputClosed { run } if run == self.id => {
                self.output_closed = true;
                Happened::Nothing
            }
            SessionEvent::Reaped(r) => {
                let was_running = self.is_running();
                if self.on_reaped(&r) && was_running && !self.is_running() {
                    Happened::Ended
                } else {
                    Happened::Nothing
                }
            }
            SessionEvent::Output { .. } | SessionEvent::OutputClosed { .. } => Happened::Nothing,
        }
    }

    /// What the observer needs to follow this run. `judge`: the grace
    /// before a run with every process blocked is called stuck (a program
    /// we cannot see inside — not ours, not probed — is never judged).
    pub fn watch(&self, judge: Option<Duration>, detail: bool) -> Watch {
        Watch {
            run: self.id,
            board: self.board.clone(),
            discover: self
                .source
                .is_foreign()
                .then(|| (self.main_pid.as_raw(), 0)),
            probe: self.probe.as_ref().map(|d| d.out()),
            judge: judge.filter(|_| !self.source.is_foreign() || self.probe.is_some()),
            detail,
            stacks: detail && self.source.reads_stacks(),
            stack_judge: judge.filter(|_| self.source.attached().is_some()),
        }
    }

    /// Records a reaped process on this run's board; true if it was ours.
    pub fn on_reaped(&mut self, r: &Reaped) -> bool {
        // A watched process may already be marked ended by the sampler (gone
        // from /proc) before its status reaches us: the status still counts.
        let late = || {
            self.board.find_pid_any(r.pid.as_raw()).filter(|s| {
                self.source.is_foreign()
                    && s.wait_status.load(std::sync::atomic::Ordering::Relaxed)
                        == crate::telemetry::discovery::STATUS_UNKNOWN
            })
        };
        let Some(slot) = self.board.find_pid(r.pid.as_raw()).or_else(late) else {
            return false;
        };
        slot.record_exit(r);
        if r.pid == self.main_pid {
            self.ended = Some(Instant::now());
            self.main_exit = Some(sys::exit_code_of(r.status));
            // Anything the main process left behind goes with it.
            self.kill();
        }
        true
    }

    /// Whether a process of the run still runs, as the board says.
    pub fn board_has_live(&self) -> bool {
        (0..self.board.procs_used())
            .filter_map(|i| self.board.proc(i))
            .any(|s| {
                s.state() != crate::runtime::board::ProcState::Exited
                    && s.pid.load(std::sync::atomic::Ordering::Relaxed) > 0
            })
    }

    /// Whether the main process ended and every writer of the output is gone.
    pub fn is_done(&self) -> bool {
        self.ended.is_some() && self.output_closed
    }

    pub fn is_running(&self) -> bool {
        self.ended.is_none()
    }

    /// SIGKILLs the run's whole process group. (While any member lives or
    /// the leader is unreaped, the group id cannot be reused by the kernel.)
    pub fn kill(&mut self) {
        // An attached tree is the user's, not ours: never signalled.
        if self.source.attached().is_some() {
            return;
        }
        if !self.killed && self.source.is_probed() {
            self.spare_the_resource_tracker();
        }
        if !self.killed {
            let _ = killpg(self.main_pid, Signal::SIGKILL);
            self.killed = self.ended.is_some();
        }
        // A watched program's processes may have left its group (setsid).
        if self.source.is_foreign() {
            for pid in crate::telemetry::discovery::live_pids(&self.board) {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }

    /// A Python program's resource tracker unlinks the named semaphores and
    /// shared memory of spawn and forkserver children when the processes
    /// that hold its pipe are gone: killed together with them it cannot,
    /// and they stay in `/dev/shm`. So the program's other processes go
    /// first, and the tracker gets [`TRACKER_GRACE`] to clean up and end
    /// by itself (it says what it cleaned on the program's stderr).
    fn spare_the_resource_tracker(&self) {
        use crate::telemetry::stacks::ProcInfo;
        let live = crate::telemetry::discovery::live_pids(&self.board);
        let tracker = |pid: &i32| {
            ProcInfo::read(*pid).is_some_and(|i| i.helper() == Some("resource tracker"))
        };
        let (trackers, others): (Vec<i32>, Vec<i32>) = live.into_iter().partition(tracker);
        if trackers.is_empty() {
            return;
        }
        for pid in others.iter().filter(|p| **p != self.main_pid.as_raw()) {
            let _ = nix::sys::signal::kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        let deadline = Instant::now() + TRACKER_GRACE;
        while Instant::now() < deadline
            && trackers
                .iter()
                .any(|p| ProcInfo::read(*p).is_some_and(|i| i.state != 'Z'))
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.ended.unwrap_or_else(Instant::now) - self.started
    }

    /// Slots whose process never reported an exit (lost to the kill).
    pub fn mark_lost(&self) {
        for i in 0..self.board.procs_used() {
            if let Some(s) = self.board.proc(i)
                && s.state() != ProcState::Exited
            {
                s.set_state(ProcState::Exited);
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Once the group was killed after its leader was reaped, its id may
        // belong to someone else: never signal it again.
        self.kill();
    }
}

/// Starts our own binary as `arg0 ARGS…` in a new process group, with the
/// board at [`BOARD_FD`], `deathsig` when we die, and stdout and stderr on a
/// pipe whose reading end is returned.
fn spawn_self(
    arg0: &str,
    args: &[&str],
    board: &Board,
    deathsig: i32,
    extra: Option<std::os::fd::RawFd>,
) -> anyhow::Result<(Pid, std::io::PipeReader, Option<output::PipeKey>)> {
    let (reader, writer) = std::io::pipe().context("creating the output pipe")?;
    let key = output::key_of(&writer);
    let writer2 = writer.try_clone()?;
    let board_fd = board.region().fd().as_raw_fd();
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0(arg0)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    let mut places: Vec<_> = extra.map(|fd| (fd, EXTRA_FD)).into_iter().collect();
    places.push((board_fd, BOARD_FD));
    sys::on_exec_die_with_parent(&mut cmd, deathsig, places);
    let child = cmd.spawn()?;
    Ok((Pid::from_raw(child.id() as i32), reader, key))
}

/// Where the process-wide reaper and signal threads deliver their events:
/// the loop that owns the current run (replaced when another one starts).
static ROUTE: std::sync::Mutex<Option<Sender<SessionEvent>>> = std::sync::Mutex::new(None);

fn deliver(ev: SessionEvent) {
    if let Ok(route) = ROUTE.lock()
        && let Some(tx) = route.as_ref()
    {
        let _ = tx.send(ev);
    }
}

/// Makes this process a child subreaper, starts (once per process) the
/// threads that reap every child and forward SIGINT, SIGTERM and SIGHUP, and
/// routes what they see to `events` from now on.
pub fn start_reaper(events: Sender<SessionEvent>) -> anyhow::Result<()> {
    static STARTED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    if let Ok(mut route) = ROUTE.lock() {
        *route = Some(events);
    }
    STARTED
        .get_or_init(|| start_threads().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn start_threads() -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    nix::sys::prctl::set_child_subreaper(true).context("becoming a child subreaper")?;
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(|| {
            loop {
                match sys::wait4(-1, false) {
                    Ok(Some(r)) => deliver(SessionEvent::Reaped(r)),
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })?;
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in signals.forever() {
                deliver(SessionEvent::Signal(s));
            }
        })?;
    Ok(())
}

/// Reaps what is left (after a kill), for at most `timeout`.
pub fn reap_remaining(timeout: Duration) {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        match sys::wait4(-1, true) {
            Ok(Some(_)) => continue,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => return,
        }
    }
}
