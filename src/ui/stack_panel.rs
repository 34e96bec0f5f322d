//! The STACK panel: the selected process's Python threads and their frames,
//! innermost first, read from outside (py-spy); the program's own frame
//! that made the call is highlighted, library frames are dim.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::app::App;
use crate::t;
use crate::telemetry::snapshot::StackView;

/// The lines of the panel for `view` (no more than `rows`, frames of the
/// main thread first).
pub fn lines(view: &StackView, rows: usize) -> Vec<Line<'static>> {
    let mut out: Vec<Line> = Vec::new();
    if let Some(e) = &view.error {
        out.push(Line::from(e.clone()).fg(Color::DarkGray));
        return out;
    }
    if view.threads.is_empty() {
        out.push(Line::from(t!("stack-no-thread")).fg(Color::DarkGray));
        return out;
    }
    let main = view.main_thread();
    let mut threads: Vec<_> = view.threads.iter().collect();
    threads.sort_by_key(|t| main.is_none_or(|m| !std::ptr::eq(*t, m)));
    let many = threads.len();
    for (k, t) in threads.iter().enumerate() {
        if out.len() >= rows {
            break;
        }
        let name = t.name.clone().unwrap_or_else(|| t!("state-thread"));
        let mut head = vec![
            Span::styled(
                name,
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                t.tid.map(|t| format!(" {t}")).unwrap_or_default(),
                Style::new().fg(Color::DarkGray),
            ),
            Span::styled(
                format!(
                    " {}",
                    if t.active {
                        t!("stack-running")
                    } else {
                        t!("stack-idle")
                    }
                ),
                Style::new().fg(if t.active { Color::Green } else { Color::Blue }),
            ),
        ];
        if let Some(w) = &t.wait {
            head.push(Span::raw(format!(" — {} ", t!("stack-waits"))));
            head.push(Span::styled(w.clone(), Style::new().fg(Color::Yellow)));
        }
        out.push(Line::from(head));
        // Each thread gets its share of the rows; the main thread first.
        let left = many - k;
        let budget = (rows.saturating_sub(out.len()) / left).max(1);
        let frames = &t.frames;
        // Innermost first; when they do not all fit, the program's own
        // frame (where it called) is kept, after the ones that fit.
        let mut picked: Vec<usize> = (0..frames.len().min(budget)).collect();
        if let Some(u) = t.user
            && frames.len() > budget
            && u >= budget.saturating_sub(1)
        {
            picked = (0..budget.saturating_sub(2).max(1)).collect();
            picked.push(u);
        }
        let line_of = |i: usize| {
            let f = &frames[i];
            let mark = if Some(i) == t.user { "→ " } else { "  " };
            let style = if Some(i) == t.user {
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
            } else if f.own {
                Style::new().fg(Color::White)
            } else {
                Style::new().fg(Color::DarkGray)
            };
            Line::from(vec![
                Span::styled(format!("  {mark}{}", f.function), style),
                Span::styled(format!("  {}:{}", f.file, f.line), style),
            ])
        };
        let skipped = |n: usize| {
            Line::from(format!("    … {}", t!("stack-outer-frames", n = n))).fg(Color::DarkGray)
        };
        let mut prev: Option<usize> = None;
        for &i in &picked {
            if let Some(p) = prev
                && i > p + 1
            {
                out.push(skipped(i - p - 1));
            }
            out.push(line_of(i));
            prev = Some(i);
        }
        let last = picked.last().copied().unwrap_or(0);
        if frames.len() > last + 1 && out.len() < rows {
            out.push(skipped(frames.len() - last - 1));
        }
    }
    out.truncate(rows);
    out
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let snap = &app.current.snapshot;
    let rows = area.height.saturating_sub(2) as usize;
    let pid = app.stack_pid();
    let view = pid.and_then(|p| snap.stacks.get(&p));
    let name = pid
        .and_then(|p| snap.procs.iter().find(|r| r.pid == p))
        .map(|r| r.name.clone())
        .unwrap_or_default();
    // Each part of the title only if it fits whole (a version is a number:
    // never cut).
    let room = area.width.saturating_sub(2) as usize;
    let mut title = vec![format!(" {} ", t!("stack-title")).bold()];
    let used = |t: &Vec<ratatui::text::Span>| t.iter().map(|s| s.width()).sum::<usize>();
    if let Some(p) = pid {
        let whole = format!("pid {p} {name} ");
        let short = format!("pid {p} ");
        if used(&title) + whole.chars().count() <= room {
            title.push(whole.into());
        } else if used(&title) + short.chars().count() <= room {
            title.push(short.into());
        }
    }
    if let Some(v) = view.and_then(|v| v.python.clone()) {
        let text = format!("Python {v} ");
        if used(&title) + text.chars().count() <= room {
            title.push(text.dark_gray());
        }
    }
    let body = match view {
        Some(v) => lines(v, rows),
        None if app.source.replay().is_some() => {
            vec![Line::from(t!("stack-not-recorded")).fg(Color::DarkGray)]
        }
        None => vec![Line::from(t!("stack-how")).fg(Color::DarkGray)],
    };
    let p = Paragraph::new(body).wrap(Wrap { trim: false }).block(
        Block::default()
            .borders(Borders::ALL)
            .title(Line::from(title)),
    );
    f.render_widget(p, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::snapshot::{FrameView, ThreadStackView};

    fn frame(function: &str, file: &str, line: i32, own: bool) -> FrameView {
        FrameView {
            function: function.into(),
            file: file.into(),
            line,
            own,
        }
    }

    #[test]
    fn the_main_thread_comes_first_with_the_programs_frame_marked() {
        let v = StackView {
            python: Some("3.11.7".into()),
            error: None,
            threads: vec![
                ThreadStackView {
                    name: Some("QueueFeederThread".into()),
                    tid: Some(11),
                    active: false,
                    wait: Some("queue feeder (Condition.wait)".into()),
                    frames: vec![frame("Condition.wait", "threading.py", 320, false)],
                    user: None,
                },
                ThreadStackView {
                    name: Some("MainThread".into()),
                    tid: Some(10),
                    active: false,
                    wait: Some("get (Queue.get)".into()),
                    frames: vec![
                        frame("Queue.get", "multiprocessing/queues.py", 103, false),
                        frame("consume", "prog.py", 40, true),
                        frame("<module>", "prog.py", 52, true),
                    ],
                    user: Some(1),
                },
            ],
        };
        let text: Vec<String> = lines(&v, 20)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert!(
            text[0].starts_with("MainThread 10 idle — waits: get (Queue.get)"),
            "{text:?}"
        );
        assert_eq!(text[2], "  → consume  prog.py:40");
        assert!(
            text.iter().any(|l| l.starts_with("QueueFeederThread")),
            "{text:?}"
        );
        // Short of rows: cut, never more than asked.
        assert_eq!(lines(&v, 3).len(), 3);
        // Too short for every frame: the program's own frame stays.
        let mut deep = v.clone();
        let main = &mut deep.threads[1];
        for k in 0..6 {
            main.frames
                .insert(1, frame(&format!("lib{k}"), "threading.py", k, false));
        }
        main.user = Some(7);
        deep.threads.remove(0);
        let text: Vec<String> = lines(&deep, 5)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert!(
            text.iter().any(|l| l.starts_with("  → consume")),
            "{text:?}"
        );
        assert!(text.len() <= 5, "{text:?}");
    }
}
