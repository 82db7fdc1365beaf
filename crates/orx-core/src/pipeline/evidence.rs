//! Failure evidence: what the next fix attempt is told about the last failure.

use crate::gate::GateResult;

/// Bytes of diff kept in the evidence.
const DIFF_BUDGET: usize = 20 * 1024;

/// Evidence from failed gates (required and optional), with the item's diff.
pub fn from_gates(results: &[GateResult], diff: &str) -> String {
    let mut out = String::new();
    for g in results.iter().filter(|g| !g.counts_as_passed()) {
        out.push_str(&format!(
            "## Gate `{}` failed ({}{}{})\n",
            g.name,
            if g.required {
                "required"
            } else {
                "optional, reported only"
            },
            match g.exit_code {
                Some(c) => format!(", exit code {c}"),
                None => String::new(),
            },
            if g.timed_out { ", timed out" } else { "" },
        ));
        if !g.findings.is_empty() {
            out.push_str("Errors:\n");
            for f in &g.findings {
                out.push_str(&format!("- {}\n", f.located()));
            }
        }
        if let Some(b) = g
            .against_base
            .as_ref()
            .filter(|b| !b.preexisting.is_empty())
        {
            out.push_str(&format!(
                "({} failure{} already there before the run {} left out: not yours to fix.)\n",
                b.preexisting.len(),
                if b.preexisting.len() == 1 { "" } else { "s" },
                if b.preexisting.len() == 1 {
                    "is"
                } else {
                    "are"
                },
            ));
        }
        if !g.tail.trim().is_empty() {
            out.push_str(&format!("Log tail:\n```\n{}\n```\n", g.tail.trim_end()));
        }
        out.push('\n');
    }
    with_diff(out, diff)
}

/// Appends the item's diff (truncated) to `text`.
pub fn with_diff(mut text: String, diff: &str) -> String {
    if !diff.trim().is_empty() {
        text.push_str(&format!(
            "## The item's current diff\n```diff\n{}\n```\n",
            crate::fsutil::truncate(diff.trim_end(), DIFF_BUDGET)
        ));
    }
    text
}

/// A one-paragraph summary of gate results, for the review and the PR body.
pub fn summary(results: &[(String, Vec<GateResult>)]) -> String {
    if results.is_empty() {
        return "No gates ran.".to_string();
    }
    let mut out = String::new();
    for (item, gates) in results {
        if gates.is_empty() {
            out.push_str(&format!("- {item}: no gates configured\n"));
            continue;
        }
        let parts: Vec<String> = gates
            .iter()
            .map(|g| {
                let counts = g
                    .counts
                    .as_ref()
                    .map(|c| format!(" ({} passed, {} failed)", c.passed, c.failed))
                    .unwrap_or_default();
                format!(
                    "{} {}{counts}",
                    g.name,
                    if g.passed {
                        "passed"
                    } else if g.required {
                        "FAILED"
                    } else {
                        "failed (optional)"
                    }
                )
            })
            .collect();
        out.push_str(&format!("- {item}: {}\n", parts.join(", ")));
    }
    out
}
