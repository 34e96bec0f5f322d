//! Every check a scenario passes before anything starts: ranges, references
//! between processes, resources and steps, literal messages.

mod pool;
mod resources;
mod steps;

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use crate::runtime::manager::MAX_OBJECTS;
use crate::runtime::pool::DEFAULT_RETRIES;
use crate::scenario::error::{did_you_mean, suggestion};
use crate::scenario::raw::*;
use crate::scenario::*;

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
    /// Each queue's `max_message`, so a `put` too big for it is refused here.
    max_message: HashMap<String, usize>,
}

type Res<T> = Result<T, ScenarioError>;

impl<'a> Checker<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Checker<'a> {
        Checker {
            file,
            text,
            kinds: HashMap::new(),
            max_message: HashMap::new(),
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
            None => {
                // The closest name of a kind the step takes, else of any kind.
                let of_kind = self
                    .kinds
                    .iter()
                    .filter(|(_, k)| allowed.contains(k))
                    .map(|(n, _)| n.as_str());
                let hint = match did_you_mean(name, of_kind) {
                    Some(n) => format!("; did you mean {n:?}?"),
                    None => suggestion(name, self.kinds.keys().map(String::as_str)),
                };
                self.err(
                    span.clone(),
                    format!(
                        "{step}: no resource named {name:?} is declared (expected {}){hint}",
                        allowed[0].article()
                    ),
                )
            }
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
        let n = Self::num(tc, v);
        if let Err(over) = tc.check(n) {
            return self.err(
                span,
                format!("{over} ('{}' holds {})", tc.letter(), bounds_text(tc)),
            );
        }
        Ok(n)
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
        let (processes, names) = self.processes(&raw)?;
        let main = self.main_steps(&raw, &names, task.is_some())?;
        let scaling = self.scaling(&raw)?;
        Ok(Scenario {
            scaling,
            file: self.file.to_string(),
            title: raw.scenario.title.into_inner(),
            explain: reflow(&raw.scenario.explain),
            translations: raw
                .scenario
                .fr
                .iter()
                .map(|t| {
                    (
                        crate::i18n::Lang::Fr.code().to_string(),
                        // French typography, as the interface's own words.
                        crate::scenario::ScenarioText {
                            title: crate::i18n::french_spaces(t.title.trim()),
                            explain: crate::i18n::french_spaces(&reflow(&t.explain)),
                        },
                    )
                })
                .collect(),
            start_method: raw.scenario.start_method,
            pool,
            task,
            resources,
            processes,
            main,
        })
    }

    /// The `[[process]]` groups: unique names, counts, work steps only.
    fn processes(&self, raw: &RawFile) -> Res<(Vec<ProcessSpec>, HashSet<String>)> {
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
        Ok((processes, names))
    }

    /// The `[main]` steps: each process started once, and joined, killed or
    /// terminated only after it was started.
    fn main_steps(
        &self,
        raw: &RawFile,
        names: &HashSet<String>,
        has_task: bool,
    ) -> Res<Vec<MainStep>> {
        let mut started = HashSet::new();
        let mut main = Vec::new();
        for s in &raw.main.steps {
            let step = self.step(s)?;
            match &step {
                MainStep::Start(n) if !names.contains(n) => {
                    return self.err(
                        s.span(),
                        format!(
                            "start: no [[process]] named {n:?} is declared{}",
                            self.process_hint(raw, n)
                        ),
                    );
                }
                MainStep::Start(n) if !started.insert(n.clone()) => {
                    return self.err(
                        s.span(),
                        format!("start: {n:?} is already started (a process starts once)"),
                    );
                }
                MainStep::Join(n) | MainStep::Terminate(n) | MainStep::Kill(n)
                    if !names.contains(n) =>
                {
                    return self.err(
                        s.span(),
                        format!(
                            "{}: no [[process]] named {n:?} is declared{}",
                            match step {
                                MainStep::Join(_) => "join",
                                MainStep::Terminate(_) => "terminate",
                                _ => "kill",
                            },
                            self.process_hint(raw, n)
                        ),
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
                        format!(
                            "status: no [[process]] named {n:?} is declared{}",
                            self.process_hint(raw, n)
                        ),
                    );
                }
                MainStep::PoolMap if !has_task => {
                    return self.err(s.span(), "pool_map needs a [task] table saying what to map");
                }
                _ => {}
            }
            main.push(step);
        }
        Ok(main)
    }

    /// `; did you mean "producer" (line 35)?` for a process name no
    /// `[[process]]` has, with the line of the one it most likely means (so
    /// a misspelt declaration is found as easily as a misspelt step).
    fn process_hint(&self, raw: &RawFile, name: &str) -> String {
        let declared = raw.process.iter().map(|p| p.name.get_ref().as_str());
        let Some(meant) = did_you_mean(name, declared) else {
            return String::new();
        };
        let line = raw
            .process
            .iter()
            .find(|p| p.name.get_ref() == meant)
            .map(|p| ScenarioError::at(self.file, self.text, Some(p.name.span()), "").line);
        match line {
            Some(l) if l > 0 => format!("; did you mean {meant:?} (line {l})?"),
            _ => format!("; did you mean {meant:?}?"),
        }
    }

    /// The `[scaling]` table, with its defaults.
    fn scaling(&self, raw: &RawFile) -> Res<Option<ScalingSpec>> {
        Ok(match &raw.scaling {
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
                    pythons: Vec::new(),
                })
            }
        })
    }
}

/// `-128 to 127`: the integers a typecode holds, for messages.
fn bounds_text(tc: TypeCode) -> String {
    match tc.int_bounds() {
        Some((lo, hi)) => format!("{lo} to {hi}"),
        None => "floats".into(),
    }
}
