//! `mpdash client`: a manager's objects from another process (any host) over
//! TCP with the authkey. Its own binary: the other manager test forks from a
//! single thread; the two tests here take turns (`common::serial`).

mod common;
use common::*;

use mpdash::runtime::board::{Board, BoardSize, StartMethod};
use mpdash::runtime::manager::{Manager, ObjKind};
use mpdash::runtime::process::Context;
use mpdash::runtime::pyvalue::PyValue;

fn ctx(method: StartMethod) -> Context {
    // Fork children run in this process: they find their code in its registry.
    mpdash::runtime::init(mpdash::scenario::registry());
    let exe = std::ffi::CString::new(BIN).unwrap();
    Context::with_executable(Board::create(BoardSize::default()).unwrap(), method, exe)
}

#[test]
fn the_client_command_reaches_a_manager_over_tcp_with_its_authkey() {
    let _turn = serial();
    let ctx = ctx(StartMethod::Fork);
    let mut m =
        Manager::start_with_key(&ctx, "manager", Some("127.0.0.1:0"), Some(b"s3cret")).unwrap();
    let mut c = m.connect().unwrap();
    c.create(ObjKind::List, "l", Some(PyValue::parse("[1, 2]").unwrap()))
        .unwrap();
    let addr = m.tcp_address().unwrap().to_string();
    let out = mpdash(&[
        "client",
        &addr,
        "--authkey",
        "s3cret",
        "l",
        "append",
        "'three'",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = mpdash(&["client", &addr, "--authkey", "s3cret", "l", "__repr__"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[1, 2, 'three']"
    );
    let out = mpdash(&["client", &addr, "--authkey", "wrong", "l", "__repr__"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("manager at tcp:{addr}")) && err.contains("authkey"),
        "{err}"
    );
    assert_eq!(
        err.matches("authentication failed").count(),
        1,
        "said once: {err}"
    );
    let out = mpdash(&["client", &addr, "--authkey", "s3cret", "nope", "__len__"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no object named \"nope\""), "{err}");
    m.shutdown();
    ctx.shutdown();
}

#[test]
fn idle_and_excess_connections_are_closed_and_counted_and_clients_still_served() {
    use mpdash::telemetry::board_view::{ResourceView, read_resources};
    use std::io::Read;
    let _turn = serial();
    let ctx = ctx(StartMethod::Fork);
    let mut m = Manager::start_with_key(&ctx, "manager", Some("127.0.0.1:0"), Some(b"k")).unwrap();
    let addr = m.tcp_address().unwrap();
    // 100 connections that never answer the challenge: at most 64 are held,
    // the rest are closed at once; the held ones after the handshake timeout.
    let idle: Vec<std::net::TcpStream> = (0..100)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    // What each idle connection has seen: the challenge, then end-of-file.
    let mut seen = vec![(false, false); idle.len()];
    let look = |seen: &mut Vec<(bool, bool)>| {
        for (s, (challenged, closed)) in idle.iter().zip(seen.iter_mut()) {
            if *closed {
                continue;
            }
            s.set_read_timeout(Some(std::time::Duration::from_millis(1)))
                .unwrap();
            let mut buf = [0u8; 256];
            loop {
                match (&mut &*s).read(&mut buf) {
                    Ok(0) => *closed = true,
                    Ok(_) => {
                        *challenged = true;
                        continue;
                    }
                    Err(_) => {} // nothing more yet
                }
                break;
            }
        }
        let challenged = seen.iter().filter(|s| s.0).count();
        let closed = seen.iter().filter(|s| s.1).count();
        (challenged, closed)
    };
    // The server has met the whole crowd: each one got its challenge or
    // was pushed out (closed) by the newer ones.
    wait_until("the server to meet all 100 idle peers", PATIENCE, || {
        let (challenged, closed) = look(&mut seen);
        if seen.iter().all(|s| s.0 || s.1) {
            Ok(())
        } else {
            Err(format!("{challenged} challenged, {closed} closed"))
        }
    });
    // A legitimate client is served while they wait (a try can still be
    // closed by the crowd; then the next one is, once the crowd is old).
    wait_until(
        "a real client served while idle peers wait",
        PATIENCE,
        || {
            let out = mpdash(&[
                "client",
                &addr.to_string(),
                "--authkey",
                "k",
                "--timeout",
                "1",
                "nope",
                "__len__",
            ]);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            if err.contains("no object named") {
                Ok(())
            } else {
                Err(err)
            }
        },
    );
    // Every idle connection is closed: pushed out, or after the handshake timeout.
    wait_until(
        "every unauthenticated connection closed",
        PATIENCE,
        || match look(&mut seen) {
            (_, 100) => Ok(()),
            (_, closed) => Err(format!("{closed} of 100 closed")),
        },
    );
    let refusals = || {
        read_resources(ctx.board())
            .into_iter()
            .find_map(|r| match r {
                ResourceView::Manager { refused, .. } => Some(refused),
                _ => None,
            })
            .unwrap()
    };
    // (A connection's thread counts its refusal as it leaves.)
    wait_until(
        "refusals counted on the board",
        PATIENCE,
        || match refusals() {
            r if r >= 100 => Ok(()),
            r => Err(format!("{r} refusals counted")),
        },
    );
    m.shutdown();
}
