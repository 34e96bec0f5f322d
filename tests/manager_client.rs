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
    let out = mpdash(&["client", &addr, "--authkey", "s3cret", "nope", "__len__"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no object named \"nope\""), "{err}");
    m.shutdown();
    ctx.shutdown();
}
