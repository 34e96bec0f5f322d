//! What a process of a run can reach by name: the board's primitives (queues,
//! locks, values…) and the pipe ends handed to it, and how each resource step
//! of the built-in work uses them.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use super::{Work, say};
use crate::runtime::board::{Board, FoundRes, ResKind};
use crate::runtime::manager::{ManagerClient, Method};
use crate::runtime::pipe::Connection;
use crate::runtime::pyvalue::PyValue;
use crate::runtime::queue::Queue;
use crate::runtime::shared_value::{Num, SharedArray};
use crate::runtime::sync::{Acquired, Barrier, Event, Lock, Semaphore};

/// A process's view of the run's resources.
pub struct Env {
    pub board: Board,
    /// `__main__` in the main process and forked children; `__mp_main__` in
    /// children that re-imported the program (spawn, forkserver), as CPython prints.
    pub module_name: &'static str,
    /// Index within its process group, for `{i}` in printed text.
    pub index: u32,
    fds: HashMap<String, OwnedFd>,
    conns: HashMap<String, Connection>,
    keep: Vec<Vec<u8>>,
    /// Barrier waits still ahead, per barrier.
    barrier_waits: HashMap<String, usize>,
    /// This process's connection to the run's manager, made on first use.
    manager: Option<ManagerClient>,
    /// Manager object ids by name.
    proxies: HashMap<String, u32>,
}

impl Env {
    pub fn new(board: Board, module_name: &'static str, index: u32) -> Env {
        Env {
            board,
            module_name,
            index,
            fds: HashMap::new(),
            conns: HashMap::new(),
            keep: Vec::new(),
            barrier_waits: HashMap::new(),
            manager: None,
            proxies: HashMap::new(),
        }
    }

    /// Declares this process a party of every barrier its steps wait on, so
    /// if it dies before arriving the others are told instead of waiting forever.
    pub fn prepare(&mut self, steps: &[Work]) {
        for s in steps {
            if let Work::BarrierWait(name) = s {
                *self.barrier_waits.entry(name.clone()).or_default() += 1;
                if let Ok(FoundRes { offset: at, .. }) = self.find(name, &[ResKind::Barrier])
                    && let Ok(b) = Barrier::attach(&self.board, at)
                {
                    b.register();
                }
            }
        }
    }

    /// Hands this process a pipe end (inherited or received) by pipe name.
    pub fn add_fd(&mut self, name: String, fd: OwnedFd) {
        self.fds.insert(name, fd);
    }

    /// Calls `method` on the manager object `name`.
    pub fn proxy_call(
        &mut self,
        name: &str,
        method: Method,
        args: Vec<PyValue>,
    ) -> Result<PyValue, String> {
        if self.manager.is_none() {
            let c = ManagerClient::on_board(&self.board, "manager").map_err(|e| e.to_string())?;
            self.manager = Some(c);
        }
        let client = self.manager.as_mut().expect("connected above");
        let id = match self.proxies.get(name) {
            Some(&id) => id,
            None => {
                let (id, _) = client.lookup(name).map_err(|e| e.to_string())?;
                self.proxies.insert(name.to_string(), id);
                id
            }
        };
        client
            .call(id, method, args, None)
            .map_err(|e| e.to_string())
    }

    /// Takes an fd handed to this process under `name`.
    pub fn take_fd(&mut self, name: &str) -> Option<OwnedFd> {
        self.fds.remove(name)
    }

    /// Hands this process a ready connection (the main process's own ends).
    pub fn add_conn(&mut self, name: String, c: Connection) {
        self.conns.insert(name, c);
    }

    /// `{i}` in a printed text becomes this process's index.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{i}", &self.index.to_string())
    }

    pub fn alloc_mib(&mut self, mib: u64) {
        let bytes = (mib as usize).saturating_mul(1 << 20);
        let mut v = vec![0u8; bytes];
        for p in v.iter_mut().step_by(4096) {
            *p = 1;
        }
        self.keep.push(v);
    }

    fn find(&self, name: &str, want: &[ResKind]) -> Result<FoundRes, String> {
        match self.board.find_res(name) {
            Some(r) if want.contains(&r.kind) => Ok(r),
            Some(r) => Err(format!("{name:?} is a {:?}, not a {:?}", r.kind, want[0])),
            None => Err(format!("no resource named {name:?}")),
        }
    }

    fn queue(&self, name: &str) -> Result<Queue, String> {
        let at = self
            .find(name, &[ResKind::Queue, ResKind::JoinableQueue])?
            .offset;
        Queue::attach(&self.board, at).map_err(|e| e.to_string())
    }

    fn array(&self, name: &str) -> Result<SharedArray, String> {
        let at = self.find(name, &[ResKind::Value, ResKind::Array])?.offset;
        SharedArray::attach(&self.board, at).map_err(|e| e.to_string())
    }

    fn conn(&mut self, name: &str) -> Result<&mut Connection, String> {
        if !self.conns.contains_key(name) {
            let FoundRes {
                slot: res,
                len: duplex,
                ..
            } = self.find(name, &[ResKind::Pipe])?;
            let fd = self
                .fds
                .remove(name)
                .ok_or_else(|| format!("pipe {name:?} was not handed to this process"))?;
            // The children's end: both ways if duplex, else the writing end.
            let c = Connection::from_fd(fd, duplex == 1, true).with_stats(&self.board, res, true);
            self.conns.insert(name.to_string(), c);
        }
        self.conns
            .get_mut(name)
            .ok_or_else(|| format!("no pipe {name:?}"))
    }

    /// The lock or semaphore named `name`, for acquire and release.
    fn lock_like(&self, name: &str) -> Result<LockLike, String> {
        use ResKind::*;
        let FoundRes {
            kind, offset: at, ..
        } = self.find(name, &[Lock, RLock, Semaphore, BoundedSemaphore])?;
        match kind {
            Lock | RLock => crate::runtime::sync::Lock::attach(&self.board, at).map(LockLike::Lock),
            _ => crate::runtime::sync::Semaphore::attach(&self.board, at).map(LockLike::Semaphore),
        }
        .map_err(|x| x.to_string())
    }

    /// Runs one step that uses a resource.
    pub fn run_resource_step(&mut self, step: &Work) -> Result<(), String> {
        use Work::*;
        match step {
            Put { .. }
            | Get { .. }
            | PutMany { .. }
            | GetMany { .. }
            | TaskDone { .. }
            | JoinQueue { .. }
            | StallInPut { .. }
            | StallInGet { .. } => self.queue_step(step),
            Send { .. } | Recv { .. } | Ping { .. } | Pong { .. } => self.pipe_step(step),
            Acquire { .. }
            | Release { .. }
            | Wait { .. }
            | Set { .. }
            | Clear { .. }
            | BarrierWait { .. } => self.sync_step(step),
            DictSet { .. } | ListReverse { .. } | PrintProxy { .. } | CompareCounters { .. } => {
                self.proxy_step(step)
            }
            Increment { .. }
            | SetValue { .. }
            | Negate { .. }
            | PrintValue { .. }
            | PrintArray { .. }
            | ReportCount { .. } => self.value_step(step),
            BenchPut { .. } | BenchGet { .. } | BenchSend { .. } | RawEcho { .. } => {
                self.bench_step(step)
            }
            _ => Err(format!("not a resource step: {step:?}")),
        }
    }

    /// Queue and JoinableQueue steps.
    fn queue_step(&mut self, step: &Work) -> Result<(), String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
        match step {
            Work::Put { queue, value } => {
                self.queue(queue)?.put_value(value, None).map_err(|x| e(&x))
            }
            Work::Get(queue) => {
                let v: PyValue = self.queue(queue)?.get_value(None).map_err(|x| e(&x))?;
                say(&v.to_string());
                Ok(())
            }
            Work::PutMany {
                queue,
                count,
                pace_ms,
            } => {
                let q = self.queue(queue)?;
                let base = u64::from(self.index) * 1_000_000;
                for k in 0..*count {
                    q.put_value(&PyValue::Int((base + k) as i64), None)
                        .map_err(|x| e(&x))?;
                    pace(*pace_ms);
                }
                say(&self.fill(&format!("producer {{i}} put {count} messages")));
                Ok(())
            }
            Work::GetMany {
                queue,
                count,
                pace_ms,
            } => {
                let q = self.queue(queue)?;
                let mut sum = 0i64;
                for _ in 0..*count {
                    if let PyValue::Int(i) = q.get_value(None).map_err(|x| e(&x))? {
                        sum += i;
                    }
                    pace(*pace_ms);
                }
                say(&self.fill(&format!("consumer {{i}} got {count} messages (sum {sum})")));
                Ok(())
            }
            Work::TaskDone(queue) => self.queue(queue)?.task_done().map_err(|x| e(&x)),
            Work::JoinQueue(queue) => {
                self.queue(queue)?.join(None);
                Ok(())
            }
            Work::StallInPut(queue) => self
                .queue(queue)?
                .put_and_stall(b"torn?")
                .map_err(|x| e(&x)),
            Work::StallInGet(queue) => self
                .queue(queue)?
                .get_and_stall()
                .map(drop)
                .map_err(|x| e(&x)),
            _ => Err(format!("not a queue step: {step:?}")),
        }
    }

    /// Pipe steps (send, recv, ping-pong).
    fn pipe_step(&mut self, step: &Work) -> Result<(), String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
        match step {
            Work::Send { pipe, value } => self.conn(pipe)?.send(value).map_err(|x| e(&x)),
            Work::Recv(pipe) => {
                let v: PyValue = self.conn(pipe)?.recv().map_err(|x| e(&x))?;
                say(&v.to_string());
                Ok(())
            }
            Work::Ping { pipe, count } => {
                let c = self.conn(pipe)?;
                let mut rtt = Vec::with_capacity(*count as usize);
                for k in 0..*count {
                    let t = Instant::now();
                    c.send_bytes(&k.to_le_bytes()).map_err(|x| e(&x))?;
                    c.recv_bytes().map_err(|x| e(&x))?;
                    rtt.push(t.elapsed().as_secs_f64() * 1e6);
                }
                rtt.sort_by(f64::total_cmp);
                let q = |p: f64| {
                    rtt.get(((rtt.len() as f64 * p) as usize).min(rtt.len().saturating_sub(1)))
                        .copied()
                        .unwrap_or(0.0)
                };
                say(&format!(
                    "ping-pong: {count} round trips, p50 {:.1} µs, p99 {:.1} µs",
                    q(0.5),
                    q(0.99)
                ));
                Ok(())
            }
            Work::Pong { pipe, count } => {
                let c = self.conn(pipe)?;
                for _ in 0..*count {
                    let m = c.recv_bytes().map_err(|x| e(&x))?;
                    c.send_bytes(&m).map_err(|x| e(&x))?;
                }
                Ok(())
            }
            _ => Err(format!("not a pipe step: {step:?}")),
        }
    }

    /// Lock, semaphore, event and barrier steps.
    fn sync_step(&mut self, step: &Work) -> Result<(), String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
        match step {
            Work::Acquire(name) => match self.lock_like(name)? {
                LockLike::Lock(l) => {
                    if let Acquired::PreviousOwnerDied { pid } =
                        l.acquire_raw(true, None).map_err(|x| e(&x))?
                    {
                        say(&format!(
                            "{name}: acquired from holder {pid}, which died holding it"
                        ));
                    }
                    Ok(())
                }
                LockLike::Semaphore(s) => s.acquire(None).map_err(|x| e(&x)),
            },
            Work::Release(name) => match self.lock_like(name)? {
                LockLike::Lock(l) => l.release().map_err(|x| e(&x)),
                LockLike::Semaphore(s) => s.release().map_err(|x| e(&x)),
            },
            Work::Wait(event) => {
                let at = self.find(event, &[ResKind::Event])?.offset;
                Event::attach(&self.board, at)
                    .map_err(|x| e(&x))?
                    .wait(None);
                Ok(())
            }
            Work::Set(event) => {
                let at = self.find(event, &[ResKind::Event])?.offset;
                Event::attach(&self.board, at).map_err(|x| e(&x))?.set();
                Ok(())
            }
            Work::Clear(event) => {
                let at = self.find(event, &[ResKind::Event])?.offset;
                Event::attach(&self.board, at).map_err(|x| e(&x))?.clear();
                Ok(())
            }
            Work::BarrierWait(barrier) => {
                let at = self.find(barrier, &[ResKind::Barrier])?.offset;
                let b = Barrier::attach(&self.board, at).map_err(|x| e(&x))?;
                b.register();
                let r = b.wait(None);
                let left = self.barrier_waits.entry(barrier.clone()).or_default();
                *left = left.saturating_sub(1);
                if *left == 0 {
                    b.deregister();
                }
                let i = r.map_err(|x| e(&x))?;
                say(&self.fill(&format!("{{i}}: passed {barrier} (arrived #{i})")));
                Ok(())
            }
            _ => Err(format!("not a sync step: {step:?}")),
        }
    }

    /// Manager proxy steps.
    fn proxy_step(&mut self, step: &Work) -> Result<(), String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
        match step {
            Work::DictSet { dict, key, value } => self
                .proxy_call(dict, Method::SetItem, vec![key.clone(), value.clone()])
                .map(drop),
            Work::ListReverse(list) => self.proxy_call(list, Method::Reverse, vec![]).map(drop),
            Work::PrintProxy(p) => {
                if let PyValue::Str(r) = self.proxy_call(p, Method::Repr, vec![])? {
                    say(&r);
                }
                Ok(())
            }
            Work::CompareCounters {
                manager_value,
                shared_value,
                times,
            } => {
                let t = Instant::now();
                for _ in 0..*times {
                    let v = match self.proxy_call(manager_value, Method::Copy, vec![])? {
                        PyValue::Int(i) => i,
                        other => return Err(format!("{manager_value} holds {other}, not an int")),
                    };
                    self.proxy_call(manager_value, Method::SetValue, vec![PyValue::Int(v + 1)])?;
                }
                let via_manager = *times as f64 / t.elapsed().as_secs_f64();
                let a = self.array(shared_value)?;
                let t = Instant::now();
                for _ in 0..*times {
                    a.increment(0, Num::Int(1)).map_err(|x| e(&x))?;
                }
                let shared = *times as f64 / t.elapsed().as_secs_f64();
                say(&format!(
                    "{times} × (v.value += 1) through manager.Value: {:.0} ops/s ({:.1} µs each, two round trips)",
                    via_manager,
                    1e6 / via_manager
                ));
                say(&format!(
                    "{times} × (v.value += 1) through a shared Value: {:.0} ops/s ({:.3} µs each) — {:.0}× faster",
                    shared,
                    1e6 / shared,
                    shared / via_manager
                ));
                Ok(())
            }
            _ => Err(format!("not a proxy step: {step:?}")),
        }
    }

    /// Shared Value and Array steps.
    fn value_step(&mut self, step: &Work) -> Result<(), String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
        match step {
            Work::Increment { value, times } => {
                let a = self.array(value)?;
                for _ in 0..*times {
                    a.increment(0, Num::Int(1)).map_err(|x| e(&x))?;
                }
                Ok(())
            }
            Work::SetValue { value, to } => {
                self.array(value)?.set(0, *to).map_err(|x| e(&x))?;
                Ok(())
            }
            Work::Negate(array) => {
                let a = self.array(array)?;
                for i in 0..a.len() {
                    let v = a.get(i).checked_neg().ok_or_else(|| {
                        "OverflowError: the negation does not fit 64 bits".to_string()
                    })?;
                    a.set(i, v).map_err(|x| e(&x))?;
                }
                Ok(())
            }
            Work::PrintValue(value) => {
                say(&self.array(value)?.get(0).to_string());
                Ok(())
            }
            Work::PrintArray(array) => {
                let items: Vec<String> = self
                    .array(array)?
                    .to_vec()
                    .iter()
                    .map(Num::to_string)
                    .collect();
                say(&format!("[{}]", items.join(", ")));
                Ok(())
            }
            Work::ReportCount { value, expected } => {
                let a = self.array(value)?;
                let got = a.get(0).as_f64() as i64;
                let how = if a.get_lock().is_some() {
                    "with its lock"
                } else {
                    "without a lock"
                };
                say(&format!(
                    "{value} ({how}) = {got} of {expected}: {} updates lost",
                    expected - got
                ));
                Ok(())
            }
            _ => Err(format!("not a value step: {step:?}")),
        }
    }

    /// Benchmark steps.
    fn bench_step(&mut self, step: &Work) -> Result<(), String> {
        let e = |x: &dyn std::fmt::Display| x.to_string();
        match step {
            Work::BenchPut { queue, count, size } => {
                let q = self.queue(queue)?;
                let msg = vec![7u8; *size];
                for _ in 0..*count {
                    q.put(&msg, None).map_err(|x| e(&x))?;
                }
                Ok(())
            }
            Work::BenchGet { queue, count } => {
                let q = self.queue(queue)?;
                for _ in 0..*count {
                    q.get(None).map_err(|x| e(&x))?;
                }
                Ok(())
            }
            Work::BenchSend { pipe, count, size } => {
                let c = self.conn(pipe)?;
                let msg = vec![7u8; *size];
                for _ in 0..*count {
                    c.send_bytes(&msg).map_err(|x| e(&x))?;
                }
                Ok(())
            }
            Work::RawEcho { pipe, count } => {
                let fd = self
                    .fds
                    .get(pipe)
                    .ok_or_else(|| format!("pipe {pipe:?} was not handed to this process"))?;
                let mut buf = [0u8; 64];
                for _ in 0..*count {
                    let mut got = 0;
                    while got < 64 {
                        match nix::unistd::read(fd, &mut buf[got..]) {
                            Ok(0) => return Err("EOF".into()),
                            Ok(n) => got += n,
                            Err(nix::errno::Errno::EINTR) => {}
                            Err(x) => return Err(x.to_string()),
                        }
                    }
                    nix::unistd::write(fd, &buf).map_err(|x| e(&x))?;
                }
                Ok(())
            }
            _ => Err(format!("not a bench step: {step:?}")),
        }
    }
}

/// What `acquire` and `release` steps work on.
enum LockLike {
    Lock(Lock),
    Semaphore(Semaphore),
}

fn pace(ms: u64) {
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
    }
}
