//! The step interpreter: the built-in work a scenario's processes run
//! (deterministic, checkable, CPU-bound where it should be), and the entry
//! point their children start on.

mod env;

pub use env::Env;

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::runtime::process::EXIT_DATAERR;
use crate::runtime::pyvalue::PyValue;
use crate::runtime::registry::{Child, Target};
use crate::runtime::shared_value::Num;
use crate::runtime::sys;

/// One step of built-in work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// The tutorial's `info(title)`: title, module name, parent and own pid.
    Info(String),
    /// Print a line.
    Print(String),
    /// Burn CPU for this many microseconds.
    SpinUs(u64),
    /// Sleep this many milliseconds.
    SleepMs(u64),
    /// Count primes below N by trial division and print the count.
    PrimesBelow(u64),
    /// Allocate and touch this many MiB, then keep it until the process ends.
    AllocMib(u64),
    /// End the process at once with this exit status (CPython's `sys.exit(n)`).
    Exit(i32),
    /// `q.put(value)`.
    Put { queue: String, value: PyValue },
    /// `print(q.get())`.
    Get(String),
    /// Put `count` numbered messages, one every `pace_ms`.
    PutMany {
        queue: String,
        count: u64,
        pace_ms: u64,
    },
    /// Take `count` messages, one every `pace_ms`, and print how many and their sum.
    GetMany {
        queue: String,
        count: u64,
        pace_ms: u64,
    },
    /// JoinableQueue: `q.task_done()`.
    TaskDone(String),
    /// JoinableQueue: `q.join()`.
    JoinQueue(String),
    /// `conn.send(value)` on this process's end of the pipe.
    Send { pipe: String, value: PyValue },
    /// `print(conn.recv())`.
    Recv(String),
    /// Send `count` pings, wait for each pong, print the round-trip times.
    Ping { pipe: String, count: u64 },
    /// Answer `count` pings.
    Pong { pipe: String, count: u64 },
    /// `lock.acquire()` / `sem.acquire()`.
    Acquire(String),
    /// `lock.release()` / `sem.release()`.
    Release(String),
    /// `d[key] = value` on a manager dict proxy.
    DictSet {
        dict: String,
        key: PyValue,
        value: PyValue,
    },
    /// `l.reverse()` on a manager list proxy.
    ListReverse(String),
    /// `print(proxy)`: the object's repr, from the manager.
    PrintProxy(String),
    /// The same counter loop (`v.value += 1`, `times` times) through a manager
    /// `Value` proxy and through a shared-memory `Value`, with their rates.
    CompareCounters {
        manager_value: String,
        shared_value: String,
        times: u64,
    },
    /// `v.value += 1`, `times` times, under the value's own lock if it has one.
    Increment { value: String, times: u64 },
    /// `v.value = to`.
    SetValue { value: String, to: Num },
    /// `for i in range(len(a)): a[i] = -a[i]`.
    Negate(String),
    /// `print(v.value)`.
    PrintValue(String),
    /// `print(a[:])`.
    PrintArray(String),
    /// Print a counter against what it should be, and how many updates were lost.
    ReportCount { value: String, expected: i64 },
    /// `event.wait()`.
    Wait(String),
    /// `event.set()`.
    Set(String),
    /// `event.clear()`.
    Clear(String),
    /// `barrier.wait()`.
    BarrierWait(String),
    /// Scaling runs only (no scenario step): count primes in these ranges, silently.
    #[doc(hidden)]
    CountPrimesIn(Vec<(u64, u64)>),
    /// Benchmarks only (no scenario step): put `count` messages of `size` bytes.
    #[doc(hidden)]
    BenchPut {
        queue: String,
        count: u64,
        size: usize,
    },
    /// Benchmarks only: take `count` messages.
    #[doc(hidden)]
    BenchGet { queue: String, count: u64 },
    /// Benchmarks only: send `count` frames of `size` bytes on a pipe.
    #[doc(hidden)]
    BenchSend {
        pipe: String,
        count: u64,
        size: usize,
    },
    /// Benchmarks only: echo `count` 64-byte messages with plain read/write on the pipe's fd.
    #[doc(hidden)]
    RawEcho { pipe: String, count: u64 },
    /// Fault tests only (no scenario step): freeze inside a put or a get.
    #[doc(hidden)]
    StallInPut(String),
    #[doc(hidden)]
    StallInGet(String),
}

/// Marks the start of a line's tag: `\x1e<pid>\x1e`, the pid of the process
/// that printed it, stripped by whoever reads the run's output
/// ([`untag`]): the dashboard names the process, `--json` says `"process"`,
/// and the text output is exactly what was printed.
const TAG: char = '\x1e';

/// Writes one line to standard output with a single `write`, so lines of
/// concurrent processes never interleave and nothing sits in a buffer that a
/// `fork` would copy; tagged with this process's pid.
pub fn say(line: &str) {
    let mut buf = Vec::with_capacity(line.len() + 16);
    buf.extend_from_slice(format!("{TAG}{}{TAG}", sys::my_pid()).as_bytes());
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    sys::write_all_fd(1, &buf);
}

/// The pid a line was tagged with (by [`say`], or by the Python probe's
/// `sys.stdout`; 0 when it was not), and the line without its tags. Tags
/// inside a line (two processes' unflushed halves of lines meeting in the
/// pipe) are removed too, so the text is exactly what was printed.
pub fn untag(line: &str) -> (i32, std::borrow::Cow<'_, str>) {
    use std::borrow::Cow;
    if !line.contains(TAG) {
        return (0, Cow::Borrowed(line));
    }
    let mut pid = 0;
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(TAG) {
        let after = &rest[at + 1..];
        match after.split_once(TAG) {
            Some((digits, tail))
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                out.push_str(&rest[..at]);
                if pid == 0 && out.is_empty() {
                    pid = digits.parse().unwrap_or(0);
                }
                rest = tail;
            }
            _ => {
                out.push_str(&rest[..=at]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (pid, Cow::Owned(out))
}

/// Whether `n` is prime, by trial division by odd numbers up to √n: the naive
/// function a Python user writes, deliberately CPU-bound.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n < 4 {
        return true;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    if n <= u32::MAX as u64 {
        let n = n as u32;
        let mut d = 3u32;
        while d.saturating_mul(d) <= n {
            if n.is_multiple_of(d) {
                return false;
            }
            d += 2;
        }
        return true;
    }
    let mut d = 3u64;
    while d.saturating_mul(d) <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

/// Number of primes in `[lo, hi)`.
pub fn count_primes(lo: u64, hi: u64) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

/// Burns CPU for `d` of wall time.
pub fn spin(d: Duration) {
    let t = Instant::now();
    let mut x = 0u64;
    while t.elapsed() < d {
        for i in 0..1000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
    std::hint::black_box(x);
}

/// The entry point name of a child that runs steps.
pub const STEPS_ENTRY: &str = "steps";

/// What a child runs to do these steps.
pub fn target(steps: Vec<Work>) -> Target {
    Target::new(STEPS_ENTRY, steps)
}

/// Entry point of a child that runs steps (its argument): exit 0 when they
/// all ran, 1 after printing the first error.
pub fn steps_entry(child: Child<'_>, arg: &serde_json::Value) -> i32 {
    let Ok(steps) = serde_json::from_value::<Vec<Work>>(arg.clone()) else {
        return EXIT_DATAERR;
    };
    // `__main__` in forked children; `__mp_main__` in children that
    // re-imported the program (spawn, forkserver), as CPython prints.
    let module_name = match child.method {
        crate::runtime::board::StartMethod::Fork => "__main__",
        _ => "__mp_main__",
    };
    let mut env = Env::new(child.board.clone(), module_name, child.index);
    for (name, fd) in child.fds {
        env.add_fd(name, fd);
    }
    env.prepare(&steps);
    match run(&mut env, &steps) {
        Ok(()) => 0,
        Err(e) => {
            say(&format!("error: {}: {e}", child.name));
            1
        }
    }
}

/// Runs the steps in order, stopping at the first error.
pub fn run(env: &mut Env, steps: &[Work]) -> Result<(), String> {
    for step in steps {
        match step {
            Work::Info(title) => {
                say(&env.fill(title));
                say(&format!("module name: {}", env.module_name));
                say(&format!("parent process: {}", nix::unistd::getppid()));
                say(&format!("process id: {}", nix::unistd::getpid()));
            }
            Work::Print(s) => say(&env.fill(s)),
            Work::SpinUs(us) => spin(Duration::from_micros(*us)),
            Work::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Work::PrimesBelow(n) => say(&format!("primes below {n}: {}", count_primes(0, *n))),
            Work::AllocMib(mib) => env.alloc_mib(*mib),
            Work::Exit(code) => sys::exit_now(*code),
            Work::CountPrimesIn(ranges) => {
                std::hint::black_box(
                    ranges
                        .iter()
                        .map(|(a, b)| count_primes(*a, *b))
                        .sum::<u64>(),
                );
            }
            other => env.run_resource_step(other)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_removed_wherever_they_are_and_the_first_names_the_printer() {
        assert_eq!(untag("plain"), (0, "plain".into()));
        assert_eq!(untag("\x1e42\x1ehello"), (42, "hello".into()));
        // Two processes' unflushed halves met in the pipe: the text is as printed.
        assert_eq!(untag("\x1e42\x1ehel\x1e43\x1elo"), (42, "hello".into()));
        // A record separator the program printed itself stays.
        assert_eq!(untag("a\x1eb"), (0, "a\x1eb".into()));
        assert_eq!(untag("a\x1e\x1eb"), (0, "a\x1e\x1eb".into()));
        assert_eq!(untag("x\x1e7\x1ey"), (0, "xy".into()));
    }

    #[test]
    fn prime_counts_match_known_values() {
        assert_eq!(count_primes(0, 10), 4);
        assert_eq!(count_primes(0, 100), 25);
        assert_eq!(count_primes(0, 100_000), 9592);
        assert_eq!(
            count_primes(0, 50_000) + count_primes(50_000, 100_000),
            9592
        );
    }

    #[test]
    fn small_numbers_and_squares_are_classified() {
        let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(!is_prime(49) && !is_prime(121) && !is_prime(4_294_967_297));
        assert!(is_prime(4_294_967_311));
    }
}
