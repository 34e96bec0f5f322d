//! Facts about runs, gathered off the UI thread: one observer turns a run
//! into snapshots (board and `/proc` samples, the probe's overlay, waits and
//! the stuck diagnosis),
//! discovery of foreign process trees, memory, trace recording, statistics,
//! and the labels every view shares.

pub mod board_view;
pub mod discovery;
pub mod escapes;
pub mod labels;
pub mod memory;
pub mod observer;
pub mod probe;
pub mod proc_stat;
pub mod sampler;
pub mod snapshot;
pub mod stacks;
pub mod stats;
pub mod trace;
pub mod waits;
