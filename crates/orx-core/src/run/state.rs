//! state.json: the checkpoint from which a run resumes. Written atomically at every transition.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::fsutil::{durable_write_json, read_json};

/// The current time as RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// The run's overall status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Created, not started.
    Pending,
    /// A process drives it now (or did, and died: see the lock).
    Running,
    /// Every stage finished.
    Succeeded,
    /// A stage failed; `orx resume` restarts it.
    Failed,
    /// Stopped by Ctrl-C, SIGTERM or `orx cancel`; resumable.
    Cancelled,
}

impl RunStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// True when no process will change the run any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// A stage's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Not started.
    Pending,
    /// Started and not finished.
    Running,
    /// Finished.
    Done,
    /// Failed.
    Failed,
    /// Skipped (disabled or nothing to do).
    Skipped,
}

impl StageStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Pending => "pending",
            StageStatus::Running => "running",
            StageStatus::Done => "done",
            StageStatus::Failed => "failed",
            StageStatus::Skipped => "skipped",
        }
    }
}

/// One stage of the pipeline.
#[derive(Clone, Debug, Serialize, Deserialize)]
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

/// A backlog item's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Not started.
    Pending,
    /// Being implemented or verified.
    Running,
    /// Gates passed and committed.
    Passed,
    /// Attempts exhausted.
    Failed,
    /// Not run because a dependency failed or the run stopped.
    Skipped,
}

impl ItemStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Running => "running",
            ItemStatus::Passed => "passed",
            ItemStatus::Failed => "failed",
            ItemStatus::Skipped => "skipped",
        }
    }
}

/// One backlog item's progress.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
    /// Where the current attempt is: "agent" (being edited) or "verify" (agent finished).
    pub phase: Option<String>,
    /// The evidence of the last failed attempt, handed to the next fix.
    pub last_evidence: Option<String>,
}

/// Why a run or item failed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    /// The stage.
    pub stage: String,
    /// The item, if any.
    pub item: Option<String>,
    /// A short category: gate_failed, agent_error, no_changes, guardrail, invalid_backlog, …
    pub category: String,
    /// What happened.
    pub message: String,
}

/// The whole checkpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunState {
    /// Format version.
    pub version: u32,
    /// The run id.
    pub run_id: String,
    /// The pipeline id.
    pub pipeline: String,
    /// Overall status.
    pub status: RunStatus,
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
    /// Last write.
    pub updated_at: String,
}

impl RunState {
    /// A fresh state for `stages`.
    pub fn new(run_id: &str, pipeline: &str, stages: &[String]) -> Self {
        Self {
            version: 1,
            run_id: run_id.to_string(),
            pipeline: pipeline.to_string(),
            status: RunStatus::Pending,
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
            updated_at: now_rfc3339(),
        }
    }

    /// Loads a checkpoint.
    pub fn load(path: &Path) -> Result<Self> {
        read_json(path)
    }

    /// Writes the checkpoint atomically and flushes it to the disk.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        self.updated_at = now_rfc3339();
        durable_write_json(path, self)
    }

    /// Writes the checkpoint atomically without waiting for the disk: for progress marks (a
    /// stage or an attempt started) whose loss in a power cut only makes a resume redo work it
    /// would redo anyway. A killed orx never loses them (the rename is atomic).
    pub fn save_progress(&mut self, path: &Path) -> Result<()> {
        self.updated_at = now_rfc3339();
        crate::fsutil::atomic_write_json(path, self)
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
