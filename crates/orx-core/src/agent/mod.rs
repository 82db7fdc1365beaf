//! Agents: one request → one outcome, whatever CLI runs it. Adapters differ only in how they
//! build a command and parse a stream; routing, retries and logging are shared.

mod activity;
pub mod cli;
mod fake;
mod installed;
mod router;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use activity::{Activity, ActivitySink, of_any_line, of_any_line_whole, of_line};
pub use fake::{FakeAgent, Scenario, builtin_scenario, parse_scenario as parse_scenario_text};
pub use installed::{MissingAgent, binary_for, find_program, missing_agents};
pub use router::{AgentCall, Router};

use crate::Result;
use crate::cancel::CancelToken;

/// Text stages only read; apply stages edit the worktree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentMode {
    /// Read-only; the final answer is kept.
    Text,
    /// May edit the working directory.
    Apply,
}

/// One call to an agent.
#[derive(Clone, Debug)]
pub struct AgentRequest {
    /// The role (plan, spec, decompose, implement, fix, review, knowledge_update).
    pub role: String,
    /// The backlog item, for implement and fix.
    pub item: Option<String>,
    /// The attempt (item attempt for implement/fix, try number for text stages).
    pub attempt: u32,
    /// Text or apply.
    pub mode: AgentMode,
    /// The prompt.
    pub prompt: String,
    /// The model.
    pub model: Option<String>,
    /// The reasoning effort.
    pub reasoning_effort: Option<String>,
    /// Kill the agent after this long.
    pub timeout: Duration,
    /// The working directory (the worktree).
    pub cwd: PathBuf,
    /// The task (for scripted agents' templates).
    pub task: String,
    /// An earlier call's session to continue (an adapter of another CLI, or one that cannot
    /// resume, ignores it).
    pub resume: Option<Session>,
}

/// An agent session: the CLI that holds it and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The CLI.
    pub executor: crate::config::ExecutorKind,
    /// Its session or thread id.
    pub id: String,
    /// The usage the CLI reported for the session so far (codex reports a continued thread's
    /// usage from its start: what came before is taken off).
    pub reported: Usage,
}

/// Token usage, normalised across CLIs.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Usage {
    /// Input tokens (cached included).
    pub input: u64,
    /// Cached input tokens.
    pub cached_input: u64,
    /// Output tokens.
    pub output: u64,
    /// Reasoning tokens.
    pub reasoning: u64,
}

impl Usage {
    /// What is left of `self` once `other` is taken off (never below zero).
    pub fn minus(&self, other: &Usage) -> Usage {
        Usage {
            input: self.input.saturating_sub(other.input),
            cached_input: self.cached_input.saturating_sub(other.cached_input),
            output: self.output.saturating_sub(other.output),
            reasoning: self.reasoning.saturating_sub(other.reasoning),
        }
    }

    /// Adds `other`.
    pub fn add(&mut self, other: &Usage) {
        self.input = self.input.saturating_add(other.input);
        self.cached_input = self.cached_input.saturating_add(other.cached_input);
        self.output = self.output.saturating_add(other.output);
        self.reasoning = self.reasoning.saturating_add(other.reasoning);
    }
}

/// Why an agent call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 429 / rate limit: transient.
    RateLimited,
    /// 5xx / overloaded: transient.
    Overloaded,
    /// Connection problems: transient.
    Network,
    /// Bad or missing credentials.
    Auth,
    /// Unknown model.
    ModelNotFound,
    /// Rejected request.
    BadRequest,
    /// Killed at the timeout.
    Timeout,
    /// Exited abnormally.
    Crash,
    /// Stopped by the user.
    Cancelled,
}

impl ErrorKind {
    /// Transient kinds are retried with backoff and do not consume an attempt.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited | ErrorKind::Overloaded | ErrorKind::Network
        )
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Network => "network",
            ErrorKind::Auth => "auth",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Crash => "crash",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

/// A failed call's kind and message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentError {
    /// The kind.
    pub kind: ErrorKind,
    /// The agent's own message.
    pub message: String,
}

/// What one call produced.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AgentOutcome {
    /// The final answer.
    pub text: String,
    /// Token usage.
    pub usage: Usage,
    /// Tool calls made.
    pub tool_calls: u32,
    /// Wall time in seconds.
    pub duration_secs: f64,
    /// The process's exit code, when there was a process.
    pub exit_code: Option<i32>,
    /// Set when the call failed.
    pub error: Option<AgentError>,
    /// The agent's session or thread id.
    pub session_id: Option<String>,
    /// The cost the CLI reported itself (preferred over the pricing table).
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

/// Where an agent writes its raw stream, and how it is stopped.
#[derive(Clone, Debug)]
pub struct AgentIo {
    /// The raw output stream (JSONL where the CLI speaks it).
    pub stdout_log: PathBuf,
    /// Standard error.
    pub stderr_log: PathBuf,
    /// Cancellation.
    pub cancel: CancelToken,
    /// Secrets masked in the logs.
    pub redactor: crate::redact::Redactor,
    /// The run's ledger of live process groups (None outside a run).
    pub ledger: Option<crate::process::GroupLedger>,
    /// Told of each thing the agent does as its stream shows it (None: nobody listens).
    pub activity: Option<ActivitySink>,
    /// Told of the call's usage so far, each time its stream shows more (None: nobody
    /// listens).
    pub meter: Option<Meter>,
}

/// Where a caller hears of a call's usage while it runs (the budget's hard limit).
#[derive(Clone)]
pub struct Meter(pub std::sync::Arc<dyn Fn(&Usage) + Send + Sync>);

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meter")
    }
}

pub use crate::error::RouteError;

/// An agent adapter.
pub trait Agent: Send + Sync {
    /// The executor name.
    fn name(&self) -> &str;
    /// Runs one request to its outcome. `Err` is for orx's own failures (cannot write a log);
    /// the agent's failures are `Ok` with `error` set.
    fn run(&self, req: &AgentRequest, io: &AgentIo) -> Result<AgentOutcome>;
    /// Whether it continues a session it made (`AgentRequest::resume`).
    fn resumes(&self) -> bool {
        false
    }
}
