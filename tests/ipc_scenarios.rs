//! The IPC scenarios print exactly what CPython's examples print, under every
//! start method, and their counts are exact.

mod common;
use common::*;

const METHODS: [&str; 3] = ["fork", "spawn", "forkserver"];

fn run_ok(file: &str, m: &str) -> Vec<String> {
    let (v, out) = run_json(&[file, "--start-method", m]);
    assert!(
        out.status.success(),
        "{file} {m}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = output_lines(&v);
    assert!(
        !lines.iter().any(|l| l.starts_with("error")),
        "{file} {m}: {lines:#?}"
    );
    for p in process_rows(&v) {
        assert_eq!(p["exitcode"], 0, "{file} {m}: {p}");
    }
    lines
}

#[test]
fn queue_delivers_the_tutorials_message_and_every_produced_one_once() {
    for m in METHODS {
        let lines = run_ok("scenarios/queue.toml", m);
        assert_eq!(lines[0], "[42, None, 'hello']", "{m}");
        let mut sum = 0u64;
        let mut got = 0;
        for l in &lines {
            if let Some(rest) = l.strip_prefix("consumer ") {
                let (_, tail) = rest.split_once(" got ").unwrap();
                let (n, s) = tail.split_once(" messages (sum ").unwrap();
                got += n.parse::<u64>().unwrap();
                sum += s.trim_end_matches(')').parse::<u64>().unwrap();
            }
        }
        assert_eq!(got, 300, "{m}");
        // producer i puts i * 1e6 + k for k in 0..150
        let expect: u64 = (0..2u64)
            .map(|i| (0..150).map(|k| i * 1_000_000 + k).sum::<u64>())
            .sum();
        assert_eq!(sum, expect, "{m}: every message exactly once");
    }
}

#[test]
fn pipe_carries_the_tutorials_message_and_plays_ping_pong() {
    for m in METHODS {
        let lines = run_ok("scenarios/pipe.toml", m);
        assert_eq!(lines[0], "[42, None, 'hello']", "{m}");
        // `ping-pong: 60000 round trips, p50 12.3 µs, p99 45.6 µs`: both
        // figures real numbers, p50 ≤ p99, and nothing else on the line.
        let rest = lines[1]
            .strip_prefix("ping-pong: 60000 round trips, p50 ")
            .unwrap_or_else(|| panic!("{m}: {lines:?}"));
        let (p50, p99) = rest
            .strip_suffix(" µs")
            .and_then(|r| r.split_once(" µs, p99 "))
            .unwrap_or_else(|| panic!("{m}: {lines:?}"));
        let (p50, p99): (f64, f64) = (p50.parse().unwrap(), p99.parse().unwrap());
        assert!(p50 > 0.0 && p50 <= p99, "{m}: {lines:?}");
    }
}

#[test]
fn sync_prints_whole_lines_once_and_counts_exactly() {
    for m in METHODS {
        let lines = run_ok("scenarios/sync.toml", m);
        let mut hello: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("hello world"))
            .collect();
        hello.sort_by_key(|l| l[12..].parse::<u32>().unwrap());
        let want: Vec<String> = (0..10).map(|i| format!("hello world {i}")).collect();
        assert_eq!(hello, want.iter().collect::<Vec<_>>(), "{m}");
        assert!(
            lines.contains(
                &"counter (with its lock) = 800000 of 800000: 0 updates lost".to_string()
            ),
            "{m}: {lines:#?}"
        );
        assert_eq!(
            lines.iter().filter(|l| l.contains(": passed meet")).count(),
            4,
            "{m}"
        );
        let set = lines
            .iter()
            .position(|l| l == "main: setting the event")
            .unwrap();
        let first_pass = lines
            .iter()
            .position(|l| l.contains("passed meet"))
            .unwrap();
        assert!(
            set < first_pass,
            "{m}: nobody passes before the event is set"
        );
    }
}

#[test]
fn shared_memory_prints_cpythons_values_and_the_locked_count_is_exact() {
    for m in METHODS {
        let lines = run_ok("scenarios/shared_memory.toml", m);
        assert_eq!(lines[0], "3.1415927", "{m}");
        assert_eq!(lines[1], "[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]", "{m}");
        assert_eq!(
            lines[2], "locked (with its lock) = 20000000 of 20000000: 0 updates lost",
            "{m}"
        );
        assert!(lines[3].starts_with("unlocked (without a lock) = "), "{m}");
    }
}

#[test]
fn the_tutorial_prints_what_cpython_prints_under_each_method() {
    for m in ["fork", "spawn", "forkserver"] {
        let (v, out) = run_json(&["scenarios/manager.toml", "--start-method", m]);
        assert!(
            out.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = output_lines(&v);
        assert_eq!(lines[0], "{1: '1', '2': 2, 0.25: None}", "{m}: {lines:#?}");
        assert_eq!(lines[1], "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]", "{m}");
        assert!(
            lines[2].contains("through manager.Value"),
            "{m}: {lines:#?}"
        );
        assert!(lines[3].contains("through a shared Value"), "{m}");
        let rows = process_rows(&v);
        let main = rows.iter().find(|r| r["role"] == "main").unwrap();
        let server = rows
            .iter()
            .find(|r| r["role"] == "manager")
            .expect("a manager row");
        assert_eq!(
            server["logical_ppid"], main["pid"],
            "{m}: the manager is main's child"
        );
        assert_eq!(server["method"], m);
        assert_eq!(server["exitcode"], 0, "{m}: shut down cleanly");
    }
}

#[test]
fn a_lock_keeps_critical_sections_whole() {
    // Each process prints `in i`, sleeps, prints `out i`, holding the lock:
    // with it the lines pair up; without it they interleave. (The tutorial's
    // `hello world i` cannot tell: each line is one write either way.)
    let text = |steps: &str| {
        format!(
            "[scenario]\ntitle = \"t\"\nexplain = \"\"\nstart_method = \"fork\"\n[[lock]]\nname = \"l\"\n[[process]]\nname = \"f\"\ncount = 4\nsteps = [{steps}]\n[main]\nsteps = [{{ start = \"f\" }}, {{ join = \"f\" }}]\n"
        )
    };
    let pairs = |lines: &[String]| {
        lines
            .chunks(2)
            .all(|p| p.len() == 2 && p[0].strip_prefix("in ") == p[1].strip_prefix("out "))
    };
    let locked = text(
        r#"{ acquire = "l" }, { print = "in {i}" }, { sleep_ms = 50 }, { print = "out {i}" }, { release = "l" }"#,
    );
    let lines = output_lines(&run_text("locked", &locked));
    assert_eq!(lines.len(), 8, "{lines:?}");
    assert!(pairs(&lines), "with the lock: {lines:?}");
    let unlocked = text(r#"{ print = "in {i}" }, { sleep_ms = 50 }, { print = "out {i}" }"#);
    let lines = output_lines(&run_text("unlocked", &unlocked));
    assert!(
        !pairs(&lines),
        "without the lock they interleave: {lines:?}"
    );
}
