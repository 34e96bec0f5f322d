//! Proportional memory: PSS and RSS from `/proc/<pid>/smaps_rollup`. PSS
//! splits each shared page among its sharers, so forked children sharing
//! their parent's heap copy-on-write count only their share.

/// (PSS, RSS) in bytes.
pub fn pss_rss(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    parse_rollup(&text)
}

pub fn parse_rollup(text: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("Pss:")?, field("Rss:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollup_fields_are_read_in_bytes() {
        let t = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:                4096 kB\nPss:                1024 kB\nPss_Anon:            512 kB\n";
        assert_eq!(parse_rollup(t), Some((1024 * 1024, 4096 * 1024)));
        assert_eq!(parse_rollup("garbage"), None);
        assert!(pss_rss(std::process::id() as i32).is_some_and(|(p, r)| p > 0 && r >= p));
    }
}
