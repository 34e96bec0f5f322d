//! The red banner of a run that can never move again: one sentence, then the
//! chain or cycle that explains it, a line each.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::app::App;
use crate::t;
use crate::telemetry::waits::{Diagnosis, StuckKind};

/// Lines of the chain shown under the sentence at most.
const MAX_CHAIN: usize = 4;

/// Rows the banner takes at this width (0 when the run is not stuck).
pub fn height(app: &App, width: u16) -> u16 {
    let Some(d) = &app.current.snapshot.stuck else {
        return 0;
    };
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows = |s: &str| s.chars().count().div_ceil(inner).max(1) as u16;
    let chain: u16 = d.chain.iter().take(MAX_CHAIN).map(|l| rows(l)).sum();
    rows(&d.summary) + chain + 2
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(d) = &app.current.snapshot.stuck else {
        return;
    };
    let title = match d.kind {
        StuckKind::Deadlock => t!("banner-deadlock"),
        StuckKind::NobodyCanServe => t!("banner-stuck"),
        StuckKind::LostTask => t!("banner-lost-task"),
    };
    let mut lines = vec![Line::from(d.summary.clone()).bold()];
    lines.extend(chain_lines(d));
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::new().fg(Color::Red))
                .title(vec![
                    format!(" {title} ").white().on_red().bold(),
                    format!(" {} ", t!("banner-keys")).dark_gray(),
                ]),
        ),
        area,
    );
}

fn chain_lines(d: &Diagnosis) -> Vec<Line<'static>> {
    let mut out: Vec<Line<'static>> = d
        .chain
        .iter()
        .take(MAX_CHAIN)
        .map(|l| Line::styled(format!("  {l}"), Style::new().fg(Color::Red)))
        .collect();
    if d.chain.len() > MAX_CHAIN {
        out.push(Line::styled(
            format!("  {}", t!("banner-more", n = d.chain.len() - MAX_CHAIN)),
            Style::new().fg(Color::DarkGray),
        ));
    }
    out
}
