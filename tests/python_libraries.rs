//! Real libraries under the probe: joblib (both process backends) and
//! concurrent.futures. The program's output is unchanged, and nothing a
//! library makes for itself (loky's queues and pipes, joblib's pool's
//! locks) is shown as the program's object: every `resource` line names the
//! program's own file where it was made. `.ci/run` installs joblib with pip.

mod common;
use common::*;

fn unchanged_and_only_the_program_s_objects(file: &str) -> Vec<serde_json::Value> {
    let plain = std::process::Command::new("python3")
        .arg(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs");
    assert!(
        plain.status.success(),
        "{file} plain (is joblib installed? pip install joblib): {}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let (v, out) = run_json(&[file]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<String> = String::from_utf8_lossy(&plain.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(output_lines(&v), theirs, "{file}: output differs");
    let base = std::path::Path::new(file)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    for r in v.iter().filter(|l| l["type"] == "resource") {
        let at = r["created_at"].as_str().unwrap_or_default();
        assert!(
            at.starts_with(&format!("{base}:")),
            "{file}: a library's own object shown as the program's: {r}"
        );
    }
    v
}

#[test]
fn joblib_with_both_backends_is_unharmed_and_its_internals_are_not_the_program_s() {
    unchanged_and_only_the_program_s_objects("tests/py/libraries/joblib_both.py");
}

#[test]
fn a_process_pool_executor_is_the_program_s_own_and_counted() {
    let v = unchanged_and_only_the_program_s_objects("tests/py/libraries/futures.py");
    let ex = v
        .iter()
        .find(|l| l["type"] == "resource" && l["kind"] == "ProcessPoolExecutor")
        .unwrap_or_else(|| panic!("the executor: {v:?}"));
    assert!(
        ex["created_at"]
            .as_str()
            .unwrap()
            .starts_with("futures.py:"),
        "{ex}"
    );
}
