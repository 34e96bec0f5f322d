//! Per-process CPU and memory from `/proc/<pid>/stat`, with the files kept
//! open between samples (a `pread` per process per sample, no path lookups).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::runtime::sys;

/// One reading of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcSample {
    /// Kernel state letter (R running, S sleeping, T stopped, Z zombie…).
    pub state: char,
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// When it started, in clock ticks since boot (tells a reused pid apart).
    pub start_ticks: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub threads: u64,
    pub rss_bytes: u64,
    /// A zombie's wait status (the last field, `exit_code` in proc(5)); 0
    /// while it runs.
    pub wait_status: i32,
}

/// Parses the text of `/proc/<pid>/stat`. The command name may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str, page_size: u64) -> Option<ProcSample> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    // f[0] is field 3 of proc(5).
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    Some(ProcSample {
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        start_ticks: num(19)?,
        cpu_ticks: num(11)? + num(12)?,
        threads: num(17)?,
        rss_bytes: num(21)? * page_size,
        // Field 52: present since Linux 3.5; older kernels say nothing.
        wait_status: f.get(49).and_then(|s| s.parse().ok()).unwrap_or(0),
    })
}

/// Keeps one open `/proc/<pid>/stat` per watched process.
pub struct ProcStatReader {
    files: HashMap<i32, File>,
    page: u64,
    buf: Vec<u8>,
}

impl Default for ProcStatReader {
    fn default() -> Self {
        ProcStatReader {
            files: HashMap::new(),
            page: sys::page_size(),
            buf: vec![0; 1024],
        }
    }
}

impl ProcStatReader {
    /// Reads `pid` now; `None` once it has ended (its file then stays closed).
    pub fn read(&mut self, pid: i32) -> Option<ProcSample> {
        if pid <= 0 {
            return None;
        }
        let f = match self.files.entry(pid) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => v.insert(File::open(format!("/proc/{pid}/stat")).ok()?),
        };
        let n = match f.read_at(&mut self.buf, 0) {
            Ok(n) if n > 0 => n,
            _ => {
                self.files.remove(&pid);
                return None;
            }
        };
        let text = String::from_utf8_lossy(&self.buf[..n]);
        parse_stat(&text, self.page)
    }

    /// Closes the files of processes no longer watched.
    pub fn retain(&mut self, keep: impl Fn(i32) -> bool) {
        self.files.retain(|pid, _| keep(*pid));
    }

    pub fn open_files(&self) -> usize {
        self.files.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_spaces_and_parens_does_not_shift_fields() {
        let text = "1234 (mpdash: a) b) R 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 1000000 300 18446744073709551615";
        let s = parse_stat(text, 4096).unwrap();
        assert_eq!(s.state, 'R');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.cpu_ticks, 300);
        assert_eq!(s.threads, 3);
        assert_eq!(s.rss_bytes, 300 * 4096);
    }

    #[test]
    fn our_own_process_reads_back() {
        let mut r = ProcStatReader::default();
        let me = std::process::id() as i32;
        let s = r.read(me).unwrap();
        assert!(s.rss_bytes > 0 && s.threads >= 1);
        assert_eq!(r.open_files(), 1);
        assert!(r.read(-5).is_none());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse_stat("no paren here", 4096).is_none());
        assert!(parse_stat("1 (x) R", 4096).is_none());
    }
}
