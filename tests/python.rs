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
        assert_eq!(q["created_at"], "queues.py:32");
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
