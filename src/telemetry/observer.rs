//! The one observer: turns a run — whatever its source — into a
//! [`Snapshot`]. The dashboard's sampler thread and every headless runner
//! call [`Observer::observe`], so they all see the same facts in the same
//! order: the board (and `/proc` discovery for a program we did not start),
//! the probe's overlay, `/proc` readings, zombies settled from those same
//! readings, lost pool tasks, waits, and the stuck diagnosis.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::board_view::{ResourceView, read_pool, read_procs, read_resources};
use super::discovery::Discovery;
use super::probe::{Facts, ProbeReader};
use super::proc_stat::{ProcSample, ProcStatReader};
use super::snapshot::{Live, Snapshot, ThreadLive};
use super::stacks::verdict::Detector as StackDetector;
use super::stacks::view::StackSampler;
use super::waits::{Detector, Diagnosis, graph as graph_of, settle_zombies_with};
use crate::runtime::board::Board;
use crate::runtime::sys;

/// Above this many live processes, per-thread rows and the workers' memory
/// are not read (each costs a directory walk or an `smaps_rollup`).
const MAX_DETAILED: usize = 64;

/// What to observe: a run's board and how its facts reach it.
pub struct Watch {
    pub run: u64,
    pub board: Board,
    /// A program we did not write: its processes are found in `/proc` from
    /// the root (pid, board slot) and written on the board.
    pub discover: Option<(i32, u32)>,
    /// Where a probed Python program's reports are.
    pub probe: Option<PathBuf>,
    /// The grace before a run with every process blocked is called stuck;
    /// `None`: never judged (a program we cannot see inside, or a run left
    /// to hang on purpose).
    pub judge: Option<Duration>,
    /// Per-thread rows and the workers' memory too (the dashboard); a
    /// headless run does without.
    pub detail: bool,
    /// Python stacks read from outside (py-spy) every half second.
    pub stacks: bool,
    /// A tree judged from its stacks alone (an attached one: no probe, no
    /// board of ours), with this grace.
    pub stack_judge: Option<Duration>,
}

/// Samples one run; keep it for the run's life (CPU is a difference between
/// two samples, and the detector watches for change).
pub struct Observer {
    run: u64,
    board: Board,
    discovery: Option<Discovery>,
    probe: Option<ProbeReader>,
    facts: Option<Facts>,
    detector: Option<Detector>,
    stuck: Option<Diagnosis>,
    /// When `stuck` was first proven (seconds of the run).
    stuck_at: Option<f64>,
    detail: bool,
    stacks: Option<StackSampler>,
    stack_judge: Option<StackDetector>,
    reader: ProcStatReader,
    /// Per process and per thread: CPU ticks and when, for CPU%.
    prev: HashMap<i32, (u64, Instant)>,
    thread_prev: HashMap<i32, (u64, Instant)>,
    /// Per lock: (holder, acquisitions) as first seen, and when — to time
    /// holds that began without a clock read (uncontended acquires).
    holds: HashMap<String, (i32, i32, u64, Instant)>,
    ticks: f64,
}

impl Observer {
    pub fn new(w: Watch) -> Observer {
        Observer {
            discovery: w
                .discover
                .map(|(pid, slot)| Discovery::new(&w.board, pid, slot)),
            probe: w.probe.map(ProbeReader::new),
            facts: None,
            detector: w.judge.map(Detector::new),
            stuck: None,
            stuck_at: None,
            detail: w.detail,
            stacks: w.stacks.then(StackSampler::default),
            stack_judge: w.stack_judge.filter(|_| w.stacks).map(StackDetector::new),
            run: w.run,
            board: w.board,
            reader: ProcStatReader::default(),
            prev: HashMap::new(),
            thread_prev: HashMap::new(),
            holds: HashMap::new(),
            ticks: sys::clock_ticks() as f64,
        }
    }

    pub fn board(&self) -> &Board {
        &self.board
    }

    /// The probe's facts as last read (a probed Python program only).
    pub fn facts(&self) -> Option<&Facts> {
        self.facts.as_ref()
    }

    /// Report lines in the probe's directory that were not the probe's.
    pub fn probe_bad_lines(&self) -> u64 {
        self.probe.as_ref().map_or(0, |p| p.bad_lines)
    }

    /// How long each read of one process's stacks took (for `bench attach`).
    pub fn stack_sample_times(&self) -> &[Duration] {
        self.stacks.as_ref().map_or(&[], |s| s.sample_times())
    }

    /// Why the run can never move again, once proven (it stays).
    pub fn stuck(&self) -> Option<&Diagnosis> {
        self.stuck.as_ref()
    }

    /// Stops judging: the run has ended, or was stopped on purpose, and
    /// what happens now is no evidence.
    pub fn stop_judging(&mut self) {
        self.detector = None;
        self.stack_judge = None;
    }

    /// One sample of the run, now.
    pub fn observe(&mut self) -> Snapshot {
        let board = self.board.clone();
        if let Some(d) = self.discovery.as_mut() {
            d.scan(&board);
        }
        let mut procs = read_procs(&board);
        if let Some(p) = self.probe.as_mut() {
            let alive: HashSet<i32> = procs.iter().filter(|p| p.alive()).map(|p| p.pid).collect();
            let f = p.read(&|pid| alive.contains(&pid), sys::now_ns());
            super::probe::overlay(&mut procs, &f);
            super::escapes::mark(&mut procs, &f);
            self.facts = Some(f);
        }
        let now = Instant::now();
        let mut live = HashMap::new();
        // Each live process's `/proc` reading, taken once: CPU and memory
        // for the table, and the zombies for the judge.
        let mut ended: HashMap<i32, Option<i32>> = HashMap::new();
        for p in procs.iter().filter(|p| p.alive() && p.pid > 0) {
            let Some(s) = self.reader.read(p.pid) else {
                ended.insert(p.pid, None);
                continue;
            };
            if s.state == 'Z' {
                ended.insert(p.pid, Some(s.wait_status));
            }
            live.insert(p.pid, self.live(p.pid, &s, now));
        }
        let threads = if self.detail && live.len() <= MAX_DETAILED {
            self.sample_threads(&live, now)
        } else {
            HashMap::new()
        };
        self.reader.retain(|pid| live.contains_key(&pid));
        self.prev.retain(|pid, _| live.contains_key(pid));
        let workers_mem = if self.detail && live.len() <= MAX_DETAILED {
            super::memory::workers_memory(&procs)
        } else {
            (0, 0)
        };
        let mut resources = read_resources(&board);
        self.time_holds(&mut resources, now);
        let mut pool = read_pool(&board);
        let mut threads = threads;
        if let Some(f) = self.facts.as_mut() {
            for (pid, list) in threads.iter_mut() {
                for t in list.iter_mut() {
                    if let Some(name) = f.thread_name(*pid, t.tid) {
                        t.name = name;
                    }
                }
            }
            resources.extend(f.resources.iter().cloned());
            pool = pool.or_else(|| f.pool.clone());
        }
        // Judged with the dead as dead: a zombie nobody reaped yet (its
        // parent is itself blocked) serves nobody.
        let mut judged = procs.clone();
        settle_zombies_with(&mut judged, |pid| ended.get(&pid).copied());
        let mut graph = Vec::new();
        let mut no_progress = None;
        if let Some(d) = self.detector.as_mut() {
            // A lost task is certain at once, while the pool's other tasks
            // may still run: its numbers are taken again every sample, so
            // the banner agrees with the Pool panel.
            let lost = self
                .stuck
                .as_ref()
                .is_none_or(|d| d.kind == super::waits::StuckKind::LostTask);
            if lost
                && let Some(f) = &self.facts
                && let Some(d) = super::probe::lost_task(&judged, f, &resources)
            {
                self.stuck = Some(d);
            }
            if self.stuck.is_none() {
                self.stuck = d.observe(&judged, &resources, now);
                no_progress = d.no_progress().cloned().filter(|_| self.stuck.is_none());
            }
            if judged.iter().any(|p| p.wait.is_some()) {
                graph = graph_of(&judged, &resources);
            }
        }
        let stacks = match self.stacks.as_mut() {
            Some(s) => {
                let me = std::process::id() as i32;
                let mut pids: Vec<i32> = live
                    .iter()
                    .filter(|(pid, l)| **pid != me && l.state != 'Z')
                    .map(|(pid, _)| *pid)
                    .collect();
                pids.sort_unstable();
                let fresh = s.sample(&pids, now);
                if fresh
                    && self.stuck.is_none()
                    && let Some(d) = self.stack_judge.as_mut()
                    && let Some(v) = d.sample(now, s.seen())
                {
                    let name = |pid: i32| {
                        procs
                            .iter()
                            .find(|p| p.pid == pid)
                            .map_or_else(|| format!("pid {pid}"), |p| format!("{} ({pid})", p.name))
                    };
                    self.stuck = Some(v.diagnosis(name));
                }
                s.views().clone()
            }
            None => HashMap::new(),
        };
        let elapsed = Duration::from_nanos(sys::now_ns().saturating_sub(board.created_ns()));
        if self.stuck.is_some() && self.stuck_at.is_none() {
            self.stuck_at = Some(elapsed.as_secs_f64());
        }
        Snapshot {
            graph,
            stacks,
            stuck: self.stuck.clone(),
            stuck_at_s: self.stuck_at,
            no_progress: no_progress.filter(|_| self.stuck.is_none()),
            run: self.run,
            elapsed,
            pool,
            resources,
            workers_mem,
            threads,
            procs,
            live,
            system: Default::default(),
        }
    }

    /// CPU% since the previous reading of `pid`, with its memory and state.
    fn live(&mut self, pid: i32, s: &ProcSample, now: Instant) -> Live {
        let cpu_pct = match self.prev.get(&pid) {
            Some((ticks, at)) => {
                let dt = now.duration_since(*at).as_secs_f64();
                let used = s.cpu_ticks.saturating_sub(*ticks) as f64 / self.ticks;
                // Tick granularity can read a little over 100 % per thread.
                let cap = 100.0 * s.threads.max(1) as f64;
                if dt > 0.0 {
                    (100.0 * used / dt).min(cap)
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.prev.insert(pid, (s.cpu_ticks, now));
        Live {
            cpu_pct,
            rss_bytes: s.rss_bytes,
            threads: s.threads,
            state: s.state,
            zombie_exit: (s.state == 'Z').then(|| sys::exit_code_of(s.wait_status)),
        }
    }

    /// Per-thread CPU of the processes running more than one thread.
    fn sample_threads(
        &mut self,
        live: &HashMap<i32, Live>,
        now: Instant,
    ) -> HashMap<i32, Vec<ThreadLive>> {
        let mut out = HashMap::new();
        let mut seen = HashSet::new();
        for (pid, l) in live {
            if l.threads < 2 {
                continue;
            }
            let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            let mut rows = Vec::new();
            for e in dir.flatten() {
                let Ok(tid) = e.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat"))
                else {
                    continue;
                };
                let Some(s) = super::proc_stat::parse_stat(&text, 1) else {
                    continue;
                };
                let name = text
                    .find('(')
                    .zip(text.rfind(')'))
                    .map(|(a, b)| text[a + 1..b].to_string())
                    .unwrap_or_default();
                let cpu_pct = match self.thread_prev.get(&tid) {
                    Some((ticks, at)) => {
                        let dt = now.duration_since(*at).as_secs_f64();
                        let used = s.cpu_ticks.saturating_sub(*ticks) as f64 / self.ticks;
                        if dt > 0.0 {
                            (100.0 * used / dt).min(100.0)
                        } else {
                            0.0
                        }
                    }
                    None => 0.0,
                };
                self.thread_prev.insert(tid, (s.cpu_ticks, now));
                seen.insert(tid);
                rows.push(ThreadLive {
                    tid,
                    name,
                    cpu_pct,
                    state: s.state,
                });
            }
            rows.sort_by_key(|t| t.tid);
            out.insert(*pid, rows);
        }
        self.thread_prev.retain(|tid, _| seen.contains(tid));
        out
    }

    /// Fills "held for" of locks whose holder did not stamp the time: from the
    /// first sample that saw this holder with this acquisition count.
    fn time_holds(&mut self, resources: &mut [ResourceView], now: Instant) {
        let mut seen = HashSet::new();
        for r in resources.iter_mut() {
            let ResourceView::Lock {
                name,
                holder_pid,
                holder_tid,
                held_ms,
                acquisitions,
                ..
            } = r
            else {
                continue;
            };
            if *holder_pid == 0 {
                continue;
            }
            seen.insert(name.clone());
            let key = (*holder_pid, *holder_tid, *acquisitions);
            let entry = self
                .holds
                .entry(name.clone())
                .or_insert((key.0, key.1, key.2, now));
            if (entry.0, entry.1, entry.2) != key {
                *entry = (key.0, key.1, key.2, now);
            }
            if held_ms.is_none() {
                *held_ms = Some(now.duration_since(entry.3).as_millis() as u64);
            }
        }
        self.holds.retain(|k, _| seen.contains(k));
    }
}
