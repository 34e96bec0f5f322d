//! Helpers shared by the integration tests: run the real binary, read /proc.
#![allow(dead_code)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_mpdash");

/// Runs the binary to completion; a run that hangs is stopped after 90 s
/// (SIGTERM: the dashboard takes its run down) and fails the test.
pub fn mpdash(args: &[&str]) -> Output {
    let child = Command::new(BIN)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mpdash");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let hung = rx.recv_timeout(Duration::from_secs(90)).is_err();
        if hung {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        hung
    });
    let out = child.wait_with_output().expect("wait for mpdash");
    let _ = tx.send(());
    let hung = watchdog.join().unwrap_or(false);
    assert!(
        !hung,
        "mpdash {args:?} hung and was stopped after 90 s; output so far:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// JSON lines of `mpdash run --headless --json ARGS`.
pub fn run_json(args: &[&str]) -> (Vec<serde_json::Value>, Output) {
    let mut all = vec!["run", "--headless", "--json"];
    all.extend_from_slice(args);
    let out = mpdash(&all);
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect();
    (lines, out)
}

pub fn output_lines(v: &[serde_json::Value]) -> Vec<String> {
    v.iter()
        .filter(|l| l["type"] == "output")
        .map(|l| l["line"].as_str().unwrap().to_string())
        .collect()
}

pub fn process_rows(v: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    v.iter().filter(|l| l["type"] == "process").collect()
}

/// (ppid, state letter) of a pid from /proc, None once it is gone.
pub fn proc_stat(pid: i32) -> Option<(i32, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((ppid, state))
}

/// Every live descendant of `root` (not zombies), found by walking /proc.
pub fn descendants(root: i32) -> Vec<i32> {
    let mut all: Vec<(i32, i32)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>()
            && let Some((ppid, state)) = proc_stat(pid)
            && state != 'Z'
        {
            all.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(all.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// Whether `pid` still runs (a zombie does not count: it runs nothing and holds nothing).
pub fn alive(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|(_, s)| s != 'Z')
}

/// Runs scenario `text` (written to a temporary file) headless; it must succeed.
pub fn run_text(name: &str, text: &str) -> Vec<serde_json::Value> {
    let dir = std::env::temp_dir().join(format!("mpdash-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let (v, out) = run_json(&[path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

/// A scratch directory of one test, removed when dropped — also when the
/// test fails, so a failing run leaves nothing in the temporary directory.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("mpdash-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
