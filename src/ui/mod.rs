//! Drawing: a pure function of the [`App`]. No I/O, no locks, no state changes.

mod compare_panel;
pub mod format;
mod header;
mod help;
pub mod keys;
mod log_panel;
mod pool_panel;
pub mod process_panel;
mod resource_panel;
mod scaling_panel;
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
    if app.tab != crate::app::Tab::Live {
        match app.tab {
            crate::app::Tab::Compare => compare_panel::draw(f, body, app),
            crate::app::Tab::Log => log_panel::draw(f, body, app),
            _ => scaling_panel::draw(f, body, app),
        }
        if app.show_help {
            help::draw(f, f.area(), app);
        }
        return;
    }
    let has_pool = app.scenario.uses_pool();
    // The process table wants its rows; the panels below get the rest.
    let want = app.snapshot.procs.len() as u16 + 3;
    let resources = if has_pool {
        0
    } else {
        resource_panel::lines(app).len() as u16
    };
    let bottom_min = if body.width >= WIDE { 10 } else { 14 }.max(resources + 2 + 5);
    let procs_h = want.clamp(5, body.height.saturating_sub(bottom_min).max(5));
    let [procs, bottom] =
        Layout::vertical([Constraint::Length(procs_h), Constraint::Min(0)]).areas(body);
    process_panel::draw(f, procs, app);
    if body.width >= WIDE {
        if has_pool {
            let [left, output, explain] = Layout::horizontal([
                Constraint::Percentage(38),
                Constraint::Percentage(32),
                Constraint::Percentage(30),
            ])
            .areas(bottom);
            pool_panel::draw(f, left, app);
            text_panels::draw_output(f, output, app);
            text_panels::draw_explain(f, explain, app);
        } else {
            // Resource lines are long: they get the width; output and the
            // explanation share the rest.
            let res_h = (resources + 2).clamp(3, bottom.height.saturating_sub(4));
            let [res, rest] =
                Layout::vertical([Constraint::Length(res_h), Constraint::Min(0)]).areas(bottom);
            let [output, explain] =
                Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                    .areas(rest);
            resource_panel::draw(f, res, app);
            text_panels::draw_output(f, output, app);
            text_panels::draw_explain(f, explain, app);
        }
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
            resource_panel::draw(f, top, app);
        }
        text_panels::draw_output(f, output, app);
    }
    if app.show_help {
        help::draw(f, f.area(), app);
    }
}
