//! One module per command, each with its arguments beside it; `dispatch` finds the repository
//! and the config first.

mod clean;
mod completions;
mod dashboard;
mod demo;
mod doctor;
mod init;
mod inspect;
mod metrics;
mod pipelines;
mod run;

use std::path::{Path, PathBuf};

pub use clean::{CancelArgs, CleanArgs};
pub use completions::CompletionsArgs;
pub use dashboard::DashboardArgs;
pub use demo::DemoArgs;
pub use doctor::DoctorArgs;
pub use init::InitArgs;
pub use inspect::{DiffArgs, LogsArgs, StatusArgs};
pub use metrics::MetricsArgs;
pub use pipelines::PipelinesArgs;
pub use run::{ResumeArgs, RunArgs};

use crate::command_error::{CommandError, Outcome};
use orx_core::config::{LoadedConfig, load_file};
use orx_core::git::Git;

use crate::cli::{Cli, Command};
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

impl Env {
    /// The repository root: the git top level of --dir.
    pub fn repo(&self) -> orx_core::Result<PathBuf> {
        Git::toplevel(&self.dir)
    }

    /// The repository root if in a repository, else the directory itself (for read commands).
    pub fn root_or_dir(&self) -> PathBuf {
        Git::toplevel(&self.dir).unwrap_or_else(|_| self.dir.clone())
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

/// Runs the command; returns the exit code.
pub fn dispatch(cli: Cli, printer: Printer) -> Outcome {
    let dir = match cli.dir {
        Some(d) => d,
        None => std::env::current_dir()?,
    };
    if !dir.is_dir() {
        return Err(CommandError::usage(
            format!("{} is not a directory", dir.display()),
            "pass an existing folder to --dir",
        ));
    }
    let env = Env {
        dir,
        config_flag: cli.config,
        printer,
    };
    match cli.command {
        Command::Init(a) => init::init(&env, a),
        Command::Run(a) => run::run(&env, a),
        Command::Resume(a) => run::resume(&env, a),
        Command::Status(a) => inspect::status(&env, a),
        Command::Logs(a) => inspect::logs(&env, a),
        Command::Diff(a) => inspect::diff(&env, a),
        Command::Cancel(a) => clean::cancel(&env, a),
        Command::Clean(a) => clean::clean(&env, a),
        Command::Pipelines(a) => pipelines::pipelines(&env, a),
        Command::Doctor(a) => doctor::doctor(&env, a),
        Command::Demo(a) => demo::demo(&env, a),
        Command::Dashboard(a) => dashboard::dashboard(&env, a),
        Command::Metrics(a) => metrics::metrics(&env, a),
        Command::Completions(a) => completions::completions(&env, a),
    }
}
