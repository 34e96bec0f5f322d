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

/// A process is selected in a run mpdash started (an attached tree is the
/// user's: never signalled).
fn signalable(a: &App) -> bool {
    selected(a) && a.source.attached().is_none()
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
    /// How the key is written on screen (a key with a name, `space`,
    /// `Enter`, is named in the user's language by [`Binding::key`]).
    pub label: &'static str,
    /// The message id (`locales/*/mpdash.ftl`) of the hint bar's short
    /// word; empty: not in the hint bar.
    pub hint: &'static str,
    /// The message id of the help screen's sentence.
    pub help: &'static str,
    pub action: Action,
    /// Whether the key applies in the app's current state.
    pub when: When,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[KeyCode::Char('q')],
        label: "q",
        hint: "hint-quit",
        help: "help-quit",
        action: Action::AskQuit,
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        label: "r",
        hint: "hint-rerun",
        help: "help-rerun",
        action: Action::Run(RunAction::Rerun),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('m')],
        label: "m",
        hint: "hint-method",
        help: "help-method",
        action: Action::Run(RunAction::NextMethod),
        when: ours,
    },
    Binding {
        keys: &[KeyCode::Tab],
        label: "Tab",
        hint: "hint-tab",
        help: "help-tab",
        action: Action::Nav(NavAction::NextTab),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('1')],
        label: "1",
        hint: "",
        help: "help-tab-live",
        action: Action::Nav(NavAction::ShowTab(Tab::Live)),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('2')],
        label: "2",
        hint: "",
        help: "help-tab-compare",
        action: Action::Nav(NavAction::ShowTab(Tab::Compare)),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('3')],
        label: "3",
        hint: "",
        help: "help-tab-scaling",
        action: Action::Nav(NavAction::ShowTab(Tab::Scaling)),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('4')],
        label: "4",
        hint: "",
        help: "help-tab-log",
        action: Action::Nav(NavAction::ShowTab(Tab::Log)),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('x')],
        label: "x",
        hint: "hint-scaling",
        help: "help-scaling",
        action: Action::Run(RunAction::MeasureScaling),
        when: scaling,
    },
    Binding {
        keys: &[KeyCode::Char('k')],
        label: "k",
        hint: "hint-kill",
        help: "help-kill",
        action: Action::Control(ControlAction::KillSelected),
        when: signalable,
    },
    Binding {
        keys: &[KeyCode::Char('s')],
        label: "s",
        hint: "",
        help: "help-stop",
        action: Action::Control(ControlAction::StopSelected),
        when: signalable,
    },
    Binding {
        keys: &[KeyCode::Char('c')],
        label: "c",
        hint: "",
        help: "help-cont",
        action: Action::Control(ControlAction::ContinueSelected),
        when: signalable,
    },
    Binding {
        keys: &[KeyCode::Char('y')],
        label: "y",
        hint: "",
        help: "help-yes",
        action: Action::Control(ControlAction::Confirm(true)),
        when: asking,
    },
    Binding {
        keys: &[KeyCode::Char('n')],
        label: "n",
        hint: "",
        help: "help-no",
        action: Action::Control(ControlAction::Confirm(false)),
        when: asking,
    },
    Binding {
        keys: &[KeyCode::Down, KeyCode::Char('j')],
        label: "↓",
        hint: "",
        help: "help-down",
        action: Action::Nav(NavAction::SelectNext),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::Up],
        label: "↑",
        hint: "",
        help: "help-up",
        action: Action::Nav(NavAction::SelectPrev),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::PageDown],
        label: "PgDn",
        hint: "",
        help: "help-page-down",
        action: Action::Nav(NavAction::PageDown),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::PageUp],
        label: "PgUp",
        hint: "",
        help: "help-page-up",
        action: Action::Nav(NavAction::PageUp),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::Home, KeyCode::Char('g')],
        label: "Home/g",
        hint: "",
        help: "help-home",
        action: Action::Nav(NavAction::Home),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::End, KeyCode::Char('G')],
        label: "End/G",
        hint: "",
        help: "help-end",
        action: Action::Nav(NavAction::End),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::Left],
        label: "←",
        hint: "hint-back",
        help: "help-back",
        action: Action::Time(TimeAction::TimeBack),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Right],
        label: "→",
        hint: "",
        help: "help-forward",
        action: Action::Time(TimeAction::TimeForward),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Enter],
        label: "Enter",
        hint: "",
        help: "help-enter",
        action: Action::Tree(TreeAction::ToggleCollapse),
        when: lists_or_compare,
    },
    Binding {
        keys: &[KeyCode::Char('/')],
        label: "/",
        hint: "hint-filter",
        help: "help-filter",
        action: Action::Tree(TreeAction::StartFilter),
        when: lists,
    },
    Binding {
        keys: &[KeyCode::Char('S')],
        label: "S",
        hint: "",
        help: "help-sort",
        action: Action::Tree(TreeAction::CycleSort),
        when: live,
    },
    Binding {
        keys: &[KeyCode::Char('I')],
        label: "I",
        hint: "",
        help: "help-reverse",
        action: Action::Tree(TreeAction::ReverseSort),
        when: live,
    },
    Binding {
        keys: &[KeyCode::Char('h')],
        label: "h",
        hint: "",
        help: "help-hide-ended",
        action: Action::Tree(TreeAction::ToggleEnded),
        when: live,
    },
    Binding {
        keys: &[KeyCode::Char(' ')],
        label: "space",
        hint: "hint-freeze",
        help: "help-freeze",
        action: Action::Settings(SettingsAction::ToggleFreeze),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('z')],
        label: "z",
        hint: "hint-zoom",
        help: "help-zoom",
        action: Action::Nav(NavAction::CycleZoom),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char(']')],
        label: "]",
        hint: "",
        help: "help-faster",
        action: Action::Settings(SettingsAction::Faster),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('[')],
        label: "[",
        hint: "",
        help: "help-slower",
        action: Action::Settings(SettingsAction::Slower),
        when: always,
    },
    Binding {
        keys: &[KeyCode::Char('+'), KeyCode::Char('=')],
        label: "+",
        hint: "",
        help: "help-more-workers",
        action: Action::Settings(SettingsAction::MoreWorkers),
        when: pool,
    },
    Binding {
        keys: &[KeyCode::Char('-')],
        label: "-",
        hint: "",
        help: "help-fewer-workers",
        action: Action::Settings(SettingsAction::FewerWorkers),
        when: pool,
    },
    Binding {
        keys: &[KeyCode::Char('o')],
        label: "o",
        hint: "hint-open",
        help: "help-open",
        action: Action::Picker(PickerAction::OpenPicker),
        when: ours_or_python,
    },
    Binding {
        keys: &[KeyCode::Char('w')],
        label: "w",
        hint: "hint-waits",
        help: "help-waits",
        action: Action::Nav(NavAction::ToggleWaits),
        when: live,
    },
    Binding {
        keys: &[KeyCode::Char('?'), KeyCode::F(1)],
        label: "?",
        hint: "hint-help",
        help: "help-help",
        action: Action::Nav(NavAction::ToggleHelp),
        when: always,
    },
];

impl Binding {
    /// The key as the user's keyboard names it (`espace`, `Entrée` in French).
    pub fn key(&self) -> String {
        match self.label {
            "space" => crate::t!("key-space"),
            "Enter" => crate::t!("key-enter"),
            "PgDn" => crate::t!("key-page-down"),
            "PgUp" => crate::t!("key-page-up"),
            "Home/g" => crate::t!("key-home"),
            "End/G" => crate::t!("key-end"),
            other => other.to_string(),
        }
    }

    /// The hint bar's word, in the user's language (empty: none).
    pub fn hint_text(&self) -> String {
        if self.hint.is_empty() {
            String::new()
        } else {
            crate::i18n::tr(self.hint, &[])
        }
    }

    /// The help screen's sentence, in the user's language.
    pub fn help_text(&self) -> String {
        crate::i18n::tr(self.help, &[])
    }
}

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

    /// Every binding's words are messages of every language.
    #[test]
    fn every_hint_and_help_is_a_message() {
        use crate::i18n::{Lang, tr_in};
        for b in BINDINGS {
            for id in [b.hint, b.help].into_iter().filter(|id| !id.is_empty()) {
                for lang in Lang::ALL {
                    assert_ne!(tr_in(lang, id, &[]), id, "{id} in {lang:?}");
                }
            }
        }
    }

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
