//! Gemini CLI (`gemini --output-format stream-json`): the answer is the assistant text after the
//! last tool event; usage in the `result` stats (input includes cached); `status: error` fails.

use super::{Invocation, Parsed, StreamParser, classify, json, push_capped, u};
use crate::agent::{AgentError, AgentMode, AgentRequest};

pub(super) fn invocation(req: &AgentRequest) -> Invocation {
    let mut args: Vec<String> = ["--output-format", "stream-json", "--skip-trust"]
        .map(String::from)
        .to_vec();
    match req.mode {
        AgentMode::Text => args.extend(["--approval-mode", "default"].map(String::from)),
        AgentMode::Apply => args.push("--yolo".into()),
    }
    if let Some(m) = &req.model {
        args.extend(["-m".into(), m.clone()]);
    }
    // Headless on stdin (no -p: the positional query would be interactive).
    Invocation {
        trailing: Vec::new(),
        args,
        env: vec![("GEMINI_CLI_TRUST_WORKSPACE".into(), "true".into())],
        stdin: Some(req.prompt.clone().into_bytes()),
    }
}

#[derive(Default)]
pub(super) struct Parser {
    p: Parsed,
    buffer: String,
}

impl StreamParser for Parser {
    fn line(&mut self, line: &str) {
        let Some(v) = json(line) else { return };
        match v.get("type").and_then(|t| t.as_str()).unwrap_or("") {
            "init" => {
                self.p.session_id = v
                    .get("session_id")
                    .and_then(|s| s.as_str())
                    .map(String::from)
            }
            "message" if v.get("role").and_then(|r| r.as_str()) == Some("assistant") => {
                let c = v.get("content").and_then(|c| c.as_str()).unwrap_or("");
                if v.get("delta").and_then(|d| d.as_bool()).unwrap_or(false) {
                    push_capped(&mut self.buffer, c);
                } else {
                    self.buffer = c.to_string();
                }
            }
            "tool_use" => {
                self.p.tool_calls += 1;
                self.buffer.clear();
            }
            "tool_result" => self.buffer.clear(),
            "result" => {
                let st = &v["stats"];
                self.p.usage.input = u(st, "input_tokens");
                self.p.usage.cached_input = u(st, "cached");
                self.p.usage.output = u(st, "output_tokens");
                let ok = v.get("status").and_then(|s| s.as_str()) == Some("success");
                self.p.success = Some(ok);
                if !ok {
                    let msg = v["error"]
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or("gemini reported an error")
                        .to_string();
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
        p.text = std::mem::take(&mut self.buffer);
        p
    }
}
