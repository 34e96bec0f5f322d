use std::collections::{BTreeMap, BTreeSet};

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::*;

/// Each message of a language's file with the variables it uses.
fn messages(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
    let res = match fluent_syntax::parser::parse(lang.source()) {
        Ok(r) => r,
        Err((_, errors)) => panic!("locales/{}/mpdash.ftl: {errors:?}", lang.code()),
    };
    let mut out = BTreeMap::new();
    for e in res.body {
        match e {
            Entry::Message(m) => {
                let mut vars = BTreeSet::new();
                if let Some(p) = &m.value {
                    pattern_vars(p, &mut vars);
                }
                for a in &m.attributes {
                    pattern_vars(&a.value, &mut vars);
                }
                let id = m.id.name.to_string();
                assert!(
                    out.insert(id.clone(), vars).is_none(),
                    "{id} twice in {}",
                    lang.code()
                );
            }
            Entry::Term(t) => panic!("-{}: mpdash's files use no terms", t.id.name),
            Entry::Junk { content } => panic!("{}: junk {content:?}", lang.code()),
            _ => {}
        }
    }
    out
}

fn pattern_vars(p: &Pattern<&str>, vars: &mut BTreeSet<String>) {
    for el in &p.elements {
        if let PatternElement::Placeable { expression } = el {
            expr_vars(expression, vars);
        }
    }
}

fn expr_vars(e: &Expression<&str>, vars: &mut BTreeSet<String>) {
    match e {
        Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for v in variants {
                pattern_vars(&v.value, vars);
            }
        }
        Expression::Inline(i) => inline_vars(i, vars),
    }
}

fn inline_vars(i: &InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match i {
        InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_string());
        }
        InlineExpression::Placeable { expression } => expr_vars(expression, vars),
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, vars);
            }
            for a in &arguments.named {
                inline_vars(&a.value, vars);
            }
        }
        _ => {}
    }
}

#[test]
fn every_message_exists_in_every_language_with_the_same_placeholders() {
    let en = messages(Lang::En);
    let fr = messages(Lang::Fr);
    let mut wrong = Vec::new();
    for (id, vars) in &en {
        match fr.get(id) {
            None => wrong.push(format!("{id}: English only")),
            Some(v) if v != vars => {
                wrong.push(format!("{id}: English uses {vars:?}, French {v:?}"))
            }
            Some(_) => {}
        }
    }
    for id in fr.keys().filter(|id| !en.contains_key(*id)) {
        wrong.push(format!("{id}: French only"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(en.len() > 100, "the files were read");
}

/// Every `t!("id"` in the source names a message that exists.
#[test]
fn every_message_the_code_asks_for_exists() {
    let en = messages(Lang::En);
    let mut missing = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    let mut used = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("t!(\"") {
                // `t!(`, not `format!(` or `assert!(`.
                let before = text[..at].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue;
                }
                let piece = &text[at + 4..];
                let id = piece.split('"').next().unwrap_or("");
                if id == "id" {
                    continue; // this file and the macro's documentation
                }
                used += 1;
                if !en.contains_key(id) {
                    missing.push(format!("{}: {id}", path.display()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no such message:\n{}",
        missing.join("\n")
    );
    assert!(used > 50, "the source was read ({used})");
}

#[test]
fn french_says_zero_and_one_in_the_singular() {
    let say = |n| tr_in(Lang::Fr, "pool-tasks-left", &[("n", Arg::from(n))]);
    assert_eq!(say(0), "pool\u{a0}: reste 0 tâche");
    assert_eq!(say(1), "pool\u{a0}: reste 1 tâche");
    assert_eq!(say(12), "pool\u{a0}: reste 12 tâches");
    let say = |n| tr_in(Lang::En, "pool-tasks-left", &[("n", Arg::from(n))]);
    assert_eq!(say(12), "pool: 12 tasks left");
}

#[test]
fn a_thread_speaks_its_own_language() {
    assert_eq!(lang(), Lang::En, "English unless told");
    with_lang(Lang::Fr, || {
        assert_eq!(lang(), Lang::Fr);
        assert_eq!(crate::t!("hint-quit"), "quitter");
    });
    assert_eq!(crate::t!("hint-quit"), "quit");
    let other = std::thread::spawn(|| with_lang(Lang::Fr, lang));
    assert_eq!(other.join().unwrap(), Lang::Fr);
    assert_eq!(lang(), Lang::En);
}

#[test]
fn the_environment_chooses_in_posix_order() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(Lang::from_env(env(&[])), Lang::En);
    assert_eq!(Lang::from_env(env(&[("LANG", "fr_FR.UTF-8")])), Lang::Fr);
    assert_eq!(
        Lang::from_env(env(&[("LANG", "fr_FR.UTF-8"), ("LC_ALL", "C")])),
        Lang::En,
        "LC_ALL wins"
    );
    assert_eq!(
        Lang::from_env(env(&[("LANG", "en_US"), ("LC_MESSAGES", "fr_CA")])),
        Lang::Fr,
        "LC_MESSAGES before LANG"
    );
    assert_eq!(
        Lang::from_env(env(&[("LC_ALL", ""), ("LANG", "fr")])),
        Lang::Fr,
        "an empty variable is not set"
    );
    assert_eq!(Lang::parse("FR"), Some(Lang::Fr));
    assert_eq!(Lang::parse("en"), Some(Lang::En));
    assert_eq!(Lang::parse("de"), None);
}

#[test]
fn french_spaces_before_two_part_marks_do_not_break() {
    assert_eq!(
        french_spaces("pool : 3 ; fini ? oui ! « mot » (quitter ?) x :=y a ::b"),
        "pool\u{a0}: 3\u{a0}; fini\u{a0}? oui\u{a0}! «\u{a0}mot\u{a0}» (quitter\u{a0}?) x :=y a ::b"
    );
}

/// Every scenario that comes with mpdash says its title and what to watch
/// in French too: `[scenario.fr]` in a `.toml`, `prog.fr.txt` beside a
/// Python program.
#[test]
fn every_scenario_has_its_french_title_and_explanation() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"));
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "toml" || x == "py") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 20, "{files:?}");
    let mut missing = Vec::new();
    for p in &files {
        let f = p.to_string_lossy().into_owned();
        let sc = if f.ends_with(".py") {
            crate::session::command::scenario_for(&["python3".into(), f.clone()], true)
        } else {
            let text = std::fs::read_to_string(p).unwrap();
            crate::scenario::parse(&f, &text, &Default::default()).unwrap()
        };
        let (title_fr, explain_fr) = with_lang(Lang::Fr, || {
            (sc.shown_title().to_string(), sc.shown_explain().to_string())
        });
        let (title_en, explain_en) = with_lang(Lang::En, || {
            (sc.shown_title().to_string(), sc.shown_explain().to_string())
        });
        assert_eq!(
            (title_en.as_str(), explain_en.as_str()),
            (sc.title.as_str(), sc.explain.as_str())
        );
        if title_fr == title_en || explain_fr == explain_en || explain_fr.is_empty() {
            missing.push(f);
        }
    }
    assert!(missing.is_empty(), "no French text: {missing:?}");
}
