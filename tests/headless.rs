//! Real scenarios run headless through the real binary, under every start method.

mod common;
use common::*;

const METHODS: [&str; 3] = ["fork", "spawn", "forkserver"];

fn value_after(lines: &[String], prefix: &str, nth: usize) -> i32 {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(prefix))
        .nth(nth)
        .unwrap_or_else(|| panic!("no {nth}th {prefix:?} in {lines:#?}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn process_prints_what_cpython_prints_with_the_right_parents() {
    for m in METHODS {
        // --speed: the child's 3 s in the tree take 30 ms here.
        let (v, out) = run_json(&[
            "scenarios/process.toml",
            "--start-method",
            m,
            "--speed",
            "100",
        ]);
        assert!(
            out.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = output_lines(&v);
        assert_eq!(lines[0], "main line");
        assert_eq!(lines[1], "module name: __main__");
        assert_eq!(lines[4], "function f");
        let child_module = if m == "fork" {
            "__main__"
        } else {
            "__mp_main__"
        };
        assert_eq!(lines[5], format!("module name: {child_module}"));
        assert_eq!(lines[8], "hello bob");
        assert_eq!(lines.len(), 9, "{m}: {lines:#?}");

        let main_pid = value_after(&lines, "process id: ", 0);
        let child_parent = value_after(&lines, "parent process: ", 1);
        let child_pid = value_after(&lines, "process id: ", 1);
        let rows = process_rows(&v);
        let row = |name: &str| rows.iter().find(|r| r["name"] == name).copied();
        let main = row("main").unwrap();
        let f = row("f").unwrap();
        assert_eq!(main["pid"], main_pid);
        assert_eq!(f["pid"], child_pid);
        assert_eq!(
            f["logical_ppid"], main_pid,
            "{m}: the logical parent is always main"
        );
        assert_eq!(f["os_ppid"], child_parent);
        assert_eq!(f["exitcode"], 0);
        assert!(f["start_us"].as_f64().unwrap() > 0.0);
        if m == "forkserver" {
            let server = row("forkserver").expect("a fork server row");
            assert_ne!(
                child_parent, main_pid,
                "forkserver: the OS parent is the server"
            );
            assert_eq!(server["pid"], child_parent);
            assert_eq!(server["os_ppid"], main_pid);
        } else {
            assert_eq!(child_parent, main_pid, "{m}: the OS parent is main");
            assert!(row("forkserver").is_none());
        }
        let run = v.last().unwrap();
        assert_eq!(run["type"], "run");
        assert_eq!(run["ok"], true);
        assert_eq!(run["method"], m);
    }
}

#[test]
fn pool_counts_every_prime_exactly_under_each_method() {
    for m in METHODS {
        let (v, out) = run_json(&[
            "scenarios/pool.toml",
            "--start-method",
            m,
            "--workers",
            "3",
            "--set",
            "task.below=2000000",
        ]);
        assert!(
            out.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = output_lines(&v);
        assert!(
            lines.contains(&"primes below 2000000: 148933".to_string()),
            "{m}: {lines:#?}"
        );
        let rows = process_rows(&v);
        let main_pid = rows.iter().find(|r| r["role"] == "main").unwrap()["pid"].clone();
        let workers: Vec<_> = rows.iter().filter(|r| r["role"] == "pool_worker").collect();
        assert_eq!(workers.len(), 3, "{m}");
        let done: u64 = workers
            .iter()
            .map(|w| w["tasks_done"].as_u64().unwrap())
            .sum();
        // 64 chunks of map, 4 sleeps of imap_unordered, 2 apply_async calls.
        assert_eq!(done, 70, "{m}: every task is run once");
        let mut sleeps: Vec<&String> = lines.iter().filter(|l| l.starts_with("  sleep(")).collect();
        sleeps.sort();
        assert_eq!(
            sleeps,
            [
                "  sleep(100) = 100",
                "  sleep(300) = 300",
                "  sleep(500) = 500",
                "  sleep(900) = 900"
            ],
            "{m}: imap_unordered yields every result once"
        );
        assert_eq!(
            lines
                .iter()
                .find(|l| l.starts_with("  sleep("))
                .map(String::as_str),
            Some("  sleep(100) = 100"),
            "{m}: the shortest first"
        );
        assert!(
            lines.contains(&"callback primes(0, 1000000): 78498".to_string()),
            "{m}: {lines:#?}"
        );
        assert!(
            lines.contains(&"error_callback fail(7): ValueError: fail(7)".to_string()),
            "{m}"
        );
        for w in &workers {
            assert_eq!(w["logical_ppid"], main_pid);
            assert_eq!(w["exitcode"], 0);
            assert_eq!(w["method"], m);
        }
        let per_worker = lines
            .iter()
            .find(|l| l.starts_with("tasks per worker:"))
            .unwrap();
        let printed: u64 = per_worker
            .split(", ")
            .map(|p| p.rsplit(": ").next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(printed, 64, "{per_worker}");
    }
}

#[test]
fn the_text_summary_names_every_process() {
    let out = mpdash(&[
        "run",
        "--headless",
        "scenarios/process.toml",
        "--start-method",
        "forkserver",
        "--speed",
        "100",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "NAME",
        "OS PPID",
        "PARENT",
        "forkserver",
        "main",
        "hello bob",
        "finished in",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn lifecycle_exitcodes_match_cpython_under_each_method() {
    for m in METHODS {
        let (v, out) = run_json(&["scenarios/lifecycle.toml", "--start-method", m]);
        assert!(
            out.status.success(),
            "{m}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = output_lines(&v);
        let rows = process_rows(&v);
        let row = |n: &str| *rows.iter().find(|r| r["name"] == n).unwrap();
        let main_pid = row("main")["pid"].as_i64().unwrap();
        let sleeper = row("sleeper")["pid"].as_i64().unwrap();
        let expect = [
            format!("<Process name='sleeper' parent={main_pid} initial>"),
            format!("<Process name='sleeper' pid={sleeper} parent={main_pid} started>"),
            format!(
                "<Process name='sleeper' pid={sleeper} parent={main_pid} stopped exitcode=-SIGTERM>"
            ),
        ];
        for e in &expect {
            assert!(lines.contains(e), "{m}: {e:?} not in {lines:#?}");
        }
        assert!(lines.iter().any(|l| l.starts_with("<Process name='victim'")
            && l.ends_with("stopped exitcode=-SIGKILL>")));
        assert!(lines.iter().any(
            |l| l.starts_with("<Process name='quitter'") && l.ends_with("stopped exitcode=3>")
        ));
        assert_eq!(row("sleeper")["exitcode"], -15, "{m}");
        assert_eq!(row("victim")["exitcode"], -9, "{m}");
        assert_eq!(row("quitter")["exitcode"], 3, "{m}");
        assert_eq!(
            row("daemon")["exitcode"],
            -9,
            "{m}: the daemon is killed when main ends"
        );
        assert_eq!(row("main")["exitcode"], 0, "{m}");
    }
}

#[test]
fn a_scenario_bigger_than_an_argv_string_runs() {
    // 40 000 items: the spec is far over the kernel's 128 KiB per argument,
    // so it must reach the main process another way (an fd).
    let items: Vec<String> = (0..40_000).map(|i| i.to_string()).collect();
    let text = format!(
        "[scenario]\ntitle = \"big\"\nexplain = \"\"\n[pool]\nworkers = 2\n[main]\nsteps = [{{ pool = {{ call = \"map\", func = \"square\", items = [{}] }} }}]\n",
        items.join(", ")
    );
    let v = run_text("big", &text);
    let sum: i64 = (0..40_000i64).map(|x| x * x).sum();
    let lines = output_lines(&v);
    assert!(
        lines.contains(&format!("  -> 40000 results, sum {sum}")),
        "{lines:#?}"
    );
}

#[test]
fn a_spawned_child_with_a_spec_bigger_than_an_argv_string_starts() {
    // One step prints 150 000 characters: the spawned child's spec cannot go
    // through argv (128 KiB per argument); it comes on its stdin.
    let long = "x".repeat(150_000);
    let text = format!(
        "[scenario]\ntitle = \"big child\"\nexplain = \"\"\nstart_method = \"spawn\"\n[[process]]\nname = \"f\"\nsteps = [{{ print = \"{long}\" }}]\n[main]\nsteps = [{{ start = \"f\" }}, {{ join = \"f\" }}]\n"
    );
    let v = run_text("bigchild", &text);
    let f = process_rows(&v)
        .into_iter()
        .find(|r| r["name"] == "f")
        .unwrap()
        .clone();
    assert_eq!(f["exitcode"], 0, "{f}");
    assert_eq!(f["method"], "spawn");
    // The child really ran its step: the line came out (cut to the 4 KiB a
    // line may take on screen, every character the one it printed).
    let out = output_lines(&v);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].len(), 4096);
    assert!(out[0].bytes().all(|b| b == b'x'));
    // `--json` says who printed it: the child's name, not the run's.
    let line = v.iter().find(|l| l["type"] == "output").unwrap();
    assert_eq!(line["process"], "f", "{}", line["process"]);
}

#[test]
fn nan_and_inf_values_travel_as_in_cpython_and_sums_are_exact() {
    let text = r#"[scenario]
title = "floats"
explain = "x"
[[value]]
name = "v"
typecode = "d"
init = nan
[[process]]
name = "p"
steps = [{ print_value = "v" }, { set_value = { value = "v", to = -inf } }]
[main]
steps = [{ start = "p" }, { join = "p" }, { print_value = "v" },
         { pool = { call = "map", func = "square", range = [0, 10000000] } }]
"#;
    let lines = output_lines(&run_text("floats", text));
    // CPython: Value('d', float('nan')) prints nan; after v.value = -inf, -inf;
    // sum(x*x for x in range(10**7)) == 333333283333335000000 (past 2**63).
    assert_eq!(lines[0], "nan", "{lines:?}");
    assert_eq!(lines[1], "-inf", "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("10000000 results, sum 333333283333335000000")),
        "{lines:?}"
    );
}

#[test]
fn a_reader_that_leaves_early_is_no_error() {
    // `mpdash run --headless --json … | head -1`: once head has its line and
    // leaves, mpdash ends quietly.
    let mut child = std::process::Command::new(BIN)
        .args(["run", "--headless", "--json", "scenarios/queue.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
        r.read_line(&mut first).unwrap();
    } // the reading end closes here
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("\"type\":\"output\""), "{first}");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("Broken pipe"), "{err}");
}

/// A recording file in a directory of its own, removed when dropped (also
/// when an assertion fails).
struct ScratchDir(std::path::PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The screen `mpdash replay` would draw of `app`, as text.
fn screen(app: &mpdash::app::App, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| mpdash::ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                + "\n"
        })
        .collect()
}

#[test]
fn a_headless_run_records_what_replay_shows() {
    let dir = ScratchDir(std::env::temp_dir().join(format!("mpdash-hrec-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let rec = dir.0.join("queue.rec");
    let rec = rec.to_str().unwrap();
    // --speed: the producers' 1.5 s take 0.15 s; --rate: samples meanwhile.
    let out = mpdash(&[
        "run",
        "--headless",
        "scenarios/queue.toml",
        "--speed",
        "10",
        "--rate",
        "20",
        "--record",
        rec,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("run saved to {rec}")), "{err}");
    // The run's own output is unchanged on stdout.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("[42, None, 'hello']\n"), "{stdout}");

    // The file is a recording: a header, samples that saw the producers
    // alive, the end with exit 0.
    let text = std::fs::read_to_string(rec).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["header"]["format"], "mpdash recording 1");
    let samples: Vec<_> = lines.iter().filter_map(|l| l.get("sample")).collect();
    assert!(samples.len() >= 2, "{} samples", samples.len());
    let producers_seen =
        samples.iter().any(|s| {
            s["snapshot"]["procs"].as_array().unwrap().iter().any(|p| {
                p["name"].as_str().unwrap().starts_with("producer") && p["state"] != "exited"
            })
        });
    assert!(producers_seen, "no sample shows a live producer:\n{text}");
    assert_eq!(lines.last().unwrap()["end"]["exit"], 0, "{text}");

    // Played back as `mpdash replay` does (load, then draw): the run's end,
    // with the producers in the process table and the output.
    let app = mpdash::app::recording::load(rec, 4.0).unwrap();
    let shown = screen(&app, 120, 36);
    assert!(shown.contains("producer"), "{shown}");
    assert!(shown.contains("consumer"), "{shown}");
    // The header's meters are the machine's, as the dashboard shows them.
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert!(shown.contains(&format!(" {cpus} CPUs ")), "{shown}");
    assert!(
        app.shown_log().any(|p| p.line == "[42, None, 'hello']"),
        "{shown}"
    );

    // A file that cannot be written is said before anything runs.
    let out = mpdash(&[
        "run",
        "--headless",
        "scenarios/queue.toml",
        "--record",
        "/no/such/dir/f.rec",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot write the recording /no/such/dir/f.rec"),
        "{err}"
    );
}

#[test]
fn a_headless_python_program_records_too() {
    let dir = ScratchDir(std::env::temp_dir().join(format!("mpdash-hpy-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let rec = dir.0.join("process.rec");
    let rec = rec.to_str().unwrap();
    let out = mpdash(&[
        "run",
        "--headless",
        "scenarios/python/process.py",
        "--rate",
        "20",
        "--record",
        rec,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("run saved to {rec}")), "{err}");
    let text = std::fs::read_to_string(rec).unwrap();
    let header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    // Replay knows it is a probed program, not a scenario.
    assert_eq!(
        header["header"]["foreign"][1],
        "scenarios/python/process.py"
    );
    assert_eq!(header["header"]["probed"], true);
    let app = mpdash::app::recording::load(rec, 4.0).unwrap();
    let shown = screen(&app, 120, 36);
    for name in ["MainProcess", "Process-1"] {
        assert!(shown.contains(name), "{name}:\n{shown}");
    }
    assert!(app.shown_log().any(|p| p.line == "hello bob"), "{shown}");
}
