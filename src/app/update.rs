//! `App::update`'s handlers, one per concern: each takes the actions of
//! its kind and answers with an [`Effect`].

use std::time::Duration;

use super::*;

impl App {
    /// Runs: start, end, rerun, another start method, scaling, a new scenario.
    pub(super) fn on_run(&mut self, action: Action) -> Effect {
        match action {
            Action::Rerun => Effect::Launch(self.method),
            Action::NextMethod | Action::MeasureScaling | Action::OpenPicker
                if self.foreign.is_some() =>
            {
                self.notice = Some(
                "watching a foreign command: no start method, scaling or scenario to choose (r reruns it)"
                    .into(),
            );
                Effect::Redraw
            }
            Action::NextMethod => Effect::Launch(self.method.next()),
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
                self.frozen = false;
                self.held = None;
                self.held_output.clear();
                self.run = run;
                self.method = method;
                self.status = RunStatus::Running;
                self.snapshot = Snapshot {
                    run,
                    system: std::mem::take(&mut self.snapshot.system),
                    ..Default::default()
                };
                self.refresh_rows();
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
            Action::ScenarioLoaded(sc) => {
                self.workers = sc.pool.workers;
                self.method = sc.start_method;
                self.scenario = sc;
                self.tree = Default::default();
                self.refresh_rows();
                self.zoom = None;
                self.tab = Tab::Live;
                Effect::Launch(self.method)
            }
            _ => Effect::None,
        }
    }

    /// What a run sends: samples and output lines.
    pub(super) fn on_data(&mut self, action: Action) -> Effect {
        match action {
            Action::Sample(s) => {
                if s.run != self.run && !s.procs.is_empty() {
                    return Effect::None;
                }
                if self.frozen {
                    self.held = Some(s);
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
                let known: std::collections::HashSet<i32> = s.procs.iter().map(|p| p.pid).collect();
                self.cpu_history.retain(|pid, _| known.contains(pid));
                self.snapshot = *s;
                self.refresh_rows();
                self.selected = self.selected.min(self.rows().len().saturating_sub(1));
                Effect::Redraw
            }
            Action::Output(line) => {
                if let Some(json) = line.strip_prefix(SCALE_POINT)
                    && let Ok(p) = serde_json::from_str::<Point>(json)
                {
                    self.scale_points.push(p);
                    return Effect::Redraw;
                }
                if self.frozen {
                    if self.held_output.len() == LOG_LINES {
                        self.held_output.pop_front();
                    }
                    self.held_output.push_back(line);
                    return Effect::None;
                }
                if self.log.len() == LOG_LINES {
                    self.log.pop_front();
                }
                self.log.push_back(line);
                Effect::Redraw
            }
            _ => Effect::None,
        }
    }

    /// Signals to the selected process (kill after a confirmation, stop, continue).
    pub(super) fn on_control(&mut self, action: Action) -> Effect {
        match action {
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
                Some((_, name)) => {
                    self.notice = Some(format!("{name} not killed: only y confirms"));
                    Effect::Redraw
                }
                None => Effect::Redraw,
            },
            _ => Effect::None,
        }
    }

    /// Moving around: selection, tabs, help, size, zoom.
    pub(super) fn on_navigation(&mut self, action: Action) -> Effect {
        match action {
            Action::ToggleHelp => {
                self.show_help = !self.show_help;
                self.help_scroll = 0;
                Effect::Redraw
            }
            Action::ToggleWaits => {
                self.show_waits = !self.show_waits;
                Effect::Redraw
            }
            Action::ScrollHelp(by) => {
                let max = keys::BINDINGS.len().saturating_sub(1);
                self.help_scroll =
                    (self.help_scroll as i64 + i64::from(by)).clamp(0, max as i64) as usize;
                Effect::Redraw
            }
            Action::SelectNext => {
                if let Some(p) = self.picker.as_mut() {
                    p.selected = (p.selected + 1).min(p.items.len().saturating_sub(1));
                    return Effect::Redraw;
                }
                let n = self.rows().len();
                self.selected = (self.selected + 1).min(n.saturating_sub(1));
                Effect::Redraw
            }
            Action::SelectPrev => {
                if let Some(p) = self.picker.as_mut() {
                    p.selected = p.selected.saturating_sub(1);
                    return Effect::Redraw;
                }
                self.selected = self.selected.saturating_sub(1);
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
            Action::Resize(w, h) => {
                self.term = (w, h);
                Effect::Redraw
            }
            Action::CycleZoom => {
                self.zoom = Zoom::next(self.zoom);
                if self.zoom == Some(Zoom::Panel)
                    && !self.scenario.uses_pool()
                    && self.snapshot.resources.is_empty()
                {
                    self.zoom = Zoom::next(self.zoom);
                }
                Effect::Redraw
            }
            Action::SelectRow(row) => {
                if row < self.rows().len() {
                    self.selected = row;
                }
                Effect::Redraw
            }
            _ => Effect::None,
        }
    }

    /// How the process tree is ordered, folded and filtered.
    pub(super) fn on_tree(&mut self, action: Action) -> Effect {
        match action {
            Action::CycleSort => {
                self.tree.sort = self.tree.sort.next();
                self.refresh_rows();
                self.notice = Some(format!("processes sorted by {}", self.tree.sort.label()));
                Effect::Redraw
            }
            Action::ToggleCollapse | Action::Collapse | Action::Expand => {
                let Some(pid) = self.selected_pid() else {
                    return Effect::Redraw;
                };
                let fold = match action {
                    Action::Collapse => true,
                    Action::Expand => false,
                    _ => !self.tree.collapsed.contains(&pid),
                };
                if fold {
                    self.tree.collapsed.insert(pid);
                } else {
                    self.tree.collapsed.remove(&pid);
                }
                self.refresh_rows();
                self.selected = self.selected.min(self.rows().len().saturating_sub(1));
                Effect::Redraw
            }
            Action::StartFilter => {
                self.editing_filter = true;
                Effect::Redraw
            }
            Action::FilterChar(c) => {
                if self.tree.filter.chars().count() < 40 {
                    self.tree.filter.push(c);
                }
                self.refresh_rows();
                self.selected = 0;
                Effect::Redraw
            }
            Action::FilterBackspace => {
                self.tree.filter.pop();
                self.refresh_rows();
                Effect::Redraw
            }
            Action::FilterDone => {
                self.editing_filter = false;
                Effect::Redraw
            }
            Action::FilterCancel => {
                self.editing_filter = false;
                self.tree.filter.clear();
                self.refresh_rows();
                Effect::Redraw
            }
            _ => Effect::None,
        }
    }

    /// Freeze, sampling rate and workers for the next run.
    pub(super) fn on_settings(&mut self, action: Action) -> Effect {
        match action {
            Action::ToggleFreeze => {
                self.frozen = !self.frozen;
                if !self.frozen {
                    for line in std::mem::take(&mut self.held_output) {
                        self.update(Action::Output(line));
                    }
                    if let Some(s) = self.held.take() {
                        self.update(Action::Sample(s));
                    }
                }
                Effect::Redraw
            }
            Action::Faster | Action::Slower => {
                let i = RATES
                    .iter()
                    .position(|r| *r >= self.rate_hz)
                    .unwrap_or(RATES.len() - 1);
                let i = if action == Action::Faster {
                    (i + usize::from(RATES[i] <= self.rate_hz)).min(RATES.len() - 1)
                } else {
                    i.saturating_sub(1)
                };
                self.rate_hz = RATES[i];
                self.notice = Some(format!("sampling at {} Hz", self.rate_hz));
                Effect::SetRate(self.rate_hz)
            }
            Action::MoreWorkers | Action::FewerWorkers => {
                if !self.scenario.uses_pool() {
                    self.notice = Some("this scenario has no pool: +/- set pool workers".into());
                    return Effect::Redraw;
                }
                let max = crate::scenario::MAX_WORKERS as usize;
                self.workers = if action == Action::MoreWorkers {
                    (self.workers + 1).min(max)
                } else {
                    self.workers.saturating_sub(1).max(1)
                };
                self.notice = Some(format!(
                    "{} pool workers for the next run (r to rerun now)",
                    self.workers
                ));
                Effect::Redraw
            }
            _ => Effect::None,
        }
    }

    /// The scenario picker.
    pub(super) fn on_picker(&mut self, action: Action) -> Effect {
        match action {
            Action::OpenPicker => Effect::ListScenarios,
            Action::PickerItems(items) => {
                let selected = items
                    .iter()
                    .position(|(p, _)| *p == self.scenario.file)
                    .unwrap_or(0);
                self.picker = Some(Picker { items, selected });
                Effect::Redraw
            }
            Action::PickerChoose => match self.picker.take() {
                Some(p) => match p.items.get(p.selected) {
                    Some((path, _)) => Effect::Open(path.clone()),
                    None => Effect::Redraw,
                },
                None => Effect::Redraw,
            },
            Action::PickerCancel => {
                self.picker = None;
                Effect::Redraw
            }
            _ => Effect::None,
        }
    }
}
