//! The lock family, process-shared and crash-aware: `Lock`, `RLock`,
//! `Semaphore`, `BoundedSemaphore`, `Condition`, `Event`, `Barrier`.
//!
//! `Lock`/`RLock` are glibc robust, process-shared mutexes living in the
//! board: when a holder dies, the kernel hands the lock to the next acquirer
//! with `EOWNERDEAD`, which we turn into [`Acquired::PreviousOwnerDied`] (a
//! CPython `Lock` whose holder is killed stays locked forever). The others are
//! futex words, so a waiter that dies leaves nothing to clean up. Each keeps
//! its holder, waiters and counters on the board for the dashboard.
//!
//! ```no_run
//! # use mpdash_runtime::{board::*, sync::Lock};
//! let board = Board::create(BoardSize::default()).unwrap();
//! let lock = Lock::create(&board, "l", false).unwrap();
//! let guard = lock.acquire(None).unwrap();
//! drop(guard); // released
//! ```

mod barrier;
mod event;
mod futex;
mod lock;
mod semaphore;

pub use barrier::Barrier;
pub use event::{Condition, Event};
pub use futex::{FutexShared, MAX_PARTIES};
pub use lock::{Lock, LockGuard, LockShared};
pub use semaphore::Semaphore;

use std::time::{Duration, Instant};

/// What a successful acquire found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    Normally,
    /// The previous holder died holding it; its data may be half-updated.
    PreviousOwnerDied {
        pid: i32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("timed out")]
    Timeout,
    #[error("this thread already holds the lock (a Lock is not re-entrant; use an RLock)")]
    WouldDeadlock,
    #[error("release of a lock this thread does not hold")]
    NotOwner,
    #[error("the lock is unrecoverable")]
    NotRecoverable,
    #[error("semaphore released too many times (bound {0})")]
    TooManyReleases(u32),
    #[error("the barrier is broken{0}")]
    BrokenBarrier(String),
    #[error("the primitive's shared memory is not laid out as expected")]
    Corrupt,
    #[error("pthread: {0}")]
    Pthread(i32),
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

fn left(deadline: Option<Instant>) -> Result<Option<Duration>, SyncError> {
    match deadline {
        None => Ok(None),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                Err(SyncError::Timeout)
            } else {
                Ok(Some(d - now))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{Board, BoardSize};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    fn board() -> Board {
        Board::create(BoardSize::default()).unwrap()
    }

    #[test]
    fn a_lock_records_its_holder_and_refuses_reentry() {
        let b = board();
        let l = Lock::create(&b, "l", false).unwrap();
        let g = l.acquire(None).unwrap();
        assert_eq!(g.how, Acquired::Normally);
        assert_eq!(l.shared().holder_pid(), std::process::id() as i32);
        assert_eq!(l.acquire_raw(true, None), Err(SyncError::WouldDeadlock));
        drop(g);
        assert_eq!(l.shared().holder_pid(), 0);
        assert_eq!(l.shared().acquisitions.load(Ordering::Relaxed), 1);
        assert_eq!(l.release(), Err(SyncError::NotOwner));
    }

    /// The holder, depth and a dead owner's id are read from glibc's own words
    /// inside the mutex: if glibc moved them, this says so.
    #[test]
    fn glibcs_mutex_words_are_where_the_lock_reads_them() {
        let b = board();
        let l = Lock::create(&b, "r", true).unwrap();
        assert_eq!((l.shared().holder_tid(), l.shared().depth()), (0, 0));
        let g1 = l.acquire(None).unwrap();
        let g2 = l.acquire(None).unwrap();
        assert_eq!(l.shared().holder_tid(), crate::sys::my_tid());
        assert_eq!(l.shared().depth(), 2);
        let l2 = l.clone();
        let other = std::thread::spawn(move || {
            let g = l2.acquire(None).unwrap();
            let seen = (l2.shared().holder_tid(), l2.shared().holder_pid());
            drop(g);
            (seen, crate::sys::my_tid())
        });
        drop(g2);
        drop(g1);
        let ((tid, pid), other_tid) = other.join().unwrap();
        assert_eq!(tid, other_tid);
        assert_eq!(
            pid,
            std::process::id() as i32,
            "a thread's lock is its process's"
        );
        assert_eq!(l.shared().holder_tid(), 0);
    }

    #[test]
    fn an_rlock_nests() {
        let b = board();
        let l = Lock::create(&b, "r", true).unwrap();
        let g1 = l.acquire(None).unwrap();
        let g2 = l.acquire(None).unwrap();
        assert_eq!(l.shared().depth(), 2);
        drop(g2);
        assert_ne!(l.shared().holder_pid(), 0);
        drop(g1);
        assert_eq!(l.shared().holder_pid(), 0);
    }

    #[test]
    fn a_held_lock_times_out_for_another_thread() {
        let b = board();
        let l = Lock::create(&b, "l", false).unwrap();
        let _g = l.acquire(None).unwrap();
        let l2 = l.clone();
        let t = Instant::now();
        let r =
            std::thread::spawn(move || l2.acquire_raw(true, Some(Duration::from_millis(50))).err())
                .join()
                .unwrap();
        assert_eq!(r, Some(SyncError::Timeout));
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert_eq!(l.shared().contended.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn threads_counting_under_the_lock_lose_nothing() {
        let b = board();
        let l = Lock::create(&b, "l", false).unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (l, c) = (l.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let _g = l.acquire(None).unwrap();
                        let v = c.load(Ordering::Relaxed);
                        c.store(v + 1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), 40_000);
    }

    #[test]
    fn a_bounded_semaphore_refuses_extra_releases() {
        let b = board();
        let s = Semaphore::create(&b, "s", 2, true).unwrap();
        s.acquire(None).unwrap();
        s.acquire(None).unwrap();
        assert_eq!(
            s.acquire(Some(Duration::from_millis(20))),
            Err(SyncError::Timeout)
        );
        s.release().unwrap();
        s.release().unwrap();
        assert_eq!(s.release(), Err(SyncError::TooManyReleases(2)));
        let u = Semaphore::create(&b, "u", 0, false).unwrap();
        u.release().unwrap();
        u.release().unwrap();
        assert_eq!(u.value(), 2);
    }

    #[test]
    fn an_event_wakes_its_waiters() {
        let b = board();
        let e = Event::create(&b, "e").unwrap();
        assert!(!e.wait(Some(Duration::from_millis(10))));
        let e2 = e.clone();
        let h = std::thread::spawn(move || e2.wait(Some(Duration::from_secs(5))));
        std::thread::sleep(Duration::from_millis(20));
        e.set();
        assert!(h.join().unwrap());
        e.clear();
        assert!(!e.is_set());
    }

    #[test]
    fn a_barrier_releases_all_parties_and_breaks_on_timeout() {
        let b = board();
        let bar = Barrier::create(&b, "b", 3).unwrap();
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let bar = bar.clone();
                std::thread::spawn(move || bar.wait(Some(Duration::from_secs(5))))
            })
            .collect();
        let mut idx: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
        idx.sort();
        assert_eq!(idx, [0, 1, 2]);
        let r = bar.wait(Some(Duration::from_millis(20)));
        assert!(matches!(r, Err(SyncError::BrokenBarrier(_))));
        assert!(bar.is_broken());
        bar.reset();
        assert!(!bar.is_broken());
    }

    #[test]
    fn a_condition_hands_over_under_its_lock() {
        let b = board();
        let l = Lock::create(&b, "l", false).unwrap();
        let c = Condition::create(&b, "c", l.clone()).unwrap();
        let ready = Arc::new(AtomicU32::new(0));
        let (c2, r2) = (c.clone(), ready.clone());
        let h = std::thread::spawn(move || {
            let _g = c2.lock.acquire(None).unwrap();
            c2.wait_for(
                || r2.load(Ordering::SeqCst) == 1,
                Some(Duration::from_secs(5)),
            )
            .unwrap()
        });
        std::thread::sleep(Duration::from_millis(20));
        {
            let _g = l.acquire(None).unwrap();
            ready.store(1, Ordering::SeqCst);
            c.notify_all();
        }
        assert!(h.join().unwrap());
        let _g = l.acquire(None).unwrap();
        assert!(!c.wait(Some(Duration::from_millis(10))).unwrap());
    }
}
