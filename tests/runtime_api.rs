//! The runtime used as a library: CPython's Process and Pool vocabulary under
//! each start method. One test, so this binary forks from a single test thread.

use std::time::{Duration, Instant};

use mpdash::runtime::board::{Board, BoardSize, StartMethod};
use mpdash::runtime::pool::{Pool, Task};
use mpdash::runtime::process::{Context, Process, Target};
use mpdash::runtime::work::Work;

fn ctx(method: StartMethod) -> Context {
    let exe = std::ffi::CString::new(env!("CARGO_BIN_EXE_mpdash")).unwrap();
    Context::with_executable(Board::create(BoardSize::default()).unwrap(), method, exe)
}

#[test]
fn process_and_pool_api_under_each_method() {
    for m in StartMethod::ALL {
        let ctx = ctx(m);
        let mut sleeper = Process::new(&ctx, "sleeper", Target::Work(vec![Work::SleepMs(10_000)]));
        assert!(!sleeper.is_alive(), "{m}: not alive before start");
        assert_eq!(sleeper.join(Some(Duration::from_millis(10))), None);
        sleeper.start().unwrap();
        assert!(sleeper.start().is_err(), "{m}: a process starts once");
        assert!(sleeper.is_alive(), "{m}");
        let t = Instant::now();
        assert_eq!(
            sleeper.join(Some(Duration::from_millis(100))),
            None,
            "{m}: join times out"
        );
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(100),
            "{m}: join returned early ({waited:?})"
        );
        sleeper.terminate();
        assert_eq!(sleeper.join(Some(Duration::from_secs(5))), Some(-15), "{m}");
        assert_eq!(sleeper.exitcode(), Some(-15));
        assert!(!sleeper.is_alive());

        let mut quitter = Process::new(&ctx, "quitter", Target::Work(vec![Work::Exit(7)]));
        quitter.start().unwrap();
        assert_eq!(quitter.join(None), Some(7), "{m}");

        let mut pool = Pool::new(&ctx, "pool", 3).unwrap();
        let results = pool.map(Task::primes_chunks(100_000, 10), 2).unwrap();
        assert_eq!(results.len(), 10);
        assert!(
            results.windows(2).all(|w| w[0].id + 1 == w[1].id),
            "{m}: results in task order"
        );
        assert_eq!(results.iter().map(|r| r.value).sum::<u64>(), 9592, "{m}");
        assert!(results.iter().all(|r| (1..=3).contains(&r.worker)));
        pool.close();
        for w in pool.workers() {
            assert_eq!(w.exitcode(), Some(0), "{m}: {} stopped cleanly", w.name());
        }
        ctx.shutdown();
    }
}
