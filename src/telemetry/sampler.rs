//! The sampler thread: every tick it asks the run's [`Observer`] for a
//! [`Snapshot`], adds the machine's figures for the header, and sends it to
//! the UI. The UI never touches the board or `/proc` itself.

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};

use super::observer::{Observer, Watch};
use super::snapshot::{Snapshot, SystemView};

/// Orders to the sampler.
pub enum SamplerCmd {
    /// A new run to watch: the last one's samples and diagnosis are forgotten.
    Watch(Watch),
    Rate(f64),
    Now,
}

/// Starts the sampler; it stops when the command sender is dropped.
pub fn spawn(
    rate_hz: f64,
    cmds: Receiver<SamplerCmd>,
    out: Sender<Snapshot>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("sampler".into())
        .spawn(move || Sampler::new(rate_hz).run(cmds, out))
        .expect("spawn sampler thread")
}

struct Sampler {
    period: Duration,
    observer: Option<Observer>,
    sys: System,
}

impl Sampler {
    fn new(rate_hz: f64) -> Sampler {
        Sampler {
            period: period_of(rate_hz),
            observer: None,
            sys: System::new_with_specifics(
                RefreshKind::nothing()
                    .with_cpu(CpuRefreshKind::nothing().with_cpu_usage())
                    .with_memory(MemoryRefreshKind::nothing().with_ram()),
            ),
        }
    }

    fn run(mut self, cmds: Receiver<SamplerCmd>, out: Sender<Snapshot>) {
        let mut next = Instant::now();
        loop {
            let wait = next.saturating_duration_since(Instant::now());
            select! {
                recv(cmds) -> c => match c {
                    Ok(SamplerCmd::Watch(w)) => {
                        self.observer = Some(Observer::new(w));
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
        let mut snap = match self.observer.as_mut() {
            Some(o) => o.observe(),
            None => Snapshot::default(),
        };
        snap.system = system;
        snap
    }
}

fn period_of(hz: f64) -> Duration {
    Duration::from_secs_f64(1.0 / hz.clamp(0.5, 60.0))
}
