//! The one key table: it maps keys to actions and feeds both the hint bar and
//! the `?` help, so neither can drift from what the keys do.

use ratatui::crossterm::event::KeyCode;

use crate::app::{
    Action, App, ControlAction, NavAction, PickerAction, RunAction, SettingsAction, Tab,
    TimeAction, TreeAction,
};

/// When a key means something (the hint bar shows only those).
type When = fn(&App) -> bool;

fn always(_: &App) -> bool {
    true
}

fn live(a: &App) -> bool {
    a.tab == Tab::Live
}

/// A tab with a list to move in (processes, the Log, the scaling points).
fn lists(a: &App) -> bool {
    matches!(a.tab, Tab::Live | Tab::Log | Tab::Scaling)
}

fn lists_or_compare(a: &App) -> bool {
    matches!(a.tab, Tab::Live | Tab::Compare)
}

fn selected(a: &App) -> bool {
    a.tab == Tab::Live && a.selected_process().is_some()
}

fn pool(a: &App) -> bool {
    a.scenario.uses_pool()
}

fn scaling(a: &App) -> bool {
    a.scenario.scaling.is_some()
}

/// A scenario of ours, not a watched command.
fn ours(a: &App) -> bool {
    !a.source.is_foreign()
}

/// A scenario of ours or a probed Python program (both open others).
fn ours_or_python(a: &App) -> bool {
    !a.source.is_foreign() || a.source.is_probed()
}

fn asking(a: &App) -> bool {
    a.overlay.confirm.is_some()
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    /// How the key is written on screen.
    pub label: &'static str,
    /// Short word for the hint bar.
    pub hint: &'static str,
    /// Sentence for the help screen.
    pub help: &'static str,
    pub action: Action,
    /// Whether the key applies in the app's current state.
    pub when: When,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[KeyCode::Char('q')],
        label: "q",
        hint: "quit",
        help: "Quit: asks first while a run is live (its processes are killed and the terminal restored); Ctrl-C quits without asking. Esc never quits: it only closes or cancels.",
        action: Action::AskQuit,
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        label: "r",
        hint: "rerun",
        help: "Kill the current run and start the scenario again.",
        action: Action::Run(RunAction::Rerun),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('m')],
        label: "m",
        hint: "method",
        help: "Switch to the next start method (fork → spawn → forkserver) and rerun.",
        action: Action::Run(RunAction::NextMethod),
        when: ours,
    },
    Binding {
        keys: &[KeyCode::Tab],
        label: "Tab",
        hint: "tabs",
        help: "Next tab: Live, Compare (every finished run side by side), Scaling, Log.",
        action: Action::Nav(NavAction::NextTab),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('1')],
        label: "1",
        hint: "",
        help: "Live tab: the current run.",
        action: Action::Nav(NavAction::ShowTab(Tab::Live)),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('2')],
        label: "2",
        hint: "",
        help: "Compare tab: start latency, memory and wall time of every finished run.",
        action: Action::Nav(NavAction::ShowTab(Tab::Compare)),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('3')],
        label: "3",
        hint: "",
        help: "Scaling tab: speedup against workers of the last scaling measurement.",
        action: Action::Nav(NavAction::ShowTab(Tab::Scaling)),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('4')],
        label: "4",
        hint: "",
        help: "Log tab: starts, exits with their signals, deaths, losses and recoveries.",
        action: Action::Nav(NavAction::ShowTab(Tab::Log)),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('x')],
        label: "x",
        hint: "scaling",
        help: "Measure scaling ([scaling] scenarios): processes, threads under a simulated GIL, free threads.",
        action: Action::Run(RunAction::MeasureScaling),
        when: scaling,
    },
    Binding {
        keys: &[KeyCode::Char('k')],
        label: "k",
        hint: "kill",
        help: "SIGKILL the selected process (asks y/n): watch the pool replace it, a lock pass on.",
        action: Action::Control(ControlAction::KillSelected),
        when: selected,
    },
    Binding {
        keys: &[KeyCode::Char('s')],
        label: "s",
        hint: "",
        help: "SIGSTOP the selected process (stop a consumer and watch its queue fill).",
        action: Action::Control(ControlAction::StopSelected),
        when: selected,
    },
    Binding {
        keys: &[KeyCode::Char('c')],
        label: "c",
        hint: "",
        help: "SIGCONT the selected process.",
        action: Action::Control(ControlAction::ContinueSelected),
        when: selected,
    },
    Binding {
        keys: &[KeyCode::Char('y')],
        label: "y",
        hint: "",
        help: "Answer yes to a question (kill this process? quit while the run is live?).",
        action: Action::Control(ControlAction::Confirm(true)),
        when: asking,
    },
    Binding {
        keys: &[KeyCode::Char('n')],
        label: "n",
        hint: "",
        help: "Answer no to a question (every key but y does too, and says so).",
        action: Action::Control(ControlAction::Confirm(false)),
        when: asking,
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        label: "↓",
        hint: "",
        help: "Select the next process (on the Log tab: scroll down).",
        action: Action::Nav(NavAction::SelectNext),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::Up],
        label: "↑",
        hint: "",
        help: "Select the previous process (on the Log tab: scroll up).",
        action: Action::Nav(NavAction::SelectPrev),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::PageDown],
        label: "PgDn",
        hint: "",
        help: "A page down the list (processes, the Log, the picker).",
        action: Action::Nav(NavAction::PageDown),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::PageUp],
        label: "PgUp",
        hint: "",
        help: "A page up the list.",
        action: Action::Nav(NavAction::PageUp),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::Home, KeyCode::Char('g')],
        label: "Home/g",
        hint: "",
        help: "The top of the list (the Log's oldest entry).",
        action: Action::Nav(NavAction::Home),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::End, KeyCode::Char('G')],
        label: "End/G",
        hint: "",
        help: "The bottom of the list (the Log's newest entry).",
        action: Action::Nav(NavAction::End),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::Left],
        label: "←",
        hint: "back",
        help: "Step back one sample through the run (the display freezes; the run goes on): every panel shows that moment — tree, CPU, queues, locks, waits, output.",
        action: Action::Time(TimeAction::TimeBack),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Right],
        label: "→",
        hint: "",
        help: "Step forward one sample; at the newest, back to live.",
        action: Action::Time(TimeAction::TimeForward),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Enter],
        label: "Enter",
        hint: "",
        help: "Fold or unfold the selected process's children; on the Compare tab, show the next scenario's runs (the current one first).",
        action: Action::Tree(TreeAction::ToggleCollapse),
        when: lists_or_compare,
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        label: "/",
        hint: "filter",
        help: "Filter processes by name or pid, or on the Log tab its entries by text (Enter keeps it, Esc clears it).",
        action: Action::Tree(TreeAction::StartFilter),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::Char('S')],
        label: "S",
        hint: "",
        help: "Sort siblings by CPU, RSS, PID, name, or start order (cycles; the column header shows it).",
        action: Action::Tree(TreeAction::CycleSort),
        when: live,
    },
    Binding {
        keys: &[KeyCode::Char('I')],
        label: "I",
        hint: "",
        help: "Reverse the sort order.",
        action: Action::Tree(TreeAction::ReverseSort),
        when: live,
    },
    Binding {
        keys: &[KeyCode::Char('h')],
        label: "h",
        hint: "",
        help: "Hide or show processes that have ended (a live one under an ended one stays).",
        action: Action::Tree(TreeAction::ToggleEnded),
        when: live,
    },
    Binding {
        keys: &[KeyCode::Char(' ')],
        label: "space",
        hint: "freeze",
        help: "Freeze the display while the run goes on (← → then step through it); again to catch up.",
        action: Action::Settings(SettingsAction::ToggleFreeze),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('z')],
        label: "z",
        hint: "zoom",
        help: "Give one panel the whole screen: on Live the processes, pool/resources, output, explanation, back; on Scaling the measurement (no tree); on Compare the table.",
        action: Action::Nav(NavAction::CycleZoom),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char(']')],
        label: "]",
        hint: "",
        help: "Sample more often (up to 30 Hz).",
        action: Action::Settings(SettingsAction::Faster),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('[')],
        label: "[",
        hint: "",
        help: "Sample less often (down to 0.5 Hz).",
        action: Action::Settings(SettingsAction::Slower),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('+'), KeyCode::Char('=')],
        label: "+",
        hint: "",
        help: "One pool worker more for the next run (r reruns now).",
        action: Action::Settings(SettingsAction::MoreWorkers),
        when: pool,
    },
    Binding {
        keys: &[KeyCode::Char('-')],
        label: "-",
        hint: "",
        help: "One pool worker fewer for the next run.",
        action: Action::Settings(SettingsAction::FewerWorkers),
        when: pool,
    },
    Binding {
        keys: &[KeyCode::Char('o')],
        label: "o",
        hint: "open",
        help: "Open another scenario or Python program from scenarios/ (a list with each title).",
        action: Action::Picker(PickerAction::OpenPicker),
        when: ours_or_python,
    },
    Binding {
        keys: &[KeyCode::Char('w')],
        label: "w",
        hint: "waits",
        help: "Who waits for whom: each blocked process's chain of waits, as sentences, to what could end it (or why nothing can).",
        action: Action::Nav(NavAction::ToggleWaits),
        when: live,
    },
    Binding {
        keys: &[KeyCode::Char('?'), KeyCode::F(1)],
        label: "?",
        hint: "help",
        help: "Show or hide this help.",
        action: Action::Nav(NavAction::ToggleHelp),
        when: always,
    },
];

/// The action a key stands for, if any. While a filter is typed or the
/// picker is open, keys belong to them.
pub fn action_for(code: KeyCode, app: &App) -> Option<Action> {
    if app.live.editing_filter {
        return match code {
            KeyCode::Char(c) => Some(Action::Tree(TreeAction::FilterChar(c))),
            KeyCode::Backspace => Some(Action::Tree(TreeAction::FilterBackspace)),
            KeyCode::Enter => Some(Action::Tree(TreeAction::FilterDone)),
            KeyCode::Esc => Some(Action::Tree(TreeAction::FilterCancel)),
            _ => None,
        };
    }
    if app.overlay.help {
        return match code {
            KeyCode::Up => Some(Action::Nav(NavAction::ScrollHelp(-1))),
            KeyCode::Down => Some(Action::Nav(NavAction::ScrollHelp(1))),
            KeyCode::PageUp => Some(Action::Nav(NavAction::ScrollHelp(-10))),
            KeyCode::PageDown => Some(Action::Nav(NavAction::ScrollHelp(10))),
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::F(1) => {
                Some(Action::Nav(NavAction::ToggleHelp))
            }
            _ => None,
        };
    }
    // A question takes the next key: y says yes, every other key says no.
    if app.overlay.confirm.is_some() {
        return Some(Action::Control(ControlAction::Confirm(
            code == KeyCode::Char('y'),
        )));
    }
    if app.live.show_waits {
        return match code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('w') => {
                Some(Action::Nav(NavAction::ToggleWaits))
            }
            _ => None,
        };
    }
    if app.overlay.picker.is_some() {
        return match code {
            KeyCode::Up => Some(Action::Nav(NavAction::SelectPrev)),
            KeyCode::Down => Some(Action::Nav(NavAction::SelectNext)),
            KeyCode::PageUp => Some(Action::Nav(NavAction::PageUp)),
            KeyCode::PageDown => Some(Action::Nav(NavAction::PageDown)),
            KeyCode::Home => Some(Action::Nav(NavAction::Home)),
            KeyCode::End => Some(Action::Nav(NavAction::End)),
            KeyCode::Enter => Some(Action::Picker(PickerAction::PickerChoose)),
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('o') => {
                Some(Action::Picker(PickerAction::PickerCancel))
            }
            _ => None,
        };
    }
    BINDINGS
        .iter()
        .find(|b| b.keys.contains(&code))
        .map(|b| b.action.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for k in b.keys {
                assert!(!seen.contains(k), "{k:?} bound twice");
                seen.push(*k);
            }
        }
    }
}
