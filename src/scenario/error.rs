//! Scenario errors that point at the file, line, column and key.

use std::fmt;
use std::ops::Range;

/// A mistake in a scenario file, located precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub col: usize,
    /// Dotted key the error is about (`pool.workers`), when known.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.col)?;
            if let Some(k) = &self.key {
                write!(f, "{k}: ")?;
            }
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for ScenarioError {}

impl ScenarioError {
    pub fn whole_file(file: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: file.to_string(),
            line: 0,
            col: 0,
            key: None,
            message: message.into(),
        }
    }

    /// An error at byte span `span` of `text`.
    pub fn at(
        file: &str,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let Some(span) = span else {
            return Self::whole_file(file, message);
        };
        let start = span.start.min(text.len());
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = text[line_start..start].chars().count() + 1;
        ScenarioError {
            file: file.to_string(),
            line,
            col,
            key: key_at(text, start),
            message: message.into(),
        }
    }
}

/// The candidate `word` was most likely meant to be, if one is close enough
/// to be a typo of it (`producre` → `producer`, `workerz` → `workers`):
/// Jaro-Winkler similarity of at least 0.8, or one edit in a short word
/// (`strsim`); the same name in another case first.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| {
            let cl = c.to_lowercase();
            let score = if cl == lower {
                2.0
            } else {
                strsim::jaro_winkler(&lower, &cl)
            };
            let edits = strsim::damerau_levenshtein(&lower, &cl);
            (c, score, edits)
        })
        // One or two letters look like anything: only a different case counts.
        .filter(|&(_, score, edits)| {
            score > 1.0
                || word.chars().count() >= 3
                    && (score >= 0.8 || (edits == 1 && word.chars().count() <= 4))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(c, _, _)| c)
}

/// `; did you mean "x"?` for `word` among `candidates`, or nothing.
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates).map_or_else(String::new, |c| format!("; did you mean {c:?}?"))
}

/// A TOML reader's ``unknown field `x`, expected one of `a`, `b` `` (or
/// ``unknown variant``) with the closest expected name suggested.
pub fn suggest_in_toml_message(msg: &str) -> String {
    let Some(rest) = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))
    else {
        return msg.to_string();
    };
    let Some((word, expected)) = rest.split_once('`') else {
        return msg.to_string();
    };
    let names: Vec<&str> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| !n.is_empty())
        .collect();
    match did_you_mean(word, names) {
        Some(c) => format!("{msg}; did you mean `{c}`?"),
        None => msg.to_string(),
    }
}

/// The dotted key whose line holds byte `offset`: the nearest `[table]` header
/// above it, then the key before `=` on that line (or the array the value sits in).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let upto = &text[..offset.min(text.len())];
    let line_start = upto.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = text[line_start..line_end].trim();
    let table = upto[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.contains(['{', '"', ',']))
        .map(str::to_string)
        .or_else(|| {
            // A value on a continuation line of a multi-line array: name the array.
            upto[..line_start]
                .lines()
                .rev()
                .filter_map(|l| l.split_once('='))
                .map(|(k, _)| k.trim())
                .find(|k| !k.is_empty() && !k.contains(['{', '"', ',', '[']))
                .map(str::to_string)
        })?;
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_and_key_come_from_the_span() {
        let text = "[scenario]\ntitle = \"x\"\n\n[pool]\nworkers = 0\n";
        let at = text.find("0\n").unwrap();
        let e = ScenarioError::at("s.toml", text, Some(at..at + 1), "must be at least 1");
        assert_eq!(
            e.to_string(),
            "s.toml:5:11: pool.workers: must be at least 1"
        );
    }

    #[test]
    fn typos_get_the_name_they_were_meant_to_be() {
        let names = ["producer", "consumer", "f"];
        assert_eq!(did_you_mean("producre", names), Some("producer"));
        assert_eq!(did_you_mean("Consumer", names), Some("consumer"));
        assert_eq!(did_you_mean("g", names), None, "one letter is no typo");
        assert_eq!(did_you_mean("fo", ["f"]), None);
        assert_eq!(did_you_mean("lok", ["lock"]), Some("lock"));
        assert_eq!(did_you_mean("watcher", names), None);
        assert_eq!(suggestion("prodcer", names), "; did you mean \"producer\"?");
        assert_eq!(
            suggest_in_toml_message(
                "unknown field `workerz`, expected one of `workers`, `chunksize`, `retries`"
            ),
            "unknown field `workerz`, expected one of `workers`, `chunksize`, `retries`; did you mean `workers`?"
        );
        assert_eq!(
            suggest_in_toml_message("unknown variant `frok`, expected `fork` or `spawn`"),
            "unknown variant `frok`, expected `fork` or `spawn`; did you mean `fork`?"
        );
        assert_eq!(
            suggest_in_toml_message("unknown variant `shout`, expected one of `info`, `print`"),
            "unknown variant `shout`, expected one of `info`, `print`"
        );
    }
}
