//! The engine: prepares a run (folder, lock, worktree, context), walks its pipeline stage by
//! stage with a checkpoint at every transition, and resumes interrupted, cancelled or failed
//! runs from that checkpoint. It knows stages only through [`super::Stage`]: no stage name
//! appears here.
//!
//! - [`prepare`]: a new run, from the request to a worktree ready for its first stage;
//! - [`resume`]: an existing run, from its folder back to where it stopped;
//! - [`drive`]: the walk over the stages;
//! - [`finish`]: the end of a run (patch, totals, final checkpoint);
//! - [`dry_run`]: what a run would do, touching nothing.

mod drive;
mod dry_run;
mod finish;
mod prepare;
mod render;
mod resume;

use std::path::{Path, PathBuf};

pub use dry_run::{DryRun, dry_run};

use super::{Checkpoint, RunCtx, RunEnv};
use crate::Result;
use crate::agent::{FakeAgent, Router};
use crate::cancel::CancelToken;
use crate::config::{LoadedConfig, Overrides, RoutingTable};
use crate::git::Git;
use crate::process::GroupLedger;
use crate::protocol::{Failure, Meta, RunState, RunStatus};
use crate::redact::Redactor;
use crate::run::{EventSink, Listener, RunDir, RunFiles};

/// A new run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Where orx was started (the repository root is found from here).
    pub dir: PathBuf,
    /// The task.
    pub task: String,
    /// The config.
    pub config: LoadedConfig,
    /// Executor and model overrides.
    pub overrides: Overrides,
    /// Pipeline id or file.
    pub pipeline: String,
    /// The branch to start from (None: the config's, else the current branch).
    pub base_branch: Option<String>,
    /// A run id chosen up front (the dashboard, a detached run); None: a new one.
    pub run_id: Option<String>,
    /// Start from the checkout's uncommitted state: it becomes the run's first commit.
    pub include_dirty: bool,
    /// The GitHub issue the task comes from (its pull request closes it).
    pub issue: Option<crate::protocol::IssueLink>,
    /// The run this one follows up: it works on that run's branch and worktree.
    pub follows: Option<String>,
}

/// A resume.
#[derive(Debug, Clone)]
pub struct ResumeRequest {
    /// Where orx was started.
    pub dir: PathBuf,
    /// The run.
    pub run_id: String,
    /// The config.
    pub config: LoadedConfig,
    /// The stage to run again, and every later one.
    pub from: Option<String>,
    /// What a person adds to the run's budget limits as it goes on (`approve --add-usd`).
    pub raise: crate::protocol::BudgetRaise,
    /// A person's decision on the stage whose result waits for approval.
    pub decision: Option<crate::protocol::Decision>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Run id.
    pub run_id: String,
    /// Final status.
    pub status: RunStatus,
    /// The run folder.
    pub run_dir: PathBuf,
    /// The worktree.
    pub worktree: PathBuf,
    /// The run branch.
    pub branch: String,
    /// Why it failed.
    pub failure: Option<Failure>,
    /// The checkpoint at the end (redacted, as the files are).
    pub state: RunState,
}

/// Drives runs.
pub struct Engine {
    cancel: CancelToken,
    listeners: Vec<Listener>,
    fake: Option<FakeAgent>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine stopped by `cancel`.
    pub fn new(cancel: CancelToken) -> Self {
        Self {
            cancel,
            listeners: Vec::new(),
            fake: None,
        }
    }

    /// Adds an event listener (the terminal progress display).
    pub fn listen(&mut self, l: Listener) {
        self.listeners.push(l);
    }

    /// Plays `fake` instead of the configured scenario (the demo).
    pub fn with_fake(mut self, fake: FakeAgent) -> Self {
        self.fake = Some(fake);
        self
    }

    /// Starts a new run and drives it to its end. Once the run folder exists, every failure is
    /// recorded in it and returned as a failed outcome, so the run can be inspected and resumed.
    pub fn start(&self, req: RunRequest) -> Result<RunOutcome> {
        prepare::start(self, req)
    }

    /// Resumes a run from its checkpoint.
    pub fn resume(&self, req: ResumeRequest) -> Result<RunOutcome> {
        resume::resume(self, req)
    }

    fn sink(&self, files: &RunFiles) -> EventSink {
        let sink = EventSink::new(Some(files.clone()));
        for l in &self.listeners {
            sink.listen(l.clone());
        }
        sink
    }

    fn router(&self, loaded: &LoadedConfig, routing: RoutingTable, repo: &Path) -> Result<Router> {
        let r = Router::new(&loaded.config, routing, repo)?;
        Ok(match &self.fake {
            Some(f) => r.with_fake(FakeAgent::new(f.scenario().clone())),
            None => r,
        })
    }
}

/// Secrets of the config (api keys, interpolated secret variables) and API keys of the
/// environment that agents may receive.
fn run_redactor(config: &LoadedConfig) -> Redactor {
    Redactor::new(config.secrets.clone()).with_env()
}

/// Git in the repository, logging to the run's git.log and recording its children in the run's
/// ledger.
fn repo_git(repo: &Path, dir: &RunDir, redactor: &Redactor) -> Git {
    Git::new(repo)
        .with_log(Some(dir.log("git.log")))
        .with_redactor(redactor.clone())
        .with_ledger(GroupLedger::new(dir.processes(), dir.id()))
}

/// What a run is made of, gathered by [`prepare`] or [`resume`].
struct Parts {
    env: RunEnv,
    state: RunState,
    meta: Meta,
    repo_git: Git,
    router: Router,
    events: EventSink,
}

impl Parts {
    fn into_ctx(self) -> (RunCtx, Git) {
        let git = self.repo_git.worktree(&self.env.worktree);
        let cp = Checkpoint::new(self.state, self.meta, self.env.files.clone());
        (
            RunCtx::new(self.env, cp, git, self.router, self.events),
            self.repo_git,
        )
    }
}
