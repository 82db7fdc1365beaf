//! The implement stage: every backlog item in dependency order, each through its attempts (see
//! [`super::item`]); an item whose dependency did not pass is skipped; a failed item's changes
//! are set aside so the next item starts clean.

use super::item::run_item;
use super::{DryRunEnv, Stage, StageOutcome, failure};
use crate::Result;
use crate::guardrails::Guardrails;
use crate::pipeline::backlog::{Backlog, Item, run as backlog_run, topo_order};
use crate::pipeline::{PipelineError, RunCtx};
use crate::protocol::{Event, EventBody, Failure, FailureCategory, ItemStatus, RunState};

/// implement (with verify and fix).
pub struct Implement;

impl Stage for Implement {
    fn name(&self) -> &'static str {
        "implement"
    }

    fn calls(&self, config: &crate::config::Config, items: u32) -> (u32, u32) {
        // Each item: its implement call, then up to its fixes.
        let attempts = config.run.max_fix_attempts.get() as u32;
        (items, items * attempts)
    }

    fn for_approval(&self) -> &'static str {
        "the items' changes (artifacts/patch.diff)"
    }

    fn records_itself(&self) -> bool {
        true
    }

    fn verifies(&self) -> bool {
        true
    }

    /// Failed items get a fresh budget (from wherever the branch is now); skipped ones run.
    fn on_resume(&self, state: &mut RunState) {
        for it in &mut state.items {
            match it.status {
                ItemStatus::Failed => {
                    it.status = ItemStatus::Pending;
                    it.attempts = 0;
                    it.phase = None;
                    it.start_commit = None;
                }
                ItemStatus::Skipped => it.status = ItemStatus::Pending,
                _ => {}
            }
        }
    }

    fn has_open_work(&self, state: &RunState) -> bool {
        state
            .items
            .iter()
            .any(|i| matches!(i.status, ItemStatus::Pending | ItemStatus::Running))
    }

    fn dry_run(&self, env: &DryRunEnv<'_>) -> Vec<(&'static str, serde_json::Value)> {
        let max = env.config.run.max_fix_attempts.get();
        let spec = DryRunEnv::placeholder("spec");
        let fix = serde_json::json!({
            "task": env.task, "spec": spec, "item": DryRunEnv::sample_item(),
            "attempt": 2, "max_attempts": max, "context": env.context,
            "evidence": DryRunEnv::placeholder("failure evidence"),
            "baseline": DryRunEnv::placeholder("failures already on the base, if any,"),
        });
        vec![
            (
                "implement",
                serde_json::json!({
                    "task": env.task, "spec": spec, "item": DryRunEnv::sample_item(),
                    "attempt": 1, "max_attempts": max, "context": env.context,
                    "baseline": DryRunEnv::placeholder("failures already on the base, if any,"),
                }),
            ),
            ("fix", fix.clone()),
            // A fix that continues the agent's session (run.reuse_sessions).
            ("fix_resumed", fix),
        ]
    }

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let Some(backlog) = the_backlog(cx)? else {
            return Ok(StageOutcome::Failed(failure(
                "implement",
                None,
                FailureCategory::NoBacklog,
                "context/backlog.yaml is missing: the decompose stage makes it",
            )));
        };
        backlog_run::install(&mut cx.cp, &backlog.items)?;
        let order = topo_order(&backlog.items).map_err(PipelineError::Backlog)?;
        let guardrails = Guardrails::new(&cx.env.config.guardrails)
            .map_err(|e| PipelineError::Guardrails(e.to_string()))?;
        let mut failures: Vec<Failure> = Vec::new();
        for idx in order {
            let item = &backlog.items[idx];
            match turn(cx, item, &guardrails)? {
                Turn::Done => {}
                Turn::FailedBefore(f) => failures.push(f),
                Turn::Failed(f) => {
                    failures.push(f.clone());
                    if cx.env.config.run.stop_on_first_failure {
                        // The worktree keeps the failed item's changes for `resume`.
                        return Ok(StageOutcome::Failed(f));
                    }
                    set_aside(cx, &item.id)?;
                }
            }
        }
        summary(cx, failures)
    }
}

/// What became of one item in this pass.
enum Turn {
    /// Passed, skipped, or nothing to do.
    Done,
    /// It had failed before (a resume with stop_on_first_failure off).
    FailedBefore(Failure),
    /// It failed now.
    Failed(Failure),
}

fn turn(cx: &mut RunCtx, item: &Item, guardrails: &Guardrails) -> Result<Turn> {
    let Some(status) = cx.cp.state().item(&item.id).map(|s| s.status) else {
        return Ok(Turn::Done);
    };
    match status {
        ItemStatus::Passed | ItemStatus::Skipped => return Ok(Turn::Done),
        ItemStatus::Failed => {
            return Ok(Turn::FailedBefore(failure(
                "implement",
                Some(&item.id),
                FailureCategory::ItemFailed,
                format!("{} failed", item.id),
            )));
        }
        ItemStatus::Pending | ItemStatus::Running => {}
    }
    let blocked = item.depends_on.iter().find(|d| {
        cx.cp
            .state()
            .item(d)
            .is_some_and(|s| matches!(s.status, ItemStatus::Failed | ItemStatus::Skipped))
    });
    if let Some(dep) = blocked {
        if let Some(s) = cx.cp.state_mut().item_mut(&item.id) {
            s.status = ItemStatus::Skipped;
        }
        cx.cp.save()?;
        cx.emit(
            Event::new(
                EventBody::ItemSkipped,
                format!(
                    "{} skipped: it depends on {dep}, which did not pass",
                    item.id
                ),
            )
            .stage("implement")
            .item(&item.id),
        );
        return Ok(Turn::Done);
    }
    Ok(match run_item(cx, item, guardrails)? {
        None => Turn::Done,
        Some(f) => Turn::Failed(f),
    })
}

/// The stage's end: every item passed, or the first failure with how many did not pass.
fn summary(cx: &mut RunCtx, failures: Vec<Failure>) -> Result<StageOutcome> {
    let state = cx.cp.state_mut();
    state.current_item = None;
    let total = state.items.len();
    let passed = state
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Passed)
        .count();
    cx.cp.save()?;
    Ok(match failures.into_iter().next() {
        Some(mut f) => {
            f.message = format!(
                "{} of {total} items did not pass; first: {}",
                total - passed,
                f.message
            );
            StageOutcome::Failed(f)
        }
        None => StageOutcome::Done(format!("{passed} of {total} items passed")),
    })
}

/// The run's backlog; when the pipeline makes none (fast_fix), the task is its one item.
fn the_backlog(cx: &mut RunCtx) -> Result<Option<Backlog>> {
    if let Some(b) = backlog_run::load(&cx.env) {
        return Ok(Some(b));
    }
    if cx.env.pipeline_produces(backlog_run::FILE) {
        return Ok(None);
    }
    let bl = Backlog {
        run_id: cx.env.dir.id().to_string(),
        items: vec![Item {
            id: "W001".into(),
            title: crate::run::summarize_task(&cx.env.task, 72),
            objective: cx.env.task.clone(),
            acceptance: vec!["The task is done and every required gate passes".into()],
            files_hint: vec![],
            depends_on: vec![],
        }],
    };
    backlog_run::save(&cx.env, &bl)?;
    Ok(Some(bl))
}

/// Other items go on: the failed item's changes are saved as artifacts/<id>.failed.diff and
/// removed from the worktree, so they are neither verified nor committed with the next item.
fn set_aside(cx: &mut RunCtx, id: &str) -> Result<()> {
    let Some(start) = cx.cp.state().item(id).and_then(|s| s.start_commit.clone()) else {
        return Ok(());
    };
    let diff = cx.git.diff_since(&start)?;
    cx.env
        .files
        .text(&cx.env.dir.artifact(&format!("{id}.failed.diff")), &diff)?;
    cx.git.run(&["reset", "--quiet", "--hard", &start])?;
    cx.git.run(&["clean", "-fdq"])?;
    cx.emit(
        Event::new(
            EventBody::ItemSetAside,
            format!("{id}: its changes were saved to artifacts/{id}.failed.diff and removed from the worktree"),
        )
        .stage("implement")
        .item(id),
    );
    Ok(())
}
