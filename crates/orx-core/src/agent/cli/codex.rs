//! Codex CLI (`codex exec --json`): JSONL events; the last `agent_message` is the answer; usage
//! in `turn.completed` (input includes cached); `turn.failed` is the failure.

use super::{Invocation, Parsed, StreamParser, classify, json, u};
use crate::agent::{AgentError, AgentRequest};

pub(super) fn invocation(req: &AgentRequest) -> Invocation {
    let mut args: Vec<String> = ["exec", "--json", "--skip-git-repo-check"]
        .map(String::from)
        .to_vec();
    // The mode's flags (-s read-only / -s workspace-write -c approval_policy=never) are added
    // by the shared runner.
    if let Some(m) = &req.model {
        args.extend(["-m".into(), m.clone()]);
    }
    if let Some(e) = &req.reasoning_effort {
        args.extend(["-c".into(), format!("model_reasoning_effort={e}")]);
    }
    // `-` reads the prompt from stdin, which is then closed: no argument-length limit.
    Invocation {
        trailing: vec!["-".into()],
        args,
        env: Vec::new(),
        stdin: Some(req.prompt.clone().into_bytes()),
    }
}

#[derive(Default)]
pub(super) struct Parser {
    p: Parsed,
    last_error: Option<String>,
}

impl StreamParser for Parser {
    fn session(&self) -> Option<&str> {
        self.p.session_id.as_deref()
    }

    fn line(&mut self, line: &str) {
        let Some(v) = json(line) else { return };
        match v.get("type").and_then(|t| t.as_str()).unwrap_or("") {
            "thread.started" => {
                self.p.session_id = v
                    .get("thread_id")
                    .and_then(|t| t.as_str())
                    .map(String::from)
            }
            "item.completed" => {
                let item = &v["item"];
                match item.get("type").and_then(|t| t.as_str()).unwrap_or("") {
                    "agent_message" => {
                        self.p.text = item
                            .get("text")
                            .and_then(|t| t.as_str())
                            .unwrap_or("")
                            .to_string()
                    }
                    "command_execution" | "file_change" | "mcp_tool_call" | "web_search" => {
                        self.p.tool_calls += 1
                    }
                    _ => {}
                }
            }
            "turn.completed" => {
                let us = &v["usage"];
                self.p.usage.input = self.p.usage.input.saturating_add(u(us, "input_tokens"));
                self.p.usage.cached_input = self
                    .p
                    .usage
                    .cached_input
                    .saturating_add(u(us, "cached_input_tokens"));
                self.p.usage.output = self.p.usage.output.saturating_add(u(us, "output_tokens"));
                self.p.usage.reasoning = self
                    .p
                    .usage
                    .reasoning
                    .saturating_add(u(us, "reasoning_output_tokens"));
                self.p.success = Some(true);
            }
            "turn.failed" => {
                let msg = v["error"]
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(String::from)
                    .or_else(|| self.last_error.clone())
                    .unwrap_or_else(|| "turn failed".into());
                self.p.success = Some(false);
                self.p.error = Some(AgentError {
                    kind: classify(None, &msg),
                    message: msg,
                });
            }
            "error" => {
                self.last_error = v.get("message").and_then(|m| m.as_str()).map(String::from)
            }
            _ => {}
        }
    }

    fn finish(&mut self) -> Parsed {
        std::mem::take(&mut self.p)
    }
}
