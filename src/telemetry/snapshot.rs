//! One moment of a run, as every view and every headless runner sees it:
//! the board's rows with the probe's overlay, `/proc` readings, resources,
//! the pool, who waits for whom and, once proven, why it can never move
//! again. Plain data: made by [`super::observer::Observer`], drawn by the UI,
//! kept by the timeline, saved by recordings.

use std::collections::HashMap;
use std::time::Duration;

use super::board_view::{PoolView, ProcRow, ResourceView};
use super::waits::{Diagnosis, NoProgress};

/// What `/proc` says of one live process.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Live {
    /// Percent of one core since the previous sample.
    pub cpu_pct: f64,
    pub rss_bytes: u64,
    pub threads: u64,
    pub state: char,
    /// A zombie's exit status, as the kernel keeps it for its parent (the
    /// process ended; its parent has not reaped it yet).
    #[serde(default)]
    pub zombie_exit: Option<i32>,
}

/// One thread of a multi-threaded process.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ThreadLive {
    pub tid: i32,
    pub name: String,
    /// Percent of one core since the previous sample.
    pub cpu_pct: f64,
    pub state: char,
}

/// One process's Python stacks as read from outside (py-spy): what the
/// STACK panel and the WHERE column show.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct StackView {
    /// The interpreter's version (`3.11.7`), when its stacks were read.
    pub python: Option<String>,
    /// Why there are no stacks: `not a Python process`, a refusal and its fix.
    pub error: Option<String>,
    pub threads: Vec<ThreadStackView>,
}

/// One Python thread of a [`StackView`].
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ThreadStackView {
    /// `threading`'s name (`MainThread`), when it could be read.
    pub name: Option<String>,
    /// The kernel's thread id.
    pub tid: Option<u64>,
    /// Running or runnable, else sleeping.
    pub active: bool,
    /// The wait it is in: `get (Queue.get)`, with `, timeout` when it ends
    /// by itself.
    pub wait: Option<String>,
    /// Innermost first.
    pub frames: Vec<FrameView>,
    /// The innermost frame in the program's own files.
    pub user: Option<usize>,
}

/// One frame: `Queue.get (multiprocessing/queues.py:103)`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct FrameView {
    pub function: String,
    /// The program's own files as given, a library's from its package
    /// (`multiprocessing/queues.py`).
    pub file: String,
    pub line: i32,
    pub own: bool,
}

impl ThreadStackView {
    /// Where the thread is, said short: `get at prog.py:40` when it waits
    /// (the program's line that made the call), else the program's own
    /// innermost frame (`work at prog.py:12`), else the innermost frame.
    pub fn where_text(&self) -> Option<String> {
        let short = |f: &FrameView| {
            let file = f.file.rsplit('/').next().unwrap_or(&f.file).to_string();
            format!("{file}:{}", f.line)
        };
        if let Some(w) = &self.wait {
            let op = w.split(" (").next().unwrap_or(w);
            return Some(match self.user.and_then(|u| self.frames.get(u)) {
                Some(f) => crate::t!("wait-at", what = op, at = short(f)),
                None => w.clone(),
            });
        }
        let f = self
            .user
            .and_then(|u| self.frames.get(u))
            .or(self.frames.first())?;
        // `work() at prog.py:12`, `<module> at prog.py:30`.
        let call = if f.function.starts_with('<') {
            f.function.clone()
        } else {
            format!("{}()", f.function)
        };
        Some(crate::t!("wait-at", what = call, at = short(f)))
    }
}

impl StackView {
    /// The thread that says where the process is: the main thread, unless
    /// it merely waits for other threads of its own while one of them works
    /// or waits on something else.
    pub fn main_thread(&self) -> Option<&ThreadStackView> {
        self.threads
            .iter()
            .find(|t| t.name.as_deref() == Some("MainThread"))
            .or(self.threads.first())
    }

    /// WHERE of the process: its main thread's.
    pub fn where_text(&self) -> Option<String> {
        self.main_thread()?.where_text()
    }

    /// A rough size in bytes (for the timeline's budget).
    pub fn bytes(&self) -> usize {
        64 + self
            .threads
            .iter()
            .map(|t| {
                64 + t
                    .frames
                    .iter()
                    .map(|f| 32 + f.function.len() + f.file.len())
                    .sum::<usize>()
            })
            .sum::<usize>()
    }
}

/// Machine-wide figures for the header.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SystemView {
    pub cpus: usize,
    /// Percent of the whole machine.
    pub cpu_pct: f32,
    pub per_core: Vec<f32>,
    pub mem_used: u64,
    pub mem_total: u64,
}

/// One sample of a run: board rows plus `/proc` readings.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub run: u64,
    /// Time since the run's board was created, when the sample was taken.
    pub elapsed: Duration,
    pub procs: Vec<ProcRow>,
    pub live: HashMap<i32, Live>,
    pub pool: Option<PoolView>,
    pub resources: Vec<ResourceView>,
    /// The workers' summed (PSS, RSS) now; not sampled above 64 live workers.
    pub workers_mem: (u64, u64),
    /// Threads of the processes that have more than one (pid → threads).
    pub threads: HashMap<i32, Vec<ThreadLive>>,
    pub system: SystemView,
    /// Why the run can never move again, once that is known (it stays).
    pub stuck: Option<Diagnosis>,
    /// When that was first proven, in seconds of the run.
    #[serde(default)]
    pub stuck_at_s: Option<f64>,
    /// Every process blocked for the grace, but some wait could still end
    /// by itself: no proof, a warning (gone when something moves).
    #[serde(default)]
    pub no_progress: Option<NoProgress>,
    /// Who waits for whom, a sentence per chain (zombies counted as dead).
    pub graph: Vec<String>,
    /// Python stacks of the run's processes, read from outside (an attached
    /// tree, a Python program): pid → stacks, as last read.
    #[serde(default)]
    pub stacks: HashMap<i32, StackView>,
}
