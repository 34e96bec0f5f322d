//! What travels between a manager's clients and its server: the kinds of
//! object, the methods, typed requests and responses, remote errors.

use serde::{Deserialize, Serialize};

use crate::pyvalue::PyValue;

/// The kinds of object a manager holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum ObjKind {
    Dict = 1,
    List = 2,
    Namespace = 3,
    Value = 4,
    Queue = 5,
    Lock = 6,
    Event = 7,
}

impl ObjKind {
    pub const ALL: [ObjKind; 7] = [
        ObjKind::Dict,
        ObjKind::List,
        ObjKind::Namespace,
        ObjKind::Value,
        ObjKind::Queue,
        ObjKind::Lock,
        ObjKind::Event,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ObjKind::Dict => "dict",
            ObjKind::List => "list",
            ObjKind::Namespace => "Namespace",
            ObjKind::Value => "Value",
            ObjKind::Queue => "Queue",
            ObjKind::Lock => "Lock",
            ObjKind::Event => "Event",
        }
    }

    pub fn parse(s: &str) -> Option<ObjKind> {
        ObjKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
    }

    pub fn from_u32(v: u32) -> Option<ObjKind> {
        ObjKind::ALL.get((v as usize).checked_sub(1)?).copied()
    }
}

/// The methods proxies call. Their index is their row in the board's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `repr(obj)`.
    Repr,
    /// The whole value (`dict(d)`, `list(l)`, `v.value`).
    Copy,
    Len,
    GetItem,
    SetItem,
    DelItem,
    /// `d.get(key, default)`.
    Get,
    Keys,
    Append,
    Reverse,
    Pop,
    GetAttr,
    SetAttr,
    SetValue,
    Put,
    Take,
    QSize,
    Acquire,
    Release,
    Set,
    Clear,
    Wait,
    IsSet,
}

impl Method {
    pub const ALL: [Method; 23] = [
        Method::Repr,
        Method::Copy,
        Method::Len,
        Method::GetItem,
        Method::SetItem,
        Method::DelItem,
        Method::Get,
        Method::Keys,
        Method::Append,
        Method::Reverse,
        Method::Pop,
        Method::GetAttr,
        Method::SetAttr,
        Method::SetValue,
        Method::Put,
        Method::Take,
        Method::QSize,
        Method::Acquire,
        Method::Release,
        Method::Set,
        Method::Clear,
        Method::Wait,
        Method::IsSet,
    ];
    pub const COUNT: usize = Method::ALL.len();

    /// Python's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Repr => "__repr__",
            Method::Copy => "_getvalue",
            Method::Len => "__len__",
            Method::GetItem => "__getitem__",
            Method::SetItem => "__setitem__",
            Method::DelItem => "__delitem__",
            Method::Get => "get",
            Method::Keys => "keys",
            Method::Append => "append",
            Method::Reverse => "reverse",
            Method::Pop => "pop",
            Method::GetAttr => "__getattr__",
            Method::SetAttr => "__setattr__",
            Method::SetValue => "set",
            Method::Put => "put",
            Method::Take => "get",
            Method::QSize => "qsize",
            Method::Acquire => "acquire",
            Method::Release => "release",
            Method::Set => "set",
            Method::Clear => "clear",
            Method::Wait => "wait",
            Method::IsSet => "is_set",
        }
    }

    pub(super) fn index(self) -> usize {
        Method::ALL.iter().position(|&m| m == self).unwrap_or(0)
    }

    /// By its Rust name (`set_item`) or Python's (`__setitem__`); `get` is the
    /// dict's, `take` the queue's.
    pub fn parse(s: &str) -> Option<Method> {
        let snake = serde_json::to_string(&s).ok()?;
        serde_json::from_str::<Method>(&snake)
            .ok()
            .or_else(|| Method::ALL.into_iter().find(|m| m.name() == s))
    }
}

/// What a client asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Make an object (`manager.dict()`); `init` is its first value.
    Create {
        kind: ObjKind,
        name: String,
        init: Option<PyValue>,
    },
    /// Find an object by name.
    Lookup { name: String },
    Call {
        id: u32,
        method: Method,
        args: Vec<PyValue>,
        timeout_ms: Option<u64>,
    },
    /// Stop the server (`manager.shutdown()`).
    Shutdown,
}

/// What the server answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Value(PyValue),
    Object { id: u32, kind: ObjKind },
    Error(RemoteError),
}

/// An error raised in the server, as Python names it (`KeyError: 'x'`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct RemoteError {
    pub kind: String,
    pub message: String,
}

pub(super) fn remote(kind: &str, message: impl Into<String>) -> RemoteError {
    RemoteError {
        kind: kind.into(),
        message: message.into(),
    }
}
