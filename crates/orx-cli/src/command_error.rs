//! The one place an error becomes what a person reads: a message, the hints that say what to
//! type next (core never names a command or a flag), and the exit code.

use orx_core::Error;
use orx_core::error::{GitError, PipelineError, RunError};
use orx_core::git::github::GitHubError;
use orx_core::land::LandError;
use orx_core::protocol::{FailureCategory, Observed};

/// How orx exits (SPEC §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok,
    /// The run failed.
    Failed,
    /// Usage or configuration error.
    Usage,
    /// Interrupted.
    Interrupted,
    /// The run waits for a person (a budget reached, an approval).
    Waiting,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Interrupted => 130,
            Exit::Waiting => 3,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// What a command returns: how orx exits, or the error to show.
pub type Outcome = Result<Exit, CommandError>;

/// An error as the CLI shows it.
#[derive(Debug)]
pub struct CommandError {
    /// Which exit code it ends with.
    pub exit: Exit,
    /// What went wrong.
    pub message: String,
    /// What to do, one line each.
    pub hints: Vec<String>,
}

impl CommandError {
    /// A mistake in what the user typed (exit 2), with the fix.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            message: message.into(),
            hints: vec![hint.into()],
        }
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        Self {
            exit: exit_of(&e),
            hints: hints_for(&e),
            message: e.to_string(),
        }
    }
}

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        Error::from(e).into()
    }
}

impl From<orx_core::config::ConfigError> for CommandError {
    fn from(e: orx_core::config::ConfigError) -> Self {
        Error::from(e).into()
    }
}

impl From<RunError> for CommandError {
    fn from(e: RunError) -> Self {
        Error::from(e).into()
    }
}

/// Which exit code an error ends with: the user's input (config, repository, run ids, pipelines)
/// is a usage error; anything else a failure.
fn exit_of(e: &Error) -> Exit {
    match e {
        Error::Cancelled => Exit::Interrupted,
        Error::Config(_) | Error::Run(_) | Error::Route(_) | Error::Template { .. } => Exit::Usage,
        Error::Land(_) => Exit::Usage,
        Error::Pipeline(p) => match p {
            PipelineError::ItemVanished(_) => Exit::Failed,
            _ => Exit::Usage,
        },
        Error::Git(g) => match g {
            GitError::Command { .. } | GitError::WorktreeLost { .. } => Exit::Failed,
            _ => Exit::Usage,
        },
        Error::GitHub(g) => match g {
            GitHubError::Call { .. } => Exit::Failed,
            GitHubError::Cancelled => Exit::Interrupted,
            _ => Exit::Usage,
        },
        _ => Exit::Failed,
    }
}

/// What to type next for `e`.
fn hints_for(e: &Error) -> Vec<String> {
    let one = |s: &str| vec![s.to_string()];
    match e {
        Error::Io(io) => io_hint(io).into_iter().collect(),
        Error::Config(c) => {
            let mut hints: Vec<String> = c.hint.iter().cloned().collect();
            if c.unreadable {
                hints.push(
                    "check the path given to --config, or run `orx init` to create orx.yaml".into(),
                );
            }
            hints
        }
        Error::Git(g) => git_hints(g),
        Error::GitHub(g) => github_hints(g),
        Error::Run(r) => run_hints(r),
        Error::Pipeline(p) => pipeline_hints(p),
        Error::Land(l) => land_hints(l, "RUN"),
        Error::Route(r) => match r {
            orx_core::agent::RouteError::NoRoute(_) => one("check the stages section of orx.yaml"),
            orx_core::agent::RouteError::NoAdapter(_) => one("route the stage to another executor"),
            orx_core::agent::RouteError::Poisoned => one("run the command again"),
        },
        Error::Spawn { program, .. } => {
            vec![format!("install `{program}` or fix its path in orx.yaml")]
        }
        Error::Scenario { .. } => one("fix the scenario file named by executors.fake.scenario"),
        Error::Template { .. } => one(
            "fix the template in .orx/prompts/ (`orx run --dry-run` renders every prompt), or \
             remove it to use the built-in one",
        ),
        Error::Corrupt { .. } | Error::Cancelled | Error::Waiting { .. } => Vec::new(),
    }
}

fn io_hint(e: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull | K::QuotaExceeded => Some(
            "free some space (`orx clean RUN_ID` removes old runs), then `orx resume` continues \
             from the last checkpoint"
                .into(),
        ),
        K::ReadOnlyFilesystem | K::PermissionDenied => Some(
            "make the repository and its runs/ folder writable, then `orx resume` continues from \
             the last checkpoint"
                .into(),
        ),
        _ => None,
    }
}

fn git_hints(e: &GitError) -> Vec<String> {
    let hint = match e {
        GitError::Command { .. } => return Vec::new(),
        GitError::NotInstalled => "install git (orx drives the git command-line tool)",
        GitError::NoSuchFolder { .. } => "check the path; orx runs git there",
        GitError::NotARepository { .. } => {
            "run orx at the root of a git repository (or `git init` first), or pass --dir"
        }
        GitError::PathNotUtf8 { .. } => {
            "orx records paths as UTF-8: move or rename the repository's folder to a UTF-8 name"
        }
        GitError::NoCommit => {
            "make a first commit (git add -A && git commit -m init), then run orx again"
        }
        GitError::NoBaseBranch { .. } => {
            "pass --base-branch with an existing branch, or set git.base_branch in orx.yaml"
        }
        GitError::WorktreeLost { .. } => {
            "`orx resume` puts the worktree's .git file back (or recreates the worktree from the \
             run branch) and continues"
        }
    };
    vec![hint.to_string()]
}

fn github_hints(e: &GitHubError) -> Vec<String> {
    let hint = match e {
        GitHubError::NotInstalled => {
            "install the GitHub CLI (Debian and Ubuntu: `apt-get install gh`), then `gh auth login`"
        }
        GitHubError::NotLoggedIn { .. } => {
            "run `gh auth login` (or set GH_TOKEN to a token that can read the repository)"
        }
        GitHubError::NoGitHubRemote { .. } => {
            "add the GitHub repository as the remote (`git remote add origin \
             git@github.com:OWNER/NAME.git`, or set git.remote in orx.yaml), set GH_REPO=OWNER/NAME, \
             or pass the issue's URL"
        }
        GitHubError::BadIssue { .. } => {
            "give --issue a number (12 or #12) or the issue's URL \
             (https://github.com/OWNER/NAME/issues/12)"
        }
        GitHubError::NotFound { .. } => {
            "check the number (`gh issue list` shows the open ones) and that the remote is the \
             issue's repository, or pass the issue's URL"
        }
        GitHubError::Call { .. } => "see what gh said above; `gh auth status` checks the login",
        GitHubError::Cancelled => return Vec::new(),
    };
    vec![hint.to_string()]
}

fn run_hints(e: &RunError) -> Vec<String> {
    let hint = match e {
        RunError::InvalidId { .. } => "run ids look like 20261126_153000_1a2b3c4d; `last`, or \
             a unique start or end of one, also works; `orx status` lists them"
            .to_string(),
        RunError::NoRuns { .. } => "start one with `orx run \"<task>\"`".into(),
        RunError::Ambiguous { given, .. } => {
            format!("give more of the id than `{given}` (or `last` for the newest run)")
        }
        RunError::NotFound { .. } => "`orx status` lists the runs of this repository; a \
             shortened id is the start or the end of one"
            .into(),
        RunError::AlreadyExists { .. } => "leave --run-id out to get a new one".into(),
        RunError::BranchExists { branch, .. } => format!(
            "leave --run-id out to get a new run id, or delete the branch first (git branch -D {branch})"
        ),
        RunError::Locked { pid, .. } => {
            format!("wait for process {pid} to finish, or stop it with `orx cancel`")
        }
        RunError::LockContended { .. } => {
            "another orx process keeps re-creating it; check `orx status`".into()
        }
        RunError::NoTask { .. } => "the run folder is incomplete; start a new run".into(),
        RunError::AlreadySucceeded { .. } => {
            "nothing to resume; use --from STAGE to run a stage again".into()
        }
        RunError::NoSuchStage { stages, .. } => format!("its stages are: {}", stages.join(", ")),
        RunError::InvalidItem { .. } => {
            "item ids look like W001; `orx status RUN_ID` lists them".into()
        }
        RunError::NoSuchItem { items, .. } if items.is_empty() => {
            "this run has no backlog yet: `orx diff RUN_ID` shows its whole diff".into()
        }
        RunError::NoSuchItem { items, .. } => format!("its items: {}", items.join(", ")),
        RunError::UnknownStage { .. } => "the run was made by another orx version".into(),
        RunError::FollowsLiveRun { id, status } if *status == Observed::Waiting => format!(
            "it waits for you: `orx approve {id}` (or `orx reject {id} \"feedback\"`) lets it \
             finish; follow it up then"
        ),
        RunError::FollowsLiveRun { id, .. } => {
            format!("wait for it to end (`orx status --follow {id}`), or `orx cancel {id}` first")
        }
        RunError::NoBranchToFollow { .. } => {
            "start a new run with `orx run` (the branch was deleted, e.g. by `orx clean \
             --delete-branch`)"
                .into()
        }
    };
    vec![hint]
}

fn pipeline_hints(e: &PipelineError) -> Vec<String> {
    let hint = match e {
        PipelineError::AgentsMissing(missing) => {
            let mut hints: Vec<String> = missing
                .iter()
                .map(|m| {
                    format!(
                        "install it: {} (or set executors.{}.bin to its path)",
                        install_command(m.executor),
                        m.executor
                    )
                })
                .collect();
            hints.push(
                "or route those stages to an installed agent with --engine E or --stage ROLE=E \
                 (`orx doctor` lists what is installed); nothing was made"
                    .into(),
            );
            return hints;
        }
        PipelineError::Invalid { .. } => {
            "fix the pipeline file (see `orx pipelines show standard`)".to_string()
        }
        PipelineError::NoStages { .. } => "list at least one stage".into(),
        PipelineError::UnknownStage { .. } => format!(
            "known stages: {}",
            orx_core::pipeline::KNOWN_STAGES.join(", ")
        ),
        PipelineError::MisplacedOption { applies_to, .. } => {
            format!("move the option to the {applies_to} entry")
        }
        PipelineError::ShipHasNoAgent { .. } => {
            "remove executor/model/reasoning_effort/timeout from it".into()
        }
        PipelineError::DuplicateStage { .. } => "list each stage once".into(),
        PipelineError::GatesCannotStart(_) => {
            "fix the gates in orx.yaml as said (`orx doctor` checks them); nothing was made".into()
        }
        PipelineError::DirtyNotOnBase { base } => format!(
            "switch to {base} first (git stash; git switch {base}; git stash pop), or leave \
             --base-branch out"
        ),
        PipelineError::StageOrder { .. } => format!(
            "stages run in this order (any may be left out): {}",
            orx_core::pipeline::KNOWN_STAGES.join(", ")
        ),
        PipelineError::FileNotFound { .. } => {
            "check the path; `orx pipelines list` shows the built-in pipelines and the \
             repository's"
                .into()
        }
        PipelineError::NotFound { broken, .. } if !broken.is_empty() => {
            "fix the pipeline file that does not load (`orx pipelines list` shows the others)"
                .into()
        }
        PipelineError::NotFound { .. } => "built-in pipelines: standard, fast_fix, plan_only; \
             `orx pipelines list` shows the repository's; or give a .yaml file"
            .into(),
        PipelineError::SetupFailed { .. } => {
            "fix the setup list in orx.yaml, then `orx resume` the run".into()
        }
        PipelineError::Backlog(_) => "fix context/backlog.yaml".into(),
        PipelineError::Guardrails(_) => "fix guardrails patterns in orx.yaml".into(),
        PipelineError::DemoNeedsPython => "install Python 3 (the demo runs `python3 -m \
             compileall` and `python3 -m unittest`)"
            .into(),
        PipelineError::ItemVanished(_) => {
            "this is a bug in orx; `orx resume` starts the item again".into()
        }
    };
    vec![hint]
}

/// What to do when run `id` cannot be applied; nothing was changed.
pub fn land_hints(e: &LandError, id: &str) -> Vec<String> {
    let hint = match e {
        LandError::NotSucceeded { .. } => format!(
            "`orx resume {id}` finishes it; `orx apply {id} --patch` prints what it has so far"
        ),
        LandError::WrongBranch { base, .. } => {
            format!("switch to it first (git switch {base}), then apply again")
        }
        LandError::DetachedBase { sha, .. } => format!(
            "switch to the branch to land it on, one that contains {} (git switch main), then \
             apply again",
            &sha[..sha.len().min(10)]
        ),
        LandError::Dirty { .. } => {
            "commit or stash them first (git stash), then apply again".to_string()
        }
        LandError::UntrackedInTheWay { .. } => "move or delete them, then apply again".to_string(),
        LandError::Conflicts { base, .. } => format!(
            "rebase the run in its worktree and resolve there (cd .worktrees/{id} && git rebase \
             {base}), then apply again; or take the patch (`orx apply {id} --patch > run.patch`, \
             then git apply -3 run.patch)"
        ),
        LandError::BranchGone { .. } => {
            format!("the run's patch is kept in runs/{id}/artifacts/patch.diff: git apply it")
        }
        LandError::AlreadyApplied { .. } => format!(
            "`orx clean {id} --delete-branch` removes the run's worktree, folder and branch"
        ),
    };
    vec![hint, "nothing was changed".into()]
}

/// How each agent CLI is installed.
pub fn install_command(kind: orx_core::config::ExecutorKind) -> &'static str {
    use orx_core::config::ExecutorKind;
    match kind {
        ExecutorKind::Codex => "npm install -g @openai/codex",
        ExecutorKind::Claude => "npm install -g @anthropic-ai/claude-code",
        ExecutorKind::Gemini => "npm install -g @google/gemini-cli",
        ExecutorKind::Copilot => "npm install -g @github/copilot",
        ExecutorKind::Cursor => "curl https://cursor.com/install -fsS | bash",
        ExecutorKind::Fake => "it is built into orx",
    }
}

/// What to do about a run that failed with `category` (the run id fills the commands).
pub fn failure_hint(category: FailureCategory, run_id: &str, items_failed: bool) -> String {
    match category {
        FailureCategory::WorktreeLost => format!(
            "`orx resume {run_id}` puts the worktree's .git file back (or recreates the worktree \
             from the run branch) and continues"
        ),
        FailureCategory::SetupFailed => format!(
            "see runs/{run_id}/logs/setup.log; fix the setup list in orx.yaml, then `orx resume \
             {run_id}`"
        ),
        FailureCategory::GateCannotStart => format!(
            "fix the gate in orx.yaml as said (`orx doctor` checks every gate), then `orx resume \
             {run_id}`"
        ),
        FailureCategory::BaselineNotClean => format!(
            "see runs/{run_id}/artifacts/baseline.gates.json; make the gate pass on the base \
             branch, or set `baseline: compare` on it so items pass when they add no new \
             failure, then `orx resume {run_id}`"
        ),
        FailureCategory::NoBacklog => {
            format!("`orx resume {run_id} --from decompose` makes the backlog again")
        }
        _ => format!(
            "see `orx logs {run_id}`{}; fix the cause, then `orx resume {run_id}` (a failed stage \
             restarts with a fresh attempt budget)",
            if items_failed {
                format!(" and runs/{run_id}/artifacts/*.evidence.md")
            } else {
                String::new()
            }
        ),
    }
}
