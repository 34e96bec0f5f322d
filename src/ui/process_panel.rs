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

/// How the process table is ordered and cut down: sort key for siblings,
/// collapsed subtrees, and a filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeView {
    pub sort: SortKey,
    /// Pids whose children are hidden.
    pub collapsed: std::collections::HashSet<i32>,
    /// Case-insensitive text matched against name and pid; matching rows are
    /// shown with their ancestors.
    pub filter: String,
}

/// How siblings are ordered in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// In the order they were started.
    #[default]
    Start,
    Cpu,
    Rss,
    Pid,
    Name,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Start => SortKey::Cpu,
            SortKey::Cpu => SortKey::Rss,
            SortKey::Rss => SortKey::Pid,
            SortKey::Pid => SortKey::Name,
            SortKey::Name => SortKey::Start,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Start => "start order",
            SortKey::Cpu => "CPU",
            SortKey::Rss => "RSS",
            SortKey::Pid => "PID",
            SortKey::Name => "name",
        }
    }
}

/// One row of the tree: its drawn prefix (`├─ `, `└─ `), the process, and
/// how many descendants a collapse hides under it.
pub struct TreeRow<'a> {
    pub branch: String,
    pub proc: &'a ProcRow,
    pub hidden: usize,
}

/// Rows in tree order (children under their logical parent), as `view` says.
pub fn tree_order<'a>(
    procs: &'a [ProcRow],
    live: &std::collections::HashMap<i32, Live>,
    view: &TreeView,
) -> Vec<TreeRow<'a>> {
    let n = procs.len();
    // Children by parent pid, in board order: one pass, not one per row.
    let mut children: std::collections::HashMap<i32, Vec<usize>> = Default::default();
    for (j, q) in procs.iter().enumerate() {
        children.entry(q.logical_ppid).or_default().push(j);
    }
    let index_of: std::collections::HashMap<i32, usize> = procs
        .iter()
        .enumerate()
        .filter(|(_, q)| q.pid > 0)
        .map(|(i, q)| (q.pid, i))
        .collect();
    let kids_of = |i: usize| -> Vec<usize> {
        let p = &procs[i];
        if p.pid <= 0 {
            return Vec::new();
        }
        let mut k: Vec<usize> = children.get(&p.pid).map_or_else(Vec::new, |c| {
            c.iter().copied().filter(|&j| j != i).collect()
        });
        let cpu = |j: usize| live.get(&procs[j].pid).map_or(-1.0, |l| l.cpu_pct);
        let rss = |j: usize| live.get(&procs[j].pid).map_or(0, |l| l.rss_bytes);
        match view.sort {
            SortKey::Start => {}
            SortKey::Cpu => k.sort_by(|&a, &b| cpu(b).total_cmp(&cpu(a))),
            SortKey::Rss => k.sort_by_key(|&j| std::cmp::Reverse(rss(j))),
            SortKey::Pid => k.sort_by_key(|&j| procs[j].pid),
            SortKey::Name => k.sort_by(|&a, &b| procs[a].name.cmp(&procs[b].name)),
        }
        k
    };
    // With a filter: the matching rows and their ancestors.
    let keep: Vec<bool> = if view.filter.is_empty() {
        vec![true; n]
    } else {
        let f = view.filter.to_lowercase();
        let mut keep = vec![false; n];
        for i in 0..n {
            let p = &procs[i];
            if p.name.to_lowercase().contains(&f) || p.pid.to_string().contains(&f) {
                let mut j = i;
                for _ in 0..n {
                    keep[j] = true;
                    match procs
                        .iter()
                        .position(|q| q.pid == procs[j].logical_ppid && q.pid > 0)
                    {
                        Some(up) if !keep[up] => j = up,
                        _ => break,
                    }
                }
            }
        }
        keep
    };
    struct Walk<'a, 'b, F: Fn(usize) -> Vec<usize>> {
        procs: &'a [ProcRow],
        kids_of: F,
        keep: &'b [bool],
        view: &'b TreeView,
        seen: Vec<bool>,
        out: Vec<TreeRow<'a>>,
    }
    impl<'a, F: Fn(usize) -> Vec<usize>> Walk<'a, '_, F> {
        fn count(&mut self, i: usize) -> usize {
            let mut c = 0;
            for j in (self.kids_of)(i) {
                if self.keep[j] && !std::mem::replace(&mut self.seen[j], true) {
                    c += 1 + self.count(j);
                }
            }
            c
        }
        fn walk(&mut self, i: usize, prefix: &str, last: bool, root: bool) {
            if std::mem::replace(&mut self.seen[i], true) {
                return;
            }
            let p = &self.procs[i];
            let branch = match (root, last) {
                (true, _) => String::new(),
                (false, true) => format!("{prefix}└─ "),
                (false, false) => format!("{prefix}├─ "),
            };
            let at = self.out.len();
            self.out.push(TreeRow {
                branch,
                proc: p,
                hidden: 0,
            });
            if self.view.collapsed.contains(&p.pid) {
                self.out[at].hidden = self.count(i);
                return;
            }
            let kids: Vec<usize> = (self.kids_of)(i)
                .into_iter()
                .filter(|&j| self.keep[j])
                .collect();
            let next = match (root, last) {
                (true, _) => String::new(),
                (false, true) => format!("{prefix}   "),
                (false, false) => format!("{prefix}│  "),
            };
            for (k, &j) in kids.iter().enumerate() {
                self.walk(j, &next, k + 1 == kids.len(), false);
            }
        }
    }
    let mut w = Walk {
        procs,
        kids_of,
        keep: &keep,
        view,
        seen: vec![false; n],
        out: Vec::new(),
    };
    for i in 0..n {
        let p = &procs[i];
        let root = !index_of.contains_key(&p.logical_ppid) || p.pid <= 0 && p.logical_ppid <= 0;
        if root && keep[i] {
            w.walk(i, "", true, true);
        }
    }
    // Anything unreachable (a cycle from a corrupt board) is still shown.
    for i in 0..n {
        if !w.seen[i] && keep[i] {
            w.out.push(TreeRow {
                branch: String::new(),
                proc: &procs[i],
                hidden: 0,
            });
        }
    }
    w.out
}

/// What each row of the table is, in drawing order: `Some(pid)` for a
/// process of the run, `None` for a thread row. Selection indexes this list.
pub fn row_kinds(snap: &crate::telemetry::sampler::Snapshot, view: &TreeView) -> Vec<Option<i32>> {
    let mut out = Vec::new();
    for r in tree_order(&snap.procs, &snap.live, view) {
        out.push(Some(r.proc.pid));
        if r.proc.alive() {
            let n = snap.threads.get(&r.proc.pid).map_or(0, Vec::len);
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
            // Reaped by its own parent (a watched program): no status for us.
            None => ("ended".into(), Color::DarkGray),
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
    // Only the rows in view are built (500 processes, 40 lines): the table
    // scrolls so the selection stays visible, as ratatui's would.
    let visible = area.height.saturating_sub(3) as usize;
    let offset = (app.selected + 1).saturating_sub(visible.max(1));
    let in_view = |i: usize| i >= offset && i < offset + visible;
    let mut at = 0;
    for TreeRow {
        branch,
        proc: p,
        hidden,
    } in tree_order(&snap.procs, &snap.live, &app.tree)
    {
        let threads = if p.alive() {
            snap.threads.get(&p.pid).map_or(&[][..], Vec::as_slice)
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
                    Cell::from(name),
                    Cell::from(match (p.role, p.method) {
                        (Some(crate::runtime::board::Role::Foreign), _) | (_, None) => "-",
                        (_, Some(m)) => m.name(),
                    }),
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
        }
        // Threads of a multi-threaded process, each with its own CPU.
        for (k, t) in threads.iter().enumerate() {
            if in_view(first + 1 + k) {
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
    let mut title = vec![
        " Processes ".bold(),
        format!("({}) ", snap.procs.len()).into(),
    ];
    if app.tree.sort != SortKey::Start {
        title.push(format!("sorted by {} ", app.tree.sort.label()).cyan());
    }
    if !app.tree.filter.is_empty() || app.editing_filter {
        let cursor = if app.editing_filter { "▏" } else { "" };
        title.push(
            format!("filter /{}{cursor} ", app.tree.filter)
                .yellow()
                .bold(),
        );
    }
    title.push("CPU% = percent of one core · START = request → first instruction ".dark_gray());
    let title = Line::from(title);
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
    let mut state = TableState::default().with_selected(Some(app.selected - offset));
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
        assert_eq!(
            names(&procs, &TreeView::default()),
            ["main", "├─ w1", "├─ fs", "└─ w2"]
        );
    }

    fn names(procs: &[ProcRow], view: &TreeView) -> Vec<String> {
        tree_order(procs, &Default::default(), view)
            .into_iter()
            .map(|r| {
                let more = if r.hidden > 0 {
                    format!(" [+{}]", r.hidden)
                } else {
                    String::new()
                };
                format!("{}{}{more}", r.branch, r.proc.name)
            })
            .collect()
    }

    #[test]
    fn sort_collapse_and_filter() {
        let procs = vec![
            row(10, 1, "main"),
            row(13, 10, "b worker"),
            row(11, 10, "a worker"),
            row(12, 11, "grandchild"),
        ];
        let mut view = TreeView {
            sort: SortKey::Name,
            ..Default::default()
        };
        assert_eq!(
            names(&procs, &view),
            ["main", "├─ a worker", "│  └─ grandchild", "└─ b worker"]
        );
        view.sort = SortKey::Pid;
        view.collapsed.insert(11);
        assert_eq!(
            names(&procs, &view),
            ["main", "├─ a worker [+1]", "└─ b worker"]
        );
        view.collapsed.insert(10);
        assert_eq!(names(&procs, &view), ["main [+3]"]);
        let view = TreeView {
            filter: "GRAND".into(),
            ..Default::default()
        };
        assert_eq!(
            names(&procs, &view),
            ["main", "└─ a worker", "   └─ grandchild"],
            "ancestors stay"
        );
        let view = TreeView {
            filter: "13".into(),
            ..Default::default()
        };
        assert_eq!(names(&procs, &view), ["main", "└─ b worker"], "by pid too");
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
        assert_eq!(names(&procs, &TreeView::default()).len(), 2);
        let dupes = vec![row(5, 1, "root"), row(6, 5, "b"), row(5, 6, "again")];
        assert_eq!(names(&dupes, &TreeView::default()).len(), 3);
    }
}
