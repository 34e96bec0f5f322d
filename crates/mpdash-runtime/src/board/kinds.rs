//! What the board says of a process and a resource: its state, its role,
//! its start method, a resource's kind.

use serde::{Deserialize, Serialize};

/// Where a process is in its life, as written on its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum ProcState {
    #[default]
    Free = 0,
    /// The parent asked for it (fork, exec or a request to the fork server).
    Requested = 1,
    /// The child ran its first instruction.
    Started = 2,
    /// The child finished setting up and runs its target.
    Running = 3,
    Exited = 4,
}

impl ProcState {
    pub fn from_u32(v: u32) -> ProcState {
        match v {
            1 => ProcState::Requested,
            2 => ProcState::Started,
            3 => ProcState::Running,
            4 => ProcState::Exited,
            _ => ProcState::Free,
        }
    }
}

/// What a process is for, as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum Role {
    Main = 1,
    Process = 2,
    PoolWorker = 3,
    ForkServer = 4,
    Bench = 5,
    Manager = 6,
    /// A process of a program mpdash only watches (`mpdash watch`).
    Foreign = 7,
    /// A probed Python program's helper that serves no task of its own
    /// (the resource tracker).
    Helper = 8,
}

impl Role {
    pub fn from_u32(v: u32) -> Option<Role> {
        Some(match v {
            1 => Role::Main,
            2 => Role::Process,
            3 => Role::PoolWorker,
            4 => Role::ForkServer,
            5 => Role::Bench,
            6 => Role::Manager,
            7 => Role::Foreign,
            8 => Role::Helper,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Main => "main",
            Role::Process => "process",
            Role::PoolWorker => "pool worker",
            Role::ForkServer => "forkserver",
            Role::Bench => "bench",
            Role::Manager => "manager",
            Role::Foreign => "watched",
            Role::Helper => "helper",
        }
    }
}

/// How a child process is started (CPython's three start methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[repr(u32)]
pub enum StartMethod {
    /// Fork and run: the child is a copy of the parent.
    #[default]
    Fork = 1,
    /// Fork and exec our own binary: the child starts fresh from a spec and fds.
    Spawn = 2,
    /// Ask a server process (started once, with spawn) to fork the child.
    Forkserver = 3,
}

impl StartMethod {
    pub const ALL: [StartMethod; 3] = [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ];

    pub fn from_u32(v: u32) -> Option<StartMethod> {
        Self::ALL.into_iter().find(|m| *m as u32 == v)
    }

    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }

    pub fn parse(s: &str) -> Option<StartMethod> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    pub fn next(self) -> StartMethod {
        match self {
            StartMethod::Fork => StartMethod::Spawn,
            StartMethod::Spawn => StartMethod::Forkserver,
            StartMethod::Forkserver => StartMethod::Fork,
        }
    }
}

impl std::fmt::Display for StartMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a resource slot describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum ResKind {
    Queue = 1,
    Pool = 2,
    Lock = 3,
    RLock = 4,
    Semaphore = 5,
    BoundedSemaphore = 6,
    Condition = 7,
    Event = 8,
    Barrier = 9,
    Value = 10,
    Array = 11,
    Pipe = 12,
    JoinableQueue = 13,
    Manager = 14,
}

impl ResKind {
    pub fn from_u32(v: u32) -> Option<ResKind> {
        use ResKind::*;
        Some(match v {
            1 => Queue,
            2 => Pool,
            3 => Lock,
            4 => RLock,
            5 => Semaphore,
            6 => BoundedSemaphore,
            7 => Condition,
            8 => Event,
            9 => Barrier,
            10 => Value,
            11 => Array,
            12 => Pipe,
            13 => JoinableQueue,
            14 => Manager,
            _ => return None,
        })
    }
}
