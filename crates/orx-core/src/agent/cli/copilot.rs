//! GitHub Copilot CLI (`copilot -p … --output-format json`): the answer is the last non-empty
//! `assistant.message`; `session.error` fails; usage comes from `--usage-output-file`.

use std::path::Path;

use super::{Invocation, Parsed, Scratch, StreamParser, classify, json, u};
use crate::Result;
use crate::agent::{AgentError, AgentRequest};

/// Above this, the prompt goes through a file: one argument is limited to 128 KiB on Linux.
const MAX_ARG: usize = 100 * 1024;

pub(super) fn invocation(req: &AgentRequest, scratch: &Scratch) -> Result<Invocation> {
    let prompt = if req.prompt.len() > MAX_ARG {
        let f = scratch.path("prompt.md");
        fs_err::write(&f, &req.prompt)?;
        format!("Read the file {} and do exactly what it says.", f.display())
    } else {
        req.prompt.clone()
    };
    let mut args: Vec<String> = vec![
        "-p".into(),
        prompt,
        "--output-format".into(),
        "json".into(),
        "--allow-all-tools".into(),
        "--no-auto-update".into(),
    ];
    args.extend([
        "--usage-output-file".into(),
        scratch.path("usage.json").display().to_string(),
    ]);
    if let Some(m) = &req.model {
        args.extend(["--model".into(), m.clone()]);
    }
    if let Some(e) = &req.reasoning_effort {
        args.extend(["--reasoning-effort".into(), e.clone()]);
    }
    Ok(Invocation {
        trailing: Vec::new(),
        args,
        env: Vec::new(),
        stdin: None,
    })
}

#[derive(Default)]
pub(super) struct Parser {
    p: Parsed,
}

impl StreamParser for Parser {
    fn line(&mut self, line: &str) {
        let Some(v) = json(line) else { return };
        let data = &v["data"];
        match v.get("type").and_then(|t| t.as_str()).unwrap_or("") {
            "assistant.message" => {
                let c = data.get("content").and_then(|c| c.as_str()).unwrap_or("");
                if !c.trim().is_empty() {
                    self.p.text = c.to_string();
                }
            }
            "tool.execution_complete" => self.p.tool_calls += 1,
            "session.error" => {
                let msg = data
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("copilot reported an error")
                    .to_string();
                let status = data
                    .get("statusCode")
                    .and_then(|s| s.as_u64())
                    .map(|s| s as u16);
                self.p.success = Some(false);
                self.p.error = Some(AgentError {
                    kind: classify(status, &msg),
                    message: msg,
                });
            }
            "result" => {
                self.p.session_id = v
                    .get("sessionId")
                    .and_then(|s| s.as_str())
                    .map(String::from);
                let code = v.get("exitCode").and_then(|c| c.as_i64()).unwrap_or(0);
                if self.p.success.is_none() {
                    self.p.success = Some(code == 0);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self) -> Parsed {
        std::mem::take(&mut self.p)
    }
}

/// Reads token usage from the `--usage-output-file` (input includes cache reads).
pub(super) fn read_usage(path: &Path, p: &mut Parsed) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    if let Some(models) = v.get("modelMetrics").and_then(|m| m.as_object()) {
        for m in models.values() {
            let us = &m["usage"];
            p.usage.input = p.usage.input.saturating_add(u(us, "inputTokens"));
            p.usage.cached_input = p
                .usage
                .cached_input
                .saturating_add(u(us, "cacheReadTokens"));
            p.usage.output = p.usage.output.saturating_add(u(us, "outputTokens"));
        }
    }
}
