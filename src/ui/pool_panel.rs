//! The pool: progress, the task queue's depth (read from the queue itself),
//! and what each worker is doing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::app::App;
use crate::runtime::board::{ProcState, Role};
use crate::t;

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64).clamp(0.0, 1.0)
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", t!("pool-title")).bold());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(pool) = &app.current.snapshot.pool else {
        f.render_widget(Paragraph::new(t!("pool-none").dark_gray()), inner);
        return;
    };
    let [progress, queue, workers] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    // Gauges as bars (not hairlines told apart by colour only), each with
    // its words beside it, the words as wide as the longer one.
    let (done_word, queue_word) = (t!("pool-done-label"), t!("pool-queue-label"));
    let word_w = done_word.chars().count().max(queue_word.chars().count());
    let label_w = word_w as u16 + 11;
    let bar = |f: &mut Frame, at: Rect, label: String, r: f64, color: Color| {
        let [l, g] =
            Layout::horizontal([Constraint::Length(label_w), Constraint::Min(0)]).areas(at);
        f.render_widget(Paragraph::new(label), l);
        // Drawn by hand: a Gauge leaves a gap where its (empty) label goes.
        let filled = ((r * f64::from(g.width)).round() as u16).min(g.width);
        f.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled("█".repeat(filled.into()), Style::new().fg(color)),
                Span::styled(
                    " ".repeat((g.width - filled).into()),
                    Style::new().bg(Color::Rgb(40, 40, 48)),
                ),
            ])),
            g,
        );
    };
    bar(
        f,
        progress,
        format!("{done_word:<word_w$} {:>4}/{:<4} ", pool.done, pool.total),
        ratio(pool.done, pool.total),
        Color::Green,
    );
    let q = &pool.tasks;
    // An unbounded task queue (a Python Pool's) is drawn against the tasks.
    let (label, of) = if q.capacity == 0 {
        (
            format!("{queue_word:<word_w$} {:>4}      ", q.depth),
            pool.total,
        )
    } else {
        (
            format!("{queue_word:<word_w$} {:>4}/{:<4} ", q.depth, q.capacity),
            q.capacity as u64,
        )
    };
    bar(f, queue, label, ratio(q.depth as u64, of), Color::Cyan);
    let mut lines = vec![];
    let gone = |code: fn(i32) -> bool| {
        app.current
            .snapshot
            .procs
            .iter()
            .filter(|p| p.role == Some(Role::PoolWorker) && p.exitcode.is_some_and(code))
            .count() as u64
    };
    // Workers that exit 0 while the pool runs retired (maxtasksperchild).
    let retired = if app
        .current
        .snapshot
        .procs
        .iter()
        .any(|p| p.role == Some(Role::PoolWorker) && p.alive())
    {
        gone(|c| c == 0)
    } else {
        0
    };
    // A pool whose every task is done and none lost, its workers ended by
    // SIGTERM: the pool's own terminate() (`with Pool() as p:` ends so), not
    // a death.
    let closed = pool.done >= pool.total && pool.lost == 0;
    let died = if closed {
        gone(|c| c != 0 && c != -libc::SIGTERM)
    } else {
        gone(|c| c != 0)
    };
    if died + pool.lost + pool.retried > 0 {
        lines.push(Line::styled(
            t!(
                "pool-deaths",
                died = died,
                lost = pool.lost,
                retried = pool.retried
            ),
            Style::new().fg(Color::Red).bold(),
        ));
    }
    if retired > 0 || pool.failed > 0 {
        let mut parts = vec![];
        if retired > 0 {
            parts.push(t!("pool-retired", n = retired));
        }
        if pool.failed > 0 {
            parts.push(t!("pool-failed", n = pool.failed));
        }
        lines.push(Line::styled(
            parts.join(" · "),
            Style::new().fg(Color::Yellow),
        ));
    }
    lines.push(Line::from(vec![
        // The runtime's own stop sentinels (one per worker, after every
        // task) are not tasks: counted up to the tasks there are.
        Span::raw(t!(
            "pool-counts",
            queued = q.puts.min(pool.total + pool.retried),
            taken = q.gets.min(pool.total + pool.retried),
            results = pool.results.depth
        ))
        .dark_gray(),
    ]));
    let rows: Vec<_> = app
        .current
        .snapshot
        .procs
        .iter()
        .filter(|p| p.role == Some(Role::PoolWorker))
        .collect();
    // As wide as the longest name (`ForkPoolWorker-12`).
    let name_w = rows
        .iter()
        .map(|w| w.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(14);
    for w in rows {
        let doing = match (w.state, w.current_task) {
            // How it ended, as the process table says it: a SIGKILLed
            // worker is not merely "ended".
            (ProcState::Exited, _) => {
                let (text, color) = super::process_panel::row_state(app, w, None);
                Span::styled(text, Style::new().fg(color))
            }
            (_, Some(t)) => Span::styled(format!("#{t:<5}"), Style::new().fg(Color::Green)),
            (_, None) => Span::styled(
                format!("{:<6}", t!("pool-idle")),
                Style::new().fg(Color::Blue),
            ),
        };
        // The count before the state: a narrow panel cuts the words at
        // the end, never the number.
        lines.push(Line::from(vec![
            Span::raw(format!(
                "{:<name_w$} {:<6} {:>3} {:<5} ",
                w.name,
                w.pid,
                w.tasks_done,
                t!("pool-worker-done", n = w.tasks_done)
            )),
            doing,
        ]));
    }
    f.render_widget(Paragraph::new(lines), workers);
}
