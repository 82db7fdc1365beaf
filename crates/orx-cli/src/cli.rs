//! The command line (SPEC §2): its definition, and `dispatch`, which hands each command to its
//! module under `commands/`.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::command_error::{CommandError, Outcome};
use crate::commands::{self, Env};
use crate::commands::{
    ApplyArgs, ApproveArgs, CancelArgs, CleanArgs, CompletionsArgs, DashboardArgs, DemoArgs,
    DiffArgs, DoctorArgs, FollowupArgs, InitArgs, LogsArgs, MetricsArgs, PipelinesArgs, RejectArgs,
    ResumeArgs, RunArgs, StatusArgs,
};
use crate::printer::Printer;

/// orx: a local orchestrator for AI coding agents.
///
/// orx creates an isolated git worktree and branch for each run, then drives coding-agent CLIs
/// through plan → spec → decompose → implement/verify/fix → review → ship → knowledge update.
/// Everything a run does is kept under runs/<run_id>/; an interrupted run resumes.
#[derive(Debug, Parser)]
#[command(name = "orx", version, about, long_about, propagate_version = true)]
pub struct Cli {
    /// Repository root (default: the git root of the current directory).
    #[arg(long, global = true, value_name = "DIR", env = "ORX_DIR")]
    pub dir: Option<PathBuf>,
    /// Config file (default: <repo>/orx.yaml; built-in defaults when it does not exist).
    #[arg(long, global = true, value_name = "FILE", env = "ORX_CONFIG")]
    pub config: Option<PathBuf>,
    /// More diagnostics on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and the final result.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented orx.yaml, exclude runs/ and .worktrees/ from git, list agent CLIs found.
    Init(InitArgs),
    /// Run a task through the pipeline in a new worktree and branch.
    Run(RunArgs),
    /// Continue an interrupted, cancelled or failed run from its checkpoint.
    Resume(ResumeArgs),
    /// Start a run on the branch and worktree of an ended run, with more instructions (and the
    /// pull request's review comments): its commits go on top, its push updates the same PR.
    Followup(FollowupArgs),
    /// Let a waiting run go on: approve its stage, or raise its budget (--add-usd).
    Approve(ApproveArgs),
    /// Run the stage a run waits on (plan, spec or decompose) again, with your feedback.
    Reject(RejectArgs),
    /// List recent runs, or show one run in detail.
    Status(StatusArgs),
    /// Print a run's event log, or one agent/gate log.
    Logs(LogsArgs),
    /// Print a run's patch.
    Diff(DiffArgs),
    /// Land a succeeded run on its base branch in this checkout (one commit by default).
    ///
    /// Refuses, changing nothing, when the checkout has uncommitted changes, is on another branch,
    /// or the run's changes conflict with the base branch as it is now.
    Apply(ApplyArgs),
    /// Stop a running run (it stays resumable).
    Cancel(CancelArgs),
    /// Remove run folders and worktrees.
    Clean(CleanArgs),
    /// List, show or validate pipelines.
    Pipelines(PipelinesArgs),
    /// Check git, the agent CLIs the config routes to, their authentication, and the gates.
    Doctor(DoctorArgs),
    /// Run the standard pipeline on a demo repository with the built-in scripted agent.
    Demo(DemoArgs),
    /// Serve the web UI: watch, start, cancel and resume runs, explore their files.
    ///
    /// Binds 127.0.0.1:8421 by default (orx.yaml `dashboard.host`/`port`). Binding any other
    /// address requires an access token: one is generated and printed once, as a URL.
    Dashboard(DashboardArgs),
    /// Aggregate metrics across runs, or one run's metrics.
    Metrics(MetricsArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// Prints a command-line error as clap words it, with a hint for the mistake newcomers make
/// most: an unquoted task (`orx run Add a remove method`), and exits.
pub fn exit_on_parse_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let unquoted = e.kind() == ErrorKind::UnknownArgument
        && std::env::args().nth(1).is_some_and(|a| a == "run")
        && matches!(e.get(ContextKind::InvalidArg), Some(ContextValue::String(a)) if !a.starts_with('-'));
    if unquoted {
        let words: Vec<String> = std::env::args()
            .skip(2)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let rendered = e.render().to_string();
        let message = rendered
            .trim_end()
            .trim_end_matches("For more information, try '--help'.")
            .trim_end()
            .trim_start_matches("error: ")
            .to_string();
        Printer::new(false, 0).error(
            &message,
            &[format!(
                "the task is one argument: quote it, e.g. orx run \"{}\"",
                words.join(" ")
            )],
        );
        std::process::exit(2);
    }
    e.exit()
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
        Command::Init(a) => commands::init::init(&env, a),
        Command::Run(a) => commands::run::run(&env, a),
        Command::Resume(a) => commands::run::resume(&env, a),
        Command::Followup(a) => commands::run::followup(&env, a),
        Command::Approve(a) => commands::run::approve(&env, a),
        Command::Reject(a) => commands::run::reject(&env, a),
        Command::Status(a) => commands::inspect::status(&env, a),
        Command::Logs(a) => commands::inspect::logs(&env, a),
        Command::Diff(a) => commands::inspect::diff(&env, a),
        Command::Apply(a) => commands::apply::apply(&env, a),
        Command::Cancel(a) => commands::clean::cancel(&env, a),
        Command::Clean(a) => commands::clean::clean(&env, a),
        Command::Pipelines(a) => commands::pipelines::pipelines(&env, a),
        Command::Doctor(a) => commands::doctor::doctor(&env, a),
        Command::Demo(a) => commands::demo::demo(&env, a),
        Command::Dashboard(a) => commands::dashboard::dashboard(&env, a),
        Command::Metrics(a) => commands::metrics::metrics(&env, a),
        Command::Completions(a) => commands::completions::completions(&env, a, Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Clap's own checks of the definition: no two flags share a name, every default parses,
    /// every `conflicts_with` names an argument that exists.
    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
