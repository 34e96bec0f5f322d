//! Scenario files: what a run starts, validated completely before anything starts.
//!
//! A scenario is TOML. `load` reads it, applies `--set key=value` overrides,
//! checks every key, type and value, and returns a [`Scenario`] ready to run,
//! or a [`ScenarioError`] that names the file, line, column and key.

pub mod builtins;
mod check;
mod error;
pub mod main_process;
mod raw;
pub mod scaling;
pub mod steps;

pub use builtins::Func;
pub use error::ScenarioError;

use serde::{Deserialize, Serialize};

use crate::runtime::board::{BoardSize, StartMethod};
use crate::runtime::manager::ObjKind;
use crate::runtime::plan::BoardPlan;
use crate::runtime::pool::{Items, OnDeath, PoolOptions};
use crate::runtime::pyvalue::PyValue;
use crate::runtime::registry::Registry;
use crate::runtime::shared_value::{Num, TypeCode};
use steps::Work;

/// Largest scenario file read (the biggest in `scenarios/` is a few KiB;
/// a 50 MB file took 4.5 GB to parse).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Upper bounds that keep a typo from taking the machine down.
pub const MAX_WORKERS: u64 = 512;
pub const MAX_PROCESSES: usize = 1024;
pub const MAX_CHUNKS: u64 = 1_000_000;
pub const MAX_BELOW: u64 = 1 << 40;
pub const MAX_ALLOC_MIB: u64 = 16 * 1024;
pub const MAX_SPIN_US: u64 = 3_600_000_000;
pub const MAX_COUNT: u64 = 1_000_000_000;
pub const MAX_GROUP: u64 = 256;
pub const MAX_QUEUE_CAPACITY: u64 = 1 << 20;
pub const MAX_MESSAGE: u64 = 1 << 20;
pub const MAX_ARRAY: u64 = 1 << 20;

/// A validated scenario, ready to run.
/// What `mpdash scale` measures: primes below `below` in `chunks`, with
/// 1…`max_workers` workers, a simulated GIL switching every `switch_interval_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingSpec {
    pub below: u64,
    pub chunks: u64,
    pub max_workers: usize,
    pub switch_interval_ms: u64,
    /// The CPython curves' interpreters (`--python`); empty: the machine's
    /// `python3`, if any. Not in the file: a machine's, not a scenario's.
    #[serde(default)]
    pub pythons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub file: String,
    /// The title in English (what `--json` and headless runs say).
    pub title: String,
    /// What to watch, in English.
    pub explain: String,
    /// The title and explanation in other languages, by language code
    /// (`fr`: the file's `[scenario.fr]`, a Python program's `prog.fr.txt`).
    #[serde(default)]
    pub translations: std::collections::BTreeMap<String, ScenarioText>,
    pub start_method: StartMethod,
    pub pool: PoolSpec,
    pub task: Option<TaskSpec>,
    pub resources: Vec<ResourceSpec>,
    pub processes: Vec<ProcessSpec>,
    pub main: Vec<MainStep>,
    pub scaling: Option<ScalingSpec>,
}

/// A scenario's title and explanation in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioText {
    pub title: String,
    pub explain: String,
}

/// A shared resource the main process creates before anything starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceSpec {
    Queue {
        name: String,
        capacity: usize,
        max_message: usize,
        joinable: bool,
    },
    Pipe {
        name: String,
        duplex: bool,
    },
    Lock {
        name: String,
        recursive: bool,
    },
    Semaphore {
        name: String,
        value: u32,
        bounded: bool,
    },
    Event {
        name: String,
    },
    Barrier {
        name: String,
        parties: u32,
    },
    /// A Manager server and the objects it holds from the start.
    Manager {
        name: String,
        tcp: Option<String>,
        authkey: Option<String>,
        objects: Vec<(String, ObjKind, Option<PyValue>)>,
    },
    /// A `Value` (one element) or an `Array`.
    Array {
        name: String,
        typecode: TypeCode,
        init: Vec<Num>,
        lock: bool,
        is_value: bool,
    },
}

impl ResourceSpec {
    pub fn name(&self) -> &str {
        use ResourceSpec::*;
        match self {
            Queue { name, .. }
            | Pipe { name, .. }
            | Lock { name, .. }
            | Semaphore { name, .. }
            | Event { name }
            | Barrier { name, .. }
            | Manager { name, .. }
            | Array { name, .. } => name,
        }
    }

    /// Adds what it needs to a board plan.
    fn plan(&self, plan: BoardPlan) -> BoardPlan {
        match self {
            ResourceSpec::Queue {
                capacity,
                max_message,
                ..
            } => plan.queue(*capacity, *max_message),
            ResourceSpec::Pipe { .. } => plan.pipe(),
            ResourceSpec::Lock { .. } => plan.lock(),
            ResourceSpec::Semaphore { .. }
            | ResourceSpec::Event { .. }
            | ResourceSpec::Barrier { .. } => plan.futex(),
            ResourceSpec::Manager { .. } => plan.manager(),
            ResourceSpec::Array { init, lock, .. } => plan.array(init.len(), *lock),
        }
    }
}

/// The `[pool]` table: how the scenario's pool is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSpec {
    pub workers: usize,
    /// `pool_map`'s chunksize; `None`: CPython's default formula.
    pub chunksize: Option<usize>,
    pub maxtasksperchild: u64,
    pub initializer: Option<(Func, Vec<i64>)>,
    pub on_worker_death: OnDeath,
    pub retries: u32,
}

impl PoolSpec {
    pub fn options(&self) -> PoolOptions {
        PoolOptions {
            processes: self.workers,
            maxtasksperchild: self.maxtasksperchild,
            initializer: (self.initializer.as_ref()).map(|(f, a)| (f.function(), a.clone())),
            on_worker_death: self.on_worker_death,
            retries: self.retries,
        }
    }
}

/// Which of the pool's calls a `pool` step makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolCallKind {
    Map,
    MapAsync,
    Imap,
    ImapUnordered,
    Starmap,
    StarmapAsync,
    Apply,
    ApplyAsync,
}

impl PoolCallKind {
    pub const ALL: [PoolCallKind; 8] = [
        PoolCallKind::Map,
        PoolCallKind::MapAsync,
        PoolCallKind::Imap,
        PoolCallKind::ImapUnordered,
        PoolCallKind::Starmap,
        PoolCallKind::StarmapAsync,
        PoolCallKind::Apply,
        PoolCallKind::ApplyAsync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PoolCallKind::Map => "map",
            PoolCallKind::MapAsync => "map_async",
            PoolCallKind::Imap => "imap",
            PoolCallKind::ImapUnordered => "imap_unordered",
            PoolCallKind::Starmap => "starmap",
            PoolCallKind::StarmapAsync => "starmap_async",
            PoolCallKind::Apply => "apply",
            PoolCallKind::ApplyAsync => "apply_async",
        }
    }

    pub fn is_apply(self) -> bool {
        matches!(self, PoolCallKind::Apply | PoolCallKind::ApplyAsync)
    }
}

/// A `pool` step: one call on the scenario's pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCallSpec {
    pub call: PoolCallKind,
    pub func: Func,
    pub items: Items,
    pub chunksize: Option<usize>,
}

/// The work `pool_map` maps: primes by trial division over `[0, below)` in `chunks` tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub below: u64,
    pub chunks: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSpec {
    pub name: String,
    pub daemon: bool,
    /// How many instances `start` starts (named `name 0`, `name 1`… when > 1).
    pub count: u32,
    pub steps: Vec<Work>,
}

impl ProcessSpec {
    /// The instance names, in index order.
    pub fn instance_names(&self) -> Vec<String> {
        if self.count == 1 {
            vec![self.name.clone()]
        } else {
            (0..self.count)
                .map(|i| format!("{} {i}", self.name))
                .collect()
        }
    }
}

/// One step of the scenario's main process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MainStep {
    Work(Work),
    Start(String),
    Join(String),
    /// Print the process's CPython-style repr (pid, parent, exitcode).
    Status(String),
    Terminate(String),
    Kill(String),
    PoolMap,
    Pool(PoolCallSpec),
}

impl Scenario {
    /// The title in the language of the screen (English when the scenario
    /// has none in it).
    pub fn shown_title(&self) -> &str {
        self.translations
            .get(crate::i18n::lang().code())
            .map_or(&self.title, |t| &t.title)
    }

    /// What to watch, in the language of the screen (else English).
    pub fn shown_explain(&self) -> &str {
        self.translations
            .get(crate::i18n::lang().code())
            .map_or(&self.explain, |t| &t.explain)
    }

    /// Scales every paced step by `1 / speed`: sleeps and the pace of
    /// `put_many`/`get_many`. Work (CPU, messages, counts) is unchanged.
    pub fn pace(&mut self, speed: f64) {
        let scale = |ms: &mut u64| *ms = (*ms as f64 / speed).round() as u64;
        let steps = self
            .processes
            .iter_mut()
            .flat_map(|p| p.steps.iter_mut())
            .chain(self.main.iter_mut().filter_map(|m| match m {
                MainStep::Work(w) => Some(w),
                _ => None,
            }));
        for w in steps {
            match w {
                Work::SleepMs(ms)
                | Work::PutMany { pace_ms: ms, .. }
                | Work::GetMany { pace_ms: ms, .. } => scale(ms),
                _ => {}
            }
        }
    }

    /// Board sizes that fit this scenario with room for replacements.
    pub fn board_size(&self) -> BoardSize {
        let procs: u32 = self.processes.iter().map(|p| p.count).sum();
        // A scaling run starts 1 + 2 + … + max_workers processes.
        let scale = self
            .scaling
            .as_ref()
            .map_or(0, |s| (s.max_workers * (s.max_workers + 1) / 2) as u32);
        let plan = BoardPlan::new()
            .processes(procs.saturating_add(scale))
            .pool(self.pool.workers);
        self.resources
            .iter()
            .fold(plan, |plan, r| r.plan(plan))
            .size()
    }

    /// Whether the main process runs a pool.
    pub fn uses_pool(&self) -> bool {
        self.main
            .iter()
            .any(|s| matches!(s, MainStep::PoolMap | MainStep::Pool(_)))
    }
}

/// Options from the command line that change a scenario.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `key.path=value` pairs, applied to the file before validation.
    pub set: Vec<String>,
    pub start_method: Option<StartMethod>,
    pub workers: Option<usize>,
    /// `--speed F`: paced steps (sleeps, a producer's pace) take 1/F of
    /// their time: 0.25 is four times slower, for a class; 10 for tests.
    pub speed: Option<f64>,
}

/// The slowest and fastest `--speed`.
pub const SPEEDS: std::ops::RangeInclusive<f64> = 0.01..=1000.0;

/// Reads, overrides and validates a scenario file.
pub fn load(path: &str, ov: &Overrides) -> Result<Scenario, ScenarioError> {
    let size = std::fs::metadata(path)
        .map_err(|e| ScenarioError::whole_file(path, format!("cannot read: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(ScenarioError::whole_file(
            path,
            format!(
                "{size} bytes: a scenario is at most {} KiB (nothing was parsed)",
                MAX_FILE_BYTES / 1024
            ),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::whole_file(path, format!("cannot read: {e}")))?;
    parse(path, &text, ov)
}

/// Validates scenario `text` as if read from `file`.
pub fn parse(file: &str, text: &str, ov: &Overrides) -> Result<Scenario, ScenarioError> {
    let text = apply_sets(file, text, &ov.set)?;
    let raw: raw::RawFile = toml::from_str(&text).map_err(|e| {
        let msg = e
            .message()
            .trim()
            .replace("expected i64", "expected an integer")
            .replace(
                "data did not match any variant of untagged enum RawNum",
                "expected a number (an integer must fit 64 bits: -2⁶³ to 2⁶³-1)",
            )
            .replace(
                "integer number overflowed",
                "this integer does not fit 64 bits (-2⁶³ to 2⁶³-1)",
            )
            .replace("expected a boolean", "expected true or false");
        ScenarioError::at(file, &text, e.span(), error::suggest_in_toml_message(&msg))
    })?;
    let mut sc = check::Checker::new(file, &text).check(raw)?;
    if let Some(m) = ov.start_method {
        sc.start_method = m;
    }
    if let Some(w) = ov.workers {
        sc.pool.workers = workers_override(file, w)?;
    }
    if let Some(f) = ov.speed {
        if !(f.is_finite() && SPEEDS.contains(&f)) {
            return Err(ScenarioError::whole_file(
                file,
                format!(
                    "--speed: a factor between {} and {} (got {f})",
                    SPEEDS.start(),
                    SPEEDS.end()
                ),
            ));
        }
        sc.pace(f);
    }
    Ok(sc)
}

/// `--workers N`: the rule and the words of `[pool] workers`, never a silent clamp.
pub fn workers_override(file: &str, w: usize) -> Result<usize, ScenarioError> {
    if (1..=MAX_WORKERS as usize).contains(&w) {
        Ok(w)
    } else {
        Err(ScenarioError::whole_file(
            file,
            format!(
                "--workers: the number of workers must be between 1 and {MAX_WORKERS} (got {w})"
            ),
        ))
    }
}

/// Applies `--set a.b=value` to the document text, keeping its layout (so
/// line numbers of untouched keys stay right).
fn apply_sets(file: &str, text: &str, sets: &[String]) -> Result<String, ScenarioError> {
    if sets.is_empty() {
        return Ok(text.to_string());
    }
    let bad = |m: String| ScenarioError::whole_file(file, m);
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        ScenarioError::at(file, text, e.span(), e.message().trim().to_string())
    })?;
    for s in sets {
        let (path, value) = s.split_once('=').ok_or_else(|| {
            bad(format!(
                "--set {s}: expected KEY=VALUE, e.g. task.below=2000000"
            ))
        })?;
        let value: toml_edit::Value = value
            .trim()
            .parse()
            .unwrap_or_else(|_| toml_edit::Value::from(value.trim()));
        let keys: Vec<&str> = path.trim().split('.').collect();
        let (last, tables) = keys
            .split_last()
            .ok_or_else(|| bad(format!("--set {s}: empty key")))?;
        // A number walks into an array: main.steps.0.alloc_mib=512.
        let mut item = doc.as_item_mut();
        for k in tables {
            let next = match k.parse::<usize>() {
                Ok(i) => item.get_mut(i),
                Err(_) => item.get_mut(k),
            };
            item = next
                .filter(|i| i.is_table_like() || i.is_array() || i.is_array_of_tables())
                .ok_or_else(|| {
                    bad(format!(
                        "--set {s}: no table or array {k:?} in the scenario"
                    ))
                })?;
        }
        match (item.as_table_like_mut(), last.parse::<usize>()) {
            (Some(table), _) => {
                table.insert(last, toml_edit::Item::Value(value));
            }
            (None, Ok(i)) => {
                let slot = item
                    .get_mut(i)
                    .ok_or_else(|| bad(format!("--set {s}: no element {i}")))?;
                *slot = toml_edit::Item::Value(value);
            }
            (None, Err(_)) => return Err(bad(format!("--set {s}: {path} is not in a table"))),
        }
    }
    Ok(doc.to_string())
}

/// Joins the lines of each paragraph, so the screen can wrap them to its width.
pub(crate) fn reflow(text: &str) -> String {
    text.trim()
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// CPython's default pool size: the number of CPUs.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What a scenario's children run, for [`crate::runtime::init`]: the step
/// interpreter's entry point and the built-in pool functions; faults the
/// runtime reports are printed as output lines.
pub fn registry() -> Registry {
    let mut reg = Registry::new()
        .entry(steps::STEPS_ENTRY, steps::steps_entry)
        .reporter(steps::say);
    for f in Func::ALL {
        reg = reg.function(f.function());
    }
    reg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_scales_sleeps_and_paces_and_refuses_the_impossible() {
        let pace_of = |speed: Option<f64>| -> Result<Vec<u64>, ScenarioError> {
            let ov = Overrides {
                speed,
                ..Default::default()
            };
            let sc = load("scenarios/queue.toml", &ov)?;
            Ok(sc
                .processes
                .iter()
                .flat_map(|p| p.steps.iter())
                .filter_map(|w| match w {
                    Work::PutMany { pace_ms, .. } | Work::GetMany { pace_ms, .. } => Some(*pace_ms),
                    _ => None,
                })
                .collect())
        };
        assert_eq!(pace_of(None).unwrap(), [10, 25]);
        assert_eq!(pace_of(Some(0.25)).unwrap(), [40, 100]);
        assert_eq!(pace_of(Some(5.0)).unwrap(), [2, 5]);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e6] {
            let e = pace_of(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("--speed: a factor between"), "{bad}: {e}");
        }
    }

    const PROCESS: &str = r#"
[scenario]
title = "Process"
explain = "x"
start_method = "spawn"

[[process]]
name = "f"
steps = [{ info = "function f" }, { print = "hello bob" }]

[main]
steps = [{ info = "main line" }, { start = "f" }, { join = "f" }]
"#;

    #[test]
    fn a_valid_scenario_loads() {
        let s = parse("p.toml", PROCESS, &Overrides::default()).unwrap();
        assert_eq!(s.start_method, StartMethod::Spawn);
        assert_eq!(s.processes[0].steps[1], Work::Print("hello bob".into()));
        assert_eq!(s.main[1], MainStep::Start("f".into()));
    }

    #[test]
    fn overrides_change_values_and_keep_line_numbers() {
        let text = "[scenario]\ntitle = \"t\"\nexplain = \"\"\n[task]\nkind = \"primes\"\nbelow = 100\nchunks = 4\n[main]\nsteps = [\"pool_map\"]\n[pool]\nworkers = 2\n";
        let ov = Overrides {
            set: vec!["task.below=2000000".into()],
            ..Default::default()
        };
        let s = parse("t.toml", text, &ov).unwrap();
        assert_eq!(s.task.unwrap().below, 2_000_000);
        let bad = Overrides {
            set: vec!["pool.workers=0".into()],
            ..Default::default()
        };
        let e = parse("t.toml", text, &bad).unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (11, Some("pool.workers")));
    }

    #[test]
    fn a_set_can_reach_into_arrays() {
        let text = "[scenario]\ntitle = \"t\"\nexplain = \"\"\n[main]\nsteps = [{ alloc_mib = 256 }, { sleep_ms = 1 }]\n";
        let ov = Overrides {
            set: vec![
                "main.steps.0.alloc_mib=64".into(),
                "main.steps.1.sleep_ms=5".into(),
            ],
            ..Default::default()
        };
        let s = parse("t.toml", text, &ov).unwrap();
        assert_eq!(s.main[0], MainStep::Work(Work::AllocMib(64)));
        assert_eq!(s.main[1], MainStep::Work(Work::SleepMs(5)));
        let ov = Overrides {
            set: vec!["main.steps.7.alloc_mib=1".into()],
            ..Default::default()
        };
        assert!(parse("t.toml", text, &ov).is_err());
    }

    #[test]
    fn a_set_without_equals_or_table_is_an_error() {
        let ov = Overrides {
            set: vec!["nope".into()],
            ..Default::default()
        };
        assert!(
            parse("p.toml", PROCESS, &ov)
                .unwrap_err()
                .message
                .contains("KEY=VALUE")
        );
        let ov = Overrides {
            set: vec!["zzz.a=1".into()],
            ..Default::default()
        };
        assert!(
            parse("p.toml", PROCESS, &ov)
                .unwrap_err()
                .message
                .contains("\"zzz\"")
        );
    }
}
