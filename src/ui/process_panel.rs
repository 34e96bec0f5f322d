//! The process tree: one row per process of the run, children under their
//! logical parent, finished processes kept and marked.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::format;
use crate::app::App;
use crate::headless::{exit_label, ms_label};
use crate::runtime::board::ProcState;
use crate::telemetry::board_view::ProcRow;
use crate::telemetry::sampler::Live;

/// Rows in tree order with their drawn prefix (`├─ `, `└─ `).
pub fn tree_order(procs: &[ProcRow]) -> Vec<(String, &ProcRow)> {
    fn walk<'a>(
        procs: &'a [ProcRow],
        i: usize,
        prefix: &str,
        last: bool,
        root: bool,
        seen: &mut [bool],
        out: &mut Vec<(String, &'a ProcRow)>,
    ) {
        if std::mem::replace(&mut seen[i], true) {
            return;
        }
        let p = &procs[i];
        let branch = if root {
            String::new()
        } else if last {
            format!("{prefix}└─ ")
        } else {
            format!("{prefix}├─ ")
        };
        out.push((branch, p));
        let kids: Vec<usize> = (0..procs.len())
            .filter(|&j| j != i && procs[j].logical_ppid == p.pid && p.pid > 0)
            .collect();
        let next = if root {
            String::new()
        } else if last {
            format!("{prefix}   ")
        } else {
            format!("{prefix}│  ")
        };
        for (k, &j) in kids.iter().enumerate() {
            walk(procs, j, &next, k + 1 == kids.len(), false, seen, out);
        }
    }
    let mut out = Vec::new();
    let mut seen = vec![false; procs.len()];
    let pids: Vec<i32> = procs.iter().map(|p| p.pid).filter(|p| *p > 0).collect();
    for i in 0..procs.len() {
        if !pids.contains(&procs[i].logical_ppid) || procs[i].pid <= 0 && procs[i].logical_ppid <= 0
        {
            walk(procs, i, "", true, true, &mut seen, &mut out);
        }
    }
    // Anything unreachable (a cycle from a corrupt board) is still shown.
    for (i, p) in procs.iter().enumerate() {
        if !seen[i] {
            out.push((String::new(), p));
        }
    }
    out
}

/// What each row of the table is, in drawing order: `Some(pid)` for a
/// process of the run, `None` for a thread row. Selection indexes this list.
pub fn row_kinds(snap: &crate::telemetry::sampler::Snapshot) -> Vec<Option<i32>> {
    let mut out = Vec::new();
    for (_, p) in tree_order(&snap.procs) {
        out.push(Some(p.pid));
        if p.alive() {
            let n = snap.threads.get(&p.pid).map_or(0, Vec::len);
            out.extend(std::iter::repeat_n(None, n));
        }
    }
    out
}

/// State in words and its colour.
pub fn state_label(p: &ProcRow, live: Option<&Live>) -> (String, Color) {
    match p.state {
        ProcState::Exited => match p.exitcode {
            Some(0) => ("exited 0".into(), Color::DarkGray),
            Some(c) if c < 0 => (format!("killed {}", exit_label(Some(c))), Color::Red),
            c => (format!("exited {}", exit_label(c)), Color::Yellow),
        },
        ProcState::Requested | ProcState::Free => ("starting".into(), Color::Yellow),
        ProcState::Started | ProcState::Running => match live.map(|l| l.state) {
            Some('R') => ("running".into(), Color::Green),
            Some('S') | Some('D') | Some('I') => ("sleeping".into(), Color::Blue),
            Some('T') | Some('t') => ("stopped".into(), Color::Yellow),
            Some('Z') => ("zombie".into(), Color::Magenta),
            _ => ("running".into(), Color::Green),
        },
    }
}

/// Columns, most important first; narrow terminals drop from the end of this
/// list (by `drop_order`), never the PID or the name.
const COLUMNS: [(&str, u16, u8); 11] = [
    ("PID", 7, 0),
    ("OS PPID", 7, 4),
    ("PARENT", 7, 5),
    ("NAME", 18, 0),
    ("METHOD", 10, 6),
    ("STATE", 14, 0),
    ("CPU%", 5, 0),
    ("HISTORY", 12, 2),
    ("RSS", 7, 1),
    ("START", 8, 3),
    ("TASK", 13, 7),
];

/// Which columns fit in `width` (one space between columns, two for borders).
pub fn visible_columns(width: u16) -> Vec<usize> {
    let mut shown: Vec<usize> = (0..COLUMNS.len()).collect();
    let total = |s: &[usize]| s.iter().map(|&i| COLUMNS[i].1 + 1).sum::<u16>() + 2;
    let mut order: Vec<usize> = (0..COLUMNS.len()).filter(|&i| COLUMNS[i].2 > 0).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(COLUMNS[i].2));
    for drop in order {
        if total(&shown) <= width {
            break;
        }
        shown.retain(|&i| i != drop);
    }
    shown
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let snap = &app.snapshot;
    let cols = visible_columns(area.width);
    let header = Row::new(cols.iter().map(|&i| Cell::from(COLUMNS[i].0)))
        .style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD));
    let mut rows: Vec<Row> = Vec::new();
    for (branch, p) in tree_order(&snap.procs) {
        rows.push({
            let live = snap.live.get(&p.pid).filter(|_| p.alive());
            let (state, color) = state_label(p, live);
            let hist = app
                .cpu_history
                .get(&p.pid)
                .filter(|_| p.alive())
                .map(|h| format::spark(h.iter().rev().take(12).rev().copied()))
                .unwrap_or_default();
            let cpu_pct = live.map_or(0.0, |l| l.cpu_pct);
            let cpu = live.map_or("-".into(), |l| format!("{:.0}", l.cpu_pct));
            let rss = live.map_or("-".into(), |l| format::bytes(l.rss_bytes));
            let task = match (p.current_task, p.tasks_done) {
                (Some(t), d) => format!("#{t} ({d} done)"),
                (None, d) if d > 0 => format!("{d} done"),
                _ => String::new(),
            };
            let cells: [Cell; 11] = [
                Cell::from(p.pid.to_string()),
                Cell::from(p.os_ppid.to_string()),
                Cell::from(p.logical_ppid.to_string()),
                Cell::from(format!("{branch}{}", p.name)),
                Cell::from(p.method.map_or("?", |m| m.name())),
                Cell::from(state).style(Style::new().fg(color)),
                Cell::from(cpu).style(Style::new().fg(cpu_color(cpu_pct))),
                Cell::from(hist).style(Style::new().fg(Color::Green)),
                Cell::from(rss),
                Cell::from(ms_label(p.start_us)),
                Cell::from(task),
            ];
            let mut cells: Vec<Option<Cell>> = cells.into_iter().map(Some).collect();
            let row = Row::new(cols.iter().filter_map(|&i| cells[i].take()));
            if p.state == ProcState::Exited {
                row.style(Style::new().fg(Color::DarkGray))
            } else {
                row
            }
        });
        // Threads of a multi-threaded process, each with its own CPU.
        if p.alive() {
            for t in snap.threads.get(&p.pid).into_iter().flatten() {
                let mut cells: Vec<Option<Cell>> = vec![None; COLUMNS.len()];
                cells[0] = Some(Cell::from(t.tid.to_string()));
                cells[3] = Some(Cell::from(format!("{branch}  ↳ {}", t.name)));
                cells[5] = Some(Cell::from("thread").style(Style::new().fg(Color::DarkGray)));
                cells[6] = Some(
                    Cell::from(format!("{:.0}", t.cpu_pct))
                        .style(Style::new().fg(cpu_color(t.cpu_pct))),
                );
                let row = Row::new(
                    cols.iter()
                        .map(|&i| cells[i].take().unwrap_or_else(|| Cell::from(""))),
                );
                rows.push(row.style(Style::new().add_modifier(Modifier::ITALIC)));
            }
        }
    }
    let title = Line::from(vec![
        " Processes ".bold(),
        format!("({}) ", snap.procs.len()).into(),
        "CPU% = percent of one core · START = request → first instruction ".dark_gray(),
    ]);
    let widths = cols.iter().map(|&i| {
        if COLUMNS[i].0 == "NAME" {
            Constraint::Min(COLUMNS[i].1)
        } else {
            Constraint::Length(COLUMNS[i].1)
        }
    });
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::new().bg(Color::Rgb(40, 44, 60)));
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

fn cpu_color(pct: f64) -> Color {
    if pct >= 90.0 {
        Color::LightRed
    } else if pct >= 30.0 {
        Color::Yellow
    } else {
        Color::Gray
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: i32, parent: i32, name: &str) -> ProcRow {
        ProcRow {
            pid,
            logical_ppid: parent,
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn children_sit_under_their_logical_parent() {
        let procs = vec![
            row(10, 1, "main"),
            row(11, 10, "w1"),
            row(12, 10, "fs"),
            row(13, 10, "w2"),
        ];
        let names: Vec<String> = tree_order(&procs)
            .into_iter()
            .map(|(b, p)| format!("{b}{}", p.name))
            .collect();
        assert_eq!(names, ["main", "├─ w1", "├─ fs", "└─ w2"]);
    }

    #[test]
    fn narrow_terminals_drop_the_least_important_columns() {
        assert_eq!(visible_columns(200).len(), 11);
        let at80 = visible_columns(80);
        let names: Vec<&str> = at80.iter().map(|&i| COLUMNS[i].0).collect();
        assert!(names.contains(&"PID") && names.contains(&"NAME") && names.contains(&"CPU%"));
        assert!(!names.contains(&"TASK"));
        assert!(at80.iter().map(|&i| COLUMNS[i].1 + 1).sum::<u16>() + 2 <= 80);
    }

    #[test]
    fn a_cycle_does_not_hang_or_hide_rows() {
        let procs = vec![row(5, 6, "a"), row(6, 5, "b")];
        assert_eq!(tree_order(&procs).len(), 2);
        let dupes = vec![row(5, 1, "root"), row(6, 5, "b"), row(5, 6, "again")];
        assert_eq!(tree_order(&dupes).len(), 3);
    }
}
