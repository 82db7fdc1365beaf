//! Cursor Agent (`cursor-agent -p --output-format stream-json`): the `result` event has the
//! (concatenated) answer and `is_error`; a stream without `result` is a failure. Tool call
//! shapes are parsed leniently: the single key of `tool_call` is the kind.

use super::{Invocation, Parsed, StreamParser, classify, json, push_capped};
use crate::agent::{AgentError, AgentRequest};

pub(super) fn invocation(req: &AgentRequest) -> Invocation {
    let mut args: Vec<String> = ["-p", "--output-format", "stream-json", "--trust"]
        .map(String::from)
        .to_vec();
    if let Some(m) = &req.model {
        args.extend(["-m".into(), m.clone()]);
    }
    Invocation {
        trailing: Vec::new(),
        args,
        env: Vec::new(),
        stdin: Some(req.prompt.clone().into_bytes()),
    }
}

#[derive(Default)]
pub(super) struct Parser {
    p: Parsed,
    assistant: String,
}

impl StreamParser for Parser {
    fn line(&mut self, line: &str) {
        let Some(v) = json(line) else { return };
        match v.get("type").and_then(|t| t.as_str()).unwrap_or("") {
            "system" => {
                self.p.session_id = v
                    .get("session_id")
                    .and_then(|s| s.as_str())
                    .map(String::from)
            }
            "assistant" => {
                if let Some(content) = v["message"].get("content").and_then(|c| c.as_array()) {
                    for c in content {
                        if let Some(t) = c.get("text").and_then(|t| t.as_str()) {
                            push_capped(&mut self.assistant, t);
                        }
                    }
                }
            }
            "tool_call" if v.get("subtype").and_then(|s| s.as_str()) == Some("started") => {
                self.p.tool_calls += 1
            }
            "result" => {
                if let Some(r) = v.get("result").and_then(|r| r.as_str()) {
                    self.p.text = r.to_string();
                }
                let is_error = v.get("is_error").and_then(|e| e.as_bool()).unwrap_or(false);
                self.p.success = Some(!is_error);
                if is_error {
                    let msg = self.p.text.clone();
                    self.p.error = Some(AgentError {
                        kind: classify(None, &msg),
                        message: msg,
                    });
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self) -> Parsed {
        let mut p = std::mem::take(&mut self.p);
        if p.success.is_none() {
            // The stream ended without its result line: the CLI failed (details are on stderr).
            p.success = Some(false);
        }
        if p.text.is_empty() {
            p.text = std::mem::take(&mut self.assistant);
        }
        p
    }
}
