//! `mpdash client`: a manager's objects from another process (any host) over
//! TCP with the authkey. Its own binary: the other manager test forks from a
//! single thread.

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
    let ctx = ctx(StartMethod::Fork);
    let mut m = Manager::start_with_key(&ctx, "manager", Some("127.0.0.1:0"), Some(b"k")).unwrap();
    let addr = m.tcp_address().unwrap();
    // 100 connections that never answer the challenge: at most 64 are held,
    // the rest are closed at once; the held ones after the handshake timeout.
    let idle: Vec<std::net::TcpStream> = (0..100)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // A legitimate client is not starved by them for long.
    let t = std::time::Instant::now();
    let mut ok = false;
    while t.elapsed() < std::time::Duration::from_secs(5) {
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
        if String::from_utf8_lossy(&out.stderr).contains("no object named") {
            ok = true;
            break;
        }
    }
    assert!(ok, "a real client was served while idle peers waited");
    // Every idle connection is closed within the handshake timeout (+ slack).
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let closed = idle
        .iter()
        .filter(|s| {
            s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
                .unwrap();
            let mut buf = [0u8; 256];
            loop {
                match (&mut &**s).read(&mut buf) {
                    Ok(0) => return true,
                    Ok(_) => continue, // the challenge
                    Err(_) => return false,
                }
            }
        })
        .count();
    assert_eq!(closed, 100, "every unauthenticated connection was closed");
    let refused = read_resources(ctx.board())
        .into_iter()
        .find_map(|r| match r {
            ResourceView::Manager { refused, .. } => Some(refused),
            _ => None,
        })
        .unwrap();
    assert!(
        refused >= 100,
        "refusals are counted on the board: {refused}"
    );
    m.shutdown();
}
