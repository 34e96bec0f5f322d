//! The Manager as a library under each start method (one test: this binary
//! forks from a single test thread): consistent operations from several processes, TCP with the authkey, hostile input,
//! and clients that get an error (not a hang) when the server dies.

mod common;
use common::*;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use mpdash::runtime::board::{Board, BoardSize, StartMethod};
use mpdash::runtime::manager::{Manager, ManagerClient, ManagerError, Method, ObjKind};
use mpdash::runtime::process::{Context, Process};
use mpdash::runtime::pyvalue::PyValue;
use mpdash::scenario::steps::{Work, target};

fn ctx(method: StartMethod) -> Context {
    // Fork children run in this process: they find their code in its registry.
    mpdash::runtime::init(mpdash::scenario::registry());
    let exe = std::ffi::CString::new(BIN).unwrap();
    Context::with_executable(Board::create(BoardSize::default()).unwrap(), method, exe)
}

fn int(i: i64) -> PyValue {
    PyValue::Int(i)
}

#[test]
fn manager_api_under_each_method() {
    for method in StartMethod::ALL {
        let ctx = ctx(method);
        let mut m = Manager::start(&ctx, "manager", Some("127.0.0.1:0")).unwrap();
        let mut c = m.connect().unwrap();
        let d = c.create(ObjKind::Dict, "d", None).unwrap();
        let q = c.create(ObjKind::Queue, "q", None).unwrap();
        let ns = c.create(ObjKind::Namespace, "ns", None).unwrap();

        // Four processes write 50 keys each, concurrently: all 200 are there.
        let mut writers: Vec<Process> = (0..4)
            .map(|w| {
                let steps = (0..50)
                    .map(|k| Work::DictSet {
                        dict: "d".into(),
                        key: int(w * 1000 + k),
                        value: int(k),
                    })
                    .collect();
                let mut p = Process::new(&ctx, &format!("writer {w}"), target(steps));
                p.start().unwrap();
                p
            })
            .collect();
        for p in &mut writers {
            assert_eq!(p.join(Some(Duration::from_secs(30))), Some(0), "{method}");
        }
        assert_eq!(
            c.call(d, Method::Len, vec![], None).unwrap(),
            int(200),
            "{method}"
        );
        assert_eq!(
            c.call(d, Method::GetItem, vec![int(3049)], None).unwrap(),
            int(49)
        );

        // Errors name the peer and what went wrong; the connection goes on.
        let e = c.call(d, Method::GetItem, vec![int(-1)], None).unwrap_err();
        assert!(e.to_string().contains("KeyError: -1"), "{e}");
        assert!(e.to_string().starts_with("manager at unix:@mpdash-"), "{e}");
        let e = c.call(99, Method::Len, vec![], None).unwrap_err();
        assert!(e.to_string().contains("unknown object id 99"), "{e}");
        let e = c.call(d, Method::SetAttr, vec![], None).unwrap_err();
        assert!(e.to_string().contains("AttributeError"), "{e}");
        c.call(
            ns,
            Method::SetAttr,
            vec![PyValue::Str("x".into()), int(5)],
            None,
        )
        .unwrap();

        // TCP with the authkey, from this process to the server process.
        let addr = m.tcp_address().unwrap().to_string();
        let mut remote = ManagerClient::connect_tcp(&addr, &m.authkey()).unwrap();
        let (id, kind) = remote.lookup("ns").unwrap();
        assert_eq!(kind, ObjKind::Namespace);
        let x = remote
            .call(id, Method::GetAttr, vec![PyValue::Str("x".into())], None)
            .unwrap();
        assert_eq!(x, int(5), "{method}");
        // A wrong key is refused before any request.
        let e = ManagerClient::connect_tcp(&addr, b"not the key")
            .err()
            .unwrap();
        assert!(
            e.to_string().contains(&format!("tcp:{addr}")) && e.to_string().contains("authkey"),
            "{e}"
        );
        // Garbage after authenticating: an error answer, the connection lives.
        let answer = remote.raw(b"{\"call\": 12").unwrap();
        assert!(String::from_utf8_lossy(&answer).contains("malformed request"));
        assert_eq!(remote.call(id, Method::Len, vec![], None).unwrap(), int(1));
        // A hostile peer without the key announcing a 4 GiB frame is dropped;
        // the server goes on serving.
        let mut raw = std::net::TcpStream::connect(&addr).unwrap();
        raw.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]).unwrap();
        let mut buf = Vec::new();
        raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // Dropped means closed: the read ends at EOF (after the challenge),
        // not at the 5 s timeout.
        let t = Instant::now();
        let dropped = raw.read_to_end(&mut buf);
        assert!(
            t.elapsed() < Duration::from_millis(1900),
            "dropped for the hostile frame, not by the 2 s handshake timeout"
        );
        assert!(
            dropped.is_ok(),
            "the hostile peer was not dropped: {dropped:?}"
        );
        assert!(buf.starts_with(&[0, 0, 0]) && buf.windows(11).any(|w| w == b"#CHALLENGE#"));
        assert_eq!(c.call(d, Method::Len, vec![], None).unwrap(), int(200));

        // Lock and Event between two clients; a client that goes away
        // holding the lock releases it.
        let lock = c.create(ObjKind::Lock, "lock", None).unwrap();
        let ev = c.create(ObjKind::Event, "ev", None).unwrap();
        let mut c2 = m.connect().unwrap();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(
            c.call(lock, Method::Acquire, vec![], None).unwrap(),
            PyValue::Bool(true)
        );
        assert_eq!(
            c2.call(lock, Method::Acquire, vec![], ms(100)).unwrap(),
            PyValue::Bool(false)
        );
        c.call(lock, Method::Release, vec![], None).unwrap();
        assert_eq!(
            c2.call(lock, Method::Acquire, vec![], ms(100)).unwrap(),
            PyValue::Bool(true)
        );
        assert_eq!(
            c.call(ev, Method::Wait, vec![], ms(50)).unwrap(),
            PyValue::Bool(false)
        );
        c2.call(ev, Method::Set, vec![], None).unwrap();
        assert_eq!(
            c.call(ev, Method::Wait, vec![], ms(50)).unwrap(),
            PyValue::Bool(true)
        );
        drop(c2);
        assert_eq!(
            c.call(lock, Method::Acquire, vec![], ms(2000)).unwrap(),
            PyValue::Bool(true),
            "{method}: released with its holder's connection"
        );

        // The server dies while a client is blocked on q.get(): an error within 1 s.
        let pid = m.server().pid().unwrap();
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
            Instant::now()
        });
        let e = c.call(q, Method::Take, vec![], None).unwrap_err();
        let killed_at = killer.join().unwrap();
        let late = killed_at.elapsed();
        assert!(
            late < Duration::from_secs(1),
            "{method}: error {late:?} after the kill"
        );
        assert!(
            matches!(e, ManagerError::ServerGone { .. }),
            "{method}: {e}"
        );
        assert!(remote.call(id, Method::Len, vec![], None).is_err());
        assert_eq!(m.server().join(Some(Duration::from_secs(5))), Some(-9));
        drop(m);
        ctx.shutdown();
    }
}
