//! What stops a run from landing (re-exported as `land::LandError`). Each refusal changes
//! nothing in the user's checkout.

use crate::protocol::status::RunStatus;

/// Why a run is not applied.
#[derive(Debug, thiserror::Error)]
pub enum LandError {
    /// Only a succeeded run is applied.
    #[error("run {run_id} is {status}: only a succeeded run is applied")]
    NotSucceeded {
        /// The run.
        run_id: String,
        /// Its status.
        status: RunStatus,
    },
    /// The checkout is on another branch than the run's base.
    #[error("the checkout is on {}, not on the run's base branch {base}", .current.as_deref().unwrap_or("a detached HEAD"))]
    WrongBranch {
        /// The run's base branch.
        base: String,
        /// The checked-out branch (None: detached).
        current: Option<String>,
    },
    /// The run started from a detached HEAD, and the checkout is on no branch that contains
    /// that commit.
    #[error("the run started from a detached HEAD at {}, and the checkout is {}", short(.sha), .current.as_deref().map(|b| format!("on {b}, which does not contain it")).unwrap_or_else(|| "on a detached HEAD".into()))]
    DetachedBase {
        /// The commit the run started from.
        sha: String,
        /// The checked-out branch (None: detached).
        current: Option<String>,
    },
    /// Uncommitted changes in the checkout.
    #[error("the checkout has uncommitted changes: {}", list(.files))]
    Dirty {
        /// The changed files.
        files: Vec<String>,
    },
    /// Untracked files the result would overwrite.
    #[error("untracked files are where the run puts files: {}", list(.files))]
    UntrackedInTheWay {
        /// The files.
        files: Vec<String>,
    },
    /// The run's changes conflict with the base branch as it is now.
    #[error("the run's changes conflict with {base} as it is now, in: {}", list(.files))]
    Conflicts {
        /// The base branch.
        base: String,
        /// The conflicting files.
        files: Vec<String>,
    },
    /// The run branch is gone.
    #[error("the run branch {branch} no longer exists")]
    BranchGone {
        /// The branch.
        branch: String,
    },
    /// Everything the run did is already on the base branch.
    #[error("run {run_id} is already on {base}: nothing to apply")]
    AlreadyApplied {
        /// The run.
        run_id: String,
        /// The base branch.
        base: String,
    },
}

/// The first ten characters of a sha.
fn short(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

/// At most ten names, then how many more.
fn list(files: &[String]) -> String {
    let mut s = files
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > 10 {
        s.push_str(&format!(" and {} more", files.len() - 10));
    }
    s
}
