//! The dashboard's state and the one function that changes it.
//!
//! Every way the state changes is an [`Action`]; [`App::update`] handles them
//! all and answers with an [`Effect`] for the run loop to carry out (start a
//! run, quit). Drawing reads an `&App` and changes nothing.

pub mod event_log;
pub mod keys;
pub mod process_tree;
pub mod recording;
pub mod timeline;
mod update;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::board::StartMethod;
use crate::scenario::Scenario;
use crate::scenario::main_process::SCALE_POINT;
use crate::scenario::scaling::Point;
use crate::session::Source;
use crate::telemetry::board_view::ProcRow;
use crate::telemetry::snapshot::Snapshot;
use crate::telemetry::stats::{RunStats, summarise};

/// CPU samples kept per process (the sparkline).
pub const HISTORY: usize = 60;
/// Output lines kept.
pub const LOG_LINES: usize = 500;

/// A line the run printed, and which process printed it (0: not known, e.g.
/// a watched command's output or a runtime error).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Printed {
    pub pid: i32,
    pub line: String,
}

impl From<String> for Printed {
    fn from(line: String) -> Printed {
        Printed { pid: 0, line }
    }
}

impl From<&str> for Printed {
    fn from(line: &str) -> Printed {
        Printed {
            pid: 0,
            line: line.into(),
        }
    }
}

/// A question waiting for `y` (every other key answers no).
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// SIGKILL this process (pid, name)?
    Kill(i32, String),
    /// Quit while the run is live (its processes will be killed)?
    Quit,
}

/// Everything that can happen to the dashboard, grouped by what it is
/// about: each group has one handler whose `match` is exhaustive, so a new
/// action cannot be forgotten.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Quit now (Ctrl-C, a signal, the end of a replay).
    Quit,
    /// `q`: quit, asking first while a run is live.
    AskQuit,
    /// Something to tell the user in the hint bar.
    Notice(String),
    Run(RunAction),
    Data(DataAction),
    Control(ControlAction),
    Nav(NavAction),
    Time(TimeAction),
    Tree(TreeAction),
    Settings(SettingsAction),
    Picker(PickerAction),
}

/// Runs: start, end, choose what runs next.
#[derive(Debug, Clone, PartialEq)]
pub enum RunAction {
    Rerun,
    NextMethod,
    /// The run's main process ended; `rows` is the board as it was left.
    RunEnded {
        exit: i32,
        wall: Duration,
        rows: Vec<ProcRow>,
    },
    /// Measure the scenario's `[scaling]` as the next run.
    MeasureScaling,
    /// A scaling run started (after `Effect::LaunchScale`).
    ScaleStarted {
        run: u64,
    },
    /// A run started (after `Effect::Launch`).
    RunStarted {
        run: u64,
        method: StartMethod,
    },
    /// Starting a run failed.
    LaunchFailed(String),
    /// A scenario chosen in the picker, loaded and checked.
    ScenarioLoaded(Arc<Scenario>),
}

/// What a run produces: samples and output.
#[derive(Debug, Clone, PartialEq)]
pub enum DataAction {
    /// A sample of the current run.
    Sample(Box<Snapshot>),
    /// A line the run printed.
    Output(Printed),
}

/// Signals to the selected process, and the answer to a question.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlAction {
    /// Ask to SIGKILL the selected process (confirmed with `y`).
    KillSelected,
    /// SIGSTOP the selected process (watch its queue fill).
    StopSelected,
    /// SIGCONT the selected process.
    ContinueSelected,
    /// Answer to a pending confirmation.
    Confirm(bool),
}

/// Moving around: tabs, selection, help, the waits, zoom, the terminal's size.
#[derive(Debug, Clone, PartialEq)]
pub enum NavAction {
    /// Move in the list on screen (processes, the Log): a page, the ends.
    PageUp,
    PageDown,
    Home,
    End,
    ToggleHelp,
    /// Show or hide who waits for whom (the wait-for graph).
    ToggleWaits,
    SelectNext,
    SelectPrev,
    /// Show the next tab.
    NextTab,
    /// Show this tab.
    ShowTab(Tab),
    /// The terminal's size (columns, rows).
    Resize(u16, u16),
    /// Give the next panel the whole screen (then back).
    CycleZoom,
    /// Select this row of the process table (a click on it: the view knows
    /// where rows are drawn, see `ui::click`).
    SelectRow(usize),
    /// Scroll the help by this many lines.
    ScrollHelp(i32),
}

/// Time travel through the run's samples.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeAction {
    /// Step back or forward through the run's samples (time travel).
    TimeBack,
    TimeForward,
}

/// The process tree's sort, folds and filter.
#[derive(Debug, Clone, PartialEq)]
pub enum TreeAction {
    /// Hide or show processes that have ended.
    ToggleEnded,
    /// Reverse the sort order.
    ReverseSort,
    /// Order siblings in the tree by the next key.
    CycleSort,
    /// Hide or show the selected process's children.
    ToggleCollapse,
    Collapse,
    Expand,
    /// Start typing a filter (`/`), type, confirm, or clear it.
    StartFilter,
    FilterChar(char),
    FilterBackspace,
    FilterDone,
    FilterCancel,
}

/// Sampling rate, freezing, workers for the next run.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingsAction {
    /// Freeze the display (the run goes on) or thaw it.
    ToggleFreeze,
    /// Sample more or less often.
    Faster,
    Slower,
    /// One worker more or less for the next run.
    MoreWorkers,
    FewerWorkers,
}

/// The scenario picker (`o`).
#[derive(Debug, Clone, PartialEq)]
pub enum PickerAction {
    /// Open the scenario picker (the run loop lists `scenarios/`).
    OpenPicker,
    /// The picker's entries: (path, title or the error reading it).
    PickerItems(Vec<(String, String)>),
    PickerChoose,
    PickerCancel,
}

/// A panel that can have the whole screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zoom {
    Processes,
    /// The pool or the shared resources.
    Panel,
    Output,
    Explain,
}

impl Zoom {
    fn next(z: Option<Zoom>) -> Option<Zoom> {
        match z {
            None => Some(Zoom::Processes),
            Some(Zoom::Processes) => Some(Zoom::Panel),
            Some(Zoom::Panel) => Some(Zoom::Output),
            Some(Zoom::Output) => Some(Zoom::Explain),
            Some(Zoom::Explain) => None,
        }
    }
}

/// The scenario picker (`o`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Picker {
    /// (path, title or why it cannot be read).
    pub items: Vec<(String, String)>,
    pub selected: usize,
}

/// Refresh rates `[` and `]` step through (Hz).
pub const RATES: [f64; 7] = [0.5, 1.0, 2.0, 4.0, 10.0, 20.0, 30.0];

/// What the run loop must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    None,
    Redraw,
    /// Kill the current run and start a new one with this method.
    Launch(StartMethod),
    /// Kill the current run and measure scaling instead.
    LaunchScale,
    /// Send this signal to this process of the run.
    Signal(i32, nix::sys::signal::Signal),
    /// Sample at this rate (Hz) from now on.
    SetRate(f64),
    /// List the scenario files for the picker.
    ListScenarios,
    /// Load this scenario file; launch it if it is valid.
    Open(String),
    /// The run's last moment is complete (the first sample after its end
    /// gave the final depths and counts): redraw, and save it if recording.
    RunSettled,
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

    /// The tab's name on screen, in the user's language.
    pub fn shown(self) -> String {
        match self {
            Tab::Live => crate::t!("tab-live"),
            Tab::Compare => crate::t!("tab-compare"),
            Tab::Scaling => crate::t!("tab-scaling"),
            Tab::Log => crate::t!("tab-log"),
        }
    }
}

/// The Live tab's view of the run: the selected row, the tree's sort,
/// folds and filter, the zoomed panel, the wait-for graph.
#[derive(Debug, Clone, Default)]
pub struct LiveView {
    pub selected: usize,
    /// Sort, collapse and filter of the process tree.
    pub tree: process_tree::TreeView,
    /// Typing a filter: keys go into it.
    pub editing_filter: bool,
    pub zoom: Option<Zoom>,
    /// The wait-for graph is open.
    pub show_waits: bool,
    /// Thread rows are folded under their processes (the screen is short).
    pub threads_folded: bool,
}

/// The Compare tab's view.
#[derive(Debug, Clone, Default)]
pub struct CompareView {
    /// The scenario whose runs are shown (`None`: the current one).
    pub group: Option<String>,
}

/// The Scaling tab's view.
#[derive(Debug, Clone, Default)]
pub struct ScalingView {
    /// First row of the Points table shown.
    pub points_scroll: usize,
}

/// The Log tab's view.
#[derive(Debug, Clone, Default)]
pub struct LogView {
    /// Lines scrolled up from the newest.
    pub scroll: usize,
    pub filter: String,
}

/// What is drawn over the tabs, whichever is shown.
#[derive(Debug, Clone, Default)]
pub struct Overlays {
    /// The help is open, and its first line shown (small terminals scroll it).
    pub help: bool,
    pub help_scroll: usize,
    /// The scenario picker (`o`).
    pub picker: Option<Picker>,
    /// A question waiting for `y`.
    pub confirm: Option<Question>,
    /// Why a key did nothing, shown in the hint bar until the next key.
    pub notice: Option<String>,
}

/// The current run, as the dashboard knows it: which it is, how it goes,
/// and every sample and line it produced.
#[derive(Debug, Clone)]
pub struct RunState {
    /// The run's number (0: none yet).
    pub id: u64,
    pub status: RunStatus,
    /// The moment shown.
    pub snapshot: Arc<Snapshot>,
    /// CPU % of one core per pid, oldest first.
    pub cpu_history: HashMap<i32, VecDeque<f64>>,
    /// The run's output, the newest [`LOG_LINES`].
    pub log: VecDeque<Printed>,
    /// Lines the run has printed in all (the first in `log` is line
    /// `printed - log.len()`).
    pub printed: u64,
    /// Every sample of this run, for time travel and `--record`.
    pub timeline: timeline::Timeline,
    /// The moment shown, when stepping through time (an index into
    /// `timeline`); `None`: the newest.
    pub travel: Option<usize>,
    /// The display is frozen or stepping through time; the run goes on.
    pub frozen: bool,
    /// Peak summed PSS and RSS of the run's workers.
    pub peak_mem: (u64, u64),
    /// The run measures scaling rather than running `[main]`.
    pub scaling: bool,
    /// Queue depth per queue name, oldest first.
    pub depth_history: HashMap<String, VecDeque<u64>>,
    /// Puts and gets per second per queue, between the last two samples.
    pub queue_rates: HashMap<String, (f64, f64)>,
    /// Calls per second of each manager proxy method, by `manager/method`.
    pub method_rates: HashMap<String, f64>,
    /// The run just ended: the next sample completes its last moment.
    pub(super) refresh_after_end: bool,
}

impl Default for RunState {
    fn default() -> RunState {
        RunState {
            id: 0,
            status: RunStatus::Starting,
            snapshot: Default::default(),
            cpu_history: HashMap::new(),
            log: VecDeque::new(),
            printed: 0,
            timeline: Default::default(),
            travel: None,
            frozen: false,
            peak_mem: (0, 0),
            scaling: false,
            depth_history: HashMap::new(),
            queue_rates: HashMap::new(),
            method_rates: HashMap::new(),
            refresh_after_end: false,
        }
    }
}

/// The dashboard's state: what runs and how (the source, the scenario, the
/// settings for the next run), the current run, what finished runs left,
/// each tab's view, and the overlays.
#[derive(Debug, Clone)]
pub struct App {
    pub scenario: Arc<Scenario>,
    /// Where the runs come from: a scenario, a command, a Python program,
    /// or a recording played back.
    pub source: Source,
    /// The start method of the current (and next) run.
    pub method: StartMethod,
    /// Pool workers for the next run (`+`/`-`).
    pub workers: usize,
    /// The interpreter a Python program chosen in the picker runs with.
    pub python: String,
    pub rate_hz: f64,
    pub current: RunState,
    /// Finished runs, for the Compare tab.
    pub runs: Vec<RunStats>,
    /// Points of the latest scaling measurement, as they arrive.
    pub scale_points: Vec<Point>,
    /// What happened, across runs (bounded).
    pub events: VecDeque<event_log::LogEvent>,
    pub tab: Tab,
    /// The terminal's size, for mouse clicks.
    pub term: (u16, u16),
    /// See [`App::rows`].
    rows: Vec<Option<i32>>,
    pub live: LiveView,
    pub compare: CompareView,
    pub scaling: ScalingView,
    pub logs: LogView,
    pub overlay: Overlays,
}

impl App {
    pub fn new(scenario: Arc<Scenario>, rate_hz: f64) -> App {
        let workers = scenario.pool.workers;
        App {
            method: scenario.start_method,
            scenario,
            source: Source::Scenario,
            workers,
            python: "python3".into(),
            rate_hz,
            current: RunState::default(),
            runs: Vec::new(),
            scale_points: Vec::new(),
            events: VecDeque::new(),
            tab: Tab::Live,
            term: (0, 0),
            rows: Vec::new(),
            live: Default::default(),
            compare: Default::default(),
            scaling: Default::default(),
            logs: Default::default(),
            overlay: Default::default(),
        }
    }

    /// CPU and depth histories and put/get rates, from this sample and the
    /// one before it.
    fn absorb(&mut self, prev: &Snapshot, s: &Snapshot) {
        for (pid, live) in &s.live {
            let h = self.current.cpu_history.entry(*pid).or_default();
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(live.cpu_pct);
        }
        let known: std::collections::HashSet<i32> = s.procs.iter().map(|p| p.pid).collect();
        self.current
            .cpu_history
            .retain(|pid, _| known.contains(pid));
        self.track_queues(prev, s);
    }

    /// Depth history and put/get rates, from this sample and the previous one.
    fn track_queues(&mut self, prev: &Snapshot, s: &Snapshot) {
        use crate::telemetry::board_view::ResourceView;
        let dt = s.elapsed.saturating_sub(prev.elapsed).as_secs_f64();
        for r in &s.resources {
            if let ResourceView::Manager { name, methods, .. } = r {
                let before = prev.resources.iter().find_map(|p| match p {
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
                        self.current.method_rates.insert(
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
            let h = self.current.depth_history.entry(name.clone()).or_default();
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(*depth as u64);
            let before = prev.resources.iter().find_map(|p| match p {
                ResourceView::Queue {
                    name: n,
                    puts,
                    gets,
                    ..
                } if n == name => Some((*puts, *gets)),
                _ => None,
            });
            if let (Some((p0, g0)), true) = (before, dt > 0.0) {
                self.current.queue_rates.insert(
                    name.clone(),
                    (
                        puts.saturating_sub(p0) as f64 / dt,
                        gets.saturating_sub(g0) as f64 / dt,
                    ),
                );
            }
        }
    }

    /// The scenario whose runs the Compare tab shows.
    pub fn compare_title(&self) -> &str {
        self.compare
            .group
            .as_deref()
            .unwrap_or(&self.scenario.title)
    }

    /// The scenario as the next run should start it (with `+`/`-` applied).
    pub fn launch_scenario(&self) -> Arc<Scenario> {
        if self.workers == self.scenario.pool.workers {
            return self.scenario.clone();
        }
        let mut sc = (*self.scenario).clone();
        sc.pool.workers = self.workers;
        Arc::new(sc)
    }

    /// The process table's rows (`None`: a thread row), as drawn: worked
    /// out once when the sample or the tree view changes, not per use.
    pub fn rows(&self) -> &[Option<i32>] {
        &self.rows
    }

    /// The table's rows; a multi-threaded process's thread rows fold under
    /// it when the screen cannot show them all (the processes come first).
    pub(crate) fn refresh_rows(&mut self) {
        let snap = &self.current.snapshot;
        let full = process_tree::row_kinds(snap, &self.live.tree, true);
        // The table's room: the screen less the header and hint bar, a
        // stuck banner (about 6 rows), the panels' floor and the borders.
        let banner = if snap.stuck.is_some() { 6 } else { 0 };
        let room = (self.term.1 as usize).saturating_sub(3 + banner + 8 + 3);
        self.live.threads_folded =
            self.term.1 > 0 && full.len() > room && full.iter().any(Option::is_none);
        self.rows = if self.live.threads_folded {
            process_tree::row_kinds(snap, &self.live.tree, false)
        } else {
            full
        };
    }

    /// The selected row's pid, live or not.
    fn selected_pid(&self) -> Option<i32> {
        self.rows().get(self.live.selected).copied().flatten()
    }

    /// The selected row's process, if it is a live process of this run.
    /// Whether the Live tab has a Pool panel: the scenario runs a pool, or
    /// a probed Python program made one.
    pub fn shows_pool(&self) -> bool {
        self.scenario.uses_pool() || self.current.snapshot.pool.is_some()
    }

    /// Whose stacks the STACK panel shows: the selected process (a thread
    /// row's own process), else the first process that has stacks.
    pub fn stack_pid(&self) -> Option<i32> {
        let snap = &self.current.snapshot;
        let rows = self.rows();
        let upto = self.live.selected.min(rows.len().saturating_sub(1));
        rows.get(..=upto)
            .and_then(|r| r.iter().rev().find_map(|p| *p))
            .filter(|p| snap.stacks.get(p).is_some_and(|v| !v.threads.is_empty()))
            .or_else(|| {
                snap.procs
                    .iter()
                    .find(|p| {
                        p.alive()
                            && snap
                                .stacks
                                .get(&p.pid)
                                .is_some_and(|v| !v.threads.is_empty())
                    })
                    .map(|p| p.pid)
            })
    }

    /// The Live tab has a STACK panel: the run's Python stacks are read
    /// from outside (an attached tree, a Python program).
    pub fn shows_stacks(&self) -> bool {
        let snap = &self.current.snapshot;
        self.source.attached().is_some()
            || snap.procs.iter().any(|p| {
                p.alive()
                    && snap
                        .stacks
                        .get(&p.pid)
                        .is_some_and(|v| !v.threads.is_empty())
            })
    }

    pub fn selected_process(&self) -> Option<(i32, String)> {
        let pid = self.selected_pid()?;
        let p = self
            .current
            .snapshot
            .procs
            .iter()
            .find(|p| p.pid == pid && p.alive())?;
        Some((p.pid, p.name.clone()))
    }

    fn refuse(&mut self) -> Effect {
        self.overlay.notice = Some(crate::t!("notice-select-first"));
        Effect::Redraw
    }

    /// Applies one action.
    pub fn update(&mut self, action: Action) -> Effect {
        if !matches!(
            action,
            Action::Data(DataAction::Sample(_)) | Action::Data(DataAction::Output(_))
        ) {
            self.overlay.notice = None;
            if !matches!(action, Action::Control(ControlAction::Confirm(_))) {
                self.overlay.confirm = None;
            }
        }
        let runs = matches!(
            action,
            Action::Run(RunAction::Rerun)
                | Action::Run(RunAction::NextMethod)
                | Action::Run(RunAction::MeasureScaling)
                | Action::Picker(PickerAction::OpenPicker)
                | Action::Control(ControlAction::KillSelected)
                | Action::Control(ControlAction::StopSelected)
                | Action::Control(ControlAction::ContinueSelected)
                | Action::Settings(SettingsAction::MoreWorkers)
                | Action::Settings(SettingsAction::FewerWorkers)
        );
        if runs && let Some(file) = self.source.replay() {
            self.overlay.notice = Some(crate::t!("notice-replay", file = file));
            return Effect::Redraw;
        }
        // A probed Python program may open another program or scenario;
        // nothing else of a watched command can be chosen.
        let choice = matches!(
            action,
            Action::Run(RunAction::NextMethod) | Action::Run(RunAction::MeasureScaling)
        ) || (action == Action::Picker(PickerAction::OpenPicker)
            && !self.source.is_probed());
        if choice && self.source.is_foreign() {
            self.overlay.notice = Some(if self.source.attached().is_some() {
                crate::t!("notice-attached-no-choice")
            } else {
                crate::t!("notice-foreign-no-choice")
            });
            return Effect::Redraw;
        }
        match action {
            Action::Quit => Effect::Quit,
            Action::AskQuit => {
                let live = matches!(
                    self.current.status,
                    RunStatus::Running | RunStatus::Starting
                ) && self.current.id > 0;
                // Quitting an attached tree detaches: nothing is killed.
                if !live || self.source.attached().is_some() {
                    return Effect::Quit;
                }
                self.overlay.confirm = Some(Question::Quit);
                self.overlay.notice = Some(crate::t!("notice-quit-ask"));
                Effect::Redraw
            }
            Action::Notice(n) => {
                self.overlay.notice = Some(n);
                Effect::Redraw
            }
            Action::Run(a) => self.on_run(a),
            Action::Data(a) => self.on_data(a),
            Action::Control(a) => self.on_control(a),
            Action::Nav(a) => self.on_navigation(a),
            Action::Time(a) => self.on_time(a),
            Action::Tree(a) => self.on_tree(a),
            Action::Settings(a) => self.on_settings(a),
            Action::Picker(a) => self.on_picker(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Overrides, parse};
    use crate::telemetry::snapshot::Live;

    fn app() -> App {
        let text = "[scenario]\ntitle = \"t\"\nexplain = \"e\"\n[main]\nsteps = []\n";
        let sc = parse("t.toml", text, &Overrides::default()).unwrap();
        App::new(Arc::new(sc), 4.0)
    }

    #[test]
    fn rerun_and_next_method_ask_for_a_launch() {
        let mut a = app();
        assert_eq!(
            a.update(Action::Run(RunAction::Rerun)),
            Effect::Launch(StartMethod::Fork)
        );
        assert_eq!(
            a.update(Action::Run(RunAction::NextMethod)),
            Effect::Launch(StartMethod::Spawn)
        );
        a.update(Action::Run(RunAction::RunStarted {
            run: 2,
            method: StartMethod::Spawn,
        }));
        assert_eq!(
            a.update(Action::Run(RunAction::NextMethod)),
            Effect::Launch(StartMethod::Forkserver)
        );
        assert_eq!(a.update(Action::Quit), Effect::Quit);
    }

    #[test]
    fn history_and_log_are_bounded() {
        let mut a = app();
        a.update(Action::Run(RunAction::RunStarted {
            run: 1,
            method: StartMethod::Fork,
        }));
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
            a.update(Action::Data(DataAction::Sample(Box::new(s))));
        }
        assert_eq!(a.current.cpu_history[&7].len(), HISTORY);
        assert_eq!(
            *a.current.cpu_history[&7].back().unwrap(),
            (HISTORY + 9) as f64
        );
        for i in 0..(LOG_LINES + 5) {
            a.update(Action::Data(DataAction::Output(i.to_string().into())));
        }
        assert_eq!(a.current.log.len(), LOG_LINES);
        assert_eq!(a.current.log.front().unwrap().line, "5");
        assert_eq!(a.current.printed, (LOG_LINES + 5) as u64);
    }

    #[test]
    fn a_sample_of_an_old_run_is_ignored_and_a_finished_run_is_recorded() {
        let mut a = app();
        a.update(Action::Run(RunAction::RunStarted {
            run: 3,
            method: StartMethod::Fork,
        }));
        let mut old = Snapshot {
            run: 2,
            ..Default::default()
        };
        old.procs.push(Default::default());
        assert_eq!(
            a.update(Action::Data(DataAction::Sample(Box::new(old)))),
            Effect::None
        );
        a.update(Action::Run(RunAction::RunEnded {
            exit: 0,
            wall: Duration::from_secs(2),
            rows: Vec::new(),
        }));
        assert_eq!(a.runs.len(), 1);
        assert!(matches!(
            a.current.status,
            RunStatus::Finished { exit: 0, .. }
        ));
    }

    #[test]
    fn kill_asks_first_and_only_signals_live_processes_of_the_run() {
        let mut a = app();
        a.update(Action::Run(RunAction::RunStarted {
            run: 1,
            method: StartMethod::Fork,
        }));
        assert_eq!(
            a.update(Action::Control(ControlAction::KillSelected)),
            Effect::Redraw,
            "nothing selected yet"
        );
        assert!(
            a.overlay
                .notice
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
        a.update(Action::Data(DataAction::Sample(Box::new(s))));
        assert_eq!(
            a.update(Action::Control(ControlAction::KillSelected)),
            Effect::Redraw
        );
        assert!(
            a.overlay
                .notice
                .as_deref()
                .unwrap()
                .contains("SIGKILL pool worker 1 (pid 42)? y / n")
        );
        assert_eq!(
            a.update(Action::Control(ControlAction::Confirm(true))),
            Effect::Signal(42, nix::sys::signal::Signal::SIGKILL)
        );
        a.update(Action::Control(ControlAction::KillSelected));
        assert_eq!(
            a.update(Action::Control(ControlAction::Confirm(false))),
            Effect::Redraw,
            "n cancels"
        );
        a.update(Action::Control(ControlAction::KillSelected));
        a.update(Action::Nav(NavAction::SelectNext));
        assert_eq!(
            a.update(Action::Control(ControlAction::Confirm(true))),
            Effect::Redraw,
            "any other key cancels"
        );
        assert_eq!(
            a.update(Action::Control(ControlAction::StopSelected)),
            Effect::Signal(42, nix::sys::signal::Signal::SIGSTOP)
        );
    }

    #[test]
    fn selection_stays_within_the_rows() {
        let mut a = app();
        a.update(Action::Nav(NavAction::SelectPrev));
        assert_eq!(a.live.selected, 0);
        a.update(Action::Nav(NavAction::SelectNext));
        assert_eq!(a.live.selected, 0);
    }

    fn pool_app() -> App {
        let sc = parse(
            "scenarios/pool.toml",
            include_str!("../../scenarios/pool.toml"),
            &Overrides::default(),
        )
        .unwrap();
        let mut a = App::new(Arc::new(sc), 4.0);
        a.update(Action::Run(RunAction::RunStarted {
            run: 1,
            method: StartMethod::Fork,
        }));
        a
    }

    fn sample(pids: &[(i32, i32, &str)]) -> Snapshot {
        let mut s = Snapshot {
            run: 1,
            ..Default::default()
        };
        for &(pid, parent, name) in pids {
            s.procs.push(crate::telemetry::board_view::ProcRow {
                pid,
                logical_ppid: parent,
                name: name.into(),
                state: crate::runtime::board::ProcState::Running,
                ..Default::default()
            });
        }
        s
    }

    #[test]
    fn thread_rows_fold_under_their_process_on_a_short_screen() {
        let mut a = pool_app();
        let mut s = sample(&[(10, 1, "main"), (11, 10, "worker")]);
        s.threads.insert(
            10,
            (0..12)
                .map(|i| crate::telemetry::snapshot::ThreadLive {
                    tid: 100 + i,
                    name: format!("t{i}"),
                    ..Default::default()
                })
                .collect(),
        );
        a.update(Action::Data(DataAction::Sample(Box::new(s))));
        a.update(Action::Nav(NavAction::Resize(120, 60)));
        assert!(!a.live.threads_folded);
        assert_eq!(a.rows().len(), 14, "two processes and twelve threads");
        a.update(Action::Nav(NavAction::Resize(80, 24)));
        assert!(a.live.threads_folded);
        assert_eq!(a.rows(), &[Some(10), Some(11)][..]);
    }

    #[test]
    fn freeze_holds_samples_and_output_until_thawed() {
        let mut a = pool_app();
        a.update(Action::Data(DataAction::Sample(Box::new(sample(&[(
            10, 1, "main",
        )])))));
        assert_eq!(
            a.update(Action::Settings(SettingsAction::ToggleFreeze)),
            Effect::Redraw
        );
        assert!(a.current.frozen);
        let newer = sample(&[(10, 1, "main"), (11, 10, "pool worker 1")]);
        assert_eq!(
            a.update(Action::Data(DataAction::Sample(Box::new(newer)))),
            Effect::None
        );
        assert_eq!(
            a.update(Action::Data(DataAction::Output("later".into()))),
            Effect::None
        );
        assert_eq!(
            a.current.snapshot.procs.len(),
            1,
            "the display stays as it was"
        );
        assert_eq!(
            a.shown_log().count(),
            0,
            "output after the moment shown is not shown"
        );
        assert_eq!(a.current.log.len(), 1, "but it is kept");
        a.update(Action::Settings(SettingsAction::ToggleFreeze));
        assert_eq!(a.current.snapshot.procs.len(), 2, "thawing catches up");
        assert_eq!(a.shown_log().last().map(|p| p.line.as_str()), Some("later"));
    }

    fn queue_sample(ms: u64, depth: usize, alive: bool) -> Snapshot {
        use crate::telemetry::board_view::ResourceView;
        let mut s = sample(&[(10, 1, "main"), (11, 10, "producer")]);
        s.run = 1;
        s.elapsed = Duration::from_millis(ms);
        if !alive {
            s.procs[1].state = crate::runtime::board::ProcState::Exited;
            s.procs[1].exitcode = Some(-9);
        }
        s.resources.push(ResourceView::Queue {
            name: "q".into(),
            joinable: false,
            depth,
            capacity: 0,
            puts: depth as u64,
            gets: 0,
            lost_put: 0,
            lost_get: 0,
            waiting_getters: 0,
            waiting_putters: 0,
        });
        s
    }

    #[test]
    fn after_the_end_time_steps_back_to_earlier_moments() {
        let mut a = pool_app();
        a.update(Action::Run(RunAction::RunStarted {
            run: 1,
            method: StartMethod::Fork,
        }));
        for i in 0..10 {
            a.update(Action::Data(DataAction::Sample(Box::new(queue_sample(
                i * 100,
                i as usize,
                i < 6,
            )))));
            a.update(Action::Data(DataAction::Output(format!("line {i}").into())));
        }
        let rows = a.current.snapshot.procs.clone();
        a.update(Action::Run(RunAction::RunEnded {
            exit: 0,
            wall: Duration::from_secs(1),
            rows,
        }));
        // The first sample after the end completes the last moment (the
        // board's final depth); later ones do not flatten anything.
        a.update(Action::Data(DataAction::Sample(Box::new(queue_sample(
            1100, 4, false,
        )))));
        assert_eq!(a.current.depth_history["q"].back(), Some(&4));
        a.update(Action::Data(DataAction::Sample(Box::new(queue_sample(
            2000, 0, false,
        )))));
        assert_eq!(a.current.depth_history["q"].back(), Some(&4));
        for _ in 0..8 {
            a.update(Action::Time(TimeAction::TimeBack));
        }
        assert_eq!(a.current.travel, Some(3));
        assert_eq!(a.current.snapshot.elapsed, Duration::from_millis(300));
        assert!(
            a.current.snapshot.procs[1].alive(),
            "the producer was alive then"
        );
        assert_eq!(
            a.current.depth_history["q"]
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            a.shown_log().map(|p| p.line.as_str()).collect::<Vec<_>>(),
            ["line 0", "line 1", "line 2"],
            "the output printed before that sample"
        );
        for _ in 0..20 {
            a.update(Action::Time(TimeAction::TimeForward));
        }
        assert_eq!(a.current.travel, None);
        assert_eq!(a.shown_log().count(), 10);
    }

    #[test]
    fn the_log_says_how_each_run_ended_even_one_replaced_mid_run() {
        let mut a = pool_app();
        a.update(Action::Run(RunAction::RunStarted {
            run: 1,
            method: StartMethod::Fork,
        }));
        a.update(Action::Run(RunAction::RunStarted {
            run: 2,
            method: StartMethod::Spawn,
        }));
        a.update(Action::Run(RunAction::RunEnded {
            exit: 0,
            wall: Duration::from_millis(1500),
            rows: vec![],
        }));
        let texts: Vec<&str> = a.events.iter().map(|e| e.text.as_str()).collect();
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("run 1 stopped before its end")),
            "{texts:?}"
        );
        assert!(texts.contains(&"run 2 finished after 1.50 s"), "{texts:?}");
    }

    #[test]
    fn q_asks_while_a_run_is_live_and_quits_at_once_when_it_is_not() {
        let mut a = pool_app();
        a.update(Action::Run(RunAction::RunStarted {
            run: 1,
            method: StartMethod::Fork,
        }));
        assert_eq!(a.update(Action::AskQuit), Effect::Redraw);
        assert_eq!(a.overlay.confirm, Some(Question::Quit));
        assert_eq!(
            a.update(Action::Control(ControlAction::Confirm(false))),
            Effect::Redraw
        );
        assert_eq!(
            a.overlay.notice.as_deref(),
            Some("not quitting: only y confirms")
        );
        a.update(Action::AskQuit);
        assert_eq!(
            a.update(Action::Control(ControlAction::Confirm(true))),
            Effect::Quit
        );
        a.update(Action::Run(RunAction::RunEnded {
            exit: 0,
            wall: Duration::from_secs(1),
            rows: vec![],
        }));
        assert_eq!(a.update(Action::AskQuit), Effect::Quit);
    }

    #[test]
    fn lists_page_and_jump_and_the_log_scrolls_and_filters() {
        let mut a = pool_app();
        let many: Vec<(i32, i32, &str)> = (0..100).map(|i| (100 + i, 1, "w")).collect();
        a.update(Action::Data(DataAction::Sample(Box::new(sample(&many)))));
        a.update(Action::Nav(NavAction::Resize(80, 24)));
        a.update(Action::Nav(NavAction::PageDown));
        assert_eq!(a.live.selected, 12);
        a.update(Action::Nav(NavAction::End));
        assert_eq!(a.live.selected, 99);
        a.update(Action::Nav(NavAction::Home));
        assert_eq!(a.live.selected, 0);
        a.update(Action::Tree(TreeAction::ToggleEnded));
        assert_eq!(a.rows().len(), 100, "none has ended");
        a.update(Action::Nav(NavAction::ShowTab(Tab::Log)));
        for i in 0..30 {
            a.events.push_back(event_log::LogEvent {
                at: Duration::ZERO,
                text: format!("event {i}"),
                alarm: false,
            });
        }
        a.update(Action::Nav(NavAction::PageUp));
        assert_eq!(a.logs.scroll, 12);
        a.update(Action::Nav(NavAction::Home));
        assert_eq!(a.logs.scroll, a.shown_events().count() - 1, "at the oldest");
        a.update(Action::Nav(NavAction::End));
        assert_eq!(a.logs.scroll, 0);
        a.update(Action::Tree(TreeAction::StartFilter));
        for c in "t 2".chars() {
            a.update(Action::Tree(TreeAction::FilterChar(c)));
        }
        assert_eq!(a.shown_events().count(), 11, "event 2, event 20..29");
        assert!(
            a.live.tree.filter.is_empty(),
            "the Log's filter, not the tree's"
        );
    }

    #[test]
    fn refresh_rate_steps_and_stays_in_bounds() {
        let mut a = pool_app();
        assert_eq!(
            a.update(Action::Settings(SettingsAction::Faster)),
            Effect::SetRate(10.0)
        );
        assert_eq!(
            a.update(Action::Settings(SettingsAction::Slower)),
            Effect::SetRate(4.0)
        );
        for _ in 0..10 {
            a.update(Action::Settings(SettingsAction::Slower));
        }
        assert_eq!(a.rate_hz, 0.5);
        for _ in 0..10 {
            a.update(Action::Settings(SettingsAction::Faster));
        }
        assert_eq!(a.rate_hz, 30.0);
    }

    #[test]
    fn workers_for_the_next_run() {
        let mut a = pool_app();
        let n = a.workers;
        a.update(Action::Settings(SettingsAction::MoreWorkers));
        assert_eq!(a.launch_scenario().pool.workers, n + 1);
        assert_eq!(
            a.scenario.pool.workers, n,
            "the loaded scenario is unchanged"
        );
        for _ in 0..(n + 5) {
            a.update(Action::Settings(SettingsAction::FewerWorkers));
        }
        assert_eq!(a.workers, 1);
        let mut plain = app();
        plain.update(Action::Settings(SettingsAction::MoreWorkers));
        assert!(plain.overlay.notice.as_deref().unwrap().contains("no pool"));
    }

    #[test]
    fn sort_collapse_filter_and_selection() {
        let mut a = pool_app();
        a.update(Action::Data(DataAction::Sample(Box::new(sample(&[
            (10, 1, "main"),
            (12, 10, "pool worker 2"),
            (11, 10, "pool worker 1"),
        ])))));
        assert_eq!(a.rows(), [Some(10), Some(12), Some(11)]);
        a.update(Action::Tree(TreeAction::CycleSort)); // CPU: equal, stays
        a.update(Action::Tree(TreeAction::CycleSort)); // RSS
        a.update(Action::Tree(TreeAction::CycleSort)); // PID
        assert_eq!(a.rows(), [Some(10), Some(11), Some(12)]);
        a.update(Action::Tree(TreeAction::ToggleCollapse));
        assert_eq!(a.rows(), [Some(10)], "main folded");
        a.update(Action::Tree(TreeAction::Expand));
        assert_eq!(a.rows().len(), 3);
        a.update(Action::Tree(TreeAction::StartFilter));
        for c in "worker 2".chars() {
            a.update(Action::Tree(TreeAction::FilterChar(c)));
        }
        a.update(Action::Tree(TreeAction::FilterDone));
        assert!(!a.live.editing_filter);
        assert_eq!(a.rows(), [Some(10), Some(12)]);
        a.update(Action::Nav(NavAction::SelectNext));
        assert_eq!(a.selected_process().map(|p| p.0), Some(12));
        a.update(Action::Tree(TreeAction::FilterCancel));
        assert!(a.live.tree.filter.is_empty());
    }

    /// A click as the run loop sees it: the view says what it means.
    fn click(a: &mut App, x: u16, y: u16) {
        if let Some(act) = crate::ui::click(a, x, y) {
            a.update(act);
        }
    }

    #[test]
    fn a_click_selects_the_row_under_it() {
        let mut a = pool_app();
        a.update(Action::Nav(NavAction::Resize(120, 40)));
        a.update(Action::Data(DataAction::Sample(Box::new(sample(&[
            (10, 1, "main"),
            (11, 10, "pool worker 1"),
            (12, 10, "pool worker 2"),
        ])))));
        // Header is 2 rows, then the table's border and column titles.
        click(&mut a, 10, 2 + 2 + 2);
        assert_eq!(a.live.selected, 2);
        click(&mut a, 10, 1);
        assert_eq!(
            a.live.selected, 2,
            "a click outside the table changes nothing"
        );
        // A click on a tab in the header shows it.
        let (_, tabs) = crate::ui::header::title(&a, a.term.0);
        let (x, _, tab) = tabs[3];
        assert_eq!(tab, Tab::Log);
        click(&mut a, x + 1, 0);
        assert_eq!(a.tab, Tab::Log);
    }

    #[test]
    fn zoom_cycles_and_the_picker_opens_a_scenario() {
        let mut a = pool_app();
        a.update(Action::Nav(NavAction::CycleZoom));
        assert_eq!(a.live.zoom, Some(Zoom::Processes));
        for _ in 0..4 {
            a.update(Action::Nav(NavAction::CycleZoom));
        }
        assert_eq!(a.live.zoom, None);
        assert_eq!(
            a.update(Action::Picker(PickerAction::OpenPicker)),
            Effect::ListScenarios
        );
        a.update(Action::Picker(PickerAction::PickerItems(vec![
            ("scenarios/pool.toml".into(), "Pool".into()),
            ("scenarios/queue.toml".into(), "Queue".into()),
        ])));
        assert_eq!(
            a.overlay.picker.as_ref().unwrap().selected,
            0,
            "starts on the current file"
        );
        a.update(Action::Nav(NavAction::SelectNext));
        assert_eq!(
            a.update(Action::Picker(PickerAction::PickerChoose)),
            Effect::Open("scenarios/queue.toml".into())
        );
        assert!(a.overlay.picker.is_none());
        let sc = parse(
            "scenarios/queue.toml",
            include_str!("../../scenarios/queue.toml"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            a.update(Action::Run(RunAction::ScenarioLoaded(Arc::new(sc)))),
            Effect::Launch(StartMethod::Fork)
        );
        assert_eq!(a.scenario.file, "scenarios/queue.toml");
    }
}
