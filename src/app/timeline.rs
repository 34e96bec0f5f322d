//! Every sample of the current run, kept so the dashboard can step back
//! through it (`←`/`→`) once the run has ended or the display is frozen, and
//! so a run can be saved (`--record`) and played back (`mpdash replay`).
//!
//! Bounded twice: at most [`MAX_AGE`] of samples, and at most [`MAX_BYTES`]
//! by a rough size of each sample (a run of 500 processes keeps less time
//! than a run of 5); the oldest go first.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::telemetry::sampler::Snapshot;

/// How far back a run is kept.
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// About how much memory the samples of one run may take.
pub const MAX_BYTES: usize = 64 << 20;

/// One moment of the run: the sample, and how many output lines had been
/// printed when it was taken.
#[derive(Debug, Clone)]
pub struct Frame {
    pub snap: Arc<Snapshot>,
    pub printed: u64,
    bytes: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Timeline {
    frames: VecDeque<Frame>,
    bytes: usize,
    /// Frames dropped from the front since the run started.
    dropped: u64,
}

/// A rough size of a sample in memory: enough to bound the total, not exact.
fn size_of(s: &Snapshot) -> usize {
    512 + s.procs.len() * 320
        + s.live.len() * 48
        + s.resources.len() * 256
        + s.threads.values().map(|t| t.len() * 64).sum::<usize>()
        + s.graph.iter().map(String::len).sum::<usize>()
}

impl Timeline {
    pub fn clear(&mut self) {
        *self = Timeline::default();
    }

    pub fn push(&mut self, snap: Arc<Snapshot>, printed: u64) {
        let bytes = size_of(&snap);
        let newest = snap.elapsed;
        self.frames.push_back(Frame {
            snap,
            printed,
            bytes,
        });
        self.bytes += bytes;
        while self.frames.len() > 1
            && (self.bytes > MAX_BYTES
                || newest.saturating_sub(self.frames[0].snap.elapsed) > MAX_AGE)
        {
            let f = self.frames.pop_front().expect("len > 1");
            self.bytes -= f.bytes;
            self.dropped += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Frame> {
        self.frames.get(i)
    }

    pub fn last(&self) -> Option<&Frame> {
        self.frames.back()
    }

    /// The frames up to and including `i`, newest last, at most `n`.
    pub fn window(&self, i: usize, n: usize) -> impl Iterator<Item = &Frame> {
        let from = (i + 1).saturating_sub(n);
        self.frames
            .range(from..=i.min(self.frames.len().saturating_sub(1)))
    }

    /// The frame taken at `at` into the run, or the nearest before it.
    pub fn at_time(&self, at: Duration) -> Option<usize> {
        let i = self.frames.partition_point(|f| f.snap.elapsed <= at);
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
        let mut big = Timeline::default();
        for i in 0..2000 {
            big.push(snap(i, 1000), i);
        }
        assert!(big.bytes <= MAX_BYTES && big.len() < 2000, "{}", big.len());
        assert_eq!(big.last().unwrap().printed, 1999);
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
            t.window(4, 2).map(|f| f.printed).collect::<Vec<_>>(),
            [4, 5]
        );
    }
}
