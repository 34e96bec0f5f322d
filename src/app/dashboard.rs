//! The dashboard's run loop: one thread reads keys, one samples, one reaps;
//! this loop turns what they send into [`Action`]s, applies them, carries out
//! the [`Effect`]s and redraws only when something changed.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, select, unbounded};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{Action, App, Effect};
use crate::scenario::Scenario;
use crate::session::{self, Session, SessionEvent};
use crate::telemetry::sampler::{self, SamplerCmd};
use crate::ui;
use crate::ui::terminal::TerminalGuard;

/// Opens the dashboard on `scenario` and runs until the user quits.
pub fn run_dashboard(scenario: Scenario, rate_hz: f64) -> anyhow::Result<i32> {
    let scenario = Arc::new(scenario);
    let (ev_tx, ev_rx) = unbounded();
    session::start_reaper(ev_tx.clone())?;
    let (cmd_tx, cmd_rx) = unbounded();
    let (snap_tx, snap_rx) = crossbeam_channel::bounded(4);
    sampler::spawn(rate_hz, cmd_rx, snap_tx);
    let keys = spawn_input();

    let mut guard = TerminalGuard::enter()?;
    let mut app = App::new(scenario.clone(), rate_hz);
    let mut current: Option<Session> = None;
    let mut next_run = 1;
    let mut effect = Effect::Launch(app.method);
    loop {
        match effect {
            Effect::Quit => break,
            Effect::Launch(_) | Effect::LaunchScale => {
                let scale = effect == Effect::LaunchScale;
                let method = match effect {
                    Effect::Launch(m) => m,
                    _ => app.method,
                };
                // The old run's group dies here, before the new one starts.
                current = None;
                let launched =
                    Session::launch_mode(next_run, scenario.clone(), method, scale, ev_tx.clone());
                let action = match launched {
                    Ok(s) => {
                        let _ = cmd_tx.send(SamplerCmd::Watch(s.id, s.board.clone()));
                        let run = s.id;
                        current = Some(s);
                        if scale {
                            Action::ScaleStarted { run }
                        } else {
                            Action::RunStarted { run, method }
                        }
                    }
                    Err(e) => Action::LaunchFailed(format!("{e:#}")),
                };
                next_run += 1;
                app.update(action);
                guard.draw(|f| ui::draw(f, &app))?;
            }
            Effect::Signal(pid, sig) => {
                // Only to a live process of the current run (checked by the
                // app against the board), never to anything else.
                if let Some(s) = current.as_ref()
                    && s.board.find_pid(pid).is_some()
                {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
                }
                guard.draw(|f| ui::draw(f, &app))?;
            }
            Effect::Redraw => guard.draw(|f| ui::draw(f, &app))?,
            Effect::None => {}
        }
        let action = select! {
            recv(keys) -> k => match k {
                Ok(ev) => match to_action(ev) { Some(a) => a, None => { effect = Effect::None; continue } },
                Err(_) => Action::Quit,
            },
            recv(snap_rx) -> s => match s {
                Ok(s) => Action::Sample(Box::new(s)),
                Err(_) => Action::Quit,
            },
            recv(ev_rx) -> e => match e {
                Ok(e) => match session_action(&mut current, e) {
                    Some(a) => a,
                    None => { effect = Effect::None; continue }
                },
                Err(_) => Action::Quit,
            },
        };
        effect = app.update(action);
        // Fault injection for the tests (debug builds only): a panic mid-run
        // must still restore the terminal and take the run down with us.
        if cfg!(debug_assertions)
            && std::env::var_os("MPDASH_TEST_PANIC").is_some()
            && app.snapshot.live.len() >= 2
        {
            panic!("MPDASH_TEST_PANIC: a panic while the run is live");
        }
    }
    drop(current);
    session::reap_remaining(Duration::from_millis(300));
    drop(guard);
    Ok(0)
}

/// Turns what happened to a run into an action for the current run.
fn session_action(current: &mut Option<Session>, e: SessionEvent) -> Option<Action> {
    match e {
        SessionEvent::Signal(_) => Some(Action::Quit),
        SessionEvent::Output { run, line } => {
            (current.as_ref()?.id == run).then_some(Action::Output(line))
        }
        SessionEvent::OutputClosed { run } => {
            let s = current.as_mut()?;
            if s.id == run {
                s.output_closed = true;
            }
            None
        }
        SessionEvent::Reaped(r) => {
            let s = current.as_mut()?;
            let was_running = s.is_running();
            if s.on_reaped(&r) && was_running && !s.is_running() {
                return Some(Action::RunEnded {
                    exit: s.main_exit.unwrap_or(-1),
                    wall: s.elapsed(),
                    rows: crate::telemetry::board_view::read_procs(&s.board),
                });
            }
            None
        }
    }
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

/// Maps a terminal event to an action, through the one key table.
pub fn to_action(ev: Event) -> Option<Action> {
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
            ui::keys::action_for(code)
        }
        Event::Resize(..) => Some(Action::Resize),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode, m: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(c, m))
    }

    #[test]
    fn keys_map_to_actions() {
        assert_eq!(
            to_action(key(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            to_action(key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            to_action(key(KeyCode::Char('m'), KeyModifiers::NONE)),
            Some(Action::NextMethod)
        );
        assert_eq!(
            to_action(key(KeyCode::Char('r'), KeyModifiers::NONE)),
            Some(Action::Rerun)
        );
        assert_eq!(
            to_action(key(KeyCode::Char('?'), KeyModifiers::NONE)),
            Some(Action::ToggleHelp)
        );
        assert_eq!(to_action(key(KeyCode::Char('z'), KeyModifiers::NONE)), None);
    }
}
