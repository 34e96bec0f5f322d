//! A simulated GIL: one lock that a thread must hold to compute, handed over
//! every switch interval (CPython's `sys.getswitchinterval()`, 5 ms) when
//! another thread is waiting, as CPython 3's "new GIL" does.
//!
//! Each thread records the intervals it held the GIL, so a test can check
//! from the threads' own accounting that no two ever computed at once.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    holder: Option<usize>,
    waiting: usize,
    /// Bumped at each hand-over, so a dropping holder can wait for a taker.
    handovers: u64,
}

/// The lock and its switch interval.
pub struct Gil {
    state: Mutex<State>,
    cv: Condvar,
    pub interval: Duration,
}

impl Gil {
    pub fn new(interval: Duration) -> Gil {
        Gil {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            interval,
        }
    }

    fn take(&self, me: usize) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.waiting += 1;
        while s.holder.is_some() {
            s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.waiting -= 1;
        s.holder = Some(me);
        s.handovers += 1;
        self.cv.notify_all();
    }

    /// Drops the GIL; if someone waits, lets them take it before competing again.
    fn drop_gil(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.holder = None;
        let seen = s.handovers;
        self.cv.notify_all();
        if s.waiting > 0 {
            while s.handovers == seen && s.waiting > 0 {
                s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    fn someone_waits(&self) -> bool {
        self.state.lock().map(|s| s.waiting > 0).unwrap_or(false)
    }

    /// Runs `work` in small steps (each returns false when done) holding the
    /// GIL, switching every interval. Returns the intervals it held the GIL.
    pub fn run(&self, me: usize, mut step: impl FnMut() -> bool) -> Vec<(Instant, Instant)> {
        let mut held = Vec::new();
        self.take(me);
        let mut since = Instant::now();
        loop {
            let more = step();
            if !more {
                held.push((since, Instant::now()));
                self.drop_gil();
                return held;
            }
            if since.elapsed() >= self.interval && self.someone_waits() {
                held.push((since, Instant::now()));
                self.drop_gil();
                self.take(me);
                since = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_thread_computes_at_a_time_and_all_finish() {
        let gil = Gil::new(Duration::from_millis(1));
        let spans: Vec<Vec<(Instant, Instant)>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    let gil = &gil;
                    s.spawn(move || {
                        let mut left = 400_000u64;
                        gil.run(i, || {
                            let n = left.min(500);
                            std::hint::black_box(crate::scenario::steps::count_primes(
                                100_000,
                                100_000 + n,
                            ));
                            left -= n;
                            left > 0
                        })
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<(Instant, Instant, usize)> = spans
            .iter()
            .enumerate()
            .flat_map(|(t, v)| v.iter().map(move |(a, b)| (*a, *b, t)))
            .collect();
        all.sort();
        for w in all.windows(2) {
            assert!(
                w[0].1 <= w[1].0,
                "threads {} and {} held the GIL at once",
                w[0].2,
                w[1].2
            );
        }
        assert!(spans.iter().all(|v| !v.is_empty()));
        assert!(
            spans.iter().map(Vec::len).sum::<usize>() > 3,
            "the GIL changed hands"
        );
    }
}
