//! CPython's `Semaphore` and `BoundedSemaphore`, on a futex word.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::futex::FutexPrim;
use super::*;
use crate::board::WaitOp;
use crate::board::{Board, BoardError, ResKind};

/// CPython's `Semaphore` / `BoundedSemaphore`.
#[derive(Clone, Debug)]
pub struct Semaphore(FutexPrim);

impl Semaphore {
    /// `bound = Some(n)` makes a `BoundedSemaphore`: releasing above `n` is an error.
    pub fn create(
        board: &Board,
        name: &str,
        value: u32,
        bounded: bool,
    ) -> Result<Semaphore, BoardError> {
        let kind = if bounded {
            ResKind::BoundedSemaphore
        } else {
            ResKind::Semaphore
        };
        Ok(Semaphore(FutexPrim::create(
            board,
            kind,
            name,
            value,
            if bounded { value.max(1) } else { 0 },
        )?))
    }

    pub fn attach(board: &Board, offset: usize) -> Result<Semaphore, SyncError> {
        Ok(Semaphore(FutexPrim::attach(board, offset)?))
    }

    pub fn shared(&self) -> &FutexShared {
        self.0.s()
    }

    /// Decrements the count, waiting while it is zero (at most `timeout`).
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<(), SyncError> {
        let s = self.0.s();
        let dl = deadline(timeout);
        let mut waited = false;
        let mut note = self.0.note(WaitOp::Acquire, timeout);
        loop {
            let v = s.value.load(Ordering::Acquire);
            if v > 0 {
                if s.value
                    .compare_exchange_weak(v, v - 1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    s.acquisitions.fetch_add(1, Ordering::Relaxed);
                    if waited {
                        s.contended.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(());
                }
                continue;
            }
            waited = true;
            self.0.sleep(&mut note, 0, dl, None)?;
        }
    }

    /// Increments the count and wakes one waiter.
    pub fn release(&self) -> Result<(), SyncError> {
        let s = self.0.s();
        let bound = s.limit.load(Ordering::Relaxed);
        loop {
            let v = s.value.load(Ordering::Acquire);
            if bound > 0 && v >= bound {
                return Err(SyncError::TooManyReleases(bound));
            }
            if s.value
                .compare_exchange_weak(v, v + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                break;
            }
        }
        self.0.wake(1);
        Ok(())
    }

    pub fn value(&self) -> u32 {
        self.0.s().value.load(Ordering::Acquire)
    }
}
