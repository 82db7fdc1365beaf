//! The run page's header: status, task, branch, timing, cost and the cancel and resume
//! buttons. The run's live stream redraws it.

use orx_core::protocol::Observed;
use serde::Serialize;

use super::RunData;
use super::runs::RowView;
use crate::Shared;
use crate::view::render;

#[derive(Serialize)]
struct HeaderView<'a> {
    run: RowView<'a>,
    branch: Option<&'a str>,
    base_sha: Option<&'a str>,
    base_branch: Option<&'a str>,
    pipeline: Option<&'a str>,
    engine: Option<&'a str>,
    pr_url: Option<&'a str>,
    started_at: Option<&'a str>,
    ended: bool,
    can_cancel: bool,
    can_resume: bool,
    queue_error: Option<String>,
    csrf: &'a str,
}

/// The header of `run`.
pub(super) fn html(state: &Shared, run: &RunData) -> String {
    let s = &run.summary;
    let st = run.state.as_ref();
    let m = run.meta.as_ref();
    let view = HeaderView {
        run: RowView::new(s),
        branch: st
            .and_then(|x| x.branch.as_deref())
            .or_else(|| m.map(|m| m.branch.as_str())),
        base_sha: st.and_then(|x| x.base_sha.as_deref()),
        base_branch: m.map(|m| m.base_branch.as_str()),
        pipeline: m.map(|m| m.pipeline.as_str()),
        engine: m.map(|m| m.engine.as_str()),
        pr_url: m.and_then(|m| m.pr_url.as_deref()),
        started_at: s.started_at.as_deref(),
        ended: m.and_then(|m| m.ended_at.as_ref()).is_some() || !s.is_active(),
        can_cancel: s.is_active() || s.status == Observed::Queued,
        can_resume: s.status.is_resumable() && run.state.is_some(),
        queue_error: run
            .queued
            .as_ref()
            .and_then(|q| q.error.as_deref().map(crate::redact)),
        csrf: &state.csrf,
    };
    render("run_header.html", &view)
}
