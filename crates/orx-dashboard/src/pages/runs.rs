//! The runs page (`/`): the filter form, then the live block of active runs, the queue and one
//! page of recent runs, which the runs stream redraws.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use orx_core::protocol::{FailureCategory, Observed};
use serde::Serialize;

use crate::Shared;
use crate::highlight::escape;
use crate::index::{Filter, RunRow};
use crate::view::{self, Chrome, Markup, Tone, Toned, render};

/// One run as a row of a table (and as the run page's header sees it).
#[derive(Serialize)]
pub(super) struct RowView<'a> {
    run_id: &'a str,
    status: Observed,
    class: Tone,
    stage: Option<&'a str>,
    item: Option<&'a str>,
    attempt: Option<u32>,
    started_at: Option<&'a str>,
    duration: Option<String>,
    task: &'a str,
    failure: Option<FailureCategory>,
    waiting_for: Option<&'a str>,
    tokens: String,
    cost: String,
    active: bool,
}

impl<'a> RowView<'a> {
    pub(super) fn new(r: &'a RunRow) -> Self {
        Self {
            run_id: &r.run_id,
            status: r.status,
            class: r.status.tone(),
            stage: r.stage.as_deref(),
            item: r.item.as_deref(),
            attempt: r.attempt,
            started_at: r.started_at.as_deref(),
            duration: r.duration_secs.map(view::duration),
            task: &r.task,
            failure: r.failure,
            waiting_for: r.waiting_for.as_deref(),
            tokens: view::tokens(r.tokens),
            cost: view::cost_of(r.cost_usd, r.tokens),
            active: r.is_active(),
        }
    }
}

/// A queue entry of the dashboard.
#[derive(Serialize)]
struct QueueView<'a> {
    run_id: &'a str,
    queued_at: &'a str,
    task: String,
    error: Option<String>,
}

/// The live block: active runs, the queue and a page of recent runs.
#[derive(Serialize)]
struct TablesView<'a> {
    waiting: Vec<RowView<'a>>,
    active: Vec<RowView<'a>>,
    queue: Vec<QueueView<'a>>,
    rows: Vec<RowView<'a>>,
    total: usize,
    page: usize,
    pages: usize,
    max: usize,
    prev: Option<String>,
    next: Option<String>,
    all: usize,
    /// While the dashboard reads its older runs: how many there are in all.
    filling: Option<usize>,
}

/// The runs page.
#[derive(Serialize)]
struct RunsPage<'a> {
    #[serde(flatten)]
    chrome: Chrome,
    filter: &'a Filter,
    statuses: [Observed; 7],
    live: Markup,
}

/// The statuses the filter offers, most asked for first.
const FILTERS: [Observed; 7] = [
    Observed::Waiting,
    Observed::Running,
    Observed::Succeeded,
    Observed::Failed,
    Observed::Cancelled,
    Observed::Interrupted,
    Observed::Pending,
];

/// A filter as the query of a URL.
fn filter_query(f: &Filter) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "status={}&q={}&page={}",
        enc(&f.status),
        enc(&f.q),
        f.page.unwrap_or(1)
    )
}

/// The live part of the runs page: active runs, the queue, and one page of recent runs.
pub fn runs_fragment(state: &Shared, filter: &Filter) -> String {
    let page = state.index.page(filter);
    let pages = page.total.div_ceil(page.per_page).max(1);
    let active_rows = state.index.active();
    let waiting_rows = state.index.waiting();
    let queued = state.queue.entries();
    let queue = queued
        .iter()
        .map(|q| QueueView {
            run_id: &q.run_id,
            queued_at: &q.queued_at,
            task: crate::redact(&orx_core::run::summarize_task(&q.request.task, 80)),
            error: q.error.as_deref().map(crate::redact),
        })
        .collect();
    let page_link = |p: usize| {
        filter_query(&Filter {
            page: Some(p),
            ..filter.clone()
        })
    };
    let view = TablesView {
        waiting: waiting_rows.iter().map(RowView::new).collect(),
        active: active_rows.iter().map(RowView::new).collect(),
        queue,
        rows: page.runs.iter().map(RowView::new).collect(),
        total: page.total,
        page: page.page,
        pages,
        max: state.queue.max(),
        prev: (page.page > 1).then(|| page_link(page.page - 1)),
        next: (page.page < pages).then(|| page_link(page.page + 1)),
        all: state.index.len(),
        filling: state.index.filling(),
    };
    render("runs_table.html", &view)
}

fn runs_live(state: &Shared, filter: &Filter) -> String {
    format!(
        "<div id=\"runs-live\" hx-ext=\"sse\" sse-connect=\"/events/runs?{q}\">\
         <div id=\"runs-tables\" sse-swap=\"runs\">{inner}</div></div>",
        q = escape(&filter_query(filter)),
        inner = runs_fragment(state, filter)
    )
}

/// `GET /`.
pub async fn runs(State(state): State<Shared>, Query(filter): Query<Filter>) -> Response {
    let page = RunsPage {
        chrome: Chrome {
            title: "Runs".into(),
            csrf: state.csrf.clone(),
            nav: "runs",
        },
        filter: &filter,
        statuses: FILTERS,
        live: Markup(runs_live(&state, &filter)),
    };
    Html(render("runs.html", &page)).into_response()
}

/// `GET /runs/table`: the live block for a new filter.
pub async fn runs_table(State(state): State<Shared>, Query(filter): Query<Filter>) -> Response {
    Html(runs_live(&state, &filter)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While the dashboard reads its older runs, the runs list says so (issue 15, point 8).
    #[test]
    fn the_list_says_while_the_older_runs_are_read() {
        let view = |filling| TablesView {
            waiting: Vec::new(),
            active: Vec::new(),
            queue: Vec::new(),
            rows: Vec::new(),
            total: 200,
            page: 1,
            pages: 4,
            max: 2,
            prev: None,
            next: None,
            all: 200,
            filling,
        };
        let html = render("runs_table.html", &view(Some(10_000)));
        let notice = html
            .split("<p class=\"muted\" id=\"filling\" role=\"status\">")
            .nth(1)
            .and_then(|r| r.split("</p>").next())
            .unwrap_or_default();
        insta::assert_snapshot!(notice, @"Reading the older runs: the newest 200 of 10000 are listed so far; the list fills in by itself.");
        assert!(!render("runs_table.html", &view(None)).contains("id=\"filling\""));
    }
}
