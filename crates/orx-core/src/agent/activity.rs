//! What an agent is doing, read from one line of its output stream: a file it writes, a command
//! it runs, another tool it calls, or what it says. The terminal's progress line shows the
//! latest; `logs` renders a whole agent log this way instead of raw JSON.

use std::sync::Arc;

use serde_json::Value;

use crate::config::ExecutorKind;

/// One thing an agent did, as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Activity {
    /// It writes, creates or edits a file.
    Writes(String),
    /// It runs a command.
    Runs(String),
    /// It calls another tool (reads a file, searches, …), with what it is about.
    Tool {
        /// The tool's name.
        name: String,
        /// Its main argument (a path, a pattern), when there is one.
        target: Option<String>,
    },
    /// It says something (a line of its answer or its reasoning).
    Says(String),
}

/// Where a caller wants to hear of each activity as it happens.
#[derive(Clone)]
pub struct ActivitySink(pub Arc<dyn Fn(&Activity) + Send + Sync>);

impl std::fmt::Debug for ActivitySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActivitySink")
    }
}

impl ActivitySink {
    /// Tells the listener of `line`'s activity in `kind`'s stream, if it shows one.
    pub fn line(&self, kind: ExecutorKind, line: &str) {
        if let Some(a) = of_line(kind, line) {
            (self.0)(&a);
        }
    }
}

impl std::fmt::Display for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Activity::Writes(path) => write!(f, "writes {path}"),
            Activity::Runs(cmd) => write!(f, "runs `{cmd}`"),
            Activity::Tool {
                name,
                target: Some(t),
            } => write!(f, "{name} {t}"),
            Activity::Tool { name, target: None } => write!(f, "{name}"),
            Activity::Says(text) => write!(f, "“{text}”"),
        }
    }
}

/// The activity in one line of `kind`'s stream, if the line shows one.
pub fn of_line(kind: ExecutorKind, line: &str) -> Option<Activity> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    Some(raw(kind, &v)?.tidy())
}

fn raw(kind: ExecutorKind, v: &Value) -> Option<Activity> {
    match kind {
        ExecutorKind::Codex => codex(v),
        ExecutorKind::Claude => claude(v),
        ExecutorKind::Gemini => gemini(v),
        ExecutorKind::Copilot => copilot(v),
        ExecutorKind::Cursor => cursor(v),
        ExecutorKind::Fake => fake(v),
    }
}

/// The activity in a line of any known stream (a log whose executor is not known).
pub fn of_any_line(line: &str) -> Option<Activity> {
    ExecutorKind::ALL.iter().find_map(|k| of_line(*k, line))
}

/// [`of_any_line`] keeping what the agent says whole (up to 20,000 characters), for a
/// transcript; the rest is tidied the same way.
pub fn of_any_line_whole(line: &str) -> Option<Activity> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    let a = ExecutorKind::ALL.iter().find_map(|k| raw(*k, &v))?;
    Some(match a {
        Activity::Says(t) => Activity::Says(t.trim().chars().take(20_000).collect()),
        other => other.tidy(),
    })
}

impl Activity {
    /// One line, at most 200 characters, paths relative where the worktree's prefix shows.
    fn tidy(self) -> Activity {
        let short = |s: String| -> String {
            let one = s
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            let mut out: String = one.chars().take(200).collect();
            if one.chars().count() > 200 {
                out.push('…');
            }
            out
        };
        let rel = |p: String| -> String {
            match p.find("/.worktrees/") {
                Some(i) => p[i + "/.worktrees/".len()..]
                    .split_once('/')
                    .map_or(p.clone(), |(_, rest)| rest.to_string()),
                None => p,
            }
        };
        match self {
            Activity::Writes(p) => Activity::Writes(rel(short(p))),
            Activity::Runs(c) => Activity::Runs(short(c)),
            Activity::Tool { name, target } => Activity::Tool {
                name,
                target: target.map(|t| rel(short(t))),
            },
            Activity::Says(t) => Activity::Says(short(t)),
        }
    }
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(String::from)
}

/// A named tool with its arguments: writes and commands are told apart by the usual names.
fn tool(name: &str, args: &Value) -> Activity {
    let path = ["file_path", "path", "filename", "notebook_path"]
        .iter()
        .find_map(|k| s(args, k));
    let command = s(args, "command").or_else(|| s(args, "cmd"));
    let lower = name.to_ascii_lowercase();
    let writes = [
        "write",
        "edit",
        "create",
        "replace",
        "apply_patch",
        "str_replace",
        "multiedit",
    ]
    .iter()
    .any(|w| lower.contains(w));
    let runs = ["bash", "shell", "run_shell_command", "exec", "terminal"]
        .iter()
        .any(|w| lower.contains(w));
    match (writes, runs, path, command) {
        (true, _, Some(p), _) => Activity::Writes(p),
        (_, true, _, Some(c)) => Activity::Runs(c),
        (_, _, p, c) => Activity::Tool {
            name: name.to_string(),
            target: p
                .or(c)
                .or_else(|| s(args, "pattern"))
                .or_else(|| s(args, "query")),
        },
    }
}

fn codex(v: &Value) -> Option<Activity> {
    if s(v, "type")? != "item.started" && s(v, "type")? != "item.completed" {
        return None;
    }
    let item = v.get("item")?;
    let started = s(v, "type")? == "item.started";
    match s(item, "type")?.as_str() {
        "command_execution" if started => Some(Activity::Runs(s(item, "command")?)),
        "file_change" if started => {
            let paths: Vec<String> = item
                .get("changes")?
                .as_array()?
                .iter()
                .filter_map(|c| s(c, "path"))
                .collect();
            (!paths.is_empty()).then(|| Activity::Writes(paths.join(", ")))
        }
        "agent_message" | "reasoning" if !started => Some(Activity::Says(s(item, "text")?)),
        "mcp_tool_call" if started => Some(Activity::Tool {
            name: s(item, "tool")?,
            target: None,
        }),
        _ => None,
    }
}

fn claude(v: &Value) -> Option<Activity> {
    if s(v, "type")? != "assistant" {
        return None;
    }
    // The last block of the message is the newest thing it did.
    let block = v.get("message")?.get("content")?.as_array()?.last()?;
    match s(block, "type")?.as_str() {
        "tool_use" => Some(tool(&s(block, "name")?, block.get("input")?)),
        "text" => Some(Activity::Says(s(block, "text")?)),
        "thinking" => Some(Activity::Says(s(block, "thinking")?)),
        _ => None,
    }
}

fn gemini(v: &Value) -> Option<Activity> {
    match s(v, "type")?.as_str() {
        "tool_use" => Some(tool(&s(v, "tool_name")?, v.get("parameters")?)),
        "message" if s(v, "role").as_deref() == Some("assistant") => {
            Some(Activity::Says(s(v, "content")?))
        }
        _ => None,
    }
}

fn copilot(v: &Value) -> Option<Activity> {
    let data = v.get("data")?;
    match s(v, "type")?.as_str() {
        "tool.execution_start" => Some(tool(&s(data, "toolName")?, data.get("arguments")?)),
        "assistant.message" => {
            let text = s(data, "content")?;
            (!text.trim().is_empty()).then_some(Activity::Says(text))
        }
        _ => None,
    }
}

fn cursor(v: &Value) -> Option<Activity> {
    match s(v, "type")?.as_str() {
        "tool_call" if s(v, "subtype").as_deref() == Some("started") => {
            let call = v.get("tool_call")?.as_object()?;
            let (name, body) = call.iter().next()?;
            let args = body.get("args").cloned().unwrap_or(Value::Null);
            let name = name.trim_end_matches("ToolCall");
            Some(tool(name, &args))
        }
        "assistant" => {
            let block = v.get("message")?.get("content")?.as_array()?.last()?;
            Some(Activity::Says(s(block, "text")?))
        }
        _ => None,
    }
}

/// The scripted agent's own stream.
fn fake(v: &Value) -> Option<Activity> {
    match s(v, "type")?.as_str() {
        "tool" => {
            let name = s(v, "name")?;
            let path = s(v, "path");
            Some(match (name.as_str(), path) {
                ("write_file" | "edit_file", Some(p)) => Activity::Writes(p),
                (_, target) => Activity::Tool { name, target },
            })
        }
        "message" | "delta" => Some(Activity::Says(s(v, "text")?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
