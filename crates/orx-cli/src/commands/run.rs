//! `orx run` and `orx resume`.

use std::io::Read;

use crate::command_error::{CommandError, Exit, Outcome};
use orx_core::cancel::CancelToken;
use orx_core::config::{ExecutorKind, Overrides, StageOverride};
use orx_core::launch::{LaunchError, Launcher, RunSpec};
use orx_core::pipeline::{Engine, ResumeRequest, RunOutcome, RunRequest, dry_run};
use orx_core::protocol::Decision;
use orx_core::run::{ItemStatus, RunStatus};

use super::Env;
use crate::render::{duration, table};
use clap::Args;

/// `orx run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task: text, @path (a file, relative to the current directory), or - (stdin). With
    /// --issue, what to add to the issue (optional).
    #[arg(value_name = "TASK", required_unless_present = "issue")]
    pub task: Option<String>,
    /// Work on a GitHub issue: its number in this repository's GitHub remote (git.remote) or
    /// its URL. The task is the issue's title, body, labels and comments, read with `gh`; the
    /// pull request the run opens says `Closes #N`.
    #[arg(long, value_name = "N|URL")]
    pub issue: Option<String>,
    /// The issue a detached run's task came from (set by orx for its own driver).
    #[arg(long, hide = true, value_name = "JSON", conflicts_with = "issue")]
    pub linked_issue: Option<String>,
    /// The run this one follows up (set by `orx followup` for its driver).
    #[arg(long, hide = true, value_name = "RUN")]
    pub follows: Option<String>,
    /// The task, already read (`orx followup` composes it).
    #[arg(skip)]
    pub composed_task: Option<String>,
    /// The executor for every stage.
    #[arg(long, value_name = "ENGINE", value_parser = ENGINES)]
    pub engine: Option<String>,
    /// The model for every stage.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// One role's executor and model, e.g. `--stage review=claude:claude-sonnet-4` or
    /// `--stage plan=:gpt-5` (repeatable; wins over --engine/--model for that role).
    #[arg(long, value_name = "ROLE=EXECUTOR[:MODEL]", add = crate::complete::role_routes())]
    pub stage: Vec<String>,
    /// The branch to start from (default: git.base_branch, else the current branch).
    #[arg(long, value_name = "BRANCH")]
    pub base_branch: Option<String>,
    /// Start from the checkout as it is, uncommitted changes included (they become the run's
    /// first commit); without it, they are left out and orx says so.
    #[arg(long)]
    pub include_dirty: bool,
    /// Pipeline id (standard, fast_fix, plan_only, or one in .orx/pipelines/) or a YAML file.
    #[arg(long, value_name = "ID|FILE", default_value = "standard", add = crate::complete::pipelines())]
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

/// `orx followup`.
#[derive(Debug, Args)]
pub struct FollowupArgs {
    /// The run to follow up: its id, `last` (the newest), or a unique start or end of its id.
    #[arg(add = crate::complete::runs())]
    pub run_id: String,
    /// What to do now: text, @path (a file), or - (stdin).
    #[arg(value_name = "TEXT")]
    pub text: String,
    /// Add the pull request's unresolved review comments (file, lines, text, author), read
    /// with `gh`.
    #[arg(long)]
    pub pr_comments: bool,
    /// Pipeline id (standard, fast_fix, …) or a YAML file.
    #[arg(long, value_name = "ID|FILE", default_value = "standard", add = crate::complete::pipelines())]
    pub pipeline: String,
    /// The executor for every stage.
    #[arg(long, value_name = "ENGINE", value_parser = ENGINES)]
    pub engine: Option<String>,
    /// The model for every stage.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Print the routing table, gates and prompts that would be used; touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run in the background and print the run id.
    #[arg(long, conflicts_with = "dry_run")]
    pub detach: bool,
    /// Print the final result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `orx followup`: a new run on the branch and worktree of an ended run, whose task is the
/// new text (and the pull request's review comments) with the earlier run's task, spec and
/// review.
pub fn followup(env: &Env, args: FollowupArgs) -> Outcome {
    let json = args.json;
    let prepared = (|| {
        let repo = env.repo()?;
        let store = orx_core::run::Store::new(&repo);
        let id = store.resolve(&args.run_id)?;
        let text = read_task(&args.text)?;
        let comments = if args.pr_comments {
            let config = env.config(&repo)?;
            pr_comments(&repo, &config, &store.dir(&id))?
        } else {
            Vec::new()
        };
        let task = orx_core::run::followup::task(&store.dir(&id), &text, &comments);
        Ok::<_, CommandError>((id, task))
    })();
    let (id, task) = match prepared {
        Ok(p) => p,
        Err(e) => return as_json(env, json, Err(e)),
    };
    run(
        env,
        RunArgs {
            task: None,
            issue: None,
            linked_issue: None,
            engine: args.engine,
            model: args.model,
            stage: Vec::new(),
            base_branch: None,
            include_dirty: false,
            pipeline: args.pipeline,
            dry_run: args.dry_run,
            detach: args.detach,
            run_id: None,
            json,
            follows: Some(id),
            composed_task: Some(task),
        },
    )
}

/// The unresolved review comments of the pull request of the run in `dir`.
fn pr_comments(
    repo: &std::path::Path,
    config: &orx_core::config::LoadedConfig,
    dir: &orx_core::run::RunDir,
) -> Result<Vec<orx_core::protocol::ReviewComment>, CommandError> {
    use orx_core::git::github::{GitHub, GitHubError, pull_request_number};
    let meta = orx_core::protocol::Meta::load(&dir.meta())?;
    let hub = GitHub::of_checkout(repo, &config.config.git.remote.to_string())?;
    let number = match meta.pr_url.as_deref().and_then(pull_request_number) {
        Some(n) => n,
        None => hub
            .open_pull_request_of(&meta.branch)
            .map_err(orx_core::Error::from)?
            .map(|pr| pr.number)
            .ok_or_else(|| {
                orx_core::Error::from(GitHubError::NotFound {
                    what: format!("a pull request from {}", meta.branch),
                    repo: hub.repo().to_string(),
                })
            })?,
    };
    Ok(hub.review_comments(number).map_err(orx_core::Error::from)?)
}

/// `orx reject`.
#[derive(Debug, Args)]
pub struct RejectArgs {
    /// The run: its id, `last` (the newest), or a unique start or end of its id.
    #[arg(add = crate::complete::runs())]
    pub run_id: String,
    /// What to change: the stage runs again with it in its prompt (kept in decisions.md).
    pub feedback: String,
}

/// `orx approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The run: its id, `last` (the newest), or a unique start or end of its id.
    #[arg(add = crate::complete::runs())]
    pub run_id: String,
    /// Add this many USD to the run's budget limits (budget.run_usd and budget.day_usd).
    #[arg(long, value_name = "USD")]
    pub add_usd: Option<f64>,
    /// Add this many tokens to the run's token limit (budget.run_tokens).
    #[arg(long, value_name = "N")]
    pub add_tokens: Option<u64>,
    /// Print the final result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The engines `--engine` takes (clap completes them and suggests the nearest for a typo).
pub const ENGINES: [&str; 7] = [
    "codex",
    "claude",
    "gemini",
    "cursor",
    "copilot",
    "claude_code",
    "fake",
];

/// `orx resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run: its id, `last` (the newest), or a unique start or end of its id.
    #[arg(add = crate::complete::runs())]
    pub run_id: String,
    /// Restart at this stage (and run every later one again).
    #[arg(long, value_name = "STAGE", add = crate::complete::stages())]
    pub from: Option<String>,
    /// Print the final result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A cancel token set by SIGINT/SIGTERM (`orx cancel` sends SIGTERM). The first signal asks the
/// run to stop (the child's group is stopped, the checkpoint written); a second one kills every
/// child process group at once, gives the run a moment to write its checkpoint (so it reads
/// `cancelled` like after one signal), and exits with 130.
pub fn signal_token() -> CancelToken {
    let token = CancelToken::new();
    let flag = token.clone();
    // Without a handler (registration failed), the default action still stops orx.
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ]) {
        std::thread::spawn(move || {
            for signal in signals.forever() {
                // The terminal went away: the run is interrupted (resumable), not cancelled.
                if signal == signal_hook::consts::SIGHUP && !flag.is_cancelled() {
                    flag.hang_up();
                    continue;
                }
                if flag.is_cancelled() {
                    orx_core::process::kill_active_groups();
                    std::thread::spawn(|| {
                        std::thread::sleep(std::time::Duration::from_secs(3));
                        std::process::exit(i32::from(Exit::Interrupted.code()));
                    });
                    continue;
                }
                flag.cancel();
            }
        });
    }
    token
}

/// The GitHub issue `given` names (a number in the repository's GitHub remote, or a URL), read
/// with gh before anything is made.
fn read_issue(
    repo: &std::path::Path,
    config: &orx_core::config::LoadedConfig,
    given: &str,
) -> Result<orx_core::git::github::Issue, CommandError> {
    use orx_core::git::github::{GitHub, IssueRef};
    let wanted = IssueRef::parse(given).map_err(orx_core::Error::from)?;
    let remote = config.config.git.remote.to_string();
    let (hub, number) = match wanted {
        IssueRef::Number(n) => (GitHub::of_checkout(repo, &remote)?, n),
        IssueRef::Url(at, n) => (GitHub::new(at, repo), n),
    };
    Ok(hub.issue(number).map_err(orx_core::Error::from)?)
}

fn read_task(task: &str) -> Result<String, CommandError> {
    let text = if task == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else if let Some(path) = task.strip_prefix('@')
        && (std::path::Path::new(path).exists() || !path.contains(char::is_whitespace))
    {
        // `@file` names a file; a task that merely starts with @ ("@mention …") is text.
        std::fs::read_to_string(path).map_err(|e| {
            CommandError::usage(
                format!("cannot read the task file `{path}`: {e}"),
                "give @ a readable UTF-8 text file, the task as text, or - to read stdin (a \
                 one-word task that starts with @ reads well from stdin)",
            )
        })?
    } else {
        task.to_string()
    };
    if text.trim().is_empty() {
        return Err(CommandError::usage(
            "the task is empty",
            "give the task as text, @file or - (stdin)",
        ));
    }
    Ok(text)
}

fn overrides(args: &RunArgs) -> Result<Overrides, CommandError> {
    let engine = match &args.engine {
        None => None,
        Some(e) => Some(ExecutorKind::parse(e).ok_or_else(|| {
            CommandError::usage(
                format!("unknown engine `{e}`"),
                "engines: codex, gemini, claude (or claude_code), cursor, copilot, fake",
            )
        })?),
    };
    let mut stages = std::collections::BTreeMap::new();
    for text in &args.stage {
        let (role, o) = StageOverride::parse(text).map_err(|e| {
            CommandError::usage(
                format!("--stage {e}"),
                "write --stage ROLE=EXECUTOR[:MODEL], e.g. --stage review=claude:claude-sonnet-4",
            )
        })?;
        stages.insert(role, o);
    }
    Ok(Overrides {
        engine,
        model: args.model.clone(),
        stages,
    })
}

/// With `--json`, an error is JSON too, on stdout: what a script reads.
fn as_json(env: &Env, json: bool, outcome: Outcome) -> Outcome {
    match outcome {
        Err(e) if json => {
            env.printer.json(&serde_json::json!({
                "error": e.message, "hints": e.hints, "exit_code": e.exit.code(),
            }));
            Ok(e.exit)
        }
        other => other,
    }
}

/// `orx run`.
pub fn run(env: &Env, args: RunArgs) -> Outcome {
    let json = args.json;
    as_json(env, json, run_task(env, args))
}

fn run_task(env: &Env, args: RunArgs) -> Outcome {
    let given = match &args.composed_task {
        Some(t) => Some(t.clone()),
        None => args.task.as_deref().map(read_task).transpose()?,
    };
    let repo = env.repo()?;
    let config = env.config(&repo)?;
    let (task, issue) = match (&args.issue, &args.linked_issue) {
        (Some(issue), _) => {
            let issue = read_issue(&repo, &config, issue)?;
            (issue.task(given.as_deref()), Some((&issue).into()))
        }
        (None, Some(json)) => (
            given.unwrap_or_default(),
            Some(serde_json::from_str(json).map_err(|e| {
                CommandError::usage(
                    format!("--linked-issue is not an issue link: {e}"),
                    "leave it out: orx sets it for its own driver",
                )
            })?),
        ),
        (None, None) => (given.unwrap_or_default(), None),
    };
    let req = RunRequest {
        dir: repo.clone(),
        task,
        config,
        overrides: overrides(&args)?,
        pipeline: args.pipeline.clone(),
        base_branch: args.base_branch.clone(),
        run_id: args.run_id.clone(),
        include_dirty: args.include_dirty,
        issue,
        follows: args.follows.clone(),
    };
    // Said once the run (or the dry run) got going, not before an error that stops it.
    let scripted = uses_scripted_default(&req);
    let ran = if args.dry_run { "would run" } else { "ran" };
    let warn = |code: Exit| {
        if scripted {
            env.printer.warn(&format!(
                "no orx.yaml here: stages {ran} with the built-in scripted agent, which makes a \
                 placeholder change (no AI). Run `orx init` to write a config for a real agent, \
                 or pass --engine codex|claude|gemini|cursor|copilot"
            ));
        }
        code
    };
    if !args.json {
        say_what_is_left_out(env, &req);
    }
    if args.dry_run {
        return print_dry_run(env, &req, args.json).map(warn);
    }
    if args.detach {
        return detach(env, &req, &args).map(warn);
    }
    let mut engine = Engine::new(signal_token());
    // --json prints the result only.
    let bar = if args.json {
        None
    } else {
        attach_progress(env, &mut engine)
    };
    let outcome = engine.start(req);
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    report(env, outcome?, args.json).map(warn)
}

/// Before the run starts: uncommitted changes the run leaves out (or takes along), and a
/// detached HEAD it starts from.
fn say_what_is_left_out(env: &Env, req: &RunRequest) {
    let git = orx_core::git::Git::new(&req.dir);
    // orx's own files (the config, .orx/ prompts and pipelines) are read from the checkout:
    // they count as they are.
    let config = req
        .config
        .path
        .as_ref()
        .and_then(|p| p.strip_prefix(&req.dir).ok())
        .map(|p| p.display().to_string());
    let dirty: Vec<String> = git
        .uncommitted()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| Some(f) != config.as_ref() && !f.starts_with(".orx/"))
        .collect();
    if !dirty.is_empty() {
        let mut shown = dirty.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        if dirty.len() > 5 {
            shown.push_str(&format!(" and {} more", dirty.len() - 5));
        }
        let n = dirty.len();
        let (s, are, go, them) = if n == 1 {
            ("", "is", "goes", "it")
        } else {
            ("s", "are", "go", "them")
        };
        if req.include_dirty {
            env.printer.info(&format!(
                "the checkout's {n} uncommitted change{s} ({shown}) {go} along as the run's \
                 first commit"
            ));
        } else {
            env.printer.warn(&format!(
                "{n} uncommitted change{s} in the checkout ({shown}) {are} not in the run: it \
                 starts from the last commit. Commit {them}, or pass --include-dirty to take \
                 {them} along"
            ));
        }
    }
    let explicit = req.base_branch.is_some() || req.config.config.git.base_branch.is_some();
    if !explicit && matches!(git.current_branch(), Ok(None)) {
        let head = git.head().unwrap_or_default();
        env.printer.warn(&format!(
            "HEAD is detached (at {}): the run starts from that commit; pass --base-branch \
             to start from a branch (`orx apply` lands a run on its base branch)",
            &head[..head.len().min(10)]
        ));
    }
}

/// Without an orx.yaml, the stages fall to the built-in scripted agent: a run "succeeds" with a
/// placeholder change, which a newcomer could take for an agent's work. Say so.
fn uses_scripted_default(req: &RunRequest) -> bool {
    req.config.path.is_none()
        && orx_core::config::resolve_routing(&req.config.config, &req.overrides)
            .routes
            .iter()
            .any(|r| r.executor == orx_core::config::ExecutorKind::Fake)
}

/// `orx resume`.
pub fn resume(env: &Env, args: ResumeArgs) -> Outcome {
    let json = args.json;
    as_json(env, json, resume_run(env, args))
}

fn resume_run(env: &Env, args: ResumeArgs) -> Outcome {
    continue_run(env, args, orx_core::protocol::BudgetRaise::default(), None)
}

/// `orx reject`: the stage that waits for approval runs again, with the feedback.
pub fn reject(env: &Env, args: RejectArgs) -> Outcome {
    let how = orx_core::protocol::Continue::Reject(args.feedback);
    continue_waiting(env, &args.run_id, how, false)
}

/// `orx approve`: a waiting run goes on, with what the person adds to its budget.
pub fn approve(env: &Env, args: ApproveArgs) -> Outcome {
    let json = args.json;
    let how = orx_core::protocol::Continue::Approve(orx_core::protocol::BudgetRaise {
        usd: args.add_usd.unwrap_or(0.0),
        tokens: args.add_tokens.unwrap_or(0),
    });
    as_json(env, json, continue_waiting(env, &args.run_id, how, json))
}

/// A waiting run continued as a person decided (approve, raise, reject): refused, with the
/// command to type instead, when the run does not wait for that.
fn continue_waiting(
    env: &Env,
    run_id: &str,
    how: orx_core::protocol::Continue,
    json: bool,
) -> Outcome {
    use orx_core::protocol::{Continue, Refusal};
    let repo = env.repo()?;
    let store = orx_core::run::Store::new(&repo);
    let dir = store.find(run_id)?;
    let id = dir.id().to_string();
    let state = orx_core::protocol::RunState::load(&dir.state())?;
    let decision = state.decide(&how).map_err(|r| match r {
        Refusal::NotWaiting(_) if matches!(how, Continue::Reject(_)) => CommandError::usage(
            format!("run {id} does not wait for an approval"),
            format!("`orx status {id}` says what it waits for"),
        ),
        Refusal::NotWaiting(_) => CommandError::usage(
            format!(
                "run {id} is not waiting (status: {})",
                store.summary(&id).status
            ),
            format!("`orx resume {id}` continues a failed, cancelled or interrupted run"),
        ),
        Refusal::NeedsRaise { why } => CommandError::usage(
            format!(
                "run {id} waits because {}",
                why.unwrap_or_else(|| "its budget is reached".into())
            ),
            format!("raise its limit to go on: `orx approve {id} --add-usd 1` (or --add-tokens N)"),
        ),
        Refusal::NoApproval => CommandError::usage(
            format!("run {id} does not wait for an approval"),
            format!("`orx status {id}` says what it waits for"),
        ),
        Refusal::NoFeedback { stage } => CommandError::usage(
            format!("the {stage} stage cannot be run again with feedback"),
            format!(
                "approve it (`orx approve {id}`), or change the worktree yourself and `orx resume \
                 {id} --from {stage}`"
            ),
        ),
        Refusal::EmptyFeedback => CommandError::usage(
            "the feedback is empty",
            format!("say what to change: orx reject {id} \"…\""),
        ),
    })?;
    let raise = match how {
        Continue::Approve(raise) => raise,
        Continue::Reject(_) => orx_core::protocol::BudgetRaise::default(),
    };
    let resume = ResumeArgs {
        run_id: id,
        from: None,
        json,
    };
    continue_run(env, resume, raise, decision)
}

fn continue_run(
    env: &Env,
    mut args: ResumeArgs,
    raise: orx_core::protocol::BudgetRaise,
    decision: Option<Decision>,
) -> Outcome {
    let repo = env.repo()?;
    args.run_id = orx_core::run::Store::new(&repo).resolve(&args.run_id)?;
    let config = resume_config(env, &repo, &args.run_id)?;
    let mut engine = Engine::new(signal_token());
    let bar = if args.json {
        None
    } else {
        attach_progress(env, &mut engine)
    };
    let outcome = engine.resume(ResumeRequest {
        dir: repo,
        run_id: args.run_id,
        config,
        from: args.from,
        raise,
        decision,
    });
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    report(env, outcome?, args.json)
}

/// The config a resumed run goes on with: --config when given; otherwise the file the run started
/// with (meta.json's `config_file`) when that was not the repository's orx.yaml and still exists,
/// so `orx run --config other.yaml` resumes with other.yaml, not with orx.yaml.
fn resume_config(
    env: &Env,
    repo: &std::path::Path,
    run_id: &str,
) -> orx_core::Result<orx_core::config::LoadedConfig> {
    if env.config_flag.is_some() {
        return env.config(repo);
    }
    let recorded = orx_core::run::Store::new(repo)
        .open(run_id)
        .ok()
        .and_then(|dir| orx_core::run::Meta::load(&dir.meta()).ok())
        .and_then(|meta| meta.config_file)
        .map(std::path::PathBuf::from);
    let default = repo.join("orx.yaml");
    match recorded {
        Some(p) if p != default && p.is_file() => {
            env.printer
                .info(&format!("resuming with the run's config: {}", p.display()));
            Ok(orx_core::config::load_file(&p)?)
        }
        Some(p) if p != default => {
            env.printer.warn(&format!(
                "the run started with the config {}, which is gone: resuming with the \
                 repository's (pass --config to choose)",
                p.display()
            ));
            env.config(repo)
        }
        _ => env.config(repo),
    }
}

pub(crate) fn attach_progress(env: &Env, engine: &mut Engine) -> Option<indicatif::ProgressBar> {
    let (l, bar) = crate::progress::listener(env.printer)?;
    engine.listen(l);
    bar
}

fn detach(env: &Env, req: &RunRequest, args: &RunArgs) -> Outcome {
    // Everything that can be checked before the run exists is checked here, so a detached run
    // that could never start is an error now rather than an id that leads nowhere.
    dry_run(req)?;
    let id = req.run_id.clone().unwrap_or_else(orx_core::run::new_run_id);
    if !orx_core::run::is_valid_run_id(&id) {
        return Err(CommandError::usage(
            format!("`{id}` is not a valid run id"),
            "leave --run-id out to get a new one",
        ));
    }
    let spec = RunSpec {
        repo: req.dir.clone(),
        run_id: id.clone(),
        task: req.task.clone(),
        overrides: req.overrides.clone(),
        pipeline: Some(args.pipeline.clone()),
        base_branch: args.base_branch.clone(),
        include_dirty: args.include_dirty,
        issue: req.issue.clone(),
        follows: req.follows.clone(),
    };
    let launcher = crate::driver::OrxDriver::launcher(env.config_flag.clone())?;
    launcher.start(&spec).map_err(|e| match e {
        LaunchError::Ended { .. } => {
            CommandError::usage(e.to_string(), "run it without --detach to see why")
        }
        LaunchError::NotStarted { .. } => CommandError::usage(e.to_string(), "check `orx status`"),
        LaunchError::Spawn { program, source } => orx_core::Error::Spawn { program, source }.into(),
        LaunchError::Io(e) => e.into(),
        LaunchError::Core(e) => (*e).into(),
        e @ LaunchError::Refused { .. } => {
            CommandError::usage(e.to_string(), "leave --run-id out to get a new one")
        }
        e => CommandError::usage(e.to_string(), "check `orx status`"),
    })?;
    if args.json {
        env.printer.json(&serde_json::json!({"run_id": id}));
    } else {
        env.printer.result(&id);
        // On stderr: stdout stays the id alone, for scripts.
        env.printer.hint(&format!(
            "it runs in the background: `orx status --follow {id}` watches it, `orx cancel {id}` \
             stops it"
        ));
    }
    Ok(Exit::Ok)
}

fn print_dry_run(env: &Env, req: &RunRequest, json: bool) -> Outcome {
    let d = dry_run(req)?;
    if json {
        env.printer
            .json(&serde_json::to_value(&d).map_err(std::io::Error::other)?);
        return Ok(Exit::Ok);
    }
    let p = &env.printer;
    let base = if d.base_branch.len() == 40 && d.base_branch.chars().all(|c| c.is_ascii_hexdigit())
    {
        format!("{} (a detached HEAD)", &d.base_branch[..10])
    } else {
        d.base_branch.clone()
    };
    p.result(&format!("dry run: nothing was created or changed\n\nrepository:  {}\nbase branch: {base}\npipeline:    {} ({})\n", d.repo.display(), d.pipeline.id, d.pipeline.stages.join(" → ")));
    let rows: Vec<Vec<String>> = d
        .routing
        .routes
        .iter()
        .map(|r| {
            vec![
                r.stage.clone(),
                r.executor.to_string(),
                r.model.clone().unwrap_or_else(|| "(default)".into()),
                r.reasoning_effort.clone().unwrap_or_else(|| "-".into()),
                format!("{}s", r.timeout_secs),
            ]
        })
        .collect();
    p.result(&table(
        &["STAGE", "EXECUTOR", "MODEL", "EFFORT", "TIMEOUT"],
        &rows,
    ));
    p.result("\ngates:");
    if d.gates.is_empty() {
        p.result("  (none configured)");
    }
    for (name, cmd, required, timeout) in &d.gates {
        p.result(&format!(
            "  {name}: {cmd} ({}, timeout {timeout}s)",
            if *required { "required" } else { "optional" }
        ));
    }
    p.result(&spending(&d));
    for (role, prompt) in &d.prompts {
        p.result(&format!(
            "\n===== prompt: {role} =====\n{}",
            prompt.trim_end()
        ));
    }
    warn_missing_agents(env, req, &d);
    for g in req.config.config.gates.iter().filter(|g| g.enabled) {
        if let Some(problem) = orx_core::gate::CommandProblem::check(g, &d.repo) {
            env.printer.warn(&format!(
                "gate `{}` cannot start: {}; the run would not start",
                g.name,
                problem.fix(g)
            ));
        }
    }
    Ok(Exit::Ok)
}

/// The dry run's budget, agent calls and what they may cost, from this repository's past calls.
fn spending(d: &orx_core::pipeline::DryRun) -> String {
    let mut out = String::from("\nbudget:  ");
    match &d.budget {
        None => out.push_str("no limit (set `budget:` in orx.yaml to pause a run at a limit)"),
        Some(b) => {
            let mut parts = Vec::new();
            if let Some(usd) = b.run_usd {
                parts.push(format!("${usd:.2} per run"));
            }
            if let Some(t) = b.run_tokens {
                parts.push(format!("{t} tokens per run"));
            }
            if let Some(usd) = b.day_usd {
                parts.push(format!(
                    "${usd:.2} per day (${:.2} spent today)",
                    d.spent_today
                ));
            }
            out.push_str(&parts.join(" · "));
        }
    }
    let c = d.calls;
    out.push_str(&format!(
        "\ncalls:   {} to {} agent calls (1 to {} backlog items, every fix attempt and review \
         loop at most; retries of transient errors not counted)",
        c.least, c.most, c.max_items
    ));
    out.push_str("\ncost:    ");
    match d.per_call {
        Some(pc) if pc.usd > 0.0 => out.push_str(&format!(
            "about ${:.2} to ${:.2} (${:.4} and {} tokens per call on average over this \
             repository's last {} calls)",
            pc.usd * f64::from(c.least),
            pc.usd * f64::from(c.most),
            pc.usd,
            pc.tokens,
            pc.calls
        )),
        Some(pc) => out.push_str(&format!(
            "unknown: no price for the models of this repository's last {} calls ({} tokens \
             per call on average); set `pricing` in orx.yaml",
            pc.calls, pc.tokens
        )),
        None => out.push_str("unknown until a first run here records what its calls cost"),
    }
    out
}

/// An agent CLI the run needs but PATH does not have: the real run refuses to start. Said now,
/// with the install command.
fn warn_missing_agents(env: &Env, req: &RunRequest, d: &orx_core::pipeline::DryRun) {
    let mut config = req.config.config.clone();
    d.pipeline.apply(&mut config);
    for m in orx_core::agent::missing_agents(&config, &d.routing, &d.pipeline.stages) {
        env.printer.warn(&format!(
            "`{}` is not on PATH (stages: {}): the run would not start; install it: {}, or set \
             executors.{}.bin to its path",
            m.program,
            m.stages.join(", "),
            crate::command_error::install_command(m.executor),
            m.executor
        ));
    }
}

/// The first error an item's evidence lists (the line after `Errors:`).
fn first_error(evidence: &str) -> Option<String> {
    let mut lines = evidence.lines().skip_while(|l| l.trim() != "Errors:");
    lines.next()?;
    let line = lines.next()?.trim().strip_prefix("- ")?;
    Some(crate::term::sanitize(line).chars().take(200).collect())
}

/// Prints how a run ended and returns its exit code.
pub(crate) fn report(env: &Env, o: RunOutcome, json: bool) -> Outcome {
    let orx = env.orx_command(&o.run_dir);
    report_as(env, o, json, &orx)
}

/// [`report`], with the commands it suggests starting with `orx` (how the user calls orx, and
/// `--dir` when the run's repository is not where they are).
pub(crate) fn report_as(env: &Env, o: RunOutcome, json: bool, orx: &str) -> Outcome {
    let code = match o.status {
        RunStatus::Succeeded => Exit::Ok,
        // Running: the driver stopped without ending the run (its terminal closed).
        RunStatus::Cancelled | RunStatus::Running => Exit::Interrupted,
        RunStatus::Waiting => Exit::Waiting,
        _ => Exit::Failed,
    };
    let metrics: Option<orx_core::metrics::RunTotals> =
        orx_core::fsutil::read_json(&o.run_dir.join("metrics").join("run.json")).ok();
    if json {
        env.printer.json(&serde_json::json!({
            "run_id": o.run_id,
            "status": if o.status == RunStatus::Running { "interrupted" } else { o.status.as_str() },
            "run_dir": o.run_dir,
            "worktree": o.worktree, "branch": o.branch, "failure": o.failure,
            "items": o.state.items,
            "duration_secs": metrics.as_ref().map(|m| m.duration_secs),
            "tokens": metrics.as_ref().map(|m| &m.tokens),
            "cost_usd": metrics.as_ref().map(|m| m.cost_usd),
        }));
        return Ok(code);
    }
    let p = &env.printer;
    let took = metrics
        .as_ref()
        .map(|m| format!(" in {}", duration(m.duration_secs)))
        .unwrap_or_default();
    let status = match o.status {
        RunStatus::Succeeded => p.paint("succeeded", "32"),
        RunStatus::Cancelled => p.paint("cancelled", "33"),
        RunStatus::Waiting => p.paint("waiting", "33"),
        RunStatus::Running => p.paint("interrupted", "33"),
        _ => p.paint("failed", "31"),
    };
    p.result(&format!("\nrun {} {status}{took}", o.run_id));
    let items: Vec<String> = o
        .state
        .items
        .iter()
        .map(|i| {
            format!(
                "{} {} ({} attempt{})",
                i.id,
                i.status.as_str(),
                i.attempts,
                if i.attempts == 1 { "" } else { "s" }
            )
        })
        .collect();
    if !items.is_empty() {
        p.result(&format!("  items:    {}", items.join(", ")));
    }
    p.result(&format!("  branch:   {}", o.branch));
    p.result(&format!("  worktree: {}", o.worktree.display()));
    p.result(&format!("  run dir:  {}", o.run_dir.display()));
    if let Some(m) = &metrics {
        p.result(&format!(
            "  tokens:   {} in, {} out; cost ${:.4}",
            m.tokens.input, m.tokens.output, m.cost_usd
        ));
    }
    match o.status {
        RunStatus::Succeeded => p.result(&format!(
            "  next:     {orx} diff {0} · {orx} apply {0} · {orx} status {0}",
            o.run_id
        )),
        RunStatus::Cancelled | RunStatus::Running => {
            p.result(&format!("  resume:   {orx} resume {}", o.run_id))
        }
        RunStatus::Waiting => {
            p.result(&format!(
                "  waits:    {}",
                o.state.waiting_for.clone().unwrap_or_default()
            ));
            if o.state.waiting == Some(orx_core::protocol::WaitReason::Approval) {
                p.result(&format!(
                    "  next:     {orx} approve {0} · {orx} reject {0} \"what to change\"",
                    o.run_id
                ));
            } else {
                p.result(&format!(
                    "  next:     {orx} approve {} --add-usd 1   (raises its limit and goes on)",
                    o.run_id
                ));
            }
        }
        _ => {
            if let Some(f) = &o.failure {
                let items_failed = o.state.items.iter().any(|i| i.status == ItemStatus::Failed);
                // The first error of the failed item's last attempt, so the cause is in sight.
                let first_error = o
                    .state
                    .items
                    .iter()
                    .filter(|i| i.status == ItemStatus::Failed)
                    .find_map(|i| first_error(i.last_evidence.as_deref()?))
                    .map(|e| format!("; first error: {e}"))
                    .unwrap_or_default();
                p.error(
                    &format!("the run failed at {}: {}{first_error}", f.stage, f.message),
                    &[crate::command_error::failure_hint(
                        f.category,
                        &o.run_id,
                        items_failed,
                    )],
                );
            }
        }
    }
    Ok(code)
}
