//! When a process dies mid-`put` or mid-`get`: find the positions only dead
//! claimers held, and turn them into counted holes (a producer died) or free
//! them again (a consumer died). Nothing torn, nothing hangs.

use std::sync::atomic::Ordering;

use super::*;
use crate::sys;

impl Queue {
    /// Whether every process that announced (`pos`, get or put) on this queue
    /// is dead (and at least one did). A slow live one means: keep waiting.
    pub(super) fn claimers_all_dead(&self, pos: u64) -> bool {
        let me = self.offset as u64 + 1;
        let mut any = false;
        for i in 0..self.board.procs_used() {
            let Some(s) = self.board.proc(i) else {
                continue;
            };
            if s.intent_queue.load(Ordering::SeqCst) != me
                || s.intent_pos.load(Ordering::Relaxed) != pos
            {
                continue;
            }
            let pid = s.pid.load(Ordering::Relaxed);
            let dead = s.state() == crate::board::ProcState::Exited || sys::is_dead(pid);
            if !dead {
                return false;
            }
            any = true;
        }
        any
    }

    /// Repairs the head or tail when a peer died inside an operation: a
    /// claimed-but-never-published message becomes a counted hole, and a
    /// taken-but-never-freed slot is freed (its message counted as lost).
    /// Returns whether it changed anything.
    pub fn recover(&self) -> bool {
        let h = self.header();
        let deq = h.dequeue.load(Ordering::SeqCst);
        let enq = h.enqueue.load(Ordering::SeqCst);
        let mut repaired = false;
        if enq > deq {
            let (slot, _) = self.slot(deq);
            if slot.seq.load(Ordering::Acquire) == deq && self.claimers_all_dead(deq) {
                slot.len.store(LOST, Ordering::Relaxed);
                if slot
                    .seq
                    .compare_exchange(deq, deq + 1, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    repaired = true;
                    wake(&h.not_empty, &h.waiting_getters);
                }
            }
        }
        if enq >= self.capacity {
            let old = enq - self.capacity;
            let (slot, _) = self.slot(old);
            if old < deq
                && slot.seq.load(Ordering::Acquire) == old + 1
                && self.claimers_all_dead(old | INTENT_GET)
                && slot
                    .seq
                    .compare_exchange(old + 1, enq, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                h.lost_get.fetch_add(1, Ordering::Relaxed);
                self.finish_one(h);
                repaired = true;
                wake(&h.not_full, &h.waiting_putters);
            }
        }
        repaired
    }
}
