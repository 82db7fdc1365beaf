//! The HTML pages and the fragments htmx swaps in: one module per page and per tab of a run's
//! page, each with the typed view its template draws. What they share lives here: loading a
//! run, the error pages, the run page's frame and its actions.

mod artifacts;
mod diff;
mod logs;
mod metrics;
mod new_run;
mod overview;
mod run_header;
mod runs;

use std::collections::HashMap;
use std::path::PathBuf;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use orx_core::metrics::RunTotals;
use orx_core::protocol::{Continue, FailureCategory, Observed};
use orx_core::run::{Meta, RunState, Store};
use serde::{Deserialize, Serialize};

pub use artifacts::{Hit, SearchQuery, preview, preview_html, search, search_run};
pub use diff::{DiffFile, split_diff};
pub use logs::{LogView, ctx_of as log_ctx, log_lines};
pub use metrics::{metrics, report};
pub use new_run::{form_request, new_run, start};
pub use overview::run_fragments;
pub use runs::{Rendered, runs, runs_fragment, runs_table};

use crate::Shared;
use crate::files::{self, PathError};
use crate::highlight::escape;
use crate::index::RunRow;
use crate::queue::{Queued, Refusal};
use crate::view::{Chrome, Markup, render};

/// The most a page shows of a diff; more is downloaded.
pub const DIFF_SHOWN: usize = 4 << 20;
/// The most of one file's diff a page highlights; a larger one is collapsed with a link.
pub const DIFF_FILE_SHOWN: usize = 512 << 10;
/// The most a preview shows of a file.
pub const PREVIEW_SHOWN: u64 = 512 << 10;

/// Everything known about one run.
#[derive(Clone, Debug, Serialize)]
pub struct RunData {
    /// The row of the runs list (status, stage, tokens, …).
    pub summary: RunRow,
    /// meta.json.
    pub meta: Option<Meta>,
    /// state.json.
    pub state: Option<RunState>,
    /// The run's totals.
    pub metrics: Option<RunTotals>,
    /// The queue entry, while the run waits to start (or failed to).
    pub queued: Option<Queued>,
}

/// The error page: what is wrong and how to fix it, in the page frame.
#[derive(Serialize)]
struct ErrorPage<'a> {
    title: &'a str,
    error: ErrorView<'a>,
}

#[derive(Serialize)]
struct ErrorView<'a> {
    message: &'a str,
    fix: &'a str,
}

fn page_error(status: StatusCode, title: &str, message: &str, fix: &str) -> Response {
    let page = ErrorPage {
        title,
        error: ErrorView { message, fix },
    };
    (status, Html(render("base.html", &page))).into_response()
}

/// The 404 page.
pub async fn not_found() -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "Not found",
        "there is no such page",
        "go back to the runs list",
    )
}

fn refused(r: Refusal) -> Response {
    page_error(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        "Refused",
        &r.message,
        &r.fix,
    )
}

/// Loads a run (or its queue entry).
pub fn load_run(state: &Shared, id: &str) -> Option<RunData> {
    if !orx_core::run::is_valid_run_id(id) {
        return None;
    }
    let queued = state.queue.queued(id);
    let dir = state.index.dir(id);
    if !dir.state().exists() {
        return queued.map(|q| queued_run(id, q));
    }
    // A page that reads a run first can take its change from the watcher (the run ended a
    // moment ago): the change is announced here, or open pages would never hear of it.
    if state.index.touch(id) {
        state.live.notify(id);
    }
    let summary = state.index.row(id)?;
    Some(RunData {
        summary,
        meta: Meta::load(&dir.meta()).ok(),
        state: RunState::load(&dir.state()).ok(),
        metrics: Store::run_metrics(&dir),
        queued,
    })
}

/// A run the dashboard queued and has not started (or could not start).
fn queued_run(id: &str, q: Queued) -> RunData {
    RunData {
        summary: RunRow {
            run_id: id.to_string(),
            status: if q.error.is_some() {
                Observed::Failed
            } else {
                Observed::Queued
            },
            stage: None,
            item: None,
            attempt: None,
            started_at: Some(q.queued_at.clone()),
            duration_secs: None,
            task: crate::redact(&orx_core::run::summarize_task(&q.request.task, 80)),
            failure: q.error.as_ref().map(|_| FailureCategory::StartFailed),
            tokens: 0,
            cost_usd: 0.0,
            waiting_for: None,
            bars: Vec::new(),
        },
        meta: None,
        state: None,
        metrics: None,
        queued: Some(q),
    }
}

fn missing_run(id: &str) -> Response {
    page_error(
        StatusCode::NOT_FOUND,
        "No such run",
        &format!(
            "no run `{}` in this repository",
            id.chars().take(40).collect::<String>()
        ),
        "the runs list shows every run",
    )
}

/// Resolves a path inside a run's folder, or the error response.
pub fn run_file(state: &Shared, id: &str, rel: &str) -> Result<PathBuf, Box<Response>> {
    if !orx_core::run::is_valid_run_id(id) {
        return Err(Box::new(missing_run(id)));
    }
    files::confine(state.index.dir(id).root(), rel).map_err(|e| {
        let status = match e {
            PathError::Outside(_) => StatusCode::BAD_REQUEST,
            PathError::Missing(_) => StatusCode::NOT_FOUND,
        };
        let body = serde_json::json!({
            "error": e.to_string(),
            "fix": "paths are relative to the run folder, e.g. logs/agent_plan.jsonl",
        });
        Box::new((status, axum::Json(body)).into_response())
    })
}

/// A small text file of a run folder, redacted (missing or too large: none).
fn read_small(path: &std::path::Path) -> Option<String> {
    files::read_text(path, 256 * 1024)
        .ok()
        .map(|(t, _)| crate::redact(&t))
}

/// Query of the run page and its tabs.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RunQuery {
    /// The tab.
    #[serde(default)]
    pub tab: Option<String>,
    /// A file (artifacts, logs).
    #[serde(default)]
    pub path: Option<String>,
    /// An item (diff).
    #[serde(default)]
    pub item: Option<String>,
    /// The diff's layout (`split`: side by side, else unified), or a log shown raw (`raw`).
    #[serde(default)]
    pub view: Option<String>,
}

/// The tabs of a run's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tab {
    /// Task, stages, backlog, last error.
    Overview,
    /// The run folder's files, previewed and searchable.
    Artifacts,
    /// The run's diff, whole or per item.
    Diff,
    /// Events and logs, live.
    Logs,
    /// Time, tokens, cost and gates.
    Metrics,
}

impl Tab {
    /// Every tab, in the order shown.
    pub const ALL: [Tab; 5] = [
        Tab::Overview,
        Tab::Artifacts,
        Tab::Diff,
        Tab::Logs,
        Tab::Metrics,
    ];

    /// The tab named `name` in a URL.
    pub fn parse(name: &str) -> Option<Tab> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Its name in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Tab::Overview => "overview",
            Tab::Artifacts => "artifacts",
            Tab::Diff => "diff",
            Tab::Logs => "logs",
            Tab::Metrics => "metrics",
        }
    }
}

/// A tab, rendered off the async workers (diffs run git, searches read files).
async fn tab_html_blocking(state: &Shared, run: RunData, tab: Tab, q: RunQuery) -> String {
    let state = state.clone();
    tokio::task::spawn_blocking(move || tab_html(&state, &run, tab, &q))
        .await
        .unwrap_or_else(|e| format!("<p class=\"error\">{}</p>", escape(&e.to_string())))
}

fn tab_html(state: &Shared, run: &RunData, tab: Tab, q: &RunQuery) -> String {
    match tab {
        Tab::Overview => overview::html(state, run),
        Tab::Artifacts => artifacts::html(state, run, q),
        Tab::Diff => diff::html(state, run, q),
        Tab::Logs => logs::html(state, run, q),
        Tab::Metrics => metrics::tab_html(state, run),
    }
}

/// The run page: its header, the tabs and the open tab.
#[derive(Serialize)]
struct RunPage {
    #[serde(flatten)]
    chrome: Chrome,
    id: String,
    tab: Tab,
    nav: Markup,
    header: Markup,
    body: Markup,
}

/// `GET /runs/{id}`.
pub async fn run(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
) -> Response {
    let Some(run) = load_run(&state, &id) else {
        return missing_run(&id);
    };
    let tab = q
        .tab
        .as_deref()
        .and_then(Tab::parse)
        .unwrap_or(Tab::Overview);
    let header = Markup(run_header::html(&state, &run));
    let nav = Markup(tabs_nav(&id, tab, false));
    let body = Markup(tab_html_blocking(&state, run, tab, q).await);
    let page = RunPage {
        chrome: Chrome {
            title: format!("Run {id}"),
            csrf: state.csrf.clone(),
            nav: "runs",
        },
        id,
        tab,
        nav,
        header,
        body,
    };
    Html(render("run.html", &page)).into_response()
}

/// The tabs of run `id`'s page with `tab` selected; `oob`: to replace the page's own (when a
/// view is swapped in by htmx), so the highlighted tab is always the shown one.
fn tabs_nav(id: &str, tab: Tab, oob: bool) -> String {
    render(
        "tabs_nav.html",
        &serde_json::json!({ "id": id, "tab": tab, "tabs": Tab::ALL, "oob": oob }),
    )
}

/// The address of a view of run `id`: its tab, file and item, as a page that a reload, Back or
/// a shared link opens on that view.
pub(crate) fn view_url(id: &str, tab: Tab, q: &RunQuery) -> String {
    let mut url = format!("/runs/{id}?tab={}", tab.as_str());
    if let Some(p) = q.path.as_deref().filter(|p| !p.is_empty()) {
        url.push_str(&format!("&path={}", crate::view::url_encode(p)));
    }
    if let Some(i) = q.item.as_deref().filter(|i| !i.is_empty()) {
        url.push_str(&format!("&item={}", crate::view::url_encode(i)));
    }
    if let Some(v) = q.view.as_deref().filter(|v| matches!(*v, "split" | "raw")) {
        url.push_str(&format!("&view={v}"));
    }
    url
}

/// A view swapped in by htmx: its address goes to the browser's history (the page's URL
/// follows the view), unless the browser is restoring that history itself.
pub(crate) fn with_view_url(
    mut response: Response,
    headers: &axum::http::HeaderMap,
    url: &str,
) -> Response {
    let swapped =
        headers.contains_key("hx-request") && !headers.contains_key("hx-history-restore-request");
    if swapped && let Ok(v) = axum::http::HeaderValue::from_str(url) {
        response.headers_mut().insert("hx-push-url", v);
    }
    response
}

/// `GET /runs/{id}/tab/{tab}`: the view, the tabs with it highlighted, and its address.
pub async fn tab(
    State(state): State<Shared>,
    Path((id, tab)): Path<(String, String)>,
    Query(q): Query<RunQuery>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(run) = load_run(&state, &id) else {
        return missing_run(&id);
    };
    let Some(tab) = Tab::parse(&tab) else {
        return not_found().await;
    };
    let url = view_url(&id, tab, &q);
    let body = tab_html_blocking(&state, run, tab, q).await;
    let html = format!("{body}{}", tabs_nav(&id, tab, true));
    with_view_url(Html(html).into_response(), &headers, &url)
}

/// `POST /runs/{id}/cancel`: the new header.
pub async fn cancel(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if load_run(&state, &id).is_none() {
        return missing_run(&id);
    }
    let msg = match state.queue.cancel(&id).await {
        Ok(m) => m,
        Err(e) => return refused(e),
    };
    state.index.touch(&id);
    state.live.notify(&id);
    action_result(&state, &id, &msg)
}

/// `POST /runs/{id}/resume`: the new header.
pub async fn resume(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(run) = load_run(&state, &id) else {
        return missing_run(&id);
    };
    let said = match state.queue.resume(&state, &id, run.summary.status) {
        Ok(how) => queued_or(&state, how, "resuming"),
        Err(e) => return refused(e),
    };
    state.live.notify(&id);
    action_result(&state, &id, &said)
}

/// `POST /runs/{id}/approve`: a waiting run goes on, with what the form adds to its budget.
pub async fn approve(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let raise = match crate::queue::raise_of(
        form.get("add_usd").map(String::as_str),
        form.get("add_tokens").map(String::as_str),
    ) {
        Ok(r) => r,
        Err(e) => return action_refused(&state, &id, &e),
    };
    continue_waiting(&state, &id, Continue::Approve(raise))
}

/// `POST /runs/{id}/reject`: the stage that waits for approval runs again, with the feedback.
pub async fn reject(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let feedback = form.get("feedback").cloned().unwrap_or_default();
    continue_waiting(&state, &id, Continue::Reject(feedback))
}

fn continue_waiting(state: &Shared, id: &str, how: Continue) -> Response {
    let Some(run) = load_run(state, id) else {
        return missing_run(id);
    };
    let Some(run_state) = run.state.as_ref() else {
        return missing_run(id);
    };
    let said = match &how {
        Continue::Approve(_) => "approved; the run goes on",
        Continue::Reject(_) => "rejected; the stage runs again with your feedback",
    };
    match state.queue.continue_waiting(state, id, run_state, how) {
        Ok(how) => {
            state.live.notify(id);
            action_result(state, id, &queued_or(state, how, said))
        }
        Err(e) => action_refused(state, id, &e),
    }
}

/// What the page says of a continued run: `doing`, or that it waits for a free slot.
fn queued_or(state: &Shared, how: crate::queue::Continued, doing: &str) -> String {
    match how {
        crate::queue::Continued::Started => doing.to_string(),
        crate::queue::Continued::Queued => format!(
            "queued: at most {} run(s) at once; it goes on when one ends",
            state.queue.max()
        ),
    }
}

/// The header again, with why the action was refused: htmx swaps what a 200 carries, so the
/// person sees it in the page.
fn action_refused(state: &Shared, id: &str, e: &Refusal) -> Response {
    let header = load_run(state, id)
        .map(|r| run_header::html(state, &r))
        .unwrap_or_default();
    let html = Html(format!(
        "{header}<p class=\"error\" role=\"alert\">{}<br><small>{}</small></p>",
        escape(&e.message),
        escape(&e.fix)
    ));
    with_toast(html.into_response(), &format!("{id}: {}", e.message), true)
}

fn action_result(state: &Shared, id: &str, msg: &str) -> Response {
    let header = load_run(state, id)
        .map(|r| run_header::html(state, &r))
        .unwrap_or_default();
    let html = Html(format!(
        "{header}<p class=\"flash\" role=\"status\">{}</p>",
        escape(msg)
    ));
    with_toast(html.into_response(), &format!("{id}: {msg}"), false)
}

/// The page shows `text` as a toast when the answer arrives (`HX-Trigger`), also where the
/// answer itself is not shown (the runs list's buttons).
fn with_toast(mut response: Response, text: &str, bad: bool) -> Response {
    let detail = serde_json::json!({ "orx-toast": { "text": text, "bad": bad } }).to_string();
    // A header holds ASCII: anything else goes as a JSON escape.
    let ascii: String = detail
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c.to_string()
            } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect()
            }
        })
        .collect();
    if let Ok(v) = axum::http::HeaderValue::from_str(&ascii) {
        response.headers_mut().insert("hx-trigger", v);
    }
    response
}

/// `GET /favicon.ico`: the icon browsers ask for on their own (an SVG).
pub async fn favicon() -> Response {
    asset(Path("favicon.svg".to_string())).await
}

/// `GET /assets/{name}`: the compiled-in static files.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, mime): (&'static [u8], &str) = match name.as_str() {
        "htmx.min.js" => (
            include_bytes!("../../assets/vendor/htmx.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "sse.min.js" => (
            include_bytes!("../../assets/vendor/sse.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.js" => (
            include_bytes!("../../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (
            include_bytes!("../../assets/app.css"),
            "text/css; charset=utf-8",
        ),
        "favicon.svg" => (include_bytes!("../../assets/favicon.svg"), "image/svg+xml"),
        _ => return not_found().await,
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
