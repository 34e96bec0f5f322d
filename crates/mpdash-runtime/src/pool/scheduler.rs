//! The pool's scheduler, run by the owner process whenever it calls into the
//! pool: send batches as the task queue has room, take results, finish jobs,
//! and look after dead workers (replace them, retry or fail their tasks).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::wire::{Reader, write_task_header};
use super::*;

impl Pool {
    /// Runs the pool for at most `wait`: sends tasks, takes results, looks
    /// after dead workers.
    pub(super) fn pump(&mut self, wait: Duration) -> Result<(), PoolError> {
        self.dispatch()?;
        let result = self
            .results
            .get(Some(wait.clamp(Duration::from_millis(1), CHECK_EVERY)));
        if self.last_check.elapsed() >= CHECK_EVERY {
            self.last_check = Instant::now();
            self.check_workers()?;
        }
        match result {
            Ok(msg) => {
                self.idle_polls = 0;
                self.absorb(&msg)
            }
            Err(QueueError::Empty) => {
                self.idle_polls += 1;
                if self.idle_polls >= VANISHED_POLLS {
                    self.idle_polls = 0;
                    self.resend_vanished();
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Puts tasks on the queue while it has room: runs to send again first,
    /// then jobs in the order they came.
    pub(super) fn dispatch(&mut self) -> Result<(), PoolError> {
        loop {
            let (first, count) = match self.resend.front() {
                Some(&r) => r,
                None => match self.next_batch() {
                    Some(b) => b,
                    None => return Ok(()),
                },
            };
            let job = self
                .jobs
                .range(..=first)
                .next_back()
                .filter(|(base, j)| first + count <= **base + j.items.len() as u64);
            let Some((&base, job)) = job else {
                // Tasks of a job no longer here (cannot happen: a job with
                // missing results stays); never send someone else's items.
                if self.resend.pop_front().is_none() {
                    return Ok(());
                }
                continue;
            };
            let i = (first - base) as usize;
            let count = count.min(job.items.per_message() as u64);
            write_task_header(&mut self.buf, first, count as u32, job.code);
            job.items.encode(i, count as usize, &mut self.buf);
            match self.tasks.put_nowait(&self.buf) {
                Ok(()) => {}
                Err(QueueError::Full) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            self.sent.insert(first, Sent { count, left: count });
            if let Some(r) = self.resend.front_mut().filter(|r| r.0 == first) {
                r.0 += count;
                r.1 -= count;
                if r.1 == 0 {
                    self.resend.pop_front();
                }
            } else if let Some(j) = self.jobs.get_mut(&base) {
                j.next_send = i + count as usize;
            }
        }
    }

    /// The next batch of new tasks: (first global id, count).
    pub(super) fn next_batch(&self) -> Option<(u64, u64)> {
        self.jobs.iter().find_map(|(&base, j)| {
            let left = j.items.len().saturating_sub(j.next_send);
            (left > 0).then(|| (base + j.next_send as u64, left.min(j.chunk) as u64))
        })
    }

    /// Takes one result message.
    pub(super) fn absorb(&mut self, msg: &[u8]) -> Result<(), PoolError> {
        let mut rd = Reader(msg);
        let first = rd.u64().ok_or(PoolError::BadResult)?;
        let count = rd.u32().ok_or(PoolError::BadResult)? as u64;
        let mut finished = Vec::new();
        let mut fresh = 0u64;
        let mut failed = 0u64;
        {
            let Some((&base, job)) = self.jobs.range_mut(..=first).next_back() else {
                return Ok(()); // a late duplicate of a job already collected
            };
            for k in 0..count {
                let outcome = match rd.u8().ok_or(PoolError::BadResult)? {
                    0 => Ok(rd.i64().ok_or(PoolError::BadResult)?),
                    1 => {
                        let len = rd.u16().ok_or(PoolError::BadResult)? as usize;
                        let text = rd.bytes(len).ok_or(PoolError::BadResult)?;
                        Err(TaskError::Raised(
                            String::from_utf8_lossy(text).into_owned(),
                        ))
                    }
                    _ => return Err(PoolError::BadResult),
                };
                let i = (first + k - base) as usize;
                let Some(cell @ None) = job.results.get_mut(i) else {
                    continue; // a task run twice: the first result stands
                };
                failed += u64::from(outcome.is_err());
                *cell = Some(outcome);
                job.done += 1;
                job.arrived.push_back(i);
                fresh += 1;
            }
            if job.complete() {
                finished.push(base);
            }
        }
        self.account(first, count);
        self.stat(STAT_DONE).fetch_add(fresh, Ordering::Relaxed);
        self.stat(STAT_FAILED).fetch_add(failed, Ordering::Relaxed);
        self.finish_jobs(&finished);
        Ok(())
    }

    /// Marks tasks `[first, first + count)` as answered in the batches that
    /// hold them; forgets batches fully answered.
    pub(super) fn account(&mut self, first: u64, count: u64) {
        let end = first + count;
        let mut done = Vec::new();
        for (&b, s) in self.sent.range_mut(..end).rev() {
            if b + s.count <= first {
                break;
            }
            let overlap = (b + s.count).min(end) - b.max(first);
            s.left = s.left.saturating_sub(overlap);
            if s.left == 0 {
                done.push(b);
            }
        }
        for b in done {
            self.sent.remove(&b);
        }
    }

    /// Runs the callbacks of jobs that just completed.
    pub(super) fn finish_jobs(&mut self, bases: &[u64]) {
        for base in bases {
            let Some(job) = self.jobs.get_mut(base) else {
                continue;
            };
            let first_err = job.results.iter().flatten().find_map(|o| o.clone().err());
            match first_err {
                Some(e) => {
                    if let Some(cb) = job.callbacks.error_callback.as_mut() {
                        cb(&e);
                    }
                }
                None => {
                    if let Some(cb) = job.callbacks.callback.as_mut() {
                        let values: Vec<i64> = job
                            .results
                            .iter()
                            .map(|o| o.clone().map_or(0, |v| v.unwrap_or(0)))
                            .collect();
                        cb(&values);
                    }
                }
            }
            job.callbacks = Callbacks::default();
        }
    }

    /// Whether no live worker is running a task and the task queue is empty.
    pub(super) fn all_idle(&mut self) -> bool {
        self.tasks.qsize() == 0
            && self.workers.iter().all(|w| {
                w.slot()
                    .and_then(|s| self.board.proc(s))
                    .is_none_or(|s| s.current_task.load(Ordering::Relaxed) < 0)
            })
    }

    /// A batch can vanish with a worker killed between taking it and noting
    /// its first task: when everything has been idle for a while and results
    /// are missing, send the missing ones again.
    pub(super) fn resend_vanished(&mut self) {
        if self.sent.is_empty() || !self.resend.is_empty() || !self.all_idle() {
            return;
        }
        let lost: Vec<(u64, Sent)> = std::mem::take(&mut self.sent).into_iter().collect();
        for (first, s) in lost {
            self.event(&format!(
                "task {first} vanished with a worker: sending it again"
            ));
            self.stat(STAT_RETRIED).fetch_add(1, Ordering::Relaxed);
            self.queue_missing(first, s.count, None);
        }
    }

    /// Queues to send again the tasks of `[first, first + count)` that have no
    /// result, except `skip`.
    pub(super) fn queue_missing(&mut self, first: u64, count: u64, skip: Option<u64>) {
        let Some((&base, job)) = self.jobs.range(..=first).next_back() else {
            return;
        };
        let mut run: Option<(u64, u64)> = None;
        for g in first..first + count {
            let missing = job
                .results
                .get((g - base) as usize)
                .is_some_and(Option::is_none)
                && Some(g) != skip;
            match (&mut run, missing) {
                (Some(r), true) => r.1 += 1,
                (None, true) => run = Some((g, 1)),
                (Some(_), false) => self.resend.extend(run.take()),
                (None, false) => {}
            }
        }
        self.resend.extend(run);
    }

    /// Finds workers that ended, starts a replacement for each, and deals
    /// with the task a dead one was running.
    pub(super) fn check_workers(&mut self) -> Result<(), PoolError> {
        if self.terminated {
            return Ok(());
        }
        for i in 0..self.workers.len() {
            if self.workers[i].is_alive() {
                continue;
            }
            let slot = self.workers[i].slot().and_then(|s| self.board.proc(s));
            let task = slot.map_or(-1, |s| s.current_task.load(Ordering::Relaxed));
            let ran = slot.map_or(0, |s| s.tasks_done.load(Ordering::Relaxed));
            let code = self.workers[i].exitcode().unwrap_or(0);
            if code == EXIT_INIT_FAILED && ran == 0 {
                return Err(PoolError::Initializer(code));
            }
            // All it could tell is read: a full board may give its slot to
            // the replacement (the Log keeps what happened).
            if let Some(s) = self.workers[i].slot() {
                self.board.release_proc(s);
            }
            let name = Pool::successor_name(self.workers[i].name());
            let replacement = self.start_worker((i + 1) as u32, Some(name))?;
            let new_pid = replacement.pid().map_or(0, |p| p.as_raw());
            let old = std::mem::replace(&mut self.workers[i], replacement);
            let old_pid = old.pid().map_or(0, |p| p.as_raw());
            self.stat(STAT_REPLACED).fetch_add(1, Ordering::Relaxed);
            if code == 0 && task < 0 {
                let limit = self.opts.maxtasksperchild;
                self.event(&format!(
                    "{} (pid {old_pid}) retired after {limit} batches (maxtasksperchild={limit}); replacement started (pid {new_pid})",
                    old.name()
                ));
            } else {
                let how = match nix::sys::signal::Signal::try_from(-code) {
                    Ok(sig) if code < 0 => sig.as_str().to_string(),
                    _ => format!("exit {code}"),
                };
                let died = format!("{} (pid {old_pid}) died ({how})", old.name());
                let what = if task >= 0 {
                    self.lost_task(task as u64, &died)
                } else {
                    String::new()
                };
                self.event(&format!(
                    "{died}{what}; replacement started (pid {new_pid})"
                ));
            }
            self.gone.push(old);
        }
        Ok(())
    }

    /// The task `g` died with its worker: run it again or fail it, and send
    /// the rest of its batch again. Returns what was done, for the event line.
    pub(super) fn lost_task(&mut self, g: u64, died: &str) -> String {
        let Some((&b, &s)) = self.sent.range(..=g).next_back() else {
            return String::new();
        };
        if g >= b + s.count {
            return String::new();
        }
        self.sent.remove(&b);
        self.stat(STAT_LOST).fetch_add(1, Ordering::Relaxed);
        let tries = self.deaths.entry(g).or_insert(0);
        *tries += 1;
        let tries = *tries;
        let give_up = self.opts.on_worker_death == OnDeath::Fail || tries > self.opts.retries;
        let what = if give_up {
            if let Some((&base, job)) = self.jobs.range_mut(..=g).next_back()
                && let Some(cell @ None) = job.results.get_mut((g - base) as usize)
            {
                *cell = Some(Err(TaskError::WorkerDied(format!(
                    "{died} while running this task ({} time{})",
                    tries,
                    if tries == 1 { "" } else { "s" }
                ))));
                job.done += 1;
                job.arrived.push_back((g - base) as usize);
                let complete = job.complete().then_some(base);
                self.stat(STAT_DONE).fetch_add(1, Ordering::Relaxed);
                self.stat(STAT_FAILED).fetch_add(1, Ordering::Relaxed);
                self.finish_jobs(&complete.into_iter().collect::<Vec<_>>());
            }
            format!(" while running task {g}: failing it")
        } else {
            self.stat(STAT_RETRIED).fetch_add(1, Ordering::Relaxed);
            format!(" while running task {g}: retrying it")
        };
        self.queue_missing(b, s.count, give_up.then_some(g));
        what
    }
}
