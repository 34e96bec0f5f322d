//! Real CPython programs run with mpdash's probe (`mpdash run --headless
//! --json prog.py`): the program is unchanged (same output, same exit
//! status, same traceback), its processes carry Python's names and roles,
//! its objects are counted exactly, a deadlock is named with both lines, and
//! the probe's directory is gone afterwards. Needs the machine's python3
//! (`.ci/run` installs it).

mod common;
use common::*;

fn python_ok() {
    let v = std::process::Command::new("python3")
        .arg("--version")
        .output();
    assert!(
        v.is_ok_and(|o| o.status.success()),
        "python3 is needed for these tests (apt-get install python3)"
    );
}

fn of_type<'a>(v: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    v.iter().filter(|l| l["type"] == t).collect()
}

/// The line number of the `nth` (from 0) line of `file` containing `text`.
fn line_of(file: &str, text: &str, nth: usize) -> usize {
    let src = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    src.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(text))
        .nth(nth)
        .map(|(i, _)| i + 1)
        .unwrap()
}

#[test]
fn a_python_deadlock_is_named_with_both_lines_instead_of_hanging() {
    python_ok();
    let (v, out) = run_json(&["scenarios/python/lock_order.py"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stuck = of_type(&v, "stuck");
    assert_eq!(stuck.len(), 1, "{v:?}");
    assert_eq!(stuck[0]["kind"], "deadlock");
    let cycle: Vec<&str> = stuck[0]["cycle"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for who in ["taker a", "taker b", "one", "two"] {
        assert!(cycle.contains(&who), "{who} not in {cycle:?}");
    }
    let chain = stuck[0]["chain"].to_string();
    let f = "scenarios/python/lock_order.py";
    // a waits for `two` where it takes it inside `one`, and b the reverse.
    let a_at = format!("at lock_order.py:{}", line_of(f, "with two:", 0));
    let b_at = format!("at lock_order.py:{}", line_of(f, "with one:", 1));
    assert!(chain.contains(&a_at) && chain.contains(&b_at), "{chain}");
    let locks = of_type(&v, "resource");
    let one = locks.iter().find(|r| r["name"] == "one").unwrap();
    assert_eq!(one["kind"], "Lock");
    assert_eq!(
        one["created_at"],
        format!("lock_order.py:{}", line_of(f, "one = mp.Lock()", 0))
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Deadlock: "), "{stderr}");
}

#[test]
fn a_python_program_is_seen_from_inside_under_every_method() {
    python_ok();
    let child = std::process::Command::new(BIN)
        .args([
            "run",
            "--headless",
            "--json",
            "scenarios/python/queues.py",
            "--",
            "50",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let me = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The program's own output, exactly as without mpdash.
    let plain = std::process::Command::new("python3")
        .args(["scenarios/python/queues.py", "50"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let printed: Vec<String> = of_type(&v, "output")
        .iter()
        .map(|l| l["line"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = String::from_utf8_lossy(&plain.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(printed, want);
    // Each method's queue: every message put once and got once.
    let res = of_type(&v, "resource");
    let work: Vec<_> = res
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("work"))
        .collect();
    assert_eq!(work.len(), 3, "{res:?}");
    for q in &work {
        assert_eq!(
            (q["puts"].as_u64(), q["gets"].as_u64()),
            (Some(100), Some(100)),
            "{q}"
        );
        assert_eq!(q["maxsize"], 16);
        let at = line_of("scenarios/python/queues.py", "work = ctx.Queue", 0);
        assert_eq!(q["created_at"], format!("queues.py:{at}"));
    }
    let locks: Vec<_> = res.iter().filter(|r| r["kind"] == "Lock").collect();
    assert_eq!(locks.len(), 3);
    assert!(locks.iter().all(|l| l["acquisitions"] == 100), "{locks:?}");
    // Processes by Python's names and roles, under each method.
    let procs = of_type(&v, "process");
    let named = |name: &str, method: &str| {
        procs
            .iter()
            .filter(|p| p["name"] == name && p["method"] == method)
            .count()
    };
    for m in ["fork", "spawn", "forkserver"] {
        assert_eq!(named("producer 0", m), 1, "{m}: {procs:?}");
        assert_eq!(named("consumer", m), 1, "{m}");
    }
    let role = |r: &str| procs.iter().filter(|p| p["role"] == r).count();
    assert_eq!(role("main"), 1);
    assert_eq!(role("fork_server"), 1);
    assert!(procs.iter().any(|p| p["name"] == "resource tracker"));
    assert!(
        procs.iter().all(|p| p["name"] != "watch guard"),
        "the guard is ours"
    );
    // Nothing of the probe is left behind.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("mpdash-probe-{me}-"))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn exit_status_and_traceback_are_the_programs_own() {
    python_ok();
    let dir = TempDir::new("pytest");
    let raises = dir.join("raises.py");
    std::fs::write(&raises, "print('before')\n1 / 0\n").unwrap();
    let exits = dir.join("exits.py");
    std::fs::write(&exits, "import sys\nsys.exit(5)\n").unwrap();
    let out = mpdash(&["run", "--headless", raises.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("before\n"), "{text}");
    assert!(
        text.contains("Traceback") && text.contains("ZeroDivisionError"),
        "{text}"
    );
    assert!(
        !text.contains("mpdash probe: off"),
        "the probe did not break: {text}"
    );
    let out = mpdash(&["run", "--headless", "--json", exits.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5));
    let out = mpdash(&[
        "run",
        "--headless",
        dir.join("missing.py").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.py: no such file"));
}

/// `python3 ARGS` run plainly in the project's folder: its stdout lines.
fn plain_python(args: &[&str]) -> Vec<String> {
    let out = std::process::Command::new("python3")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

fn resource<'a>(v: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    v.iter()
        .find(|l| l["type"] == "resource" && l["kind"] == kind && l["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {v:?}"))
}

#[test]
fn every_kind_of_object_is_counted_exactly_under_every_method() {
    python_ok();
    let file = "tests/py/everything.py";
    for method in ["fork", "spawn", "forkserver"] {
        let (v, out) = run_json(&[file, "--", method]);
        assert!(
            out.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            output_lines(&v),
            plain_python(&[file, method]),
            "{method}: the program's output, unchanged"
        );
        // A Pipe: 5 messages each way, the bytes of each pickled message.
        let pipe = resource(&v, "Pipe", "parent_conn ⇄ child_conn");
        assert_eq!(pipe["sent"], serde_json::json!([5, 5]), "{method}");
        assert_eq!(pipe["created_at"], "everything.py:33");
        // Value and Array: the values the child wrote, read by mpdash.
        assert_eq!(
            resource(&v, "Value", "num")["values"],
            serde_json::json!(["2.5"]),
            "{method}"
        );
        assert_eq!(
            resource(&v, "Array", "arr")["values"],
            serde_json::json!(["0", "-1", "-2", "-3", "-4", "-5"]),
            "{method}"
        );
        // The manager: its server, two setitem calls from the child and one
        // len from the main process, on the object `d`.
        let m = resource(&v, "Manager", "manager");
        assert_eq!(m["methods"]["dict.__setitem__"], 2, "{method}: {m}");
        assert_eq!(m["methods"]["dict.__len__"], 1, "{method}: {m}");
        assert_eq!(m["objects"]["d"]["calls"], 3, "{method}: {m}");
        assert_eq!(m["clients"], 2, "{method}: {m}");
        let server = m["server_pid"].as_i64().unwrap();
        let procs = process_rows(&v);
        assert!(
            procs
                .iter()
                .any(|p| p["pid"] == server && p["role"] == "manager"),
            "{method}: the manager's server process: {procs:?}"
        );
        assert_eq!(resource(&v, "Condition", "cond")["notifies"], 1);
        assert_eq!(resource(&v, "Semaphore", "sem")["acquisitions"], 1);
        assert_eq!(
            resource(&v, "Semaphore", "sem")["value"],
            2,
            "{method}: made with 2, taken and given back"
        );
        assert_eq!(resource(&v, "Event", "ev")["sets"], 1);
        assert_eq!(
            resource(&v, "Event", "ev")["set"],
            true,
            "{method}: set by the child"
        );
        let sq = resource(&v, "SimpleQueue", "sq");
        assert_eq!(
            (sq["puts"].as_u64(), sq["gets"].as_u64()),
            (Some(7), Some(7))
        );
        // The executor: 12 futures, each run once; the Pool: 30 items in
        // chunks of 3, ten tasks; every worker's finished tasks add up.
        let ex = resource(&v, "ProcessPoolExecutor", "executor");
        assert_eq!(
            (ex["tasks"].as_u64(), ex["done"].as_u64()),
            (Some(12), Some(12))
        );
        let pool = resource(&v, "Pool", "pool");
        assert_eq!(
            (pool["tasks"].as_u64(), pool["done"].as_u64()),
            (Some(10), Some(10))
        );
        assert_eq!(
            (pool["workers"].as_u64(), pool["lost"].as_u64()),
            (Some(2), Some(0))
        );
        let done: u64 = procs
            .iter()
            .filter(|p| p["role"] == "pool_worker")
            .map(|p| p["tasks_done"].as_u64().unwrap())
            .sum();
        assert_eq!(done, 22, "{method}: tasks finished by the workers");
        // The child's exit status, reaped by its Python parent.
        let child = procs.iter().find(|p| p["name"] == "child").unwrap();
        assert_eq!(child["exitcode"], 0, "{method}");
    }
}

#[test]
fn a_pool_worker_killed_mid_task_is_named_with_its_signal_and_task() {
    python_ok();
    let f = "scenarios/python/pool_worker_dies.py";
    let (v, out) = run_json(&[f]);
    assert_eq!(out.status.code(), Some(3), "{v:?}");
    let stuck = of_type(&v, "stuck");
    assert_eq!(stuck.len(), 1, "{v:?}");
    assert_eq!(stuck[0]["kind"], "lost_task");
    let summary = stuck[0]["summary"].as_str().unwrap();
    // Items 12–13 are task 6 with chunksize 2; item 13 kills its worker.
    assert!(summary.contains("died (SIGKILL)"), "{summary}");
    assert!(summary.contains("task 6 (work)"), "{summary}");
    let map_at = format!("map at pool_worker_dies.py:{}", line_of(f, "pool.map(", 0));
    assert!(summary.contains(&map_at), "{summary}");
    let pool = resource(&v, "Pool", "pool");
    assert_eq!(pool["lost"], 1, "{pool}");
    assert!(pool["done"].as_u64().unwrap() < 20, "{pool}");
}

#[test]
fn joining_before_reading_a_queue_is_named_instead_of_hanging() {
    python_ok();
    let f = "scenarios/python/join_before_get.py";
    let (v, out) = run_json(&[f, "--stuck-after", "1"]);
    assert_eq!(out.status.code(), Some(3), "{v:?}");
    let stuck = of_type(&v, "stuck");
    assert_eq!(stuck.len(), 1, "{v:?}");
    let summary = stuck[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("feeder thread of the Queue queue"),
        "{summary}"
    );
    let join_at = format!(
        "joins Process-1 at join_before_get.py:{}",
        line_of(f, "p.join()  #", 0)
    );
    assert!(summary.contains(&join_at), "{summary}");
    let q = resource(&v, "Queue", "queue");
    assert_eq!((q["puts"].as_u64(), q["gets"].as_u64()), (Some(1), Some(0)));
}

#[test]
fn the_tutorial_programs_run_unchanged_and_fill_their_panels() {
    python_ok();
    // (file, arguments that keep it short)
    let runs: [(&str, &[&str]); 5] = [
        ("scenarios/python/pool.py", &["8", "1000"]),
        ("scenarios/python/queue_example.py", &["20"]),
        ("scenarios/python/pipe.py", &["300"]),
        ("scenarios/python/shared_memory.py", &["1000"]),
        ("scenarios/python/manager.py", &["20"]),
    ];
    let mut seen = Vec::new();
    for (file, args) in runs {
        let mut all = vec![file, "--"];
        all.extend_from_slice(args);
        let (v, out) = run_json(&all);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut plain = vec![file];
        plain.extend_from_slice(args);
        assert_eq!(output_lines(&v), plain_python(&plain), "{file}");
        seen.push(v);
    }
    let [pool, queue, pipe, shm, manager] = &seen[..] else {
        unreachable!()
    };
    let p = resource(pool, "Pool", "p");
    assert_eq!(
        (p["tasks"].as_u64(), p["workers"].as_u64()),
        (Some(3), Some(5))
    );
    let p = resource(pool, "Pool", "pool");
    assert_eq!(p["tasks"], p["done"]);
    let w = resource(queue, "Queue", "work");
    assert_eq!(
        (w["puts"].as_u64(), w["gets"].as_u64()),
        (Some(40), Some(40))
    );
    assert_eq!(w["maxsize"], 32);
    assert_eq!(
        resource(pipe, "Pipe", "here ⇄ there")["sent"],
        serde_json::json!([301, 300])
    );
    assert_eq!(
        resource(pipe, "Pipe", "parent_conn ⇄ child_conn")["sent"],
        serde_json::json!([0, 1])
    );
    assert_eq!(
        resource(shm, "Value", "num")["values"],
        serde_json::json!(["3.1415927"])
    );
    assert_eq!(
        resource(shm, "Value", "counter")["values"],
        serde_json::json!(["4000"])
    );
    let m = resource(manager, "Manager", "manager");
    assert_eq!(m["methods"]["dict.__setitem__"], 3 + 4 * 20, "{m}");
    // Four fighters holding one lock 5 ms each: most of them had to wait.
    // (lock.py's "hello world" lines come in the order the lock was won.)
    let (v, out) = run_json(&["scenarios/python/lock.py", "--", "10"]);
    assert!(out.status.success());
    let lock = resource(&v, "Lock", "lock");
    assert_eq!(lock["acquisitions"], 10 + 4 * 10, "{lock}");
    let contended = lock["contended"].as_u64().unwrap();
    assert!((1..=50).contains(&contended), "{lock}");
    assert!(lock["max_waiters"].as_u64().unwrap() >= 1, "{lock}");
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "nothing said about the probe's files: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_output_line_names_the_python_process_that_printed_it() {
    python_ok();
    let f = "scenarios/python/process.py";
    let (v, out) = run_json(&[f, "--", "0.05"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by = |text: &str| {
        of_type(&v, "output")
            .into_iter()
            .find(|l| l["line"] == text)
            .map(|l| l["process"].clone())
            .unwrap_or_else(|| panic!("{text:?} not printed: {v:?}"))
    };
    assert_eq!(by("main line"), "MainProcess");
    assert_eq!(by("function f"), "Process-1");
    assert_eq!(by("hello bob"), "Process-1");
    // The text itself carries no tag.
    let printed = output_lines(&v);
    assert!(printed.iter().all(|l| !l.contains('\x1e')), "{printed:?}");
    let pid = printed
        .iter()
        .filter_map(|l| l.strip_prefix("process id: "))
        .map(|p| p.parse::<i64>().unwrap())
        .next_back()
        .unwrap();
    let child = process_rows(&v)
        .into_iter()
        .find(|p| p["name"] == "Process-1")
        .unwrap();
    assert_eq!(child["pid"], pid, "the pid the child printed is its row's");
}
