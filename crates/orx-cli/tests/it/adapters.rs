//! Agent adapters driven through whole runs with stand-in CLIs on PATH (Cursor Agent cannot be
//! installed here: its stand-in replays recorded stream-json), and the error a missing CLI gives.

use std::os::unix::fs::PermissionsExt;

use orx_core::run::RunStatus;
use orx_testkit::{TestRepo, text};

use crate::orx;

/// A stand-in `cursor-agent` that answers each stage like the real CLI's stream-json and, in
/// apply mode, writes a file. It records its arguments.
const CURSOR: &str = r#"#!/bin/sh
prompt=$(cat)
printf '%s\n' "$*" >> "$ORX_STANDIN_LOG"
emit() { printf '%s\n' "$1"; }
emit '{"type":"system","subtype":"init","apiKeySource":"env","cwd":"'"$PWD"'","session_id":"sess-1","model":"m","permissionMode":"default"}'
case "$prompt" in
  *"decomposition agent"*) result='items:\n  - id: W001\n    title: Write cursor.txt\n    acceptance: [cursor.txt exists]\n' ;;
  *"implementation agent"*)
    emit '{"type":"tool_call","subtype":"started","call_id":"c1","tool_call":{"writeToolCall":{"args":{"path":"cursor.txt"}}}}'
    printf 'written by the stand-in\n' > cursor.txt
    emit '{"type":"tool_call","subtype":"completed","call_id":"c1","tool_call":{"writeToolCall":{"args":{"path":"cursor.txt"},"result":{"success":{}}}}}'
    result='Wrote cursor.txt.' ;;
  *"review agent"*) result='Fine.\n\nVERDICT: APPROVED' ;;
  *) result='A plan or a spec.' ;;
esac
if [ -n "$ECHO_KEY" ]; then emit '{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"my key is '"$CURSOR_API_KEY"'"}]}}'; fi
if [ -n "$FLOOD" ] && [ ! -e "$FLOOD.done" ]; then
  : > "$FLOOD.done"
  yes '{"type":"thinking","subtype":"delta","text":"flood flood flood flood flood flood flood"}' | head -c "$FLOOD_BYTES"
  printf '\n'
fi
if [ -n "$STANDIN_FAIL" ]; then echo "cursor: backend unavailable (503)" >&2; exit 1; fi
emit '{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"working"}]},"session_id":"sess-1"}'
emit '{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"result":"'"$result"'","session_id":"sess-1"}'
"#;

fn standin(repo: &TestRepo) -> std::path::PathBuf {
    let p = repo.aux_file("cursor-agent", CURSOR);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_whole_run_through_the_cursor_adapter() {
    let repo = TestRepo::new(&[("f", "x")]);
    let bin = standin(&repo);
    let log = repo.aux.path().join("args.log");
    repo.write(
        "orx.yaml",
        &format!(
            "engine:\n  type: cursor\n  model: cursor-small\nexecutors:\n  cursor:\n    bin: {}\n",
            bin.display()
        ),
    );
    let out = repo
        .orx(crate::bin())
        .env("ORX_STANDIN_LOG", &log)
        .args(["run", "Write the file"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
    assert_eq!(
        repo.git(&["show", &format!("orx/{id}:cursor.txt")]),
        "written by the stand-in\n"
    );
    // The command lines: read-only modes for text stages, --force for apply stages, the model.
    let args = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = args.lines().collect();
    assert!(
        lines[0].starts_with("-p --output-format stream-json --trust -m cursor-small --mode ask"),
        "{args}"
    );
    assert!(lines.iter().any(|l| l.contains("--force")), "{args}");
    let ev = repo.run_file(&id, "logs/agent_implement_W001_1.jsonl");
    assert!(ev.contains("writeToolCall"), "the raw stream is logged");
    let records = repo.run_file(&id, "metrics/stages.jsonl");
    assert!(
        records.contains("\"executor\":\"cursor\"")
            && records.contains("\"model\":\"cursor-small\""),
        "{records}"
    );
}

#[test]
fn a_cursor_failure_without_a_result_line_fails_the_stage_with_its_kind() {
    let repo = TestRepo::new(&[("f", "x")]);
    let bin = standin(&repo);
    let cfg = format!(
        "engine:\n  type: cursor\nexecutors:\n  cursor:\n    bin: {}\nrun:\n  retry: {{ max_attempts: 2, initial_delay: 0.05 }}\n",
        bin.display()
    );
    repo.write("orx.yaml", &cfg);
    let out = repo
        .orx(crate::bin())
        .env("ORX_STANDIN_LOG", repo.aux.path().join("args.log"))
        .env("STANDIN_FAIL", "1")
        .args(["run", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("overloaded") && err.contains("backend unavailable (503)"),
        "{err}"
    );
    // A transient kind is retried without using an attempt: two tries, one plan stage attempt.
    let id = repo.single_run();
    let events = repo.run_file(&id, "events.jsonl");
    assert!(events.contains("\"tries\":2"), "{events}");
}

#[test]
fn a_missing_agent_cli_chosen_with_engine_stops_the_run_before_it_starts() {
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write(
        "orx.yaml",
        "executors:\n  codex:\n    bin: orx-no-such-codex\n",
    );
    let out = orx(&repo, &["run", "--engine", "codex", "t"]);
    insta::assert_snapshot!(orx_testkit::human_stderr(&out, repo.path()), @"
    exit 2
    --- stderr
    error: the codex CLI (`orx-no-such-codex`) is not on PATH; stages routed to it: plan, spec, decompose, implement, fix, review, knowledge_update
      hint: install it: npm install -g @openai/codex (or set executors.codex.bin to its path)
      hint: or route those stages to an installed agent with --engine E or --stage ROLE=E (`orx doctor` lists what is installed); nothing was made
    ");
    assert!(!repo.path().join("runs").exists());
}

#[test]
fn doctor_reports_binaries_versions_auth_and_gates() {
    let repo = TestRepo::new(&[("f", "x")]);
    let mk = |name: &str, version: &str| {
        let p = repo.aux_file(name, &format!("#!/bin/sh\necho '{version}'\n"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let claude = mk("claude", "2.1.197 (Claude Code)");
    let codex = mk("codex", "codex-cli 0.100.0");
    let cfg = format!(
        "engine:\n  type: claude\nexecutors:\n  claude:\n    bin: {}\n  codex:\n    bin: {}\n  gemini:\n    bin: orx-no-such-gemini\nstages:\n  implement: {{ executor: codex }}\n  review: {{ executor: gemini }}\ngates:\n  - name: shell\n    command: sh\n  - name: lint\n    command: orx-no-such-linter\n  - name: unit\n    command: python3 -m unittest\n",
        claude.display(),
        codex.display()
    );
    repo.write("orx.yaml", &cfg);
    let home = tempfile::tempdir().unwrap();
    let out = repo
        .orx(crate::bin())
        .env("HOME", home.path())
        .env("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdef")
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY")
        .args(["doctor"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failing check exits 1: {}",
        text(&out)
    );
    let s = String::from_utf8_lossy(&out.stdout)
        .replace(&repo.aux.path().display().to_string(), "[AUX]")
        .replace(&repo.path().display().to_string(), "[REPO]");
    let s = regex::Regex::new(r"git \d+\.\d+\.\d+")
        .unwrap()
        .replace_all(&s, "git [VERSION]")
        .to_string();
    let s = regex::Regex::new(r"/\S+/sh\b")
        .unwrap()
        .replace_all(&s, "[SH]")
        .to_string();
    let s = regex::Regex::new(r"([^ \n]) {2,}")
        .unwrap()
        .replace_all(&s, "$1  ")
        .to_string();
    insta::assert_snapshot!("doctor", s);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("sk-ant-test"),
        "no key is printed"
    );
}

#[test]
fn doctor_warns_of_no_gates_and_of_the_placeholder_agent() {
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write("orx.yaml", "engine:\n  type: fake\n");
    let out = repo.orx(crate::bin()).args(["doctor"]).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let warnings: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("fake") || l.contains("gates") || l.trim_start().starts_with("fix"))
        .collect();
    insta::assert_snapshot!(warnings.join("\n"), @"
    warn  fake        stages plan, spec, decompose, implement, fix, review, knowledge_update go to the scripted placeholder agent, which changes nothing useful in a real project
    warn  gates       no gates: an item passes on the agent's word, nothing checks its change
      fake: set engine.type in orx.yaml to an agent CLI you have: codex, claude, gemini, copilot or cursor
      gates: add the project's test and lint commands to the `gates:` list of orx.yaml
    ");
    assert_eq!(out.status.code(), Some(0), "warnings only: {}", text(&out));
}

#[test]
fn mode_flags_can_be_replaced_in_orx_yaml() {
    let repo = TestRepo::new(&[("f", "x")]);
    let bin = standin(&repo);
    let log = repo.aux.path().join("args.log");
    repo.write(
        "orx.yaml",
        &format!("engine:\n  type: cursor\nexecutors:\n  cursor:\n    bin: {}\n    text_mode_args: [\"--mode\", \"plan\"]\n    apply_mode_args: [\"--yolo\", \"--sandbox\", \"disabled\"]\n", bin.display()),
    );
    let out = repo
        .orx(crate::bin())
        .env("ORX_STANDIN_LOG", &log)
        .args(["run", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let args = std::fs::read_to_string(&log).unwrap();
    assert!(
        args.lines().next().unwrap().contains("--mode plan"),
        "{args}"
    );
    assert!(
        args.contains("--yolo --sandbox disabled")
            && !args.contains("--force")
            && !args.contains("--mode ask"),
        "{args}"
    );
}

#[test]
fn an_api_key_the_agent_prints_is_masked_in_its_log() {
    let repo = TestRepo::new(&[("f", "x")]);
    let bin = standin(&repo);
    repo.write("orx.yaml", &format!("engine:\n  type: cursor\nexecutors:\n  cursor:\n    bin: {}\n    api_key: ${{ORX_TEST_CURSOR_KEY}}\n", bin.display()));
    let out = repo
        .orx(crate::bin())
        .env("ORX_STANDIN_LOG", repo.aux.path().join("args.log"))
        .env("ECHO_KEY", "1")
        .env("ORX_TEST_CURSOR_KEY", "crsr-0123456789abcdef")
        .args(["run", "--pipeline", "plan_only", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    let log = repo.run_file(&id, "logs/agent_plan.jsonl");
    assert!(
        log.contains("my key is ***") && !log.contains("crsr-0123456789abcdef"),
        "{log}"
    );
    let all = std::process::Command::new("grep")
        .args(["-r", "crsr-0123456789abcdef"])
        .arg(repo.run_dir(&id))
        .output()
        .unwrap();
    assert!(
        all.stdout.is_empty(),
        "the key is somewhere in the run folder: {}",
        String::from_utf8_lossy(&all.stdout)
    );
}

/// An agent that streams far past the log limit (70 MiB of events in its first call): its log
/// keeps the first 64 MiB, a note and its end, and the parser still reads the result line.
#[test]
fn an_agent_streaming_past_the_log_limit_keeps_a_bounded_log_and_its_result() {
    let repo = TestRepo::new(&[("f", "x")]);
    let bin = standin(&repo);
    repo.write(
        "orx.yaml",
        &format!(
            "engine:\n  type: cursor\nexecutors:\n  cursor:\n    bin: {}\n",
            bin.display()
        ),
    );
    let out = repo
        .orx(crate::bin())
        .env("ORX_STANDIN_LOG", repo.aux.path().join("args.log"))
        .env("FLOOD", repo.aux.path().join("flood"))
        .env("FLOOD_BYTES", (70u64 << 20).to_string())
        .args(["run", "--pipeline", "plan_only", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    let log = repo.run_dir(&id).join("logs/agent_plan.jsonl");
    let size = std::fs::metadata(&log).unwrap().len();
    let limit = orx_core::process::LOG_LIMIT;
    assert!(
        size > limit && size <= limit + orx_core::process::LOG_TAIL as u64 + 4096,
        "agent log of {size} bytes"
    );
    let text = std::fs::read(&log).unwrap();
    let whole = String::from_utf8_lossy(&text);
    assert!(
        whole
            .lines()
            .any(|l| l.starts_with("[orx: this log reached its limit of 64 MiB;")),
        "the note"
    );
    assert!(
        whole.trim_end().ends_with(r#""session_id":"sess-1"}"#),
        "the result line is kept at the end"
    );
    assert_eq!(
        repo.run_file(&id, "context/plan.md").trim(),
        "A plan or a spec."
    );
}
