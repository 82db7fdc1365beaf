//! A new run: checks the request, assembles the run folder out of sight and moves it into place
//! with its lock held, adds the worktree, writes the context files and runs the setup commands.

use std::path::PathBuf;

use super::{Engine, Parts, RunOutcome, RunRequest, drive, finish, repo_git, run_redactor};
use crate::config::{Config, resolve_routing};
use crate::git::Git;
use crate::pipeline::{PipelineDef, PipelineError, RunCtx, RunEnv};
use crate::process::ProcessSpec;
use crate::prompt::Prompts;
use crate::protocol::{
    Event, EventBody, Failure, Meta, PROTOCOL_VERSION, RunState, RunStatus, ToolVersions,
    now_rfc3339, summarize_task,
};
use crate::redact::Redactor;
use crate::run::{RunDir, RunFiles, RunLock, Store, new_run_id};
use crate::{Error, Result, RunError};

/// What a new run is, once the request checked out.
struct Plan {
    repo: PathBuf,
    def: PipelineDef,
    base_branch: String,
    base_sha: String,
    config: Config,
    id: String,
    /// With `include_dirty`: the commit of the checkout's uncommitted state, on the base.
    dirty_commit: Option<String>,
    /// The run's branch: its own, or the one of the run it follows up.
    branch: String,
    /// The run's worktree: its own, or the one of the run it follows up.
    worktree: PathBuf,
}

pub(super) fn start(engine: &Engine, req: RunRequest) -> Result<RunOutcome> {
    let plan = check(&req)?;
    let routing = resolve_routing(&plan.config, &req.overrides);
    // A gate that cannot start is a configuration problem no agent can fix: said before
    // anything is made (the baseline checks again in the worktree).
    let verifies = plan
        .def
        .stages
        .iter()
        .any(|s| crate::pipeline::stage_by_name(s).is_some_and(|st| st.verifies()));
    if verifies {
        let broken: Vec<(String, String)> = plan
            .config
            .gates
            .iter()
            .filter(|g| g.enabled)
            .filter_map(|g| {
                let p = crate::gate::CommandProblem::check(g, &plan.repo)?;
                Some((g.name.clone(), p.fix(g)))
            })
            .collect();
        if !broken.is_empty() {
            return Err(PipelineError::GatesCannotStart(broken).into());
        }
    }
    if engine.fake.is_none() {
        let missing = crate::agent::missing_agents(&plan.config, &routing, &plan.def.stages);
        if !missing.is_empty() {
            return Err(PipelineError::AgentsMissing(missing).into());
        }
    }
    let router = engine.router(&req.config, routing.clone(), &plan.repo)?;
    let redactor = run_redactor(&req.config);
    let dir = RunDir::new(Store::new(&plan.repo).runs_root(), &plan.id);
    let worktree = plan.worktree.clone();
    let meta = meta(&req, &plan, routing, &worktree, &redactor);
    let state = state(&plan, &worktree);
    // The lock is held until the run ends: it is taken before the folder becomes visible, so
    // `orx clean` never sees this run without a live driver.
    let (_lock, state) = make_folder(&plan, &dir, &req.task, &meta, state, &redactor)?;
    if let Some(earlier) = &req.follows {
        link_followup(&Store::new(&plan.repo).dir(earlier), &plan.id)?;
    }
    let files = RunFiles::new(dir.clone(), redactor.clone());
    let events = engine.sink(&files);
    let branch = &meta.branch;
    events.emit(Event::new(
        EventBody::RunStarted {
            run_id: plan.id.clone(),
            pipeline: plan.def.id.clone(),
            stages: plan.def.stages.clone(),
        },
        format!(
            "run {} started on {branch} from {} ({}){}",
            plan.id,
            plan.base_branch,
            &plan.base_sha[..plan.base_sha.len().min(10)],
            if plan.dirty_commit.is_some() {
                " with the checkout's uncommitted changes as its first commit"
            } else {
                ""
            }
        ),
    ));
    let parts = Parts {
        repo_git: repo_git(&plan.repo, &dir, &redactor),
        env: RunEnv {
            dir,
            repo: plan.repo.clone(),
            worktree,
            task: req.task,
            prompts: Prompts::new(&plan.repo),
            stages: plan.def.stages.clone(),
            config: plan.config,
            files,
            cancel: engine.cancel.clone(),
        },
        state,
        meta,
        router,
        events,
    };
    let (mut cx, repo_git) = parts.into_ctx();
    if let Some(commit) = &plan.dirty_commit {
        // The run's branch starts at the commit of the checkout's uncommitted state.
        let made = repo_git.run(&["branch", &format!("orx/{}", plan.id), commit]);
        if let Err(e) = made {
            return fail_before_stages(&mut cx, e);
        }
    }
    if let Err(e) = prepare_worktree(&mut cx, &repo_git) {
        return fail_before_stages(&mut cx, e);
    }
    drive::drive(&mut cx)
}

/// Everything that can be checked before the run exists.
fn check(req: &RunRequest) -> Result<Plan> {
    let repo = Git::toplevel(&req.dir)?;
    let def = PipelineDef::find(&repo, &req.pipeline)?;
    let git = Git::new(&repo);
    let base_branch = base_branch(req, &git)?;
    let base_sha = git.check_base(&base_branch)?;
    let dirty_commit = if req.include_dirty {
        if git.head()? != base_sha {
            return Err(PipelineError::DirtyNotOnBase { base: base_branch }.into());
        }
        git.snapshot_commit("orx: the checkout's uncommitted changes at the start of the run")?
    } else {
        None
    };
    let mut config = req.config.config.clone();
    def.apply(&mut config);
    // The repository's own prompt templates are checked before anything is made.
    if Prompts::new(&repo).has_overrides() {
        super::render::render_prompts(&repo, &def, &config, &req.task)?;
    }
    if let Some(id) = &req.run_id
        && !crate::run::is_valid_run_id(id)
    {
        return Err(RunError::InvalidId { id: id.clone() }.into());
    }
    git.ensure_excluded()?;
    let id = req.run_id.clone().unwrap_or_else(new_run_id);
    if RunDir::new(Store::new(&repo).runs_root(), &id)
        .root()
        .exists()
    {
        return Err(RunError::AlreadyExists { id }.into());
    }
    if let Some(earlier) = &req.follows {
        // A follow-up works on the branch and worktree of the run it follows: its diff is what
        // it adds on top, and its pull request is that run's.
        let (meta, head) = followed(&repo, &git, earlier)?;
        return Ok(Plan {
            repo,
            def,
            base_branch: meta.base_branch,
            base_sha: head,
            config,
            id,
            dirty_commit,
            branch: meta.branch,
            worktree: PathBuf::from(meta.worktree),
        });
    }
    // A new run owns a new branch: an existing one would carry foreign commits into its diff.
    let branch = format!("orx/{id}");
    if git.resolve(&format!("refs/heads/{branch}"))?.is_some() {
        return Err(RunError::BranchExists { id, branch }.into());
    }
    Ok(Plan {
        worktree: repo.join(".worktrees").join(&id),
        repo,
        def,
        base_branch,
        base_sha,
        config,
        id,
        dirty_commit,
        branch,
    })
}

/// The run `earlier` a follow-up continues, and its branch's last commit: it must have ended,
/// no other follow-up of it may be going, and its branch must still exist.
fn followed(repo: &std::path::Path, git: &Git, earlier: &str) -> Result<(Meta, String)> {
    let store = Store::new(repo);
    let dir = store.open(earlier)?;
    let meta = Meta::load(&dir.meta())?;
    for id in std::iter::once(earlier).chain(meta.followed_by.iter().map(String::as_str)) {
        let status = store.summary(id).status;
        if status.is_active() || status == crate::protocol::Observed::Waiting {
            return Err(RunError::FollowsLiveRun {
                id: id.to_string(),
                status,
            }
            .into());
        }
    }
    let head = git
        .resolve(&format!("refs/heads/{}", meta.branch))?
        .ok_or_else(|| RunError::NoBranchToFollow {
            id: earlier.to_string(),
            branch: meta.branch.clone(),
        })?;
    Ok((meta, head))
}

/// Records in the earlier run's meta.json that run `id` follows it up.
fn link_followup(earlier: &RunDir, id: &str) -> Result<()> {
    let mut meta = Meta::load(&earlier.meta())?;
    if !meta.followed_by.iter().any(|f| f == id) {
        meta.followed_by.push(id.to_string());
        crate::fsutil::atomic_write_json(&earlier.meta(), &meta)?;
    }
    Ok(())
}

pub(super) fn base_branch(req: &RunRequest, git: &Git) -> Result<String> {
    let configured = req
        .base_branch
        .clone()
        .or_else(|| {
            req.config
                .config
                .git
                .base_branch
                .as_ref()
                .map(|b| b.to_string())
        })
        .filter(|b| !b.is_empty());
    Ok(match configured {
        Some(b) => b,
        // A detached HEAD: the run starts from its commit, recorded as such.
        None => match git.current_branch()? {
            Some(b) => b,
            None => git.head()?,
        },
    })
}

fn meta(
    req: &RunRequest,
    plan: &Plan,
    routing: crate::config::RoutingTable,
    worktree: &std::path::Path,
    redactor: &Redactor,
) -> Meta {
    Meta {
        version: PROTOCOL_VERSION,
        run_id: plan.id.clone(),
        task_summary: redactor.redact(&summarize_task(&req.task, 120)),
        repo: plan.repo.display().to_string(),
        base_branch: plan.base_branch.clone(),
        base_sha: plan.base_sha.clone(),
        branch: plan.branch.clone(),
        worktree: worktree.display().to_string(),
        engine: req
            .overrides
            .engine
            .unwrap_or(plan.config.engine.kind)
            .to_string(),
        pipeline: plan.def.id.clone(),
        routing,
        // Absolute, so a resume from another folder finds it again.
        config_file: req.config.path.as_ref().map(|p| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        }),
        tool_versions: ToolVersions {
            orx: env!("CARGO_PKG_VERSION").into(),
            git: Git::version(),
        },
        pid: std::process::id(),
        started_at: now_rfc3339(),
        ended_at: None,
        status: RunStatus::Running,
        pr_url: None,
        issue: req.issue.clone(),
        follows: req.follows.clone(),
        followed_by: Vec::new(),
    }
}

fn state(plan: &Plan, worktree: &std::path::Path) -> RunState {
    let mut state = RunState::new(&plan.id, &plan.def.id, &plan.def.stages);
    state.base_sha = Some(plan.base_sha.clone());
    state.branch = Some(plan.branch.clone());
    state.worktree = Some(worktree.display().to_string());
    state.status = RunStatus::Running;
    state.budget = plan.config.budget.limits();
    state
}

/// The run folder is assembled under a hidden name, with its lock taken, and renamed into place,
/// so a crash never leaves a run folder without its meta.json and state.json, and no run folder
/// is ever visible without its driver.
fn make_folder(
    plan: &Plan,
    dir: &RunDir,
    task: &str,
    meta: &Meta,
    mut state: RunState,
    redactor: &Redactor,
) -> Result<(RunLock, RunState)> {
    let staging = RunDir::new(
        dir.root().parent().unwrap_or(dir.root()),
        &format!(".new-{}", plan.id),
    );
    if staging.root().exists() {
        fs_err::remove_dir_all(staging.root())?;
    }
    staging.create()?;
    let staged = RunFiles::new(staging.clone(), redactor.clone());
    staged.save_meta(meta)?;
    staged.input("task.md", task)?;
    staged.text(&staging.context("pipeline.yaml"), &plan.def.to_yaml()?)?;
    staged.save_state(&mut state, true)?;
    let mut lock = RunLock::acquire(&staging.lock(), &plan.id)?;
    fs_err::rename(staging.root(), dir.root())?;
    lock.moved_to(dir.lock());
    Ok((lock, state))
}

/// Creates the worktree (unless it exists), writes the context files and runs `setup`; the
/// checkpoint records it done, so a resume repeats it only when it did not finish.
pub(super) fn prepare_worktree(cx: &mut RunCtx, repo_git: &Git) -> Result<()> {
    if !cx.env.worktree.exists() {
        if let Some(parent) = cx.env.worktree.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let state = cx.cp.state();
        let branch = state.branch.clone().unwrap_or_default();
        let base = state.base_sha.clone().unwrap_or_default();
        repo_git.worktree_add(&cx.env.worktree, &branch, &base)?;
        crate::fault::point("setup:after_worktree");
    }
    let ctx_files = crate::context::build(&cx.env.worktree, &cx.env.config);
    for (name, text) in [
        ("project_map.md", &ctx_files.project_map),
        ("tooling_snapshot.md", &ctx_files.tooling_snapshot),
        ("verify_commands.md", &ctx_files.verify_commands),
    ] {
        cx.env.files.text(&cx.env.dir.context(name), text)?;
    }
    run_setup(cx)?;
    cx.cp.state_mut().setup_done = true;
    cx.cp.save()
}

fn run_setup(cx: &mut RunCtx) -> Result<()> {
    let env = &cx.env;
    let log = env.dir.log("setup.log");
    for (i, cmd) in env.config.setup.iter().enumerate() {
        let mut spec = ProcessSpec::new(
            cmd.command.to_string(),
            cmd.args.iter().map(|a| a.to_string()),
        );
        spec.cwd = Some(env.worktree.clone());
        spec.timeout = Some(std::time::Duration::from_secs(cmd.timeout.get()));
        spec.stdout_log = Some(log.clone());
        spec.stderr_log = Some(log.clone());
        spec.log_limit = Some(crate::gate::LOG_LIMIT);
        spec.redactor = Some(env.files.redactor().clone());
        spec.ledger = Some(env.ledger());
        let args: Vec<&str> = cmd.args.iter().map(|a| a.as_str()).collect();
        env.files
            .append_line(&log, &format!("$ {} {}", cmd.command, args.join(" ")))?;
        let out = crate::process::run(&spec, &env.cancel, &mut |_, _| {})?;
        if !out.success() {
            return Err(PipelineError::SetupFailed {
                index: i + 1,
                command: cmd.command.to_string(),
                how: out.termination.to_string(),
            }
            .into());
        }
    }
    Ok(())
}

/// Records a failure that happened before the first stage and ends the run as failed.
pub(super) fn fail_before_stages(cx: &mut RunCtx, e: Error) -> Result<RunOutcome> {
    if matches!(e, Error::Cancelled) {
        if cx.env.cancel.hung_up() {
            return finish::interrupted(cx);
        }
        return finish::finish(cx, RunStatus::Cancelled);
    }
    cx.cp.state_mut().last_failure = Some(Failure {
        stage: "setup".into(),
        item: None,
        category: finish::error_category(&e),
        message: e.to_string(),
        evidence: None,
    });
    finish::finish(cx, RunStatus::Failed)
}
