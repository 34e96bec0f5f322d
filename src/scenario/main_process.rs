//! The scenario's main process (CPython's `__main__`): re-executed from the
//! dashboard as `mpdash __main SPEC`, single-threaded, in its own process
//! group. It runs the scenario's `[main]` steps with the runtime.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use std::os::fd::{AsFd, OwnedFd};

use super::{MainStep, ResourceSpec, Scenario};
use crate::runtime::board::Role;
use crate::runtime::board::{Board, StartMethod};
use crate::runtime::env::Env;
use crate::runtime::pipe::Connection;
use crate::runtime::pool::{Pool, Task};
use crate::runtime::process::{BOARD_FD, Context, Process, Target, set_comm};
use crate::runtime::queue::Queue;
use crate::runtime::shared_value::SharedArray;
use crate::runtime::sync::{Barrier, Event, Lock, Semaphore};
use crate::runtime::sys;
use crate::runtime::work::{self, say};

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
    /// Measure the scenario's `[scaling]` instead of running `[main]`.
    #[serde(default)]
    pub scale: bool,
}

/// Prefix of the lines a scaling run prints, one JSON point each.
pub const SCALE_POINT: &str = "scale point: ";

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
    let result = if spec.scale {
        scale(&ctx, &spec.scenario)
    } else {
        run(&ctx, &spec.scenario)
    };
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            say(&format!("error: {e}"));
            1
        }
    };
    ctx.shutdown();
    code
}

/// Creates the scenario's resources on the board. Returns the pipes' second
/// ends, which the children get; the main process keeps the first ends in `env`.
fn create_resources(
    ctx: &Context,
    sc: &Scenario,
    env: &mut Env,
) -> anyhow::Result<Vec<(String, OwnedFd)>> {
    let board = ctx.board();
    let mut child_ends = Vec::new();
    for r in &sc.resources {
        match r {
            ResourceSpec::Queue {
                name,
                capacity,
                max_message,
                joinable,
            } => {
                if *joinable {
                    Queue::create_joinable(board, name, *capacity, *max_message)?;
                } else {
                    Queue::create(board, name, *capacity, *max_message)?;
                }
            }
            ResourceSpec::Pipe { name, duplex } => {
                let (a, b) = Connection::pair_on_board(board, name, *duplex)?;
                env.add_conn(name.clone(), a);
                child_ends.push((name.clone(), OwnedFd::from(b)));
            }
            ResourceSpec::Lock { name, recursive } => {
                Lock::create(board, name, *recursive)?;
            }
            ResourceSpec::Semaphore {
                name,
                value,
                bounded,
            } => {
                Semaphore::create(board, name, *value, *bounded)?;
            }
            ResourceSpec::Event { name } => {
                Event::create(board, name)?;
            }
            ResourceSpec::Barrier { name, parties } => {
                Barrier::create(board, name, *parties)?;
            }
            ResourceSpec::Array {
                name,
                typecode,
                init,
                lock,
                is_value,
            } => {
                SharedArray::create_kind(board, name, *typecode, init, *lock, *is_value)?;
            }
        }
    }
    Ok(child_ends)
}

fn run(ctx: &Context, sc: &Scenario) -> anyhow::Result<()> {
    let mut env = Env::new(ctx.board().clone(), "__main__", 0);
    let child_ends = create_resources(ctx, sc, &mut env)?;
    let mut groups: HashMap<&str, Vec<Process>> = HashMap::new();
    for step in &sc.main {
        match step {
            MainStep::Work(w) => {
                work::run(&mut env, std::slice::from_ref(w)).map_err(anyhow::Error::msg)?
            }
            MainStep::Start(name) => {
                let spec = sc
                    .processes
                    .iter()
                    .find(|p| &p.name == name)
                    .ok_or_else(|| anyhow::anyhow!("no process {name:?}"))?;
                let mut started = Vec::new();
                for (i, instance) in spec.instance_names().iter().enumerate() {
                    let mut p = Process::new(ctx, instance, Target::Work(spec.steps.clone()))
                        .with_role(Role::Process, i as u32);
                    for (pipe, fd) in &child_ends {
                        p = p.pass_fd(pipe, fd.as_fd());
                    }
                    p.daemon = spec.daemon;
                    p.start()?;
                    started.push(p);
                }
                groups.insert(name.as_str(), started);
            }
            MainStep::Join(name) => {
                for p in groups.get_mut(name.as_str()).into_iter().flatten() {
                    p.join(None);
                }
            }
            MainStep::Status(name) => match groups.get_mut(name.as_str()) {
                Some(ps) => ps.iter_mut().for_each(|p| say(&p.repr())),
                None => say(&format!(
                    "<Process name='{name}' parent={} initial>",
                    nix::unistd::getpid()
                )),
            },
            MainStep::Terminate(name) => groups
                .get(name.as_str())
                .into_iter()
                .flatten()
                .for_each(Process::terminate),
            MainStep::Kill(name) => groups
                .get(name.as_str())
                .into_iter()
                .flatten()
                .for_each(Process::kill),
            MainStep::PoolMap => pool_map(ctx, sc)?,
        }
    }
    // As CPython does at exit: join the non-daemonic children, kill the daemons.
    for p in groups.values_mut().flatten() {
        if p.daemon {
            p.kill();
        }
        p.join(None);
    }
    Ok(())
}

/// The scaling measurement, its worker processes on the run's board.
fn scale(ctx: &Context, sc: &Scenario) -> anyhow::Result<()> {
    let spec = sc
        .scaling
        .ok_or_else(|| anyhow::anyhow!("this scenario has no [scaling] table"))?;
    crate::scaling::measure(&spec, &crate::scaling::Mode::available(), Some(ctx), |p| {
        say(&format!(
            "{SCALE_POINT}{}",
            serde_json::to_string(p).unwrap_or_default()
        ));
    })?;
    Ok(())
}

fn pool_map(ctx: &Context, sc: &Scenario) -> anyhow::Result<()> {
    let task = sc
        .task
        .ok_or_else(|| anyhow::anyhow!("pool_map without a [task]"))?;
    let n = sc.pool.workers;
    let mut pool = Pool::new(ctx, "pool", n)?;
    pool.on_event(say);
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
