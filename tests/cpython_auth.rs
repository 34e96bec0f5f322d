//! The authkey handshake is CPython's own, byte for byte: CPython's `Client`
//! authenticates against an mpdash manager, mpdash's client against CPython's
//! `Listener`, and a wrong key fails on both sides. Uses the machine's python3
//! (its absence is a failure, not a skip).

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use mpdash::runtime::board::{Board, BoardSize, StartMethod};
use mpdash::runtime::manager::Manager;
use mpdash::runtime::process::Context;

fn python(script: &str, args: &[&str]) -> Command {
    let mut c = Command::new("python3");
    c.arg("-c").arg(script).args(args);
    c
}

const CLIENT: &str = r#"
import sys
from multiprocessing.connection import Client, AuthenticationError
try:
    Client(('127.0.0.1', int(sys.argv[1])), authkey=sys.argv[2].encode())
    print('AUTH OK')
except AuthenticationError as e:
    print('AUTH FAILED', e)
"#;

#[test]
fn cpythons_client_authenticates_against_an_mpdash_manager() {
    mpdash::runtime::init(mpdash::scenario::registry());
    let exe = std::ffi::CString::new(BIN).unwrap();
    let ctx = Context::with_executable(
        Board::create(BoardSize::default()).unwrap(),
        StartMethod::Fork,
        exe,
    );
    let mut m =
        Manager::start_with_key(&ctx, "manager", Some("127.0.0.1:0"), Some(b"s3cret")).unwrap();
    let port = m.tcp_address().unwrap().port().to_string();
    for (key, want) in [("s3cret", "AUTH OK"), ("wrong", "AUTH FAILED")] {
        let out = python(CLIENT, &[&port, key])
            .output()
            .expect("python3 runs (the tests need the machine's CPython)");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.starts_with(want),
            "key {key}: {said} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    m.shutdown();
}

const LISTENER: &str = r#"
import sys
from multiprocessing.connection import Listener, AuthenticationError
l = Listener(('127.0.0.1', 0), authkey=sys.argv[1].encode())
print(l.address[1], flush=True)
try:
    c = l.accept()
    print('ACCEPTED', flush=True)
except AuthenticationError as e:
    print('REFUSED', e, flush=True)
"#;

#[test]
fn mpdashs_client_authenticates_against_cpythons_listener() {
    for (key, want) in [("s3cret", "ACCEPTED"), ("wrong", "REFUSED")] {
        let mut py = python(LISTENER, &["s3cret"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (the tests need the machine's CPython)");
        let mut lines = BufReader::new(py.stdout.take().unwrap()).lines();
        let port = lines.next().unwrap().unwrap();
        let out = mpdash(&[
            "client",
            &format!("127.0.0.1:{port}"),
            "--authkey",
            key,
            "--timeout",
            "3",
            "d",
            "__len__",
        ]);
        let verdict = lines.next().unwrap().unwrap();
        let _ = py.wait();
        assert!(
            verdict.starts_with(want),
            "key {key}: CPython said {verdict}"
        );
        // After the handshake CPython's listener speaks pickle, which mpdash
        // never does: the call itself fails either way, with a clear error.
        assert!(!out.status.success());
        if key == "wrong" {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("refused our digest"), "{err}");
        }
    }
}
