//! The board: one shared region that every process of a run maps.
//!
//! It holds a slot per process and a slot per resource, then an arena where the
//! primitives themselves (queues, pools' counters) live, so the dashboard reads
//! a queue's depth from the queue's own words. Writers use atomics; the
//! dashboard only reads, and checks every offset it is given.

use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

mod kinds;
mod slots;
mod waits;

pub use kinds::{ProcState, ResKind, Role, StartMethod};
pub use slots::{INTENT_GET, ProcSlot, ResSlot};
pub use waits::{WAIT_HAS_DEADLINE, Wait, WaitNote, WaitOp};

use super::shm::{Region, ShmSafe};
use super::sys;
use slots::write_name;

pub const MAGIC: u64 = 0x6d70_6461_7368_0001; // "mpdash" + 1
pub const VERSION: u32 = 5;
const NAME_WORDS: usize = 6;
pub const NAME_MAX: usize = NAME_WORDS * 8;

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
