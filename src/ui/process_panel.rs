//! The process tree: one row per process of the run, children under their
//! logical parent, finished processes kept and marked.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

use super::format;
use crate::app::App;
use crate::app::process_tree::{SortKey, TreeRow, tree_order};
use crate::runtime::board::ProcState;
use crate::t;
use crate::telemetry::board_view::ProcRow;
use crate::telemetry::labels::{exit_label, ms_label};
use crate::telemetry::snapshot::Live;
use crate::telemetry::waits::describe;

/// A pool worker its pool stopped with SIGTERM once every task was done
/// (`terminate()`, what `with Pool()` does at its end): the pool's normal
/// end, said calmly — not a worker that died.
fn stopped_by_pool(app: &App, p: &ProcRow) -> bool {
    p.role == Some(crate::runtime::board::Role::PoolWorker)
        && p.state == ProcState::Exited
        && p.exitcode == Some(-libc::SIGTERM)
        && app
            .current
            .snapshot
            .pool
            .as_ref()
            .is_some_and(|pool| pool.total > 0 && pool.done >= pool.total && pool.lost == 0)
}

/// [`state_label`] in the run's context: a pool's own end is not a death.
pub fn row_state(app: &App, p: &ProcRow, live: Option<&Live>) -> (String, Color) {
    if stopped_by_pool(app, p) {
        return (t!("state-pool-stopped"), Color::DarkGray);
    }
    state_label(p, live)
}

/// State in words and its colour.
pub fn state_label(p: &ProcRow, live: Option<&Live>) -> (String, Color) {
    match p.state {
        ProcState::Exited => match p.exitcode {
            Some(0) => (t!("state-exited", code = "0"), Color::DarkGray),
            // Reaped by its own parent (a watched program): no status for us.
            None => (t!("state-ended"), Color::DarkGray),
            Some(c) if c < 0 => (t!("state-killed", signal = exit_label(Some(c))), Color::Red),
            c => (t!("state-exited", code = exit_label(c)), Color::Yellow),
        },
        ProcState::Requested | ProcState::Free => (t!("state-starting"), Color::Yellow),
        ProcState::Started | ProcState::Running => match live.map(|l| l.state) {
            Some('R') => (t!("state-running"), Color::Green),
            Some('S') | Some('D') | Some('I') => (t!("state-sleeping"), Color::Blue),
            Some('T') | Some('t') => (t!("state-stopped"), Color::Yellow),
            // Ended, not yet reaped by its parent: how it ended, as the
            // kernel keeps it (what a diagnosis says of it too).
            Some('Z') => match live.and_then(|l| l.zombie_exit) {
                Some(0) => (t!("state-zombie-exited", code = "0"), Color::Magenta),
                Some(c) if c < 0 => (
                    t!("state-zombie-killed", signal = exit_label(Some(c))),
                    Color::Red,
                ),
                Some(c) => (
                    t!("state-zombie-exited", code = exit_label(Some(c))),
                    Color::Yellow,
                ),
                None => (t!("state-zombie"), Color::Magenta),
            },
            _ => (t!("state-running"), Color::Green),
        },
    }
}

/// Columns (title, width, drop order): narrow terminals drop the highest
/// drop order first, never the PID, the name, the state or the CPU. When
/// anything waits, WAITING ON and WHERE outrank everything else that may
/// go: they are why you look. OS PPID and PARENT go after RSS, METHOD and
/// HISTORY (the process scenario asks you to compare them). NAME's width
/// is its minimum: it takes what its content needs, capped. WAITING ON and
/// WHERE are shown only when they have something to say.
const COLUMNS: [(&str, u16, u8); 13] = [
    ("PID", 7, 0),
    ("OS PPID", 7, 5),
    ("PARENT", 7, 4),
    ("NAME", 12, 0),
    ("METHOD", 10, 7),
    ("STATE", 14, 0),
    ("CPU%", 5, 0),
    ("HISTORY", 12, 8),
    ("RSS", 7, 6),
    ("START", 8, 10),
    ("TASK", 13, 9),
    ("WAITING ON", 24, 2),
    ("WHERE", 22, 3),
];
/// A column's header in the user's language (the table above names them
/// in English, as the code and the tests do).
fn header_text(i: usize) -> String {
    match COLUMNS[i].0 {
        "PID" => t!("col-pid"),
        "OS PPID" => t!("col-os-ppid"),
        "PARENT" => t!("col-parent"),
        "NAME" => t!("col-name"),
        "METHOD" => t!("col-method"),
        "STATE" => t!("col-state"),
        "HISTORY" => t!("col-history"),
        "START" => t!("col-start"),
        "TASK" => t!("col-task"),
        "WAITING ON" => t!("col-waiting-on"),
        "WHERE" => t!("col-where"),
        other => other.to_string(),
    }
}

/// A column's width: the table's, or its header's when that is longer (a
/// header in another language).
fn width_of(i: usize) -> u16 {
    COLUMNS[i].1.max(header_text(i).chars().count() as u16)
}

/// A column's least width on a terminal `width` wide: WAITING ON wants
/// room for a whole sentence (`acquire two (held by taker b) 6.2 s`) where
/// there is room, and settles for less on a narrow one rather than go.
fn min_width(i: usize, width: u16) -> u16 {
    match i {
        WAITING if width >= 110 => width_of(i).max(30),
        WHERE if width >= 110 => width_of(i).max(26),
        _ => width_of(i),
    }
}

const NAME: usize = 3;
const METHOD: usize = 4;
const WAITING: usize = 11;
const WHERE: usize = 12;

/// Which columns fit in `width` (one space between columns, two for borders).
/// `waits`: whether any process is blocked; `wheres`: whether any has a
/// Python stack to place it (the columns are shown only then, so they never
/// take room from a run that moves).
pub fn visible_columns(width: u16, waits: bool, wheres: bool, methods: bool) -> Vec<usize> {
    let mut shown: Vec<usize> = (0..COLUMNS.len())
        .filter(|&i| (waits || i != WAITING) && (wheres || i != WHERE) && (methods || i != METHOD))
        .collect();
    let total = |s: &[usize]| s.iter().map(|&i| min_width(i, width) + 1).sum::<u16>() + 2;
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

/// WHERE of a thread: from the stack of its process read for its tid.
fn thread_where(app: &App, pid: i32, tid: i32) -> Option<String> {
    let v = app.current.snapshot.stacks.get(&pid)?;
    v.threads
        .iter()
        .find(|t| t.tid == Some(tid as u64))?
        .where_text()
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let snap = &app.current.snapshot;
    let waits = app
        .current
        .snapshot
        .procs
        .iter()
        .any(|p| p.alive() && p.wait.is_some());
    // WHERE from the stacks; while the probe says what processes wait on,
    // only where there is room for both (WAITING ON says the line too).
    let wheres =
        snap.stacks.values().any(|v| !v.threads.is_empty()) && (!waits || area.width >= 150);
    let order = tree_order(&snap.procs, &snap.live, &app.live.tree);
    // NAME as wide as its longest entry (with the tree's branches), so the
    // other columns are not pushed off while NAME stays half empty.
    let name_w = order
        .iter()
        .map(|r| {
            let fold = if r.hidden > 0 {
                3 + r.hidden.to_string().len()
            } else {
                0
            };
            // A thread row: `│    ↳ QueueFeederThread` under its process.
            let thread = snap
                .threads
                .get(&r.proc.pid)
                .filter(|_| !app.live.threads_folded)
                .map_or(0, |ts| {
                    ts.iter()
                        .map(|t| r.branch.chars().count() + 4 + t.name.chars().count())
                        .max()
                        .unwrap_or(0)
                });
            (r.branch.chars().count() + r.proc.name.chars().count() + fold + 1).max(thread + 1)
        })
        .max()
        .unwrap_or(0)
        // When something waits, NAME gives way to what it waits for.
        .clamp(
            COLUMNS[NAME].1 as usize,
            if waits || wheres {
                (area.width as usize / 4).max(COLUMNS[NAME].1 as usize)
            } else {
                48
            },
        ) as u16;
    // A program we did not start has no start method to show (a probed
    // Python program's processes do).
    let methods = !app.source.is_foreign() || app.source.is_probed();
    let cols = visible_columns(
        area.width.saturating_sub(name_w - COLUMNS[NAME].1),
        waits,
        wheres,
        methods,
    );
    // WAITING ON and WHERE share what the other columns leave (WHERE its
    // least, WAITING ON the rest), and their sentences are fitted to it:
    // cut after a whole word, never inside a number or a line number.
    let flex = {
        let fixed: u16 = cols
            .iter()
            .filter(|&&i| i != WAITING && i != WHERE)
            .map(|&i| if i == NAME { name_w } else { width_of(i) })
            .sum();
        let spaces = cols.len().saturating_sub(1) as u16;
        let free = area.width.saturating_sub(2 + fixed + spaces);
        match (cols.contains(&WAITING), cols.contains(&WHERE)) {
            (true, true) => {
                let wait = free
                    .saturating_sub(min_width(WHERE, area.width))
                    .max(min_width(WAITING, area.width));
                (wait, free.saturating_sub(wait))
            }
            (true, false) => (free, 0),
            (false, true) => (0, free),
            (false, false) => (0, 0),
        }
    };
    let sorted_col = match app.live.tree.sort {
        SortKey::Start => None,
        SortKey::Cpu => Some("CPU%"),
        SortKey::Rss => Some("RSS"),
        SortKey::Pid => Some("PID"),
        SortKey::Name => Some("NAME"),
    };
    let header = Row::new(cols.iter().map(|&i| {
        let text = header_text(i);
        if Some(COLUMNS[i].0) == sorted_col {
            // CPU and RSS sort biggest first, PID and NAME smallest first.
            let down =
                matches!(app.live.tree.sort, SortKey::Cpu | SortKey::Rss) != app.live.tree.reverse;
            Cell::from(format!("{text}{}", if down { "▼" } else { "▲" }))
        } else {
            Cell::from(text)
        }
    }))
    .style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD));
    let mut rows: Vec<Row> = Vec::new();
    // Only the rows in view are built (500 processes, 40 lines): the table
    // scrolls so the selection stays visible, as ratatui's would.
    let visible = area.height.saturating_sub(3) as usize;
    let offset = (app.live.selected + 1).saturating_sub(visible.max(1));
    let in_view = |i: usize| i >= offset && i < offset + visible;
    let mut at = 0;
    for TreeRow {
        branch,
        proc: p,
        hidden,
    } in order
    {
        let threads = if p.alive() {
            snap.threads
                .get(&p.pid)
                .filter(|_| !app.live.threads_folded)
                .map_or(&[][..], Vec::as_slice)
        } else {
            &[]
        };
        let first = at;
        at += 1 + threads.len();
        if !(first..at).any(in_view) {
            continue;
        }
        let name = if hidden > 0 {
            format!("{branch}{} [+{hidden}]", p.name)
        } else {
            format!("{branch}{}", p.name)
        };
        if in_view(first) {
            rows.push(process_row(app, p, name, &cols, flex));
        }
        // Threads of a multi-threaded process, each with its own CPU.
        for (k, t) in threads.iter().enumerate() {
            if in_view(first + 1 + k) {
                let mut cells: Vec<Option<Cell>> = vec![None; COLUMNS.len()];
                cells[0] = Some(Cell::from(t.tid.to_string()));
                // Under the process, on its own branch's continuation.
                let stem = branch
                    .strip_suffix("├─ ")
                    .map(|b| format!("{b}│  "))
                    .or_else(|| branch.strip_suffix("└─ ").map(|b| format!("{b}   ")))
                    .unwrap_or_default();
                cells[3] = Some(Cell::from(format!("{stem}  ↳ {}", t.name)));
                cells[5] =
                    Some(Cell::from(t!("state-thread")).style(Style::new().fg(Color::DarkGray)));
                cells[6] = Some(
                    Cell::from(format!("{:.0}", t.cpu_pct))
                        .style(Style::new().fg(cpu_color(t.cpu_pct))),
                );
                cells[WHERE] = thread_where(app, p.pid, t.tid).map(|w| {
                    Cell::from(format::fit_text(&w, flex.1 as usize))
                        .style(Style::new().fg(Color::Cyan))
                });
                let row = Row::new(
                    cols.iter()
                        .map(|&i| cells[i].take().unwrap_or_else(|| Cell::from(""))),
                );
                rows.push(row.style(Style::new().add_modifier(Modifier::ITALIC)));
            }
        }
    }
    let title = table_title(app, area.width, area.height);
    let widths = cols.iter().map(|&i| match i {
        NAME => Constraint::Length(name_w),
        WAITING => Constraint::Length(flex.0),
        WHERE => Constraint::Length(flex.1),
        _ => Constraint::Length(width_of(i)),
    });
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(Style::new().bg(Color::Rgb(40, 44, 60)));
    let mut state = TableState::default().with_selected(Some(app.live.selected - offset));
    f.render_stateful_widget(table, area, &mut state);
}

/// The row of one process: its cells in the columns that fit.
fn process_row(
    app: &App,
    p: &ProcRow,
    name: String,
    cols: &[usize],
    flex: (u16, u16),
) -> Row<'static> {
    let snap = &app.current.snapshot;
    let live = snap.live.get(&p.pid).filter(|_| p.alive());
    let (state, color) = row_state(app, p, live);
    let hist = app
        .current
        .cpu_history
        .get(&p.pid)
        .filter(|_| p.alive())
        .map(|h| format::spark(h.iter().rev().take(12).rev().copied()))
        .unwrap_or_default();
    let cpu_pct = live.map_or(0.0, |l| l.cpu_pct);
    let cpu = live.map_or("-".into(), |l| format!("{:.0}", l.cpu_pct));
    let rss = live.map_or("-".into(), |l| format::bytes(l.rss_bytes));
    let task = match (p.current_task, p.tasks_done) {
        (Some(t), d) => t!("task-current", task = t.to_string(), done = d),
        (None, d) if d > 0 => t!("task-done", done = d),
        _ => String::new(),
    };
    let (waiting, wait_color) = waiting_on(app, p);
    let place = snap
        .stacks
        .get(&p.pid)
        .filter(|_| p.alive())
        .and_then(|v| v.where_text())
        .unwrap_or_default();
    let cells: [Cell; 13] = [
        Cell::from(p.pid.to_string()),
        // 0: it ended before a sample read its parent.
        Cell::from(if p.os_ppid > 0 {
            p.os_ppid.to_string()
        } else {
            "-".into()
        }),
        Cell::from(p.logical_ppid.to_string()),
        Cell::from(name).style(Style::new().fg(if p.alive() {
            format::proc_color(p.pid)
        } else {
            Color::DarkGray
        })),
        Cell::from(match (p.role, p.method) {
            (
                Some(crate::runtime::board::Role::Foreign | crate::runtime::board::Role::Helper),
                _,
            )
            | (_, None) => "-",
            (_, Some(m)) => m.name(),
        }),
        Cell::from(state).style(Style::new().fg(color)),
        Cell::from(cpu).style(Style::new().fg(cpu_color(cpu_pct))),
        Cell::from(hist).style(Style::new().fg(Color::Green)),
        Cell::from(rss),
        Cell::from(ms_label(p.start_us)),
        Cell::from(task),
        Cell::from(format::fit_text(&waiting, flex.0 as usize)).style(Style::new().fg(wait_color)),
        Cell::from(format::fit_text(&place, flex.1 as usize)).style(Style::new().fg(Color::Cyan)),
    ];
    let mut cells: Vec<Option<Cell>> = cells.into_iter().map(Some).collect();
    let row = Row::new(cols.iter().filter_map(|&i| cells[i].take()));
    if p.state == ProcState::Exited {
        row.style(Style::new().fg(Color::DarkGray))
    } else {
        row
    }
}

/// What the process is blocked on, read from its own board slot: `get work
/// (empty) 1.2 s`, `acquire A (held by b) 4.1 s`; red when it is part of a
/// stuck run's diagnosis.
fn waiting_on(app: &App, p: &ProcRow) -> (String, Color) {
    let snap = &app.current.snapshot;
    let Some(w) = p.wait.as_ref().filter(|_| p.alive()) else {
        return (String::new(), Color::Reset);
    };
    // The time first: a long sentence is cut at its end, never a number.
    let text = format!(
        "{} {}",
        format::secs(w.since_s),
        describe(w, &snap.procs, &snap.resources)
    );
    let culprit = snap
        .stuck
        .as_ref()
        .is_some_and(|d| d.culprits.contains(&p.pid));
    (text, if culprit { Color::Red } else { Color::Yellow })
}

/// The table's title: count, sort, filter, and what the units mean.
fn table_title(app: &App, width: u16, height: u16) -> Line<'static> {
    let snap = &app.current.snapshot;
    let rows = app.rows().len();
    let mut title = vec![
        format!(" {} ", t!("procs-title")).bold(),
        format!("{}/{rows} ", (app.live.selected + 1).min(rows)).into(),
    ];
    if app.live.threads_folded {
        title.push(format!("{} ", t!("procs-threads-folded")).dark_gray());
    }
    // Rows below the panel's bottom edge: said, never silently hidden.
    let visible = height.saturating_sub(3) as usize;
    let offset = (app.live.selected + 1).saturating_sub(visible.max(1));
    let below = rows.saturating_sub(offset + visible);
    if below > 0 {
        title.push(format!("{} ", t!("procs-more", n = below)).yellow().bold());
    }
    let ended = snap.procs.iter().filter(|p| !p.alive()).count();
    if app.live.tree.hide_ended && ended > 0 {
        title.push(format!("{} ", t!("procs-ended-hidden", n = ended)).cyan());
    }
    if !app.live.tree.filter.is_empty() || app.live.editing_filter {
        let cursor = if app.live.editing_filter { "▏" } else { "" };
        title.push(
            format!(
                "{} ",
                t!(
                    "log-filter",
                    filter = format!("{}{cursor}", app.live.tree.filter)
                )
            )
            .yellow()
            .bold(),
        );
    }
    // What the units mean, as much as fits (never cut mid-word).
    let used: usize = title.iter().map(|s| s.width()).sum::<usize>() + 2;
    for note in [
        format!("{} · {} ", t!("procs-note-cpu"), t!("procs-note-start")),
        format!("{} ", t!("procs-note-cpu")),
    ] {
        if used + note.chars().count() <= width as usize {
            title.push(note.dark_gray());
            break;
        }
    }
    Line::from(title)
}

/// A busy worker is the healthy state of CPU-bound work: green, not an
/// alarm (red means something went wrong).
fn cpu_color(pct: f64) -> Color {
    if pct >= 30.0 {
        Color::LightGreen
    } else {
        Color::Gray
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(cols: &[usize]) -> Vec<&'static str> {
        cols.iter().map(|&i| COLUMNS[i].0).collect()
    }

    #[test]
    fn narrow_terminals_drop_the_least_important_columns() {
        assert_eq!(visible_columns(200, false, false, true).len(), 11);
        assert_eq!(visible_columns(260, true, true, true).len(), 13);
        let at80 = names(&visible_columns(80, false, false, true));
        assert!(at80.contains(&"PID") && at80.contains(&"NAME") && at80.contains(&"CPU%"));
        assert!(!at80.contains(&"TASK"));
        for kept in ["OS PPID", "PARENT", "METHOD", "STATE"] {
            assert!(
                at80.contains(&kept),
                "{kept} dropped at 80 columns: {at80:?}"
            );
        }
        assert!(
            visible_columns(80, false, false, true)
                .iter()
                .map(|&i| COLUMNS[i].1 + 1)
                .sum::<u16>()
                + 2
                <= 80
        );
    }

    #[test]
    fn what_a_process_waits_for_outranks_memory_method_and_parents() {
        for width in [72, 80, 100, 120] {
            let shown = names(&visible_columns(width, true, true, true));
            assert!(shown.contains(&"WAITING ON"), "{width}: {shown:?}");
            for lesser in ["RSS", "METHOD", "HISTORY", "OS PPID"] {
                if shown.contains(&lesser) {
                    assert!(
                        shown.contains(&"WHERE"),
                        "{width}: {lesser} kept before WHERE: {shown:?}"
                    );
                }
            }
        }
        let at120 = names(&visible_columns(120, true, true, true));
        assert!(at120.contains(&"WHERE"), "{at120:?}");
        // Nothing waits: the columns are not there, the others keep their room.
        let calm = names(&visible_columns(120, false, false, true));
        assert!(!calm.contains(&"WAITING ON") && !calm.contains(&"WHERE"));
        assert!(calm.contains(&"RSS"));
    }
}
