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
use crate::scenario::scaling::Mode;

fn color(m: Mode) -> Color {
    match m {
        Mode::Processes => Color::Green,
        Mode::GilThreads => Color::Red,
        Mode::FreeThreads => Color::Cyan,
        Mode::CpythonThreads => Color::Magenta,
        Mode::CpythonProcesses => Color::Blue,
    }
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
        "No measurement yet: press x to run the same CPU-bound work with 1…N workers as processes, \
         as threads sharing a simulated GIL, and as free threads."
    } else {
        "This scenario has no [scaling] table: open scenarios/scaling.toml and press x."
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .style(Style::new().fg(Color::DarkGray))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Scaling ".bold()),
            ),
        area,
    );
}

/// Speedup against workers, a curve per mode, with the ideal and the cores.
fn draw_chart(f: &mut Frame, chart_area: Rect, app: &App) {
    let cpus = app.current.snapshot.system.cpus.max(1) as f64;
    let max_w = app.scenario.scaling.map_or(1, |s| s.max_workers).max(
        app.scale_points
            .iter()
            .map(|p| p.workers)
            .max()
            .unwrap_or(1),
    ) as f64;
    let series: Vec<(Mode, Vec<(f64, f64)>)> = Mode::ALL
        .iter()
        .chain(Mode::CPYTHON.iter())
        .map(|m| {
            let pts = app
                .scale_points
                .iter()
                .filter(|p| p.mode == *m)
                .map(|p| (p.workers as f64, p.speedup))
                .collect();
            (*m, pts)
        })
        .collect();
    let ideal: Vec<(f64, f64)> = (1..=max_w as usize)
        .map(|w| (w as f64, (w as f64).min(cpus)))
        .collect();
    let top = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(cpus, f64::max)
        .ceil()
        + 0.5;
    let cores = [(cpus, 0.0), (cpus, top)];
    let mut datasets = vec![
        Dataset::default()
            .name("ideal (min of workers, cores)")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::DarkGray))
            .data(&ideal),
        Dataset::default()
            .name(format!("{} cores", cpus as usize))
            .marker(Marker::Dot)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Yellow))
            .data(&cores),
    ];
    for (m, pts) in &series {
        datasets.push(
            Dataset::default()
                .name(m.label())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::new().fg(color(*m)))
                .data(pts),
        );
    }
    // The legend goes under the chart, never over a curve.
    let mut legend: Vec<Span> = vec![
        Span::styled("── ideal ", Style::new().fg(Color::DarkGray)),
        Span::styled(
            format!("┆ {} cores ", cpus as usize),
            Style::new().fg(Color::Yellow),
        ),
    ];
    for (m, pts) in &series {
        if !pts.is_empty() {
            legend.push(Span::styled(
                format!("── {} ", m.label()),
                Style::new().fg(color(*m)),
            ));
        }
    }
    let plain: String = legend.iter().map(|s| s.content.as_ref()).collect();
    let legend_h = super::format::wrap(
        plain.trim_end(),
        chart_area.width.saturating_sub(2) as usize,
    )
    .len()
    .min(4) as u16;
    let legend = Paragraph::new(Line::from(legend)).wrap(Wrap { trim: true });
    let block = Block::default().borders(Borders::ALL).title(vec![
        " Scaling ".bold(),
        "speedup against workers · the GIL curve is simulated ".dark_gray(),
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
                .title("workers")
                .bounds([1.0, max_w.max(2.0)])
                .labels(vec![
                    Line::from("1"),
                    Line::from(format!("{}", max_w as usize)),
                ]),
        )
        .y_axis(
            Axis::default()
                .title("speedup")
                .bounds([0.0, top])
                .labels(vec![Line::from("0"), Line::from(format!("{top:.1}"))]),
        );
    f.render_widget(chart, chart_area);
}

/// Every measured point, as a table; it scrolls (↑/↓, PgUp/PgDn) when it is
/// longer than the panel, and the title says which rows are shown.
fn draw_points(f: &mut Frame, table_area: Rect, app: &App) {
    let mut lines = vec![
        Line::from("MODE            W   WALL   SPEEDUP")
            .yellow()
            .bold(),
    ];
    for p in &app.scale_points {
        let name = match p.mode {
            Mode::Processes => "processes",
            Mode::GilThreads => "GIL threads*",
            Mode::FreeThreads => "free threads",
            Mode::CpythonThreads => "CPy threads†",
            Mode::CpythonProcesses => "CPy processes†",
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{name:<15}"), Style::new().fg(color(p.mode))),
            Span::raw(format!(
                "{:>2} {:>6.2}s {:>7.2}×",
                p.workers, p.wall_s, p.speedup
            )),
        ]));
    }
    lines.push(Line::styled(
        "* simulated GIL: 5 ms turns",
        Style::new().fg(Color::DarkGray),
    ));
    if app.scale_points.iter().any(|p| p.work_fraction < 1.0) {
        lines.push(Line::styled(
            "† python3, 1/10 of the work",
            Style::new().fg(Color::DarkGray),
        ));
    }
    let rows = table_area.height.saturating_sub(2) as usize;
    let total = lines.len();
    let first = app.scaling.points_scroll.min(total.saturating_sub(rows));
    let mut title = vec![" Points ".bold()];
    if total > rows {
        title.push(
            format!(
                "{}–{} of {total} (↑/↓) ",
                first + 1,
                (first + rows).min(total)
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
