use super::*;

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn all(kind: ExecutorKind, text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| of_line(kind, l))
        .map(|a| a.to_string())
        .collect()
}

#[test]
fn each_cli_stream_reads_as_what_the_agent_did() {
    assert_eq!(
        all(ExecutorKind::Codex, &fixture("codex_apply_patch.stdout")),
        [
            "writes $AGENTCLIS/repo_codex_apply_patch/hello.txt",
            "“DONE”"
        ]
    );
    assert_eq!(
        all(ExecutorKind::Claude, &fixture("claude_stream_json.stdout")),
        [
            "writes $AGENTCLIS/repo_claude_stream_json/hello.txt",
            "“DONE”"
        ]
    );
    assert_eq!(
        all(ExecutorKind::Gemini, &fixture("gemini_stream_json.stdout")),
        ["writes hello.txt", "“DO”", "“NE”"]
    );
    let copilot = all(ExecutorKind::Copilot, &fixture("copilot_json.stdout"));
    assert_eq!(
        copilot[0], "writes $AGENTCLIS/repo_copilot_json/hello.txt",
        "{copilot:?}"
    );
    let cursor = r#"{"type":"tool_call","subtype":"started","call_id":"c1","tool_call":{"writeToolCall":{"args":{"path":"cursor.txt"}}}}
{"type":"tool_call","subtype":"started","call_id":"c2","tool_call":{"shellToolCall":{"args":{"command":"pytest -q"}}}}
{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"All done.\nDetails follow."}]}}"#;
    assert_eq!(
        all(ExecutorKind::Cursor, cursor),
        ["writes cursor.txt", "runs `pytest -q`", "“All done.”"]
    );
}

#[test]
fn commands_tools_and_paths_in_a_worktree_read_short() {
    let codex = r#"{"type":"item.started","item":{"id":"i","type":"command_execution","command":"bash -lc 'pytest -q'","status":"in_progress"}}"#;
    assert_eq!(
        of_line(ExecutorKind::Codex, codex),
        Some(Activity::Runs("bash -lc 'pytest -q'".into()))
    );
    let claude = r#"{"type":"assistant","message":{"content":[{"type":"tool_use","name":"Read","input":{"file_path":"/home/u/p/.worktrees/20261130_111055_0fd03e6e/src/a.py"}}]}}"#;
    assert_eq!(
        of_line(ExecutorKind::Claude, claude).map(|a| a.to_string()),
        Some("Read src/a.py".into())
    );
    let long = format!(r#"{{"type":"message","text":"{}"}}"#, "x".repeat(500));
    let said = of_line(ExecutorKind::Fake, &long).unwrap().to_string();
    assert!(said.chars().count() < 210, "{said}");
    assert_eq!(of_line(ExecutorKind::Codex, "not json"), None);
    assert_eq!(
        of_line(ExecutorKind::Codex, r#"{"type":"turn.started"}"#),
        None
    );
    assert_eq!(
        of_any_line(r#"{"type":"tool","name":"write_file","path":"a.txt"}"#),
        Some(Activity::Writes("a.txt".into()))
    );
}
