//! The event log: what changed between two samples of a run, in words —
//! starts, exits with decoded signals, owner-died locks, lost messages,
//! replaced pool workers, broken barriers. Times are the sample's (observed).

use std::collections::VecDeque;
use std::time::Duration;

use crate::runtime::board::ProcState;
use crate::t;
use crate::telemetry::board_view::ResourceView;
use crate::telemetry::labels::{exit_label, ms_label};
use crate::telemetry::snapshot::Snapshot;

/// Events kept.
pub const LOG_EVENTS: usize = 1000;

#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    pub at: Duration,
    pub text: String,
    /// Something went wrong (a kill, a loss, a broken barrier).
    pub alarm: bool,
}

/// Appends to `log` what differs from `before` to `now` (same run).
pub fn diff(before: &Snapshot, now: &Snapshot, log: &mut VecDeque<LogEvent>) {
    let mut push = |text: String, alarm: bool| {
        if log.len() == LOG_EVENTS {
            log.pop_front();
        }
        log.push_back(LogEvent {
            at: now.elapsed,
            text,
            alarm,
        });
    };
    if let (None, Some(d)) = (&before.stuck, &now.stuck) {
        push(d.summary.clone(), true);
        for line in &d.chain {
            push(format!("  {line}"), true);
        }
    }
    for p in &now.procs {
        // Rows come in slot order: find the old one by binary search.
        let old = before
            .procs
            .binary_search_by_key(&p.slot, |o| o.slot)
            .ok()
            .map(|i| &before.procs[i]);
        let was_started = old.is_some_and(|o| o.start_us.is_some());
        if p.start_us.is_some() && !was_started {
            push(
                t!(
                    "log-started",
                    name = &p.name,
                    pid = p.pid.to_string(),
                    method = p.method.map_or("?", |m| m.name()),
                    latency = ms_label(p.start_us)
                ),
                false,
            );
        }
        let was_exited = old.is_some_and(|o| o.state == ProcState::Exited);
        if p.state == ProcState::Exited && !was_exited && p.pid > 0 {
            let killed = p.exitcode.is_some_and(|c| c < 0);
            let how = match p.exitcode {
                // Reaped by its own parent (a watched program): only that
                // parent saw its status.
                None => t!("log-ended-reaped"),
                Some(_) if killed => t!("log-killed-by", signal = exit_label(p.exitcode)),
                Some(_) => t!("log-exited", code = exit_label(p.exitcode)),
            };
            push(
                t!(
                    "log-exit",
                    name = &p.name,
                    pid = p.pid.to_string(),
                    how = how
                ),
                killed || p.exitcode.is_some_and(|c| c > 0),
            );
        }
    }
    for r in &now.resources {
        let old = before.resources.iter().find(|o| o.name() == r.name());
        match (r, old) {
            (
                ResourceView::Lock {
                    name,
                    owner_died,
                    last_dead_owner,
                    ..
                },
                Some(ResourceView::Lock {
                    owner_died: was, ..
                }),
            ) if owner_died > was => push(
                t!(
                    "log-owner-died",
                    name = name,
                    holder = last_dead_owner.to_string()
                ),
                true,
            ),
            (
                ResourceView::Queue {
                    name,
                    lost_put,
                    lost_get,
                    ..
                },
                Some(ResourceView::Queue {
                    lost_put: lp,
                    lost_get: lg,
                    ..
                }),
            ) if lost_put + lost_get > lp + lg => push(
                t!(
                    "log-lost",
                    name = name,
                    put = lost_put - lp,
                    get = lost_get - lg
                ),
                true,
            ),
            (
                ResourceView::Barrier {
                    name, broken: true, ..
                },
                Some(ResourceView::Barrier { broken: false, .. }),
            ) => push(t!("log-barrier-broken", name = name), true),
            _ => {}
        }
    }
    if let (Some(p), Some(o)) = (&now.pool, &before.pool)
        && p.replaced > o.replaced
    {
        push(
            t!(
                "log-pool-replaced",
                n = p.replaced - o.replaced,
                retried = p.retried
            ),
            true,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::board_view::ProcRow;

    fn row(slot: u32, state: ProcState, exit: Option<i32>) -> ProcRow {
        ProcRow {
            slot,
            pid: 100 + slot as i32,
            name: format!("w{slot}"),
            state,
            start_us: Some(120.0),
            exitcode: exit,
            ..Default::default()
        }
    }

    #[test]
    fn starts_and_exits_with_signals_are_logged_once() {
        let empty = Snapshot::default();
        let a = Snapshot {
            procs: vec![row(1, ProcState::Running, None)],
            ..Default::default()
        };
        let mut log = VecDeque::new();
        diff(&empty, &a, &mut log);
        assert_eq!(log.len(), 1);
        assert!(log[0].text.starts_with("w1 started (pid 101"));
        diff(&a, &a, &mut log);
        assert_eq!(log.len(), 1, "nothing changed, nothing logged");
        let mut b = a.clone();
        b.procs = vec![row(1, ProcState::Exited, Some(-9))];
        diff(&a, &b, &mut log);
        assert_eq!(log[1].text, "w1 (pid 101) killed by SIGKILL");
        assert!(log[1].alarm);
    }

    #[test]
    fn owner_died_and_lost_messages_are_alarms() {
        let lock = |died| ResourceView::Lock {
            name: "l".into(),
            recursive: false,
            holder_pid: 0,
            holder_tid: 0,
            held_ms: None,
            waiters: 0,
            acquisitions: 1,
            contended: 0,
            owner_died: died,
            last_dead_owner: 7,
        };
        let a = Snapshot {
            resources: vec![lock(0)],
            ..Default::default()
        };
        let b = Snapshot {
            resources: vec![lock(1)],
            ..Default::default()
        };
        let mut log = VecDeque::new();
        diff(&a, &b, &mut log);
        assert_eq!(
            log[0].text,
            "l: holder 7 died holding it; the next acquirer got it"
        );
        assert!(log[0].alarm);
    }
}
