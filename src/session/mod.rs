//! One run of a scenario, seen from the dashboard: it creates the board,
//! starts the scenario's main process (our binary again, in its own process
//! group, with `PR_SET_PDEATHSIG`), relays its output and kills the whole
//! group when dropped. The dashboard is a child subreaper, so every process of
//! a run that loses its parent comes back to it to be reaped.

use std::io::{BufRead, BufReader, Read};
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
use crate::runtime::process::BOARD_FD;
use crate::runtime::sys::{self, Reaped};
use crate::scenario::Scenario;
use crate::scenario::main_process::{MAIN_ARG, MainSpec};

/// Longest output line kept; the rest is cut (a hostile child cannot make us allocate).
pub const MAX_LINE: usize = 4096;

/// What happens around a run, delivered to the loop that owns it.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    Output {
        run: u64,
        line: String,
    },
    OutputClosed {
        run: u64,
    },
    Reaped(Reaped),
    /// SIGINT, SIGTERM or SIGHUP reached the dashboard.
    Signal(i32),
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
        let (reader, writer) = std::io::pipe().context("creating the output pipe")?;
        let writer2 = writer.try_clone()?;
        let board_fd = board.region().fd().as_raw_fd();
        let mut cmd = Command::new("/proc/self/exe");
        cmd.arg0("mpdash: main")
            .arg(MAIN_ARG)
            .arg(serde_json::to_string(&spec)?)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer2)
            .process_group(0);
        // SAFETY: the closure runs between fork and exec and calls only
        // async-signal-safe functions (prctl, fcntl, dup2), allocating nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                sys::place_fd(&board_fd, BOARD_FD).map_err(std::io::Error::from)
            });
        }
        let child = cmd
            .spawn()
            .context("starting the scenario's main process")?;
        let main_pid = Pid::from_raw(child.id() as i32);
        drop(cmd);
        if let Some(s) = board.proc(slot) {
            s.pid
                .store(main_pid.as_raw(), std::sync::atomic::Ordering::Relaxed);
        }
        relay_output(id, reader, events);
        Ok(Session {
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
        })
    }

    /// Records a reaped process on this run's board; true if it was ours.
    pub fn on_reaped(&mut self, r: &Reaped) -> bool {
        let Some(slot) = self.board.find_pid(r.pid.as_raw()) else {
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
        if !self.killed {
            let _ = killpg(self.main_pid, Signal::SIGKILL);
            self.killed = self.ended.is_some();
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

fn relay_output(run: u64, reader: std::io::PipeReader, events: Sender<SessionEvent>) {
    let spawned = std::thread::Builder::new()
        .name(format!("output-{run}"))
        .spawn(move || {
            let mut r = BufReader::new(reader);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match (&mut r).take(MAX_LINE as u64).read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if buf.last() != Some(&b'\n') {
                            // Cut: skip the rest of this long line.
                            let mut rest = Vec::new();
                            let _ = r.read_until(b'\n', &mut rest);
                        }
                        let line = String::from_utf8_lossy(&buf)
                            .trim_end_matches('\n')
                            .to_string();
                        if events.send(SessionEvent::Output { run, line }).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = events.send(SessionEvent::OutputClosed { run });
        });
    if let Err(e) = spawned {
        eprintln!("mpdash: cannot start the output thread: {e}");
    }
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
