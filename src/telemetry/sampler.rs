//! The sampler thread: every tick it reads the board and `/proc` and sends one
//! [`Snapshot`] to the UI. The UI never touches the board or `/proc` itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

use super::board_view::{PoolView, ProcRow, ResourceView, read_pool, read_procs, read_resources};
use super::proc_stat::ProcStatReader;
use super::waits::{Detector, Diagnosis, graph as graph_of, settle_zombies};
use crate::runtime::board::Board;
use crate::runtime::sys;

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

/// A foreign command's run to watch: its processes are found in `/proc`
/// from the root and written on the board.
pub struct ForeignRun {
    pub run: u64,
    pub board: Board,
    /// The root process's pid and its board slot.
    pub root_pid: i32,
    pub root_slot: u32,
    /// Where a Python program's probe reports, if it runs with one.
    pub probe: Option<std::path::PathBuf>,
}

/// Orders to the sampler.
pub enum SamplerCmd {
    Watch(u64, Board),
    /// A foreign command's run (`mpdash watch`): its processes are found in
    /// `/proc` from the root (pid, board slot) and written on the board.
    WatchForeign(ForeignRun),
    Rate(f64),
    Now,
}

/// Starts the sampler; it stops when the command sender is dropped.
pub fn spawn(
    rate_hz: f64,
    stuck_after: Duration,
    cmds: Receiver<SamplerCmd>,
    out: Sender<Snapshot>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("sampler".into())
        .spawn(move || Sampler::new(rate_hz, stuck_after).run(cmds, out))
        .expect("spawn sampler thread")
}

struct Sampler {
    /// Per thread: CPU ticks and when, for per-thread CPU%.
    thread_prev: HashMap<i32, (u64, Instant)>,
    /// Per lock: (holder, acquisitions) as first seen, and when — to time
    /// holds that began without a clock read (uncontended acquires).
    holds: HashMap<String, (i32, i32, u64, Instant)>,
    period: Duration,
    board: Option<(u64, Board)>,
    discovery: Option<crate::telemetry::discovery::Discovery>,
    /// A probed Python program's reports.
    probe: Option<crate::telemetry::probe::ProbeReader>,
    reader: ProcStatReader,
    prev: HashMap<i32, (u64, Instant)>,
    sys: System,
    ticks: f64,
    stuck_after: Duration,
    detector: Detector,
    stuck: Option<Diagnosis>,
}

impl Sampler {
    fn new(rate_hz: f64, stuck_after: Duration) -> Sampler {
        Sampler {
            thread_prev: HashMap::new(),
            holds: HashMap::new(),
            period: period_of(rate_hz),
            board: None,
            discovery: None,
            probe: None,
            reader: ProcStatReader::default(),
            prev: HashMap::new(),
            sys: System::new_with_specifics(
                RefreshKind::nothing()
                    .with_cpu(CpuRefreshKind::nothing().with_cpu_usage())
                    .with_memory(MemoryRefreshKind::nothing().with_ram()),
            ),
            ticks: sys::clock_ticks() as f64,
            stuck_after,
            detector: Detector::new(stuck_after),
            stuck: None,
        }
    }

    /// A new run to watch: forget the last one's samples and diagnosis.
    fn watch(&mut self, run: u64, board: Board) {
        self.board = Some((run, board));
        self.prev.clear();
        self.holds.clear();
        self.detector = Detector::new(self.stuck_after);
        self.stuck = None;
    }

    fn run(mut self, cmds: Receiver<SamplerCmd>, out: Sender<Snapshot>) {
        let mut next = Instant::now();
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            select! {
                recv(cmds) -> c => match c {
                    Ok(SamplerCmd::Watch(run, b)) => {
                        self.watch(run, b);
                        self.discovery = None;
                        self.probe = None;
                        next = Instant::now();
                    }
                    Ok(SamplerCmd::WatchForeign(f)) => {
                        self.discovery = Some(crate::telemetry::discovery::Discovery::new(
                            &f.board, f.root_pid, f.root_slot,
                        ));
                        self.probe = f.probe.map(crate::telemetry::probe::ProbeReader::new);
                        self.watch(f.run, f.board);
                        next = Instant::now();
                    }
                    Ok(SamplerCmd::Rate(hz)) => self.period = period_of(hz),
                    Ok(SamplerCmd::Now) => next = Instant::now(),
                    Err(_) => return,
                },
                default(wait) => {
                    next = Instant::now() + self.period;
                    if out.send(self.sample()).is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn sample(&mut self) -> Snapshot {
        self.sys.refresh_cpu_usage();
        self.sys.refresh_memory();
        let cpus = self.sys.cpus();
        let system = SystemView {
            cpus: cpus.len(),
            cpu_pct: self.sys.global_cpu_usage(),
            per_core: cpus.iter().map(|c| c.cpu_usage()).collect(),
            mem_used: self.sys.used_memory(),
            mem_total: self.sys.total_memory(),
        };
        let Some((run, board)) = self.board.clone() else {
            return Snapshot {
                system,
                ..Default::default()
            };
        };
        if let Some(d) = self.discovery.as_mut() {
            d.scan(&board);
        }
        let mut procs = read_procs(&board);
        let mut facts = None;
        if let Some(p) = self.probe.as_mut() {
            let alive: std::collections::HashSet<i32> =
                procs.iter().filter(|p| p.alive()).map(|p| p.pid).collect();
            let f = p.read(&|pid| alive.contains(&pid), crate::runtime::sys::now_ns());
            crate::telemetry::probe::overlay(&mut procs, &f);
            facts = Some(f);
        }
        let now = Instant::now();
        let mut live = HashMap::new();
        for p in procs.iter().filter(|p| p.alive()) {
            let Some(s) = self.reader.read(p.pid) else {
                continue;
            };
            let cpu_pct = match self.prev.get(&p.pid) {
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
            self.prev.insert(p.pid, (s.cpu_ticks, now));
            live.insert(
                p.pid,
                Live {
                    cpu_pct,
                    rss_bytes: s.rss_bytes,
                    threads: s.threads,
                    state: s.state,
                },
            );
        }
        let mut threads = self.sample_threads(&live, now);
        if let Some(f) = &facts {
            for (pid, list) in threads.iter_mut() {
                for t in list.iter_mut() {
                    if let Some(name) = f.thread_name(*pid, t.tid) {
                        t.name = name;
                    }
                }
            }
        }
        self.reader.retain(|pid| live.contains_key(&pid));
        self.prev.retain(|pid, _| live.contains_key(pid));
        let workers_mem = if live.len() <= crate::telemetry::memory::MAX_WATCHED {
            crate::telemetry::memory::workers_memory(&procs)
        } else {
            (0, 0)
        };
        let mut resources = read_resources(&board);
        self.time_holds(&mut resources, now);
        let mut pool = read_pool(&board);
        if let Some(f) = facts.as_mut() {
            resources.append(&mut f.resources);
            if self.stuck.is_none() {
                self.stuck = crate::telemetry::probe::lost_task(&procs, f, &resources);
            }
            pool = pool.or(f.pool.take());
        }
        // Our own programs and probed Python programs are judged; a foreign
        // program we cannot see inside is not.
        let judged_run = self.discovery.is_none() || self.probe.is_some();
        let mut graph = Vec::new();
        if judged_run && procs.iter().any(|p| p.wait.is_some()) {
            // Judged with the dead as dead: a zombie nobody reaped yet (its
            // parent is itself blocked) serves nobody.
            let mut judged = procs.clone();
            settle_zombies(&mut judged);
            if self.stuck.is_none() {
                self.stuck = self.detector.observe(&judged, &resources, now);
            }
            graph = graph_of(&judged, &resources);
        } else if self.stuck.is_none() && judged_run {
            // Nothing waits: the detector still sees the board move.
            self.stuck = self.detector.observe(&procs, &resources, now);
        }
        Snapshot {
            graph,
            stuck: self.stuck.clone(),
            run,
            elapsed: Duration::from_nanos(sys::now_ns().saturating_sub(board.created_ns())),
            pool,
            resources,
            workers_mem,
            threads,
            procs,
            live,
            system,
        }
    }
}

impl Sampler {
    /// Per-thread CPU of the processes running more than one thread.
    fn sample_threads(
        &mut self,
        live: &HashMap<i32, Live>,
        now: Instant,
    ) -> HashMap<i32, Vec<ThreadLive>> {
        let mut out = HashMap::new();
        let mut seen = Vec::new();
        for (pid, l) in live {
            if l.threads < 2 || live.len() > 64 {
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
                seen.push(tid);
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
        let mut seen = Vec::new();
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
            seen.push(name.clone());
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

fn period_of(hz: f64) -> Duration {
    Duration::from_secs_f64(1.0 / hz.clamp(0.5, 60.0))
}
