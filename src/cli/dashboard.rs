//! The dashboard's run loop: one thread reads keys, one samples, one reaps;
//! this loop turns what they send into [`Action`]s, applies them, carries out
//! the [`Effect`]s and redraws only when something changed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select, unbounded};
use ratatui::crossterm::event::{
    self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};

use crate::app::{Action, App, DataAction, Effect, NavAction, PickerAction, Printed, RunAction};
use crate::runtime::board::StartMethod;
use crate::scenario::Scenario;
use crate::session::{self, Happened, Session, SessionEvent, Source};
use crate::telemetry::sampler::{self, SamplerCmd};
use crate::ui;
use crate::ui::terminal::TerminalGuard;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

/// Where frames go: the terminal, or (for `mpdash bench ui`) a screen of a
/// fixed size whose bytes are thrown away, with no keyboard.
pub enum Screen {
    Tty(TerminalGuard),
    Sink(Terminal<CrosstermBackend<std::io::Sink>>),
}

impl Screen {
    /// A discarded screen of `w`×`h`.
    pub fn sink(w: u16, h: u16) -> anyhow::Result<Screen> {
        let t = Terminal::with_options(
            CrosstermBackend::new(std::io::sink()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
            },
        )?;
        Ok(Screen::Sink(t))
    }

    fn size(&mut self) -> Option<(u16, u16)> {
        match self {
            Screen::Tty(_) => ratatui::crossterm::terminal::size().ok(),
            Screen::Sink(t) => {
                let a = t.get_frame().area();
                Some((a.width, a.height))
            }
        }
    }

    fn draw(&mut self, app: &App, frames: &mut FrameStats) -> anyhow::Result<()> {
        let t = Instant::now();
        match self {
            Screen::Tty(g) => g.draw(|f| ui::draw(f, app))?,
            Screen::Sink(term) => {
                term.draw(|f| ui::draw(f, app))?;
            }
        }
        frames.record(t.elapsed());
        Ok(())
    }
}

/// How long frames took to build and draw (bounded).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct FrameStats {
    /// CLOCK_MONOTONIC (ns) when the first frame was on screen.
    pub first_frame_ns: u64,
    pub frames: u64,
    pub max_frame_ms: f64,
    pub total_frame_ms: f64,
}

impl FrameStats {
    fn record(&mut self, d: Duration) {
        if self.frames == 0 {
            self.first_frame_ns = crate::runtime::sys::now_ns();
        }
        let ms = d.as_secs_f64() * 1e3;
        self.frames += 1;
        self.max_frame_ms = self.max_frame_ms.max(ms);
        self.total_frame_ms += ms;
    }
}

/// Opens the dashboard on `scenario` and runs until the user quits; with
/// `record`, each run is saved there when it ends (and at quit).
pub fn run_dashboard(
    scenario: Scenario,
    rate: Rates,
    record: Option<String>,
) -> anyhow::Result<i32> {
    let screen = Screen::Tty(TerminalGuard::enter()?);
    run_on(screen, scenario, rate, None, Source::Scenario, record).map(|_| 0)
}

/// `mpdash attach PID`: the dashboard on a process tree that is already
/// running. Nothing is started, paused or killed; quitting detaches.
pub fn run_attach(pid: i32, rate: Rates) -> anyhow::Result<i32> {
    let info = crate::telemetry::stacks::ProcInfo::read(pid)
        .filter(|i| i.state != 'Z')
        .ok_or_else(|| anyhow::anyhow!("no process with pid {pid}"))?;
    let sc = crate::session::command::attached_scenario(pid, &info.cmdline);
    let screen = Screen::Tty(TerminalGuard::enter()?);
    run_on(screen, sc, rate, None, Source::Attached(pid), None).map(|_| 0)
}

/// `mpdash replay FILE`: a recorded run, played back with no process
/// started; it opens at the run's end and `←`/`→` step through it.
pub fn run_replay(path: &str, rate_hz: f64) -> anyhow::Result<i32> {
    let mut app = crate::app::recording::load(path, rate_hz)?;
    let mut screen = Screen::Tty(TerminalGuard::enter()?);
    let keys = spawn_input();
    let mut frames = FrameStats::default();
    if let Some((w, h)) = screen.size() {
        app.update(Action::Nav(NavAction::Resize(w, h)));
    }
    if app.overlay.notice.is_none() {
        app.overlay.notice = Some(crate::t!("notice-replay-keys", file = path));
    }
    let mut effect = Effect::Redraw;
    loop {
        match effect {
            Effect::Quit => break,
            Effect::None => {}
            _ => screen.draw(&app, &mut frames)?,
        }
        let Ok(ev) = keys.recv() else { break };
        effect = match to_action(ev, &app) {
            Some(a) => app.update(a),
            None => Effect::None,
        };
    }
    Ok(0)
}

/// How often the dashboard samples, and how long a run may stand still with
/// every process blocked before it is called stuck.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub sample_hz: f64,
    pub stuck_after: Duration,
}

impl Rates {
    pub fn new(sample_hz: f64) -> Rates {
        Rates {
            sample_hz,
            stuck_after: crate::telemetry::waits::DEFAULT_STUCK_AFTER,
        }
    }
}

/// `mpdash watch -- CMD ARGS…`: the dashboard on a foreign command; with
/// `probe`, a Python program seen from inside.
pub fn run_watch(argv: Vec<String>, rate_hz: f64, probe: bool) -> anyhow::Result<i32> {
    let sc = crate::session::command::scenario_for(&argv, probe);
    let screen = Screen::Tty(TerminalGuard::enter()?);
    run_on(
        screen,
        sc,
        Rates::new(rate_hz),
        None,
        Source::command(argv, probe),
        None,
    )
    .map(|_| 0)
}

/// Runs the dashboard on `screen`; with `quit_after`, it quits by itself
/// then (the keyboard is not read). Returns how the frames went.
pub fn run_on(
    mut screen: Screen,
    scenario: Scenario,
    rate: Rates,
    quit_after: Option<Duration>,
    source: Source,
    record: Option<String>,
) -> anyhow::Result<FrameStats> {
    let rate_hz = rate.sample_hz;
    let scenario = Arc::new(scenario);
    let mut frames = FrameStats::default();
    let deadline = match quit_after {
        Some(d) => crossbeam_channel::after(d),
        None => crossbeam_channel::never(),
    };
    let (ev_tx, ev_rx) = unbounded();
    session::start_reaper(ev_tx.clone())?;
    let (cmd_tx, cmd_rx) = unbounded();
    let (snap_tx, snap_rx) = crossbeam_channel::bounded(4);
    sampler::spawn(rate_hz, cmd_rx, snap_tx);
    let keys = match screen {
        Screen::Tty(_) => spawn_input(),
        Screen::Sink(_) => crossbeam_channel::never(),
    };
    let mut app = App::new(scenario.clone(), rate_hz);
    if let Source::Python(argv) = &source {
        app.python = argv[0].clone();
    }
    app.source = source;
    if let Some((w, h)) = screen.size() {
        app.update(Action::Nav(NavAction::Resize(w, h)));
    }
    let mut current: Option<Session> = None;
    let mut next_run = 1;
    let mut effect = Effect::Launch(app.method);
    loop {
        match effect.clone() {
            Effect::Quit => break,
            Effect::SetRate(hz) => {
                let _ = cmd_tx.send(SamplerCmd::Rate(hz));
                screen.draw(&app, &mut frames)?;
            }
            Effect::ListScenarios => {
                effect = app.update(Action::Picker(PickerAction::PickerItems(list_scenarios(
                    &app.scenario.file,
                ))));
                continue;
            }
            Effect::Open(path) if path.ends_with(".py") => {
                // A Python program: it runs with the probe, by the
                // interpreter the dashboard was given.
                let argv = vec![app.python.clone(), path];
                let sc = session::command::scenario_for(&argv, true);
                app.source = Source::Python(argv);
                effect = app.update(Action::Run(RunAction::ScenarioLoaded(Arc::new(sc))));
                continue;
            }
            Effect::Open(path) => {
                effect = match crate::scenario::load(&path, &Default::default()) {
                    Ok(mut sc) => {
                        // The interpreters of the CPython curves (`--python`)
                        // are the machine's, not the file's: they stay.
                        if let (Some(new), Some(old)) = (sc.scaling.as_mut(), &app.scenario.scaling)
                        {
                            new.pythons = old.pythons.clone();
                        }
                        app.source = Source::Scenario;
                        app.update(Action::Run(RunAction::ScenarioLoaded(Arc::new(sc))))
                    }
                    Err(e) => app.update(Action::Notice(format!("{e}"))),
                };
                continue;
            }
            Effect::Launch(_) | Effect::LaunchScale => {
                let scale = effect == Effect::LaunchScale;
                let method = match effect {
                    Effect::Launch(m) => m,
                    _ => app.method,
                };
                // The old run's group dies here, before the new one starts.
                current = None;
                let action = launch(
                    &app,
                    (next_run, method, scale),
                    rate.stuck_after,
                    &ev_tx,
                    &cmd_tx,
                    &mut current,
                );
                next_run += 1;
                app.update(action);
                screen.draw(&app, &mut frames)?;
            }
            Effect::Signal(pid, sig) => {
                // Only to a live process of the current run (checked by the
                // app against the board), never to anything else.
                if let Some(s) = current.as_ref()
                    && s.board.find_pid(pid).is_some()
                {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
                }
                screen.draw(&app, &mut frames)?;
            }
            Effect::Redraw | Effect::RunSettled => screen.draw(&app, &mut frames)?,
            Effect::None => {}
        }
        let action = select! {
            recv(keys) -> k => match k {
                Ok(ev) => match to_action(ev, &app) { Some(a) => a, None => { effect = Effect::None; continue } },
                Err(_) => Action::Quit,
            },
            recv(snap_rx) -> s => match s {
                Ok(s) => match attached_end(&mut current) {
                    // The sample first: the end is drawn on the last moment.
                    Some(end) => {
                        app.update(Action::Data(DataAction::Sample(Box::new(s))));
                        end
                    }
                    None => Action::Data(DataAction::Sample(Box::new(s))),
                },
                Err(_) => Action::Quit,
            },
            recv(deadline) -> _ => Action::Quit,
            recv(ev_rx) -> e => match e {
                Ok(e) => match session_action(&mut current, e) {
                    Some(a) => a,
                    None => { effect = Effect::None; continue }
                },
                Err(_) => Action::Quit,
            },
        };
        let ended = matches!(action, Action::Run(RunAction::RunEnded { .. }));
        effect = app.update(action);
        // Saved at the end, and again once the end is settled (the next
        // sample completes the last moment), so the file ends as the screen.
        if (ended || effect == Effect::RunSettled)
            && let Some(path) = &record
        {
            save_recording(&mut app, path);
        }
        // Fault injection for the tests (debug builds only): a panic mid-run
        // must still restore the terminal and take the run down with us.
        if cfg!(debug_assertions)
            && std::env::var_os("MPDASH_TEST_PANIC").is_some()
            && app.current.snapshot.live.len() >= 2
        {
            panic!("MPDASH_TEST_PANIC: a panic while the run is live");
        }
    }
    drop(current);
    session::reap_remaining(Duration::from_millis(300));
    drop(screen);
    if let Some(path) = &record
        && !matches!(app.current.status, crate::app::RunStatus::Finished { .. })
    {
        // The run was still going: save what was seen of it.
        if let Err(e) = crate::app::recording::save(&app, path) {
            eprintln!("mpdash: {e}");
        }
    }
    Ok(frames)
}

/// Saves the run that just ended; a failure is said on the hint bar.
fn save_recording(app: &mut App, path: &str) {
    let said = match crate::app::recording::save(app, path) {
        Ok(()) => crate::t!("notice-run-saved", file = path),
        Err(e) => format!("{e}"),
    };
    app.overlay.notice = Some(said);
}

/// The scenario files and Python programs beside `current` (its directory,
/// else `scenarios/`) and one folder down (`scenarios/python/`), each with
/// its title, or why it cannot be used. From `scenarios/python/` the list
/// starts at `scenarios/`.
pub fn list_scenarios(current: &str) -> Vec<(String, String)> {
    use std::path::{Path, PathBuf};
    let mut dir = Path::new(current)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("scenarios"));
    if dir.file_name().is_some_and(|n| n == "python")
        && let Some(up) = dir.parent().filter(|d| !d.as_os_str().is_empty())
    {
        dir = up;
    }
    let entries = |d: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect()
    };
    let wanted = |p: &PathBuf| p.extension().is_some_and(|x| x == "toml" || x == "py");
    let mut files: Vec<String> = Vec::new();
    for p in entries(dir) {
        if p.is_dir() {
            files.extend(
                entries(&p)
                    .iter()
                    .filter(|p| wanted(p))
                    .map(|p| p.to_string_lossy().into_owned()),
            );
        } else if wanted(&p) {
            files.push(p.to_string_lossy().into_owned());
        }
    }
    // Scenarios first, then each folder's as a group (`stuck/`), then the
    // Python programs.
    let depth = |f: &str| {
        Path::new(f)
            .strip_prefix(dir)
            .map_or(0, |r| r.components().count())
    };
    files.sort_by_key(|f| (f.ends_with(".py"), depth(f), f.clone()));
    files
        .into_iter()
        .map(|f| {
            let title = if f.ends_with(".py") {
                let argv = vec!["python3".to_string(), f.clone()];
                session::command::scenario_for(&argv, true)
                    .shown_title()
                    .to_string()
            } else {
                match crate::scenario::load(&f, &Default::default()) {
                    Ok(sc) => sc.shown_title().to_string(),
                    Err(e) => crate::t!(
                        "picker-error",
                        line = e.line.to_string(),
                        message = &e.message
                    ),
                }
            };
            (f, title)
        })
        .collect()
}

/// Turns what happened to a run into an action for the current run.
fn session_action(current: &mut Option<Session>, e: SessionEvent) -> Option<Action> {
    let Some(s) = current.as_mut() else {
        return matches!(e, SessionEvent::Signal(_)).then_some(Action::Quit);
    };
    match s.absorb(e) {
        Happened::Signal(_) => Some(Action::Quit),
        Happened::Output { pid, line } => {
            Some(Action::Data(DataAction::Output(Printed { pid, line })))
        }
        Happened::Ended => {
            let mut rows = crate::telemetry::board_view::read_procs(&s.board);
            if s.source.is_foreign() {
                // A watched program's parents reap their own children:
                // the gone ones have ended, whatever the board last said.
                crate::telemetry::waits::settle_zombies(&mut rows);
            }
            Some(Action::Run(RunAction::RunEnded {
                exit: s.main_exit.unwrap_or(-1),
                wall: s.elapsed(),
                rows,
            }))
        }
        Happened::Nothing => None,
    }
}

/// The end of an attached tree (its root is not our child: no reap tells
/// us), seen at a sample.
fn attached_end(current: &mut Option<Session>) -> Option<Action> {
    let s = current.as_mut()?;
    if !s.attached_root_ended() {
        return None;
    }
    let mut rows = crate::telemetry::board_view::read_procs(&s.board);
    crate::telemetry::waits::settle_zombies(&mut rows);
    Some(Action::Run(RunAction::RunEnded {
        exit: 0,
        wall: s.elapsed(),
        rows,
    }))
}

fn spawn_input() -> Receiver<Event> {
    let (tx, rx): (Sender<Event>, Receiver<Event>) = unbounded();
    let _ = std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            while let Ok(ev) = event::read() {
                if tx.send(ev).is_err() {
                    return;
                }
            }
        });
    rx
}

/// Starts run `next_run` (the scenario, a scaling measurement or a watched
/// command), points the sampler at its board, and says what happened.
fn launch(
    app: &App,
    (next_run, method, scale): (u64, StartMethod, bool),
    stuck_after: Duration,
    ev_tx: &Sender<SessionEvent>,
    cmd_tx: &Sender<SamplerCmd>,
    current: &mut Option<Session>,
) -> Action {
    let launched = match app.source.argv() {
        None if let Some(pid) = app.source.attached() => {
            Session::attach(next_run, app.scenario.clone(), pid)
        }
        Some(argv) => Session::launch_command(
            next_run,
            app.scenario.clone(),
            argv,
            app.source.is_probed(),
            ev_tx.clone(),
        ),
        None => Session::launch_mode(
            next_run,
            app.launch_scenario(),
            method,
            scale,
            ev_tx.clone(),
        ),
    };
    match launched {
        Ok(s) => {
            let _ = cmd_tx.send(SamplerCmd::Watch(s.watch(Some(stuck_after), true)));
            let run = s.id;
            *current = Some(s);
            if scale {
                Action::Run(RunAction::ScaleStarted { run })
            } else {
                Action::Run(RunAction::RunStarted { run, method })
            }
        }
        Err(e) => Action::Run(RunAction::LaunchFailed(format!("{e:#}"))),
    }
}

/// Maps a terminal event to an action, through the one key table.
pub fn to_action(ev: Event, app: &App) -> Option<Action> {
    match ev {
        Event::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press | KeyEventKind::Repeat,
            ..
        }) => {
            if modifiers.contains(KeyModifiers::CONTROL) && code == KeyCode::Char('c') {
                return Some(Action::Quit);
            }
            crate::app::keys::action_for(code, app)
        }
        Event::Resize(w, h) => Some(Action::Nav(NavAction::Resize(w, h))),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::Down(MouseButton::Left) => ui::click(app, m.column, m.row),
            MouseEventKind::ScrollDown => Some(Action::Nav(NavAction::SelectNext)),
            MouseEventKind::ScrollUp => Some(Action::Nav(NavAction::SelectPrev)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{ControlAction, SettingsAction, TimeAction, TreeAction};
    use crate::scenario::{Overrides, parse};
    use ratatui::crossterm::event::{MouseEvent, MouseEventKind};

    fn key(c: KeyCode, m: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(c, m))
    }

    fn app() -> App {
        let sc = parse(
            "scenarios/pool.toml",
            include_str!("../../scenarios/pool.toml"),
            &Overrides::default(),
        )
        .unwrap();
        App::new(Arc::new(sc), 4.0)
    }

    fn press(a: &App, c: KeyCode) -> Option<Action> {
        to_action(key(c, KeyModifiers::NONE), a)
    }

    #[test]
    fn a_question_acts_on_y_only_and_says_so_otherwise() {
        use crate::app::Effect;
        let mut a = app();
        for (k, yes) in [
            (KeyCode::Char('y'), true),
            (KeyCode::Char('k'), false),
            (KeyCode::Char('x'), false),
            (KeyCode::Char('j'), false),
            (KeyCode::Esc, false),
            (KeyCode::Char('q'), false),
        ] {
            a.overlay.confirm = Some(crate::app::Question::Kill(4242, "pool worker 1".into()));
            let act = press(&a, k).expect("every key answers");
            assert_eq!(act, Action::Control(ControlAction::Confirm(yes)), "{k:?}");
            let eff = a.update(act);
            assert_eq!(matches!(eff, Effect::Signal(..)), yes, "{k:?}");
            if !yes {
                assert_eq!(
                    a.overlay.notice.as_deref(),
                    Some("pool worker 1 not killed: only y confirms")
                );
            }
        }
    }

    #[test]
    fn keys_map_to_actions() {
        let a = app();
        assert_eq!(press(&a, KeyCode::Char('q')), Some(Action::AskQuit));
        assert_eq!(
            to_action(key(KeyCode::Char('c'), KeyModifiers::CONTROL), &a),
            Some(Action::Quit)
        );
        assert_eq!(
            press(&a, KeyCode::Char('m')),
            Some(Action::Run(RunAction::NextMethod))
        );
        assert_eq!(
            press(&a, KeyCode::Char('r')),
            Some(Action::Run(RunAction::Rerun))
        );
        assert_eq!(
            press(&a, KeyCode::Char('?')),
            Some(Action::Nav(NavAction::ToggleHelp))
        );
        assert_eq!(
            press(&a, KeyCode::Char(' ')),
            Some(Action::Settings(SettingsAction::ToggleFreeze))
        );
        assert_eq!(
            press(&a, KeyCode::Char(']')),
            Some(Action::Settings(SettingsAction::Faster))
        );
        assert_eq!(
            press(&a, KeyCode::Char('+')),
            Some(Action::Settings(SettingsAction::MoreWorkers))
        );
        assert_eq!(
            press(&a, KeyCode::Char('/')),
            Some(Action::Tree(TreeAction::StartFilter))
        );
        assert_eq!(
            press(&a, KeyCode::Char('x')),
            Some(Action::Run(RunAction::MeasureScaling))
        );
        assert_eq!(press(&a, KeyCode::Char('Z')), None);
        assert_eq!(
            press(&a, KeyCode::Left),
            Some(Action::Time(TimeAction::TimeBack))
        );
        assert_eq!(
            press(&a, KeyCode::Right),
            Some(Action::Time(TimeAction::TimeForward))
        );
        assert_eq!(
            press(&a, KeyCode::PageDown),
            Some(Action::Nav(NavAction::PageDown))
        );
        assert_eq!(
            press(&a, KeyCode::Char('G')),
            Some(Action::Nav(NavAction::End))
        );
        assert_eq!(
            press(&a, KeyCode::Char('h')),
            Some(Action::Tree(TreeAction::ToggleEnded))
        );
        assert_eq!(
            press(&a, KeyCode::Char('I')),
            Some(Action::Tree(TreeAction::ReverseSort))
        );
        assert_eq!(press(&a, KeyCode::Esc), None, "Esc only closes or cancels");
        let click = Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 3,
            row: 7,
            modifiers: KeyModifiers::NONE,
        });
        assert_eq!(to_action(click, &a), None, "no row or tab is drawn there");
    }

    #[test]
    fn while_typing_a_filter_keys_are_text() {
        let mut a = app();
        a.update(Action::Tree(TreeAction::StartFilter));
        assert_eq!(
            press(&a, KeyCode::Char('q')),
            Some(Action::Tree(TreeAction::FilterChar('q')))
        );
        assert_eq!(
            press(&a, KeyCode::Char('k')),
            Some(Action::Tree(TreeAction::FilterChar('k')))
        );
        assert_eq!(
            press(&a, KeyCode::Backspace),
            Some(Action::Tree(TreeAction::FilterBackspace))
        );
        assert_eq!(
            press(&a, KeyCode::Enter),
            Some(Action::Tree(TreeAction::FilterDone))
        );
        assert_eq!(
            press(&a, KeyCode::Esc),
            Some(Action::Tree(TreeAction::FilterCancel))
        );
        assert_eq!(
            to_action(key(KeyCode::Char('c'), KeyModifiers::CONTROL), &a),
            Some(Action::Quit),
            "Ctrl-C still quits"
        );
    }

    #[test]
    fn the_help_takes_arrows_and_closes_with_esc_or_q() {
        let mut a = app();
        a.update(Action::Nav(NavAction::ToggleHelp));
        assert_eq!(
            press(&a, KeyCode::Down),
            Some(Action::Nav(NavAction::ScrollHelp(1)))
        );
        assert_eq!(
            press(&a, KeyCode::Char('q')),
            Some(Action::Nav(NavAction::ToggleHelp)),
            "q closes the help"
        );
        a.update(Action::Nav(NavAction::ScrollHelp(5)));
        assert_eq!(a.overlay.help_scroll, 5);
        a.update(Action::Nav(NavAction::ScrollHelp(-50)));
        assert_eq!(a.overlay.help_scroll, 0);
    }

    #[test]
    fn the_picker_takes_arrows_enter_and_esc() {
        let mut a = app();
        a.update(Action::Picker(PickerAction::PickerItems(vec![(
            "a.toml".into(),
            "A".into(),
        )])));
        assert_eq!(
            press(&a, KeyCode::Down),
            Some(Action::Nav(NavAction::SelectNext))
        );
        assert_eq!(
            press(&a, KeyCode::Enter),
            Some(Action::Picker(PickerAction::PickerChoose))
        );
        assert_eq!(
            press(&a, KeyCode::Esc),
            Some(Action::Picker(PickerAction::PickerCancel))
        );
        assert_eq!(
            press(&a, KeyCode::Char('q')),
            Some(Action::Picker(PickerAction::PickerCancel)),
            "q closes, not quits"
        );
    }

    #[test]
    fn the_picker_lists_every_scenario_with_its_title() {
        let items = list_scenarios("scenarios/pool.toml");
        assert!(items.len() >= 10, "{items:?}");
        let pool = items
            .iter()
            .find(|(p, _)| p == "scenarios/pool.toml")
            .unwrap();
        assert_eq!(pool.1, "Pool.map: counting primes on every core");
        assert!(items.iter().all(|(_, t)| !t.starts_with('✗')), "{items:?}");
    }
}
