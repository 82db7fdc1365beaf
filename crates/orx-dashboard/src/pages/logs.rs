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
    groups: Vec<LogGroup>,
    selected: String,
    selected_q: String,
    content: Markup,
    offset: u64,
    error: Option<String>,
    live: bool,
}

/// The logs of one part of the run: the run itself, a stage, the baseline, or an item.
#[derive(Debug, PartialEq, Serialize)]
struct LogGroup {
    name: String,
    logs: Vec<String>,
}

/// Where a log belongs in the picker: an item's (`…_W001_2…`), the baseline's, a stage's agent,
/// or the run's own (events, setup, notifications).
fn group_of(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    if let Some(item) = name
        .split(['_', '.'])
        .find(|p| orx_core::protocol::is_item_id(p))
    {
        return item.to_string();
    }
    if name.contains("_baseline") {
        return "baseline".into();
    }
    match name.strip_prefix("agent_") {
        Some(rest) => rest
            .split('.')
            .next()
            .unwrap_or(rest)
            .trim_end_matches(|c: char| c == '_' || c.is_ascii_digit())
            .to_string(),
        None => "run".into(),
    }
}

/// The picker's groups, in the order a run makes them; empty logs are left out (but the one
/// shown stays).
fn grouped(paths: Vec<(String, u64)>, selected: &str) -> Vec<LogGroup> {
    let order = |g: &str| match g {
        "run" => (0, String::new()),
        "plan" => (1, String::new()),
        "spec" => (2, String::new()),
        "decompose" => (3, String::new()),
        "baseline" => (4, String::new()),
        g if orx_core::protocol::is_item_id(g) => (5, g.to_string()),
        "review" => (6, String::new()),
        "knowledge_update" => (7, String::new()),
        g => (8, g.to_string()),
    };
    let mut groups: Vec<LogGroup> = Vec::new();
    for (path, size) in paths {
        if size == 0 && path != selected {
            continue;
        }
        let name = group_of(&path);
        match groups.iter_mut().find(|g| g.name == name) {
            Some(g) => g.logs.push(path),
            None => groups.push(LogGroup {
                name,
                logs: vec![path],
            }),
        }
    }
    groups.sort_by_key(|g| order(&g.name));
    groups
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
    let mut logs: Vec<(String, u64)> = files::list(dir.root())
        .into_iter()
        .filter(|f| f.path.starts_with("logs/"))
        .map(|f| (f.path, f.size))
        .collect();
    logs.insert(0, ("events.jsonl".into(), u64::MAX));
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
        groups: grouped(logs, &selected),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_grouped_by_stage_and_item_and_empty_ones_left_out() {
        let logs = [
            ("events.jsonl", 10),
            ("logs/agent_fix_W001_2.jsonl", 5),
            ("logs/agent_fix_W001_2.stderr.log", 0),
            ("logs/agent_implement_W001_1.jsonl", 5),
            ("logs/agent_plan.jsonl", 5),
            ("logs/agent_plan.stderr.log", 0),
            ("logs/agent_review_2.jsonl", 5),
            ("logs/gate_tests_W001_1.log", 5),
            ("logs/gate_tests_baseline.log", 5),
            ("logs/notify.log", 5),
        ]
        .map(|(p, s)| (p.to_string(), s))
        .to_vec();
        let groups = grouped(logs, "logs/agent_plan.stderr.log");
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["run", "plan", "baseline", "W001", "review"]);
        assert_eq!(groups[0].logs, ["events.jsonl", "logs/notify.log"]);
        // The empty stderr log of the plan stays because it is the one shown.
        assert_eq!(
            groups[1].logs,
            ["logs/agent_plan.jsonl", "logs/agent_plan.stderr.log"]
        );
        assert_eq!(
            groups[3].logs,
            [
                "logs/agent_fix_W001_2.jsonl",
                "logs/agent_implement_W001_1.jsonl",
                "logs/gate_tests_W001_1.log"
            ]
        );
    }
}
