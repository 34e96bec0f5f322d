//! The Compare tab: every finished run of this dashboard side by side, with
//! bar charts of start latency and of the workers' memory per run.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Borders, Cell, Paragraph, Row, Table, Wrap,
};

use crate::app::App;
use crate::t;
use crate::telemetry::stats::RunStats;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    if app.runs.is_empty() {
        let p = Paragraph::new(t!("compare-empty"))
            .wrap(Wrap { trim: true })
            .style(Style::new().fg(Color::DarkGray))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" {} ", t!("compare-title")).bold()),
            );
        f.render_widget(p, area);
        return;
    }
    // The current scenario's runs only: figures of different programs side
    // by side compare nothing. The others are counted in the title.
    let mine: Vec<&RunStats> = app
        .runs
        .iter()
        .filter(|r| r.scenario == app.compare_title())
        .collect();
    let others = app.runs.len() - mine.len();
    // As many runs as both the table and the charts can show, the newest:
    // a bar is 8 columns and a gap; a row is a line.
    let chart_fit = ((area.width / 2).saturating_sub(2) / 9).max(1) as usize;
    let table_fit = (area.height / 2).saturating_sub(3).max(1) as usize;
    let shown: Vec<&RunStats> = mine
        .iter()
        .copied()
        .skip(mine.len().saturating_sub(chart_fit.min(table_fit)))
        .collect();
    // `z`: the table alone, every run of this scenario.
    let zoomed = app.live.zoom.is_some();
    let shown: Vec<&RunStats> = if zoomed { mine.clone() } else { shown };
    let table_h = if zoomed {
        area.height
    } else {
        (shown.len() as u16 + 3).min(area.height / 2).max(4)
    };
    let [table_area, charts] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(area);
    // Every cell as text first: a column is as wide as its header or its
    // widest cell, and a narrow screen drops whole columns (the least
    // important first), never cuts a number.
    let headers: [String; 13] = [
        t!("compare-col-run"),
        t!("compare-col-method"),
        t!("compare-col-workers"),
        t!("compare-col-wall"),
        t!("compare-col-start-p50"),
        t!("compare-col-start-p99"),
        t!("compare-col-all-ready"),
        "PSS".to_string(),
        "RSS".to_string(),
        t!("compare-col-helpers"),
        t!("compare-col-cpu"),
        t!("compare-col-exit"),
        t!("compare-col-note"),
    ];
    // Drop order: the highest goes first; 0 never goes.
    const DROP: [u8; 13] = [0, 0, 6, 0, 1, 5, 2, 4, 8, 9, 7, 3, 10];
    let cells: Vec<[(String, Style); 13]> = shown
        .iter()
        .map(|r| {
            let plain = Style::new();
            [
                (r.run.to_string(), plain),
                (r.method.name().to_string(), plain.fg(Color::Magenta)),
                (r.workers.to_string(), plain),
                (format!("{:.2} s", r.wall_s), plain),
                (format!("{:.2} ms", r.start_p50_us / 1000.0), plain),
                (format!("{:.2} ms", r.start_p99_us / 1000.0), plain),
                (
                    if r.all_ready_ms.is_nan() {
                        "-".into()
                    } else {
                        format!("{:.1} ms", r.all_ready_ms)
                    },
                    plain,
                ),
                (format!("{:.1} MiB", r.workers_pss_mib), plain),
                (format!("{:.1} MiB", r.workers_rss_mib), plain),
                (r.helpers.to_string(), plain),
                (format!("{:.2}", r.cpu_s), plain),
                (
                    r.exit.to_string(),
                    plain.fg(if r.exit == 0 {
                        Color::Green
                    } else {
                        Color::Red
                    }),
                ),
                (note(r), plain.fg(Color::Red)),
            ]
        })
        .collect();
    let width_of = |i: usize| {
        cells
            .iter()
            .map(|c| c[i].0.chars().count())
            .chain([headers[i].chars().count()])
            .max()
            .unwrap_or(0) as u16
    };
    let mut cols: Vec<usize> = (0..13).collect();
    let room = table_area.width.saturating_sub(2);
    let total = |cols: &[usize]| cols.iter().map(|&i| width_of(i) + 1).sum::<u16>();
    let mut order: Vec<usize> = (0..13).filter(|&i| DROP[i] > 0).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(DROP[i]));
    for i in order {
        if total(&cols) <= room {
            break;
        }
        cols.retain(|&c| c != i);
    }
    let header = Row::new(cols.iter().map(|&i| Cell::from(headers[i].clone())))
        .style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD));
    let rows: Vec<Row> = cells
        .iter()
        .map(|c| {
            Row::new(
                cols.iter()
                    .map(|&i| Cell::from(c[i].0.clone()).style(c[i].1)),
            )
        })
        .collect();
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|&i| Constraint::Length(width_of(i)))
        .collect();
    let mut title = vec![
        format!(" {} ", t!("compare-title")).bold(),
        format!(
            "{} ",
            t!(
                "compare-runs-of",
                n = mine.len(),
                title = crate::telemetry::stats::shown_title(
                    app.compare_title(),
                    &app.scenario,
                    &app.runs
                )
            )
        )
        .into(),
    ];
    if shown.len() < mine.len() {
        title.push(format!("{} ", t!("compare-last-shown", n = shown.len())).yellow());
    }
    if others > 0 {
        title.push(format!("· {} ", t!("compare-others", n = others)).dark_gray());
    }
    title.push(format!("· {} ", t!("compare-legend")).dark_gray());
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(Block::default().borders(Borders::ALL).title(title)),
        table_area,
    );
    if zoomed {
        return;
    }
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    let label = |r: &RunStats| {
        let m = r.method.name();
        let mark = if note(r).is_empty() { "" } else { "!" };
        format!("{}#{}{mark}", &m[..m.len().min(5)], r.run)
    };
    let bars = |value: &dyn Fn(&RunStats) -> (u64, String), color: Color| -> Vec<Bar> {
        shown
            .iter()
            .map(|r| {
                let (v, text) = value(r);
                Bar::default()
                    .value(v)
                    .text_value(text)
                    .label(Line::from(label(r)))
                    .style(Style::new().fg(if note(r).is_empty() {
                        color
                    } else {
                        Color::Red
                    }))
                    .value_style(Style::new().fg(Color::Black).bg(color))
            })
            .collect()
    };
    let start = bars(
        &|r| {
            let us = r.start_p50_us.max(0.0).round() as u64;
            (us, us.to_string())
        },
        Color::Magenta,
    );
    // PSS in tenths of a MiB, written with one decimal (0.7, 1.4, 0.7).
    let pss = bars(
        &|r| {
            let tenths = (r.workers_pss_mib.max(0.0) * 10.0).round() as u64;
            (tenths, format!("{:.1}", tenths as f64 / 10.0))
        },
        Color::Cyan,
    );
    let chart = |title: String, data: Vec<Bar<'static>>| {
        BarChart::default()
            .block(Block::default().borders(Borders::ALL).title(title.bold()))
            .bar_width(8)
            .bar_gap(1)
            .data(BarGroup::default().bars(&data))
    };
    f.render_widget(
        chart(format!(" {} ", t!("compare-chart-start")), start),
        left,
    );
    f.render_widget(chart(format!(" {} ", t!("compare-chart-pss")), pss), right);
}

/// What makes a run not like the others: a worker killed, a failure.
fn note(r: &RunStats) -> String {
    match (r.killed, r.exit) {
        (0, 0) => String::new(),
        (0, _) => t!("compare-failed"),
        (n, _) => t!("compare-killed", n = n),
    }
}
