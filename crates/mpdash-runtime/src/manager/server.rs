//! The manager's server process: accept connections (Unix and TCP), check
//! the authkey, and answer requests, one thread per connection.
//!
//! Anyone who reaches the TCP port can open connections, so those that have
//! not proven the authkey are held at a [`Gate`]: the oldest of them makes
//! room for a newcomer, and for an `accept` that failed for want of fds, so
//! idle connections cannot lock a legitimate client out.

use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::gate::{Gate, Guest};
use super::*;
use super::{board_block::*, objects::*, protocol::*};
use crate::board::Board;
use crate::pipe::{Connection, PipeError, answer_challenge, deliver_challenge};
use crate::pyvalue::PyValue;
use crate::registry::Child;

pub(super) struct Server {
    pub(super) board: Board,
    pub(super) offset: usize,
    pub(super) objs: Mutex<Vec<(String, ObjKind, Obj)>>,
    pub(super) changed: Condvar,
}

impl Server {
    pub(super) fn shared(&self) -> Option<&ManagerShared> {
        self.board.region().get::<ManagerShared>(self.offset)
    }

    /// Shows a new object on the board: name and kind once, then its size.
    pub(super) fn announce(&self, objs: &[(String, ObjKind, Obj)], id: usize) {
        if let (Some(s), Some((name, kind, _))) = (self.shared(), objs.get(id))
            && let Some(slot) = s.obj.get(id)
        {
            store_bytes(&slot.name, name.as_bytes());
            slot.kind.store(*kind as u32, Ordering::Relaxed);
            self.publish(objs, id);
            s.objects
                .store(objs.len().min(MAX_OBJECTS) as u32, Ordering::Release);
        }
    }

    /// An object's size on the board, after a call.
    pub(super) fn publish(&self, objs: &[(String, ObjKind, Obj)], id: usize) {
        if let (Some(s), Some((_, _, o))) = (self.shared(), objs.get(id))
            && let Some(slot) = s.obj.get(id)
        {
            slot.len.store(o.len() as u64, Ordering::Relaxed);
        }
    }

    pub(super) fn handle(&self, conn: u64, req: Request) -> Response {
        let mut objs = self.objs.lock().unwrap_or_else(|e| e.into_inner());
        match req {
            Request::Create { kind, name, init } => {
                if objs.len() >= MAX_OBJECTS {
                    return Response::Error(remote(
                        "RuntimeError",
                        format!("a manager holds at most {MAX_OBJECTS} objects"),
                    ));
                }
                if objs.iter().any(|(n, ..)| *n == name) {
                    return Response::Error(remote(
                        "ValueError",
                        format!("an object named {name:?} exists"),
                    ));
                }
                match Obj::new(kind, init) {
                    Ok(o) => {
                        objs.push((name, kind, o));
                        let id = objs.len() - 1;
                        self.announce(&objs, id);
                        Response::Object {
                            id: id as u32,
                            kind,
                        }
                    }
                    Err(e) => Response::Error(e),
                }
            }
            Request::Lookup { name } => match objs.iter().position(|(n, ..)| *n == name) {
                Some(id) => Response::Object {
                    id: id as u32,
                    kind: objs[id].1,
                },
                None => Response::Error(remote("KeyError", format!("no object named {name:?}"))),
            },
            Request::Call {
                id,
                method,
                args,
                timeout_ms,
            } => {
                if id as usize >= objs.len() {
                    return Response::Error(remote("KeyError", format!("unknown object id {id}")));
                }
                let deadline = timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
                loop {
                    match call(&mut objs[id as usize].2, conn, method, &args) {
                        Ok(Some(v)) => {
                            self.publish(&objs, id as usize);
                            if !matches!(method, Method::Repr | Method::Copy | Method::Len) {
                                self.changed.notify_all();
                            }
                            return Response::Value(v);
                        }
                        Ok(None) => {}
                        Err(e) => return Response::Error(e),
                    }
                    // Not ready (empty queue, held lock, clear event): wait.
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if left == Some(Duration::ZERO) {
                        return Response::Value(match method {
                            Method::Take => {
                                return Response::Error(remote("Empty", "the queue stayed empty"));
                            }
                            _ => PyValue::Bool(false),
                        });
                    }
                    objs = match left {
                        Some(d) => {
                            self.changed
                                .wait_timeout(objs, d)
                                .unwrap_or_else(|e| e.into_inner())
                                .0
                        }
                        None => self.changed.wait(objs).unwrap_or_else(|e| e.into_inner()),
                    };
                }
            }
            Request::Shutdown => Response::Value(PyValue::None),
        }
    }

    /// A connection went away: locks it held are released (a client that
    /// died must not block the others forever).
    pub(super) fn disconnected(&self, conn: u64) {
        let mut objs = self.objs.lock().unwrap_or_else(|e| e.into_inner());
        for i in 0..objs.len() {
            if let Obj::Lock(h @ Some(_)) = &mut objs[i].2
                && *h == Some(conn)
            {
                *h = None;
                self.publish(&objs, i);
            }
        }
        self.changed.notify_all();
    }
}

/// The manager server's entry point name.
pub const SERVER_ENTRY: &str = "manager";

/// Entry point of the manager server process: its block's offset is the argument.
pub fn entry(mut child: Child<'_>, arg: &serde_json::Value) -> i32 {
    let Some(offset) = arg.as_u64() else {
        return crate::process::EXIT_DATAERR;
    };
    let unix = child.fds.remove(UNIX_FD);
    let tcp = child.fds.remove(TCP_FD);
    serve(child.board, offset as usize, unix, tcp)
}

/// The server process: accepts clients on the handed sockets, one thread
/// each; every connection authenticates before its first request.
pub fn serve(board: &Board, offset: usize, unix: Option<OwnedFd>, tcp: Option<OwnedFd>) -> i32 {
    let Some(shared) = board.region().get::<ManagerShared>(offset) else {
        return crate::process::EXIT_SOFTWARE;
    };
    let key = shared.authkey();
    let server = Arc::new(Server {
        board: board.clone(),
        offset,
        objs: Mutex::new(Vec::new()),
        changed: Condvar::new(),
    });
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    let acceptor = Acceptor {
        server,
        key: Arc::new(key),
        next: Arc::new(AtomicU64::new(1)),
        gate: Gate::new(MAX_CONNECTIONS, HANDSHAKE_TIMEOUT),
        done: done_tx,
    };
    if let Some(fd) = tcp {
        let l = TcpListener::from(fd);
        let a = acceptor.clone();
        std::thread::spawn(move || {
            accept_loop(
                || {
                    let (stream, addr) = l.accept()?;
                    let _ = stream.set_nodelay(true);
                    Ok((OwnedFd::from(stream), format!("tcp:{addr}")))
                },
                &a,
            )
        });
    }
    if let Some(fd) = unix {
        let l = UnixListener::from(fd);
        let a = acceptor.clone();
        std::thread::spawn(move || {
            accept_loop(
                || Ok((OwnedFd::from(l.accept()?.0), "unix peer".into())),
                &a,
            )
        });
    }
    drop(acceptor);
    // Runs until a client asks for shutdown (or the run ends and takes us down).
    let _ = done_rx.recv();
    0
}

/// Accepts until the listener fails for good. When fds run out (EMFILE,
/// ENFILE) the oldest connection still in its handshake is evicted to free
/// one and `accept` is tried again at once; only when there is none to
/// evict (every fd is a proven client's) does it back off, instead of
/// spinning, so the clients it already has keep being served.
fn accept_loop(mut accept: impl FnMut() -> std::io::Result<(OwnedFd, String)>, a: &Acceptor) {
    let mut backoff = Duration::from_millis(10);
    loop {
        match accept() {
            Ok((fd, peer)) => {
                backoff = Duration::from_millis(10);
                a.spawn_conn(fd, peer);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
                    && a.gate.make_room(ROOM_WAIT) => {}
            Err(_) => {
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Most connections at once, in their handshake or proven. When it is
/// reached, the oldest connection still in its handshake is closed to make
/// room; a newcomer is refused (closed at once, and counted) only when every
/// one of them has proven the authkey.
pub const MAX_CONNECTIONS: usize = 64;
/// An unauthenticated connection is closed when one read of its handshake
/// waits this long; one that has not answered the challenge this long after
/// it was accepted is evicted by the next arrival (bytes trickled slowly do
/// not keep it).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the acceptor, out of fds, waits for an evicted connection to
/// close its fd before it backs off.
const ROOM_WAIT: Duration = Duration::from_millis(100);

/// What every connection thread shares.
#[derive(Clone)]
pub(super) struct Acceptor {
    pub(super) server: Arc<Server>,
    pub(super) key: Arc<Vec<u8>>,
    pub(super) next: Arc<AtomicU64>,
    /// The connections open now, and which are still in their handshake.
    pub(super) gate: Arc<Gate>,
    pub(super) done: crossbeam_channel::Sender<()>,
}

impl Acceptor {
    /// Admits a new connection at the gate (which may evict the oldest one
    /// still in its handshake) and serves it on a thread of its own.
    pub(super) fn spawn_conn(&self, fd: OwnedFd, _peer: String) {
        let refused = || {
            if let Some(s) = self.server.shared() {
                s.refused.fetch_add(1, Ordering::Relaxed);
            }
        };
        let timeout = nix::sys::time::TimeVal::new(HANDSHAKE_TIMEOUT.as_secs() as i64, 0);
        let _ =
            nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReceiveTimeout, &timeout);
        // No spinning in the handshake: a crowd would burn a core on it.
        let conn = Connection::from_fd(fd, true, true).with_max_frame(MAX_FRAME);
        let conn_id = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(guest) = self.gate.admit(conn_id, conn) else {
            refused();
            return; // closing the fd is the polite "no"
        };
        let (server, key, done) = (self.server.clone(), self.key.clone(), self.done.clone());
        let spawned = std::thread::Builder::new()
            .spawn(move || serve_conn(&server, &key, &done, guest, conn_id));
        if spawned.is_err() {
            refused();
        }
    }
}

/// One client: the handshake (each read within [`HANDSHAKE_TIMEOUT`]), then
/// requests until it leaves. The peer proves it knows the authkey first;
/// from then on the gate never evicts it.
fn serve_conn(
    server: &Arc<Server>,
    key: &[u8],
    done: &crossbeam_channel::Sender<()>,
    mut guest: Guest<Connection>,
    conn_id: u64,
) {
    let count_refusal = || {
        if let Some(s) = server.shared() {
            s.refused.fetch_add(1, Ordering::Relaxed);
        }
    };
    // CPython's server-side `authenticate`, in two halves so that the peer
    // is safe from eviction as soon as it has answered our challenge.
    if deliver_challenge(guest.conn(), key).is_err()
        || !guest.prove()
        || answer_challenge(guest.conn(), key).is_err()
    {
        count_refusal();
        return;
    }
    guest.map(|c| c.with_spin(SPIN));
    let conn = guest.conn();
    let forever = nix::sys::time::TimeVal::new(0, 0);
    let _ = nix::sys::socket::setsockopt(
        &conn.fd(),
        nix::sys::socket::sockopt::ReceiveTimeout,
        &forever,
    );
    let clients = server.shared().map(|s| &s.clients);
    if let Some(c) = clients {
        c.fetch_add(1, Ordering::Relaxed);
    }
    loop {
        let req = match conn.recv::<Request>() {
            Ok(r) => r,
            Err(PipeError::Eof) => break,
            Err(PipeError::Codec(e)) => {
                // Garbage from an authenticated peer: say so, keep serving.
                let err = remote("BadRequest", format!("malformed request: {e}"));
                if conn.send(&Response::Error(err)).is_err() {
                    break;
                }
                continue;
            }
            Err(_) => {
                count_refusal();
                break;
            }
        };
        let shutdown = matches!(req, Request::Shutdown);
        let resp = server.handle(conn_id, req);
        match conn.send(&resp) {
            Ok(()) => {}
            // An answer too big for one frame is the caller's error, not a
            // dead server: say so and keep serving.
            Err(PipeError::MessageTooLarge(n, max)) => {
                let err = remote(
                    "ValueError",
                    format!("the answer takes {n} bytes; a manager frame holds at most {max}"),
                );
                if conn.send(&Response::Error(err)).is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
        if shutdown {
            let _ = done.try_send(());
            break;
        }
    }
    server.disconnected(conn_id);
    if let Some(c) = clients {
        c.fetch_sub(1, Ordering::Relaxed);
    }
}
