//! The walk over the stages, from the checkpoint to the end: each stage is marked running
//! (a checkpoint), run through [`Stage`], and marked done, skipped or failed (a checkpoint,
//! which also holds a jump back, so a crash cannot skip what must run again).

use std::time::Instant;

use super::RunOutcome;
use super::finish::{error_category, finish};
use crate::metrics::StageRecord;
use crate::pipeline::{RunCtx, Stage, StageOutcome, stage_by_name};
use crate::protocol::{
    AttemptStatus, Event, EventBody, Failure, FailureCategory, RunStatus, StageStatus, now_rfc3339,
};
use crate::{Error, Result, RunError};

/// How one stage ended, for the walk.
enum Next {
    /// On to the stage after it.
    Forward,
    /// Back (or on) to the stage at this position.
    Jump(usize),
    /// The run stops here, failed.
    Stop(Failure),
}

/// Walks the stages from the checkpoint to the end.
pub(super) fn drive(cx: &mut RunCtx) -> Result<RunOutcome> {
    cx.cp.state_mut().status = RunStatus::Running;
    cx.cp.save()?;
    match baseline(cx).and_then(|stop| match stop {
        Some(f) => Ok(Some(f)),
        None => walk(cx),
    }) {
        Ok(None) => finish(cx, RunStatus::Succeeded),
        Ok(Some(_)) => finish(cx, RunStatus::Failed),
        Err(Error::Cancelled) if cx.env.cancel.hung_up() => super::finish::interrupted(cx),
        Err(Error::Cancelled) => finish(cx, RunStatus::Cancelled),
        Err(Error::Waiting { reason, what }) => {
            let state = cx.cp.state_mut();
            state.waiting = Some(reason);
            state.waiting_for = Some(what);
            finish(cx, RunStatus::Waiting)
        }
        Err(e) => {
            let state = cx.cp.state_mut();
            state.last_failure = Some(Failure {
                stage: state.current_stage.clone().unwrap_or_default(),
                item: None,
                category: FailureCategory::Error,
                message: e.to_string(),
                evidence: None,
            });
            finish(cx, RunStatus::Failed)
        }
    }
}

/// The baseline, when a stage of the pipeline verifies agents' edits: the failure that stops
/// the run before any agent call, if any.
fn baseline(cx: &mut RunCtx) -> Result<Option<Failure>> {
    let verifies = cx.cp.state().stages.iter().any(|s| {
        s.status != StageStatus::Skipped && stage_by_name(&s.name).is_some_and(|st| st.verifies())
    });
    if !verifies {
        return Ok(None);
    }
    let failure = crate::pipeline::verify::ensure_baseline(cx)?;
    if let Some(f) = &failure {
        cx.cp.state_mut().last_failure = Some(f.clone());
        cx.cp.save()?;
    }
    Ok(failure)
}

/// The stages in order: None when all ended, the failure that stopped the run otherwise.
fn walk(cx: &mut RunCtx) -> Result<Option<Failure>> {
    let mut i = 0;
    while i < cx.cp.state().stages.len() {
        if matches!(
            cx.cp.state().stages[i].status,
            StageStatus::Done | StageStatus::Skipped
        ) {
            i += 1;
            continue;
        }
        cx.env.check_cancel()?;
        await_approval(cx, i)?;
        let name = cx.cp.state().stages[i].name.clone();
        let Some(stage) = stage_by_name(&name) else {
            return Err(RunError::UnknownStage { stage: name }.into());
        };
        match run_stage(cx, i, stage.as_ref())? {
            Next::Forward => i += 1,
            Next::Jump(pos) => i = pos,
            Next::Stop(f) => return Ok(Some(f)),
        }
    }
    Ok(None)
}

/// Before stage `i`: the stage before it, when `approvals` lists it and it is done, must have
/// been approved (a stage approved before it runs, ship, is approved on what the run made so
/// far). Otherwise the run waits.
fn await_approval(cx: &mut RunCtx, i: usize) -> Result<()> {
    let approvals = &cx.env.config.approvals;
    let state = cx.cp.state();
    let listed = |name: &str| approvals.iter().any(|a| a == name);
    let this = &state.stages[i];
    let before = stage_by_name(&this.name).filter(|s| s.approved_before() && listed(s.name()));
    let after = i.checked_sub(1).and_then(|p| {
        let prev = &state.stages[p];
        stage_by_name(&prev.name).filter(|s| {
            !s.approved_before() && prev.status == StageStatus::Done && listed(s.name())
        })
    });
    let Some(stage) = before
        .or(after)
        .filter(|s| !state.approved.iter().any(|a| a == s.name()))
    else {
        return Ok(());
    };
    let what = format!("approval of {}", stage.for_approval());
    let state = cx.cp.state_mut();
    state.approval = Some(stage.name().to_string());
    state.rejectable = stage.takes_feedback();
    Err(Error::Waiting {
        reason: crate::protocol::WaitReason::Approval,
        what,
    })
}

/// One stage, from its start mark to its end checkpoint.
fn run_stage(cx: &mut RunCtx, i: usize, stage: &dyn Stage) -> Result<Next> {
    let name = stage.name();
    let started_at = now_rfc3339();
    let state = cx.cp.state_mut();
    let s = &mut state.stages[i];
    s.status = StageStatus::Running;
    s.started_at = Some(started_at.clone());
    s.ended_at = None;
    s.attempts += 1;
    state.current_stage = Some(name.to_string());
    cx.cp.mark()?;
    cx.emit(Event::new(EventBody::StageStarted, format!("{name} started")).stage(name));
    cx.take_totals();
    let t0 = Instant::now();
    let (status, note, failure, goto) = match stage.run(cx) {
        Ok(StageOutcome::Done(n)) => (StageStatus::Done, n, None, None),
        Ok(StageOutcome::Skipped(n)) => (StageStatus::Skipped, n, None, None),
        Ok(StageOutcome::GoTo { stage, note }) => (StageStatus::Done, note, None, Some(stage)),
        Ok(StageOutcome::Failed(f)) => (StageStatus::Failed, f.message.clone(), Some(f), None),
        Err(Error::Cancelled) => {
            let s = &mut cx.cp.state_mut().stages[i];
            s.status = StageStatus::Pending;
            s.note = Some("cancelled".into());
            return Err(Error::Cancelled);
        }
        Err(e @ Error::Waiting { .. }) => {
            let s = &mut cx.cp.state_mut().stages[i];
            s.status = StageStatus::Pending;
            s.note = Some("waiting".into());
            return Err(e);
        }
        // orx's own failure inside a stage (a git error, a broken backlog file): the stage fails
        // like any other, with the error recorded for resume.
        Err(e) => {
            let f = Failure {
                stage: name.to_string(),
                item: cx.cp.state().current_item.clone(),
                category: error_category(&e),
                message: e.to_string(),
                evidence: None,
            };
            (StageStatus::Failed, f.message.clone(), Some(f), None)
        }
    };
    let ended_at = now_rfc3339();
    let s = &mut cx.cp.state_mut().stages[i];
    s.status = status;
    s.note = Some(note.clone());
    s.ended_at = Some(ended_at.clone());
    if !stage.records_itself() {
        record(cx, i, (started_at, ended_at, t0), status, failure.as_ref())?;
    }
    let jump = goto.and_then(|target| jump_back(cx, i, &target));
    if let Some(f) = &failure {
        cx.cp.state_mut().last_failure = Some(f.clone());
    }
    cx.cp.save()?;
    cx.emit(
        Event::new(
            EventBody::StageFinished {
                status,
                duration_secs: t0.elapsed().as_secs_f64(),
            },
            format!("{name} {status}: {note}"),
        )
        .stage(name),
    );
    Ok(match (failure, jump) {
        (Some(f), _) => Next::Stop(f),
        (None, Some(pos)) => Next::Jump(pos),
        (None, None) => Next::Forward,
    })
}

/// Marks the stages from `target` pending again (review → implement); the caller saves it in
/// the same checkpoint as the stage's end.
fn jump_back(cx: &mut RunCtx, i: usize, target: &str) -> Option<usize> {
    let stages = &mut cx.cp.state_mut().stages;
    let pos = stages.iter().position(|s| s.name == target)?;
    let current = stages[i].name.clone();
    for s in &mut stages[pos..] {
        if s.name != current || pos <= i {
            s.status = StageStatus::Pending;
        }
    }
    Some(pos)
}

/// The stage's line in metrics/stages.jsonl.
fn record(
    cx: &mut RunCtx,
    i: usize,
    (started_at, ended_at, t0): (String, String, Instant),
    status: StageStatus,
    failure: Option<&Failure>,
) -> Result<()> {
    let t = cx.take_totals();
    let state = cx.cp.state();
    cx.record(&StageRecord {
        version: crate::protocol::PROTOCOL_VERSION,
        run_id: state.run_id.clone(),
        stage: state.stages[i].name.clone(),
        item: None,
        attempt: state.stages[i].attempts,
        status: match status {
            StageStatus::Failed => AttemptStatus::Failed,
            StageStatus::Skipped => AttemptStatus::Skipped,
            _ => AttemptStatus::Ok,
        },
        failure_category: failure.map(|f| f.category),
        started_at,
        ended_at,
        duration_secs: t0.elapsed().as_secs_f64(),
        agent_secs: t.agent_secs,
        gate_secs: 0.0,
        executor: t.executor,
        model: t.model,
        tokens: t.usage,
        cost_usd: t.cost_usd,
        gates: Default::default(),
        diff: None,
    })
}
