//! The Scaling tab: speedup against workers for processes, threads under a
//! simulated GIL and free threads, with the ideal line and the core count;
//! the process tree stays above it so every core's work is visible.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Wrap};

use crate::app::App;
use crate::scenario::scaling::{Mode, Point, busy};
use crate::t;

/// A curve's colour: ours by mode; CPython's by mode and interpreter
/// (`nth`: the interpreter's place among those measured).
fn color(m: Mode, nth: usize) -> Color {
    const THREADS: [Color; 3] = [Color::Magenta, Color::LightMagenta, Color::LightRed];
    const PROCESSES: [Color; 3] = [Color::Blue, Color::LightBlue, Color::LightCyan];
    match m {
        Mode::Processes => Color::Green,
        Mode::GilThreads => Color::Red,
        Mode::FreeThreads => Color::Cyan,
        Mode::CpythonThreads => THREADS[nth % THREADS.len()],
        Mode::CpythonProcesses => PROCESSES[nth % PROCESSES.len()],
    }
}

/// The interpreters measured, in the order their points came.
fn interpreters(points: &[Point]) -> Vec<Option<String>> {
    let mut v: Vec<Option<String>> = Vec::new();
    for p in points {
        if p.interpreter.is_some() && !v.contains(&p.interpreter) {
            v.push(p.interpreter.clone());
        }
    }
    v
}

fn point_color(p: &Point, interps: &[Option<String>]) -> Color {
    let nth = interps
        .iter()
        .position(|i| *i == p.interpreter)
        .unwrap_or(0);
    color(p.mode, nth)
}

/// A curve's name on screen, in the screen's language (`mpdash scale`
/// keeps [`Point::curve_label`], in English).
fn shown_curve_label(p: &Point) -> String {
    let mode = match p.mode {
        Mode::Processes => t!("curve-processes"),
        Mode::GilThreads => t!("curve-gil-threads"),
        Mode::FreeThreads => t!("curve-free-threads"),
        Mode::CpythonThreads => t!("curve-cpython-threads"),
        Mode::CpythonProcesses => t!("curve-cpython-processes"),
    };
    let Some(v) = &p.python else {
        return mode;
    };
    let gil = match (p.mode, p.gil) {
        (Mode::CpythonThreads, Some(false)) => format!(", {}", t!("curve-gil-off")),
        (Mode::CpythonThreads, _) => format!(", {}", t!("curve-gil-on")),
        _ => String::new(),
    };
    format!("{mode} {v}{gil}")
}

/// One curve of the chart: its label, colour, points, and the points
/// measured on a busy machine.
struct Series {
    label: String,
    color: Color,
    points: Vec<(f64, f64)>,
    busy: Vec<(f64, f64)>,
}

fn series(points: &[Point]) -> Vec<Series> {
    let interps = interpreters(points);
    let mut out: Vec<(&Point, Series)> = Vec::new();
    for p in points {
        let xy = (p.workers as f64, p.speedup);
        let i = match out.iter().position(|(first, _)| first.same_curve(p)) {
            Some(i) => i,
            None => {
                out.push((
                    p,
                    Series {
                        label: shown_curve_label(p),
                        color: point_color(p, &interps),
                        points: Vec::new(),
                        busy: Vec::new(),
                    },
                ));
                out.len() - 1
            }
        };
        out[i].1.points.push(xy);
        if !p.trustworthy {
            out[i].1.busy.push(xy);
        }
    }
    out.into_iter().map(|(_, s)| s).collect()
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    // `z`: the measurement takes the whole tab (no process tree above it).
    let bottom = if app.live.zoom.is_some() {
        area
    } else {
        let most = (area.height * 2 / 5).max(3);
        let procs_h = (app.current.snapshot.procs.len() as u16 + 3)
            .max(5)
            .min(most);
        let [procs, bottom] =
            Layout::vertical([Constraint::Length(procs_h), Constraint::Min(0)]).areas(area);
        super::process_panel::draw(f, procs, app);
        bottom
    };
    if app.scale_points.is_empty() {
        draw_empty(f, bottom, app);
        return;
    }
    let [chart_area, table_area] =
        Layout::horizontal([Constraint::Percentage(68), Constraint::Percentage(32)]).areas(bottom);
    draw_chart(f, chart_area, app);
    draw_points(f, table_area, app);
}

/// Before the first measurement: what `g` does, or where a `[scaling]` is.
fn draw_empty(f: &mut Frame, area: Rect, app: &App) {
    let text = if app.scenario.scaling.is_some() {
        t!("scaling-none-yet")
    } else {
        t!("scaling-no-table")
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .style(Style::new().fg(Color::DarkGray))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {} ", t!("scaling-title")).bold()),
            ),
        area,
    );
}

/// Speedup against workers, a curve per mode, with the ideal and the cores.
fn draw_chart(f: &mut Frame, chart_area: Rect, app: &App) {
    let cpus = app.current.snapshot.system.cpus.max(1) as f64;
    let max_w = app
        .scenario
        .scaling
        .as_ref()
        .map_or(1, |s| s.max_workers)
        .max(
            app.scale_points
                .iter()
                .map(|p| p.workers)
                .max()
                .unwrap_or(1),
        ) as f64;
    let series = series(&app.scale_points);
    let ideal: Vec<(f64, f64)> = (1..=max_w as usize)
        .map(|w| (w as f64, (w as f64).min(cpus)))
        .collect();
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(cpus, f64::max)
        .ceil()
        + 0.5;
    let cores = [(cpus, 0.0), (cpus, top)];
    let mut datasets = vec![
        Dataset::default()
            .name(t!("scaling-ideal-long"))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::DarkGray))
            .data(&ideal),
        Dataset::default()
            .name(t!("scaling-cores", n = cpus as usize))
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
            .data(&cores),
    ];
    for s in &series {
        datasets.push(
            Dataset::default()
                .name(s.label.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(s.color))
                .data(&s.points),
        );
    }
    // A point measured on a busy machine is drawn as a block over its curve.
    for s in &series {
        datasets.push(
            Dataset::default()
                .marker(Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(Style::new().fg(s.color))
                .data(&s.busy),
        );
    }
    // The legend goes under the chart, never over a curve.
    let mut legend: Vec<Span> = vec![
        Span::styled(
            format!("── {} ", t!("scaling-ideal")),
            Style::new().fg(Color::DarkGray),
        ),
        Span::styled(
            format!("┆ {} ", t!("scaling-cores", n = cpus as usize)),
            Style::new().fg(Color::Yellow),
        ),
    ];
    for s in &series {
        legend.push(Span::styled(
            format!("── {} ", s.label),
            Style::new().fg(s.color),
        ));
    }
    let mut notes: Vec<Line> = vec![Line::from(legend)];
    // Why a point is not to be trusted, and what free threading costs one thread.
    let busy: Vec<&Point> = app.scale_points.iter().filter(|p| !p.trustworthy).collect();
    if let Some(worst) = busy.iter().map(|p| p.others_cpu_pct).reduce(f64::max) {
        notes.push(Line::styled(
            format!(
                "█ {}",
                t!(
                    "scaling-busy-machine",
                    worst = format!("{worst:.0}"),
                    n = busy.len(),
                    limit = format!("{:.0}", busy::BUSY_PCT)
                )
            ),
            Style::new().fg(Color::Yellow),
        ));
    }
    for p in &app.scale_points {
        if let Some(cost) = p.single_thread_cost {
            notes.push(Line::styled(
                t!(
                    "scaling-no-gil-cost",
                    version = p.python.as_deref().unwrap_or("?"),
                    cost = format!("{cost:.2}")
                ),
                Style::new().fg(Color::DarkGray),
            ));
        }
    }
    let text_w = chart_area.width.saturating_sub(2) as usize;
    let legend_h = notes
        .iter()
        .map(|l| {
            let plain: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            super::format::wrap(plain.trim_end(), text_w).len()
        })
        .sum::<usize>()
        .min(6) as u16;
    let legend = Paragraph::new(notes).wrap(Wrap { trim: true });
    let block = Block::default().borders(Borders::ALL).title(vec![
        format!(" {} ", t!("scaling-title")).bold(),
        format!("{} ", t!("scaling-subtitle")).dark_gray(),
    ]);
    let inner = block.inner(chart_area);
    f.render_widget(block, chart_area);
    let [plot, key] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(legend_h)]).areas(inner);
    f.render_widget(legend, key);
    let chart_area = plot;
    let chart = Chart::new(datasets)
        .legend_position(None)
        .x_axis(
            Axis::default()
                .title(t!("scaling-axis-workers"))
                .bounds([1.0, max_w.max(2.0)])
                .labels(vec![
                    Line::from("1"),
                    Line::from(format!("{}", max_w as usize)),
                ]),
        )
        .y_axis(
            Axis::default()
                .title(t!("scaling-axis-speedup"))
                .bounds([0.0, top])
                .labels(vec![Line::from("0"), Line::from(format!("{top:.1}"))]),
        );
    f.render_widget(chart, chart_area);
}

/// `3.14` or `3.14t`: a CPython point's interpreter, short.
fn short_version(p: &Point) -> String {
    let v = p.python.as_deref().unwrap_or("?");
    let t = if v.ends_with('t') { "t" } else { "" };
    let v = v.trim_end_matches('t');
    format!("{}{t}", v.split('.').take(2).collect::<Vec<_>>().join("."))
}

/// Every measured point, as a table; it scrolls (↑/↓, PgUp/PgDn) when it is
/// longer than the panel, and the title says which rows are shown.
fn draw_points(f: &mut Frame, table_area: Rect, app: &App) {
    let mut lines = vec![Line::from(t!("scaling-points-header")).yellow().bold()];
    let interps = interpreters(&app.scale_points);
    for p in &app.scale_points {
        let name = match p.mode {
            Mode::Processes => t!("scaling-mode-processes"),
            Mode::GilThreads => format!("{}*", t!("scaling-mode-gil-threads")),
            Mode::FreeThreads => t!("scaling-mode-free-threads"),
            Mode::CpythonThreads => format!("{} thr†", short_version(p)),
            Mode::CpythonProcesses => format!("{} proc†", short_version(p)),
        };
        // A point measured on a busy machine is marked `!` before its
        // name: a mark at the end of the row was cut off at 120 columns.
        let row = vec![
            Span::styled(
                if p.trustworthy { " " } else { "!" },
                Style::new().fg(Color::Yellow).bold(),
            ),
            Span::styled(
                format!("{name:<15}"),
                Style::new().fg(point_color(p, &interps)),
            ),
            Span::raw(format!(
                "{:>2} {:>6.2}s {:>7.2}×",
                p.workers, p.wall_s, p.speedup
            )),
        ];
        lines.push(Line::from(row));
    }
    lines.push(Line::styled(
        format!("* {}", t!("scaling-gil-note")),
        Style::new().fg(Color::DarkGray),
    ));
    if app.scale_points.iter().any(|p| p.work_fraction < 1.0) {
        lines.push(Line::styled(
            format!("† {}", t!("scaling-cpython-note")),
            Style::new().fg(Color::DarkGray),
        ));
    }
    if app.scale_points.iter().any(|p| !p.trustworthy) {
        lines.push(Line::styled(
            t!("scaling-busy-note"),
            Style::new().fg(Color::Yellow),
        ));
    }
    let rows = table_area.height.saturating_sub(2) as usize;
    let total = lines.len();
    let first = app.scaling.points_scroll.min(total.saturating_sub(rows));
    let mut title = vec![format!(" {} ", t!("scaling-points-title")).bold()];
    if total > rows {
        title.push(
            format!(
                "{} ",
                t!(
                    "scaling-rows",
                    first = first + 1,
                    last = (first + rows).min(total),
                    total = total
                )
            )
            .yellow(),
        );
    }
    f.render_widget(
        Paragraph::new(lines.into_iter().skip(first).collect::<Vec<_>>())
            .block(Block::default().borders(Borders::ALL).title(title)),
        table_area,
    );
}
