//! The words people read, in English or French, through Project Fluent
//! (`fluent-bundle`): every message lives in `locales/<lang>/mpdash.ftl`,
//! one file per language, embedded in the binary.
//!
//! The language is chosen once at start (`--lang`, else `LC_ALL`,
//! `LC_MESSAGES`, `LANG` in POSIX order: French when the first one set
//! starts with `fr`) and is English otherwise. A thread may say another
//! one for itself ([`with_lang`]: the tests draw French and English side
//! by side). What machines read — `--json`, headless text, recordings'
//! keys — never goes through here and stays English.
//!
//! Messages are called with [`t!`](crate::t): `t!("hint-quit")`,
//! `t!("pool-tasks-left", n = 3)`. A number passed as a number selects the plural
//! form (French says `0 tâche`, English `0 tasks`); a string is shown as is.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The languages mpdash speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// `en`, `fr`: the code in `--lang` and in a scenario's `[scenario.fr]`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// `fr`, `fr_FR.UTF-8`, `fr-CA` → French; `en…`, `C`, `POSIX` → English;
    /// anything else: `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        let head = s.split(['_', '-', '.', '@']).next().unwrap_or("");
        match head {
            "fr" => Some(Lang::Fr),
            "en" | "c" | "posix" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language the environment asks for: the first of `LC_ALL`,
    /// `LC_MESSAGES`, `LANG` that is set and not empty decides (POSIX
    /// precedence); French when it starts with `fr`, English otherwise.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|k| get(k).filter(|v| !v.is_empty()))
            .map_or(Lang::En, |v| {
                if v.to_ascii_lowercase().starts_with("fr") {
                    Lang::Fr
                } else {
                    Lang::En
                }
            })
    }

    fn index(self) -> usize {
        self as usize
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../locales/en/mpdash.ftl"),
            Lang::Fr => include_str!("../../locales/fr/mpdash.ftl"),
        }
    }
}

/// The process's language (0 English, 1 French).
static LANG: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// A thread's own language, over the process's.
    static THREAD_LANG: Cell<Option<Lang>> = const { Cell::new(None) };
}

/// Sets the process's language (the dashboard does, once, at start).
pub fn set_lang(lang: Lang) {
    LANG.store(lang.index() as u8, Ordering::Relaxed);
}

/// The language words are drawn in, on this thread.
pub fn lang() -> Lang {
    THREAD_LANG.with(Cell::get).unwrap_or_else(|| {
        if LANG.load(Ordering::Relaxed) == 1 {
            Lang::Fr
        } else {
            Lang::En
        }
    })
}

/// Runs `f` with this thread speaking `lang` (the process's language is
/// left alone, so tests in other threads keep theirs).
pub fn with_lang<R>(lang: Lang, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Lang>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREAD_LANG.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(THREAD_LANG.with(|c| c.replace(Some(lang))));
    f()
}

type Bundle = FluentBundle<FluentResource>;

fn bundles() -> &'static [Bundle; 2] {
    static BUNDLES: OnceLock<[Bundle; 2]> = OnceLock::new();
    BUNDLES.get_or_init(|| Lang::ALL.map(bundle))
}

fn bundle(lang: Lang) -> Bundle {
    let id = lang.code().parse().expect("a language identifier");
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // No Unicode isolation marks around arguments: a terminal draws them as
    // columns of their own.
    b.set_use_isolating(false);
    let res = FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(res, _)| res);
    let _ = b.add_resource(res);
    b
}

/// An argument of a message: a number (it chooses the plural) or text.
pub enum Arg {
    Num(f64),
    Text(String),
}

macro_rules! num_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Arg {
                Arg::Num(n as f64)
            }
        }
    )*};
}
num_arg!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64);

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Text(s.clone())
    }
}

impl From<Cow<'_, str>> for Arg {
    fn from(s: Cow<'_, str>) -> Arg {
        Arg::Text(s.into_owned())
    }
}

/// Message `id` in this thread's language with `args`; in English when the
/// language lacks it (a test forbids that), `id` itself when no language
/// has it.
pub fn tr(id: &str, args: &[(&str, Arg)]) -> String {
    tr_in(lang(), id, args)
}

/// Message `id` in `lang`.
pub fn tr_in(lang: Lang, id: &str, args: &[(&str, Arg)]) -> String {
    let all = bundles();
    let fargs = (!args.is_empty()).then(|| {
        let mut a = FluentArgs::new();
        for (k, v) in args {
            match v {
                Arg::Num(n) => a.set(*k, FluentValue::from(*n)),
                Arg::Text(s) => a.set(*k, FluentValue::from(s.as_str())),
            }
        }
        a
    });
    for b in [&all[lang.index()], &all[Lang::En.index()]] {
        if let Some(pattern) = b.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let text = b.format_pattern(pattern, fargs.as_ref(), &mut errors);
            return match lang {
                Lang::Fr => french_spaces(&text),
                Lang::En => text.into_owned(),
            };
        }
    }
    id.to_string()
}

/// French typography: the space before `:`, `;`, `?`, `!`, `%` and inside
/// `« »` becomes a non-breaking one (U+00A0), so that no line starts with
/// a colon. The files are written with ordinary spaces, easier to edit.
pub fn french_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut after_guillemet = false;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let before_mark = matches!(next, Some(':' | ';' | '?' | '!' | '»' | '%'));
        let mark_ends = |n: Option<char>| {
            n.is_none_or(|n| n.is_whitespace() || matches!(n, ')' | ']' | ',' | '.' | '»' | '"'))
        };
        if c == ' ' && (after_guillemet || before_mark) {
            // `a ? b` is a mark; `x ?y`, `:=`, `::` are not.
            let mut look = chars.clone();
            look.next();
            if after_guillemet || next == Some('»') || mark_ends(look.peek().copied()) {
                out.push('\u{a0}');
                after_guillemet = false;
                continue;
            }
        }
        after_guillemet = c == '«';
        out.push(c);
    }
    out
}

/// `t!("id")`, `t!("id", name = value, …)`: message `id` in this thread's
/// language (see [`crate::i18n`]).
#[macro_export]
macro_rules! t {
    ($id:literal) => {
        $crate::i18n::tr($id, &[])
    };
    ($id:literal, $($k:ident = $v:expr),+ $(,)?) => {
        $crate::i18n::tr($id, &[$((stringify!($k), $crate::i18n::Arg::from($v))),+])
    };
}

#[cfg(test)]
mod tests;
