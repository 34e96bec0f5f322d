//! The `?` help, generated from the key table; the scenario picker; the
//! wait-for graph (`w`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::app::keys::BINDINGS;
use crate::app::{App, Picker};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let h = (BINDINGS.len() as u16 + 4).min(area.height);
    let popup = centered(area, 110, h);
    // A small terminal shows a window of the keys, scrolled with ↑/↓.
    let rows = popup.height.saturating_sub(4) as usize;
    let first = app.help_scroll.min(BINDINGS.len().saturating_sub(rows));
    let more = rows < BINDINGS.len();
    let lines: Vec<Line> = BINDINGS
        .iter()
        .skip(first)
        .take(rows)
        .map(|b| {
            Line::from(vec![
                Span::styled(
                    format!(" {:>7}  ", b.label),
                    Style::new().fg(Color::Yellow).bold(),
                ),
                Span::raw(b.help),
            ])
        })
        .collect();
    let footer = if more {
        format!(
            " keys {}–{} of {} · ↑/↓ scroll · Esc close",
            first + 1,
            (first + rows).min(BINDINGS.len()),
            BINDINGS.len()
        )
    } else {
        " CPU% is percent of one core, from /proc/<pid>/stat; START is request → first instruction. Mouse: click a row or a tab.".into()
    };
    popup_with_footer(f, popup, " Keys ", lines, &footer);
}

/// Draws `lines`, a blank line and a dim `footer` in a bordered popup.
fn popup_with_footer(f: &mut Frame, popup: Rect, title: &str, mut lines: Vec<Line>, footer: &str) {
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        footer.to_string(),
        Style::new().fg(Color::DarkGray),
    ));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title.to_string().bold()),
        ),
        popup,
    );
}

/// A `w`×`h` rectangle in the middle of `area` (clipped to it).
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(h.min(area.height)),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, popup, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(w.min(area.width)),
        Constraint::Fill(1),
    ])
    .areas(mid);
    popup
}

/// The scenario picker (`o`): every file of `scenarios/` with its title.
/// Who waits for whom: a chain per blocked process, read off the board.
pub fn draw_waits(f: &mut Frame, area: Rect, app: &App) {
    let snap = &app.snapshot;
    let chains = snap.graph.clone();
    let mut lines: Vec<Line> = if chains.is_empty() {
        vec![Line::styled(
            " Nobody is blocked: every live process computes, sleeps or runs.",
            Style::new().fg(Color::Green),
        )]
    } else {
        chains
            .into_iter()
            .map(|c| Line::from(format!(" {c}")))
            .collect()
    };
    if let Some(d) = &snap.stuck {
        lines.insert(
            0,
            Line::styled(
                format!(" {}", d.summary),
                Style::new().fg(Color::Red).bold(),
            ),
        );
    }
    let h = (lines.len() as u16 * 2 + 3).min(area.height);
    let popup = centered(area, 110, h);
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Who waits for whom ".bold())
                .title_bottom(" w or Esc close ".dark_gray()),
        ),
        popup,
    );
}

pub fn draw_picker(f: &mut Frame, area: Rect, p: &Picker) {
    let popup = centered(area, 100, p.items.len() as u16 + 4);
    let rows = popup.height.saturating_sub(4) as usize;
    let offset = (p.selected + 1).saturating_sub(rows.max(1));
    let mut lines: Vec<Line> = p
        .items
        .iter()
        .enumerate()
        .skip(offset)
        .take(rows)
        .map(|(i, (path, title))| {
            let style = if i == p.selected {
                Style::new().bg(Color::Rgb(40, 44, 60)).bold()
            } else {
                Style::new()
            };
            let name = path.rsplit('/').next().unwrap_or(path);
            Line::from(vec![
                Span::styled(format!(" {name:<22}"), style.fg(Color::Cyan)),
                Span::styled(format!(" {title}"), style),
            ])
        })
        .collect();
    if p.items.is_empty() {
        lines.push(Line::styled(
            " no scenario files in scenarios/",
            Style::new().fg(Color::DarkGray),
        ));
    }
    popup_with_footer(
        f,
        popup,
        " Open a scenario ",
        lines,
        " ↑/↓ choose · Enter open (checked first; the current run is replaced) · Esc close",
    );
}
