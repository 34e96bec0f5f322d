//! The dashboard's state and the one function that changes it.
//!
//! Every way the state changes is an [`Action`]; [`App::update`] handles them
//! all and answers with an [`Effect`] for the run loop to carry out (start a
//! run, quit). Drawing reads an `&App` and changes nothing.

mod dashboard;
pub mod event_log;

pub use dashboard::run_dashboard;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::compare::{RunStats, summarise};
use crate::runtime::board::StartMethod;
use crate::scaling::Point;
use crate::scenario::Scenario;
use crate::scenario::main_process::SCALE_POINT;
use crate::telemetry::board_view::ProcRow;
use crate::telemetry::sampler::Snapshot;

/// CPU samples kept per process (the sparkline).
pub const HISTORY: usize = 60;
/// Output lines kept.
pub const LOG_LINES: usize = 500;

/// Everything that can happen to the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Quit,
    Rerun,
    NextMethod,
    ToggleHelp,
    SelectNext,
    SelectPrev,
    /// A sample of the current run.
    Sample(Box<Snapshot>),
    /// A line the run printed.
    Output(String),
    /// The run's main process ended; `rows` is the board as it was left.
    RunEnded {
        exit: i32,
        wall: Duration,
        rows: Vec<ProcRow>,
    },
    /// Measure the scenario's `[scaling]` as the next run.
    MeasureScaling,
    /// Ask to SIGKILL the selected process (confirmed with `y`).
    KillSelected,
    /// SIGSTOP the selected process (watch its queue fill).
    StopSelected,
    /// SIGCONT the selected process.
    ContinueSelected,
    /// Answer to a pending confirmation.
    Confirm(bool),
    /// A scaling run started (after `Effect::LaunchScale`).
    ScaleStarted {
        run: u64,
    },
    /// Show the next tab.
    NextTab,
    /// Show this tab.
    ShowTab(Tab),
    /// A run started (after `Effect::Launch`).
    RunStarted {
        run: u64,
        method: StartMethod,
    },
    /// Starting a run failed.
    LaunchFailed(String),
    Resize,
}

/// What the run loop must do after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    Redraw,
    /// Kill the current run and start a new one with this method.
    Launch(StartMethod),
    /// Kill the current run and measure scaling instead.
    LaunchScale,
    /// Send this signal to this process of the run.
    Signal(i32, nix::sys::signal::Signal),
    Quit,
}

/// Where the current run is.
#[derive(Debug, Clone, PartialEq)]
pub enum RunStatus {
    Starting,
    Running,
    Finished { exit: i32, wall: Duration },
    Failed(String),
}

/// The dashboard's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Live,
    /// Every finished run side by side.
    Compare,
    /// Speedup against workers: processes, GIL threads, free threads.
    Scaling,
    /// Starts, exits, deaths, losses and recoveries, in order.
    Log,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Live, Tab::Compare, Tab::Scaling, Tab::Log];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Live => "Live",
            Tab::Compare => "Compare",
            Tab::Scaling => "Scaling",
            Tab::Log => "Log",
        }
    }
}

/// The dashboard's state.
#[derive(Debug, Clone)]
pub struct App {
    pub scenario: Arc<Scenario>,
    pub method: StartMethod,
    pub run: u64,
    pub status: RunStatus,
    pub snapshot: Snapshot,
    /// CPU % of one core per pid, oldest first.
    pub cpu_history: HashMap<i32, VecDeque<f64>>,
    pub log: VecDeque<String>,
    /// Finished runs, for the Compare tab.
    pub runs: Vec<RunStats>,
    pub tab: Tab,
    /// Peak summed PSS and RSS of the current run's workers.
    pub peak_mem: (u64, u64),
    /// Whether the current run measures scaling rather than running `[main]`.
    pub scaling_run: bool,
    /// Points of the latest scaling measurement, as they arrive.
    pub scale_points: Vec<Point>,
    /// Why a key did nothing, shown in the hint bar until the next key.
    pub notice: Option<String>,
    /// What happened, across runs (bounded).
    pub events: VecDeque<event_log::LogEvent>,
    /// A kill waiting for `y`: (pid, name).
    pub confirm_kill: Option<(i32, String)>,
    /// Queue depth per queue name, oldest first.
    pub depth_history: HashMap<String, VecDeque<u64>>,
    /// Puts and gets per second per queue, between the last two samples.
    pub queue_rates: HashMap<String, (f64, f64)>,
    /// Calls per second of each manager proxy method, by `manager/method`.
    pub method_rates: HashMap<String, f64>,
    pub selected: usize,
    pub show_help: bool,
    pub rate_hz: f64,
}

impl App {
    pub fn new(scenario: Arc<Scenario>, rate_hz: f64) -> App {
        App {
            method: scenario.start_method,
            scenario,
            run: 0,
            status: RunStatus::Starting,
            snapshot: Snapshot::default(),
            cpu_history: HashMap::new(),
            log: VecDeque::new(),
            runs: Vec::new(),
            tab: Tab::Live,
            peak_mem: (0, 0),
            scaling_run: false,
            scale_points: Vec::new(),
            notice: None,
            confirm_kill: None,
            events: VecDeque::new(),
            depth_history: HashMap::new(),
            queue_rates: HashMap::new(),
            method_rates: HashMap::new(),
            selected: 0,
            show_help: false,
            rate_hz,
        }
    }

    /// Depth history and put/get rates, from this sample and the previous one.
    fn track_queues(&mut self, s: &Snapshot) {
        use crate::telemetry::board_view::ResourceView;
        let dt = s
            .elapsed
            .saturating_sub(self.snapshot.elapsed)
            .as_secs_f64();
        for r in &s.resources {
            if let ResourceView::Manager { name, methods, .. } = r {
                let before = self.snapshot.resources.iter().find_map(|p| match p {
                    ResourceView::Manager {
                        name: n, methods, ..
                    } if n == name => Some(methods),
                    _ => None,
                });
                for m in methods {
                    let c0 = before
                        .and_then(|b| b.iter().find(|x| x.method == m.method))
                        .map_or(0, |x| x.calls);
                    if dt > 0.0 {
                        self.method_rates.insert(
                            format!("{name}/{}", m.method),
                            m.calls.saturating_sub(c0) as f64 / dt,
                        );
                    }
                }
                continue;
            }
            let ResourceView::Queue {
                name,
                depth,
                puts,
                gets,
                ..
            } = r
            else {
                continue;
            };
            let h = self.depth_history.entry(name.clone()).or_default();
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(*depth as u64);
            let before = self.snapshot.resources.iter().find_map(|p| match p {
                ResourceView::Queue {
                    name: n,
                    puts,
                    gets,
                    ..
                } if n == name => Some((*puts, *gets)),
                _ => None,
            });
            if let (Some((p0, g0)), true) = (before, dt > 0.0) {
                self.queue_rates.insert(
                    name.clone(),
                    (
                        puts.saturating_sub(p0) as f64 / dt,
                        gets.saturating_sub(g0) as f64 / dt,
                    ),
                );
            }
        }
    }

    /// The selected row's process, if it is a live process of this run.
    pub fn selected_process(&self) -> Option<(i32, String)> {
        let pid = crate::ui::process_panel::row_kinds(&self.snapshot)
            .get(self.selected)
            .copied()
            .flatten()?;
        let p = self
            .snapshot
            .procs
            .iter()
            .find(|p| p.pid == pid && p.alive())?;
        Some((p.pid, p.name.clone()))
    }

    fn refuse(&mut self) -> Effect {
        self.notice = Some("select a running process of this run first (↑/↓)".into());
        Effect::Redraw
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) -> Effect {
        if !matches!(action, Action::Sample(_) | Action::Output(_)) {
            self.notice = None;
            if !matches!(action, Action::Confirm(_)) {
                self.confirm_kill = None;
            }
        }
        match action {
            Action::Quit => Effect::Quit,
            Action::Rerun => Effect::Launch(self.method),
            Action::NextMethod => Effect::Launch(self.method.next()),
            Action::ToggleHelp => {
                self.show_help = !self.show_help;
                Effect::Redraw
            }
            Action::KillSelected => match self.selected_process() {
                Some((pid, name)) => {
                    self.notice = Some(format!("SIGKILL {name} (pid {pid})? y / n"));
                    self.confirm_kill = Some((pid, name));
                    Effect::Redraw
                }
                None => self.refuse(),
            },
            Action::StopSelected | Action::ContinueSelected => match self.selected_process() {
                Some((pid, name)) => {
                    let (sig, word) = if action == Action::StopSelected {
                        (nix::sys::signal::Signal::SIGSTOP, "stopped")
                    } else {
                        (nix::sys::signal::Signal::SIGCONT, "continued")
                    };
                    self.notice = Some(format!("{name} (pid {pid}) {word}"));
                    Effect::Signal(pid, sig)
                }
                None => self.refuse(),
            },
            Action::Confirm(yes) => match self.confirm_kill.take() {
                Some((pid, name)) if yes => {
                    self.notice = Some(format!("SIGKILL sent to {name} (pid {pid})"));
                    Effect::Signal(pid, nix::sys::signal::Signal::SIGKILL)
                }
                _ => Effect::Redraw,
            },
            Action::SelectNext => {
                let n = crate::ui::process_panel::row_kinds(&self.snapshot).len();
                self.selected = (self.selected + 1).min(n.saturating_sub(1));
                Effect::Redraw
            }
            Action::SelectPrev => {
                self.selected = self.selected.saturating_sub(1);
                Effect::Redraw
            }
            Action::Sample(s) => {
                if s.run != self.run && !s.procs.is_empty() {
                    return Effect::None;
                }
                for (pid, live) in &s.live {
                    let h = self.cpu_history.entry(*pid).or_default();
                    if h.len() == HISTORY {
                        h.pop_front();
                    }
                    h.push_back(live.cpu_pct);
                }
                self.track_queues(&s);
                event_log::diff(&self.snapshot, &s, &mut self.events);
                self.peak_mem.0 = self.peak_mem.0.max(s.workers_mem.0);
                self.peak_mem.1 = self.peak_mem.1.max(s.workers_mem.1);
                let known: Vec<i32> = s.procs.iter().map(|p| p.pid).collect();
                self.cpu_history.retain(|pid, _| known.contains(pid));
                self.selected = self.selected.min(
                    crate::ui::process_panel::row_kinds(&s)
                        .len()
                        .saturating_sub(1),
                );
                self.snapshot = *s;
                Effect::Redraw
            }
            Action::Output(line) => {
                if let Some(json) = line.strip_prefix(SCALE_POINT)
                    && let Ok(p) = serde_json::from_str::<Point>(json)
                {
                    self.scale_points.push(p);
                    return Effect::Redraw;
                }
                if self.log.len() == LOG_LINES {
                    self.log.pop_front();
                }
                self.log.push_back(line);
                Effect::Redraw
            }
            Action::RunEnded { exit, wall, rows } => {
                self.status = RunStatus::Finished { exit, wall };
                if self.scaling_run {
                    return Effect::Redraw;
                }
                let (pss, rss) = self.peak_mem;
                self.runs.push(summarise(
                    self.run,
                    &self.scenario,
                    self.method,
                    &rows,
                    wall,
                    pss,
                    rss,
                    exit,
                ));
                Effect::Redraw
            }
            Action::MeasureScaling => {
                if self.scenario.scaling.is_none() {
                    self.notice = Some(
                        "this scenario has no [scaling] table (try scenarios/scaling.toml)".into(),
                    );
                    return Effect::Redraw;
                }
                Effect::LaunchScale
            }
            Action::ScaleStarted { run } => {
                self.update(Action::RunStarted {
                    run,
                    method: self.method,
                });
                self.scaling_run = true;
                self.scale_points.clear();
                self.tab = Tab::Scaling;
                Effect::Redraw
            }
            Action::NextTab => {
                let i = Tab::ALL.iter().position(|t| *t == self.tab).unwrap_or(0);
                self.tab = Tab::ALL[(i + 1) % Tab::ALL.len()];
                Effect::Redraw
            }
            Action::ShowTab(t) => {
                self.tab = t;
                Effect::Redraw
            }
            Action::RunStarted { run, method } => {
                if self.events.len() == event_log::LOG_EVENTS {
                    self.events.pop_front();
                }
                self.events.push_back(event_log::LogEvent {
                    at: Duration::ZERO,
                    text: format!("── run {run} of {} with {method} ──", self.scenario.title),
                    alarm: false,
                });
                self.scaling_run = false;
                self.run = run;
                self.method = method;
                self.status = RunStatus::Running;
                self.snapshot = Snapshot {
                    run,
                    system: std::mem::take(&mut self.snapshot.system),
                    ..Default::default()
                };
                self.cpu_history.clear();
                self.peak_mem = (0, 0);
                self.depth_history.clear();
                self.queue_rates.clear();
                self.method_rates.clear();
                self.log.clear();
                self.selected = 0;
                Effect::Redraw
            }
            Action::LaunchFailed(e) => {
                self.status = RunStatus::Failed(e);
                Effect::Redraw
            }
            Action::Resize => Effect::Redraw,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Overrides, parse};
    use crate::telemetry::sampler::Live;

    fn app() -> App {
        let text = "[scenario]\ntitle = \"t\"\nexplain = \"e\"\n[main]\nsteps = []\n";
        let sc = parse("t.toml", text, &Overrides::default()).unwrap();
        App::new(Arc::new(sc), 4.0)
    }

    #[test]
    fn rerun_and_next_method_ask_for_a_launch() {
        let mut a = app();
        assert_eq!(a.update(Action::Rerun), Effect::Launch(StartMethod::Fork));
        assert_eq!(
            a.update(Action::NextMethod),
            Effect::Launch(StartMethod::Spawn)
        );
        a.update(Action::RunStarted {
            run: 2,
            method: StartMethod::Spawn,
        });
        assert_eq!(
            a.update(Action::NextMethod),
            Effect::Launch(StartMethod::Forkserver)
        );
        assert_eq!(a.update(Action::Quit), Effect::Quit);
    }

    #[test]
    fn history_and_log_are_bounded() {
        let mut a = app();
        a.update(Action::RunStarted {
            run: 1,
            method: StartMethod::Fork,
        });
        for i in 0..(HISTORY + 10) {
            let mut s = Snapshot {
                run: 1,
                ..Default::default()
            };
            s.procs.push(crate::telemetry::board_view::ProcRow {
                slot: 0,
                name: "main".into(),
                role: None,
                method: None,
                index: 0,
                pid: 7,
                os_ppid: 1,
                logical_ppid: 1,
                state: crate::runtime::board::ProcState::Running,
                ..Default::default()
            });
            s.live.insert(
                7,
                Live {
                    cpu_pct: i as f64,
                    ..Default::default()
                },
            );
            a.update(Action::Sample(Box::new(s)));
        }
        assert_eq!(a.cpu_history[&7].len(), HISTORY);
        assert_eq!(*a.cpu_history[&7].back().unwrap(), (HISTORY + 9) as f64);
        for i in 0..(LOG_LINES + 5) {
            a.update(Action::Output(i.to_string()));
        }
        assert_eq!(a.log.len(), LOG_LINES);
        assert_eq!(a.log.front().unwrap(), "5");
    }

    #[test]
    fn a_sample_of_an_old_run_is_ignored_and_a_finished_run_is_recorded() {
        let mut a = app();
        a.update(Action::RunStarted {
            run: 3,
            method: StartMethod::Fork,
        });
        let mut old = Snapshot {
            run: 2,
            ..Default::default()
        };
        old.procs.push(Default::default());
        assert_eq!(a.update(Action::Sample(Box::new(old))), Effect::None);
        a.update(Action::RunEnded {
            exit: 0,
            wall: Duration::from_secs(2),
            rows: Vec::new(),
        });
        assert_eq!(a.runs.len(), 1);
        assert!(matches!(a.status, RunStatus::Finished { exit: 0, .. }));
    }

    #[test]
    fn kill_asks_first_and_only_signals_live_processes_of_the_run() {
        let mut a = app();
        a.update(Action::RunStarted {
            run: 1,
            method: StartMethod::Fork,
        });
        assert_eq!(
            a.update(Action::KillSelected),
            Effect::Redraw,
            "nothing selected yet"
        );
        assert!(
            a.notice
                .as_deref()
                .unwrap()
                .contains("select a running process")
        );
        let mut s = Snapshot {
            run: 1,
            ..Default::default()
        };
        s.procs.push(crate::telemetry::board_view::ProcRow {
            pid: 42,
            name: "pool worker 1".into(),
            state: crate::runtime::board::ProcState::Running,
            ..Default::default()
        });
        a.update(Action::Sample(Box::new(s)));
        assert_eq!(a.update(Action::KillSelected), Effect::Redraw);
        assert!(
            a.notice
                .as_deref()
                .unwrap()
                .contains("SIGKILL pool worker 1 (pid 42)? y / n")
        );
        assert_eq!(
            a.update(Action::Confirm(true)),
            Effect::Signal(42, nix::sys::signal::Signal::SIGKILL)
        );
        a.update(Action::KillSelected);
        assert_eq!(
            a.update(Action::Confirm(false)),
            Effect::Redraw,
            "n cancels"
        );
        a.update(Action::KillSelected);
        a.update(Action::SelectNext);
        assert_eq!(
            a.update(Action::Confirm(true)),
            Effect::Redraw,
            "any other key cancels"
        );
        assert_eq!(
            a.update(Action::StopSelected),
            Effect::Signal(42, nix::sys::signal::Signal::SIGSTOP)
        );
    }

    #[test]
    fn selection_stays_within_the_rows() {
        let mut a = app();
        a.update(Action::SelectPrev);
        assert_eq!(a.selected, 0);
        a.update(Action::SelectNext);
        assert_eq!(a.selected, 0);
    }
}
