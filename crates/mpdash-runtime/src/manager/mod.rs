//! `Manager`: a server process holding `dict`, `list`, `Namespace`, `Value`,
//! `Queue`, `Lock` and `Event` objects, which proxies in any process use
//! through a socket (CPython's `multiprocessing.managers.SyncManager`).
//!
//! The server listens on an abstract Unix socket (nothing in the file system
//! to leak) and, when asked, on TCP for clients on other hosts. Before
//! anything else, both ends prove they know the authkey (CPython's HMAC
//! challenge, in both directions). Messages are length-prefixed frames of
//! typed JSON ([`Request`], [`Response`]): data only, nothing executable, and
//! a frame larger than [`MAX_FRAME`] is refused before it is read.
//!
//! The listening sockets are made by the process that starts the manager and
//! handed to the server, so the address is known (and connectable) before the
//! server runs. The address, the authkey, the objects and per-method call
//! counts and latencies live in the manager's block on the board: processes
//! of the run find the manager there, and the dashboard reads it.

mod board_block;
mod client;
mod gate;
mod objects;
mod protocol;
mod server;

pub use board_block::{ManagerShared, MethodStat, ObjSlot};
pub use client::ManagerClient;
pub use protocol::{Method, ObjKind, RemoteError, Request, Response};
pub use server::{SERVER_ENTRY, entry, serve};

use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::board::{Board, BoardError, ResKind, Role};
use crate::pipe::PipeError;
use crate::process::{Context, Process, ProcessError};
use crate::registry::Target;
use crate::sys;

/// Most objects one manager holds.
pub const MAX_OBJECTS: usize = 32;
/// How long either end of a manager connection polls for the other's next
/// frame before it sleeps: a round trip that fits costs no wake-up (what made
/// the queue fast). Spent only while a conversation is going on.
pub(super) const SPIN: Duration = Duration::from_micros(100);
/// Largest request or response frame.
pub const MAX_FRAME: usize = 1 << 20;
/// Names of the listening sockets handed to the server process.
pub(super) const UNIX_FD: &str = "manager unix";
pub(super) const TCP_FD: &str = "manager tcp";
/// Connections the kernel queues for the TCP listener before it drops SYNs
/// (capped by `net.core.somaxconn`).
pub(super) const TCP_BACKLOG: i32 = 1024;
/// How often a client blocked on a call checks that the server still lives.
pub(super) const ALIVE_CHECK: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("{0}")]
    Board(#[from] BoardError),
    #[error("{0}")]
    Process(#[from] ProcessError),
    // The cause is in the message, not a `source`: printed with its chain
    // (`{:#}`) it would say everything twice.
    #[error("manager at {peer}: {cause}")]
    Connection { peer: String, cause: PipeError },
    #[error("manager at {peer}: cannot connect: {cause}")]
    Connect { peer: String, cause: std::io::Error },
    #[error("manager at {peer}: the server is gone")]
    ServerGone { peer: String },
    #[error("manager at {peer}: no answer within {secs} s")]
    NoAnswer { peer: String, secs: u64 },
    #[error("manager at {peer}: malformed answer: {msg}")]
    BadAnswer { peer: String, msg: String },
    #[error("manager at {peer}: {0}", peer = .1)]
    Remote(RemoteError, String),
    #[error("no manager on the board")]
    NoManager,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The manager as its starter holds it: the server process and the addresses.
pub struct Manager {
    board: Board,
    offset: usize,
    server: Process,
    tcp: Option<std::net::SocketAddr>,
}

impl Manager {
    /// `Manager()`: starts the server with the context's start method,
    /// listening on an abstract Unix socket and, when `tcp` is given (for
    /// example `127.0.0.1:0`), on TCP too.
    pub fn start(ctx: &Context, name: &str, tcp: Option<&str>) -> Result<Manager, ManagerError> {
        Manager::start_with_key(ctx, name, tcp, None)
    }

    /// The same with a chosen authkey (1 to 32 bytes; CPython's `authkey=`),
    /// for clients on other hosts, which cannot read it from the board.
    pub fn start_with_key(
        ctx: &Context,
        name: &str,
        tcp: Option<&str>,
        authkey: Option<&[u8]>,
    ) -> Result<Manager, ManagerError> {
        let board = ctx.board().clone();
        let offset = board.alloc(std::mem::size_of::<ManagerShared>())?;
        let shared = board
            .region()
            .get::<ManagerShared>(offset)
            .ok_or(BoardError::Layout)?;
        let mut key = [0u8; 32];
        let len = match authkey {
            Some(k) if (1..=32).contains(&k.len()) => {
                key[..k.len()].copy_from_slice(k);
                k.len()
            }
            Some(k) => {
                return Err(ManagerError::Io(std::io::Error::other(format!(
                    "an authkey has 1 to 32 bytes, not {}",
                    k.len()
                ))));
            }
            None => {
                getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
                32
            }
        };
        board_block::store_bytes(&shared.key, &key);
        shared.key_len.store(len as u32, Ordering::Relaxed);
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        let addr = format!(
            "mpdash-{}-{:016x}",
            sys::my_pid(),
            u64::from_le_bytes(nonce)
        );
        board_block::store_bytes(&shared.addr, addr.as_bytes());
        let unix = UnixListener::bind_addr(&SocketAddr::from_abstract_name(addr.as_bytes())?)?;
        let tcp_listener = tcp.map(TcpListener::bind).transpose()?;
        if let Some(l) = &tcp_listener {
            // std listens with a queue of 128: a crowd connecting in a burst
            // overflows it, and the kernel then drops every SYN, a real
            // client's too, which retries only a second later.
            nix::sys::socket::Backlog::new(TCP_BACKLOG)
                .and_then(|b| nix::sys::socket::listen(l, b))
                .map_err(std::io::Error::from)?;
        }
        let tcp_addr = tcp_listener.as_ref().map(|l| l.local_addr()).transpose()?;
        if let Some(a) = tcp_addr {
            shared
                .tcp_port
                .store(u32::from(a.port()), Ordering::Relaxed);
        }
        board.new_res(ResKind::Manager, name, offset, 0)?;
        let unix_fd = OwnedFd::from(unix);
        let tcp_fd = tcp_listener.map(OwnedFd::from);
        let mut server = Process::new(ctx, name, Target::new(SERVER_ENTRY, offset))
            .with_role(Role::Manager, 0)
            .pass_fd(UNIX_FD, std::os::fd::AsFd::as_fd(&unix_fd));
        if let Some(fd) = &tcp_fd {
            server = server.pass_fd(TCP_FD, std::os::fd::AsFd::as_fd(fd));
        }
        server.daemon = true;
        server.start()?;
        shared.server_pid.store(
            server.pid().map_or(0, |p| p.as_raw() as u32),
            Ordering::Relaxed,
        );
        Ok(Manager {
            board,
            offset,
            server,
            tcp: tcp_addr,
        })
    }

    /// Where remote clients connect, when the manager listens on TCP.
    pub fn tcp_address(&self) -> Option<std::net::SocketAddr> {
        self.tcp
    }

    pub fn authkey(&self) -> Vec<u8> {
        self.shared().authkey()
    }

    fn shared(&self) -> &ManagerShared {
        self.board
            .region()
            .get::<ManagerShared>(self.offset)
            .expect("allocated at start")
    }

    pub fn server(&mut self) -> &mut Process {
        &mut self.server
    }

    /// A client in this process.
    pub fn connect(&self) -> Result<ManagerClient, ManagerError> {
        ManagerClient::on_board_at(&self.board, self.offset)
    }

    /// `manager.shutdown()`: asks the server to stop, then makes sure it did.
    pub fn shutdown(&mut self) {
        if let Ok(mut c) = self.connect() {
            let _ = c.conn.send(&Request::Shutdown);
            let _ = c.conn.poll(Some(Duration::from_millis(500)));
        }
        if self.server.join(Some(Duration::from_secs(1))).is_none() {
            self.server.kill();
            self.server.join(None);
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if self.server.is_alive() {
            self.shutdown();
        }
    }
}
