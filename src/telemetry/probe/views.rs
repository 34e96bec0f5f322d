//! What each kind of object the probe registered looks like: the same
//! resource views as a scenario's, and a `--json` `resource` line each.

use std::collections::HashMap;

use super::{Counts, Facts, ProbeReader, PyObj, PyWait, UNBOUNDED};
use crate::runtime::board::{ResKind, WaitOp};
use crate::telemetry::board_view::{ResourceView, WaitRow};

impl ProbeReader {
    pub(super) fn facts(
        &self,
        counts: &HashMap<i64, Vec<(i32, Counts)>>,
        waits: &[(i32, PyWait)],
        now_ns: u64,
        names: &HashMap<i64, String>,
    ) -> Facts {
        let mut facts = Facts {
            procs: self.procs.clone(),
            ..Default::default()
        };
        let mut ids: Vec<&i64> = self.objs.keys().collect();
        ids.sort();
        for id in ids {
            let o = &self.objs[id];
            let name = names[id].clone();
            let Some((view, extra)) = self.object_view(*id, o, &name, counts, waits, names) else {
                continue;
            };
            let mut line = serde_json::json!({
                "type": "resource",
                "kind": o.kind,
                "name": name,
                "created_at": o.at,
            });
            if let (Some(l), serde_json::Value::Object(e)) = (line.as_object_mut(), extra) {
                l.extend(e);
            }
            facts.summary.push(line);
            facts.resources.extend(view);
        }
        for (pid, w) in waits {
            let Some(op) = u32::try_from(w.op).ok().and_then(WaitOp::from_u32) else {
                continue;
            };
            let kind = self.objs.get(&w.obj).and_then(|o| match o.kind.as_str() {
                "Queue" | "SimpleQueue" => Some(ResKind::Queue),
                "JoinableQueue" => Some(ResKind::JoinableQueue),
                "Lock" => Some(ResKind::Lock),
                "RLock" => Some(ResKind::RLock),
                "Semaphore" => Some(ResKind::Semaphore),
                "BoundedSemaphore" => Some(ResKind::BoundedSemaphore),
                "Event" => Some(ResKind::Event),
                "Barrier" => Some(ResKind::Barrier),
                "Pool" => Some(ResKind::Pool),
                "Pipe" => Some(ResKind::Pipe),
                "Condition" => Some(ResKind::Condition),
                "ManagerObject" => Some(match o.more.typeid.as_deref() {
                    Some("Lock") => ResKind::Lock,
                    Some("RLock") => ResKind::RLock,
                    _ => ResKind::Manager,
                }),
                _ => None,
            });
            let row = WaitRow {
                escape: None,
                op,
                resource: names.get(&w.obj).cloned(),
                kind,
                target: w.target,
                since_s: now_ns.saturating_sub(w.since_ns.max(0) as u64) as f64 / 1e9,
                deadline: w.deadline,
                at: self.locs.get(&(*pid, w.loc)).cloned(),
            };
            let older = facts
                .waits
                .get(pid)
                .is_some_and(|o: &WaitRow| o.since_s >= row.since_s);
            if !older {
                facts.waits.insert(*pid, row);
            }
        }
        facts
    }

    /// A Lock's or a Semaphore's view: the holder and where it took it,
    /// from the process that holds it; a semaphore's value is its value
    /// when made, minus every acquisition, plus every release.
    fn lock_view(
        &self,
        o: &PyObj,
        kind: &str,
        name: &str,
        per: &[(i32, Counts)],
        waiters: u32,
    ) -> (ResourceView, serde_json::Value) {
        // c: [acquisitions, -, -, -, contended, -, releases]. The holder is
        // the process whose acquisitions outnumber its releases; how long it
        // has held the lock is timed by the observer, from the samples (the
        // probe keeps its hot path to one count each way).
        let holder = per.iter().find(|(_, c)| c.0[0] > c.0[6].max(0));
        let held_ms = None;
        let acquisitions = per.iter().map(|(_, c)| c.0[0].max(0) as u64).sum::<u64>();
        let releases = per.iter().map(|(_, c)| c.0[6].max(0)).sum::<i64>();
        let contended = per.iter().map(|(_, c)| c.0[4].max(0) as u64).sum::<u64>();
        let view = if kind.ends_with("Lock") {
            ResourceView::Lock {
                name: name.to_string(),
                recursive: kind == "RLock",
                holder_pid: holder.map_or(0, |(p, _)| *p),
                holder_tid: 0,
                held_ms,
                waiters,
                acquisitions,
                contended,
                owner_died: 0,
                last_dead_owner: 0,
            }
        } else {
            ResourceView::Semaphore {
                name: name.to_string(),
                bounded: kind == "BoundedSemaphore",
                value: (o.more.value - acquisitions as i64 + releases).max(0) as u32,
                bound: o.more.bound.max(0) as u32,
                waiters,
                acquisitions,
            }
        };
        let mut extra = serde_json::json!({
            "acquisitions": acquisitions,
            "contended": contended,
            "waiters": waiters,
            "held_by": holder.map(|(p, _)| *p),
        });
        if let ResourceView::Semaphore { value, bound, .. } = &view {
            extra["value"] = serde_json::json!(value);
            if kind == "BoundedSemaphore" {
                extra["bound"] = serde_json::json!(bound);
            }
        }
        (view, extra)
    }

    /// One object's view (none for a Condition, which has no panel line)
    /// and the fields of its `resource` line; `None` for what is not shown.
    #[allow(clippy::too_many_arguments)]
    fn object_view(
        &self,
        id: i64,
        o: &PyObj,
        name: &str,
        counts: &HashMap<i64, Vec<(i32, Counts)>>,
        waits: &[(i32, PyWait)],
        names: &HashMap<i64, String>,
    ) -> Option<(Option<ResourceView>, serde_json::Value)> {
        let none = Vec::new();
        let per = counts.get(&id).unwrap_or(&none);
        let name = name.to_string();
        let sum = |k: usize| per.iter().map(|(_, c)| c.0[k].max(0) as u64).sum::<u64>();
        let waiting = |op: WaitOp| {
            waits
                .iter()
                .filter(|(_, w)| w.obj == id && w.op == op as i64)
                .count() as u32
        };
        if o.kind == "Condition" {
            let extra = serde_json::json!({
                "notifies": sum(0),
                "waiters": waiting(WaitOp::ConditionWait),
            });
            return Some((None, extra));
        }
        let (view, extra) = match o.kind.as_str() {
            "Queue" | "JoinableQueue" | "SimpleQueue" => {
                let (puts, gets) = (sum(0), sum(1));
                // Unbounded (CPython's SEM_VALUE_MAX) is null, not a number.
                let maxsize = (o.maxsize > 0 && o.maxsize < UNBOUNDED).then_some(o.maxsize);
                (
                    ResourceView::Queue {
                        name: name.clone(),
                        joinable: o.kind == "JoinableQueue",
                        depth: puts.saturating_sub(gets).min(maxsize.unwrap_or(u64::MAX)) as usize,
                        capacity: if o.maxsize >= UNBOUNDED {
                            0
                        } else {
                            o.maxsize as usize
                        },
                        puts,
                        gets,
                        lost_put: 0,
                        lost_get: 0,
                        waiting_getters: waiting(WaitOp::Get),
                        waiting_putters: waiting(WaitOp::Put),
                    },
                    if o.kind == "JoinableQueue" {
                        serde_json::json!({"puts": puts, "gets": gets, "task_done": sum(2), "maxsize": maxsize})
                    } else {
                        serde_json::json!({"puts": puts, "gets": gets, "maxsize": maxsize})
                    },
                )
            }
            "Lock" | "RLock" | "Semaphore" | "BoundedSemaphore" => {
                self.lock_view(o, &o.kind, &name, per, waiting(WaitOp::Acquire))
            }
            // A Manager's Lock or RLock: its calls in word 1, then the
            // acquisitions that returned True and the releases, per process
            // (the probe's managers.py), read as a lock's.
            "ManagerObject" if matches!(o.more.typeid.as_deref(), Some("Lock" | "RLock")) => {
                let held: Vec<(i32, Counts)> = per
                    .iter()
                    .map(|(p, c)| {
                        let mut h = Counts::default();
                        h.0[0] = c.0[1];
                        h.0[6] = c.0[2];
                        (*p, h)
                    })
                    .collect();
                let kind = o.more.typeid.as_deref().unwrap_or("Lock");
                let (view, mut extra) =
                    self.lock_view(o, kind, &name, &held, waiting(WaitOp::Acquire));
                extra["typeid"] = serde_json::json!(kind);
                extra["calls"] = serde_json::json!(sum(0));
                (view, extra)
            }
            "Pipe" => {
                let (msgs, bytes) = ([sum(0), sum(2)], [sum(1), sum(3)]);
                (
                    ResourceView::Pipe {
                        name: name.clone(),
                        duplex: o.more.duplex,
                        msgs,
                        bytes,
                    },
                    serde_json::json!({"sent": msgs, "bytes": bytes, "duplex": o.more.duplex}),
                )
            }
            "Value" | "Array" => {
                let values = self.values.get(&id).cloned().unwrap_or_default();
                let code = o.more.typecode.as_deref().and_then(|c| c.chars().next());
                (
                    ResourceView::Value {
                        name: name.clone(),
                        typecode: code.unwrap_or('?'),
                        values: values.clone(),
                        len: o.more.len,
                        lock: o.more.lock,
                        is_array: o.kind == "Array",
                    },
                    serde_json::json!({"typecode": code, "len": o.more.len, "values": values}),
                )
            }
            "Manager" => {
                let (view, extra) = self.manager_view(id, &name, o, counts, names);
                (view, extra)
            }
            "Event" => {
                // Set, unless a clear came after the last set.
                let last = |k: usize| per.iter().map(|(_, c)| c.0[k]).max().unwrap_or(0);
                let set = last(1) > 0 && last(1) > last(2);
                (
                    ResourceView::Event {
                        name: name.clone(),
                        set,
                        waiters: waiting(WaitOp::EventWait),
                    },
                    serde_json::json!({"sets": sum(0), "set": set}),
                )
            }
            "Barrier" => {
                let waiters = waiting(WaitOp::BarrierWait);
                (
                    ResourceView::Barrier {
                        name: name.clone(),
                        parties: o.parties,
                        arrived: waiters,
                        broken: false,
                        waiters,
                        passes: sum(0) / u64::from(o.parties.max(1)),
                    },
                    serde_json::json!({"parties": o.parties, "waits": sum(0)}),
                )
            }
            _ => return None,
        };
        Some((Some(view), extra))
    }
}

/// A Value's or an Array's first elements, read from the memory of the
/// process that made it (`process_vm_readv`; the same shared pages every
/// process of the run sees). Empty when that process is gone.
pub(super) fn read_values(o: &PyObj) -> Vec<String> {
    use nix::sys::uio::{RemoteIoVec, process_vm_readv};
    let Some(code) = o.more.typecode.as_deref() else {
        return Vec::new();
    };
    let n = o.more.len.clamp(1, 12);
    let each = o.more.size / o.more.len.max(1);
    if !(1..=8).contains(&each) || o.more.addr == 0 {
        return Vec::new();
    }
    let mut buf = vec![0u8; each * n];
    let remote = [RemoteIoVec {
        base: o.more.addr as usize,
        len: buf.len(),
    }];
    let pid = nix::unistd::Pid::from_raw(o.owner);
    match process_vm_readv(pid, &mut [std::io::IoSliceMut::new(&mut buf)], &remote) {
        Ok(got) if got == buf.len() => {}
        _ => return Vec::new(),
    }
    buf.chunks(each).map(|b| element(code, b)).collect()
}

/// One element in Python's `struct`/ctypes type codes, as Python prints it.
pub(super) fn element(code: &str, b: &[u8]) -> String {
    let int = |signed: bool| {
        let mut v = [0u8; 8];
        v[..b.len()].copy_from_slice(b);
        let u = u64::from_le_bytes(v);
        if signed {
            let shift = 64 - 8 * b.len() as u32;
            (((u << shift) as i64) >> shift).to_string()
        } else {
            u.to_string()
        }
    };
    match (code, b.len()) {
        ("d", 8) => format!("{:?}", f64::from_le_bytes(b.try_into().expect("8"))),
        ("f", 4) => format!("{:?}", f32::from_le_bytes(b.try_into().expect("4"))),
        ("?", 1) => if b[0] != 0 { "True" } else { "False" }.to_string(),
        ("c", 1) => format!("b{:?}", b[0] as char).replace('"', "'"),
        ("u", 4) => char::from_u32(u32::from_le_bytes(b.try_into().expect("4")))
            .map_or_else(|| "?".into(), |c| format!("{c:?}")),
        ("B" | "H" | "I" | "L" | "Q" | "P", _) => int(false),
        _ => int(true),
    }
}

impl ProbeReader {
    /// A Python manager: its server, the objects its proxies call, and
    /// the calls per method, from every process's counters.
    fn manager_view(
        &self,
        id: i64,
        name: &str,
        o: &PyObj,
        counts: &HashMap<i64, Vec<(i32, Counts)>>,
        names: &HashMap<i64, String>,
    ) -> (ResourceView, serde_json::Value) {
        use crate::telemetry::board_view::{ManagerMethodView, ManagerObjectView};
        let none = Vec::new();
        let mut clients = std::collections::HashSet::new();
        let mut objects = Vec::new();
        let mut methods = Vec::new();
        let mut ids: Vec<&i64> = self.objs.keys().collect();
        ids.sort();
        for oid in ids {
            let x = &self.objs[oid];
            if x.more.manager != id {
                continue;
            }
            let per = counts.get(oid).unwrap_or(&none);
            let sum = |k: usize| per.iter().map(|(_, c)| c.0[k].max(0) as u64).sum::<u64>();
            match x.kind.as_str() {
                "ManagerObject" => objects.push(ManagerObjectView {
                    name: names[oid].clone(),
                    kind: x.more.typeid.clone().unwrap_or_else(|| "?".into()),
                    len: None,
                    calls: sum(0),
                }),
                "ManagerMethod" if sum(0) > 0 => {
                    clients.extend(per.iter().filter(|(_, c)| c.0[0] > 0).map(|(p, _)| *p));
                    methods.push(ManagerMethodView {
                        method: x.name.clone(),
                        calls: sum(0),
                        total_ns: sum(1),
                    });
                }
                _ => {}
            }
        }
        let calls: u64 = methods.iter().map(|m| m.calls).sum();
        let extra = serde_json::json!({
            "server_pid": o.more.server,
            "calls": calls,
            "clients": clients.len(),
            "methods": methods.iter().map(|m| (m.method.clone(), m.calls)).collect::<HashMap<_, _>>(),
            "objects": objects.iter().map(|o| (o.name.clone(), serde_json::json!({"typeid": o.kind, "calls": o.calls}))).collect::<HashMap<_, _>>(),
        });
        (
            ResourceView::Manager {
                name: name.to_string(),
                server_pid: o.more.server,
                tcp_port: 0,
                clients: clients.len() as u32,
                refused: 0,
                objects,
                methods,
            },
            extra,
        )
    }
}
