//! Where a run comes from — the one fact that decides what mpdash starts
//! and how it sees inside, instead of flags scattered over the app and the
//! session.

/// Where a run comes from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Source {
    /// A scenario file, run by mpdash's own runtime: every fact comes from
    /// the board its primitives write.
    #[default]
    Scenario,
    /// Any command, started by mpdash and watched from `/proc`
    /// (`mpdash watch --no-probe`): CPU, memory, parents, exits; nothing
    /// inside.
    Command(Vec<String>),
    /// A CPython program, run with mpdash's probe (`mpdash prog.py`,
    /// `mpdash watch -- python3 …`): its processes, objects and waits.
    Python(Vec<String>),
    /// A process tree mpdash did not start, already running (`mpdash attach
    /// PID`): found in `/proc`, its Python stacks read from outside; never
    /// signalled, and left running when mpdash quits.
    Attached(i32),
    /// A recorded run played back (`mpdash replay FILE`): nothing runs.
    Replay {
        path: String,
        /// What the recorded run was.
        of: Box<Source>,
    },
}

impl Source {
    /// A command's or a Python program's argv (a replay's, as recorded).
    pub fn argv(&self) -> Option<&[String]> {
        match self {
            Source::Command(argv) | Source::Python(argv) => Some(argv),
            Source::Replay { of, .. } => of.argv(),
            Source::Scenario | Source::Attached(_) => None,
        }
    }

    /// A program mpdash did not write (a command, a Python program, an
    /// attached tree): its processes are found in `/proc`, it has no start
    /// method to choose.
    pub fn is_foreign(&self) -> bool {
        self.argv().is_some() || self.attached().is_some()
    }

    /// The root of an attached tree (a replay's, as recorded).
    pub fn attached(&self) -> Option<i32> {
        match self {
            Source::Attached(pid) => Some(*pid),
            Source::Replay { of, .. } => of.attached(),
            _ => None,
        }
    }

    /// Python stacks are read from outside (py-spy): an attached tree and
    /// a probed program (the probe names things, the stacks say where
    /// each thread is).
    pub fn reads_stacks(&self) -> bool {
        match self {
            Source::Attached(_) | Source::Python(_) => true,
            Source::Replay { .. } | Source::Scenario | Source::Command(_) => false,
        }
    }

    /// Seen from inside by the probe.
    pub fn is_probed(&self) -> bool {
        match self {
            Source::Python(_) => true,
            Source::Replay { of, .. } => of.is_probed(),
            _ => false,
        }
    }

    /// The recording played back, if this is a replay.
    pub fn replay(&self) -> Option<&str> {
        match self {
            Source::Replay { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The source of a watched command: probed or not.
    pub fn command(argv: Vec<String>, probed: bool) -> Source {
        if probed {
            Source::Python(argv)
        } else {
            Source::Command(argv)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_is_what_it_recorded_but_runs_nothing() {
        let py = Source::command(vec!["python3".into(), "prog.py".into()], true);
        let r = Source::Replay {
            path: "f".into(),
            of: Box::new(py.clone()),
        };
        assert!(r.is_foreign() && r.is_probed());
        assert_eq!(r.argv(), py.argv());
        assert_eq!(r.replay(), Some("f"));
        assert!(!Source::Scenario.is_foreign() && Source::Scenario.replay().is_none());
        assert!(!Source::command(vec!["sleep".into()], false).is_probed());
    }
}
