//! Drawing: a pure function of the [`App`]. No I/O, no locks, no state changes.

mod compare_panel;
pub mod format;
pub mod header;
mod help;
mod log_panel;
mod pool_panel;
pub mod process_panel;
mod resource_panel;
mod scaling_panel;
mod stack_panel;
mod stuck_banner;
pub mod terminal;
mod text_panels;

#[cfg(test)]
mod snapshot_tests;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use crate::app::{Action, App, NavAction, Tab, Zoom};

/// Width from which the bottom panels sit side by side in one row.
const WIDE: u16 = 120;

/// Where the Live tab's panels go. `panel` is the pool or the shared
/// resources; `explain` may be empty (narrow terminals without a pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveAreas {
    /// The stuck banner, above everything (empty while the run moves).
    pub banner: Rect,
    pub procs: Rect,
    pub panel: Rect,
    pub output: Rect,
    pub explain: Rect,
    /// The selected process's Python stacks (an attached tree, a Python
    /// program); empty otherwise.
    pub stack: Rect,
}

/// The body of the screen (between the header and the hint bar).
fn body_of(area: Rect) -> (Rect, Rect, Rect) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(8),
        Constraint::Length(1),
    ])
    .areas(area);
    (header, body, footer)
}

/// The Live tab's layout for a screen of `area` (also used to map mouse
/// clicks to rows, so drawing and clicking agree).
pub fn live_areas(area: Rect, app: &App) -> LiveAreas {
    let (_, body, _) = body_of(area);
    let banner_h = stuck_banner::height(app, body.width).min(body.height / 2);
    let [banner, body] =
        Layout::vertical([Constraint::Length(banner_h), Constraint::Min(0)]).areas(body);
    if let Some(z) = app.live.zoom {
        let mut a = LiveAreas {
            banner,
            ..Default::default()
        };
        match z {
            Zoom::Processes => a.procs = body,
            Zoom::Panel => a.panel = body,
            Zoom::Output => a.output = body,
            Zoom::Explain => a.explain = body,
        }
        return a;
    }
    // An attached tree: no objects of ours, no output of its own to relay;
    // the stacks get the room, beside what to watch.
    if app.source.attached().is_some() {
        let want = app.rows().len() as u16 + 3;
        let procs_h = want.clamp(5, body.height.saturating_sub(10).max(5));
        let [procs, bottom] =
            Layout::vertical([Constraint::Length(procs_h), Constraint::Min(0)]).areas(body);
        let [stack, explain] = if body.width >= WIDE {
            Layout::horizontal([Constraint::Percentage(65), Constraint::Percentage(35)])
                .areas(bottom)
        } else {
            Layout::vertical([Constraint::Percentage(70), Constraint::Percentage(30)]).areas(bottom)
        };
        return LiveAreas {
            banner,
            procs,
            stack,
            explain,
            ..Default::default()
        };
    }
    let has_pool = app.shows_pool();
    // The process table wants its rows; the panels below get the rest. When
    // both cannot have what they want, the table comes first (down to a
    // floor for the panels), and an empty resources panel is one line.
    let want = app.rows().len() as u16 + 3;
    let resources = if has_pool {
        0
    } else {
        resource_panel::lines(app).len() as u16
    };
    let bottom_pref = if body.width >= WIDE { 10 } else { 14 }.max(resources + 2 + 5);
    let bottom_floor = bottom_pref.min(if resources == 0 { 6 } else { 8 });
    let procs_h = if want + bottom_pref <= body.height {
        want.max(5)
    } else {
        want.min(body.height.saturating_sub(bottom_floor))
            .max(5.min(body.height))
    };
    let [procs, bottom] =
        Layout::vertical([Constraint::Length(procs_h), Constraint::Min(0)]).areas(body);
    // No pool and no resources: the panel is a line saying so.
    // A program we cannot see inside has no such panel at all.
    let blind = app.source.is_foreign() && !app.source.is_probed();
    let (collapsed, bottom) = if blind {
        (Rect::default(), bottom)
    } else if !has_pool && resources == 0 && bottom.height > 3 {
        let [line, rest] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(bottom);
        (line, rest)
    } else {
        (Rect::default(), bottom)
    };
    let (panel, output, explain) = if body.width >= WIDE {
        if has_pool {
            let [panel, output, explain] = Layout::horizontal([
                Constraint::Percentage(38),
                Constraint::Percentage(32),
                Constraint::Percentage(30),
            ])
            .areas(bottom);
            (panel, output, explain)
        } else {
            // Resource lines are long: they get the width; output and the
            // explanation share the rest.
            let res_h = if collapsed.height > 0 || blind {
                0
            } else {
                (resources + 2).clamp(3, bottom.height.saturating_sub(4))
            };
            let [panel, rest] =
                Layout::vertical([Constraint::Length(res_h), Constraint::Min(0)]).areas(bottom);
            let [output, explain] =
                Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                    .areas(rest);
            (panel, output, explain)
        }
    } else {
        let top_share = if (collapsed.height > 0 || blind) && !app.shows_stacks() {
            0
        } else {
            55
        };
        let [top, output] = Layout::vertical([
            Constraint::Percentage(top_share),
            Constraint::Percentage(100 - top_share),
        ])
        .areas(bottom);
        if has_pool {
            let [panel, explain] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(top);
            (panel, output, explain)
        } else {
            (top, output, Rect::default())
        }
    };
    // A Python program's stacks take the explanation's place (it is one
    // zoom away), or share the top with the objects on narrow screens.
    let (panel, explain, stack) = if !app.shows_stacks() {
        (panel, explain, Rect::default())
    } else if explain.width > 0 && explain.height > 0 {
        (panel, Rect::default(), explain)
    } else if collapsed.height > 0 {
        (Rect::default(), Rect::default(), panel)
    } else {
        let [panel, stack] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(panel);
        (panel, Rect::default(), stack)
    };
    // The collapsed line is the resources panel.
    let panel = if collapsed.height > 0 {
        collapsed
    } else {
        panel
    };
    LiveAreas {
        banner,
        procs,
        panel,
        output,
        explain,
        stack,
    }
}

/// Draws the whole dashboard.
/// What a left click at (column, row) means, from where things are drawn:
/// a tab in the header, or a row of the process table.
pub fn click(app: &App, x: u16, y: u16) -> Option<Action> {
    if app.overlay.picker.is_some() || app.overlay.help {
        return None;
    }
    if y == 0 {
        let (_, tabs) = header::title(app, app.term.0);
        return tabs
            .into_iter()
            .find(|(a, b, _)| (*a..*b).contains(&x))
            .map(|(_, _, t)| Action::Nav(NavAction::ShowTab(t)));
    }
    if app.tab != Tab::Live {
        return None;
    }
    let table = live_areas(Rect::new(0, 0, app.term.0, app.term.1), app).procs;
    let inside = x >= table.x
        && x < table.x + table.width
        && y >= table.y + 2
        && y + 1 < table.y + table.height;
    if !inside {
        return None;
    }
    // The table scrolls so the selection stays visible, as ratatui does.
    let visible = table.height.saturating_sub(3) as usize;
    let offset = (app.live.selected + 1).saturating_sub(visible);
    Some(Action::Nav(NavAction::SelectRow(
        offset + (y - table.y - 2) as usize,
    )))
}

pub fn draw(f: &mut Frame, app: &App) {
    let (header, body, footer) = body_of(f.area());
    header::draw(f, header, app);
    text_panels::draw_hints(f, footer, app);
    match app.tab {
        Tab::Compare => compare_panel::draw(f, body, app),
        Tab::Log => log_panel::draw(f, body, app),
        Tab::Scaling => scaling_panel::draw(f, body, app),
        Tab::Live => {
            let a = live_areas(f.area(), app);
            let has = |r: Rect| r.width > 0 && r.height > 0;
            if has(a.banner) {
                stuck_banner::draw(f, a.banner, app);
            }
            if has(a.procs) {
                process_panel::draw(f, a.procs, app);
            }
            if has(a.panel) {
                if app.shows_pool() && app.current.snapshot.resources.is_empty() {
                    pool_panel::draw(f, a.panel, app);
                } else if app.shows_pool() {
                    // A Python program's pool and its other objects.
                    let [pool, rest] =
                        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)])
                            .areas(a.panel);
                    pool_panel::draw(f, pool, app);
                    resource_panel::draw(f, rest, app);
                } else {
                    resource_panel::draw(f, a.panel, app);
                }
            }
            if has(a.output) {
                text_panels::draw_output(f, a.output, app);
            }
            if has(a.explain) {
                text_panels::draw_explain(f, a.explain, app);
            }
            if has(a.stack) {
                stack_panel::draw(f, a.stack, app);
            }
        }
    }
    if let Some(p) = &app.overlay.picker {
        help::draw_picker(f, f.area(), p);
    } else if app.overlay.help {
        help::draw(f, f.area(), app);
    } else if app.live.show_waits {
        help::draw_waits(f, f.area(), app);
    }
}
