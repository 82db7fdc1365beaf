//! Any command: lines that look like errors, with a file and line when one is on the line.

use std::sync::LazyLock;

use regex::Regex;

use super::{Parsed, finding};

static ERRORISH: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(error|\bfail|fatal|panic|exception|traceback|assert)").ok());
static PY_FILE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"File "(?P<file>[^"]+)", line (?P<line>\d+)"#).ok());
static FILE_LINE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?P<file>[A-Za-z0-9_./\-]+\.[A-Za-z0-9]+)[:(](?P<line>\d+)").ok()
});

pub(super) fn parse(text: &str) -> Parsed {
    let (Some(errorish), Some(py), Some(fl)) =
        (ERRORISH.as_ref(), PY_FILE.as_ref(), FILE_LINE.as_ref())
    else {
        return Parsed::default();
    };
    let mut findings = Vec::new();
    let mut last_loc: Option<(String, String)> = None;
    let mut source_line_next = false;
    for l in text.lines() {
        let t = l.trim();
        if let Some(c) = py.captures(t) {
            last_loc = Some((c["file"].to_string(), c["line"].to_string()));
            // The next line of a Python traceback is the source code, not a message.
            source_line_next = true;
            continue;
        }
        if std::mem::take(&mut source_line_next) {
            continue;
        }
        if t.is_empty()
            || !errorish.is_match(t)
            || t.starts_with("# orx:")
            || t.starts_with("Traceback (most recent call last)")
        {
            continue;
        }
        let (file, line) = match fl.captures(t) {
            Some(c) => (Some(c["file"].to_string()), Some(c["line"].to_string())),
            // A Python exception line takes the location of the traceback above it.
            None if !t.starts_with("Traceback") => match last_loc.take() {
                Some((f, l)) => (Some(f), Some(l)),
                None => (None, None),
            },
            None => (None, None),
        };
        findings.push(finding(file.as_deref(), line.as_deref(), t.to_string()));
        if findings.len() >= super::MAX_FINDINGS {
            break;
        }
    }
    Parsed {
        findings,
        counts: None,
    }
}
