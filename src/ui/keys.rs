//! The one key table: it maps keys to actions and feeds both the hint bar and
//! the `?` help, so neither can drift from what the keys do.

use ratatui::crossterm::event::KeyCode;

use crate::app::{Action, Tab};

pub struct Binding {
    pub keys: &'static [KeyCode],
    /// How the key is written on screen.
    pub label: &'static str,
    /// Short word for the hint bar.
    pub hint: &'static str,
    /// Sentence for the help screen.
    pub help: &'static str,
    pub action: Action,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[KeyCode::Char('q'), KeyCode::Esc],
        label: "q",
        hint: "quit",
        help: "Quit: the run's processes are killed and the terminal restored (also Ctrl-C).",
        action: Action::Quit,
    },
    Binding {
        keys: &[KeyCode::Char('r')],
        label: "r",
        hint: "rerun",
        help: "Kill the current run and start the scenario again.",
        action: Action::Rerun,
    },
    Binding {
        keys: &[KeyCode::Char('m')],
        label: "m",
        hint: "method",
        help: "Switch to the next start method (fork → spawn → forkserver) and rerun.",
        action: Action::NextMethod,
    },
    Binding {
        keys: &[KeyCode::Tab],
        label: "Tab",
        hint: "tabs",
        help: "Next tab: Live, Compare (every finished run side by side), Scaling, Log.",
        action: Action::NextTab,
    },
    Binding {
        keys: &[KeyCode::Char('1')],
        label: "1",
        hint: "",
        help: "Live tab: the current run.",
        action: Action::ShowTab(Tab::Live),
    },
    Binding {
        keys: &[KeyCode::Char('2')],
        label: "2",
        hint: "",
        help: "Compare tab: start latency, memory and wall time of every finished run.",
        action: Action::ShowTab(Tab::Compare),
    },
    Binding {
        keys: &[KeyCode::Char('3')],
        label: "3",
        hint: "",
        help: "Scaling tab: speedup against workers of the last scaling measurement.",
        action: Action::ShowTab(Tab::Scaling),
    },
    Binding {
        keys: &[KeyCode::Char('4')],
        label: "4",
        hint: "",
        help: "Log tab: starts, exits with their signals, deaths, losses and recoveries.",
        action: Action::ShowTab(Tab::Log),
    },
    Binding {
        keys: &[KeyCode::Char('g')],
        label: "g",
        hint: "scaling",
        help: "Measure scaling (scenarios with [scaling]): 1…N workers as processes, as threads under a simulated GIL, as free threads.",
        action: Action::MeasureScaling,
    },
    Binding {
        keys: &[KeyCode::Char('k')],
        label: "k",
        hint: "kill",
        help: "SIGKILL the selected process (asks y/n): watch the pool replace a worker, a lock pass to the next holder.",
        action: Action::KillSelected,
    },
    Binding {
        keys: &[KeyCode::Char('s')],
        label: "s",
        hint: "",
        help: "SIGSTOP the selected process (stop a consumer and watch its queue fill).",
        action: Action::StopSelected,
    },
    Binding {
        keys: &[KeyCode::Char('c')],
        label: "c",
        hint: "",
        help: "SIGCONT the selected process.",
        action: Action::ContinueSelected,
    },
    Binding {
        keys: &[KeyCode::Char('y')],
        label: "y",
        hint: "",
        help: "Answer yes to a question (the kill confirmation).",
        action: Action::Confirm(true),
    },
    Binding {
        keys: &[KeyCode::Char('n')],
        label: "n",
        hint: "",
        help: "Answer no to a question (any other key does too).",
        action: Action::Confirm(false),
    },
    Binding {
        keys: &[KeyCode::Down],
        label: "↓",
        hint: "",
        help: "Select the next process.",
        action: Action::SelectNext,
    },
    Binding {
        keys: &[KeyCode::Up],
        label: "↑",
        hint: "",
        help: "Select the previous process.",
        action: Action::SelectPrev,
    },
    Binding {
        keys: &[KeyCode::Char('?'), KeyCode::F(1)],
        label: "?",
        hint: "help",
        help: "Show or hide this help.",
        action: Action::ToggleHelp,
    },
];

/// The action a key stands for, if any.
pub fn action_for(code: KeyCode) -> Option<Action> {
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
