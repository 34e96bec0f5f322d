//! The panels that are text: the run's output, the scenario's explanation,
//! and the hint bar built from the key table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::keys::BINDINGS;
use crate::app::App;

pub fn draw_output(f: &mut Frame, area: Rect, app: &App) {
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .log
        .iter()
        .skip(app.log.len().saturating_sub(rows))
        .map(|l| {
            if l.starts_with("error") {
                Line::styled(l.clone(), Style::new().fg(Color::Red))
            } else {
                Line::raw(l.clone())
            }
        })
        .collect();
    let p = Paragraph::new(lines).block(
        Block::default()
            .borders(Borders::ALL)
            .title(" Output ".bold()),
    );
    f.render_widget(p, area);
}

pub fn draw_explain(f: &mut Frame, area: Rect, app: &App) {
    let p = Paragraph::new(app.scenario.explain.clone())
        .wrap(Wrap { trim: true })
        .style(Style::new().fg(Color::Gray))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" What to watch ".bold()),
        );
    f.render_widget(p, area);
}

pub fn draw_hints(f: &mut Frame, area: Rect, app: &App) {
    if let Some(n) = &app.notice {
        f.render_widget(
            Paragraph::new(Line::styled(
                format!(" {n}"),
                Style::new().fg(Color::Yellow),
            )),
            area,
        );
        return;
    }
    let mut spans = Vec::new();
    for b in BINDINGS.iter().filter(|b| !b.hint.is_empty()) {
        spans.push(Span::styled(
            format!(" {} ", b.label),
            Style::new().bg(Color::DarkGray).fg(Color::White).bold(),
        ));
        let hint = if b.hint == "method" {
            format!(" method → {} ", app.method.next())
        } else {
            format!(" {} ", b.hint)
        };
        spans.push(Span::raw(hint));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
