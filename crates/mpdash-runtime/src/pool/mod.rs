//! `Pool`: N worker processes fed through a task queue in the board, with
//! results coming back on a second queue (CPython's design, without the
//! feeder and handler threads: the process that owns the pool drives it
//! whenever it calls into it).
//!
//! The whole of CPython's API: `map`, `map_async`, `imap`, `imap_unordered`,
//! `starmap`, `starmap_async`, `apply`, `apply_async` (with callback and error
//! callback), CPython's default `chunksize`, `maxtasksperchild`, `initializer`,
//! `close`, `terminate`, `join`. A pool maps the caller's own
//! [`Function`]s (registered with [`crate::init`], so spawned workers
//! find them by name); a task whose function fails gets that error as its
//! result and the pool lives on.
//!
//! Each worker writes the id of the task it runs on its own board slot before
//! running it, so the dashboard shows the in-flight task per worker, and when
//! a worker dies the pool knows which task died with it: it starts a
//! replacement and runs the lost task again ([`OnDeath::Retry`], up to
//! `retries` times) or fails it ([`OnDeath::Fail`]). `map` never hangs.
//!
//! ```no_run
//! # use mpdash_runtime::{board::*, process::Context, pool::*, registry::*};
//! # fn count(a: &[i64]) -> Result<i64, Raised> { Ok(a[1] - a[0]) }
//! # static COUNT: Function = Function { name: "count", signature: "count(lo, hi)", arity: 2, call: count };
//! mpdash_runtime::init(Registry::new().function(&COUNT));
//! let ctx = Context::new(Board::create(BoardSize::default()).unwrap(), StartMethod::Fork);
//! let mut pool = Pool::new(&ctx, "pool", PoolOptions::with_workers(2)).unwrap();
//! let counts = pool.map(&COUNT, Items::ranges(1_000, 4), Some(1)).unwrap();
//! assert_eq!(counts.iter().sum::<i64>(), 1_000);
//! pool.close();
//! pool.join().unwrap();
//! ```

mod items;
mod results;
mod scheduler;
mod wire;
mod worker;

pub use items::{Items, default_chunksize};
pub use results::Imap;
pub use wire::MSG_MAX;
pub use worker::{WORKER_ENTRY, worker_entry};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::board::{Board, BoardError, ResKind, Role};
use super::process::{Context, Process, ProcessError};
use super::queue::{Queue, QueueError};
use super::registry::{Function, Target, registry};

/// Pool resource counters (`ResSlot::stats`).
pub const STAT_TOTAL: usize = 0;
pub const STAT_DONE: usize = 1;
pub const STAT_WORKERS: usize = 2;
pub const STAT_RESULTS_QUEUE: usize = 3;
/// Tasks lost with a worker that died running them.
pub const STAT_LOST: usize = 4;
/// Tasks run again after such a loss.
pub const STAT_RETRIED: usize = 5;
/// Workers started to replace ones that died or retired (`maxtasksperchild`).
pub const STAT_REPLACED: usize = 6;
/// Tasks whose result is an error.
pub const STAT_FAILED: usize = 7;

/// How many times a task lost with a dead worker is run again before it fails.
pub const DEFAULT_RETRIES: u32 = 3;
/// Exit status of a worker whose initializer failed.
pub const EXIT_INIT_FAILED: i32 = 3;
/// How often the pool looks for dead workers while it waits.
const CHECK_EVERY: Duration = Duration::from_millis(50);
/// Idle polls (of [`CHECK_EVERY`]) before results still missing are sent again.
const VANISHED_POLLS: u32 = 20;

/// Why a task has no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The function raised (for example `ValueError: fail(7)`).
    #[error("{0}")]
    Raised(String),
    /// The worker running it died, and the pool gave up on it.
    #[error("{0}")]
    WorkerDied(String),
    #[error("the pool was terminated before this task ran")]
    Terminated,
}

/// A task's result.
pub type Outcome = Result<i64, TaskError>;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("{0}")]
    Board(#[from] BoardError),
    #[error("{0}")]
    Process(#[from] ProcessError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    #[error("a worker sent a malformed result message")]
    BadResult,
    #[error("task {index} ({call}) failed: {error}")]
    Task {
        index: usize,
        call: String,
        error: TaskError,
    },
    #[error("{0} is not registered: add it to the Registry given to runtime::init")]
    Unregistered(&'static str),
    #[error("{func} takes {want} argument(s), but the items have {got}")]
    Arity {
        func: &'static str,
        want: usize,
        got: usize,
    },
    #[error("Pool not running (closed or terminated)")]
    Closed,
    #[error("Pool is still running: close() it before join()")]
    StillRunning,
    #[error("a worker's initializer failed (exit status {0}); the pool cannot start workers")]
    Initializer(i32),
    #[error("timed out")]
    Timeout,
    #[error("no such job")]
    NoJob,
}

/// What to do with the task a worker was running when it died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDeath {
    /// Run it again on another worker, at most `retries` times, then fail it.
    #[default]
    Retry,
    /// Make its result an error at once.
    Fail,
}

/// How a pool is made (CPython's `Pool(processes, initializer, initargs, maxtasksperchild)`).
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub processes: usize,
    /// Batches (CPython: tasks) a worker runs before it exits and is replaced; 0: no limit.
    pub maxtasksperchild: u64,
    pub initializer: Option<(&'static Function, Vec<i64>)>,
    pub on_worker_death: OnDeath,
    pub retries: u32,
}

impl PoolOptions {
    pub fn with_workers(n: usize) -> PoolOptions {
        PoolOptions {
            processes: n.max(1),
            maxtasksperchild: 0,
            initializer: None,
            on_worker_death: OnDeath::Retry,
            retries: DEFAULT_RETRIES,
        }
    }
}

/// What a pool worker process is told (it travels in the spawn spec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerConfig {
    pub tasks: usize,
    pub results: usize,
    #[serde(default)]
    pub maxtasks: u64,
    /// The initializer's registered name and arguments.
    #[serde(default)]
    pub initializer: Option<(String, Vec<i64>)>,
}

/// A submitted job (what CPython's `AsyncResult` refers to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(u64);

type Callback = Box<dyn FnMut(&[i64])>;
type ErrorCallback = Box<dyn FnMut(&TaskError)>;

/// `callback` and `error_callback` of the `*_async` calls. They run in the
/// pool's owner process, when it next waits on the pool (CPython runs them on
/// its result-handler thread).
#[derive(Default)]
pub struct Callbacks {
    pub callback: Option<Callback>,
    pub error_callback: Option<ErrorCallback>,
}

struct Job {
    func: &'static Function,
    /// The function's number in the registry, as it travels.
    code: u16,
    items: Items,
    chunk: usize,
    /// The next task not yet sent.
    next_send: usize,
    results: Vec<Option<Outcome>>,
    done: usize,
    /// Task indices in the order their results came (for `imap_unordered`).
    arrived: VecDeque<usize>,
    callbacks: Callbacks,
}

impl Job {
    fn complete(&self) -> bool {
        self.done == self.results.len()
    }
}

/// A batch of consecutive tasks out on the queue.
#[derive(Debug, Clone, Copy)]
struct Sent {
    count: u64,
    left: u64,
}

/// Where the pool reports what it does about dead workers.
type EventSink = Box<dyn FnMut(&str)>;

/// A pool of worker processes.
pub struct Pool {
    ctx: Context,
    board: Board,
    res: u32,
    tasks: Queue,
    results: Queue,
    opts: PoolOptions,
    workers: Vec<Process>,
    /// Workers that died or retired, kept so they are reaped.
    gone: Vec<Process>,
    /// Jobs by the global id of their first task.
    jobs: BTreeMap<u64, Job>,
    next_id: u64,
    /// Batches on the queue or in a worker, by their first global task id.
    sent: BTreeMap<u64, Sent>,
    /// Runs of tasks to send again (first global id, count).
    resend: VecDeque<(u64, u64)>,
    /// How often each task died with its worker.
    deaths: HashMap<u64, u32>,
    idle_polls: u32,
    last_check: Instant,
    closed: bool,
    terminated: bool,
    on_event: Option<EventSink>,
    buf: Vec<u8>,
}

impl Pool {
    /// Starts the workers with the context's start method.
    pub fn new(ctx: &Context, name: &str, opts: PoolOptions) -> Result<Pool, PoolError> {
        let board = ctx.board().clone();
        let n = opts.processes.max(1);
        let cap = Pool::queue_capacity(n);
        let tasks = Queue::create(&board, &format!("{name} tasks"), cap, MSG_MAX)?;
        let results = Queue::create(&board, &format!("{name} results"), cap, MSG_MAX)?;
        let res = board.new_res(ResKind::Pool, name, tasks.offset(), 0)?;
        let slot = board.res(res).ok_or(BoardError::Layout)?;
        slot.stats[STAT_WORKERS].store(n as u64, Ordering::Relaxed);
        slot.stats[STAT_RESULTS_QUEUE].store(results.offset() as u64, Ordering::Relaxed);
        let mut pool = Pool {
            ctx: ctx.clone(),
            board,
            res,
            tasks,
            results,
            opts: PoolOptions {
                processes: n,
                ..opts
            },
            workers: Vec::with_capacity(n),
            gone: Vec::new(),
            jobs: BTreeMap::new(),
            next_id: 0,
            sent: BTreeMap::new(),
            resend: VecDeque::new(),
            deaths: HashMap::new(),
            idle_polls: 0,
            last_check: Instant::now(),
            closed: false,
            terminated: false,
            on_event: None,
            buf: Vec::with_capacity(MSG_MAX),
        };
        for i in 1..=n {
            let w = pool.start_worker(i as u32, None)?;
            pool.workers.push(w);
        }
        Ok(pool)
    }

    /// Messages each of the pool's two queues holds.
    /// The name of the worker that replaces `old`: `pool worker 1 #2`, then
    /// `#3`…, so a replacement is never taken for the worker that died.
    pub fn successor_name(old: &str) -> String {
        match old.rsplit_once(" #") {
            Some((base, n)) if n.parse::<u32>().is_ok() => {
                format!(
                    "{base} #{}",
                    n.parse::<u32>().unwrap_or(1).saturating_add(1)
                )
            }
            _ => format!("{old} #2"),
        }
    }

    pub fn queue_capacity(workers: usize) -> usize {
        (4 * workers).max(64)
    }

    /// Board arena bytes a pool of `workers` needs.
    pub fn footprint(workers: usize) -> usize {
        2 * Queue::footprint(Pool::queue_capacity(workers), MSG_MAX) + 256
    }

    /// Starts worker `index` (from 1); `name` defaults to `pool worker N`.
    fn start_worker(&self, index: u32, name: Option<String>) -> Result<Process, PoolError> {
        let cfg = WorkerConfig {
            tasks: self.tasks.offset(),
            results: self.results.offset(),
            maxtasks: self.opts.maxtasksperchild,
            initializer: (self.opts.initializer.as_ref())
                .map(|(f, a)| (f.name.to_string(), a.clone())),
        };
        let target = Target::new(WORKER_ENTRY, cfg);
        let name = name.unwrap_or_else(|| format!("pool worker {index}"));
        let mut p = Process::new(&self.ctx, &name, target).with_role(Role::PoolWorker, index);
        p.start()?;
        Ok(p)
    }

    /// Tells `f` what the pool does about dead and retired workers, as it happens.
    pub fn on_event(&mut self, f: impl FnMut(&str) + 'static) {
        self.on_event = Some(Box::new(f));
    }

    fn event(&mut self, msg: &str) {
        if let Some(f) = self.on_event.as_mut() {
            f(msg);
        }
    }

    pub fn workers(&self) -> &[Process] {
        &self.workers
    }

    pub fn options(&self) -> &PoolOptions {
        &self.opts
    }

    fn stat(&self, i: usize) -> &AtomicU64 {
        &self.board.res(self.res).expect("registered").stats[i]
    }

    // ---- submitting -------------------------------------------------------

    /// Queues a job; its tasks go out as the task queue has room.
    fn submit(
        &mut self,
        func: &'static Function,
        items: Items,
        chunk: usize,
        callbacks: Callbacks,
    ) -> Result<JobId, PoolError> {
        if self.closed || self.terminated {
            return Err(PoolError::Closed);
        }
        if items.arity() != func.arity && !items.is_empty() {
            return Err(PoolError::Arity {
                func: func.signature,
                want: func.arity,
                got: items.arity(),
            });
        }
        let code = registry()
            .function_code(func)
            .ok_or(PoolError::Unregistered(func.name))?;
        let n = items.len();
        let id = self.next_id;
        self.next_id += n.max(1) as u64;
        self.stat(STAT_TOTAL).fetch_add(n as u64, Ordering::Relaxed);
        self.jobs.insert(
            id,
            Job {
                func,
                code,
                chunk: chunk.max(1),
                items,
                next_send: 0,
                results: vec![None; n],
                done: 0,
                arrived: VecDeque::new(),
                callbacks,
            },
        );
        if n == 0 {
            self.finish_jobs(&[id]);
        }
        self.dispatch()?;
        Ok(JobId(id))
    }

    fn map_chunk(&self, items: &Items, chunksize: Option<usize>) -> usize {
        chunksize.unwrap_or_else(|| default_chunksize(items.len(), self.workers.len()))
    }

    /// `pool.map_async(func, items, chunksize, callback, error_callback)`.
    pub fn map_async(
        &mut self,
        func: &'static Function,
        items: Items,
        chunksize: Option<usize>,
        callbacks: Callbacks,
    ) -> Result<JobId, PoolError> {
        let chunk = self.map_chunk(&items, chunksize);
        self.submit(func, items, chunk, callbacks)
    }

    /// `pool.starmap_async(…)`: the same, each item a tuple of arguments.
    pub fn starmap_async(
        &mut self,
        func: &'static Function,
        items: Items,
        chunksize: Option<usize>,
        callbacks: Callbacks,
    ) -> Result<JobId, PoolError> {
        self.map_async(func, items, chunksize, callbacks)
    }

    /// `pool.map(func, items, chunksize)`: every result in order, or the first
    /// failed task's error (as CPython raises it).
    pub fn map(
        &mut self,
        func: &'static Function,
        items: Items,
        chunksize: Option<usize>,
    ) -> Result<Vec<i64>, PoolError> {
        let job = self.map_async(func, items, chunksize, Callbacks::default())?;
        self.get(job, None)
    }

    /// `pool.starmap(func, tuples, chunksize)`.
    pub fn starmap(
        &mut self,
        func: &'static Function,
        items: Items,
        chunksize: Option<usize>,
    ) -> Result<Vec<i64>, PoolError> {
        self.map(func, items, chunksize)
    }

    /// `pool.apply_async(func, args, callback, error_callback)`.
    pub fn apply_async(
        &mut self,
        func: &'static Function,
        args: &[i64],
        callbacks: Callbacks,
    ) -> Result<JobId, PoolError> {
        self.submit(func, Items::tuples(&[args.to_vec()]), 1, callbacks)
    }

    /// `pool.apply(func, args)`.
    pub fn apply(&mut self, func: &'static Function, args: &[i64]) -> Result<i64, PoolError> {
        let job = self.apply_async(func, args, Callbacks::default())?;
        Ok(self.get(job, None)?[0])
    }

    /// `pool.imap(func, items, chunksize)`: results in order, each as soon as
    /// it and all before it are in.
    pub fn imap(
        &mut self,
        func: &'static Function,
        items: Items,
        chunksize: usize,
    ) -> Result<Imap<'_>, PoolError> {
        let job = self.submit(func, items, chunksize, Callbacks::default())?;
        Ok(Imap {
            pool: self,
            job,
            next: 0,
            ordered: true,
        })
    }

    /// `pool.imap_unordered(func, items, chunksize)`: `(index, result)` in the
    /// order results arrive.
    pub fn imap_unordered(
        &mut self,
        func: &'static Function,
        items: Items,
        chunksize: usize,
    ) -> Result<Imap<'_>, PoolError> {
        let mut it = self.imap(func, items, chunksize)?;
        it.ordered = false;
        Ok(it)
    }

    // ---- ending -------------------------------------------------------------

    /// `pool.close()`: no more submissions; workers exit once the work is done.
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// `pool.join()`: after `close`, waits for every submitted job and for the
    /// workers to exit; after `terminate`, waits for the workers.
    pub fn join(&mut self) -> Result<(), PoolError> {
        if !self.closed && !self.terminated {
            return Err(PoolError::StillRunning);
        }
        while !self.terminated && self.jobs.values().any(|j| !j.complete()) {
            self.pump(CHECK_EVERY)?;
        }
        if !self.terminated {
            for _ in 0..self.workers.len() {
                if self.tasks.put(&[], Some(Duration::from_secs(1))).is_err() {
                    break;
                }
            }
        }
        for w in &mut self.workers {
            if w.join(Some(Duration::from_secs(5))).is_none() {
                w.kill();
                w.join(None);
            }
        }
        for w in &mut self.gone {
            w.join(Some(Duration::from_secs(1)));
        }
        Ok(())
    }

    /// `pool.terminate()`: stops the workers now (SIGTERM, then SIGKILL after
    /// 1 s); unfinished tasks get [`TaskError::Terminated`].
    pub fn terminate(&mut self) {
        if self.terminated {
            return;
        }
        self.terminated = true;
        self.closed = true;
        for w in &self.workers {
            w.terminate();
        }
        for w in &mut self.workers {
            if w.join(Some(Duration::from_secs(1))).is_none() {
                w.kill();
                w.join(None);
            }
        }
        let mut finished = Vec::new();
        for (&base, job) in &mut self.jobs {
            if job.complete() {
                continue;
            }
            for (i, cell) in job.results.iter_mut().enumerate() {
                if cell.is_none() {
                    *cell = Some(Err(TaskError::Terminated));
                    job.arrived.push_back(i);
                }
            }
            job.done = job.results.len();
            finished.push(base);
        }
        self.finish_jobs(&finished);
        self.sent.clear();
        self.resend.clear();
    }
}

impl Drop for Pool {
    /// Like CPython's `with Pool() as p:`, leaving the pool terminates it.
    fn drop(&mut self) {
        if self.workers.iter_mut().any(Process::is_alive) {
            self.terminate();
        }
        for w in &mut self.gone {
            w.join(Some(Duration::from_millis(100)));
        }
    }
}
