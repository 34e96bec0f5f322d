//! Every sample of the current run, kept so the dashboard can step back
//! through it (`←`/`→`) once the run has ended or the display is frozen, and
//! so a run can be saved (`--record`) and played back (`mpdash replay`).
//!
//! Stored compactly: the oldest moment kept in full, then each sample as
//! what changed since the one before (the process rows and `/proc` readings
//! that differ; the rest shared when equal). 500 idle processes at 10 Hz
//! keep their 10 minutes in about a megabyte, where whole samples took
//! ~200 KB each. A moment is rebuilt by replaying the changes from the
//! oldest one; the newest is kept whole.
//!
//! Bounded twice: at most [`MAX_AGE`] of samples, and at most [`MAX_BYTES`]
//! by a rough size of what each change holds; the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::telemetry::board_view::ProcRow;
use crate::telemetry::snapshot::{Live, Snapshot, SystemView};

/// How far back a run is kept.
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// About how much memory the stored changes of one run may take.
pub const MAX_BYTES: usize = 8 << 20;

/// One moment of the run: the sample, and how many output lines had been
/// printed when it was taken.
#[derive(Debug, Clone)]
pub struct Frame {
    pub snap: Arc<Snapshot>,
    pub printed: u64,
}

/// What one sample changed since the one before.
#[derive(Debug, Clone)]
struct Change {
    elapsed: Duration,
    printed: u64,
    procs_len: usize,
    rows: Vec<(usize, ProcRow)>,
    live_set: Vec<(i32, Live)>,
    live_gone: Vec<i32>,
    system: SystemView,
    /// Everything else (pool, resources, threads, diagnosis, graph), with
    /// no rows, readings, system or time: shared with the sample before
    /// when equal.
    rest: Arc<Snapshot>,
    bytes: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The oldest moment kept, whole (`changes[0]` is its own).
    base: Snapshot,
    changes: VecDeque<Change>,
    newest: Option<Frame>,
    bytes: usize,
    /// Frames dropped from the front since the run started.
    dropped: u64,
}

/// A sample's fields that are neither rows, readings, system nor time.
fn rest_of(s: &Snapshot) -> Snapshot {
    Snapshot {
        procs: Vec::new(),
        live: HashMap::new(),
        system: SystemView::default(),
        elapsed: Duration::ZERO,
        ..s.clone()
    }
}

/// A rough size of what `rest` holds: enough to bound the total, not exact.
fn rest_bytes(s: &Snapshot) -> usize {
    256 + s.resources.len() * 256
        + s.threads.values().map(|t| t.len() * 64).sum::<usize>()
        + s.graph.iter().map(String::len).sum::<usize>()
        + s.stacks.values().map(|v| v.bytes()).sum::<usize>()
}

fn apply(s: &mut Snapshot, c: &Change) {
    s.procs.truncate(c.procs_len);
    s.procs.resize_with(c.procs_len, ProcRow::default);
    for (i, row) in &c.rows {
        s.procs[*i] = row.clone();
    }
    for pid in &c.live_gone {
        s.live.remove(pid);
    }
    s.live.extend(c.live_set.iter().copied());
    let (procs, live) = (std::mem::take(&mut s.procs), std::mem::take(&mut s.live));
    *s = Snapshot {
        procs,
        live,
        system: c.system.clone(),
        elapsed: c.elapsed,
        ..(*c.rest).clone()
    };
}

impl Timeline {
    pub fn clear(&mut self) {
        *self = Timeline::default();
    }

    pub fn push(&mut self, snap: Arc<Snapshot>, printed: u64) {
        let empty = Snapshot::default();
        let prev = self.newest.as_ref().map_or(&empty, |f| &f.snap);
        let rows: Vec<(usize, ProcRow)> = snap
            .procs
            .iter()
            .enumerate()
            .filter(|(i, r)| prev.procs.get(*i) != Some(*r))
            .map(|(i, r)| (i, r.clone()))
            .collect();
        let live_set: Vec<(i32, Live)> = snap
            .live
            .iter()
            .filter(|(pid, l)| prev.live.get(*pid) != Some(*l))
            .map(|(pid, l)| (*pid, *l))
            .collect();
        let live_gone: Vec<i32> = prev
            .live
            .keys()
            .filter(|pid| !snap.live.contains_key(*pid))
            .copied()
            .collect();
        let rest = rest_of(&snap);
        let (rest, rest_new) = match self.changes.back() {
            Some(c) if *c.rest == rest => (c.rest.clone(), 0),
            _ => {
                let b = rest_bytes(&rest);
                (Arc::new(rest), b)
            }
        };
        let bytes = 96
            + rows.len() * 320
            + (live_set.len() + live_gone.len()) * 48
            + snap.system.per_core.len() * 4
            + rest_new;
        if self.changes.is_empty() {
            self.base = (*snap).clone();
        }
        self.changes.push_back(Change {
            elapsed: snap.elapsed,
            printed,
            procs_len: snap.procs.len(),
            rows,
            live_set,
            live_gone,
            system: snap.system.clone(),
            rest,
            bytes,
        });
        self.bytes += bytes;
        let newest = snap.elapsed;
        self.newest = Some(Frame { snap, printed });
        while self.changes.len() > 1
            && (self.bytes > MAX_BYTES || newest.saturating_sub(self.changes[0].elapsed) > MAX_AGE)
        {
            let gone = self.changes.pop_front().expect("len > 1");
            self.bytes -= gone.bytes;
            self.dropped += 1;
            apply(&mut self.base, &self.changes[0]);
        }
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The moment `i`, rebuilt (the newest is kept whole).
    pub fn get(&self, i: usize) -> Option<Frame> {
        if i + 1 == self.len() {
            return self.newest.clone();
        }
        self.window(i, 1).pop()
    }

    pub fn last(&self) -> Option<Frame> {
        self.newest.clone()
    }

    /// When moment `i` was taken, into the run.
    pub fn elapsed_at(&self, i: usize) -> Option<Duration> {
        self.changes.get(i).map(|c| c.elapsed)
    }

    /// How many output lines had been printed at moment `i`.
    pub fn printed_at(&self, i: usize) -> Option<u64> {
        self.changes.get(i).map(|c| c.printed)
    }

    /// The frames up to and including `i`, newest last, at most `n`.
    pub fn window(&self, i: usize, n: usize) -> Vec<Frame> {
        if i >= self.len() {
            return Vec::new();
        }
        let last = i;
        let from = (last + 1).saturating_sub(n);
        let mut s = self.base.clone();
        let mut out = Vec::new();
        for (k, c) in self.changes.iter().enumerate().take(last + 1) {
            if k > 0 {
                apply(&mut s, c);
            }
            if k >= from {
                out.push(Frame {
                    snap: Arc::new(s.clone()),
                    printed: c.printed,
                });
            }
        }
        out
    }

    /// Every moment kept, oldest first, each rebuilt once.
    pub fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        let mut s = self.base.clone();
        self.changes.iter().enumerate().map(move |(k, c)| {
            if k > 0 {
                apply(&mut s, c);
            }
            Frame {
                snap: Arc::new(s.clone()),
                printed: c.printed,
            }
        })
    }

    /// The frame taken at `at` into the run, or the nearest before it.
    pub fn at_time(&self, at: Duration) -> Option<usize> {
        let i = self.changes.partition_point(|c| c.elapsed <= at);
        i.checked_sub(1)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(ms: u64, procs: usize) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            elapsed: Duration::from_millis(ms),
            procs: vec![Default::default(); procs],
            ..Default::default()
        })
    }

    #[test]
    fn old_samples_go_first_by_age_and_by_size() {
        let mut t = Timeline::default();
        for i in 0..700 {
            t.push(snap(i * 1000, 1), i);
        }
        assert_eq!(t.get(0).unwrap().snap.elapsed, Duration::from_secs(99));
        assert_eq!(t.dropped(), 99);
        // Samples that all differ cost their whole rows: the byte bound holds.
        let mut big = Timeline::default();
        for i in 0..2000 {
            let mut s = (*snap(i, 1000)).clone();
            for (k, p) in s.procs.iter_mut().enumerate() {
                p.pid = k as i32;
                p.tasks_done = i;
            }
            big.push(Arc::new(s), i);
        }
        assert!(big.bytes <= MAX_BYTES && big.len() < 2000, "{}", big.len());
        assert_eq!(big.last().unwrap().printed, 1999);
        // The oldest kept moment is rebuilt exactly, after drops.
        let oldest = big.get(0).unwrap();
        assert_eq!(oldest.snap.procs[7].tasks_done, big.dropped());
    }

    #[test]
    fn a_moment_is_found_by_its_time() {
        let mut t = Timeline::default();
        for i in 1..=5 {
            t.push(snap(i * 100, 1), i);
        }
        assert_eq!(t.at_time(Duration::from_millis(50)), None);
        assert_eq!(t.at_time(Duration::from_millis(250)), Some(1));
        assert_eq!(t.at_time(Duration::from_secs(9)), Some(4));
        assert_eq!(
            t.window(4, 2).iter().map(|f| f.printed).collect::<Vec<_>>(),
            [4, 5]
        );
    }

    #[test]
    fn every_moment_is_rebuilt_as_it_was_from_its_changes() {
        let mut t = Timeline::default();
        let mut kept = Vec::new();
        for i in 0..40u64 {
            let mut s = Snapshot {
                elapsed: Duration::from_millis(i * 100),
                procs: vec![ProcRow::default(); (3 + i % 5) as usize],
                ..Default::default()
            };
            for (k, p) in s.procs.iter_mut().enumerate() {
                p.pid = 100 + k as i32;
                p.tasks_done = (i / (k as u64 + 1)) % 3;
                if k % 2 == 0 {
                    s.live.insert(
                        p.pid,
                        Live {
                            cpu_pct: (i % 4) as f64,
                            ..Default::default()
                        },
                    );
                }
            }
            s.graph = vec![format!("graph {}", i / 10)];
            let s = Arc::new(s);
            kept.push(s.clone());
            t.push(s, i);
        }
        for (i, f) in t.frames().enumerate() {
            assert_eq!(*f.snap, *kept[i], "moment {i}");
        }
        assert_eq!(*t.get(17).unwrap().snap, *kept[17]);
        assert_eq!(t.printed_at(17), Some(17));
        // 40 samples of a few rows that barely change: far below whole copies.
        assert!(t.bytes < 40 * 8 * 320, "{}", t.bytes);
    }
}
