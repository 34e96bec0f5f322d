//! A run saved to a file (`--record FILE`) and played back with
//! `mpdash replay FILE`: the scenario, every sample the dashboard kept and
//! the output, so a teacher can send a run to a class. No process is started
//! on playback; the dashboard opens at the run's end and `←`/`→` step
//! through it.
//!
//! The file is one JSON object per line (`{"header": …}`, `{"sample": …}`,
//! `{"end": …}`): a header, then one line per sample (the output printed since the previous sample travels with it), then
//! the run's end.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Action, App, DataAction, Printed, RunAction, RunStatus};
use crate::runtime::board::StartMethod;
use crate::scenario::Scenario;
use crate::session::Source;
use crate::telemetry::snapshot::Snapshot;

/// What the first line says, so a file that is not a recording is refused.
pub const FORMAT: &str = "mpdash recording 1";
/// Recordings larger than this are refused before reading (10 min of a big
/// run at 10 Hz is well under it).
pub const MAX_FILE_BYTES: u64 = 512 << 20;

#[derive(Serialize, Deserialize)]
// Externally tagged (`{"sample": {…}}`): an internally tagged enum buffers
// its content, and a buffered map cannot give back integer keys (pids).
#[serde(rename_all = "snake_case")]
enum Line {
    Header {
        format: String,
        scenario: Box<Scenario>,
        method: StartMethod,
        /// The watched command, for `mpdash watch` runs.
        foreign: Option<Vec<String>>,
        /// The command was a Python program seen by the probe.
        #[serde(default)]
        probed: bool,
    },
    Sample {
        /// Output printed before this sample: (pid, line).
        output: Vec<(i32, String)>,
        snapshot: Box<Snapshot>,
    },
    End {
        output: Vec<(i32, String)>,
        exit: Option<i32>,
        wall_s: f64,
    },
}

/// Writes the app's current run to `path` (what it kept: the last
/// [`super::timeline::MAX_AGE`] of samples, the last
/// [`super::LOG_LINES`] lines of output).
pub fn save(app: &App, path: &str) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot write the recording {path}: {e}"))?,
    );
    let mut put = |l: &Line| -> anyhow::Result<()> {
        serde_json::to_writer(&mut out, l)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    put(&Line::Header {
        format: FORMAT.into(),
        scenario: Box::new((*app.scenario).clone()),
        method: app.method,
        foreign: app.source.argv().map(<[String]>::to_vec),
        probed: app.source.is_probed(),
    })?;
    let first = app.current.printed - app.current.log.len() as u64;
    let line_at = |i: u64| -> Option<(i32, String)> {
        let p = app.current.log.get(i.checked_sub(first)? as usize)?;
        Some((p.pid, p.line.clone()))
    };
    let mut sent = first;
    for f in app.current.timeline.frames() {
        let output = (sent..f.printed).filter_map(line_at).collect();
        sent = sent.max(f.printed);
        put(&Line::Sample {
            output,
            snapshot: Box::new((*f.snap).clone()),
        })?;
    }
    let (exit, wall_s) = match &app.current.status {
        RunStatus::Finished { exit, wall } => (Some(*exit), wall.as_secs_f64()),
        _ => (None, app.current.snapshot.elapsed.as_secs_f64()),
    };
    put(&Line::End {
        output: (sent..app.current.printed).filter_map(line_at).collect(),
        exit,
        wall_s,
    })?;
    out.flush()?;
    Ok(())
}

/// Reads a recording into a new app, at the run's end. Errors name the file
/// and the line.
pub fn load(path: &str, rate_hz: f64) -> anyhow::Result<App> {
    let bad = |line: usize, what: String| anyhow::anyhow!("{path}:{line}: {what}");
    let size = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot read the recording {path}: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        anyhow::bail!("{path}: {size} bytes is more than a recording may be ({MAX_FILE_BYTES})");
    }
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read the recording {path}: {e}"))?;
    let mut app: Option<App> = None;
    let mut ended = false;
    for (n, text) in std::io::BufReader::new(file).lines().enumerate() {
        let n = n + 1;
        let text = text.map_err(|e| bad(n, format!("cannot read: {e}")))?;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(&text).map_err(|e| {
            bad(
                n,
                format!("not a recording line (column {}): {e}", e.column()),
            )
        })?;
        match (line, app.as_mut()) {
            (
                Line::Header {
                    format,
                    scenario,
                    method,
                    foreign,
                    probed,
                },
                None,
            ) => {
                if format != FORMAT {
                    return Err(bad(n, format!("format {format:?}, expected {FORMAT:?}")));
                }
                let mut a = App::new(Arc::new(*scenario), rate_hz);
                a.source = foreign.map_or(Source::Scenario, |argv| Source::command(argv, probed));
                a.update(Action::Run(RunAction::RunStarted { run: 1, method }));
                app = Some(a);
            }
            (Line::Header { .. }, Some(_)) => return Err(bad(n, "a second header".into())),
            (_, None) => return Err(bad(n, "no header: not an mpdash recording".into())),
            (Line::Sample { output, snapshot }, Some(a)) => {
                feed_output(a, output);
                let mut s = *snapshot;
                s.run = 1;
                a.update(Action::Data(DataAction::Sample(Box::new(s))));
            }
            (
                Line::End {
                    output,
                    exit,
                    wall_s,
                },
                Some(a),
            ) => {
                feed_output(a, output);
                if !wall_s.is_finite() || wall_s < 0.0 {
                    return Err(bad(n, format!("impossible wall time {wall_s}")));
                }
                let wall = Duration::from_secs_f64(wall_s.min(1e9));
                a.current.status = match exit {
                    Some(exit) => RunStatus::Finished { exit, wall },
                    // Recorded while it ran: it ends where the recording does.
                    None => RunStatus::Finished { exit: -1, wall },
                };
                ended = true;
            }
        }
    }
    let mut app = app.ok_or_else(|| bad(0, "empty: not an mpdash recording".into()))?;
    if !ended {
        app.overlay.notice = Some(format!(
            "{path} ends early (cut off?): shown up to its last sample"
        ));
    }
    app.source = Source::Replay {
        path: path.to_string(),
        of: Box::new(std::mem::take(&mut app.source)),
    };
    Ok(app)
}

fn feed_output(a: &mut App, output: Vec<(i32, String)>) {
    for (pid, line) in output {
        a.update(Action::Data(DataAction::Output(Printed { pid, line })));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::TimeAction;
    use crate::telemetry::board_view::ProcRow;

    fn app() -> App {
        let sc = crate::scenario::load("scenarios/pool.toml", &Default::default()).unwrap();
        App::new(Arc::new(sc), 4.0)
    }

    #[test]
    fn a_run_saved_and_loaded_is_the_same_run() {
        let mut a = app();
        a.update(Action::Run(RunAction::RunStarted {
            run: 3,
            method: StartMethod::Spawn,
        }));
        for i in 0..5u64 {
            a.update(Action::Data(DataAction::Output(Printed {
                pid: 10,
                line: format!("line {i}"),
            })));
            a.update(Action::Data(DataAction::Sample(Box::new(Snapshot {
                run: 3,
                elapsed: Duration::from_millis(100 * i),
                procs: vec![ProcRow {
                    pid: 10,
                    name: "main".into(),
                    ..Default::default()
                }],
                // Maps keyed by pid must come back as they went.
                live: [(
                    10,
                    crate::telemetry::snapshot::Live {
                        cpu_pct: i as f64,
                        ..Default::default()
                    },
                )]
                .into(),
                ..Default::default()
            }))));
        }
        a.update(Action::Data(DataAction::Output("after".into())));
        a.update(Action::Run(RunAction::RunEnded {
            exit: 0,
            wall: Duration::from_millis(450),
            rows: vec![],
        }));
        // Removed when dropped, also when an assertion fails.
        struct Scratch(std::path::PathBuf);
        impl Drop for Scratch {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = Scratch(std::env::temp_dir().join(format!("mpdash-rec-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("run.jsonl");
        let path = path.to_str().unwrap();
        save(&a, path).unwrap();
        let mut b = load(path, 4.0).unwrap();
        assert_eq!(b.current.timeline.len(), a.current.timeline.len());
        assert_eq!(
            b.current.timeline.get(4).unwrap().snap.live[&10].cpu_pct,
            4.0
        );
        assert_eq!(b.method, StartMethod::Spawn);
        assert_eq!(b.current.status, a.current.status);
        let lines = |x: &App| {
            x.shown_log()
                .map(|p| (p.pid, p.line.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(lines(&b), lines(&a));
        // Stepping back shows the output of that moment, as in the live run.
        for _ in 0..3 {
            b.update(Action::Time(TimeAction::TimeBack));
        }
        assert_eq!(b.shown_log().count(), 3, "{:?}", lines(&b));
        std::fs::write(path, "{\"sample\":{\"output\":[]}}\n").unwrap();
        let e = load(path, 4.0).err().unwrap().to_string();
        assert!(e.contains("run.jsonl:1:"), "{e}");
        std::fs::write(path, "not json").unwrap();
        let e = load(path, 4.0).err().unwrap().to_string();
        assert!(e.contains(":1: not a recording line"), "{e}");
    }
}
