//! Where a run executes. A [`Launcher`] starts, resumes and cancels runs: [`Detached`] drives
//! them as local processes that outlive the caller; `pipeline::InProcess` (with the engine, which
//! this module does not know) on threads of this process.
//! The dashboard and `orx run --detach` start runs only through this seam, so a new place to
//! run (candidates of a best-of-N, eval jobs, a cluster) is one more launcher, not a change to
//! the engine or to its callers.
//!
//! A launcher is handed the run's id: the caller knows it before the run exists (a queue entry,
//! a printed id), and the run folder is the only channel back. `start` returns once the run's
//! state.json is on disk, which is when `orx status` and the dashboard can see it.

mod detached;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use detached::{Detached, DriverCommand};

use crate::config::Overrides;

/// A new run to start.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The repository.
    pub repo: PathBuf,
    /// The run id, chosen by the caller.
    pub run_id: String,
    /// The task.
    pub task: String,
    /// Executor and model overrides.
    pub overrides: Overrides,
    /// The pipeline id or file (None: the standard one).
    pub pipeline: Option<String>,
    /// The branch to start from (None: the config's, else the current branch).
    pub base_branch: Option<String>,
    /// Start from the checkout's uncommitted state (the run's first commit).
    pub include_dirty: bool,
    /// The GitHub issue the task comes from.
    pub issue: Option<crate::protocol::IssueLink>,
    /// The run this one follows up.
    pub follows: Option<String>,
}

/// A run to resume.
#[derive(Clone, Debug)]
pub struct ResumeSpec {
    /// The repository.
    pub repo: PathBuf,
    /// The run.
    pub run_id: String,
    /// Where a detached resume's output goes (None: discarded).
    pub log: Option<PathBuf>,
    /// For a run that waits: what a person decided (None: a plain resume).
    pub how: Option<crate::protocol::Continue>,
}

/// Why a launcher could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The driver could not be started at all.
    #[error("could not start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The driver ended before the run existed.
    #[error("the run ended before it started ({status}){}", detail(.message))]
    Ended {
        /// How it ended.
        status: String,
        /// The last lines it wrote, or the engine's error.
        message: String,
    },
    /// The run's folder did not appear in time; the driver may still be going.
    #[error("the run did not start within {} s", .secs)]
    NotStarted {
        /// The wait, in seconds.
        secs: u64,
    },
    /// The driver refused (a cancel of a run that is not running, say).
    #[error("{message}")]
    Refused {
        /// Its words.
        message: String,
    },
    /// The driver did not answer in time.
    #[error("the driver did not answer within {} s", .secs)]
    NoAnswer {
        /// The wait, in seconds.
        secs: u64,
    },
    /// This launcher does not drive that run (an in-process launcher asked to cancel a run
    /// another process drives).
    #[error("run {id} is not driven here")]
    NotHere {
        /// The run.
        id: String,
    },
    /// Writing the task or a log failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// orx itself failed (the run's folder, its config).
    #[error(transparent)]
    Core(#[from] Box<crate::Error>),
}

fn detail(message: &str) -> String {
    if message.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", message.trim())
    }
}

/// Where runs execute.
pub trait Launcher: Send + Sync + std::fmt::Debug {
    /// Starts `spec`'s run; returns once its state.json is on disk.
    fn start(&self, spec: &RunSpec) -> Result<(), LaunchError>;

    /// Resumes a run; returns once the resume is under way (its end is seen in the run folder).
    fn resume(&self, spec: &ResumeSpec) -> Result<(), LaunchError>;

    /// Cancels a running run: its driver stops the agent, writes the checkpoint and ends.
    fn cancel(&self, repo: &Path, run_id: &str) -> Result<(), LaunchError>;
}

/// A new run's id must be free: otherwise `start` would see the other run's folder and report
/// a start that never happened.
pub(crate) fn refuse_existing(spec: &RunSpec) -> Result<(), LaunchError> {
    let dir = crate::run::Store::new(&spec.repo).dir(&spec.run_id);
    if dir.root().exists() {
        return Err(LaunchError::Refused {
            message: format!("run {} already exists", spec.run_id),
        });
    }
    Ok(())
}

/// How long a launcher waits for a run's folder to appear.
pub const START_WITHIN: Duration = Duration::from_secs(30);

/// Waits until `spec`'s state.json exists. `ended` says whether the driver ended (and how):
/// a driver that ends first is an error, whatever it says.
pub(crate) fn wait_until_started(
    spec: &RunSpec,
    within: Duration,
    mut ended: impl FnMut() -> Option<LaunchError>,
) -> Result<(), LaunchError> {
    let state = crate::run::Store::new(&spec.repo).dir(&spec.run_id).state();
    let deadline = Instant::now() + within;
    let mut nap = Duration::from_millis(2);
    loop {
        if state.exists() {
            return Ok(());
        }
        if let Some(e) = ended() {
            // The run may have made its folder just before it ended.
            return if state.exists() { Ok(()) } else { Err(e) };
        }
        if Instant::now() > deadline {
            return Err(LaunchError::NotStarted {
                secs: within.as_secs(),
            });
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}
