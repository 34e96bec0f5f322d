//! What a run prints, relayed line by line to the loop that owns the run,
//! with who printed it — and not a byte of it changed.
//!
//! A scenario's processes are ours: they tag their lines, and the tag is
//! taken off here. A probed Python program's are not: each of its processes
//! whose stdout or stderr is our pipe asks us (over `out.sock` in the probe's
//! directory) and gets a pipe of its own whose reading end it hands us with
//! `SCM_RIGHTS`; a line read from that pipe was written by that process.
//! One thread polls every pipe and the socket; the output is closed when
//! every pipe has ended.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crossbeam_channel::Sender;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::{MAX_LINE, SessionEvent};

/// A pipe's identity: its device and inode, as `fstat` says of either end.
pub type PipeKey = (u64, u64);

pub fn key_of(fd: impl AsFd) -> Option<PipeKey> {
    let st = nix::sys::stat::fstat(fd).ok()?;
    Some((st.st_dev, st.st_ino))
}

/// A pipe being read: whose it is, and the line being gathered.
struct Stream {
    file: File,
    pid: i32,
    /// Lines carry the scenario runtime's tags (a scenario's main pipe).
    tagged: bool,
    line: Vec<u8>,
    /// The rest of a line longer than [`MAX_LINE`] is being skipped.
    skipping: bool,
}

/// How the relay hands lines on.
struct Out {
    run: u64,
    events: Sender<SessionEvent>,
}

impl Out {
    /// Sends one line; false once nobody listens.
    fn line(&self, s: &Stream, bytes: &[u8]) -> bool {
        let text = String::from_utf8_lossy(bytes);
        let (pid, text) = if s.tagged {
            let (pid, untagged) = crate::scenario::steps::untag(&text);
            (pid, untagged.into_owned())
        } else {
            (s.pid, text.into_owned())
        };
        let mut line = text;
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        self.events
            .send(SessionEvent::Output {
                run: self.run,
                pid,
                line,
            })
            .is_ok()
    }
}

impl Stream {
    /// Reads what is there; false at the end of the pipe (or when nobody
    /// listens any more).
    fn pump(&mut self, out: &Out) -> bool {
        let mut buf = [0u8; 16 << 10];
        let n = match self.file.read(&mut buf) {
            Ok(0) | Err(_) => {
                if !self.line.is_empty() && !self.skipping {
                    let line = std::mem::take(&mut self.line);
                    out.line(self, &line);
                }
                return false;
            }
            Ok(n) => n,
        };
        for chunk in buf[..n].split_inclusive(|b| *b == b'\n') {
            let ends = chunk.last() == Some(&b'\n');
            let body = if ends {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            if !self.skipping {
                // A little more than a line may take, for a scenario's tag.
                let room = (MAX_LINE + 16).saturating_sub(self.line.len());
                self.line.extend_from_slice(&body[..body.len().min(room)]);
                if body.len() > room {
                    self.skipping = true;
                    let line = std::mem::take(&mut self.line);
                    if !out.line(self, &line) {
                        return false;
                    }
                }
            }
            if ends {
                if !self.skipping {
                    let line = std::mem::take(&mut self.line);
                    if !out.line(self, &line) {
                        return false;
                    }
                }
                self.skipping = false;
            }
        }
        true
    }
}

/// Relays run `run`'s output: its main pipe (`main`, whose identity is
/// `main_key`; `tagged` for a scenario's) and, with `listener`, the pipes a
/// probed program's processes hand over.
pub fn relay(
    run: u64,
    main: std::io::PipeReader,
    main_key: Option<PipeKey>,
    tagged: bool,
    listener: Option<OwnedFd>,
    events: Sender<SessionEvent>,
) {
    let spawned = std::thread::Builder::new()
        .name(format!("output-{run}"))
        .spawn(move || {
            let out = Out { run, events };
            let mut streams = vec![Stream {
                file: File::from(OwnedFd::from(main)),
                pid: 0,
                tagged,
                line: Vec::new(),
                skipping: false,
            }];
            let mut ours: HashSet<PipeKey> = main_key.into_iter().collect();
            let mut conns: Vec<OwnedFd> = Vec::new();
            // Until every pipe has ended and every process that was handing
            // one over has finished (its pipe may come with its last message,
            // after the pipes we knew have ended).
            while !streams.is_empty() || !conns.is_empty() {
                let mut fds: Vec<PollFd> = Vec::new();
                if let Some(l) = &listener {
                    fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
                }
                fds.extend(
                    conns
                        .iter()
                        .map(|c| PollFd::new(c.as_fd(), PollFlags::POLLIN)),
                );
                fds.extend(
                    streams
                        .iter()
                        .map(|s| PollFd::new(s.file.as_fd(), PollFlags::POLLIN)),
                );
                if poll(&mut fds, PollTimeout::NONE).is_err() {
                    continue;
                }
                let ready: Vec<bool> = fds
                    .iter()
                    .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                    .collect();
                drop(fds);
                // Readiness is in poll's order: the listener, the
                // connections as they were, then the pipes.
                let at = usize::from(listener.is_some());
                let (conn_ready, stream_ready) = ready[at..].split_at(conns.len());
                let mut keep_conns = Vec::new();
                for (c, r) in std::mem::take(&mut conns).into_iter().zip(conn_ready) {
                    if !*r || answer(&c, &mut ours, &mut streams) {
                        keep_conns.push(c);
                    }
                }
                conns = keep_conns;
                // A connection accepted now is read from the next round on
                // (its first message may already wait: poll says so then).
                if let Some(l) = &listener
                    && ready[0]
                    && let Ok(c) = crate::runtime::sys::accept_owned(l.as_raw_fd())
                {
                    conns.push(c);
                }
                // Pipes handed over this round (past the end of
                // `stream_ready`) are read from the next round on.
                let mut alive = Vec::with_capacity(streams.len());
                for (i, mut s) in std::mem::take(&mut streams).into_iter().enumerate() {
                    let ready = stream_ready.get(i).copied().unwrap_or(false);
                    if !ready || s.pump(&out) {
                        alive.push(s);
                    }
                }
                streams = alive;
            }
            let _ = out.events.send(SessionEvent::OutputClosed { run });
        });
    if let Err(e) = spawned {
        eprintln!("mpdash: cannot start the output thread: {e}");
    }
}

/// Takes one message from a probed process: `Q PID KEY1 KEY2` (are these
/// pipes ours?) is answered `A 0|1 0|1`; `F PID` comes with the reading end
/// of the process's own pipe. False when the connection has ended or
/// misbehaved (it is dropped; nothing else is lost).
fn answer(c: &OwnedFd, ours: &mut HashSet<PipeKey>, streams: &mut Vec<Stream>) -> bool {
    let mut buf = [0u8; 256];
    let Ok((n, mut fds)) = crate::runtime::sys::recv_with_fds(c.as_raw_fd(), &mut buf) else {
        return false;
    };
    if n == 0 && fds.is_empty() {
        return false;
    }
    let text = String::from_utf8_lossy(&buf[..n]);
    let mut words = text.split_whitespace();
    match (
        words.next(),
        words.next().and_then(|p| p.parse::<i32>().ok()),
    ) {
        (Some("Q"), Some(_)) => {
            let is_ours = |w: Option<&str>| {
                let key = w.and_then(|k| {
                    let (d, i) = k.split_once(':')?;
                    Some((d.parse().ok()?, i.parse().ok()?))
                });
                u8::from(key.is_some_and(|k| ours.contains(&k)))
            };
            let (a, b) = (is_ours(words.next()), is_ours(words.next()));
            let reply = format!("A {a} {b}");
            nix::sys::socket::send(
                c.as_raw_fd(),
                reply.as_bytes(),
                nix::sys::socket::MsgFlags::empty(),
            )
            .is_ok()
        }
        (Some("F"), Some(pid)) if pid > 0 && fds.len() == 1 => {
            let fd = fds.remove(0);
            if let Some(k) = key_of(&fd) {
                ours.insert(k);
            }
            streams.push(Stream {
                file: File::from(fd),
                pid,
                tagged: false,
                line: Vec::new(),
                skipping: false,
            });
            true
        }
        _ => false,
    }
}
