//! Checks of one step of the main process or a process group.

use toml::Spanned;

use super::*;
use crate::scenario::raw::*;
use crate::scenario::*;

impl Checker<'_> {
    pub(super) fn step(&self, s: &Spanned<RawStep>) -> Res<MainStep> {
        let span = s.span();
        let sp = &span;
        let w = |w: Work| Ok(MainStep::Work(w));
        match s.get_ref() {
            RawStep::Info(t) => w(Work::Info(t.clone())),
            RawStep::Print(t) => w(Work::Print(t.clone())),
            RawStep::SpinUs(v) => w(Work::SpinUs(self.n(sp, *v, 0, MAX_SPIN_US, "spin_us")?)),
            RawStep::SleepMs(v) => w(Work::SleepMs(self.n(
                sp,
                *v,
                0,
                MAX_SPIN_US / 1000,
                "sleep_ms",
            )?)),
            RawStep::PrimesBelow(v) => w(Work::PrimesBelow(self.n(
                sp,
                *v,
                0,
                MAX_BELOW,
                "primes_below",
            )?)),
            RawStep::AllocMib(v) => w(Work::AllocMib(self.n(
                sp,
                *v,
                0,
                MAX_ALLOC_MIB,
                "alloc_mib",
            )?)),
            RawStep::Exit(v) => w(Work::Exit(self.n(sp, *v, 0, 255, "exit")? as i32)),
            RawStep::Start(p) => Ok(MainStep::Start(p.clone())),
            RawStep::Join(p) => Ok(MainStep::Join(p.clone())),
            RawStep::Status(p) => Ok(MainStep::Status(p.clone())),
            RawStep::Terminate(p) => Ok(MainStep::Terminate(p.clone())),
            RawStep::Kill(p) => Ok(MainStep::Kill(p.clone())),
            RawStep::PoolMap => Ok(MainStep::PoolMap),
            RawStep::Pool(c) => self.pool_call(sp, c),
            other => self.resource_step(sp, other),
        }
    }

    /// A step that uses a resource: the resource must be declared, of a kind
    /// the step works on.
    fn resource_step(&self, sp: &std::ops::Range<usize>, s: &RawStep) -> Res<MainStep> {
        use Kind as K;
        let count = |v: i64, what: &str| self.n(sp, v, 0, MAX_COUNT, what);
        let w = |w: Work| Ok(MainStep::Work(w));
        let queue = |q: &str, step: &str| self.uses(sp, q, &[K::Queue, K::JoinableQueue], step);
        let value = |v: &str, step: &str| self.uses(sp, v, &[K::Value, K::Array], step);
        match s {
            RawStep::Put(p) => {
                let queue = queue(&p.queue, "put")?;
                let value = self.literal(sp, &p.value)?;
                self.fits_queue(sp, &queue, &value)?;
                w(Work::Put { queue, value })
            }
            RawStep::Get(q) => w(Work::Get(queue(q, "get")?)),
            RawStep::PutMany(m) => w(Work::PutMany {
                queue: queue(&m.queue, "put_many")?,
                count: count(m.count, "count")?,
                pace_ms: self.n(sp, m.pace_ms, 0, 60_000, "pace_ms")?,
            }),
            RawStep::GetMany(m) => w(Work::GetMany {
                queue: queue(&m.queue, "get_many")?,
                count: count(m.count, "count")?,
                pace_ms: self.n(sp, m.pace_ms, 0, 60_000, "pace_ms")?,
            }),
            RawStep::TaskDone(q) => w(Work::TaskDone(self.uses(
                sp,
                q,
                &[K::JoinableQueue],
                "task_done",
            )?)),
            RawStep::JoinQueue(q) => w(Work::JoinQueue(self.uses(
                sp,
                q,
                &[K::JoinableQueue],
                "join_queue",
            )?)),
            RawStep::Send(p) => w(Work::Send {
                pipe: self.uses(sp, &p.pipe, &[K::Pipe], "send")?,
                value: self.literal(sp, &p.value)?,
            }),
            RawStep::Recv(p) => w(Work::Recv(self.uses(sp, p, &[K::Pipe], "recv")?)),
            RawStep::Ping(p) => w(Work::Ping {
                pipe: self.uses(sp, &p.pipe, &[K::Pipe], "ping")?,
                count: count(p.count, "count")?,
            }),
            RawStep::Pong(p) => w(Work::Pong {
                pipe: self.uses(sp, &p.pipe, &[K::Pipe], "pong")?,
                count: count(p.count, "count")?,
            }),
            RawStep::Acquire(l) => w(Work::Acquire(self.uses(
                sp,
                l,
                &[K::Lock, K::Semaphore],
                "acquire",
            )?)),
            RawStep::Release(l) => w(Work::Release(self.uses(
                sp,
                l,
                &[K::Lock, K::Semaphore],
                "release",
            )?)),
            RawStep::Increment(v) => w(Work::Increment {
                value: value(&v.value, "increment")?,
                times: count(v.times, "times")?,
            }),
            RawStep::SetValue(v) => w(Work::SetValue {
                value: value(&v.value, "set_value")?,
                to: Self::num(TypeCode::D, v.to),
            }),
            RawStep::Negate(a) => w(Work::Negate(value(a, "negate")?)),
            RawStep::PrintValue(v) => w(Work::PrintValue(value(v, "print_value")?)),
            RawStep::PrintArray(a) => w(Work::PrintArray(value(a, "print_array")?)),
            RawStep::ReportCount(v) => w(Work::ReportCount {
                value: value(&v.value, "report_count")?,
                expected: v.expected,
            }),
            RawStep::Wait(e) => w(Work::Wait(self.uses(sp, e, &[K::Event], "wait")?)),
            RawStep::Set(e) => w(Work::Set(self.uses(sp, e, &[K::Event], "set")?)),
            RawStep::Clear(e) => w(Work::Clear(self.uses(sp, e, &[K::Event], "clear")?)),
            RawStep::BarrierWait(b) => w(Work::BarrierWait(self.uses(
                sp,
                b,
                &[K::Barrier],
                "barrier_wait",
            )?)),
            RawStep::DictSet(d) => w(Work::DictSet {
                dict: self.uses(sp, &d.dict, &[K::Proxy], "dict_set")?,
                key: self.literal(sp, &d.key)?,
                value: self.literal(sp, &d.value)?,
            }),
            RawStep::ListReverse(l) => w(Work::ListReverse(self.uses(
                sp,
                l,
                &[K::Proxy],
                "list_reverse",
            )?)),
            RawStep::PrintProxy(p) => w(Work::PrintProxy(self.uses(
                sp,
                p,
                &[K::Proxy],
                "print_proxy",
            )?)),
            RawStep::CompareCounters(c) => w(Work::CompareCounters {
                manager_value: self.uses(sp, &c.manager_value, &[K::Proxy], "compare_counters")?,
                shared_value: self.uses(sp, &c.shared_value, &[K::Value], "compare_counters")?,
                times: self.n(sp, c.times, 1, MAX_COUNT, "times")?,
            }),
            _ => self.err(sp.clone(), "this step does not use a resource"),
        }
    }

    /// A message must fit its queue's `max_message`, or the putter would fail
    /// at run time while its consumers wait.
    fn fits_queue(&self, sp: &std::ops::Range<usize>, queue: &str, value: &PyValue) -> Res<()> {
        let max = self.max_message.get(queue).copied().unwrap_or(usize::MAX);
        let len = serde_json::to_vec(value).map_or(usize::MAX, |b| b.len());
        if len > max {
            return self.err(
                sp.clone(),
                format!(
                    "put: the message takes {len} bytes; queue {queue:?} holds messages of at most {max} (its max_message)"
                ),
            );
        }
        Ok(())
    }
}
