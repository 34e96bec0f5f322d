//! `mpdash bench …`: figures for the targets, printed, never asserted in tests.

pub mod ipc;
pub mod manager_rt;
pub mod pool;
pub mod start;
pub mod stuck;
pub mod ui;

pub use crate::telemetry::stats::quantile;
