//! A bounded, multi-producer multi-consumer queue that lives in the board and
//! works across processes.
//!
//! It is a ring of slots, each with a sequence number (Dmitry Vyukov's bounded
//! MPMC design): a producer claims a position with one CAS, copies its message
//! into the slot and publishes it by bumping the slot's sequence; a consumer
//! does the mirror image. Blocked callers sleep on a futex word in the queue's
//! header, so an idle queue costs nothing. `qsize` is read from the queue's own
//! counters (published − consumed), never estimated.
//!
//! ```no_run
//! # use mpdash_runtime::{board::{Board, BoardSize}, queue::Queue};
//! let board = Board::create(BoardSize::default()).unwrap();
//! let q = Queue::create(&board, "tasks", 64, 128).unwrap();
//! q.put(b"hello", None).unwrap();
//! assert_eq!(q.get(None).unwrap(), b"hello");
//! ```

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod joinable;
mod recovery;

use crate::board::{Board, BoardError, INTENT_GET, ProcSlot, ResKind, WaitNote, WaitOp};
use crate::shm::ShmSafe;
use crate::sys;

#[repr(C)]
pub struct QueueHeader {
    // Read-mostly shape (its own cache line).
    pub capacity: AtomicU64,
    pub msg_max: AtomicU64,
    pub stride: AtomicU64,
    /// 1 for a JoinableQueue (only then is `unfinished` kept).
    pub joinable: AtomicU64,
    _pad0: [AtomicU64; 4],
    // The producers' line.
    /// Next position a producer will claim: the puts so far, counted for
    /// free (no extra atomic on the hot path).
    pub enqueue: AtomicU64,
    /// Messages lost because their producer died inside `put`.
    pub lost_put: AtomicU64,
    _pad1: [AtomicU64; 6],
    // The consumers' line.
    /// Next position a consumer will claim: the gets so far (holes of dead
    /// producers included).
    pub dequeue: AtomicU64,
    /// Messages lost because their consumer died inside `get`.
    pub lost_get: AtomicU64,
    _pad2: [AtomicU64; 6],
    // Sleeping consumers (written only when one sleeps or wakes).
    not_empty: AtomicU32,
    pub waiting_getters: AtomicU32,
    _pad3: [AtomicU64; 7],
    // Sleeping producers.
    not_full: AtomicU32,
    pub waiting_putters: AtomicU32,
    _pad4: [AtomicU64; 7],
    /// JoinableQueue: messages put and not yet `task_done`.
    pub unfinished: AtomicU64,
    /// JoinableQueue: bumped when `unfinished` reaches 0 (a futex word).
    all_done: AtomicU32,
}

#[repr(C)]
struct SlotHeader {
    seq: AtomicU64,
    len: AtomicU64,
}

// SAFETY: repr(C), atomics only.
unsafe impl ShmSafe for QueueHeader {}
// SAFETY: repr(C), atomics only.
unsafe impl ShmSafe for SlotHeader {}

const HEADER_LEN: usize = 64 * 6;
/// Tries before a blocked caller sleeps.
const SPIN: u32 = 100;
/// `len` of a slot whose message was lost (its producer died mid-put).
const LOST: u64 = u64::MAX;
/// How long a blocked caller sleeps before checking for a dead peer.
const STUCK_CHECK: Duration = Duration::from_millis(20);
const _: () = assert!(std::mem::size_of::<QueueHeader>() <= HEADER_LEN);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    #[error("the queue stayed empty until the timeout")]
    Empty,
    #[error("the queue stayed full until the timeout")]
    Full,
    #[error("a message of {0} bytes exceeds the queue's maximum of {1}")]
    TooLarge(usize, usize),
    #[error("the queue's shared memory is not laid out as a queue")]
    Corrupt,
    #[error("task_done() called more times than there were items")]
    TooManyTaskDone,
    #[error("message: {0}")]
    Codec(String),
}

/// A handle on a queue in the board. Clone it, or rebuild it in another
/// process with [`Queue::attach`] from its offset.
#[derive(Clone, Debug)]
pub struct Queue {
    board: Board,
    offset: usize,
    capacity: u64,
    msg_max: usize,
    stride: usize,
    joinable: bool,
    /// Its resource slot, named in the waits of blocked putters and getters.
    res: Option<u32>,
}

impl Queue {
    /// Bytes of arena a queue of this shape takes.
    pub fn footprint(capacity: usize, msg_max: usize) -> usize {
        HEADER_LEN + capacity * Self::stride_for(msg_max)
    }

    fn stride_for(msg_max: usize) -> usize {
        (std::mem::size_of::<SlotHeader>() + msg_max).div_ceil(64) * 64
    }

    /// Creates a queue of `capacity` messages of at most `msg_max` bytes in the
    /// board's arena, and registers it as a resource named `name`.
    pub fn create(
        board: &Board,
        name: &str,
        capacity: usize,
        msg_max: usize,
    ) -> Result<Queue, BoardError> {
        Self::create_kind(board, name, capacity, msg_max, ResKind::Queue)
    }

    /// A `JoinableQueue`: the same queue, with `task_done` and `join`.
    pub fn create_joinable(
        board: &Board,
        name: &str,
        capacity: usize,
        msg_max: usize,
    ) -> Result<Queue, BoardError> {
        Self::create_kind(board, name, capacity, msg_max, ResKind::JoinableQueue)
    }

    fn create_kind(
        board: &Board,
        name: &str,
        capacity: usize,
        msg_max: usize,
        kind: ResKind,
    ) -> Result<Queue, BoardError> {
        let capacity = capacity.max(1);
        let len = Self::footprint(capacity, msg_max);
        let offset = board.alloc(len)?;
        let stride = Self::stride_for(msg_max);
        let h = board
            .region()
            .get::<QueueHeader>(offset)
            .ok_or(BoardError::Layout)?;
        h.capacity.store(capacity as u64, Ordering::Relaxed);
        h.msg_max.store(msg_max as u64, Ordering::Relaxed);
        h.stride.store(stride as u64, Ordering::Relaxed);
        h.joinable
            .store(u64::from(kind == ResKind::JoinableQueue), Ordering::Relaxed);
        for i in 0..capacity {
            let s = board
                .region()
                .get::<SlotHeader>(offset + HEADER_LEN + i * stride)
                .ok_or(BoardError::Layout)?;
            s.seq.store(i as u64, Ordering::Relaxed);
        }
        std::sync::atomic::fence(Ordering::Release);
        let res = board.new_res(kind, name, offset, len)?;
        Ok(Queue {
            board: board.clone(),
            offset,
            capacity: capacity as u64,
            msg_max,
            stride,
            joinable: kind == ResKind::JoinableQueue,
            res: Some(res),
        })
    }

    /// Re-opens the queue at `offset` (from a spec), checking its shape fits the board.
    pub fn attach(board: &Board, offset: usize) -> Result<Queue, QueueError> {
        let h = board
            .region()
            .get::<QueueHeader>(offset)
            .ok_or(QueueError::Corrupt)?;
        let capacity = h.capacity.load(Ordering::Acquire);
        let msg_max = h.msg_max.load(Ordering::Relaxed) as usize;
        let stride = h.stride.load(Ordering::Relaxed) as usize;
        let fits = capacity > 0
            && stride == Self::stride_for(msg_max)
            && (capacity as usize)
                .checked_mul(stride)
                .and_then(|n| n.checked_add(offset + HEADER_LEN))
                .is_some_and(|end| end <= board.region().len());
        if !fits {
            return Err(QueueError::Corrupt);
        }
        Ok(Queue {
            board: board.clone(),
            offset,
            capacity,
            msg_max,
            stride,
            joinable: h.joinable.load(Ordering::Relaxed) == 1,
            res: board.res_at(offset),
        })
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    pub fn header(&self) -> &QueueHeader {
        self.board
            .region()
            .get::<QueueHeader>(self.offset)
            .expect("checked at create/attach")
    }

    fn slot(&self, pos: u64) -> (&SlotHeader, *mut u8) {
        let at = self.offset + HEADER_LEN + (pos % self.capacity) as usize * self.stride;
        let s = self
            .board
            .region()
            .get::<SlotHeader>(at)
            .expect("checked at create/attach");
        let data = self
            .board
            .region()
            .bytes_ptr(at + std::mem::size_of::<SlotHeader>(), self.msg_max)
            .expect("checked at create/attach");
        (s, data)
    }

    /// Messages published and not yet taken: CPython's `qsize()`, exact.
    pub fn qsize(&self) -> usize {
        depth_of(self.header())
    }

    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    pub fn full(&self) -> bool {
        self.qsize() >= self.capacity()
    }

    /// This process's slot, where it announces the operation it is in.
    fn my_slot(&self) -> Option<&ProcSlot> {
        sys::my_slot().and_then(|i| self.board.proc(i))
    }

    fn announce(&self, me: Option<&ProcSlot>, pos: u64) {
        if let Some(s) = me {
            // Relaxed is enough: the claiming CAS that follows is a release,
            // so whoever sees the claim also sees this announcement.
            s.intent_pos.store(pos, Ordering::Relaxed);
            s.intent_queue
                .store(self.offset as u64 + 1, Ordering::Relaxed);
        }
    }

    fn done(me: Option<&ProcSlot>) {
        if let Some(s) = me {
            s.intent_queue.store(0, Ordering::Release);
        }
    }

    /// Puts without blocking; `Err(Full)` when there is no room.
    pub fn put_nowait(&self, msg: &[u8]) -> Result<(), QueueError> {
        self.put_inner(msg, false)
    }

    /// For fault tests: claims a position like `put`, then stops there
    /// forever, as a producer frozen (or about to be killed) mid-put.
    #[doc(hidden)]
    pub fn put_and_stall(&self, msg: &[u8]) -> Result<(), QueueError> {
        self.put_inner(msg, true)
    }

    /// For fault tests: takes a message like `get`, then stops forever
    /// before freeing its slot.
    #[doc(hidden)]
    pub fn get_and_stall(&self) -> Result<Vec<u8>, QueueError> {
        self.get_inner(true)
    }

    fn put_inner(&self, msg: &[u8], stall: bool) -> Result<(), QueueError> {
        if msg.len() > self.msg_max {
            return Err(QueueError::TooLarge(msg.len(), self.msg_max));
        }
        let h = self.header();
        let me = self.my_slot();
        let mut pos = h.enqueue.load(Ordering::Relaxed);
        loop {
            let (slot, data) = self.slot(pos);
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq as i64 - pos as i64;
            if diff == 0 {
                // Announce before claiming: whoever finds this position
                // stuck can tell a slow producer from a dead one.
                self.announce(me, pos);
                match h.enqueue.compare_exchange_weak(
                    pos,
                    pos + 1,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if self.joinable {
                            h.unfinished.fetch_add(1, Ordering::Relaxed);
                        }
                        if stall {
                            stall_forever();
                        }
                        // SAFETY: winning the CAS for `pos` while the slot's
                        // sequence equals `pos` gives this producer the slot
                        // alone until it publishes `pos + 1`; `data` has room
                        // for `msg_max >= msg.len()` bytes.
                        unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), data, msg.len()) };
                        slot.len.store(msg.len() as u64, Ordering::Relaxed);
                        slot.seq.store(pos + 1, Ordering::Release);
                        Self::done(me);
                        wake(&h.not_empty, &h.waiting_getters);
                        return Ok(());
                    }
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                Self::done(me);
                return Err(QueueError::Full);
            } else {
                pos = h.enqueue.load(Ordering::Relaxed);
            }
        }
    }

    /// Takes without blocking; `Err(Empty)` when there is nothing.
    pub fn get_nowait(&self) -> Result<Vec<u8>, QueueError> {
        self.get_inner(false)
    }

    fn get_inner(&self, stall: bool) -> Result<Vec<u8>, QueueError> {
        let h = self.header();
        let me = self.my_slot();
        let mut pos = h.dequeue.load(Ordering::Relaxed);
        loop {
            let (slot, data) = self.slot(pos);
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq as i64 - (pos + 1) as i64;
            if diff == 0 {
                self.announce(me, pos | INTENT_GET);
                match h.dequeue.compare_exchange_weak(
                    pos,
                    pos + 1,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let raw_len = slot.len.load(Ordering::Relaxed);
                        if stall {
                            stall_forever();
                        }
                        let len = (raw_len as usize).min(self.msg_max);
                        let mut out = vec![0u8; if raw_len == LOST { 0 } else { len }];
                        // SAFETY: winning the CAS for a published slot gives this
                        // consumer the slot alone until it stores the next
                        // lap's sequence; `len <= msg_max` bytes are in bounds.
                        unsafe { std::ptr::copy_nonoverlapping(data, out.as_mut_ptr(), out.len()) };
                        slot.seq.store(pos + self.capacity, Ordering::Release);
                        Self::done(me);
                        wake(&h.not_full, &h.waiting_putters);
                        if raw_len == LOST {
                            // A hole left by a dead producer: skip it.
                            h.lost_put.fetch_add(1, Ordering::Relaxed);
                            self.finish_one(h);
                            pos = h.dequeue.load(Ordering::Relaxed);
                            continue;
                        }
                        return Ok(out);
                    }
                    Err(now) => pos = now,
                }
            } else if diff < 0 {
                Self::done(me);
                return Err(QueueError::Empty);
            } else {
                pos = h.dequeue.load(Ordering::Relaxed);
            }
        }
    }

    /// Puts a serde value (JSON-encoded).
    pub fn put_value<T: serde::Serialize>(
        &self,
        v: &T,
        timeout: Option<Duration>,
    ) -> Result<(), QueueError> {
        let bytes = serde_json::to_vec(v).map_err(|e| QueueError::Codec(e.to_string()))?;
        self.put(&bytes, timeout)
    }

    /// Takes a serde value.
    pub fn get_value<T: serde::de::DeserializeOwned>(
        &self,
        timeout: Option<Duration>,
    ) -> Result<T, QueueError> {
        let bytes = self.get(timeout)?;
        serde_json::from_slice(&bytes).map_err(|e| QueueError::Codec(e.to_string()))
    }

    /// Puts, blocking while the queue is full, at most `timeout` (forever when `None`).
    pub fn put(&self, msg: &[u8], timeout: Option<Duration>) -> Result<(), QueueError> {
        let h = self.header();
        let mut note = WaitNote::new(&self.board, WaitOp::Put, self.res, 0).timeout(timeout);
        blocking(
            timeout,
            &mut note,
            &h.not_full,
            &h.waiting_putters,
            || self.recover(),
            || match self.put_nowait(msg) {
                Err(QueueError::Full) => None,
                other => Some(other),
            },
        )
        .unwrap_or(Err(QueueError::Full))
    }

    /// Takes, blocking while the queue is empty, at most `timeout` (forever when `None`).
    pub fn get(&self, timeout: Option<Duration>) -> Result<Vec<u8>, QueueError> {
        let h = self.header();
        let mut note = WaitNote::new(&self.board, WaitOp::Get, self.res, 0).timeout(timeout);
        blocking(
            timeout,
            &mut note,
            &h.not_empty,
            &h.waiting_getters,
            || self.recover(),
            || match self.get_nowait() {
                Err(QueueError::Empty) => None,
                other => Some(other),
            },
        )
        .unwrap_or(Err(QueueError::Empty))
    }
}

/// Depth as the dashboard reads it from a queue header it was pointed at.
pub fn depth_of(h: &QueueHeader) -> usize {
    let enq = h.enqueue.load(Ordering::Acquire);
    let deq = h.dequeue.load(Ordering::Acquire);
    let cap = h.capacity.load(Ordering::Relaxed);
    enq.saturating_sub(deq).min(cap) as usize
}

/// After publishing: wake a sleeper, if any. The fence pairs with the
/// sleeper's SeqCst increment of `waiting` before its last check, so either we
/// see it waiting or it sees what we published; the futex word is only
/// written when someone sleeps, keeping the fast path off shared lines.
fn wake(word: &AtomicU32, waiting: &AtomicU32) {
    std::sync::atomic::fence(Ordering::SeqCst);
    if waiting.load(Ordering::Relaxed) > 0 {
        word.fetch_add(1, Ordering::SeqCst);
        sys::futex_wake(word, 1);
    }
}

/// Retries `attempt` until it gives an answer, sleeping on `word` in between.
/// The waiter count is raised before the last check, so a wake-up between the
/// check and the sleep changes `word` and the sleep returns at once.
fn blocking<T>(
    timeout: Option<Duration>,
    note: &mut WaitNote<'_>,
    word: &AtomicU32,
    waiting: &AtomicU32,
    mut recover: impl FnMut() -> bool,
    mut attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = timeout.map(|t| Instant::now() + t);
    // A peer on another core is usually about to publish: a short spin
    // saves the sleep and the wake-up system call on both sides.
    for _ in 0..SPIN {
        if let Some(v) = attempt() {
            return Some(v);
        }
        std::hint::spin_loop();
    }
    loop {
        if let Some(v) = attempt() {
            return Some(v);
        }
        // Sleep in slices: a peer that died inside an operation is only
        // noticed by someone who looks.
        let left = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return None;
                }
                (d - now).min(STUCK_CHECK)
            }
            None => STUCK_CHECK,
        };
        note.sleep();
        waiting.fetch_add(1, Ordering::SeqCst);
        let seen = word.load(Ordering::SeqCst);
        if let Some(v) = attempt() {
            waiting.fetch_sub(1, Ordering::SeqCst);
            return Some(v);
        }
        sys::futex_wait(word, seen, Some(left));
        waiting.fetch_sub(1, Ordering::SeqCst);
        if word.load(Ordering::SeqCst) == seen {
            recover();
        }
    }
}

fn stall_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::BoardSize;

    fn board() -> Board {
        Board::create(BoardSize::default()).unwrap()
    }

    #[test]
    fn messages_come_out_in_order_and_depth_is_exact() {
        let b = board();
        let q = Queue::create(&b, "q", 4, 16).unwrap();
        for m in [b"a".as_slice(), b"bb", b"ccc"] {
            q.put_nowait(m).unwrap();
        }
        assert_eq!(q.qsize(), 3);
        assert_eq!(q.get_nowait().unwrap(), b"a");
        assert_eq!(q.get_nowait().unwrap(), b"bb");
        assert_eq!(q.qsize(), 1);
        assert_eq!(q.get_nowait().unwrap(), b"ccc");
        assert_eq!(q.get_nowait(), Err(QueueError::Empty));
    }

    #[test]
    fn a_full_queue_refuses_and_wraps_after_a_get() {
        let b = board();
        let q = Queue::create(&b, "q", 2, 8).unwrap();
        q.put_nowait(b"1").unwrap();
        q.put_nowait(b"2").unwrap();
        assert!(q.full());
        assert_eq!(q.put_nowait(b"3"), Err(QueueError::Full));
        assert_eq!(
            q.put(b"3", Some(Duration::from_millis(20))),
            Err(QueueError::Full)
        );
        assert_eq!(q.get_nowait().unwrap(), b"1");
        q.put_nowait(b"3").unwrap();
        assert_eq!(q.get_nowait().unwrap(), b"2");
        assert_eq!(q.get_nowait().unwrap(), b"3");
    }

    #[test]
    fn an_oversized_message_is_an_error() {
        let b = board();
        let q = Queue::create(&b, "q", 2, 8).unwrap();
        assert_eq!(q.put_nowait(&[0; 9]), Err(QueueError::TooLarge(9, 8)));
    }

    #[test]
    fn get_times_out_on_an_empty_queue() {
        let b = board();
        let q = Queue::create(&b, "q", 2, 8).unwrap();
        let t = Instant::now();
        assert_eq!(
            q.get(Some(Duration::from_millis(30))),
            Err(QueueError::Empty)
        );
        assert!(t.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn threads_deliver_every_message_exactly_once() {
        let b = board();
        let q = Queue::create(&b, "q", 8, 8).unwrap();
        let per = 20_000u64;
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        q.put(&(p * per + i).to_le_bytes(), None).unwrap();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    for _ in 0..per {
                        let m = q.get(None).unwrap();
                        got.push(u64::from_le_bytes(m.try_into().unwrap()));
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<u64> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..2 * per).collect::<Vec<_>>());
        assert_eq!(q.qsize(), 0);
    }

    #[test]
    fn attach_refuses_a_bad_offset() {
        let b = board();
        assert_eq!(
            Queue::attach(&b, b.region().len() - 8).unwrap_err(),
            QueueError::Corrupt
        );
    }

    #[test]
    fn a_joinable_queue_joins_when_every_item_is_done() {
        let b = board();
        let q = Queue::create_joinable(&b, "j", 4, 8).unwrap();
        assert!(
            q.join(Some(Duration::from_millis(5))),
            "nothing put: joined at once"
        );
        q.put_nowait(b"1").unwrap();
        q.put_nowait(b"2").unwrap();
        assert!(!q.join(Some(Duration::from_millis(20))));
        q.get_nowait().unwrap();
        q.task_done().unwrap();
        q.get_nowait().unwrap();
        let q2 = q.clone();
        let h = std::thread::spawn(move || q2.join(Some(Duration::from_secs(5))));
        std::thread::sleep(Duration::from_millis(20));
        q.task_done().unwrap();
        assert!(h.join().unwrap());
        assert_eq!(q.task_done(), Err(QueueError::TooManyTaskDone));
    }

    #[test]
    fn a_hole_left_by_nobody_we_know_is_not_skipped() {
        // A claim with no announcing process (no board slot) is never treated
        // as dead: recovery only acts on claimers it can prove dead.
        let b = board();
        let q = Queue::create(&b, "q", 4, 8).unwrap();
        q.header().enqueue.store(1, Ordering::SeqCst);
        assert!(!q.recover());
        assert_eq!(
            q.get(Some(Duration::from_millis(30))),
            Err(QueueError::Empty)
        );
    }
}
