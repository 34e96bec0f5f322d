//! A proxy's connection to a manager: authenticate, look objects up, call
//! methods (blocking calls notice a dead server).

use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use super::{board_block::*, protocol::*};
use crate::board::{Board, BoardError, ResKind};
use crate::board::{WaitNote, WaitOp};
use crate::pipe::{Connection, PipeError, authenticate};
use crate::pyvalue::PyValue;
use crate::sys;

/// A connection to a manager. Each call is one round trip.
pub struct ManagerClient {
    pub(super) conn: Connection,
    pub(super) peer: String,
    /// The board block, when the client is in a process of the run: calls
    /// are counted and timed there.
    pub(super) stats: Option<(Board, usize)>,
    pub(super) server_pid: i32,
    /// Seconds an answer may take (a one-shot client's timeout).
    pub(super) answer_within: Option<u64>,
}

impl ManagerClient {
    /// Connects to the manager named `name` on the run's board.
    pub fn on_board(board: &Board, name: &str) -> Result<ManagerClient, ManagerError> {
        match board.find_res(name) {
            Some(r) if r.kind == ResKind::Manager => ManagerClient::on_board_at(board, r.offset),
            _ => Err(ManagerError::NoManager),
        }
    }

    pub(super) fn on_board_at(board: &Board, offset: usize) -> Result<ManagerClient, ManagerError> {
        let shared = board
            .region()
            .get::<ManagerShared>(offset)
            .ok_or(BoardError::Layout)?;
        let addr = shared.address();
        let peer = format!("unix:@{addr}");
        let stream = SocketAddr::from_abstract_name(addr.as_bytes())
            .and_then(|a| UnixStream::connect_addr(&a))
            .map_err(|cause| ManagerError::Connect {
                peer: peer.clone(),
                cause,
            })?;
        let mut c = ManagerClient::handshake(OwnedFd::from(stream), peer, &shared.authkey())?;
        c.stats = Some((board.clone(), offset));
        c.server_pid = shared.server_pid.load(Ordering::Relaxed) as i32;
        Ok(c)
    }

    /// Connects over TCP (`host:port`) with the manager's authkey.
    pub fn connect_tcp(address: &str, authkey: &[u8]) -> Result<ManagerClient, ManagerError> {
        let peer = format!("tcp:{address}");
        let stream = TcpStream::connect(address).map_err(|cause| ManagerError::Connect {
            peer: peer.clone(),
            cause,
        })?;
        stream.set_nodelay(true)?;
        ManagerClient::handshake(OwnedFd::from(stream), peer, authkey)
    }

    /// [`ManagerClient::connect_tcp`] for one-shot clients: connecting, the
    /// handshake and every answer must come within `timeout`, or the call
    /// fails with [`ManagerError::NoAnswer`] instead of hanging.
    pub fn connect_tcp_within(
        address: &str,
        authkey: &[u8],
        timeout: Duration,
    ) -> Result<ManagerClient, ManagerError> {
        use std::net::ToSocketAddrs;
        let peer = format!("tcp:{address}");
        let connect = |cause| ManagerError::Connect {
            peer: peer.clone(),
            cause,
        };
        let addrs: Vec<_> = address.to_socket_addrs().map_err(connect)?.collect();
        let mut last = std::io::Error::from(std::io::ErrorKind::AddrNotAvailable);
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(timeout))?;
                    stream.set_write_timeout(Some(timeout))?;
                    let secs = timeout.as_secs().max(1);
                    return ManagerClient::handshake(OwnedFd::from(stream), peer.clone(), authkey)
                        .map_err(|e| no_answer(e, &peer, secs))
                        .map(|mut c| {
                            c.answer_within = Some(secs);
                            c
                        });
                }
                Err(e) => last = e,
            }
        }
        Err(connect(last))
    }

    pub(super) fn handshake(
        fd: OwnedFd,
        peer: String,
        key: &[u8],
    ) -> Result<ManagerClient, ManagerError> {
        let mut conn = Connection::from_fd(fd, true, true)
            .with_max_frame(MAX_FRAME)
            .with_spin(SPIN);
        authenticate(&mut conn, key, false).map_err(|cause| ManagerError::Connection {
            peer: peer.clone(),
            cause,
        })?;
        Ok(ManagerClient {
            conn,
            peer,
            stats: None,
            server_pid: 0,
            answer_within: None,
        })
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    pub(super) fn round_trip(&mut self, req: &Request) -> Result<Response, ManagerError> {
        let peer = &self.peer;
        let err = |cause| ManagerError::Connection {
            peer: peer.clone(),
            cause,
        };
        self.conn.send(req).map_err(err)?;
        // A blocking call (queue get, lock acquire) may wait long: meanwhile,
        // notice a server that died without closing the socket (stopped
        // processes, or a host gone) by its pid when we know it.
        // A call not answered within one check is a blocked call: say so on
        // this process's slot (a quick round trip writes nothing).
        let stats = self.stats.clone();
        let mut note = stats
            .as_ref()
            .map(|(board, offset)| WaitNote::at(board, WaitOp::ManagerCall, *offset));
        let asked = Instant::now();
        while !self.conn.poll(Some(ALIVE_CHECK)).map_err(err)? {
            if let Some(n) = note.as_mut() {
                n.sleep();
            }
            if let Some(secs) = self.answer_within
                && asked.elapsed().as_secs() >= secs
            {
                return Err(ManagerError::NoAnswer {
                    peer: peer.clone(),
                    secs,
                });
            }
            if self.server_pid > 0 && sys::is_dead(self.server_pid) {
                return Err(ManagerError::ServerGone { peer: peer.clone() });
            }
        }
        drop(note);
        match self.conn.recv::<Response>() {
            Ok(r) => Ok(r),
            Err(PipeError::Eof) | Err(PipeError::Truncated(..)) => {
                Err(ManagerError::ServerGone { peer: peer.clone() })
            }
            Err(PipeError::Codec(msg)) => Err(ManagerError::BadAnswer {
                peer: peer.clone(),
                msg,
            }),
            Err(source) => Err(err(source)),
        }
    }

    pub(super) fn object(&mut self, req: &Request) -> Result<(u32, ObjKind), ManagerError> {
        match self.round_trip(req)? {
            Response::Object { id, kind } => Ok((id, kind)),
            Response::Error(e) => Err(ManagerError::Remote(e, self.peer.clone())),
            Response::Value(_) => Err(ManagerError::BadAnswer {
                peer: self.peer.clone(),
                msg: "a value where an object was expected".into(),
            }),
        }
    }

    /// `manager.dict()`, `manager.list(init)`, …: returns the object's id.
    pub fn create(
        &mut self,
        kind: ObjKind,
        name: &str,
        init: Option<PyValue>,
    ) -> Result<u32, ManagerError> {
        let req = Request::Create {
            kind,
            name: name.to_string(),
            init,
        };
        Ok(self.object(&req)?.0)
    }

    /// Finds an object by name.
    pub fn lookup(&mut self, name: &str) -> Result<(u32, ObjKind), ManagerError> {
        self.object(&Request::Lookup {
            name: name.to_string(),
        })
    }

    /// Calls `method` on the object named `name` (one lookup, one call).
    pub fn call_named(
        &mut self,
        name: &str,
        method: Method,
        args: Vec<PyValue>,
    ) -> Result<PyValue, ManagerError> {
        let (id, _) = self.lookup(name)?;
        self.call(id, method, args, None)
    }

    /// One method call on object `id`.
    pub fn call(
        &mut self,
        id: u32,
        method: Method,
        args: Vec<PyValue>,
        timeout: Option<Duration>,
    ) -> Result<PyValue, ManagerError> {
        let t = Instant::now();
        let req = Request::Call {
            id,
            method,
            args,
            timeout_ms: timeout.map(|d| d.as_millis() as u64),
        };
        let r = self.round_trip(&req)?;
        if let Some((board, offset)) = &self.stats
            && let Some(s) = board.region().get::<ManagerShared>(*offset)
        {
            let m = &s.methods[method.index()];
            m.calls.fetch_add(1, Ordering::Relaxed);
            m.ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
            if let Some(o) = s.obj.get(id as usize) {
                o.calls.fetch_add(1, Ordering::Relaxed);
            }
        }
        match r {
            Response::Value(v) => Ok(v),
            Response::Error(e) => Err(ManagerError::Remote(e, self.peer.clone())),
            Response::Object { .. } => Err(ManagerError::BadAnswer {
                peer: self.peer.clone(),
                msg: "an object where a value was expected".into(),
            }),
        }
    }

    /// Sends raw bytes as one frame and returns the raw answer (tests of hostile input).
    pub fn raw(&mut self, frame: &[u8]) -> Result<Vec<u8>, PipeError> {
        self.conn.send_bytes(frame)?;
        self.conn.recv_bytes()
    }
}

/// A read that timed out (`SO_RCVTIMEO`) is no answer, not a broken peer.
fn no_answer(e: ManagerError, peer: &str, secs: u64) -> ManagerError {
    match e {
        ManagerError::Connection {
            cause: PipeError::Sys(nix::errno::Errno::EAGAIN),
            ..
        } => ManagerError::NoAnswer {
            peer: peer.to_string(),
            secs,
        },
        other => other,
    }
}
