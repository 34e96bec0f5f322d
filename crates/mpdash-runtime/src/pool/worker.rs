//! A pool worker process: takes batches off the task queue, notes each task
//! on its board slot before running it (so a death names the lost task), and
//! puts the results back.

use std::sync::atomic::Ordering;

use super::wire::{ERROR_MAX, MSG_MAX, decode_batch, start_results};
use super::{EXIT_INIT_FAILED, WorkerConfig};
use crate::board::{Board, ProcSlot};
use crate::process::{EXIT_DATAERR, EXIT_SOFTWARE};
use crate::queue::Queue;
use crate::registry::{Child, MAX_ARITY, registry, report};

/// The pool worker's entry point name.
pub const WORKER_ENTRY: &str = "pool worker";

/// Entry point of a pool worker process: its [`WorkerConfig`] is the argument.
pub fn worker_entry(child: Child<'_>, arg: &serde_json::Value) -> i32 {
    match serde_json::from_value::<WorkerConfig>(arg.clone()) {
        Ok(cfg) => worker_main(child.board, child.slot, &cfg),
        Err(_) => EXIT_DATAERR,
    }
}

/// A worker's loop: take a batch, note each task on the slot before running
/// it, send the results (in several messages when they do not fit one). An
/// empty message means "stop". Exits after `maxtasks` batches when set.
pub fn worker_main(board: &Board, slot: &ProcSlot, cfg: &WorkerConfig) -> i32 {
    let (Ok(tasks), Ok(results)) = (
        Queue::attach(board, cfg.tasks),
        Queue::attach(board, cfg.results),
    ) else {
        return EXIT_SOFTWARE;
    };
    if let Some((name, args)) = &cfg.initializer {
        let outcome = match registry().function_by_name(name) {
            Some(f) => (f.call)(args).map_err(|e| e.to_string()),
            None => Err(format!("{name} is not registered")),
        };
        if let Err(e) = outcome {
            report(&format!("pool worker initializer {name}: {e}"));
            return EXIT_INIT_FAILED;
        }
    }
    let mut out = Vec::with_capacity(MSG_MAX);
    let mut args = [0i64; MAX_ARITY];
    let mut batches = 0u64;
    loop {
        if cfg.maxtasks > 0 && batches >= cfg.maxtasks {
            return 0;
        }
        let Ok(msg) = tasks.get(None) else {
            return EXIT_SOFTWARE;
        };
        if msg.is_empty() {
            return 0;
        }
        let Some(b) = decode_batch(&msg).filter(|b| b.arity <= MAX_ARITY) else {
            return EXIT_DATAERR;
        };
        let mut start = b.first;
        start_results(&mut out, start);
        for k in 0..b.count {
            let id = b.first + k;
            slot.current_task.store(id as i64, Ordering::Relaxed);
            let args = &mut args[..b.arity];
            b.args_of(k, args);
            let r = (b.func.call)(args);
            let need = match &r {
                Ok(_) => 9,
                Err(e) => 3 + e.message.len().min(ERROR_MAX),
            };
            if out.len() + need > MSG_MAX {
                if results.put(&out, None).is_err() {
                    return EXIT_SOFTWARE;
                }
                start = id;
                start_results(&mut out, start);
            }
            match r {
                Ok(v) => {
                    out.push(0);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Err(e) => {
                    let mut n = e.message.len().min(ERROR_MAX);
                    while !e.message.is_char_boundary(n) {
                        n -= 1;
                    }
                    let e = &e.message.as_bytes()[..n];
                    out.push(1);
                    out.extend_from_slice(&(e.len() as u16).to_le_bytes());
                    out.extend_from_slice(e);
                }
            }
            let n = (id + 1 - start) as u32;
            out[8..12].copy_from_slice(&n.to_le_bytes());
            slot.tasks_done.fetch_add(1, Ordering::Relaxed);
        }
        if results.put(&out, None).is_err() {
            return EXIT_SOFTWARE;
        }
        slot.current_task.store(-1, Ordering::Relaxed);
        batches += 1;
    }
}
