//! Baseline gates (SPEC §13): the gates run once on the untouched worktree, before the first
//! agent edits. A failure there is pre-existing: an item's gate that fails the same way adds
//! nothing new, so it does not cost the item its attempts. Failures are compared by what the
//! parser identifies them with (file and rule, test id, message without numbers), counted, so
//! one more of the same rule in the same file is new.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Finding, GateResult, parser_for};
use crate::config::{BaselineMode, GateConfig, ParserKind};

/// `artifacts/baseline.gates.json`: each gate's result on the untouched worktree.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// The format's version.
    pub version: u32,
    /// The commit the gates ran on.
    pub commit: String,
    /// One result per gate that ran (`baseline: ignore` gates do not run).
    pub gates: Vec<GateResult>,
}

/// An item's gate result against the same gate on the base, when it failed there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgainstBase {
    /// Failures the base already had (left out of `findings`, kept in `preexisting`).
    pub preexisting: Vec<Finding>,
    /// Failures the base did not have (0: the gate fails only as it already did).
    pub new: usize,
}

/// Why the baseline stops the run before any agent call.
#[derive(Clone, Debug)]
pub enum BaselineStop {
    /// A gate could not start: no agent can fix that.
    CannotStart(Vec<GateResult>),
    /// A `require_clean` gate failed on the base.
    NotClean(Vec<GateResult>),
}

impl Baseline {
    /// What stops the run, if anything: gates that cannot start first, then `require_clean`
    /// gates that fail.
    pub fn stop(&self, gates: &[GateConfig]) -> Option<BaselineStop> {
        let cannot: Vec<GateResult> = self
            .gates
            .iter()
            .filter(|g| g.cannot_start)
            .cloned()
            .collect();
        if !cannot.is_empty() {
            return Some(BaselineStop::CannotStart(cannot));
        }
        let dirty: Vec<GateResult> = self
            .gates
            .iter()
            .filter(|g| !g.passed && mode_of(gates, &g.name) == Some(BaselineMode::RequireClean))
            .cloned()
            .collect();
        (!dirty.is_empty()).then_some(BaselineStop::NotClean(dirty))
    }

    /// The gates that failed on the base and are compared (what an agent is told was there
    /// before it).
    pub fn preexisting<'a>(
        &'a self,
        gates: &'a [GateConfig],
    ) -> impl Iterator<Item = &'a GateResult> {
        self.gates
            .iter()
            .filter(move |g| !g.passed && mode_of(gates, &g.name) == Some(BaselineMode::Compare))
    }

    /// For the prompt: the failures that were there before the run, one line each; empty
    /// when the base passed every compared gate.
    pub fn describe(&self, gates: &[GateConfig]) -> String {
        let mut out = String::new();
        for g in self.preexisting(gates) {
            out.push_str(&format!("- gate `{}`:", g.name));
            if g.findings.is_empty() {
                out.push_str(&format!(" failed (exit code {:?})\n", g.exit_code));
                continue;
            }
            out.push('\n');
            for f in &g.findings {
                out.push_str(&format!("  - {}\n", f.located()));
            }
        }
        out
    }

    /// Judges an item's `result` against the base: when the gate failed on the base (and is
    /// compared), the failures the base already had move to `against_base.preexisting`.
    pub fn judge(&self, gates: &[GateConfig], result: &mut GateResult) {
        if result.passed || result.cannot_start {
            return;
        }
        let Some(config) = gates.iter().find(|g| g.name == result.name) else {
            return;
        };
        if config.baseline != BaselineMode::Compare {
            return;
        }
        let Some(base) = self
            .gates
            .iter()
            .find(|g| g.name == result.name && !g.passed)
        else {
            return;
        };
        let parser = parser_for(config);
        let mut budget: BTreeMap<String, usize> = BTreeMap::new();
        for f in &base.findings {
            *budget.entry(key(parser, f)).or_default() += 1;
        }
        let (mut new, mut preexisting) = (Vec::new(), Vec::new());
        for f in std::mem::take(&mut result.findings) {
            match budget.get_mut(&key(parser, &f)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    preexisting.push(f);
                }
                _ => new.push(f),
            }
        }
        // More failed tests than the base had is new even when the parser could not name them.
        let more_failed = match (&result.counts, &base.counts) {
            (Some(now), Some(then)) => now.failed > then.failed,
            _ => false,
        };
        let timed_out_now = result.timed_out && !base.timed_out;
        let extra = usize::from(new.is_empty() && (more_failed || timed_out_now));
        result.against_base = Some(AgainstBase {
            preexisting,
            new: new.len() + extra,
        });
        result.findings = new;
    }
}

fn mode_of(gates: &[GateConfig], name: &str) -> Option<BaselineMode> {
    gates.iter().find(|g| g.name == name).map(|g| g.baseline)
}

/// What a failure is recognised by across runs of a gate: the file and what the parser
/// identifies it with. Line numbers are left out (an edit above a failure moves it).
pub fn key(parser: ParserKind, f: &Finding) -> String {
    let file = f.file.as_deref().unwrap_or("");
    let what = match parser {
        // "FAILED tests/test_x.py::test_a: assert 1 == 2": the test id.
        ParserKind::Pytest => f.message.split(':').next().unwrap_or("").to_string(),
        // "E501 Line too long (99 > 88)": the rule.
        ParserKind::Ruff => f
            .message
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string(),
        // "test tests::adds panicked: …": the test; a compiler error by its text.
        ParserKind::Cargo if f.message.starts_with("test ") => f
            .message
            .split(" panicked")
            .next()
            .unwrap_or("")
            .to_string(),
        _ => without_numbers(&f.message),
    };
    format!("{file}\u{1f}{what}")
}

/// `text` with every run of digits as `#` and runs of spaces as one: timings, counts and
/// line numbers in a message do not make it another failure.
fn without_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev = ' ';
    for c in text.trim().chars() {
        let c = if c.is_ascii_digit() { '#' } else { c };
        if (c == '#' && prev == '#') || (c.is_whitespace() && prev.is_whitespace()) {
            continue;
        }
        out.push(c);
        prev = c;
    }
    out
}

impl Finding {
    /// `file:line: message`, as far as it is known.
    pub fn located(&self) -> String {
        match (&self.file, self.line) {
            // A message that starts with its own location (a compiler's line) is shown as is.
            (Some(file), Some(line)) if self.message.starts_with(&format!("{file}:{line}")) => {
                self.message.clone()
            }
            (Some(file), Some(line)) => format!("{file}:{line}: {}", self.message),
            (Some(file), None) => format!("{file}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
