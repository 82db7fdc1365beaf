//! What can go wrong with git: each case says what happened; the front ends say what to do.

use std::path::PathBuf;

use super::WorktreeProblem;

/// A git failure.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// A git command failed.
    #[error("git {command} failed: {message}")]
    Command {
        /// The git arguments.
        command: String,
        /// What git printed.
        message: String,
    },
    /// The git program is not on PATH.
    #[error("git is not installed or not on PATH")]
    NotInstalled,
    /// The folder a command was to run in does not exist.
    #[error("the folder {} does not exist", .dir.display())]
    NoSuchFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// The folder is not in a git repository.
    #[error("{} is not inside a git repository", .dir.display())]
    NotARepository {
        /// The folder.
        dir: PathBuf,
    },
    /// The repository's path cannot be recorded as text.
    #[error("the repository's path is not valid UTF-8 ({path})")]
    PathNotUtf8 {
        /// The path, with replacement characters.
        path: String,
    },
    /// The repository has no commit to start from.
    #[error("the repository has no commit yet")]
    NoCommit,
    /// The base branch does not exist.
    #[error("the base branch `{base}` does not exist")]
    NoBaseBranch {
        /// The branch named.
        base: String,
    },
    /// A run's worktree is no longer the worktree git registered (its `.git` file or its folder
    /// was removed): orx refuses to run git there, because git would find the user's checkout.
    #[error(
        "the worktree {} is no longer a git worktree: {problem}; orx ran no git command there, so \
         the repository's own checkout was not touched",
        .worktree.display()
    )]
    WorktreeLost {
        /// The worktree.
        worktree: PathBuf,
        /// What is wrong with it.
        problem: WorktreeProblem,
    },
}
