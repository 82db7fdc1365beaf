//! The end of a run: patch.diff, metrics/run.json, meta.json, then the final checkpoint and the
//! last event. The final checkpoint is written last: a crash before it leaves a run that
//! `resume` finishes again (run.json and meta.json included); a crash after it misses nothing.

use super::RunOutcome;
use crate::git::GitError;
use crate::metrics::{RunTotals, StageRecord};
use crate::pipeline::{PipelineError, RunCtx};
use crate::protocol::{
    AttemptStatus, Event, EventBody, FailureCategory, ItemStatus, RunStatus, now_rfc3339,
};
use crate::{Error, Result};

/// The failure category of orx's own error inside a stage or before the first.
pub(super) fn error_category(e: &Error) -> FailureCategory {
    match e {
        Error::Git(GitError::WorktreeLost { .. }) => FailureCategory::WorktreeLost,
        Error::Pipeline(PipelineError::SetupFailed { .. }) => FailureCategory::SetupFailed,
        _ => FailureCategory::Error,
    }
}

/// Ends the run with `status`: the patch, run.json, meta.json, the final checkpoint, the last
/// event.
pub(super) fn finish(cx: &mut RunCtx, status: RunStatus) -> Result<RunOutcome> {
    let state = cx.cp.state_mut();
    state.status = status;
    if status == RunStatus::Succeeded {
        state.current_stage = None;
    }
    if matches!(status, RunStatus::Cancelled | RunStatus::Waiting) {
        // The item being worked on is not running any more: it waits for the resume, which
        // goes on from its phase.
        for item in &mut state.items {
            if item.status == ItemStatus::Running {
                item.status = ItemStatus::Pending;
            }
        }
    }
    if let Some(base) = cx.cp.state().base_sha.clone()
        && let Ok(patch) = cx.git.diff_since(&base)
    {
        cx.env
            .files
            .text(&cx.env.dir.artifact("patch.diff"), &patch)?;
    }
    let totals = totals(cx, status);
    cx.env.files.json(&cx.env.dir.run_metrics(), &totals)?;
    let meta = cx.cp.meta_mut();
    meta.ended_at = Some(now_rfc3339());
    meta.status = status;
    cx.cp.save_meta()?;
    cx.cp.save()?;
    let failure = (status == RunStatus::Failed)
        .then(|| cx.cp.state().last_failure.clone())
        .flatten();
    let message = match (&failure, status) {
        (Some(f), _) => format!("run failed at {}: {}", f.stage, f.message),
        (None, RunStatus::Cancelled) => "run cancelled; resumable".to_string(),
        (None, RunStatus::Waiting) => format!(
            "run waiting: {}",
            cx.cp.state().waiting_for.clone().unwrap_or_default()
        ),
        _ => format!("run {status}"),
    };
    notify(
        cx,
        status,
        &totals,
        failure.as_ref().map(|f| f.message.clone()),
    );
    cx.emit(Event::new(
        EventBody::RunFinished {
            status,
            metrics: totals,
        },
        message,
    ));
    // What the caller prints is what people read: redacted like the files.
    let files = &cx.env.files;
    Ok(RunOutcome {
        run_id: cx.env.dir.id().to_string(),
        status,
        run_dir: cx.env.dir.root().to_path_buf(),
        worktree: cx.env.worktree.clone(),
        branch: cx.cp.state().branch.clone().unwrap_or_default(),
        failure: failure.map(|f| files.redacted(&f)).transpose()?,
        state: files.redacted(cx.cp.state())?,
    })
}

/// Ends the driver, not the run: its terminal went away (SIGHUP). The checkpoint is written as
/// a cancel's is (the item being worked on back to pending) but the status stays `running`, so
/// once this process is gone readers see the run `interrupted`, and a resume continues it. The
/// notifiers are told `interrupted`.
pub(super) fn interrupted(cx: &mut RunCtx) -> Result<RunOutcome> {
    let state = cx.cp.state_mut();
    for item in &mut state.items {
        if item.status == ItemStatus::Running {
            item.status = ItemStatus::Pending;
        }
    }
    cx.cp.save()?;
    let totals = totals(cx, RunStatus::Running);
    let reason = "its terminal closed (SIGHUP)".to_string();
    notify_event(
        cx,
        crate::config::NotifyEvent::Interrupted,
        &totals,
        Some(reason.clone()),
    );
    cx.emit(Event::warning(format!(
        "run interrupted: {reason}; resumable"
    )));
    let files = &cx.env.files;
    Ok(RunOutcome {
        run_id: cx.env.dir.id().to_string(),
        status: RunStatus::Running,
        run_dir: cx.env.dir.root().to_path_buf(),
        worktree: cx.env.worktree.clone(),
        branch: cx.cp.state().branch.clone().unwrap_or_default(),
        failure: None,
        state: files.redacted(cx.cp.state())?,
    })
}

/// Tells the configured notifiers how the run ended (or that it waits), after its final
/// checkpoint: a notifier that hangs or fails costs at most its bounded tries, never the run.
fn notify(cx: &RunCtx, status: RunStatus, totals: &RunTotals, failure: Option<String>) {
    let event = match status {
        RunStatus::Succeeded => crate::config::NotifyEvent::Succeeded,
        RunStatus::Failed => crate::config::NotifyEvent::Failed,
        RunStatus::Waiting => crate::config::NotifyEvent::Waiting,
        RunStatus::Cancelled => crate::config::NotifyEvent::Cancelled,
        RunStatus::Pending | RunStatus::Running => return,
    };
    notify_event(cx, event, totals, failure);
}

fn notify_event(
    cx: &RunCtx,
    event: crate::config::NotifyEvent,
    totals: &RunTotals,
    failure: Option<String>,
) {
    let notifiers = &cx.env.config.notify;
    if notifiers.is_empty() {
        return;
    }
    let state = cx.cp.state();
    let notice = crate::notify::Notice {
        event: crate::notify::event_name(event),
        run_id: state.run_id.clone(),
        task: cx.cp.meta().task_summary.clone(),
        branch: state.branch.clone().unwrap_or_default(),
        detail: failure.or_else(|| state.waiting_for.clone()),
        cost_usd: totals.cost_usd,
        duration_secs: totals.duration_secs,
    };
    crate::notify::send(
        notifiers,
        event,
        &notice,
        &cx.env.dir.log("notify.log"),
        cx.env.files.redactor(),
    );
}

/// The run's totals: its stage records summed, its length, its items.
fn totals(cx: &RunCtx, status: RunStatus) -> RunTotals {
    let records: Vec<StageRecord> = crate::metrics::read_stage_records(&cx.env.dir.stage_metrics());
    let state = cx.cp.state();
    let mut m = RunTotals::from_records(&state.run_id, &records);
    m.status = Some(status);
    let start: Option<jiff::Timestamp> = cx.cp.meta().started_at.parse().ok();
    let now = jiff::Timestamp::now();
    let since = |t: jiff::Timestamp, s: jiff::Timestamp| {
        (t.as_millisecond() - s.as_millisecond()) as f64 / 1000.0
    };
    m.duration_secs = start.map(|s| since(now, s)).unwrap_or(0.0);
    let count =
        |wanted: ItemStatus| state.items.iter().filter(|i| i.status == wanted).count() as u32;
    m.items_done = count(ItemStatus::Passed);
    m.items_failed = count(ItemStatus::Failed);
    m.time_to_first_green_secs = records
        .iter()
        .filter(|r| r.item.is_some() && r.status == AttemptStatus::Ok)
        .filter_map(|r| r.ended_at.parse::<jiff::Timestamp>().ok())
        .min()
        .zip(start)
        .map(|(g, s)| since(g, s));
    m
}
