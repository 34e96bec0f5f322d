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

/// Rows the banner takes at this width (0 when the run is not stuck; the
/// yellow line's when nothing moves but nothing is proven).
pub fn height(app: &App, width: u16) -> u16 {
    let Some(d) = &app.current.snapshot.stuck else {
        return no_progress(app).map_or(0, |l| {
            (l.chars().count().div_ceil(width.max(1) as usize) as u16).clamp(1, 2)
        });
    };
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows = |s: &str| s.chars().count().div_ceil(inner).max(1) as u16;
    let chain: u16 = d.chain.iter().take(MAX_CHAIN).map(|l| rows(l)).sum();
    let raised: u16 = raised(app).iter().map(|l| rows(l)).sum();
    rows(&d.summary) + chain + raised + 2
}

/// What a culprit that exited with an error raised, from its own output
/// (the traceback's last line, `ValueError: bad item`): one line each.
fn raised(app: &App) -> Vec<String> {
    let snap = &app.current.snapshot;
    let Some(d) = &snap.stuck else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let said = |name: &str| d.summary.contains(name) || d.chain.iter().any(|l| l.contains(name));
    for p in &snap.procs {
        let pid = &p.pid;
        // Exited with an error (or a zombie that did), and part of the
        // diagnosis.
        let code = p
            .exitcode
            .or_else(|| snap.live.get(pid).and_then(|l| l.zombie_exit));
        if !matches!(code, Some(c) if c > 0) || !(d.culprits.contains(pid) || said(&p.name)) {
            continue;
        }
        let error = app
            .shown_log()
            .rev()
            .filter(|l| l.pid == *pid)
            .find_map(|l| exception_of(&l.line));
        if let Some(error) = error {
            out.push(t!("banner-raised", name = p.name.clone(), error = error));
        }
    }
    out
}

/// `ValueError: bad item` from a traceback's last line: a dotted name
/// ending in Error, Exception or Exit, then a colon (or nothing).
fn exception_of(line: &str) -> Option<String> {
    let line = line.trim_end();
    let name = line.split(':').next()?;
    let last = name.rsplit('.').next()?;
    let ok = !name.is_empty()
        && !name.contains(' ')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && (last.ends_with("Error") || last.ends_with("Exception") || last.ends_with("Exit"));
    ok.then(|| line.to_string())
}

/// "No progress for N s": what waits, and what could still end it — a
/// warning, not a diagnosis (nothing is proven; the run is never ended).
fn no_progress(app: &App) -> Option<String> {
    let snap = &app.current.snapshot;
    let w = snap.no_progress.as_ref()?;
    let waits: Vec<String> = w
        .waits
        .iter()
        .map(|f| {
            let what = snap
                .procs
                .iter()
                .find(|p| p.pid == f.pid)
                .and_then(|p| p.wait.as_ref())
                .map_or_else(
                    || f.op.clone(),
                    |wr| crate::telemetry::waits::describe(wr, &snap.procs, &snap.resources),
                );
            format!("{} → {what}", f.name)
        })
        .collect();
    let escapes: Vec<String> = w
        .escapes
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e.name,
                crate::telemetry::escapes::shown(&e.escape)
            )
        })
        .collect();
    Some(t!(
        "no-progress",
        secs = format!("{:.1}", w.for_secs),
        waits = waits.join(", "),
        escapes = escapes.join("; ")
    ))
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(d) = &app.current.snapshot.stuck else {
        if let Some(line) = no_progress(app) {
            f.render_widget(
                Paragraph::new(Line::styled(
                    format!("⚠ {line}"),
                    Style::new().fg(Color::Yellow),
                ))
                .wrap(Wrap { trim: false }),
                area,
            );
        }
        return;
    };
    let title = match d.kind {
        StuckKind::Deadlock => t!("banner-deadlock"),
        StuckKind::NobodyCanServe => t!("banner-stuck"),
        StuckKind::LostTask => t!("banner-lost-task"),
    };
    let mut lines = vec![Line::from(d.summary.clone()).bold()];
    lines.extend(chain_lines(d));
    lines.extend(
        raised(app)
            .into_iter()
            .map(|l| Line::styled(format!("  {l}"), Style::new().fg(Color::Yellow))),
    );
    let keys = if app.source.attached().is_some() {
        t!("banner-keys-attached")
    } else {
        t!("banner-keys")
    };
    // When it was proven: it stays true, and says since when.
    let since = app
        .current
        .snapshot
        .stuck_at_s
        .map(|s| format!("{} · ", t!("banner-proven-at", secs = format!("{s:.1}"))))
        .unwrap_or_default();
    // The title's notes whole or not at all: the keys first, then when.
    let room = (area.width as usize).saturating_sub(2 + title.chars().count() + 2);
    let notes = [
        format!(" {since}{keys} "),
        format!(" {keys} "),
        format!(" {since}"),
    ]
    .into_iter()
    .find(|n| n.trim_end().chars().count() <= room)
    .unwrap_or_default();
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::new().fg(Color::Red))
                .title(vec![
                    format!(" {title} ").white().on_red().bold(),
                    notes.dark_gray(),
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

#[cfg(test)]
mod tests {
    use super::exception_of;

    #[test]
    fn a_tracebacks_last_line_is_the_exception() {
        assert_eq!(
            exception_of("ValueError: bad item 7").as_deref(),
            Some("ValueError: bad item 7")
        );
        assert!(exception_of("multiprocessing.pool.MaybeEncodingError: x").is_some());
        assert!(exception_of("SystemExit").is_some());
        assert!(exception_of("got 42: fine").is_none());
        assert!(exception_of("Traceback (most recent call last):").is_none());
        assert!(exception_of("").is_none());
    }
}
