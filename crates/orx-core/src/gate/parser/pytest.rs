//! pytest: the short test summary (FAILED/ERROR lines), traceback locations, and the counts.

use std::sync::LazyLock;

use regex::Regex;

use super::{Parsed, finding};
use crate::gate::TestCounts;

static SUMMARY: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?P<kind>FAILED|ERROR) (?P<node>\S+)(?: - (?P<msg>.*))?$").ok());
static LOCATION: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?P<file>[^\s:]+\.py):(?P<line>\d+): (?P<msg>.*)$").ok());
static COUNT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?P<n>\d+) (?P<what>passed|failed|errors?)\b").ok());

pub(super) fn parse(text: &str) -> Parsed {
    let (Some(summary), Some(location), Some(count)) =
        (SUMMARY.as_ref(), LOCATION.as_ref(), COUNT.as_ref())
    else {
        return Parsed::default();
    };
    let locations: Vec<(String, String, String)> = text
        .lines()
        .filter_map(|l| location.captures(l))
        .map(|c| {
            (
                c["file"].to_string(),
                c["line"].to_string(),
                c["msg"].to_string(),
            )
        })
        .collect();
    let mut findings = Vec::new();
    for l in text.lines() {
        if let Some(c) = summary.captures(l.trim_end()) {
            let node = &c["node"];
            let file = node.split("::").next().unwrap_or(node);
            let msg = c.name("msg").map(|m| m.as_str()).unwrap_or("");
            // The last traceback line in the test's own file is where it failed.
            let line = locations
                .iter()
                .rev()
                .find(|(f, _, _)| f == file)
                .map(|(_, l, _)| l.as_str());
            let message = if msg.is_empty() {
                format!("{} {node}", &c["kind"])
            } else {
                format!("{} {node}: {msg}", &c["kind"])
            };
            findings.push(finding(Some(file), line, message));
        }
    }
    if findings.is_empty() {
        findings = locations
            .iter()
            .map(|(f, l, m)| finding(Some(f), Some(l), m.clone()))
            .collect();
    }
    // The final summary line ("1 failed, 2 passed in 0.12s") carries the counts.
    let counts = text
        .lines()
        .rev()
        .find(|l| count.is_match(l) && (l.contains(" in ") || l.starts_with('=')))
        .map(|l| {
            let mut c = TestCounts::default();
            for m in count.captures_iter(l) {
                let n: u32 = m["n"].parse().unwrap_or(0);
                match &m["what"] {
                    "passed" => c.passed += n,
                    _ => c.failed += n,
                }
            }
            c
        });
    Parsed { findings, counts }
}
