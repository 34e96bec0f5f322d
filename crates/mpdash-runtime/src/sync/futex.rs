//! The futex word under the semaphore, event, condition and barrier.

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::board::{Board, BoardError, ResKind};
use crate::board::{WaitNote, WaitOp};
use crate::shm::ShmSafe;
use crate::sys;

/// The shared part of a futex-based primitive (semaphore, event, barrier, condition).
#[repr(C, align(64))]
pub struct FutexShared {
    /// Semaphore count, event flag, condition sequence, barrier generation.
    pub value: AtomicU32,
    /// Semaphore bound (0 = unbounded), barrier parties.
    pub limit: AtomicU32,
    pub waiters: AtomicU32,
    /// Barrier: parties arrived in this generation.
    pub arrived: AtomicU32,
    pub broken: AtomicU32,
    pub _pad: AtomicU32,
    pub acquisitions: AtomicU64,
    pub contended: AtomicU64,
    /// Barrier: the pids taking part (0 = free), so a dead party breaks it.
    pub parties: [AtomicI32; MAX_PARTIES],
}

pub const MAX_PARTIES: usize = 64;

// SAFETY: repr(C), atomics only.
unsafe impl ShmSafe for FutexShared {}

#[derive(Clone, Debug)]
pub(super) struct FutexPrim {
    board: Board,
    offset: usize,
}

impl FutexPrim {
    pub(super) fn create(
        board: &Board,
        kind: ResKind,
        name: &str,
        value: u32,
        limit: u32,
    ) -> Result<FutexPrim, BoardError> {
        let offset = board.alloc(std::mem::size_of::<FutexShared>())?;
        let s = board
            .region()
            .get::<FutexShared>(offset)
            .ok_or(BoardError::Layout)?;
        s.value.store(value, Ordering::Relaxed);
        s.limit.store(limit, Ordering::Relaxed);
        board.new_res(kind, name, offset, std::mem::size_of::<FutexShared>())?;
        Ok(FutexPrim {
            board: board.clone(),
            offset,
        })
    }

    pub(super) fn attach(board: &Board, offset: usize) -> Result<FutexPrim, SyncError> {
        board
            .region()
            .get::<FutexShared>(offset)
            .ok_or(SyncError::Corrupt)?;
        Ok(FutexPrim {
            board: board.clone(),
            offset,
        })
    }

    pub(super) fn s(&self) -> &FutexShared {
        self.board
            .region()
            .get::<FutexShared>(self.offset)
            .expect("checked at create/attach")
    }

    /// Sleeps while `value == seen`, at most until `deadline` and at most `slice`.
    pub(super) fn sleep(
        &self,
        note: &mut WaitNote<'_>,
        seen: u32,
        deadline: Option<Instant>,
        slice: Option<Duration>,
    ) -> Result<(), SyncError> {
        let s = self.s();
        let mut wait = left(deadline)?;
        if let Some(sl) = slice {
            wait = Some(wait.map_or(sl, |w| w.min(sl)));
        }
        s.waiters.fetch_add(1, Ordering::SeqCst);
        if s.value.load(Ordering::SeqCst) == seen {
            note.sleep();
            sys::futex_wait(&s.value, seen, wait);
        }
        s.waiters.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    /// A wait of the calling process on this primitive.
    pub(super) fn note(&self, op: WaitOp, timeout: Option<Duration>) -> WaitNote<'_> {
        WaitNote::at(&self.board, op, self.offset).timeout(timeout)
    }

    pub(super) fn wake(&self, n: i32) {
        let s = self.s();
        if s.waiters.load(Ordering::SeqCst) > 0 {
            sys::futex_wake(&s.value, n);
        }
    }
}
