//! Every number true, and the program unharmed: a JoinableQueue handed to
//! spawn and forkserver children pickles as without mpdash (it raised a
//! TypeError under the probe: the state's shape was changed), and its puts,
//! gets and task_done calls are counted where they are made; a consumer
//! that never calls task_done is named as the reason a join never ends.

mod common;
use common::*;

/// Every line a plain run printed (stdout, then stderr), sorted, beside
/// mpdash's output lines, sorted: processes print in their own order.
fn same_lines(plain: &std::process::Output, v: &[serde_json::Value]) -> (Vec<String>, Vec<String>) {
    let mut ours = output_lines(v);
    let mut theirs: Vec<String> = String::from_utf8_lossy(&plain.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&plain.stderr).lines())
        .map(String::from)
        .collect();
    ours.sort();
    theirs.sort();
    (ours, theirs)
}

fn resource<'a>(v: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    v.iter()
        .find(|l| l["type"] == "resource" && l["name"] == name)
        .unwrap_or_else(|| panic!("no resource {name} in {v:?}"))
}

fn joinable_queue_across(method: &str) {
    let plain = std::process::Command::new("python3")
        .args(["tests/py/joinable.py", method])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs");
    assert!(plain.status.success(), "plain run: {plain:?}");
    let (v, out) = run_json(&["tests/py/joinable.py", "--", method]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        output_lines(&v),
        String::from_utf8_lossy(&plain.stdout)
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    );
    let q = resource(&v, "q");
    assert_eq!(q["kind"], "JoinableQueue");
    // 40 items and a sentinel per consumer, each marked done.
    assert_eq!(q["puts"], 42, "{q}");
    assert_eq!(q["gets"], 42, "{q}");
    assert_eq!(q["task_done"], 42, "{q}");
    assert!(q["max_depth"].as_u64().unwrap() <= 42, "{q}");
}

#[test]
fn a_joinable_queue_handed_to_spawn_children_is_unharmed_and_counted() {
    joinable_queue_across("spawn");
}

#[test]
fn a_joinable_queue_handed_to_forkserver_children_is_unharmed_and_counted() {
    joinable_queue_across("forkserver");
}

#[test]
fn a_joinable_queue_inherited_by_fork_children_is_counted() {
    joinable_queue_across("fork");
}

#[test]
fn a_consumer_that_never_calls_task_done_is_named() {
    let (v, out) = run_json(&["--stuck-after", "1", "tests/py/forgot_task_done.py"]);
    assert_eq!(out.status.code(), Some(3));
    let stuck = v
        .iter()
        .find(|l| l["type"] == "stuck")
        .expect("a stuck line");
    let chain = stuck["chain"].to_string();
    assert!(chain.contains("task_done"), "{chain}");
    assert!(
        chain.contains("forgot_task_done.py:17"),
        "the join's line: {chain}"
    );
}

#[test]
fn each_process_s_cpu_is_its_own_not_its_children_s() {
    let (v, out) = run_json(&["tests/py/burn.py"]);
    assert_eq!(out.status.code(), Some(0));
    let rows = process_rows(&v);
    let main = rows.iter().find(|r| r["role"] == "main").expect("main");
    let main_cpu = main["cpu_s"]
        .as_f64()
        .expect("main's own CPU, said at its exit");
    assert!(main_cpu < 1.0, "main is credited its workers' 4 s: {main}");
    let workers: Vec<_> = rows.iter().filter(|r| r["role"] == "pool_worker").collect();
    assert_eq!(workers.len(), 2, "{rows:?}");
    // Workers that end by themselves say their own CPU: between them, the
    // four seconds burnt (however the tasks were shared).
    let known: Vec<f64> = workers
        .iter()
        .map(|w| {
            w["cpu_s"]
                .as_f64()
                .unwrap_or_else(|| panic!("the worker's own CPU: {w}"))
        })
        .collect();
    assert!(
        known.iter().sum::<f64>() >= 3.6,
        "the workers burnt 4 s: {workers:?}"
    );
}

/// Runs `file` with Python's development mode and every warning an error,
/// plain and under mpdash: the probe closes or never makes what a warning
/// would name (it left a file object open: a ResourceWarning, a traceback
/// under -W error, in every process).
fn same_in_development_mode(file: &str) {
    let run = |cmd: &mut std::process::Command| {
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("PYTHONDEVMODE", "1")
            .env("PYTHONWARNINGS", "error")
            .output()
            .expect("runs")
    };
    let plain = run(std::process::Command::new("python3").arg(file));
    let ours = run(std::process::Command::new(BIN).args(["run", "--headless", "--json", file]));
    assert_eq!(plain.status.code(), Some(0), "{plain:?}");
    let v: Vec<serde_json::Value> = String::from_utf8_lossy(&ours.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (lines, theirs) = same_lines(&plain, &v);
    assert!(
        same_output(&lines, &theirs),
        "{file}: not the same in development mode:\n{lines:?}\n{theirs:?}"
    );
    assert_eq!(ours.status.code(), Some(0));
}

#[test]
fn nothing_is_printed_in_development_mode_with_warnings_as_errors() {
    same_in_development_mode("scenarios/python/queue_example.py");
    same_in_development_mode("tests/py/joinable.py");
}

#[test]
fn not_a_byte_of_the_program_s_output_is_changed() {
    let dir = std::env::temp_dir().join(format!("mpdash-unchanged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (plain_log, our_log) = (dir.join("plain.log"), dir.join("ours.log"));
    let plain = std::process::Command::new("python3")
        .args(["tests/py/unchanged.py", plain_log.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs");
    assert!(plain.status.success(), "{plain:?}");
    let (v, out) = run_json(&["tests/py/unchanged.py", "--", our_log.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ours, theirs) = same_lines(&plain, &v);
    assert_eq!(ours, theirs);
    assert!(ours.contains(&"captured 42".to_string()), "{ours:?}");
    assert!(
        ours.contains(&"\u{1e}123\u{1e} kept as printed".to_string()),
        "{ours:?}"
    );
    assert!(
        ours.contains(&"stdout is TextIOWrapper True".to_string()),
        "{ours:?}"
    );
    let (a, b) = (
        std::fs::read(&plain_log).unwrap(),
        std::fs::read(&our_log).unwrap(),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(b, a, "the dup2'ed log differs");
    // Who printed: the child's line is the child's.
    let by_child = v
        .iter()
        .find(|l| l["type"] == "output" && l["line"] == "from the child")
        .expect("the child's line");
    assert_eq!(by_child["process"], "Process-1");
}

#[test]
fn an_interpreter_wrapper_is_not_a_process_of_the_program() {
    // A wrapper like pyenv's shims: a shell that runs helpers, then execs
    // the interpreter.
    let w = Wrapper::new(
        "wrapper",
        "#!/bin/sh\nv=$(/bin/sh -c 'sleep 0.4; echo 3')\n/bin/sleep 0.4\nexec python3 \"$@\"\n",
    );
    let (v, out) = run_json(&["--python", w.path(), "scenarios/python/process.py"]);
    drop(w);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = process_rows(&v);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(
        rows.iter().all(|r| r["role"] != "foreign"),
        "the wrapper's helpers shown as the program's: {names:?}"
    );
    assert!(names.contains(&"MainProcess"), "{names:?}");
}

#[test]
fn helpers_end_by_themselves_and_keep_their_own_exit_status() {
    // The fork server and the resource tracker exit once the program has:
    // mpdash waits for them instead of killing them (they showed -9, its own
    // kill, and a killed tracker cannot unlink what the program leaked).
    let (v, out) = run_json(&["tests/py/joinable.py", "--", "forkserver"]);
    assert_eq!(out.status.code(), Some(0));
    let rows = process_rows(&v);
    let helpers: Vec<_> = rows
        .iter()
        .filter(|r| r["role"] == "fork_server" || r["name"] == "resource tracker")
        .collect();
    assert_eq!(helpers.len(), 2, "{rows:?}");
    for h in helpers {
        assert_eq!(h["exitcode"], 0, "{h}");
    }
}

#[test]
fn objects_made_two_to_a_line_have_their_own_names_and_no_sentinel_is_a_number() {
    let (v, out) = run_json(&["tests/py/names.py"]);
    assert_eq!(out.status.code(), Some(0));
    for name in ["a", "b", "q1", "q2"] {
        resource(&v, name);
    }
    assert_eq!(resource(&v, "a")["acquisitions"], 1);
    assert_eq!(resource(&v, "b")["acquisitions"], 0);
    assert!(resource(&v, "q1")["maxsize"].is_null(), "unbounded: null");
    assert_eq!(resource(&v, "q2")["maxsize"], 3);
    for p in process_rows(&v) {
        assert!(
            p["slot"].is_null() || p["slot"].as_u64().unwrap() < u64::from(u32::MAX),
            "{p}"
        );
    }
}

#[test]
fn a_program_the_probe_cannot_reach_is_said_so_not_shown_empty() {
    let w = Wrapper::new("isolated", "#!/bin/sh\nexec python3 -I \"$@\"\n");
    let (v, out) = run_json(&["--python", w.path(), "scenarios/python/process.py"]);
    drop(w);
    assert_eq!(out.status.code(), Some(0));
    let probe = v
        .iter()
        .find(|l| l["type"] == "probe")
        .expect("a probe line");
    assert_eq!(probe["loaded"], false, "{probe}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("-I, -E or -S"));
    let (v, _) = run_json(&["scenarios/python/process.py"]);
    let probe = v
        .iter()
        .find(|l| l["type"] == "probe")
        .expect("a probe line");
    assert_eq!(probe["loaded"], true, "{probe}");
}

/// An interpreter wrapper script `python3` in a scratch directory of its
/// own, removed when dropped (also when the test fails).
struct Wrapper(std::path::PathBuf, String);

impl Wrapper {
    fn new(what: &str, script: &str) -> Wrapper {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("mpdash-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("python3");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = path.to_string_lossy().into_owned();
        Wrapper(dir, path)
    }

    fn path(&self) -> &str {
        &self.1
    }
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_child_that_exits_with_sys_exit_true_is_shown_with_status_1() {
    for method in ["fork", "spawn"] {
        let (v, out) = run_json(&["tests/py/exit_true.py", "--", method]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{method}: {stderr}");
        assert!(
            !stderr.contains("not the probe's"),
            "{method}: a record of the probe's was dropped: {stderr}"
        );
        assert_eq!(
            output_lines(&v),
            ["true 1", "false 0", "none 0", "seven 7"],
            "{method}"
        );
        let rows = process_rows(&v);
        for (name, code) in [("true", 1), ("false", 0), ("none", 0), ("seven", 7)] {
            let row = rows
                .iter()
                .find(|r| r["name"] == name)
                .unwrap_or_else(|| panic!("{method}: no process row {name}: {rows:?}"));
            assert_eq!(row["exitcode"], code, "{method}: {row}");
            assert!(row["cpu_s"].is_number(), "{method}: {row}");
        }
    }
}

#[test]
fn a_manager_wait_is_placed_at_the_programs_own_line() {
    // A proxy's methods are code multiprocessing generates (`<string>`):
    // the wait is at the line of the program that called it.
    let (v, out) = run_json(&["--stuck-after", "1", "tests/py/manager_get.py"]);
    assert_eq!(out.status.code(), Some(3), "{v:?}");
    let stuck = v
        .iter()
        .find(|l| l["type"] == "stuck")
        .expect("a stuck line");
    let text = stuck.to_string();
    assert!(text.contains("manager_get.py:7"), "{text}");
    assert!(!text.contains("<string>"), "{text}");
}

#[test]
fn children_of_a_bare_os_fork_are_named_under_their_parent_with_their_status() {
    // One ends with os._exit(3) (atexit skipped), the other returns
    // normally; the parent reaps both with os.waitpid.
    let plain = std::process::Command::new("python3")
        .arg("tests/py/bare_fork.py")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs");
    assert!(plain.status.success(), "plain run: {plain:?}");
    let (v, out) = run_json(&["tests/py/bare_fork.py"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ours, theirs) = same_lines(&plain, &v);
    assert!(same_output(&ours, &theirs), "{ours:?}\n{theirs:?}");
    let rows = process_rows(&v);
    let main = rows
        .iter()
        .find(|r| r["role"] == "main")
        .unwrap_or_else(|| panic!("no main row: {rows:?}"));
    for (n, code) in [(1, 3), (2, 0)] {
        let name = format!("fork {n} of MainProcess");
        let row = rows
            .iter()
            .find(|r| r["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no process row {name}: {rows:?}"));
        assert_eq!(row["role"], "process", "{row}");
        assert_eq!(row["method"], "fork", "{row}");
        assert_eq!(row["os_ppid"], main["pid"], "{row}");
        assert_eq!(row["exitcode"], code, "{row}");
        // What it printed is said as its own.
        let said = v
            .iter()
            .find(|l| l["type"] == "output" && l["process"] == name.as_str());
        assert!(said.is_some(), "no output line of {name}: {v:?}");
    }
    assert!(
        !rows.iter().any(|r| r["role"] == "foreign"),
        "a fork child left unnamed: {rows:?}"
    );
}

#[test]
fn two_manager_locks_taken_in_opposite_orders_are_a_deadlock_with_both_named() {
    // Not "nobody can serve … a manager call": each proxy's acquire and
    // release are counted, so each lock has a holder and the cycle shows.
    let (v, out) = run_json(&["tests/py/manager_locks.py"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stuck = v
        .iter()
        .find(|l| l["type"] == "stuck")
        .unwrap_or_else(|| panic!("no stuck line: {v:?}"));
    assert_eq!(stuck["kind"], "deadlock", "{stuck}");
    let cycle: Vec<&str> = stuck["cycle"]
        .as_array()
        .expect("a cycle")
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    for name in ["taker a", "taker b", "red", "blue"] {
        assert!(cycle.contains(&name), "{name} not in {cycle:?}");
    }
    let chain = stuck["chain"].to_string();
    assert!(
        chain.contains("acquire blue (held by taker b) at manager_locks.py:10"),
        "{chain}"
    );
    assert!(
        chain.contains("acquire red (held by taker a) at manager_locks.py:17"),
        "{chain}"
    );
    for lock in ["red", "blue"] {
        let r = resource(&v, lock);
        assert_eq!(r["typeid"], "Lock", "{r}");
        assert!(r["held_by"].is_number(), "{r}");
    }
}

#[test]
fn a_stuck_spawn_program_ended_by_mpdash_leaves_no_semaphore_in_dev_shm() {
    // mpdash ends a proven hang; the resource tracker must still unlink the
    // named semaphores of the spawn children (killed with them, it could not).
    let (v, out) = run_json(&["--stuck-after", "1", "tests/py/stuck_spawn_locks.py"]);
    assert_eq!(out.status.code(), Some(3), "{v:?}");
    let line = output_lines(&v)
        .into_iter()
        .find(|l| l.starts_with("semaphores "))
        .expect("the program printed its semaphores' names");
    let names: Vec<String> = line.split_whitespace().skip(1).map(String::from).collect();
    assert_eq!(names.len(), 2, "{line}");
    for n in &names {
        let path = format!("/dev/shm/sem.{}", n.trim_start_matches('/'));
        assert!(
            !std::path::Path::new(&path).exists(),
            "{path} left behind after mpdash ended the stuck run"
        );
    }
}
