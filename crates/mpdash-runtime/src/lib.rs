//! The runtime: `multiprocessing`'s vocabulary in Rust, with real processes
//! and shared memory — a library of its own. It knows nothing of scenarios
//! or the screen, and prints nothing: faults go to the [`registry::Reporter`]
//! the program chose.
//!
//! A program that uses it calls [`init`] first thing in `main`: a spawned
//! child is a fresh exec of the same program, and `init` is where it turns
//! into that child instead of running `main`.

#[allow(unsafe_code)]
pub mod board;
#[allow(unsafe_code)]
pub mod manager;
pub mod pipe;
pub mod plan;
pub mod pool;
#[allow(unsafe_code)]
pub mod process;
pub mod pyvalue;
#[allow(unsafe_code)]
pub mod queue;
pub mod registry;
#[allow(unsafe_code)]
pub mod shared_value;
#[allow(unsafe_code)]
pub mod shm;
#[allow(unsafe_code)]
pub mod sync;
#[allow(unsafe_code)]
pub mod sys;

use registry::Registry;

/// Installs the program's registry (with the runtime's own entry points:
/// pool worker, manager server, fork server, and the `__spawn` mode) and
/// runs the hidden mode `argv[1]` names, if any, then exits: a spawned child
/// (`argv[1]` is [`process::SPAWN_ARG`]) or one of the program's own modes
/// ([`Registry::mode`]). Call it first thing in `main`, before anything else
/// is set up. Later calls do nothing.
pub fn init(reg: Registry) {
    let t_first = sys::now_ns();
    registry::install(
        reg.entry(pool::WORKER_ENTRY, pool::worker_entry)
            .entry(manager::SERVER_ENTRY, manager::entry)
            .entry(process::forkserver::ENTRY, process::forkserver::entry)
            .entry(registry::EXIT_ENTRY, |_, _| 0)
            .mode(process::SPAWN_ARG, |t, args| {
                process::spawn_entry(t, args.first().map_or("", String::as_str))
            }),
    );
    let mut args = std::env::args_os();
    let (Some(_), Some(kind)) = (args.next(), args.next()) else {
        return;
    };
    let Some(mode) = kind
        .to_str()
        .and_then(|k| registry::registry().find_mode(k))
    else {
        return;
    };
    let rest = args.filter_map(|a| a.into_string().ok()).collect();
    let code = mode(t_first, rest);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    sys::exit_now(code);
}
