//! One module per command, each with its arguments beside it, and the `Env` every command works
//! in (where it runs, its config, its printer).

pub mod apply;
pub mod clean;
pub mod completions;
pub mod dashboard;
pub mod demo;
pub mod doctor;
pub mod init;
pub mod inspect;
pub mod metrics;
pub mod pipelines;
pub mod run;
pub mod stage_logs;

use std::path::{Path, PathBuf};

pub use apply::ApplyArgs;
pub use clean::{CancelArgs, CleanArgs};
pub use completions::CompletionsArgs;
pub use dashboard::DashboardArgs;
pub use demo::DemoArgs;
pub use doctor::DoctorArgs;
pub use init::InitArgs;
pub use inspect::{DiffArgs, LogsArgs, StatusArgs};
pub use metrics::MetricsArgs;
pub use pipelines::PipelinesArgs;
pub use run::{ApproveArgs, FollowupArgs, RejectArgs, ResumeArgs, RunArgs};

use orx_core::config::{LoadedConfig, load_file};
use orx_core::git::Git;

use crate::printer::Printer;

/// Where a command works.
pub struct Env {
    /// The directory given (or the current one).
    pub dir: PathBuf,
    /// --config.
    pub config_flag: Option<PathBuf>,
    /// Output.
    pub printer: Printer,
}

/// The repository a run's worktree (`<repo>/.worktrees/<id>`, with `<repo>/runs/<id>`) belongs
/// to, so orx typed inside a run's worktree sees the runs; any other top level is itself.
fn owning_repo(top: PathBuf) -> PathBuf {
    let owner = top
        .parent()
        .filter(|p| p.ends_with(".worktrees"))
        .and_then(|w| {
            let repo = w.parent()?;
            let id = top.file_name()?;
            repo.join("runs")
                .join(id)
                .is_dir()
                .then(|| repo.to_path_buf())
        });
    owner.unwrap_or(top)
}

impl Env {
    /// How to call orx in the commands orx suggests: `orx`, with `--dir <repo>` when the
    /// current directory is not in the repository that holds `run_dir` (`runs/<id>`).
    pub fn orx_command(&self, run_dir: &Path) -> String {
        let Some(repo) = run_dir.parent().and_then(Path::parent) else {
            return "orx".into();
        };
        let here = std::env::current_dir()
            .ok()
            .and_then(|d| Git::toplevel(&d).ok())
            .map(owning_repo);
        let same = here.is_some_and(|h| h.canonicalize().ok() == repo.canonicalize().ok());
        if same {
            "orx".into()
        } else {
            format!("orx --dir {}", repo.display())
        }
    }

    /// The repository root: the git top level of --dir.
    pub fn repo(&self) -> orx_core::Result<PathBuf> {
        Git::toplevel(&self.dir).map(owning_repo)
    }

    /// The repository root if in a repository, else the directory itself (for read commands).
    pub fn root_or_dir(&self) -> PathBuf {
        Git::toplevel(&self.dir)
            .map(owning_repo)
            .unwrap_or_else(|_| self.dir.clone())
    }

    /// The config: --config (must exist), else <repo>/orx.yaml when present, else defaults.
    pub fn config(&self, repo: &Path) -> orx_core::Result<LoadedConfig> {
        match &self.config_flag {
            Some(p) => Ok(load_file(p)?),
            None => {
                let p = repo.join("orx.yaml");
                if p.exists() {
                    Ok(load_file(&p)?)
                } else {
                    self.printer
                        .debug("no orx.yaml: using built-in defaults (engine: fake)");
                    Ok(LoadedConfig::default())
                }
            }
        }
    }
}
