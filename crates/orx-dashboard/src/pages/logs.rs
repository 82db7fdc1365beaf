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
    next_line: u64,
    mode: LogView,
    /// The log has a read view (events, an agent's stream): the raw toggle is offered.
    readable: bool,
    raw: bool,
    stages: Vec<String>,
    /// For an agent's stream: its call's time, tokens and cost.
    call: Option<CallView>,
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

/// How a log is shown: its lines as they are (numbered, with their level), or read: the event
/// log as steps of each stage with times since the run started, an agent's stream as what the
/// agent did (`view=raw` shows the lines of either).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogView {
    /// The lines as written.
    Lines,
    /// events.jsonl, read.
    Events,
    /// An agent's output stream, read.
    Agent,
}

impl LogView {
    /// The view of `path` (`raw`: its lines whatever it is).
    pub fn of(path: &str, raw: bool) -> Self {
        if raw {
            Self::Lines
        } else if path == "events.jsonl" {
            Self::Events
        } else if path.starts_with("logs/agent_") && path.ends_with(".jsonl") {
            Self::Agent
        } else {
            Self::Lines
        }
    }

    /// The word of `view=` (`raw`), for the stream's address.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lines => "lines",
            Self::Events => "events",
            Self::Agent => "agent",
        }
    }

    /// [`LogView::as_str`] read back.
    pub fn parse(s: &str) -> Self {
        match s {
            "events" => Self::Events,
            "agent" => Self::Agent,
            _ => Self::Lines,
        }
    }
}

/// What rendering a chunk of a log needs besides its text.
#[derive(Clone, Debug)]
pub struct LogCtx {
    /// How it is shown.
    pub view: LogView,
    /// The run (links into its diff).
    pub run_id: String,
    /// The item the log belongs to (an agent's diff link).
    pub item: Option<String>,
    /// When the run started (events' times are shown from it).
    pub started: Option<jiff::Timestamp>,
    /// For an agent's stream: its call's model and the repository's prices (each turn's cost).
    pub price: Option<(
        String,
        std::collections::BTreeMap<String, orx_core::config::Price>,
    )>,
}

/// A line's level, from what it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Error,
    Warning,
    Info,
}

impl Level {
    fn class(self) -> &'static str {
        match self {
            Self::Error => " l-err",
            Self::Warning => " l-warn",
            Self::Info => "",
        }
    }

    /// A plain log line's level: its words (error, failed, panicked, traceback; warning). A
    /// gate log's first line, the command (`$ …`), is none.
    fn of_text(line: &str) -> Self {
        if line.starts_with("$ ") {
            return Self::Info;
        }
        let l = line.to_ascii_lowercase();
        if ["error", "failed", "panicked", "traceback", "fatal"]
            .iter()
            .any(|w| l.contains(w))
        {
            Self::Error
        } else if l.contains("warn") {
            Self::Warning
        } else {
            Self::Info
        }
    }

    /// An event's level: failures are errors, warnings and failed optional gates warnings.
    fn of_event(v: &serde_json::Value) -> Self {
        let kind = v["kind"].as_str().unwrap_or("");
        let failed_gate = kind == "gate.finished" && v["data"]["passed"] == false;
        if kind.ends_with(".failed")
            || kind == "error"
            || (failed_gate && v["data"]["required"] != false)
            || (kind == "run.finished"
                && v["data"]["status"]
                    .as_str()
                    .is_some_and(|s| s != "succeeded"))
        {
            Self::Error
        } else if kind == "warning" || failed_gate {
            Self::Warning
        } else {
            Self::Info
        }
    }
}

/// One row: its number (an anchor, `#L12`), level, stage and content (HTML).
fn row(out: &mut String, n: u64, level: Level, stage: Option<&str>, body: &str) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "<div class=\"ll{}\" id=\"L{n}\"{}><a class=\"n\" href=\"#L{n}\">{n}</a><span class=\"lt\">{body}</span></div>",
        level.class(),
        stage
            .map(|s| format!(" data-stage=\"{}\"", escape(s)))
            .unwrap_or_default(),
    );
}

/// The lines of a log chunk as HTML rows, numbered from `first`.
pub fn log_lines(text: &str, first: u64, ctx: &LogCtx) -> String {
    let text = crate::redact(text);
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in text.lines().enumerate() {
        let n = first + i as u64;
        match ctx.view {
            LogView::Lines => row(&mut out, n, Level::of_text(line), None, &escape(line)),
            LogView::Events => event_row(&mut out, n, line, ctx),
            LogView::Agent => agent_row(&mut out, n, line, ctx),
        }
    }
    out
}

/// An event as a step: the time since the run started, the stage, the message.
fn event_row(out: &mut String, n: u64, line: &str, ctx: &LogCtx) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        row(out, n, Level::of_text(line), None, &escape(line));
        return;
    };
    let at = v["ts"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let since = match (at, ctx.started) {
        (Some(at), Some(start)) => {
            let secs = at.duration_since(start).as_secs_f64();
            format!("+{}", crate::view::duration(secs.max(0.0)))
        }
        _ => String::new(),
    };
    let stage = v["stage"].as_str().unwrap_or("run");
    let message = v["message"]
        .as_str()
        .or_else(|| v["kind"].as_str())
        .unwrap_or("");
    let body = format!(
        "<span class=\"ts\">{}</span> <span class=\"stg\">{}</span> {}",
        escape(&since),
        escape(stage),
        escape(message)
    );
    row(out, n, Level::of_event(&v), Some(stage), &body);
}

/// A line of an agent's stream as what the agent did; a line that shows nothing is kept, dim.
fn agent_row(out: &mut String, n: u64, line: &str, ctx: &LogCtx) {
    use orx_core::agent::{Activity, of_any_line_whole as of_any_line};
    let Some(a) = of_any_line(line) else {
        if let Some(u) = usage_of(line) {
            let cost = ctx
                .price
                .as_ref()
                .map(|(model, prices)| orx_core::metrics::cost(Some(model), &u, prices))
                .filter(|c| *c > 0.0)
                .map(|c| format!(" · {}", crate::view::cost(c)))
                .unwrap_or_default();
            let body = format!(
                "<span class=\"act u\">tokens</span> {} in · {} out{cost}",
                crate::view::tokens(u.input),
                crate::view::tokens(u.output)
            );
            row(out, n, Level::Info, None, &body);
            return;
        }
        let mut dim = String::new();
        row(&mut dim, n, Level::Info, None, "");
        out.push_str(&dim.replacen("class=\"ll\"", "class=\"ll quiet\"", 1));
        return;
    };
    let body = match &a {
        Activity::Writes(path) => {
            let item = ctx
                .item
                .as_deref()
                .map(|i| format!("&item={}", crate::view::url_encode(i)))
                .unwrap_or_default();
            format!(
                "<span class=\"act w\">writes</span> <a href=\"/runs/{}?tab=diff{item}#{}\">{}</a>",
                escape(&ctx.run_id),
                crate::view::anchor(path),
                escape(path)
            )
        }
        Activity::Runs(cmd) => format!(
            "<span class=\"act r\">runs</span> <code>{}</code>",
            escape(cmd)
        ),
        Activity::Tool { name, target } => format!(
            "<span class=\"act t\">{}</span> {}",
            escape(name),
            escape(target.as_deref().unwrap_or(""))
        ),
        Activity::Says(text) => format!(
            "<span class=\"act s\">says</span> <span class=\"said\">{}</span>",
            escape(text)
        ),
    };
    row(out, n, Level::Info, None, &body);
}

/// The tokens a line of an agent's stream reports (input, output), where its CLI says them:
/// claude with each message and at the end, codex at the end of its turn, gemini in its result.
fn usage_of(line: &str) -> Option<orx_core::agent::Usage> {
    let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    let u = [&v["message"]["usage"], &v["usage"], &v["stats"]]
        .into_iter()
        .find(|u| u.is_object())?;
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    // Claude's input leaves out what came from its cache.
    let usage = orx_core::agent::Usage {
        input: n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens"),
        cached_input: n("cache_read_input_tokens") + n("cached_input_tokens") + n("cached"),
        output: n("output_tokens"),
        reasoning: 0,
    };
    (usage.input + usage.output > 0).then_some(usage)
}

/// What one agent call took and cost, from its `agent.finished` event.
#[derive(Debug, Serialize)]
struct CallView {
    who: String,
    duration: String,
    input: String,
    output: String,
    cost: String,
    tries: u64,
}

/// The call whose stream `path` (`logs/agent_<role>[_<item>_<attempt>].jsonl`) is, from the
/// run's events.
fn call_of(dir: &std::path::Path, path: &str) -> Option<CallView> {
    let d = call_data(dir, path)?;
    let tokens = &d["tokens"];
    let (i, o) = (
        tokens["input"].as_u64().unwrap_or(0),
        tokens["output"].as_u64().unwrap_or(0),
    );
    Some(CallView {
        who: match (d["executor"].as_str(), d["model"].as_str()) {
            (Some(e), Some(m)) => format!("{e} · {m}"),
            (Some(e), None) => e.to_string(),
            _ => "-".into(),
        },
        duration: crate::view::duration(d["duration_secs"].as_f64().unwrap_or(0.0)),
        input: crate::view::tokens(i),
        output: crate::view::tokens(o),
        cost: crate::view::cost_of(d["cost_usd"].as_f64().unwrap_or(0.0), i + o),
        tries: d["tries"].as_u64().unwrap_or(1),
    })
}

/// The `data` of the `agent.finished` event of the call whose stream `path` is.
fn call_data(dir: &std::path::Path, path: &str) -> Option<serde_json::Value> {
    let name = path.strip_prefix("logs/agent_")?.strip_suffix(".jsonl")?;
    let mut parts: Vec<&str> = name.split('_').collect();
    // role[_ITEM_ATTEMPT] or role[_TRY]; roles hold underscores (knowledge_update).
    let attempt = parts
        .last()
        .and_then(|p| p.parse::<u64>().ok())
        .inspect(|_| {
            parts.pop();
        });
    let item = parts
        .last()
        .filter(|p| orx_core::protocol::is_item_id(p))
        .map(|p| p.to_string())
        .inspect(|_| {
            parts.pop();
        });
    let role = parts.join("_");
    let events = std::fs::read_to_string(dir.join("events.jsonl")).ok()?;
    // The newest such call (a stage tried again keeps its last).
    let v = events
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| {
            e["kind"] == "agent.finished"
                && e["stage"] == role.as_str()
                && e["item"].as_str().map(str::to_string) == item
                && (attempt.is_none() || item.is_none() || e["attempt"].as_u64() == attempt)
        })?;
    Some(v["data"].clone())
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
    let raw = q.view.as_deref() == Some("raw");
    let ctx = ctx_of(state, id, &selected, LogView::of(&selected, raw));
    let (content, offset, next_line, error) = match tail(dir.root(), &selected, &ctx) {
        Ok(t) => (t.html, t.offset, t.next_line, None),
        Err(e) => (String::new(), 0, 1, Some(e)),
    };
    let stages = match ctx.view {
        LogView::Events => stages_of(&run.state),
        _ => Vec::new(),
    };
    let call = (ctx.view == LogView::Agent)
        .then(|| call_of(dir.root(), &selected))
        .flatten();
    let view = LogsView {
        id,
        groups: grouped(logs, &selected),
        selected_q: url_encode(&selected),
        selected,
        content: Markup(content),
        offset,
        next_line,
        mode: ctx.view,
        readable: LogView::of(
            &q.path.clone().unwrap_or_else(|| "events.jsonl".into()),
            false,
        ) != LogView::Lines,
        raw,
        stages,
        call,
        error,
        live: run.summary.is_active(),
    };
    render("tab_logs.html", &view)
}

/// The stages a run's events may name, in its order.
fn stages_of(state: &Option<orx_core::protocol::RunState>) -> Vec<String> {
    let mut v = vec!["run".to_string(), "baseline".to_string()];
    if let Some(s) = state {
        v.extend(s.stages.iter().map(|st| st.name.clone()));
        if s.stages.iter().any(|st| st.name == "implement") {
            v.push("fix".into());
        }
    }
    v
}

/// What rendering `path` of run `id` needs.
pub fn ctx_of(state: &Shared, id: &str, path: &str, view: LogView) -> LogCtx {
    let item = path
        .rsplit('/')
        .next()
        .and_then(|n| {
            n.split(['_', '.'])
                .find(|p| orx_core::protocol::is_item_id(p))
        })
        .map(str::to_string);
    // An agent's turns are priced as its call was: its model, the repository's prices (orx.yaml's
    // `pricing`, else the built-in ones).
    let price = (view == LogView::Agent)
        .then(|| {
            let model = call_data(state.index.dir(id).root(), path)?["model"]
                .as_str()?
                .to_string();
            let prices = orx_core::config::load_file(&state.opts.repo.join("orx.yaml"))
                .map(|c| c.config.pricing)
                .unwrap_or_default();
            Some((model, prices))
        })
        .flatten();
    LogCtx {
        view,
        run_id: id.to_string(),
        item,
        started: state
            .index
            .row(id)
            .and_then(|r| r.started_at)
            .and_then(|t| t.parse().ok()),
        price,
    }
}

/// The end of a log as HTML rows.
struct Tail {
    html: String,
    /// The byte offset the stream goes on from.
    offset: u64,
    /// The number of the line after the last shown.
    next_line: u64,
}

/// Logs up to this size are counted to number the tail's lines as the file does; past it, the
/// numbers count from the first line shown.
const COUNTED: u64 = 64 * 1024 * 1024;

fn tail(root: &std::path::Path, rel: &str, ctx: &LogCtx) -> Result<Tail, String> {
    let p = files::confine(root, rel).map_err(|e| e.to_string())?;
    let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(SHOWN);
    let (text, next) = files::read_from(&p, start, SHOWN + 1).map_err(|e| e.to_string())?;
    // Starting inside a long log: drop the partial first line.
    let text = match text.split_once('\n') {
        Some((_, rest)) if start > 0 => rest,
        _ => text.as_str(),
    };
    let before = if start > 0 && start <= COUNTED {
        files::count_lines(&p, start).unwrap_or(0) + 1
    } else {
        0
    };
    let first = before + 1;
    Ok(Tail {
        html: log_lines(text, first, ctx),
        offset: next,
        next_line: first + text.lines().count() as u64,
    })
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

    fn ctx(view: LogView) -> LogCtx {
        LogCtx {
            view,
            run_id: "20261130_100000_0000000a".into(),
            item: Some("W001".into()),
            started: "2026-11-30T10:00:00Z".parse().ok(),
            price: None,
        }
    }

    #[test]
    fn lines_are_numbered_from_where_the_chunk_starts_with_their_level() {
        let html = log_lines(
            "collecting\nwarning: unused\nE   AssertionError: 1 != 2\n<b>\n$ pytest -k error\n",
            41,
            &ctx(LogView::Lines),
        );
        let rows: Vec<&str> = html.split("</div>").filter(|r| !r.is_empty()).collect();
        assert_eq!(rows.len(), 5);
        assert!(
            rows[0].starts_with("<div class=\"ll\" id=\"L41\"><a class=\"n\" href=\"#L41\">41</a>"),
            "{}",
            rows[0]
        );
        assert!(
            rows[1].starts_with("<div class=\"ll l-warn\" id=\"L42\""),
            "{}",
            rows[1]
        );
        assert!(
            rows[2].starts_with("<div class=\"ll l-err\" id=\"L43\""),
            "{}",
            rows[2]
        );
        assert!(rows[3].contains("&lt;b&gt;"), "escaped: {}", rows[3]);
        assert!(
            rows[4].starts_with("<div class=\"ll\" id=\"L45\""),
            "a command: {}",
            rows[4]
        );
    }

    #[test]
    fn events_read_as_steps_with_their_stage_time_and_level() {
        let events = [
            r#"{"ts":"2026-11-30T10:00:00Z","kind":"run.started","message":"run started"}"#,
            r#"{"ts":"2026-11-30T10:00:12.5Z","kind":"stage.started","stage":"plan","message":"plan started"}"#,
            r#"{"ts":"2026-11-30T10:01:30Z","kind":"gate.finished","stage":"implement","data":{"passed":false,"required":true},"message":"implement: gate tests failed"}"#,
            r#"{"ts":"2026-11-30T10:01:31Z","kind":"warning","stage":"implement","message":"implement: slow"}"#,
            "not json",
        ]
        .join("\n");
        let html = log_lines(&events, 1, &ctx(LogView::Events));
        let rows: Vec<&str> = html.split("</div>").filter(|r| !r.is_empty()).collect();
        assert!(
            rows[0].contains("data-stage=\"run\"") && rows[0].contains(">+0.0s<"),
            "{}",
            rows[0]
        );
        assert!(
            rows[1].contains("data-stage=\"plan\"")
                && rows[1].contains(">+12.5s<")
                && rows[1].contains("<span class=\"stg\">plan</span> plan started"),
            "{}",
            rows[1]
        );
        assert!(
            rows[2].starts_with("<div class=\"ll l-err\" id=\"L3\" data-stage=\"implement\""),
            "{}",
            rows[2]
        );
        assert!(rows[2].contains(">+1m 30s<"), "{}", rows[2]);
        assert!(
            rows[3].starts_with("<div class=\"ll l-warn\""),
            "{}",
            rows[3]
        );
        assert!(rows[4].contains("not json"), "{}", rows[4]);
    }

    #[test]
    fn an_agents_stream_reads_as_what_it_did_with_written_files_linked_into_the_diff() {
        let stream = [
            r#"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'pytest -q'","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"tool_use","tool_name":"write_file","tool_id":"w1","parameters":{"file_path":"src/stats.py","content":"x"}}"#,
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Added mean().\nThe tests pass."}]}}"#,
        ]
        .join("\n");
        let html = log_lines(&stream, 1, &ctx(LogView::Agent));
        let rows: Vec<&str> = html.split("</div>").filter(|r| !r.is_empty()).collect();
        assert!(
            rows[0].contains("<span class=\"act r\">runs</span> <code>"),
            "{}",
            rows[0]
        );
        assert!(rows[0].contains("pytest -q"), "{}", rows[0]);
        assert!(
            rows[1].starts_with("<div class=\"ll quiet\" id=\"L2\""),
            "{}",
            rows[1]
        );
        assert!(
            rows[2].contains("<span class=\"act w\">writes</span> <a href=\"/runs/20261130_100000_0000000a?tab=diff&item=W001#f-src_2Fstats_2Epy\">src/stats.py</a>"),
            "{}",
            rows[2]
        );
        // What the agent says is kept whole, its lines too.
        assert!(
            rows[3].contains("<span class=\"act s\">says</span> <span class=\"said\">Added mean().\nThe tests pass.</span>"),
            "{}",
            rows[3]
        );
    }

    #[test]
    fn raw_shows_the_lines_of_any_log_and_reading_is_for_events_and_agent_streams() {
        assert_eq!(LogView::of("events.jsonl", false), LogView::Events);
        assert_eq!(
            LogView::of("logs/agent_fix_W001_2.jsonl", false),
            LogView::Agent
        );
        assert_eq!(
            LogView::of("logs/agent_fix_W001_2.stderr.log", false),
            LogView::Lines
        );
        assert_eq!(
            LogView::of("logs/gate_tests_W001_1.log", false),
            LogView::Lines
        );
        assert_eq!(LogView::of("events.jsonl", true), LogView::Lines);
        for v in [LogView::Lines, LogView::Events, LogView::Agent] {
            assert_eq!(LogView::parse(v.as_str()), v);
        }
    }

    #[test]
    fn usage_lines_read_as_tokens_and_a_call_finds_its_event() {
        let io = |l: &str| usage_of(l).map(|u| (u.input, u.cached_input, u.output));
        assert_eq!(
            io(
                r#"{"type":"assistant","message":{"usage":{"input_tokens":100,"cache_read_input_tokens":20,"output_tokens":5}}}"#
            ),
            Some((120, 20, 5))
        );
        assert_eq!(
            io(
                r#"{"type":"turn.completed","usage":{"input_tokens":223,"cached_input_tokens":20,"output_tokens":55}}"#
            ),
            Some((223, 20, 55))
        );
        assert_eq!(
            io(r#"{"type":"result","stats":{"input_tokens":223,"output_tokens":55}}"#),
            Some((223, 0, 55))
        );
        assert_eq!(io(r#"{"type":"turn.started"}"#), None);
        // Priced as the call's model: $1 and $4 per million tokens in and out here.
        let priced = LogCtx {
            price: Some((
                "m".into(),
                [(
                    "m".to_string(),
                    orx_core::config::Price {
                        input: 1.0,
                        output: 4.0,
                        cached_input: None,
                    },
                )]
                .into(),
            )),
            ..ctx(LogView::Agent)
        };
        let html = log_lines(
            r#"{"type":"turn.completed","usage":{"input_tokens":1000000,"output_tokens":250000}}"#,
            1,
            &priced,
        );
        assert!(html.contains("1.0M in · 250.0k out · $2.00"), "{html}");
        let html = log_lines(
            r#"{"type":"turn.completed","usage":{"input_tokens":1200,"output_tokens":300}}"#,
            1,
            &ctx(LogView::Agent),
        );
        assert!(
            html.contains("<span class=\"act u\">tokens</span> 1.2k in · 300 out"),
            "{html}"
        );

        let d = tempfile::tempdir().unwrap();
        let ev = |stage: &str, item: Option<&str>, attempt: u32, input: u64| {
            serde_json::json!({"ts": "2026-11-30T10:00:00Z", "kind": "agent.finished", "stage": stage,
                "item": item, "attempt": attempt, "message": "x",
                "data": {"executor": "codex", "model": "gpt-5", "duration_secs": 12.5,
                         "tokens": {"input": input, "output": 10}, "cost_usd": 0.0, "tries": 1}})
            .to_string()
        };
        std::fs::write(
            d.path().join("events.jsonl"),
            [
                ev("implement", Some("W001"), 1, 1000),
                ev("fix", Some("W001"), 2, 2000),
                ev("knowledge_update", None, 1, 3000),
            ]
            .join("\n"),
        )
        .unwrap();
        let fix = call_of(d.path(), "logs/agent_fix_W001_2.jsonl").unwrap();
        assert_eq!(
            (
                fix.who.as_str(),
                fix.input.as_str(),
                fix.duration.as_str(),
                fix.cost.as_str()
            ),
            ("codex · gpt-5", "2.0k", "12.5s", "—")
        );
        assert_eq!(
            call_of(d.path(), "logs/agent_implement_W001_1.jsonl")
                .unwrap()
                .input,
            "1.0k"
        );
        assert_eq!(
            call_of(d.path(), "logs/agent_knowledge_update.jsonl")
                .unwrap()
                .input,
            "3.0k"
        );
        assert!(call_of(d.path(), "logs/agent_review.jsonl").is_none());
    }
}
