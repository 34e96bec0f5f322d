//! The board: one shared region that every process of a run maps.
//!
//! It holds a slot per process and a slot per resource, then an arena where the
//! primitives themselves (queues, pools' counters) live, so the dashboard reads
//! a queue's depth from the queue's own words. Writers use atomics; the
//! dashboard only reads, and checks every offset it is given.

use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::shm::{Region, ShmSafe};
use super::sys;

pub const MAGIC: u64 = 0x6d70_6461_7368_0001; // "mpdash" + 1
pub const VERSION: u32 = 4;
const NAME_WORDS: usize = 6;
pub const NAME_MAX: usize = NAME_WORDS * 8;

/// Where a process is in its life, as written on its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum ProcState {
    #[default]
    Free = 0,
    /// The parent asked for it (fork, exec or a request to the fork server).
    Requested = 1,
    /// The child ran its first instruction.
    Started = 2,
    /// The child finished setting up and runs its target.
    Running = 3,
    Exited = 4,
}

impl ProcState {
    pub fn from_u32(v: u32) -> ProcState {
        match v {
            1 => ProcState::Requested,
            2 => ProcState::Started,
            3 => ProcState::Running,
            4 => ProcState::Exited,
            _ => ProcState::Free,
        }
    }
}

/// What a process is for, as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum Role {
    Main = 1,
    Process = 2,
    PoolWorker = 3,
    ForkServer = 4,
    Bench = 5,
    Manager = 6,
    /// A process of a program mpdash only watches (`mpdash watch`).
    Foreign = 7,
}

impl Role {
    pub fn from_u32(v: u32) -> Option<Role> {
        Some(match v {
            1 => Role::Main,
            2 => Role::Process,
            3 => Role::PoolWorker,
            4 => Role::ForkServer,
            5 => Role::Bench,
            6 => Role::Manager,
            7 => Role::Foreign,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Process => "process",
            Role::PoolWorker => "pool worker",
            Role::ForkServer => "forkserver",
            Role::Bench => "bench",
            Role::Manager => "manager",
            Role::Foreign => "watched",
        }
    }
}

/// How a child process is started (CPython's three start methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum StartMethod {
    /// Fork and run: the child is a copy of the parent.
    #[default]
    Fork = 1,
    /// Fork and exec our own binary: the child starts fresh from a spec and fds.
    Spawn = 2,
    /// Ask a server process (started once, with spawn) to fork the child.
    Forkserver = 3,
}

impl StartMethod {
    pub const ALL: [StartMethod; 3] = [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ];

    pub fn from_u32(v: u32) -> Option<StartMethod> {
        Self::ALL.into_iter().find(|m| *m as u32 == v)
    }

    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }

    pub fn parse(s: &str) -> Option<StartMethod> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn next(self) -> StartMethod {
        match self {
            StartMethod::Fork => StartMethod::Spawn,
            StartMethod::Spawn => StartMethod::Forkserver,
            StartMethod::Forkserver => StartMethod::Fork,
        }
    }
}

impl std::fmt::Display for StartMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[repr(C)]
struct Header {
    magic: AtomicU64,
    version: AtomicU32,
    proc_slots: AtomicU32,
    res_slots: AtomicU32,
    next_proc: AtomicU32,
    next_res: AtomicU32,
    _pad: AtomicU32,
    arena_offset: AtomicU64,
    arena_len: AtomicU64,
    arena_used: AtomicU64,
    created_ns: AtomicU64,
}

/// A process's slot. Its parent fills name, role, method and the request time
/// before `state` becomes `Requested`; the child fills the rest.
#[repr(C)]
pub struct ProcSlot {
    pub state: AtomicU32,
    pub role: AtomicU32,
    pub method: AtomicU32,
    /// Index within its group (worker 1, 2, …), 0 when none.
    pub index: AtomicU32,
    pub pid: AtomicI32,
    pub os_ppid: AtomicI32,
    pub logical_ppid: AtomicI32,
    /// Raw wait status; meaningful once `state` is `Exited`.
    pub wait_status: AtomicI32,
    name: [AtomicU64; NAME_WORDS],
    /// Task id being run, or -1.
    pub current_task: AtomicI64,
    pub tasks_done: AtomicU64,
    pub t_request: AtomicU64,
    pub t_first: AtomicU64,
    pub t_ready: AtomicU64,
    pub t_exit: AtomicU64,
    pub cpu_user_us: AtomicU64,
    pub cpu_sys_us: AtomicU64,
    pub max_rss_kib: AtomicU64,
    /// The queue operation in progress, so others can recover if this process
    /// dies inside it: the queue's offset + 1 (0 = none) and the position,
    /// with [`INTENT_GET`] set for a get.
    pub intent_queue: AtomicU64,
    pub intent_pos: AtomicU64,
    /// Start time in clock ticks since boot, for processes found in `/proc`
    /// (`mpdash watch`): tells the process apart from a later one with its pid.
    pub start_ticks: AtomicU64,
    /// What this process is blocked on (a [`WaitOp`]; 0 = not blocked),
    /// written only when it is about to sleep and cleared when it wakes.
    pub wait_op: AtomicU32,
    /// The resource slot + 1 it waits on (0 = none: a join, a pool).
    pub wait_res: AtomicU32,
    /// The operation's other party: the pid joined, the tasks left of a map.
    pub wait_target: AtomicI64,
    /// When it started waiting (`CLOCK_MONOTONIC` ns).
    pub wait_since: AtomicU64,
    /// 1 once its owner has read all it needs of an ended process (see
    /// [`Board::release_proc`]): a full board may reuse the slot.
    pub released: AtomicU32,
}

/// What a blocked process waits for. The runtime writes it on the waiter's
/// own slot only when it is about to sleep (the fast paths pay nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum WaitOp {
    /// `q.get()` on an empty queue.
    Get = 1,
    /// `q.put()` on a full queue.
    Put = 2,
    /// `JoinableQueue.join()` with unfinished items.
    JoinQueue = 3,
    /// `conn.recv()` with nothing sent.
    Recv = 4,
    /// `lock.acquire()` / `sem.acquire()` held by another.
    Acquire = 5,
    /// `cond.wait()`.
    ConditionWait = 6,
    /// `event.wait()` on a clear event.
    EventWait = 7,
    /// `barrier.wait()` before every party arrived.
    BarrierWait = 8,
    /// `p.join()` of a running process (`wait_target` is its pid).
    Join = 9,
    /// A pool result (`map`, `imap`, `get`; `wait_target`: tasks left).
    PoolResult = 10,
    /// A manager call that blocks (a manager `Lock`, `Queue.get`, `Event.wait`).
    ManagerCall = 11,
}

impl WaitOp {
    pub const ALL: [WaitOp; 11] = [
        WaitOp::Get,
        WaitOp::Put,
        WaitOp::JoinQueue,
        WaitOp::Recv,
        WaitOp::Acquire,
        WaitOp::ConditionWait,
        WaitOp::EventWait,
        WaitOp::BarrierWait,
        WaitOp::Join,
        WaitOp::PoolResult,
        WaitOp::ManagerCall,
    ];

    pub fn from_u32(v: u32) -> Option<WaitOp> {
        Self::ALL.into_iter().find(|w| *w as u32 == v)
    }

    /// The operation as Python spells it: `get`, `acquire`, `join`…
    pub fn verb(self) -> &'static str {
        match self {
            WaitOp::Get => "get",
            WaitOp::Put => "put",
            WaitOp::JoinQueue => "join",
            WaitOp::Recv => "recv",
            WaitOp::Acquire => "acquire",
            WaitOp::ConditionWait | WaitOp::EventWait | WaitOp::BarrierWait => "wait",
            WaitOp::Join => "join",
            WaitOp::PoolResult => "result",
            WaitOp::ManagerCall => "call",
        }
    }
}

/// A process's wait, as read off its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub op: WaitOp,
    /// The resource slot waited on, if any.
    pub res: Option<u32>,
    pub target: i64,
    pub since_ns: u64,
    /// It has a timeout, so it ends by itself.
    pub deadline: bool,
}

/// Notes a wait on the caller's slot the first time it is about to sleep,
/// and clears it when dropped (woken, timed out or failed).
pub struct WaitNote<'a> {
    board: &'a Board,
    /// This process's slot, looked up on the first sleep (creating a note
    /// costs a few stores: it sits on every queue operation's path).
    slot: Option<&'a ProcSlot>,
    op: WaitOp,
    res: Option<u32>,
    /// Where the primitive lives, when its slot is looked up on first sleep.
    offset: Option<usize>,
    target: i64,
    deadline: bool,
    noted: bool,
}

/// Set in `ProcSlot::wait_op` for a wait with a timeout: it ends by itself.
pub const WAIT_HAS_DEADLINE: u32 = 1 << 8;

impl<'a> WaitNote<'a> {
    /// A wait of this process (its own board slot, if it has one) on `res`.
    pub fn new(board: &'a Board, op: WaitOp, res: Option<u32>, target: i64) -> WaitNote<'a> {
        WaitNote {
            board,
            slot: None,
            op,
            res,
            offset: None,
            target,
            deadline: false,
            noted: false,
        }
    }

    /// A wait on the primitive at `offset`; its resource slot is looked up
    /// only if the process really sleeps.
    pub fn at(board: &'a Board, op: WaitOp, offset: usize) -> WaitNote<'a> {
        WaitNote {
            offset: Some(offset),
            ..WaitNote::new(board, op, None, 0)
        }
    }

    /// The wait has a timeout (`Some`): it ends by itself, so it can never
    /// make a run stuck.
    pub fn timeout(mut self, timeout: Option<std::time::Duration>) -> WaitNote<'a> {
        self.deadline = timeout.is_some();
        self
    }

    /// About to sleep: the first call writes the wait, later ones only
    /// update the target (the tasks left of a map).
    pub fn sleeping(&mut self, target: i64) {
        if self.slot.is_none() && !self.noted {
            self.slot = crate::runtime::sys::my_slot().and_then(|i| self.board.proc(i));
        }
        let Some(s) = self.slot else { return };
        if !self.noted && s.wait_op.load(Ordering::Acquire) != 0 {
            // An outer wait of this process is on the slot (a pool waiting
            // on its results queue): that one says what the process waits for.
            return;
        }
        s.wait_target.store(target, Ordering::Relaxed);
        if !self.noted {
            self.noted = true;
            let res = self.res.or_else(|| self.board.res_at(self.offset?));
            s.wait_since
                .store(crate::runtime::sys::now_ns(), Ordering::Relaxed);
            s.wait_res
                .store(res.map_or(0, |r| r + 1), Ordering::Relaxed);
            let flag = if self.deadline { WAIT_HAS_DEADLINE } else { 0 };
            s.wait_op.store(self.op as u32 | flag, Ordering::Release);
        }
    }

    /// About to sleep, with the target given at creation.
    pub fn sleep(&mut self) {
        self.sleeping(self.target);
    }
}

impl Drop for WaitNote<'_> {
    fn drop(&mut self) {
        if let (true, Some(s)) = (self.noted, self.slot) {
            s.wait_op.store(0, Ordering::Release);
        }
    }
}

/// Marks a get in `ProcSlot::intent_pos`.
pub const INTENT_GET: u64 = 1 << 63;

/// What a resource slot describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum ResKind {
    Queue = 1,
    Pool = 2,
    Lock = 3,
    RLock = 4,
    Semaphore = 5,
    BoundedSemaphore = 6,
    Condition = 7,
    Event = 8,
    Barrier = 9,
    Value = 10,
    Array = 11,
    Pipe = 12,
    JoinableQueue = 13,
    Manager = 14,
}

impl ResKind {
    pub fn from_u32(v: u32) -> Option<ResKind> {
        use ResKind::*;
        Some(match v {
            1 => Queue,
            2 => Pool,
            3 => Lock,
            4 => RLock,
            5 => Semaphore,
            6 => BoundedSemaphore,
            7 => Condition,
            8 => Event,
            9 => Barrier,
            10 => Value,
            11 => Array,
            12 => Pipe,
            13 => JoinableQueue,
            14 => Manager,
            _ => return None,
        })
    }
}

/// A resource's slot: kind, name and where the primitive lives in the arena.
#[repr(C)]
pub struct ResSlot {
    pub ready: AtomicU32,
    pub kind: AtomicU32,
    name: [AtomicU64; NAME_WORDS],
    pub offset: AtomicU64,
    pub len: AtomicU64,
    /// Per-kind counters; see each primitive for their meaning.
    pub stats: [AtomicU64; 8],
}

// SAFETY: repr(C), atomics only, valid for all bit patterns.
unsafe impl ShmSafe for Header {}
// SAFETY: as above.
unsafe impl ShmSafe for ProcSlot {}
// SAFETY: as above.
unsafe impl ShmSafe for ResSlot {}
// SAFETY: single atomics.
unsafe impl ShmSafe for AtomicU64 {}
// SAFETY: single atomics.
unsafe impl ShmSafe for AtomicU32 {}

fn write_name(words: &[AtomicU64; NAME_WORDS], name: &str) {
    let mut bytes = [0u8; NAME_MAX];
    let src = name.as_bytes();
    let mut n = src.len().min(NAME_MAX);
    while !name.is_char_boundary(n) {
        n -= 1;
    }
    bytes[..n].copy_from_slice(&src[..n]);
    for (i, w) in words.iter().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
        w.store(u64::from_le_bytes(b), Ordering::Relaxed);
    }
}

fn read_name(words: &[AtomicU64; NAME_WORDS]) -> String {
    let mut bytes = Vec::with_capacity(NAME_MAX);
    for w in words {
        bytes.extend_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
    }
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl ProcSlot {
    /// What the process waits for right now, if anything.
    pub fn wait(&self) -> Option<Wait> {
        let raw = self.wait_op.load(Ordering::Acquire);
        let op = WaitOp::from_u32(raw & !WAIT_HAS_DEADLINE)?;
        Some(Wait {
            op,
            deadline: raw & WAIT_HAS_DEADLINE != 0,
            res: self.wait_res.load(Ordering::Relaxed).checked_sub(1),
            target: self.wait_target.load(Ordering::Relaxed),
            since_ns: self.wait_since.load(Ordering::Relaxed),
        })
    }
}

impl ProcSlot {
    pub fn name(&self) -> String {
        read_name(&self.name)
    }

    pub fn state(&self) -> ProcState {
        ProcState::from_u32(self.state.load(Ordering::Acquire))
    }

    /// Publishes a new state and wakes anyone waiting for it (a `join`).
    pub fn set_state(&self, s: ProcState) {
        self.state.store(s as u32, Ordering::Release);
        sys::futex_wake(&self.state, i32::MAX);
    }

    /// Records how the process ended (by whoever reaped it) and publishes `Exited`.
    /// Forgets a former occupant (a reclaimed slot starts clean).
    fn clear(&self) {
        for w in [
            &self.pid,
            &self.os_ppid,
            &self.logical_ppid,
            &self.wait_status,
        ] {
            w.store(0, Ordering::Relaxed);
        }
        for w in [
            &self.tasks_done,
            &self.t_first,
            &self.t_ready,
            &self.t_exit,
            &self.cpu_user_us,
            &self.cpu_sys_us,
            &self.max_rss_kib,
            &self.intent_queue,
            &self.intent_pos,
            &self.start_ticks,
            &self.wait_since,
        ] {
            w.store(0, Ordering::Relaxed);
        }
        self.wait_op.store(0, Ordering::Relaxed);
        self.wait_res.store(0, Ordering::Relaxed);
        self.wait_target.store(0, Ordering::Relaxed);
        self.released.store(0, Ordering::Relaxed);
    }

    pub fn record_exit(&self, r: &sys::Reaped) {
        self.wait_status.store(r.status, Ordering::Relaxed);
        self.cpu_user_us.store(r.user_us, Ordering::Relaxed);
        self.cpu_sys_us.store(r.sys_us, Ordering::Relaxed);
        self.max_rss_kib.store(r.max_rss_kib, Ordering::Relaxed);
        // `current_task` stays: it names the task a dead worker was running.
        self.t_exit.store(sys::now_ns(), Ordering::Relaxed);
        self.set_state(ProcState::Exited);
    }

    /// The child's own first words on its slot.
    pub fn record_start(&self, t_first: u64, logical_ppid: i32) {
        self.pid
            .store(nix::unistd::getpid().as_raw(), Ordering::Relaxed);
        self.os_ppid
            .store(nix::unistd::getppid().as_raw(), Ordering::Relaxed);
        self.logical_ppid.store(logical_ppid, Ordering::Relaxed);
        self.t_first.store(t_first, Ordering::Relaxed);
        self.set_state(ProcState::Started);
    }

    /// Renames the row (a watched process that exec'd another program).
    pub fn set_name(&self, name: &str) {
        write_name(&self.name, name);
    }

    pub fn record_ready(&self) {
        self.t_ready.store(sys::now_ns(), Ordering::Relaxed);
        self.set_state(ProcState::Running);
    }
}

impl ResSlot {
    pub fn name(&self) -> String {
        read_name(&self.name)
    }
}

/// Sizes a board is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardSize {
    pub proc_slots: u32,
    pub res_slots: u32,
    pub arena_bytes: usize,
}

impl Default for BoardSize {
    fn default() -> Self {
        BoardSize {
            proc_slots: 256,
            res_slots: 32,
            arena_bytes: 1 << 20,
        }
    }
}

/// A published resource, as [`Board::find_res`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundRes {
    /// Its resource slot.
    pub slot: u32,
    pub kind: ResKind,
    /// Where the primitive lives in the arena.
    pub offset: usize,
    /// The slot's `len` word (for a pipe: 1 when duplex).
    pub len: usize,
}

/// A mapped board. Cheap to clone; each clone shares the mapping.
#[derive(Clone, Debug)]
pub struct Board {
    region: Arc<Region>,
    proc_slots: u32,
    res_slots: u32,
    /// Where the slot tables start, computed once (a queue's put looks up
    /// the caller's slot on every call).
    procs_at: usize,
    res_at: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("shared memory: {0}")]
    Sys(#[from] nix::Error),
    #[error("not an mpdash board (bad magic or version)")]
    Layout,
    #[error("the board has no free {0} slot (a run may have at most {1})")]
    Full(&'static str, u32),
    #[error("the board's arena is full ({0} bytes asked, {1} free)")]
    ArenaFull(usize, usize),
}

const fn align_up(x: usize, a: usize) -> usize {
    x.div_ceil(a) * a
}

impl Board {
    fn layout(size: BoardSize) -> (usize, usize, usize, usize) {
        let procs_at = align_up(std::mem::size_of::<Header>(), 64);
        let res_at = align_up(
            procs_at + size.proc_slots as usize * std::mem::size_of::<ProcSlot>(),
            64,
        );
        let arena_at = align_up(
            res_at + size.res_slots as usize * std::mem::size_of::<ResSlot>(),
            4096,
        );
        let total = arena_at + align_up(size.arena_bytes, 4096);
        (procs_at, res_at, arena_at, total)
    }

    /// Creates and formats a new board.
    pub fn create(size: BoardSize) -> Result<Board, BoardError> {
        let (_, _, arena_at, total) = Self::layout(size);
        let region = Region::create(c"mpdash-board", total)?;
        let h = region.get::<Header>(0).ok_or(BoardError::Layout)?;
        h.version.store(VERSION, Ordering::Relaxed);
        h.proc_slots.store(size.proc_slots, Ordering::Relaxed);
        h.res_slots.store(size.res_slots, Ordering::Relaxed);
        h.arena_offset.store(arena_at as u64, Ordering::Relaxed);
        h.arena_len
            .store((total - arena_at) as u64, Ordering::Relaxed);
        h.created_ns.store(sys::now_ns(), Ordering::Relaxed);
        h.magic.store(MAGIC, Ordering::Release);
        let (procs_at, res_at, ..) = Self::layout(size);
        Ok(Board {
            region: Arc::new(region),
            proc_slots: size.proc_slots,
            res_slots: size.res_slots,
            procs_at,
            res_at,
        })
    }

    /// Maps a board from an inherited or received fd, checking its layout.
    pub fn open(fd: OwnedFd) -> Result<Board, BoardError> {
        let len = Region::size_of(&fd)?;
        let region = Region::map(fd, len)?;
        let h = region.get::<Header>(0).ok_or(BoardError::Layout)?;
        if h.magic.load(Ordering::Acquire) != MAGIC || h.version.load(Ordering::Relaxed) != VERSION
        {
            return Err(BoardError::Layout);
        }
        let size = BoardSize {
            proc_slots: h.proc_slots.load(Ordering::Relaxed),
            res_slots: h.res_slots.load(Ordering::Relaxed),
            arena_bytes: h.arena_len.load(Ordering::Relaxed) as usize,
        };
        let (_, _, arena_at, total) = Self::layout(size);
        if total > len || arena_at as u64 != h.arena_offset.load(Ordering::Relaxed) {
            return Err(BoardError::Layout);
        }
        let (procs_at, res_at, ..) = Self::layout(size);
        Ok(Board {
            region: Arc::new(region),
            proc_slots: size.proc_slots,
            res_slots: size.res_slots,
            procs_at,
            res_at,
        })
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    fn header(&self) -> &Header {
        self.region.get::<Header>(0).expect("board header mapped")
    }

    pub fn created_ns(&self) -> u64 {
        self.header().created_ns.load(Ordering::Relaxed)
    }

    pub fn proc(&self, i: u32) -> Option<&ProcSlot> {
        if i >= self.proc_slots {
            return None;
        }
        self.region
            .get(self.procs_at + i as usize * std::mem::size_of::<ProcSlot>())
    }

    pub fn res(&self, i: u32) -> Option<&ResSlot> {
        if i >= self.res_slots {
            return None;
        }
        self.region
            .get(self.res_at + i as usize * std::mem::size_of::<ResSlot>())
    }

    /// Number of process slots handed out so far.
    pub fn procs_used(&self) -> u32 {
        self.header()
            .next_proc
            .load(Ordering::Acquire)
            .min(self.proc_slots)
    }

    pub fn res_used(&self) -> u32 {
        self.header()
            .next_res
            .load(Ordering::Acquire)
            .min(self.res_slots)
    }

    /// Takes a fresh process slot and fills what the parent knows.
    pub fn new_proc(
        &self,
        name: &str,
        role: Role,
        method: StartMethod,
        index: u32,
        logical_ppid: i32,
    ) -> Result<u32, BoardError> {
        let next = self.header().next_proc.fetch_add(1, Ordering::AcqRel);
        let i = if next < self.proc_slots {
            next
        } else {
            self.header()
                .next_proc
                .store(self.proc_slots, Ordering::Relaxed);
            self.reclaim_proc()
                .ok_or(BoardError::Full("process", self.proc_slots))?
        };
        let slot = self
            .proc(i)
            .ok_or(BoardError::Full("process", self.proc_slots))?;
        slot.clear();
        write_name(&slot.name, name);
        slot.role.store(role as u32, Ordering::Relaxed);
        slot.method.store(method as u32, Ordering::Relaxed);
        slot.index.store(index, Ordering::Relaxed);
        slot.logical_ppid.store(logical_ppid, Ordering::Relaxed);
        slot.current_task.store(-1, Ordering::Relaxed);
        slot.t_request.store(sys::now_ns(), Ordering::Relaxed);
        slot.set_state(ProcState::Requested);
        Ok(i)
    }

    /// Says the ended process in slot `i` is of no more use to its owner
    /// (reaped, its exit and lost task read): when the board is full, a new
    /// process may take the slot. A pool does this for retired and replaced
    /// workers, so `maxtasksperchild = 1` never runs out of slots.
    pub fn release_proc(&self, i: u32) {
        if let Some(s) = self.proc(i).filter(|s| s.state() == ProcState::Exited) {
            s.released.store(1, Ordering::Release);
        }
    }

    /// A released slot, claimed with a compare-and-swap so two starters
    /// never share it.
    fn reclaim_proc(&self) -> Option<u32> {
        (0..self.proc_slots).find(|&i| {
            self.proc(i).is_some_and(|s| {
                s.released.load(Ordering::Acquire) == 1
                    && s.state
                        .compare_exchange(
                            ProcState::Exited as u32,
                            ProcState::Requested as u32,
                            Ordering::AcqRel,
                            Ordering::Relaxed,
                        )
                        .is_ok()
            })
        })
    }

    /// The newest slot that ever held `pid`, live or not.
    pub fn find_pid_any(&self, pid: i32) -> Option<&ProcSlot> {
        (0..self.procs_used())
            .rev()
            .filter_map(|i| self.proc(i))
            .find(|s| s.pid.load(Ordering::Relaxed) == pid)
    }

    /// Finds the slot of a live process by pid (for a reaper that adopted it).
    pub fn find_pid(&self, pid: i32) -> Option<&ProcSlot> {
        (0..self.procs_used())
            .filter_map(|i| self.proc(i))
            .filter(|s| s.state() != ProcState::Exited)
            .find(|s| s.pid.load(Ordering::Relaxed) == pid)
    }

    /// The resource slot of the primitive living at `offset`.
    pub fn res_at(&self, offset: usize) -> Option<u32> {
        (0..self.res_used()).find(|&i| {
            self.res(i).is_some_and(|r| {
                r.ready.load(Ordering::Acquire) == 1
                    && r.offset.load(Ordering::Relaxed) as usize == offset
            })
        })
    }

    /// The published resource named `name`.
    pub fn find_res(&self, name: &str) -> Option<FoundRes> {
        (0..self.res_used()).find_map(|i| {
            let r = self.res(i)?;
            if r.ready.load(Ordering::Acquire) != 1 || r.name() != name {
                return None;
            }
            let kind = ResKind::from_u32(r.kind.load(Ordering::Relaxed))?;
            Some(FoundRes {
                slot: i,
                kind,
                offset: r.offset.load(Ordering::Relaxed) as usize,
                len: r.len.load(Ordering::Relaxed) as usize,
            })
        })
    }

    /// Reserves `len` zeroed bytes in the arena (64-byte aligned) and returns
    /// their offset in the region.
    pub fn alloc(&self, len: usize) -> Result<usize, BoardError> {
        let h = self.header();
        let len = align_up(len.max(1), 64);
        let arena_len = h.arena_len.load(Ordering::Relaxed) as usize;
        let used = h.arena_used.fetch_add(len as u64, Ordering::AcqRel) as usize;
        if used + len > arena_len {
            return Err(BoardError::ArenaFull(len, arena_len.saturating_sub(used)));
        }
        Ok(h.arena_offset.load(Ordering::Relaxed) as usize + used)
    }

    /// Registers a resource living at `offset` and returns its slot index.
    pub fn new_res(
        &self,
        kind: ResKind,
        name: &str,
        offset: usize,
        len: usize,
    ) -> Result<u32, BoardError> {
        let i = self.header().next_res.fetch_add(1, Ordering::AcqRel);
        let slot = self
            .res(i)
            .ok_or(BoardError::Full("resource", self.res_slots))?;
        write_name(&slot.name, name);
        slot.kind.store(kind as u32, Ordering::Relaxed);
        slot.offset.store(offset as u64, Ordering::Relaxed);
        slot.len.store(len as u64, Ordering::Relaxed);
        slot.ready.store(1, Ordering::Release);
        Ok(i)
    }
}

/// The name used for the memfd, shown in `/proc/<pid>/fd`.
pub const MEMFD_NAME: &CStr = c"mpdash-board";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_board_reopened_from_its_fd_shows_the_same_slots() {
        let b = Board::create(BoardSize::default()).unwrap();
        let i = b
            .new_proc("pool worker 1", Role::PoolWorker, StartMethod::Spawn, 1, 7)
            .unwrap();
        let fd = b.region().fd().try_clone_to_owned().unwrap();
        let c = Board::open(fd).unwrap();
        let s = c.proc(i).unwrap();
        assert_eq!(s.name(), "pool worker 1");
        assert_eq!(s.state(), ProcState::Requested);
        assert_eq!(
            Role::from_u32(s.role.load(Ordering::Relaxed)),
            Some(Role::PoolWorker)
        );
        assert_eq!(c.procs_used(), 1);
    }

    #[test]
    fn names_are_cut_on_a_char_boundary() {
        let b = Board::create(BoardSize::default()).unwrap();
        let long = "é".repeat(40);
        let i = b
            .new_proc(&long, Role::Process, StartMethod::Fork, 0, 0)
            .unwrap();
        let n = b.proc(i).unwrap().name();
        assert!(n.len() <= NAME_MAX && long.starts_with(&n));
    }

    #[test]
    fn slots_and_arena_run_out_with_an_error() {
        let b = Board::create(BoardSize {
            proc_slots: 2,
            res_slots: 1,
            arena_bytes: 4096,
        })
        .unwrap();
        assert!(
            b.new_proc("a", Role::Process, StartMethod::Fork, 0, 0)
                .is_ok()
        );
        assert!(
            b.new_proc("b", Role::Process, StartMethod::Fork, 0, 0)
                .is_ok()
        );
        assert!(matches!(
            b.new_proc("c", Role::Process, StartMethod::Fork, 0, 0),
            Err(BoardError::Full(..))
        ));
        assert!(b.alloc(4000).is_ok());
        assert!(matches!(b.alloc(4000), Err(BoardError::ArenaFull(..))));
    }

    #[test]
    fn a_region_that_is_not_a_board_is_refused() {
        let r = Region::create(c"x", 8192).unwrap();
        let fd = r.fd().try_clone_to_owned().unwrap();
        assert!(matches!(Board::open(fd), Err(BoardError::Layout)));
    }
}
