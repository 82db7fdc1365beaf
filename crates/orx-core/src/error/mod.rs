//! The core error type: one variant per concern, each carrying the data a front end needs to say
//! what happened and what to do. Core says what went wrong; it never words a command or a flag
//! of the CLI (the CLI adds hints, the dashboard its own).

//!
//! The errors of the engine's and the router's concerns are defined here (`pipeline.rs`,
//! `backlog.rs`, `route.rs`) and re-exported where they belong: `crate::Error` gathers them all,
//! and every layer returns it, so defining them in their modules would make the process layer
//! import the engine through this file.

mod backlog;
mod land;
mod pipeline;
mod route;

use std::path::PathBuf;

pub use crate::git::GitError;
pub use crate::run::RunError;
pub use backlog::BacklogError;
pub use land::LandError;
pub use pipeline::{MissingAgent, PipelineError, StageOrder};
pub use route::RouteError;

/// Result alias for orx-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors raised by orx-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed; the message names the path (fs-err).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The configuration is invalid; the message carries file:line:column.
    #[error("{0}")]
    Config(Box<crate::config::ConfigError>),
    /// Git failed, or the repository cannot be used.
    #[error(transparent)]
    Git(#[from] GitError),
    /// GitHub (through gh) cannot be reached or refused.
    #[error(transparent)]
    GitHub(#[from] crate::git::github::GitHubError),
    /// A run folder, run id or lock problem.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A pipeline or run-preparation problem.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// No agent can serve a stage.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A run cannot be applied to its base branch.
    #[error(transparent)]
    Land(#[from] LandError),
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
    /// The run was cancelled (Ctrl-C, SIGTERM or `orx cancel`).
    #[error("the run was cancelled")]
    Cancelled,
    /// The run pauses for a person (a budget reached, an approval).
    #[error("the run waits: {what}")]
    Waiting {
        /// Why.
        reason: crate::protocol::status::WaitReason,
        /// What it waits for, in words.
        what: String,
    },
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}

impl From<BacklogError> for Error {
    fn from(e: BacklogError) -> Self {
        Error::Pipeline(PipelineError::Backlog(e))
    }
}
