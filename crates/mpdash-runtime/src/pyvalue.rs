//! Python values as messages: the literals a tutorial sends through a queue or
//! a pipe (`[42, None, 'hello']`, `{1: '1', 0.25: None}`), parsed from their
//! Python spelling, carried as serde data (never anything executable), and
//! printed back exactly as CPython's `repr` prints them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Python value of the kinds a literal can spell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    /// Insertion-ordered, as Python's dict.
    Dict(Vec<(PyValue, PyValue)>),
}

impl PyValue {
    /// Python's name of its type: `int`, `list`, `NoneType`…
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::None => "NoneType",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Str(_) => "str",
            PyValue::List(_) => "list",
            PyValue::Tuple(_) => "tuple",
            PyValue::Dict(_) => "dict",
        }
    }

    /// The first part that makes it unhashable (a list or dict, also inside
    /// a tuple), as CPython's `TypeError: unhashable type` names it.
    pub fn unhashable_part(&self) -> Option<&PyValue> {
        match self {
            PyValue::List(_) | PyValue::Dict(_) => Some(self),
            PyValue::Tuple(t) => t.iter().find_map(PyValue::unhashable_part),
            _ => None,
        }
    }
}

/// Python's `repr` of a float: shortest round-trip digits, `.0` when integral.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if x != 0.0 && !(-4..16).contains(&exp) {
        return format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    let plain = format!("{x}");
    if plain.contains('.') {
        plain
    } else {
        format!("{plain}.0")
    }
}

fn str_repr(s: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    write!(f, "{q}")?;
    for c in s.chars() {
        match c {
            '\\' => write!(f, "\\\\")?,
            '\n' => write!(f, "\\n")?,
            '\r' => write!(f, "\\r")?,
            '\t' => write!(f, "\\t")?,
            c if c == q => write!(f, "\\{c}")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    write!(f, "{q}")
}

impl fmt::Display for PyValue {
    /// CPython's `repr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = |f: &mut fmt::Formatter<'_>, items: &[PyValue]| -> fmt::Result {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{v}")?;
            }
            Ok(())
        };
        match self {
            PyValue::None => write!(f, "None"),
            PyValue::Bool(true) => write!(f, "True"),
            PyValue::Bool(false) => write!(f, "False"),
            PyValue::Int(i) => write!(f, "{i}"),
            PyValue::Float(x) => write!(f, "{}", float_repr(*x)),
            PyValue::Str(s) => str_repr(s, f),
            PyValue::List(v) => {
                write!(f, "[")?;
                seq(f, v)?;
                write!(f, "]")
            }
            PyValue::Tuple(v) => {
                write!(f, "(")?;
                seq(f, v)?;
                if v.len() == 1 {
                    write!(f, ",")?;
                }
                write!(f, ")")
            }
            PyValue::Dict(kv) => {
                write!(f, "{{")?;
                for (i, (k, v)) in kv.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// Where and why a literal did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {col}: {msg}")]
pub struct LiteralError {
    pub col: usize,
    pub msg: String,
}

/// Deepest nesting accepted (a hostile literal cannot blow the stack).
const MAX_DEPTH: usize = 64;

impl PyValue {
    /// Parses a Python literal: None, True, False, ints, floats, quoted
    /// strings, lists, tuples and dicts.
    pub fn parse(text: &str) -> Result<PyValue, LiteralError> {
        let mut p = Parser {
            s: text.as_bytes(),
            text,
            i: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err("unexpected text after the value"));
        }
        Ok(v)
    }

    /// A dict key must be hashable in Python: no lists or dicts.
    fn hashable(&self) -> bool {
        match self {
            PyValue::List(_) | PyValue::Dict(_) => false,
            PyValue::Tuple(v) => v.iter().all(PyValue::hashable),
            _ => true,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> LiteralError {
        LiteralError {
            col: self.text[..self.i.min(self.text.len())].chars().count() + 1,
            msg: msg.into(),
        }
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyValue, LiteralError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return Err(self.err("expected a value"));
        };
        match c {
            b'[' => {
                self.i += 1;
                Ok(PyValue::List(self.items(b']', depth)?.0))
            }
            b'(' => {
                self.i += 1;
                let (v, trailing_comma) = self.items(b')', depth)?;
                if v.len() == 1 && !trailing_comma {
                    return Ok(v.into_iter().next().unwrap_or(PyValue::None));
                }
                Ok(PyValue::Tuple(v))
            }
            b'{' => {
                self.i += 1;
                self.dict(depth)
            }
            b'\'' | b'"' => self.string(c),
            _ => self.atom(),
        }
    }

    fn items(&mut self, close: u8, depth: usize) -> Result<(Vec<PyValue>, bool), LiteralError> {
        let mut v = Vec::new();
        let mut trailing = false;
        loop {
            if self.eat(close) {
                return Ok((v, trailing));
            }
            v.push(self.value(depth + 1)?);
            trailing = self.eat(b',');
            if !trailing {
                if self.eat(close) {
                    return Ok((v, false));
                }
                return Err(self.err(&format!("expected ',' or '{}'", close as char)));
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<PyValue, LiteralError> {
        let mut kv: Vec<(PyValue, PyValue)> = Vec::new();
        loop {
            if self.eat(b'}') {
                return Ok(PyValue::Dict(kv));
            }
            let k = self.value(depth + 1)?;
            if !k.hashable() {
                return Err(self.err("a dict key must be hashable (not a list or dict)"));
            }
            if !self.eat(b':') {
                return Err(self.err("expected ':'"));
            }
            let v = self.value(depth + 1)?;
            match kv.iter_mut().find(|(old, _)| py_eq(old, &k)) {
                Some(slot) => slot.1 = v,
                None => kv.push((k, v)),
            }
            if !self.eat(b',') {
                if self.eat(b'}') {
                    return Ok(PyValue::Dict(kv));
                }
                return Err(self.err("expected ',' or '}'"));
            }
        }
    }

    fn string(&mut self, q: u8) -> Result<PyValue, LiteralError> {
        /// The character an escape `\e…` stands for, as in a Python string
        /// literal (`\x00`, `\u00e9`, `\101`, `\n`…); `None` for an
        /// escape Python keeps as written.
        fn escape(
            e: char,
            chars: &mut std::str::CharIndices<'_>,
        ) -> Result<Option<char>, &'static str> {
            let mut hex = |n: usize| -> Result<char, &'static str> {
                let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                if digits.len() != n || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err("truncated \\x, \\u or \\U escape");
                }
                let v = u32::from_str_radix(&digits, 16).map_err(|_| "bad escape")?;
                char::from_u32(v).ok_or("escape beyond Unicode")
            };
            Ok(Some(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'a' => '\x07',
                'b' => '\x08',
                'f' => '\x0c',
                'v' => '\x0b',
                '\\' | '\'' | '"' => e,
                'x' => hex(2)?,
                'u' => hex(4)?,
                'U' => hex(8)?,
                '0'..='7' => {
                    // Up to three octal digits, the first already read.
                    let mut v = e.to_digit(8).unwrap_or(0);
                    let mut look = chars.clone();
                    for _ in 0..2 {
                        match look.next() {
                            Some((_, d @ '0'..='7')) => {
                                v = v * 8 + d.to_digit(8).unwrap_or(0);
                                chars.next();
                            }
                            _ => break,
                        }
                    }
                    char::from_u32(v).ok_or("bad octal escape")?
                }
                _ => return Ok(None),
            }))
        }
        self.i += 1;
        let mut out = String::new();
        let rest = &self.text[self.i..];
        let mut chars = rest.char_indices();
        while let Some((n, c)) = chars.next() {
            match c {
                c if c as u32 == q as u32 => {
                    self.i += n + 1;
                    return Ok(PyValue::Str(out));
                }
                '\\' => match chars.next() {
                    Some((_, e)) => match escape(e, &mut chars) {
                        Ok(Some(c)) => out.push(c),
                        // Python keeps an unknown escape as it is: '\q'.
                        Ok(None) => {
                            out.push('\\');
                            out.push(e);
                        }
                        Err(m) => return Err(self.err(m)),
                    },
                    None => break,
                },
                c => out.push(c),
            }
        }
        self.i = self.s.len();
        Err(self.err("unterminated string"))
    }

    fn atom(&mut self) -> Result<PyValue, LiteralError> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"+-._".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        let word = &self.text[start..self.i];
        let v = match word {
            "None" => PyValue::None,
            "True" => PyValue::Bool(true),
            "False" => PyValue::Bool(false),
            "" => {
                return Err(self.err("expected a value"));
            }
            w => {
                let w = w.replace('_', "");
                if let Ok(i) = w.parse::<i64>() {
                    PyValue::Int(i)
                } else if let Ok(x) = w.parse::<f64>() {
                    PyValue::Float(x)
                } else {
                    self.i = start;
                    return Err(self.err(&format!("not a Python literal: {word:?}")));
                }
            }
        };
        Ok(v)
    }
}

/// Python's `==` for keys: 1 == 1.0 == True.
fn py_eq(a: &PyValue, b: &PyValue) -> bool {
    let num = |v: &PyValue| match v {
        PyValue::Int(i) => Some(*i as f64),
        PyValue::Float(x) => Some(*x),
        PyValue::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // CPython's tutorial value, not π
mod tests {
    use super::*;

    fn round(s: &str) -> String {
        PyValue::parse(s).unwrap().to_string()
    }

    #[test]
    fn the_tutorials_values_print_as_cpython_prints_them() {
        assert_eq!(round("[42, None, 'hello']"), "[42, None, 'hello']");
        assert_eq!(
            round("{1: '1', '2': 2, 0.25: None}"),
            "{1: '1', '2': 2, 0.25: None}"
        );
        assert_eq!(
            round("[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]"),
            "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]"
        );
        assert_eq!(round("(1,)"), "(1,)");
        assert_eq!(round("(1)"), "1");
        assert_eq!(round("\"it's\""), "\"it's\"");
        assert_eq!(round("[True, False, -3, 1_000]"), "[True, False, -3, 1000]");
    }

    #[test]
    fn floats_use_python_spelling() {
        assert_eq!(float_repr(3.1415927), "3.1415927");
        assert_eq!(float_repr(2.0), "2.0");
        assert_eq!(float_repr(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1.5e-5), "1.5e-05");
    }

    #[test]
    fn bad_literals_say_where() {
        assert_eq!(
            PyValue::parse("[1, 2").unwrap_err().msg,
            "expected ',' or ']'"
        );
        assert_eq!(
            PyValue::parse("'abc").unwrap_err().msg,
            "unterminated string"
        );
        assert_eq!(PyValue::parse("{[1]: 2}").unwrap_err().col, 5);
        assert!(PyValue::parse("os.system('x')").is_err());
        assert!(PyValue::parse(&"[".repeat(10_000)).is_err());
    }

    #[test]
    fn values_survive_serde() {
        let v = PyValue::parse("{1: [None, 2.5, 'x'], (1, 2): True}").unwrap();
        let back: PyValue = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn string_escapes_are_pythons() {
        let cases = [
            (r"'\x00'", "\0", r"'\x00'"),
            (r"'\u00e9t\xe9'", "été", "'été'"),
            (r"'\101\n'", "A\n", r"'A\n'"),
            (r"'a\qb'", "a\\qb", r"'a\\qb'"),
            (r#""it's""#, "it's", r#""it's""#),
        ];
        for (lit, value, repr) in cases {
            let v = PyValue::parse(lit).unwrap();
            assert_eq!(v, PyValue::Str(value.into()), "{lit}");
            assert_eq!(v.to_string(), repr, "{lit}");
        }
        assert!(
            PyValue::parse(r"'\x0'").is_err(),
            "a truncated escape is an error"
        );
    }
}
