//! What a blocked process waits for, noted on its own slot only when it is
//! about to sleep, and cleared when it wakes.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::*;

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
    /// A process that cannot exit until its queue's feeder thread has
    /// written what was put into the queue's pipe (a probed Python program).
    Flush = 12,
}

impl WaitOp {
    pub const ALL: [WaitOp; 12] = [
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
        WaitOp::Flush,
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
            WaitOp::Flush => "flush",
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
            self.slot = crate::sys::my_slot().and_then(|i| self.board.proc(i));
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
            s.wait_since.store(crate::sys::now_ns(), Ordering::Relaxed);
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
