//! The scenario's main process (CPython's `__main__`): re-executed from the
//! dashboard as `mpdash __main SPEC`, single-threaded, in its own process
//! group. It runs the scenario's `[main]` steps with the runtime.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::{MainStep, Scenario};
use crate::runtime::board::{Board, StartMethod};
use crate::runtime::pool::{Pool, Task};
use crate::runtime::process::{BOARD_FD, Context, Process, Target, set_comm};
use crate::runtime::sys;
use crate::runtime::work::{self, WorkCtx, say};

/// argv[1] of the scenario main process.
pub const MAIN_ARG: &str = "__main";

/// What the dashboard hands the main process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MainSpec {
    pub scenario: Scenario,
    pub method: StartMethod,
    /// Its own slot on the board.
    pub slot: u32,
    /// The dashboard's pid: leave at once if the parent is already someone else.
    pub parent: i32,
}

/// Entry point, called first thing in `main` with the time of the first instruction.
pub fn entry(t_first: u64, spec_json: &str) -> i32 {
    let spec: MainSpec = match serde_json::from_str(spec_json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mpdash: bad main spec: {e}");
            return 70;
        }
    };
    if nix::unistd::getppid().as_raw() != spec.parent {
        return 1;
    }
    // SAFETY: the dashboard placed the board at BOARD_FD before exec; nothing
    // else in this process owns it.
    let board = match Board::open(unsafe { sys::adopt_fd(BOARD_FD) }) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("mpdash: scenario main: cannot map the board: {e}");
            return 70;
        }
    };
    let Some(slot) = board.proc(spec.slot) else {
        return 70;
    };
    sys::set_my_slot(spec.slot);
    slot.record_start(t_first, spec.parent);
    set_comm("scenario main");
    slot.record_ready();
    let ctx = Context::new(board.clone(), spec.method);
    let code = match run(&ctx, &spec.scenario) {
        Ok(()) => 0,
        Err(e) => {
            say(&format!("error: {e}"));
            1
        }
    };
    ctx.shutdown();
    code
}

fn run(ctx: &Context, sc: &Scenario) -> anyhow::Result<()> {
    let mut procs: HashMap<&str, Process> = HashMap::new();
    let wctx = WorkCtx {
        module_name: "__main__",
    };
    let mut keep = Vec::new();
    for step in &sc.main {
        match step {
            MainStep::Work(w) => work::run(wctx, std::slice::from_ref(w), &mut keep),
            MainStep::Start(name) => {
                let spec = sc
                    .processes
                    .iter()
                    .find(|p| &p.name == name)
                    .ok_or_else(|| anyhow::anyhow!("no process {name:?}"))?;
                let mut p = Process::new(ctx, name, Target::Work(spec.steps.clone()));
                p.daemon = spec.daemon;
                p.start()?;
                procs.insert(name.as_str(), p);
            }
            MainStep::Join(name) => {
                if let Some(p) = procs.get_mut(name.as_str()) {
                    p.join(None);
                }
            }
            MainStep::Status(name) => match procs.get_mut(name.as_str()) {
                Some(p) => say(&p.repr()),
                None => say(&format!(
                    "<Process name='{name}' parent={} initial>",
                    nix::unistd::getpid()
                )),
            },
            MainStep::Terminate(name) => {
                if let Some(p) = procs.get(name.as_str()) {
                    p.terminate();
                }
            }
            MainStep::Kill(name) => {
                if let Some(p) = procs.get(name.as_str()) {
                    p.kill();
                }
            }
            MainStep::PoolMap => pool_map(ctx, sc)?,
        }
    }
    // As CPython does at exit: join the non-daemonic children, kill the daemons.
    for p in procs.values_mut() {
        if p.daemon {
            p.kill();
        }
        p.join(None);
    }
    Ok(())
}

fn pool_map(ctx: &Context, sc: &Scenario) -> anyhow::Result<()> {
    let task = sc
        .task
        .ok_or_else(|| anyhow::anyhow!("pool_map without a [task]"))?;
    let n = sc.pool.workers;
    let mut pool = Pool::new(ctx, "pool", n)?;
    say(&format!(
        "Pool({n}).map(primes, {} chunks of [0, {}), chunksize={}) with {}",
        task.chunks,
        task.below,
        sc.pool.chunksize,
        ctx.method()
    ));
    let results = pool.map(
        Task::primes_chunks(task.below, task.chunks),
        sc.pool.chunksize,
    );
    let per_worker: Vec<String> = pool
        .workers()
        .iter()
        .filter_map(|w| {
            let slot = ctx.board().proc(w.slot()?)?;
            Some(format!(
                "{}: {}",
                w.name(),
                slot.tasks_done.load(Ordering::Relaxed)
            ))
        })
        .collect();
    pool.close();
    let results = results?;
    let total: u64 = results.iter().map(|r| r.value).sum();
    say(&format!("primes below {}: {total}", task.below));
    say(&format!("tasks per worker: {}", per_worker.join(", ")));
    Ok(())
}
