//! Gemini CLI (`gemini --output-format stream-json`): the answer is the assistant text after the
//! last tool event; usage in the `result` stats (input includes cached); `status: error` fails.

use super::{Invocation, Parsed, Scratch, StreamParser, classify, json, push_capped, u};
use crate::Result;
use crate::agent::{AgentError, AgentRequest};

/// `env` looks a variable up as the CLI will see it (orx.yaml's env first, then orx's own).
pub(super) fn invocation(
    req: &AgentRequest,
    scratch: &Scratch,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Invocation> {
    let mut args: Vec<String> = ["--output-format", "stream-json", "--skip-trust"]
        .map(String::from)
        .to_vec();
    if let Some(m) = &req.model {
        args.extend(["-m".into(), m.clone()]);
    }
    let mut vars = vec![("GEMINI_CLI_TRUST_WORKSPACE".to_string(), "true".to_string())];
    if let (Some(effort), Some(model)) = (&req.reasoning_effort, &req.model)
        && let Some(home) = effort_home(effort, model, scratch, env)?
    {
        vars.push(("GEMINI_CLI_HOME".into(), home.display().to_string()));
    }
    // Headless on stdin (no -p: the positional query would be interactive).
    Ok(Invocation {
        trailing: Vec::new(),
        args,
        env: vars,
        stdin: Some(req.prompt.clone().into_bytes()),
    })
}

/// Gemini has no effort flag: a thinking budget goes in as a model config override. The
/// user's own settings are not touched: a private home holds a copy of them with the override
/// added, and links to everything else in their `.gemini` folder (login, accounts).
fn effort_home(
    effort: &str,
    model: &str,
    scratch: &Scratch,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<std::path::PathBuf>> {
    let budget: u64 = match effort {
        // The smallest budget every thinking model accepts.
        "none" | "minimal" => 128,
        "low" => 1024,
        "medium" => 8192,
        "high" | "xhigh" | "max" => 24576,
        other => other.parse().unwrap_or(8192),
    };
    let user_dir = env("GEMINI_CLI_HOME")
        .or_else(|| env("HOME"))
        .map(|h| std::path::PathBuf::from(h).join(".gemini"));
    let home = scratch.path("gemini-home");
    let dir = home.join(".gemini");
    fs_err::create_dir_all(&dir)?;
    let existing = user_dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("settings.json")).ok());
    let mut settings: serde_json::Value = match existing {
        None => serde_json::json!({}),
        Some(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if v.is_object() => v,
            // Settings orx cannot read (comments, say) are never replaced: no override then.
            _ => return Ok(None),
        },
    };
    let overrides = settings
        .as_object_mut()
        .map(|o| {
            o.entry("modelConfigs")
                .or_insert_with(|| serde_json::json!({}))
        })
        .and_then(|m| m.as_object_mut())
        .map(|m| {
            m.entry("customOverrides")
                .or_insert_with(|| serde_json::json!([]))
        });
    if let Some(serde_json::Value::Array(list)) = overrides {
        list.push(serde_json::json!({
            "match": {"model": model},
            "modelConfig": {"generateContentConfig": {"thinkingConfig": {"thinkingBudget": budget}}}
        }));
    }
    fs_err::write(dir.join("settings.json"), settings.to_string())?;
    if let Some(user_dir) = user_dir
        && let Ok(entries) = std::fs::read_dir(&user_dir)
    {
        for e in entries.flatten() {
            if e.file_name() != "settings.json" {
                let _ = std::os::unix::fs::symlink(e.path(), dir.join(e.file_name()));
            }
        }
    }
    Ok(Some(home))
}

#[derive(Default)]
pub(super) struct Parser {
    p: Parsed,
    buffer: String,
}

impl StreamParser for Parser {
    fn session(&self) -> Option<&str> {
        self.p.session_id.as_deref()
    }

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
