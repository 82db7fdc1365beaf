//! The engine: prepares a run (folder, lock, worktree, context), walks its pipeline stage by
//! stage with a checkpoint at every transition, and resumes interrupted, cancelled or failed
//! runs from that checkpoint.

use std::path::{Path, PathBuf};

use super::PipelineDef;
use super::ctx::{RunCtx, StageTotals};
use super::stages::{StageOutcome, stage_by_name};
use crate::agent::{FakeAgent, Router};
use crate::cancel::CancelToken;
use crate::config::{LoadedConfig, Overrides, RoutingTable, resolve_routing};
use crate::git::Git;
use crate::metrics::{RunTotals, StageRecord};
use crate::process::GroupLedger;
use crate::prompt::Prompts;
use crate::protocol::{AttemptStatus, FailureCategory};
use crate::redact::Redactor;
use crate::run::{
    Event, EventBody, EventSink, Failure, ItemStatus, Listener, Meta, RunDir, RunFiles, RunLock,
    RunState, RunStatus, StageStatus, Store, ToolVersions, new_run_id, now_rfc3339, summarize_task,
};
use crate::{Error, PipelineError, Result, RunError};

/// A new run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Where orx was started (the repository root is found from here).
    pub dir: PathBuf,
    /// The task.
    pub task: String,
    /// The config.
    pub config: LoadedConfig,
    /// --engine / --model.
    pub overrides: Overrides,
    /// Pipeline id or file.
    pub pipeline: String,
    /// --base-branch.
    pub base_branch: Option<String>,
    /// A run id chosen up front (dashboard, --detach); None: a new one.
    pub run_id: Option<String>,
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
    /// --from STAGE.
    pub from: Option<String>,
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
    /// The checkpoint at the end.
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

    /// Starts a new run and drives it to its end. Once the run folder exists, every failure is
    /// recorded in it and returned as a failed outcome, so the run can be inspected and resumed.
    pub fn start(&self, req: RunRequest) -> Result<RunOutcome> {
        let repo = Git::toplevel(&req.dir)?;
        let def = PipelineDef::find(&repo, &req.pipeline)?;
        let git = Git::new(&repo);
        let base_branch = base_branch_of(&req, &git)?;
        let base_sha = git.check_base(&base_branch)?;
        let mut config = req.config.config.clone();
        def.apply(&mut config);
        let routing = resolve_routing(&config, &req.overrides);
        let router = self.router(&req.config, routing.clone(), &repo)?;
        if let Some(id) = &req.run_id
            && !crate::run::is_valid_run_id(id)
        {
            return Err(RunError::InvalidId { id: id.clone() }.into());
        }
        git.ensure_excluded()?;

        let store = Store::new(&repo);
        let id = req.run_id.clone().unwrap_or_else(new_run_id);
        let dir = RunDir::new(store.runs_root(), &id);
        if dir.root().exists() {
            return Err(RunError::AlreadyExists { id }.into());
        }
        // A new run owns a new branch: an existing one would carry foreign commits into its diff.
        let branch = format!("orx/{id}");
        if git.resolve(&format!("refs/heads/{branch}"))?.is_some() {
            return Err(RunError::BranchExists { id, branch }.into());
        }
        // The run folder is assembled under a hidden name and renamed into place, so a crash
        // never leaves a run folder without its meta.json and state.json.
        let staging = RunDir::new(store.runs_root(), &format!(".new-{id}"));
        if staging.root().exists() {
            fs_err::remove_dir_all(staging.root())?;
        }
        staging.create()?;
        let redactor = run_redactor(&req.config);
        let worktree = repo.join(".worktrees").join(&id);
        let meta = Meta {
            version: crate::protocol::PROTOCOL_VERSION,
            run_id: id.clone(),
            task_summary: redactor.redact(&summarize_task(&req.task, 120)),
            repo: repo.display().to_string(),
            base_branch: base_branch.clone(),
            base_sha: base_sha.clone(),
            branch: branch.clone(),
            worktree: worktree.display().to_string(),
            engine: req
                .overrides
                .engine
                .unwrap_or(config.engine.kind)
                .to_string(),
            pipeline: def.id.clone(),
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
        };
        let staged = RunFiles::new(staging.clone(), redactor.clone());
        staged.save_meta(&meta)?;
        staged.input("task.md", &req.task)?;
        staged.text(&staging.context("pipeline.yaml"), &def.to_yaml()?)?;
        let mut state = RunState::new(&id, &def.id, &def.stages);
        state.base_sha = Some(base_sha.clone());
        state.branch = Some(branch.clone());
        state.worktree = Some(worktree.display().to_string());
        state.status = RunStatus::Running;
        staged.save_state(&mut state, true)?;
        // The lock is taken before the folder becomes visible: `orx clean` never sees this run
        // without a live driver.
        let mut _lock = RunLock::acquire(&staging.lock(), &id)?;
        fs_err::rename(staging.root(), dir.root())?;
        _lock.moved_to(dir.lock());
        let files = RunFiles::new(dir.clone(), redactor.clone());
        let events = self.sink(&files);
        events.emit(Event::new(
            EventBody::RunStarted {
                run_id: id.clone(),
                pipeline: def.id.clone(),
                stages: def.stages.clone(),
            },
            format!(
                "run {id} started on {branch} from {base_branch} ({})",
                &base_sha[..base_sha.len().min(10)]
            ),
        ));
        let git_logged = Git::new(&repo)
            .with_log(Some(dir.log("git.log")))
            .with_redactor(redactor.clone())
            .with_ledger(GroupLedger::new(dir.processes(), dir.id()));
        let mut cx = RunCtx {
            dir,
            repo: repo.clone(),
            worktree: worktree.clone(),
            task: req.task,
            config,
            router,
            git: git_logged.worktree(&worktree),
            events,
            cancel: self.cancel.clone(),
            prompts: Prompts::new(&repo),
            files,
            state,
            meta,
            pipeline_stages: def.stages.clone(),
            stage_usage: StageTotals::default(),
            recorded_itself: false,
        };
        if let Err(e) = prepare_worktree(&mut cx, &git_logged) {
            return fail_before_stages(&mut cx, e);
        }
        drive(&mut cx)
    }

    /// Resumes a run from its checkpoint.
    pub fn resume(&self, req: ResumeRequest) -> Result<RunOutcome> {
        let repo = Git::toplevel(&req.dir)?;
        let store = Store::new(&repo);
        let dir = store.open(&req.run_id)?;
        let _lock = RunLock::acquire(&dir.lock(), &req.run_id)?;
        // A driver killed while appending may have left half a line: it goes before ours.
        for jsonl in [dir.events(), dir.stage_metrics()] {
            crate::fsutil::repair_jsonl_tail(&jsonl)?;
        }
        // What a killed driver left running (an agent's children) ends before anything starts.
        let orphans =
            GroupLedger::new(dir.processes(), dir.id()).end_orphans(crate::process::ORPHAN_GRACE);
        let mut state = RunState::load(&dir.state())?;
        let meta = Meta::load(&dir.meta())?;
        let redactor = run_redactor(&req.config);
        let files = RunFiles::new(dir.clone(), redactor.clone());
        let task = files
            .read_input("task.md")
            .ok_or_else(|| RunError::NoTask {
                id: req.run_id.clone(),
            })?;
        if state.status == RunStatus::Succeeded && req.from.is_none() {
            return Err(RunError::AlreadySucceeded {
                id: req.run_id.clone(),
            }
            .into());
        }
        let mut config = req.config.config.clone();
        // The pipeline's per-stage options, as the run started with them.
        if let Ok(text) = std::fs::read_to_string(dir.context("pipeline.yaml"))
            && let Ok(def) = PipelineDef::parse(&text, "pipeline.yaml")
        {
            def.apply(&mut config);
        }
        let events = self.sink(&files);
        let worktree = PathBuf::from(&meta.worktree);
        let git_logged = Git::new(&repo)
            .with_log(Some(dir.log("git.log")))
            .with_redactor(redactor.clone())
            .with_ledger(GroupLedger::new(dir.processes(), dir.id()));
        clear_stale_branch_locks(&git_logged, &meta.branch);
        if state.setup_done {
            for warning in restore_worktree(&git_logged, &worktree, &meta.branch)? {
                events.emit(Event::warning(warning));
            }
            clear_stale_git_locks(&git_logged, &worktree);
        } else if worktree.exists() {
            // No agent works in a worktree before its setup is done: one a killed start left
            // half made (a checkout cut short) is removed and made again below.
            discard_worktree(&git_logged, &worktree)?;
        }
        prepare_resume(&mut state, &files, req.from.as_deref())?;
        let router = self.router(&req.config, meta.routing.clone(), &repo)?;
        let stages: Vec<String> = state.stages.iter().map(|s| s.name.clone()).collect();
        let mut cx = RunCtx {
            dir,
            repo: repo.clone(),
            worktree: worktree.clone(),
            task,
            config,
            router,
            git: git_logged.worktree(&worktree),
            events,
            cancel: self.cancel.clone(),
            prompts: Prompts::new(&repo),
            files,
            state,
            meta,
            pipeline_stages: stages,
            stage_usage: StageTotals::default(),
            recorded_itself: false,
        };
        cx.meta.ended_at = None;
        cx.meta.status = RunStatus::Running;
        cx.files.save_meta(&cx.meta)?;
        if !orphans.is_empty() {
            cx.emit(Event::warning(format!(
                "ended {} process group(s) the interrupted driver left running: {}",
                orphans.len(),
                orphans
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        cx.emit(Event::new(
            EventBody::RunResumed,
            format!(
                "run {} resumed{}",
                req.run_id,
                req.from
                    .as_ref()
                    .map(|f| format!(" from {f}"))
                    .unwrap_or_default()
            ),
        ));
        if !cx.state.setup_done
            && let Err(e) = prepare_worktree(&mut cx, &git_logged)
        {
            return fail_before_stages(&mut cx, e);
        }
        drive(&mut cx)
    }
}

fn base_branch_of(req: &RunRequest, git: &Git) -> Result<String> {
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
        None => git.current_branch()?.unwrap_or_else(|| "HEAD".into()),
    })
}

/// Secrets of the config (api keys, interpolated secret variables) and API keys of the
/// environment that agents may receive.
fn run_redactor(config: &LoadedConfig) -> Redactor {
    Redactor::new(config.secrets.clone()).with_env()
}

/// Creates the worktree (unless it exists), writes the context files and runs `setup`; the
/// checkpoint records it done, so a resume repeats it only when it did not finish.
fn prepare_worktree(cx: &mut RunCtx, git_logged: &Git) -> Result<()> {
    if !cx.worktree.exists() {
        if let Some(parent) = cx.worktree.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let branch = cx.state.branch.clone().unwrap_or_default();
        let base = cx.state.base_sha.clone().unwrap_or_default();
        git_logged.worktree_add(&cx.worktree, &branch, &base)?;
        crate::fault::point("setup:after_worktree");
    }
    let ctx_files = crate::context::build(&cx.worktree, &cx.config);
    for (name, text) in [
        ("project_map.md", &ctx_files.project_map),
        ("tooling_snapshot.md", &ctx_files.tooling_snapshot),
        ("verify_commands.md", &ctx_files.verify_commands),
    ] {
        cx.write(&cx.dir.context(name), text)?;
    }
    run_setup(cx)?;
    cx.state.setup_done = true;
    cx.save()
}

/// The failure category of orx's own error inside a stage.
fn error_category(e: &Error) -> FailureCategory {
    match e {
        Error::Git(crate::git::GitError::WorktreeLost { .. }) => FailureCategory::WorktreeLost,
        _ => FailureCategory::Error,
    }
}

/// Records a failure that happened before the first stage and ends the run as failed.
fn fail_before_stages(cx: &mut RunCtx, e: Error) -> Result<RunOutcome> {
    if matches!(e, Error::Cancelled) {
        return finish(cx, RunStatus::Cancelled);
    }
    let category = if matches!(e, Error::Pipeline(PipelineError::SetupFailed { .. })) {
        FailureCategory::SetupFailed
    } else {
        error_category(&e)
    };
    let message = e.to_string();
    cx.state.last_failure = Some(Failure {
        stage: "setup".into(),
        item: None,
        category,
        message,
        evidence: None,
    });
    finish(cx, RunStatus::Failed)
}

/// A driver killed in the middle of a git command may leave its lock files behind (the index,
/// HEAD, the run branch's ref). We hold the run's lock, so no other orx works in this worktree or
/// on its branch, and the orphaned commands were ended: the files are stale. Locks shared with
/// the rest of the repository (packed-refs, config) are not touched.
fn clear_stale_git_locks(repo_git: &Git, worktree: &Path) {
    let Ok(Some(admin)) = repo_git.worktree(worktree).worktree_git_dir() else {
        return;
    };
    for name in [
        "index.lock",
        "HEAD.lock",
        "ORIG_HEAD.lock",
        "logs/HEAD.lock",
    ] {
        let _ = std::fs::remove_file(admin.join(name));
    }
}

/// The run branch's own ref locks, left by a git command of a killed driver (see
/// [`clear_stale_git_locks`]); the branch exists only for this run.
fn clear_stale_branch_locks(repo_git: &Git, branch: &str) {
    if let Ok(common) = crate::git::common_dir(repo_git.dir()) {
        for file in [
            format!("refs/heads/{branch}.lock"),
            format!("logs/refs/heads/{branch}.lock"),
        ] {
            let _ = std::fs::remove_file(common.join(file));
        }
    }
}

/// Removes a worktree that holds no run work yet (its setup never finished), registered or not.
fn discard_worktree(repo_git: &Git, worktree: &Path) -> Result<()> {
    let shown = worktree.display().to_string();
    let _ = repo_git.try_run(&["worktree", "remove", "--force", &shown])?;
    if std::fs::symlink_metadata(worktree).is_ok() {
        // orx's own folder under .worktrees/; a symlink there is removed, not followed.
        if std::fs::symlink_metadata(worktree).is_ok_and(|m| m.is_dir()) {
            fs_err::remove_dir_all(worktree)?;
        } else {
            fs_err::remove_file(worktree)?;
        }
    }
    repo_git.run(&["worktree", "prune"])?;
    Ok(())
}

/// Makes a resumed run's worktree whole again before any git command runs in it: a removed
/// folder is recreated from the run branch; a removed or altered `.git` file is put back with
/// `git worktree repair`; a folder git no longer knows is moved aside (it may hold work that was
/// never committed) and recreated. Returns what was done, for the log.
fn restore_worktree(repo_git: &Git, worktree: &Path, branch: &str) -> Result<Vec<String>> {
    use crate::git::WorktreeProblem;
    let shown = worktree.display().to_string();
    let problem = match repo_git.worktree(worktree).check_worktree() {
        Ok(()) => return Ok(Vec::new()),
        Err(Error::Git(crate::git::GitError::WorktreeLost { problem, .. })) => problem,
        Err(e) => return Err(e),
    };
    let mut done = Vec::new();
    if matches!(
        problem,
        WorktreeProblem::GitFileMissing | WorktreeProblem::GitFileChanged
    ) {
        let _ = repo_git.try_run(&["worktree", "repair", &shown])?;
        if repo_git.worktree(worktree).check_worktree().is_ok() {
            return Ok(vec![format!(
                "the worktree {shown} was not a git worktree any more ({problem}); its .git file was put back"
            )]);
        }
    }
    if worktree.exists() {
        let aside = PathBuf::from(format!(
            "{shown}.orphaned-{}",
            jiff::Timestamp::now().strftime("%Y%m%d_%H%M%S")
        ));
        fs_err::rename(worktree, &aside)?;
        done.push(format!(
            "the worktree {shown} was not a git worktree any more ({problem}); it was moved to {} and recreated from {branch}",
            aside.display()
        ));
    }
    repo_git.run(&["worktree", "prune"])?;
    repo_git.run(&["worktree", "add", "--quiet", &shown, branch])?;
    Ok(done)
}

/// Resets what must run again: interrupted and failed stages, failed items (fresh budget), and
/// with `from`, that stage and every later one (their saved outputs are discarded).
fn prepare_resume(state: &mut RunState, files: &RunFiles, from: Option<&str>) -> Result<()> {
    if let Some(from) = from {
        let Some(pos) = state.stages.iter().position(|s| s.name == from) else {
            return Err(RunError::NoSuchStage {
                stage: from.to_string(),
                stages: state.stages.iter().map(|s| s.name.clone()).collect(),
            }
            .into());
        };
        for s in &mut state.stages[pos..] {
            s.status = StageStatus::Pending;
            s.note = None;
        }
        let redo: Vec<String> = state.stages[pos..].iter().map(|s| s.name.clone()).collect();
        for (stage, file) in [
            ("plan", "plan.md"),
            ("spec", "spec.md"),
            ("decompose", "backlog.yaml"),
        ] {
            if redo.iter().any(|s| s == stage) {
                files.remove_input(file);
            }
        }
        if redo.iter().any(|s| s == "decompose") {
            state.items.clear();
        }
        if redo.iter().any(|s| s == "review") {
            state.review_loops = 0;
        }
    }
    for s in &mut state.stages {
        if matches!(s.status, StageStatus::Running | StageStatus::Failed) {
            s.status = StageStatus::Pending;
        }
    }
    for it in &mut state.items {
        match it.status {
            ItemStatus::Failed => {
                // A fresh budget, from wherever the branch is now.
                it.status = ItemStatus::Pending;
                it.attempts = 0;
                it.phase = None;
                it.start_commit = None;
            }
            ItemStatus::Skipped => it.status = ItemStatus::Pending,
            _ => {}
        }
    }
    // Items still to do (a review item added just before a crash) need implement and every
    // stage after it, even if those were marked done.
    let open_items = state
        .items
        .iter()
        .any(|i| matches!(i.status, ItemStatus::Pending | ItemStatus::Running));
    if open_items && let Some(pos) = state.stages.iter().position(|s| s.name == "implement") {
        for s in &mut state.stages[pos..] {
            s.status = StageStatus::Pending;
        }
    }
    state.status = RunStatus::Running;
    state.last_failure = None;
    files.save_state(state, true)
}

fn run_setup(cx: &mut RunCtx) -> Result<()> {
    let setup = cx.config.setup.clone();
    for (i, cmd) in setup.iter().enumerate() {
        let mut spec = crate::process::ProcessSpec::new(
            cmd.command.to_string(),
            cmd.args.iter().map(|a| a.to_string()),
        );
        spec.cwd = Some(cx.worktree.clone());
        spec.timeout = Some(std::time::Duration::from_secs(cmd.timeout.get()));
        spec.stdout_log = Some(cx.dir.log("setup.log"));
        spec.stderr_log = Some(cx.dir.log("setup.log"));
        spec.log_limit = Some(crate::gate::LOG_LIMIT);
        spec.redactor = Some(cx.files.redactor().clone());
        spec.ledger = Some(cx.ledger());
        let line = format!(
            "$ {} {}",
            cmd.command,
            cmd.args
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        );
        cx.files.append_line(&cx.dir.log("setup.log"), &line)?;
        let out = crate::process::run(&spec, &cx.cancel, &mut |_, _| {})?;
        if !out.success() {
            return Err(PipelineError::SetupFailed {
                index: i + 1,
                command: cmd.command.to_string(),
                how: format!("{:?}", out.termination),
            }
            .into());
        }
    }
    Ok(())
}

/// Walks the stages from the checkpoint to the end.
fn drive(cx: &mut RunCtx) -> Result<RunOutcome> {
    cx.state.status = RunStatus::Running;
    cx.save()?;
    let mut i = 0;
    let result: Result<Option<Failure>> = loop {
        if i >= cx.state.stages.len() {
            break Ok(None);
        }
        if matches!(
            cx.state.stages[i].status,
            StageStatus::Done | StageStatus::Skipped
        ) {
            i += 1;
            continue;
        }
        if cx.cancel.is_cancelled() {
            break Err(Error::Cancelled);
        }
        let name = cx.state.stages[i].name.clone();
        let Some(stage) = stage_by_name(&name) else {
            break Err(RunError::UnknownStage { stage: name }.into());
        };
        let started_at = now_rfc3339();
        {
            let s = &mut cx.state.stages[i];
            s.status = StageStatus::Running;
            s.started_at = Some(started_at.clone());
            s.ended_at = None;
            s.attempts += 1;
        }
        cx.state.current_stage = Some(name.clone());
        cx.mark()?;
        cx.emit(Event::new(EventBody::StageStarted, format!("{name} started")).stage(&name));
        cx.stage_usage = StageTotals::default();
        cx.recorded_itself = false;
        let t0 = std::time::Instant::now();
        let outcome = stage.run(cx);
        let (status, note, failure, goto) = match outcome {
            Ok(StageOutcome::Done(n)) => (StageStatus::Done, n, None, None),
            Ok(StageOutcome::Skipped(n)) => (StageStatus::Skipped, n, None, None),
            Ok(StageOutcome::GoTo { stage, note }) => (StageStatus::Done, note, None, Some(stage)),
            Ok(StageOutcome::Failed(f)) => (StageStatus::Failed, f.message.clone(), Some(f), None),
            Err(Error::Cancelled) => {
                cx.state.stages[i].status = StageStatus::Pending;
                cx.state.stages[i].note = Some("interrupted".into());
                break Err(Error::Cancelled);
            }
            // orx's own failure inside a stage (a git error, a broken backlog file): the stage
            // fails like any other, with the error and its hint recorded for resume.
            Err(e) => {
                let message = e.to_string();
                let f = Failure {
                    stage: name.clone(),
                    item: cx.state.current_item.clone(),
                    category: error_category(&e),
                    message,
                    evidence: None,
                };
                (StageStatus::Failed, f.message.clone(), Some(f), None)
            }
        };
        let ended_at = now_rfc3339();
        {
            let s = &mut cx.state.stages[i];
            s.status = status;
            s.note = Some(note.clone());
            s.ended_at = Some(ended_at.clone());
        }
        if !cx.recorded_itself {
            let u = cx.stage_usage.clone();
            cx.record(&StageRecord {
                version: crate::protocol::PROTOCOL_VERSION,
                run_id: cx.state.run_id.clone(),
                stage: name.clone(),
                item: None,
                attempt: cx.state.stages[i].attempts,
                status: match status {
                    StageStatus::Failed => AttemptStatus::Failed,
                    StageStatus::Skipped => AttemptStatus::Skipped,
                    _ => AttemptStatus::Ok,
                },
                failure_category: failure.as_ref().map(|f| f.category),
                started_at,
                ended_at,
                duration_secs: t0.elapsed().as_secs_f64(),
                agent_secs: u.agent_secs,
                gate_secs: 0.0,
                executor: u.executor,
                model: u.model,
                tokens: u.usage,
                cost_usd: u.cost_usd,
                gates: Default::default(),
                diff: None,
            })?;
        }
        if let Some(f) = &failure {
            cx.state.last_failure = Some(f.clone());
        }
        // Going back (review → implement) is saved in the same checkpoint as this stage's end,
        // so a crash in between cannot skip the stages that must run again.
        let goto_pos = goto
            .as_ref()
            .and_then(|t| cx.state.stages.iter().position(|s| &s.name == t));
        if let Some(pos) = goto_pos {
            for s in &mut cx.state.stages[pos..] {
                if s.name != name || pos <= i {
                    s.status = StageStatus::Pending;
                }
            }
        }
        cx.save()?;
        cx.emit(
            Event::new(
                EventBody::StageFinished {
                    status,
                    duration_secs: t0.elapsed().as_secs_f64(),
                },
                format!("{name} {status}: {note}"),
            )
            .stage(&name),
        );
        if let Some(f) = failure {
            break Ok(Some(f));
        }
        if let Some(pos) = goto_pos {
            i = pos;
            continue;
        }
        i += 1;
    };
    match result {
        Ok(None) => finish(cx, RunStatus::Succeeded),
        Ok(Some(_)) => finish(cx, RunStatus::Failed),
        Err(Error::Cancelled) => finish(cx, RunStatus::Cancelled),
        Err(e) => {
            cx.state.last_failure = Some(Failure {
                stage: cx.state.current_stage.clone().unwrap_or_default(),
                item: None,
                category: FailureCategory::Error,
                message: e.to_string(),
                evidence: None,
            });
            finish(cx, RunStatus::Failed)
        }
    }
}

/// Writes the end of a run: patch.diff, metrics/run.json, meta.json, then the final checkpoint and
/// the last event.
fn finish(cx: &mut RunCtx, status: RunStatus) -> Result<RunOutcome> {
    cx.state.status = status;
    if status == RunStatus::Succeeded {
        cx.state.current_stage = None;
    }
    // The final checkpoint is written last: a crash before it leaves a run that `orx resume`
    // finishes again (run.json and meta.json included); a crash after it has nothing missing.
    if let Some(base) = cx.state.base_sha.clone()
        && let Ok(patch) = cx.git.diff_since(&base)
    {
        cx.write(&cx.dir.artifact("patch.diff"), &patch)?;
    }
    let records = crate::metrics::read_stage_records(&cx.dir.stage_metrics());
    let mut m = RunTotals::from_records(&cx.state.run_id, &records);
    m.status = Some(status);
    let start: Option<jiff::Timestamp> = cx.meta.started_at.parse().ok();
    let now = jiff::Timestamp::now();
    m.duration_secs = start
        .map(|s| (now.as_millisecond() - s.as_millisecond()) as f64 / 1000.0)
        .unwrap_or(0.0);
    m.items_done = cx
        .state
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Passed)
        .count() as u32;
    m.items_failed = cx
        .state
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Failed)
        .count() as u32;
    m.time_to_first_green_secs = records
        .iter()
        .filter(|r| r.item.is_some() && r.status == AttemptStatus::Ok)
        .filter_map(|r| r.ended_at.parse::<jiff::Timestamp>().ok())
        .min()
        .zip(start)
        .map(|(g, s)| (g.as_millisecond() - s.as_millisecond()) as f64 / 1000.0);
    cx.files.json(&cx.dir.run_metrics(), &m)?;
    cx.meta.ended_at = Some(now_rfc3339());
    cx.meta.status = status;
    cx.files.save_meta(&cx.meta)?;
    cx.save()?;
    let failure = if status == RunStatus::Failed {
        cx.state.last_failure.clone()
    } else {
        None
    };
    cx.emit(Event::new(
        EventBody::RunFinished { status, metrics: m },
        match (&failure, status) {
            (Some(f), _) => format!("run failed at {}: {}", f.stage, f.message),
            (None, RunStatus::Cancelled) => "run interrupted; resumable".to_string(),
            _ => format!("run {status}"),
        },
    ));
    // What the caller prints is what people read: redacted like the files.
    Ok(RunOutcome {
        run_id: cx.state.run_id.clone(),
        status,
        run_dir: cx.dir.root().to_path_buf(),
        worktree: cx.worktree.clone(),
        branch: cx.state.branch.clone().unwrap_or_default(),
        failure: failure.map(|f| cx.files.redacted(&f)).transpose()?,
        state: cx.files.redacted(&cx.state)?,
    })
}

/// What `orx run --dry-run` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DryRun {
    /// The repository root.
    pub repo: PathBuf,
    /// The base branch.
    pub base_branch: String,
    /// The pipeline.
    pub pipeline: PipelineDef,
    /// Routing.
    pub routing: RoutingTable,
    /// Enabled gates: (name, command line, required, timeout).
    pub gates: Vec<(String, String, bool, u64)>,
    /// Prompts as they would be sent (placeholders for what earlier stages produce).
    pub prompts: Vec<(String, String)>,
}

/// Resolves config, routing and prompts without touching anything.
pub fn dry_run(req: &RunRequest) -> Result<DryRun> {
    let repo = Git::toplevel(&req.dir)?;
    let def = PipelineDef::find(&repo, &req.pipeline)?;
    let git = Git::new(&repo);
    let base_branch = base_branch_of(req, &git)?;
    git.check_base(&base_branch)?;
    let mut routed = req.config.config.clone();
    def.apply(&mut routed);
    let routing = resolve_routing(&routed, &req.overrides);
    let ctxf = crate::context::build(&repo, &req.config.config);
    let context = serde_json::json!({
        "project_map": ctxf.project_map, "tooling_snapshot": ctxf.tooling_snapshot, "verify_commands": ctxf.verify_commands,
    });
    let prompts = Prompts::new(&repo);
    let sample_item = serde_json::json!({"id": "W001", "title": "(first backlog item)", "objective": "(from the backlog)", "acceptance": ["(from the backlog)"], "files_hint": [], "depends_on": []});
    let ph = |s: &str| format!("({s} produced by the run)");
    let max_attempts = req.config.config.run.max_fix_attempts.get();
    let redactor = Redactor::new(req.config.secrets.clone()).with_env();
    let mut out = Vec::new();
    let mut roles: Vec<&str> = Vec::new();
    for s in &def.stages {
        match s.as_str() {
            "implement" => roles.extend(["implement", "fix"]),
            "ship" => {}
            other => roles.push(other),
        }
    }
    for role in roles {
        let ctx = serde_json::json!({
            "task": req.task, "plan": ph("plan"), "spec": ph("spec"), "context": context,
            "max_items": req.config.config.run.max_backlog_items.get(), "item": sample_item,
            "attempt": 2, "max_attempts": max_attempts, "evidence": ph("failure evidence"),
            "gate_summary": ph("gate results"), "diff": ph("diff"), "backlog": ph("backlog"),
            "review": ph("review"), "failures": ph("failures"),
            "files": req.config.config.knowledge.files.iter().map(|f| serde_json::json!({"path": f, "marker": crate::knowledge::marker_name(f)})).collect::<Vec<_>>(),
            "max_lines": req.config.config.knowledge.max_changed_lines.get(),
        });
        out.push((
            role.to_string(),
            redactor.redact(&prompts.render(role, &ctx)?),
        ));
    }
    let gates = req
        .config
        .config
        .gates
        .iter()
        .filter(|g| g.enabled)
        .map(|g| {
            let parser = crate::gate::parser_for(g);
            let args = crate::gate::effective_args(g, parser);
            (
                g.name.clone(),
                format!("{} {}", g.command, args.join(" "))
                    .trim()
                    .to_string(),
                g.required,
                g.timeout.get(),
            )
        })
        .collect();
    Ok(DryRun {
        repo,
        base_branch,
        pipeline: def,
        routing,
        gates,
        prompts: out,
    })
}
