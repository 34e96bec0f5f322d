//! `Pool`: N worker processes fed through a task queue in the board, with
//! results coming back on a second queue (CPython's design, without the
//! feeder threads).
//!
//! Each worker writes the id of the task it runs on its own board slot before
//! running it, so the dashboard shows the in-flight task per worker and the
//! pool can name the task a dead worker was holding.
//!
//! ```no_run
//! # use mpdash::runtime::{board::*, process::Context, pool::*};
//! let ctx = Context::new(Board::create(BoardSize::default()).unwrap(), StartMethod::Fork);
//! let mut pool = Pool::new(&ctx, "pool", 2).unwrap();
//! let results = pool.map(Task::primes_chunks(1_000, 4), 1).unwrap();
//! assert_eq!(results.iter().map(|r| r.value).sum::<u64>(), 168);
//! pool.close();
//! ```

use std::sync::atomic::Ordering;
use std::time::Duration;

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
/// Workers started to replace dead ones.
pub const STAT_REPLACED: usize = 6;

/// How many times a task lost with a dead worker is run again before `map` fails.
pub const DEFAULT_RETRIES: u32 = 3;

const MSG_MAX: usize = 192;

/// One unit of work a pool worker runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskWork {
    /// Count primes in `[lo, hi)` by trial division.
    Primes { lo: u64, hi: u64 },
    /// Burn CPU for this many microseconds; the result is 0.
    SpinUs(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub work: Vec<TaskWork>,
}

impl Task {
    /// `[0, below)` cut into `chunks` contiguous ranges, one task each.
    pub fn primes_chunks(below: u64, chunks: u64) -> Vec<Task> {
        let chunks = chunks.max(1);
        let step = below.div_ceil(chunks);
        (0..chunks)
            .map(|i| Task {
                id: i,
                work: vec![TaskWork::Primes {
                    lo: (i * step).min(below),
                    hi: ((i + 1) * step).min(below),
                }],
            })
            .collect()
    }
}

/// A task's result, and which worker (1-based) produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    pub id: u64,
    pub worker: u32,
    pub value: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("{0}")]
    Board(#[from] BoardError),
    #[error("{0}")]
    Process(#[from] ProcessError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    #[error("a worker sent a malformed result: {0}")]
    BadResult(String),
    #[error("task {task} was lost with {tries} dead workers in a row; giving up")]
    TaskFailed { task: u64, tries: u32 },
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
    workers: Vec<Process>,
    /// Workers that died and were replaced, kept so they are reaped and reported.
    dead: Vec<Process>,
    /// Runs of a task lost with a dead worker before `map` gives up.
    pub retries: u32,
    on_event: Option<EventSink>,
}

impl Pool {
    /// Starts `n` workers with the context's start method.
    pub fn new(ctx: &Context, name: &str, n: usize) -> Result<Pool, PoolError> {
        let board = ctx.board().clone();
        let n = n.max(1);
        let cap = (4 * n).max(64);
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
            workers: Vec::with_capacity(n),
            dead: Vec::new(),
            retries: DEFAULT_RETRIES,
            on_event: None,
        };
        for i in 1..=n {
            let w = pool.start_worker(i as u32)?;
            pool.workers.push(w);
        }
        Ok(pool)
    }

    fn start_worker(&self, index: u32) -> Result<Process, PoolError> {
        let target = Target::PoolWorker {
            tasks: self.tasks.offset(),
            results: self.results.offset(),
        };
        let mut p = Process::new(&self.ctx, &format!("pool worker {index}"), target)
            .with_role(Role::PoolWorker, index);
        p.start()?;
        Ok(p)
    }

    /// Tells `f` what the pool does about dead workers, as it happens.
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

    fn stat(&self, i: usize) -> &std::sync::atomic::AtomicU64 {
        &self.board.res(self.res).expect("registered").stats[i]
    }

    /// Runs every task and returns the results in task order. `chunksize`
    /// tasks travel in one message.
    pub fn map(
        &mut self,
        tasks: Vec<Task>,
        chunksize: usize,
    ) -> Result<Vec<TaskResult>, PoolError> {
        let chunksize = chunksize.max(1);
        let total = tasks.len();
        self.stat(STAT_TOTAL)
            .fetch_add(total as u64, Ordering::Relaxed);
        let batches: Vec<Vec<Task>> = tasks.chunks(chunksize).map(|c| c.to_vec()).collect();
        let mut tries = vec![0u32; batches.len()];
        let mut pending: Vec<usize> = (0..batches.len()).rev().collect();
        let mut out: Vec<Option<TaskResult>> = vec![None; total];
        let base = tasks.first().map_or(0, |t| t.id);
        let mut got = 0;
        let mut idle_checks = 0;
        let mut last_check = std::time::Instant::now();
        while got < total {
            while let Some(&b) = pending.last() {
                let msg = serde_json::to_vec(&batches[b])
                    .map_err(|e| PoolError::BadResult(e.to_string()))?;
                match self.tasks.put_nowait(&msg) {
                    Ok(()) => {
                        pending.pop();
                    }
                    Err(QueueError::Full) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            let result = self.results.get(Some(Duration::from_millis(50)));
            // Look for dead workers every 50 ms, results or not: a worker that
            // died idle must be replaced too, and one that died holding a
            // task must not wait for the others to run out of work.
            if last_check.elapsed() >= Duration::from_millis(50) {
                last_check = std::time::Instant::now();
                for b in self.replace_dead_workers(&batches, base)? {
                    if missing(&batches[b], &out, base) && !pending.contains(&b) {
                        tries[b] += 1;
                        if tries[b] > self.retries {
                            return Err(PoolError::TaskFailed {
                                task: batches[b][0].id,
                                tries: tries[b],
                            });
                        }
                        self.stat(STAT_RETRIED).fetch_add(1, Ordering::Relaxed);
                        pending.push(b);
                    }
                }
            }
            match result {
                Ok(msg) => {
                    idle_checks = 0;
                    let rs: Vec<TaskResult> = serde_json::from_slice(&msg)
                        .map_err(|e| PoolError::BadResult(e.to_string()))?;
                    for r in rs {
                        let at = r.id.checked_sub(base).map(|i| i as usize);
                        match at.and_then(|i| out.get_mut(i)) {
                            Some(cell @ None) => {
                                *cell = Some(r);
                                got += 1;
                                self.stat(STAT_DONE).fetch_add(1, Ordering::Relaxed);
                            }
                            // A batch run twice (requeued while its first run was
                            // still sending): the first result stands.
                            Some(Some(_)) => {}
                            None => {
                                return Err(PoolError::BadResult(format!(
                                    "unexpected task id {}",
                                    r.id
                                )));
                            }
                        }
                    }
                }
                Err(QueueError::Empty) => {
                    // A batch can also vanish with a worker killed between taking
                    // it and noting its task: when everything is idle for a
                    // while and results are missing, send the missing ones again.
                    idle_checks += 1;
                    if idle_checks >= 20 && self.all_idle() {
                        idle_checks = 0;
                        for (b, batch) in batches.iter().enumerate() {
                            if missing(batch, &out, base) && !pending.contains(&b) {
                                self.event(&format!(
                                    "task {} vanished: sending it again",
                                    batch[0].id
                                ));
                                self.stat(STAT_RETRIED).fetch_add(1, Ordering::Relaxed);
                                pending.push(b);
                            }
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Whether the task queue is empty and no live worker is running a task.
    fn all_idle(&mut self) -> bool {
        self.tasks.qsize() == 0
            && self.workers.iter().all(|w| {
                w.slot()
                    .and_then(|s| self.board.proc(s))
                    .is_none_or(|s| s.current_task.load(Ordering::Relaxed) < 0)
            })
    }

    /// Finds workers that died, starts a replacement for each, and returns the
    /// batches (indices into `batches`) they were running.
    fn replace_dead_workers(
        &mut self,
        batches: &[Vec<Task>],
        base: u64,
    ) -> Result<Vec<usize>, PoolError> {
        let mut lost = Vec::new();
        for i in 0..self.workers.len() {
            if self.workers[i].is_alive() {
                continue;
            }
            let task = self.workers[i]
                .slot()
                .and_then(|s| self.board.proc(s))
                .map_or(-1, |s| s.current_task.load(Ordering::Relaxed));
            let code = self.workers[i].exitcode().unwrap_or(0);
            let index = (i + 1) as u32;
            let replacement = self.start_worker(index)?;
            let dead = std::mem::replace(&mut self.workers[i], replacement);
            self.stat(STAT_REPLACED).fetch_add(1, Ordering::Relaxed);
            let how = match nix::sys::signal::Signal::try_from(-code) {
                Ok(sig) if code < 0 => sig.as_str().to_string(),
                _ => format!("exit {code}"),
            };
            let mut msg = format!(
                "{} (pid {}) died ({how})",
                dead.name(),
                dead.pid().map_or(0, |p| p.as_raw())
            );
            if task >= 0 {
                self.stat(STAT_LOST).fetch_add(1, Ordering::Relaxed);
                let t = task as u64;
                if let Some(b) = batches
                    .iter()
                    .position(|batch| batch.iter().any(|x| x.id == t))
                {
                    lost.push(b);
                }
                msg += &format!(
                    " while running task {}: retrying it",
                    t.saturating_sub(base) + base
                );
            }
            msg += &format!(
                "; replacement started (pid {})",
                self.workers[i].pid().map_or(0, |p| p.as_raw())
            );
            self.event(&msg);
            self.dead.push(dead);
        }
        Ok(lost)
    }

    /// Tells every worker to stop after its current task and waits for them.
    pub fn close(&mut self) {
        for _ in &self.workers {
            if self.tasks.put(&[], Some(Duration::from_secs(1))).is_err() {
                break;
            }
        }
        for w in &mut self.workers {
            if w.join(Some(Duration::from_secs(5))).is_none() {
                w.kill();
                w.join(None);
            }
        }
        for w in &mut self.dead {
            w.join(Some(Duration::from_secs(1)));
        }
    }
}

/// Whether some task of `batch` has no result yet.
fn missing(batch: &[Task], out: &[Option<TaskResult>], base: u64) -> bool {
    batch.iter().any(|t| out[(t.id - base) as usize].is_none())
}

/// A worker's loop: take a batch, note each task on the slot, run it, send the results.
/// An empty message means "stop".
pub fn worker_main(board: &Board, slot: &ProcSlot, tasks: usize, results: usize) -> i32 {
    let (Ok(tasks), Ok(results)) = (Queue::attach(board, tasks), Queue::attach(board, results))
    else {
        return 70;
    };
    let me = slot.index.load(Ordering::Relaxed);
    loop {
        let Ok(msg) = tasks.get(None) else {
            return 70;
        };
        if msg.is_empty() {
            return 0;
        }
        let Ok(batch) = serde_json::from_slice::<Vec<Task>>(&msg) else {
            return 65;
        };
        let mut out = Vec::with_capacity(batch.len());
        for task in batch {
            slot.current_task.store(task.id as i64, Ordering::Relaxed);
            let value = task.work.iter().map(run_task_work).sum();
            slot.current_task.store(-1, Ordering::Relaxed);
            slot.tasks_done.fetch_add(1, Ordering::Relaxed);
            out.push(TaskResult {
                id: task.id,
                worker: me,
                value,
            });
        }
        let Ok(msg) = serde_json::to_vec(&out) else {
            return 70;
        };
        if results.put(&msg, None).is_err() {
            return 70;
        }
    }
}

fn run_task_work(w: &TaskWork) -> u64 {
    match *w {
        TaskWork::Primes { lo, hi } => work::count_primes(lo, hi),
        TaskWork::SpinUs(us) => {
            work::spin(Duration::from_micros(us));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_range_exactly_once() {
        let t = Task::primes_chunks(50_000_000, 64);
        assert_eq!(t.len(), 64);
        let mut next = 0;
        for task in &t {
            let TaskWork::Primes { lo, hi } = task.work[0] else {
                panic!()
            };
            assert_eq!(lo, next);
            next = hi;
        }
        assert_eq!(next, 50_000_000);
        let odd = Task::primes_chunks(10, 3);
        assert_eq!(
            odd.last().unwrap().work[0],
            TaskWork::Primes { lo: 8, hi: 10 }
        );
    }
}
