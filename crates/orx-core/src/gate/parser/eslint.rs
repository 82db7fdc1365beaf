//! ESLint's default ("stylish") output: a file's path on a line of its own, then one indented
//! line per problem (`line:column  error  message  rule`). Warnings are left out.

use std::sync::LazyLock;

use regex::Regex;

use super::{Parsed, finding};

static PROBLEM: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>error|warning)\s+(?P<msg>.+?)(?:\s{2,}(?P<rule>[\w@/-]+))?\s*$").ok()
});

pub(super) fn parse(text: &str) -> Parsed {
    let Some(problem) = PROBLEM.as_ref() else {
        return Parsed::default();
    };
    let mut findings = Vec::new();
    let mut file: Option<String> = None;
    for l in text.lines() {
        if let Some(c) = problem.captures(l) {
            if &c["sev"] != "error" {
                continue;
            }
            let rule = c
                .name("rule")
                .map_or(String::new(), |r| format!(" ({})", r.as_str()));
            let message = format!("column {}: {}{rule}", &c["col"], &c["msg"]);
            findings.push(finding(file.as_deref(), Some(&c["line"]), message));
            if findings.len() >= super::MAX_FINDINGS {
                break;
            }
        } else if !l.starts_with(char::is_whitespace) && !l.trim().is_empty() {
            // A file's heading; anything else (the summary) names no file.
            let t = l.trim();
            file = (!t.contains(char::is_whitespace) && t.contains('.')).then(|| t.to_string());
        }
    }
    Parsed {
        findings,
        counts: None,
    }
}
