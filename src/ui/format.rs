//! How numbers are written on screen.

/// Bytes as `812K`, `12.3M`, `1.2G`.
pub fn bytes(b: u64) -> String {
    const K: f64 = 1024.0;
    if b < 1024 {
        return format!("{b}B");
    }
    let b = b as f64;
    if b < K * K {
        format!("{:.0}K", b / K)
    } else if b < K * K * K {
        format!("{:.1}M", b / K / K)
    } else {
        format!("{:.1}G", b / K / K / K)
    }
}

/// A duration in seconds as `3.2 s` or `1 m 05 s`.
pub fn secs(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{} m {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}

/// Values (percent of one core) as a row of block characters.
pub fn spark(values: impl Iterator<Item = f64>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    values
        .map(|v| BARS[((v.clamp(0.0, 100.0) / 100.0) * 7.0).round() as usize])
        .collect()
}

/// A rate with a k/M suffix: `950`, `12.3k`, `4.1M`.
pub fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.1}M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

/// Microseconds, as `87 µs` or `1.2 ms`.
pub fn micros(us: u64) -> String {
    if us >= 1000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(bytes(2048), "2K");
        assert_eq!(bytes(19), "19B");
        assert_eq!(bytes(5 * 1024 * 1024 + 300 * 1024), "5.3M");
        assert_eq!(secs(3.21), "3.2 s");
        assert_eq!(secs(65.0), "1 m 05 s");
        assert_eq!(spark([0.0, 50.0, 100.0, 250.0].into_iter()), "▁▅██");
    }
}
