//! Whether the machine was quiet while a scaling point was measured: the
//! CPU the whole machine spent (`/proc/stat`) minus what the measurement's
//! own processes spent (`/proc/self/stat`, its children's as reaped, and
//! the workers' as the board recorded them). Above [`BUSY_PCT`] of one
//! core, other processes took cores the workers needed, and the point's
//! speedup says more about them than about the workers.

use std::time::{Duration, Instant};

/// Other processes' CPU, in percent of one core, above which a point is
/// not trustworthy.
pub const BUSY_PCT: f64 = 50.0;

/// CPU counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    at: Instant,
    /// Busy time of every CPU of the machine, in clock ticks.
    machine: u64,
    /// This process's own threads, in clock ticks.
    own: u64,
    /// Its children's, once reaped, in clock ticks.
    children: u64,
}

/// What other processes used between two marks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Others {
    /// Percent of one core, averaged over the point's wall time.
    pub cpu_pct: f64,
    pub trustworthy: bool,
}

fn ticks_per_s() -> f64 {
    crate::runtime::sys::clock_ticks().max(1) as f64
}

/// The machine's busy ticks: the first line of `/proc/stat`, every state
/// but idle and iowait (guest time is already in user).
pub fn machine_busy(stat: &str) -> Option<u64> {
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    (v.len() >= 4).then(|| at(0) + at(1) + at(2) + at(5) + at(6) + at(7))
}

/// utime+stime and cutime+cstime of a `/proc/PID/stat` line.
pub fn own_and_children(stat: &str) -> Option<(u64, u64)> {
    // The command name may hold spaces and parentheses: fields count from
    // after its last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14.
    let n = |i: usize| f.get(i - 3)?.parse::<u64>().ok();
    Some((n(14)? + n(15)?, n(16)? + n(17)?))
}

impl Mark {
    pub fn now() -> Mark {
        let machine = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| machine_busy(&s))
            .unwrap_or(0);
        let (own, children) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| own_and_children(&s))
            .unwrap_or((0, 0));
        Mark {
            at: Instant::now(),
            machine,
            own,
            children,
        }
    }

    /// Other processes' CPU since `self`. `workers`: CPU of the
    /// measurement's processes that may not be this process's children
    /// (a fork server's), as the board recorded it; whichever of it and
    /// the reaped children's is larger is counted, never both.
    pub fn others_until(&self, end: &Mark, workers: Duration) -> Others {
        let hz = ticks_per_s();
        let wall = end.at.duration_since(self.at).as_secs_f64().max(1e-3);
        let machine = end.machine.saturating_sub(self.machine) as f64 / hz;
        let own = end.own.saturating_sub(self.own) as f64 / hz;
        let children =
            (end.children.saturating_sub(self.children) as f64 / hz).max(workers.as_secs_f64());
        let others = (machine - own - children).max(0.0);
        // The counters move by whole ticks, each CPU's on its own: a couple
        // of ticks per CPU either way is no evidence.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let noise = 2.0 * cpus / hz;
        Others {
            cpu_pct: others / wall * 100.0,
            trustworthy: others <= (BUSY_PCT / 100.0 * wall).max(noise),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines_are_read_field_by_field() {
        let stat = "cpu  100 5 50 9000 7 3 2 1 40 0\ncpu0 50 2 25 4500 3 1 1 0 20 0\n";
        assert_eq!(machine_busy(stat), Some(100 + 5 + 50 + 3 + 2 + 1));
        let me = "4242 (a (weird) name) R 1 4242 4242 0 -1 4194560 100 0 0 0 \
                  17 4 6 2 20 0 1 0 123 456 789";
        assert_eq!(own_and_children(me), Some((17 + 4, 6 + 2)));
        assert_eq!(own_and_children("garbage"), None);
    }

    #[test]
    fn a_quiet_interval_is_trustworthy_and_spinning_here_is_not_others() {
        let start = Mark::now();
        // Our own spinning is the measurement's, not other processes'.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let end = Mark::now();
        let o = start.others_until(&end, Duration::ZERO);
        assert!(o.cpu_pct >= 0.0);
        // Others may run meanwhile (tests in parallel): only the arithmetic
        // is checked here, the busy machine by tests/scale_compare.rs.
        let all = start.others_until(&end, Duration::from_secs(1000));
        assert_eq!(
            all.cpu_pct, 0.0,
            "more own CPU than the machine's leaves none"
        );
        assert!(all.trustworthy);
    }
}
