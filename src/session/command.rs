//! A run whose source is a command (`mpdash watch -- CMD ARGS…`): any
//! program as the root of a run. Its processes are found by
//! [`crate::telemetry::discovery`]; mpdash is a child subreaper, so orphans
//! of the program come back to it to be reaped (their exit status is then
//! known), and whatever the program leaves is killed with the run.

use std::sync::atomic::Ordering;

use crate::runtime::board::{Board, ProcState, StartMethod};
use std::collections::BTreeMap;

use crate::i18n::{Arg, Lang, tr_in};
use crate::scenario::{Scenario, ScenarioText};
use crate::telemetry::discovery::{STATUS_UNKNOWN, descendants};

/// The dashboard's scenario for a watched command (`probed`: a Python
/// program seen from inside by mpdash's probe).
pub fn attached_scenario(pid: i32, cmdline: &str) -> Scenario {
    let mut sc = scenario_for(&[], false);
    let text = |lang| ScenarioText {
        title: tr_in(
            lang,
            "title-attached",
            &[
                ("pid", Arg::from(pid.to_string())),
                ("cmd", Arg::from(cmdline)),
            ],
        ),
        explain: tr_in(
            lang,
            "explain-attached",
            &[
                ("pid", Arg::from(pid.to_string())),
                ("cmd", Arg::from(cmdline)),
            ],
        ),
    };
    let en = text(Lang::En);
    (sc.title, sc.explain) = (en.title, en.explain);
    sc.translations = translations(text);
    sc
}

/// A scenario's texts in every language but English, by language code.
fn translations(text: impl Fn(Lang) -> ScenarioText) -> BTreeMap<String, ScenarioText> {
    Lang::ALL
        .into_iter()
        .filter(|l| *l != Lang::En)
        .map(|l| (l.code().to_string(), text(l)))
        .collect()
}

/// A Python program's title and explanation in `lang`: its docstring in
/// English; in another language the file beside it named after it and the
/// language (`pool.py` → `pool.fr.txt`), written as a docstring is (the
/// title on the first line, then the explanation), else the docstring.
fn python_doc(file: &str, lang: Lang) -> Option<(String, String)> {
    if lang != Lang::En {
        let side = std::path::Path::new(file).with_extension(format!("{}.txt", lang.code()));
        if let Ok(text) = std::fs::read_to_string(side) {
            let text = text.trim();
            let (title, explain) = text.split_once('\n').unwrap_or((text, ""));
            let title = title.trim().trim_end_matches('.').to_string();
            if !title.is_empty() {
                let typeset = |s: &str| match lang {
                    Lang::Fr => crate::i18n::french_spaces(s),
                    Lang::En => s.to_string(),
                };
                return Some((typeset(&title), typeset(explain.trim())));
            }
        }
    }
    std::fs::read_to_string(file)
        .ok()
        .and_then(|src| crate::session::python::docstring(&src))
}

pub fn scenario_for(argv: &[String], probed: bool) -> Scenario {
    let shown = argv.join(" ");
    // A Python file's docstring is its title and explanation.
    let file = argv
        .iter()
        .skip(1)
        .find(|a| a.ends_with(".py"))
        .filter(|_| probed);
    let text = |lang: Lang| {
        let cmd = || [("cmd", Arg::from(shown.as_str()))];
        match file.and_then(|f| python_doc(f, lang)) {
            Some((title, doc)) => ScenarioText {
                title,
                explain: format!("{doc}\n\n{}", tr_in(lang, "explain-python-tail", &cmd())),
            },
            None => ScenarioText {
                title: if probed {
                    tr_in(lang, "title-python", &cmd())
                } else {
                    tr_in(lang, "title-foreign", &cmd())
                },
                explain: if probed {
                    tr_in(lang, "explain-python", &cmd())
                } else {
                    tr_in(lang, "explain-foreign", &cmd())
                },
            },
        }
    };
    let ScenarioText { title, explain } = text(Lang::En);
    Scenario {
        file: file.cloned().unwrap_or_default(),
        title,
        explain,
        translations: translations(text),
        start_method: StartMethod::Fork,
        pool: crate::scenario::PoolSpec {
            workers: 1,
            chunksize: None,
            maxtasksperchild: 0,
            initializer: None,
            on_worker_death: Default::default(),
            retries: 0,
        },
        task: None,
        resources: Vec::new(),
        processes: Vec::new(),
        main: Vec::new(),
        scaling: None,
    }
}

/// argv[1] of the guard process that runs a watched command.
pub const GUARD_ARG: &str = "__guard";

/// The guard: `mpdash __guard PARENT CMD ARGS…`, started by the dashboard with
/// the board at [`crate::runtime::process::BOARD_FD`]. It is a child
/// subreaper, so everything the command starts stays below it even when
/// orphaned; it reaps them, writes their exit statuses on the board, and when
/// the command ends, or the dashboard goes (SIGTERM by `PR_SET_PDEATHSIG`),
/// it kills whatever is left before it leaves. It exits as the command did.
/// How long what a command left behind may take to end by itself once the
/// command has ended, before it is killed.
pub const LEFTOVER_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Reaps one ended descendant, if any. A process the board has no row for
/// (it lived and ended between two of the dashboard's scans: a Python
/// program's fork server or resource tracker in a short run) first gets
/// one, read from `/proc` while it is still a zombie (`waitid` with
/// `WNOWAIT` names it without reaping it), so its exit status is kept.
fn reap_one(board: Option<&Board>) -> nix::Result<Option<crate::runtime::sys::Reaped>> {
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    let Some(pid) = waitid(Id::All, flags)?.pid() else {
        return Ok(None);
    };
    if let Some(b) = board
        && b.find_pid_any(pid.as_raw()).is_none()
        && let Ok(text) = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw()))
        && let Some(st) = crate::telemetry::proc_stat::parse_stat(&text, 1)
    {
        let name = text
            .find('(')
            .zip(text.rfind(')'))
            .map(|(a, z)| text[a + 1..z].to_string())
            .unwrap_or_default();
        if let Ok(slot) = b.new_proc(
            &name,
            crate::runtime::board::Role::Foreign,
            StartMethod::Fork,
            0,
            st.ppid,
        ) && let Some(row) = b.proc(slot)
        {
            row.pid.store(pid.as_raw(), Ordering::Relaxed);
            row.os_ppid.store(st.ppid, Ordering::Relaxed);
            row.start_ticks.store(st.start_ticks, Ordering::Relaxed);
            row.set_state(ProcState::Running);
        }
    }
    crate::runtime::sys::wait4(pid.as_raw(), true)
}

pub fn guard_main(args: &[String]) -> i32 {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    // `--probe DIR`: a Python program runs with mpdash's probe from DIR.
    let (probe, args) = match args {
        [parent, flag, dir, rest @ ..] if flag == "--probe" => {
            let mut a = vec![parent.clone()];
            a.extend(rest.iter().cloned());
            (Some(std::path::PathBuf::from(dir)), a)
        }
        _ => (None, args.to_vec()),
    };
    let [parent, prog, rest @ ..] = &args[..] else {
        eprintln!("mpdash: usage: mpdash {GUARD_ARG} PARENT [--probe DIR] CMD ARGS…");
        return 2;
    };
    let term = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        let _ = signal_hook::flag::register(sig, term.clone());
    }
    if nix::unistd::getppid().as_raw().to_string() != *parent {
        return 1; // the dashboard is already gone
    }
    crate::runtime::process::set_comm("watch guard");
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // The dashboard placed the board at BOARD_FD before exec.
    let board = crate::runtime::sys::take_inherited(crate::runtime::process::BOARD_FD)
        .and_then(|fd| Board::open(fd).ok());
    let mut command = std::process::Command::new(prog);
    command.args(rest);
    if let Some(dir) = &probe {
        let old = std::env::var("PYTHONPATH").ok();
        command.envs(crate::session::python::probe_env(dir, old.as_deref()));
    }
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mpdash watch: cannot start {prog:?}: {e}");
            return crate::runtime::process::EXIT_EXEC_FAILED;
        }
    };
    let me = std::process::id() as i32;
    let cmd_pid = child.id() as i32;
    drop(child);
    let mut status = None;
    // Writes what we reaped on the board, where the dashboard shows it.
    let reaped = |r: &crate::runtime::sys::Reaped, status: &mut Option<i32>| {
        if let Some(b) = &board
            && let Some(slot) = b.find_pid_any(r.pid.as_raw())
            && (slot.state() != ProcState::Exited
                || slot.wait_status.load(Ordering::Relaxed) == STATUS_UNKNOWN)
        {
            slot.record_exit(r);
        }
        if r.pid.as_raw() == cmd_pid {
            *status = Some(r.status);
        }
    };
    loop {
        match reap_one(board.as_ref()) {
            Ok(Some(r)) => {
                reaped(&r, &mut status);
                continue;
            }
            Ok(None) => {}
            Err(_) if status.is_some() => break,
            Err(_) => {}
        }
        if status.is_some() || term.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Helpers end by themselves once the command has (a Python program's
    // resource tracker and fork server see their pipe close, and the
    // tracker unlinks what the program leaked): they get a grace before
    // anything is killed, and their own exit statuses are kept.
    if status.is_some() && !term.load(Ordering::Relaxed) {
        let grace = std::time::Instant::now() + LEFTOVER_GRACE;
        while std::time::Instant::now() < grace && !descendants(me).is_empty() {
            while let Ok(Some(r)) = reap_one(board.as_ref()) {
                reaped(&r, &mut status);
            }
            if term.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        while let Ok(Some(r)) = reap_one(board.as_ref()) {
            reaped(&r, &mut status);
        }
    }
    // Whatever the command left goes with it (and with us).
    for _ in 0..50 {
        let left = descendants(me);
        if left.is_empty() {
            break;
        }
        for pid in left {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        while let Ok(Some(r)) = reap_one(board.as_ref()) {
            reaped(&r, &mut status);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // The dashboard removes the probe's directory after its last read; if
    // the dashboard is gone (killed), nobody else will.
    if let Some(dir) = &probe
        && nix::unistd::getppid().as_raw().to_string() != *parent
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    match status.map(crate::runtime::sys::exit_code_of) {
        Some(code) if code >= 0 => code,
        Some(sig) => {
            // Die of the same signal, so the dashboard reports what the command did.
            if let Ok(s) = Signal::try_from(-sig) {
                let _ = signal_hook::low_level::emulate_default_handler(s as i32);
                let _ = kill(Pid::from_raw(me), s);
            }
            128 - sig
        }
        None => 128 + 15,
    }
}
