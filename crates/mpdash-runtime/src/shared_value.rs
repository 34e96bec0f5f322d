//! `Value` and `Array`: typed cells in shared memory with CPython's typecodes,
//! each with an optional lock (`lock = false` shows lost updates).
//!
//! Elements are read and written with atomics of their width, so a reader
//! never sees a torn number; `value += 1` without the lock is a separate load
//! and store, exactly the race CPython's unlocked `Value` has.
//!
//! ```no_run
//! # use mpdash_runtime::{board::*, shared_value::*};
//! let board = Board::create(BoardSize::default()).unwrap();
//! let num = SharedArray::create(&board, "num", TypeCode::D, &[Num::Float(0.0)], true).unwrap();
//! num.set(0, Num::Float(3.1415927));
//! assert_eq!(num.get(0).to_string(), "3.1415927");
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::board::{Board, BoardError, ResKind};
use super::pyvalue::float_repr;
use super::shm::ShmSafe;
use super::sync::{Lock, SyncError};

/// CPython's `array` typecodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypeCode {
    #[serde(rename = "c")]
    C,
    #[serde(rename = "b")]
    SB,
    #[serde(rename = "B")]
    UB,
    #[serde(rename = "h")]
    SH,
    #[serde(rename = "H")]
    UH,
    #[serde(rename = "i")]
    SI,
    #[serde(rename = "I")]
    UI,
    #[serde(rename = "l")]
    SL,
    #[serde(rename = "L")]
    UL,
    #[serde(rename = "q")]
    SQ,
    #[serde(rename = "Q")]
    UQ,
    #[serde(rename = "f")]
    F,
    #[serde(rename = "d")]
    D,
}

impl TypeCode {
    pub const ALL: [TypeCode; 13] = [
        TypeCode::C,
        TypeCode::SB,
        TypeCode::UB,
        TypeCode::SH,
        TypeCode::UH,
        TypeCode::SI,
        TypeCode::UI,
        TypeCode::SL,
        TypeCode::UL,
        TypeCode::SQ,
        TypeCode::UQ,
        TypeCode::F,
        TypeCode::D,
    ];

    pub fn letter(self) -> char {
        "cbBhHiIlLqQfd".chars().nth(self as usize).unwrap_or('?')
    }

    pub fn parse(s: &str) -> Option<TypeCode> {
        let mut c = s.chars();
        let (Some(ch), None) = (c.next(), c.next()) else {
            return None;
        };
        Self::ALL.into_iter().find(|t| t.letter() == ch)
    }

    /// Bytes per element (x86-64 Linux sizes, as CPython's ctypes).
    pub fn size(self) -> usize {
        use TypeCode::*;
        match self {
            C | SB | UB => 1,
            SH | UH => 2,
            SI | UI | F => 4,
            SL | UL | SQ | UQ | D => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, TypeCode::F | TypeCode::D)
    }

    fn signed(self) -> bool {
        use TypeCode::*;
        matches!(self, SB | SH | SI | SL | SQ)
    }

    /// The integers a cell of this type holds (`None` for the float types).
    pub fn int_bounds(self) -> Option<(i128, i128)> {
        if self.is_float() {
            return None;
        }
        let bits = self.size() as u32 * 8;
        Some(if self.signed() {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        })
    }

    /// The C type, as CPython's `OverflowError` names it.
    fn c_name(self) -> &'static str {
        use TypeCode::*;
        match self {
            C => "char",
            SB => "signed char",
            UB => "unsigned byte integer",
            SH => "signed short integer",
            UH => "unsigned short integer",
            SI => "signed integer",
            UI => "unsigned integer",
            SL => "signed long",
            UL => "unsigned long",
            SQ => "signed long long",
            UQ => "unsigned long long",
            F => "float",
            D => "double",
        }
    }

    /// Whether `v` fits a cell of this type: CPython's `OverflowError` when
    /// it does not (a cell never silently wraps).
    pub fn check(self, v: Num) -> Result<(), Overflow> {
        let (Some((lo, hi)), Num::Int(i)) = (self.int_bounds(), v) else {
            return Ok(());
        };
        let i = i128::from(i);
        if i < lo || i > hi {
            return Err(Overflow {
                c_type: self.c_name(),
                too_big: i > hi,
            });
        }
        Ok(())
    }
}

/// Why `increment` failed: its lock, or a sum that does not fit the cell.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("{0}")]
    Sync(#[from] SyncError),
    #[error("{0}")]
    Overflow(#[from] Overflow),
}

/// A value that does not fit its cell, in CPython's words:
/// `OverflowError: signed char is greater than maximum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("OverflowError: {c_type} is {} {}", if *too_big { "greater" } else { "less" }, if *too_big { "than maximum" } else { "than minimum" })]
pub struct Overflow {
    pub c_type: &'static str,
    pub too_big: bool,
}

/// A number read from or written to a cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Num {
    Int(i64),
    /// Any float, `nan` and `inf` too (they travel as text: JSON has no
    /// spelling for them).
    Float(#[serde(with = "any_float")] f64),
}

/// Serde for an `f64` that may be `nan` or `±inf`.
mod any_float {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_finite() {
            s.serialize_f64(*x)
        } else {
            s.serialize_str(&x.to_string())
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Spelled {
        Number(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Spelled::deserialize(d)? {
            Spelled::Number(x) => Ok(x),
            Spelled::Text(t) => t
                .parse::<f64>()
                .map_err(|_| serde::de::Error::custom(format!("not a float: {t:?}"))),
        }
    }
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(x) => x,
        }
    }

    /// `self + other`; `None` when integers overflow 64 bits.
    pub fn checked_add(self, other: Num) -> Option<Num> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.checked_add(b).map(Num::Int),
            (a, b) => Some(Num::Float(a.as_f64() + b.as_f64())),
        }
    }

    /// `-self`; `None` for the one integer whose negation overflows.
    pub fn checked_neg(self) -> Option<Num> {
        match self {
            Num::Int(a) => a.checked_neg().map(Num::Int),
            Num::Float(x) => Some(Num::Float(-x)),
        }
    }
}

impl fmt::Display for Num {
    /// As CPython prints `v.value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{}", float_repr(*x)),
        }
    }
}

#[repr(C, align(64))]
pub struct ArrayHeader {
    pub typecode: AtomicU32,
    pub len: AtomicU32,
    /// Offset of its lock in the board, 0 when created with `lock=False`.
    pub lock_offset: AtomicU64,
    pub writes: AtomicU64,
}

// SAFETY: repr(C), atomics only.
unsafe impl ShmSafe for ArrayHeader {}
// SAFETY: single atomics.
unsafe impl ShmSafe for AtomicU8 {}
// SAFETY: single atomics.
unsafe impl ShmSafe for AtomicU16 {}

const DATA_AT: usize = 64;

/// A shared typed array; a `Value` is an array of one.
#[derive(Clone, Debug)]
pub struct SharedArray {
    board: Board,
    offset: usize,
    tc: TypeCode,
    len: usize,
    lock: Option<Lock>,
}

impl SharedArray {
    /// Creates the array with `init` (its length is the array's), registered as
    /// a `Value` when it has one element and is created with `as_value`.
    pub fn create(
        board: &Board,
        name: &str,
        tc: TypeCode,
        init: &[Num],
        lock: bool,
    ) -> Result<SharedArray, BoardError> {
        Self::create_kind(board, name, tc, init, lock, init.len() == 1)
    }

    pub fn create_kind(
        board: &Board,
        name: &str,
        tc: TypeCode,
        init: &[Num],
        lock: bool,
        as_value: bool,
    ) -> Result<SharedArray, BoardError> {
        let lock = if lock {
            Some(Lock::create(board, &format!("{name}.get_lock()"), true)?)
        } else {
            None
        };
        let bytes = DATA_AT + init.len() * 8;
        let offset = board.alloc(bytes)?;
        let h = board
            .region()
            .get::<ArrayHeader>(offset)
            .ok_or(BoardError::Layout)?;
        h.typecode.store(tc as u32, Ordering::Relaxed);
        h.len.store(init.len() as u32, Ordering::Relaxed);
        h.lock_offset.store(
            lock.as_ref().map_or(0, |l| l.offset() as u64),
            Ordering::Relaxed,
        );
        let a = SharedArray {
            board: board.clone(),
            offset,
            tc,
            len: init.len(),
            lock,
        };
        for (i, v) in init.iter().enumerate() {
            a.store(i, *v);
        }
        h.writes.store(0, Ordering::Relaxed);
        let kind = if as_value {
            ResKind::Value
        } else {
            ResKind::Array
        };
        board.new_res(kind, name, offset, bytes)?;
        Ok(a)
    }

    /// Re-opens the array at `offset`, checking its header.
    pub fn attach(board: &Board, offset: usize) -> Result<SharedArray, SyncError> {
        let h = board
            .region()
            .get::<ArrayHeader>(offset)
            .ok_or(SyncError::Corrupt)?;
        let tc = TypeCode::ALL
            .get(h.typecode.load(Ordering::Relaxed) as usize)
            .copied()
            .ok_or(SyncError::Corrupt)?;
        let len = h.len.load(Ordering::Relaxed) as usize;
        if offset + DATA_AT + len * 8 > board.region().len() {
            return Err(SyncError::Corrupt);
        }
        let lock = match h.lock_offset.load(Ordering::Relaxed) {
            0 => None,
            at => Some(Lock::attach(board, at as usize)?),
        };
        Ok(SharedArray {
            board: board.clone(),
            offset,
            tc,
            len,
            lock,
        })
    }

    /// Where it lives on the board: what [`SharedArray::attach`] takes in
    /// another process.
    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn typecode(&self) -> TypeCode {
        self.tc
    }

    /// CPython's `get_lock()`; `None` for `lock=False`.
    pub fn get_lock(&self) -> Option<&Lock> {
        self.lock.as_ref()
    }

    fn header(&self) -> &ArrayHeader {
        self.board
            .region()
            .get(self.offset)
            .expect("checked at create/attach")
    }

    /// Element `i` (each element has an 8-byte cell, used to its width).
    pub fn get(&self, i: usize) -> Num {
        read_cell(&self.board, self.offset, self.tc, i)
    }

    /// Sets element `i` (without taking the lock: as CPython's `arr[i] = v`
    /// on a raw array; use [`SharedArray::with_lock`] around read-modify-write).
    /// Refuses a value that does not fit the cell's type ([`Overflow`]).
    pub fn set(&self, i: usize, v: Num) -> Result<(), Overflow> {
        self.tc.check(v)?;
        self.store(i, v);
        self.header().writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn store(&self, i: usize, v: Num) {
        if i >= self.len {
            return;
        }
        let at = self.offset + DATA_AT + i * 8;
        let r = self.board.region();
        let int = |v: Num| match v {
            Num::Int(x) => x,
            Num::Float(x) => x as i64,
        };
        match self.tc.size() {
            _ if self.tc == TypeCode::F => {
                if let Some(c) = r.get::<AtomicU32>(at) {
                    c.store((v.as_f64() as f32).to_bits(), Ordering::Relaxed)
                }
            }
            _ if self.tc == TypeCode::D => {
                if let Some(c) = r.get::<AtomicU64>(at) {
                    c.store(v.as_f64().to_bits(), Ordering::Relaxed)
                }
            }
            1 => {
                if let Some(c) = r.get::<AtomicU8>(at) {
                    c.store(int(v) as u8, Ordering::Relaxed)
                }
            }
            2 => {
                if let Some(c) = r.get::<AtomicU16>(at) {
                    c.store(int(v) as u16, Ordering::Relaxed)
                }
            }
            4 => {
                if let Some(c) = r.get::<AtomicU32>(at) {
                    c.store(int(v) as u32, Ordering::Relaxed)
                }
            }
            _ => {
                if let Some(c) = r.get::<AtomicU64>(at) {
                    c.store(int(v) as u64, Ordering::Relaxed)
                }
            }
        }
    }

    /// Every element (CPython's `arr[:]`).
    pub fn to_vec(&self) -> Vec<Num> {
        (0..self.len).map(|i| self.get(i)).collect()
    }

    /// Runs `f` holding the array's lock when it has one.
    pub fn with_lock<T>(&self, f: impl FnOnce(&Self) -> T) -> Result<T, SyncError> {
        match &self.lock {
            Some(l) => {
                let _g = l.acquire(None)?;
                Ok(f(self))
            }
            None => Ok(f(self)),
        }
    }

    /// `arr[i] += by`, under the lock when there is one (lost updates without).
    pub fn increment(&self, i: usize, by: Num) -> Result<(), ValueError> {
        let over = Overflow {
            c_type: self.tc.c_name(),
            too_big: by.as_f64() > 0.0,
        };
        self.with_lock(|a| match a.get(i).checked_add(by) {
            Some(v) => a.set(i, v),
            None => Err(over),
        })?
        .map_err(ValueError::from)
    }
}

/// Reads element `i` of the array at `offset` (shared with the dashboard's reader).
pub fn read_cell(board: &Board, offset: usize, tc: TypeCode, i: usize) -> Num {
    let at = offset + DATA_AT + i * 8;
    let r = board.region();
    let raw = match tc.size() {
        1 => r
            .get::<AtomicU8>(at)
            .map(|c| c.load(Ordering::Relaxed) as u64),
        2 => r
            .get::<AtomicU16>(at)
            .map(|c| c.load(Ordering::Relaxed) as u64),
        4 => r
            .get::<AtomicU32>(at)
            .map(|c| c.load(Ordering::Relaxed) as u64),
        _ => r.get::<AtomicU64>(at).map(|c| c.load(Ordering::Relaxed)),
    }
    .unwrap_or(0);
    match tc {
        TypeCode::F => Num::Float(f32::from_bits(raw as u32) as f64),
        TypeCode::D => Num::Float(f64::from_bits(raw)),
        t if t.signed() => {
            let bits = t.size() * 8;
            let shift = 64 - bits;
            Num::Int(((raw << shift) as i64) >> shift)
        }
        _ => Num::Int(raw as i64),
    }
}

/// The header of an array at `offset`, for readers that only have the board.
pub fn read_header(board: &Board, offset: usize) -> Option<(TypeCode, usize, bool, u64)> {
    let h = board.region().get::<ArrayHeader>(offset)?;
    let tc = *TypeCode::ALL.get(h.typecode.load(Ordering::Relaxed) as usize)?;
    let len = h.len.load(Ordering::Relaxed) as usize;
    if offset + DATA_AT + len * 8 > board.region().len() {
        return None;
    }
    Some((
        tc,
        len,
        h.lock_offset.load(Ordering::Relaxed) != 0,
        h.writes.load(Ordering::Relaxed),
    ))
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // CPython's tutorial value, not π
mod tests {
    use super::*;
    use crate::board::BoardSize;

    #[test]
    fn every_typecode_holds_its_extremes_and_refuses_one_past_them() {
        let b = Board::create(BoardSize::default()).unwrap();
        for tc in TypeCode::ALL {
            let a = SharedArray::create(&b, "a", tc, &[Num::Int(0), Num::Int(0)], false).unwrap();
            let Some((lo, hi)) = tc.int_bounds() else {
                a.set(1, Num::Int(-1)).unwrap();
                assert_eq!(a.get(1), Num::Float(-1.0), "{tc:?}");
                continue;
            };
            // The 64-bit unsigned types hold more than a Num::Int can say.
            let (lo, hi) = (lo.max(i64::MIN.into()), hi.min(i64::MAX.into()));
            for x in [lo, hi] {
                let x = x as i64;
                a.set(1, Num::Int(x)).unwrap();
                assert_eq!(a.get(1), Num::Int(x), "{tc:?}");
            }
            if tc.size() < 8 {
                let over = a.set(1, Num::Int(hi as i64 + 1)).unwrap_err();
                assert!(over.too_big, "{tc:?}");
                assert!(a.set(1, Num::Int(lo as i64 - 1)).is_err(), "{tc:?}");
                assert_eq!(a.get(1), Num::Int(hi as i64), "{tc:?}: unchanged");
            }
        }
        let e = TypeCode::SB.check(Num::Int(300)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "OverflowError: signed char is greater than maximum"
        );
    }

    #[test]
    fn values_print_as_cpython_prints_them() {
        let b = Board::create(BoardSize::default()).unwrap();
        let d = SharedArray::create(&b, "num", TypeCode::D, &[Num::Float(0.0)], true).unwrap();
        d.set(0, Num::Float(3.1415927)).unwrap();
        assert_eq!(d.get(0).to_string(), "3.1415927");
        let f = SharedArray::create(&b, "f", TypeCode::F, &[Num::Float(3.1415927)], false).unwrap();
        assert_eq!(f.get(0).to_string(), "3.1415927410125732");
        let arr = SharedArray::create(
            &b,
            "arr",
            TypeCode::SI,
            &(0..10).map(Num::Int).collect::<Vec<_>>(),
            true,
        )
        .unwrap();
        for i in 0..arr.len() {
            arr.set(i, arr.get(i).checked_neg().unwrap()).unwrap();
        }
        let shown: Vec<String> = arr.to_vec().iter().map(|n| n.to_string()).collect();
        assert_eq!(shown.join(", "), "0, -1, -2, -3, -4, -5, -6, -7, -8, -9");
        let again = SharedArray::attach(&b, arr.offset).unwrap();
        assert_eq!(again.get(9), Num::Int(-9));
        assert!(again.get_lock().is_some());
    }

    #[test]
    fn increments_under_the_lock_are_exact() {
        let b = Board::create(BoardSize::default()).unwrap();
        let v = SharedArray::create(&b, "n", TypeCode::SI, &[Num::Int(0)], true).unwrap();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let v = v.clone();
                std::thread::spawn(move || {
                    for _ in 0..5000 {
                        v.increment(0, Num::Int(1)).unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(v.get(0), Num::Int(20_000));
    }
}
