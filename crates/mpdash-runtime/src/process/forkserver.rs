//! The fork server: a small process started once (with spawn) that forks
//! children on request, as CPython's `forkserver` start method does.
//!
//! Requests travel over a `SOCK_SEQPACKET` socket pair (one packet each: a JSON
//! [`ChildSpec`] plus the board's fd by `SCM_RIGHTS`); the reply is the child's
//! pid. The server is the children's OS parent, so it reaps them and writes
//! their exit on the board, where the main process's `join` waits for it.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use nix::unistd::{ForkResult, Pid, getpid, getppid};
use serde::{Deserialize, Serialize};

use super::{ChildSpec, Context, Process, ProcessError, child_main};
use crate::board::{Board, Role, StartMethod};
use crate::registry::{Child, Target};
use crate::sys;

/// Largest request the server accepts; a larger one is refused, not allocated.
const MAX_REQUEST: usize = 64 * 1024;
/// Most fds a request may hand to a child besides the board and output.
pub const MAX_PASSED: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Pid(i32),
    Error(String),
}

/// The main process's end of the fork server's socket.
pub struct ForkServerClient {
    sock: OwnedFd,
    server_pid: Pid,
}

impl ForkServerClient {
    /// Starts the server with spawn and returns the client and the server's `Process`.
    pub(crate) fn start(ctx: &Context) -> Result<(ForkServerClient, Process), ProcessError> {
        let (mine, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| ProcessError::Sys("forkserver".into(), e))?;
        let mut server = Process::new(ctx, "forkserver", Target::new(ENTRY, ()))
            .with_role(Role::ForkServer, 0)
            .with_method(StartMethod::Spawn);
        server.start_with_extra_fd(Some(theirs.as_fd()))?;
        drop(theirs);
        let server_pid = server.pid().expect("started");
        Ok((
            ForkServerClient {
                sock: mine,
                server_pid,
            },
            server,
        ))
    }

    pub fn server_pid(&self) -> Pid {
        self.server_pid
    }

    /// Asks for one child; returns its pid once the server has forked it.
    pub(crate) fn request(
        &mut self,
        spec: &ChildSpec,
        board_fd: BorrowedFd<'_>,
    ) -> Result<Pid, ProcessError> {
        let pid = self.server_pid.as_raw();
        let io = |source| ProcessError::ForkServerIo { pid, source };
        if spec.fds.len() > MAX_PASSED {
            return Err(ProcessError::TooManyFds(MAX_PASSED));
        }
        let json = serde_json::to_vec(spec)?;
        let out = nix::unistd::dup(std::io::stdout().as_fd()).map_err(io)?;
        let mut fds = vec![board_fd.as_raw_fd(), out.as_raw_fd()];
        fds.extend(spec.fds.iter().map(|(_, fd)| *fd));
        let cmsg = [ControlMessage::ScmRights(&fds)];
        sendmsg::<()>(
            self.sock.as_raw_fd(),
            &[IoSlice::new(&json)],
            &cmsg,
            MsgFlags::empty(),
            None,
        )
        .map_err(io)?;
        drop(out);
        let mut buf = [0u8; 512];
        let n = loop {
            match nix::unistd::read(&self.sock, &mut buf) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        }
        .map_err(io)?;
        if n == 0 {
            return Err(ProcessError::ForkServerGone(pid));
        }
        match serde_json::from_slice::<Reply>(&buf[..n]) {
            Ok(Reply::Pid(p)) => Ok(Pid::from_raw(p)),
            Ok(Reply::Error(reason)) => Err(ProcessError::ForkServerRefused { pid, reason }),
            Err(_) => Err(ProcessError::ForkServerGarbled(pid)),
        }
    }
}

/// The fork server's entry point name.
pub const ENTRY: &str = "forkserver";

/// Entry point of the fork server process: serves on its extra fd.
pub fn entry(child: Child<'_>, _arg: &serde_json::Value) -> i32 {
    match child.extra {
        Some(sock) => serve(child.board, sock),
        None => super::EXIT_SOFTWARE,
    }
}

/// The server loop: serve requests until the main process closes its end,
/// reaping children as they end.
pub fn serve(board: &Board, sock: OwnedFd) -> i32 {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    if sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None).is_err() {
        return super::EXIT_OSERR;
    }
    let Ok(sigfd) = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
    else {
        return super::EXIT_OSERR;
    };
    let me = getpid();
    loop {
        let mut fds = [
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return super::EXIT_OSERR,
            Ok(_) => {}
        }
        let sock_ready = fds[0].any().unwrap_or(false);
        let child_ended = fds[1].any().unwrap_or(false);
        if child_ended {
            while let Ok(Some(_)) = sigfd.read_signal() {}
            reap(board);
        }
        if sock_ready {
            match serve_one(board, &sock, &sigfd, &mask, me) {
                Served::Ok => {}
                Served::Eof => break,
            }
        }
    }
    reap(board);
    0
}

fn reap(board: &Board) {
    while let Ok(Some(r)) = sys::wait4(-1, true) {
        if let Some(slot) = board.find_pid(r.pid.as_raw()) {
            slot.record_exit(&r);
        }
    }
}

enum Served {
    Ok,
    Eof,
}

fn serve_one(board: &Board, sock: &OwnedFd, sigfd: &SignalFd, mask: &SigSet, me: Pid) -> Served {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut cmsg = nix::cmsg_space!([RawFd; 2 + MAX_PASSED]);
    let (n, fds, truncated) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EINTR) => return Served::Ok,
            Err(_) => return Served::Eof,
        };
        let mut fds: Vec<OwnedFd> = Vec::new();
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    // SAFETY: SCM_RIGHTS just installed these fds in our table;
                    // nobody else owns them.
                    fds.extend(
                        raw.into_iter()
                            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                    );
                }
            }
        }
        (msg.bytes, fds, msg.flags.contains(MsgFlags::MSG_TRUNC))
    };
    if n == 0 && fds.is_empty() {
        return Served::Eof;
    }
    let reply = if truncated {
        Reply::Error(format!("request larger than {MAX_REQUEST} bytes"))
    } else {
        match serde_json::from_slice::<ChildSpec>(&buf[..n]) {
            Ok(mut spec) if fds.len() == 2 + spec.fds.len() => {
                let mut fds = fds.into_iter();
                let (Some(board_fd), Some(out_fd)) = (fds.next(), fds.next()) else {
                    return Served::Ok;
                };
                let passed: Vec<OwnedFd> = fds.collect();
                for ((_, n), fd) in spec.fds.iter_mut().zip(&passed) {
                    *n = fd.as_raw_fd();
                }
                fork_for(board, spec, board_fd, out_fd, passed, sigfd, mask, me)
            }
            Ok(spec) => Reply::Error(format!(
                "a request must carry 2 + {} fds, got {}",
                spec.fds.len(),
                fds.len()
            )),
            Err(e) => Reply::Error(format!("bad request: {e}")),
        }
    };
    let bytes = serde_json::to_vec(&reply).unwrap_or_default();
    let _ = nix::unistd::write(sock, &bytes);
    Served::Ok
}

#[allow(clippy::too_many_arguments)]
fn fork_for(
    board: &Board,
    spec: ChildSpec,
    board_fd: OwnedFd,
    out_fd: OwnedFd,
    passed: Vec<OwnedFd>,
    sigfd: &SignalFd,
    mask: &SigSet,
    me: Pid,
) -> Reply {
    // SAFETY: the fork server is single-threaded.
    match unsafe { sys::fork() } {
        Ok(ForkResult::Child) => {
            let t_first = sys::now_ns();
            sys::forget_ids();
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            if getppid() != me {
                sys::exit_now(1);
            }
            let _ = sigfd;
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(mask), None);
            let _ = sys::place_fd(&out_fd, 1);
            let _ = sys::place_fd(&out_fd, 2);
            drop(out_fd);
            // child_main adopts these by number.
            passed.into_iter().for_each(|fd| {
                let _ = fd.into_raw_fd();
            });
            let code = match Board::open(board_fd) {
                Ok(b) => child_main(&b, &spec, t_first, None),
                Err(_) => super::EXIT_SOFTWARE,
            };
            sys::exit_now(code)
        }
        Ok(ForkResult::Parent { child }) => {
            if let Some(s) = board.proc(spec.slot) {
                s.pid
                    .store(child.as_raw(), std::sync::atomic::Ordering::Relaxed);
            }
            Reply::Pid(child.as_raw())
        }
        Err(e) => Reply::Error(format!("fork: {e}")),
    }
}
