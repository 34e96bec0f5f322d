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

/// Text cut into lines of at most `width` characters, at spaces where it
/// can (a word longer than a line is cut), keeping the text's own newlines.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0;
        for word in para.split(' ') {
            let w = word.chars().count();
            if len > 0 && len + 1 + w > width {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            let mut chars = word.chars().peekable();
            while chars.peek().is_some() {
                if len == width {
                    out.push(std::mem::take(&mut line));
                    len = 0;
                }
                line.push(chars.next().expect("peeked"));
                len += 1;
            }
        }
        out.push(line);
    }
    out
}

/// A process's own colour: its name in the table and its lines in Output.
pub fn proc_color(pid: i32) -> ratatui::style::Color {
    use ratatui::style::Color::*;
    const PALETTE: [ratatui::style::Color; 6] = [
        LightCyan,
        LightMagenta,
        LightBlue,
        LightGreen,
        LightYellow,
        Cyan,
    ];
    if pid <= 0 {
        return Gray;
    }
    PALETTE[pid as usize % PALETTE.len()]
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

    #[test]
    fn text_wraps_at_spaces_and_cuts_only_words_longer_than_a_line() {
        assert_eq!(
            wrap("stopped exitcode=-SIGTERM now", 12),
            ["stopped", "exitcode=-SI", "GTERM now"]
        );
        assert_eq!(wrap("a b c", 3), ["a b", "c"]);
        assert_eq!(wrap("one\ntwo", 10), ["one", "two"]);
        assert_eq!(wrap("", 5), [""]);
        for l in wrap("the quick brown fox jumps over the lazy dog", 7) {
            assert!(l.chars().count() <= 7, "{l}");
        }
    }
}

/// `line` made to fit `width` columns: cut after its last whole word that
/// fits, with `…`, never inside a word or a number (the styles kept).
pub fn fit_line(line: ratatui::text::Line<'static>, width: usize) -> ratatui::text::Line<'static> {
    use ratatui::text::{Line, Span};
    if width < 2 {
        return line;
    }
    // Characters with their span; trailing blanks (padding) do not count.
    let mut chars: Vec<(usize, char)> = line
        .spans
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.content.chars().map(move |c| (i, c)))
        .collect();
    while chars.last().is_some_and(|(_, c)| *c == ' ') {
        chars.pop();
    }
    if line.width() <= width || chars.len() <= width {
        return line;
    }
    // Up to the room left for the `…`: at the last ` · ` between parts if
    // there is one (a figure stays with its words), else after the last
    // whole word, else (one very long word) at the room.
    let room = width - 1;
    let head: String = chars[..room].iter().map(|(_, c)| *c).collect();
    let mut keep = match head.rfind(" · ") {
        Some(b) if b > 0 => head[..b].chars().count(),
        _ => chars[..room]
            .iter()
            .rposition(|(_, c)| *c == ' ')
            .unwrap_or(room),
    };
    while keep > 0 && chars[keep - 1].1 == ' ' {
        keep -= 1;
    }
    let mut spans: Vec<Span<'static>> = Vec::new();
    for (i, s) in line.spans.iter().enumerate() {
        let text: String = chars[..keep]
            .iter()
            .filter(|(j, _)| *j == i)
            .map(|(_, c)| c)
            .collect();
        if !text.is_empty() {
            spans.push(Span::styled(text, s.style));
        }
    }
    spans.push(Span::styled(
        "…",
        ratatui::style::Style::new().fg(ratatui::style::Color::DarkGray),
    ));
    Line::from(spans).style(line.style)
}

/// [`fit_line`] for plain text.
pub fn fit_text(text: &str, width: usize) -> String {
    fit_line(ratatui::text::Line::raw(text.to_string()), width)
        .spans
        .iter()
        .map(|s| s.content.as_ref())
        .collect()
}

#[cfg(test)]
mod fit_tests {
    use super::fit_line;
    use ratatui::text::{Line, Span};

    #[test]
    fn a_long_line_is_cut_after_a_whole_word_never_inside_a_number() {
        let l = Line::from(vec![
            Span::raw("LOCK    one  "),
            Span::raw("1 acquired, 50% contended"),
        ]);
        let text = |l: &Line| {
            l.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        };
        assert_eq!(text(&fit_line(l.clone(), 40)), text(&l));
        assert_eq!(
            text(&fit_line(l.clone(), 30)),
            "LOCK    one  1 acquired, 50%…"
        );
        assert_eq!(text(&fit_line(l.clone(), 27)), "LOCK    one  1 acquired,…");
        assert!(fit_line(l, 20).width() <= 20);
    }
}
