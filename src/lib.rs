//! mpdash: a terminal dashboard that makes parallel programs visible.
//!
//! The layers, every arrow pointing down (`../shared/tools/module-cycles`
//! proves it):
//! `cli` (subcommands, the dashboard loop) → `ui` (pure drawing of an `App`)
//! → `app` (state, `Action`, `update`, view models, the key table) →
//! `session` (one run, from a scenario file or a command) and `telemetry`
//! (board and /proc samples, discovery, memory, traces, statistics, labels)
//! → `scenario` (format, checks, the step interpreter) → `runtime` (a
//! library: processes, start methods, board, queue, pipe, sync, values,
//! pool, manager).

pub mod app;
pub mod cli;
pub mod i18n;
pub mod scenario;
pub mod session;
pub mod telemetry;
pub mod ui;

/// The runtime, a crate of its own (`crates/mpdash-runtime`): the compiler
/// keeps it below everything here.
pub use mpdash_runtime as runtime;
