//! Every number true, and the program unharmed: a JoinableQueue handed to
//! spawn and forkserver children pickles as without mpdash (it raised a
//! TypeError under the probe: the state's shape was changed), and its puts,
//! gets and task_done calls are counted where they are made; a consumer
//! that never calls task_done is named as the reason a join never ends.

mod common;
use common::*;

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
