//! A failed CI job's log turned into evidence for the fix agent: the failing step found, its
//! output read by the gate parsers (pytest, cargo, ruff, eslint, tsc, generic), and what matters
//! kept: the failures with their locations first, then the step's last lines, within a size cap.

use std::sync::LazyLock;

use regex::Regex;

use super::Finding;
use crate::config::ParserKind;

/// Bytes of evidence kept per failed job, unless the config says otherwise.
pub const DEFAULT_CAP: usize = 20 * 1024;

/// Lines of the failing step's end kept after the findings.
const TAIL_LINES: usize = 60;

/// A failed job's log, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CiEvidence {
    /// The evidence, Markdown, at most the cap.
    pub text: String,
    /// The failures found, with their locations.
    pub findings: Vec<Finding>,
    /// The parser that read the step.
    pub parser: ParserKind,
    /// The command of the step that failed, when the log names it.
    pub step: Option<String>,
}

/// A timestamp at the start of a line of a jobs-logs reply, or the `job<TAB>step<TAB>` (and the
/// timestamp) of `gh run view --log-failed`.
static PREFIX: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?:[^\t]*\t[^\t]*\t)?\x{feff}?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?").ok()
});

/// A path on a hosted runner, up to the repository's folder.
static RUNNER_ROOT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?:/home/runner/work|/Users/runner/work|D:\\a)/[^/\\\s]+/[^/\\\s]+[/\\]").ok()
});

/// One step of a job: its title (`Run pytest -q`) and its lines.
#[derive(Debug, Default)]
struct Step {
    title: Option<String>,
    lines: Vec<String>,
    failed: bool,
}

/// The log's lines without their timestamps, split into steps at each `##[group]Run …`.
fn steps(raw: &str) -> Vec<Step> {
    let mut steps = vec![Step::default()];
    let mut in_header = false;
    for l in raw.lines() {
        let l = PREFIX
            .as_ref()
            .map_or(l, |re| re.find(l).map_or(l, |m| &l[m.end()..]));
        let l = RUNNER_ROOT
            .as_ref()
            .map_or_else(|| l.to_string(), |re| re.replace_all(l, "").into_owned());
        if let Some(title) = l.strip_prefix("##[group]") {
            // A step's header lists its inputs inside the group; its output follows it.
            in_header = title.starts_with("Run ");
            if in_header {
                steps.push(Step {
                    title: Some(title["Run ".len()..].trim().to_string()),
                    ..Default::default()
                });
            }
            continue;
        }
        if l.starts_with("##[endgroup]") {
            in_header = false;
            continue;
        }
        if l.starts_with("##[error]") {
            if let Some(current) = steps.last_mut() {
                current.failed = true;
            }
            // What follows a step's error is the runner's clean-up, not the step's output.
            steps.push(Step::default());
            continue;
        }
        if !in_header && let Some(current) = steps.last_mut() {
            current.lines.push(l);
        }
    }
    steps
}

/// The parser for a step's command and output.
fn parser_of(step: &Step) -> ParserKind {
    let text = step.lines.join("\n");
    let cmd = step.title.as_deref().unwrap_or("");
    let has = |w: &str| cmd.contains(w) || text.contains(w);
    if text.contains("short test summary info") || cmd.contains("pytest") {
        ParserKind::Pytest
    } else if text.contains("test result: FAILED")
        || text.contains("error[E")
        || cmd.contains("cargo ")
    {
        ParserKind::Cargo
    } else if cmd.contains("ruff") {
        ParserKind::Ruff
    } else if has("eslint") {
        ParserKind::Eslint
    } else if cmd.contains("tsc") || text.contains("error TS") {
        ParserKind::Tsc
    } else {
        ParserKind::Generic
    }
}

/// A line that says something passed, or a frame of Rust's own library in a backtrace: noise
/// beside a failure.
fn passed_line(l: &str) -> bool {
    let t = l.trim_end();
    let frame = t.trim_start();
    t.contains(" PASSED")
        || (t.starts_with("test ") && t.ends_with(" ... ok"))
        || frame.starts_with("at /rustc/")
        || frame.split_once(": ").is_some_and(|(n, f)| {
            n.chars().all(|c| c.is_ascii_digit())
                && ["core::", "std::", "__rustc::", "<fn()", "alloc::"]
                    .iter()
                    .any(|p| f.starts_with(p))
        })
}

/// What of the failing step's output to show: the tool's failure section when it has one (from
/// pytest's `FAILURES`, cargo's first `failures:` or compiler error), else its last lines;
/// lines that say a test passed are left out.
fn excerpt(parser: ParserKind, output: &[&str]) -> (&'static str, String) {
    let start = match parser {
        ParserKind::Pytest => output
            .iter()
            .position(|l| l.contains("= FAILURES =") || l.contains("= ERRORS =")),
        ParserKind::Cargo => output.iter().position(|l| {
            l.trim_end() == "failures:" || l.starts_with("error[") || l.starts_with("error:")
        }),
        _ => None,
    };
    let kept: Vec<&str> = output.iter().copied().filter(|l| !passed_line(l)).collect();
    match start {
        Some(i) => {
            let from: Vec<&str> = output[i..]
                .iter()
                .copied()
                .filter(|l| !passed_line(l))
                .collect();
            ("The failure as the tool reported it", from.join("\n"))
        }
        None => {
            let at = kept.len().saturating_sub(TAIL_LINES);
            ("The step's last lines", kept[at..].join("\n"))
        }
    }
}

/// `text` within `room` bytes: its start and its last lines (a summary) when it is longer.
fn fit(text: &str, room: usize) -> String {
    if text.len() <= room {
        return text.to_string();
    }
    let end: Vec<&str> = text.lines().rev().take(3).collect();
    let end: String = end.into_iter().rev().collect::<Vec<_>>().join("\n");
    let gap = "\n[… left out …]\n";
    let keep = room.saturating_sub(end.len() + gap.len());
    let mut cut = if keep == 0 {
        room
    } else {
        keep.min(text.len())
    };
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    if keep == 0 {
        return text[..cut].to_string();
    }
    format!("{}{gap}{end}", &text[..cut])
}

/// Evidence of the failed check `check` from its job's log `raw`, at most `cap` bytes.
pub fn evidence(check: &str, raw: &str, cap: usize) -> CiEvidence {
    let steps = steps(raw);
    // The step that failed: the one with the `##[error]` line, else the last one with output.
    let step = steps
        .iter()
        .rev()
        .find(|s| s.failed && s.title.is_some())
        .or_else(|| steps.iter().rev().find(|s| s.failed))
        .or_else(|| steps.iter().rev().find(|s| !s.lines.is_empty()));
    let empty = Step::default();
    let step = step.unwrap_or(&empty);
    let parser = parser_of(step);
    let output: Vec<&str> = step
        .lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("##["))
        .collect();
    let text = output.join("\n");
    let findings = super::parser::parse(parser, &text, std::path::Path::new("/")).findings;
    let mut out = format!("## CI check `{check}` failed");
    if let Some(cmd) = &step.title {
        out.push_str(&format!(" in step `{cmd}`"));
    }
    out.push('\n');
    if !findings.is_empty() {
        out.push_str("Failures:\n");
        for f in &findings {
            let line = format!("- {}\n", f.located());
            if out.len() + line.len() > cap / 2 {
                out.push_str("- (more left out)\n");
                break;
            }
            out.push_str(&line);
        }
    }
    let (what, excerpt) = excerpt(parser, &output);
    let head = format!("{what} (parser: {}):\n```\n", super::parser_name(parser));
    let room = cap.saturating_sub(out.len() + head.len() + "\n```\n".len());
    let excerpt = fit(&excerpt, room);
    if room > 0 && !excerpt.trim().is_empty() {
        out.push_str(&head);
        out.push_str(excerpt.trim_end());
        out.push_str("\n```\n");
    }
    CiEvidence {
        text: out,
        findings,
        parser,
        step: step.title.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamped_log_is_split_into_steps_and_the_failing_one_is_read() {
        let raw = "2026-11-30T09:14:02.0370000Z Current runner version: '2.321.0'\n\
            2026-11-30T09:14:02.1000000Z ##[group]Run pytest -q\n\
            2026-11-30T09:14:02.1000000Z shell: /usr/bin/bash -e {0}\n\
            2026-11-30T09:14:02.1000000Z ##[endgroup]\n\
            2026-11-30T09:14:03.0000000Z FAILED /home/runner/work/calc/calc/tests/test_a.py::test_x - assert 1 == 2\n\
            2026-11-30T09:14:03.1000000Z ##[error]Process completed with exit code 1.\n";
        let e = evidence("test", raw, DEFAULT_CAP);
        assert_eq!(e.step.as_deref(), Some("pytest -q"));
        assert_eq!(e.parser, ParserKind::Pytest);
        assert!(
            e.text
                .starts_with("## CI check `test` failed in step `pytest -q`\n"),
            "{}",
            e.text
        );
        assert!(
            e.text.contains("tests/test_a.py")
                && !e.text.contains("/home/runner")
                && !e.text.contains("shell:"),
            "{}",
            e.text
        );
        assert!(!e.text.contains("2026-11-30T"), "{}", e.text);
    }

    #[test]
    fn the_evidence_never_passes_its_cap() {
        let mut raw = String::from("##[group]Run make\n##[endgroup]\n");
        for i in 0..5000 {
            raw.push_str(&format!(
                "src/m{i}.c:{i}: error: something is wrong with é here\n"
            ));
        }
        raw.push_str("##[error]Process completed with exit code 2.\n");
        for cap in [512, 4096, DEFAULT_CAP] {
            let e = evidence("build", &raw, cap);
            assert!(e.text.len() <= cap, "{} > {cap}", e.text.len());
            assert!(e.text.contains("src/m"), "{}", e.text);
        }
    }
}
