//! The probe on every CPython of the matrix: `scripts/pythons` prints the
//! interpreters (the machine's python3, 3.11 in CI; Debian trixie's 3.13 and
//! sid's 3.14, each with its own glibc, fetched into a cache on first use)
//! and `tests/py/everything.py` is run on each with `mpdash run --headless
//! --json --python PY`, under every start method, with the exact counts
//! `tests/python.rs` expects of the machine's python3. When
//! `scripts/pythons` cannot give an interpreter, the tests fail with what
//! it said: never a silent skip.

use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

mod common;
use common::pythons;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mpdash");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A run of mpdash that takes longer than this is stopped (SIGTERM) and fails.
const HANG: Duration = Duration::from_secs(180);

/// One interpreter at a time (a 2-core CI machine; each run starts a dozen
/// processes).
static TURN: Mutex<()> = Mutex::new(());

/// The `nth` interpreter `scripts/pythons` prints, checked to be Python
/// `want` (any version for the machine's own), with its `sys.version`.
fn interpreter(nth: usize, want: Option<&str>) -> (String, String) {
    let paths = pythons().as_ref().unwrap_or_else(|e| panic!("{e}"));
    let py = paths[nth].clone();
    let out = Command::new(&py)
        .args([
            "-c",
            "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.version)",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {py}: {e}"));
    assert!(
        out.status.success(),
        "{py}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (version, full) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    if let Some(want) = want {
        assert_eq!(version, want, "{py} is Python {full}");
    }
    (py, full.lines().next().unwrap_or("").to_string())
}

/// Runs `cmd` to completion, stopped with SIGTERM (mpdash takes its run
/// down) after [`HANG`].
fn run(cmd: &mut Command) -> (Output, bool) {
    let child = cmd
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let hung = rx.recv_timeout(HANG).is_err();
        if hung {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
        hung
    });
    let out = child.wait_with_output().expect("wait for the run");
    let _ = tx.send(());
    (out, watchdog.join().unwrap_or(false))
}

/// Every difference from what `tests/python.rs` expects, said in full (all
/// of them, not only the first), for one interpreter and start method.
struct Findings {
    who: String,
    failed: Vec<String>,
}

impl Findings {
    fn eq(&mut self, what: &str, got: &serde_json::Value, want: serde_json::Value) {
        if *got != want {
            self.failed
                .push(format!("{}: {what} is {got}, want {want}", self.who));
        }
    }

    fn check(&mut self, what: &str, ok: bool, seen: impl std::fmt::Display) {
        if !ok {
            self.failed
                .push(format!("{}: {what}; seen: {seen}", self.who));
        }
    }
}

static MISSING: serde_json::Value = serde_json::Value::Null;

/// The resource row of `kind` named `name` (null when there is none, which
/// is said).
fn resource<'a>(
    f: &mut Findings,
    v: &'a [serde_json::Value],
    kind: &str,
    name: &str,
) -> &'a serde_json::Value {
    let found = v
        .iter()
        .find(|l| l["type"] == "resource" && l["kind"] == kind && l["name"] == name);
    f.check(
        &format!("a {kind} named {name} is reported"),
        found.is_some(),
        "no such resource row",
    );
    found.unwrap_or(&MISSING)
}

/// The counts of `tests/python.rs`'s
/// `every_kind_of_object_is_counted_exactly_under_every_method`, the same
/// numbers, on the JSON lines `v` of one run of `everything.py METHOD`.
fn check_everything(f: &mut Findings, v: &[serde_json::Value]) {
    use serde_json::json;
    // A Pipe: 5 messages each way.
    let pipe = resource(f, v, "Pipe", "parent_conn ⇄ child_conn");
    f.eq("the Pipe's sent", &pipe["sent"], json!([5, 5]));
    f.eq(
        "the Pipe's created_at",
        &pipe["created_at"],
        json!("everything.py:33"),
    );
    // Value and Array: the values the child wrote, read by mpdash.
    let num = resource(f, v, "Value", "num");
    f.eq("Value num's values", &num["values"], json!(["2.5"]));
    let arr = resource(f, v, "Array", "arr");
    f.eq(
        "Array arr's values",
        &arr["values"],
        json!(["0", "-1", "-2", "-3", "-4", "-5"]),
    );
    // The manager: two setitem calls from the child and one len from the
    // main process, on the object `d`; its server is a process row.
    let m = resource(f, v, "Manager", "manager");
    f.eq(
        "the Manager's dict.__setitem__ calls",
        &m["methods"]["dict.__setitem__"],
        json!(2),
    );
    f.eq(
        "the Manager's dict.__len__ calls",
        &m["methods"]["dict.__len__"],
        json!(1),
    );
    f.eq(
        "the Manager's calls on d",
        &m["objects"]["d"]["calls"],
        json!(3),
    );
    f.eq("the Manager's clients", &m["clients"], json!(2));
    let procs: Vec<&serde_json::Value> = v.iter().filter(|l| l["type"] == "process").collect();
    let server = m["server_pid"].as_i64();
    f.check(
        "the manager's server is a process row with role manager",
        server.is_some()
            && procs
                .iter()
                .any(|p| p["pid"].as_i64() == server && p["role"] == "manager"),
        format!("server_pid {}, processes {procs:?}", m["server_pid"]),
    );
    let cond = resource(f, v, "Condition", "cond");
    f.eq("Condition cond's notifies", &cond["notifies"], json!(1));
    let sem = resource(f, v, "Semaphore", "sem");
    f.eq(
        "Semaphore sem's acquisitions",
        &sem["acquisitions"],
        json!(1),
    );
    f.eq(
        "Semaphore sem's value (made with 2, taken and given back)",
        &sem["value"],
        json!(2),
    );
    let ev = resource(f, v, "Event", "ev");
    f.eq("Event ev's sets", &ev["sets"], json!(1));
    f.eq("Event ev's set (by the child)", &ev["set"], json!(true));
    let sq = resource(f, v, "SimpleQueue", "sq");
    f.eq("SimpleQueue sq's puts", &sq["puts"], json!(7));
    f.eq("SimpleQueue sq's gets", &sq["gets"], json!(7));
    // The executor: 12 futures, each run once; the Pool: 30 items in
    // chunks of 3, ten tasks; every worker's finished tasks add up.
    let ex = resource(f, v, "ProcessPoolExecutor", "executor");
    f.eq("the executor's tasks", &ex["tasks"], json!(12));
    f.eq("the executor's done", &ex["done"], json!(12));
    let pool = resource(f, v, "Pool", "pool");
    f.eq("the Pool's tasks", &pool["tasks"], json!(10));
    f.eq("the Pool's done", &pool["done"], json!(10));
    f.eq("the Pool's workers", &pool["workers"], json!(2));
    f.eq("the Pool's lost", &pool["lost"], json!(0));
    let done: Option<u64> = procs
        .iter()
        .filter(|p| p["role"] == "pool_worker")
        .map(|p| p["tasks_done"].as_u64())
        .sum();
    f.eq(
        "the tasks finished by the workers (pool_worker rows' tasks_done)",
        &json!(done),
        json!(22),
    );
    // The child's exit status, reaped by its Python parent.
    match procs.iter().find(|p| p["name"] == "child") {
        Some(child) => f.eq("the child's exitcode", &child["exitcode"], json!(0)),
        None => f.check("a process row named child", false, format!("{procs:?}")),
    }
}

/// `everything.py` under fork, spawn and forkserver on the `nth`
/// interpreter of `scripts/pythons`: the program's output unchanged and
/// every count exact.
fn everything_on(nth: usize, want: Option<&str>) {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (py, version) = interpreter(nth, want);
    let t = Instant::now();
    let file = "tests/py/everything.py";
    let mut failed = Vec::new();
    for method in ["fork", "spawn", "forkserver"] {
        let who = format!("{py} (Python {version}), {method}");
        let (out, hung) = run(Command::new(BIN).args([
            "run",
            "--headless",
            "--json",
            "--python",
            &py,
            file,
            "--",
            method,
        ]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !hung,
            "{who}: mpdash hung and was stopped after {HANG:?}; stderr:\n{stderr}"
        );
        assert!(
            out.status.success(),
            "{who}: mpdash: {}\n{stderr}",
            out.status
        );
        let v: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{who}: bad JSON line {l:?}: {e}"))
            })
            .collect();
        let (plain, hung) = run(Command::new(&py).args([file, method]));
        assert!(
            !hung && plain.status.success(),
            "{who}: {file} without mpdash: {}\n{}",
            plain.status,
            String::from_utf8_lossy(&plain.stderr)
        );
        let mut f = Findings {
            who,
            failed: Vec::new(),
        };
        let printed: Vec<String> = v
            .iter()
            .filter(|l| l["type"] == "output")
            .map(|l| l["line"].as_str().unwrap_or("").to_string())
            .collect();
        let want: Vec<String> = String::from_utf8_lossy(&plain.stdout)
            .lines()
            .map(String::from)
            .collect();
        f.check(
            "the program's output, unchanged by mpdash",
            printed == want,
            format!("{printed:?} (without mpdash: {want:?})"),
        );
        check_everything(&mut f, &v);
        failed.extend(f.failed);
    }
    eprintln!(
        "{py} (Python {version}): everything.py under 3 methods took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "the probe's counts differ on {py} (Python {version}):\n  {}",
        failed.join("\n  ")
    );
}

#[test]
fn everything_is_counted_exactly_on_the_machines_python3() {
    everything_on(0, None);
}

#[test]
fn everything_is_counted_exactly_on_debian_trixies_python3_13() {
    everything_on(1, Some("3.13"));
}

#[test]
fn everything_is_counted_exactly_on_debian_sids_python3_14() {
    everything_on(2, Some("3.14"));
}

/// The probe's promises on one interpreter: a JoinableQueue handed to spawn
/// and forkserver children is unharmed and counted exactly; a slow healthy
/// program (a producer thread) is not called stuck; a lock-order deadlock
/// is.
fn promises_on(nth: usize, want: Option<&str>) {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (py, version) = interpreter(nth, want);
    let json = |args: &[&str]| -> (Output, Vec<serde_json::Value>) {
        let mut all = vec![
            "run",
            "--headless",
            "--json",
            "--stuck-after",
            "1",
            "--python",
            &py,
        ];
        all.extend_from_slice(args);
        let (out, hung) = run(Command::new(BIN).args(&all));
        assert!(!hung, "{py} (Python {version}) {args:?}: hung");
        let v = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        (out, v)
    };
    for method in ["spawn", "forkserver"] {
        let who = format!("{py} (Python {version}), JoinableQueue under {method}");
        let (out, v) = json(&["tests/py/joinable.py", "--", method]);
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let q = v
            .iter()
            .find(|l| l["type"] == "resource" && l["name"] == "q")
            .unwrap_or_else(|| panic!("{who}: no q in {v:?}"));
        for k in ["puts", "gets", "task_done"] {
            assert_eq!(q[k], 42, "{who}: {k} in {q}");
        }
        let lines: Vec<&str> = v
            .iter()
            .filter(|l| l["type"] == "output")
            .filter_map(|l| l["line"].as_str())
            .collect();
        assert_eq!(lines, ["sum 780 exits [0, 0]"], "{who}");
    }
    let (out, v) = json(&["tests/py/healthy/thread_producer.py"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{py}: a healthy program was stopped: {v:?}"
    );
    assert!(v.iter().all(|l| l["type"] != "stuck"), "{py}: {v:?}");
    let (out, v) = json(&["scenarios/python/lock_order.py"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{py}: the deadlock was not found: {v:?}"
    );
    let stuck = v
        .iter()
        .find(|l| l["type"] == "stuck")
        .expect("a stuck line");
    assert_eq!(stuck["kind"], "deadlock", "{py}: {stuck}");
}

#[test]
fn the_probe_keeps_its_promises_on_the_machines_python3() {
    promises_on(0, None);
}

#[test]
fn the_probe_keeps_its_promises_on_debian_trixies_python3_13() {
    promises_on(1, Some("3.13"));
}

#[test]
fn the_probe_keeps_its_promises_on_debian_sids_python3_14() {
    promises_on(2, Some("3.14"));
}
