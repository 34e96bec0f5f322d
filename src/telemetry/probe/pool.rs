//! Pools and executors: progress, what each worker runs, the tasks that died
//! with their worker, and the diagnosis when a process waits for one.

use std::collections::HashMap;

use super::{Counts, Facts, ProbeReader, PyObj, PyTask, PyWait};
use crate::runtime::board::WaitOp;
use crate::telemetry::board_view::{PoolView, ProcRow, QueueView, ResourceView};
use crate::telemetry::labels::exit_label;
use crate::telemetry::waits::{Diagnosis, StuckKind, WaitFact, describe};

// A pool's counters: in the parent [tasks of the calls made, sent to the
// workers, results received]; in each worker [taken, the task it runs now
// (function name id << 32 | job + 1), its index, since].
const TOTAL: usize = 0;
const SENT: usize = 1;
const DONE: usize = 2;
const TAKEN: usize = 3;
const TASK: usize = 4;
const INDEX: usize = 5;
const SINCE: usize = 6;

impl ProbeReader {
    /// The pools: progress, what each worker runs, and the tasks that died
    /// with their worker.
    pub(super) fn pool_facts(
        &self,
        facts: &mut Facts,
        counts: &HashMap<i64, Vec<(i32, Counts)>>,
        waits: &[(i32, PyWait)],
        alive: &dyn Fn(i32) -> bool,
        names: &HashMap<i64, String>,
    ) {
        let mut ids: Vec<&i64> = self
            .objs
            .iter()
            .filter(|(_, o)| o.kind == "Pool" || o.kind == "ProcessPoolExecutor")
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        let none = Vec::new();
        for id in ids {
            let o = &self.objs[id];
            let name = names[id].clone();
            let per = counts.get(id).unwrap_or(&none);
            let sum = |k: usize| per.iter().map(|(_, c)| c.0[k].max(0) as u64).sum::<u64>();
            let (sent, done, taken) = (sum(SENT), sum(DONE), sum(TAKEN));
            let total = sum(TOTAL).max(sent);
            let busy = self.worker_tasks(facts, o, &name, per, alive);
            if done >= total {
                // Every result came back: nothing was lost, whatever a
                // worker killed at the end (`terminate`) had noted.
                facts.lost.retain(|t| t.pool != name);
            }
            let lost = facts.lost.iter().filter(|t| t.pool == name).count() as u64;
            let returned = taken.saturating_sub(busy + lost);
            let left = total.saturating_sub(done);
            for (pid, w) in waits {
                if w.obj == *id && w.op == WaitOp::PoolResult as i64 {
                    let call = match w.job >> 32 {
                        1 => "apply_async(…).get()",
                        2 => "map",
                        3 => "imap",
                        _ => "future.result()",
                    };
                    facts
                        .result_waits
                        .push((*pid, (w.job & 0xFFFF_FFFF) - 1, call));
                    if let Some(row) = facts.waits.get_mut(pid)
                        && row.op == WaitOp::PoolResult
                    {
                        row.target = left as i64;
                    }
                }
            }
            facts.summary.push(serde_json::json!({
                "type": "resource",
                "kind": o.kind,
                "name": name,
                "created_at": o.at,
                "workers": o.workers,
                "tasks": total,
                "sent": sent,
                "done": done,
                "lost": lost,
            }));
            // The panel shows the newest pool.
            let newest = self
                .objs
                .values()
                .filter(|x| x.kind == "Pool" || x.kind == "ProcessPoolExecutor")
                .map(|x| x.seq)
                .max();
            if newest == Some(o.seq) {
                facts.pool = Some(PoolView {
                    name,
                    workers: u64::from(o.workers),
                    total,
                    done,
                    tasks: QueueView {
                        depth: sent.saturating_sub(taken) as usize,
                        capacity: 0,
                        puts: sent,
                        gets: taken,
                    },
                    results: QueueView {
                        depth: returned.saturating_sub(done) as usize,
                        capacity: 0,
                        puts: returned,
                        gets: done,
                    },
                    lost,
                    retried: 0,
                    replaced: 0,
                    failed: 0,
                });
            }
        }
    }

    /// What each worker of one pool runs now and has finished, and the
    /// tasks held by workers that are dead; returns how many run now.
    fn worker_tasks(
        &self,
        facts: &mut Facts,
        o: &PyObj,
        name: &str,
        per: &[(i32, Counts)],
        alive: &dyn Fn(i32) -> bool,
    ) -> u64 {
        let mut busy = 0;
        for (pid, c) in per.iter().filter(|(_, c)| c.0[TAKEN] > 0) {
            let task = c.0[TASK];
            let running = (task != 0).then(|| PyTask {
                // (An executor breaks when a worker dies: nothing is
                // lost silently there.)
                silent: o.kind == "Pool",
                pool: name.to_string(),
                pid: *pid,
                job: (task & 0xFFFF_FFFF) - 1,
                index: c.0[INDEX],
                func: self
                    .locs
                    .get(&(*pid, task >> 32))
                    .cloned()
                    .unwrap_or_else(|| "?".into()),
                since_ns: c.0[SINCE].max(0) as u64,
            });
            let finished = c.0[TAKEN].max(0) as u64 - u64::from(running.is_some());
            match running {
                Some(t) if !alive(*pid) => {
                    facts.lost.push(t);
                    facts.workers.insert(*pid, (None, finished));
                }
                Some(t) => {
                    busy += 1;
                    facts
                        .workers
                        .insert(*pid, (Some(t.index.max(0) as u64), finished));
                }
                None => {
                    facts.workers.insert(*pid, (None, finished));
                }
            }
        }
        busy
    }
}

/// A pool task that died with its worker while a process waits for its
/// result: CPython's Pool starts a new worker but never runs the task again,
/// so the wait never ends (python/cpython#96062). Certain at once.
pub fn lost_task(
    procs: &[ProcRow],
    facts: &Facts,
    resources: &[ResourceView],
) -> Option<Diagnosis> {
    let (waiter, task, call) = facts.result_waits.iter().find_map(|(pid, job, call)| {
        let t = facts.lost.iter().find(|t| t.silent && t.job == *job)?;
        let w = procs.iter().find(|p| p.pid == *pid && p.alive())?;
        Some((w, t, call))
    })?;
    let worker = procs.iter().rev().find(|p| p.pid == task.pid);
    let worker_name = worker.map_or_else(|| format!("pid {}", task.pid), |p| p.name.clone());
    let how = match worker
        .and_then(|p| p.exitcode)
        .or(facts.exits.get(&task.pid).copied())
    {
        Some(c) if c < 0 => format!("died ({})", exit_label(Some(c))),
        Some(c) => format!("exited {c}"),
        None => "died".to_string(),
    };
    let wait = waiter.wait.as_ref()?;
    let waits = describe(wait, procs, resources);
    let at = wait
        .at
        .as_deref()
        .map_or(String::new(), |a| format!(" at {a}"));
    let summary = format!(
        "Stuck: pool worker {worker_name} {how} while running task {} ({}) of {}'s {call}; \
         CPython's Pool starts a new worker but never runs that task again, so {}'s {call}{at} \
         waits forever.",
        task.index, task.func, task.pool, waiter.name
    );
    let chain = vec![
        format!(
            "{worker_name} (pid {}) took task {} of job {} ({}) and {how} before returning its result",
            task.pid, task.index, task.job, task.func
        ),
        format!(
            "{} → {waits} → the task is lost: nobody will run it again (python/cpython#96062)",
            waiter.name
        ),
        "concurrent.futures.ProcessPoolExecutor raises BrokenProcessPool instead; \
         or give get() a timeout"
            .to_string(),
    ];
    Some(Diagnosis {
        kind: StuckKind::LostTask,
        summary,
        waits: vec![WaitFact {
            name: waiter.name.clone(),
            pid: waiter.pid,
            op: wait.op.verb().to_string(),
            resource: wait.resource.clone(),
            since_s: (wait.since_s * 10.0).round() / 10.0,
            holder: Some(worker_name),
        }],
        cycle: Vec::new(),
        chain,
        culprits: vec![waiter.pid, task.pid],
    })
}
