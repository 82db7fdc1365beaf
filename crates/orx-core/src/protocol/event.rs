//! events.jsonl: one event per line, `{"ts", "kind", "stage"?, "item"?, "attempt"?, "message"?,
//! "data"?}`. The kind and its data are one enum ([`EventBody`]), so a reader matches on variants
//! and the compiler names every reader when an event is added.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FailureCategory, ItemStatus, RunStatus, RunTotals, StageStatus};
use crate::agent::{AgentError, Usage};
use crate::gate::TestCounts;

/// One event, as written to events.jsonl.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    /// RFC 3339 time.
    pub ts: String,
    /// What happened, and its data.
    #[serde(flatten)]
    pub body: EventBody,
    /// The stage (or role: fix, verify).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// A sentence for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// The kind of an event (`kind`) and its data (`data`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "data")]
pub enum EventBody {
    /// A run started.
    #[serde(rename = "run.started")]
    RunStarted {
        /// The run.
        run_id: String,
        /// Its pipeline.
        pipeline: String,
        /// The pipeline's stages.
        stages: Vec<String>,
    },
    /// A run was resumed.
    #[serde(rename = "run.resumed")]
    RunResumed,
    /// A run ended (succeeded, failed, or cancelled and resumable).
    #[serde(rename = "run.finished")]
    RunFinished {
        /// How it ended.
        status: RunStatus,
        /// Its totals.
        metrics: RunTotals,
    },
    /// A stage started.
    #[serde(rename = "stage.started")]
    StageStarted,
    /// A stage ended.
    #[serde(rename = "stage.finished")]
    StageFinished {
        /// How.
        status: StageStatus,
        /// Its length.
        duration_secs: f64,
    },
    /// An item started.
    #[serde(rename = "item.started")]
    ItemStarted,
    /// An item was skipped (a dependency did not pass).
    #[serde(rename = "item.skipped")]
    ItemSkipped,
    /// A failed item's changes were saved aside and removed from the worktree.
    #[serde(rename = "item.set_aside")]
    ItemSetAside,
    /// An item ended.
    #[serde(rename = "item.finished")]
    ItemFinished {
        /// Passed or failed.
        status: ItemStatus,
        /// Its commit, when it passed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
        /// Why, when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<FailureCategory>,
    },
    /// An attempt started (implement or fix).
    #[serde(rename = "attempt.started")]
    AttemptStarted,
    /// An interrupted attempt goes on (its worktree re-verified).
    #[serde(rename = "attempt.resumed")]
    AttemptResumed,
    /// An attempt failed.
    #[serde(rename = "attempt.failed")]
    AttemptFailed {
        /// Why.
        category: FailureCategory,
    },
    /// An agent was called.
    #[serde(rename = "agent.started")]
    AgentStarted,
    /// What an agent is doing as it works (its latest tool call, file, command or words):
    /// given to listeners only, never written to events.jsonl.
    #[serde(rename = "agent.activity")]
    AgentActivity,
    /// An agent answered (or failed).
    #[serde(rename = "agent.finished")]
    AgentFinished(AgentCall),
    /// A gate started.
    #[serde(rename = "gate.started")]
    GateStarted,
    /// A gate ended.
    #[serde(rename = "gate.finished")]
    GateFinished(GateOutcome),
    /// A change broke a guardrail.
    #[serde(rename = "guardrail")]
    Guardrail,
    /// Something worth a person's attention that does not stop the run.
    #[serde(rename = "warning")]
    Warning,
    /// What ship did.
    #[serde(rename = "ship")]
    Ship,
    /// The `ci` stage read a pull request's checks.
    #[serde(rename = "ci")]
    Ci(CiReport),
}

impl EventBody {
    /// The kind as written (`stage.started`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::RunStarted { .. } => "run.started",
            EventBody::RunResumed => "run.resumed",
            EventBody::RunFinished { .. } => "run.finished",
            EventBody::StageStarted => "stage.started",
            EventBody::StageFinished { .. } => "stage.finished",
            EventBody::ItemStarted => "item.started",
            EventBody::ItemSkipped => "item.skipped",
            EventBody::ItemSetAside => "item.set_aside",
            EventBody::ItemFinished { .. } => "item.finished",
            EventBody::AttemptStarted => "attempt.started",
            EventBody::AttemptResumed => "attempt.resumed",
            EventBody::AttemptFailed { .. } => "attempt.failed",
            EventBody::AgentStarted => "agent.started",
            EventBody::AgentActivity => "agent.activity",
            EventBody::AgentFinished(_) => "agent.finished",
            EventBody::GateStarted => "gate.started",
            EventBody::GateFinished(_) => "gate.finished",
            EventBody::Guardrail => "guardrail",
            EventBody::Warning => "warning",
            EventBody::Ship => "ship",
            EventBody::Ci(_) => "ci",
        }
    }
}

/// A read of a pull request's checks, in `ci`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CiReport {
    /// The round.
    pub round: u32,
    /// The commit.
    pub sha: String,
    /// Its checks.
    #[serde(default)]
    pub checks: Vec<super::CheckRecord>,
}

/// One agent call, in `agent.finished`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentCall {
    /// The executor that answered.
    pub executor: String,
    /// The model.
    #[serde(default)]
    pub model: Option<String>,
    /// The call's length.
    #[serde(default)]
    pub duration_secs: f64,
    /// Tokens.
    #[serde(default)]
    pub tokens: Usage,
    /// Cost in USD.
    #[serde(default)]
    pub cost_usd: f64,
    /// Tries (transient errors are retried).
    #[serde(default)]
    pub tries: u32,
    /// Fallbacks to another executor or model.
    #[serde(default)]
    pub fallbacks: u32,
    /// The agent's error, when it failed.
    #[serde(default)]
    pub error: Option<AgentError>,
}

/// One gate run, in `gate.finished`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GateOutcome {
    /// The gate.
    pub gate: String,
    /// It passed.
    pub passed: bool,
    /// A failure fails the attempt.
    #[serde(default)]
    pub required: bool,
    /// Its exit code.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// It was killed at its timeout.
    #[serde(default)]
    pub timed_out: bool,
    /// Its length.
    #[serde(default)]
    pub duration_secs: f64,
    /// How many findings its parser extracted.
    #[serde(default)]
    pub findings: usize,
    /// Test counts, where its parser knows them.
    #[serde(default)]
    pub counts: Option<TestCounts>,
}

impl Event {
    /// A new event with `message`.
    pub fn new(body: EventBody, message: impl Into<String>) -> Self {
        Self {
            ts: super::now_rfc3339(),
            body,
            stage: None,
            item: None,
            attempt: None,
            message: message.into(),
        }
    }
    /// A warning.
    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(EventBody::Warning, message)
    }
    /// Sets the stage.
    pub fn stage(mut self, s: &str) -> Self {
        self.stage = Some(s.to_string());
        self
    }
    /// Sets the item.
    pub fn item(mut self, i: &str) -> Self {
        self.item = Some(i.to_string());
        self
    }
    /// Sets the attempt.
    pub fn attempt(mut self, a: u32) -> Self {
        self.attempt = Some(a);
        self
    }
    /// The kind as written.
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }
}
