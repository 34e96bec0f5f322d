//! The run's shared resources, one line each, read from the primitives
//! themselves: queue depth against capacity with its history and rates, lock
//! holders and waiters, semaphores, events, barriers, pipe traffic, values.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::format;
use crate::app::App;
use crate::runtime::board::WaitOp;
use crate::t;
use crate::telemetry::board_view::ResourceView;

fn bar(filled: usize, total: usize, width: usize) -> String {
    let n = if total == 0 {
        0
    } else {
        (filled * width).div_ceil(total).min(width)
    };
    format!("{}{}", "█".repeat(n), "░".repeat(width - n))
}

fn tag(t: &str, c: Color) -> Span<'static> {
    Span::styled(format!("{t:<8}"), Style::new().fg(c).bold())
}

fn label(name: &str) -> Span<'static> {
    let mut n: String = name.chars().take(14).collect();
    if name.chars().count() > 14 {
        n.pop();
        n.push('…');
    }
    Span::raw(format!("{n:<15}"))
}

/// One line per resource (a manager gets a line per object and per method too).
pub fn lines(app: &App) -> Vec<Line<'static>> {
    let mut out: Vec<Line<'static>> = app
        .current
        .snapshot
        .resources
        .iter()
        .map(|r| line(app, r))
        .collect();
    for r in &app.current.snapshot.resources {
        manager_details(app, r, &mut out);
    }
    out
}

fn line(app: &App, r: &ResourceView) -> Line<'static> {
    match r {
        ResourceView::Manager { .. } => manager_line(app, r),
        ResourceView::Queue { .. } => queue_line(app, r),
        ResourceView::Lock { .. } => lock_line(app, r),
        ResourceView::Semaphore { .. } => semaphore_line(app, r),
        ResourceView::Event { .. } => event_line(app, r),
        ResourceView::Barrier { .. } => barrier_line(app, r),
        ResourceView::Pipe { .. } => pipe_line(app, r),
        ResourceView::Value { .. } => value_line(app, r),
    }
}

/// The line of a manager.
fn manager_line(_app: &App, r: &ResourceView) -> Line<'static> {
    let ResourceView::Manager {
        name,
        server_pid,
        tcp_port,
        clients,
        refused,
        objects,
        ..
    } = r
    else {
        return Line::default();
    };
    let mut spans = vec![
        tag("MANAGER", Color::Magenta),
        label(name),
        Span::raw(format!(
            "{}{}",
            t!(
                "res-manager",
                pid = server_pid.to_string(),
                clients = *clients,
                objects = objects.len()
            ),
            if *tcp_port > 0 {
                format!(" · {}", t!("res-manager-tcp", port = tcp_port.to_string()))
            } else {
                String::new()
            }
        )),
    ];
    if *refused > 0 {
        spans.push(Span::styled(
            format!(" · {}", t!("res-manager-refused", n = *refused)),
            Style::new().fg(Color::Red),
        ));
    }
    Line::from(spans)
}

/// The line of a queue.
fn queue_line(app: &App, r: &ResourceView) -> Line<'static> {
    let dim = Style::new().fg(Color::DarkGray);
    let ResourceView::Queue {
        name,
        joinable,
        depth,
        capacity,
        lost_put,
        lost_get,
        waiting_getters,
        waiting_putters,
        ..
    } = r
    else {
        return Line::default();
    };
    let (pr, gr) = app
        .current
        .queue_rates
        .get(name)
        .copied()
        .unwrap_or_default();
    // An unbounded queue is drawn against the deepest it has been.
    let scale = if *capacity > 0 {
        *capacity
    } else {
        app.current
            .depth_history
            .get(name)
            .and_then(|h| h.iter().max().copied())
            .map_or(0, |m| m as usize)
            .max(*depth)
    };
    let hist = app
        .current
        .depth_history
        .get(name)
        .map(|h| {
            let cap = scale.max(1) as f64;
            format::spark(
                h.iter()
                    .rev()
                    .take(16)
                    .rev()
                    .map(|d| *d as f64 * 100.0 / cap),
            )
        })
        .unwrap_or_default();
    let full = *capacity > 0 && depth >= capacity;
    let mut spans = vec![
        tag(if *joinable { "JQUEUE" } else { "QUEUE" }, Color::Cyan),
        label(name),
        Span::styled(
            bar(*depth, scale, 10),
            Style::new().fg(if full { Color::Red } else { Color::Cyan }),
        ),
        // (A Python program's queue without maxsize is unbounded.)
        Span::raw(if *capacity == 0 {
            format!(" {depth:>4}/∞    ")
        } else {
            format!(" {depth:>4}/{capacity:<4} ")
        }),
        Span::styled(hist, Style::new().fg(Color::Cyan)),
        Span::styled(
            format!(
                "  {}",
                t!(
                    "res-queue-rates",
                    put = format!("{pr:.0}"),
                    get = format!("{gr:.0}")
                )
            ),
            dim,
        ),
    ];
    if waiting_getters + waiting_putters > 0 {
        let who = |op: WaitOp, n: u32| {
            let names = waiters_by_op(app, name, op);
            if names.is_empty() {
                n.to_string()
            } else {
                names.join(", ")
            }
        };
        let mut parts = Vec::new();
        if *waiting_putters > 0 {
            parts.push(t!(
                "res-queue-op",
                op = "put",
                who = who(WaitOp::Put, *waiting_putters)
            ));
        }
        if *waiting_getters > 0 {
            parts.push(t!(
                "res-queue-op",
                op = "get",
                who = who(WaitOp::Get, *waiting_getters)
            ));
        }
        spans.push(Span::raw(format!(
            "  {}",
            t!("res-queue-waiting", who = parts.join("; "))
        )));
    }
    if lost_put + lost_get > 0 {
        spans.push(Span::styled(
            format!(
                "  {}",
                t!(
                    "res-queue-lost",
                    n = lost_put + lost_get,
                    put = *lost_put,
                    get = *lost_get
                )
            ),
            Style::new().fg(Color::Red).bold(),
        ));
    }
    Line::from(spans)
}

/// A process of the run by name (`consumer 1`), or its pid when unknown.
fn process_name(app: &App, pid: i32) -> String {
    app.current
        .snapshot
        .procs
        .iter()
        .rev()
        .find(|p| p.pid == pid)
        .map_or_else(|| pid.to_string(), |p| p.name.clone())
}

/// `waiting: producer 0, producer 1` from the waiters' own slots, or the
/// primitive's count when they cannot be named (threads, foreign waiters).
fn waiting_text(app: &App, resource: &str, count: u32) -> String {
    let names: Vec<&str> = app
        .current
        .snapshot
        .procs
        .iter()
        .filter(|p| p.alive())
        .filter(|p| p.wait.as_ref().and_then(|w| w.resource.as_deref()) == Some(resource))
        .map(|p| p.name.as_str())
        .collect();
    match (names.len(), count) {
        (0, 0) => t!("res-nobody-waiting"),
        (0, n) => t!("res-n-waiting", n = n),
        (_, _) if names.len() > 4 => t!(
            "res-waiting-some",
            names = names[..3].join(", "),
            n = names.len().max(count as usize)
        ),
        _ => t!("res-waiting", names = names.join(", ")),
    }
}

/// The processes blocked in `op` on the resource, by name.
fn waiters_by_op(app: &App, resource: &str, op: WaitOp) -> Vec<String> {
    app.current
        .snapshot
        .procs
        .iter()
        .filter(|p| p.alive())
        .filter(|p| {
            p.wait
                .as_ref()
                .is_some_and(|w| w.op == op && w.resource.as_deref() == Some(resource))
        })
        .map(|p| p.name.clone())
        .collect()
}

/// The line of a lock.
fn lock_line(app: &App, r: &ResourceView) -> Line<'static> {
    let ResourceView::Lock {
        name,
        recursive,
        holder_pid,
        held_ms,
        waiters,
        acquisitions,
        contended,
        owner_died,
        last_dead_owner,
        ..
    } = r
    else {
        return Line::default();
    };
    let mut spans = vec![
        tag(if *recursive { "RLOCK" } else { "LOCK" }, Color::Yellow),
        label(name),
    ];
    if *holder_pid != 0 {
        spans.push(Span::styled(
            t!("res-held-by", name = process_name(app, *holder_pid)),
            Style::new().fg(Color::Yellow),
        ));
        if let Some(ms) = held_ms {
            spans.push(Span::raw(format!(
                " {}",
                t!("res-held-for", time = format::secs(*ms as f64 / 1000.0))
            )));
        }
    } else {
        spans.push(Span::styled(t!("res-free"), Style::new().fg(Color::Green)));
    }
    // Attempts that had to wait, over all attempts (done or waiting now).
    let attempts = acquisitions + u64::from(*waiters);
    let pct = if attempts > 0 {
        (100.0 * *contended as f64 / attempts as f64).min(100.0)
    } else {
        0.0
    };
    spans.push(Span::raw(format!(
        " · {} · {}",
        waiting_text(app, name, *waiters),
        t!(
            "res-lock-stats",
            n = *acquisitions,
            pct = format!("{pct:.0}")
        )
    )));
    if *owner_died > 0 {
        spans.push(Span::styled(
            format!(
                " · {}",
                t!(
                    "res-owner-died",
                    n = owner_died.to_string(),
                    last = last_dead_owner.to_string()
                )
            ),
            Style::new().fg(Color::Red).bold(),
        ));
    }
    Line::from(spans)
}

/// The line of a semaphore.
fn semaphore_line(_app: &App, r: &ResourceView) -> Line<'static> {
    let ResourceView::Semaphore {
        name,
        bounded,
        value,
        bound,
        waiters,
        acquisitions,
    } = r
    else {
        return Line::default();
    };
    Line::from(vec![
        tag(if *bounded { "BSEM" } else { "SEM" }, Color::Yellow),
        label(name),
        Span::raw(if *bounded {
            t!("res-sem-value", value = format!("{value}/{bound}"))
        } else {
            t!("res-sem-value", value = value.to_string())
        }),
        Span::raw(format!(
            " · {} · {}",
            t!("res-n-waiting", n = *waiters),
            t!("res-acquired", n = *acquisitions)
        )),
    ])
}

/// The line of a event.
fn event_line(_app: &App, r: &ResourceView) -> Line<'static> {
    let dim = Style::new().fg(Color::DarkGray);
    let ResourceView::Event { name, set, waiters } = r else {
        return Line::default();
    };
    Line::from(vec![
        tag("EVENT", Color::Magenta),
        label(name),
        if *set {
            Span::styled(t!("res-event-set"), Style::new().fg(Color::Green))
        } else {
            Span::styled(t!("res-event-clear"), dim)
        },
        Span::raw(format!(" · {}", t!("res-n-waiting", n = *waiters))),
    ])
}

/// The line of a barrier.
fn barrier_line(_app: &App, r: &ResourceView) -> Line<'static> {
    let ResourceView::Barrier {
        name,
        parties,
        arrived,
        broken,
        passes,
        ..
    } = r
    else {
        return Line::default();
    };
    Line::from(vec![
        tag("BARRIER", Color::Magenta),
        label(name),
        Span::raw(t!(
            "res-barrier",
            arrived = format!("{arrived}/{parties}"),
            passes = passes.to_string()
        )),
        if *broken {
            Span::styled(
                format!(" · {}", t!("res-barrier-broken")),
                Style::new().fg(Color::Red).bold(),
            )
        } else {
            Span::raw("")
        },
    ])
}

/// The line of a pipe.
fn pipe_line(_app: &App, r: &ResourceView) -> Line<'static> {
    let ResourceView::Pipe {
        name,
        duplex,
        msgs,
        bytes,
    } = r
    else {
        return Line::default();
    };
    // A Python program's pipe is named by its two ends (`a ⇄ b`).
    let (a, b) = name.split_once(" ⇄ ").unwrap_or(("main", "child"));
    Line::from(vec![
        tag("PIPE", Color::Blue),
        label(name),
        Span::raw(format!(
            "{a}→{b} {} msg {}  {b}→{a} {} msg {}{}",
            msgs[0],
            format::bytes(bytes[0]),
            msgs[1],
            format::bytes(bytes[1]),
            if *duplex {
                String::new()
            } else {
                format!(" {}", t!("res-pipe-one-way"))
            }
        )),
    ])
}

/// The line of a value.
fn value_line(_app: &App, r: &ResourceView) -> Line<'static> {
    let dim = Style::new().fg(Color::DarkGray);
    let ResourceView::Value {
        name,
        typecode,
        values,
        len,
        lock,
        is_array,
    } = r
    else {
        return Line::default();
    };
    let shown = if *is_array {
        let more = if *len > values.len() { ", …" } else { "" };
        format!("[{}{more}] ({len})", values.join(", "))
    } else {
        values.first().cloned().unwrap_or_default()
    };
    Line::from(vec![
        tag(if *is_array { "ARRAY" } else { "VALUE" }, Color::Green),
        label(name),
        Span::styled(shown, Style::new().bold()),
        Span::styled(
            format!(
                "  '{typecode}'{}",
                if *lock {
                    format!(", {}", t!("res-value-with-lock"))
                } else {
                    ", lock=False".to_string()
                }
            ),
            dim,
        ),
    ])
}

/// A manager's objects and methods, a line each, under its own line.
fn manager_details(app: &App, r: &ResourceView, out: &mut Vec<Line<'static>>) {
    let dim = Style::new().fg(Color::DarkGray);
    let ResourceView::Manager {
        name,
        objects,
        methods,
        ..
    } = r
    else {
        return;
    };
    for o in objects {
        out.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(format!("{:<9}", o.kind), Style::new().fg(Color::Magenta)),
            label(&o.name),
            Span::raw(match o.len {
                Some(len) => format!("len {len:<6} {}", t!("res-calls", n = o.calls)),
                None => t!("res-calls", n = o.calls),
            }),
        ]));
    }
    for m in methods {
        let rate = app
            .current
            .method_rates
            .get(&format!("{name}/{}", m.method))
            .copied()
            .unwrap_or(0.0);
        out.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(format!("{:<24}", m.method), dim),
            Span::raw(format!(
                "{:>8} {} {:>9}/s  {}",
                m.calls,
                t!("res-calls-word", n = m.calls),
                format::rate(rate),
                t!(
                    "res-mean",
                    time = format::micros(m.total_ns / m.calls.max(1) / 1000)
                )
            )),
        ]));
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let mut l = lines(app);
    if l.is_empty() {
        let text = if app.source.is_foreign() && !app.source.is_probed() {
            t!("res-foreign")
        } else {
            t!("res-none")
        };
        // Collapsed to one line: the title and why it is empty.
        if area.height < 3 {
            f.render_widget(
                Paragraph::new(Line::from(vec![
                    format!(" {} ", t!("res-title")).bold(),
                    Span::styled(text, Style::new().fg(Color::DarkGray)),
                ])),
                area,
            );
            return;
        }
        l.push(Line::styled(text, Style::new().fg(Color::DarkGray)));
    }
    // A line longer than the panel ends at a whole word with `…`: never a
    // number cut in two.
    let inner = area.width.saturating_sub(2) as usize;
    let l: Vec<Line<'static>> = l.into_iter().map(|x| format::fit_line(x, inner)).collect();
    f.render_widget(
        Paragraph::new(l).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", t!("res-title")).bold()),
        ),
        area,
    );
}
