//! `Lock` and `RLock`: glibc robust, process-shared mutexes in the board,
//! with their waiters and counters beside them.
//!
//! The holder is not stored by us: a robust mutex's futex word already holds
//! the owner's thread id (the kernel needs it to hand the lock on when the
//! owner dies), and a recursive one counts its own depth. The dashboard reads
//! both from the mutex itself, so taking and releasing an uncontended lock
//! costs one counter store on top of pthread's own work.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::*;
use crate::board::{Board, BoardError, ResKind};
use crate::board::{WaitNote, WaitOp};
use crate::shm::ShmSafe;
use crate::sys;

/// The shared part of a `Lock` or `RLock`.
#[repr(C, align(64))]
pub struct LockShared {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
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

/// Where glibc keeps, inside `pthread_mutex_t` (`struct __pthread_mutex_s`
/// on every 64-bit glibc target): the futex word (`__lock`, the owner's tid
/// in its low 30 bits for a robust mutex), the recursion count (`__count`)
/// and the owner's tid as glibc last wrote it (`__owner`, left in place when
/// the owner dies, overwritten by the next owner). Checked by a unit test.
#[cfg(all(target_env = "gnu", target_pointer_width = "64"))]
mod glibc {
    pub const LOCK: usize = 0;
    pub const COUNT: usize = 4;
    pub const OWNER: usize = 8;
}

/// The tid bits of a robust futex word (`FUTEX_TID_MASK`).
const FUTEX_TID_MASK: i32 = 0x3fff_ffff;

impl LockShared {
    /// The `i32` word at `at` bytes into the mutex, read atomically.
    fn mutex_word(&self, at: usize) -> &AtomicI32 {
        const _: () = assert!(glibc::OWNER + 4 <= std::mem::size_of::<libc::pthread_mutex_t>());
        // SAFETY: `at` is one of the `glibc` offsets, 4-aligned and inside
        // the mutex (asserted above); the mutex lives as long as `self` in a
        // shared mapping, and glibc and the kernel change these words with
        // atomic instructions, so an atomic load of them is sound.
        unsafe { &*(self.mutex.get().cast::<u8>().add(at).cast::<AtomicI32>()) }
    }

    /// The thread id holding the lock, 0 when it is free (or its owner died
    /// and nobody took it since).
    pub fn holder_tid(&self) -> i32 {
        self.mutex_word(glibc::LOCK).load(Ordering::Relaxed) & FUTEX_TID_MASK
    }

    /// The process holding the lock, 0 when it is free.
    pub fn holder_pid(&self) -> i32 {
        sys::tgid_of(self.holder_tid())
    }

    /// How many times the holder has taken it (an RLock's depth), 0 when free.
    pub fn depth(&self) -> u32 {
        if self.holder_tid() == 0 {
            return 0;
        }
        if self.recursive.load(Ordering::Relaxed) == 0 {
            return 1;
        }
        self.mutex_word(glibc::COUNT).load(Ordering::Relaxed) as u32
    }

    /// The tid glibc recorded for the last owner (what is left of a holder
    /// that died).
    fn last_owner_tid(&self) -> i32 {
        self.mutex_word(glibc::OWNER).load(Ordering::Relaxed)
    }
}

// SAFETY: repr(C); every field but the mutex is an atomic. The mutex is
// initialised (process-shared, robust) before the resource is published and
// is only ever touched through pthread calls, which are made for concurrent
// use from several processes.
unsafe impl ShmSafe for LockShared {}
// SAFETY: see above: the mutex is made for concurrent use.
unsafe impl Sync for LockShared {}

/// A process-shared mutex: `Lock` (not re-entrant) or `RLock`.
#[derive(Clone, Debug)]
pub struct Lock {
    board: Board,
    offset: usize,
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
            telemetry: true,
        })
    }

    /// The lock at `offset` (found through its resource slot).
    pub fn attach(board: &Board, offset: usize) -> Result<Lock, SyncError> {
        board
            .region()
            .get::<LockShared>(offset)
            .ok_or(SyncError::Corrupt)?;
        Ok(Lock {
            board: board.clone(),
            offset,
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
        // Read before taking it: glibc overwrites it when it hands us a lock
        // whose owner died, and then it is the only trace of who that was.
        let mut last_owner = s.last_owner_tid();
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
            let mut note = WaitNote::at(&self.board, WaitOp::Acquire, self.offset).timeout(timeout);
            note.sleep();
            last_owner = s.last_owner_tid();
            r = match timeout {
                // SAFETY: as above.
                None => unsafe { libc::pthread_mutex_lock(m) },
                Some(t) => {
                    let abs = realtime_after(t);
                    // SAFETY: as above; `abs` outlives the call.
                    unsafe { libc::pthread_mutex_timedlock(m, &abs) }
                }
            };
            drop(note);
            s.waiters.fetch_sub(1, Ordering::Relaxed);
        }
        let how = match r {
            0 => Acquired::Normally,
            libc::EOWNERDEAD => {
                // SAFETY: we hold the mutex now; marking it consistent is
                // exactly what EOWNERDEAD asks of the new owner.
                unsafe { libc::pthread_mutex_consistent(m) };
                let pid = sys::tgid_of(last_owner);
                s.owner_died.fetch_add(1, Ordering::Relaxed);
                s.last_dead_owner.store(pid, Ordering::Relaxed);
                Acquired::PreviousOwnerDied { pid }
            }
            libc::ETIMEDOUT | libc::EBUSY => return Err(SyncError::Timeout),
            libc::EDEADLK => return Err(SyncError::WouldDeadlock),
            libc::ENOTRECOVERABLE => return Err(SyncError::NotRecoverable),
            e => return Err(SyncError::Pthread(e)),
        };
        // We hold the mutex from here: plain read-modify-writes cannot race.
        if self.telemetry {
            let n = s.acquisitions.load(Ordering::Relaxed) + 1;
            s.acquisitions.store(n, Ordering::Relaxed);
            if waited {
                s.since_ns.store(sys::coarse_now_ns(), Ordering::Relaxed);
                s.since_acq.store(n, Ordering::Relaxed);
            }
        }
        Ok(how)
    }

    /// Releases one level of the lock held by this thread (pthread refuses
    /// anyone else: an error-checking or recursive mutex knows its owner).
    pub fn release(&self) -> Result<(), SyncError> {
        // SAFETY: an initialised process-shared mutex in the mapping.
        let r = unsafe { libc::pthread_mutex_unlock(self.shared().mutex.get()) };
        match r {
            0 => Ok(()),
            libc::EPERM => Err(SyncError::NotOwner),
            e => Err(SyncError::Pthread(e)),
        }
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

pub(super) fn realtime_after(t: Duration) -> libc::timespec {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .map(|ts| Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32))
        .unwrap_or_default();
    let at = now + t;
    libc::timespec {
        tv_sec: at.as_secs() as libc::time_t,
        tv_nsec: at.subsec_nanos() as libc::c_long,
    }
}
