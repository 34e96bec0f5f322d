//! Sizing a board for what the caller will put on it: say which processes and
//! primitives the run will have, and the plan works out the slots and arena
//! bytes each needs — the footprints are the runtime's business, not the
//! caller's.
//!
//! ```no_run
//! # use mpdash_runtime::plan::BoardPlan;
//! let board = BoardPlan::new().processes(4).queue(64, 1024).lock().pool(8).create().unwrap();
//! ```

use super::board::{Board, BoardError, BoardSize};
use super::manager::ManagerShared;
use super::pool::Pool;
use super::queue::Queue;
use super::sync::{FutexShared, LockShared};

/// Slack every plan starts with: the main process, helpers (fork server,
/// manager), and room for small extras.
const BASE: BoardSize = BoardSize {
    proc_slots: 32,
    res_slots: 16,
    arena_bytes: 1 << 16,
};

/// What a run will put on its board; [`BoardPlan::size`] is the board it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardPlan {
    size: BoardSize,
}

impl Default for BoardPlan {
    fn default() -> Self {
        BoardPlan::new()
    }
}

impl BoardPlan {
    /// A plan for a main process and its helpers, with some slack.
    pub fn new() -> BoardPlan {
        BoardPlan { size: BASE }
    }

    fn add(mut self, procs: u32, res: u32, bytes: usize) -> BoardPlan {
        self.size.proc_slots = self.size.proc_slots.saturating_add(procs);
        self.size.res_slots = self.size.res_slots.saturating_add(res);
        self.size.arena_bytes = self.size.arena_bytes.saturating_add(bytes);
        self
    }

    /// `n` more processes (each takes a slot for its whole life).
    pub fn processes(self, n: u32) -> BoardPlan {
        self.add(n, 0, 0)
    }

    /// A queue of `capacity` messages of at most `msg_max` bytes.
    pub fn queue(self, capacity: usize, msg_max: usize) -> BoardPlan {
        self.add(0, 1, Queue::footprint(capacity, msg_max) + 64)
    }

    /// A pool of `workers` (and as many replacements), its two queues.
    pub fn pool(self, workers: usize) -> BoardPlan {
        let w = u32::try_from(workers).unwrap_or(u32::MAX);
        self.add(w.saturating_mul(2), 3, Pool::footprint(workers))
    }

    /// A `Lock` or `RLock`.
    pub fn lock(self) -> BoardPlan {
        self.add(0, 1, std::mem::size_of::<LockShared>() + 64)
    }

    /// A `Semaphore`, `Event`, `Condition` or `Barrier` (a futex word each).
    pub fn futex(self) -> BoardPlan {
        self.add(0, 1, std::mem::size_of::<FutexShared>() + 64)
    }

    /// A `Value` or `Array` of `len` cells, with its lock when `locked`.
    pub fn array(self, len: usize, locked: bool) -> BoardPlan {
        let plan = self.add(0, 1, 128 + len.saturating_mul(8));
        if locked { plan.lock() } else { plan }
    }

    /// A `Pipe` (its counters live in its resource slot).
    pub fn pipe(self) -> BoardPlan {
        self.add(0, 1, 0)
    }

    /// A `Manager` (its server is a process).
    pub fn manager(self) -> BoardPlan {
        self.add(1, 1, std::mem::size_of::<ManagerShared>() + 64)
    }

    /// The board this plan needs.
    pub fn size(&self) -> BoardSize {
        self.size
    }

    /// Creates the board.
    pub fn create(&self) -> Result<Board, BoardError> {
        Board::create(self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_value::{Num, SharedArray, TypeCode};
    use crate::sync::{Barrier, Lock, Semaphore};

    #[test]
    fn what_the_plan_says_fits_on_the_board() {
        let board = BoardPlan::new()
            .queue(4096, 4096)
            .lock()
            .futex()
            .futex()
            .array(10_000, true)
            .create()
            .unwrap();
        Queue::create(&board, "q", 4096, 4096).unwrap();
        Lock::create(&board, "l", false).unwrap();
        Semaphore::create(&board, "s", 1, false).unwrap();
        Barrier::create(&board, "b", 2).unwrap();
        let init = vec![Num::Int(0); 10_000];
        SharedArray::create(&board, "a", TypeCode::SQ, &init, true).unwrap();
        // The plan leaves slack, but not an arena's worth of it.
        let tight = BoardPlan::new().size().arena_bytes;
        assert!(Queue::create(&board, "q2", 4096, tight).is_err());
    }
}
