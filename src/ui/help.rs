//! The `?` help, generated from the key table; the scenario picker; the
//! wait-for graph (`w`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::app::keys::BINDINGS;
use crate::app::{App, Picker};
use crate::t;

/// The keys, each with its sentence wrapped under it: nothing is cut at any
/// width; a small terminal scrolls it (↑/↓, PgUp/PgDn).
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let popup_w = 110.min(area.width);
    let text_w = (popup_w as usize).saturating_sub(2 + 10).max(8);
    let mut all: Vec<Line> = Vec::new();
    for b in BINDINGS {
        let help = b.help_text();
        for (n, piece) in super::format::wrap(&help, text_w).into_iter().enumerate() {
            let key = if n == 0 {
                format!(" {:>7}  ", b.key())
            } else {
                " ".repeat(10)
            };
            all.push(Line::from(vec![
                Span::styled(key, Style::new().fg(Color::Yellow).bold()),
                Span::raw(piece),
            ]));
        }
    }
    let note = t!("help-note");
    let note = super::format::wrap(&note, (popup_w as usize).saturating_sub(3));
    let h = (all.len() + note.len() + 3) as u16;
    let popup = centered(area, popup_w, h.min(area.height));
    let fits = all.len() + note.len() + 3 <= popup.height as usize;
    let rows = if fits {
        all.len()
    } else {
        (popup.height as usize).saturating_sub(4).max(1)
    };
    let first = app.overlay.help_scroll.min(all.len().saturating_sub(rows));
    let footer: Vec<String> = if rows < all.len() {
        vec![format!(
            " {}",
            t!(
                "help-scroll",
                first = first + 1,
                last = (first + rows).min(all.len()),
                total = all.len()
            )
        )]
    } else {
        note.iter().map(|l| format!(" {l}")).collect()
    };
    let lines = all.into_iter().skip(first).take(rows).collect();
    popup_with_footer(f, popup, &format!(" {} ", t!("help-title")), lines, &footer);
}

/// Draws `lines`, a blank line and a dim `footer` in a bordered popup.
fn popup_with_footer(
    f: &mut Frame,
    popup: Rect,
    title: &str,
    mut lines: Vec<Line>,
    footer: &[String],
) {
    lines.push(Line::raw(""));
    for l in footer {
        lines.push(Line::styled(l.clone(), Style::new().fg(Color::DarkGray)));
    }
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
    let snap = &app.current.snapshot;
    let chains = snap.graph.clone();
    let mut lines: Vec<Line> = if chains.is_empty() {
        vec![Line::styled(
            format!(" {}", t!("waits-nobody-blocked")),
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
                .title(format!(" {} ", t!("waits-title")).bold())
                .title_bottom(format!(" {} ", t!("waits-close")).dark_gray()),
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
            // A file in a folder is named with its folder (`stuck/…`,
            // `python/…`): the groups show.
            let mut parts = path.rsplit('/');
            let name = parts.next().unwrap_or(path);
            let group = parts
                .next()
                .filter(|d| *d != "scenarios" && !d.is_empty() && *d != ".")
                .map(|d| format!("{d}/"))
                .unwrap_or_default();
            let pad = 28usize.saturating_sub(group.chars().count() + name.chars().count());
            Line::from(vec![
                Span::styled(format!(" {group}"), style.fg(Color::DarkGray)),
                Span::styled(format!("{name}{}", " ".repeat(pad)), style.fg(Color::Cyan)),
                Span::styled(format!(" {title}"), style),
            ])
        })
        .collect();
    if p.items.is_empty() {
        lines.push(Line::styled(
            format!(" {}", t!("picker-empty")),
            Style::new().fg(Color::DarkGray),
        ));
    }
    popup_with_footer(
        f,
        popup,
        &format!(" {} ", t!("picker-title")),
        lines,
        &[format!(" {}", t!("picker-keys"))],
    );
}
