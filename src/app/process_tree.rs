//! The process tree as the table shows it: siblings sorted, subtrees
//! collapsed, a filter, and what each drawn row is (a process or a thread).

use crate::telemetry::board_view::ProcRow;
use crate::telemetry::snapshot::Live;

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
    /// Siblings in the reverse of `sort`'s order.
    pub reverse: bool,
    /// Processes that ended are left out (with their subtrees, unless a
    /// live process is under them).
    pub hide_ended: bool,
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

    /// The key on screen, in the user's language.
    pub fn shown(self) -> String {
        match self {
            SortKey::Start => crate::t!("sort-start"),
            SortKey::Name => crate::t!("sort-name"),
            other => other.label().to_string(),
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
        if view.reverse {
            k.reverse();
        }
        k
    };
    let keep = filter_keep(procs, &view.filter, view.hide_ended);
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

/// With a filter: which rows to keep (the matching rows and their ancestors).
fn filter_keep(procs: &[ProcRow], filter: &str, hide_ended: bool) -> Vec<bool> {
    let n = procs.len();
    if filter.is_empty() && !hide_ended {
        vec![true; n]
    } else {
        let f = filter.to_lowercase();
        let mut keep = vec![false; n];
        for i in 0..n {
            let p = &procs[i];
            let matches = f.is_empty()
                || p.name.to_lowercase().contains(&f)
                || p.pid.to_string().contains(&f);
            if matches && (!hide_ended || p.alive()) {
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
    }
}

/// A depth-first walk of the tree that draws the branches and folds
/// collapsed subtrees.
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

/// What each row of the table is, in drawing order: `Some(pid)` for a
/// process of the run, `None` for a thread row. Selection indexes this list.
pub fn row_kinds(
    snap: &crate::telemetry::snapshot::Snapshot,
    view: &TreeView,
    threads: bool,
) -> Vec<Option<i32>> {
    let mut out = Vec::new();
    for r in tree_order(&snap.procs, &snap.live, view) {
        out.push(Some(r.proc.pid));
        if threads && r.proc.alive() {
            let n = snap.threads.get(&r.proc.pid).map_or(0, Vec::len);
            out.extend(std::iter::repeat_n(None, n));
        }
    }
    out
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
    fn a_cycle_does_not_hang_or_hide_rows() {
        let procs = vec![row(5, 6, "a"), row(6, 5, "b")];
        assert_eq!(names(&procs, &TreeView::default()).len(), 2);
        let dupes = vec![row(5, 1, "root"), row(6, 5, "b"), row(5, 6, "again")];
        assert_eq!(names(&dupes, &TreeView::default()).len(), 3);
    }
}
