//! The artifacts tab: the run folder's files by group, a highlighted preview, and a search
//! through context, prompts and artifacts.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{RunData, RunQuery, load_run, missing_run, page_error};
use crate::Shared;
use crate::files;
use crate::highlight::{escape, highlight, language};
use crate::view::{self, Markup, render, url_encode};

/// The groups of the file tree, in the order shown; `(run)` holds the top-level files.
const GROUPS: [&str; 6] = [
    "context",
    "prompts",
    "artifacts",
    "metrics",
    "logs",
    "(run)",
];

#[derive(Serialize)]
struct ArtifactsView<'a> {
    id: &'a str,
    groups: Vec<GroupView>,
    selected: Option<String>,
    preview: Markup,
}

/// A folder of the run and its files.
#[derive(Serialize)]
struct GroupView {
    name: &'static str,
    files: Vec<FileView>,
}

#[derive(Serialize)]
struct FileView {
    path: String,
    name: String,
    size: String,
}

/// The artifacts tab of `run`, previewing `q.path` (or the backlog, or the first file).
pub(super) fn html(state: &Shared, run: &RunData, q: &RunQuery) -> String {
    let id = &run.summary.run_id;
    let list = files::list(state.index.dir(id).root());
    let mut by_group: BTreeMap<&str, Vec<FileView>> = BTreeMap::new();
    for f in &list {
        let (top, rest) = f.path.split_once('/').unwrap_or(("(run)", f.path.as_str()));
        let Some(group) = GROUPS.iter().find(|g| **g == top) else {
            continue;
        };
        by_group.entry(group).or_default().push(FileView {
            path: f.path.clone(),
            name: rest.to_string(),
            size: view::bytes(f.size),
        });
    }
    let groups = GROUPS
        .iter()
        .filter_map(|g| by_group.remove(g).map(|files| GroupView { name: g, files }))
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
        .map(|p| preview_html(state, id, p))
        .unwrap_or_default();
    let view = ArtifactsView {
        id,
        groups,
        selected,
        preview: Markup(preview),
    };
    render("tab_artifacts.html", &view)
}

/// The preview of one file, highlighted.
pub fn preview_html(state: &Shared, id: &str, rel: &str) -> String {
    let path = match files::confine(state.index.dir(id).root(), rel) {
        Ok(p) => p,
        Err(e) => return format!("<p class=\"error\">{}</p>", escape(&e.to_string())),
    };
    match files::read_text(&path, super::PREVIEW_SHOWN) {
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
                body = numbered(&highlight(&crate::redact(&text), lang)),
            )
        }
        Err(e) => format!(
            "<p class=\"error\">cannot read {}: {}</p>",
            escape(rel),
            escape(&e.to_string())
        ),
    }
}

/// Gives each highlighted line its anchor (`id="L12"`): search hits and shared links land on it.
fn numbered(html: &str) -> String {
    const LINE: &str = "<span class=\"ln\">";
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    for (i, part) in html.split(LINE).enumerate() {
        if i > 0 {
            out.push_str(&format!("<span class=\"ln\" id=\"L{i}\">"));
        }
        out.push_str(part);
    }
    out
}

/// `GET /runs/{id}/preview?path=`.
pub async fn preview(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
    headers: axum::http::HeaderMap,
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
    let url = super::view_url(
        &id,
        super::Tab::Artifacts,
        &RunQuery {
            path: Some(path.clone()),
            ..Default::default()
        },
    );
    super::with_view_url(
        Html(preview_html(&state, &id, &path)).into_response(),
        &headers,
        &url,
    )
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
    let dir = state.index.dir(id);
    let mut hits = Vec::new();
    for f in files::list(dir.root()) {
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
        let Ok((text, _)) = files::read_text(&dir.root().join(&f.path), 1 << 20) else {
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
                "<li><a href=\"/runs/{id}?tab=artifacts&amp;path={p}#L{line}\" hx-get=\"/runs/{id}/preview?path={p}\" \
                 hx-target=\"#preview\" data-line=\"{line}\"><code>{path}:{line}</code></a> {text}</li>",
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
