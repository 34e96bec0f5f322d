//! The objects a manager holds and what each method does to them: Python's
//! semantics for dict, list, Namespace, Value, Queue, Lock and Event.

use std::collections::VecDeque;

use super::protocol::*;
use crate::pyvalue::PyValue;

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

/// What a call answers: `Ok(Some(v))`, or `Ok(None)` for a blocking call
/// that cannot proceed yet.
type Answer = Result<Option<PyValue>, RemoteError>;

/// The calls' arguments, with CPython's error for a missing one.
struct Args<'a> {
    m: Method,
    args: &'a [PyValue],
}

impl Args<'_> {
    fn get(&self, i: usize) -> Result<PyValue, RemoteError> {
        self.args.get(i).cloned().ok_or_else(|| {
            remote(
                "TypeError",
                format!("{}() missing argument {}", self.m.name(), i + 1),
            )
        })
    }

    /// A dict key: hashable, as CPython requires.
    fn key(&self, i: usize) -> Result<PyValue, RemoteError> {
        let k = self.get(i)?;
        match k.unhashable_part() {
            Some(part) => Err(remote(
                "TypeError",
                format!("unhashable type: '{}'", part.type_name()),
            )),
            None => Ok(k),
        }
    }
}

fn done(v: PyValue) -> Answer {
    Ok(Some(v))
}

/// One call. `Ok(None)`: a blocking call that cannot proceed yet.
pub(super) fn call(o: &mut Obj, conn: u64, m: Method, args: &[PyValue]) -> Answer {
    let a = Args { m, args };
    match (o, m) {
        (o, Method::Repr) => done(PyValue::Str(o.repr())),
        (o, Method::Len) => done(PyValue::Int(o.len() as i64)),
        (Obj::Dict(d), m) => dict_call(d, m, &a),
        (Obj::List(l), m) => list_call(l, m, &a),
        (Obj::Namespace(n), m) => namespace_call(n, m, &a),
        (Obj::Value(v), Method::Copy) => done(v.clone()),
        (Obj::Value(v), Method::SetValue) => {
            *v = a.get(0)?;
            done(PyValue::None)
        }
        (Obj::Queue(q), m) => queue_call(q, m, &a),
        (Obj::Lock(h), m) => lock_call(h, conn, m),
        (Obj::Event(e), m) => event_call(e, m),
        (o, m) => Err(no_method(o, m)),
    }
}

fn no_method(o: &Obj, m: Method) -> RemoteError {
    let kind = match o {
        Obj::Dict(_) => "dict",
        Obj::List(_) => "list",
        Obj::Namespace(_) => "Namespace",
        Obj::Value(_) => "Value",
        Obj::Queue(_) => "Queue",
        Obj::Lock(_) => "Lock",
        Obj::Event(_) => "Event",
    };
    remote(
        "AttributeError",
        format!("'{kind}' object has no method {}", m.name()),
    )
}

fn dict_call(d: &mut Vec<(PyValue, PyValue)>, m: Method, a: &Args) -> Answer {
    let find = |d: &[(PyValue, PyValue)], k: &PyValue| d.iter().position(|(x, _)| same_key(x, k));
    match m {
        Method::Copy => done(PyValue::Dict(d.clone())),
        Method::GetItem => {
            let k = a.key(0)?;
            let i = find(d, &k).ok_or_else(|| remote("KeyError", k.to_string()))?;
            done(d[i].1.clone())
        }
        Method::Get => {
            let k = a.key(0)?;
            done(match find(d, &k) {
                Some(i) => d[i].1.clone(),
                None => a.args.get(1).cloned().unwrap_or(PyValue::None),
            })
        }
        Method::SetItem => {
            let (k, v) = (a.key(0)?, a.get(1)?);
            match find(d, &k) {
                Some(i) => d[i].1 = v,
                None => d.push((k, v)),
            }
            done(PyValue::None)
        }
        Method::DelItem => {
            let k = a.key(0)?;
            let i = find(d, &k).ok_or_else(|| remote("KeyError", k.to_string()))?;
            d.remove(i);
            done(PyValue::None)
        }
        Method::Keys => done(PyValue::List(d.iter().map(|(k, _)| k.clone()).collect())),
        m => Err(no_method(&Obj::Dict(Vec::new()), m)),
    }
}

fn list_call(l: &mut Vec<PyValue>, m: Method, a: &Args) -> Answer {
    match m {
        Method::Copy => done(PyValue::List(l.clone())),
        Method::GetItem => done(l[index(l, &a.get(0)?)?].clone()),
        Method::SetItem => {
            let i = index(l, &a.get(0)?)?;
            l[i] = a.get(1)?;
            done(PyValue::None)
        }
        Method::DelItem => {
            let i = index(l, &a.get(0)?)?;
            l.remove(i);
            done(PyValue::None)
        }
        Method::Append => {
            l.push(a.get(0)?);
            done(PyValue::None)
        }
        Method::Reverse => {
            l.reverse();
            done(PyValue::None)
        }
        Method::Pop => match l.pop() {
            Some(v) => done(v),
            None => Err(remote("IndexError", "pop from empty list")),
        },
        m => Err(no_method(&Obj::List(Vec::new()), m)),
    }
}

fn namespace_call(n: &mut Vec<(String, PyValue)>, m: Method, a: &Args) -> Answer {
    let name = || match a.get(0)? {
        PyValue::Str(k) => Ok(k),
        _ => Err(remote("TypeError", "attribute name must be a string")),
    };
    match m {
        Method::GetAttr => {
            let k = name()?;
            let v = n.iter().find(|(x, _)| *x == k).map(|(_, v)| v.clone());
            v.map(Some).ok_or_else(|| {
                remote(
                    "AttributeError",
                    format!("'Namespace' object has no attribute '{k}'"),
                )
            })
        }
        Method::SetAttr => {
            let (k, v) = (name()?, a.get(1)?);
            match n.iter_mut().find(|(x, _)| *x == k) {
                Some(e) => e.1 = v,
                None => n.push((k, v)),
            }
            done(PyValue::None)
        }
        m => Err(no_method(&Obj::Namespace(Vec::new()), m)),
    }
}

fn queue_call(q: &mut VecDeque<PyValue>, m: Method, a: &Args) -> Answer {
    match m {
        Method::Put => {
            q.push_back(a.get(0)?);
            done(PyValue::None)
        }
        Method::Take => Ok(q.pop_front()),
        Method::QSize => done(PyValue::Int(q.len() as i64)),
        m => Err(no_method(&Obj::Queue(VecDeque::new()), m)),
    }
}

fn lock_call(holder: &mut Option<u64>, conn: u64, m: Method) -> Answer {
    match (m, &holder) {
        (Method::Acquire, Some(_)) => Ok(None),
        (Method::Acquire, None) => {
            *holder = Some(conn);
            done(PyValue::Bool(true))
        }
        (Method::Release, Some(_)) => {
            *holder = None;
            done(PyValue::None)
        }
        (Method::Release, None) => Err(remote("RuntimeError", "release unlocked lock")),
        (m, _) => Err(no_method(&Obj::Lock(None), m)),
    }
}

fn event_call(e: &mut bool, m: Method) -> Answer {
    match m {
        Method::Set => {
            *e = true;
            done(PyValue::None)
        }
        Method::Clear => {
            *e = false;
            done(PyValue::None)
        }
        Method::IsSet => done(PyValue::Bool(*e)),
        Method::Wait if *e => done(PyValue::Bool(true)),
        Method::Wait => Ok(None),
        m => Err(no_method(&Obj::Event(false), m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> PyValue {
        PyValue::parse(s).unwrap()
    }

    #[test]
    fn dict_and_list_semantics() {
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
        // Unhashable keys are CPython's TypeError, not stored.
        for k in ["[1]", "{}", "(1, [2])"] {
            let e = call(&mut d, 1, Method::SetItem, &[lit(k), lit("1")]).unwrap_err();
            assert_eq!(e.kind, "TypeError", "{k}");
        }
        let e = call(&mut d, 1, Method::GetItem, &[lit("(1, [2])")]).unwrap_err();
        assert_eq!(e.to_string(), "TypeError: unhashable type: 'list'");
        assert_eq!(d.repr(), "{1: 'one', '2': 2, 0.25: None}");
    }

    #[test]
    fn blocking_calls_wait_until_they_can() {
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
