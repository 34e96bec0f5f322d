//! Thin wrappers over the few system calls that `nix` does not cover safely
//! (futex, `wait4` with rusage, `pidfd_open`, `dup2` onto a fixed number, `fork`).
//!
//! This is one of the low-level modules where `unsafe` is allowed; every block
//! says why it holds.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use nix::errno::Errno;
use nix::time::{ClockId, clock_gettime};
use nix::unistd::{ForkResult, Pid};

/// Nanoseconds on `CLOCK_MONOTONIC`: the one clock every process of a run shares,
/// so a parent's "request" and a child's "first instruction" can be subtracted.
pub fn now_ns() -> u64 {
    match clock_gettime(ClockId::CLOCK_MONOTONIC) {
        Ok(ts) => ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64,
        Err(_) => 0,
    }
}

/// Forks the calling process.
///
/// # Safety
/// The caller must be single-threaded (the scenario main process and the fork
/// server are, by design), so the child inherits no lock held by another thread.
pub unsafe fn fork() -> nix::Result<ForkResult> {
    // SAFETY: forwarded to the caller's promise above.
    unsafe { nix::unistd::fork() }
}

/// Blocks while `*word == expected`, at most `timeout` (forever when `None`).
/// Returns early on a wake-up, a changed value or a signal; the caller re-checks.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live, aligned 32-bit atomic (possibly in a shared
    // mapping, hence no FUTEX_PRIVATE_FLAG); `ts_ptr` is null or points to a
    // timespec that outlives the call. The kernel only reads both.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            0,
        );
    }
}

/// Wakes up to `n` waiters blocked in [`futex_wait`] on `word`, in any process.
pub fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: as in `futex_wait`; FUTEX_WAKE does not dereference user memory
    // beyond the futex word's address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            n,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0,
        );
    }
}

/// What `wait4` tells about a child that ended.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    pub pid: Pid,
    /// Raw wait status: decode with [`exit_code_of`].
    pub status: i32,
    pub user_us: u64,
    pub sys_us: u64,
    pub max_rss_kib: u64,
}

/// `wait4(pid, flags)`: reaps a child and returns its status and CPU usage.
/// `Ok(None)` with `WNOHANG` when nothing has ended yet.
pub fn wait4(pid: i32, nohang: bool) -> nix::Result<Option<Reaped>> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        // SAFETY: both out-pointers point to live locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, flags | libc::__WALL, &mut ru) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Ok(None);
        }
        let us = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000 + tv.tv_usec as u64;
        return Ok(Some(Reaped {
            pid: Pid::from_raw(r),
            status,
            user_us: us(ru.ru_utime),
            sys_us: us(ru.ru_stime),
            max_rss_kib: ru.ru_maxrss.max(0) as u64,
        }));
    }
}

/// CPython's `exitcode`: the exit status, or minus the signal number.
pub fn exit_code_of(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        0
    }
}

/// A pidfd: becomes readable when the process ends (Linux ≥ 5.3).
pub fn pidfd_open(pid: Pid) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just gave us this fd; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Puts `fd` at number `target` without close-on-exec, so an exec'd child finds it there.
pub fn place_fd(fd: &impl AsRawFd, target: RawFd) -> nix::Result<()> {
    let raw = fd.as_raw_fd();
    if raw == target {
        // dup2 onto itself would keep FD_CLOEXEC; clear it instead.
        // SAFETY: fcntl on an fd we hold, with an integer argument.
        let r = unsafe { libc::fcntl(raw, libc::F_SETFD, 0) };
        return Errno::result(r).map(drop);
    }
    // SAFETY: dup2 only manipulates the fd table; `target` is ours to replace
    // (called in a freshly forked child, or async-signal-safely before exec).
    let r = unsafe { libc::dup2(raw, target) };
    Errno::result(r).map(drop)
}

/// Adopts an fd number inherited across exec.
///
/// # Safety
/// `fd` must be open and owned by nobody else in this process.
pub unsafe fn adopt_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: forwarded to the caller's promise.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Writes all of `buf` to a raw fd with as few `write` calls as possible
/// (one, for a line shorter than PIPE_BUF, so lines of different processes never mix).
pub fn write_all_fd(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: `buf` is a live slice; write only reads it.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return;
        }
        buf = &buf[n as usize..];
    }
}

/// Leaves the process at once, without running destructors or atexit handlers
/// (what a forked child must do, so it never flushes or frees its parent's state).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is always safe to call; it does not return.
    unsafe { libc::_exit(code) }
}

/// Clock ticks per second, for `/proc/<pid>/stat` times.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// Page size in bytes, for `/proc/<pid>/stat` RSS.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Duplicates `fd` to the lowest free number ≥ `min` (close-on-exec set), so it
/// can then be placed at a fixed low number without clobbering another fd.
pub fn dup_above(fd: &impl AsRawFd, min: RawFd) -> nix::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on an fd we hold returns a new fd or -1.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    Errno::result(r)?;
    // SAFETY: the new fd is ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

static PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
/// This process's board slot, once it has one (`u32::MAX` before).
static SLOT: AtomicU32 = AtomicU32::new(u32::MAX);

thread_local! {
    static TID: std::cell::Cell<(i32, i32)> = const { std::cell::Cell::new((0, 0)) };
}

/// This process's pid, cached (a `getpid` is a system call; a lock's fast
/// path cannot afford one). A forked child calls [`forget_ids`] first thing.
pub fn my_pid() -> i32 {
    let p = PID.load(std::sync::atomic::Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    let p = nix::unistd::getpid().as_raw();
    PID.store(p, std::sync::atomic::Ordering::Relaxed);
    p
}

/// This thread's id, cached per thread and per process.
pub fn my_tid() -> i32 {
    let pid = my_pid();
    TID.with(|c| {
        let (p, t) = c.get();
        if p == pid && t != 0 {
            return t;
        }
        let t = nix::unistd::gettid().as_raw();
        c.set((pid, t));
        t
    })
}

/// The process (thread group) a thread id belongs to, 0 for 0. A thread
/// that is gone is taken for a main thread (whose tid is its pid): that is
/// the best anyone can say once `/proc` has forgotten it.
pub fn tgid_of(tid: i32) -> i32 {
    if tid <= 0 {
        return 0;
    }
    if tid == my_pid() {
        return tid;
    }
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}

/// Drops the cached ids and slot inherited from the parent (call right after
/// `fork`, in the child's only thread).
pub fn forget_ids() {
    TID.with(|t| t.set((0, 0)));
    PID.store(0, std::sync::atomic::Ordering::Relaxed);
    SLOT.store(u32::MAX, std::sync::atomic::Ordering::Relaxed);
}

/// Records which board slot is this process's own.
pub fn set_my_slot(slot: u32) {
    SLOT.store(slot, std::sync::atomic::Ordering::Relaxed);
}

/// This process's board slot, if it has one.
pub fn my_slot() -> Option<u32> {
    let s = SLOT.load(std::sync::atomic::Ordering::Relaxed);
    (s != u32::MAX).then_some(s)
}

/// Nanoseconds on `CLOCK_MONOTONIC_COARSE`: a few ns to read, ms resolution;
/// enough for "held for" on a screen, cheap enough for a lock's fast path.
pub fn coarse_now_ns() -> u64 {
    match clock_gettime(ClockId::CLOCK_MONOTONIC_COARSE) {
        Ok(ts) => ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64,
        Err(_) => now_ns(),
    }
}

/// Whether `pid` is gone or a zombie (it will never run again).
pub fn is_dead(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rfind(')')
            .and_then(|i| s[i + 1..].trim_start().chars().next())
            .is_some_and(|c| c == 'Z' || c == 'X'),
        Err(_) => true,
    }
}

/// A sealed-off copy of `text` in an anonymous memory file, read from the
/// start: how a big spec reaches an exec'd child without going through argv
/// (one argument may hold at most 128 KiB, and `ps` shows argv to everyone).
pub fn text_fd(text: &str) -> nix::Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create(c"mpdash-spec", MFdFlags::MFD_CLOEXEC)?;
    let mut buf = text.as_bytes();
    while !buf.is_empty() {
        let n = nix::unistd::write(&fd, buf)?;
        buf = &buf[n..];
    }
    nix::unistd::lseek(&fd, 0, nix::unistd::Whence::SeekSet)?;
    Ok(fd)
}

/// Reads all of an fd handed to us (see [`text_fd`]).
pub fn read_fd_to_string(fd: OwnedFd) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::from(fd).read_to_string(&mut s)?;
    Ok(s)
}

/// Takes ownership of an fd number this process inherited across exec (the
/// board at `BOARD_FD`, a spec at `EXTRA_FD`). Each number is handed out at
/// most once per process, and only while it is open: a second call, or a
/// number that is not open, gets `None`.
pub fn take_inherited(fd: RawFd) -> Option<OwnedFd> {
    static TAKEN: std::sync::Mutex<Vec<RawFd>> = std::sync::Mutex::new(Vec::new());
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if taken.contains(&fd) || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    taken.push(fd);
    // SAFETY: the number is open (checked above) and handed out once; only
    // a process's start-up code inherits fds at these numbers.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// [`spec_text`] for a spec inherited at `fd`, taken with [`take_inherited`].
pub fn inherited_spec_text(arg: &str, marker: &str, fd: RawFd) -> std::io::Result<String> {
    if arg != marker {
        return Ok(arg.to_string());
    }
    let owned = take_inherited(fd).ok_or_else(|| std::io::Error::from_raw_os_error(libc::EBADF))?;
    read_fd_to_string(owned)
}

/// Makes the command's child die with signal `sig` when its parent thread
/// goes (`PR_SET_PDEATHSIG`), and places fds at fixed numbers (`(from, to)`)
/// between fork and exec.
pub fn on_exec_die_with_parent(
    cmd: &mut std::process::Command,
    sig: i32,
    places: Vec<(RawFd, RawFd)>,
) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (prctl, fcntl, dup2), allocating nothing
    // (`places` was allocated before the fork).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for (from, to) in &places {
                place_fd(from, *to).map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
}

/// A child's spec: `arg` itself, or (when `arg` is `marker`) the text its
/// parent left at `fd` (see [`text_fd`]). fd 0 is reopened on /dev/null after.
///
/// # Safety
/// When `arg` is `marker`, `fd` must be open and owned by nobody else in this
/// process (it is read and closed).
pub unsafe fn spec_text(arg: &str, marker: &str, fd: RawFd) -> std::io::Result<String> {
    if arg != marker {
        return Ok(arg.to_string());
    }
    // SAFETY: forwarded to the caller's promise.
    let text = read_fd_to_string(unsafe { adopt_fd(fd) });
    if fd == 0
        && let Ok(null) = std::fs::File::open("/dev/null")
    {
        let _ = place_fd(&null, 0);
        if null.as_raw_fd() == 0 {
            // It landed on 0 itself (the spec's fd was just closed): keep it.
            let _ = std::os::fd::IntoRawFd::into_raw_fd(null);
        }
    }
    text
}

/// Accepts one connection on the listening socket `listener`, as an owned
/// descriptor (close-on-exec).
pub fn accept_owned(listener: RawFd) -> nix::Result<OwnedFd> {
    let fd = nix::sys::socket::accept4(listener, nix::sys::socket::SockFlag::SOCK_CLOEXEC)?;
    // SAFETY: accept4 just made this descriptor; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Receives one message into `buf` and the descriptors passed with it
/// (`SCM_RIGHTS`, at most 4), owned and close-on-exec. `(0, [])` at the end.
pub fn recv_with_fds(sock: RawFd, buf: &mut [u8]) -> nix::Result<(usize, Vec<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: SCM_RIGHTS just installed these descriptors in our
            // table; nobody else owns them.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    Ok((msg.bytes, fds))
}
