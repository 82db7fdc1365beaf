//! ruff check: its JSON output (orx adds `--output-format=json`) or the text formats.

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{Parsed, finding};

#[derive(Deserialize)]
struct Diag {
    code: Option<String>,
    message: String,
    filename: String,
    location: Option<Loc>,
}

#[derive(Deserialize)]
struct Loc {
    row: u32,
}

static TEXT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$").ok()
});

/// ruff's default ("full") text: `CODE [*] message`, then ` --> file:line:col` under it.
static FULL_HEAD: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^(?P<code>[A-Z]+[0-9]+) (?:\[\*\] )?(?P<msg>.+)$").ok());
static FULL_AT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^\s*-->\s*(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+)\s*$").ok()
});

pub(super) fn parse(text: &str) -> Parsed {
    if let Some(start) = text
        .find("\n[")
        .map(|i| i + 1)
        .or_else(|| text.starts_with('[').then_some(0))
    {
        let mut stream =
            serde_json::Deserializer::from_str(&text[start..]).into_iter::<Vec<Diag>>();
        if let Some(Ok(diags)) = stream.next() {
            let findings = diags
                .into_iter()
                .map(|d| {
                    let msg = match d.code {
                        Some(c) => format!("{c} {}", d.message),
                        None => d.message,
                    };
                    let line = d.location.map(|l| l.row.to_string());
                    finding(Some(&d.filename), line.as_deref(), msg)
                })
                .collect();
            return Parsed {
                findings,
                counts: None,
            };
        }
    }
    let (Some(re), Some(head), Some(at)) = (TEXT.as_ref(), FULL_HEAD.as_ref(), FULL_AT.as_ref())
    else {
        return Parsed::default();
    };
    let mut findings = Vec::new();
    let mut pending: Option<String> = None;
    for l in text.lines().map(str::trim_end) {
        if let Some(c) = re.captures(l) {
            findings.push(finding(
                Some(&c["file"]),
                Some(&c["line"]),
                c["msg"].to_string(),
            ));
        } else if let Some(c) = head.captures(l) {
            pending = Some(format!("{} {}", &c["code"], &c["msg"]));
        } else if let (Some(c), Some(msg)) = (at.captures(l), pending.as_ref()) {
            findings.push(finding(Some(&c["file"]), Some(&c["line"]), msg.clone()));
            pending = None;
        }
    }
    Parsed {
        findings,
        counts: None,
    }
}
