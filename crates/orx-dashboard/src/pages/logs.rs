//! The logs tab: events.jsonl and every log of the run, the last 256 KiB shown and new lines
//! streamed in.

use serde::Serialize;

use super::{RunData, RunQuery};
use crate::Shared;
use crate::files;
use crate::highlight::escape;
use crate::view::{Markup, render, url_encode};

/// How much of a log's end the tab shows; the stream adds what comes after.
const SHOWN: u64 = 256 * 1024;

#[derive(Serialize)]
struct LogsView<'a> {
    id: &'a str,
    logs: Vec<String>,
    selected: String,
    selected_q: String,
    content: Markup,
    offset: u64,
    error: Option<String>,
    live: bool,
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

/// The logs tab of `run`, showing `q.path` (a file under logs/, or events.jsonl).
pub(super) fn html(state: &Shared, run: &RunData, q: &RunQuery) -> String {
    let id = &run.summary.run_id;
    let dir = state.index.dir(id);
    let mut logs: Vec<String> = files::list(dir.root())
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
    let (content, offset, error) = match tail(dir.root(), &selected) {
        Ok((content, offset)) => (content, offset, None),
        Err(e) => (String::new(), 0, Some(e)),
    };
    let view = LogsView {
        id,
        logs,
        selected_q: url_encode(&selected),
        selected,
        content: Markup(content),
        offset,
        error,
        live: run.summary.is_active(),
    };
    render("tab_logs.html", &view)
}

/// The end of a log as HTML rows, and the offset the stream goes on from.
fn tail(root: &std::path::Path, rel: &str) -> Result<(String, u64), String> {
    let p = files::confine(root, rel).map_err(|e| e.to_string())?;
    let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(SHOWN);
    let (text, next) = files::read_from(&p, start, SHOWN + 1).map_err(|e| e.to_string())?;
    // Starting inside a long log: drop the partial first line.
    let text = match text.split_once('\n') {
        Some((_, rest)) if start > 0 => rest,
        _ => text.as_str(),
    };
    Ok((log_lines(text), next))
}
