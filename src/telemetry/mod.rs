//! Facts about runs, gathered off the UI thread: board and `/proc` samples,
//! discovery of foreign process trees, memory, trace recording, statistics,
//! and the labels every view shares.

pub mod board_view;
pub mod discovery;
pub mod labels;
pub mod memory;
pub mod probe;
pub mod proc_stat;
pub mod sampler;
pub mod stats;
pub mod trace;
pub mod waits;
