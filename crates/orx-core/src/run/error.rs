//! What can go wrong with run folders, ids and locks.

use std::path::PathBuf;

/// A run-folder failure.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The text is not shaped like a run id.
    #[error("`{id}` is not a run id")]
    InvalidId {
        /// What was given (shortened).
        id: String,
    },
    /// No run with this id in this repository.
    #[error("no run {id} in {}", .runs.display())]
    NotFound {
        /// The run id.
        id: String,
        /// The runs folder looked in.
        runs: PathBuf,
    },
    /// `last` with no run at all.
    #[error("no runs yet in {}", .runs.display())]
    NoRuns {
        /// The runs folder looked in.
        runs: PathBuf,
    },
    /// A shortened id that several runs match.
    #[error("`{given}` matches {} runs: {}", .candidates.len(), .candidates.iter().take(10).cloned().collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// What was given.
        given: String,
        /// The runs it matches, newest first.
        candidates: Vec<String>,
    },
    /// A run with this id exists already.
    #[error("run {id} already exists")]
    AlreadyExists {
        /// The run id.
        id: String,
    },
    /// The branch a new run would use exists already.
    #[error("the branch {branch} already exists, so run {id} cannot start on it")]
    BranchExists {
        /// The run id.
        id: String,
        /// The branch.
        branch: String,
    },
    /// Another live process drives the run.
    #[error("run {run_id} is already being driven by process {pid}")]
    Locked {
        /// The run.
        run_id: String,
        /// The pid that holds the lock.
        pid: u32,
    },
    /// The lock could not be taken: something keeps re-creating it.
    #[error("could not take the lock {}", .path.display())]
    LockContended {
        /// The lock file.
        path: PathBuf,
    },
    /// The run folder has no task.
    #[error("run {id} has no task file (context/task.md)")]
    NoTask {
        /// The run id.
        id: String,
    },
    /// The run succeeded: there is nothing to resume.
    #[error("run {id} already succeeded")]
    AlreadySucceeded {
        /// The run id.
        id: String,
    },
    /// The run has no such stage.
    #[error("the run has no stage `{stage}`")]
    NoSuchStage {
        /// The stage named.
        stage: String,
        /// The run's stages.
        stages: Vec<String>,
    },
    /// The text is not an item id.
    #[error("`{item}` is not an item id")]
    InvalidItem {
        /// What was given (shortened).
        item: String,
    },
    /// The run has no such item.
    #[error("the run has no item `{item}`")]
    NoSuchItem {
        /// The item named.
        item: String,
        /// The run's items (empty before decompose).
        items: Vec<String>,
    },
    /// A follow-up of a run that is still going (or waits for a person).
    #[error("run {id} is {status}: a follow-up continues a run that ended")]
    FollowsLiveRun {
        /// The earlier run.
        id: String,
        /// Its status.
        status: crate::protocol::Observed,
    },
    /// A follow-up of a run whose branch is gone.
    #[error("run {id}'s branch {branch} no longer exists, so nothing can follow it")]
    NoBranchToFollow {
        /// The earlier run.
        id: String,
        /// Its branch.
        branch: String,
    },
    /// The checkpoint names a stage this orx does not know.
    #[error("unknown stage `{stage}` in state.json")]
    UnknownStage {
        /// The stage.
        stage: String,
    },
}
