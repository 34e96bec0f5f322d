//! `Pool`: N worker processes fed through a task queue in the board, with
//! results coming back on a second queue (CPython's design, without the
//! feeder and handler threads: the process that owns the pool drives it
//! whenever it calls into it).
//!
//! The whole of CPython's API: `map`, `map_async`, `imap`, `imap_unordered`,
//! `starmap`, `starmap_async`, `apply`, `apply_async` (with callback and error
//! callback), CPython's default `chunksize`, `maxtasksperchild`, `initializer`,
//! `close`, `terminate`, `join`. Functions are the built-in [`Func`]s; a task
//! whose function fails gets that error as its result and the pool lives on.
//!
//! Each worker writes the id of the task it runs on its own board slot before
//! running it, so the dashboard shows the in-flight task per worker, and when
//! a worker dies the pool knows which task died with it: it starts a
//! replacement and runs the lost task again ([`OnDeath::Retry`], up to
//! `retries` times) or fails it ([`OnDeath::Fail`]). `map` never hangs.
//!
//! ```no_run
//! # use mpdash::runtime::{board::*, process::Context, pool::*};
//! let ctx = Context::new(Board::create(BoardSize::default()).unwrap(), StartMethod::Fork);
//! let mut pool = Pool::new(&ctx, "pool", PoolOptions::with_workers(2)).unwrap();
//! let counts = pool.map(Func::Primes, Items::ranges(1_000, 4), Some(1)).unwrap();
//! assert_eq!(counts.iter().sum::<i64>(), 168);
//! pool.close();
//! pool.join().unwrap();
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::board::{Board, BoardError, ProcSlot, ResKind, Role};
use super::process::{Context, Process, ProcessError, Target};
use super::queue::{Queue, QueueError};
use super::work;

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
/// Largest message on the pool's queues: a batch bigger than this travels as
/// several messages.
pub const MSG_MAX: usize = 2048;
/// Exit status of a worker whose initializer failed.
pub const EXIT_INIT_FAILED: i32 = 3;
/// How often the pool looks for dead workers while it waits.
const CHECK_EVERY: Duration = Duration::from_millis(50);
/// Idle polls (of [`CHECK_EVERY`]) before results still missing are sent again.
const VANISHED_POLLS: u32 = 20;
const TASK_HEADER: usize = 8 + 4 + 3;
const RESULT_HEADER: usize = 8 + 4;
const ERROR_MAX: usize = 400;

/// The functions a pool runs: the scenario's built-in work kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Func {
    /// `primes(lo, hi)`: primes in `[lo, hi)` by trial division.
    Primes,
    /// `square(x)`: `x * x`, the trivial function of pool benchmarks.
    Square,
    /// `spin(us)`: burn CPU for `us` µs; returns `us`.
    Spin,
    /// `sleep(ms)`: sleep `ms` ms; returns `ms`.
    Sleep,
    /// `alloc(mib)`: allocate and touch `mib` MiB, free it; returns `mib`.
    Alloc,
    /// `fail(x)`: raises `ValueError: fail(x)`.
    Fail,
}

impl Func {
    pub const ALL: [Func; 6] = [
        Func::Primes,
        Func::Square,
        Func::Spin,
        Func::Sleep,
        Func::Alloc,
        Func::Fail,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Primes => "primes",
            Func::Square => "square",
            Func::Spin => "spin",
            Func::Sleep => "sleep",
            Func::Alloc => "alloc",
            Func::Fail => "fail",
        }
    }

    /// Its signature, for messages: `primes(lo, hi)`.
    pub fn signature(self) -> &'static str {
        match self {
            Func::Primes => "primes(lo, hi)",
            Func::Square => "square(x)",
            Func::Spin => "spin(us)",
            Func::Sleep => "sleep(ms)",
            Func::Alloc => "alloc(mib)",
            Func::Fail => "fail(x)",
        }
    }

    pub fn parse(s: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn arity(self) -> usize {
        match self {
            Func::Primes => 2,
            _ => 1,
        }
    }

    fn code(self) -> u8 {
        Func::ALL.iter().position(|&f| f == self).unwrap_or(0) as u8
    }

    fn from_code(c: u8) -> Option<Func> {
        Func::ALL.get(c as usize).copied()
    }

    /// Runs the function; `args` has [`Func::arity`] values.
    pub fn call(self, args: &[i64]) -> Result<i64, String> {
        let arg = |i: usize| args.get(i).copied().unwrap_or(0);
        let non_negative = |i: usize| arg(i).max(0) as u64;
        Ok(match self {
            Func::Primes => work::count_primes(non_negative(0), non_negative(1)) as i64,
            Func::Square => arg(0).wrapping_mul(arg(0)),
            Func::Spin => {
                work::spin(Duration::from_micros(non_negative(0)));
                arg(0)
            }
            Func::Sleep => {
                std::thread::sleep(Duration::from_millis(non_negative(0)));
                arg(0)
            }
            Func::Alloc => {
                let bytes = (non_negative(0) as usize).saturating_mul(1 << 20);
                let mut v: Vec<u8> = Vec::new();
                v.try_reserve_exact(bytes)
                    .map_err(|_| format!("MemoryError: alloc({})", arg(0)))?;
                v.resize(bytes, 0);
                for p in v.iter_mut().step_by(4096) {
                    *p = 1;
                }
                std::hint::black_box(&v);
                arg(0)
            }
            Func::Fail => return Err(format!("ValueError: fail({})", arg(0))),
        })
    }
}

/// What a job maps over: one argument tuple per task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Items {
    /// `range(start, start + n * step, step)`: one argument each.
    Range { start: i64, step: i64, n: usize },
    /// `n` tuples of `arity` arguments, flattened.
    List { arity: usize, flat: Vec<i64> },
}

impl Items {
    /// Python's `range(start, stop, step)`.
    pub fn range(start: i64, stop: i64, step: i64) -> Items {
        let step = if step == 0 { 1 } else { step };
        let span = if step > 0 {
            stop.saturating_sub(start)
        } else {
            start.saturating_sub(stop)
        };
        let n = if span <= 0 {
            0
        } else {
            (span as u64).div_ceil(step.unsigned_abs()) as usize
        };
        Items::Range { start, step, n }
    }

    /// One-argument tasks.
    pub fn singles(values: Vec<i64>) -> Items {
        Items::List {
            arity: 1,
            flat: values,
        }
    }

    /// Tasks of several arguments each (all tuples as long as the first).
    pub fn tuples(tuples: &[Vec<i64>]) -> Items {
        let arity = tuples.first().map_or(1, Vec::len).max(1);
        Items::List {
            arity,
            flat: tuples
                .iter()
                .flat_map(|t| (0..arity).map(|i| t.get(i).copied().unwrap_or(0)))
                .collect(),
        }
    }

    /// `[0, below)` cut into `chunks` contiguous `(lo, hi)` ranges.
    pub fn ranges(below: u64, chunks: u64) -> Items {
        let chunks = chunks.max(1);
        let step = below.div_ceil(chunks);
        let flat = (0..chunks)
            .flat_map(|i| {
                [
                    (i * step).min(below) as i64,
                    ((i + 1) * step).min(below) as i64,
                ]
            })
            .collect();
        Items::List { arity: 2, flat }
    }

    pub fn len(&self) -> usize {
        match self {
            Items::Range { n, .. } => *n,
            Items::List { arity, flat } => flat.len() / arity.max(&1),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn arity(&self) -> usize {
        match self {
            Items::Range { .. } => 1,
            Items::List { arity, .. } => *arity,
        }
    }

    /// The arguments of task `i`, as Python would print them: `(3,)`-less, `3` or `(0, 10)`.
    pub fn show(&self, i: usize) -> String {
        match self {
            Items::Range { start, step, .. } => (start + step * i as i64).to_string(),
            Items::List { arity: 1, flat } => flat[i].to_string(),
            Items::List { arity, flat } => {
                let t: Vec<String> = flat[i * arity..(i + 1) * arity]
                    .iter()
                    .map(i64::to_string)
                    .collect();
                format!("({})", t.join(", "))
            }
        }
    }

    /// Task `i` as a call: `primes(0, 10)`, `square(3)`.
    pub fn call_text(&self, func: Func, i: usize) -> String {
        let args = self.show(i);
        let args = args
            .strip_prefix('(')
            .and_then(|a| a.strip_suffix(')'))
            .unwrap_or(&args);
        format!("{}({args})", func.name())
    }

    /// Most tasks one message can carry.
    fn per_message(&self) -> usize {
        match self {
            Items::Range { .. } => u32::MAX as usize,
            Items::List { arity, .. } => (MSG_MAX - TASK_HEADER) / (8 * arity.max(&1)),
        }
    }

    /// Appends tasks `[i, i + count)` to a task message.
    fn encode(&self, i: usize, count: usize, out: &mut Vec<u8>) {
        match self {
            Items::Range { start, step, .. } => {
                out.extend_from_slice(&[0, 1]);
                out.extend_from_slice(&(start + step * i as i64).to_le_bytes());
                out.extend_from_slice(&step.to_le_bytes());
            }
            Items::List { arity, flat } => {
                out.extend_from_slice(&[1, *arity as u8]);
                for v in &flat[i * arity..(i + count) * arity] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
}

/// CPython's default `chunksize` for `map`: `len / (4 × workers)`, rounded up.
pub fn default_chunksize(items: usize, workers: usize) -> usize {
    let per = workers.max(1) * 4;
    items.div_ceil(per).max(1)
}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolOptions {
    pub processes: usize,
    /// Batches (CPython: tasks) a worker runs before it exits and is replaced; 0: no limit.
    pub maxtasksperchild: u64,
    pub initializer: Option<(Func, Vec<i64>)>,
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
    #[serde(default)]
    pub initializer: Option<(Func, Vec<i64>)>,
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
    func: Func,
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
            let w = pool.start_worker(i as u32)?;
            pool.workers.push(w);
        }
        Ok(pool)
    }

    /// Messages each of the pool's two queues holds.
    pub fn queue_capacity(workers: usize) -> usize {
        (4 * workers).max(64)
    }

    /// Board arena bytes a pool of `workers` needs.
    pub fn footprint(workers: usize) -> usize {
        2 * Queue::footprint(Pool::queue_capacity(workers), MSG_MAX) + 256
    }

    fn start_worker(&self, index: u32) -> Result<Process, PoolError> {
        let target = Target::PoolWorker(WorkerConfig {
            tasks: self.tasks.offset(),
            results: self.results.offset(),
            maxtasks: self.opts.maxtasksperchild,
            initializer: self.opts.initializer.clone(),
        });
        let mut p = Process::new(&self.ctx, &format!("pool worker {index}"), target)
            .with_role(Role::PoolWorker, index);
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
        func: Func,
        items: Items,
        chunk: usize,
        callbacks: Callbacks,
    ) -> Result<JobId, PoolError> {
        if self.closed || self.terminated {
            return Err(PoolError::Closed);
        }
        if items.arity() != func.arity() && !items.is_empty() {
            return Err(PoolError::Arity {
                func: func.signature(),
                want: func.arity(),
                got: items.arity(),
            });
        }
        let n = items.len();
        let id = self.next_id;
        self.next_id += n.max(1) as u64;
        self.stat(STAT_TOTAL).fetch_add(n as u64, Ordering::Relaxed);
        self.jobs.insert(
            id,
            Job {
                func,
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
        func: Func,
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
        func: Func,
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
        func: Func,
        items: Items,
        chunksize: Option<usize>,
    ) -> Result<Vec<i64>, PoolError> {
        let job = self.map_async(func, items, chunksize, Callbacks::default())?;
        self.get(job, None)
    }

    /// `pool.starmap(func, tuples, chunksize)`.
    pub fn starmap(
        &mut self,
        func: Func,
        items: Items,
        chunksize: Option<usize>,
    ) -> Result<Vec<i64>, PoolError> {
        self.map(func, items, chunksize)
    }

    /// `pool.apply_async(func, args, callback, error_callback)`.
    pub fn apply_async(
        &mut self,
        func: Func,
        args: &[i64],
        callbacks: Callbacks,
    ) -> Result<JobId, PoolError> {
        self.submit(func, Items::tuples(&[args.to_vec()]), 1, callbacks)
    }

    /// `pool.apply(func, args)`.
    pub fn apply(&mut self, func: Func, args: &[i64]) -> Result<i64, PoolError> {
        let job = self.apply_async(func, args, Callbacks::default())?;
        Ok(self.get(job, None)?[0])
    }

    /// `pool.imap(func, items, chunksize)`: results in order, each as soon as
    /// it and all before it are in.
    pub fn imap(
        &mut self,
        func: Func,
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
        func: Func,
        items: Items,
        chunksize: usize,
    ) -> Result<Imap<'_>, PoolError> {
        let mut it = self.imap(func, items, chunksize)?;
        it.ordered = false;
        Ok(it)
    }

    // ---- waiting ------------------------------------------------------------

    /// `AsyncResult.ready()`.
    pub fn ready(&self, job: JobId) -> bool {
        self.jobs.get(&job.0).is_none_or(Job::complete)
    }

    /// `AsyncResult.wait(timeout)`: whether the job is complete.
    pub fn wait(&mut self, job: JobId, timeout: Option<Duration>) -> Result<bool, PoolError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.ready(job) {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(false);
            }
            self.pump(left.unwrap_or(CHECK_EVERY))?;
        }
    }

    /// Every task's outcome, in order, once the job is complete.
    pub fn outcomes(
        &mut self,
        job: JobId,
        timeout: Option<Duration>,
    ) -> Result<Vec<Outcome>, PoolError> {
        if !self.wait(job, timeout)? {
            return Err(PoolError::Timeout);
        }
        let j = self.jobs.remove(&job.0).ok_or(PoolError::NoJob)?;
        Ok(j.results.into_iter().flatten().collect())
    }

    /// `AsyncResult.get(timeout)`: the values, or the first failed task's error.
    pub fn get(&mut self, job: JobId, timeout: Option<Duration>) -> Result<Vec<i64>, PoolError> {
        let (func, items) = match self.jobs.get(&job.0) {
            Some(j) => (j.func, j.items.clone()),
            None => return Err(PoolError::NoJob),
        };
        let outcomes = self.outcomes(job, timeout)?;
        outcomes
            .into_iter()
            .enumerate()
            .map(|(index, o)| {
                o.map_err(|error| PoolError::Task {
                    index,
                    call: items.call_text(func, index),
                    error,
                })
            })
            .collect()
    }

    /// Runs the pool for at most `wait`: sends tasks, takes results, looks
    /// after dead workers.
    fn pump(&mut self, wait: Duration) -> Result<(), PoolError> {
        self.dispatch()?;
        let result = self
            .results
            .get(Some(wait.clamp(Duration::from_millis(1), CHECK_EVERY)));
        if self.last_check.elapsed() >= CHECK_EVERY {
            self.last_check = Instant::now();
            self.check_workers()?;
        }
        match result {
            Ok(msg) => {
                self.idle_polls = 0;
                self.absorb(&msg)
            }
            Err(QueueError::Empty) => {
                self.idle_polls += 1;
                if self.idle_polls >= VANISHED_POLLS {
                    self.idle_polls = 0;
                    self.resend_vanished();
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Puts tasks on the queue while it has room: runs to send again first,
    /// then jobs in the order they came.
    fn dispatch(&mut self) -> Result<(), PoolError> {
        loop {
            let (first, count) = match self.resend.front() {
                Some(&r) => r,
                None => match self.next_batch() {
                    Some(b) => b,
                    None => return Ok(()),
                },
            };
            let job = self
                .jobs
                .range(..=first)
                .next_back()
                .filter(|(base, j)| first + count <= **base + j.items.len() as u64);
            let Some((&base, job)) = job else {
                // Tasks of a job no longer here (cannot happen: a job with
                // missing results stays); never send someone else's items.
                if self.resend.pop_front().is_none() {
                    return Ok(());
                }
                continue;
            };
            let i = (first - base) as usize;
            let count = count.min(job.items.per_message() as u64);
            self.buf.clear();
            self.buf.extend_from_slice(&first.to_le_bytes());
            self.buf.extend_from_slice(&(count as u32).to_le_bytes());
            self.buf.push(job.func.code());
            job.items.encode(i, count as usize, &mut self.buf);
            match self.tasks.put_nowait(&self.buf) {
                Ok(()) => {}
                Err(QueueError::Full) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            self.sent.insert(first, Sent { count, left: count });
            if let Some(r) = self.resend.front_mut().filter(|r| r.0 == first) {
                r.0 += count;
                r.1 -= count;
                if r.1 == 0 {
                    self.resend.pop_front();
                }
            } else if let Some(j) = self.jobs.get_mut(&base) {
                j.next_send = i + count as usize;
            }
        }
    }

    /// The next batch of new tasks: (first global id, count).
    fn next_batch(&self) -> Option<(u64, u64)> {
        self.jobs.iter().find_map(|(&base, j)| {
            let left = j.items.len().saturating_sub(j.next_send);
            (left > 0).then(|| (base + j.next_send as u64, left.min(j.chunk) as u64))
        })
    }

    /// Takes one result message.
    fn absorb(&mut self, msg: &[u8]) -> Result<(), PoolError> {
        let mut rd = Reader(msg);
        let first = rd.u64().ok_or(PoolError::BadResult)?;
        let count = rd.u32().ok_or(PoolError::BadResult)? as u64;
        let mut finished = Vec::new();
        let mut fresh = 0u64;
        let mut failed = 0u64;
        {
            let Some((&base, job)) = self.jobs.range_mut(..=first).next_back() else {
                return Ok(()); // a late duplicate of a job already collected
            };
            for k in 0..count {
                let outcome = match rd.u8().ok_or(PoolError::BadResult)? {
                    0 => Ok(rd.i64().ok_or(PoolError::BadResult)?),
                    1 => {
                        let len = rd.u16().ok_or(PoolError::BadResult)? as usize;
                        let text = rd.bytes(len).ok_or(PoolError::BadResult)?;
                        Err(TaskError::Raised(
                            String::from_utf8_lossy(text).into_owned(),
                        ))
                    }
                    _ => return Err(PoolError::BadResult),
                };
                let i = (first + k - base) as usize;
                let Some(cell @ None) = job.results.get_mut(i) else {
                    continue; // a task run twice: the first result stands
                };
                failed += u64::from(outcome.is_err());
                *cell = Some(outcome);
                job.done += 1;
                job.arrived.push_back(i);
                fresh += 1;
            }
            if job.complete() {
                finished.push(base);
            }
        }
        self.account(first, count);
        self.stat(STAT_DONE).fetch_add(fresh, Ordering::Relaxed);
        self.stat(STAT_FAILED).fetch_add(failed, Ordering::Relaxed);
        self.finish_jobs(&finished);
        Ok(())
    }

    /// Marks tasks `[first, first + count)` as answered in the batches that
    /// hold them; forgets batches fully answered.
    fn account(&mut self, first: u64, count: u64) {
        let end = first + count;
        let mut done = Vec::new();
        for (&b, s) in self.sent.range_mut(..end).rev() {
            if b + s.count <= first {
                break;
            }
            let overlap = (b + s.count).min(end) - b.max(first);
            s.left = s.left.saturating_sub(overlap);
            if s.left == 0 {
                done.push(b);
            }
        }
        for b in done {
            self.sent.remove(&b);
        }
    }

    /// Runs the callbacks of jobs that just completed.
    fn finish_jobs(&mut self, bases: &[u64]) {
        for base in bases {
            let Some(job) = self.jobs.get_mut(base) else {
                continue;
            };
            let first_err = job.results.iter().flatten().find_map(|o| o.clone().err());
            match first_err {
                Some(e) => {
                    if let Some(cb) = job.callbacks.error_callback.as_mut() {
                        cb(&e);
                    }
                }
                None => {
                    if let Some(cb) = job.callbacks.callback.as_mut() {
                        let values: Vec<i64> = job
                            .results
                            .iter()
                            .map(|o| o.clone().map_or(0, |v| v.unwrap_or(0)))
                            .collect();
                        cb(&values);
                    }
                }
            }
            job.callbacks = Callbacks::default();
        }
    }

    /// Whether no live worker is running a task and the task queue is empty.
    fn all_idle(&mut self) -> bool {
        self.tasks.qsize() == 0
            && self.workers.iter().all(|w| {
                w.slot()
                    .and_then(|s| self.board.proc(s))
                    .is_none_or(|s| s.current_task.load(Ordering::Relaxed) < 0)
            })
    }

    /// A batch can vanish with a worker killed between taking it and noting
    /// its first task: when everything has been idle for a while and results
    /// are missing, send the missing ones again.
    fn resend_vanished(&mut self) {
        if self.sent.is_empty() || !self.resend.is_empty() || !self.all_idle() {
            return;
        }
        let lost: Vec<(u64, Sent)> = std::mem::take(&mut self.sent).into_iter().collect();
        for (first, s) in lost {
            self.event(&format!(
                "task {first} vanished with a worker: sending it again"
            ));
            self.stat(STAT_RETRIED).fetch_add(1, Ordering::Relaxed);
            self.queue_missing(first, s.count, None);
        }
    }

    /// Queues to send again the tasks of `[first, first + count)` that have no
    /// result, except `skip`.
    fn queue_missing(&mut self, first: u64, count: u64, skip: Option<u64>) {
        let Some((&base, job)) = self.jobs.range(..=first).next_back() else {
            return;
        };
        let mut run: Option<(u64, u64)> = None;
        for g in first..first + count {
            let missing = job
                .results
                .get((g - base) as usize)
                .is_some_and(Option::is_none)
                && Some(g) != skip;
            match (&mut run, missing) {
                (Some(r), true) => r.1 += 1,
                (None, true) => run = Some((g, 1)),
                (Some(_), false) => self.resend.extend(run.take()),
                (None, false) => {}
            }
        }
        self.resend.extend(run);
    }

    /// Finds workers that ended, starts a replacement for each, and deals
    /// with the task a dead one was running.
    fn check_workers(&mut self) -> Result<(), PoolError> {
        if self.terminated {
            return Ok(());
        }
        for i in 0..self.workers.len() {
            if self.workers[i].is_alive() {
                continue;
            }
            let slot = self.workers[i].slot().and_then(|s| self.board.proc(s));
            let task = slot.map_or(-1, |s| s.current_task.load(Ordering::Relaxed));
            let ran = slot.map_or(0, |s| s.tasks_done.load(Ordering::Relaxed));
            let code = self.workers[i].exitcode().unwrap_or(0);
            if code == EXIT_INIT_FAILED && ran == 0 {
                return Err(PoolError::Initializer(code));
            }
            let replacement = self.start_worker((i + 1) as u32)?;
            let new_pid = replacement.pid().map_or(0, |p| p.as_raw());
            let old = std::mem::replace(&mut self.workers[i], replacement);
            let old_pid = old.pid().map_or(0, |p| p.as_raw());
            self.stat(STAT_REPLACED).fetch_add(1, Ordering::Relaxed);
            if code == 0 && task < 0 {
                let limit = self.opts.maxtasksperchild;
                self.event(&format!(
                    "{} (pid {old_pid}) retired after {limit} batches (maxtasksperchild={limit}); replacement started (pid {new_pid})",
                    old.name()
                ));
            } else {
                let how = match nix::sys::signal::Signal::try_from(-code) {
                    Ok(sig) if code < 0 => sig.as_str().to_string(),
                    _ => format!("exit {code}"),
                };
                let died = format!("{} (pid {old_pid}) died ({how})", old.name());
                let what = if task >= 0 {
                    self.lost_task(task as u64, &died)
                } else {
                    String::new()
                };
                self.event(&format!(
                    "{died}{what}; replacement started (pid {new_pid})"
                ));
            }
            self.gone.push(old);
        }
        Ok(())
    }

    /// The task `g` died with its worker: run it again or fail it, and send
    /// the rest of its batch again. Returns what was done, for the event line.
    fn lost_task(&mut self, g: u64, died: &str) -> String {
        let Some((&b, &s)) = self.sent.range(..=g).next_back() else {
            return String::new();
        };
        if g >= b + s.count {
            return String::new();
        }
        self.sent.remove(&b);
        self.stat(STAT_LOST).fetch_add(1, Ordering::Relaxed);
        let tries = self.deaths.entry(g).or_insert(0);
        *tries += 1;
        let tries = *tries;
        let give_up = self.opts.on_worker_death == OnDeath::Fail || tries > self.opts.retries;
        let what = if give_up {
            if let Some((&base, job)) = self.jobs.range_mut(..=g).next_back()
                && let Some(cell @ None) = job.results.get_mut((g - base) as usize)
            {
                *cell = Some(Err(TaskError::WorkerDied(format!(
                    "{died} while running this task ({} time{})",
                    tries,
                    if tries == 1 { "" } else { "s" }
                ))));
                job.done += 1;
                job.arrived.push_back((g - base) as usize);
                let complete = job.complete().then_some(base);
                self.stat(STAT_DONE).fetch_add(1, Ordering::Relaxed);
                self.stat(STAT_FAILED).fetch_add(1, Ordering::Relaxed);
                self.finish_jobs(&complete.into_iter().collect::<Vec<_>>());
            }
            format!(" while running task {g}: failing it")
        } else {
            self.stat(STAT_RETRIED).fetch_add(1, Ordering::Relaxed);
            format!(" while running task {g}: retrying it")
        };
        self.queue_missing(b, s.count, give_up.then_some(g));
        what
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

/// The iterator `imap` and `imap_unordered` return: each task's index and outcome.
pub struct Imap<'a> {
    pool: &'a mut Pool,
    job: JobId,
    next: usize,
    ordered: bool,
}

impl Iterator for Imap<'_> {
    type Item = Result<(usize, Outcome), PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let job = self.pool.jobs.get_mut(&self.job.0)?;
            if self.next >= job.results.len() {
                self.pool.jobs.remove(&self.job.0);
                return None;
            }
            let ready = if self.ordered {
                job.results[self.next].clone().map(|o| (self.next, o))
            } else {
                job.arrived.pop_front().map(|i| {
                    (
                        i,
                        job.results[i].clone().unwrap_or(Err(TaskError::Terminated)),
                    )
                })
            };
            if let Some(r) = ready {
                self.next += 1;
                return Some(Ok(r));
            }
            if let Err(e) = self.pool.pump(CHECK_EVERY) {
                return Some(Err(e));
            }
        }
    }
}

/// Reads little-endian fields off a message.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.bytes(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }
}

/// A task message, decoded.
struct Batch<'a> {
    first: u64,
    count: u64,
    func: Func,
    arity: usize,
    /// `Some((start, step))` for a range; otherwise the flattened arguments.
    range: Option<(i64, i64)>,
    flat: &'a [u8],
}

fn decode_batch(msg: &[u8]) -> Option<Batch<'_>> {
    let mut rd = Reader(msg);
    let first = rd.u64()?;
    let count = rd.u32()? as u64;
    let func = Func::from_code(rd.u8()?)?;
    let enc = rd.u8()?;
    let arity = rd.u8()? as usize;
    if arity != func.arity() {
        return None;
    }
    let (range, flat) = match enc {
        0 => (Some((rd.i64()?, rd.i64()?)), &[][..]),
        1 => (None, rd.bytes(count as usize * arity * 8)?),
        _ => return None,
    };
    Some(Batch {
        first,
        count,
        func,
        arity,
        range,
        flat,
    })
}

/// A worker's loop: take a batch, note each task on the slot before running
/// it, send the results (in several messages when they do not fit one). An
/// empty message means "stop". Exits after `maxtasks` batches when set.
pub fn worker_main(board: &Board, slot: &ProcSlot, cfg: &WorkerConfig) -> i32 {
    let (Ok(tasks), Ok(results)) = (
        Queue::attach(board, cfg.tasks),
        Queue::attach(board, cfg.results),
    ) else {
        return 70;
    };
    if let Some((f, args)) = &cfg.initializer
        && let Err(e) = f.call(args)
    {
        work::say(&format!("pool worker initializer {}: {e}", f.name()));
        return EXIT_INIT_FAILED;
    }
    let mut out = Vec::with_capacity(MSG_MAX);
    let mut args = [0i64; 4];
    let mut batches = 0u64;
    loop {
        if cfg.maxtasks > 0 && batches >= cfg.maxtasks {
            return 0;
        }
        let Ok(msg) = tasks.get(None) else {
            return 70;
        };
        if msg.is_empty() {
            return 0;
        }
        let Some(b) = decode_batch(&msg) else {
            return 65;
        };
        let mut start = b.first;
        start_results(&mut out, start);
        for k in 0..b.count {
            let id = b.first + k;
            slot.current_task.store(id as i64, Ordering::Relaxed);
            let args = &mut args[..b.arity];
            match b.range {
                Some((s, step)) => args[0] = s.wrapping_add(step.wrapping_mul(k as i64)),
                None => {
                    let at = k as usize * b.arity * 8;
                    for (j, a) in args.iter_mut().enumerate() {
                        let o = at + j * 8;
                        *a = i64::from_le_bytes(b.flat[o..o + 8].try_into().unwrap_or([0; 8]));
                    }
                }
            }
            let r = b.func.call(args);
            let need = match &r {
                Ok(_) => 9,
                Err(e) => 3 + e.len().min(ERROR_MAX),
            };
            if out.len() + need > MSG_MAX {
                if results.put(&out, None).is_err() {
                    return 70;
                }
                start = id;
                start_results(&mut out, start);
            }
            match r {
                Ok(v) => {
                    out.push(0);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Err(e) => {
                    let e = &e.as_bytes()[..e.len().min(ERROR_MAX)];
                    out.push(1);
                    out.extend_from_slice(&(e.len() as u16).to_le_bytes());
                    out.extend_from_slice(e);
                }
            }
            let n = (id + 1 - start) as u32;
            out[8..12].copy_from_slice(&n.to_le_bytes());
            slot.tasks_done.fetch_add(1, Ordering::Relaxed);
        }
        if results.put(&out, None).is_err() {
            return 70;
        }
        slot.current_task.store(-1, Ordering::Relaxed);
        batches += 1;
    }
}

fn start_results(out: &mut Vec<u8>, first: u64) {
    out.clear();
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    debug_assert_eq!(out.len(), RESULT_HEADER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_range_exactly_once() {
        let t = Items::ranges(50_000_000, 64);
        let Items::List { arity: 2, flat } = &t else {
            panic!()
        };
        assert_eq!(t.len(), 64);
        let mut next = 0;
        for pair in flat.chunks(2) {
            assert_eq!(pair[0], next);
            next = pair[1];
        }
        assert_eq!(next, 50_000_000);
        assert_eq!(Items::ranges(10, 3).show(2), "(8, 10)");
    }

    #[test]
    fn python_range_lengths() {
        assert_eq!(Items::range(0, 10, 1).len(), 10);
        assert_eq!(Items::range(0, 10, 3).len(), 4);
        assert_eq!(Items::range(10, 0, -2).len(), 5);
        assert_eq!(Items::range(5, 5, 1).len(), 0);
        assert_eq!(Items::range(0, 10, 3).show(3), "9");
    }

    #[test]
    fn cpython_default_chunksize() {
        // divmod(len, 4 * workers), plus one when there is a remainder.
        assert_eq!(default_chunksize(100_000, 2), 12_500);
        assert_eq!(default_chunksize(100_001, 2), 12_501);
        assert_eq!(default_chunksize(10, 4), 1);
        assert_eq!(default_chunksize(0, 4), 1);
    }

    #[test]
    fn task_messages_round_trip() {
        let items = Items::tuples(&[vec![1, 2], vec![3, 4], vec![5, 6]]);
        let mut buf = 7u64.to_le_bytes().to_vec();
        buf.extend_from_slice(&2u32.to_le_bytes());
        buf.push(Func::Primes.code());
        items.encode(1, 2, &mut buf);
        let b = decode_batch(&buf).unwrap();
        assert_eq!((b.first, b.count, b.func, b.arity), (7, 2, Func::Primes, 2));
        assert_eq!(b.flat.len(), 32);
        assert_eq!(i64::from_le_bytes(b.flat[0..8].try_into().unwrap()), 3);
        // Truncated or hostile messages are refused, not trusted.
        assert!(decode_batch(&buf[..buf.len() - 1]).is_none());
        assert!(decode_batch(&[0xff; 3]).is_none());
        let mut wrong = buf.clone();
        wrong[12] = 99;
        assert!(decode_batch(&wrong).is_none());
    }

    #[test]
    fn functions() {
        assert_eq!(Func::Primes.call(&[0, 100]), Ok(25));
        assert_eq!(Func::Square.call(&[-7]), Ok(49));
        assert_eq!(Func::Fail.call(&[7]), Err("ValueError: fail(7)".into()));
        assert_eq!(Func::Sleep.call(&[1]), Ok(1));
        assert_eq!(Func::parse("alloc"), Some(Func::Alloc));
        assert_eq!(Func::parse("nope"), None);
    }
}
