//! Proportional memory: PSS and RSS from `/proc/<pid>/smaps_rollup`. PSS
//! splits each shared page among its sharers, so forked children sharing
//! their parent's heap copy-on-write count only their share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::runtime::board::Board;
use crate::telemetry::board_view::{ProcRow, read_procs};
use crate::telemetry::stats::is_worker;

/// (PSS, RSS) in bytes.
pub fn pss_rss(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    parse_rollup(&text)
}

pub fn parse_rollup(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("Pss:")?, field("Rss:")?))
}

/// The workers' summed (PSS, RSS) right now.
pub fn workers_memory(rows: &[ProcRow]) -> (u64, u64) {
    rows.iter()
        .filter(|r| is_worker(r) && r.alive())
        .filter_map(|r| pss_rss(r.pid))
        .fold((0, 0), |(p, r), (a, b)| (p + a, r + b))
}

/// Most live workers whose memory is summed (each costs a read of
/// `/proc/<pid>/smaps_rollup`).
pub const MAX_WATCHED: usize = 64;

/// Samples the workers' memory every 20 ms on a thread until dropped,
/// keeping the peaks.
pub struct MemoryWatch {
    stop: Arc<AtomicBool>,
    pss: Arc<AtomicU64>,
    rss: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MemoryWatch {
    pub fn start(board: Board) -> MemoryWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let pss = Arc::new(AtomicU64::new(0));
        let rss = Arc::new(AtomicU64::new(0));
        let (s, p, r) = (stop.clone(), pss.clone(), rss.clone());
        let thread = std::thread::Builder::new()
            .name("memory".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let procs = read_procs(&board);
                    let live = procs.iter().filter(|w| is_worker(w) && w.alive()).count();
                    // `smaps_rollup` of hundreds of workers every 20 ms would
                    // cost half a core: above MAX_WATCHED, as the sampler does,
                    // the peaks are not sampled (they read 0, "not measured").
                    if live <= MAX_WATCHED {
                        let (a, b) = workers_memory(&procs);
                        p.fetch_max(a, Ordering::Relaxed);
                        r.fetch_max(b, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .ok();
        MemoryWatch {
            stop,
            pss,
            rss,
            thread,
        }
    }

    /// Stops and returns the peaks (PSS, RSS).
    pub fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (
            self.pss.load(Ordering::Relaxed),
            self.rss.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollup_fields_are_read_in_bytes() {
        let t = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:                4096 kB\nPss:                1024 kB\nPss_Anon:            512 kB\n";
        assert_eq!(parse_rollup(t), Some((1024 * 1024, 4096 * 1024)));
        assert_eq!(parse_rollup("garbage"), None);
        assert!(pss_rss(std::process::id() as i32).is_some_and(|(p, r)| p > 0 && r >= p));
    }
}
