//! Scenario files: what a run starts, validated completely before anything starts.
//!
//! A scenario is TOML. `load` reads it, applies `--set key=value` overrides,
//! checks every key, type and value, and returns a [`Scenario`] ready to run,
//! or a [`ScenarioError`] that names the file, line, column and key.

mod error;
pub mod main_process;

pub use error::ScenarioError;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::runtime::board::{BoardSize, StartMethod};
use crate::runtime::queue::Queue;
use crate::runtime::work::Work;

/// Upper bounds that keep a typo from taking the machine down.
pub const MAX_WORKERS: u64 = 512;
pub const MAX_PROCESSES: usize = 1024;
pub const MAX_CHUNKS: u64 = 1_000_000;
pub const MAX_BELOW: u64 = 1 << 40;
pub const MAX_ALLOC_MIB: u64 = 16 * 1024;
pub const MAX_SPIN_US: u64 = 3_600_000_000;

/// A validated scenario, ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    pub file: String,
    pub title: String,
    pub explain: String,
    pub start_method: StartMethod,
    pub pool: PoolSpec,
    pub task: Option<TaskSpec>,
    pub processes: Vec<ProcessSpec>,
    pub main: Vec<MainStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSpec {
    pub workers: usize,
    pub chunksize: usize,
}

/// The work `pool_map` maps: primes by trial division over `[0, below)` in `chunks` tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub below: u64,
    pub chunks: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    pub name: String,
    pub daemon: bool,
    pub steps: Vec<Work>,
}

/// One step of the scenario's main process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Scenario {
    /// Board sizes that fit this scenario with room for replacements.
    pub fn board_size(&self) -> BoardSize {
        let workers = self.pool.workers as u32;
        BoardSize {
            proc_slots: 32 + 2 * workers + self.processes.len() as u32,
            res_slots: 16,
            arena_bytes: (1 << 16) + 2 * Queue::footprint((4 * self.pool.workers).max(64), 192),
        }
    }

    /// Whether the main process runs a pool.
    pub fn uses_pool(&self) -> bool {
        self.main.contains(&MainStep::PoolMap)
    }
}

// ----- the file as written -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    scenario: RawHeader,
    pool: Option<RawPool>,
    task: Option<RawTask>,
    #[serde(default)]
    process: Vec<RawProcess>,
    main: RawMain,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    title: Spanned<String>,
    explain: String,
    #[serde(default)]
    start_method: StartMethod,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    workers: Option<Spanned<i64>>,
    chunksize: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    kind: Spanned<String>,
    below: Spanned<i64>,
    chunks: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    name: Spanned<String>,
    #[serde(default)]
    daemon: bool,
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMain {
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum RawStep {
    Info(String),
    Print(String),
    SpinUs(i64),
    SleepMs(i64),
    PrimesBelow(i64),
    AllocMib(i64),
    Exit(i64),
    Start(String),
    Join(String),
    Status(String),
    Terminate(String),
    Kill(String),
    PoolMap,
}

/// Options from the command line that change a scenario.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `key.path=value` pairs, applied to the file before validation.
    pub set: Vec<String>,
    pub start_method: Option<StartMethod>,
    pub workers: Option<usize>,
}

/// Reads, overrides and validates a scenario file.
pub fn load(path: &str, ov: &Overrides) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::whole_file(path, format!("cannot read: {e}")))?;
    parse(path, &text, ov)
}

/// Validates scenario `text` as if read from `file`.
pub fn parse(file: &str, text: &str, ov: &Overrides) -> Result<Scenario, ScenarioError> {
    let text = apply_sets(file, text, &ov.set)?;
    let raw: RawFile = toml::from_str(&text).map_err(|e| {
        let msg = e
            .message()
            .trim()
            .replace("expected i64", "expected an integer")
            .replace("expected a boolean", "expected true or false");
        ScenarioError::at(file, &text, e.span(), msg)
    })?;
    let mut sc = Checker { file, text: &text }.check(raw)?;
    if let Some(m) = ov.start_method {
        sc.start_method = m;
    }
    if let Some(w) = ov.workers {
        sc.pool.workers = w.clamp(1, MAX_WORKERS as usize);
    }
    Ok(sc)
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
        let mut item = doc.as_item_mut();
        for k in tables {
            item = item
                .get_mut(k)
                .filter(|i| i.is_table_like())
                .ok_or_else(|| bad(format!("--set {s}: no table [{k}] in the scenario")))?;
        }
        let table = item
            .as_table_like_mut()
            .ok_or_else(|| bad(format!("--set {s}: {path} is not in a table")))?;
        table.insert(last, toml_edit::Item::Value(value));
    }
    Ok(doc.to_string())
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        msg: impl Into<String>,
    ) -> Result<T, ScenarioError> {
        Err(ScenarioError::at(self.file, self.text, Some(span), msg))
    }

    fn range(
        &self,
        v: &Spanned<i64>,
        min: u64,
        max: u64,
        what: &str,
    ) -> Result<u64, ScenarioError> {
        let n = *v.get_ref();
        if n < min as i64 || n as u64 > max {
            return self.err(
                v.span(),
                format!("{what} must be between {min} and {max} (got {n})"),
            );
        }
        Ok(n as u64)
    }

    fn check(&self, raw: RawFile) -> Result<Scenario, ScenarioError> {
        if raw.scenario.title.get_ref().trim().is_empty() {
            return self.err(raw.scenario.title.span(), "the title must not be empty");
        }
        let pool = match &raw.pool {
            None => PoolSpec {
                workers: default_workers(),
                chunksize: 1,
            },
            Some(p) => PoolSpec {
                workers: match &p.workers {
                    Some(w) => self.range(w, 1, MAX_WORKERS, "the number of workers")? as usize,
                    None => default_workers(),
                },
                chunksize: match &p.chunksize {
                    Some(c) => self.range(c, 1, MAX_CHUNKS, "chunksize")? as usize,
                    None => 1,
                },
            },
        };
        let task = match &raw.task {
            None => None,
            Some(t) => {
                if t.kind.get_ref() != "primes" {
                    return self.err(
                        t.kind.span(),
                        format!(
                            "unknown task kind {:?} (expected \"primes\")",
                            t.kind.get_ref()
                        ),
                    );
                }
                let below = self.range(&t.below, 1, MAX_BELOW, "below")?;
                let chunks = self.range(&t.chunks, 1, MAX_CHUNKS.min(below), "chunks")?;
                Some(TaskSpec { below, chunks })
            }
        };
        if raw.process.len() > MAX_PROCESSES {
            return Err(ScenarioError::whole_file(
                self.file,
                format!("at most {MAX_PROCESSES} [[process]] tables"),
            ));
        }
        let mut names = HashSet::new();
        let mut processes = Vec::new();
        for p in &raw.process {
            let name = p.name.get_ref();
            if name.trim().is_empty() || name.len() > 40 {
                return self.err(p.name.span(), "a process name must have 1 to 40 characters");
            }
            if !names.insert(name.clone()) {
                return self.err(
                    p.name.span(),
                    format!("a process named {name:?} is already declared"),
                );
            }
            let steps = p
                .steps
                .iter()
                .map(|s| match self.step(s)? {
                    MainStep::Work(w) => Ok(w),
                    _ => self.err(s.span(), "a process can only run work steps (start, join, status, terminate, kill and pool_map belong to [main])"),
                })
                .collect::<Result<_, _>>()?;
            processes.push(ProcessSpec {
                name: name.clone(),
                daemon: p.daemon,
                steps,
            });
        }
        let mut started = HashSet::new();
        let mut main = Vec::new();
        for s in &raw.main.steps {
            let step = self.step(s)?;
            match &step {
                MainStep::Start(n) if !names.contains(n) => {
                    return self.err(
                        s.span(),
                        format!("start: no [[process]] named {n:?} is declared"),
                    );
                }
                MainStep::Start(n) if !started.insert(n.clone()) => {
                    return self.err(
                        s.span(),
                        format!("start: {n:?} is already started (a process starts once)"),
                    );
                }
                MainStep::Join(n) if !started.contains(n) => {
                    return self.err(
                        s.span(),
                        format!("join: {n:?} is not started before this step"),
                    );
                }
                MainStep::PoolMap if task.is_none() => {
                    return self.err(s.span(), "pool_map needs a [task] table saying what to map");
                }
                _ => {}
            }
            main.push(step);
        }
        Ok(Scenario {
            file: self.file.to_string(),
            title: raw.scenario.title.into_inner(),
            explain: reflow(&raw.scenario.explain),
            start_method: raw.scenario.start_method,
            pool,
            task,
            processes,
            main,
        })
    }

    fn step(&self, s: &Spanned<RawStep>) -> Result<MainStep, ScenarioError> {
        let span = s.span();
        let n = |v: i64, max: u64, what: &str| -> Result<u64, ScenarioError> {
            if v < 0 || v as u64 > max {
                return self.err(
                    span.clone(),
                    format!("{what} must be between 0 and {max} (got {v})"),
                );
            }
            Ok(v as u64)
        };
        Ok(match s.get_ref() {
            RawStep::Info(t) => MainStep::Work(Work::Info(t.clone())),
            RawStep::Print(t) => MainStep::Work(Work::Print(t.clone())),
            RawStep::SpinUs(v) => MainStep::Work(Work::SpinUs(n(*v, MAX_SPIN_US, "spin_us")?)),
            RawStep::SleepMs(v) => {
                MainStep::Work(Work::SleepMs(n(*v, MAX_SPIN_US / 1000, "sleep_ms")?))
            }
            RawStep::PrimesBelow(v) => {
                MainStep::Work(Work::PrimesBelow(n(*v, MAX_BELOW, "primes_below")?))
            }
            RawStep::AllocMib(v) => {
                MainStep::Work(Work::AllocMib(n(*v, MAX_ALLOC_MIB, "alloc_mib")?))
            }
            RawStep::Exit(v) => match i32::try_from(*v) {
                Ok(c @ 0..=255) => MainStep::Work(Work::Exit(c)),
                _ => return self.err(span, format!("exit must be between 0 and 255 (got {v})")),
            },
            RawStep::Start(p) => MainStep::Start(p.clone()),
            RawStep::Join(p) => MainStep::Join(p.clone()),
            RawStep::Status(p) => MainStep::Status(p.clone()),
            RawStep::Terminate(p) => MainStep::Terminate(p.clone()),
            RawStep::Kill(p) => MainStep::Kill(p.clone()),
            RawStep::PoolMap => MainStep::PoolMap,
        })
    }
}

/// Joins the lines of each paragraph, so the screen can wrap them to its width.
fn reflow(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
                .contains("[zzz]")
        );
    }
}
