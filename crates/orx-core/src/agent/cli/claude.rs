//! Claude Code (`claude -p --output-format stream-json --verbose`): the `result` event has the
//! answer, the usage (input excludes cache reads: they are added back), the cost, `is_error`
//! and the permission denials.

use super::{Invocation, Parsed, StreamParser, classify, json, running_as_root, u};
use crate::agent::{AgentError, AgentMode, AgentRequest, Usage};

pub(super) fn invocation(req: &AgentRequest) -> Invocation {
    let mut args: Vec<String> = ["-p", "--output-format", "stream-json", "--verbose"]
        .map(String::from)
        .to_vec();
    let mut env = vec![
        (
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".to_string(),
            "1".to_string(),
        ),
        ("DISABLE_AUTOUPDATER".into(), "1".into()),
    ];
    // Claude refuses its bypass mode as root unless told it runs in a sandbox.
    if req.mode == AgentMode::Apply && running_as_root() {
        env.push(("IS_SANDBOX".into(), "1".into()));
    }
    if let Some(m) = &req.model {
        args.extend(["--model".into(), m.clone()]);
    }
    if let Some(e) = &req.reasoning_effort {
        args.extend(["--effort".into(), e.clone()]);
    }
    // With -p and no positional prompt, claude reads it from stdin.
    Invocation {
        trailing: Vec::new(),
        args,
        env,
        stdin: Some(req.prompt.clone().into_bytes()),
    }
}

#[derive(Default)]
pub(super) struct Parser {
    p: Parsed,
    /// Usage of each model response so far, by message id (one response's blocks come as
    /// several events with the same id and usage).
    messages: std::collections::BTreeMap<String, Usage>,
    /// The `result` event came: its usage is the call's.
    ended: bool,
}

/// A Messages API usage, normalised (input includes cache reads and writes).
fn usage_of(us: &serde_json::Value) -> Usage {
    let cache_read = u(us, "cache_read_input_tokens");
    Usage {
        input: u(us, "input_tokens")
            .saturating_add(cache_read)
            .saturating_add(u(us, "cache_creation_input_tokens")),
        cached_input: cache_read,
        output: u(us, "output_tokens"),
        reasoning: 0,
    }
}

impl StreamParser for Parser {
    fn line(&mut self, line: &str) {
        let Some(v) = json(line) else { return };
        match v.get("type").and_then(|t| t.as_str()).unwrap_or("") {
            "system" => {
                if let Some(s) = v.get("session_id").and_then(|s| s.as_str()) {
                    self.p.session_id = Some(s.to_string());
                }
            }
            "assistant" => {
                let id = v["message"]["id"].as_str().unwrap_or("").to_string();
                if v["message"].get("usage").is_some() {
                    self.messages.insert(id, usage_of(&v["message"]["usage"]));
                }
                if let Some(content) = v["message"].get("content").and_then(|c| c.as_array()) {
                    for c in content {
                        match c.get("type").and_then(|t| t.as_str()) {
                            Some("tool_use") => self.p.tool_calls += 1,
                            Some("text") => {
                                self.p.text = c
                                    .get("text")
                                    .and_then(|t| t.as_str())
                                    .unwrap_or("")
                                    .to_string()
                            }
                            _ => {}
                        }
                    }
                }
            }
            "result" => {
                if let Some(r) = v.get("result").and_then(|r| r.as_str()) {
                    self.p.text = r.to_string();
                }
                self.p.usage = usage_of(&v["usage"]);
                self.ended = true;
                self.p.cost_usd = v.get("total_cost_usd").and_then(|c| c.as_f64());
                if let Some(s) = v.get("session_id").and_then(|s| s.as_str()) {
                    self.p.session_id = Some(s.to_string());
                }
                if let Some(d) = v.get("permission_denials").and_then(|d| d.as_array()) {
                    self.p.denials = d
                        .iter()
                        .map(|x| {
                            x.get("tool_name")
                                .and_then(|t| t.as_str())
                                .unwrap_or("tool")
                                .to_string()
                        })
                        .collect();
                }
                let is_error = v.get("is_error").and_then(|e| e.as_bool()).unwrap_or(false);
                self.p.success = Some(!is_error);
                if is_error {
                    let status = v
                        .get("api_error_status")
                        .and_then(|s| s.as_u64())
                        .map(|s| s as u16);
                    let msg = v
                        .get("result")
                        .and_then(|r| r.as_str())
                        .unwrap_or("claude reported an error")
                        .to_string();
                    self.p.error = Some(AgentError {
                        kind: classify(status, &msg),
                        message: msg,
                    });
                }
            }
            _ => {}
        }
    }

    fn spent(&self) -> Usage {
        if self.ended {
            return self.p.usage;
        }
        let mut total = Usage::default();
        for u in self.messages.values() {
            total.add(u);
        }
        total
    }

    fn finish(&mut self) -> Parsed {
        // A call stopped before its result (killed, cancelled, timed out) still spent what
        // its messages showed.
        if !self.ended {
            self.p.usage = self.spent();
        }
        std::mem::take(&mut self.p)
    }
}
