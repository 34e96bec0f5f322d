//! The panels that are text: the run's output, the scenario's explanation,
//! and the hint bar built from the key table.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::format;
use crate::app::keys::BINDINGS;
use crate::app::{App, Printed};
use crate::t;

/// The run's output, newest at the bottom, each line after the name of the
/// process that printed it (in that process's colour), wrapped: a line is
/// never cut. The title says how many lines are above the panel.
pub fn draw_output(f: &mut Frame, area: Rect, app: &App) {
    let rows = area.height.saturating_sub(2) as usize;
    let width = area.width.saturating_sub(2) as usize;
    // Names from the newest sample (a process printing before the first
    // sample that saw it still has its name), else the moment shown.
    let newest = app.current.timeline.last().map(|f| f.snap.clone());
    let name_of = |pid: i32| {
        newest
            .iter()
            .flat_map(|s| s.procs.iter())
            .chain(app.current.snapshot.procs.iter())
            .find(|p| p.pid == pid)
            .map(|p| p.name.clone())
    };
    // Wrapped from the newest back, only as many as fit.
    let mut shown: Vec<Line> = Vec::new();
    let all: Vec<&Printed> = app.shown_log().collect();
    let mut above = 0;
    for (k, p) in all.iter().enumerate().rev() {
        if shown.len() >= rows {
            above = k + 1;
            break;
        }
        let who = if p.pid > 0 {
            name_of(p.pid).unwrap_or_else(|| format!("pid {}", p.pid))
        } else {
            String::new()
        };
        let prefix = if who.is_empty() {
            String::new()
        } else {
            format!("{who}: ")
        };
        let style = if p.line.starts_with("error") {
            Style::new().fg(Color::Red)
        } else {
            Style::new()
        };
        let pieces = format::wrap(&format!("{prefix}{}", p.line), width);
        let mut lines: Vec<Line> = Vec::new();
        for (n, piece) in pieces.into_iter().enumerate() {
            let plen = prefix.chars().count();
            if n == 0 && plen > 0 && piece.chars().count() >= plen {
                let rest: String = piece.chars().skip(plen).collect();
                lines.push(Line::from(vec![
                    Span::styled(prefix.clone(), Style::new().fg(format::proc_color(p.pid))),
                    Span::styled(rest, style),
                ]));
            } else {
                lines.push(Line::styled(piece, style));
            }
        }
        for l in lines.into_iter().rev() {
            shown.push(l);
        }
    }
    let cut = shown.len().saturating_sub(rows);
    shown.reverse();
    let shown: Vec<Line> = shown.into_iter().skip(cut).collect();
    let mut title = vec![format!(" {} ", t!("output-title")).bold()];
    let before = above as u64
        + app
            .current
            .printed
            .saturating_sub(app.current.log.len() as u64);
    if before > 0 || cut > 0 {
        title.push(format!("{} ", t!("output-earlier", n = before)).dark_gray());
    }
    let p = Paragraph::new(shown).block(Block::default().borders(Borders::ALL).title(title));
    f.render_widget(p, area);
}

/// The scenario's explanation, wrapped; when it does not fit, the title
/// says so (z gives it the whole screen).
pub fn draw_explain(f: &mut Frame, area: Rect, app: &App) {
    let rows = area.height.saturating_sub(2) as usize;
    // The file's line breaks are the author's editor's, not paragraphs:
    // only a blank line starts a new one.
    let text: Vec<String> = app
        .scenario
        .shown_explain()
        .trim()
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let lines = format::wrap(&text.join("\n\n"), area.width.saturating_sub(2) as usize);
    let more = lines.len().saturating_sub(rows);
    let mut title = vec![format!(" {} ", t!("explain-title")).bold()];
    if more > 0 {
        title.push(format!("{} ", t!("explain-more", n = more)).yellow());
    }
    let p = Paragraph::new(
        lines
            .into_iter()
            .take(rows)
            .map(Line::raw)
            .collect::<Vec<_>>(),
    )
    .style(Style::new().fg(Color::Gray))
    .block(Block::default().borders(Borders::ALL).title(title));
    f.render_widget(p, area);
}

/// A process of the run waits, or the run is stuck: `w` explains why.
fn something_waits(app: &App) -> bool {
    let snap = &app.current.snapshot;
    snap.stuck.is_some() || snap.procs.iter().any(|p| p.alive() && p.wait.is_some())
}

pub fn draw_hints(f: &mut Frame, area: Rect, app: &App) {
    if let Some(n) = &app.overlay.notice {
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
    if app.live.editing_filter {
        spans.push(Span::styled(
            format!(
                " {} {}▏ ",
                t!("filter-label"),
                if app.tab == crate::app::Tab::Log {
                    &app.logs.filter
                } else {
                    &app.live.tree.filter
                }
            ),
            Style::new().fg(Color::Yellow).bold(),
        ));
        spans.push(Span::raw(format!(" {} ", t!("filter-keys"))));
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    let hints: Vec<(String, String, bool)> = BINDINGS
        .iter()
        .filter(|b| !b.hint.is_empty() && (b.when)(app))
        .map(|b| {
            let hint = if b.hint == "hint-method" {
                format!(
                    " {} ",
                    t!("hint-method", method = app.method.next().to_string())
                )
            } else {
                format!(" {} ", b.hint_text())
            };
            // `w` while something waits: why you look, kept like `?`.
            (
                format!(" {} ", b.key()),
                hint,
                b.hint == "hint-waits" && something_waits(app),
            )
        })
        .collect();
    // Hints that do not fit are left out, but `? help` (the last) and `w`
    // always show.
    let width = |h: &(String, String, bool)| (h.0.chars().count() + h.1.chars().count()) as u16;
    let kept: u16 = hints
        .iter()
        .enumerate()
        .filter(|(i, h)| h.2 || i + 1 == hints.len())
        .map(|(_, h)| width(h))
        .sum();
    let mut used = 0;
    for (i, h) in hints.iter().enumerate() {
        let must = h.2 || i + 1 == hints.len();
        if !must && used + width(h) + kept > area.width {
            continue;
        }
        if !must {
            used += width(h);
        }
        spans.push(Span::styled(
            h.0.clone(),
            Style::new().bg(Color::DarkGray).fg(Color::White).bold(),
        ));
        spans.push(Span::raw(h.1.clone()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
