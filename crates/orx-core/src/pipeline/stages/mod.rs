//! The stages. The engine knows them only through [`Stage`]: what a stage saves, how it is reset
//! and resumed, and what a dry run shows are the stage's own, so adding one touches no other.

mod ci;
mod decompose;
mod implement;
mod item;
mod knowledge;
mod review;
mod ship;
mod text;

use super::RunCtx;
use crate::Result;
use crate::protocol::{Failure, FailureCategory, RunState};

/// How a stage ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    /// Finished, with a one-line note.
    Done(String),
    /// Nothing to do (disabled), with the reason.
    Skipped(String),
    /// Finished, and the pipeline goes back to an earlier stage (review → implement).
    GoTo {
        /// The stage to go back to.
        stage: String,
        /// The note.
        note: String,
    },
    /// Failed: the run stops here and is resumable from this stage.
    Failed(Failure),
}

/// What a dry run knows when it shows a stage's prompts: the task and the repository's context;
/// what earlier stages would produce is a placeholder.
#[derive(Debug)]
pub struct DryRunEnv<'a> {
    /// The task.
    pub task: &'a str,
    /// The repository context (project map, tooling, verify commands).
    pub context: serde_json::Value,
    /// The config.
    pub config: &'a crate::config::Config,
}

impl DryRunEnv<'_> {
    /// The placeholder for what a stage of the run would produce.
    pub fn placeholder(what: &str) -> String {
        format!("({what} produced by the run)")
    }

    /// A backlog item as a dry run shows it.
    pub fn sample_item() -> serde_json::Value {
        serde_json::json!({"id": "W001", "title": "(first backlog item)", "objective": "(from the backlog)", "acceptance": ["(from the backlog)"], "files_hint": [], "depends_on": []})
    }
}

/// One stage of a pipeline.
pub trait Stage {
    /// The stage name.
    fn name(&self) -> &'static str;

    /// The run inputs this stage saves (context files later stages read), discarded when the
    /// stage runs again from scratch (`--from`).
    fn outputs(&self) -> &'static [&'static str] {
        &[]
    }

    /// Clears what the checkpoint holds of this stage's work, when it runs again from scratch.
    fn reset(&self, _state: &mut RunState) {}

    /// Prepares the checkpoint for a resume (implement: failed items get a fresh budget).
    fn on_resume(&self, _state: &mut RunState) {}

    /// True when the checkpoint holds work for this stage although it is marked done (an item
    /// added by review just before a crash): it and every later stage run again.
    fn has_open_work(&self, _state: &RunState) -> bool {
        false
    }

    /// The stage runs the gates on agents' edits: the run needs its baseline (SPEC §13) before
    /// the first agent call.
    fn verifies(&self) -> bool {
        false
    }

    /// What a person reads to approve this stage (`approvals`), in words with its file.
    fn for_approval(&self) -> &'static str {
        "the stage's result"
    }

    /// Approved before it runs, on what the run made so far (ship), instead of after.
    fn approved_before(&self) -> bool {
        false
    }

    /// A rejection with feedback runs this stage again with the feedback in its prompt.
    fn takes_feedback(&self) -> bool {
        false
    }

    /// The stage writes its own metrics records (one per item attempt) instead of one for the
    /// whole stage.
    fn records_itself(&self) -> bool {
        false
    }

    /// The agent calls the stage makes in a run of `items` backlog items, at least and at most
    /// (retries of transient errors not counted): one by default.
    fn calls(&self, _config: &crate::config::Config, _items: u32) -> (u32, u32) {
        (1, 1)
    }

    /// The prompts a dry run shows: the role and the template's input.
    fn dry_run(&self, _env: &DryRunEnv<'_>) -> Vec<(&'static str, serde_json::Value)> {
        Vec::new()
    }

    /// Runs the stage. `Err(Cancelled)` leaves a checkpoint to resume from.
    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome>;
}

/// The stage named `name`.
pub fn stage_by_name(name: &str) -> Option<Box<dyn Stage>> {
    Some(match name {
        "plan" => Box::new(text::Plan),
        "spec" => Box::new(text::Spec),
        "decompose" => Box::new(decompose::Decompose),
        "implement" => Box::new(implement::Implement),
        "review" => Box::new(review::Review),
        "ship" => Box::new(ship::Ship),
        "ci" => Box::new(ci::Ci),
        "knowledge_update" => Box::new(knowledge::KnowledgeUpdate),
        _ => return None,
    })
}

/// The GitHub repository of the run's remote, reached through gh for this run: its calls logged
/// to logs/gh.log (secrets masked), counted in the run's ledger, stopped by its cancel.
pub(crate) fn run_github(cx: &RunCtx) -> Result<crate::git::github::GitHub> {
    let remote = cx.env.config.git.remote.to_string();
    Ok(
        crate::git::github::GitHub::of_checkout(&cx.env.worktree, &remote)?.for_run(
            cx.env.dir.log("gh.log"),
            cx.env.files.redactor().clone(),
            cx.env.ledger(),
            cx.env.cancel.clone(),
        ),
    )
}

/// A failure of `stage` with `category` and `message`.
pub(crate) fn failure(
    stage: &str,
    item: Option<&str>,
    category: FailureCategory,
    message: impl Into<String>,
) -> Failure {
    Failure {
        stage: stage.to_string(),
        item: item.map(String::from),
        category,
        message: message.into(),
        evidence: item.map(|i| format!("artifacts/{i}.evidence.md")),
    }
}
