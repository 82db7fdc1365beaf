//! The built-in scripted agent: plays a scenario (per stage: the answer, files to write or
//! delete, failures on chosen attempts, a lingering child process) so every stage can be
//! exercised with no agent CLI installed.

use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Agent, AgentError, AgentIo, AgentOutcome, AgentRequest, ErrorKind, Usage};
use crate::process::{ProcessSpec, Termination};
use crate::{Error, Result};

/// A scenario: for each role, the steps that may answer it; the first matching step plays.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Scenario {
    /// A description shown in logs.
    #[serde(default)]
    pub description: String,
    /// Steps by role (plan, spec, decompose, implement, fix, review, knowledge_update).
    #[serde(flatten)]
    pub roles: BTreeMap<String, Vec<Step>>,
}

/// One scripted answer.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Play only for this item.
    #[serde(default)]
    pub item: Option<String>,
    /// Play only on this attempt.
    #[serde(default)]
    pub attempt: Option<u32>,
    /// Play only when the request's model is this one (for fallback tests).
    #[serde(default)]
    pub model: Option<String>,
    /// Play only while this environment variable is set (e.g. in the first run of a test and
    /// not in its resume).
    #[serde(default)]
    pub when_env: Option<String>,
    /// The final answer (a minijinja template over task, item, attempt).
    #[serde(default)]
    pub text: String,
    /// Files to write (path → content, both templated like `text`).
    #[serde(default)]
    pub write: BTreeMap<String, String>,
    /// Files to delete.
    #[serde(default)]
    pub delete: Vec<String>,
    /// Marker blocks to rewrite: file → new text between its `<!-- ORX:START … -->` and
    /// `<!-- ORX:END … -->` lines (the rest of the file is kept).
    #[serde(default)]
    pub blocks: BTreeMap<String, String>,
    /// Commit the changes itself (as some agents do).
    #[serde(default)]
    pub commit: bool,
    /// Sleep this long before answering (cancellable).
    #[serde(default)]
    pub sleep_ms: u64,
    /// Start a child (`sh` with a background `sleep`) that lingers this many seconds, and wait
    /// for it: for cancel and timeout tests.
    #[serde(default)]
    pub linger_secs: u64,
    /// Fail with this error kind instead of answering.
    #[serde(default)]
    pub fail: Option<FailSpec>,
    /// Extra lines written to the stream log (for volume tests).
    #[serde(default)]
    pub stream_lines: u64,
    /// Refuse to continue an earlier session (as a CLI whose session expired does).
    #[serde(default)]
    pub refuse_resume: bool,
}

/// A simulated failure.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailSpec {
    /// rate_limited, overloaded, network, auth, model_not_found, bad_request, crash.
    pub kind: ErrorKind,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// Fail only the first `times` calls that reach this step (then answer). 0 = always.
    #[serde(default)]
    pub times: u32,
}

const BUILTIN: &str = include_str!("scenarios/builtin.yaml");

/// The built-in scenario played when no scenario file is configured.
pub fn builtin_scenario() -> Scenario {
    // The built-in scenario is part of the binary and covered by tests.
    parse_scenario(BUILTIN, "built-in scenario").unwrap_or_default()
}

/// Parses a scenario; `origin` names it in errors.
pub fn parse_scenario(text: &str, origin: &str) -> Result<Scenario> {
    let scenario = crate::yaml::from_str::<Scenario>(text).map_err(|e| Error::Scenario {
        path: origin.to_string(),
        message: e.to_string(),
    })?;
    // `flatten` cannot deny unknown keys, so role names are checked here.
    for role in scenario.roles.keys() {
        if !crate::config::ROLES.contains(&role.as_str()) {
            let near = crate::config::load_nearest(role, &crate::config::ROLES);
            return Err(Error::Scenario {
                path: origin.to_string(),
                message: format!(
                    "unknown role `{role}`{}; roles: {}",
                    near.map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default(),
                    crate::config::ROLES.join(", ")
                ),
            });
        }
    }
    Ok(scenario)
}

/// The fake agent.
#[derive(Debug)]
pub struct FakeAgent {
    scenario: Scenario,
    failures: Mutex<BTreeMap<(String, usize), u32>>,
}

impl FakeAgent {
    /// A fake agent playing `scenario`.
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario,
            failures: Mutex::default(),
        }
    }

    /// A fake agent playing the scenario file at `path`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            crate::fsutil::read_text_capped(path, crate::fsutil::MAX_INPUT_FILE).map_err(|e| {
                Error::Scenario {
                    path: path.display().to_string(),
                    message: e.to_string(),
                }
            })?;
        Ok(Self::new(parse_scenario(
            &text,
            &path.display().to_string(),
        )?))
    }

    /// The scenario played.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    fn pick(&self, req: &AgentRequest) -> Option<(usize, &Step)> {
        let steps = self.scenario.roles.get(&req.role).or_else(|| {
            // A fix falls back to the implement steps for its item.
            (req.role == "fix")
                .then(|| self.scenario.roles.get("implement"))
                .flatten()
        })?;
        steps.iter().enumerate().find(|(_, s)| {
            s.item
                .as_deref()
                .is_none_or(|i| Some(i) == req.item.as_deref())
                && s.attempt.is_none_or(|a| a == req.attempt)
                && s.model
                    .as_ref()
                    .is_none_or(|m| Some(m) == req.model.as_ref())
                && s.when_env
                    .as_ref()
                    .is_none_or(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
        })
    }
}

fn render(template: &str, req: &AgentRequest) -> String {
    let mut env = minijinja::Environment::new();
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    let ctx = minijinja::context! {
        task => req.task.clone(),
        item => req.item.clone(),
        attempt => req.attempt,
        role => req.role.clone(),
    };
    env.render_str(template, ctx)
        .unwrap_or_else(|_| template.to_string())
}

fn safe_join(root: &Path, rel: &str) -> Result<std::path::PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Error::Scenario {
            path: "scenario".into(),
            message: format!("path `{rel}` leaves the worktree"),
        });
    }
    Ok(root.join(p))
}

impl Agent for FakeAgent {
    fn name(&self) -> &str {
        "fake"
    }

    fn resumes(&self) -> bool {
        true
    }

    fn run(&self, req: &AgentRequest, io: &AgentIo) -> Result<AgentOutcome> {
        let started = Instant::now();
        let mut stream = Vec::<serde_json::Value>::new();
        let resumed = req
            .resume
            .as_ref()
            .filter(|s| s.executor == crate::config::ExecutorKind::Fake);
        let session = resumed
            .map(|s| s.id.clone())
            .unwrap_or_else(|| format!("fake-{}", crate::run::new_run_id()));
        stream.push(serde_json::json!({"type": "start", "role": req.role, "item": req.item, "attempt": req.attempt, "model": req.model, "session_id": session, "resumed": resumed.map(|s| &s.id)}));
        let mut outcome = AgentOutcome {
            session_id: Some(session),
            ..Default::default()
        };
        outcome.error = self.play(req, io, started, &mut stream, &mut outcome)?;
        finish(outcome, stream, io, started)
    }
}

fn stopped(kind: ErrorKind, message: String) -> Option<AgentError> {
    Some(AgentError { kind, message })
}

impl FakeAgent {
    /// Plays the step that answers `req`: waits, lingers, fails or edits and answers. Gives
    /// the error the call ends with, if any.
    fn play(
        &self,
        req: &AgentRequest,
        io: &AgentIo,
        started: Instant,
        stream: &mut Vec<serde_json::Value>,
        outcome: &mut AgentOutcome,
    ) -> Result<Option<AgentError>> {
        let Some((idx, step)) = self.pick(req) else {
            let item = req
                .item
                .as_ref()
                .map(|i| format!(" item {i}"))
                .unwrap_or_default();
            return Ok(stopped(
                ErrorKind::BadRequest,
                format!(
                    "the scenario has no step for role `{}`{item} attempt {}",
                    req.role, req.attempt
                ),
            ));
        };
        // The prompt is read at once: its tokens are spent even if the call is stopped.
        outcome.usage.input = (req.prompt.len() as u64).div_ceil(4);
        if let Some(m) = &io.meter {
            (m.0)(&outcome.usage);
        }
        if let Some(e) = wait(step, req, io, started) {
            return Ok(Some(e));
        }
        if let Some(session) = req.resume.as_ref().filter(|_| step.refuse_resume) {
            outcome.exit_code = Some(1);
            outcome.session_id = None;
            let message = format!("no session found with id {}", session.id);
            stream.push(
                serde_json::json!({"type": "error", "kind": "bad_request", "message": message}),
            );
            return Ok(stopped(ErrorKind::BadRequest, message));
        }
        if let Some(e) = linger(step, req, io, stream)? {
            return Ok(Some(e));
        }
        if let Some(e) = self.simulated_failure(idx, step, req)? {
            outcome.exit_code = Some(1);
            stream.push(serde_json::json!({"type": "error", "kind": e.kind, "message": e.message}));
            return Ok(Some(e));
        }
        outcome.tool_calls += edit(step, req, stream)?;
        outcome.text = render(&step.text, req);
        outcome.exit_code = Some(0);
        // Deterministic usage: about four characters a token.
        outcome.usage = Usage {
            input: (req.prompt.len() as u64).div_ceil(4),
            cached_input: 0,
            output: (outcome.text.len() as u64).div_ceil(4),
            reasoning: 0,
        };
        stream.push(serde_json::json!({"type": "message", "text": outcome.text}));
        stream.push(serde_json::json!({"type": "usage", "usage": outcome.usage}));
        Ok(None)
    }

    /// The step's failure while its `times` are not used up.
    fn simulated_failure(
        &self,
        idx: usize,
        step: &Step,
        req: &AgentRequest,
    ) -> Result<Option<AgentError>> {
        let Some(fail) = &step.fail else {
            return Ok(None);
        };
        let mut failures = self
            .failures
            .lock()
            .map_err(|_| super::RouteError::Poisoned)?;
        let n = failures.entry((req.role.clone(), idx)).or_insert(0);
        if fail.times != 0 && *n >= fail.times {
            return Ok(None);
        }
        *n += 1;
        let message = if fail.message.is_empty() {
            format!("simulated {}", fail.kind.as_str())
        } else {
            fail.message.clone()
        };
        Ok(stopped(fail.kind, message))
    }
}

/// The step's `sleep_ms`, ended early by a cancel or the call's timeout.
fn wait(step: &Step, req: &AgentRequest, io: &AgentIo, started: Instant) -> Option<AgentError> {
    let until = Instant::now() + Duration::from_millis(step.sleep_ms);
    while Instant::now() < until {
        if io.cancel.is_cancelled() {
            return stopped(ErrorKind::Cancelled, "cancelled".into());
        }
        if started.elapsed() >= req.timeout {
            let secs = req.timeout.as_secs();
            return stopped(ErrorKind::Timeout, format!("no answer within {secs} s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The step's lingering child: `sh` with a background `sleep`, run through the process layer.
fn linger(
    step: &Step,
    req: &AgentRequest,
    io: &AgentIo,
    stream: &mut Vec<serde_json::Value>,
) -> Result<Option<AgentError>> {
    if step.linger_secs == 0 {
        return Ok(None);
    }
    let secs = step.linger_secs.to_string();
    // The child records its process group id next to the agent's log, so tests can check
    // that nothing of the group survives a cancel or a timeout.
    let pid_file = io.stdout_log.with_extension("pgid");
    let script = format!(
        "echo $$ > '{}'; sleep {secs} & sleep {secs}; wait",
        pid_file.display()
    );
    let mut spec = ProcessSpec::new("sh", ["-c", &script]);
    spec.cwd = Some(req.cwd.clone());
    spec.timeout = Some(req.timeout);
    spec.grace = Duration::from_millis(500);
    spec.ledger = io.ledger.clone();
    let res = crate::process::run(&spec, &io.cancel, &mut |_, _| {})?;
    stream.push(serde_json::json!({"type": "child", "pid": res.pid, "termination": format!("{:?}", res.termination)}));
    Ok(match res.termination {
        Termination::Cancelled => stopped(ErrorKind::Cancelled, "cancelled".into()),
        Termination::TimedOut => stopped(
            ErrorKind::Timeout,
            format!("killed after {} s", req.timeout.as_secs()),
        ),
        _ => None,
    })
}

/// The step's file writes, block rewrites, deletions and commit; gives the number of tool calls.
fn edit(step: &Step, req: &AgentRequest, stream: &mut Vec<serde_json::Value>) -> Result<u32> {
    let mut calls = 0;
    for (path, content) in &step.write {
        let path = &render(path, req);
        let full = safe_join(&req.cwd, path)?;
        if let Some(dir) = full.parent() {
            fs_err::create_dir_all(dir)?;
        }
        fs_err::write(&full, render(content, req))?;
        calls += 1;
        stream.push(serde_json::json!({"type": "tool", "name": "write_file", "path": path}));
    }
    for (path, text) in &step.blocks {
        let full = safe_join(&req.cwd, path)?;
        let current = fs_err::read_to_string(&full).unwrap_or_default();
        let updated =
            crate::knowledge::replace_block(&current, &render(text, req)).ok_or_else(|| {
                Error::Scenario {
                    path: "scenario".into(),
                    message: format!("{path} has no ORX marker block to rewrite"),
                }
            })?;
        fs_err::write(&full, updated)?;
        calls += 1;
        stream.push(serde_json::json!({"type": "tool", "name": "edit_file", "path": path}));
    }
    for path in &step.delete {
        let full = safe_join(&req.cwd, path)?;
        if full.exists() {
            fs_err::remove_file(&full)?;
        }
        calls += 1;
        stream.push(serde_json::json!({"type": "tool", "name": "delete_file", "path": path}));
    }
    if step.commit {
        let git = crate::git::Git::new(&req.cwd);
        git.commit_all(&format!(
            "agent: {} {}",
            req.role,
            req.item.as_deref().unwrap_or("")
        ))?;
        stream.push(serde_json::json!({"type": "tool", "name": "git_commit"}));
    }
    for i in 0..step.stream_lines {
        stream.push(serde_json::json!({"type": "delta", "n": i, "text": "streaming output from the scripted agent"}));
    }
    Ok(calls)
}

fn finish(
    mut outcome: AgentOutcome,
    stream: Vec<serde_json::Value>,
    io: &AgentIo,
    started: Instant,
) -> Result<AgentOutcome> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(
        fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&io.stdout_log)?,
    );
    for ev in &stream {
        let line = io.redactor.redact(&ev.to_string());
        writeln!(f, "{line}")?;
        if let Some(a) = &io.activity {
            a.line(crate::config::ExecutorKind::Fake, &line);
        }
    }
    f.flush()?;
    drop(f);
    fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&io.stderr_log)?;
    outcome.duration_secs = started.elapsed().as_secs_f64();
    Ok(outcome)
}
