//! mpdash: a terminal dashboard that makes parallel programs visible.
//!
//! The data path is visible in the folders: `runtime` (processes, shared
//! board, queues, pool) → `scenario` (what to run) → `session` (one run of a
//! scenario, watched from outside) → `telemetry` (board + /proc samples) →
//! `app` (state and actions) → `ui` (pure drawing).

pub mod app;
pub mod bench;
pub mod compare;
pub mod headless;
pub mod runtime;
pub mod scaling;
pub mod scenario;
pub mod session;
pub mod telemetry;
pub mod trace;
pub mod ui;
pub mod watch;
