//! Quality gates: run each configured command in the worktree with its timeout, optionally an
//! auto-fix and one re-run, and turn the log into structured evidence with a parser per tool.

pub mod baseline;
pub mod ci_log;
mod command;
pub mod parser;

pub use command::CommandProblem;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cancel::CancelToken;
use crate::config::{GateConfig, ParserKind};
use crate::process::{ProcessSpec, Termination, run};
use crate::{Error, Result};

/// What one run of a gate (or of its fix command) may write to its log: see
/// [`crate::process::LOG_LIMIT`].
pub const LOG_LIMIT: u64 = crate::process::LOG_LIMIT;

/// One error a parser found in a gate's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// File, relative to the worktree when possible.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<u32>,
    /// The message (with the rule code when the tool gives one).
    pub message: String,
}

/// Test counts, when the parser knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TestCounts {
    /// Passed tests.
    pub passed: u32,
    /// Failed tests (errors included).
    pub failed: u32,
}

/// What a parser extracted from a log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Findings, most relevant first.
    pub findings: Vec<Finding>,
    /// Test counts.
    pub counts: Option<TestCounts>,
}

/// The result of one gate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GateResult {
    /// Gate name.
    pub name: String,
    /// Required gates fail the attempt.
    pub required: bool,
    /// Passed (exit 0 within the timeout).
    pub passed: bool,
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Killed at its timeout.
    pub timed_out: bool,
    /// Seconds.
    pub duration_secs: f64,
    /// The auto-fix command ran (and the gate was re-run).
    pub fix_ran: bool,
    /// The parser used.
    pub parser: String,
    /// What the parser extracted.
    pub findings: Vec<Finding>,
    /// Test counts.
    pub counts: Option<TestCounts>,
    /// The last lines of the log.
    pub tail: String,
    /// The log file.
    pub log: PathBuf,
    /// The command could not start (missing program, a command with its arguments in it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cannot_start: bool,
    /// How the result compares with the same gate on the untouched base (an item's gates,
    /// when the gate failed there too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against_base: Option<baseline::AgainstBase>,
}

impl GateResult {
    /// This result fails the attempt: a required gate that failed, unless it failed only as
    /// it already did on the base.
    pub fn blocks(&self) -> bool {
        self.required && !self.counts_as_passed()
    }

    /// Passed, or failed with no failure that was not already there on the base.
    pub fn counts_as_passed(&self) -> bool {
        self.passed || self.against_base.as_ref().is_some_and(|b| b.new == 0)
    }
}

/// The parser for `gate`: its `parser` key, or a guess from the command.
pub fn parser_for(gate: &GateConfig) -> ParserKind {
    if let Some(p) = gate.parser {
        return p;
    }
    let cmd = Path::new(gate.command.as_str())
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let words: Vec<&str> = std::iter::once(cmd)
        .chain(gate.args.iter().map(|a| a.as_str()))
        .collect();
    if words.contains(&"ruff") {
        ParserKind::Ruff
    } else if words.contains(&"pytest") || words.contains(&"py.test") {
        ParserKind::Pytest
    } else if cmd == "cargo" {
        ParserKind::Cargo
    } else if words.contains(&"eslint") {
        ParserKind::Eslint
    } else if words.contains(&"tsc") {
        ParserKind::Tsc
    } else {
        ParserKind::Generic
    }
}

/// The arguments orx actually passes: for `ruff check` without an output format, orx adds
/// `--output-format=json` so the parser reads exact locations.
pub fn effective_args(gate: &GateConfig, parser: ParserKind) -> Vec<String> {
    let mut args: Vec<String> = gate.args.iter().map(|a| a.to_string()).collect();
    if parser == ParserKind::Ruff
        && args.iter().any(|a| a == "check")
        && !args
            .iter()
            .any(|a| a.starts_with("--output-format") || a == "--format")
    {
        args.push("--output-format=json".into());
    }
    args
}

/// Where and how gates of one attempt run.
pub struct GateRun<'a> {
    /// The worktree.
    pub cwd: &'a Path,
    /// Log file for gate `name`: called with the gate name.
    pub log_for: &'a dyn Fn(&str) -> PathBuf,
    /// Cancellation.
    pub cancel: &'a CancelToken,
    /// Secrets masked in the gate logs.
    pub redactor: Option<&'a crate::redact::Redactor>,
    /// The run's ledger of live process groups.
    pub ledger: Option<&'a crate::process::GroupLedger>,
}

/// Runs one gate (with its fix and re-run when it fails and has one).
pub fn run_gate(gate: &GateConfig, ctx: &GateRun<'_>) -> Result<GateResult> {
    let parser = parser_for(gate);
    let log = (ctx.log_for)(&gate.name);
    let mut result = run_once(gate, parser, &log, ctx)?;
    if !result.passed
        && !result.timed_out
        && let Some(fix) = &gate.fix
    {
        let mut spec = ProcessSpec::new(
            fix.command.to_string(),
            fix.args.iter().map(|a| a.to_string()),
        );
        spec.cwd = Some(ctx.cwd.to_path_buf());
        spec.timeout = Some(Duration::from_secs(gate.timeout.get()));
        spec.stdout_log = Some(log.clone());
        spec.stderr_log = Some(log.clone());
        spec.log_limit = Some(LOG_LIMIT);
        spec.redactor = ctx.redactor.cloned();
        spec.ledger = ctx.ledger.cloned();
        let _ =
            crate::fsutil::append_line(&log, &format!("\n# orx: running fix `{}`", fix.command));
        match run(&spec, ctx.cancel, &mut |_, _| {}) {
            // A fix command that cannot start is reported in the log; the gate's re-run decides.
            Err(Error::Spawn { program, source }) => {
                let _ = crate::fsutil::append_line(
                    &log,
                    &format!("# orx: could not start the fix command `{program}`: {source}"),
                );
            }
            Err(e) => return Err(e),
            Ok(out) if !out.success() => {
                let _ = crate::fsutil::append_line(
                    &log,
                    &format!("# orx: the fix command ended with {:?}", out.termination),
                );
            }
            Ok(_) => {}
        }
        if ctx.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let _ = crate::fsutil::append_line(&log, "\n# orx: re-running the gate after the fix");
        result = run_once(gate, parser, &log, ctx)?;
        result.fix_ran = true;
    }
    Ok(result)
}

fn run_once(
    gate: &GateConfig,
    parser: ParserKind,
    log: &Path,
    ctx: &GateRun<'_>,
) -> Result<GateResult> {
    let args = effective_args(gate, parser);
    let _ = crate::fsutil::append_line(log, &shown_command(gate, &args, ctx));
    let spec = gate_spec(gate, args, log, ctx);
    let mut captured = Captured::default();
    let out = match run(&spec, ctx.cancel, &mut |_, l| captured.push(l)) {
        Ok(o) => o,
        Err(Error::Spawn { program, source }) => {
            let msg = format!("could not start `{program}`: {source}");
            let _ = crate::fsutil::append_line(log, &msg);
            let fix = CommandProblem::check(gate, ctx.cwd)
                .unwrap_or(CommandProblem::CannotStart)
                .fix(gate);
            return Ok(GateResult::cannot_start(
                gate,
                format!("{msg}; {fix}"),
                msg,
                log,
            ));
        }
        Err(e) => return Err(e),
    };
    if out.termination == Termination::Cancelled {
        return Err(Error::Cancelled);
    }
    let text = captured.text();
    let mut parsed = parser::parse(parser, &text, ctx.cwd);
    let timed_out = out.termination == Termination::TimedOut;
    if timed_out {
        let msg = format!(
            "gate `{}` did not finish within {} s and was killed",
            gate.name,
            gate.timeout.get()
        );
        let _ = crate::fsutil::append_line(log, &format!("# orx: {msg}"));
        parsed.findings.insert(
            0,
            Finding {
                file: None,
                line: None,
                message: msg,
            },
        );
    }
    // The log says how the gate ended, so it reads on its own.
    let _ = crate::fsutil::append_line(
        log,
        &format!(
            "# orx: gate `{}` {} in {:.1} s",
            gate.name,
            verdict(out.termination),
            out.duration.as_secs_f64()
        ),
    );
    Ok(GateResult {
        name: gate.name.clone(),
        required: gate.required,
        passed: out.success(),
        exit_code: match out.termination {
            Termination::Exited(c) => Some(c),
            _ => None,
        },
        timed_out,
        duration_secs: out.duration.as_secs_f64(),
        fix_ran: false,
        parser: parser_name(parser).into(),
        findings: parsed.findings,
        counts: parsed.counts,
        tail: crate::fsutil::tail_lines(&text, 30),
        log: log.to_path_buf(),
        cannot_start: false,
        against_base: None,
    })
}

/// The gate's child process: its command in the worktree, with its timeout, one bounded log
/// for both streams, redacted and recorded in the run's ledger.
fn gate_spec(gate: &GateConfig, args: Vec<String>, log: &Path, ctx: &GateRun<'_>) -> ProcessSpec {
    let mut spec = ProcessSpec::new(gate.command.to_string(), args);
    spec.cwd = Some(ctx.cwd.to_path_buf());
    spec.timeout = Some(Duration::from_secs(gate.timeout.get()));
    spec.stdout_log = Some(log.to_path_buf());
    spec.stderr_log = Some(log.to_path_buf());
    spec.log_limit = Some(LOG_LIMIT);
    spec.redactor = ctx.redactor.cloned();
    spec.ledger = ctx.ledger.cloned();
    spec
}

/// The first line of a gate's log: the command as a shell would take it, redacted.
fn shown_command(gate: &GateConfig, args: &[String], ctx: &GateRun<'_>) -> String {
    let shown = format!(
        "$ {} {}",
        shell_quote(&gate.command),
        args.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );
    match ctx.redactor {
        Some(r) => r.redact(&shown),
        None => shown,
    }
}

impl GateResult {
    /// A gate whose command cannot start: failed, with `finding` (what to change) as its one
    /// finding and `tail` as what its log says.
    pub fn cannot_start(gate: &GateConfig, finding: String, tail: String, log: &Path) -> Self {
        GateResult {
            name: gate.name.clone(),
            required: gate.required,
            passed: false,
            exit_code: None,
            timed_out: false,
            duration_secs: 0.0,
            fix_ran: false,
            parser: parser_name(parser_for(gate)).into(),
            findings: vec![Finding {
                file: None,
                line: None,
                message: finding,
            }],
            counts: None,
            tail,
            log: log.to_path_buf(),
            cannot_start: true,
            against_base: None,
        }
    }
}

/// How a gate ended, as its log's last line says it.
fn verdict(termination: Termination) -> String {
    match termination {
        Termination::Exited(0) => "passed (exit code 0)".to_string(),
        Termination::Exited(c) => format!("failed (exit code {c})"),
        Termination::Signaled(sig) => format!("failed (killed by signal {sig})"),
        Termination::TimedOut => "failed (timed out)".to_string(),
        Termination::Cancelled => "cancelled".to_string(),
    }
}

/// The parser's name.
pub fn parser_name(p: ParserKind) -> &'static str {
    match p {
        ParserKind::Ruff => "ruff",
        ParserKind::Pytest => "pytest",
        ParserKind::Cargo => "cargo",
        ParserKind::Eslint => "eslint",
        ParserKind::Tsc => "tsc",
        ParserKind::Generic => "generic",
    }
}

/// Output kept in memory for parsing: at most about 8 MiB, the newest part kept.
#[derive(Default)]
struct Captured {
    buf: String,
    dropped: usize,
}

impl Captured {
    const MAX: usize = 8 << 20;

    fn push(&mut self, line: &str) {
        self.buf.push_str(line);
        self.buf.push('\n');
        if self.buf.len() > Self::MAX {
            let mut cut = self.buf.len() - Self::MAX / 2;
            while !self.buf.is_char_boundary(cut) {
                cut += 1;
            }
            self.dropped += cut;
            self.buf.drain(..cut);
        }
    }

    fn text(self) -> String {
        if self.dropped > 0 {
            format!(
                "[orx: {} earlier bytes not kept in memory; see the log]\n{}",
                self.dropped, self.buf
            )
        } else {
            self.buf
        }
    }
}

/// `arg` as a shell would need it to read back the same word (for logs people copy from).
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}
