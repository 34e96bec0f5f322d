//! The Log tab: what happened, newest at the bottom; alarms in red. It
//! scrolls (↑/↓, PgUp/PgDn, Home/End) and `/` filters it; entries wrap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::format;
use crate::app::App;
use crate::t;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let rows = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    let events: Vec<_> = app.shown_events().collect();
    let total = events.len();
    // The newest entry shown is `log_scroll` entries up from the newest.
    let end = total.saturating_sub(app.logs.scroll);
    let mut lines: Vec<Line> = Vec::new();
    let mut first = end;
    for e in events[..end].iter().rev() {
        let style = if e.alarm {
            Style::new().fg(Color::Red)
        } else {
            Style::new()
        };
        let stamp = format!("{:>8.2}s  ", e.at.as_secs_f64());
        let pieces = format::wrap(&e.text, width.saturating_sub(stamp.len()).max(10));
        if lines.len() + pieces.len() > rows && !lines.is_empty() {
            break;
        }
        first -= 1;
        for (n, piece) in pieces.into_iter().enumerate().rev() {
            let lead = if n == 0 {
                stamp.clone()
            } else {
                " ".repeat(stamp.len())
            };
            lines.push(Line::from(vec![
                Span::styled(lead, Style::new().fg(Color::DarkGray)),
                Span::styled(piece, style),
            ]));
        }
    }
    lines.reverse();
    let mut title = vec![
        format!(" {} ", t!("log-title")).bold(),
        format!("{}–{}/{total} ", (first + 1).min(total), end).into(),
    ];
    if !app.logs.filter.is_empty() || (app.live.editing_filter && app.tab == crate::app::Tab::Log) {
        title.push(
            format!("{} ", t!("log-filter", filter = &app.logs.filter))
                .yellow()
                .bold(),
        );
    }
    if app.logs.scroll > 0 {
        title.push(format!("{} ", t!("log-newer", n = app.logs.scroll)).yellow());
    }
    title.push(format!("{} ", t!("log-times")).dark_gray());
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}
