//! Primitives under faults, under every start method: a producer or consumer
//! frozen or killed inside a queue operation, a lock holder killed, a barrier
//! party killed. Each must end with the documented outcome, never a hang.
//! One test function, so this binary forks from a single test thread.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mpdash::runtime::board::{Board, BoardSize, ProcState, StartMethod};
use mpdash::runtime::process::{Context, Process};
use mpdash::runtime::queue::Queue;
use mpdash::runtime::sync::{Acquired, Barrier, Lock};
use mpdash::scenario::steps::{Work, target};

fn ctx(method: StartMethod) -> Context {
    // Fork children run in this process: they find their code in its registry.
    mpdash::runtime::init(mpdash::scenario::registry());
    let exe = std::ffi::CString::new(env!("CARGO_BIN_EXE_mpdash")).unwrap();
    let size = BoardSize {
        proc_slots: 64,
        res_slots: 16,
        arena_bytes: 4 << 20,
    };
    Context::with_executable(Board::create(size).unwrap(), method, exe)
}

fn start(ctx: &Context, name: &str, steps: Vec<Work>) -> Process {
    let mut p = Process::new(ctx, name, target(steps));
    p.start().unwrap();
    p
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn decode(m: &[u8]) -> u64 {
    u64::from_le_bytes(m.try_into().expect("8-byte message, never torn"))
}

/// A producer frozen after claiming a slot, then SIGKILLed: the consumer
/// skips the hole (counted as lost), every other message arrives once, in order.
fn producer_killed_mid_put(m: StartMethod) {
    let ctx = ctx(m);
    let q = Queue::create(ctx.board(), "q", 8, 16).unwrap();
    let mut frozen = start(&ctx, "frozen producer", vec![Work::StallInPut("q".into())]);
    wait_until("the frozen claim", Duration::from_secs(5), || {
        q.header().enqueue.load(Ordering::SeqCst) == 1
    });
    frozen.kill();
    assert_eq!(frozen.join(Some(Duration::from_secs(5))), Some(-9));
    for i in 0..20u64 {
        q.put(&i.to_le_bytes(), Some(Duration::from_secs(5)))
            .unwrap_or_else(|e| panic!("{m}: put {i}: {e}"));
        if i >= 6 {
            // Keep room: the hole holds one slot until a consumer passes it.
            let got = decode(
                &q.get(Some(Duration::from_secs(2)))
                    .unwrap_or_else(|e| panic!("{m}: {e}")),
            );
            assert_eq!(got, i - 6, "{m}: order kept across the hole");
        }
    }
    let rest: Vec<u64> = (0..6)
        .map(|_| decode(&q.get(Some(Duration::from_secs(2))).unwrap()))
        .collect();
    assert_eq!(rest, (14..20).collect::<Vec<_>>(), "{m}");
    assert_eq!(
        q.header().lost_put.load(Ordering::Relaxed),
        1,
        "{m}: the in-flight message is counted lost"
    );
    assert_eq!(q.qsize(), 0, "{m}");
    ctx.shutdown();
}

/// A consumer frozen after taking a message, then SIGKILLed: producers are not
/// blocked forever by its unfreed slot; the taken message is counted lost.
fn consumer_killed_mid_get(m: StartMethod) {
    let ctx = ctx(m);
    let q = Queue::create(ctx.board(), "q", 4, 16).unwrap();
    q.put(&99u64.to_le_bytes(), None).unwrap();
    let mut frozen = start(&ctx, "frozen consumer", vec![Work::StallInGet("q".into())]);
    wait_until("the frozen get", Duration::from_secs(5), || {
        q.header().dequeue.load(Ordering::SeqCst) == 1
    });
    frozen.kill();
    frozen.join(Some(Duration::from_secs(5)));
    // Fill the ring all the way round, through the slot the dead consumer held.
    for i in 0..12u64 {
        q.put(&i.to_le_bytes(), Some(Duration::from_secs(2)))
            .unwrap_or_else(|e| panic!("{m}: put {i}: {e}"));
        assert_eq!(
            decode(&q.get(Some(Duration::from_secs(2))).unwrap()),
            i,
            "{m}"
        );
    }
    assert_eq!(q.header().lost_get.load(Ordering::Relaxed), 1, "{m}");
    ctx.shutdown();
}

/// Producers in a hot loop, one SIGKILLed at a random point: no message is
/// torn or duplicated, each producer's order is kept, the survivor's all arrive.
fn producer_killed_under_load(m: StartMethod) {
    let ctx = ctx(m);
    let q = Queue::create(ctx.board(), "q", 64, 16).unwrap();
    let put_many = |n| {
        vec![Work::PutMany {
            queue: "q".into(),
            count: n,
            pace_ms: 0,
        }]
    };
    let mut victim = Process::new(&ctx, "victim", target(put_many(10_000_000)))
        .with_role(mpdash::runtime::board::Role::Process, 1);
    victim.start().unwrap();
    let mut survivor = start(&ctx, "survivor", put_many(20_000));
    let mut got: HashMap<u64, Vec<u64>> = HashMap::new();
    let mut killed = false;
    let t = Instant::now();
    loop {
        match q.get(Some(Duration::from_millis(200))) {
            Ok(msg) => {
                // PutMany sends Python ints as JSON: index * 1e6 + k.
                let v: mpdash::runtime::pyvalue::PyValue =
                    serde_json::from_slice(&msg).expect("whole JSON message");
                let mpdash::runtime::pyvalue::PyValue::Int(v) = v else {
                    panic!("{v:?}")
                };
                got.entry(v as u64 / 1_000_000)
                    .or_default()
                    .push(v as u64 % 1_000_000);
            }
            Err(_) if killed && survivor.exitcode().is_some() => break,
            Err(_) => {}
        }
        if !killed && got.get(&1).is_some_and(|v| v.len() > 5_000) {
            victim.kill();
            victim.join(Some(Duration::from_secs(5)));
            killed = true;
        }
        survivor.is_alive();
        assert!(t.elapsed() < Duration::from_secs(60), "{m}: hung");
    }
    assert_eq!(survivor.join(None), Some(0));
    assert_eq!(
        got[&0],
        (0..20_000).collect::<Vec<_>>(),
        "{m}: the survivor's messages, each once, in order"
    );
    let v = &got[&1];
    assert!(
        v.windows(2).all(|w| w[1] == w[0] + 1 || w[1] == w[0] + 2),
        "{m}: victim's order kept, at most one lost"
    );
    let lost = q.header().lost_put.load(Ordering::Relaxed);
    assert!(lost <= 1, "{m}: lost {lost}");
    ctx.shutdown();
}

/// A lock holder SIGKILLed: the next acquirer gets it within 10 ms, told the owner died.
fn lock_holder_killed(m: StartMethod) -> Duration {
    let ctx = ctx(m);
    let lock = Lock::create(ctx.board(), "l", false).unwrap();
    let mut holder = start(
        &ctx,
        "holder",
        vec![Work::Acquire("l".into()), Work::SleepMs(60_000)],
    );
    let pid = holder.pid().unwrap().as_raw();
    wait_until("the holder", Duration::from_secs(5), || {
        lock.shared().holder_pid() == pid
    });
    assert!(lock.try_acquire().is_err(), "{m}: held");
    let lock2 = lock.clone();
    let waiter = std::thread::spawn(move || {
        let r = lock2.acquire_raw(true, Some(Duration::from_secs(5)));
        let at = Instant::now();
        if r.is_ok() {
            lock2.release().unwrap();
        }
        (r, at)
    });
    std::thread::sleep(Duration::from_millis(50));
    let killed_at = Instant::now();
    holder.kill();
    let (r, got_at) = waiter.join().unwrap();
    assert_eq!(r, Ok(Acquired::PreviousOwnerDied { pid }), "{m}");
    assert_eq!(lock.shared().owner_died.load(Ordering::Relaxed), 1);
    drop(
        lock.acquire(Some(Duration::from_secs(1)))
            .expect("usable again"),
    );
    holder.join(None);
    ctx.shutdown();
    got_at - killed_at
}

/// A party killed before it arrives: the others are told the barrier broke.
fn barrier_party_killed(m: StartMethod) {
    let ctx = ctx(m);
    Barrier::create(ctx.board(), "b", 3).unwrap();
    let mut late = start(
        &ctx,
        "late",
        vec![Work::SleepMs(60_000), Work::BarrierWait("b".into())],
    );
    let mut waiters: Vec<Process> = (0..2)
        .map(|i| start(&ctx, &format!("w{i}"), vec![Work::BarrierWait("b".into())]))
        .collect();
    wait_until("all started", Duration::from_secs(5), || {
        (0..ctx.board().procs_used())
            .all(|i| ctx.board().proc(i).unwrap().state() == ProcState::Running)
    });
    std::thread::sleep(Duration::from_millis(100));
    late.kill();
    let t = Instant::now();
    for w in &mut waiters {
        assert_eq!(
            w.join(Some(Duration::from_secs(2))),
            Some(1),
            "{m}: a waiter ends with the broken-barrier error"
        );
    }
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "{m}: took {:?}",
        t.elapsed()
    );
    late.join(None);
    ctx.shutdown();
}

#[test]
fn primitives_survive_killed_processes_under_every_method() {
    for m in StartMethod::ALL {
        producer_killed_mid_put(m);
        consumer_killed_mid_get(m);
        producer_killed_under_load(m);
        let d = lock_holder_killed(m);
        eprintln!("{m}: lock handed to the next acquirer {d:?} after its holder was SIGKILLed");
        assert!(
            d < Duration::from_millis(10),
            "{m}: the lock came back after {d:?}"
        );
        barrier_party_killed(m);
    }
}
