//! cargo build, test and clippy: rustc diagnostics with their ` --> file:line:col`, test
//! panics with their location, and the `test result:` counts.

use std::sync::LazyLock;

use regex::Regex;

use super::{Parsed, finding};
use crate::gate::TestCounts;

static HEADER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?P<level>error|warning)(?P<code>\[[^\]]+\])?: (?P<msg>.+)$").ok()
});
static ARROW: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^\s*--> (?P<file>[^:]+):(?P<line>\d+):\d+").ok());
static PANIC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^thread '(?P<test>[^']+)'(?: \(\d+\))? panicked at (?P<file>[^:]+):(?P<line>\d+):\d+:?(?P<rest>.*)$").ok()
});
static RESULT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^test result: \w+\. (?P<passed>\d+) passed; (?P<failed>\d+) failed").ok()
});

pub(super) fn parse(text: &str) -> Parsed {
    let (Some(header), Some(arrow), Some(panic), Some(result)) = (
        HEADER.as_ref(),
        ARROW.as_ref(),
        PANIC.as_ref(),
        RESULT.as_ref(),
    ) else {
        return Parsed::default();
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(c) = header.captures(l) {
            let msg = &c["msg"];
            // Summary lines carry no location and repeat what was already said.
            if msg.starts_with("could not compile")
                || msg.starts_with("aborting due to")
                || msg.contains("generated ") && msg.contains(" warning")
                || msg.starts_with("test failed")
                || msg.starts_with("build failed")
            {
                continue;
            }
            let loc = lines[i + 1..]
                .iter()
                .take(3)
                .find_map(|n| arrow.captures(n));
            let message = format!(
                "{}{}: {msg}",
                &c["level"],
                c.name("code").map(|m| m.as_str()).unwrap_or("")
            );
            let f = finding(
                loc.as_ref()
                    .map(|m| m.name("file").map_or("", |x| x.as_str())),
                loc.as_ref()
                    .and_then(|m| m.name("line").map(|x| x.as_str())),
                message,
            );
            if &c["level"] == "error" {
                errors.push(f)
            } else {
                warnings.push(f)
            }
        } else if let Some(c) = panic.captures(l) {
            // The panic message follows on the next line (Rust ≥ 1.73) or after the colon.
            let rest = c["rest"].trim();
            let msg = if rest.is_empty() {
                lines.get(i + 1).map(|s| s.trim()).unwrap_or("")
            } else {
                rest
            };
            errors.push(finding(
                Some(&c["file"]),
                Some(&c["line"]),
                format!("test {} panicked: {msg}", &c["test"]),
            ));
        }
    }
    errors.extend(warnings);
    let mut counts: Option<TestCounts> = None;
    for l in &lines {
        if let Some(c) = result.captures(l) {
            let t = counts.get_or_insert_with(TestCounts::default);
            t.passed += c["passed"].parse::<u32>().unwrap_or(0);
            t.failed += c["failed"].parse::<u32>().unwrap_or(0);
        }
    }
    Parsed {
        findings: errors,
        counts,
    }
}
