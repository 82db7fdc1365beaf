//! Resuming a run: its folder back in order (a torn log line dropped, what a killed driver left
//! running ended, the worktree whole again), then the checkpoint reset to what must run again.

use std::path::{Path, PathBuf};

use super::prepare::{fail_before_stages, prepare_worktree};
use super::{Engine, Parts, ResumeRequest, RunOutcome, drive, repo_git, run_redactor};
use crate::git::Git;
use crate::pipeline::{PipelineDef, RunEnv, stage_by_name};
use crate::process::GroupLedger;
use crate::prompt::Prompts;
use crate::protocol::{Event, EventBody, Meta, RunState, RunStatus, StageStatus};
use crate::run::{RunDir, RunFiles, RunLock, Store};
use crate::{Error, Result, RunError};

pub(super) fn resume(engine: &Engine, req: ResumeRequest) -> Result<RunOutcome> {
    let repo = Git::toplevel(&req.dir)?;
    let dir = Store::new(&repo).open(&req.run_id)?;
    let _lock = RunLock::acquire(&dir.lock(), &req.run_id)?;
    // A driver killed while appending may have left half a line: it goes before ours.
    for jsonl in [dir.events(), dir.stage_metrics()] {
        crate::fsutil::repair_jsonl_tail(&jsonl)?;
    }
    // What a killed driver left running (an agent's children) ends before anything starts.
    let orphans =
        GroupLedger::new(dir.processes(), dir.id()).end_orphans(crate::process::ORPHAN_GRACE);
    let mut state = RunState::load(&dir.state())?;
    let mut meta = Meta::load(&dir.meta())?;
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
    let events = engine.sink(&files);
    let worktree = PathBuf::from(&meta.worktree);
    let repo_git = repo_git(&repo, &dir, &redactor);
    for warning in make_worktree_whole(&repo_git, &worktree, &meta.branch, state.setup_done)? {
        events.emit(Event::warning(warning));
    }
    let from = decide(&mut state, &files, &req)?;
    // A waiting run goes on: with what a person added to its budget, if anything. Set before
    // the checkpoint below is written: a resume killed after it must not lose the raise.
    state.waiting = None;
    state.waiting_for = None;
    state.budget = req.config.config.budget.limits();
    state.budget_raise.usd += req.raise.usd;
    state.budget_raise.tokens += req.raise.tokens;
    prepare_resume(&mut state, &files, from.as_deref())?;
    crate::fault::point("resume:after_checkpoint");
    meta.ended_at = None;
    meta.status = RunStatus::Running;
    files.save_meta(&meta)?;
    announce(&events, &orphans, &req);
    let parts = Parts {
        router: engine.router(&req.config, meta.routing.clone(), &repo)?,
        env: RunEnv {
            config: config_of(&req, &dir),
            stages: state.stages.iter().map(|s| s.name.clone()).collect(),
            prompts: Prompts::new(&repo),
            dir,
            repo,
            worktree,
            task,
            files,
            cancel: engine.cancel.clone(),
        },
        repo_git,
        state,
        meta,
        events,
    };
    let (mut cx, repo_git) = parts.into_ctx();
    if !cx.cp.state().setup_done
        && let Err(e) = prepare_worktree(&mut cx, &repo_git)
    {
        return fail_before_stages(&mut cx, e);
    }
    drive::drive(&mut cx)
}

/// A person's decision on the stage that waits for approval: approved, it is not asked again;
/// rejected, its feedback is kept (context/feedback_<stage>.md, and decisions.md) and the stage
/// runs again from scratch. Returns the stage to run again from.
fn decide(state: &mut RunState, files: &RunFiles, req: &ResumeRequest) -> Result<Option<String>> {
    let (Some(decision), Some(stage)) = (&req.decision, state.approval.clone()) else {
        return Ok(req.from.clone());
    };
    state.approval = None;
    state.rejectable = false;
    match decision {
        crate::protocol::Decision::Approve => {
            state.approved.push(stage);
            Ok(req.from.clone())
        }
        crate::protocol::Decision::Reject(feedback) => {
            files.input(&format!("feedback_{stage}.md"), feedback)?;
            let mut log = files.read_input("decisions.md").unwrap_or_default();
            log.push_str(&format!(
                "\n## {} rejected\n{}\n",
                stage,
                feedback.trim_end()
            ));
            files.input("decisions.md", &log)?;
            Ok(Some(stage))
        }
    }
}

/// The resume's first events: the orphans it ended, then that the run resumed.
fn announce(events: &crate::run::EventSink, orphans: &[u32], req: &ResumeRequest) {
    if !orphans.is_empty() {
        let pgids: Vec<String> = orphans.iter().map(u32::to_string).collect();
        events.emit(Event::warning(format!(
            "ended {} process group(s) the interrupted driver left running: {}",
            orphans.len(),
            pgids.join(", ")
        )));
    }
    let from = req
        .from
        .as_ref()
        .map(|f| format!(" from {f}"))
        .unwrap_or_default();
    events.emit(Event::new(
        EventBody::RunResumed,
        format!("run {} resumed{from}", req.run_id),
    ));
}

/// The config, with the pipeline's per-stage options as the run started with them.
fn config_of(req: &ResumeRequest, dir: &RunDir) -> crate::config::Config {
    let mut config = req.config.config.clone();
    if let Ok(text) = std::fs::read_to_string(dir.context("pipeline.yaml"))
        && let Ok(def) = PipelineDef::parse(&text, "pipeline.yaml")
    {
        def.apply(&mut config);
    }
    config
}

/// Before a resume: the run branch's stale ref locks go; a worktree whose setup finished is
/// restored and its stale git locks cleared; one whose setup never finished is removed (no agent
/// worked in it: what a killed start left may be half checked out) to be made again.
fn make_worktree_whole(
    repo_git: &Git,
    worktree: &Path,
    branch: &str,
    setup_done: bool,
) -> Result<Vec<String>> {
    clear_stale_branch_locks(repo_git, branch);
    if setup_done {
        let done = restore_worktree(repo_git, worktree, branch)?;
        clear_stale_git_locks(repo_git, worktree);
        Ok(done)
    } else {
        if worktree.exists() {
            discard_worktree(repo_git, worktree)?;
        }
        Ok(Vec::new())
    }
}

/// A driver killed in the middle of a git command may leave its lock files behind (the index,
/// HEAD). We hold the run's lock, so no other orx works in this worktree, and the orphaned
/// commands were ended: the files are stale.
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
/// [`clear_stale_git_locks`]); the branch exists only for this run. Locks shared with the rest
/// of the repository (packed-refs, config) are not touched.
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
    match std::fs::symlink_metadata(worktree) {
        // orx's own folder under .worktrees/; a symlink there is removed, not followed.
        Ok(m) if m.is_dir() => fs_err::remove_dir_all(worktree)?,
        Ok(_) => fs_err::remove_file(worktree)?,
        Err(_) => {}
    }
    repo_git.run(&["worktree", "prune"])?;
    Ok(())
}

/// Makes a resumed run's worktree whole again before any git command runs in it: a removed
/// folder is recreated from the run branch; a removed or altered `.git` file is put back with
/// `git worktree repair`; a folder git no longer knows is moved aside (it may hold work that was
/// never committed) and recreated. Returns what was done, for the log.
fn restore_worktree(repo_git: &Git, worktree: &Path, branch: &str) -> Result<Vec<String>> {
    use crate::git::{GitError, WorktreeProblem};
    let shown = worktree.display().to_string();
    let problem = match repo_git.worktree(worktree).check_worktree() {
        Ok(()) => return Ok(Vec::new()),
        Err(Error::Git(GitError::WorktreeLost { problem, .. })) => problem,
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

/// Resets what must run again: interrupted and failed stages, and with `from`, that stage and
/// every later one (their saved outputs are discarded, their checkpoint data reset). Each stage
/// prepares its own part of the checkpoint ([`crate::pipeline::Stage::on_resume`]); a stage
/// with open work runs again with every stage after it.
fn prepare_resume(state: &mut RunState, files: &RunFiles, from: Option<&str>) -> Result<()> {
    let stages: Vec<_> = state
        .stages
        .iter()
        .map(|s| stage_by_name(&s.name))
        .collect();
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
        for stage in stages[pos..].iter().flatten() {
            for output in stage.outputs() {
                files.remove_input(output);
            }
            stage.reset(state);
        }
    }
    for s in &mut state.stages {
        if matches!(s.status, StageStatus::Running | StageStatus::Failed) {
            s.status = StageStatus::Pending;
        }
    }
    for stage in stages.iter().flatten() {
        stage.on_resume(state);
    }
    // A stage with work left (a review item added just before a crash) runs again, and so does
    // every stage after it, even if they were marked done.
    if let Some(pos) = stages
        .iter()
        .position(|s| s.as_ref().is_some_and(|s| s.has_open_work(state)))
    {
        for s in &mut state.stages[pos..] {
            s.status = StageStatus::Pending;
        }
    }
    state.status = RunStatus::Running;
    state.last_failure = None;
    files.save_state(state, true)
}
