//! A scripted mock model server on 127.0.0.1 that speaks enough of the OpenAI Responses API
//! (codex) and the Anthropic Messages API (claude; copilot in BYOK mode) for the real CLIs.
//! It stops when dropped, after a bounded lifetime, or after a bounded number of requests.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What the mock answers.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// Answers by prompt: the first (needle, text) whose needle is in the request wins.
    pub answers: Vec<(String, String)>,
    /// The answer when no needle matches.
    pub default_answer: String,
    /// Files to write through a tool call, by prompt needle: (needle, file name, content).
    pub writes: Vec<(String, String, String)>,
    /// HTTP statuses returned, in order, to the first model requests (then normal answers).
    pub fail_first: Vec<u16>,
    /// Accept requests and never answer them.
    pub stall: bool,
    /// Usage of a tool-call turn: (input, output).
    pub tool_usage: (u64, u64),
    /// Usage of the final turn: (input, output, cached).
    pub final_usage: (u64, u64, u64),
    /// Write files through the shell tool (claude's Bash) rather than its file tool: claude's
    /// Write refuses to replace a file the session has not read.
    pub shell_writes: bool,
    /// Report input tokens from the request's size (a token per four bytes) instead of the
    /// fixed figures, so what a CLI sends shows in its usage.
    pub usage_from_size: bool,
    /// Files to read before a scripted write, by prompt needle: (needle, file name). The model
    /// reads the file unless its conversation's earlier turns already show it (a continued
    /// session that read it before), as a model re-reads only what it has not seen.
    pub reads: Vec<(String, String)>,
    /// How long the model takes over its answer after a tool's result: a long call.
    pub answer_delay: Duration,
}

/// The part of a model request that is the current turn: from its last user message on (the
/// prompt and what followed it). A CLI that continues a session sends the earlier turns before
/// it; the mock answers the current one, as a model would.
pub fn current_turn(body: &str) -> String {
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return body.to_string();
    };
    // A text the CLI adds on its own (claude's reminders beside a tool's result) is no prompt.
    let said = |t: &Value| {
        t.as_str()
            .is_some_and(|t| !t.trim_start().starts_with("<system-reminder>"))
    };
    let is_prompt = |m: &Value| {
        let user = m["role"] == "user";
        let content = &m["content"];
        let parts = &m["parts"];
        let text = said(content)
            || content.as_array().is_some_and(|c| {
                c.iter()
                    .any(|b| (b["type"] == "text" || b["type"] == "input_text") && said(&b["text"]))
            })
            || parts
                .as_array()
                .is_some_and(|p| p.iter().any(|x| said(&x["text"])));
        user && text
    };
    for key in ["input", "messages", "contents"] {
        if let Some(items) = req[key].as_array()
            && let Some(i) = items.iter().rposition(is_prompt)
        {
            return Value::Array(items[i..].to_vec()).to_string();
        }
    }
    body.to_string()
}

/// The conversation before the current turn (see [`current_turn`]): the earlier turns a
/// continued session sends, without the system prompt or the tools.
pub fn earlier_turns(body: &str) -> String {
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return String::new();
    };
    let whole = |key: &str| req[key].as_array().map(Vec::len).unwrap_or(0);
    let turn = serde_json::from_str::<Value>(&current_turn(body))
        .ok()
        .and_then(|t| t.as_array().map(Vec::len))
        .unwrap_or(0);
    for key in ["input", "messages", "contents"] {
        if let Some(items) = req[key].as_array() {
            let before = whole(key).saturating_sub(turn);
            return Value::Array(items[..before].to_vec()).to_string();
        }
    }
    String::new()
}

/// What the model does next in a turn that has had `outputs` tool results: the scripted write
/// (after the read the script puts before it, unless the earlier turns show that file), or the
/// answer.
enum Step<'a> {
    Read(&'a str),
    Write(&'a str, &'a str),
    Answer,
}

fn step<'a>(script: &'a Script, body: &str, turn: &str, outputs: usize) -> Step<'a> {
    let Some((_, name, content)) = write_for(script, turn) else {
        return Step::Answer;
    };
    let read = script
        .reads
        .iter()
        .find(|(needle, _)| turn.contains(needle.as_str()))
        .map(|(_, file)| file.as_str())
        .filter(|file| !earlier_turns(body).contains(file));
    match (read, outputs) {
        (Some(file), 0) => Step::Read(file),
        (Some(_), 1) | (None, 0) => Step::Write(name, content),
        _ => {
            std::thread::sleep(script.answer_delay);
            Step::Answer
        }
    }
}

/// An id for a tool call, a message or a response, unique in this process: a continued session holds earlier calls, and a
/// CLI takes a repeated id for a call already answered.
fn tool_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// Input tokens of a request: the script's figure, or the body's size when asked.
fn input_tokens(script: &Script, body: &str, fixed: u64) -> u64 {
    if script.usage_from_size {
        (body.len() as u64).div_ceil(4)
    } else {
        fixed
    }
}

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method and path.
    pub path: String,
    /// The body.
    pub body: String,
}

/// A running mock server.
pub struct MockServer {
    addr: String,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl MockServer {
    /// Starts a server for `script` on a free port of 127.0.0.1.
    pub fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        listener.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || {
            let started = Instant::now();
            let count = Arc::new(AtomicUsize::new(0));
            let script = Arc::new(script);
            while !stop2.load(Ordering::SeqCst)
                && started.elapsed() < Duration::from_secs(600)
                && count.load(Ordering::SeqCst) < 2000
            {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (script, seen, count, stop) =
                            (script.clone(), seen2.clone(), count.clone(), stop2.clone());
                        std::thread::spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            let _ = handle(stream, &script, &seen, &count, &stop);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self { addr, stop, seen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.addr
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn handle(
    stream: TcpStream,
    script: &Script,
    seen: &Mutex<Vec<Seen>>,
    count: &AtomicUsize,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    let req = crate::serve::read_request(&stream)?;
    let (method, path, body) = (req.method, req.target, req.body);
    if let Ok(mut s) = seen.lock() {
        s.push(Seen {
            path: format!("{method} {path}"),
            body: body.clone(),
        });
    }
    let mut out = stream;
    let p = path.split('?').next().unwrap_or("");
    let gemini = p.contains("/models/") && p.contains(':');
    if gemini && (p.ends_with(":countTokens") || p.ends_with(":generateContent")) {
        // Side calls (router, next-speaker checks): a short JSON text fills any schema well enough.
        return respond_json(
            &mut out,
            200,
            &json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "{}"}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0}, "totalTokens": 1}),
        );
    }
    let is_model_call =
        method == "POST" && (p.ends_with("/responses") || p.ends_with("/messages") || gemini);
    if !is_model_call {
        return respond_json(
            &mut out,
            404,
            &json!({"error": {"message": format!("mock: no route {method} {path}")}}),
        );
    }
    let n = count.fetch_add(1, Ordering::SeqCst);
    if script.stall {
        // Hold the connection without answering until the server stops.
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return Ok(());
    }
    if let Some(status) = script.fail_first.get(n) {
        let msg = format!("mock: status {status}");
        let err = if gemini {
            json!({"error": {"code": status, "message": msg, "status": if *status == 429 { "RESOURCE_EXHAUSTED" } else { "INVALID_ARGUMENT" }}})
        } else if p.ends_with("/messages") {
            json!({"type": "error", "error": {"type": if *status == 429 { "rate_limit_error" } else { "invalid_request_error" }, "message": msg}})
        } else {
            json!({"error": {"message": msg, "type": "invalid_request_error", "code": status.to_string()}})
        };
        return respond_json(&mut out, *status, &err);
    }
    let req: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if gemini {
        generate(&mut out, script, &req, &body)
    } else if p.ends_with("/responses") {
        responses(&mut out, script, &req, &body)
    } else {
        messages(&mut out, script, &req, &body)
    }
}

fn respond_json(out: &mut TcpStream, status: u16, v: &Value) -> std::io::Result<()> {
    crate::serve::respond(out, status, "application/json", &v.to_string())
}

fn start_sse(out: &mut TcpStream) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
    )
}

fn sse(out: &mut TcpStream, event: Option<&str>, data: &Value) -> std::io::Result<()> {
    if let Some(e) = event {
        writeln!(out, "event: {e}")?;
    }
    write!(out, "data: {data}\n\n")?;
    out.flush()
}

fn answer_for(script: &Script, body: &str) -> String {
    script
        .answers
        .iter()
        .find(|(needle, _)| body.contains(needle.as_str()))
        .map(|(_, a)| a.clone())
        .unwrap_or_else(|| script.default_answer.clone())
}

fn write_for<'a>(script: &'a Script, body: &str) -> Option<&'a (String, String, String)> {
    script
        .writes
        .iter()
        .find(|(needle, _, _)| body.contains(needle.as_str()))
}

/// OpenAI Responses API: a function call (exec_command) first when a write is scripted, the
/// answer once the request carries the tool's output.
fn responses(out: &mut TcpStream, script: &Script, req: &Value, body: &str) -> std::io::Result<()> {
    let turn = current_turn(body);
    let outputs = turn.matches("\"function_call_output\"").count();
    start_sse(out)?;
    let model = req.get("model").cloned().unwrap_or(Value::Null);
    let tool_in = input_tokens(script, body, script.tool_usage.0);
    let final_in = input_tokens(script, body, script.final_usage.0);
    let cmd = match step(script, body, &turn, outputs) {
        Step::Read(name) => Some(format!("cat '{name}'")),
        Step::Write(name, content) => Some(format!(
            "printf '%s' '{}' > '{}'",
            content.replace('\'', ""),
            name
        )),
        Step::Answer => None,
    };
    let (item, usage) = match cmd {
        Some(cmd) => {
            let id = tool_id();
            let tools: Vec<String> = req["tools"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|x| x["name"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let (tool, args) = if tools.iter().any(|t| t == "exec_command") || tools.is_empty() {
                ("exec_command", json!({"cmd": cmd}))
            } else if tools.iter().any(|t| t == "shell_command") {
                ("shell_command", json!({"command": cmd}))
            } else {
                ("shell", json!({"command": ["bash", "-lc", cmd]}))
            };
            (
                json!({"type": "function_call", "id": format!("fc_{id}"), "call_id": format!("call_{id}"), "name": tool, "arguments": args.to_string(), "status": "completed"}),
                json!({"input_tokens": tool_in, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": script.tool_usage.1, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": tool_in + script.tool_usage.1}),
            )
        }
        None => {
            let text = answer_for(script, &turn);
            let (_, o, c) = script.final_usage;
            let i = final_in;
            (
                json!({"type": "message", "id": format!("msg_{}", tool_id()), "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}),
                json!({"input_tokens": i, "input_tokens_details": {"cached_tokens": c}, "output_tokens": o, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": i + o}),
            )
        }
    };
    let resp = format!("resp_{}", tool_id());
    sse(
        out,
        Some("response.created"),
        &json!({"type": "response.created", "response": {"id": resp, "status": "in_progress", "model": model}}),
    )?;
    sse(
        out,
        Some("response.output_item.done"),
        &json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
    )?;
    sse(
        out,
        Some("response.completed"),
        &json!({"type": "response.completed", "response": {"id": resp, "status": "completed", "model": model, "output": [item], "usage": usage}}),
    )
}

/// Anthropic Messages API: a Write tool call (absolute path under the working directory the
/// system prompt names) when a write is scripted, the answer after the tool result. Answers a
/// non-streaming request with plain JSON (claude retries that way after a failed stream).
fn messages(out: &mut TcpStream, script: &Script, req: &Value, body: &str) -> std::io::Result<()> {
    // The tools' results of this turn: messages after the prompt's (a continued session may
    // send the prompt in one message with the previous turn's tool result).
    let turn = current_turn(body);
    let outputs = serde_json::from_str::<Value>(&turn)
        .ok()
        .and_then(|t| t.as_array().cloned())
        .map(|t| {
            t.iter()
                .skip(1)
                .filter(|m| m["content"].to_string().contains("\"tool_result\""))
                .count()
        })
        .unwrap_or(0);
    // The working directory as the CLI states it in its system prompt (claude: "Primary working
    // directory", copilot: "Current working directory", claude --bare: "CWD").
    let system = req["system"].to_string();
    let cwd = [
        "Primary working directory: ",
        "Current working directory: ",
        "CWD: ",
    ]
    .iter()
    .find_map(|k| system.split(k).nth(1))
    .and_then(|r| r.split(['\\', '"']).next())
    .unwrap_or("")
    .trim()
    .to_string();
    let tools: Vec<String> = req["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|x| x["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let next = if tools.is_empty() {
        Step::Answer
    } else {
        step(script, body, &turn, outputs)
    };
    let shell = script.shell_writes && tools.iter().any(|t| t == "Bash");
    let call = match next {
        Step::Read(name) if tools.iter().any(|t| t == "Read") => {
            Some(("Read", json!({"file_path": format!("{cwd}/{name}")})))
        }
        Step::Read(name) => Some(("Bash", json!({"command": format!("cat '{name}'")}))),
        Step::Write(name, content) if !shell && tools.iter().any(|t| t == "Write") => Some((
            "Write",
            json!({"file_path": format!("{cwd}/{name}"), "content": content}),
        )),
        Step::Write(name, content) if !shell && tools.iter().any(|t| t == "create") => Some((
            "create",
            json!({"path": format!("{cwd}/{name}"), "file_text": content}),
        )),
        Step::Write(name, content) => Some((
            "Bash",
            json!({"command": format!("printf '%s' '{content}' > '{name}'")}),
        )),
        Step::Answer => None,
    };
    let (block, stop, (inp, outp, cached)) = match call {
        Some((tool, input)) => (
            json!({"type": "tool_use", "id": format!("toolu_{}", tool_id()), "name": tool, "input": input}),
            "tool_use",
            (
                input_tokens(script, body, script.tool_usage.0),
                script.tool_usage.1,
                0,
            ),
        ),
        None => (
            json!({"type": "text", "text": answer_for(script, &turn)}),
            "end_turn",
            (
                input_tokens(script, body, script.final_usage.0),
                script.final_usage.1,
                script.final_usage.2,
            ),
        ),
    };
    let model = req.get("model").cloned().unwrap_or(json!("mock"));
    // Claude joins the entries of one message id: each answer is a message of its own.
    let msg_id = format!("msg_{}", tool_id());
    if req.get("stream").and_then(|s| s.as_bool()) != Some(true) {
        return respond_json(
            out,
            200,
            &json!({"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [block], "stop_reason": stop, "usage": {"input_tokens": inp, "output_tokens": outp, "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}}),
        );
    }
    start_sse(out)?;
    sse(
        out,
        Some("message_start"),
        &json!({"type": "message_start", "message": {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": null, "usage": {"input_tokens": inp, "output_tokens": 1, "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}}}),
    )?;
    let start_block = if block["type"] == "tool_use" {
        json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}})
    } else {
        json!({"type": "text", "text": ""})
    };
    sse(
        out,
        Some("content_block_start"),
        &json!({"type": "content_block_start", "index": 0, "content_block": start_block}),
    )?;
    let delta = if block["type"] == "tool_use" {
        json!({"type": "input_json_delta", "partial_json": block["input"].to_string()})
    } else {
        json!({"type": "text_delta", "text": block["text"]})
    };
    sse(
        out,
        Some("content_block_delta"),
        &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
    )?;
    sse(
        out,
        Some("content_block_stop"),
        &json!({"type": "content_block_stop", "index": 0}),
    )?;
    sse(
        out,
        Some("message_delta"),
        &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": outp}}),
    )?;
    sse(out, Some("message_stop"), &json!({"type": "message_stop"}))
}

/// Gemini streamGenerateContent (SSE `data:` lines): a write_file call when a write is scripted,
/// the answer (in two chunks) once a functionResponse came back.
fn generate(out: &mut TcpStream, script: &Script, req: &Value, body: &str) -> std::io::Result<()> {
    let turn = current_turn(body);
    let outputs = turn.matches("\"functionResponse\"").count();
    let _ = req;
    start_sse(out)?;
    let call = match step(script, body, &turn, outputs) {
        Step::Read(name) => Some(json!({"name": "read_file", "args": {"file_path": name}})),
        Step::Write(name, content) => {
            Some(json!({"name": "write_file", "args": {"file_path": name, "content": content}}))
        }
        Step::Answer => None,
    };
    match call {
        Some(call) => sse(
            out,
            None,
            &json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": call}]}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": {"promptTokenCount": input_tokens(script, body, script.tool_usage.0), "candidatesTokenCount": script.tool_usage.1, "totalTokenCount": input_tokens(script, body, script.tool_usage.0) + script.tool_usage.1}}),
        ),
        None => {
            let text = answer_for(script, &turn);
            let cut = text
                .char_indices()
                .nth(2)
                .map(|(i, _)| i)
                .unwrap_or(text.len());
            let (_, o, c) = script.final_usage;
            let i = input_tokens(script, body, script.final_usage.0);
            sse(
                out,
                None,
                &json!({"candidates": [{"content": {"role": "model", "parts": [{"text": &text[..cut]}]}, "index": 0}]}),
            )?;
            sse(
                out,
                None,
                &json!({"candidates": [{"content": {"role": "model", "parts": [{"text": &text[cut..]}]}, "finishReason": "STOP", "index": 0}],
                        "usageMetadata": {"promptTokenCount": i, "candidatesTokenCount": o, "cachedContentTokenCount": c, "totalTokenCount": i + o}}),
            )
        }
    }
}
