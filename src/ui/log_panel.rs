//! The Log tab: what happened, newest at the bottom; alarms in red.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .events
        .iter()
        .skip(app.events.len().saturating_sub(rows))
        .map(|e| {
            let style = if e.alarm {
                Style::new().fg(Color::Red)
            } else {
                Style::new()
            };
            Line::from(vec![
                Span::styled(
                    format!("{:>8.2}s  ", e.at.as_secs_f64()),
                    Style::new().fg(Color::DarkGray),
                ),
                Span::styled(e.text.clone(), style),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(vec![
            " Log ".bold(),
            "times are the run's clock when a sample saw it ".dark_gray(),
        ])),
        area,
    );
}
