//! What a Python thread waits for, read from its stack alone (DESIGN §10):
//! the outermost frame of the standard library's waiting APIs
//! (`multiprocessing`, `threading`, `queue`, `concurrent.futures`) below the
//! program's own first frame names the operation, and that program frame is
//! where it was called. Every frame in between must be the library's, so a
//! thread computing in its own code is never said to wait.

use super::Frame;

/// One waiting API: the file it lives in (a path suffix), its qualified name
/// (CPython 3.11+ gives `co_qualname`), and the operation it is.
struct Api {
    file: &'static str,
    qualname: &'static str,
    op: &'static str,
}

const fn api(file: &'static str, qualname: &'static str, op: &'static str) -> Api {
    Api { file, qualname, op }
}

/// The waiting APIs. Order does not matter: the outermost match wins.
const APIS: &[Api] = &[
    // Locks: `with lock:` goes through SemLock.__enter__ (`lock.acquire()` is
    // the C method itself and leaves no Python frame).
    api(
        "multiprocessing/synchronize.py",
        "SemLock.__enter__",
        "acquire",
    ),
    api(
        "multiprocessing/synchronize.py",
        "Condition.wait",
        "Condition.wait",
    ),
    api(
        "multiprocessing/synchronize.py",
        "Condition.wait_for",
        "Condition.wait",
    ),
    api("multiprocessing/synchronize.py", "Event.wait", "Event.wait"),
    api("threading.py", "Barrier.wait", "Barrier.wait"),
    api("threading.py", "Condition.wait", "Condition.wait"),
    api("threading.py", "Condition.wait_for", "Condition.wait"),
    api("threading.py", "Event.wait", "Event.wait"),
    api("threading.py", "Semaphore.acquire", "acquire"),
    api("threading.py", "Thread.join", "Thread.join"),
    // Queues.
    api("multiprocessing/queues.py", "Queue.get", "get"),
    api("multiprocessing/queues.py", "Queue.put", "put"),
    api("multiprocessing/queues.py", "JoinableQueue.put", "put"),
    api(
        "multiprocessing/queues.py",
        "JoinableQueue.join",
        "queue join",
    ),
    api("multiprocessing/queues.py", "SimpleQueue.get", "get"),
    api("multiprocessing/queues.py", "SimpleQueue.put", "put"),
    // A queue's feeder thread, idle until its own process puts.
    api("multiprocessing/queues.py", "Queue._feed", "queue feeder"),
    api("queue.py", "Queue.get", "get"),
    api("queue.py", "Queue.put", "put"),
    api("queue.py", "Queue.join", "queue join"),
    // Pipes.
    api("multiprocessing/connection.py", "Connection.recv", "recv"),
    api(
        "multiprocessing/connection.py",
        "_ConnectionBase.recv",
        "recv",
    ),
    api(
        "multiprocessing/connection.py",
        "_ConnectionBase.recv_bytes",
        "recv",
    ),
    api(
        "multiprocessing/connection.py",
        "_ConnectionBase.recv_bytes_into",
        "recv",
    ),
    api(
        "multiprocessing/connection.py",
        "_ConnectionBase.send",
        "send",
    ),
    api(
        "multiprocessing/connection.py",
        "_ConnectionBase.send_bytes",
        "send",
    ),
    api(
        "multiprocessing/connection.py",
        "_ConnectionBase.poll",
        "poll",
    ),
    api(
        "multiprocessing/connection.py",
        "Connection.recv_bytes",
        "recv",
    ),
    api(
        "multiprocessing/connection.py",
        "Connection.recv_bytes_into",
        "recv",
    ),
    api("multiprocessing/connection.py", "Connection.send", "send"),
    api(
        "multiprocessing/connection.py",
        "Connection.send_bytes",
        "send",
    ),
    api("multiprocessing/connection.py", "Connection.poll", "poll"),
    api("multiprocessing/connection.py", "wait", "connection wait"),
    api("multiprocessing/connection.py", "Listener.accept", "accept"),
    // Processes.
    api("multiprocessing/process.py", "BaseProcess.join", "join"),
    // Pools.
    api("multiprocessing/pool.py", "ApplyResult.get", "pool result"),
    api("multiprocessing/pool.py", "ApplyResult.wait", "pool result"),
    api(
        "multiprocessing/pool.py",
        "IMapIterator.next",
        "pool result",
    ),
    api("multiprocessing/pool.py", "Pool.map", "pool result"),
    api("multiprocessing/pool.py", "Pool.starmap", "pool result"),
    api("multiprocessing/pool.py", "Pool.apply", "pool result"),
    api("multiprocessing/pool.py", "Pool.join", "pool join"),
    // Managers: every proxy call goes through _callmethod.
    api(
        "multiprocessing/managers.py",
        "BaseProxy._callmethod",
        "manager call",
    ),
    // concurrent.futures.
    api("concurrent/futures/_base.py", "Future.result", "future"),
    api("concurrent/futures/_base.py", "Future.exception", "future"),
    api("concurrent/futures/_base.py", "wait", "futures wait"),
    api(
        "concurrent/futures/_base.py",
        "as_completed",
        "as_completed",
    ),
];

/// Arguments that give a wait a deadline, or make it not block at all: such
/// a wait is no proof of anything (it ends by itself).
const DEADLINE_ARGS: &[&str] = &["timeout"];

/// A wait found in a stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wait {
    /// What it is: `acquire`, `get`, `recv`, `join`, `pool result`…
    pub op: &'static str,
    /// The API frame it was recognised by (`SemLock.__enter__`).
    pub call: String,
    /// The program's own frame that made the call: (short file, line).
    pub at: Option<(String, i32)>,
    /// The API's `self`, an address in the waiting process: an object
    /// inherited through fork has the same one in every process.
    pub object: Option<usize>,
    /// The wait ends by itself (a timeout, `block=False`): no proof.
    pub ends_by_itself: bool,
}

impl Wait {
    /// `q.get() at prog.py:40`-like: `get at prog.py:40`.
    pub fn at_str(&self) -> Option<String> {
        self.at.as_ref().map(|(f, l)| format!("{f}:{l}"))
    }
}

fn matches(a: &Api, f: &Frame) -> bool {
    let file = f.file.replace('\\', "/");
    if !file.ends_with(a.file) {
        return false;
    }
    // `threading.py` must not match `multiprocessing/…threading.py`-like
    // names: the character before the suffix is a separator.
    let pre = file.len() - a.file.len();
    if pre > 0 && !file[..pre].ends_with('/') {
        return false;
    }
    if f.function == a.qualname {
        return true;
    }
    // Before 3.11 py-spy has only the bare name.
    !f.function.contains('.') && a.qualname.rsplit('.').next() == Some(f.function.as_str())
}

/// The wait a thread is in, from its frames (innermost first), or `None`
/// when its innermost frames are not in a known waiting API.
/// The innermost of the program's own frames that belongs to this process:
/// a child started by fork keeps its parent's frames below
/// `BaseProcess._bootstrap` (the `with Pool()` line that forked it), which
/// are not its calls.
pub fn own_frame(frames: &[Frame]) -> Option<usize> {
    let boot = bootstrap(frames);
    frames
        .iter()
        .position(|f| f.own)
        .filter(|&u| boot.is_none_or(|b| u < b))
}

/// Where a multiprocessing child's own frames end (`BaseProcess._bootstrap`):
/// the frames outside it are the forking parent's.
fn bootstrap(frames: &[Frame]) -> Option<usize> {
    frames.iter().position(|f| {
        f.file.ends_with("multiprocessing/process.py")
            && (f.function == "BaseProcess._bootstrap" || f.function == "_bootstrap")
    })
}

/// The loops of a `multiprocessing.Pool`'s own threads in the process that
/// made it: they feed tasks, collect results and replace dead workers, and
/// produce no result by themselves.
const POOL_THREADS: &[&str] = &[
    "Pool._handle_workers",
    "Pool._handle_tasks",
    "Pool._handle_results",
];

/// Which pool thread this is (`Pool._handle_results`), from its frames.
pub fn pool_thread(frames: &[Frame]) -> Option<&'static str> {
    // A worker forked from one of these threads keeps its frames outside
    // its own `_bootstrap`: it is a worker, not the thread.
    let own = &frames[..bootstrap(frames).unwrap_or(frames.len())];
    own.iter().find_map(|f| {
        if !f.file.ends_with("multiprocessing/pool.py") {
            return None;
        }
        POOL_THREADS
            .iter()
            .find(|q| {
                f.function == **q
                    || !f.function.contains('.') && q.ends_with(&format!(".{}", f.function))
            })
            .copied()
    })
}

pub fn wait_of(frames: &[Frame]) -> Option<Wait> {
    // The library frames above the program's first frame (or all of them, for
    // a thread of the library's own, such as a queue's feeder).
    let user = own_frame(frames);
    let lib = &frames[..user.unwrap_or(frames.len())];
    if lib.is_empty() {
        return None;
    }
    // The outermost waiting API among them, and the innermost, which says
    // it is really in a wait (not computing inside the library).
    let mut found: Option<(usize, &Api)> = None;
    for (i, f) in lib.iter().enumerate() {
        if let Some(a) = APIS.iter().find(|a| matches(a, f)) {
            found = Some((i, a));
        }
    }
    let (i, a) = found?;
    let entry = &lib[i];
    let at = user.map(|u| (frames[u].short_file(), frames[u].line));
    let mut ends_by_itself = false;
    let mut object = None;
    if let Some(locals) = &entry.locals {
        for l in locals {
            if l.arg && DEADLINE_ARGS.contains(&l.name.as_str()) {
                ends_by_itself |= l.repr.as_deref().is_some_and(|r| r != "None");
            }
            if l.arg && l.name == "block" {
                ends_by_itself |= l.repr.as_deref() == Some("False");
            }
            if l.arg && l.name == "self" {
                object = Some(l.addr);
            }
        }
    }
    // `Connection.poll()` waits 0 s unless told otherwise.
    if a.op == "poll"
        && entry.locals.as_ref().is_some_and(|ls| {
            !ls.iter()
                .any(|l| l.name == "timeout" && l.repr.as_deref() == Some("None"))
        })
    {
        ends_by_itself = true;
    }
    Some(Wait {
        op: a.op,
        call: entry.function.clone(),
        at,
        object,
        ends_by_itself,
    })
}

/// A bare `lock.acquire()` (or a Semaphore's): the C method leaves no
/// Python frame, so the program's own innermost frame is the call. Its
/// source `line` says so: `NAME.acquire()` (a blocking call: no argument,
/// `True` or `block=True`), with `NAME` a local of that frame when it is a
/// plain name (its address then proves which lock, as `with` does). Any
/// other argument (a timeout, `False`) ends by itself.
pub fn bare_acquire(frames: &[Frame], line: &str) -> Option<Wait> {
    let f = frames.first().filter(|f| f.own)?;
    let code = line.split('#').next().unwrap_or("").trim();
    let at = code.find(".acquire(")?;
    let receiver: String = code[..at]
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if receiver.is_empty() {
        return None;
    }
    let args_start = at + ".acquire(".len();
    let args = code[args_start..].split(')').next().unwrap_or("").trim();
    let blocking = matches!(args, "" | "True" | "block=True" | "blocking=True");
    let object = (!receiver.contains('.'))
        .then(|| {
            f.locals
                .as_ref()?
                .iter()
                .find(|l| l.name == receiver)
                .map(|l| l.addr)
        })
        .flatten();
    Some(Wait {
        op: "acquire",
        call: format!("{receiver}.acquire"),
        at: Some((f.short_file(), f.line)),
        object,
        ends_by_itself: !blocking,
    })
}

/// Is this file the program's own (not the standard library, not an
/// installed package, not frozen or generated code)?
pub fn is_own_file(path: &str) -> bool {
    let p = path.replace('\\', "/");
    !(p.is_empty()
        || p.starts_with('<')
        // mpdash's own probe, in its private directory.
        || p.contains("/_mpdash_probe/")
        || p.contains("/mpdash-probe-")
        || p.contains("/site-packages/")
        || p.contains("/dist-packages/")
        || is_stdlib(&p))
}

/// `…/lib/python3.11/…` or `…/lib/python3.14t/…`, but not the same path's
/// `site-packages`, which is checked before.
fn is_stdlib(p: &str) -> bool {
    p.split('/')
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| (w[0] == "lib" || w[0] == "lib64") && w[1].starts_with("python"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::stacks::Local;

    fn frame(function: &str, file: &str, line: i32) -> Frame {
        Frame {
            function: function.into(),
            file: file.into(),
            line,
            own: is_own_file(file),
            locals: None,
        }
    }

    const LIB: &str = "/usr/lib/python3.11";

    #[test]
    fn own_files_are_not_the_stdlib_nor_packages() {
        assert!(is_own_file("/home/me/prog.py"));
        assert!(is_own_file("prog.py"));
        assert!(!is_own_file("/usr/lib/python3.11/threading.py"));
        assert!(!is_own_file(
            "/root/.pyenv/versions/3.11.7/lib/python3.11/multiprocessing/queues.py"
        ));
        assert!(!is_own_file(
            "/home/me/.venv/lib/python3.12/site-packages/joblib/pool.py"
        ));
        assert!(!is_own_file("<string>"));
        assert!(!is_own_file("<frozen runpy>"));
    }

    #[test]
    fn with_lock_is_an_acquire_at_the_users_line() {
        let frames = [
            frame(
                "SemLock.__enter__",
                &format!("{LIB}/multiprocessing/synchronize.py"),
                95,
            ),
            frame("forward", "/tmp/prog.py", 11),
            frame(
                "BaseProcess.run",
                &format!("{LIB}/multiprocessing/process.py"),
                108,
            ),
        ];
        let w = wait_of(&frames).unwrap();
        assert_eq!(w.op, "acquire");
        assert_eq!(w.at_str().as_deref(), Some("prog.py:11"));
        assert!(!w.ends_by_itself);
    }

    #[test]
    fn the_outermost_api_names_the_wait() {
        let frames = [
            frame(
                "Connection._recv",
                &format!("{LIB}/multiprocessing/connection.py"),
                395,
            ),
            frame(
                "Connection._recv_bytes",
                &format!("{LIB}/multiprocessing/connection.py"),
                430,
            ),
            frame(
                "Connection.recv_bytes",
                &format!("{LIB}/multiprocessing/connection.py"),
                216,
            ),
            frame(
                "Queue.get",
                &format!("{LIB}/multiprocessing/queues.py"),
                103,
            ),
            frame("consumer", "/tmp/prog.py", 40),
        ];
        let w = wait_of(&frames).unwrap();
        assert_eq!((w.op, w.call.as_str()), ("get", "Queue.get"));
        assert_eq!(w.at_str().as_deref(), Some("prog.py:40"));
    }

    #[test]
    fn join_and_a_timeout() {
        let mut frames = [
            frame(
                "Popen.poll",
                &format!("{LIB}/multiprocessing/popen_fork.py"),
                27,
            ),
            frame(
                "Popen.wait",
                &format!("{LIB}/multiprocessing/popen_fork.py"),
                43,
            ),
            frame(
                "BaseProcess.join",
                &format!("{LIB}/multiprocessing/process.py"),
                149,
            ),
            frame("<module>", "/tmp/prog.py", 30),
        ];
        let w = wait_of(&frames).unwrap();
        assert_eq!(w.op, "join");
        assert!(!w.ends_by_itself);
        frames[2].locals = Some(vec![
            Local {
                name: "self".into(),
                addr: 0x7f00,
                arg: true,
                repr: None,
            },
            Local {
                name: "timeout".into(),
                addr: 0,
                arg: true,
                repr: Some("5".into()),
            },
        ]);
        let w = wait_of(&frames).unwrap();
        assert!(w.ends_by_itself);
        assert_eq!(w.object, Some(0x7f00));
    }

    #[test]
    fn own_code_and_sleep_are_no_wait() {
        assert_eq!(wait_of(&[frame("work", "/tmp/prog.py", 3)]), None);
        let frames = [
            frame(
                "Queue.get",
                &format!("{LIB}/multiprocessing/queues.py"),
                103,
            ),
            frame("work", "/tmp/prog.py", 3),
        ];
        assert!(wait_of(&frames[1..]).is_none());
        // Computing inside a library function that is not a wait.
        let frames = [
            frame("dumps", &format!("{LIB}/json/__init__.py"), 231),
            frame("work", "/tmp/prog.py", 3),
        ];
        assert!(wait_of(&frames).is_none());
    }

    #[test]
    fn a_feeder_thread_is_the_queues() {
        let frames = [
            frame("Condition.wait", &format!("{LIB}/threading.py"), 320),
            frame(
                "Queue._feed",
                &format!("{LIB}/multiprocessing/queues.py"),
                231,
            ),
            frame("Thread.run", &format!("{LIB}/threading.py"), 975),
            frame(
                "Thread._bootstrap_inner",
                &format!("{LIB}/threading.py"),
                1038,
            ),
        ];
        let w = wait_of(&frames).unwrap();
        assert_eq!(w.op, "queue feeder");
        assert_eq!(w.at, None);
    }

    #[test]
    fn a_bare_acquire_is_read_from_the_programs_line() {
        let mut f = frame("take", "/home/me/prog.py", 12);
        f.locals = Some(vec![Local {
            name: "a".into(),
            addr: 0x7f00,
            arg: true,
            repr: None,
        }]);
        let frames = vec![f, frame("<module>", "/home/me/prog.py", 30)];
        let w = bare_acquire(&frames, "    a.acquire()  # blocks").expect("a wait");
        assert_eq!((w.op, w.call.as_str()), ("acquire", "a.acquire"));
        assert_eq!(w.at_str().as_deref(), Some("prog.py:12"));
        assert_eq!(w.object, Some(0x7f00));
        assert!(!w.ends_by_itself);
        assert!(
            bare_acquire(&frames, "ok = a.acquire(timeout=2)")
                .unwrap()
                .ends_by_itself
        );
        assert!(
            bare_acquire(&frames, "self.lock.acquire(True)")
                .is_some_and(|w| w.object.is_none() && !w.ends_by_itself)
        );
        // Not a call of acquire, or not the program's frame: nothing.
        assert!(bare_acquire(&frames, "x = compute(a)").is_none());
        let lib = vec![frame("Queue.get", &format!("{LIB}/queue.py"), 1)];
        assert!(bare_acquire(&lib, "a.acquire()").is_none());
    }
}
