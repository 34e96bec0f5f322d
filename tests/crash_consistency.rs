//! Primitives under faults, under every start method: a producer or consumer
//! frozen or killed inside a queue operation, a lock holder killed, a barrier
//! party killed. Each must end with the documented outcome, never a hang.
//! One test per case and start method; they take turns (`common::serial`),
//! so this binary forks while no other test thread is doing anything.

mod common;
use common::{PATIENCE, serial, wait_until};

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mpdash::runtime::board::{Board, BoardSize, StartMethod};
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

fn decode(m: &[u8]) -> u64 {
    u64::from_le_bytes(m.try_into().expect("8-byte message, never torn"))
}

/// A producer frozen after claiming a slot, then SIGKILLed: the consumer
/// skips the hole (counted as lost), every other message arrives once, in order.
fn producer_killed_mid_put(m: StartMethod) {
    let ctx = ctx(m);
    let q = Queue::create(ctx.board(), "q", 8, 16).unwrap();
    let mut frozen = start(&ctx, "frozen producer", vec![Work::StallInPut("q".into())]);
    wait_until(&format!("{m}: the frozen claim"), PATIENCE, || {
        match q.header().enqueue.load(Ordering::SeqCst) {
            1 => Ok(()),
            n => Err(format!("enqueue counter {n}")),
        }
    });
    frozen.kill();
    assert_eq!(frozen.join(Some(PATIENCE)), Some(-9));
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
    wait_until(&format!("{m}: the frozen get"), PATIENCE, || {
        match q.header().dequeue.load(Ordering::SeqCst) {
            1 => Ok(()),
            n => Err(format!("dequeue counter {n}")),
        }
    });
    frozen.kill();
    assert_eq!(frozen.join(Some(PATIENCE)), Some(-9));
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
    // Each try drains the queue until it stays empty for 200 ms, killing the
    // victim once 5 000 of its messages came; done when it is killed and
    // the survivor has ended (both producers then put nothing more).
    wait_until(&format!("{m}: the survivor's end"), PATIENCE, || {
        while let Ok(msg) = q.get(Some(Duration::from_millis(200))) {
            // PutMany sends Python ints as JSON: index * 1e6 + k.
            let v: mpdash::runtime::pyvalue::PyValue =
                serde_json::from_slice(&msg).expect("whole JSON message");
            let mpdash::runtime::pyvalue::PyValue::Int(v) = v else {
                panic!("{v:?}")
            };
            got.entry(v as u64 / 1_000_000)
                .or_default()
                .push(v as u64 % 1_000_000);
            if !killed && got.get(&1).is_some_and(|v| v.len() > 5_000) {
                victim.kill();
                assert_eq!(victim.join(Some(PATIENCE)), Some(-9), "{m}");
                killed = true;
            }
        }
        // is_alive() reaps the survivor when it has ended.
        if killed && !survivor.is_alive() {
            Ok(())
        } else {
            Err(format!(
                "victim killed: {killed}, survivor exit code {:?}, messages from each: {:?}",
                survivor.exitcode(),
                got.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>()
            ))
        }
    });
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

/// A lock holder SIGKILLed: the next acquirer gets it, told the owner died
/// (how soon is a figure for `mpdash bench`; printed here, not asserted).
fn lock_holder_killed(m: StartMethod) {
    let ctx = ctx(m);
    let lock = Lock::create(ctx.board(), "l", false).unwrap();
    let mut holder = start(
        &ctx,
        "holder",
        vec![Work::Acquire("l".into()), Work::SleepMs(60_000)],
    );
    let pid = holder.pid().unwrap().as_raw();
    wait_until(&format!("{m}: the holder"), PATIENCE, || {
        match lock.shared().holder_pid() {
            p if p == pid => Ok(()),
            p => Err(format!("holder pid {p}, not {pid}")),
        }
    });
    assert!(lock.try_acquire().is_err(), "{m}: held");
    let lock2 = lock.clone();
    let waiter = std::thread::spawn(move || {
        let r = lock2.acquire_raw(true, Some(PATIENCE));
        let at = Instant::now();
        if r.is_ok() {
            lock2.release().unwrap();
        }
        (r, at)
    });
    wait_until(
        &format!("{m}: the waiter, blocked"),
        PATIENCE,
        || match lock.shared().waiters.load(Ordering::SeqCst) {
            0 => Err("no waiter yet".to_string()),
            _ => Ok(()),
        },
    );
    let killed_at = Instant::now();
    holder.kill();
    let (r, got_at) = waiter.join().unwrap();
    assert_eq!(r, Ok(Acquired::PreviousOwnerDied { pid }), "{m}");
    assert_eq!(lock.shared().owner_died.load(Ordering::Relaxed), 1);
    drop(lock.acquire(Some(PATIENCE)).expect("usable again"));
    assert_eq!(holder.join(Some(PATIENCE)), Some(-9), "{m}");
    ctx.shutdown();
    eprintln!(
        "{m}: lock handed to the next acquirer {:?} after its holder was SIGKILLed",
        got_at - killed_at
    );
}

/// A party killed before it arrives: the others are told the barrier broke.
fn barrier_party_killed(m: StartMethod) {
    let ctx = ctx(m);
    let barrier = Barrier::create(ctx.board(), "b", 3).unwrap();
    let mut late = start(
        &ctx,
        "late",
        vec![Work::SleepMs(60_000), Work::BarrierWait("b".into())],
    );
    let mut waiters: Vec<Process> = (0..2)
        .map(|i| start(&ctx, &format!("w{i}"), vec![Work::BarrierWait("b".into())]))
        .collect();
    // Every party registered (late too: at its start), both waiters arrived.
    wait_until(
        &format!("{m}: two parties at the barrier"),
        PATIENCE,
        || {
            let s = barrier.shared();
            let registered = s
                .parties
                .iter()
                .filter(|p| p.load(Ordering::SeqCst) != 0)
                .count();
            let arrived = s.arrived.load(Ordering::SeqCst);
            if registered == 3 && arrived == 2 {
                Ok(())
            } else {
                Err(format!(
                    "{registered} parties registered, {arrived} arrived"
                ))
            }
        },
    );
    late.kill();
    for w in &mut waiters {
        assert_eq!(
            w.join(Some(PATIENCE)),
            Some(1),
            "{m}: a waiter ends with the broken-barrier error"
        );
    }
    assert_eq!(late.join(Some(PATIENCE)), Some(-9), "{m}");
    ctx.shutdown();
}

/// One test per case and start method, each named after both.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod fork {
            $(#[test]
            fn $case() {
                let _turn = super::serial();
                super::$case(super::StartMethod::Fork);
            })*
        }
        mod spawn {
            $(#[test]
            fn $case() {
                let _turn = super::serial();
                super::$case(super::StartMethod::Spawn);
            })*
        }
        mod forkserver {
            $(#[test]
            fn $case() {
                let _turn = super::serial();
                super::$case(super::StartMethod::Forkserver);
            })*
        }
    };
}

cases!(
    producer_killed_mid_put,
    consumer_killed_mid_get,
    producer_killed_under_load,
    lock_holder_killed,
    barrier_party_killed,
);

#[test]
fn every_start_method_is_covered() {
    assert_eq!(
        StartMethod::ALL,
        [
            StartMethod::Fork,
            StartMethod::Spawn,
            StartMethod::Forkserver
        ],
        "a new start method needs its module of cases above"
    );
}
