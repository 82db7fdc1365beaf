//! The overview tab: the task, the stages as a timeline, the backlog with each attempt's gates,
//! and the last error with its evidence. The run's live stream redraws it.

use std::collections::BTreeMap;

use orx_core::metrics::StageRecord;
use orx_core::protocol::Observed;
use orx_core::protocol::{
    AttemptStatus, Failure, FailureCategory, ItemPhase, ItemState, ItemStatus, RunState,
    StageState, StageStatus,
};
use orx_core::run::{RunDir, Store};
use serde::Serialize;

use super::{RunData, load_run, read_small, run_header};
use crate::Shared;
use crate::svg;
use crate::view::{self, Tone, Toned, render};

#[derive(Serialize)]
struct OverviewView<'a> {
    id: &'a str,
    task: String,
    /// The run's waterfall (SVG), once something ran.
    waterfall: Option<view::Markup>,
    stages: Vec<StageView<'a>>,
    items: Vec<ItemView<'a>>,
    failure: Option<Failure>,
    evidence: Option<String>,
    queued: bool,
}

/// A stage on the timeline.
#[derive(Serialize)]
struct StageView<'a> {
    name: &'a str,
    status: StageStatus,
    class: Tone,
    current: bool,
    attempts: u32,
    note: Option<&'a str>,
    secs: Option<String>,
}

/// A backlog item with its attempts.
#[derive(Serialize)]
struct ItemView<'a> {
    id: &'a str,
    title: &'a str,
    status: ItemStatus,
    class: Tone,
    attempts: u32,
    phase: Option<ItemPhase>,
    runs: Vec<AttemptView<'a>>,
    has_diff: bool,
}

/// One attempt of an item: its status and each gate's verdict.
#[derive(Serialize)]
struct AttemptView<'a> {
    attempt: u32,
    status: AttemptStatus,
    class: Tone,
    gates: &'a BTreeMap<String, bool>,
    secs: String,
    failure: Option<FailureCategory>,
}

fn stage_view<'a>(
    st: &'a StageState,
    state: &RunState,
    records: &[StageRecord],
    active: bool,
) -> StageView<'a> {
    // Fix attempts count toward implement's time, and the timeline says so (the Metrics tab
    // shows them as a row of their own).
    let own: f64 = records
        .iter()
        .filter(|r| r.stage == st.name)
        .map(|r| r.duration_secs)
        .sum();
    let fixes: f64 = records
        .iter()
        .filter(|r| st.name == "implement" && r.stage == "fix")
        .map(|r| r.duration_secs)
        .sum();
    let secs = own + fixes;
    let current = state.current_stage.as_deref() == Some(st.name.as_str()) && active;
    StageView {
        name: &st.name,
        status: st.status,
        class: if current {
            Tone::Live
        } else {
            st.status.tone()
        },
        current,
        attempts: st.attempts,
        note: st.note.as_deref(),
        secs: (secs > 0.0).then(|| {
            if fixes > 0.0 {
                format!(
                    "{} with {} of fixes",
                    view::duration(secs),
                    view::duration(fixes)
                )
            } else {
                view::duration(secs)
            }
        }),
    }
}

fn item_view<'a>(it: &'a ItemState, records: &'a [StageRecord], dir: &RunDir) -> ItemView<'a> {
    let runs = records
        .iter()
        .filter(|r| r.item.as_deref() == Some(it.id.as_str()))
        .map(|r| AttemptView {
            attempt: r.attempt,
            status: r.status,
            class: r.status.tone(),
            gates: &r.gates,
            secs: view::duration(r.duration_secs),
            failure: r.failure_category,
        })
        .collect();
    ItemView {
        id: &it.id,
        title: &it.title,
        status: it.status,
        class: it.status.tone(),
        attempts: it.attempts,
        phase: it.phase,
        runs,
        has_diff: dir.artifact(&format!("{}.diff", it.id)).exists(),
    }
}

/// Seconds from `t0` to `at` (RFC 3339 both).
fn secs_between(t0: jiff::Timestamp, at: &str) -> Option<f64> {
    let at: jiff::Timestamp = at.parse().ok()?;
    Some(at.duration_since(t0).as_secs_f64().max(0.0))
}

/// The bars of a run's waterfall: each stage and attempt recorded, then the one going on.
pub(crate) fn spans(
    records: &[StageRecord],
    state: Option<&RunState>,
    started: Option<&str>,
    active: bool,
) -> Vec<svg::Span> {
    let Some(t0) = started
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .or_else(|| records.first()?.started_at.parse().ok())
    else {
        return Vec::new();
    };
    let costliest = records.iter().map(|r| r.cost_usd).fold(0.0_f64, f64::max);
    let mut spans: Vec<svg::Span> = records
        .iter()
        .filter_map(|r| {
            let start = secs_between(t0, &r.started_at)?;
            let label = match &r.item {
                Some(i) => format!("{i} {} {}", r.stage, r.attempt),
                None if r.attempt > 1 => format!("{} {}", r.stage, r.attempt),
                None => r.stage.clone(),
            };
            let mut detail = format!(
                "{} (agent {}, gates {}), {} tokens",
                view::duration(r.duration_secs),
                view::duration(r.agent_secs),
                view::duration(r.gate_secs),
                view::tokens(r.tokens.input.saturating_add(r.tokens.output))
            );
            if r.cost_usd > 0.0 {
                detail.push_str(&format!(", {}", view::cost(r.cost_usd)));
            }
            if let Some(c) = r.failure_category {
                detail.push_str(&format!(", {}", c.as_str()));
            }
            Some(svg::Span {
                label,
                start,
                agent: r.agent_secs,
                total: r.duration_secs,
                outcome: match r.status {
                    AttemptStatus::Ok => svg::Outcome::Ok,
                    AttemptStatus::Failed => svg::Outcome::Failed,
                    AttemptStatus::Cancelled | AttemptStatus::Skipped => svg::Outcome::Other,
                },
                cost_share: if costliest > 0.0 {
                    r.cost_usd / costliest
                } else {
                    0.0
                },
                detail,
            })
        })
        .collect();
    // The stage or attempt going on: from the end of the last recorded one (or its stage's
    // start) to now.
    if let (true, Some(st)) = (active, state)
        && let Some(stage) = st.current_stage.as_deref()
    {
        let stage_start = st
            .stages
            .iter()
            .find(|x| x.name == stage)
            .and_then(|x| x.started_at.as_deref())
            .and_then(|t| secs_between(t0, t));
        let last_end = records
            .iter()
            .filter_map(|r| secs_between(t0, &r.ended_at))
            .fold(0.0_f64, f64::max);
        let start = stage_start.unwrap_or(0.0).max(last_end);
        let now = jiff::Timestamp::now().duration_since(t0).as_secs_f64();
        let label = match st.current_item.as_deref() {
            Some(i) => format!(
                "{i} {stage} {}",
                st.item(i).map(|x| x.attempts).unwrap_or(1)
            ),
            None => stage.to_string(),
        };
        spans.push(svg::Span {
            label,
            start,
            agent: 0.0,
            total: (now - start).max(0.0),
            outcome: svg::Outcome::Running,
            cost_share: 0.0,
            detail: "going on".into(),
        });
    }
    spans
}

/// The overview of `run`.
pub(super) fn html(state: &Shared, run: &RunData) -> String {
    let dir = state.index.dir(&run.summary.run_id);
    let task = read_small(&dir.context("task.md"))
        .or_else(|| run.queued.as_ref().map(|q| q.request.task.clone()))
        .unwrap_or_else(|| run.summary.task.clone());
    let records = Store::stage_records(&dir);
    let active = run.summary.is_active();
    let (stages, items) = match &run.state {
        Some(s) => (
            s.stages
                .iter()
                .map(|st| stage_view(st, s, &records, active))
                .collect(),
            s.items
                .iter()
                .map(|it| item_view(it, &records, &dir))
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    // A failure a later attempt fixed is history, not the run's error.
    let failure = run
        .state
        .as_ref()
        .filter(|_| run.summary.status == Observed::Failed)
        .and_then(|s| s.last_failure.clone())
        .map(|mut f| {
            f.message = crate::redact(&f.message);
            f
        });
    let evidence = failure.as_ref().and_then(|f| {
        let item = f.item.as_ref()?;
        run.state
            .as_ref()?
            .item(item)?
            .last_evidence
            .as_deref()
            .map(crate::redact)
    });
    let bars = spans(
        &records,
        run.state.as_ref(),
        run.summary.started_at.as_deref(),
        active,
    );
    let view = OverviewView {
        id: &run.summary.run_id,
        task: crate::redact(&task),
        waterfall: (!bars.is_empty())
            .then(|| view::Markup(svg::waterfall(&bars, run.summary.started_at.as_deref()))),
        stages,
        items,
        failure,
        evidence,
        queued: run.queued.as_ref().is_some_and(|q| q.error.is_none()) && run.state.is_none(),
    };
    render("tab_overview.html", &view)
}

/// The header and (for a started run) the overview, for the run page's live stream.
pub fn run_fragments(state: &Shared, id: &str) -> (String, Option<String>) {
    match load_run(state, id) {
        Some(run) => (run_header::html(state, &run), Some(html(state, &run))),
        None => (
            "<p class=\"error\">this run is gone (cleaned up?)</p>".to_string(),
            None,
        ),
    }
}
