//! CPython's `Event`, and `Condition` over one of our locks.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::futex::FutexPrim;
use super::*;
use crate::board::WaitOp;
use crate::board::{Board, BoardError, ResKind};

/// CPython's `Event`.
#[derive(Clone, Debug)]
pub struct Event(FutexPrim);

impl Event {
    pub fn create(board: &Board, name: &str) -> Result<Event, BoardError> {
        Ok(Event(FutexPrim::create(board, ResKind::Event, name, 0, 0)?))
    }

    pub fn attach(board: &Board, offset: usize) -> Result<Event, SyncError> {
        Ok(Event(FutexPrim::attach(board, offset)?))
    }

    pub fn is_set(&self) -> bool {
        self.0.s().value.load(Ordering::Acquire) == 1
    }

    pub fn set(&self) {
        self.0.s().value.store(1, Ordering::SeqCst);
        self.0.wake(i32::MAX);
    }

    pub fn clear(&self) {
        self.0.s().value.store(0, Ordering::SeqCst);
    }

    /// Waits until set; returns whether it is set (false on timeout), as CPython.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let dl = deadline(timeout);
        let mut note = self.0.note(WaitOp::EventWait, timeout);
        while !self.is_set() {
            if self.0.sleep(&mut note, 0, dl, None).is_err() {
                return self.is_set();
            }
        }
        true
    }
}

/// CPython's `Condition`, over one of our locks.
#[derive(Clone, Debug)]
pub struct Condition {
    prim: FutexPrim,
    pub lock: Lock,
}

impl Condition {
    pub fn create(board: &Board, name: &str, lock: Lock) -> Result<Condition, BoardError> {
        Ok(Condition {
            prim: FutexPrim::create(board, ResKind::Condition, name, 0, 0)?,
            lock,
        })
    }

    pub fn attach(board: &Board, offset: usize, lock: Lock) -> Result<Condition, SyncError> {
        Ok(Condition {
            prim: FutexPrim::attach(board, offset)?,
            lock,
        })
    }

    /// Releases the lock (which the caller holds), waits for a notify or the
    /// timeout, and takes the lock again. Returns false on timeout.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, SyncError> {
        let s = self.prim.s();
        let seen = s.value.load(Ordering::SeqCst);
        let depth = self.lock.shared().depth().max(1);
        for _ in 0..depth {
            self.lock.release()?;
        }
        let mut note = self.prim.note(WaitOp::ConditionWait, timeout);
        let r = self.prim.sleep(&mut note, seen, deadline(timeout), None);
        drop(note);
        for _ in 0..depth {
            self.lock.acquire_raw(true, None)?;
        }
        Ok(r.is_ok() && s.value.load(Ordering::SeqCst) != seen)
    }

    /// Waits until `pred()` holds (checked with the lock held), at most `timeout`.
    pub fn wait_for(
        &self,
        mut pred: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, SyncError> {
        let dl = deadline(timeout);
        while !pred() {
            match left(dl) {
                Err(_) => return Ok(false),
                Ok(t) => {
                    self.wait(t)?;
                }
            }
        }
        Ok(true)
    }

    pub fn notify(&self, n: i32) {
        self.prim.s().value.fetch_add(1, Ordering::SeqCst);
        self.prim.wake(n);
    }

    pub fn notify_all(&self) {
        self.notify(i32::MAX);
    }
}
