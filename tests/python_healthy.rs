//! Proof before alarm, on slow but healthy CPython programs: a wait that
//! something the probe does not track could end — another thread of the
//! process (a producer thread, a `threading.Timer`), a signal handler with
//! an alarm pending — is no proof that the program can never move. Each of
//! these programs pauses longer than the grace (`--stuck-after 1`), and must
//! end exactly as it does without mpdash: same output, exit 0, no `stuck`
//! line. (Seen failing with escapes ignored: all four were called stuck and
//! killed with exit 3.)

mod common;
use common::*;

/// Runs `tests/py/healthy/NAME.py` plain and under mpdash; both must print
/// the same lines and exit 0, and mpdash must not call it stuck.
fn healthy(name: &str) {
    let file = format!("tests/py/healthy/{name}.py");
    let plain = std::process::Command::new("python3")
        .arg(&file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs (apt-get install python3)");
    assert!(plain.status.success(), "{file} plain: {plain:?}");
    let (v, out) = run_json(&["--stuck-after", "1", &file]);
    let stuck: Vec<_> = v.iter().filter(|l| l["type"] == "stuck").collect();
    assert!(stuck.is_empty(), "{file} called stuck: {stuck:?}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = output_lines(&v);
    let theirs: Vec<String> = String::from_utf8_lossy(&plain.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert!(
        same_output(&ours, &theirs),
        "{file}: output differs from a plain run:\n{ours:?}\n{theirs:?}"
    );
}

#[test]
fn a_thread_of_main_that_feeds_a_child_slowly_is_not_a_hang() {
    healthy("thread_producer");
}

#[test]
fn an_event_set_by_a_timer_thread_is_not_a_hang() {
    healthy("timer_event");
}

#[test]
fn a_lock_released_by_a_timer_thread_is_not_a_deadlock() {
    healthy("timer_lock");
}

#[test]
fn a_wait_a_sigalrm_handler_ends_is_not_a_hang() {
    healthy("sigalrm");
}

#[test]
fn a_proven_hang_ends_with_the_exit_status_ci_chose_and_says_so() {
    let (v, out) = run_json(&["--stuck-exit", "42", "scenarios/python/lock_order.py"]);
    assert_eq!(
        out.status.code(),
        Some(42),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = v.iter().find(|l| l["type"] == "run").expect("a run line");
    assert_eq!(run["stuck"], true);
    assert_eq!(run["exit"], 42);
    let (v, out) = run_json(&["--stuck-exit", "42", "tests/py/healthy/timer_lock.py"]);
    assert_eq!(out.status.code(), Some(0));
    let run = v.iter().find(|l| l["type"] == "run").expect("a run line");
    assert_eq!(run["stuck"], false);
}
