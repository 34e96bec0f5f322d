//! Labels for people, shared by every view of a run: exit statuses
//! (`0`, `1`, `SIGKILL`) and start latencies (`0.21 ms`).

/// Decodes CPython's exitcode for people: `0`, `1`, `SIGKILL`.
pub fn exit_label(code: Option<i32>) -> String {
    match code {
        None => "-".into(),
        Some(c) if c < 0 => nix::sys::signal::Signal::try_from(-c)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| format!("signal {}", -c)),
        Some(c) => c.to_string(),
    }
}

/// Start latency for people: `0.21 ms`, `14.3 ms`, `143 ms`, `1.42 s`
/// (never more than 7 characters, so a column never cuts it).
pub fn ms_label(us: Option<f64>) -> String {
    let Some(u) = us else {
        return "-".into();
    };
    let ms = u / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn start_latencies_fit_seven_characters() {
        for (us, want) in [
            (210.0, "0.21 ms"),
            (14_300.0, "14.3 ms"),
            (142_570.0, "143 ms"),
            (1_420_000.0, "1.42 s"),
        ] {
            assert_eq!(super::ms_label(Some(us)), want);
        }
    }
}
