//! mpdash's runtime used as a library — a Rust `multiprocessing` — with
//! functions of its own: a Pool maps `collatz` under fork, spawn and
//! forkserver, and two producer processes put numbers on a Queue, taking a
//! Lock around a shared total. It checks every result itself and exits 0.
//!
//! `cargo run --release --example library`

use std::time::Duration;

use mpdash::runtime::board::StartMethod;
use mpdash::runtime::plan::BoardPlan;
use mpdash::runtime::pool::{Items, Pool, PoolOptions};
use mpdash::runtime::process::{Context, Process};
use mpdash::runtime::queue::Queue;
use mpdash::runtime::registry::{Child, Function, Raised, Registry, Target};
use mpdash::runtime::shared_value::{Num, SharedArray, TypeCode};
use mpdash::runtime::sync::Lock;

/// Steps of the Collatz sequence from `n` down to 1.
fn collatz(args: &[i64]) -> Result<i64, Raised> {
    let (mut n, mut steps) = (args[0], 0);
    if n < 1 {
        return Err(Raised::new(format!("ValueError: collatz({n})")));
    }
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    Ok(steps)
}

static COLLATZ: Function = Function {
    name: "collatz",
    signature: "collatz(n)",
    arity: 1,
    call: collatz,
};

/// A producer process: puts its numbers on the queue, adding each to the
/// shared total under the lock. Its argument: (queue, lock, total, first).
fn producer(child: Child<'_>, arg: &serde_json::Value) -> i32 {
    let Ok((q, lock, total, first)) =
        serde_json::from_value::<(usize, usize, usize, i64)>(arg.clone())
    else {
        return 65;
    };
    let (Ok(q), Ok(lock), Ok(total)) = (
        Queue::attach(child.board, q),
        Lock::attach(child.board, lock),
        SharedArray::attach(child.board, total),
    ) else {
        return 70;
    };
    for n in first..first + 100 {
        let Ok(_held) = lock.acquire(None) else {
            return 1;
        };
        let Some(sum) = total.get(0).checked_add(Num::Int(n)) else {
            return 1;
        };
        if total.set(0, sum).is_err() {
            return 1;
        }
        drop(_held);
        if q.put(&n.to_le_bytes(), Some(Duration::from_secs(5)))
            .is_err()
        {
            return 1;
        }
    }
    0
}

fn main() {
    // First thing: a spawned child becomes its entry point here.
    mpdash::runtime::init(
        Registry::new()
            .function(&COLLATZ)
            .entry("producer", producer),
    );
    for method in StartMethod::ALL {
        // The board holds what the run will make: the plan sizes it.
        let board = BoardPlan::new()
            .pool(2)
            .processes(2)
            .queue(64, 8)
            .lock()
            .array(1, false)
            .create()
            .expect("board");
        let ctx = Context::new(board.clone(), method);

        let mut pool = Pool::new(&ctx, "pool", PoolOptions::with_workers(2)).expect("pool");
        let steps = pool
            .map(&COLLATZ, Items::range(1, 1001, 1), None)
            .expect("map");
        let expected: Vec<i64> = (1..=1000).map(|n| collatz(&[n]).unwrap()).collect();
        assert_eq!(steps, expected, "{method}: pool results");
        pool.close();
        pool.join().expect("join the pool");

        let q = Queue::create(&board, "numbers", 64, 8).expect("queue");
        let lock = Lock::create(&board, "total lock", false).expect("lock");
        let total = SharedArray::create(&board, "total", TypeCode::SQ, &[Num::Int(0)], false)
            .expect("value");
        let total_offset = total.offset();
        let mut producers: Vec<Process> = [0i64, 1000]
            .into_iter()
            .map(|first| {
                let arg = (q.offset(), lock.offset(), total_offset, first);
                let mut p = Process::new(
                    &ctx,
                    &format!("producer {first}"),
                    Target::new("producer", arg),
                );
                p.start().expect("start a producer");
                p
            })
            .collect();
        let mut sum = 0i64;
        for _ in 0..200 {
            let msg = q.get(Some(Duration::from_secs(10))).expect("a number");
            sum += i64::from_le_bytes(msg.try_into().expect("8 bytes"));
        }
        for p in &mut producers {
            assert_eq!(p.join(None), Some(0), "{method}: {} exit", p.name());
        }
        let want = (0..100).sum::<i64>() + (1000..1100).sum::<i64>();
        assert_eq!(sum, want, "{method}: every number once");
        assert_eq!(
            total.get(0),
            Num::Int(want),
            "{method}: no lost update under the lock"
        );
        ctx.shutdown();
        println!("{method}: pool mapped 1000 tasks, the queue carried 200 numbers, total {want}");
    }
}
