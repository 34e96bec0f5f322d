//! `JoinableQueue`: `task_done` and `join`, on the queue's own counters.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::board::{WaitNote, WaitOp};
use crate::sys;

impl Queue {
    pub(super) fn finish_one(&self, h: &QueueHeader) {
        let prev = h
            .unfinished
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |u| u.checked_sub(1));
        if prev == Ok(1) {
            h.all_done.fetch_add(1, Ordering::SeqCst);
            sys::futex_wake(&h.all_done, i32::MAX);
        }
    }

    /// JoinableQueue: one taken message is fully processed.
    pub fn task_done(&self) -> Result<(), QueueError> {
        let h = self.header();
        if h.unfinished.load(Ordering::Acquire) == 0 {
            return Err(QueueError::TooManyTaskDone);
        }
        self.finish_one(h);
        Ok(())
    }

    /// JoinableQueue: waits until every message put has been `task_done`
    /// (or lost), at most `timeout`; returns whether that happened.
    pub fn join(&self, timeout: Option<Duration>) -> bool {
        let h = self.header();
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut note = WaitNote::new(&self.board, WaitOp::JoinQueue, self.res, 0).timeout(timeout);
        loop {
            let seen = h.all_done.load(Ordering::SeqCst);
            if h.unfinished.load(Ordering::SeqCst) == 0 {
                return true;
            }
            let left = match deadline {
                Some(d) if Instant::now() >= d => return false,
                Some(d) => (d - Instant::now()).min(STUCK_CHECK),
                None => STUCK_CHECK,
            };
            note.sleep();
            sys::futex_wait(&h.all_done, seen, Some(left));
            self.recover();
        }
    }
}
