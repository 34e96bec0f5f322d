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
//! # use mpdash::runtime::{board::*, sync::Lock};
//! let board = Board::create(BoardSize::default()).unwrap();
//! let lock = Lock::create(&board, "l", false).unwrap();
//! let guard = lock.acquire(None).unwrap();
//! drop(guard); // released
//! ```

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::board::{Board, BoardError, ResKind};
use super::shm::ShmSafe;
use super::sys;

/// The shared part of a `Lock` or `RLock`.
#[repr(C, align(64))]
pub struct LockShared {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    /// `pid << 32 | tid` of the holder, 0 when free: one store on the fast path.
    pub holder: AtomicU64,
    /// Recursion depth of the holder (RLock only).
    pub depth: AtomicU32,
    pub waiters: AtomicU32,
    pub recursive: AtomicU32,
    /// When the holder took it, on the coarse monotonic clock (ns), stamped
    /// only when it had to wait for it (reading a clock would double the fast
    /// path's cost); valid while `since_acq == acquisitions`. Otherwise the
    /// dashboard times the hold from when it first saw it.
    pub since_ns: AtomicU64,
    pub since_acq: AtomicU64,
    pub acquisitions: AtomicU64,
    /// Acquisitions that found it held and had to wait.
    pub contended: AtomicU64,
    /// Times an acquirer inherited it from a holder that died.
    pub owner_died: AtomicU64,
    pub last_dead_owner: AtomicI32,
}

impl LockShared {
    pub fn holder_pid(&self) -> i32 {
        (self.holder.load(Ordering::Relaxed) >> 32) as i32
    }

    pub fn holder_tid(&self) -> i32 {
        self.holder.load(Ordering::Relaxed) as u32 as i32
    }
}

// SAFETY: repr(C); every field but the mutex is an atomic. The mutex is
// initialised (process-shared, robust) before the resource is published and
// is only ever touched through pthread calls, which are made for concurrent
// use from several processes.
unsafe impl ShmSafe for LockShared {}
// SAFETY: see above: the mutex is made for concurrent use.
unsafe impl Sync for LockShared {}

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

/// A process-shared mutex: `Lock` (not re-entrant) or `RLock`.
#[derive(Clone, Debug)]
pub struct Lock {
    board: Board,
    offset: usize,
    recursive: bool,
    /// Keep holder and counters on the board (off only to measure their cost).
    pub telemetry: bool,
}

impl Lock {
    /// Creates a lock in the board and registers it as `name`.
    pub fn create(board: &Board, name: &str, recursive: bool) -> Result<Lock, BoardError> {
        let offset = board.alloc(std::mem::size_of::<LockShared>())?;
        let shared = board
            .region()
            .get::<LockShared>(offset)
            .ok_or(BoardError::Layout)?;
        // SAFETY: the attr is a local we initialise before use and destroy
        // after; the mutex lives in zeroed shared memory nobody uses yet.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
            libc::pthread_mutexattr_settype(
                &mut attr,
                if recursive {
                    libc::PTHREAD_MUTEX_RECURSIVE
                } else {
                    libc::PTHREAD_MUTEX_ERRORCHECK
                },
            );
            libc::pthread_mutex_init(shared.mutex.get(), &attr);
            libc::pthread_mutexattr_destroy(&mut attr);
        }
        shared
            .recursive
            .store(u32::from(recursive), Ordering::Relaxed);
        let kind = if recursive {
            ResKind::RLock
        } else {
            ResKind::Lock
        };
        board.new_res(kind, name, offset, std::mem::size_of::<LockShared>())?;
        Ok(Lock {
            board: board.clone(),
            offset,
            recursive,
            telemetry: true,
        })
    }

    /// The lock at `offset` (found through its resource slot).
    pub fn attach(board: &Board, offset: usize) -> Result<Lock, SyncError> {
        let s = board
            .region()
            .get::<LockShared>(offset)
            .ok_or(SyncError::Corrupt)?;
        Ok(Lock {
            board: board.clone(),
            offset,
            recursive: s.recursive.load(Ordering::Relaxed) != 0,
            telemetry: true,
        })
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn shared(&self) -> &LockShared {
        self.board
            .region()
            .get::<LockShared>(self.offset)
            .expect("checked at create/attach")
    }

    /// Takes the lock, waiting at most `timeout` (forever when `None`).
    /// Returns a guard that releases it when dropped.
    pub fn acquire(&self, timeout: Option<Duration>) -> Result<LockGuard<'_>, SyncError> {
        let how = self.acquire_raw(true, timeout)?;
        Ok(LockGuard { lock: self, how })
    }

    /// Takes the lock if it is free now.
    pub fn try_acquire(&self) -> Result<LockGuard<'_>, SyncError> {
        let how = self.acquire_raw(false, None)?;
        Ok(LockGuard { lock: self, how })
    }

    /// Takes the lock without a guard; pair with [`Lock::release`].
    pub fn acquire_raw(
        &self,
        block: bool,
        timeout: Option<Duration>,
    ) -> Result<Acquired, SyncError> {
        let s = self.shared();
        let m = s.mutex.get();
        // SAFETY: `m` points to an initialised process-shared mutex in the mapping.
        let mut r = unsafe { libc::pthread_mutex_trylock(m) };
        let mut waited = false;
        if r == libc::EBUSY {
            if !block {
                return Err(SyncError::Timeout);
            }
            waited = true;
            if self.telemetry {
                s.contended.fetch_add(1, Ordering::Relaxed);
            }
            s.waiters.fetch_add(1, Ordering::Relaxed);
            r = match timeout {
                // SAFETY: as above.
                None => unsafe { libc::pthread_mutex_lock(m) },
                Some(t) => {
                    let abs = realtime_after(t);
                    // SAFETY: as above; `abs` outlives the call.
                    unsafe { libc::pthread_mutex_timedlock(m, &abs) }
                }
            };
            s.waiters.fetch_sub(1, Ordering::Relaxed);
        }
        let how = match r {
            0 => Acquired::Normally,
            libc::EOWNERDEAD => {
                // SAFETY: we hold the mutex now; marking it consistent is
                // exactly what EOWNERDEAD asks of the new owner.
                unsafe { libc::pthread_mutex_consistent(m) };
                let pid = s.holder_pid();
                s.owner_died.fetch_add(1, Ordering::Relaxed);
                s.last_dead_owner.store(pid, Ordering::Relaxed);
                s.depth.store(0, Ordering::Relaxed);
                Acquired::PreviousOwnerDied { pid }
            }
            libc::ETIMEDOUT | libc::EBUSY => return Err(SyncError::Timeout),
            libc::EDEADLK => return Err(SyncError::WouldDeadlock),
            libc::ENOTRECOVERABLE => return Err(SyncError::NotRecoverable),
            e => return Err(SyncError::Pthread(e)),
        };
        // We hold the mutex from here: plain read-modify-writes cannot race.
        let first = if self.recursive {
            let depth = s.depth.load(Ordering::Relaxed) + 1;
            s.depth.store(depth, Ordering::Relaxed);
            depth == 1
        } else {
            true
        };
        if self.telemetry {
            let n = s.acquisitions.load(Ordering::Relaxed) + 1;
            s.acquisitions.store(n, Ordering::Relaxed);
            if first {
                s.holder.store(sys::holder_id(), Ordering::Relaxed);
                if waited {
                    s.since_ns.store(sys::coarse_now_ns(), Ordering::Relaxed);
                    s.since_acq.store(n, Ordering::Relaxed);
                }
            }
        }
        Ok(how)
    }

    /// Releases one level of the lock held by this thread.
    pub fn release(&self) -> Result<(), SyncError> {
        let s = self.shared();
        let holder = s.holder.load(Ordering::Relaxed);
        // The owner check costs a thread-local read; only pay it on the
        // recursive path (where depth must not be touched by a non-owner):
        // for a Lock, pthread itself refuses a non-owner with EPERM below and
        // the holder word is put back. (A misuse only: a sampler may then see
        // the lock free for an instant.)
        if self.recursive && self.telemetry && holder != sys::holder_id() {
            return Err(SyncError::NotOwner);
        }
        let depth = if self.recursive {
            s.depth.load(Ordering::Relaxed)
        } else {
            1
        };
        // Still holding the mutex: update our fields before unlocking, or the
        // next holder could see them half-changed.
        if depth == 1 {
            s.holder.store(0, Ordering::Relaxed);
        }
        if self.recursive {
            s.depth.store(depth.saturating_sub(1), Ordering::Relaxed);
        }
        // SAFETY: an initialised process-shared mutex in the mapping.
        let r = unsafe { libc::pthread_mutex_unlock(s.mutex.get()) };
        if r == 0 {
            return Ok(());
        }
        // Not ours after all: put back what we changed.
        if self.recursive {
            s.depth.store(depth, Ordering::Relaxed);
        }
        if depth == 1 {
            s.holder.store(holder, Ordering::Relaxed);
        }
        Err(if r == libc::EPERM {
            SyncError::NotOwner
        } else {
            SyncError::Pthread(r)
        })
    }
}

/// Holds a [`Lock`] until dropped.
pub struct LockGuard<'a> {
    lock: &'a Lock,
    pub how: Acquired,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.release();
    }
}

fn realtime_after(t: Duration) -> libc::timespec {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .map(|ts| Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32))
        .unwrap_or_default();
    let at = now + t;
    libc::timespec {
        tv_sec: at.as_secs() as libc::time_t,
        tv_nsec: at.subsec_nanos() as libc::c_long,
    }
}

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
struct FutexPrim {
    board: Board,
    offset: usize,
}

impl FutexPrim {
    fn create(
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

    fn attach(board: &Board, offset: usize) -> Result<FutexPrim, SyncError> {
        board
            .region()
            .get::<FutexShared>(offset)
            .ok_or(SyncError::Corrupt)?;
        Ok(FutexPrim {
            board: board.clone(),
            offset,
        })
    }

    fn s(&self) -> &FutexShared {
        self.board
            .region()
            .get::<FutexShared>(self.offset)
            .expect("checked at create/attach")
    }

    /// Sleeps while `value == seen`, at most until `deadline` and at most `slice`.
    fn sleep(
        &self,
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
            sys::futex_wait(&s.value, seen, wait);
        }
        s.waiters.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    fn wake(&self, n: i32) {
        let s = self.s();
        if s.waiters.load(Ordering::SeqCst) > 0 {
            sys::futex_wake(&s.value, n);
        }
    }
}

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
            self.0.sleep(0, dl, None)?;
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
        while !self.is_set() {
            if self.0.sleep(0, dl, None).is_err() {
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
        let depth = self.lock.shared().depth.load(Ordering::Relaxed).max(1);
        for _ in 0..depth {
            self.lock.release()?;
        }
        let r = self.prim.sleep(seen, deadline(timeout), None);
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

    fn dead_party(&self) -> Option<i32> {
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
            if self.0.sleep(generation, dl, Some(BARRIER_CHECK)).is_err() {
                self.abort();
                return Err(SyncError::BrokenBarrier(": timed out".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::board::BoardSize;
    use std::sync::Arc;

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

    #[test]
    fn an_rlock_nests() {
        let b = board();
        let l = Lock::create(&b, "r", true).unwrap();
        let g1 = l.acquire(None).unwrap();
        let g2 = l.acquire(None).unwrap();
        assert_eq!(l.shared().depth.load(Ordering::Relaxed), 2);
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
