//! Stacks as the screen shows them ([`StackView`]): plain data kept in the
//! snapshot, and a sampler that reads the run's processes at its own pace.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::verdict::Seen;
use super::{Frame, ProcInfo, ReadError, StackReader, Stacks, ThreadStack, Wait};
use crate::telemetry::snapshot::{FrameView, StackView, ThreadStackView};

/// How often stacks are read (each read costs 1–2 ms of our CPU per
/// process; the program is never paused).
pub const PERIOD: Duration = Duration::from_millis(500);

/// A library file as its module's path (`multiprocessing/queues.py`), the
/// program's own as given.
pub fn shown_file(f: &Frame) -> String {
    if f.own {
        return f.file.clone();
    }
    match f.file.find("/lib/python") {
        Some(i) => {
            let rest = &f.file[i + "/lib/python".len()..];
            rest.find('/')
                .map_or(f.file.clone(), |j| rest[j + 1..].to_string())
        }
        None => f.file.clone(),
    }
}

/// `get (Queue.get)`, `, with a timeout` when it ends by itself; in the
/// screen's language (only the dashboard shows these).
pub fn wait_label(w: &Wait) -> String {
    let mut s = format!("{} ({})", shown_op(w.op), w.call);
    if w.ends_by_itself {
        s += &format!(", {}", crate::t!("stack-with-timeout"));
    }
    s
}

/// A wait's operation in the screen's language: the method names (`get`,
/// `acquire`, `join`…) are the program's and stay; the few said in words
/// are translated.
pub fn shown_op(op: &str) -> String {
    match op {
        "queue feeder" => crate::t!("op-queue-feeder"),
        "pool result" => crate::t!("op-pool-result"),
        "manager call" => crate::t!("op-manager-call"),
        "wait for child" => crate::t!("op-wait-for-child"),
        _ => op.to_string(),
    }
}

fn thread_view(t: &ThreadStack) -> ThreadStackView {
    ThreadStackView {
        name: t.name.clone(),
        tid: t.tid,
        active: t.active,
        wait: t.wait.as_ref().map(wait_label),
        user: t.user_frame(),
        frames: t
            .frames
            .iter()
            .map(|f| FrameView {
                function: f.function.clone(),
                file: shown_file(f),
                line: f.line,
                own: f.own,
            })
            .collect(),
    }
}

/// Why there are no stacks, said for a person (on the dashboard, in its
/// language; `mpdash attach --headless` has its own, in English).
pub fn error_text(e: &ReadError) -> String {
    match e {
        ReadError::Gone => crate::t!("state-ended"),
        ReadError::NotPython => crate::t!("stack-not-python"),
        ReadError::Permission(why) => crate::t!("stack-refused", why = why.as_str()),
        ReadError::Failed(why) => crate::t!("stack-unreadable", why = why.as_str()),
    }
}

/// What one read of one process shows.
pub fn view_of(read: &Result<Stacks, ReadError>) -> StackView {
    match read {
        Ok(st) => StackView {
            python: Some(st.version.clone()),
            error: None,
            threads: st.threads.iter().map(thread_view).collect(),
        },
        Err(e) => StackView {
            python: None,
            error: Some(error_text(e)),
            threads: Vec::new(),
        },
    }
}

/// Reads the stacks of a run's live processes every [`PERIOD`], keeping the
/// last views in between.
#[derive(Default)]
pub struct StackSampler {
    reader: StackReader,
    last: Option<Instant>,
    views: HashMap<i32, StackView>,
    /// The last reads as they came (for the stuck detector).
    seen: Vec<Seen>,
}

impl StackSampler {
    /// Reads the stacks of `pids` (the run's live processes) again when
    /// due; true when it did.
    pub fn sample(&mut self, pids: &[i32], now: Instant) -> bool {
        if self.last.is_some_and(|t| now.duration_since(t) < PERIOD) {
            self.views.retain(|pid, _| pids.contains(pid));
            return false;
        }
        self.last = Some(now);
        self.reader.retain(|pid| pids.contains(&pid));
        let mut views = HashMap::with_capacity(pids.len());
        let mut seen = Vec::with_capacity(pids.len());
        for &pid in pids {
            let Some(info) = ProcInfo::read(pid) else {
                continue;
            };
            let read = self.reader.read(&info);
            if matches!(read, Err(ReadError::Gone)) {
                continue;
            }
            views.insert(pid, view_of(&read));
            seen.push(Seen { info, read });
        }
        self.views = views;
        self.seen = seen;
        true
    }

    /// The views as last read.
    pub fn views(&self) -> &HashMap<i32, StackView> {
        &self.views
    }

    /// The processes as last read.
    pub fn seen(&self) -> &[Seen] {
        &self.seen
    }

    /// Time of each read of one process, for `bench attach`.
    pub fn sample_times(&self) -> &[Duration] {
        &self.reader.sample_times
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: &str, line: i32, own: bool) -> Frame {
        Frame {
            function: function.into(),
            file: file.into(),
            line,
            own,
            locals: None,
        }
    }

    #[test]
    fn a_waiting_thread_is_placed_at_the_programs_line_that_made_the_call() {
        let frames = vec![
            frame(
                "Queue.get",
                "/usr/lib/python3.11/multiprocessing/queues.py",
                103,
                false,
            ),
            frame("consume", "/home/u/prog.py", 40, true),
            frame("<module>", "/home/u/prog.py", 52, true),
        ];
        let t = ThreadStack {
            name: Some("MainThread".into()),
            ident: 1,
            tid: Some(7),
            active: false,
            owns_gil: false,
            wait: super::super::waits::wait_of(&frames),
            pool_thread: None,
            frames,
        };
        let v = thread_view(&t);
        assert_eq!(v.wait.as_deref(), Some("get (Queue.get)"));
        assert_eq!(v.frames[0].file, "multiprocessing/queues.py");
        assert_eq!(v.user, Some(1));
        assert_eq!(v.where_text().as_deref(), Some("get at prog.py:40"));
        let busy = ThreadStackView {
            wait: None,
            active: true,
            ..v.clone()
        };
        assert_eq!(
            busy.where_text().as_deref(),
            Some("consume() at prog.py:40")
        );
    }
}
