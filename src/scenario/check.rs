//! Every check a scenario passes before anything starts: ranges, references
//! between processes, resources and steps, literal messages.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use super::raw::*;
use super::*;
use crate::runtime::manager::MAX_OBJECTS;
use crate::runtime::pool::DEFAULT_RETRIES;

/// What a step may refer to, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Queue,
    JoinableQueue,
    Pipe,
    Lock,
    Semaphore,
    Event,
    Barrier,
    Value,
    Array,
    Proxy,
}

impl Kind {
    fn article(self) -> &'static str {
        match self {
            Kind::Queue => "a [[queue]]",
            Kind::JoinableQueue => "a joinable [[queue]]",
            Kind::Pipe => "a [[pipe]]",
            Kind::Lock => "a [[lock]]",
            Kind::Semaphore => "a [[semaphore]]",
            Kind::Event => "an [[event]]",
            Kind::Barrier => "a [[barrier]]",
            Kind::Value => "a [[value]]",
            Kind::Array => "an [[array]]",
            Kind::Proxy => "a [manager] object",
        }
    }
}

pub struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    kinds: HashMap<String, Kind>,
}

type Res<T> = Result<T, ScenarioError>;

impl<'a> Checker<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Checker<'a> {
        Checker {
            file,
            text,
            kinds: HashMap::new(),
        }
    }

    fn err<T>(&self, span: Range<usize>, msg: impl Into<String>) -> Res<T> {
        Err(ScenarioError::at(self.file, self.text, Some(span), msg))
    }

    fn range(&self, v: &Spanned<i64>, min: u64, max: u64, what: &str) -> Res<u64> {
        let n = *v.get_ref();
        if n < min as i64 || n as u64 > max {
            return self.err(
                v.span(),
                format!("{what} must be between {min} and {max} (got {n})"),
            );
        }
        Ok(n as u64)
    }

    fn n(&self, span: &Range<usize>, v: i64, min: u64, max: u64, what: &str) -> Res<u64> {
        if v < min as i64 || v as u64 > max {
            return self.err(
                span.clone(),
                format!("{what} must be between {min} and {max} (got {v})"),
            );
        }
        Ok(v as u64)
    }

    fn name(&self, n: &Spanned<String>, what: &str) -> Res<String> {
        let s = n.get_ref();
        if s.trim().is_empty() || s.len() > 40 || s.contains('{') {
            return self.err(
                n.span(),
                format!("a {what} name must have 1 to 40 characters and no braces"),
            );
        }
        Ok(s.clone())
    }

    fn declare(&mut self, n: &Spanned<String>, kind: Kind) -> Res<String> {
        let name = self.name(n, "resource")?;
        if self.kinds.contains_key(&name) {
            return self.err(
                n.span(),
                format!("a resource named {name:?} is already declared"),
            );
        }
        self.kinds.insert(name.clone(), kind);
        Ok(name)
    }

    fn uses(&self, span: &Range<usize>, name: &str, allowed: &[Kind], step: &str) -> Res<String> {
        match self.kinds.get(name) {
            Some(k) if allowed.contains(k) => Ok(name.to_string()),
            Some(k) => self.err(
                span.clone(),
                format!(
                    "{step}: {name:?} is {}, not {}",
                    k.article(),
                    allowed[0].article()
                ),
            ),
            None => self.err(
                span.clone(),
                format!(
                    "{step}: no resource named {name:?} is declared (expected {})",
                    allowed[0].article()
                ),
            ),
        }
    }

    fn literal(&self, span: &Range<usize>, text: &str) -> Res<PyValue> {
        PyValue::parse(text).map_err(|e| {
            ScenarioError::at(
                self.file,
                self.text,
                Some(span.clone()),
                format!("value {text:?}: {e}"),
            )
        })
    }

    fn num(tc: TypeCode, v: RawNum) -> Num {
        match (tc.is_float(), v) {
            (true, RawNum::Int(i)) => Num::Float(i as f64),
            (true, RawNum::Float(x)) => Num::Float(x),
            (false, RawNum::Int(i)) => Num::Int(i),
            (false, RawNum::Float(x)) => Num::Float(x),
        }
    }

    fn typecode(&self, t: &Spanned<String>) -> Res<TypeCode> {
        TypeCode::parse(t.get_ref()).map_or_else(
            || {
                self.err(
                    t.span(),
                    format!(
                        "unknown typecode {:?} (expected one of c b B h H i I l L q Q f d)",
                        t.get_ref()
                    ),
                )
            },
            Ok,
        )
    }

    fn int_for(&self, span: Range<usize>, tc: TypeCode, v: RawNum) -> Res<Num> {
        if !tc.is_float() && matches!(v, RawNum::Float(_)) {
            return self.err(
                span,
                format!("typecode {:?} holds integers, not a float", tc.letter()),
            );
        }
        Ok(Self::num(tc, v))
    }

    fn resources(&mut self, raw: &RawFile) -> Res<Vec<ResourceSpec>> {
        let mut out = Vec::new();
        for q in &raw.queue {
            let kind = if q.joinable {
                Kind::JoinableQueue
            } else {
                Kind::Queue
            };
            let name = self.declare(&q.name, kind)?;
            out.push(ResourceSpec::Queue {
                name,
                capacity: match &q.capacity {
                    Some(c) => self.range(c, 1, MAX_QUEUE_CAPACITY, "capacity")? as usize,
                    None => 64,
                },
                max_message: match &q.max_message {
                    Some(m) => self.range(m, 8, MAX_MESSAGE, "max_message")? as usize,
                    None => 1024,
                },
                joinable: q.joinable,
            });
        }
        for p in &raw.pipe {
            let name = self.declare(&p.name, Kind::Pipe)?;
            out.push(ResourceSpec::Pipe {
                name,
                duplex: p.duplex,
            });
        }
        for l in &raw.lock {
            let name = self.declare(&l.name, Kind::Lock)?;
            out.push(ResourceSpec::Lock {
                name,
                recursive: l.recursive,
            });
        }
        for s in &raw.semaphore {
            let name = self.declare(&s.name, Kind::Semaphore)?;
            out.push(ResourceSpec::Semaphore {
                name,
                value: self.range(&s.value, 0, 1 << 20, "value")? as u32,
                bounded: s.bounded,
            });
        }
        for e in &raw.event {
            let name = self.declare(&e.name, Kind::Event)?;
            out.push(ResourceSpec::Event { name });
        }
        for b in &raw.barrier {
            let name = self.declare(&b.name, Kind::Barrier)?;
            out.push(ResourceSpec::Barrier {
                name,
                parties: self.range(
                    &b.parties,
                    1,
                    crate::runtime::sync::MAX_PARTIES as u64,
                    "parties",
                )? as u32,
            });
        }
        for v in &raw.value {
            let name = self.declare(&v.name, Kind::Value)?;
            let tc = self.typecode(&v.typecode)?;
            let init = self.int_for(v.init.span(), tc, *v.init.get_ref())?;
            out.push(ResourceSpec::Array {
                name,
                typecode: tc,
                init: vec![init],
                lock: v.lock,
                is_value: true,
            });
        }
        for a in &raw.array {
            let name = self.declare(&a.name, Kind::Array)?;
            let tc = self.typecode(&a.typecode)?;
            let init = match (&a.init, &a.size) {
                (Some(i), None) => {
                    if i.get_ref().len() as u64 > MAX_ARRAY {
                        return self.err(i.span(), format!("at most {MAX_ARRAY} elements"));
                    }
                    i.get_ref()
                        .iter()
                        .map(|v| self.int_for(i.span(), tc, *v))
                        .collect::<Res<Vec<Num>>>()?
                }
                (None, Some(n)) => {
                    let n = self.range(n, 1, MAX_ARRAY, "size")?;
                    vec![Self::num(tc, RawNum::Int(0)); n as usize]
                }
                _ => {
                    return self.err(
                        a.name.span(),
                        "an [[array]] needs either init = [...] or size = N",
                    );
                }
            };
            out.push(ResourceSpec::Array {
                name,
                typecode: tc,
                init,
                lock: a.lock,
                is_value: false,
            });
        }
        if let Some(m) = &raw.manager {
            let mut objects = Vec::new();
            if m.objects.len() > MAX_OBJECTS {
                return self.err(
                    m.objects[MAX_OBJECTS].span(),
                    format!("a manager holds at most {MAX_OBJECTS} objects"),
                );
            }
            for o in &m.objects {
                let o = o.get_ref();
                let kind = ObjKind::parse(o.kind.get_ref()).ok_or_else(|| {
                    let known: Vec<&str> = ObjKind::ALL.iter().map(|k| k.name()).collect();
                    ScenarioError::at(
                        self.file,
                        self.text,
                        Some(o.kind.span()),
                        format!(
                            "unknown manager object kind {:?} (expected one of {})",
                            o.kind.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?;
                let init = match &o.init {
                    Some(t) => Some(self.literal(&o.kind.span(), t)?),
                    None => None,
                };
                let fits = matches!(
                    (kind, &init),
                    (_, None)
                        | (ObjKind::Value, Some(_))
                        | (ObjKind::Dict, Some(PyValue::Dict(_)))
                        | (ObjKind::List, Some(PyValue::List(_) | PyValue::Tuple(_)))
                );
                if !fits {
                    return self.err(
                        o.kind.span(),
                        format!(
                            "init: a manager {} cannot start from that value",
                            kind.name()
                        ),
                    );
                }
                let name = self.declare(&o.name, Kind::Proxy)?;
                objects.push((name, kind, init));
            }
            let tcp = match &m.tcp {
                Some(t) => {
                    if t.get_ref().parse::<std::net::SocketAddr>().is_err() {
                        return self.err(
                            t.span(),
                            "tcp: expected HOST:PORT with a numeric host, e.g. \"127.0.0.1:0\"",
                        );
                    }
                    Some(t.get_ref().clone())
                }
                None => None,
            };
            let authkey = match &m.authkey {
                Some(k) if !(1..=32).contains(&k.get_ref().len()) => {
                    return self.err(k.span(), "authkey: 1 to 32 bytes");
                }
                Some(k) => Some(k.get_ref().clone()),
                None => None,
            };
            out.push(ResourceSpec::Manager {
                name: "manager".into(),
                tcp,
                authkey,
                objects,
            });
        }
        Ok(out)
    }

    pub fn check(mut self, raw: RawFile) -> Res<Scenario> {
        if raw.scenario.title.get_ref().trim().is_empty() {
            return self.err(raw.scenario.title.span(), "the title must not be empty");
        }
        let pool = self.pool(raw.pool.as_ref())?;
        let task = match &raw.task {
            None => None,
            Some(t) => {
                if t.kind.get_ref() != "primes" {
                    return self.err(
                        t.kind.span(),
                        format!(
                            "unknown task kind {:?} (expected \"primes\")",
                            t.kind.get_ref()
                        ),
                    );
                }
                let below = self.range(&t.below, 1, MAX_BELOW, "below")?;
                let chunks = self.range(&t.chunks, 1, MAX_CHUNKS.min(below), "chunks")?;
                Some(TaskSpec { below, chunks })
            }
        };
        let resources = self.resources(&raw)?;
        if raw.process.len() > MAX_PROCESSES {
            return Err(ScenarioError::whole_file(
                self.file,
                format!("at most {MAX_PROCESSES} [[process]] tables"),
            ));
        }
        let mut names = HashSet::new();
        let mut processes = Vec::new();
        for p in &raw.process {
            let name = self.name(&p.name, "process")?;
            if !names.insert(name.clone()) {
                return self.err(
                    p.name.span(),
                    format!("a process named {name:?} is already declared"),
                );
            }
            let count = match &p.count {
                Some(c) => self.range(c, 1, MAX_GROUP, "count")? as u32,
                None => 1,
            };
            let steps = p
                .steps
                .iter()
                .map(|s| match self.step(s)? {
                    MainStep::Work(w) => Ok(w),
                    _ => self.err(
                        s.span(),
                        "a process can only run work steps (start, join, status, terminate, kill and pool_map belong to [main])",
                    ),
                })
                .collect::<Result<_, _>>()?;
            processes.push(ProcessSpec {
                name,
                daemon: p.daemon,
                count,
                steps,
            });
        }
        let mut started = HashSet::new();
        let mut main = Vec::new();
        for s in &raw.main.steps {
            let step = self.step(s)?;
            match &step {
                MainStep::Start(n) if !names.contains(n) => {
                    return self.err(
                        s.span(),
                        format!("start: no [[process]] named {n:?} is declared"),
                    );
                }
                MainStep::Start(n) if !started.insert(n.clone()) => {
                    return self.err(
                        s.span(),
                        format!("start: {n:?} is already started (a process starts once)"),
                    );
                }
                MainStep::Join(n) | MainStep::Terminate(n) | MainStep::Kill(n)
                    if !started.contains(n) =>
                {
                    return self.err(s.span(), format!("{n:?} is not started before this step"));
                }
                MainStep::Status(n) if !names.contains(n) => {
                    return self.err(
                        s.span(),
                        format!("status: no [[process]] named {n:?} is declared"),
                    );
                }
                MainStep::PoolMap if task.is_none() => {
                    return self.err(s.span(), "pool_map needs a [task] table saying what to map");
                }
                _ => {}
            }
            main.push(step);
        }
        let scaling = match &raw.scaling {
            None => None,
            Some(sc) => {
                let below = self.range(&sc.below, 1000, MAX_BELOW, "below")?;
                Some(ScalingSpec {
                    below,
                    chunks: match &sc.chunks {
                        Some(c) => self.range(c, 1, 100_000.min(below), "chunks")?,
                        None => 256.min(below),
                    },
                    max_workers: match &sc.max_workers {
                        Some(w) => self.range(w, 1, MAX_WORKERS, "max_workers")? as usize,
                        None => 2 * default_workers(),
                    },
                    switch_interval_ms: match &sc.switch_interval_ms {
                        Some(i) => self.range(i, 1, 1000, "switch_interval_ms")?,
                        None => 5,
                    },
                })
            }
        };
        Ok(Scenario {
            scaling,
            file: self.file.to_string(),
            title: raw.scenario.title.into_inner(),
            explain: reflow(&raw.scenario.explain),
            start_method: raw.scenario.start_method,
            pool,
            task,
            resources,
            processes,
            main,
        })
    }

    fn step(&self, s: &Spanned<RawStep>) -> Res<MainStep> {
        use Kind as K;
        let span = s.span();
        let sp = &span;
        let count = |v: i64, what: &str| self.n(sp, v, 0, MAX_COUNT, what);
        let w = |w: Work| Ok(MainStep::Work(w));
        let queue = |q: &str, step: &str| self.uses(sp, q, &[K::Queue, K::JoinableQueue], step);
        let value = |v: &str, step: &str| self.uses(sp, v, &[K::Value, K::Array], step);
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
            RawStep::Put(p) => w(Work::Put {
                queue: queue(&p.queue, "put")?,
                value: self.literal(sp, &p.value)?,
            }),
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
            RawStep::Start(p) => Ok(MainStep::Start(p.clone())),
            RawStep::Join(p) => Ok(MainStep::Join(p.clone())),
            RawStep::Status(p) => Ok(MainStep::Status(p.clone())),
            RawStep::Terminate(p) => Ok(MainStep::Terminate(p.clone())),
            RawStep::Kill(p) => Ok(MainStep::Kill(p.clone())),
            RawStep::PoolMap => Ok(MainStep::PoolMap),
            RawStep::Pool(c) => self.pool_call(sp, c),
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
        }
    }

    fn func(&self, span: &Range<usize>, name: &str) -> Res<Func> {
        Func::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Func::ALL.iter().map(|f| f.signature()).collect();
            ScenarioError::at(
                self.file,
                self.text,
                Some(span.clone()),
                format!(
                    "unknown function {name:?} (expected one of {})",
                    known.join(", ")
                ),
            )
        })
    }

    fn pool(&self, raw: Option<&RawPool>) -> Res<PoolSpec> {
        let mut spec = PoolSpec {
            workers: default_workers(),
            chunksize: None,
            maxtasksperchild: 0,
            initializer: None,
            on_worker_death: OnDeath::Retry,
            retries: DEFAULT_RETRIES,
        };
        let Some(p) = raw else {
            return Ok(spec);
        };
        if let Some(w) = &p.workers {
            spec.workers = self.range(w, 1, MAX_WORKERS, "the number of workers")? as usize;
        }
        if let Some(c) = &p.chunksize {
            spec.chunksize = Some(self.range(c, 1, MAX_CHUNKS, "chunksize")? as usize);
        }
        if let Some(m) = &p.maxtasksperchild {
            spec.maxtasksperchild = self.range(m, 1, MAX_COUNT, "maxtasksperchild")?;
        }
        if let Some(r) = &p.retries {
            spec.retries = self.range(r, 0, 100, "retries")? as u32;
        }
        if let Some(d) = &p.on_worker_death {
            spec.on_worker_death = match d.get_ref().as_str() {
                "retry" => OnDeath::Retry,
                "fail" => OnDeath::Fail,
                other => {
                    return self.err(
                        d.span(),
                        format!(
                            "unknown on_worker_death {other:?} (expected \"retry\" or \"fail\")"
                        ),
                    );
                }
            };
        }
        match (&p.initializer, &p.initargs) {
            (Some(f), args) => {
                let func = self.func(&f.span(), f.get_ref())?;
                let args = args.as_ref().map_or_else(Vec::new, |a| a.get_ref().clone());
                if args.len() != func.arity() {
                    let span = p.initargs.as_ref().map_or(f.span(), |a| a.span());
                    return self.err(
                        span,
                        format!(
                            "initargs: {} takes {} argument(s), got {}",
                            func.signature(),
                            func.arity(),
                            args.len()
                        ),
                    );
                }
                self.call_args(&f.span(), func, &args)?;
                spec.initializer = Some((func, args));
            }
            (None, Some(a)) => return self.err(a.span(), "initargs without an initializer"),
            (None, None) => {}
        }
        Ok(spec)
    }

    /// Refuses arguments that would take the machine down (a year of spin, a
    /// terabyte of alloc).
    fn call_args(&self, span: &Range<usize>, func: Func, args: &[i64]) -> Res<()> {
        let max = match func {
            Func::Primes => MAX_BELOW,
            Func::Spin => MAX_SPIN_US,
            Func::Sleep => MAX_SPIN_US / 1000,
            Func::Alloc => MAX_ALLOC_MIB,
            Func::Square | Func::Fail => return Ok(()),
        };
        for &a in args {
            self.n(
                span,
                a,
                0,
                max,
                &format!("an argument of {}", func.signature()),
            )?;
        }
        Ok(())
    }

    fn pool_call(&self, sp: &Range<usize>, c: &PoolCall) -> Res<MainStep> {
        let call = PoolCallKind::ALL
            .into_iter()
            .find(|k| k.name() == c.call)
            .ok_or_else(|| {
                let known: Vec<&str> = PoolCallKind::ALL.iter().map(|k| k.name()).collect();
                ScenarioError::at(
                    self.file,
                    self.text,
                    Some(sp.clone()),
                    format!(
                        "pool: unknown call {:?} (expected one of {})",
                        c.call,
                        known.join(", ")
                    ),
                )
            })?;
        let func = self.func(sp, &c.func)?;
        let chunksize = match c.chunksize {
            Some(n) => Some(self.n(sp, n, 1, MAX_CHUNKS, "chunksize")? as usize),
            None => None,
        };
        let items = if call.is_apply() {
            if c.items.is_some() || c.range.is_some() || c.chunksize.is_some() {
                return self.err(
                    sp.clone(),
                    format!(
                        "pool: {} takes args = [...], not items, range or chunksize",
                        call.name()
                    ),
                );
            }
            let args = c.args.clone().ok_or_else(|| {
                ScenarioError::at(
                    self.file,
                    self.text,
                    Some(sp.clone()),
                    format!(
                        "pool: {} needs args = [...] for {}",
                        call.name(),
                        func.signature()
                    ),
                )
            })?;
            Items::tuples(&[args])
        } else {
            if c.args.is_some() {
                return self.err(
                    sp.clone(),
                    format!(
                        "pool: {} maps over items or range; args belongs to apply",
                        call.name()
                    ),
                );
            }
            match (&c.items, &c.range) {
                (Some(items), None) => {
                    if items.len() as u64 > MAX_COUNT {
                        return self.err(sp.clone(), "pool: too many items");
                    }
                    let tuples: Vec<Vec<i64>> = items
                        .iter()
                        .map(|i| match i {
                            RawItem::One(v) => vec![*v],
                            RawItem::Tuple(t) => t.clone(),
                        })
                        .collect();
                    Items::tuples(&tuples)
                }
                (None, Some(r)) if (2..=3).contains(&r.len()) => {
                    let step = r.get(2).copied().unwrap_or(1);
                    if step == 0 {
                        return self.err(sp.clone(), "pool: range step must not be zero");
                    }
                    let items = Items::range(r[0], r[1], step);
                    if items.len() as u64 > MAX_COUNT {
                        return self.err(sp.clone(), "pool: the range has too many items");
                    }
                    items
                }
                (None, Some(_)) => {
                    return self.err(
                        sp.clone(),
                        "pool: range = [start, stop] or [start, stop, step]",
                    );
                }
                _ => {
                    return self.err(
                        sp.clone(),
                        format!(
                            "pool: {} needs either items = [...] or range = [start, stop]",
                            call.name()
                        ),
                    );
                }
            }
        };
        let arity = if items.is_empty() {
            func.arity()
        } else {
            items.arity()
        };
        let bad_tuple = match &c.items {
            Some(items) => items.iter().any(|i| match i {
                RawItem::One(_) => func.arity() != 1,
                RawItem::Tuple(t) => t.len() != func.arity(),
            }),
            None => arity != func.arity(),
        } || (call.is_apply() && arity != func.arity());
        if bad_tuple {
            return self.err(
                sp.clone(),
                format!(
                    "pool: {} takes {} argument(s) per task",
                    func.signature(),
                    func.arity()
                ),
            );
        }
        if let Items::List { flat, .. } = &items {
            self.call_args(sp, func, flat)?;
        } else if let Items::Range { start, step, n } = items
            && n > 0
        {
            self.call_args(sp, func, &[start, start + step * (n as i64 - 1)])?;
        }
        Ok(MainStep::Pool(PoolCallSpec {
            call,
            func,
            items,
            chunksize,
        }))
    }
}
