//! The runtime used as a library: CPython's Process and Pool vocabulary under
//! each start method. One test, so this binary forks from a single test thread.

mod common;
use common::{PATIENCE, wait_until, within};

use std::time::{Duration, Instant};

use mpdash::runtime::board::{Board, BoardSize, StartMethod};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use mpdash::runtime::pool::*;
use mpdash::runtime::process::{Context, Process};
use mpdash::scenario::builtins::{FAIL, PRIMES, SLEEP, SQUARE};
use mpdash::scenario::steps::{Work, target};

fn ctx(method: StartMethod) -> Context {
    // Fork children run in this process: they find their code in its registry.
    mpdash::runtime::init(mpdash::scenario::registry());
    let exe = std::ffi::CString::new(env!("CARGO_BIN_EXE_mpdash")).unwrap();
    let size = BoardSize {
        arena_bytes: 8 << 20,
        ..BoardSize::default()
    };
    Context::with_executable(Board::create(size).unwrap(), method, exe)
}

#[test]
fn process_and_pool_api_under_each_method() {
    for m in StartMethod::ALL {
        let ctx = ctx(m);
        let mut sleeper = Process::new(&ctx, "sleeper", target(vec![Work::SleepMs(10_000)]));
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

        let mut quitter = Process::new(&ctx, "quitter", target(vec![Work::Exit(7)]));
        quitter.start().unwrap();
        assert_eq!(quitter.join(None), Some(7), "{m}");

        pool_api(&ctx, m);
        ctx.shutdown();
    }
}

fn pool(ctx: &Context, name: &str, opts: PoolOptions) -> Pool {
    Pool::new(ctx, name, opts).unwrap()
}

fn pool_api(ctx: &Context, m: StartMethod) {
    let mut p = pool(ctx, "pool", PoolOptions::with_workers(3));
    // map: ordered, exact, with an explicit and with CPython's default chunksize.
    let counts = p.map(&PRIMES, Items::ranges(100_000, 10), Some(2)).unwrap();
    assert_eq!(counts.len(), 10);
    assert_eq!(counts.iter().sum::<i64>(), 9592, "{m}");
    assert_eq!(counts[0], 1229, "{m}: the first chunk is [0, 10000)");
    let squares = p.map(&SQUARE, Items::range(0, 5000, 1), None).unwrap();
    assert_eq!(
        squares,
        (0..5000).map(|x| x * x).collect::<Vec<i64>>(),
        "{m}"
    );
    let list = p
        .map(&SQUARE, Items::singles((0..600).rev().collect()), Some(300))
        .unwrap();
    assert_eq!(
        list,
        (0..600).rev().map(|x| x * x).collect::<Vec<i64>>(),
        "{m}: big chunks split into messages"
    );
    // starmap: tuples of arguments.
    let star = p
        .starmap(
            &PRIMES,
            Items::tuples(&[vec![0, 10], vec![10, 20], vec![0, 100]]),
            None,
        )
        .unwrap();
    assert_eq!(star, vec![4, 4, 25], "{m}");
    assert!(matches!(
        p.map(&PRIMES, Items::range(0, 3, 1), None),
        Err(PoolError::Arity {
            want: 2,
            got: 1,
            ..
        })
    ));
    // map_async with its callback; apply and apply_async with error_callback.
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
    let job = p
        .map_async(
            &SQUARE,
            Items::range(1, 4, 1),
            None,
            Callbacks {
                callback: Some(Box::new(move |v| s1.borrow_mut().push(format!("{v:?}")))),
                error_callback: None,
            },
        )
        .unwrap();
    let failing = p
        .apply_async(
            &FAIL,
            &[7],
            Callbacks {
                callback: Some(Box::new(move |v| s2.borrow_mut().push(format!("ok {v:?}")))),
                error_callback: Some(Box::new(move |e| s3.borrow_mut().push(e.to_string()))),
            },
        )
        .unwrap();
    assert_eq!(p.apply(&PRIMES, &[0, 1000]).unwrap(), 168, "{m}");
    assert_eq!(
        p.get(job, Some(Duration::from_secs(30))).unwrap(),
        vec![1, 4, 9]
    );
    assert!(p.wait(failing, Some(Duration::from_secs(30))).unwrap());
    // Each callback once; in completion order, which two workers make
    // either way (as in CPython).
    let mut got = seen.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        vec!["ValueError: fail(7)".to_string(), "[1, 4, 9]".to_string()],
        "{m}: each callback once"
    );
    // A failing task is that task's error; the others complete; the pool lives on.
    let err = p
        .map(&FAIL, Items::range(0, 3, 1), Some(1))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "task 0 (fail(0)) failed: ValueError: fail(0)", "{m}");
    assert_eq!(
        p.apply(&SQUARE, &[12]).unwrap(),
        144,
        "{m}: the pool lives on"
    );
    // imap: in order, lazily; imap_unordered: in the order results arrive.
    let ordered: Vec<(usize, i64)> = p
        .imap(&SQUARE, Items::range(0, 50, 1), 1)
        .unwrap()
        .map(index_and_value)
        .collect();
    assert_eq!(
        ordered,
        (0..50).map(|i| (i as usize, i * i)).collect::<Vec<_>>()
    );
    let unordered: Vec<(usize, i64)> = p
        .imap_unordered(&SLEEP, Items::singles(vec![600, 5, 300]), 1)
        .unwrap()
        .map(index_and_value)
        .collect();
    assert_eq!(
        unordered,
        vec![(1, 5), (2, 300), (0, 600)],
        "{m}: completion order"
    );
    p.close();
    assert!(matches!(p.apply(&SQUARE, &[1]), Err(PoolError::Closed)));
    p.join().unwrap();
    for w in p.workers() {
        assert_eq!(w.exitcode(), Some(0), "{m}: {} stopped cleanly", w.name());
    }
    drop(p);

    // maxtasksperchild: workers retire after 2 batches and are replaced by new PIDs.
    let mut opts = PoolOptions::with_workers(2);
    opts.maxtasksperchild = 2;
    let mut p = pool(ctx, "retiring", opts);
    let first: Vec<i32> = p
        .workers()
        .iter()
        .map(|w| w.pid().unwrap().as_raw())
        .collect();
    let v = p.map(&SQUARE, Items::range(0, 12, 1), Some(1)).unwrap();
    assert_eq!(
        v.iter().sum::<i64>(),
        (0..12).map(|x| x * x).sum::<i64>(),
        "{m}"
    );
    let found = ctx.board().find_res("retiring").unwrap();
    let slot = ctx.board().res(found.slot).unwrap();
    let replaced = slot.stats[STAT_REPLACED].load(Ordering::Relaxed);
    assert!(
        replaced >= 4,
        "{m}: 12 batches at 2 per worker need ≥ 4 replacements, saw {replaced}"
    );
    let now: Vec<i32> = p
        .workers()
        .iter()
        .map(|w| w.pid().unwrap().as_raw())
        .collect();
    assert!(now.iter().all(|pid| !first.contains(pid)), "{m}: new PIDs");
    p.close();
    p.join().unwrap();
    drop(p);

    // initializer: runs in every worker before its tasks; a failing one is an error, not a hang.
    let mut opts = PoolOptions::with_workers(2);
    opts.initializer = Some((&SLEEP, vec![1]));
    let mut p = pool(ctx, "initialized", opts.clone());
    assert_eq!(p.apply(&SQUARE, &[3]).unwrap(), 9);
    drop(p);
    opts.initializer = Some((&FAIL, vec![1]));
    let mut p = pool(ctx, "broken", opts);
    assert!(
        matches!(p.apply(&SQUARE, &[3]), Err(PoolError::Initializer(3))),
        "{m}"
    );
    drop(p);

    // terminate: unfinished tasks get an error at once (the task would sleep
    // ten minutes: far past the generous deadlines here).
    let mut p = pool(ctx, "terminated", PoolOptions::with_workers(2));
    let job = p
        .apply_async(&SLEEP, &[600_000], Callbacks::default())
        .unwrap();
    wait_until(&format!("{m}: a worker on the sleep"), PATIENCE, || {
        running_tasks(ctx, &p).ok_or_else(|| "no worker on a task".to_string())
    });
    within(&format!("{m}: terminate"), PATIENCE, || p.terminate());
    assert_eq!(
        p.outcomes(job, Some(PATIENCE))
            .unwrap_or_else(|e| panic!("{m}: the terminated task's outcome: {e}")),
        vec![Err(TaskError::Terminated)]
    );
    p.join().unwrap();
    drop(p);

    // on_worker_death = "fail": the task a killed worker ran is failed, the rest run.
    let mut opts = PoolOptions::with_workers(2);
    opts.on_worker_death = OnDeath::Fail;
    let mut p = pool(ctx, "fragile", opts);
    let job = p
        .map_async(
            &SLEEP,
            Items::singles(vec![600_000, 10, 10, 10]),
            Some(1),
            Callbacks::default(),
        )
        .unwrap();
    // The three short tasks done, a worker on the long one: that is the victim.
    let victim = wait_until(
        &format!("{m}: a worker on the long task alone"),
        PATIENCE,
        || {
            let done: u64 = p
                .workers()
                .iter()
                .map(|w| {
                    ctx.board()
                        .proc(w.slot().unwrap())
                        .unwrap()
                        .tasks_done
                        .load(Ordering::Relaxed)
                })
                .sum();
            match running_tasks(ctx, &p) {
                Some(pid) if done == 3 => Ok(pid),
                running => Err(format!(
                    "{done} tasks done, a worker on a task: {running:?}"
                )),
            }
        },
    );
    nix::sys::signal::kill(victim, nix::sys::signal::Signal::SIGKILL).unwrap();
    // Noticed, not waited out: the long task would sleep ten minutes.
    let out = p
        .outcomes(job, Some(PATIENCE))
        .unwrap_or_else(|e| panic!("{m}: the outcomes after the worker died: {e}"));
    assert!(
        matches!(&out[0], Err(TaskError::WorkerDied(e)) if e.contains("SIGKILL")),
        "{m}: {out:?}"
    );
    assert_eq!(out[1..], [Ok(10), Ok(10), Ok(10)]);
    p.close();
    p.join().unwrap();
}

/// The pid of the one pool worker running a task (its board slot names
/// one), if exactly one does.
fn running_tasks(ctx: &Context, p: &Pool) -> Option<nix::unistd::Pid> {
    let busy: Vec<_> = p
        .workers()
        .iter()
        .filter(|w| {
            w.slot().is_some_and(|s| {
                ctx.board()
                    .proc(s)
                    .is_some_and(|slot| slot.current_task.load(Ordering::Relaxed) >= 0)
            })
        })
        .collect();
    match busy[..] {
        [w] => w.pid(),
        _ => None,
    }
}

fn index_and_value(r: Result<(usize, Outcome), PoolError>) -> (usize, i64) {
    let (i, o) = r.unwrap();
    (i, o.unwrap())
}
