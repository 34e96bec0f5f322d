//! Drawing: a pure function of the [`App`]. No I/O, no locks, no state changes.

pub mod format;
mod header;
mod help;
pub mod keys;
mod pool_panel;
mod process_panel;
pub mod terminal;
mod text_panels;

#[cfg(test)]
mod snapshot_tests;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

use crate::app::App;

/// Width from which the bottom panels sit side by side in one row.
const WIDE: u16 = 120;

/// Draws the whole dashboard.
pub fn draw(f: &mut Frame, app: &App) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(8),
        Constraint::Length(1),
    ])
    .areas(f.area());
    header::draw(f, header, app);
    text_panels::draw_hints(f, footer, app);
    let has_pool = app.scenario.uses_pool();
    // The process table wants its rows; the panels below get the rest.
    let want = app.snapshot.procs.len() as u16 + 3;
    let bottom_min = if body.width >= WIDE { 10 } else { 14 };
    let procs_h = want.clamp(5, body.height.saturating_sub(bottom_min).max(5));
    let [procs, bottom] =
        Layout::vertical([Constraint::Length(procs_h), Constraint::Min(0)]).areas(body);
    process_panel::draw(f, procs, app);
    if body.width >= WIDE {
        let [left, output, explain] = Layout::horizontal([
            Constraint::Percentage(38),
            Constraint::Percentage(32),
            Constraint::Percentage(30),
        ])
        .areas(bottom);
        if has_pool {
            pool_panel::draw(f, left, app);
            text_panels::draw_output(f, output, app);
        } else {
            let [out, _] = Layout::horizontal([Constraint::Percentage(100), Constraint::Length(0)])
                .areas(left.union(output));
            text_panels::draw_output(f, out, app);
        }
        text_panels::draw_explain(f, explain, app);
    } else {
        let [top, output] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(bottom);
        if has_pool {
            let [pool, explain] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(top);
            pool_panel::draw(f, pool, app);
            text_panels::draw_explain(f, explain, app);
        } else {
            text_panels::draw_explain(f, top, app);
        }
        text_panels::draw_output(f, output, app);
    }
    if app.show_help {
        help::draw(f, f.area(), app);
    }
}
