//! Waiting for a job's results: `ready`, `wait`, `outcomes`, `get` (CPython's
//! `AsyncResult`), and the iterator `imap` and `imap_unordered` return.

use std::time::{Duration, Instant};

use super::*;
use crate::board::{WaitNote, WaitOp};

impl Pool {
    /// `AsyncResult.ready()`.
    pub fn ready(&self, job: JobId) -> bool {
        self.jobs.get(&job.0).is_none_or(Job::complete)
    }

    /// `AsyncResult.wait(timeout)`: whether the job is complete.
    pub fn wait(&mut self, job: JobId, timeout: Option<Duration>) -> Result<bool, PoolError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let board = self.board.clone();
        let mut note =
            WaitNote::new(&board, WaitOp::PoolResult, Some(self.res), 0).timeout(timeout);
        loop {
            if self.ready(job) {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return Ok(false);
            }
            note.sleeping(self.tasks_left(job) as i64);
            self.pump(left.unwrap_or(CHECK_EVERY))?;
        }
    }

    /// Tasks of `job` without a result yet.
    pub fn tasks_left(&self, job: JobId) -> usize {
        self.jobs
            .get(&job.0)
            .map_or(0, |j| j.results.len().saturating_sub(j.done))
    }

    /// Every task's outcome, in order, once the job is complete.
    pub fn outcomes(
        &mut self,
        job: JobId,
        timeout: Option<Duration>,
    ) -> Result<Vec<Outcome>, PoolError> {
        if !self.wait(job, timeout)? {
            return Err(PoolError::Timeout);
        }
        let j = self.jobs.remove(&job.0).ok_or(PoolError::NoJob)?;
        Ok(j.results.into_iter().flatten().collect())
    }

    /// `AsyncResult.get(timeout)`: the values, or the first failed task's error.
    pub fn get(&mut self, job: JobId, timeout: Option<Duration>) -> Result<Vec<i64>, PoolError> {
        let (func, items) = match self.jobs.get(&job.0) {
            Some(j) => (j.func, j.items.clone()),
            None => return Err(PoolError::NoJob),
        };
        let outcomes = self.outcomes(job, timeout)?;
        outcomes
            .into_iter()
            .enumerate()
            .map(|(index, o)| {
                o.map_err(|error| PoolError::Task {
                    index,
                    call: items.call_text(func, index),
                    error,
                })
            })
            .collect()
    }
}

/// The iterator `imap` and `imap_unordered` return: each task's index and outcome.
pub struct Imap<'a> {
    pub(super) pool: &'a mut Pool,
    pub(super) job: JobId,
    pub(super) next: usize,
    pub(super) ordered: bool,
}

impl Iterator for Imap<'_> {
    type Item = Result<(usize, Outcome), PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        let board = self.pool.board.clone();
        let mut note = WaitNote::new(&board, WaitOp::PoolResult, Some(self.pool.res), 0);
        loop {
            let job = self.pool.jobs.get_mut(&self.job.0)?;
            if self.next >= job.results.len() {
                self.pool.jobs.remove(&self.job.0);
                return None;
            }
            let ready = if self.ordered {
                job.results[self.next].clone().map(|o| (self.next, o))
            } else {
                job.arrived.pop_front().map(|i| {
                    (
                        i,
                        job.results[i].clone().unwrap_or(Err(TaskError::Terminated)),
                    )
                })
            };
            if let Some(r) = ready {
                self.next += 1;
                return Some(Ok(r));
            }
            note.sleeping(self.pool.tasks_left(self.job) as i64);
            if let Err(e) = self.pool.pump(CHECK_EVERY) {
                return Some(Err(e));
            }
        }
    }
}
