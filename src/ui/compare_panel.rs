//! The Compare tab: every finished run of this dashboard side by side, with
//! bar charts of start latency and of the workers' memory per run.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::widgets::{BarChart, Block, Borders, Cell, Paragraph, Row, Table, Wrap};

use crate::app::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    if app.runs.is_empty() {
        let p = Paragraph::new(
            "No finished run yet. Each run that ends is kept here: press m to run the \
             scenario with the next start method, r to run it again.",
        )
        .wrap(Wrap { trim: true })
        .style(Style::new().fg(Color::DarkGray))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Compare ".bold()),
        );
        f.render_widget(p, area);
        return;
    }
    let table_h = (app.runs.len() as u16 + 3).min(area.height / 2).max(4);
    let [table_area, charts] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(area);
    let header = Row::new(
        [
            "RUN",
            "METHOD",
            "WORKERS",
            "WALL",
            "START p50",
            "START p99",
            "ALL READY",
            "PSS",
            "RSS",
            "HELPERS",
            "CPU s",
            "EXIT",
        ]
        .map(Cell::from),
    )
    .style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = app
        .runs
        .iter()
        .map(|r| {
            Row::new(vec![
                Cell::from(r.run.to_string()),
                Cell::from(r.method.name()).style(Style::new().fg(Color::Magenta)),
                Cell::from(r.workers.to_string()),
                Cell::from(format!("{:.2} s", r.wall_s)),
                Cell::from(format!("{:.2} ms", r.start_p50_us / 1000.0)),
                Cell::from(format!("{:.2} ms", r.start_p99_us / 1000.0)),
                Cell::from(if r.all_ready_ms.is_nan() {
                    "-".into()
                } else {
                    format!("{:.1} ms", r.all_ready_ms)
                }),
                Cell::from(format!("{:.1} MiB", r.workers_pss_mib)),
                Cell::from(format!("{:.1} MiB", r.workers_rss_mib)),
                Cell::from(r.helpers.to_string()),
                Cell::from(format!("{:.2}", r.cpu_s)),
                Cell::from(r.exit.to_string()).style(Style::new().fg(if r.exit == 0 {
                    Color::Green
                } else {
                    Color::Red
                })),
            ])
        })
        .collect();
    let widths = [7, 11, 8, 9, 10, 10, 10, 11, 11, 8, 7, 5].map(Constraint::Length);
    f.render_widget(
        Table::new(rows, widths).header(header).block(
            Block::default().borders(Borders::ALL).title(vec![
                " Compare ".bold(),
                "runs of this scenario · START = request → first instruction · PSS/RSS = workers' peak ".dark_gray(),
            ]),
        ),
        table_area,
    );
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    let labels: Vec<String> = app
        .runs
        .iter()
        .map(|r| {
            format!(
                "{}#{}",
                &r.method.name()[..r.method.name().len().min(5)],
                r.run
            )
        })
        .collect();
    let start: Vec<(&str, u64)> = labels
        .iter()
        .zip(&app.runs)
        .map(|(l, r)| (l.as_str(), r.start_p50_us.max(0.0).round() as u64))
        .collect();
    let pss: Vec<(&str, u64)> = labels
        .iter()
        .zip(&app.runs)
        .map(|(l, r)| (l.as_str(), r.workers_pss_mib.max(0.0).round() as u64))
        .collect();
    fn chart<'a>(title: &'static str, data: &'a [(&'a str, u64)], color: Color) -> BarChart<'a> {
        BarChart::default()
            .block(Block::default().borders(Borders::ALL).title(title.bold()))
            .bar_width(8)
            .bar_gap(1)
            .bar_style(Style::new().fg(color))
            .value_style(Style::new().fg(Color::Black).bg(color))
            .data(data)
    }
    f.render_widget(
        chart(" Start latency p50 (µs) ", &start, Color::Magenta),
        left,
    );
    f.render_widget(chart(" Workers' PSS (MiB) ", &pss, Color::Cyan), right);
}
