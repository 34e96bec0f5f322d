//! The panels that are text: the run's output, the scenario's explanation,
//! and the hint bar built from the key table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::app::App;
use crate::app::keys::BINDINGS;

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
    if app.editing_filter {
        spans.push(Span::styled(
            format!(" filter: {}▏ ", app.tree.filter),
            Style::new().fg(Color::Yellow).bold(),
        ));
        spans.push(Span::raw(" Enter keep · Esc clear "));
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    let hints: Vec<(String, String)> = BINDINGS
        .iter()
        .filter(|b| !b.hint.is_empty() && (b.when)(app))
        .map(|b| {
            let hint = if b.hint == "method" {
                format!(" method → {} ", app.method.next())
            } else {
                format!(" {} ", b.hint)
            };
            (format!(" {} ", b.label), hint)
        })
        .collect();
    // Hints that do not fit are left out, but `? help` (the last) always shows.
    let width = |h: &(String, String)| (h.0.chars().count() + h.1.chars().count()) as u16;
    let help = hints.last().map_or(0, width);
    let mut used = 0;
    for (i, h) in hints.iter().enumerate() {
        let last = i + 1 == hints.len();
        if !last && used + width(h) + help > area.width {
            continue;
        }
        used += width(h);
        spans.push(Span::styled(
            h.0.clone(),
            Style::new().bg(Color::DarkGray).fg(Color::White).bold(),
        ));
        spans.push(Span::raw(h.1.clone()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
