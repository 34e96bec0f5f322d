//! A process's slot and a resource's slot: the words every process of a
//! run writes and the dashboard reads.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

use super::*;

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
    pub(super) name: [AtomicU64; NAME_WORDS],
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

/// Marks a get in `ProcSlot::intent_pos`.
pub const INTENT_GET: u64 = 1 << 63;

/// A resource's slot: kind, name and where the primitive lives in the arena.
#[repr(C)]
pub struct ResSlot {
    pub ready: AtomicU32,
    pub kind: AtomicU32,
    pub(super) name: [AtomicU64; NAME_WORDS],
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

pub(super) fn write_name(words: &[AtomicU64; NAME_WORDS], name: &str) {
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

pub(super) fn read_name(words: &[AtomicU64; NAME_WORDS]) -> String {
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
    pub(super) fn clear(&self) {
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
