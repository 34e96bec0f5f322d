//! The `?` help, generated from the key table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::keys::BINDINGS;
use crate::app::App;

pub fn draw(f: &mut Frame, area: Rect, _app: &App) {
    let h = (2 * BINDINGS.len() as u16 + 6).min(area.height);
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(h),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, popup, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(100.min(area.width)),
        Constraint::Fill(1),
    ])
    .areas(mid);
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(
                    format!(" {:>6}  ", b.label),
                    Style::new().fg(Color::Yellow).bold(),
                ),
                Span::raw(b.help),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " CPU% is percent of one core, from /proc/<pid>/stat; START is request → first instruction.",
        Style::new().fg(Color::DarkGray),
    ));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Keys ".bold()),
        ),
        popup,
    );
}
