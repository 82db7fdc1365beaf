//! The JSON API under `/api`: the same data the pages show. Errors are
//! `{"error": "...", "fix": "..."}` with a 4xx/5xx status.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orx_core::run::Store;
use serde::Deserialize;
use serde_json::json;

use crate::Shared;
use crate::files;
use crate::index::Filter;
use crate::pages::{self, RunQuery, SearchQuery};
use crate::queue::{Refusal, StartRequest};

fn error(status: StatusCode, message: &str, fix: &str) -> Response {
    (status, Json(json!({ "error": message, "fix": fix }))).into_response()
}

fn refused(r: Refusal) -> Response {
    error(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        &r.message,
        &r.fix,
    )
}

fn no_run(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("no run `{}`", id.chars().take(40).collect::<String>()),
        "GET /api/runs lists the runs",
    )
}

/// Unknown `/api/...` routes.
pub async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such API endpoint",
        "see the API section of the README",
    )
}

/// `GET /api/session`: the CSRF token for POST requests.
pub async fn session(State(state): State<Shared>) -> Response {
    Json(json!({
        "csrf": state.csrf,
        "repo": state.opts.repo.display().to_string(),
        "max_concurrent_runs": state.queue.max(),
    }))
    .into_response()
}

/// `GET /api/runs?status=&q=&page=&per_page=`.
pub async fn runs(State(state): State<Shared>, Query(filter): Query<Filter>) -> Response {
    let page = state.index.page(&filter);
    Json(crate::redact_json(json!({
        "runs": page.runs, "total": page.total, "page": page.page, "per_page": page.per_page,
        "active": state.index.active(), "queue": state.queue.entries(),
        // While the dashboard reads its older runs: how many there are in all.
        "filling": state.index.filling(),
    })))
    .into_response()
}

/// `GET /api/runs/{id}`.
pub async fn run(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match pages::load_run(&state, &id) {
        Some(r) => match serde_json::to_value(&r) {
            Ok(v) => Json(crate::redact_json(v)).into_response(),
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
                "check the run's files",
            ),
        },
        None => no_run(&id),
    }
}

/// `GET /api/runs/{id}/files` (`?q=` searches their text).
pub async fn file_list(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Response {
    if pages::load_run(&state, &id).is_none() {
        return no_run(&id);
    }
    if q.q.trim().is_empty() {
        Json(json!({ "files": files::list(state.index.dir(&id).root()) })).into_response()
    } else {
        Json(json!({ "hits": pages::search_run(&state, &id, &q.q) })).into_response()
    }
}

/// `GET /api/runs/{id}/files/{*path}`: a file's text (the first 4 MiB).
pub async fn file(
    State(state): State<Shared>,
    Path((id, rel)): Path<(String, String)>,
) -> Response {
    let path = match pages::run_file(&state, &id, &rel) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match files::read_text(&path, 4 << 20) {
        Ok((text, cut)) => Json(json!({
            "path": rel, "language": crate::highlight::language(&rel),
            "truncated": cut, "text": crate::redact(&text),
        }))
        .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot read {rel}: {e}"),
            "check the run folder's permissions",
        ),
    }
}

/// `GET /api/runs/{id}/diff?item=W001`.
pub async fn diff(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
) -> Response {
    if pages::load_run(&state, &id).is_none() {
        return no_run(&id);
    }
    let dir = state.index.dir(&id);
    // At most 8 MiB in an answer; `truncated` says when the diff was longer (the whole patch is
    // at /runs/{id}/diff.patch).
    let item = q.item.clone().filter(|i| !i.is_empty());
    let read =
        tokio::task::spawn_blocking(move || Store::diff_capped(&dir, item.as_deref(), 8 << 20))
            .await;
    let Ok(read) = read else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match read {
        Ok((text, total)) => {
            let truncated = total > text.len() as u64;
            let text = match crate::redact_cow(&text) {
                std::borrow::Cow::Owned(r) => r,
                std::borrow::Cow::Borrowed(_) => text,
            };
            let files: Vec<_> = pages::split_diff(&text)
                .into_iter()
                .map(|f| json!({ "path": f.path, "added": f.added, "removed": f.removed }))
                .collect();
            Json(json!({
                "item": q.item, "files": files, "truncated": truncated,
                "bytes": total, "diff": text,
            }))
            .into_response()
        }
        Err(e) => error(
            StatusCode::BAD_REQUEST,
            &e.to_string(),
            "items look like W001; GET /api/runs/{id} lists them",
        ),
    }
}

/// Query of a log read.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    /// The log, relative to the run folder (default: events.jsonl).
    #[serde(default)]
    pub path: Option<String>,
    /// Byte offset to read from (default 0).
    #[serde(default)]
    pub offset: Option<u64>,
}

/// `GET /api/runs/{id}/log?path=&offset=`: whole lines from `offset`, and the next offset.
pub async fn log(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> Response {
    let rel = q.path.unwrap_or_else(|| "events.jsonl".into());
    let path = match pages::run_file(&state, &id, &rel) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let offset = q.offset.unwrap_or(0);
    match files::read_from(&path, offset, 1 << 20) {
        Ok((text, next)) => Json(json!({
            "path": rel, "offset": offset, "next_offset": next, "text": crate::redact(&text),
        }))
        .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot read {rel}: {e}"),
            "check the run folder's permissions",
        ),
    }
}

/// `GET /api/runs/{id}/metrics`: the totals and every stage record.
pub async fn run_metrics(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(run) = pages::load_run(&state, &id) else {
        return no_run(&id);
    };
    let dir = state.index.dir(&id);
    Json(json!({ "metrics": run.metrics, "stages": Store::stage_records(&dir) })).into_response()
}

/// `GET /api/metrics`: the aggregate (the same as `orx metrics report --json`).
pub async fn metrics(State(state): State<Shared>) -> Response {
    Json(pages::report(&state)).into_response()
}

/// `POST /api/runs` with a JSON [`StartRequest`]: queues the run; 202 with its id.
pub async fn start(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let req: StartRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a run request: {e}"),
                "send JSON like {\"task\": \"Add a function add(a, b)\", \"engine\": \"fake\"}",
            );
        }
    };
    match state.queue.enqueue(req) {
        Ok(id) => {
            state.live.notify("*");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "run_id": id, "url": format!("/runs/{id}") })),
            )
                .into_response()
        }
        Err(e) => refused(e),
    }
}

/// `POST /api/runs/{id}/cancel`.
pub async fn cancel(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if pages::load_run(&state, &id).is_none() {
        return no_run(&id);
    }
    match state.queue.cancel(&id).await {
        Ok(m) => {
            state.index.touch(&id);
            state.live.notify(&id);
            Json(json!({ "run_id": id, "result": m })).into_response()
        }
        Err(e) => refused(e),
    }
}

/// `POST /api/runs/{id}/resume`.
pub async fn resume(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(run) = pages::load_run(&state, &id) else {
        return no_run(&id);
    };
    match state.queue.resume(&state, &id, run.summary.status) {
        Ok(how) => {
            state.live.notify(&id);
            (
                StatusCode::ACCEPTED,
                Json(json!({ "run_id": id, "result": continued(how, "resuming") })),
            )
                .into_response()
        }
        Err(e) => refused(e),
    }
}

/// What `POST /api/runs/{id}/approve` may send: what to add to the run's budget.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Dollars added to the run's limits.
    #[serde(default)]
    pub add_usd: Option<f64>,
    /// Tokens added to its token limit.
    #[serde(default)]
    pub add_tokens: Option<u64>,
}

/// What `POST /api/runs/{id}/reject` sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// What the stage should change.
    pub feedback: String,
}

/// What `POST /api/runs/{id}/followup` sends: what to do now, and comments on lines of the diff.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowupBody {
    /// What the follow-up should do (the comments say where).
    #[serde(default)]
    pub text: String,
    /// Comments on lines of the run's diff.
    #[serde(default)]
    pub comments: Vec<orx_core::protocol::ReviewComment>,
    /// The pipeline (default: standard).
    #[serde(default)]
    pub pipeline: Option<String>,
}

/// `POST /api/runs/{id}/followup`: starts a run on an ended run's branch and worktree, its task
/// the text and the comments with the earlier run's task, spec and review.
pub async fn followup(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Some(run) = pages::load_run(&state, &id) else {
        return no_run(&id);
    };
    let body: FollowupBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return refused(Refusal {
                status: 400,
                message: format!("the body is not a follow-up: {e}"),
                fix: r#"send {"text": "…", "comments": [{"path": "src/a.py", "start_line": 3, "line": 5, "body": "…"}]}"#.into(),
            });
        }
    };
    let status = run.summary.status;
    if status.is_active()
        || status == orx_core::protocol::Observed::Waiting
        || status == orx_core::protocol::Observed::Queued
    {
        return refused(Refusal {
            status: 409,
            message: format!("run {id} is {status}: a follow-up continues a run that ended"),
            fix: "wait for it to end (or decide on it when it waits for you)".into(),
        });
    }
    if body.text.trim().is_empty() && body.comments.is_empty() {
        return refused(Refusal {
            status: 400,
            message: "the follow-up has no text and no comment".into(),
            fix: "say what to change, or comment on lines of the diff".into(),
        });
    }
    if let Some(c) = body
        .comments
        .iter()
        .find(|c| c.path.trim().is_empty() || c.body.trim().is_empty())
    {
        return refused(Refusal {
            status: 400,
            message: format!("a comment on `{}` has no file or no text", c.path),
            fix: "give each comment its file and what to change".into(),
        });
    }
    let text = if body.text.trim().is_empty() {
        "Address the review comments below."
    } else {
        body.text.as_str()
    };
    let task = orx_core::run::followup::task(&state.index.dir(&id), text, &body.comments);
    let req = crate::queue::StartRequest {
        task,
        pipeline: body.pipeline,
        follows: Some(id.clone()),
        ..Default::default()
    };
    match state.queue.enqueue(req) {
        Ok(new) => {
            state.live.notify("*");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "run_id": new, "url": format!("/runs/{new}"), "follows": id })),
            )
                .into_response()
        }
        Err(e) => refused(e),
    }
}

/// `POST /api/runs/{id}/approve`: a waiting run goes on, with what the body adds to its budget.
pub async fn approve(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    // An empty body approves without adding to the budget.
    let body: ApproveBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApproveBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return refused(Refusal {
                    status: 400,
                    message: format!("the body is not an approval: {e}"),
                    fix: r#"send {"add_usd": 1.5, "add_tokens": 10000} (both optional)"#.into(),
                });
            }
        }
    };
    let raise = match crate::queue::raise_of(
        body.add_usd.map(|v| v.to_string()).as_deref(),
        body.add_tokens.map(|v| v.to_string()).as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    continue_waiting(&state, &id, orx_core::protocol::Continue::Approve(raise))
}

/// `POST /api/runs/{id}/reject`: the stage that waits for approval runs again with the feedback.
pub async fn reject(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<RejectBody>,
) -> Response {
    continue_waiting(
        &state,
        &id,
        orx_core::protocol::Continue::Reject(body.feedback),
    )
}

fn continue_waiting(state: &Shared, id: &str, how: orx_core::protocol::Continue) -> Response {
    let Some(run) = pages::load_run(state, id) else {
        return no_run(id);
    };
    let Some(run_state) = run.state.as_ref() else {
        return no_run(id);
    };
    match state.queue.continue_waiting(state, id, run_state, how) {
        Ok(how) => {
            state.live.notify(id);
            (
                StatusCode::ACCEPTED,
                Json(json!({ "run_id": id, "result": continued(how, "continuing") })),
            )
                .into_response()
        }
        Err(e) => refused(e),
    }
}

/// What the API says of a continued run: `doing` now, or `queued` for a free slot.
fn continued(how: crate::queue::Continued, doing: &'static str) -> &'static str {
    match how {
        crate::queue::Continued::Started => doing,
        crate::queue::Continued::Queued => "queued",
    }
}
