//! Checks of the pool table and of pool calls: functions, arguments,
//! items, chunksize.

use std::ops::Range;

use super::*;
use crate::scenario::raw::*;
use crate::scenario::*;

impl Checker<'_> {
    pub(super) fn func(&self, span: &Range<usize>, name: &str) -> Res<Func> {
        Func::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Func::ALL.iter().map(|f| f.signature()).collect();
            ScenarioError::at(
                self.file,
                self.text,
                Some(span.clone()),
                format!(
                    "unknown function {name:?} (expected one of {}){}",
                    known.join(", "),
                    crate::scenario::error::suggestion(name, Func::ALL.iter().map(|f| f.name()))
                ),
            )
        })
    }

    pub(super) fn pool(&self, raw: Option<&RawPool>) -> Res<PoolSpec> {
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
    pub(super) fn call_args(&self, span: &Range<usize>, func: Func, args: &[i64]) -> Res<()> {
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

    pub(super) fn pool_call(&self, sp: &Range<usize>, c: &PoolCall) -> Res<MainStep> {
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
                        "pool: unknown call {:?} (expected one of {}){}",
                        c.call,
                        known.join(", "),
                        crate::scenario::error::suggestion(&c.call, known.iter().copied())
                    ),
                )
            })?;
        let func = self.func(sp, &c.func)?;
        let chunksize = match c.chunksize {
            Some(n) => Some(self.n(sp, n, 1, MAX_CHUNKS, "chunksize")? as usize),
            None => None,
        };
        let items = if call.is_apply() {
            self.apply_args(sp, call, func, c)?
        } else {
            self.map_items(sp, call, c)?
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

    /// The one argument tuple of `apply` / `apply_async`.
    fn apply_args(
        &self,
        sp: &Range<usize>,
        call: PoolCallKind,
        func: Func,
        c: &PoolCall,
    ) -> Res<Items> {
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
        Ok(Items::tuples(&[args]))
    }

    /// What `map` and its kin map over: `items = [...]` or `range = [...]`.
    fn map_items(&self, sp: &Range<usize>, call: PoolCallKind, c: &PoolCall) -> Res<Items> {
        if c.args.is_some() {
            return self.err(
                sp.clone(),
                format!(
                    "pool: {} maps over items or range; args belongs to apply",
                    call.name()
                ),
            );
        }
        Ok(match (&c.items, &c.range) {
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
        })
    }
}
