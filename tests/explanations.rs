//! Every number a scenario's explanation states is one the scenario uses:
//! "200 000 each" must be a value of the file, not a number from an older
//! version of it (the explanation is what a learner reads next to the run).

use std::path::Path;

/// Numbers of two digits or more in `text`, with CPython-style digit groups
/// (`200 000`, `20_000`) joined; a number followed by "Hz" is a sampling
/// rate, not a value of the scenario.
fn numbers(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && chars[i - 1].is_alphanumeric()) {
            i += 1;
            continue;
        }
        let mut n = String::new();
        while i < chars.len() {
            let c = chars[i];
            let grouped = (c == ' ' || c == '_')
                && chars
                    .get(i + 1..i + 4)
                    .is_some_and(|d| d.iter().all(char::is_ascii_digit))
                && chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
            if c.is_ascii_digit() {
                n.push(c);
            } else if !grouped {
                break;
            }
            i += 1;
        }
        let rest: String = chars[i..].iter().take(3).collect();
        if n.len() >= 2 && !rest.trim_start().starts_with("Hz") {
            out.push(n);
        }
    }
    out
}

fn scenario_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dir in ["scenarios", "scenarios/stuck"] {
        for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_numbers_each_explanation_states_are_the_scenarios_own() {
    let mut wrong = Vec::new();
    let files = scenario_files();
    assert!(files.len() >= 15, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let explain = doc["scenario"]["explain"].as_str().unwrap_or_default();
        // The file's values and its comments (a commented-out setting the
        // explanation suggests, the CPython code it mirrors): everything but
        // the explanation itself.
        let body = text.replace(explain, "").replace('_', "");
        let values = numbers(&body);
        for n in numbers(explain) {
            if !values.contains(&n) {
                wrong.push(format!("{}: the explanation says {n}", f.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "numbers not in their scenario:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn numbers_are_read_as_people_write_them() {
    assert_eq!(numbers("add 200 000 each, 4 of them"), ["200000"]);
    assert_eq!(
        numbers("below = 20_000_000 at 10 Hz, 64 chunks"),
        ["20000000", "64"]
    );
    assert_eq!(numbers("pid 12 and x86"), ["12"]);
}
