//! What children can run, by name: entry points (the pool worker, the manager
//! server, the fork server, and whatever the program using the runtime adds)
//! and the functions a [`Pool`](super::pool::Pool) maps.
//!
//! A spawned child is a fresh exec of the same program, so it cannot be handed
//! a closure or a pointer: it is told a *name*, and finds the code under that
//! name in the registry the program built at the top of `main` with
//! [`init`](super::init). Fork and fork-server children inherit the registry
//! with the rest of their parent's memory.
//!
//! ```no_run
//! use mpdash_runtime::registry::{Function, Raised, Registry};
//!
//! fn cube(args: &[i64]) -> Result<i64, Raised> {
//!     args[0].checked_pow(3).ok_or_else(|| Raised::new("OverflowError: cube"))
//! }
//! static CUBE: Function = Function { name: "cube", signature: "cube(x)", arity: 1, call: cube };
//!
//! fn main() {
//!     mpdash_runtime::init(Registry::new().function(&CUBE));
//!     // … a Pool can now map &CUBE under fork, spawn and forkserver.
//! }
//! ```

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::board::{Board, ProcSlot, StartMethod};

/// What a child runs: an entry point by name and its argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub entry: String,
    /// The entry's own argument (it decodes it), e.g. a pool worker's queues.
    #[serde(default)]
    pub arg: serde_json::Value,
}

impl Target {
    /// The entry `entry` with `arg` (anything serde can write).
    pub fn new(entry: &str, arg: impl Serialize) -> Target {
        Target {
            entry: entry.to_string(),
            arg: serde_json::to_value(arg).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Exits at once with status 0 (start-latency benchmarks).
    pub fn exit() -> Target {
        Target::new(EXIT_ENTRY, ())
    }
}

/// The entry point that exits at once.
pub const EXIT_ENTRY: &str = "exit";

/// What a child's entry point is given.
pub struct Child<'a> {
    pub board: &'a Board,
    pub slot: &'a ProcSlot,
    pub name: &'a str,
    pub method: StartMethod,
    /// Index within its group (`pool worker {index}`).
    pub index: u32,
    /// Fds handed to the child by name (see `Process::pass_fd`).
    pub fds: HashMap<String, OwnedFd>,
    /// The fork server's socket, for the fork server only.
    pub extra: Option<OwnedFd>,
}

/// An entry point: runs in the child, returns its exit status.
pub type EntryFn = fn(Child<'_>, &serde_json::Value) -> i32;

/// A Python-style exception raised by a task: its text, e.g.
/// `ValueError: fail(3)`. The pool carries it back to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Raised {
    pub message: String,
}

impl Raised {
    pub fn new(message: impl Into<String>) -> Raised {
        Raised {
            message: message.into(),
        }
    }
}

/// A function a pool maps: integer arguments in, an integer or an exception out.
#[derive(Debug)]
pub struct Function {
    /// The name it is registered and sent under.
    pub name: &'static str,
    /// How it is written in messages: `primes(lo, hi)`.
    pub signature: &'static str,
    /// How many arguments one call takes (at most [`MAX_ARITY`]).
    pub arity: usize,
    pub call: fn(&[i64]) -> Result<i64, Raised>,
}

/// Most arguments a pool function may take.
pub const MAX_ARITY: usize = 4;

/// Where the runtime's processes report what they do about faults (a refused
/// manager peer, a failing pool initializer). The runtime prints nothing.
pub type Reporter = fn(&str);

/// A hidden mode of the program (`argv[1]` is its name): given the time of
/// the process's first instruction (CLOCK_MONOTONIC ns) and the arguments
/// after the name, returns the exit status.
pub type ModeFn = fn(u64, Vec<String>) -> i32;

/// Entry points, hidden modes and pool functions by name, built once at the
/// top of `main`.
#[derive(Default)]
pub struct Registry {
    entries: Vec<(&'static str, EntryFn)>,
    modes: Vec<(&'static str, ModeFn)>,
    functions: Vec<&'static Function>,
    reporter: Option<Reporter>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds an entry point children can be started on.
    pub fn entry(mut self, name: &'static str, f: EntryFn) -> Registry {
        self.entries.retain(|(n, _)| *n != name);
        self.entries.push((name, f));
        self
    }

    /// Adds a hidden mode: when `argv[1]` is `arg`, [`init`](super::init)
    /// runs `f` instead of returning to `main`, and exits with its status.
    /// Every internal way of starting the program goes through here (the
    /// runtime's own `__spawn` too), so none is dispatched by hand.
    pub fn mode(mut self, arg: &'static str, f: ModeFn) -> Registry {
        self.modes.retain(|(n, _)| *n != arg);
        self.modes.push((arg, f));
        self
    }

    pub fn find_mode(&self, arg: &str) -> Option<ModeFn> {
        self.modes.iter().find(|(n, _)| *n == arg).map(|e| e.1)
    }

    /// Adds a function pools can map.
    pub fn function(mut self, f: &'static Function) -> Registry {
        if !self.functions.iter().any(|g| g.name == f.name) {
            self.functions.push(f);
        }
        self
    }

    /// Where fault reports go (nowhere by default).
    pub fn reporter(mut self, r: Reporter) -> Registry {
        self.reporter = Some(r);
        self
    }

    pub fn find_entry(&self, name: &str) -> Option<EntryFn> {
        self.entries.iter().find(|(n, _)| *n == name).map(|e| e.1)
    }

    /// The function's number, as it travels in task messages.
    pub fn function_code(&self, f: &Function) -> Option<u16> {
        self.functions
            .iter()
            .position(|g| std::ptr::eq(*g, f) || g.name == f.name)
            .map(|i| i as u16)
    }

    pub fn function_by_code(&self, code: u16) -> Option<&'static Function> {
        self.functions.get(code as usize).copied()
    }

    pub fn function_by_name(&self, name: &str) -> Option<&'static Function> {
        self.functions.iter().find(|f| f.name == name).copied()
    }
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Installs the registry; the first call wins.
pub(crate) fn install(reg: Registry) {
    let _ = REGISTRY.set(reg);
}

/// The registry `init` installed (an empty one before that).
pub fn registry() -> &'static Registry {
    static EMPTY: OnceLock<Registry> = OnceLock::new();
    REGISTRY
        .get()
        .unwrap_or_else(|| EMPTY.get_or_init(Registry::new))
}

/// Reports a fault through the registry's reporter, if any.
pub fn report(line: &str) {
    if let Some(r) = registry().reporter {
        r(line);
    }
}
