//! `App::update`'s handlers, one per concern: each takes the actions of
//! its kind and answers with an [`Effect`].

use std::time::Duration;

use super::*;

impl App {
    /// Runs: start, end, rerun, another start method, scaling, a new scenario.
    pub(super) fn on_run(&mut self, action: RunAction) -> Effect {
        match action {
            RunAction::Rerun => Effect::Launch(self.method),
            RunAction::NextMethod | RunAction::MeasureScaling if self.source.is_foreign() => {
                self.overlay.notice = Some(crate::t!("notice-foreign-no-choice"));
                Effect::Redraw
            }
            RunAction::NextMethod => Effect::Launch(self.method.next()),
            RunAction::RunEnded { exit, wall, rows } => {
                self.current.status = RunStatus::Finished { exit, wall };
                if self.events.len() == event_log::LOG_EVENTS {
                    self.events.pop_front();
                }
                self.events.push_back(event_log::LogEvent {
                    at: wall,
                    text: if self.source.attached().is_some() {
                        // Not our child: its status went to its own parent.
                        crate::t!(
                            "log-attached-ended",
                            secs = format!("{:.2}", wall.as_secs_f64())
                        )
                    } else {
                        let secs = format!("{:.2}", wall.as_secs_f64());
                        let run = self.current.id.to_string();
                        match exit {
                            0 => crate::t!("log-run-finished", run = run, secs = secs),
                            e => crate::t!(
                                "log-run-failed",
                                run = run,
                                code = e.to_string(),
                                secs = secs
                            ),
                        }
                    },
                    alarm: exit != 0 && self.source.attached().is_none(),
                });
                // The board outlives its run: the next sample has the final
                // counts (the last one may be a quarter second old).
                self.current.refresh_after_end = self.source.replay().is_none();
                // The board as the run left it is its last moment.
                if self.current.id > 0 {
                    let mut last = self
                        .current
                        .timeline
                        .last()
                        .map(|f| (*f.snap).clone())
                        .unwrap_or_default();
                    last.run = self.current.id;
                    last.elapsed = last.elapsed.max(wall);
                    if !rows.is_empty() {
                        last.procs = end_rows(&rows, &last.procs);
                    }
                    let alive: std::collections::HashSet<i32> = last
                        .procs
                        .iter()
                        .filter(|p| p.alive())
                        .map(|p| p.pid)
                        .collect();
                    last.live.retain(|pid, _| alive.contains(pid));
                    last.threads.retain(|pid, _| alive.contains(pid));
                    self.record(Arc::new(last));
                }
                if self.current.scaling {
                    return Effect::Redraw;
                }
                let (pss, rss) = self.current.peak_mem;
                self.runs.push(summarise(
                    self.current.id,
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
            RunAction::MeasureScaling => {
                if self.scenario.scaling.is_none() {
                    self.overlay.notice = Some(crate::t!("notice-no-scaling"));
                    return Effect::Redraw;
                }
                Effect::LaunchScale
            }
            RunAction::ScaleStarted { run } => {
                self.on_run(RunAction::RunStarted {
                    run,
                    method: self.method,
                });
                self.current.scaling = true;
                self.scale_points.clear();
                self.tab = Tab::Scaling;
                Effect::Redraw
            }
            RunAction::RunStarted { run, method } => {
                if self.current.id > 0
                    && matches!(
                        self.current.status,
                        RunStatus::Running | RunStatus::Starting
                    )
                {
                    // The run shown is replaced before its end: say so.
                    if self.events.len() == event_log::LOG_EVENTS {
                        self.events.pop_front();
                    }
                    self.events.push_back(event_log::LogEvent {
                        at: self.current.snapshot.elapsed,
                        text: crate::t!("log-run-stopped", run = self.current.id.to_string()),
                        alarm: false,
                    });
                }
                if self.events.len() == event_log::LOG_EVENTS {
                    self.events.pop_front();
                }
                self.events.push_back(event_log::LogEvent {
                    at: Duration::ZERO,
                    text: crate::t!(
                        "log-run-header",
                        run = run.to_string(),
                        title = self.scenario.shown_title(),
                        method = method.to_string()
                    ),
                    alarm: false,
                });
                self.current.scaling = false;
                self.current.frozen = false;
                self.current.travel = None;
                self.current.timeline.clear();
                self.current.printed = 0;
                self.logs.scroll = 0;
                self.current.id = run;
                self.method = method;
                self.current.status = RunStatus::Running;
                self.current.snapshot = Arc::new(Snapshot {
                    run,
                    system: self.current.snapshot.system.clone(),
                    ..Default::default()
                });
                self.refresh_rows();
                self.current.cpu_history.clear();
                self.current.peak_mem = (0, 0);
                self.current.depth_history.clear();
                self.current.queue_rates.clear();
                self.current.method_rates.clear();
                self.current.log.clear();
                self.live.selected = 0;
                Effect::Redraw
            }
            RunAction::LaunchFailed(e) => {
                self.current.status = RunStatus::Failed(e);
                Effect::Redraw
            }
            RunAction::ScenarioLoaded(sc) => {
                self.workers = sc.pool.workers;
                self.method = sc.start_method;
                self.scenario = sc;
                self.live.tree = Default::default();
                self.refresh_rows();
                self.live.zoom = None;
                self.tab = Tab::Live;
                Effect::Launch(self.method)
            }
        }
    }

    /// What a run sends: samples and output lines.
    pub(super) fn on_data(&mut self, action: DataAction) -> Effect {
        match action {
            DataAction::Sample(s) => {
                if s.run != self.current.id && !s.procs.is_empty() {
                    return Effect::None;
                }
                // Once a run has ended its last moment stays on screen:
                // nothing scrolls itself flat.
                if matches!(self.current.status, RunStatus::Finished { .. })
                    && !self.current.timeline.is_empty()
                {
                    // Except once: the first sample after the end completes
                    // the last moment (the queues' final depths; for a probed
                    // Python program its objects' final counts and the exit
                    // statuses its parents reaped).
                    if std::mem::take(&mut self.current.refresh_after_end)
                        && let Some(f) = self.current.timeline.last()
                    {
                        let mut last = (*f.snap).clone();
                        last.procs = end_rows(&last.procs, &s.procs);
                        last.resources = s.resources;
                        last.pool = s.pool.or(last.pool);
                        self.record(Arc::new(last));
                        return Effect::RunSettled;
                    }
                    return Effect::None;
                }
                self.record(Arc::new(*s));
                if self.current.travel.is_some() {
                    Effect::None
                } else {
                    Effect::Redraw
                }
            }
            DataAction::Output(p) => {
                if let Some(json) = p.line.strip_prefix(SCALE_POINT)
                    && let Ok(point) = serde_json::from_str::<Point>(json)
                {
                    self.scale_points.push(point);
                    return Effect::Redraw;
                }
                if self.current.log.len() == LOG_LINES {
                    self.current.log.pop_front();
                }
                self.current.log.push_back(p);
                self.current.printed += 1;
                if self.current.travel.is_some() {
                    Effect::None
                } else {
                    Effect::Redraw
                }
            }
        }
    }

    /// Keeps a sample of the run: in the timeline, in the Log's events, and
    /// on screen unless the user is looking at another moment.
    pub(super) fn record(&mut self, s: Arc<Snapshot>) {
        let empty = Snapshot::default();
        let prev = self.current.timeline.last().map(|f| f.snap.clone());
        let prev = prev.as_deref().unwrap_or(&empty);
        event_log::diff(prev, &s, &mut self.events);
        self.current.peak_mem.0 = self.current.peak_mem.0.max(s.workers_mem.0);
        self.current.peak_mem.1 = self.current.peak_mem.1.max(s.workers_mem.1);
        self.current.timeline.push(s.clone(), self.current.printed);
        if self.current.travel.is_none() {
            self.absorb(prev, &s);
            self.show_snapshot(&s);
        }
    }

    fn show_snapshot(&mut self, s: &Arc<Snapshot>) {
        self.current.snapshot = s.clone();
        self.refresh_rows();
        self.live.selected = self.live.selected.min(self.rows().len().saturating_sub(1));
    }

    /// Shows the moment `i` of the timeline: the sample, and the CPU and
    /// depth histories as they were then.
    fn show_moment(&mut self, i: usize) {
        self.current.cpu_history.clear();
        self.current.depth_history.clear();
        self.current.queue_rates.clear();
        self.current.method_rates.clear();
        let frames: Vec<Arc<Snapshot>> = self
            .current
            .timeline
            .window(i, HISTORY + 1)
            .into_iter()
            .map(|f| f.snap)
            .collect();
        if let Some(first) = frames.first() {
            self.absorb(&Snapshot::default(), first);
        }
        for w in frames.windows(2) {
            self.absorb(&w[0], &w[1]);
        }
        if let Some(s) = frames.last() {
            self.show_snapshot(s);
        }
    }

    /// The output lines of the moment shown: all of them, or those printed
    /// before the sample being looked at.
    pub fn shown_log(&self) -> impl DoubleEndedIterator<Item = &Printed> {
        let first = self.current.printed - self.current.log.len() as u64;
        let upto = self
            .current
            .travel
            .and_then(|i| self.current.timeline.printed_at(i))
            .unwrap_or(self.current.printed);
        let n = upto.saturating_sub(first) as usize;
        self.current.log.iter().take(n)
    }

    /// Stepping through the run's samples.
    pub(super) fn on_time(&mut self, action: TimeAction) -> Effect {
        let n = self.current.timeline.len();
        if n < 2 {
            self.overlay.notice = Some(crate::t!("notice-no-samples"));
            return Effect::Redraw;
        }
        let newest = n - 1;
        let at = self.current.travel.unwrap_or(newest);
        let live = !matches!(self.current.status, RunStatus::Finished { .. });
        let to = match action {
            TimeAction::TimeBack => at.saturating_sub(1),
            _ if at >= newest => {
                self.overlay.notice = Some(crate::t!("notice-newest"));
                return Effect::Redraw;
            }
            _ => at + 1,
        };
        if to == newest {
            self.current.travel = None;
            self.current.frozen = false;
        } else {
            self.current.travel = Some(to);
            self.current.frozen = true;
        }
        self.show_moment(to);
        let t = self.current.snapshot.elapsed.as_secs_f64();
        self.overlay.notice = Some(if live && to == newest {
            crate::t!("notice-back-to-live")
        } else {
            crate::t!(
                "notice-at",
                secs = format!("{t:.2}"),
                sample = format!("{}/{n}", to + 1)
            )
        });
        Effect::Redraw
    }

    /// Signals to the selected process (kill after a confirmation, stop, continue).
    pub(super) fn on_control(&mut self, action: ControlAction) -> Effect {
        match action {
            ControlAction::KillSelected => match self.selected_process() {
                Some((pid, name)) => {
                    self.overlay.notice = Some(crate::t!(
                        "notice-kill-ask",
                        name = &name,
                        pid = pid.to_string()
                    ));
                    self.overlay.confirm = Some(Question::Kill(pid, name));
                    Effect::Redraw
                }
                None => self.refuse(),
            },
            ControlAction::StopSelected | ControlAction::ContinueSelected => {
                match self.selected_process() {
                    Some((pid, name)) => {
                        let (sig, id) = if action == ControlAction::StopSelected {
                            (nix::sys::signal::Signal::SIGSTOP, "notice-stopped")
                        } else {
                            (nix::sys::signal::Signal::SIGCONT, "notice-continued")
                        };
                        self.overlay.notice = Some(crate::i18n::tr(
                            id,
                            &[
                                ("name", name.as_str().into()),
                                ("pid", pid.to_string().into()),
                            ],
                        ));
                        Effect::Signal(pid, sig)
                    }
                    None => self.refuse(),
                }
            }
            ControlAction::Confirm(yes) => match self.overlay.confirm.take() {
                Some(Question::Kill(pid, name)) if yes => {
                    self.overlay.notice = Some(crate::t!(
                        "notice-kill-sent",
                        name = &name,
                        pid = pid.to_string()
                    ));
                    Effect::Signal(pid, nix::sys::signal::Signal::SIGKILL)
                }
                Some(Question::Kill(_, name)) => {
                    self.overlay.notice = Some(crate::t!("notice-not-killed", name = &name));
                    Effect::Redraw
                }
                Some(Question::Quit) if yes => Effect::Quit,
                Some(Question::Quit) => {
                    self.overlay.notice = Some(crate::t!("notice-not-quitting"));
                    Effect::Redraw
                }
                None => Effect::Redraw,
            },
        }
    }

    /// Moving around: selection, tabs, help, size, zoom.
    pub(super) fn on_navigation(&mut self, action: NavAction) -> Effect {
        match action {
            NavAction::ToggleHelp => {
                self.overlay.help = !self.overlay.help;
                self.overlay.help_scroll = 0;
                Effect::Redraw
            }
            NavAction::ToggleWaits => {
                self.live.show_waits = !self.live.show_waits;
                Effect::Redraw
            }
            NavAction::ScrollHelp(by) => {
                // Wrapped lines, at most a few per key; the view clamps it.
                let max = keys::BINDINGS.len() * 4;
                self.overlay.help_scroll =
                    (self.overlay.help_scroll as i64 + i64::from(by)).clamp(0, max as i64) as usize;
                Effect::Redraw
            }
            NavAction::SelectNext
            | NavAction::SelectPrev
            | NavAction::PageUp
            | NavAction::PageDown
            | NavAction::Home
            | NavAction::End => {
                let page = (usize::from(self.term.1) / 2).max(5) as i64;
                let by: i64 = match action {
                    NavAction::SelectNext => 1,
                    NavAction::SelectPrev => -1,
                    NavAction::PageDown => page,
                    NavAction::PageUp => -page,
                    NavAction::Home => i64::MIN / 2,
                    _ => i64::MAX / 2,
                };
                let step = |at: usize, n: usize| {
                    (at as i64 + by).clamp(0, n.saturating_sub(1) as i64) as usize
                };
                if let Some(p) = self.overlay.picker.as_mut() {
                    p.selected = step(p.selected, p.items.len());
                } else if self.tab == Tab::Scaling {
                    // The view clamps it to the rows it has.
                    let n = self.scale_points.len() + 3;
                    self.scaling.points_scroll = step(self.scaling.points_scroll, n);
                } else if self.tab == Tab::Log {
                    // Scrolled up from the newest line: down is towards 0.
                    let n = self.shown_events().count();
                    self.logs.scroll = (self.logs.scroll as i64 - by)
                        .clamp(0, n.saturating_sub(1) as i64)
                        as usize;
                } else {
                    self.live.selected = step(self.live.selected, self.rows().len());
                }
                Effect::Redraw
            }
            NavAction::NextTab => {
                let i = Tab::ALL.iter().position(|t| *t == self.tab).unwrap_or(0);
                self.tab = Tab::ALL[(i + 1) % Tab::ALL.len()];
                self.live.zoom = None;
                Effect::Redraw
            }
            NavAction::ShowTab(t) => {
                if t != self.tab {
                    self.live.zoom = None;
                }
                self.tab = t;
                Effect::Redraw
            }
            NavAction::Resize(w, h) => {
                self.term = (w, h);
                self.refresh_rows();
                Effect::Redraw
            }
            NavAction::CycleZoom if self.tab == Tab::Log => {
                self.overlay.notice = Some(crate::t!("notice-log-whole-screen"));
                Effect::Redraw
            }
            NavAction::CycleZoom if self.tab != Tab::Live => {
                // The tab's own panel takes the whole tab, then back.
                self.live.zoom = match self.live.zoom {
                    None => Some(Zoom::Panel),
                    Some(_) => None,
                };
                Effect::Redraw
            }
            NavAction::CycleZoom => {
                self.live.zoom = Zoom::next(self.live.zoom);
                if self.live.zoom == Some(Zoom::Panel)
                    && !self.shows_pool()
                    && self.current.snapshot.resources.is_empty()
                {
                    self.live.zoom = Zoom::next(self.live.zoom);
                }
                Effect::Redraw
            }
            NavAction::SelectRow(row) => {
                if row < self.rows().len() {
                    self.live.selected = row;
                }
                Effect::Redraw
            }
        }
    }

    /// How the process tree is ordered, folded and filtered.
    pub(super) fn on_tree(&mut self, action: TreeAction) -> Effect {
        match action {
            TreeAction::CycleSort | TreeAction::ReverseSort => {
                if action == TreeAction::CycleSort {
                    self.live.tree.sort = self.live.tree.sort.next();
                } else {
                    self.live.tree.reverse = !self.live.tree.reverse;
                }
                self.refresh_rows();
                let key = self.live.tree.sort.shown();
                self.overlay.notice = Some(if self.live.tree.reverse {
                    crate::t!("notice-sorted-reversed", key = key)
                } else {
                    crate::t!("notice-sorted", key = key)
                });
                Effect::Redraw
            }
            TreeAction::ToggleEnded => {
                self.live.tree.hide_ended = !self.live.tree.hide_ended;
                self.refresh_rows();
                self.live.selected = self.live.selected.min(self.rows().len().saturating_sub(1));
                self.overlay.notice = Some(if self.live.tree.hide_ended {
                    crate::t!("notice-ended-hidden")
                } else {
                    crate::t!("notice-ended-shown")
                });
                Effect::Redraw
            }
            TreeAction::ToggleCollapse if self.tab == Tab::Compare => {
                // The next scenario that has finished runs, the current first.
                let mut groups: Vec<String> = vec![self.scenario.title.clone()];
                for r in &self.runs {
                    if !groups.contains(&r.scenario) {
                        groups.push(r.scenario.clone());
                    }
                }
                let at = groups
                    .iter()
                    .position(|g| g == self.compare_title())
                    .unwrap_or(0);
                let next = groups[(at + 1) % groups.len()].clone();
                let shown = crate::telemetry::stats::shown_title(&next, &self.scenario, &self.runs);
                self.overlay.notice = Some(crate::t!("notice-compare-group", title = shown));
                self.compare.group = (next != self.scenario.title).then_some(next);
                Effect::Redraw
            }
            TreeAction::ToggleCollapse | TreeAction::Collapse | TreeAction::Expand => {
                let Some(pid) = self.selected_pid() else {
                    return Effect::Redraw;
                };
                let fold = match action {
                    TreeAction::Collapse => true,
                    TreeAction::Expand => false,
                    _ => !self.live.tree.collapsed.contains(&pid),
                };
                if fold {
                    self.live.tree.collapsed.insert(pid);
                } else {
                    self.live.tree.collapsed.remove(&pid);
                }
                self.refresh_rows();
                self.live.selected = self.live.selected.min(self.rows().len().saturating_sub(1));
                Effect::Redraw
            }
            TreeAction::StartFilter => {
                self.live.editing_filter = true;
                Effect::Redraw
            }
            TreeAction::FilterChar(c) => {
                let f = self.filter_mut();
                if f.chars().count() < 40 {
                    f.push(c);
                }
                self.refresh_rows();
                self.live.selected = 0;
                self.logs.scroll = 0;
                Effect::Redraw
            }
            TreeAction::FilterBackspace => {
                self.filter_mut().pop();
                self.refresh_rows();
                Effect::Redraw
            }
            TreeAction::FilterDone => {
                self.live.editing_filter = false;
                Effect::Redraw
            }
            TreeAction::FilterCancel => {
                self.live.editing_filter = false;
                self.filter_mut().clear();
                self.refresh_rows();
                Effect::Redraw
            }
        }
    }

    /// Freeze, sampling rate and workers for the next run.
    pub(super) fn on_settings(&mut self, action: SettingsAction) -> Effect {
        match action {
            SettingsAction::ToggleFreeze => {
                if self.current.travel.is_some() {
                    self.current.travel = None;
                    self.current.frozen = false;
                    if let Some(newest) = self.current.timeline.len().checked_sub(1) {
                        self.show_moment(newest);
                    }
                } else if let Some(newest) = self.current.timeline.len().checked_sub(1) {
                    self.current.travel = Some(newest);
                    self.current.frozen = true;
                    self.overlay.notice = Some(crate::t!("notice-frozen"));
                }
                Effect::Redraw
            }
            SettingsAction::Faster | SettingsAction::Slower => {
                let i = RATES
                    .iter()
                    .position(|r| *r >= self.rate_hz)
                    .unwrap_or(RATES.len() - 1);
                let i = if action == SettingsAction::Faster {
                    (i + usize::from(RATES[i] <= self.rate_hz)).min(RATES.len() - 1)
                } else {
                    i.saturating_sub(1)
                };
                self.rate_hz = RATES[i];
                self.overlay.notice = Some(crate::t!("notice-rate", hz = self.rate_hz.to_string()));
                Effect::SetRate(self.rate_hz)
            }
            SettingsAction::MoreWorkers | SettingsAction::FewerWorkers => {
                if !self.scenario.uses_pool() {
                    self.overlay.notice = Some(crate::t!("notice-no-pool"));
                    return Effect::Redraw;
                }
                let max = crate::scenario::MAX_WORKERS as usize;
                self.workers = if action == SettingsAction::MoreWorkers {
                    (self.workers + 1).min(max)
                } else {
                    self.workers.saturating_sub(1).max(1)
                };
                self.overlay.notice = Some(crate::t!("notice-workers", n = self.workers));
                Effect::Redraw
            }
        }
    }

    /// The scenario picker.
    pub(super) fn on_picker(&mut self, action: PickerAction) -> Effect {
        match action {
            PickerAction::OpenPicker => Effect::ListScenarios,
            PickerAction::PickerItems(items) => {
                let selected = items
                    .iter()
                    .position(|(p, _)| *p == self.scenario.file)
                    .unwrap_or(0);
                self.overlay.picker = Some(Picker { items, selected });
                Effect::Redraw
            }
            PickerAction::PickerChoose => match self.overlay.picker.take() {
                Some(p) => match p.items.get(p.selected) {
                    Some((path, _)) => Effect::Open(path.clone()),
                    None => Effect::Redraw,
                },
                None => Effect::Redraw,
            },
            PickerAction::PickerCancel => {
                self.overlay.picker = None;
                Effect::Redraw
            }
        }
    }
}

impl App {
    /// The filter `/` types into: the Log's on the Log tab, else the tree's.
    fn filter_mut(&mut self) -> &mut String {
        if self.tab == Tab::Log {
            &mut self.logs.filter
        } else {
            &mut self.live.tree.filter
        }
    }

    /// The Log's events that match its filter, oldest first.
    pub fn shown_events(&self) -> impl DoubleEndedIterator<Item = &event_log::LogEvent> {
        let f = self.logs.filter.to_lowercase();
        self.events
            .iter()
            .filter(move |e| f.is_empty() || e.text.to_lowercase().contains(&f))
    }
}

/// The rows of a run's last moment: the board's at the end, with what the
/// last sample knew that the board does not (a probed Python program's
/// names, roles, methods, the exit statuses and CPU its parents reaped), and
/// the rows only a probe gave (processes too short for the scan).
fn end_rows(board: &[ProcRow], sampled: &[ProcRow]) -> Vec<ProcRow> {
    let mut rows: Vec<ProcRow> = board
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(s) = sampled.iter().find(|s| s.pid == r.pid && r.pid > 0) {
                r.name = s.name.clone();
                r.role = s.role.or(r.role);
                r.method = s.method.or(r.method);
                r.exitcode = r.exitcode.or(s.exitcode);
                r.cpu_s = r.cpu_s.or(s.cpu_s);
                r.tasks_done = r.tasks_done.max(s.tasks_done);
            }
            r
        })
        .collect();
    rows.extend(
        sampled
            .iter()
            .filter(|s| !board.iter().any(|r| r.pid == s.pid))
            .cloned(),
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::board::{ProcState, Role};

    #[test]
    fn the_last_moment_keeps_what_only_the_samples_knew() {
        let row = |pid: i32, name: &str| ProcRow {
            pid,
            name: name.into(),
            state: ProcState::Exited,
            ..Default::default()
        };
        let board = vec![row(10, "python3"), row(11, "python3")];
        let mut sampled = vec![
            row(10, "MainProcess"),
            row(11, "ForkPoolWorker-1"),
            row(12, "Process-2"),
        ];
        sampled[1].exitcode = Some(-9);
        sampled[1].role = Some(Role::PoolWorker);
        let end = end_rows(&board, &sampled);
        let names: Vec<&str> = end.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["MainProcess", "ForkPoolWorker-1", "Process-2"]);
        assert_eq!(end[1].exitcode, Some(-9));
        assert_eq!(end[1].role, Some(Role::PoolWorker));
    }
}
