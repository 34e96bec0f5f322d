//! One moment of a run, as every view and every headless runner sees it:
//! the board's rows with the probe's overlay, `/proc` readings, resources,
//! the pool, who waits for whom and, once proven, why it can never move
//! again. Plain data: made by [`super::observer::Observer`], drawn by the UI,
//! kept by the timeline, saved by recordings.

use std::collections::HashMap;
use std::time::Duration;

use super::board_view::{PoolView, ProcRow, ResourceView};
use super::waits::Diagnosis;

/// What `/proc` says of one live process.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Live {
    /// Percent of one core since the previous sample.
    pub cpu_pct: f64,
    pub rss_bytes: u64,
    pub threads: u64,
    pub state: char,
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
    /// Who waits for whom, a sentence per chain (zombies counted as dead).
    pub graph: Vec<String>,
}
