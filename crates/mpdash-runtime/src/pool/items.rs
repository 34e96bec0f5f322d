//! What a job maps over ([`Items`]: a range or argument tuples) and how
//! tasks are cut into messages.

use serde::{Deserialize, Serialize};

use super::MSG_MAX;
use super::wire::TASK_HEADER;
use crate::registry::Function;

/// What a job maps over: one argument tuple per task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Items {
    /// `range(start, start + n * step, step)`: one argument each.
    Range { start: i64, step: i64, n: usize },
    /// `n` tuples of `arity` arguments, flattened.
    List { arity: usize, flat: Vec<i64> },
}

impl Items {
    /// Python's `range(start, stop, step)`.
    pub fn range(start: i64, stop: i64, step: i64) -> Items {
        let step = if step == 0 { 1 } else { step };
        let span = if step > 0 {
            stop.saturating_sub(start)
        } else {
            start.saturating_sub(stop)
        };
        let n = if span <= 0 {
            0
        } else {
            (span as u64).div_ceil(step.unsigned_abs()) as usize
        };
        Items::Range { start, step, n }
    }

    /// One-argument tasks.
    pub fn singles(values: Vec<i64>) -> Items {
        Items::List {
            arity: 1,
            flat: values,
        }
    }

    /// Tasks of several arguments each (all tuples as long as the first).
    pub fn tuples(tuples: &[Vec<i64>]) -> Items {
        let arity = tuples.first().map_or(1, Vec::len).max(1);
        Items::List {
            arity,
            flat: tuples
                .iter()
                .flat_map(|t| (0..arity).map(|i| t.get(i).copied().unwrap_or(0)))
                .collect(),
        }
    }

    /// `[0, below)` cut into `chunks` contiguous `(lo, hi)` ranges.
    pub fn ranges(below: u64, chunks: u64) -> Items {
        let chunks = chunks.max(1);
        let step = below.div_ceil(chunks);
        let flat = (0..chunks)
            .flat_map(|i| {
                [
                    (i * step).min(below) as i64,
                    ((i + 1) * step).min(below) as i64,
                ]
            })
            .collect();
        Items::List { arity: 2, flat }
    }

    pub fn len(&self) -> usize {
        match self {
            Items::Range { n, .. } => *n,
            Items::List { arity, flat } => flat.len() / arity.max(&1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn arity(&self) -> usize {
        match self {
            Items::Range { .. } => 1,
            Items::List { arity, .. } => *arity,
        }
    }

    /// The arguments of task `i`, as Python would print them: `(3,)`-less, `3` or `(0, 10)`.
    pub fn show(&self, i: usize) -> String {
        match self {
            Items::Range { start, step, .. } => (start + step * i as i64).to_string(),
            Items::List { arity: 1, flat } => flat[i].to_string(),
            Items::List { arity, flat } => {
                let t: Vec<String> = flat[i * arity..(i + 1) * arity]
                    .iter()
                    .map(i64::to_string)
                    .collect();
                format!("({})", t.join(", "))
            }
        }
    }

    /// Task `i` as a call: `primes(0, 10)`, `square(3)`.
    pub fn call_text(&self, func: &Function, i: usize) -> String {
        let args = self.show(i);
        let args = args
            .strip_prefix('(')
            .and_then(|a| a.strip_suffix(')'))
            .unwrap_or(&args);
        format!("{}({args})", func.name)
    }

    /// Most tasks one message can carry.
    pub(super) fn per_message(&self) -> usize {
        match self {
            Items::Range { .. } => u32::MAX as usize,
            Items::List { arity, .. } => (MSG_MAX - TASK_HEADER) / (8 * arity.max(&1)),
        }
    }

    /// Appends tasks `[i, i + count)` to a task message.
    pub(super) fn encode(&self, i: usize, count: usize, out: &mut Vec<u8>) {
        match self {
            Items::Range { start, step, .. } => {
                out.extend_from_slice(&[0, 1]);
                out.extend_from_slice(&(start + step * i as i64).to_le_bytes());
                out.extend_from_slice(&step.to_le_bytes());
            }
            Items::List { arity, flat } => {
                out.extend_from_slice(&[1, *arity as u8]);
                for v in &flat[i * arity..(i + count) * arity] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
}

/// CPython's default `chunksize` for `map`: `len / (4 × workers)`, rounded up.
pub fn default_chunksize(items: usize, workers: usize) -> usize {
    let per = workers.max(1) * 4;
    items.div_ceil(per).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_range_exactly_once() {
        let t = Items::ranges(50_000_000, 64);
        let Items::List { arity: 2, flat } = &t else {
            panic!()
        };
        assert_eq!(t.len(), 64);
        let mut next = 0;
        for pair in flat.chunks(2) {
            assert_eq!(pair[0], next);
            next = pair[1];
        }
        assert_eq!(next, 50_000_000);
        assert_eq!(Items::ranges(10, 3).show(2), "(8, 10)");
    }

    #[test]
    fn python_range_lengths() {
        assert_eq!(Items::range(0, 10, 1).len(), 10);
        assert_eq!(Items::range(0, 10, 3).len(), 4);
        assert_eq!(Items::range(10, 0, -2).len(), 5);
        assert_eq!(Items::range(5, 5, 1).len(), 0);
        assert_eq!(Items::range(0, 10, 3).show(3), "9");
    }

    #[test]
    fn cpython_default_chunksize() {
        // divmod(len, 4 * workers), plus one when there is a remainder.
        assert_eq!(default_chunksize(100_000, 2), 12_500);
        assert_eq!(default_chunksize(100_001, 2), 12_501);
        assert_eq!(default_chunksize(10, 4), 1);
        assert_eq!(default_chunksize(0, 4), 1);
    }
}
