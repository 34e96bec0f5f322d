//! The scenario's main process (CPython's `__main__`): re-executed from the
//! dashboard as `mpdash __main SPEC`, single-threaded, in its own process
//! group. It runs the scenario's `[main]` steps with the runtime.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use std::os::fd::{AsFd, OwnedFd};

use super::{MainStep, PoolCallKind, PoolCallSpec, ResourceSpec, Scenario};
use crate::runtime::board::Role;
use crate::runtime::board::{Board, StartMethod};
use crate::runtime::manager::Manager;
use crate::runtime::pipe::Connection;
use crate::runtime::pool::{Callbacks, Items, Pool, TaskError};
use crate::runtime::process::{BOARD_FD, Context, EXIT_SOFTWARE, EXTRA_FD, Process, set_comm};
use crate::runtime::queue::Queue;
use crate::runtime::shared_value::SharedArray;
use crate::runtime::sync::{Barrier, Event, Lock, Semaphore};
use crate::runtime::sys;
use crate::scenario::steps::Env;
use crate::scenario::steps::{self as work, say};

/// argv[1] of the scenario main process.
pub const MAIN_ARG: &str = "__main";
/// argv[2] when the spec waits at [`EXTRA_FD`] rather than in argv.
pub const SPEC_ON_FD: &str = "@fd";

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
pub fn entry(t_first: u64, spec_arg: &str) -> i32 {
    // The dashboard placed the spec's memfd at EXTRA_FD before exec.
    let spec_json = match sys::inherited_spec_text(spec_arg, SPEC_ON_FD, EXTRA_FD) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mpdash: cannot read the main spec: {e}");
            return EXIT_SOFTWARE;
        }
    };
    let spec: MainSpec = match serde_json::from_str(&spec_json) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mpdash: bad main spec: {e}");
            return EXIT_SOFTWARE;
        }
    };
    if nix::unistd::getppid().as_raw() != spec.parent {
        return 1;
    }
    // The dashboard placed the board at BOARD_FD before exec.
    let inherited = sys::take_inherited(BOARD_FD).ok_or(crate::runtime::board::BoardError::Layout);
    let board = match inherited.and_then(Board::open) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("mpdash: scenario main: cannot map the board: {e}");
            return EXIT_SOFTWARE;
        }
    };
    let Some(slot) = board.proc(spec.slot) else {
        return EXIT_SOFTWARE;
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

/// Pipe ends for the children, by pipe name.
type ChildEnds = Vec<(String, OwnedFd)>;

/// Creates the scenario's resources on the board. Returns the pipes' second
/// ends, which the children get; the main process keeps the first ends in `env`.
fn create_resources(
    ctx: &Context,
    sc: &Scenario,
    env: &mut Env,
) -> anyhow::Result<(ChildEnds, Option<Manager>)> {
    let board = ctx.board();
    let mut child_ends = Vec::new();
    let mut manager = None;
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
            ResourceSpec::Manager {
                name,
                tcp,
                authkey,
                objects,
            } => {
                let key = authkey.as_deref().map(str::as_bytes);
                let m = Manager::start_with_key(ctx, name, tcp.as_deref(), key)?;
                if let Some(a) = m.tcp_address() {
                    let how = if key.is_some() {
                        "the scenario's authkey"
                    } else {
                        "a random authkey: set authkey in [manager] for other hosts"
                    };
                    say(&format!(
                        "manager listening on tcp {a} (and a Unix socket), {how}; try: mpdash client {a} --authkey KEY d __repr__"
                    ));
                }
                let mut client = m.connect()?;
                for (obj, kind, init) in objects {
                    client.create(*kind, obj, init.clone())?;
                }
                manager = Some(m);
            }
        }
    }
    Ok((child_ends, manager))
}

fn run(ctx: &Context, sc: &Scenario) -> anyhow::Result<()> {
    let mut env = Env::new(ctx.board().clone(), "__main__", 0);
    let (child_ends, manager) = create_resources(ctx, sc, &mut env)?;
    let mut groups: HashMap<&str, Vec<Process>> = HashMap::new();
    let mut pool: Option<Pool> = None;
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
                    let mut p = Process::new(ctx, instance, work::target(spec.steps.clone()))
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
            MainStep::PoolMap => pool_map(the_pool(&mut pool, ctx, sc)?, ctx, sc)?,
            MainStep::Pool(call) => pool_call(the_pool(&mut pool, ctx, sc)?, call)?,
        }
    }
    if let Some(mut p) = pool {
        // `pool.close(); pool.join()`: waits for the async calls, whose
        // callbacks print as their results come in.
        p.close();
        p.join()?;
    }
    // As CPython does at exit: join the non-daemonic children, kill the daemons.
    for p in groups.values_mut().flatten() {
        if p.daemon {
            p.kill();
        }
        p.join(None);
    }
    drop(env);
    if let Some(mut m) = manager {
        m.shutdown();
    }
    Ok(())
}

/// The scaling measurement, its worker processes on the run's board.
fn scale(ctx: &Context, sc: &Scenario) -> anyhow::Result<()> {
    use crate::scenario::scaling::{Curve, cpython};
    let spec = sc
        .scaling
        .clone()
        .ok_or_else(|| anyhow::anyhow!("this scenario has no [scaling] table"))?;
    let pythons = cpython::pythons(&spec.pythons)?;
    crate::scenario::scaling::measure(&spec, &Curve::all(&pythons), Some(ctx), |p| {
        say(&format!(
            "{SCALE_POINT}{}",
            serde_json::to_string(p).unwrap_or_default()
        ));
    })?;
    Ok(())
}

/// The scenario's pool, started on its first use.
fn the_pool<'a>(
    pool: &'a mut Option<Pool>,
    ctx: &Context,
    sc: &Scenario,
) -> anyhow::Result<&'a mut Pool> {
    if pool.is_none() {
        let mut p = Pool::new(ctx, "pool", sc.pool.options())?;
        p.on_event(say);
        *pool = Some(p);
    }
    Ok(pool.as_mut().expect("just made"))
}

fn pool_map(pool: &mut Pool, ctx: &Context, sc: &Scenario) -> anyhow::Result<()> {
    let task = sc
        .task
        .ok_or_else(|| anyhow::anyhow!("pool_map without a [task]"))?;
    let n = pool.workers().len();
    let items = Items::ranges(task.below, task.chunks);
    let chunksize = sc
        .pool
        .chunksize
        .unwrap_or_else(|| crate::runtime::pool::default_chunksize(items.len(), n));
    say(&format!(
        "Pool({n}).map(primes, {} chunks of [0, {}), chunksize={chunksize}) with {}",
        task.chunks,
        task.below,
        ctx.method()
    ));
    let counts = pool.map(&crate::scenario::builtins::PRIMES, items, Some(chunksize))?;
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
    let total: i128 = counts.iter().map(|&c| i128::from(c)).sum();
    say(&format!("primes below {}: {total}", task.below));
    say(&format!("tasks per worker: {}", per_worker.join(", ")));
    Ok(())
}

/// Prints a list of results as Python would, or a summary when it is long.
fn show_list(values: &[i64]) -> String {
    if values.len() <= 20 {
        let v: Vec<String> = values.iter().map(i64::to_string).collect();
        format!("[{}]", v.join(", "))
    } else {
        format!(
            "{} results, sum {}",
            values.len(),
            // Exact, as Python's int: 10⁷ squares sum past 2⁶³.
            values.iter().map(|&v| i128::from(v)).sum::<i128>()
        )
    }
}

/// One `pool` step: the call, printed as Python would write it, then its results.
fn pool_call(pool: &mut Pool, c: &PoolCallSpec) -> anyhow::Result<()> {
    let name = c.call.name();
    let f = c.func.name();
    let what = |i: usize| c.items.call_text(c.func.function(), i);
    let items = c.items.clone();
    let label = match &c.items {
        Items::Range { start, step, n } => {
            format!("range({start}, {}, {step})", start + step * *n as i64)
        }
        i if i.len() <= 8 => {
            let all: Vec<String> = (0..i.len()).map(|k| i.show(k)).collect();
            format!("[{}]", all.join(", "))
        }
        i => format!("{} items", i.len()),
    };
    let chunk = c
        .chunksize
        .map(|n| format!(", chunksize={n}"))
        .unwrap_or_default();
    match c.call {
        PoolCallKind::Map | PoolCallKind::Starmap => {
            say(&format!("pool.{name}({f}, {label}{chunk})"));
            match pool.map(c.func.function(), items, c.chunksize) {
                Ok(v) => say(&format!("  -> {}", show_list(&v))),
                Err(e) => say(&format!("  raised {e}")),
            }
        }
        PoolCallKind::MapAsync | PoolCallKind::StarmapAsync => {
            say(&format!(
                "pool.{name}({f}, {label}{chunk}, callback, error_callback)"
            ));
            let tag = format!("{name}({f}, {label})");
            let tag2 = tag.clone();
            pool.map_async(
                c.func.function(),
                items,
                c.chunksize,
                Callbacks {
                    callback: Some(Box::new(move |v| {
                        say(&format!("callback {tag}: {}", show_list(v)))
                    })),
                    error_callback: Some(Box::new(move |e| {
                        say(&format!("error_callback {tag2}: {e}"))
                    })),
                },
            )?;
        }
        PoolCallKind::Imap | PoolCallKind::ImapUnordered => {
            say(&format!("pool.{name}({f}, {label}{chunk}):"));
            let chunksize = c.chunksize.unwrap_or(1);
            let it = if c.call == PoolCallKind::Imap {
                pool.imap(c.func.function(), items, chunksize)?
            } else {
                pool.imap_unordered(c.func.function(), items, chunksize)?
            };
            for r in it {
                let (i, outcome) = r?;
                match outcome {
                    Ok(v) => say(&format!("  {} = {v}", what(i))),
                    Err(e) => say(&format!("  {} raised {e}", what(i))),
                }
            }
        }
        PoolCallKind::Apply => {
            let args = what(0);
            match pool.apply(c.func.function(), &args_of(&c.items)) {
                Ok(v) => say(&format!("pool.apply({args}) = {v}")),
                Err(e) => say(&format!("pool.apply({args}) raised {e}")),
            }
        }
        PoolCallKind::ApplyAsync => {
            let call = what(0);
            say(&format!(
                "pool.apply_async({call}, callback, error_callback)"
            ));
            let call2 = call.clone();
            pool.apply_async(
                c.func.function(),
                &args_of(&c.items),
                Callbacks {
                    callback: Some(Box::new(move |v| {
                        say(&format!("callback {call}: {}", v[0]))
                    })),
                    error_callback: Some(Box::new(move |e: &TaskError| {
                        say(&format!("error_callback {call2}: {e}"))
                    })),
                },
            )?;
        }
    }
    Ok(())
}

fn args_of(items: &Items) -> Vec<i64> {
    match items {
        Items::List { flat, .. } => flat.clone(),
        Items::Range { start, .. } => vec![*start],
    }
}
