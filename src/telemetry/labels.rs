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

/// Start latency for people: `0.21 ms`.
pub fn ms_label(us: Option<f64>) -> String {
    us.map_or("-".into(), |u| format!("{:.2} ms", u / 1000.0))
}
