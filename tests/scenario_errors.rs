//! Every kind of scenario mistake is reported with file:line:column and key,
//! and nothing is started.

mod common;
use common::*;

const GOOD: &str = r#"[scenario]
title = "t"
explain = "e"
start_method = "fork"

[pool]
workers = 2
chunksize = 1

[task]
kind = "primes"
below = 1000
chunks = 4

[[process]]
name = "f"
steps = [{ print = "hi" }]

[main]
steps = [{ start = "f" }, { join = "f" }, "pool_map"]
"#;

/// Writes `text` to a fresh file and returns its path.
/// A scenario file in a temporary directory, removed (with its directory,
/// once empty) when dropped.
struct TempScenario(String);

impl Drop for TempScenario {
    fn drop(&mut self) {
        let p = std::path::Path::new(&self.0);
        let _ = std::fs::remove_file(p);
        if let Some(dir) = p.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn scenario_file(name: &str, text: &str) -> TempScenario {
    // A directory per test: tests run in parallel and each removes its own.
    let dir = std::env::temp_dir().join(format!("mpdash-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    TempScenario(p.to_string_lossy().into_owned())
}

/// Replaces `from` by `to` in the good scenario (exactly once).
fn broken(from: &str, to: &str) -> String {
    assert_eq!(GOOD.matches(from).count(), 1, "{from:?}");
    GOOD.replace(from, to)
}

fn expect_error(name: &str, text: &str, line_col: &str, needles: &[&str]) {
    let file = scenario_file(name, text);
    let path = file.0.clone();
    for args in [
        vec!["check", path.as_str()],
        vec!["run", "--headless", path.as_str()],
    ] {
        let out = mpdash(&args);
        assert!(!out.status.success(), "{name}: accepted by {args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let want = format!("{path}:{line_col}: ");
        assert!(err.contains(&want), "{name}: expected {want:?} in {err:?}");
        for n in needles {
            assert!(err.contains(n), "{name}: expected {n:?} in {err:?}");
        }
        assert!(
            out.stdout.is_empty(),
            "{name}: something ran: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn the_good_scenario_is_accepted() {
    let file = scenario_file("good.toml", GOOD);
    let path = file.0.clone();
    let out = mpdash(&["check", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unknown_key() {
    expect_error(
        "unknown_key.toml",
        &broken("chunksize = 1", "chunksize = 1\nworkerz = 3"),
        "9:1",
        &[
            "pool.workerz",
            "unknown field `workerz`",
            "did you mean `workers`?",
        ],
    );
}

#[test]
fn a_wrong_type() {
    expect_error(
        "wrong_type.toml",
        &broken("workers = 2", "workers = \"two\""),
        "7:11",
        &["pool.workers", "integer"],
    );
}

#[test]
fn zero_workers() {
    expect_error(
        "zero_workers.toml",
        &broken("workers = 2", "workers = 0"),
        "7:11",
        &["pool.workers", "between 1 and"],
    );
}

#[test]
fn a_negative_size() {
    expect_error(
        "negative.toml",
        &broken("below = 1000", "below = -5"),
        "12:9",
        &["task.below", "got -5"],
    );
}

#[test]
fn an_unknown_start_method() {
    expect_error(
        "method.toml",
        &broken("\"fork\"", "\"frok\""),
        "4:16",
        &[
            "scenario.start_method",
            "unknown variant `frok`",
            "forkserver",
        ],
    );
}

#[test]
fn an_undeclared_process() {
    expect_error(
        "undeclared.toml",
        &broken("{ start = \"f\" }", "{ start = \"g\" }"),
        "20:10",
        &["main.steps", "no [[process]] named \"g\""],
    );
}

#[test]
fn a_join_before_start() {
    expect_error(
        "join_first.toml",
        &broken(
            "[{ start = \"f\" }, { join = \"f\" }",
            "[{ join = \"f\" }, { start = \"f\" }",
        ),
        "20:10",
        &["join", "not started"],
    );
}

#[test]
fn an_unknown_step() {
    expect_error(
        "step.toml",
        &broken("{ print = \"hi\" }", "{ shout = \"hi\" }"),
        "17:12",
        &["process.steps", "unknown variant `shout`"],
    );
}

#[test]
fn a_duplicate_process() {
    let text = GOOD.replace("[main]", "[[process]]\nname = \"f\"\nsteps = []\n\n[main]");
    expect_error(
        "dup.toml",
        &text,
        "20:8",
        &["process.name", "already declared"],
    );
}

#[test]
fn more_chunks_than_numbers() {
    expect_error(
        "chunks.toml",
        &broken("chunks = 4", "chunks = 5000"),
        "13:10",
        &["task.chunks", "between 1 and 1000"],
    );
}

#[test]
fn a_missing_section() {
    expect_error(
        "missing.toml",
        &GOOD.replace(
            "[main]\nsteps = [{ start = \"f\" }, { join = \"f\" }, \"pool_map\"]\n",
            "",
        ),
        "1:1",
        &["missing field `main`"],
    );
}

#[test]
fn broken_toml_syntax() {
    expect_error(
        "syntax.toml",
        &broken("title = \"t\"", "title = \"t"),
        "2:11",
        &["scenario.title"],
    );
}

#[test]
fn a_bad_override_names_the_key() {
    let file = scenario_file("override.toml", GOOD);
    let path = file.0.clone();
    let out = mpdash(&["check", &path, "--set", "pool.workers=-1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{path}:7:11: pool.workers: ")),
        "{err}"
    );
}

#[test]
fn a_missing_file() {
    let out = mpdash(&["check", "no/such/file.toml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.toml: cannot read"));
}

#[test]
fn a_pool_call_with_an_unknown_function() {
    expect_error(
        "pool_func.toml",
        &broken(
            "\"pool_map\"]",
            "\"pool_map\", { pool = { call = \"map\", func = \"sqaure\", range = [0, 9] } }]",
        ),
        "20:55",
        &[
            "main.steps",
            "unknown function \"sqaure\"",
            "square(x)",
            "did you mean \"square\"?",
        ],
    );
}

#[test]
fn a_pool_call_with_the_wrong_arguments() {
    expect_error(
        "pool_args.toml",
        &broken(
            "\"pool_map\"]",
            "\"pool_map\", { pool = { call = \"starmap\", func = \"primes\", items = [[0, 10], [5]] } }]",
        ),
        "20:55",
        &["primes(lo, hi) takes 2 argument(s) per task"],
    );
    expect_error(
        "pool_death.toml",
        &broken(
            "chunksize = 1",
            "chunksize = 1\non_worker_death = \"ignore\"",
        ),
        "9:19",
        &["pool.on_worker_death", "\"retry\" or \"fail\""],
    );
}

#[test]
fn workers_on_the_command_line_follow_the_files_rule() {
    for bad in ["0", "100000"] {
        let out = mpdash(&["run", "--headless", "scenarios/pool.toml", "--workers", bad]);
        assert_eq!(out.status.code(), Some(2), "--workers {bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--workers: the number of workers must be between 1 and 512"),
            "{err}"
        );
    }
    let out = mpdash(&["scale", "scenarios/scaling.toml", "--max-workers", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--max-workers: must be between 1 and 512")
    );
}

#[test]
fn an_array_value_its_typecode_cannot_hold() {
    let text = GOOD.replace(
        "[main]",
        "[[array]]\nname = \"a\"\ntypecode = \"b\"\ninit = [300, -200, 127]\n\n[main]",
    );
    expect_error(
        "overflow.toml",
        &text,
        "22:8",
        &[
            "OverflowError: signed char is greater than maximum",
            "-128 to 127",
        ],
    );
}

#[test]
fn a_number_too_big_for_64_bits() {
    let big = "9".repeat(400);
    let text = GOOD.replace(
        "[main]",
        &format!("[[value]]\nname = \"v\"\ntypecode = \"q\"\ninit = {big}\n\n[main]"),
    );
    expect_error("bignum.toml", &text, "22:8", &["does not fit 64 bits"]);
}

#[test]
fn a_message_bigger_than_its_queue_takes() {
    let text = GOOD
        .replace(
            "[[process]]",
            "[[queue]]\nname = \"q\"\nmax_message = 8\n\n[[process]]",
        )
        .replace(
            "steps = [{ print = \"hi\" }]",
            "steps = [{ put = { queue = \"q\", value = \"'a long message'\" } }]",
        );
    expect_error(
        "bigput.toml",
        &text,
        "21:10",
        &["queue \"q\" holds messages of at most 8"],
    );
}

#[test]
fn a_huge_file_is_refused_before_it_is_parsed() {
    let file = scenario_file("huge.toml", &"#".repeat(2 << 20));
    let out = mpdash(&["check", &file.0]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a scenario is at most 1024 KiB"), "{err}");
}

/// queue.toml with `from` replaced by `to` once (the line stays where it was).
fn queue_toml_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(format!(
        "{}/scenarios/queue.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert!(text.contains(from), "{from:?}");
    text.replacen(from, to, 1)
}

/// `line:column` (1-based) where `needle` first starts in `text`, so the
/// tests follow queue.toml when lines are added to it.
fn at(text: &str, needle: &str) -> String {
    let i = text.find(needle).unwrap_or_else(|| panic!("{needle:?}"));
    let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
    format!(
        "{}:{}",
        text[..i].matches('\n').count() + 1,
        text[line_start..i].chars().count() + 1
    )
}

fn line_of(text: &str, needle: &str) -> String {
    at(text, needle).split(':').next().unwrap().to_string()
}

#[test]
fn a_misspelt_process_name_gets_the_one_it_meant() {
    // In a step: the step's place, and the name it meant with its line.
    let text = queue_toml_with("{ start = \"producer\" }", "{ start = \"producre\" }");
    expect_error(
        "producre.toml",
        &text,
        &at(&text, "{ start = \"producre\" }"),
        &[
            "main.steps",
            "no [[process]] named \"producre\"",
            &format!(
                "did you mean \"producer\" (line {})?",
                line_of(&text, "name = \"producer\"")
            ),
        ],
    );
    // In the declaration: the step that names it says where the look-alike is.
    let text = queue_toml_with("name = \"producer\"", "name = \"producre\"");
    expect_error(
        "declared_producre.toml",
        &text,
        &at(&text, "{ start = \"producer\" }"),
        &[
            "no [[process]] named \"producer\"",
            &format!(
                "did you mean \"producre\" (line {})?",
                line_of(&text, "name = \"producre\"")
            ),
        ],
    );
    // join, terminate and kill name an undeclared process as start does.
    let text = queue_toml_with("{ join = \"consumer\" }", "{ join = \"consmer\" }");
    expect_error(
        "join_consmer.toml",
        &text,
        &at(&text, "{ join = \"consmer\" }"),
        &[
            "join: no [[process]] named \"consmer\"",
            "did you mean \"consumer\"",
        ],
    );
}

#[test]
fn a_misspelt_resource_or_step_gets_the_one_it_meant() {
    let text = queue_toml_with(
        "queue = \"work\", count = 150, pace_ms = 10",
        "queue = \"wrok\", count = 150, pace_ms = 10",
    );
    expect_error(
        "wrok.toml",
        &text,
        &at(&text, "{ put_many"),
        &[
            "put_many: no resource named \"wrok\"",
            "did you mean \"work\"?",
        ],
    );
    let text = queue_toml_with("put_many", "put_mnay");
    expect_error(
        "put_mnay.toml",
        &text,
        &at(&text, "put_mnay"),
        &["unknown variant `put_mnay`", "did you mean `put_many`?"],
    );
    // Nothing close: no suggestion at all.
    let text = queue_toml_with("{ start = \"producer\" }", "{ start = \"elsewhere\" }");
    expect_error(
        "elsewhere.toml",
        &text,
        &at(&text, "{ start = \"elsewhere\" }"),
        &["no [[process]] named \"elsewhere\" is declared\n"],
    );
}

#[test]
fn check_on_a_python_program_compiles_it() {
    let good = scenario_file("good.py", "import sys\nprint(sys.argv)\n");
    let out = mpdash(&["check", &good.0]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("it compiles with python3"), "{said}");
    assert!(said.contains("nothing is run"), "{said}");
    // A syntax error: Python's own file:line:column and message, exit 2, and
    // never `key with no value` (the file is not read as TOML).
    let bad = scenario_file("bad.py", "import os\n\ndef f(:\n    pass\n");
    let out = mpdash(&["check", &bad.0]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:3:7: SyntaxError", bad.0)),
        "{err}"
    );
    assert!(!err.contains("key with no value"), "{err}");
    assert!(out.stdout.is_empty());
    // The interpreter asked for is the one that compiles.
    let out = mpdash(&["check", "--python", "/no/such/python", &good.0]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot run /no/such/python"), "{err}");
}
