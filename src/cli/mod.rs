//! The command line: `mpdash FILE`, `run`, `check`, `compare`, `scale`,
//! `watch`, `client`, `bench`, and the dashboard's run loop. The top layer:
//! everything else is below it.

pub mod attach;
pub mod bench;
pub mod compare;
pub mod dashboard;
pub mod headless;
pub mod python;
pub mod scale;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::runtime::board::StartMethod;
use crate::scenario::main_process::{self, MAIN_ARG};
use crate::scenario::{self, Overrides};

/// mpdash: watch parallel programs run — real processes, queues and pools, live.
#[derive(Parser)]
#[command(name = "mpdash", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
    /// The dashboard's language: en or fr (default: French when LC_ALL,
    /// LC_MESSAGES or LANG, the first one set, starts with fr). --json and
    /// headless text stay English
    #[arg(long, global = true, value_name = "LANG", value_parser = ["en", "fr"])]
    lang: Option<String>,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Scenario file (TOML), e.g. scenarios/pool.toml
    file: Option<String>,
    /// Start method for the run's children (overrides the file)
    #[arg(long, value_enum)]
    start_method: Option<Method>,
    /// Override a scenario value, e.g. --set task.below=2000000 (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Number of pool workers (overrides the file)
    #[arg(long)]
    workers: Option<usize>,
    /// Samples per second in the dashboard
    #[arg(long, default_value_t = 4.0)]
    rate: f64,
    /// Seconds of no change, with every process blocked, before a run is
    /// called stuck (a deadlock is said at once)
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    stuck_after: f64,
    /// Paced steps (sleeps, a producer's pace) take 1/F of their time:
    /// 0.25 runs four times slower, for a class; 10 ten times faster
    #[arg(long, value_name = "F")]
    speed: Option<f64>,
    /// The Python interpreter for a .py file; for a scenario's Scaling tab,
    /// the CPython curves' interpreters (repeatable; default python3)
    #[arg(long, value_name = "PATH")]
    python: Vec<String>,
    /// A .py file's arguments (after `--`)
    #[arg(last = true)]
    py_args: Vec<String>,
    /// Save each run (every sample and the output) to FILE, for `mpdash
    /// replay FILE`; headless runs too (sampled at --rate)
    #[arg(long, value_name = "FILE")]
    record: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnStuck {
    Stop,
    Wait,
}

#[derive(Clone, Copy, ValueEnum)]
enum Method {
    Fork,
    Spawn,
    Forkserver,
}

impl From<Method> for StartMethod {
    fn from(m: Method) -> StartMethod {
        match m {
            Method::Fork => StartMethod::Fork,
            Method::Spawn => StartMethod::Spawn,
            Method::Forkserver => StartMethod::Forkserver,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario: the dashboard, or with --headless a text summary
    Run {
        /// No terminal: print the output and a summary table
        #[arg(long)]
        headless: bool,
        /// With --headless: JSON lines instead of text
        #[arg(long, requires = "headless")]
        json: bool,
        /// With --headless: write a Chrome Trace Event file (open it in Perfetto)
        #[arg(long, requires = "headless", value_name = "FILE")]
        trace: Option<String>,
        /// With --headless: what to do when the run can never move again
        /// (stop: print why and exit 3; wait: hang as CPython does)
        #[arg(long, value_enum, default_value = "stop", requires = "headless")]
        on_stuck: OnStuck,
        /// With --headless: the exit status of a run stopped because it could
        /// never move again (default 3; choose one the program never uses,
        /// so CI can tell mpdash's verdict from the program's own exit)
        #[arg(long, value_name = "CODE", default_value_t = headless::EXIT_STUCK,
              value_parser = clap::value_parser!(i32).range(1..=255), requires = "headless")]
        stuck_exit: i32,
        #[command(flatten)]
        args: RunArgs,
    },
    /// Validate a scenario file and start nothing (a .py file: check that
    /// it compiles)
    Check {
        file: String,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The interpreter a .py file is compiled with
        #[arg(long, default_value = "python3", value_name = "PATH")]
        python: String,
    },
    /// Run a scenario under several start methods and compare them
    Compare {
        file: String,
        /// Comma-separated start methods
        #[arg(long, value_delimiter = ',', default_value = "fork,spawn,forkserver")]
        methods: Vec<Method>,
        /// Runs per method
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// JSON lines, one per run
        #[arg(long)]
        json: bool,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        workers: Option<usize>,
        /// Write every run into one Chrome Trace Event file
        #[arg(long, value_name = "FILE")]
        trace: Option<String>,
    },
    /// Speedup against workers: processes, threads under a simulated GIL, free threads
    Scale {
        file: String,
        /// Largest number of workers (default: the file's, or 2 × CPUs)
        #[arg(long)]
        max_workers: Option<usize>,
        /// JSON lines, one per point
        #[arg(long)]
        json: bool,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Write the worker processes' lives into a Chrome Trace Event file
        #[arg(long, value_name = "FILE")]
        trace: Option<String>,
        /// A CPython interpreter for the real threads and processes curves
        /// (repeatable; default: the machine's python3)
        #[arg(long = "python", value_name = "PATH")]
        pythons: Vec<String>,
    },
    /// Run any command as the root of a run and watch its process tree
    /// (`mpdash watch -- python3 my_pool.py`)
    Watch {
        /// Samples per second
        #[arg(long, default_value_t = 4.0)]
        rate: f64,
        /// Do not probe a Python program (it is probed by default: its
        /// queues, locks and waits are shown)
        #[arg(long)]
        no_probe: bool,
        /// The command and its arguments (after `--`)
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Play back a run saved with `--record FILE` (nothing is started)
    Replay { file: String },
    /// Call a method on a Manager's object over TCP, from any host
    /// (`mpdash client 127.0.0.1:50000 --authkey secret d __setitem__ 1 "'one'"`)
    Client {
        /// The manager's HOST:PORT
        address: String,
        /// The manager's authkey (`[manager] authkey` in the scenario)
        #[arg(long)]
        authkey: String,
        /// The object's name
        object: String,
        /// The method: Python's name (`__getitem__`, `append`) or ours (`get_item`)
        method: String,
        /// Arguments, as Python literals (`1`, `"'one'"`, `"[1, 2]"`)
        args: Vec<String>,
        /// Seconds to wait for the connection, the handshake and the answer
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
    },
    /// Print the stacks of a running Python process tree (not started by
    /// mpdash): every process, every thread, and what each waits for
    Dump {
        /// The tree's root process
        pid: i32,
        /// JSON lines: one per process, then a `dump` line
        #[arg(long)]
        json: bool,
    },
    /// Follow a running Python process tree (not started by mpdash) from
    /// outside, never pausing it; with --headless, say when it is stuck
    Attach {
        /// The tree's root process
        pid: i32,
        /// No terminal: a line per process, then a verdict
        #[arg(long)]
        headless: bool,
        /// JSON lines instead of text
        #[arg(long, requires = "headless")]
        json: bool,
        /// Stop after SECS seconds (default: until the tree ends)
        #[arg(long = "for", value_name = "SECS")]
        for_secs: Option<f64>,
        /// Seconds every process must stand still, blocked, before the tree
        /// is called stuck (exit 3)
        #[arg(long, default_value_t = 2.0, value_name = "SECS")]
        stuck_after: f64,
    },
    /// Measure mpdash itself
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Start latency (request → child's first instruction) per start method
    Start {
        /// Children per method
        #[arg(long, default_value_t = 200)]
        children: usize,
        /// Print one JSON object on the last line
        #[arg(long)]
        json: bool,
    },
    /// Queue, pipe, lock and Value throughput and latency between processes
    Ipc {
        /// Print one JSON object on the last line
        #[arg(long)]
        json: bool,
    },
    /// What attaching costs: our CPU per sample on a 20-process Python tree,
    /// and a CPU-bound Pool(2) program's speed attached against alone
    Attach {
        /// Print one JSON object
        #[arg(long)]
        json: bool,
        /// Seconds the tree is observed
        #[arg(long, default_value_t = 10.0, value_name = "SECS",
              value_parser = |s: &str| -> Result<f64, String> {
                  match s.parse::<f64>() {
                      Ok(v) if (1.0..=600.0).contains(&v) => Ok(v),
                      _ => Err(format!("{s:?}: seconds from 1 to 600")),
                  }
              })]
        window: f64,
    },
    /// The dashboard's own cost: CPU, memory and frame times with 500 processes
    Ui {
        /// Print one JSON object on the last line
        #[arg(long)]
        json: bool,
        /// Seconds each figure is measured over, once the processes run
        #[arg(long, default_value_t = 10.0, value_name = "SECS",
              value_parser = |s: &str| -> Result<f64, String> {
                  match s.parse::<f64>() {
                      Ok(v) if (0.5..=600.0).contains(&v) => Ok(v),
                      _ => Err(format!("{s:?}: seconds from 0.5 to 600")),
                  }
              })]
        window: f64,
    },
    /// How soon a run that can no longer move is diagnosed, per kind of hang
    Stuck {
        /// Runs per hang
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Print one JSON object on the last line
        #[arg(long)]
        json: bool,
    },
    /// Pool.map throughput (chunksize 1 and default) and the Manager's round trip
    Pool {
        /// Print one JSON object on the last line
        #[arg(long)]
        json: bool,
    },
    /// What the Python probe costs a CPython program (needs python3)
    Probe {
        /// Runs of each figure, with and without the probe
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Print one JSON object on the last line
        #[arg(long)]
        json: bool,
    },
}

/// `main` of the binary.
pub fn main() -> ExitCode {
    // Internal children and hidden modes are told apart before anything
    // else is set up, so their "first instruction" is as early as it can
    // be: every one of them is dispatched by the registry and never
    // returns from `init`.
    crate::runtime::init(
        scenario::registry()
            .mode(MAIN_ARG, |t_first, args| {
                main_process::entry(t_first, args.first().map_or("", String::as_str))
            })
            .mode(crate::session::command::GUARD_ARG, |_, args| {
                crate::session::command::guard_main(&args)
            })
            .mode(bench::ui::CHILD_ARG, |_, args| {
                match bench::ui::child(&args) {
                    Ok(code) => code,
                    Err(e) => {
                        eprintln!("mpdash: {e:#}");
                        2
                    }
                }
            }),
    );
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(shell_status(code)),
        // `mpdash … --json | head`: the reader left; nothing to say to it.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpdash: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A CPython exitcode as a shell says it: the status itself, or 128 + N for
/// a process killed by signal N (`-9` → 137), never 0 for a killed one.
pub fn shell_status(exitcode: i32) -> u8 {
    if exitcode < 0 {
        128u8.saturating_add(u8::try_from(exitcode.unsigned_abs()).unwrap_or(127))
    } else {
        u8::try_from(exitcode).unwrap_or(255)
    }
}

/// `--stuck-after SECS`: a grace period people can mean (0.1 s to an hour).
fn stuck_after(secs: f64) -> anyhow::Result<std::time::Duration> {
    if !(0.1..=3600.0).contains(&secs) {
        anyhow::bail!("--stuck-after: between 0.1 and 3600 seconds (got {secs})");
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn load(args: &RunArgs) -> anyhow::Result<scenario::Scenario> {
    let file = args.file.as_deref().ok_or_else(|| {
        anyhow::anyhow!("no scenario file given (try: mpdash scenarios/pool.toml)")
    })?;
    let ov = Overrides {
        set: args.set.clone(),
        start_method: args.start_method.map(Into::into),
        workers: args.workers,
        speed: args.speed,
    };
    Ok(scenario::load(file, &ov)?)
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    use crate::i18n::Lang;
    // Only what people read on a terminal changes language: headless text
    // and JSON are an interface, in English.
    let lang = cli
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_else(|| Lang::from_env(|k| std::env::var(k).ok()));
    let headless = match &cli.cmd {
        None | Some(Cmd::Watch { .. }) | Some(Cmd::Replay { .. }) => false,
        Some(Cmd::Run { headless, .. }) | Some(Cmd::Attach { headless, .. }) => *headless,
        Some(_) => true,
    };
    if !headless {
        crate::i18n::set_lang(lang);
    }
    match cli.cmd {
        None => dashboard(&cli.run),
        Some(Cmd::Run {
            headless,
            json,
            trace,
            on_stuck,
            stuck_exit,
            args,
        }) => {
            one_python(&args)?;
            if headless && let Some(argv) = python_argv(&args) {
                if !std::path::Path::new(&argv[1]).is_file() {
                    anyhow::bail!("{}: no such file", argv[1]);
                }
                let stuck_after = match on_stuck {
                    OnStuck::Stop => Some(stuck_after(args.stuck_after)?),
                    OnStuck::Wait => None,
                };
                let record = args.record.clone().map(|path| headless::Record {
                    path,
                    rate_hz: args.rate,
                });
                return python::run(argv, json, stuck_after, stuck_exit, record);
            }
            if headless {
                let sc = load(&args)?;
                let m = sc.start_method;
                let stuck_after = match on_stuck {
                    OnStuck::Stop => Some(stuck_after(args.stuck_after)?),
                    OnStuck::Wait => None,
                };
                let record = args.record.clone().map(|path| headless::Record {
                    path,
                    rate_hz: args.rate,
                });
                headless::run(
                    sc,
                    m,
                    json,
                    trace.as_deref(),
                    stuck_after,
                    stuck_exit,
                    record,
                )
            } else {
                dashboard(&args)
            }
        }
        Some(Cmd::Check { file, set, .. }) if file.ends_with(".py") && !set.is_empty() => {
            anyhow::bail!("{file}: --set changes scenario values; a Python program has none")
        }
        Some(Cmd::Check { file, python, .. }) if file.ends_with(".py") => {
            check_python(&file, &python)
        }
        Some(Cmd::Check { file, set, .. }) => {
            let sc = scenario::load(&file, &only_sets(set))?;
            println!(
                "{file}: ok — {:?}, start method {}, {} process(es){}",
                sc.title,
                sc.start_method,
                sc.processes.len(),
                if sc.uses_pool() {
                    format!(", a pool of {}", sc.pool.workers)
                } else {
                    String::new()
                }
            );
            Ok(0)
        }
        Some(Cmd::Compare {
            file,
            methods,
            runs,
            json,
            set,
            workers,
            trace,
        }) => {
            let sc = scenario::load(
                &file,
                &Overrides {
                    set,
                    workers,
                    ..Default::default()
                },
            )?;
            let methods: Vec<StartMethod> = methods.into_iter().map(Into::into).collect();
            compare::run(sc, &methods, runs, json, trace.as_deref())
        }
        Some(Cmd::Scale {
            file,
            max_workers,
            json,
            set,
            trace,
            pythons,
        }) => {
            let sc = scenario::load(&file, &only_sets(set))?;
            let spec = sc.scaling.ok_or_else(|| {
                anyhow::anyhow!("{file}: no [scaling] table (see scenarios/scaling.toml)")
            })?;
            scale::run(spec, max_workers, json, trace.as_deref(), pythons)
        }
        Some(Cmd::Watch {
            rate,
            no_probe,
            cmd,
        }) => {
            let probe = !no_probe && crate::session::python::is_python(&cmd);
            dashboard::run_watch(cmd, rate, probe)
        }
        Some(Cmd::Replay { file }) => dashboard::run_replay(&file, 4.0),
        Some(Cmd::Client {
            address,
            authkey,
            object,
            method,
            args,
            timeout,
        }) => {
            use crate::runtime::manager::{ManagerClient, Method};
            use crate::runtime::pyvalue::PyValue;
            let m = Method::parse(&method)
                .ok_or_else(|| anyhow::anyhow!("unknown method {method:?}"))?;
            let args = args
                .iter()
                .map(|a| PyValue::parse(a).map_err(|e| anyhow::anyhow!("argument {a:?}: {e}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let within = std::time::Duration::from_secs_f64(timeout.clamp(0.1, 3600.0));
            let mut c = ManagerClient::connect_tcp_within(&address, authkey.as_bytes(), within)?;
            match c.call_named(&object, m, args)? {
                PyValue::Str(s) if m == Method::Repr => println!("{s}"),
                v => println!("{v}"),
            }
            Ok(0)
        }
        Some(Cmd::Dump { pid, json }) => attach::dump(pid, json),
        Some(Cmd::Attach {
            pid,
            headless,
            json,
            for_secs,
            stuck_after: grace,
        }) => {
            if headless {
                attach::headless(pid, json, for_secs, stuck_after(grace)?)
            } else {
                if json || for_secs.is_some() {
                    anyhow::bail!("attach: --json and --for go with --headless");
                }
                let mut rate = dashboard::Rates::new(4.0);
                rate.stuck_after = stuck_after(grace)?;
                dashboard::run_attach(pid, rate)
            }
        }
        Some(Cmd::Bench {
            what: BenchCmd::Start { children, json },
        }) => bench::start::run(children, json),
        Some(Cmd::Bench {
            what: BenchCmd::Ipc { json },
        }) => bench::ipc::run(json),
        Some(Cmd::Bench {
            what: BenchCmd::Pool { json },
        }) => bench::pool::run(json),
        Some(Cmd::Bench {
            what: BenchCmd::Attach { json, window },
        }) => bench::attach::run(window, json),
        Some(Cmd::Bench {
            what: BenchCmd::Ui { json, window },
        }) => bench::ui::run(json, std::time::Duration::from_secs_f64(window)),
        Some(Cmd::Bench {
            what: BenchCmd::Stuck { runs, json },
        }) => bench::stuck::run(runs, json),
        Some(Cmd::Bench {
            what: BenchCmd::Probe { runs, json },
        }) => bench::probe::run(runs, json),
    }
}

/// What `check` runs in the interpreter: compile the file (as `py_compile`
/// does, without writing any `.pyc`) and say where it fails.
const COMPILE_CHECK: &str = r#"
import sys
path = sys.argv[1]
v = "%d.%d.%d" % sys.version_info[:3]
try:
    with open(path, "rb") as f:
        compile(f.read(), path, "exec", dont_inherit=True)
except SyntaxError as e:
    print("%s:%s:%s: %s: %s (Python %s)" % (e.filename or path, e.lineno or 0, e.offset or 0, type(e).__name__, e.msg, v), file=sys.stderr)
    sys.exit(1)
except (OSError, ValueError) as e:
    print("%s: %s (Python %s)" % (path, e, v), file=sys.stderr)
    sys.exit(1)
print(v)
"#;

/// `mpdash check prog.py`: a Python program is not a scenario; what can be
/// checked without running it is that it compiles, with `python`.
fn check_python(file: &str, python: &str) -> anyhow::Result<i32> {
    if !std::path::Path::new(file).is_file() {
        anyhow::bail!("{file}: no such file");
    }
    let out = std::process::Command::new(python)
        .args(["-c", COMPILE_CHECK, file])
        .env_remove("PYTHONSTARTUP")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| anyhow::anyhow!("{file}: cannot run {python} to compile it: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // The interpreter's own file:line:column and message.
        let said = err.lines().rev().find(|l| l.starts_with(file)).map_or_else(
            || format!("{file}: {python} could not compile it: {}", err.trim()),
            str::to_string,
        );
        anyhow::bail!("{said}");
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!(
        "{file}: ok — a Python program: it compiles with {python} (Python {version}); \
         only its syntax is checked, nothing is run"
    );
    Ok(0)
}

fn only_sets(set: Vec<String>) -> Overrides {
    Overrides {
        set,
        ..Default::default()
    }
}

/// A Python program runs under one interpreter (several are for scaling).
fn one_python(args: &RunArgs) -> anyhow::Result<()> {
    if args.python.len() > 1 && args.file.as_deref().is_some_and(|f| f.ends_with(".py")) {
        anyhow::bail!(
            "--python: a Python program runs under one interpreter (got {}); several are for a scenario's Scaling tab",
            args.python.len()
        );
    }
    Ok(())
}

/// `mpdash prog.py -- ARGS`: the interpreter, the file and its arguments.
fn python_argv(args: &RunArgs) -> Option<Vec<String>> {
    let file = args.file.as_deref().filter(|f| f.ends_with(".py"))?;
    let python = args.python.first().map_or("python3", String::as_str);
    let mut argv = vec![python.to_string(), file.to_string()];
    argv.extend(args.py_args.iter().cloned());
    Some(argv)
}

fn dashboard(args: &RunArgs) -> anyhow::Result<i32> {
    one_python(args)?;
    if let Some(argv) = python_argv(args) {
        if !std::path::Path::new(&argv[1]).is_file() {
            anyhow::bail!("{}: no such file", argv[1]);
        }
        return dashboard::run_watch(argv, args.rate, true);
    }
    let mut sc = load(args)?;
    if let Some(spec) = sc.scaling.as_mut() {
        // The Scaling tab's CPython curves: every interpreter asked for.
        spec.pythons = args.python.clone();
    }
    let rates = dashboard::Rates {
        sample_hz: args.rate,
        stuck_after: stuck_after(args.stuck_after)?,
    };
    dashboard::run_dashboard(sc, rates, args.record.clone())
}

#[cfg(test)]
mod tests {
    #[test]
    fn signals_become_128_plus_n_and_statuses_stay() {
        assert_eq!(super::shell_status(0), 0);
        assert_eq!(super::shell_status(3), 3);
        assert_eq!(super::shell_status(-9), 137);
        assert_eq!(super::shell_status(-15), 143);
        assert_eq!(super::shell_status(300), 255);
    }
}
