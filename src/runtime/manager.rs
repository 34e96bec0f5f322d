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

use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::board::{Board, BoardError, ResKind, Role};
use super::pipe::{Connection, PipeError, authenticate};
use super::process::{Context, Process, ProcessError};
use super::pyvalue::PyValue;
use super::registry::{Child, Target};
use super::shm::ShmSafe;
use super::sys;

/// Most objects one manager holds.
pub const MAX_OBJECTS: usize = 32;
/// Largest request or response frame.
pub const MAX_FRAME: usize = 1 << 20;
/// Names of the listening sockets handed to the server process.
const UNIX_FD: &str = "manager unix";
const TCP_FD: &str = "manager tcp";
/// How often a client blocked on a call checks that the server still lives.
const ALIVE_CHECK: Duration = Duration::from_millis(200);

/// The kinds of object a manager holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum ObjKind {
    Dict = 1,
    List = 2,
    Namespace = 3,
    Value = 4,
    Queue = 5,
    Lock = 6,
    Event = 7,
}

impl ObjKind {
    pub const ALL: [ObjKind; 7] = [
        ObjKind::Dict,
        ObjKind::List,
        ObjKind::Namespace,
        ObjKind::Value,
        ObjKind::Queue,
        ObjKind::Lock,
        ObjKind::Event,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ObjKind::Dict => "dict",
            ObjKind::List => "list",
            ObjKind::Namespace => "Namespace",
            ObjKind::Value => "Value",
            ObjKind::Queue => "Queue",
            ObjKind::Lock => "Lock",
            ObjKind::Event => "Event",
        }
    }

    pub fn parse(s: &str) -> Option<ObjKind> {
        ObjKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
    }

    pub fn from_u32(v: u32) -> Option<ObjKind> {
        ObjKind::ALL.get((v as usize).checked_sub(1)?).copied()
    }
}

/// The methods proxies call. Their index is their row in the board's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `repr(obj)`.
    Repr,
    /// The whole value (`dict(d)`, `list(l)`, `v.value`).
    Copy,
    Len,
    GetItem,
    SetItem,
    DelItem,
    /// `d.get(key, default)`.
    Get,
    Keys,
    Append,
    Reverse,
    Pop,
    GetAttr,
    SetAttr,
    SetValue,
    Put,
    Take,
    QSize,
    Acquire,
    Release,
    Set,
    Clear,
    Wait,
    IsSet,
}

impl Method {
    pub const ALL: [Method; 23] = [
        Method::Repr,
        Method::Copy,
        Method::Len,
        Method::GetItem,
        Method::SetItem,
        Method::DelItem,
        Method::Get,
        Method::Keys,
        Method::Append,
        Method::Reverse,
        Method::Pop,
        Method::GetAttr,
        Method::SetAttr,
        Method::SetValue,
        Method::Put,
        Method::Take,
        Method::QSize,
        Method::Acquire,
        Method::Release,
        Method::Set,
        Method::Clear,
        Method::Wait,
        Method::IsSet,
    ];
    pub const COUNT: usize = Method::ALL.len();

    /// Python's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Repr => "__repr__",
            Method::Copy => "_getvalue",
            Method::Len => "__len__",
            Method::GetItem => "__getitem__",
            Method::SetItem => "__setitem__",
            Method::DelItem => "__delitem__",
            Method::Get => "get",
            Method::Keys => "keys",
            Method::Append => "append",
            Method::Reverse => "reverse",
            Method::Pop => "pop",
            Method::GetAttr => "__getattr__",
            Method::SetAttr => "__setattr__",
            Method::SetValue => "set",
            Method::Put => "put",
            Method::Take => "get",
            Method::QSize => "qsize",
            Method::Acquire => "acquire",
            Method::Release => "release",
            Method::Set => "set",
            Method::Clear => "clear",
            Method::Wait => "wait",
            Method::IsSet => "is_set",
        }
    }

    fn index(self) -> usize {
        Method::ALL.iter().position(|&m| m == self).unwrap_or(0)
    }

    /// By its Rust name (`set_item`) or Python's (`__setitem__`); `get` is the
    /// dict's, `take` the queue's.
    pub fn parse(s: &str) -> Option<Method> {
        let snake = serde_json::to_string(&s).ok()?;
        serde_json::from_str::<Method>(&snake)
            .ok()
            .or_else(|| Method::ALL.into_iter().find(|m| m.name() == s))
    }
}

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Make an object (`manager.dict()`); `init` is its first value.
    Create {
        kind: ObjKind,
        name: String,
        init: Option<PyValue>,
    },
    /// Find an object by name.
    Lookup { name: String },
    Call {
        id: u32,
        method: Method,
        args: Vec<PyValue>,
        timeout_ms: Option<u64>,
    },
    /// Stop the server (`manager.shutdown()`).
    Shutdown,
}

/// What the server answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Value(PyValue),
    Object { id: u32, kind: ObjKind },
    Error(RemoteError),
}

/// An error raised in the server, as Python names it (`KeyError: 'x'`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct RemoteError {
    pub kind: String,
    pub message: String,
}

fn remote(kind: &str, message: impl Into<String>) -> RemoteError {
    RemoteError {
        kind: kind.into(),
        message: message.into(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("{0}")]
    Board(#[from] BoardError),
    #[error("{0}")]
    Process(#[from] ProcessError),
    #[error("manager at {peer}: {source}")]
    Connection { peer: String, source: PipeError },
    #[error("manager at {peer}: cannot connect: {source}")]
    Connect {
        peer: String,
        source: std::io::Error,
    },
    #[error("manager at {peer}: the server is gone")]
    ServerGone { peer: String },
    #[error("manager at {peer}: malformed answer: {msg}")]
    BadAnswer { peer: String, msg: String },
    #[error("manager at {peer}: {0}", peer = .1)]
    Remote(RemoteError, String),
    #[error("no manager on the board")]
    NoManager,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Per-method counters on the board.
#[repr(C)]
pub struct MethodStat {
    pub calls: AtomicU64,
    pub ns: AtomicU64,
}

/// One object as the board shows it.
#[repr(C)]
pub struct ObjSlot {
    pub kind: AtomicU32,
    _pad: AtomicU32,
    pub len: AtomicU64,
    pub calls: AtomicU64,
    name: [AtomicU64; 3],
}

/// The manager's block on the board.
#[repr(C)]
pub struct ManagerShared {
    key: [AtomicU64; 4],
    /// Bytes of `key` in use (1..=32).
    key_len: AtomicU32,
    _pad: AtomicU32,
    addr: [AtomicU64; 8],
    pub server_pid: AtomicU32,
    pub tcp_port: AtomicU32,
    pub clients: AtomicU32,
    pub objects: AtomicU32,
    pub obj: [ObjSlot; MAX_OBJECTS],
    pub methods: [MethodStat; Method::COUNT],
}

// SAFETY: every field is an atomic (or an array of them), valid for any bit
// pattern including the arena's zeroes, and mutated only through atomics.
unsafe impl ShmSafe for ManagerShared {}

fn store_bytes(dst: &[AtomicU64], src: &[u8]) {
    for (i, w) in dst.iter().enumerate() {
        let mut b = [0u8; 8];
        for (j, x) in b.iter_mut().enumerate() {
            *x = src.get(i * 8 + j).copied().unwrap_or(0);
        }
        w.store(u64::from_le_bytes(b), Ordering::Relaxed);
    }
}

fn load_bytes(src: &[AtomicU64]) -> Vec<u8> {
    src.iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
        .collect()
}

fn load_str(src: &[AtomicU64]) -> String {
    let b = load_bytes(src);
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl ManagerShared {
    pub fn authkey(&self) -> Vec<u8> {
        let mut k = load_bytes(&self.key);
        k.truncate((self.key_len.load(Ordering::Relaxed) as usize).clamp(1, 32));
        k
    }

    /// The abstract Unix socket name.
    pub fn address(&self) -> String {
        load_str(&self.addr)
    }

    pub fn object_name(&self, i: usize) -> String {
        self.obj
            .get(i)
            .map_or_else(String::new, |o| load_str(&o.name))
    }
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
        store_bytes(&shared.key, &key);
        shared.key_len.store(len as u32, Ordering::Relaxed);
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        let addr = format!(
            "mpdash-{}-{:016x}",
            sys::my_pid(),
            u64::from_le_bytes(nonce)
        );
        store_bytes(&shared.addr, addr.as_bytes());
        let unix = UnixListener::bind_addr(&SocketAddr::from_abstract_name(addr.as_bytes())?)?;
        let tcp_listener = tcp.map(TcpListener::bind).transpose()?;
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

/// A connection to a manager. Each call is one round trip.
pub struct ManagerClient {
    conn: Connection,
    peer: String,
    /// The board block, when the client is in a process of the run: calls
    /// are counted and timed there.
    stats: Option<(Board, usize)>,
    server_pid: i32,
}

impl ManagerClient {
    /// Connects to the manager named `name` on the run's board.
    pub fn on_board(board: &Board, name: &str) -> Result<ManagerClient, ManagerError> {
        match board.find_res(name) {
            Some((_, ResKind::Manager, offset, _)) => ManagerClient::on_board_at(board, offset),
            _ => Err(ManagerError::NoManager),
        }
    }

    fn on_board_at(board: &Board, offset: usize) -> Result<ManagerClient, ManagerError> {
        let shared = board
            .region()
            .get::<ManagerShared>(offset)
            .ok_or(BoardError::Layout)?;
        let addr = shared.address();
        let peer = format!("unix:@{addr}");
        let stream = SocketAddr::from_abstract_name(addr.as_bytes())
            .and_then(|a| UnixStream::connect_addr(&a))
            .map_err(|source| ManagerError::Connect {
                peer: peer.clone(),
                source,
            })?;
        let mut c = ManagerClient::handshake(OwnedFd::from(stream), peer, &shared.authkey())?;
        c.stats = Some((board.clone(), offset));
        c.server_pid = shared.server_pid.load(Ordering::Relaxed) as i32;
        Ok(c)
    }

    /// Connects over TCP (`host:port`) with the manager's authkey.
    pub fn connect_tcp(address: &str, authkey: &[u8]) -> Result<ManagerClient, ManagerError> {
        let peer = format!("tcp:{address}");
        let stream = TcpStream::connect(address).map_err(|source| ManagerError::Connect {
            peer: peer.clone(),
            source,
        })?;
        stream.set_nodelay(true)?;
        ManagerClient::handshake(OwnedFd::from(stream), peer, authkey)
    }

    fn handshake(fd: OwnedFd, peer: String, key: &[u8]) -> Result<ManagerClient, ManagerError> {
        let mut conn = Connection::from_fd(fd, true, true).with_max_frame(MAX_FRAME);
        authenticate(&mut conn, key, false).map_err(|source| ManagerError::Connection {
            peer: peer.clone(),
            source,
        })?;
        Ok(ManagerClient {
            conn,
            peer,
            stats: None,
            server_pid: 0,
        })
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    fn round_trip(&mut self, req: &Request) -> Result<Response, ManagerError> {
        let peer = &self.peer;
        let err = |source| ManagerError::Connection {
            peer: peer.clone(),
            source,
        };
        self.conn.send(req).map_err(err)?;
        // A blocking call (queue get, lock acquire) may wait long: meanwhile,
        // notice a server that died without closing the socket (stopped
        // processes, or a host gone) by its pid when we know it.
        while !self.conn.poll(Some(ALIVE_CHECK)).map_err(err)? {
            if self.server_pid > 0 && sys::is_dead(self.server_pid) {
                return Err(ManagerError::ServerGone { peer: peer.clone() });
            }
        }
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

    fn object(&mut self, req: &Request) -> Result<(u32, ObjKind), ManagerError> {
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

// ---- the server -----------------------------------------------------------

enum Obj {
    Dict(Vec<(PyValue, PyValue)>),
    List(Vec<PyValue>),
    Namespace(Vec<(String, PyValue)>),
    Value(PyValue),
    Queue(VecDeque<PyValue>),
    /// The connection holding it.
    Lock(Option<u64>),
    Event(bool),
}

impl Obj {
    fn new(kind: ObjKind, init: Option<PyValue>) -> Result<Obj, RemoteError> {
        let bad = |what: &str| remote("TypeError", format!("{} needs {what}", kind.name()));
        Ok(match (kind, init) {
            (ObjKind::Dict, None) => Obj::Dict(Vec::new()),
            (ObjKind::Dict, Some(PyValue::Dict(d))) => Obj::Dict(d),
            (ObjKind::List, None) => Obj::List(Vec::new()),
            (ObjKind::List, Some(PyValue::List(l) | PyValue::Tuple(l))) => Obj::List(l),
            (ObjKind::Namespace, None) => Obj::Namespace(Vec::new()),
            (ObjKind::Value, v) => Obj::Value(v.unwrap_or(PyValue::None)),
            (ObjKind::Queue, None) => Obj::Queue(VecDeque::new()),
            (ObjKind::Lock, None) => Obj::Lock(None),
            (ObjKind::Event, None) => Obj::Event(false),
            (ObjKind::Dict, _) => return Err(bad("a dict literal")),
            (ObjKind::List, _) => return Err(bad("a list literal")),
            _ => return Err(bad("no initial value")),
        })
    }

    fn len(&self) -> usize {
        match self {
            Obj::Dict(d) => d.len(),
            Obj::List(l) => l.len(),
            Obj::Namespace(n) => n.len(),
            Obj::Queue(q) => q.len(),
            Obj::Lock(h) => usize::from(h.is_some()),
            Obj::Event(e) => usize::from(*e),
            Obj::Value(_) => 1,
        }
    }

    fn repr(&self) -> String {
        match self {
            Obj::Dict(d) => PyValue::Dict(d.clone()).to_string(),
            Obj::List(l) => PyValue::List(l.clone()).to_string(),
            Obj::Namespace(n) => {
                let f: Vec<String> = n.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("Namespace({})", f.join(", "))
            }
            Obj::Value(v) => format!("Value({v})"),
            Obj::Queue(q) => format!("<Queue qsize={}>", q.len()),
            Obj::Lock(h) => format!("<Lock {}>", if h.is_some() { "locked" } else { "unlocked" }),
            Obj::Event(e) => format!("<Event set={}>", if *e { "True" } else { "False" }),
        }
    }
}

/// Python's dict key equality, for the key types literals have (1 == 1.0 == True).
fn same_key(a: &PyValue, b: &PyValue) -> bool {
    let num = |v: &PyValue| match v {
        PyValue::Bool(b) => Some(f64::from(u8::from(*b))),
        PyValue::Int(i) => Some(*i as f64),
        PyValue::Float(f) => Some(*f),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn index(l: &[PyValue], i: &PyValue) -> Result<usize, RemoteError> {
    let PyValue::Int(i) = i else {
        return Err(remote("TypeError", "list indices must be integers"));
    };
    let n = l.len() as i64;
    let j = if *i < 0 { i + n } else { *i };
    if (0..n).contains(&j) {
        Ok(j as usize)
    } else {
        Err(remote("IndexError", "list index out of range"))
    }
}

struct Server {
    board: Board,
    offset: usize,
    objs: Mutex<Vec<(String, ObjKind, Obj)>>,
    changed: Condvar,
}

impl Server {
    fn shared(&self) -> Option<&ManagerShared> {
        self.board.region().get::<ManagerShared>(self.offset)
    }

    /// Shows a new object on the board: name and kind once, then its size.
    fn announce(&self, objs: &[(String, ObjKind, Obj)], id: usize) {
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
    fn publish(&self, objs: &[(String, ObjKind, Obj)], id: usize) {
        if let (Some(s), Some((_, _, o))) = (self.shared(), objs.get(id))
            && let Some(slot) = s.obj.get(id)
        {
            slot.len.store(o.len() as u64, Ordering::Relaxed);
        }
    }

    fn handle(&self, conn: u64, req: Request) -> Response {
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
    fn disconnected(&self, conn: u64) {
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

/// One call. `Ok(None)`: a blocking call that cannot proceed yet.
fn call(
    o: &mut Obj,
    conn: u64,
    m: Method,
    args: &[PyValue],
) -> Result<Option<PyValue>, RemoteError> {
    let arg = |i: usize| {
        args.get(i).cloned().ok_or_else(|| {
            remote(
                "TypeError",
                format!("{}() missing argument {}", m.name(), i + 1),
            )
        })
    };
    let v = match (o, m) {
        (o, Method::Repr) => PyValue::Str(o.repr()),
        (o, Method::Len) => PyValue::Int(o.len() as i64),
        (Obj::Dict(d), Method::Copy) => PyValue::Dict(d.clone()),
        (Obj::List(l), Method::Copy) => PyValue::List(l.clone()),
        (Obj::Value(v), Method::Copy) => v.clone(),
        (Obj::Dict(d), Method::GetItem) => {
            let k = arg(0)?;
            d.iter()
                .find(|(x, _)| same_key(x, &k))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| remote("KeyError", k.to_string()))?
        }
        (Obj::Dict(d), Method::Get) => {
            let k = arg(0)?;
            d.iter().find(|(x, _)| same_key(x, &k)).map_or_else(
                || args.get(1).cloned().unwrap_or(PyValue::None),
                |(_, v)| v.clone(),
            )
        }
        (Obj::Dict(d), Method::SetItem) => {
            let (k, v) = (arg(0)?, arg(1)?);
            match d.iter_mut().find(|(x, _)| same_key(x, &k)) {
                Some(e) => e.1 = v,
                None => d.push((k, v)),
            }
            PyValue::None
        }
        (Obj::Dict(d), Method::DelItem) => {
            let k = arg(0)?;
            let i = d
                .iter()
                .position(|(x, _)| same_key(x, &k))
                .ok_or_else(|| remote("KeyError", k.to_string()))?;
            d.remove(i);
            PyValue::None
        }
        (Obj::Dict(d), Method::Keys) => PyValue::List(d.iter().map(|(k, _)| k.clone()).collect()),
        (Obj::List(l), Method::GetItem) => l[index(l, &arg(0)?)?].clone(),
        (Obj::List(l), Method::SetItem) => {
            let i = index(l, &arg(0)?)?;
            l[i] = arg(1)?;
            PyValue::None
        }
        (Obj::List(l), Method::DelItem) => {
            let i = index(l, &arg(0)?)?;
            l.remove(i);
            PyValue::None
        }
        (Obj::List(l), Method::Append) => {
            l.push(arg(0)?);
            PyValue::None
        }
        (Obj::List(l), Method::Reverse) => {
            l.reverse();
            PyValue::None
        }
        (Obj::List(l), Method::Pop) => match l.pop() {
            Some(v) => v,
            None => return Err(remote("IndexError", "pop from empty list")),
        },
        (Obj::Namespace(n), Method::GetAttr) => {
            let PyValue::Str(k) = arg(0)? else {
                return Err(remote("TypeError", "attribute name must be a string"));
            };
            n.iter()
                .find(|(x, _)| *x == k)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    remote(
                        "AttributeError",
                        format!("'Namespace' object has no attribute '{k}'"),
                    )
                })?
        }
        (Obj::Namespace(n), Method::SetAttr) => {
            let PyValue::Str(k) = arg(0)? else {
                return Err(remote("TypeError", "attribute name must be a string"));
            };
            let v = arg(1)?;
            match n.iter_mut().find(|(x, _)| *x == k) {
                Some(e) => e.1 = v,
                None => n.push((k, v)),
            }
            PyValue::None
        }
        (Obj::Value(v), Method::SetValue) => {
            *v = arg(0)?;
            PyValue::None
        }
        (Obj::Queue(q), Method::Put) => {
            q.push_back(arg(0)?);
            PyValue::None
        }
        (Obj::Queue(q), Method::Take) => match q.pop_front() {
            Some(v) => v,
            None => return Ok(None),
        },
        (Obj::Queue(q), Method::QSize) => PyValue::Int(q.len() as i64),
        (Obj::Lock(h), Method::Acquire) => match h {
            Some(_) => return Ok(None),
            None => {
                *h = Some(conn);
                PyValue::Bool(true)
            }
        },
        (Obj::Lock(h), Method::Release) => match h {
            Some(_) => {
                *h = None;
                PyValue::None
            }
            None => return Err(remote("RuntimeError", "release unlocked lock")),
        },
        (Obj::Event(e), Method::Set) => {
            *e = true;
            PyValue::None
        }
        (Obj::Event(e), Method::Clear) => {
            *e = false;
            PyValue::None
        }
        (Obj::Event(e), Method::IsSet) => PyValue::Bool(*e),
        (Obj::Event(e), Method::Wait) => match e {
            true => PyValue::Bool(true),
            false => return Ok(None),
        },
        (o, m) => {
            let kind = match o {
                Obj::Dict(_) => "dict",
                Obj::List(_) => "list",
                Obj::Namespace(_) => "Namespace",
                Obj::Value(_) => "Value",
                Obj::Queue(_) => "Queue",
                Obj::Lock(_) => "Lock",
                Obj::Event(_) => "Event",
            };
            return Err(remote(
                "AttributeError",
                format!("'{kind}' object has no method {}", m.name()),
            ));
        }
    };
    Ok(Some(v))
}

/// The server process: accepts clients on the handed sockets, one thread
/// each; every connection authenticates before its first request.
/// The manager server's entry point name.
pub const SERVER_ENTRY: &str = "manager";

/// Entry point of the manager server process: its block's offset is the argument.
pub fn entry(mut child: Child<'_>, arg: &serde_json::Value) -> i32 {
    let Some(offset) = arg.as_u64() else {
        return super::process::EXIT_DATAERR;
    };
    let unix = child.fds.remove(UNIX_FD);
    let tcp = child.fds.remove(TCP_FD);
    serve(child.board, offset as usize, unix, tcp)
}

pub fn serve(board: &Board, offset: usize, unix: Option<OwnedFd>, tcp: Option<OwnedFd>) -> i32 {
    let Some(shared) = board.region().get::<ManagerShared>(offset) else {
        return 70;
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
        done: done_tx,
    };
    if let Some(fd) = tcp {
        let l = TcpListener::from(fd);
        let a = acceptor.clone();
        std::thread::spawn(move || {
            for stream in l.incoming().flatten() {
                let _ = stream.set_nodelay(true);
                let peer = stream
                    .peer_addr()
                    .map_or_else(|_| "tcp peer".into(), |a| format!("tcp:{a}"));
                a.spawn_conn(OwnedFd::from(stream), peer);
            }
        });
    }
    if let Some(fd) = unix {
        let l = UnixListener::from(fd);
        let a = acceptor.clone();
        std::thread::spawn(move || {
            for stream in l.incoming().flatten() {
                a.spawn_conn(OwnedFd::from(stream), "unix peer".into());
            }
        });
    }
    drop(acceptor);
    // Runs until a client asks for shutdown (or the run ends and takes us down).
    let _ = done_rx.recv();
    0
}

/// What every connection thread shares.
#[derive(Clone)]
struct Acceptor {
    server: Arc<Server>,
    key: Arc<Vec<u8>>,
    next: Arc<AtomicU64>,
    done: crossbeam_channel::Sender<()>,
}

impl Acceptor {
    fn spawn_conn(&self, fd: OwnedFd, peer: String) {
        let (server, key, done) = (self.server.clone(), self.key.clone(), self.done.clone());
        let conn_id = self.next.fetch_add(1, Ordering::Relaxed);
        std::thread::spawn(move || {
            let mut conn = Connection::from_fd(fd, true, true).with_max_frame(MAX_FRAME);
            if let Err(e) = authenticate(&mut conn, &key, true) {
                super::registry::report(&format!("manager: refused {peer}: {e}"));
                return;
            }
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
                    Err(e) => {
                        super::registry::report(&format!("manager: dropped {peer}: {e}"));
                        break;
                    }
                };
                let shutdown = matches!(req, Request::Shutdown);
                let resp = server.handle(conn_id, req);
                if conn.send(&resp).is_err() {
                    break;
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
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> PyValue {
        PyValue::parse(s).unwrap()
    }

    #[test]
    fn dict_and_list_semantics() {
        let mut d = Obj::new(ObjKind::Dict, None).unwrap();
        for (k, v) in [
            ("1", "'1'"),
            ("'2'", "2"),
            ("0.25", "None"),
            ("1.0", "'one'"),
        ] {
            call(&mut d, 1, Method::SetItem, &[lit(k), lit(v)]).unwrap();
        }
        // 1.0 is the key 1, as in Python.
        assert_eq!(d.repr(), "{1: 'one', '2': 2, 0.25: None}");
        let e = call(&mut d, 1, Method::GetItem, &[lit("'x'")]).unwrap_err();
        assert_eq!(e.to_string(), "KeyError: 'x'");
        let mut l = Obj::new(ObjKind::List, Some(lit("[0, 1, 2]"))).unwrap();
        call(&mut l, 1, Method::Reverse, &[]).unwrap();
        assert_eq!(l.repr(), "[2, 1, 0]");
        assert_eq!(
            call(&mut l, 1, Method::GetItem, &[lit("-1")]).unwrap(),
            Some(lit("0"))
        );
        let e = call(&mut l, 1, Method::SetAttr, &[lit("'a'"), lit("1")]).unwrap_err();
        assert_eq!(e.kind, "AttributeError");
        assert!(Obj::new(ObjKind::Lock, Some(lit("1"))).is_err());
    }

    #[test]
    fn blocking_calls_wait_until_they_can() {
        let mut q = Obj::new(ObjKind::Queue, None).unwrap();
        assert_eq!(call(&mut q, 1, Method::Take, &[]).unwrap(), None);
        call(&mut q, 1, Method::Put, &[lit("5")]).unwrap();
        assert_eq!(call(&mut q, 1, Method::Take, &[]).unwrap(), Some(lit("5")));
        let mut lock = Obj::new(ObjKind::Lock, None).unwrap();
        assert_eq!(
            call(&mut lock, 1, Method::Acquire, &[]).unwrap(),
            Some(PyValue::Bool(true))
        );
        assert_eq!(call(&mut lock, 2, Method::Acquire, &[]).unwrap(), None);
    }
}
