//! A shared-memory region backed by `memfd_create`: nothing is named in
//! `/dev/shm`, so nothing can leak, whatever way the processes end.

use std::ffi::CStr;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;

use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
use nix::unistd::ftruncate;

/// Marker for types that may live in shared memory and be read by any process:
/// `repr(C)`, made only of atomics or plain integers, valid for every bit pattern
/// (all zeroes included), with no pointers.
///
/// # Safety
/// Implement only for types that satisfy every condition above.
pub unsafe trait ShmSafe: Sync {}

/// One mapping of a memfd. Dropping it unmaps; the memory lives on while any
/// process maps it or holds the fd.
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

// SAFETY: the region is only reached through `ShmSafe` references (atomics) or
// through raw copies guarded by the primitives' own protocols.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// Creates a zero-filled region of `len` bytes.
    pub fn create(name: &CStr, len: usize) -> nix::Result<Region> {
        let fd = memfd_create(name, MFdFlags::MFD_CLOEXEC)?;
        ftruncate(&fd, len as libc::off_t)?;
        Self::map(fd, len)
    }

    /// Maps an existing memfd (inherited or received), checking its size.
    pub fn map(fd: OwnedFd, len: usize) -> nix::Result<Region> {
        let size = nix::sys::stat::fstat(&fd)?.st_size as usize;
        if len == 0 || size < len {
            return Err(nix::errno::Errno::EINVAL);
        }
        let nz = NonZeroUsize::new(len).ok_or(nix::errno::Errno::EINVAL)?;
        // SAFETY: a fresh shared mapping of a file we hold; no existing Rust
        // object lives at the address the kernel picks.
        let ptr = unsafe {
            mmap(
                None,
                nz,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                &fd,
                0,
            )?
        };
        Ok(Region {
            ptr: ptr.cast(),
            len,
            fd,
        })
    }

    /// Size of the memfd behind `fd`, for mapping a received region whole.
    pub fn size_of(fd: &OwnedFd) -> nix::Result<usize> {
        Ok(nix::sys::stat::fstat(fd)?.st_size as usize)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A shared reference to a `T` at `offset`, or `None` when it would not fit
    /// or would be misaligned (an offset read from the board is never trusted).
    pub fn get<T: ShmSafe>(&self, offset: usize) -> Option<&T> {
        let size = std::mem::size_of::<T>();
        let end = offset.checked_add(size)?;
        if end > self.len || !offset.is_multiple_of(std::mem::align_of::<T>()) {
            return None;
        }
        // SAFETY: in bounds and aligned (checked above); `T: ShmSafe` is valid
        // for any bytes and only mutated through atomics, so a shared reference
        // to it is sound for as long as the mapping (tied to `&self`) lives.
        Some(unsafe { &*self.ptr.as_ptr().add(offset).cast::<T>() })
    }

    /// Raw pointer to `len` bytes at `offset`, bounds-checked. Callers copy
    /// through it only under a protocol that gives them exclusive access.
    pub fn bytes_ptr(&self, offset: usize, len: usize) -> Option<*mut u8> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: offset is within the mapping (checked above).
        Some(unsafe { self.ptr.as_ptr().add(offset) })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: we mapped exactly this range; references into it borrow
        // `self`, so none outlive this call.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn two_mappings_of_one_memfd_see_the_same_bytes() {
        let a = Region::create(c"test", 4096).unwrap();
        let fd = a.fd().try_clone_to_owned().unwrap();
        let b = Region::map(fd, 4096).unwrap();
        a.get::<AtomicU64>(64).unwrap().store(42, Ordering::SeqCst);
        assert_eq!(b.get::<AtomicU64>(64).unwrap().load(Ordering::SeqCst), 42);
    }

    #[test]
    fn out_of_bounds_and_misaligned_reads_are_refused() {
        let a = Region::create(c"test", 4096).unwrap();
        assert!(a.get::<AtomicU64>(4096).is_none());
        assert!(a.get::<AtomicU64>(4092).is_none());
        assert!(a.get::<AtomicU64>(3).is_none());
        assert!(a.get::<AtomicU64>(usize::MAX - 2).is_none());
    }
}
