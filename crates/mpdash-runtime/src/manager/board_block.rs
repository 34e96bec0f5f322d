//! The manager's block on the board: its address, authkey, objects, and
//! per-method call counts and latencies, which the dashboard reads.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::protocol::*;
use super::*;
use crate::shm::ShmSafe;

/// Per-method counters on the board.
#[repr(C)]
pub struct MethodStat {
    pub calls: AtomicU64,
    pub ns: AtomicU64,
}

/// One object as the board shows it.
#[repr(C)]
pub struct ObjSlot {
    pub kind: AtomicU32,
    pub(super) _pad: AtomicU32,
    pub len: AtomicU64,
    pub calls: AtomicU64,
    pub(super) name: [AtomicU64; 3],
}

/// The manager's block on the board.
#[repr(C)]
pub struct ManagerShared {
    pub(super) key: [AtomicU64; 4],
    /// Bytes of `key` in use (1..=32).
    pub(super) key_len: AtomicU32,
    /// Connections refused or dropped: a wrong authkey, no handshake in time,
    /// evicted to make room for a newer one, too many at once, garbage.
    /// Counted here, never printed one by one.
    pub refused: AtomicU32,
    pub(super) addr: [AtomicU64; 8],
    pub server_pid: AtomicU32,
    pub tcp_port: AtomicU32,
    pub clients: AtomicU32,
    pub objects: AtomicU32,
    pub obj: [ObjSlot; MAX_OBJECTS],
    pub methods: [MethodStat; Method::COUNT],
}

// SAFETY: every field is an atomic (or an array of them), valid for any bit
// pattern including the arena's zeroes, and mutated only through atomics.
unsafe impl ShmSafe for ManagerShared {}

pub(super) fn store_bytes(dst: &[AtomicU64], src: &[u8]) {
    for (i, w) in dst.iter().enumerate() {
        let mut b = [0u8; 8];
        for (j, x) in b.iter_mut().enumerate() {
            *x = src.get(i * 8 + j).copied().unwrap_or(0);
        }
        w.store(u64::from_le_bytes(b), Ordering::Relaxed);
    }
}

pub(super) fn load_bytes(src: &[AtomicU64]) -> Vec<u8> {
    src.iter()
        .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
        .collect()
}

pub(super) fn load_str(src: &[AtomicU64]) -> String {
    let b = load_bytes(src);
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl ManagerShared {
    pub fn authkey(&self) -> Vec<u8> {
        let mut k = load_bytes(&self.key);
        k.truncate((self.key_len.load(Ordering::Relaxed) as usize).clamp(1, 32));
        k
    }

    /// The abstract Unix socket name.
    pub fn address(&self) -> String {
        load_str(&self.addr)
    }

    pub fn object_name(&self, i: usize) -> String {
        self.obj
            .get(i)
            .map_or_else(String::new, |o| load_str(&o.name))
    }
}
