//! state.json: the checkpoint from which a run resumes. Written atomically at every transition
//! (through [`crate::run::RunFiles`]).

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FailureCategory, ItemPhase, ItemStatus, RunStatus, StageStatus, WaitReason};
use crate::Result;

/// The version of the run folder's files this orx writes. 1: before typed events (still read).
pub const PROTOCOL_VERSION: u32 = 2;

fn v1() -> u32 {
    1
}

/// One stage of the pipeline.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct StageState {
    /// Stage name.
    pub name: String,
    /// Status.
    pub status: StageStatus,
    /// When it started (last time).
    pub started_at: Option<String>,
    /// When it ended.
    pub ended_at: Option<String>,
    /// How many times it was started.
    pub attempts: u32,
    /// A one-line outcome (e.g. "3 items", "VERDICT: APPROVED").
    pub note: Option<String>,
}

/// One backlog item's progress.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ItemState {
    /// W001, W002, …
    pub id: String,
    /// Title.
    pub title: String,
    /// Status.
    pub status: ItemStatus,
    /// Attempts used so far (implement = 1, each fix +1).
    pub attempts: u32,
    /// The commit the item started from.
    pub start_commit: Option<String>,
    /// The commit that recorded the item.
    pub commit: Option<String>,
    /// Where the current attempt is (None between attempts).
    pub phase: Option<ItemPhase>,
    /// The evidence of the last failed attempt, handed to the next fix.
    pub last_evidence: Option<String>,
    /// The agent session of the item's last call, which its next fix may continue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionRef>,
}

/// An agent session as the checkpoint keeps it: the executor's name and the session's id.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct SessionRef {
    /// The executor (codex, claude, …).
    pub executor: String,
    /// The session or thread id the CLI gave.
    pub id: String,
    /// The usage the session used so far, in all its calls.
    #[serde(default)]
    pub reported: crate::agent::Usage,
}

/// Why a run or item failed: data, worded by each reader.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Failure {
    /// The stage.
    pub stage: String,
    /// The item, if any.
    pub item: Option<String>,
    /// What kind of failure.
    pub category: FailureCategory,
    /// What happened.
    pub message: String,
    /// The evidence of an item's failure (relative to the run folder), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// The whole checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct RunState {
    /// Format version ([`PROTOCOL_VERSION`] when written by this orx).
    #[serde(default = "v1")]
    pub version: u32,
    /// The run id.
    pub run_id: String,
    /// The pipeline id.
    pub pipeline: String,
    /// Overall status.
    pub status: RunStatus,
    /// Why the run waits for a person, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<WaitReason>,
    /// What it waits for, in words (the limit reached, the file to read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The stage whose result waits for a person's approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// Whether the stage waiting for approval can run again with a person's feedback.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejectable: bool,
    /// The stages a person approved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved: Vec<String>,
    /// The budget's limits the run was driven with last (for readers: a bar of what is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetLimits>,
    /// What people added to the budget's limits for this run (`orx approve --add-usd`).
    #[serde(default, skip_serializing_if = "BudgetRaise::is_zero")]
    pub budget_raise: BudgetRaise,
    /// The stage running now (or where it stopped).
    pub current_stage: Option<String>,
    /// Every stage, in order.
    pub stages: Vec<StageState>,
    /// Backlog items.
    pub items: Vec<ItemState>,
    /// The item being worked on.
    pub current_item: Option<String>,
    /// Review loops used.
    pub review_loops: u32,
    /// The base commit.
    pub base_sha: Option<String>,
    /// The run branch.
    pub branch: Option<String>,
    /// The worktree path.
    pub worktree: Option<String>,
    /// The last failure.
    pub last_failure: Option<Failure>,
    /// The worktree, context files and setup commands are ready.
    #[serde(default)]
    pub setup_done: bool,
    /// What the `ci` stage watched and pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<super::CiState>,
    /// Last write.
    pub updated_at: String,
}

impl RunState {
    /// A fresh state for `stages`.
    pub fn new(run_id: &str, pipeline: &str, stages: &[String]) -> Self {
        Self {
            version: PROTOCOL_VERSION,
            run_id: run_id.to_string(),
            pipeline: pipeline.to_string(),
            status: RunStatus::Pending,
            waiting: None,
            waiting_for: None,
            approval: None,
            rejectable: false,
            approved: Vec::new(),
            budget: None,
            budget_raise: BudgetRaise::default(),
            current_stage: None,
            stages: stages
                .iter()
                .map(|s| StageState {
                    name: s.clone(),
                    status: StageStatus::Pending,
                    started_at: None,
                    ended_at: None,
                    attempts: 0,
                    note: None,
                })
                .collect(),
            items: Vec::new(),
            current_item: None,
            review_loops: 0,
            base_sha: None,
            branch: None,
            worktree: None,
            last_failure: None,
            setup_done: false,
            ci: None,
            updated_at: super::now_rfc3339(),
        }
    }

    /// Loads a checkpoint.
    pub fn load(path: &Path) -> Result<Self> {
        crate::fsutil::read_json(path)
    }

    /// The stage named `name`.
    pub fn stage_mut(&mut self, name: &str) -> Option<&mut StageState> {
        self.stages.iter_mut().find(|s| s.name == name)
    }

    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&StageState> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The item `id`.
    pub fn item_mut(&mut self, id: &str) -> Option<&mut ItemState> {
        self.items.iter_mut().find(|i| i.id == id)
    }

    /// The item `id`.
    pub fn item(&self, id: &str) -> Option<&ItemState> {
        self.items.iter().find(|i| i.id == id)
    }
}

/// A budget's limits, as a run's state records them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BudgetLimits {
    /// USD one run may spend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_usd: Option<f64>,
    /// Tokens one run may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_tokens: Option<u64>,
    /// USD the repository's runs may spend in a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_usd: Option<f64>,
}

impl BudgetLimits {
    /// No limit at all.
    pub fn is_empty(&self) -> bool {
        self.run_usd.is_none() && self.run_tokens.is_none() && self.day_usd.is_none()
    }
}

/// Raises of a run's budget limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BudgetRaise {
    /// USD added to `run_usd` and `day_usd` for this run.
    #[serde(default)]
    pub usd: f64,
    /// Tokens added to `run_tokens`.
    #[serde(default)]
    pub tokens: u64,
}

impl BudgetRaise {
    /// Nothing raised.
    pub fn is_zero(&self) -> bool {
        self.usd == 0.0 && self.tokens == 0
    }
}
