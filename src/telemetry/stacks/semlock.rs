//! Who holds a `multiprocessing` lock, read from outside (DESIGN §10).
//!
//! A `multiprocessing.synchronize.Lock` (or RLock) keeps its C object,
//! `_multiprocessing.SemLock`, in its `_semlock` attribute; the C struct is
//! the same from 3.8 to 3.14: `PyObject_HEAD`, `handle` (the `sem_t *`),
//! `last_tid`, `count` (this process's acquisitions minus its releases),
//! `maxvalue`, `kind`, `name`. The semaphore itself is a shared mapping of a
//! `/dev/shm` file: its device and inode (from `/proc/PID/maps`) are the
//! lock's identity in every process, under fork, spawn or forkserver.
//!
//! Reading the instance's attribute depends on the interpreter's object
//! layout: 3.11 keeps a pointer to the values 4 words before the object,
//! 3.13 and 3.14 keep the values inline after it. Anything else (another
//! version, a dict made for the instance, a free-threaded build) gives no
//! answer, never a guess.

use nix::sys::uio::{RemoteIoVec, process_vm_readv};
use nix::unistd::Pid;

/// One process's view of one lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemLockView {
    /// The semaphore's file: (device, inode).
    pub identity: (String, u64),
    /// This process's acquisitions minus its releases.
    pub count: i32,
    pub maxvalue: i32,
    /// The semaphore's value now (0: taken).
    pub value: u32,
    /// The thread that last acquired it in this process (Python's ident).
    pub last_tid: u64,
}

fn read(pid: i32, addr: usize, buf: &mut [u8]) -> Option<()> {
    if addr < 4096 {
        return None;
    }
    let len = buf.len();
    let n = process_vm_readv(
        Pid::from_raw(pid),
        &mut [std::io::IoSliceMut::new(buf)],
        &[RemoteIoVec { base: addr, len }],
    )
    .ok()?;
    (n == len).then_some(())
}

fn word(pid: i32, addr: usize) -> Option<usize> {
    let mut b = [0u8; 8];
    read(pid, addr, &mut b)?;
    Some(usize::from_ne_bytes(b))
}

fn int(pid: i32, addr: usize) -> Option<i32> {
    let mut b = [0u8; 4];
    read(pid, addr, &mut b)?;
    Some(i32::from_ne_bytes(b))
}

/// The type's `tp_name` (offset 24 in every non-free-threaded build).
fn type_name(pid: i32, obj: usize) -> Option<String> {
    let tp = word(pid, obj + 8)?;
    let name = word(pid, tp + 24)?;
    let mut b = [0u8; 64];
    read(pid, name, &mut b)?;
    let end = b.iter().position(|c| *c == 0)?;
    Some(String::from_utf8_lossy(&b[..end]).into_owned())
}

fn is_semlock(pid: i32, obj: usize) -> bool {
    type_name(pid, obj).is_some_and(|n| n == "_multiprocessing.SemLock")
}

/// The `_semlock` of the Python object at `obj` (or `obj` itself when it is
/// one), on CPython `minor` (3.11, 3.13, 3.14).
pub fn semlock_of(pid: i32, minor: u32, obj: usize) -> Option<usize> {
    if is_semlock(pid, obj) {
        return Some(obj);
    }
    // At most this many attributes are looked at (a Lock has 3 or 4).
    const ATTRS: usize = 6;
    let values: Vec<usize> = match minor {
        11 => {
            let v = word(pid, obj.checked_sub(32)?)?;
            if v == 0 {
                return None;
            }
            (0..ATTRS).filter_map(|i| word(pid, v + 8 * i)).collect()
        }
        13 | 14 => {
            let tp = word(pid, obj + 8)?;
            let basic = word(pid, tp + 32)?;
            let mut hdr = [0u8; 4];
            read(pid, obj + basic, &mut hdr)?;
            // capacity, size, embedded, valid
            let (size, valid) = (hdr[1] as usize, hdr[3] != 0);
            if !valid {
                return None;
            }
            (0..size.min(ATTRS))
                .filter_map(|i| word(pid, obj + basic + 8 + 8 * i))
                .collect()
        }
        _ => return None,
    };
    let found: Vec<usize> = values
        .into_iter()
        .filter(|v| *v >= 4096 && v % 8 == 0 && is_semlock(pid, *v))
        .collect();
    // Exactly one, or no answer.
    (found.len() == 1).then(|| found[0])
}

/// The (device, inode) of the file mapped at `addr` in `pid`.
fn mapping_identity(maps: &str, addr: usize) -> Option<(String, u64)> {
    for line in maps.lines() {
        let mut f = line.split_ascii_whitespace();
        let range = f.next()?;
        let (lo, hi) = range.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        if !(lo..hi).contains(&addr) {
            continue;
        }
        let _perms = f.next()?;
        let _off = f.next()?;
        let dev = f.next()?.to_string();
        let inode: u64 = f.next()?.parse().ok()?;
        return (inode != 0).then_some((dev, inode));
    }
    None
}

/// What `pid` says of the SemLock C object at `sl`; `maps` is its
/// `/proc/PID/maps`.
pub fn view(pid: i32, sl: usize, maps: &str) -> Option<SemLockView> {
    let handle = word(pid, sl + 16)?;
    let last_tid = word(pid, sl + 24)? as u64;
    let count = int(pid, sl + 32)?;
    let maxvalue = int(pid, sl + 36)?;
    // glibc's sem_t on 64-bit: the value in the low 32 bits of its first word.
    let value = (word(pid, handle)? & 0xffff_ffff) as u32;
    Some(SemLockView {
        identity: mapping_identity(maps, handle)?,
        count,
        maxvalue,
        value,
        last_tid,
    })
}

/// One step of a lock-order cycle: `pid` waits (at the program's `at`) for
/// the lock `lock` that `held_by` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleStep {
    pub pid: i32,
    pub at: Option<String>,
    /// `dev/inode` of the semaphore.
    pub lock: String,
    pub held_by: i32,
}

/// A semaphore's file: (device, inode).
type LockId = (String, u64);

/// A lock-order deadlock, proved: each process of the cycle is blocked in
/// `acquire` on a lock that the next one holds. Holding is proved per lock:
/// the semaphore is taken (value 0), exactly one process of the tree
/// counts an acquisition (count ≥ 1) and every other Python process of the
/// tree was read and counts 0. `procs` are the tree's Python processes that
/// are not helpers, all of them blocked; `None` when anything is unknown.
pub fn lock_cycle(procs: &[(i32, &super::Stacks)]) -> Option<Vec<CycleStep>> {
    use std::collections::HashMap;
    // Every object the processes' frames point at, plus every awaited one
    // (under fork an inherited lock has the same address everywhere).
    let mut candidates: Vec<usize> = Vec::new();
    for (_, st) in procs {
        for t in &st.threads {
            if let Some(o) = t.wait.as_ref().and_then(|w| w.object) {
                candidates.push(o);
            }
        }
    }
    let mut views: HashMap<i32, HashMap<LockId, SemLockView>> = HashMap::new();
    let mut waits: Vec<(i32, Option<String>, LockId)> = Vec::new();
    for (pid, st) in procs {
        let minor: u32 = st.version.split('.').nth(1)?.parse().ok()?;
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
        let mut mine: Vec<usize> = candidates.clone();
        for t in &st.threads {
            for f in &t.frames {
                mine.extend(f.locals.iter().flatten().map(|l| l.addr));
            }
        }
        mine.sort_unstable();
        mine.dedup();
        let mut by_id: HashMap<LockId, SemLockView> = HashMap::new();
        let mut objs: HashMap<usize, usize> = HashMap::new();
        for o in mine {
            let Some(sl) = semlock_of(*pid, minor, o) else {
                continue;
            };
            objs.insert(o, sl);
            let Some(v) = view(*pid, sl, &maps) else {
                continue;
            };
            if let Some(old) = by_id.get(&v.identity)
                && old != &v
            {
                // Two objects for one semaphore that disagree: no answer.
                return None;
            }
            by_id.insert(v.identity.clone(), v);
        }
        for t in &st.threads {
            let Some(w) = &t.wait else { continue };
            if w.op != "acquire" {
                continue;
            }
            let sl = objs.get(&w.object?)?;
            let v = view(*pid, *sl, &maps)?;
            waits.push((*pid, w.at_str(), v.identity));
        }
        views.insert(*pid, by_id);
    }
    // The holder of each awaited lock, proved or not at all.
    let holder = |id: &LockId| -> Option<i32> {
        let mut holders = Vec::new();
        for (pid, _) in procs {
            let v = views.get(pid)?.get(id)?;
            if v.maxvalue != 1 || v.value != 0 || v.count < 0 {
                return None;
            }
            if v.count > 0 {
                holders.push(*pid);
            }
        }
        (holders.len() == 1).then(|| holders[0])
    };
    // Follow waits → holders from each waiter until a process repeats.
    let next: HashMap<i32, (Option<String>, LockId, i32)> = waits
        .iter()
        .filter_map(|(p, at, id)| Some((*p, (at.clone(), id.clone(), holder(id)?))))
        .collect();
    for (start, _, _) in &waits {
        let mut path: Vec<i32> = vec![*start];
        let mut p = *start;
        while let Some((_, _, h)) = next.get(&p) {
            if let Some(i) = path.iter().position(|q| q == h) {
                let cycle = &path[i..];
                return Some(
                    cycle
                        .iter()
                        .map(|q| {
                            let (at, id, h) = &next[q];
                            CycleStep {
                                pid: *q,
                                at: at.clone(),
                                lock: format!("{}/{}", id.0, id.1),
                                held_by: *h,
                            }
                        })
                        .collect(),
                );
            }
            path.push(*h);
            p = *h;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_is_found_by_address() {
        let maps = "7f01bd47f000-7f01bd480000 rw-s 00000000 00:1b 18545      /dev/shm/sem.knULMS (deleted)\n\
                    7f01bd480000-7f01bd481000 rw-p 00000000 00:00 0\n";
        assert_eq!(
            mapping_identity(maps, 0x7f01bd47f000),
            Some(("00:1b".to_string(), 18545))
        );
        assert_eq!(mapping_identity(maps, 0x7f01bd480010), None);
        assert_eq!(mapping_identity(maps, 0x10), None);
    }
}
