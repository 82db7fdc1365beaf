//! The HTML pages and the fragments htmx swaps in.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Value, context};
use orx_core::metrics::{Report, RunTotals, StageRecord};
use orx_core::protocol::{FailureCategory, Observed};
use orx_core::run::{Meta, RunDir, RunState, Store};
use serde::{Deserialize, Serialize};

use crate::files::{self, PathError};
use crate::highlight::{escape, highlight, language};
use crate::index::{Filter, RunRow};
use crate::launch::{Queued, Refusal, StartRequest};
use crate::view::{self, render, status_class};
use crate::{Shared, svg};

/// A serializable value for a template.
fn ser<T: Serialize>(v: T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

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

fn page_error(status: StatusCode, title: &str, message: &str, fix: &str) -> Response {
    let body = render(
        "base.html",
        context! { title => title, error => context! { message => message, fix => fix } },
    );
    (status, Html(body)).into_response()
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
    let queued = state.launcher.queued(id);
    let dir = RunDir::new(&state.index.runs_root(), id);
    if !dir.state().exists() {
        let q = queued?;
        return Some(RunData {
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
            },
            meta: None,
            state: None,
            metrics: None,
            queued: Some(q),
        });
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
    let root = state.index.runs_root().join(id);
    files::confine(&root, rel).map_err(|e| {
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

fn row_value(r: &RunRow) -> Value {
    ser(serde_json::json!({
        "run_id": r.run_id, "status": r.status, "class": status_class(r.status.as_str()),
        "stage": r.stage, "item": r.item, "attempt": r.attempt, "started_at": r.started_at,
        "duration": r.duration_secs.map(view::duration), "task": r.task, "failure": r.failure,
        "tokens": view::tokens(r.tokens), "cost": format!("${:.4}", r.cost_usd),
        "active": r.is_active(),
    }))
}

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
    let active: Vec<Value> = state.index.active().iter().map(row_value).collect();
    let queue: Vec<Value> = state
        .launcher
        .queue()
        .iter()
        .map(|q| {
            ser(serde_json::json!({
                "run_id": q.run_id, "queued_at": q.queued_at,
                "task": crate::redact(&orx_core::run::summarize_task(&q.request.task, 80)),
                "error": q.error.as_deref().map(crate::redact),
            }))
        })
        .collect();
    let rows: Vec<Value> = page.runs.iter().map(row_value).collect();
    let base = Filter {
        page: None,
        ..filter.clone()
    };
    let page_link = |p: usize| {
        filter_query(&Filter {
            page: Some(p),
            ..base.clone()
        })
    };

    render(
        "runs_table.html",
        context! {
            active => active, queue => queue, rows => rows, total => page.total,
            page => page.page, pages => pages, max => state.launcher.max(),
            prev => (page.page > 1).then(|| page_link(page.page - 1)),
            next => (page.page < pages).then(|| page_link(page.page + 1)),
            all => state.index.len(),
        },
    )
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
    let statuses = [
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "interrupted",
        "pending",
    ];
    Html(render(
        "runs.html",
        context! {
            title => "Runs", csrf => state.csrf.clone(), nav => "runs",
            filter => ser(&filter), statuses => statuses,
            live => Value::from_safe_string(runs_live(&state, &filter)),
        },
    ))
    .into_response()
}

/// `GET /runs/table`: the live block for a new filter.
pub async fn runs_table(State(state): State<Shared>, Query(filter): Query<Filter>) -> Response {
    Html(runs_live(&state, &filter)).into_response()
}

/// `GET /runs/new`.
pub async fn new_run(State(state): State<Shared>) -> Response {
    let engines = ["", "fake", "codex", "claude", "gemini", "cursor", "copilot"];
    Html(render(
        "new_run.html",
        context! {
            title => "New run", csrf => state.csrf.clone(), nav => "new",
            repo => state.opts.repo.display().to_string(), engines => engines,
            roles => orx_core::config::ROLES, max => state.launcher.max(),
            pipelines => ["standard", "fast_fix", "plan_only"],
        },
    ))
    .into_response()
}

/// The new-run form's fields as a request.
pub fn form_request(form: &HashMap<String, String>) -> StartRequest {
    let get = |k: &str| {
        form.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut stages = Vec::new();
    for role in orx_core::config::ROLES {
        let exec = get(&format!("stage_{role}_executor")).unwrap_or_default();
        let model = get(&format!("stage_{role}_model"));
        match (exec.is_empty(), model) {
            (true, None) => {}
            (_, Some(m)) => stages.push(format!("{role}={exec}:{m}")),
            (false, None) => stages.push(format!("{role}={exec}")),
        }
    }
    StartRequest {
        task: form.get("task").cloned().unwrap_or_default(),
        repo: get("repo"),
        engine: get("engine"),
        model: get("model"),
        base_branch: get("base_branch"),
        pipeline: get("pipeline"),
        stages,
    }
}

/// `POST /runs` (the form, sent by htmx): queues the run and sends the browser to its page.
pub async fn start(
    State(state): State<Shared>,
    headers: axum::http::HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match state.launcher.enqueue(form_request(&form)) {
        Ok(id) => {
            state.live.notify("*");
            let url = format!("/runs/{id}");
            // htmx follows HX-Redirect (a 303 would be followed inside its request instead).
            let htmx = headers.contains_key("hx-request");
            let mut r = if htmx {
                StatusCode::NO_CONTENT.into_response()
            } else {
                StatusCode::SEE_OTHER.into_response()
            };
            if let Ok(v) = HeaderValue::from_str(&url) {
                let name = if htmx { "hx-redirect" } else { "location" };
                r.headers_mut().insert(name, v);
            }
            r
        }
        Err(e) => {
            // htmx shows this fragment in the form's message area.
            let html = format!(
                "<p class=\"error\" role=\"alert\">{}<br><small>{}</small></p>",
                escape(&e.message),
                escape(&e.fix)
            );
            let mut r = (StatusCode::OK, Html(html)).into_response();
            r.headers_mut()
                .insert("hx-retarget", HeaderValue::from_static("#form-message"));
            r
        }
    }
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
}

const TABS: [&str; 5] = ["overview", "artifacts", "diff", "logs", "metrics"];

fn header_html(state: &Shared, run: &RunData) -> String {
    let s = &run.summary;
    let st = run.state.as_ref();
    let m = run.meta.as_ref();
    let resumable = s.status.is_resumable() && run.state.is_some();
    render(
        "run_header.html",
        context! {
            run => row_value(s),
            branch => st.and_then(|x| x.branch.clone()).or_else(|| m.map(|m| m.branch.clone())),
            base_sha => st.and_then(|x| x.base_sha.clone()),
            base_branch => m.map(|m| m.base_branch.clone()),
            pipeline => m.map(|m| m.pipeline.clone()),
            engine => m.map(|m| m.engine.clone()),
            pr_url => m.and_then(|m| m.pr_url.clone()),
            started_at => s.started_at.clone(),
            ended => m.and_then(|m| m.ended_at.clone()).is_some() || !s.is_active(),
            can_cancel => s.is_active() || s.status == Observed::Queued,
            can_resume => resumable,
            queue_error => run.queued.as_ref().and_then(|q| q.error.as_deref().map(crate::redact)),
            csrf => state.csrf.clone(),
        },
    )
}

fn read_small(path: &std::path::Path) -> Option<String> {
    files::read_text(path, 256 * 1024)
        .ok()
        .map(|(t, _)| crate::redact(&t))
}

fn overview_html(state: &Shared, run: &RunData) -> String {
    let dir = RunDir::new(&state.index.runs_root(), &run.summary.run_id);
    let task = read_small(&dir.context("task.md"))
        .or_else(|| run.queued.as_ref().map(|q| q.request.task.clone()))
        .unwrap_or_else(|| run.summary.task.clone());
    let records = Store::stage_records(&dir);
    let stages: Vec<Value> = run
        .state
        .as_ref()
        .map(|s| {
            s.stages
                .iter()
                .map(|st| {
                    let secs: f64 = records
                        .iter()
                        .filter(|r| {
                            r.stage == st.name || (st.name == "implement" && r.stage == "fix")
                        })
                        .map(|r| r.duration_secs)
                        .sum();
                    let current = s.current_stage.as_deref() == Some(st.name.as_str())
                        && run.summary.is_active();
                    ser(serde_json::json!({
                        "name": st.name, "status": st.status.as_str(),
                        "class": if current { "live" } else { status_class(st.status.as_str()) },
                        "current": current, "attempts": st.attempts, "note": st.note,
                        "secs": (secs > 0.0).then(|| view::duration(secs)),
                    }))
                })
                .collect()
        })
        .unwrap_or_default();
    let items: Vec<Value> = run
        .state
        .as_ref()
        .map(|s| {
            s.items
                .iter()
                .map(|it| {
                    let attempts: Vec<Value> = records
                        .iter()
                        .filter(|r| r.item.as_deref() == Some(it.id.as_str()))
                        .map(|r| {
                            ser(serde_json::json!({
                                "attempt": r.attempt, "status": r.status,
                                "class": status_class(r.status.as_str()),
                                "gates": r.gates, "secs": view::duration(r.duration_secs),
                                "failure": r.failure_category,
                            }))
                        })
                        .collect();
                    ser(serde_json::json!({
                        "id": it.id, "title": it.title, "status": it.status.as_str(),
                        "class": status_class(it.status.as_str()), "attempts": it.attempts,
                        "phase": it.phase, "runs": attempts,
                        "has_diff": dir.artifact(&format!("{}.diff", it.id)).exists(),
                    }))
                })
                .collect()
        })
        .unwrap_or_default();
    let failure = run
        .state
        .as_ref()
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
            .clone()
            .map(|e| crate::redact(&e))
    });
    render(
        "tab_overview.html",
        context! {
            id => run.summary.run_id.clone(), task => crate::redact(&task), stages => stages,
            items => items, failure => ser(&failure), evidence => evidence,
            queued => run.queued.as_ref().is_some_and(|q| q.error.is_none()) && run.state.is_none(),
        },
    )
}

/// The header and (for a started run) the overview, for the run page's live stream.
pub fn run_fragments(state: &Shared, id: &str) -> (String, Option<String>) {
    match load_run(state, id) {
        Some(run) => {
            let overview = overview_html(state, &run);
            (header_html(state, &run), Some(overview))
        }
        None => (
            "<p class=\"error\">this run is gone (cleaned up?)</p>".to_string(),
            None,
        ),
    }
}

fn artifacts_html(state: &Shared, run: &RunData, q: &RunQuery) -> String {
    let root = state.index.runs_root().join(&run.summary.run_id);
    let list = files::list(&root);
    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for f in &list {
        let (top, rest) = f.path.split_once('/').unwrap_or(("(run)", f.path.as_str()));
        groups.entry(top.to_string()).or_default().push(ser(
            serde_json::json!({ "path": f.path, "name": rest, "size": view::bytes(f.size) }),
        ));
    }
    let order = [
        "context",
        "prompts",
        "artifacts",
        "metrics",
        "logs",
        "(run)",
    ];
    let groups: Vec<Value> = order
        .iter()
        .filter_map(|g| {
            groups
                .get(*g)
                .map(|files| ser(serde_json::json!({ "name": g, "files": files })))
        })
        .collect();
    let selected = q
        .path
        .clone()
        .or_else(|| {
            list.iter()
                .find(|f| f.path == "context/backlog.yaml")
                .map(|f| f.path.clone())
        })
        .or_else(|| list.first().map(|f| f.path.clone()));
    let preview = selected
        .as_deref()
        .map(|p| preview_html(state, &run.summary.run_id, p))
        .unwrap_or_default();
    render(
        "tab_artifacts.html",
        context! {
            id => run.summary.run_id.clone(), groups => groups, selected => selected,
            preview => Value::from_safe_string(preview),
        },
    )
}

/// The preview of one file, highlighted.
pub fn preview_html(state: &Shared, id: &str, rel: &str) -> String {
    let path = match files::confine(&state.index.runs_root().join(id), rel) {
        Ok(p) => p,
        Err(e) => return format!("<p class=\"error\">{}</p>", escape(&e.to_string())),
    };
    match files::read_text(&path, crate::download::PREVIEW_SHOWN) {
        Ok((text, cut)) => {
            let lang = language(rel);
            format!(
                "<div class=\"preview-head\"><code>{path}</code> <span class=\"muted\">{lang}\
                 {cut}</span> <a href=\"/runs/{id}/raw?path={q}\" download>download</a></div>\
                 <pre class=\"code lang-{lang}\" data-lang=\"{lang}\">{body}</pre>",
                path = escape(rel),
                id = escape(id),
                q = url_encode(rel),
                cut = if cut {
                    " · too large to show whole: the first 512 KiB"
                } else {
                    ""
                },
                body = highlight(&crate::redact(&text), lang),
            )
        }
        Err(e) => format!(
            "<p class=\"error\">cannot read {}: {}</p>",
            escape(rel),
            escape(&e.to_string())
        ),
    }
}

/// `GET /runs/{id}/preview?path=`.
pub async fn preview(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
) -> Response {
    if load_run(&state, &id).is_none() {
        return missing_run(&id);
    }
    let Some(path) = q.path else {
        return page_error(
            StatusCode::BAD_REQUEST,
            "Preview",
            "no path given",
            "add ?path=…",
        );
    };
    Html(preview_html(&state, &id, &path)).into_response()
}

/// Query of the artifact search.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// The text.
    #[serde(default)]
    pub q: String,
}

/// A search hit.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// The line's text.
    pub text: String,
}

/// Files and lines of a run's context, prompts and artifacts that contain `q` (case-insensitive).
pub fn search_run(state: &Shared, id: &str, q: &str) -> Vec<Hit> {
    let needle = q.trim().to_lowercase();
    if needle.is_empty() {
        return Vec::new();
    }
    let root = state.index.runs_root().join(id);
    let mut hits = Vec::new();
    for f in files::list(&root) {
        if !["context/", "prompts/", "artifacts/"]
            .iter()
            .any(|p| f.path.starts_with(p))
        {
            continue;
        }
        if f.path.to_lowercase().contains(&needle) {
            hits.push(Hit {
                path: f.path.clone(),
                line: 0,
                text: "(file name)".into(),
            });
        }
        let Ok((text, _)) = files::read_text(&root.join(&f.path), 1 << 20) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if line.to_lowercase().contains(&needle) {
                hits.push(Hit {
                    path: f.path.clone(),
                    line: i + 1,
                    text: crate::redact(&line.chars().take(200).collect::<String>()),
                });
                if hits.len() >= 200 {
                    return hits;
                }
            }
        }
    }
    hits
}

/// `GET /runs/{id}/search?q=`.
pub async fn search(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Response {
    if load_run(&state, &id).is_none() {
        return missing_run(&id);
    }
    let hits = {
        let (state, id, text) = (state.clone(), id.clone(), q.q.clone());
        tokio::task::spawn_blocking(move || search_run(&state, &id, &text))
            .await
            .unwrap_or_default()
    };
    let mut html = String::new();
    if !q.q.trim().is_empty() {
        html.push_str(&format!(
            "<p class=\"muted\">{} match(es) for <code>{}</code></p><ul class=\"hits\">",
            hits.len(),
            escape(q.q.trim())
        ));
        for h in &hits {
            html.push_str(&format!(
                "<li><a href=\"#\" hx-get=\"/runs/{id}/preview?path={p}\" hx-target=\"#preview\">\
                 <code>{path}:{line}</code></a> {text}</li>",
                id = escape(&id),
                p = escape(&url_encode(&h.path)),
                path = escape(&h.path),
                line = h.line,
                text = escape(&h.text),
            ));
        }
        html.push_str("</ul>");
    }
    Html(html).into_response()
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One file of a unified diff: its place in the diff's text and its counts.
#[derive(Clone, Debug, Serialize)]
pub struct DiffFile {
    /// Path (the new one).
    pub path: String,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
    /// Where its part of the diff starts and ends (bytes).
    #[serde(skip)]
    pub span: std::ops::Range<usize>,
}

impl DiffFile {
    /// Its part of `diff` (the text [`split_diff`] was given).
    pub fn text<'a>(&self, diff: &'a str) -> &'a str {
        diff.get(self.span.clone()).unwrap_or("")
    }
}

/// Splits a unified diff into files with their counts (no copy of the text).
pub fn split_diff(diff: &str) -> Vec<DiffFile> {
    let mut out: Vec<DiffFile> = Vec::new();
    let mut at = 0;
    for line in diff.split_inclusive('\n') {
        let start = at;
        at += line.len();
        if line.starts_with("diff --git ") || out.is_empty() {
            let path = line
                .trim_end()
                .strip_prefix("diff --git ")
                .and_then(|r| r.split(" b/").last())
                .unwrap_or("(patch)")
                .to_string();
            out.push(DiffFile {
                path,
                added: 0,
                removed: 0,
                span: start..start,
            });
        }
        let Some(f) = out.last_mut() else { continue };
        if line.starts_with('+') && !line.starts_with("+++") {
            f.added += 1;
        } else if line.starts_with('-') && !line.starts_with("---") {
            f.removed += 1;
        }
        f.span.end = at;
    }
    out
}

fn diff_html(state: &Shared, run: &RunData, q: &RunQuery) -> String {
    let dir = RunDir::new(&state.index.runs_root(), &run.summary.run_id);
    let item = q.item.clone().filter(|i| !i.is_empty());
    // A diff of any size costs at most this much to read and show: past it, and for a file
    // whose part alone is too large, the page links the download instead.
    let (text, total, cut, error) =
        match Store::diff_capped(&dir, item.as_deref(), crate::download::DIFF_SHOWN) {
            Ok((t, total)) => {
                let cut = total > t.len() as u64;
                let t = match crate::redact_cow(&t) {
                    std::borrow::Cow::Owned(r) => r,
                    std::borrow::Cow::Borrowed(_) => t,
                };
                (t, total, cut, None)
            }
            Err(e) => (String::new(), 0, false, Some(e.to_string())),
        };
    let parts = split_diff(&text);
    let last = parts.len().saturating_sub(1);
    let files: Vec<Value> = parts
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let part = f.text(&text);
            let too_large = part.len() > crate::download::DIFF_FILE_SHOWN;
            let mut m: BTreeMap<String, Value> = BTreeMap::new();
            m.insert("path".into(), Value::from(f.path.clone()));
            m.insert("added".into(), Value::from(f.added));
            m.insert("removed".into(), Value::from(f.removed));
            m.insert("cut".into(), Value::from(cut && i == last));
            if too_large {
                m.insert(
                    "too_large".into(),
                    Value::from(orx_core::fsutil::size_text(part.len() as u64)),
                );
            } else {
                m.insert(
                    "body".into(),
                    Value::from_safe_string(highlight(part, "diff")),
                );
            }
            Value::from(m)
        })
        .collect();
    let download = format!(
        "/runs/{}/diff.patch{}",
        url_encode(&run.summary.run_id),
        item.as_deref()
            .map(|i| format!("?item={}", url_encode(i)))
            .unwrap_or_default()
    );
    let items: Vec<String> = run
        .state
        .as_ref()
        .map(|s| {
            s.items
                .iter()
                .filter(|i| dir.artifact(&format!("{}.diff", i.id)).exists())
                .map(|i| i.id.clone())
                .collect()
        })
        .unwrap_or_default();
    let added: usize = parts.iter().map(|f| f.added).sum();
    let removed: usize = parts.iter().map(|f| f.removed).sum();
    render(
        "tab_diff.html",
        context! {
            id => run.summary.run_id.clone(), item => item, items => items, files => files,
            added => added, removed => removed, error => error, download => download,
            cut => cut.then(|| orx_core::fsutil::size_text(total)),
        },
    )
}

/// The lines of a log chunk as HTML rows.
pub fn log_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in crate::redact(text).lines() {
        out.push_str("<div class=\"ll\">");
        out.push_str(&escape(line));
        out.push_str("</div>");
    }
    out
}

fn logs_html(state: &Shared, run: &RunData, q: &RunQuery) -> String {
    let root = state.index.runs_root().join(&run.summary.run_id);
    let mut logs: Vec<String> = files::list(&root)
        .into_iter()
        .map(|f| f.path)
        .filter(|p| p.starts_with("logs/"))
        .collect();
    logs.insert(0, "events.jsonl".into());
    let selected = q
        .path
        .clone()
        .filter(|p| p.starts_with("logs/") || p == "events.jsonl")
        .unwrap_or_else(|| "events.jsonl".into());
    let (content, offset, error) = match files::confine(&root, &selected) {
        Ok(p) => {
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            let start = len.saturating_sub(256 * 1024);
            match files::read_from(&p, start, 256 * 1024 + 1) {
                Ok((text, next)) => {
                    // Starting inside a long log: drop the partial first line.
                    let text = match text.split_once('\n') {
                        Some((_, rest)) if start > 0 => rest,
                        _ => text.as_str(),
                    };
                    (log_lines(text), next, None)
                }
                Err(e) => (String::new(), 0, Some(e.to_string())),
            }
        }
        Err(e) => (String::new(), 0, Some(e.to_string())),
    };
    render(
        "tab_logs.html",
        context! {
            id => run.summary.run_id.clone(), logs => logs, selected => selected.clone(),
            selected_q => url_encode(&selected), content => Value::from_safe_string(content),
            offset => offset, error => error, live => run.summary.is_active(),
        },
    )
}

fn secs_fmt(v: f64) -> String {
    view::duration(v)
}

fn cost_fmt(v: f64) -> String {
    format!("${v:.4}")
}

fn metrics_html(state: &Shared, run: &RunData) -> String {
    let dir = RunDir::new(&state.index.runs_root(), &run.summary.run_id);
    let records = Store::stage_records(&dir);
    let mut per_stage: Vec<(String, f64)> = Vec::new();
    let mut stage_tokens: BTreeMap<String, (u64, u64, f64)> = BTreeMap::new();
    let mut model_tokens: BTreeMap<String, (u64, u64, f64)> = BTreeMap::new();
    for r in &records {
        match per_stage.iter_mut().find(|(s, _)| *s == r.stage) {
            Some((_, v)) => *v += r.duration_secs,
            None => per_stage.push((r.stage.clone(), r.duration_secs)),
        }
        let e = stage_tokens.entry(r.stage.clone()).or_default();
        e.0 = e.0.saturating_add(r.tokens.input);
        e.1 = e.1.saturating_add(r.tokens.output);
        e.2 += r.cost_usd;
        let key = match (&r.executor, &r.model) {
            (Some(e), Some(m)) => format!("{e}/{m}"),
            (Some(e), None) => e.clone(),
            _ => "(none)".into(),
        };
        let e = model_tokens.entry(key).or_default();
        e.0 = e.0.saturating_add(r.tokens.input);
        e.1 = e.1.saturating_add(r.tokens.output);
        e.2 += r.cost_usd;
    }
    let table = |m: BTreeMap<String, (u64, u64, f64)>| -> Vec<Value> {
        m.into_iter()
            .map(|(k, (i, o, c))| {
                ser(serde_json::json!({
                    "name": k, "input": view::tokens(i), "output": view::tokens(o),
                    "cost": format!("${c:.4}"),
                }))
            })
            .collect()
    };
    let cost_rows: Vec<(String, f64)> = stage_tokens
        .iter()
        .map(|(k, (_, _, c))| (k.clone(), *c))
        .collect();
    let gates: Vec<Value> = records
        .iter()
        .filter(|r| !r.gates.is_empty())
        .map(|r: &StageRecord| {
            ser(serde_json::json!({
                "item": r.item, "attempt": r.attempt, "stage": r.stage, "gates": r.gates,
            }))
        })
        .collect();
    render(
        "tab_metrics.html",
        context! {
            time_chart => Value::from_safe_string(svg::bars("Time per stage", &per_stage, secs_fmt)),
            cost_chart => Value::from_safe_string(svg::bars("Cost per stage", &cost_rows, cost_fmt)),
            stages => table(stage_tokens), models => table(model_tokens), gates => gates,
            totals => ser(&run.metrics),
        },
    )
}

/// A tab, rendered off the async workers (diffs run git, searches read files).
async fn tab_html_blocking(state: &Shared, run: RunData, tab: String, q: RunQuery) -> String {
    let state = state.clone();
    tokio::task::spawn_blocking(move || tab_html(&state, &run, &tab, &q))
        .await
        .unwrap_or_else(|e| format!("<p class=\"error\">{}</p>", escape(&e.to_string())))
}

fn tab_html(state: &Shared, run: &RunData, tab: &str, q: &RunQuery) -> String {
    match tab {
        "artifacts" => artifacts_html(state, run, q),
        "diff" => diff_html(state, run, q),
        "logs" => logs_html(state, run, q),
        "metrics" => metrics_html(state, run),
        _ => overview_html(state, run),
    }
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
        .clone()
        .filter(|t| TABS.contains(&t.as_str()))
        .unwrap_or_else(|| "overview".into());
    let body = tab_html_blocking(&state, run.clone(), tab.clone(), q).await;
    Html(render(
        "run.html",
        context! {
            title => format!("Run {id}"), csrf => state.csrf.clone(), nav => "runs",
            id => id, tab => tab, tabs => TABS,
            header => Value::from_safe_string(header_html(&state, &run)),
            body => Value::from_safe_string(body),
        },
    ))
    .into_response()
}

/// `GET /runs/{id}/tab/{tab}`.
pub async fn tab(
    State(state): State<Shared>,
    Path((id, tab)): Path<(String, String)>,
    Query(q): Query<RunQuery>,
) -> Response {
    let Some(run) = load_run(&state, &id) else {
        return missing_run(&id);
    };
    if !TABS.contains(&tab.as_str()) {
        return not_found().await;
    }
    Html(tab_html_blocking(&state, run, tab, q).await).into_response()
}

/// `POST /runs/{id}/cancel`: the new header.
pub async fn cancel(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    if load_run(&state, &id).is_none() {
        return missing_run(&id);
    }
    let msg = match state.launcher.cancel(&id).await {
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
    if let Err(e) = state.launcher.resume(&id, run.summary.status) {
        return refused(e);
    }
    state.live.notify(&id);
    action_result(&state, &id, "resuming")
}

fn action_result(state: &Shared, id: &str, msg: &str) -> Response {
    let header = load_run(state, id)
        .map(|r| header_html(state, &r))
        .unwrap_or_default();
    Html(format!(
        "{header}<p class=\"flash\" role=\"status\">{}</p>",
        escape(msg)
    ))
    .into_response()
}

/// `GET /metrics`: the aggregate across runs.
pub async fn metrics(State(state): State<Shared>) -> Response {
    let report = report(&state);
    let stage_rows: Vec<(String, f64)> = report
        .stages
        .iter()
        .map(|(k, v)| (k.clone(), v.p50_secs))
        .collect();
    let model_rows: Vec<(String, f64)> = report
        .models
        .iter()
        .map(|(k, v)| (k.clone(), v.cost_usd))
        .collect();
    Html(render(
        "metrics.html",
        context! {
            title => "Metrics", csrf => state.csrf.clone(), nav => "metrics",
            r => ser(&report),
            stage_chart => Value::from_safe_string(svg::bars("p50 time per stage", &stage_rows, secs_fmt)),
            model_chart => Value::from_safe_string(svg::bars("Cost per model", &model_rows, cost_fmt)),
        },
    ))
    .into_response()
}

/// The aggregate report over every run of the repository.
pub fn report(state: &Shared) -> Report {
    Report::build(&state.index.store().report_inputs().unwrap_or_default())
}

/// `GET /assets/{name}`: the compiled-in static files.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, mime): (&'static [u8], &str) = match name.as_str() {
        "htmx.min.js" => (
            include_bytes!("../assets/vendor/htmx.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "sse.min.js" => (
            include_bytes!("../assets/vendor/sse.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.js" => (
            include_bytes!("../assets/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (
            include_bytes!("../assets/app.css"),
            "text/css; charset=utf-8",
        ),
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
