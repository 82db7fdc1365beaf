//! Log parsers: turn a gate's output into findings (file, line, message) and test counts.

mod cargo;
mod eslint;
mod generic;
mod pytest;
mod ruff;

use std::path::Path;

use super::{Finding, Parsed};
use crate::config::ParserKind;

/// At most this many findings are kept per gate.
pub const MAX_FINDINGS: usize = 50;

/// Parses `text` (the gate's output) with `kind`; paths are made relative to `root`.
pub fn parse(kind: ParserKind, text: &str, root: &Path) -> Parsed {
    let mut parsed = match kind {
        ParserKind::Ruff => ruff::parse(text),
        ParserKind::Pytest => pytest::parse(text),
        ParserKind::Cargo => cargo::parse(text),
        ParserKind::Eslint => eslint::parse(text),
        ParserKind::Tsc | ParserKind::Generic => generic::parse(text),
    };
    // A specific parser that found nothing still leaves the user error-looking lines.
    if parsed.findings.is_empty() && kind != ParserKind::Generic {
        parsed.findings = generic::parse(text).findings;
    }
    parsed.findings.truncate(MAX_FINDINGS);
    for f in &mut parsed.findings {
        if let Some(file) = &f.file {
            f.file = Some(relative(file, root));
        }
    }
    parsed
}

fn relative(file: &str, root: &Path) -> String {
    let p = Path::new(file);
    // A relative path is the tool's, relative to where it ran: nothing to resolve.
    if p.is_relative() {
        return file.trim_start_matches("./").to_string();
    }
    if let Ok(rel) = p.strip_prefix(root) {
        return rel.display().to_string();
    }
    // The worktree may be reached through a symlinked path (e.g. /tmp on macOS).
    if let (Ok(cp), Ok(cr)) = (p.canonicalize(), root.canonicalize())
        && let Ok(rel) = cp.strip_prefix(&cr)
    {
        return rel.display().to_string();
    }
    file.trim_start_matches("./").to_string()
}

fn finding(file: Option<&str>, line: Option<&str>, message: impl Into<String>) -> Finding {
    Finding {
        file: file.map(str::to_string),
        line: line.and_then(|l| l.parse().ok()),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests;
