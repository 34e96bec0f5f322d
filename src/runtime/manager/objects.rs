//! The objects a manager holds and what each method does to them: Python's
//! semantics for dict, list, Namespace, Value, Queue, Lock and Event.

use std::collections::VecDeque;

use super::protocol::*;
use crate::runtime::pyvalue::PyValue;

// ---- the server -----------------------------------------------------------

pub(super) enum Obj {
    Dict(Vec<(PyValue, PyValue)>),
    List(Vec<PyValue>),
    Namespace(Vec<(String, PyValue)>),
    Value(PyValue),
    Queue(VecDeque<PyValue>),
    /// The connection holding it.
    Lock(Option<u64>),
    Event(bool),
}

impl Obj {
    pub(super) fn new(kind: ObjKind, init: Option<PyValue>) -> Result<Obj, RemoteError> {
        let bad = |what: &str| remote("TypeError", format!("{} needs {what}", kind.name()));
        Ok(match (kind, init) {
            (ObjKind::Dict, None) => Obj::Dict(Vec::new()),
            (ObjKind::Dict, Some(PyValue::Dict(d))) => Obj::Dict(d),
            (ObjKind::List, None) => Obj::List(Vec::new()),
            (ObjKind::List, Some(PyValue::List(l) | PyValue::Tuple(l))) => Obj::List(l),
            (ObjKind::Namespace, None) => Obj::Namespace(Vec::new()),
            (ObjKind::Value, v) => Obj::Value(v.unwrap_or(PyValue::None)),
            (ObjKind::Queue, None) => Obj::Queue(VecDeque::new()),
            (ObjKind::Lock, None) => Obj::Lock(None),
            (ObjKind::Event, None) => Obj::Event(false),
            (ObjKind::Dict, _) => return Err(bad("a dict literal")),
            (ObjKind::List, _) => return Err(bad("a list literal")),
            _ => return Err(bad("no initial value")),
        })
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Obj::Dict(d) => d.len(),
            Obj::List(l) => l.len(),
            Obj::Namespace(n) => n.len(),
            Obj::Queue(q) => q.len(),
            Obj::Lock(h) => usize::from(h.is_some()),
            Obj::Event(e) => usize::from(*e),
            Obj::Value(_) => 1,
        }
    }

    pub(super) fn repr(&self) -> String {
        match self {
            Obj::Dict(d) => PyValue::Dict(d.clone()).to_string(),
            Obj::List(l) => PyValue::List(l.clone()).to_string(),
            Obj::Namespace(n) => {
                let f: Vec<String> = n.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("Namespace({})", f.join(", "))
            }
            Obj::Value(v) => format!("Value({v})"),
            Obj::Queue(q) => format!("<Queue qsize={}>", q.len()),
            Obj::Lock(h) => format!("<Lock {}>", if h.is_some() { "locked" } else { "unlocked" }),
            Obj::Event(e) => format!("<Event set={}>", if *e { "True" } else { "False" }),
        }
    }
}

/// Python's dict key equality, for the key types literals have (1 == 1.0 == True).
pub(super) fn same_key(a: &PyValue, b: &PyValue) -> bool {
    let num = |v: &PyValue| match v {
        PyValue::Bool(b) => Some(f64::from(u8::from(*b))),
        PyValue::Int(i) => Some(*i as f64),
        PyValue::Float(f) => Some(*f),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

pub(super) fn index(l: &[PyValue], i: &PyValue) -> Result<usize, RemoteError> {
    let PyValue::Int(i) = i else {
        return Err(remote("TypeError", "list indices must be integers"));
    };
    let n = l.len() as i64;
    let j = if *i < 0 { i + n } else { *i };
    if (0..n).contains(&j) {
        Ok(j as usize)
    } else {
        Err(remote("IndexError", "list index out of range"))
    }
}

/// One call. `Ok(None)`: a blocking call that cannot proceed yet.
pub(super) fn call(
    o: &mut Obj,
    conn: u64,
    m: Method,
    args: &[PyValue],
) -> Result<Option<PyValue>, RemoteError> {
    let arg = |i: usize| {
        args.get(i).cloned().ok_or_else(|| {
            remote(
                "TypeError",
                format!("{}() missing argument {}", m.name(), i + 1),
            )
        })
    };
    let v = match (o, m) {
        (o, Method::Repr) => PyValue::Str(o.repr()),
        (o, Method::Len) => PyValue::Int(o.len() as i64),
        (Obj::Dict(d), Method::Copy) => PyValue::Dict(d.clone()),
        (Obj::List(l), Method::Copy) => PyValue::List(l.clone()),
        (Obj::Value(v), Method::Copy) => v.clone(),
        (Obj::Dict(d), Method::GetItem) => {
            let k = arg(0)?;
            d.iter()
                .find(|(x, _)| same_key(x, &k))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| remote("KeyError", k.to_string()))?
        }
        (Obj::Dict(d), Method::Get) => {
            let k = arg(0)?;
            d.iter().find(|(x, _)| same_key(x, &k)).map_or_else(
                || args.get(1).cloned().unwrap_or(PyValue::None),
                |(_, v)| v.clone(),
            )
        }
        (Obj::Dict(d), Method::SetItem) => {
            let (k, v) = (arg(0)?, arg(1)?);
            match d.iter_mut().find(|(x, _)| same_key(x, &k)) {
                Some(e) => e.1 = v,
                None => d.push((k, v)),
            }
            PyValue::None
        }
        (Obj::Dict(d), Method::DelItem) => {
            let k = arg(0)?;
            let i = d
                .iter()
                .position(|(x, _)| same_key(x, &k))
                .ok_or_else(|| remote("KeyError", k.to_string()))?;
            d.remove(i);
            PyValue::None
        }
        (Obj::Dict(d), Method::Keys) => PyValue::List(d.iter().map(|(k, _)| k.clone()).collect()),
        (Obj::List(l), Method::GetItem) => l[index(l, &arg(0)?)?].clone(),
        (Obj::List(l), Method::SetItem) => {
            let i = index(l, &arg(0)?)?;
            l[i] = arg(1)?;
            PyValue::None
        }
        (Obj::List(l), Method::DelItem) => {
            let i = index(l, &arg(0)?)?;
            l.remove(i);
            PyValue::None
        }
        (Obj::List(l), Method::Append) => {
            l.push(arg(0)?);
            PyValue::None
        }
        (Obj::List(l), Method::Reverse) => {
            l.reverse();
            PyValue::None
        }
        (Obj::List(l), Method::Pop) => match l.pop() {
            Some(v) => v,
            None => return Err(remote("IndexError", "pop from empty list")),
        },
        (Obj::Namespace(n), Method::GetAttr) => {
            let PyValue::Str(k) = arg(0)? else {
                return Err(remote("TypeError", "attribute name must be a string"));
            };
            n.iter()
                .find(|(x, _)| *x == k)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    remote(
                        "AttributeError",
                        format!("'Namespace' object has no attribute '{k}'"),
                    )
                })?
        }
        (Obj::Namespace(n), Method::SetAttr) => {
            let PyValue::Str(k) = arg(0)? else {
                return Err(remote("TypeError", "attribute name must be a string"));
            };
            let v = arg(1)?;
            match n.iter_mut().find(|(x, _)| *x == k) {
                Some(e) => e.1 = v,
                None => n.push((k, v)),
            }
            PyValue::None
        }
        (Obj::Value(v), Method::SetValue) => {
            *v = arg(0)?;
            PyValue::None
        }
        (Obj::Queue(q), Method::Put) => {
            q.push_back(arg(0)?);
            PyValue::None
        }
        (Obj::Queue(q), Method::Take) => match q.pop_front() {
            Some(v) => v,
            None => return Ok(None),
        },
        (Obj::Queue(q), Method::QSize) => PyValue::Int(q.len() as i64),
        (Obj::Lock(h), Method::Acquire) => match h {
            Some(_) => return Ok(None),
            None => {
                *h = Some(conn);
                PyValue::Bool(true)
            }
        },
        (Obj::Lock(h), Method::Release) => match h {
            Some(_) => {
                *h = None;
                PyValue::None
            }
            None => return Err(remote("RuntimeError", "release unlocked lock")),
        },
        (Obj::Event(e), Method::Set) => {
            *e = true;
            PyValue::None
        }
        (Obj::Event(e), Method::Clear) => {
            *e = false;
            PyValue::None
        }
        (Obj::Event(e), Method::IsSet) => PyValue::Bool(*e),
        (Obj::Event(e), Method::Wait) => match e {
            true => PyValue::Bool(true),
            false => return Ok(None),
        },
        (o, m) => {
            let kind = match o {
                Obj::Dict(_) => "dict",
                Obj::List(_) => "list",
                Obj::Namespace(_) => "Namespace",
                Obj::Value(_) => "Value",
                Obj::Queue(_) => "Queue",
                Obj::Lock(_) => "Lock",
                Obj::Event(_) => "Event",
            };
            return Err(remote(
                "AttributeError",
                format!("'{kind}' object has no method {}", m.name()),
            ));
        }
    };
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn lit(s: &str) -> PyValue {
        PyValue::parse(s).unwrap()
    }

    #[test]
    pub(super) fn dict_and_list_semantics() {
        let mut d = Obj::new(ObjKind::Dict, None).unwrap();
        for (k, v) in [
            ("1", "'1'"),
            ("'2'", "2"),
            ("0.25", "None"),
            ("1.0", "'one'"),
        ] {
            call(&mut d, 1, Method::SetItem, &[lit(k), lit(v)]).unwrap();
        }
        // 1.0 is the key 1, as in Python.
        assert_eq!(d.repr(), "{1: 'one', '2': 2, 0.25: None}");
        let e = call(&mut d, 1, Method::GetItem, &[lit("'x'")]).unwrap_err();
        assert_eq!(e.to_string(), "KeyError: 'x'");
        let mut l = Obj::new(ObjKind::List, Some(lit("[0, 1, 2]"))).unwrap();
        call(&mut l, 1, Method::Reverse, &[]).unwrap();
        assert_eq!(l.repr(), "[2, 1, 0]");
        assert_eq!(
            call(&mut l, 1, Method::GetItem, &[lit("-1")]).unwrap(),
            Some(lit("0"))
        );
        let e = call(&mut l, 1, Method::SetAttr, &[lit("'a'"), lit("1")]).unwrap_err();
        assert_eq!(e.kind, "AttributeError");
        assert!(Obj::new(ObjKind::Lock, Some(lit("1"))).is_err());
    }

    #[test]
    pub(super) fn blocking_calls_wait_until_they_can() {
        let mut q = Obj::new(ObjKind::Queue, None).unwrap();
        assert_eq!(call(&mut q, 1, Method::Take, &[]).unwrap(), None);
        call(&mut q, 1, Method::Put, &[lit("5")]).unwrap();
        assert_eq!(call(&mut q, 1, Method::Take, &[]).unwrap(), Some(lit("5")));
        let mut lock = Obj::new(ObjKind::Lock, None).unwrap();
        assert_eq!(
            call(&mut lock, 1, Method::Acquire, &[]).unwrap(),
            Some(PyValue::Bool(true))
        );
        assert_eq!(call(&mut lock, 2, Method::Acquire, &[]).unwrap(), None);
    }
}
