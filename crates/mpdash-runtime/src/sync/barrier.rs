//! CPython's `Barrier`, which also breaks when a registered party dies.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::futex::FutexPrim;
use super::*;
use crate::board::WaitOp;
use crate::board::{Board, BoardError, ResKind};
use crate::sys;

/// CPython's `Barrier`, which also breaks when a registered party dies.
#[derive(Clone, Debug)]
pub struct Barrier(FutexPrim);

/// How often a waiting party checks that the others are still alive.
const BARRIER_CHECK: Duration = Duration::from_millis(20);

impl Barrier {
    pub fn create(board: &Board, name: &str, parties: u32) -> Result<Barrier, BoardError> {
        Ok(Barrier(FutexPrim::create(
            board,
            ResKind::Barrier,
            name,
            0,
            parties.max(1),
        )?))
    }

    pub fn attach(board: &Board, offset: usize) -> Result<Barrier, SyncError> {
        Ok(Barrier(FutexPrim::attach(board, offset)?))
    }

    pub fn shared(&self) -> &FutexShared {
        self.0.s()
    }

    /// Declares the calling process a party, so its death breaks the barrier
    /// instead of leaving the others waiting forever.
    pub fn register(&self) {
        let me = sys::my_pid();
        let s = self.0.s();
        if s.parties.iter().any(|p| p.load(Ordering::Relaxed) == me) {
            return;
        }
        for p in &s.parties {
            if p.compare_exchange(0, me, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Withdraws the calling process (it will not wait here again).
    pub fn deregister(&self) {
        let me = sys::my_pid();
        for p in &self.0.s().parties {
            let _ = p.compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    pub fn is_broken(&self) -> bool {
        self.0.s().broken.load(Ordering::Acquire) != 0
    }

    /// Puts the barrier in the broken state and wakes every waiter.
    pub fn abort(&self) {
        let s = self.0.s();
        s.broken.store(1, Ordering::SeqCst);
        s.value.fetch_add(1, Ordering::SeqCst);
        self.0.wake(i32::MAX);
    }

    /// Resets a broken barrier (CPython's `reset`).
    pub fn reset(&self) {
        let s = self.0.s();
        s.arrived.store(0, Ordering::SeqCst);
        s.broken.store(0, Ordering::SeqCst);
        s.value.fetch_add(1, Ordering::SeqCst);
        self.0.wake(i32::MAX);
    }

    pub(super) fn dead_party(&self) -> Option<i32> {
        self.0
            .s()
            .parties
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .find(|&pid| pid != 0 && sys::is_dead(pid))
    }

    /// Waits for all parties; returns this party's arrival index (0-based) as
    /// CPython does. A timeout, an abort or a dead party breaks the barrier.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<u32, SyncError> {
        let s = self.0.s();
        if self.is_broken() {
            return Err(SyncError::BrokenBarrier(String::new()));
        }
        let generation = s.value.load(Ordering::SeqCst);
        let parties = s.limit.load(Ordering::Relaxed);
        let index = s.arrived.fetch_add(1, Ordering::SeqCst);
        if index + 1 >= parties {
            s.arrived.store(0, Ordering::SeqCst);
            s.acquisitions.fetch_add(1, Ordering::Relaxed);
            s.value.fetch_add(1, Ordering::SeqCst);
            self.0.wake(i32::MAX);
            return Ok(index);
        }
        let dl = deadline(timeout);
        let mut note = self.0.note(WaitOp::BarrierWait, timeout);
        loop {
            if s.value.load(Ordering::SeqCst) != generation {
                return if self.is_broken() {
                    Err(SyncError::BrokenBarrier(String::new()))
                } else {
                    Ok(index)
                };
            }
            if let Some(pid) = self.dead_party() {
                // It may have passed and died just now: then so have we.
                if s.value.load(Ordering::SeqCst) != generation && !self.is_broken() {
                    return Ok(index);
                }
                self.abort();
                return Err(SyncError::BrokenBarrier(format!(": party {pid} died")));
            }
            if self
                .0
                .sleep(&mut note, generation, dl, Some(BARRIER_CHECK))
                .is_err()
            {
                self.abort();
                return Err(SyncError::BrokenBarrier(": timed out".into()));
            }
        }
    }
}
