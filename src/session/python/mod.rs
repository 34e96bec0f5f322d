//! A run whose source is a CPython program (`mpdash prog.py`): the program
//! runs as a watched command, with mpdash's probe (`sitecustomize.py` and
//! the package `_mpdash_probe/`, pure Python, embedded here) installed for this run only in a private 0700
//! directory put first on `PYTHONPATH`. The probe reports into `out/` of
//! that directory, read by [`crate::telemetry::probe`]. Nothing is written
//! to the user's site-packages; the directory goes when the run does (the
//! watch guard removes it if the dashboard was killed).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The probe's files, as (path under `site/`, source): `sitecustomize.py`,
/// its entry point, and the package `_mpdash_probe` (a module per concern,
/// each imported when the program first imports what it patches).
pub const PROBE_FILES: [(&str, &str); 15] = [
    ("sitecustomize.py", include_str!("sitecustomize.py")),
    (
        "_mpdash_probe/__init__.py",
        include_str!("_mpdash_probe/__init__.py"),
    ),
    ("_mpdash_probe/fileformat.py", FILE_FORMAT),
    (
        "_mpdash_probe/core.py",
        include_str!("_mpdash_probe/core.py"),
    ),
    (
        "_mpdash_probe/names.py",
        include_str!("_mpdash_probe/names.py"),
    ),
    (
        "_mpdash_probe/pickling.py",
        include_str!("_mpdash_probe/pickling.py"),
    ),
    (
        "_mpdash_probe/start.py",
        include_str!("_mpdash_probe/start.py"),
    ),
    (
        "_mpdash_probe/output.py",
        include_str!("_mpdash_probe/output.py"),
    ),
    (
        "_mpdash_probe/processes.py",
        include_str!("_mpdash_probe/processes.py"),
    ),
    (
        "_mpdash_probe/queues.py",
        include_str!("_mpdash_probe/queues.py"),
    ),
    (
        "_mpdash_probe/locks.py",
        include_str!("_mpdash_probe/locks.py"),
    ),
    (
        "_mpdash_probe/connections.py",
        include_str!("_mpdash_probe/connections.py"),
    ),
    (
        "_mpdash_probe/shared.py",
        include_str!("_mpdash_probe/shared.py"),
    ),
    (
        "_mpdash_probe/pools.py",
        include_str!("_mpdash_probe/pools.py"),
    ),
    (
        "_mpdash_probe/managers.py",
        include_str!("_mpdash_probe/managers.py"),
    ),
];

/// The probe's file format (records, slots, the wait operations' numbers),
/// read by [`crate::telemetry::probe`]'s test of the layout.
pub const FILE_FORMAT: &str = include_str!("_mpdash_probe/fileformat.py");

/// Writes the probe's files under `site` (which exists).
pub fn write_probe(site: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for (path, source) in PROBE_FILES {
        let to = site.join(path);
        if let Some(dir) = to.parent().filter(|d| !d.exists()) {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .recursive(true)
                .create(dir)?;
        }
        std::fs::write(to, source)?;
    }
    Ok(())
}

/// The private directory of one run's probe: `site/` (`sitecustomize.py`,
/// `_mpdash_probe/`) and `out/` for what the probe reports. Removed when dropped.
#[derive(Debug)]
pub struct ProbeDir {
    root: PathBuf,
}

impl ProbeDir {
    /// Creates it under the temporary directory, readable by us only.
    pub fn create() -> anyhow::Result<ProbeDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut last = None;
        for attempt in 0..16u32 {
            let name = format!(
                "mpdash-probe-{}-{:x}",
                std::process::id(),
                crate::runtime::sys::now_ns() ^ (u64::from(attempt) << 48)
            );
            let root = base.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&root) {
                Ok(()) => {
                    let dir = ProbeDir { root };
                    std::fs::DirBuilder::new().mode(0o700).create(dir.site())?;
                    std::fs::DirBuilder::new().mode(0o700).create(dir.out())?;
                    write_probe(&dir.site())?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "cannot create the probe's directory in {}: {e}",
                        base.display()
                    ));
                }
            }
        }
        Err(anyhow::anyhow!(
            "cannot create the probe's directory in {}: {last:?}",
            base.display()
        ))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `sitecustomize.py` is (first on `PYTHONPATH`).
    pub fn site(&self) -> PathBuf {
        self.root.join("site")
    }

    /// Where the probe writes (`MPDASH_PROBE_DIR`).
    pub fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    /// The socket where the program's processes hand over their own output
    /// pipes (`out/out.sock`; see [`crate::session::output`]).
    pub fn listen_output(&self) -> anyhow::Result<std::os::fd::OwnedFd> {
        use nix::sys::socket::{AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
        let path = self.out().join("out.sock");
        let fd = nix::sys::socket::socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )?;
        nix::sys::socket::bind(fd.as_raw_fd(), &UnixAddr::new(&path)?)?;
        nix::sys::socket::listen(&fd, Backlog::new(128)?)?;
        Ok(fd)
    }
}

impl Drop for ProbeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The environment a probed program runs with, given the probe's directory
/// `root` and the `PYTHONPATH` it would have had.
pub fn probe_env(root: &Path, pythonpath: Option<&str>) -> Vec<(String, String)> {
    let site = root.join("site").to_string_lossy().into_owned();
    let path = match pythonpath.filter(|p| !p.is_empty()) {
        Some(p) => format!("{site}:{p}"),
        None => site,
    };
    vec![
        ("PYTHONPATH".into(), path),
        (
            "MPDASH_PROBE_DIR".into(),
            root.join("out").to_string_lossy().into_owned(),
        ),
    ]
}

/// Whether `argv` runs a Python interpreter (`python3`, `python3.11`,
/// `/usr/bin/python`), so `mpdash watch` probes it.
pub fn is_python(argv: &[String]) -> bool {
    argv.first()
        .and_then(|p| Path::new(p).file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "python" || n.starts_with("python3") || n == "python2")
}

/// A Python file's module docstring, as (its first line, the rest): the
/// title and the explanation of `mpdash prog.py`. `None` when the file does
/// not open with one (comments, blank lines and a `#!` line may come first).
pub fn docstring(source: &str) -> Option<(String, String)> {
    let mut rest = source.trim_start_matches('\u{feff}');
    loop {
        let t = rest.trim_start();
        if t.starts_with('#') {
            rest = t.split_once('\n').map_or("", |(_, r)| r);
        } else {
            rest = t;
            break;
        }
    }
    let rest = rest.trim_start_matches(['r', 'R', 'u', 'U']);
    let quote = ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|q| rest.starts_with(q))?;
    let body = &rest[quote.len()..];
    let end = if quote.len() == 3 {
        body.find(quote)?
    } else {
        body.find(quote).filter(|&e| !body[..e].contains('\n'))?
    };
    let text = body[..end].trim();
    let (title, explain) = text.split_once('\n').unwrap_or((text, ""));
    let title = title.trim().trim_end_matches('.').to_string();
    (!title.is_empty()).then(|| (title, explain.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docstring_gives_the_title_and_the_explanation() {
        let src = "#!/usr/bin/env python3\n# c\n\n\"\"\"Two locks.\n\nThe fix: one order.\n\"\"\"\nimport os\n";
        assert_eq!(
            docstring(src),
            Some(("Two locks".into(), "The fix: one order.".into()))
        );
        assert_eq!(
            docstring("r'''One line only'''"),
            Some(("One line only".into(), String::new()))
        );
        assert_eq!(docstring("import os\n\"\"\"late\"\"\""), None);
        assert_eq!(docstring("\"unclosed\nx\""), None);
        assert_eq!(docstring(""), None);
    }

    #[test]
    fn the_directory_is_private_and_goes_with_the_run() {
        use std::os::unix::fs::PermissionsExt;
        let d = ProbeDir::create().unwrap();
        let root = d.root().to_path_buf();
        let mode = std::fs::metadata(&root).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        for (path, source) in PROBE_FILES {
            assert_eq!(
                std::fs::read_to_string(d.site().join(path)).unwrap(),
                source,
                "{path}"
            );
        }
        let package = d.site().join("_mpdash_probe");
        let mode = std::fs::metadata(&package).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let env = probe_env(&root, Some("/x"));
        assert_eq!(env[0].1, format!("{}:/x", d.site().display()));
        drop(d);
        assert!(!root.exists());
    }

    #[test]
    fn interpreters_are_recognised() {
        let argv = |s: &str| vec![s.to_string()];
        assert!(is_python(&argv("python3")));
        assert!(is_python(&argv("/usr/bin/python3.11")));
        assert!(!is_python(&argv("pythonista")));
        assert!(!is_python(&argv("sleep")));
    }
}
