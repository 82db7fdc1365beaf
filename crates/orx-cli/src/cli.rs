//! The command line (SPEC §2).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// List recent runs, or show one run in detail.
    Status(StatusArgs),
    /// Print a run's event log, or one agent/gate log.
    Logs(LogsArgs),
    /// Print a run's patch.
    Diff(DiffArgs),
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

/// `orx init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The default engine to write (codex, gemini, claude, cursor, copilot, fake).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Overwrite an existing orx.yaml.
    #[arg(long)]
    pub force: bool,
}

/// `orx run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task: text, @path (a file, relative to the current directory), or - (stdin).
    #[arg(value_name = "TASK")]
    pub task: String,
    /// The executor for every stage (codex, gemini, claude, cursor, copilot, fake).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// The model for every stage.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// One role's executor and model, e.g. `--stage review=claude:claude-sonnet-4` or
    /// `--stage plan=:gpt-5` (repeatable; wins over --engine/--model for that role).
    #[arg(long, value_name = "ROLE=EXECUTOR[:MODEL]")]
    pub stage: Vec<String>,
    /// The branch to start from (default: git.base_branch, else the current branch).
    #[arg(long, value_name = "BRANCH")]
    pub base_branch: Option<String>,
    /// Pipeline id (standard, fast_fix, plan_only, or one in .orx/pipelines/) or a YAML file.
    #[arg(long, value_name = "ID|FILE", default_value = "standard")]
    pub pipeline: String,
    /// Print the routing table, gates and prompts that would be used; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run in the background and print the run id.
    #[arg(long, conflicts_with = "dry_run")]
    pub detach: bool,
    /// Use this run id (for --detach and the dashboard).
    #[arg(long, hide = true)]
    pub run_id: Option<String>,
    /// Print the final result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `orx resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run id.
    pub run_id: String,
    /// Restart at this stage (and run every later one again).
    #[arg(long, value_name = "STAGE")]
    pub from: Option<String>,
    /// Print the final result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `orx status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A run id for the detailed view.
    pub run_id: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Keep printing progress until the run ends.
    #[arg(long)]
    pub follow: bool,
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// `orx logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run id.
    pub run_id: String,
    /// Print the agent and gate logs of this stage (plan, implement, fix, W001, …) instead.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Keep printing new events until the run ends.
    #[arg(long)]
    pub follow: bool,
}

/// `orx diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The run id.
    pub run_id: String,
    /// Only this item's diff (W001, …).
    #[arg(long, value_name = "ITEM")]
    pub item: Option<String>,
}

/// `orx cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run id.
    pub run_id: String,
}

/// `orx clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// A run id, or `all`.
    pub target: String,
    /// Required with `all`.
    #[arg(long)]
    pub force: bool,
    /// Also delete the run branch orx/<run_id>.
    #[arg(long)]
    pub delete_branch: bool,
}

/// `orx pipelines`.
#[derive(Debug, Args)]
pub struct PipelinesArgs {
    /// list (default), show ID, validate FILE.
    #[command(subcommand)]
    pub action: Option<PipelinesAction>,
}

/// `orx pipelines` actions.
#[derive(Debug, Subcommand)]
pub enum PipelinesAction {
    /// List the built-in and the repository's pipelines.
    List,
    /// Print one pipeline.
    Show {
        /// Pipeline id or file.
        id: String,
    },
    /// Check a pipeline file.
    Validate {
        /// The file.
        file: String,
    },
}

/// `orx doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `orx demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the demo repository (default: the system's temporary folder).
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
}

/// `orx dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The address to bind (default: dashboard.host, 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub host: Option<String>,
    /// The port (default: dashboard.port, 8421; 0 picks a free one).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    pub open: bool,
    /// The access token (at least 16 characters; default: a random one on a non-loopback bind).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "ORX_DASHBOARD_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Runs started from the dashboard at once (default: dashboard.max_concurrent_runs, 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_concurrent_runs: Option<u16>,
}

/// `orx metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// report (default) or show RUN_ID.
    #[command(subcommand)]
    pub action: Option<MetricsAction>,
}

/// `orx metrics` actions.
#[derive(Debug, Subcommand)]
pub enum MetricsAction {
    /// Success rate, per-stage p50/p95 time and success, per-gate pass rate, per-model tokens and
    /// cost, top failure reasons, across every run of the repository.
    Report {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One run's totals and its stage records.
    Show {
        /// The run id.
        run_id: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

/// `orx completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}
