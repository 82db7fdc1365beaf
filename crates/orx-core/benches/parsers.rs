//! Stream parser throughput: each agent format, 100 MB of generated events, parsed line by line
//! as orx does while an agent runs. Prints MB/s and the process's peak RSS; never fails.
//! Run: `cargo bench -p orx-core --bench parsers` (or `make bench`).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use orx_core::agent::cli::parser_for;
use orx_core::config::ExecutorKind;

/// Representative event lines per format, cycled to the target size.
fn lines(kind: ExecutorKind) -> Vec<String> {
    let text = "x".repeat(200);
    match kind {
        ExecutorKind::Codex => vec![
            format!(r#"{{"type":"item.completed","item":{{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'ls'","aggregated_output":"{text}","exit_code":0,"status":"completed"}}}}"#),
            format!(r#"{{"type":"item.completed","item":{{"id":"item_2","type":"agent_message","text":"{text}"}}}}"#),
            r#"{"type":"turn.completed","usage":{"input_tokens":223,"cached_input_tokens":20,"output_tokens":55,"reasoning_output_tokens":0}}"#.to_string(),
        ],
        ExecutorKind::Claude => vec![
            format!(r#"{{"type":"assistant","message":{{"id":"m","model":"claude","content":[{{"type":"tool_use","id":"t","name":"Write","input":{{"file_path":"/x/a","content":"{text}"}}}}],"usage":{{"input_tokens":100,"output_tokens":1}}}},"session_id":"s"}}"#),
            format!(r#"{{"type":"user","message":{{"role":"user","content":[{{"tool_use_id":"t","type":"tool_result","content":"{text}"}}]}}}}"#),
        ],
        ExecutorKind::Gemini => vec![
            format!(r#"{{"type":"message","timestamp":"2026-11-24T00:53:26.832Z","role":"assistant","content":"{text}","delta":true}}"#),
            r#"{"type":"tool_use","timestamp":"t","tool_name":"write_file","tool_id":"w1","parameters":{"file_path":"a","content":"b"}}"#.to_string(),
        ],
        ExecutorKind::Copilot => vec![
            format!(r#"{{"type":"assistant.message_delta","data":{{"messageId":"m","deltaContent":"{text}"}},"id":"e","timestamp":"t"}}"#),
            format!(r#"{{"type":"assistant.message","data":{{"messageId":"m","content":"{text}","toolRequests":[]}},"id":"e"}}"#),
        ],
        _ => vec![
            format!(r#"{{"type":"assistant","message":{{"role":"assistant","content":[{{"type":"text","text":"{text}"}}]}},"session_id":"s"}}"#),
            r#"{"type":"tool_call","subtype":"started","call_id":"c","tool_call":{"writeToolCall":{"args":{"path":"a"}}}}"#.to_string(),
        ],
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    const TARGET: usize = 100 * 1024 * 1024;
    println!(
        "stream parser throughput ({} MB of events per format, line by line)",
        TARGET >> 20
    );
    for kind in [
        ExecutorKind::Codex,
        ExecutorKind::Claude,
        ExecutorKind::Gemini,
        ExecutorKind::Copilot,
        ExecutorKind::Cursor,
    ] {
        let sample = lines(kind);
        let mut parser = parser_for(kind);
        let mut bytes = 0usize;
        let t0 = Instant::now();
        let mut i = 0;
        while bytes < TARGET {
            let l = &sample[i % sample.len()];
            parser.line(l);
            bytes += l.len() + 1;
            i += 1;
        }
        let p = parser.finish();
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{:<8} {:>8.1} MB/s  ({} lines in {:.2} s; {} tool calls; peak RSS {} MiB)",
            kind.name(),
            bytes as f64 / 1_048_576.0 / secs,
            i,
            secs,
            p.tool_calls,
            peak_rss_kib() / 1024
        );
    }
}
