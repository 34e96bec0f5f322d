//! The pool: progress, the task queue's depth (read from the queue itself),
//! and what each worker is doing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph};

use crate::app::App;
use crate::runtime::board::{ProcState, Role};

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
        .title(" Pool ".bold());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(pool) = &app.snapshot.pool else {
        f.render_widget(Paragraph::new("no pool yet".dark_gray()), inner);
        return;
    };
    let [progress, queue, workers] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    // Gauges as bars (not hairlines told apart by colour only), each with
    // its words beside it.
    let bar = |f: &mut Frame, at: Rect, label: String, r: f64, color: Color| {
        let [l, g] = Layout::horizontal([Constraint::Length(16), Constraint::Min(0)]).areas(at);
        f.render_widget(Paragraph::new(label), l);
        f.render_widget(
            Gauge::default()
                .gauge_style(Style::new().fg(color).bg(Color::Rgb(40, 40, 48)))
                .ratio(r)
                .label(""),
            g,
        );
    };
    bar(
        f,
        progress,
        format!("done  {:>4}/{:<4} ", pool.done, pool.total),
        ratio(pool.done, pool.total),
        Color::Green,
    );
    let q = &pool.tasks;
    bar(
        f,
        queue,
        format!("queue {:>4}/{:<4} ", q.depth, q.capacity),
        ratio(q.depth as u64, q.capacity as u64),
        Color::Cyan,
    );
    let mut lines = vec![];
    let gone = |code: fn(i32) -> bool| {
        app.snapshot
            .procs
            .iter()
            .filter(|p| p.role == Some(Role::PoolWorker) && p.exitcode.is_some_and(code))
            .count() as u64
    };
    // Workers that exit 0 while the pool runs retired (maxtasksperchild).
    let retired = if app
        .snapshot
        .procs
        .iter()
        .any(|p| p.role == Some(Role::PoolWorker) && p.alive())
    {
        gone(|c| c == 0)
    } else {
        0
    };
    let died = gone(|c| c != 0);
    if died + pool.lost + pool.retried > 0 {
        lines.push(Line::styled(
            format!(
                "workers died: {died} · tasks lost {} · run again {}",
                pool.lost, pool.retried
            ),
            Style::new().fg(Color::Red).bold(),
        ));
    }
    if retired > 0 || pool.failed > 0 {
        let mut parts = vec![];
        if retired > 0 {
            parts.push(format!("retired {retired} (maxtasksperchild)"));
        }
        if pool.failed > 0 {
            parts.push(format!("tasks failed {}", pool.failed));
        }
        lines.push(Line::styled(
            parts.join(" · "),
            Style::new().fg(Color::Yellow),
        ));
    }
    lines.push(Line::from(vec![
        Span::raw(format!(
            "queued {} · taken {} · results waiting {}",
            q.puts, q.gets, pool.results.depth
        ))
        .dark_gray(),
    ]));
    for w in app
        .snapshot
        .procs
        .iter()
        .filter(|p| p.role == Some(Role::PoolWorker))
    {
        let doing = match (w.state, w.current_task) {
            // How it ended, as the process table says it: a SIGKILLed
            // worker is not merely "ended".
            (ProcState::Exited, _) => {
                let (text, color) = super::process_panel::state_label(w, None);
                Span::styled(text, Style::new().fg(color))
            }
            (_, Some(t)) => Span::styled(format!("#{t:<5}"), Style::new().fg(Color::Green)),
            (_, None) => Span::styled("idle  ", Style::new().fg(Color::Blue)),
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{:<14} {:<7} ", w.name, w.pid)),
            doing,
            Span::raw(format!(" {:>3} done", w.tasks_done)),
        ]));
    }
    f.render_widget(Paragraph::new(lines), workers);
}
