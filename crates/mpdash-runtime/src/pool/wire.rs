//! The pool's binary messages. A task message: first global task id (u64),
//! count (u32), function code (u16), then a range (`0, 1, start, step`) or
//! packed arguments (`1, arity, i64…`). A result message: first id (u64),
//! count (u32), then per task `0, i64` or `1, len (u16), error text`. Every
//! field is checked when read: a truncated or hostile message is refused.

use crate::registry::{Function, registry};

/// Largest task or result message (one queue slot).
pub const MSG_MAX: usize = 2048;
pub(super) const TASK_HEADER: usize = 8 + 4 + 2 + 2;
pub(super) const RESULT_HEADER: usize = 8 + 4;
pub(super) const ERROR_MAX: usize = 400;

/// Starts a task message in `out`: first id, count, function code.
pub(super) fn write_task_header(out: &mut Vec<u8>, first: u64, count: u32, code: u16) {
    out.clear();
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&code.to_le_bytes());
}

/// Reads little-endian fields off a message.
pub(super) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
}

/// A task message, decoded.
pub(super) struct Batch<'a> {
    pub first: u64,
    pub count: u64,
    pub func: &'static Function,
    pub arity: usize,
    /// `Some((start, step))` for a range; otherwise the flattened arguments.
    pub range: Option<(i64, i64)>,
    pub flat: &'a [u8],
}

impl Batch<'_> {
    /// The arguments of task `k` of the batch, into `args` (`arity` long).
    pub fn args_of(&self, k: u64, args: &mut [i64]) {
        match self.range {
            Some((s, step)) => args[0] = s.wrapping_add(step.wrapping_mul(k as i64)),
            None => {
                let at = k as usize * self.arity * 8;
                for (j, a) in args.iter_mut().enumerate() {
                    let o = at + j * 8;
                    *a = i64::from_le_bytes(self.flat[o..o + 8].try_into().unwrap_or([0; 8]));
                }
            }
        }
    }
}

pub(super) fn decode_batch(msg: &[u8]) -> Option<Batch<'_>> {
    let mut rd = Reader(msg);
    let first = rd.u64()?;
    let count = rd.u32()? as u64;
    let func = registry().function_by_code(rd.u16()?)?;
    let enc = rd.u8()?;
    let arity = rd.u8()? as usize;
    if arity != func.arity {
        return None;
    }
    let (range, flat) = match enc {
        0 => (Some((rd.i64()?, rd.i64()?)), &[][..]),
        1 => (None, rd.bytes((count as usize).checked_mul(arity * 8)?)?),
        _ => return None,
    };
    Some(Batch {
        first,
        count,
        func,
        arity,
        range,
        flat,
    })
}

/// Starts a result message in `out` for tasks from `first` on.
pub(super) fn start_results(out: &mut Vec<u8>, first: u64) {
    out.clear();
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    debug_assert_eq!(out.len(), RESULT_HEADER);
}

#[cfg(test)]
mod tests {
    use super::super::Items;
    use super::*;
    use crate::registry::{Raised, Registry};

    fn pair(a: &[i64]) -> Result<i64, Raised> {
        Ok(a[0] + a[1])
    }
    static PAIR: Function = Function {
        name: "pair",
        signature: "pair(a, b)",
        arity: 2,
        call: pair,
    };

    #[test]
    fn task_messages_round_trip() {
        crate::registry::install(Registry::new().function(&PAIR));
        let code = registry().function_code(&PAIR).unwrap();
        let items = Items::tuples(&[vec![1, 2], vec![3, 4], vec![5, 6]]);
        let mut buf = 7u64.to_le_bytes().to_vec();
        buf.extend_from_slice(&2u32.to_le_bytes());
        buf.extend_from_slice(&code.to_le_bytes());
        items.encode(1, 2, &mut buf);
        let b = decode_batch(&buf).unwrap();
        assert_eq!((b.first, b.count, b.func.name, b.arity), (7, 2, "pair", 2));
        assert_eq!(b.flat.len(), 32);
        assert_eq!(i64::from_le_bytes(b.flat[0..8].try_into().unwrap()), 3);
        // Truncated or hostile messages are refused, not trusted.
        assert!(decode_batch(&buf[..buf.len() - 1]).is_none());
        assert!(decode_batch(&[0xff; 3]).is_none());
        let mut wrong = buf.clone();
        wrong[12] = 99; // no function has that code
        assert!(decode_batch(&wrong).is_none());
    }

    #[test]
    fn mutated_task_messages_are_refused_never_trusted() {
        crate::registry::install(Registry::new().function(&PAIR));
        let code = registry().function_code(&PAIR).unwrap();
        let items = Items::tuples(&[vec![1, 2], vec![3, 4], vec![5, 6]]);
        let mut good = Vec::new();
        write_task_header(&mut good, 7, 3, code);
        items.encode(0, 3, &mut good);
        // A seeded xorshift: byte flips, cuts and garbage, thousands of times.
        let mut x = 0x5eed_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..5000 {
            let mut m = good.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % m.len();
                match next() % 3 {
                    0 => m[at] ^= 1 << (next() % 8),
                    1 => m.truncate(at),
                    _ => m[at] = next() as u8,
                }
                if m.is_empty() {
                    break;
                }
            }
            if let Some(b) = decode_batch(&m) {
                // Whatever is accepted stays within the message.
                let mut args = [0i64; 4];
                for k in 0..b.count.min(1000) {
                    if b.range.is_none() && (k as usize + 1) * b.arity * 8 > b.flat.len() {
                        break;
                    }
                    b.args_of(k, &mut args[..b.arity.min(4)]);
                }
            }
        }
    }
}
