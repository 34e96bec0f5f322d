//! Who holds a manager's connections while they handshake.
//!
//! A connection that has not yet proven it knows the authkey costs the
//! server a thread and an fd, and anyone who reaches the port can open one.
//! The server used to close the *newest* connection once the cap was full,
//! so 300 idle connections, which never send a byte, locked a legitimate
//! client out: `mpdash client` was closed as soon as it connected. The gate
//! closes the *oldest* unproven connection instead (the idea of sshd's
//! `MaxStartups`): a crowd only pushes itself out, and a client that answers
//! the challenge before [`Gate::new`]'s `cap` newer connections arrive is
//! served. Among the unproven, a silent one goes first: a client whose
//! answer is already in the socket, waiting for its thread to be scheduled,
//! is spared. A connection that proved the authkey is never evicted; only
//! when every slot holds one is the newcomer refused.
//!
//! Running out of fds (EMFILE under a low RLIMIT_NOFILE, ENFILE) is the same
//! shortage one level down: the acceptor calls [`Gate::make_room`], which
//! evicts the oldest unproven connection and waits until its fd is closed,
//! then accepts again. Backing off instead would leave every fd to the crowd.
//!
//! Evicting is `shutdown(2)` of the victim's socket: its thread, blocked in
//! the handshake, reads end-of-file and leaves, closing the fd itself. The
//! gate keeps the raw fd of each unproven connection; it stays valid because
//! a [`Guest`] leaves the list (under the gate's lock) before it closes its
//! fd, and the gate uses a listed fd only under that lock.
//!
//! What it does not stop: a flood of connections reopened as fast as they
//! are evicted can still push out a client slower to answer than `cap`
//! arrivals (it is turned away, and gets in on a retry); that needs limits
//! per source address.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::socket::{MsgFlags, Shutdown, recv, shutdown};

use crate::pipe::Connection;

/// What a gate admits: something that owns a socket.
pub(super) trait Socket {
    fn socket(&self) -> BorrowedFd<'_>;
}

impl Socket for Connection {
    fn socket(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

/// The connections of one server (both listeners share it).
pub(super) struct Gate {
    state: Mutex<State>,
    /// Notified each time a guest's fd is closed.
    closed: Condvar,
    /// Most connections at once, unproven and proven together.
    cap: usize,
    /// An unproven connection older than this is evicted by the next arrival
    /// (a peer that trickles bytes never trips a per-read timeout).
    handshake: Duration,
}

#[derive(Default)]
struct State {
    /// Connections that have not proven the authkey, oldest first.
    pending: VecDeque<Pending>,
    /// Connections that proved it: never evicted.
    proven: usize,
    /// Guests whose fd is open: pending, proven, and those that left the
    /// list but have not closed their fd yet (evicted ones, on their way out).
    open: usize,
}

struct Pending {
    id: u64,
    accepted: Instant,
    /// Valid while listed (see the module's header).
    fd: RawFd,
}

impl State {
    /// Shuts unproven connection `i` down and forgets it; false when there
    /// is none. Its thread sees end-of-file and closes the fd.
    fn evict(&mut self, i: usize) -> bool {
        match self.pending.remove(i) {
            Some(p) => {
                // An error (the peer already gone) needs nothing more.
                let _ = shutdown(p.fd, Shutdown::Both);
                true
            }
            None => false,
        }
    }

    /// Evicts the oldest silent unproven connection, or the oldest of all
    /// when none is silent; false when there is none.
    fn evict_oldest(&mut self) -> bool {
        let i = self.pending.iter().position(|p| silent(p.fd)).unwrap_or(0);
        self.evict(i)
    }
}

/// True when the peer has sent nothing we have not read yet: an answer to
/// the challenge waiting for its thread to be scheduled is not silent.
fn silent(fd: RawFd) -> bool {
    let peek = MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT;
    !matches!(recv(fd, &mut [0u8; 1], peek), Ok(1..))
}

impl Gate {
    /// A gate for at most `cap` connections; an unproven one is evicted by
    /// any arrival once it is `handshake` old.
    pub(super) fn new(cap: usize, handshake: Duration) -> Arc<Gate> {
        Arc::new(Gate {
            state: Mutex::new(State::default()),
            closed: Condvar::new(),
            cap: cap.max(1),
            handshake,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets a new connection in, unproven. Expired unproven connections are
    /// evicted first; if the cap is still reached, the oldest unproven one
    /// is. `None` (and `conn` dropped, which closes it) only when every slot
    /// holds a proven connection.
    pub(super) fn admit<C: Socket>(self: &Arc<Self>, id: u64, conn: C) -> Option<Guest<C>> {
        let mut st = self.lock();
        while st
            .pending
            .front()
            .is_some_and(|p| p.accepted.elapsed() >= self.handshake)
        {
            st.evict(0);
        }
        if st.pending.len() + st.proven >= self.cap && !st.evict_oldest() {
            return None;
        }
        st.pending.push_back(Pending {
            id,
            accepted: Instant::now(),
            fd: conn.socket().as_raw_fd(),
        });
        st.open += 1;
        Some(Guest {
            conn: Some(conn),
            gate: self.clone(),
            id,
            proven: false,
        })
    }

    /// The process is out of fds: frees one by evicting the oldest unproven
    /// connection (unless a guest is already on its way out), and waits up
    /// to `within` for an fd to be closed. False when there was nothing to
    /// evict (every fd is a proven client's) or nothing closed in time.
    pub(super) fn make_room(&self, within: Duration) -> bool {
        let mut st = self.lock();
        let before = st.open;
        let leaving = st.open.saturating_sub(st.pending.len() + st.proven);
        if leaving == 0 && !st.evict_oldest() {
            return false;
        }
        let deadline = Instant::now() + within;
        while st.open >= before {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .closed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// (unproven, proven) connections now.
    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let st = self.lock();
        (st.pending.len(), st.proven)
    }
}

/// An admitted connection. Dropping it takes it off the gate's lists, then
/// closes it (in that order: the gate never touches a closed fd).
pub(super) struct Guest<C> {
    /// `None` only inside `drop` (or after a `map` that panicked).
    conn: Option<C>,
    gate: Arc<Gate>,
    id: u64,
    proven: bool,
}

impl<C> Guest<C> {
    pub(super) fn conn(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .expect("the connection leaves only when the guest does")
    }

    /// Rebuilds the connection in place; `f` must keep its socket (the gate
    /// may hold that fd).
    pub(super) fn map(&mut self, f: impl FnOnce(C) -> C) {
        self.conn = self.conn.take().map(f);
    }

    /// The peer proved it knows the authkey: from now on it is never
    /// evicted. False when it had been evicted first (its socket is shut
    /// down: the caller gives up on it).
    pub(super) fn prove(&mut self) -> bool {
        if self.proven {
            return true;
        }
        let mut st = self.gate.lock();
        match st.pending.iter().position(|p| p.id == self.id) {
            Some(i) => {
                st.pending.remove(i);
                st.proven += 1;
                self.proven = true;
                true
            }
            None => false,
        }
    }
}

impl<C> Drop for Guest<C> {
    fn drop(&mut self) {
        {
            let mut st = self.gate.lock();
            if self.proven {
                st.proven -= 1;
            } else if let Some(i) = st.pending.iter().position(|p| p.id == self.id) {
                st.pending.remove(i);
            }
        }
        drop(self.conn.take());
        let mut st = self.gate.lock();
        st.open -= 1;
        drop(st);
        self.gate.closed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    impl Socket for UnixStream {
        fn socket(&self) -> BorrowedFd<'_> {
            self.as_fd()
        }
    }

    /// A connection as the server holds it, and the peer's end.
    fn pair() -> (UnixStream, UnixStream) {
        UnixStream::pair().unwrap()
    }

    /// True when the server side of `peer` was shut down (the peer reads EOF).
    fn shut(peer: &mut UnixStream) -> bool {
        peer.set_nonblocking(true).unwrap();
        matches!(peer.read(&mut [0u8; 8]), Ok(0))
    }

    #[test]
    fn a_full_gate_evicts_the_oldest_unproven_connection_not_the_newcomer() {
        let gate = Gate::new(3, Duration::from_secs(60));
        let (mut guests, mut peers): (Vec<_>, Vec<_>) = (0..3)
            .map(|i| {
                let (ours, theirs) = pair();
                (gate.admit(i, ours).unwrap(), theirs)
            })
            .unzip();
        let (ours, mut newest) = pair();
        let g = gate.admit(3, ours).expect("the newcomer is let in");
        assert!(shut(&mut peers[0]), "the oldest was evicted");
        assert!(!shut(&mut peers[1]) && !shut(&mut peers[2]) && !shut(&mut newest));
        assert!(!guests[0].prove(), "an evicted guest cannot prove itself");
        assert!(guests[1].prove());
        assert_eq!(gate.counts(), (2, 1));
        drop(g);
        drop(guests);
        assert_eq!(gate.counts(), (0, 0));
        assert_eq!(gate.lock().open, 0);
    }

    #[test]
    fn a_peer_whose_answer_waits_is_spared_for_a_silent_one() {
        use std::io::Write;
        let gate = Gate::new(3, Duration::from_secs(60));
        let mut peers = Vec::new();
        let mut guests = Vec::new();
        for id in 0..3 {
            let (ours, theirs) = pair();
            guests.push(gate.admit(id, ours).unwrap());
            peers.push(theirs);
        }
        // The oldest has answered; its thread has not read the answer yet.
        peers[0].write_all(b"answer").unwrap();
        let (d, mut pd) = pair();
        guests.push(gate.admit(3, d).unwrap());
        assert!(shut(&mut peers[1]), "the oldest silent one was evicted");
        assert!(!shut(&mut peers[0]) && !shut(&mut peers[2]) && !shut(&mut pd));
        // None silent: the oldest goes after all.
        peers[2].write_all(b"x").unwrap();
        pd.write_all(b"x").unwrap();
        let (e, mut pe) = pair();
        guests.push(gate.admit(4, e).unwrap());
        assert!(shut(&mut peers[0]) && !shut(&mut peers[2]) && !shut(&mut pd) && !shut(&mut pe));
    }

    #[test]
    fn proven_connections_are_never_evicted_and_a_full_house_refuses() {
        let gate = Gate::new(2, Duration::from_secs(60));
        let (a, mut pa) = pair();
        let (b, mut pb) = pair();
        let mut ga = gate.admit(1, a).unwrap();
        let mut gb = gate.admit(2, b).unwrap();
        assert!(ga.prove() && gb.prove());
        let (c, mut pc) = pair();
        assert!(gate.admit(3, c).is_none(), "every slot is proven: refused");
        assert!(shut(&mut pc), "the refused connection is closed");
        assert!(!shut(&mut pa) && !shut(&mut pb));
        drop(ga);
        let (d, mut pd) = pair();
        let gd = gate.admit(4, d);
        assert!(gd.is_some(), "a proven client left: room");
        assert!(!shut(&mut pb) && !shut(&mut pd));
    }

    #[test]
    fn an_expired_handshake_is_evicted_by_the_next_arrival() {
        use std::io::Write;
        let gate = Gate::new(10, Duration::from_millis(20));
        let (a, mut pa) = pair();
        let _ga = gate.admit(1, a).unwrap();
        // Trickling bytes does not keep a handshake open forever.
        pa.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let (b, mut pb) = pair();
        let _gb = gate.admit(2, b).unwrap();
        assert!(shut(&mut pa) && !shut(&mut pb));
    }

    #[test]
    fn making_room_evicts_the_oldest_and_returns_once_its_fd_is_closed() {
        let gate = Gate::new(10, Duration::from_secs(60));
        let (a, mut pa) = pair();
        let (b, mut pb) = pair();
        let mut ga = gate.admit(1, a).unwrap();
        let gb = gate.admit(2, b).unwrap();
        // The victim's thread: blocked reading until the shutdown, then leaves.
        let victim = std::thread::spawn(move || {
            let n = ga.conn().read(&mut [0u8; 8]).unwrap();
            drop(ga);
            n
        });
        assert!(gate.make_room(Duration::from_secs(10)));
        assert_eq!(victim.join().unwrap(), 0, "it read end-of-file");
        assert!(shut(&mut pa) && !shut(&mut pb));
        assert_eq!(gate.lock().open, 1);
        // A proven client is not evicted: with nothing else, no room is made.
        let mut gb = gb;
        assert!(gb.prove());
        assert!(!gate.make_room(Duration::from_millis(10)));
        assert!(!shut(&mut pb));
    }
}
