//! The core error type: every variant carries what a user needs to act on it.

use std::path::PathBuf;

/// Result alias for orx-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors raised by orx-core. The CLI renders them once, with a hint, and picks the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed; the message names the path (fs-err).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The configuration is invalid; the message carries file:line:column.
    #[error("{0}")]
    Config(Box<crate::config::ConfigError>),
    /// A git command failed.
    #[error("git {command} failed: {message}")]
    Git {
        /// The git arguments, for the message.
        command: String,
        /// What git printed.
        message: String,
    },
    /// The repository is not usable for a run (no commit, missing base branch, ...).
    #[error("{message}")]
    Repo {
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// A run folder or run id problem.
    #[error("{message}")]
    Run {
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// Another process drives this run.
    #[error("run {run_id} is already being driven by process {pid}")]
    Locked {
        /// The run id.
        run_id: String,
        /// The pid that holds the lock.
        pid: u32,
    },
    /// A child process could not be started.
    #[error("could not start `{program}`: {source}")]
    Spawn {
        /// The program name.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A JSON or YAML document orx wrote itself could not be read back.
    #[error("{path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A prompt template failed to render.
    #[error("prompt template `{name}` failed: {message}")]
    Template {
        /// The template name.
        name: String,
        /// The renderer's message.
        message: String,
    },
    /// The fake agent's scenario is invalid.
    #[error("scenario {path}: {message}")]
    Scenario {
        /// The scenario file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A run's worktree is no longer the worktree git registered (its `.git` file or its folder
    /// was removed): orx refuses to run git there, because git would find the user's checkout.
    #[error(
        "the worktree {} is no longer a git worktree: {problem}; orx ran no git command there, so \
         the repository's own checkout was not touched",
        worktree.display()
    )]
    WorktreeLost {
        /// The worktree.
        worktree: PathBuf,
        /// What is wrong with it.
        problem: crate::git::WorktreeProblem,
    },
    /// The run was cancelled (Ctrl-C, SIGTERM or `orx cancel`).
    #[error("the run was interrupted")]
    Cancelled,
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}

impl Error {
    /// A hint for the user, when the error has an obvious fix.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Repo { hint, .. } | Error::Run { hint, .. } => Some(hint.clone()),
            Error::Config(e) => e.hint.clone(),
            Error::Locked { pid, .. } => Some(format!(
                "wait for process {pid} to finish, or stop it with `orx cancel`"
            )),
            Error::Spawn { program, .. } => {
                Some(format!("install `{program}` or fix its path in orx.yaml"))
            }
            Error::WorktreeLost { .. } => Some(
                "`orx resume` puts the worktree's .git file back (or recreates the worktree from \
                 the run branch) and continues"
                    .into(),
            ),
            Error::Scenario { .. } => {
                Some("fix the scenario file named by executors.fake.scenario".into())
            }
            Error::Io(e) => match e.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => Some(
                    "free some space (`orx clean RUN_ID` removes old runs), then `orx resume` \
                     continues from the last checkpoint"
                        .into(),
                ),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
                    Some(
                        "make the repository and its runs/ folder writable, then `orx resume` \
                     continues from the last checkpoint"
                            .into(),
                    )
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// True when the error is the user's input (config, usage) rather than a run failure.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Config(_) | Error::Repo { .. } | Error::Run { .. } | Error::Locked { .. }
        )
    }

    /// Shorthand for a [`Error::Run`].
    pub fn run(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Run {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// Shorthand for a [`Error::Repo`].
    pub fn repo(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Repo {
            message: message.into(),
            hint: hint.into(),
        }
    }
}
