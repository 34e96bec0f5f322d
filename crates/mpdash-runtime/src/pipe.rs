//! `Pipe` and `Connection`: a `socketpair` carrying length-prefixed frames,
//! duplex or one-way, with CPython's `send`/`recv`/`poll` vocabulary and its
//! HMAC challenge for `authkey`.
//!
//! A frame is a 4-byte big-endian length and the payload. A peer's length
//! prefix is checked against the connection's maximum before anything is
//! allocated, a truncated frame is an error, and the other end closing is
//! [`PipeError::Eof`], never a hang.
//!
//! ```no_run
//! # use mpdash_runtime::pipe::Connection;
//! let (mut a, mut b) = Connection::pair(true).unwrap();
//! a.send_bytes(b"ping").unwrap();
//! assert_eq!(b.recv_bytes().unwrap(), b"ping");
//! ```

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::Duration;

use hmac::{Hmac, Mac};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};
use sha2::Sha256;

use super::board::{Board, BoardError, ResKind, WaitNote, WaitOp};

/// Default largest frame a connection accepts (CPython has no limit; a
/// hostile peer should not choose our allocation).
pub const DEFAULT_MAX_FRAME: usize = 32 << 20;

/// Pipe counters in the resource slot: messages and bytes each way.
pub const STAT_MSGS_0: usize = 0;
pub const STAT_BYTES_0: usize = 1;
pub const STAT_MSGS_1: usize = 2;
pub const STAT_BYTES_1: usize = 3;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PipeError {
    #[error("the other end closed the connection (EOF)")]
    Eof,
    #[error("the other end closed in the middle of a frame ({0} of {1} bytes)")]
    Truncated(usize, usize),
    #[error("the peer announced a frame of {0} bytes; the maximum is {1}")]
    FrameTooLarge(u64, usize),
    #[error("a message of {0} bytes exceeds the maximum frame of {1}")]
    MessageTooLarge(usize, usize),
    #[error("this end is {0}")]
    WrongDirection(&'static str),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("message: {0}")]
    Codec(String),
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Sys(#[from] Errno),
}

/// One end of a pipe.
#[derive(Debug)]
pub struct Connection {
    fd: OwnedFd,
    readable: bool,
    writable: bool,
    max_frame: usize,
    buf: Vec<u8>,
    start: usize,
    scratch: Vec<u8>,
    out: Vec<u8>,
    stats: Option<(Board, u32, bool)>,
    /// How long a reader with nothing to read polls without sleeping: an
    /// answer that comes within it costs no sleep and no wake-up on either
    /// side (a request-answer protocol; 0 for a plain pipe).
    spin: Duration,
}

impl Connection {
    /// CPython's `Pipe(duplex)`: two connected ends. One-way: the first can
    /// only receive, the second only send.
    pub fn pair(duplex: bool) -> Result<(Connection, Connection), PipeError> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((
            Connection::from_fd(a, true, duplex),
            Connection::from_fd(b, duplex, true),
        ))
    }

    /// A pipe registered on the board as `name`, counting traffic each way.
    pub fn pair_on_board(
        board: &Board,
        name: &str,
        duplex: bool,
    ) -> Result<(Connection, Connection), PipeError> {
        let res = board
            .new_res(ResKind::Pipe, name, 0, usize::from(duplex))
            .map_err(|e: BoardError| PipeError::Codec(e.to_string()))?;
        let (mut a, mut b) = Self::pair(duplex)?;
        a.stats = Some((board.clone(), res, false));
        b.stats = Some((board.clone(), res, true));
        Ok((a, b))
    }

    /// An end rebuilt from an inherited or received fd.
    pub fn from_fd(fd: OwnedFd, readable: bool, writable: bool) -> Connection {
        Connection {
            fd,
            readable,
            writable,
            max_frame: DEFAULT_MAX_FRAME,
            buf: Vec::new(),
            start: 0,
            scratch: Vec::new(),
            out: Vec::new(),
            stats: None,
            spin: Duration::ZERO,
        }
    }

    /// Counts this end's traffic in resource slot `res` (`second`: the pair's second end).
    pub fn with_stats(mut self, board: &Board, res: u32, second: bool) -> Connection {
        self.stats = Some((board.clone(), res, second));
        self
    }

    /// Spin up to `d` for data before sleeping (see the `spin` field).
    pub fn with_spin(mut self, d: Duration) -> Connection {
        self.spin = d;
        self
    }

    /// Reads what arrives within the spin time without sleeping: `Some(true)`
    /// for bytes, `Some(false)` for EOF, `None` when nothing came.
    fn spin_fill(&mut self) -> Result<Option<bool>, PipeError> {
        if self.spin.is_zero() {
            return Ok(None);
        }
        if self.scratch.is_empty() {
            self.scratch = vec![0u8; 64 * 1024];
        }
        let until = std::time::Instant::now() + self.spin;
        loop {
            match recv(
                self.fd.as_raw_fd(),
                &mut self.scratch,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(0) => return Ok(Some(false)),
                Ok(n) => {
                    self.buf.extend_from_slice(&self.scratch[..n]);
                    return Ok(Some(true));
                }
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => {}
                Err(Errno::ENOTSOCK) => return Ok(None),
                Err(Errno::ECONNRESET) => return Ok(Some(false)),
                Err(e) => return Err(e.into()),
            }
            if std::time::Instant::now() >= until {
                return Ok(None);
            }
            std::hint::spin_loop();
        }
    }

    pub fn with_max_frame(mut self, max: usize) -> Connection {
        self.max_frame = max.min(u32::MAX as usize);
        self
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn readable(&self) -> bool {
        self.readable
    }

    pub fn writable(&self) -> bool {
        self.writable
    }

    fn count(&self, bytes: usize) {
        if let Some((board, res, second)) = &self.stats
            && let Some(r) = board.res(*res)
        {
            let (m, b) = if *second {
                (STAT_MSGS_1, STAT_BYTES_1)
            } else {
                (STAT_MSGS_0, STAT_BYTES_0)
            };
            r.stats[m].fetch_add(1, Ordering::Relaxed);
            r.stats[b].fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Sends one frame.
    pub fn send_bytes(&mut self, msg: &[u8]) -> Result<(), PipeError> {
        if !self.writable {
            return Err(PipeError::WrongDirection("read-only"));
        }
        if msg.len() > self.max_frame {
            return Err(PipeError::MessageTooLarge(msg.len(), self.max_frame));
        }
        // One buffer, one system call per frame; MSG_NOSIGNAL: a closed peer
        // is an error here, not a SIGPIPE.
        self.out.clear();
        self.out
            .extend_from_slice(&(msg.len() as u32).to_be_bytes());
        self.out.extend_from_slice(msg);
        let mut sent = 0;
        while sent < self.out.len() {
            match send(
                self.fd.as_raw_fd(),
                &self.out[sent..],
                MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(n) => sent += n,
                Err(Errno::EINTR) => continue,
                Err(Errno::EPIPE) | Err(Errno::ECONNRESET) => return Err(PipeError::Eof),
                Err(e) => return Err(e.into()),
            }
        }
        if self.out.capacity() > 1 << 20 {
            self.out = Vec::new();
        }
        self.count(msg.len());
        Ok(())
    }

    /// Reads more bytes into the buffer; false at EOF.
    fn fill(&mut self) -> Result<bool, PipeError> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        if self.scratch.is_empty() {
            // Allocated and zeroed once, not per read.
            self.scratch = vec![0u8; 64 * 1024];
        }
        // A request-answer peer spins a little first: no sleep, no wake-up.
        if let Some(got) = self.spin_fill()? {
            return Ok(got);
        }
        // Then without blocking: only a reader about to sleep notes its
        // wait on the board (a pipe end of the run's has its resource slot).
        // Held until the read returns: its drop clears the wait.
        let mut _note = None;
        let mut flags = MsgFlags::MSG_DONTWAIT;
        loop {
            let got = match recv(self.fd.as_raw_fd(), &mut self.scratch, flags) {
                Err(Errno::ENOTSOCK) => nix::unistd::read(&self.fd, &mut self.scratch),
                other => other,
            };
            match got {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&self.scratch[..n]);
                    return Ok(true);
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) if flags.contains(MsgFlags::MSG_DONTWAIT) => {
                    flags = MsgFlags::empty();
                    if let Some((board, res, _)) = &self.stats {
                        let mut n = WaitNote::new(board, WaitOp::Recv, Some(*res), 0);
                        n.sleep();
                        _note = Some(n);
                    }
                }
                Err(Errno::ECONNRESET) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Receives one frame, blocking until it is whole.
    pub fn recv_bytes(&mut self) -> Result<Vec<u8>, PipeError> {
        if !self.readable {
            return Err(PipeError::WrongDirection("write-only"));
        }
        while self.buffered() < 4 {
            if !self.fill()? {
                return match self.buffered() {
                    0 => Err(PipeError::Eof),
                    n => Err(PipeError::Truncated(n, 4)),
                };
            }
        }
        let h = &self.buf[self.start..self.start + 4];
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        if len > self.max_frame as u64 {
            // The stream cannot be trusted past a hostile header.
            self.readable = false;
            return Err(PipeError::FrameTooLarge(len, self.max_frame));
        }
        let len = len as usize;
        while self.buffered() < 4 + len {
            if !self.fill()? {
                return Err(PipeError::Truncated(self.buffered().saturating_sub(4), len));
            }
        }
        let at = self.start + 4;
        let out = self.buf[at..at + len].to_vec();
        self.start = at + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(out)
    }

    /// Whether a frame (or EOF) can be read within `timeout` (`None`: wait forever).
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<bool, PipeError> {
        if self.buffered() > 0 || self.spin_fill()?.is_some() {
            return Ok(true);
        }
        let t = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32)
                .unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, t) {
                Ok(n) => return Ok(n > 0),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends a serde value (JSON; never anything executable).
    pub fn send<T: serde::Serialize>(&mut self, v: &T) -> Result<(), PipeError> {
        let bytes = serde_json::to_vec(v).map_err(|e| PipeError::Codec(e.to_string()))?;
        self.send_bytes(&bytes)
    }

    pub fn recv<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, PipeError> {
        let bytes = self.recv_bytes()?;
        serde_json::from_slice(&bytes).map_err(|e| PipeError::Codec(e.to_string()))
    }

    /// Receives a short control message, refusing anything over `max` bytes.
    fn recv_small(&mut self, max: usize) -> Result<Vec<u8>, PipeError> {
        let saved = self.max_frame;
        self.max_frame = max;
        let r = self.recv_bytes();
        self.max_frame = saved;
        if matches!(r, Err(PipeError::FrameTooLarge(..))) {
            self.readable = true;
        }
        r
    }
}

impl From<Connection> for OwnedFd {
    fn from(c: Connection) -> OwnedFd {
        c.fd
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

// CPython's `multiprocessing.connection` handshake, byte for byte (3.12+,
// and the HMAC-MD5 of 3.11 and older for peers that still speak it).
const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";
/// Random bytes after the `{sha256}` prefix of a challenge (CPython's
/// `MESSAGE_LENGTH`).
const NONCE: usize = 40;
/// A challenge or an answer of one of these lengths is the unprefixed
/// HMAC-MD5 protocol of CPython 3.11 and older.
const LEGACY_LENGTHS: [usize; 2] = [20, 16];

/// The HMACs the handshake speaks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Digest {
    /// CPython ≤ 3.11's only one, unprefixed.
    LegacyMd5,
    Md5,
    Sha256,
}

impl Digest {
    fn mac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
                .expect("HMAC takes any key length");
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        match self {
            Digest::LegacyMd5 | Digest::Md5 => run::<Hmac<md5::Md5>>(key, msg),
            Digest::Sha256 => run::<Hmac<Sha256>>(key, msg),
        }
    }

    /// The answer to `message`: a raw MAC for the legacy protocol,
    /// `{name}` + MAC otherwise (the MAC covers the prefix too).
    fn answer(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        let mac = self.mac(key, message);
        match self {
            Digest::LegacyMd5 => mac,
            Digest::Md5 => [b"{md5}".as_slice(), &mac].concat(),
            Digest::Sha256 => [b"{sha256}".as_slice(), &mac].concat(),
        }
    }
}

/// The digest a challenge or an answer names, and its payload (CPython's
/// `_get_digest_name_and_payload`, for the digests we speak).
fn split_digest(message: &[u8]) -> Result<(Digest, &[u8]), PipeError> {
    if LEGACY_LENGTHS.contains(&message.len()) {
        return Ok((Digest::LegacyMd5, message));
    }
    for (prefix, d) in [(&b"{sha256}"[..], Digest::Sha256), (b"{md5}", Digest::Md5)] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return Ok((d, rest));
        }
    }
    Err(PipeError::Auth(
        "unsupported message length, missing digest prefix, or unsupported digest".into(),
    ))
}

/// CPython's `deliver_challenge`: proves the peer knows `authkey`.
pub fn deliver_challenge(c: &mut Connection, authkey: &[u8]) -> Result<(), PipeError> {
    let mut nonce = [0u8; NONCE];
    getrandom::fill(&mut nonce).map_err(|e| PipeError::Auth(e.to_string()))?;
    let message = [b"{sha256}".as_slice(), &nonce].concat();
    c.send_bytes(&[CHALLENGE, &message].concat())?;
    let answer = c.recv_small(256)?;
    let verified = split_digest(&answer).is_ok_and(|(d, mac)| {
        let expected = d.mac(authkey, &message);
        // Constant time, as CPython's hmac.compare_digest.
        expected.len() == mac.len()
            && expected
                .iter()
                .zip(mac)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if verified {
        c.send_bytes(WELCOME)
    } else {
        let _ = c.send_bytes(FAILURE);
        Err(PipeError::Auth(
            "the peer's digest is wrong (wrong authkey?)".into(),
        ))
    }
}

/// CPython's `answer_challenge`: proves we know `authkey`.
pub fn answer_challenge(c: &mut Connection, authkey: &[u8]) -> Result<(), PipeError> {
    let msg = c.recv_small(256)?;
    let message = msg
        .strip_prefix(CHALLENGE)
        .ok_or_else(|| PipeError::Auth("the peer did not send a challenge".into()))?;
    if message.len() < LEGACY_LENGTHS[0] {
        return Err(PipeError::Auth(format!(
            "challenge too short: {} bytes",
            message.len()
        )));
    }
    let (d, _) = split_digest(message)?;
    c.send_bytes(&d.answer(authkey, message))?;
    match c.recv_small(256)?.as_slice() {
        m if m == WELCOME => Ok(()),
        _ => Err(PipeError::Auth(
            "the peer refused our digest (wrong authkey?)".into(),
        )),
    }
}

/// Both directions, as CPython's `Listener`/`Client` do with an authkey:
/// `server` challenges first.
pub fn authenticate(c: &mut Connection, authkey: &[u8], server: bool) -> Result<(), PipeError> {
    if server {
        deliver_challenge(c, authkey)?;
        answer_challenge(c, authkey)
    } else {
        answer_challenge(c, authkey)?;
        deliver_challenge(c, authkey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn frames_cross_whole_and_in_order() {
        let (mut a, mut b) = Connection::pair(true).unwrap();
        for m in [&b""[..], b"x", &[7u8; 100_000]] {
            a.send_bytes(m).unwrap();
        }
        assert_eq!(b.recv_bytes().unwrap(), b"");
        assert_eq!(b.recv_bytes().unwrap(), b"x");
        assert_eq!(b.recv_bytes().unwrap().len(), 100_000);
        b.send(&vec![1, 2, 3]).unwrap();
        assert_eq!(a.recv::<Vec<i32>>().unwrap(), [1, 2, 3]);
    }

    #[test]
    fn one_way_pipes_refuse_the_wrong_direction() {
        let (mut r, mut w) = Connection::pair(false).unwrap();
        assert!(matches!(
            r.send_bytes(b"x"),
            Err(PipeError::WrongDirection(_))
        ));
        assert!(matches!(w.recv_bytes(), Err(PipeError::WrongDirection(_))));
        w.send_bytes(b"ok").unwrap();
        assert_eq!(r.recv_bytes().unwrap(), b"ok");
    }

    #[test]
    fn eof_and_poll() {
        let (mut a, b) = Connection::pair(true).unwrap();
        assert!(!a.poll(Some(Duration::from_millis(10))).unwrap());
        drop(b);
        assert!(a.poll(Some(Duration::from_millis(10))).unwrap());
        assert_eq!(a.recv_bytes(), Err(PipeError::Eof));
    }

    fn hostile(bytes: &[u8]) -> Result<Vec<u8>, PipeError> {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut c = Connection::from_fd(OwnedFd::from(ours), true, true).with_max_frame(1 << 20);
        let mut t = theirs;
        t.write_all(bytes).unwrap();
        drop(t);
        c.recv_bytes()
    }

    #[test]
    fn hostile_frames_are_errors_without_allocation() {
        assert_eq!(
            hostile(&[0xff, 0xff, 0xff, 0xff]),
            Err(PipeError::FrameTooLarge(u32::MAX as u64, 1 << 20))
        );
        assert_eq!(
            hostile(&[0, 0, 0, 10, 1, 2, 3]),
            Err(PipeError::Truncated(3, 10))
        );
        assert_eq!(hostile(&[0, 0]), Err(PipeError::Truncated(2, 4)));
        assert_eq!(hostile(&[0, 0, 0, 2, b'{', b'x']).map(|v| v.len()), Ok(2));
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut c = Connection::from_fd(OwnedFd::from(ours), true, true);
        let mut t = theirs;
        t.write_all(&[0, 0, 0, 5, b'g', b'a', b'r', b'b', b'!'])
            .unwrap();
        assert!(matches!(c.recv::<Vec<i32>>(), Err(PipeError::Codec(_))));
    }

    #[test]
    fn authentication_accepts_the_right_key_and_refuses_a_wrong_one() {
        let (mut a, mut b) = Connection::pair(true).unwrap();
        let h = std::thread::spawn(move || authenticate(&mut b, b"secret", false));
        authenticate(&mut a, b"secret", true).unwrap();
        h.join().unwrap().unwrap();

        let (mut a, mut b) = Connection::pair(true).unwrap();
        let h = std::thread::spawn(move || authenticate(&mut b, b"wrong", false));
        assert!(matches!(
            authenticate(&mut a, b"secret", true),
            Err(PipeError::Auth(_))
        ));
        assert!(matches!(h.join().unwrap(), Err(PipeError::Auth(_))));
    }
}
