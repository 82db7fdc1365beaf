//! Adapters for the agent CLIs. Each is a command builder and a stream parser; spawning,
//! logging, timeouts, cancellation and error classification are shared here.

mod claude;
mod codex;
mod copilot;
mod cursor;
mod gemini;
mod live;

use std::collections::VecDeque;
use std::time::Instant;

use super::{Agent, AgentError, AgentIo, AgentMode, AgentOutcome, AgentRequest, ErrorKind, Usage};
use crate::config::ExecutorKind;
use crate::process::{ProcessSpec, Stream, Termination, run};
use crate::{Error, Result};

/// A command line for one request.
#[derive(Debug, Default)]
pub struct Invocation {
    /// Arguments (the program comes from the adapter's configuration).
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Bytes for stdin (the prompt, where the CLI reads it there).
    pub stdin: Option<Vec<u8>>,
    /// Arguments that must come last, after orx.yaml's extra arguments (codex's `-`).
    pub trailing: Vec<String>,
}

/// What a stream parser learned.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    /// The final answer.
    pub text: String,
    /// Usage, normalised (input includes cached input).
    pub usage: Usage,
    /// Tool calls.
    pub tool_calls: u32,
    /// Session or thread id.
    pub session_id: Option<String>,
    /// The stream's own verdict: Some(true) success, Some(false) failure, None not seen.
    pub success: Option<bool>,
    /// The error the stream reported.
    pub error: Option<AgentError>,
    /// Cost reported by the CLI itself.
    pub cost_usd: Option<f64>,
    /// Tools the CLI refused to run.
    pub denials: Vec<String>,
}

/// Turns an agent's output stream into a [`Parsed`], one line at a time. Unknown events,
/// truncated lines and noise are ignored.
pub trait StreamParser: Send {
    /// One line of stdout.
    fn line(&mut self, line: &str);
    /// The usage the stream showed so far (most CLIs show it only at the end; claude with each
    /// message).
    fn spent(&self) -> Usage {
        Usage::default()
    }
    /// The session id, once the stream said it.
    fn session(&self) -> Option<&str> {
        None
    }
    /// The result once the stream ended.
    fn finish(&mut self) -> Parsed;
}

/// The parser for `kind`'s stream.
pub fn parser_for(kind: ExecutorKind) -> Box<dyn StreamParser> {
    match kind {
        ExecutorKind::Codex => Box::new(codex::Parser::default()),
        ExecutorKind::Claude => Box::new(claude::Parser::default()),
        ExecutorKind::Gemini => Box::new(gemini::Parser::default()),
        ExecutorKind::Copilot => Box::new(copilot::Parser::default()),
        ExecutorKind::Cursor | ExecutorKind::Fake => Box::new(cursor::Parser::default()),
    }
}

/// An agent CLI, configured from orx.yaml.
#[derive(Debug, Clone)]
pub struct CliAgent {
    /// Which CLI.
    pub kind: ExecutorKind,
    /// The binary.
    pub bin: String,
    /// Extra arguments from orx.yaml.
    pub extra_args: Vec<String>,
    /// Extra environment from orx.yaml.
    pub env: Vec<(String, String)>,
    /// API key, handed to the CLI through its environment.
    pub api_key: Option<String>,
    /// Replacement of the text-mode flags.
    pub text_mode_args: Option<Vec<String>>,
    /// Replacement of the apply-mode flags.
    pub apply_mode_args: Option<Vec<String>>,
}

/// Whether orx continues `kind`'s sessions: codex (`exec resume <id>`), claude and gemini
/// (`--resume <id>`), each checked against the real CLI. Copilot and cursor are not checked:
/// their fixes start afresh.
pub fn resumes(kind: ExecutorKind) -> bool {
    matches!(
        kind,
        ExecutorKind::Codex | ExecutorKind::Claude | ExecutorKind::Gemini
    )
}

/// The session of `req` that `kind` continues, if any.
fn session_to_resume(kind: ExecutorKind, req: &AgentRequest) -> Option<&str> {
    req.resume
        .as_ref()
        .filter(|s| s.executor == kind && resumes(kind))
        .map(|s| s.id.as_str())
}

/// The flags each CLI gets for a mode (orx's defaults; orx.yaml may replace them).
pub fn default_mode_args(kind: ExecutorKind, mode: AgentMode) -> Vec<String> {
    let v: &[&str] = match (kind, mode) {
        (ExecutorKind::Codex, AgentMode::Text) => &["-s", "read-only"],
        (ExecutorKind::Codex, AgentMode::Apply) => {
            &["-s", "workspace-write", "-c", "approval_policy=never"]
        }
        (ExecutorKind::Claude, AgentMode::Text) => &[
            "--permission-mode",
            "default",
            "--disallowedTools",
            "Write Edit NotebookEdit Bash",
        ],
        (ExecutorKind::Claude, AgentMode::Apply) => &["--dangerously-skip-permissions"],
        (ExecutorKind::Gemini, AgentMode::Text) => &["--approval-mode", "default"],
        (ExecutorKind::Gemini, AgentMode::Apply) => &["--yolo"],
        (ExecutorKind::Copilot, AgentMode::Text) => {
            &["--deny-tool", "write", "--deny-tool", "shell"]
        }
        (ExecutorKind::Copilot, AgentMode::Apply) => &[],
        (_, AgentMode::Text) => &["--mode", "ask"],
        (_, AgentMode::Apply) => &["--force"],
    };
    v.iter().map(|s| s.to_string()).collect()
}

/// The scratch folder and files of one call.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A path inside the scratch folder.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

impl CliAgent {
    /// A variable of the environment the CLI gets: orx.yaml's `env`, else orx's own.
    fn lookup(&self, key: &str) -> Option<String> {
        self.env
            .iter()
            .rev()
            .find(|(n, _)| n == key)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(key).ok())
    }

    fn invocation(&self, req: &AgentRequest, scratch: &Scratch) -> Result<Invocation> {
        let mut inv = match self.kind {
            ExecutorKind::Codex => codex::invocation(req),
            ExecutorKind::Claude => claude::invocation(req),
            ExecutorKind::Gemini => gemini::invocation(req, scratch, &|k| self.lookup(k))?,
            ExecutorKind::Copilot => copilot::invocation(req, scratch)?,
            ExecutorKind::Cursor | ExecutorKind::Fake => cursor::invocation(req),
        };
        let custom = match req.mode {
            AgentMode::Text => self.text_mode_args.clone(),
            AgentMode::Apply => self.apply_mode_args.clone(),
        };
        inv.args
            .extend(custom.unwrap_or_else(|| default_mode_args(self.kind, req.mode)));
        let extra = without_repeats(&inv.args, &self.extra_args);
        inv.args.extend(extra);
        if let Some(id) = session_to_resume(self.kind, req) {
            match self.kind {
                // `codex exec [options] resume <id> -`: exec's options stay before `resume`.
                ExecutorKind::Codex => {
                    inv.trailing
                        .splice(0..0, ["resume".to_string(), id.to_string()]);
                }
                _ => inv.args.extend(["--resume".to_string(), id.to_string()]),
            }
        }
        let trailing = std::mem::take(&mut inv.trailing);
        inv.args.extend(trailing);
        if let Some(key) = self.api_key.as_ref().filter(|k| !k.is_empty()) {
            let var = match self.kind {
                ExecutorKind::Codex => "OPENAI_API_KEY",
                ExecutorKind::Claude => "ANTHROPIC_API_KEY",
                ExecutorKind::Gemini => "GEMINI_API_KEY",
                ExecutorKind::Copilot => "COPILOT_PROVIDER_API_KEY",
                ExecutorKind::Cursor | ExecutorKind::Fake => "CURSOR_API_KEY",
            };
            inv.env.push((var.into(), key.clone()));
        }
        inv.env.extend(self.env.iter().cloned());
        Ok(inv)
    }
}

/// `extra` (orx.yaml's `extra_args`) without what `args` already passes: a flag, with the values
/// that follow it, that orx adds itself is passed once. Configs copied from a CLI's docs often
/// list such flags, and codex refuses `--skip-git-repo-check` given twice.
pub fn without_repeats(args: &[String], extra: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < extra.len() {
        let mut j = i + 1;
        if extra[i].starts_with('-') {
            while j < extra.len() && !extra[j].starts_with('-') {
                j += 1;
            }
        }
        let group = &extra[i..j];
        let repeated = group[0].starts_with('-') && args.windows(group.len()).any(|w| w == group);
        if !repeated {
            out.extend_from_slice(group);
        }
        i = j;
    }
    out
}

impl Agent for CliAgent {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn resumes(&self) -> bool {
        resumes(self.kind)
    }

    fn run(&self, req: &AgentRequest, io: &AgentIo) -> Result<AgentOutcome> {
        let started = Instant::now();
        let scratch = Scratch {
            dir: tempfile::Builder::new().prefix("orx-agent-").tempdir()?,
        };
        let spec = self.spec(req, io, self.invocation(req, &scratch)?);
        let mut parser = parser_for(self.kind);
        let mut stderr_tail: VecDeque<String> = VecDeque::new();
        let mut metered = Usage::default();
        // The stream of codex, gemini and copilot shows usage only at the end: their session
        // files show it as the call goes.
        let lookup = |k: &str| {
            (spec.env.iter().rev().find(|(n, _)| n == k))
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(k).ok())
        };
        let watcher = live::Watcher::start(self.kind, &req.cwd, io.meter.as_ref(), &lookup);
        let res = run(&spec, &io.cancel, &mut |s, l| match s {
            Stream::Stdout => {
                parser.line(l);
                if let (Some(w), Some(id)) = (&watcher, parser.session()) {
                    w.session(id);
                }
                if let Some(a) = &io.activity {
                    a.line(self.kind, l);
                }
                if let Some(m) = &io.meter {
                    let now = parser.spent();
                    if now != metered {
                        metered = now;
                        (m.0)(&now);
                    }
                }
            }
            Stream::Stderr => {
                if stderr_tail.len() >= 40 {
                    stderr_tail.pop_front();
                }
                stderr_tail.push_back(l.to_string());
            }
        });
        let out = match res {
            Ok(o) => o,
            Err(Error::Spawn { program, source }) => {
                return Ok(AgentOutcome {
                    error: Some(AgentError {
                        kind: ErrorKind::Crash,
                        message: format!(
                            "could not start `{program}`: {source}; install the {} CLI or set executors.{}.bin in orx.yaml",
                            self.kind, self.kind
                        ),
                    }),
                    duration_secs: started.elapsed().as_secs_f64(),
                    ..Default::default()
                });
            }
            Err(e) => return Err(e),
        };
        let watched = watcher.map(live::Watcher::finish).unwrap_or_default();
        let mut p = parser.finish();
        if self.kind == ExecutorKind::Copilot {
            copilot::read_usage(&scratch.path("usage.json"), &mut p);
        }
        // Codex counts a continued thread's usage from its start (checked against the real
        // CLI): this call's is what it adds.
        if self.kind == ExecutorKind::Codex
            && let Some(s) = req
                .resume
                .as_ref()
                .filter(|_| session_to_resume(self.kind, req).is_some())
        {
            p.usage = p.usage.minus(&s.reported);
        }
        // A call stopped in flight never reached the stream's usage: its session file's counts.
        if watched.input + watched.output > p.usage.input + p.usage.output {
            p.usage = watched;
        }
        let stderr_text = Vec::from(stderr_tail).join("\n");
        let mut error = self.ending(req, out.termination, &p, &stderr_text);
        if error.is_none() && req.mode == AgentMode::Apply && !p.denials.is_empty() {
            error = Some(AgentError {
                kind: ErrorKind::BadRequest,
                message: format!("the agent was denied tools: {}", p.denials.join(", ")),
            });
        }
        Ok(AgentOutcome {
            text: p.text,
            usage: p.usage,
            tool_calls: p.tool_calls,
            duration_secs: started.elapsed().as_secs_f64(),
            exit_code: match out.termination {
                Termination::Exited(c) => Some(c),
                _ => None,
            },
            error,
            session_id: p.session_id,
            cost_usd: p.cost_usd,
        })
    }
}

impl CliAgent {
    /// The child process of one call: the CLI in the worktree, logged, redacted and recorded
    /// in the run's ledger.
    fn spec(&self, req: &AgentRequest, io: &AgentIo, inv: Invocation) -> ProcessSpec {
        let mut spec = ProcessSpec::new(self.bin.clone(), inv.args);
        spec.cwd = Some(req.cwd.clone());
        spec.env = inv.env;
        spec.stdin = inv.stdin;
        spec.timeout = Some(req.timeout);
        spec.stdout_log = Some(io.stdout_log.clone());
        spec.stderr_log = Some(io.stderr_log.clone());
        spec.redactor = Some(io.redactor.clone());
        spec.ledger = io.ledger.clone();
        // An agent that streams without end keeps a bounded log; the parser still sees it all.
        spec.log_limit = Some(crate::process::LOG_LIMIT);
        spec
    }

    /// The error a call ended with, from how the child ended, what its stream said and the
    /// tail of its stderr.
    fn ending(
        &self,
        req: &AgentRequest,
        termination: Termination,
        p: &Parsed,
        stderr_text: &str,
    ) -> Option<AgentError> {
        let error = |kind, message| Some(AgentError { kind, message });
        let code = match termination {
            Termination::Cancelled => return error(ErrorKind::Cancelled, "cancelled".into()),
            Termination::TimedOut => {
                let secs = req.timeout.as_secs();
                return error(
                    ErrorKind::Timeout,
                    format!("no answer within {secs} s; the agent's processes were stopped"),
                );
            }
            Termination::Signaled(sig) => {
                return error(ErrorKind::Crash, format!("killed by signal {sig}"));
            }
            Termination::Exited(code) => code,
        };
        match (p.error.clone(), p.success, code) {
            (Some(e), _, _) => Some(e),
            (None, Some(false), _) => error(
                classify(None, stderr_text),
                last_lines(stderr_text, "the agent reported a failure"),
            ),
            (None, Some(true), 0) => None,
            // Every supported CLI ends its stream with a final event; without it the answer
            // cannot be trusted, whatever the exit code says.
            (None, None, 0) => error(
                ErrorKind::Crash,
                format!(
                    "the {} stream ended without its final event: {}",
                    self.kind,
                    last_lines(stderr_text, "no message on stderr")
                ),
            ),
            (None, _, c) => error(
                classify(None, stderr_text),
                format!(
                    "exited with code {c}: {}",
                    last_lines(stderr_text, "no message")
                ),
            ),
        }
    }
}

fn last_lines(text: &str, default: &str) -> String {
    let t = crate::fsutil::tail_lines(text.trim(), 3);
    if t.is_empty() { default.to_string() } else { t }
}

/// The error kind from an HTTP status and/or a message.
pub fn classify(status: Option<u16>, message: &str) -> ErrorKind {
    let m = message.to_ascii_lowercase();
    // A status only counts in an HTTP context ("status 429", "API Error: 400", "\"code\":400",
    // "(503)", "429 Too Many Requests"), never as a bare number (a stack trace's line:column).
    let status = status.or_else(|| {
        let codes = "400|401|403|404|408|429|500|502|503|504|529";
        let re = regex::Regex::new(&format!(
            r#"(?:status(?: code)?:? |api error:? |"code": ?|statuscode"?:? ?|http/\d(?:\.\d)? |\()({codes})\b|\b({codes}) (?:too many|bad request|not found|unauthorized|forbidden|internal server|bad gateway|service unavailable|gateway timeout|overloaded)"#
        ))
        .ok()?;
        re.captures(&m).and_then(|c| c.get(1).or_else(|| c.get(2))).and_then(|x| x.as_str().parse().ok())
    });
    match status {
        Some(429) => return ErrorKind::RateLimited,
        Some(500 | 502 | 503 | 504 | 529) => return ErrorKind::Overloaded,
        Some(401 | 403) => return ErrorKind::Auth,
        Some(404) if m.contains("model") => return ErrorKind::ModelNotFound,
        Some(408) => return ErrorKind::Timeout,
        Some(400 | 404) => return ErrorKind::BadRequest,
        _ => {}
    }
    if m.contains("rate limit") || m.contains("too many requests") || m.contains("quota") {
        ErrorKind::RateLimited
    } else if m.contains("overloaded") || m.contains("unavailable") {
        ErrorKind::Overloaded
    } else if m.contains("api key")
        || m.contains("unauthorized")
        || m.contains("authenticat")
        || m.contains("login")
    {
        ErrorKind::Auth
    } else if m.contains("model")
        && (m.contains("not found")
            || m.contains("does not exist")
            || m.contains("issue with the selected model"))
    {
        ErrorKind::ModelNotFound
    } else if m.contains("stream disconnected")
        || m.contains("connection")
        || m.contains("network")
        || m.contains("econn")
        || m.contains("timed out")
        || m.contains("dns")
    {
        ErrorKind::Network
    } else {
        ErrorKind::Crash
    }
}

/// True when orx runs as root (claude then needs IS_SANDBOX=1 for its bypass mode).
pub(crate) fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Parses one JSON line, or None for noise.
pub(crate) fn json(line: &str) -> Option<serde_json::Value> {
    let t = line.trim();
    if !t.starts_with('{') {
        return None;
    }
    serde_json::from_str(t).ok()
}

/// Answers longer than this keep their end: a stream of any size parses in bounded memory.
pub(crate) const MAX_TEXT: usize = 1 << 20;

/// Appends `s` to `buf`; past [`MAX_TEXT`] the oldest half is dropped (halving keeps the
/// copying amortised).
pub(crate) fn push_capped(buf: &mut String, s: &str) {
    buf.push_str(s);
    if buf.len() > MAX_TEXT {
        let mut cut = buf.len() - MAX_TEXT / 2;
        while !buf.is_char_boundary(cut) {
            cut += 1;
        }
        buf.drain(..cut);
    }
}

pub(crate) fn u(v: &serde_json::Value, key: &str) -> u64 {
    v.get(key).and_then(|x| x.as_u64()).unwrap_or(0)
}

#[cfg(test)]
mod tests;
