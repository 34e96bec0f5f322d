//! A fuzz harness that stays: seeded, deterministic mutations of every
//! scenario file and of every wire format the dashboard or a process reads
//! (pipe frames, manager frames, the board's own words as the sampler reads
//! them). Thousands of cases, no panics, no hangs. By hand, longer:
//! `MPDASH_FUZZ_CASES=200000 MPDASH_FUZZ_SEED=5 cargo test --test fuzz`.
//!
//! Bounded: a fixed number of cases (3 000 per target unless
//! `MPDASH_FUZZ_CASES` says otherwise), from a fixed seed; a failing case is
//! named with its seed, its number and its input, and a case that hangs
//! stops the binary after [`STALL`], named the same way.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mpdash::runtime::board::{Board, BoardSize};
use mpdash::runtime::manager::{Request, Response};
use mpdash::runtime::pipe::Connection;
use mpdash::scenario::{Overrides, parse};
use mpdash::telemetry::board_view::{read_pool, read_procs, read_resources};

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `MPDASH_FUZZ_SEED=N` shifts every generator, for longer runs by hand.
fn shift() -> u64 {
    std::env::var("MPDASH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
}

fn seed(base: u64) -> Rng {
    Rng((base ^ shift().wrapping_mul(0x9e37_79b9_7f4a_7c15)).max(1))
}

/// A case that has run this long is a hang.
const STALL: Duration = Duration::from_secs(60);

/// One target's run: the case it is on and that case's input, said when
/// the case fails (a panic: on drop) or hangs (a watchdog thread).
struct Fuzzing {
    what: Arc<str>,
    now: Arc<Mutex<(usize, String)>>,
    done: Arc<AtomicBool>,
}

impl Fuzzing {
    /// Starts target `name`, whose generator is `seed(base)`; returns it and
    /// the generator.
    fn start(name: &str, base: u64) -> (Fuzzing, Rng) {
        let rng = seed(base);
        let what: Arc<str> = format!(
            "fuzz target {name} (generator state {:#x}; replay: MPDASH_FUZZ_SEED={} \
             MPDASH_FUZZ_CASES={} cargo test --test fuzz {name})",
            rng.0,
            shift(),
            cases(3000)
        )
        .into();
        let f = Fuzzing {
            what: what.clone(),
            now: Arc::new(Mutex::new((0, String::new()))),
            done: Arc::new(AtomicBool::new(false)),
        };
        let (now, done) = (f.now.clone(), f.done.clone());
        std::thread::spawn(move || {
            let mut last = (usize::MAX, Instant::now());
            while !done.load(Ordering::Relaxed) {
                let (case, input) = now.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if case != last.0 {
                    last = (case, Instant::now());
                } else if last.1.elapsed() > STALL {
                    eprintln!("{what}: case {case} still runs after {STALL:?}; its input: {input}");
                    std::process::exit(101);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        (f, rng)
    }

    /// Case `i` begins, on `input` (shown as escaped text if it fails).
    fn case(&self, i: usize, input: &[u8]) {
        *self.now.lock().unwrap() = (i, format!("{:?}", String::from_utf8_lossy(input)));
    }
}

impl Drop for Fuzzing {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if std::thread::panicking() {
            let (case, input) = self.now.lock().map(|g| g.clone()).unwrap_or_default();
            eprintln!("{}: case {case} failed; its input: {input}", self.what);
        }
    }
}

fn cases(default: usize) -> usize {
    std::env::var("MPDASH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Flips, inserts, deletes or duplicates a few bytes.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if at < v.len() => v[at] ^= 1 << rng.below(8),
            1 => {
                let alphabet = b"{}[]=\"',#\n\\0123456789-.ez";
                v.insert(at, alphabet[rng.below(alphabet.len())]);
            }
            2 if at < v.len() => {
                v.remove(at);
            }
            3 if at < v.len() => {
                let end = (at + rng.below(16)).min(v.len());
                let piece = v[at..end].to_vec();
                v.splice(at..at, piece);
            }
            _ => v.insert(at, rng.next() as u8),
        }
    }
    v
}

#[test]
fn mutated_scenarios_are_errors_never_panics() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.extend(
        std::fs::read_dir(format!("{dir}/stuck"))
            .unwrap()
            .flatten()
            .map(|e| e.path()),
    );
    files.retain(|p| p.extension().is_some_and(|x| x == "toml"));
    files.sort();
    let (fuzz, mut rng) = Fuzzing::start(
        "mutated_scenarios_are_errors_never_panics",
        0x6d70_6461_7368,
    );
    let per_file = cases(3000) / files.len();
    let mut refused = 0;
    let mut case = 0;
    for f in &files {
        let text = std::fs::read(f).unwrap();
        for _ in 0..per_file {
            let m = mutate(&mut rng, &text);
            fuzz.case(case, &m);
            case += 1;
            let Ok(s) = String::from_utf8(m) else {
                continue;
            };
            if parse("fuzz.toml", &s, &Overrides::default()).is_err() {
                refused += 1;
            }
        }
    }
    assert!(
        refused > per_file,
        "the mutations reach the checks: {refused} refused"
    );
}

#[test]
fn mutated_frames_are_errors_never_panics_or_hangs() {
    let request = serde_json::to_vec(&Request::Shutdown).unwrap();
    let samples = [
        request,
        serde_json::to_vec(&Request::Call {
            id: 1,
            method: mpdash::runtime::manager::Method::SetItem,
            args: vec![
                mpdash::runtime::pyvalue::PyValue::Int(1),
                mpdash::runtime::pyvalue::PyValue::Str("x".into()),
            ],
            timeout_ms: None,
        })
        .unwrap(),
        serde_json::to_vec(&Response::Value(
            mpdash::runtime::pyvalue::PyValue::parse("[1, 'a', {2: None}]").unwrap(),
        ))
        .unwrap(),
    ];
    let (fuzz, mut rng) = Fuzzing::start("mutated_frames_are_errors_never_panics_or_hangs", 42);
    for i in 0..cases(3000) {
        let body = mutate(&mut rng, &samples[i % samples.len()]);
        fuzz.case(i, &body);
        let _ = serde_json::from_slice::<Request>(&body);
        let _ = serde_json::from_slice::<Response>(&body);
        // The same bytes behind a length prefix that may lie, on a real socket.
        let (mut a, b) = Connection::pair(true).unwrap();
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        let frame = mutate(&mut rng, &frame);
        fuzz.case(i, &frame);
        let fd: std::os::fd::OwnedFd = b.into();
        let mut raw = std::fs::File::from(fd);
        std::io::Write::write_all(&mut raw, &frame).unwrap();
        drop(raw); // EOF after the bytes: a reader never waits forever
        let _ = a.recv_bytes();
        let _ = a.recv_bytes();
    }
}

#[test]
fn a_scrambled_board_is_read_without_panics() {
    let board = Board::create(BoardSize {
        proc_slots: 16,
        res_slots: 16,
        arena_bytes: 1 << 16,
    })
    .unwrap();
    let words = board.region().len() / 8;
    let (fuzz, mut rng) = Fuzzing::start("a_scrambled_board_is_read_without_panics", 7);
    for case in 0..cases(3000) / 10 {
        // The board carries every earlier case's scribbles: the seed and the
        // case number replay it, the input says what this case wrote.
        let mut wrote = String::new();
        // Scribble on random words, as a hostile or dying process could;
        // the sampler's readers must check every offset and kind they meet.
        for _ in 0..64 {
            let at = 8 * rng.below(words);
            if let Some(w) = board.region().get::<AtomicU64>(at) {
                let v = match rng.below(4) {
                    0 => rng.next(),
                    1 => rng.below(64) as u64,
                    2 => u64::MAX,
                    _ => (rng.below(words) * 8) as u64,
                };
                w.store(v, Ordering::Relaxed);
                wrote.push_str(&format!("@{at}={v:#x} "));
            }
        }
        fuzz.case(case, wrote.as_bytes());
        let _ = read_procs(&board);
        let _ = read_resources(&board);
        let _ = read_pool(&board);
    }
}
