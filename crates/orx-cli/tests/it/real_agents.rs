//! Contract tests: the real agent CLIs (installed from npm by .ci/run into target/agent-clis)
//! driven through orx's adapters against the mock model server on 127.0.0.1. Locally a missing
//! CLI skips with a message; in CI (CI=true) it is a failure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use orx_core::agent::cli::CliAgent;
use orx_core::agent::{Agent, AgentIo, AgentMode, AgentOutcome, AgentRequest, ErrorKind, Usage};
use orx_core::cancel::CancelToken;
use orx_core::config::ExecutorKind;
use orx_testkit::mock::{MockServer, Script};
use orx_testkit::{TestRepo, text};

fn cli(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("ORX_AGENT_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/agent-clis/node_modules/.bin")
        });
    let p = dir.join(name);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is required in CI (.ci/run installs it)",
        p.display()
    );
    eprintln!(
        "skipped: {} is not installed (bash .ci/run installs the agent CLIs)",
        p.display()
    );
    None
}

/// How to point one CLI at the mock.
struct Setup {
    kind: ExecutorKind,
    bin: PathBuf,
    env: Vec<(String, String)>,
    extra_args: Vec<String>,
    model: Option<String>,
    _home: tempfile::TempDir,
}

fn setup(kind: ExecutorKind, mock: &MockServer, mark: &str) -> Option<Setup> {
    let home = tempfile::Builder::new()
        .prefix("orx-cli-home-")
        .tempdir()
        .unwrap();
    let h = home.path().display().to_string();
    let url = mock.url().to_string();
    let mut env = vec![
        ("HOME".to_string(), h.clone()),
        ("TMPDIR".into(), h.clone()),
        ("ORX_TEST_MARK".into(), mark.to_string()),
    ];
    let (bin, extra_args, model) = match kind {
        ExecutorKind::Codex => {
            let codex_home = home.path().join("codex");
            std::fs::create_dir_all(&codex_home).unwrap();
            env.push(("CODEX_HOME".into(), codex_home.display().to_string()));
            env.push(("MOCK_API_KEY".into(), "dummy".into()));
            let c = |s: &str| ["-c".to_string(), s.to_string()];
            let mut a: Vec<String> = Vec::new();
            for kv in [
                "model_provider=mock".to_string(),
                "model_providers.mock.name=Mock".into(),
                format!("model_providers.mock.base_url={url}/v1"),
                "model_providers.mock.wire_api=responses".into(),
                "model_providers.mock.env_key=MOCK_API_KEY".into(),
                "model_providers.mock.request_max_retries=0".into(),
                "model_providers.mock.stream_max_retries=0".into(),
            ] {
                a.extend(c(&kv));
            }
            a.push("--ephemeral".into());
            (cli("codex")?, a, Some("mock-model".to_string()))
        }
        ExecutorKind::Claude => {
            env.extend([
                ("ANTHROPIC_BASE_URL".to_string(), url),
                ("ANTHROPIC_API_KEY".into(), "dummy".into()),
                ("CLAUDE_CONFIG_DIR".into(), format!("{h}/.claude")),
                ("DISABLE_TELEMETRY".into(), "1".into()),
                ("DISABLE_ERROR_REPORTING".into(), "1".into()),
            ]);
            (cli("claude")?, Vec::new(), None)
        }
        ExecutorKind::Gemini => {
            let settings = home.path().join(".gemini");
            std::fs::create_dir_all(&settings).unwrap();
            std::fs::write(
                settings.join("settings.json"),
                r#"{"security":{"auth":{"selectedType":"gemini-api-key"},"folderTrust":{"enabled":false}},"privacy":{"usageStatisticsEnabled":false},"telemetry":{"enabled":false},"general":{"enableAutoUpdate":false,"enableAutoUpdateNotification":false}}"#,
            )
            .unwrap();
            env.extend([
                ("GOOGLE_GEMINI_BASE_URL".to_string(), url),
                ("GEMINI_API_KEY".into(), "dummy".into()),
            ]);
            (
                cli("gemini")?,
                Vec::new(),
                Some("gemini-2.5-pro".to_string()),
            )
        }
        ExecutorKind::Copilot => {
            env.extend([
                ("COPILOT_PROVIDER_BASE_URL".to_string(), url),
                ("COPILOT_PROVIDER_TYPE".into(), "anthropic".into()),
                ("COPILOT_PROVIDER_API_KEY".into(), "dummy".into()),
                ("COPILOT_MODEL".into(), "claude-sonnet-4.5".into()),
                ("COPILOT_OFFLINE".into(), "true".into()),
                ("COPILOT_AUTO_UPDATE".into(), "false".into()),
                ("COPILOT_HOME".into(), format!("{h}/.copilot")),
            ]);
            (cli("copilot")?, Vec::new(), None)
        }
        _ => return None,
    };
    Some(Setup {
        kind,
        bin,
        env,
        extra_args,
        model,
        _home: home,
    })
}

fn request(
    role: &str,
    mode: AgentMode,
    prompt: &str,
    model: Option<String>,
    timeout: Duration,
    cwd: &Path,
) -> AgentRequest {
    AgentRequest {
        role: role.into(),
        item: None,
        attempt: 1,
        mode,
        prompt: prompt.into(),
        model,
        reasoning_effort: None,
        timeout,
        cwd: cwd.to_path_buf(),
        task: prompt.into(),
        resume: None,
    }
}

fn agent(s: &Setup) -> CliAgent {
    CliAgent {
        kind: s.kind,
        bin: s.bin.display().to_string(),
        extra_args: s.extra_args.clone(),
        env: s.env.clone(),
        api_key: None,
        text_mode_args: None,
        apply_mode_args: None,
    }
}

fn call(
    s: &Setup,
    repo: &TestRepo,
    mode: AgentMode,
    prompt: &str,
    timeout: Duration,
) -> AgentOutcome {
    call_seen(s, repo, mode, prompt, timeout).0
}

/// [`call`], with what the agent was seen doing as it worked (the progress line's feed).
fn call_seen(
    s: &Setup,
    repo: &TestRepo,
    mode: AgentMode,
    prompt: &str,
    timeout: Duration,
) -> (AgentOutcome, Vec<String>) {
    let logs = tempfile::tempdir().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let feed = seen.clone();
    let io = AgentIo {
        stdout_log: logs.path().join("out.jsonl"),
        stderr_log: logs.path().join("err.log"),
        cancel: CancelToken::new(),
        redactor: Default::default(),
        ledger: None,
        activity: Some(orx_core::agent::ActivitySink(std::sync::Arc::new(
            move |a| {
                feed.lock().unwrap().push(a.to_string());
            },
        ))),
        meter: None,
    };
    let req = request(
        "implement",
        mode,
        prompt,
        s.model.clone(),
        timeout,
        repo.path(),
    );
    let out = agent(s).run(&req, &io).unwrap();
    if out.error.is_some() {
        eprintln!(
            "stderr of {}:\n{}",
            s.kind,
            std::fs::read_to_string(&io.stderr_log).unwrap_or_default()
        );
    }
    let seen = seen.lock().unwrap().clone();
    (out, seen)
}

/// True while any process carries `mark` in its environment.
fn marked_alive(mark: &str) -> bool {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return false;
    };
    rd.flatten().any(|e| {
        let p = e.path();
        let alive = std::fs::read_to_string(p.join("stat"))
            .map(|s| {
                !s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(false);
        alive
            && std::fs::read(p.join("environ"))
                .is_ok_and(|env| env.windows(mark.len()).any(|w| w == mark.as_bytes()))
    })
}

fn script() -> Script {
    Script {
        default_answer: "DONE".into(),
        writes: vec![("Create hello.txt".into(), "hello.txt".into(), "hi".into())],
        tool_usage: (100, 10),
        final_usage: (123, 45, 20),
        ..Default::default()
    }
}

/// The contract every adapter keeps with its real CLI.
fn contract(kind: ExecutorKind, expected_text_usage: Usage, expected_apply_usage: Usage) {
    let mark = format!("orx-mark-{}", orx_core::run::new_run_id());
    let repo = TestRepo::new(&[("README.md", "x\n")]);

    // A text answer.
    let mock = MockServer::start(script());
    let Some(s) = setup(kind, &mock, &mark) else {
        return;
    };
    let out = call(
        &s,
        &repo,
        AgentMode::Text,
        "Say DONE",
        Duration::from_secs(120),
    );
    assert!(out.error.is_none(), "{kind}: {:?}", out.error);
    assert_eq!(out.text.trim(), "DONE", "{kind}");
    assert_eq!(out.usage, expected_text_usage, "{kind}: text usage");

    // A file written in apply mode, seen as it is written.
    let (out, seen) = call_seen(
        &s,
        &repo,
        AgentMode::Apply,
        "Create hello.txt containing hi",
        Duration::from_secs(120),
    );
    assert!(out.error.is_none(), "{kind}: {:?}", out.error);
    assert!(
        // codex writes it with a shell command, the others with their file tools.
        seen.iter()
            .any(|a| (a.starts_with("writes") || a.starts_with("runs")) && a.contains("hello.txt")),
        "{kind}: the activity feed: {seen:?}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("hello.txt"))
            .unwrap_or_default()
            .trim(),
        "hi",
        "{kind}: the file"
    );
    assert!(out.tool_calls >= 1, "{kind}: {out:?}");
    assert_eq!(out.usage, expected_apply_usage, "{kind}: apply usage");
    drop(mock);

    // A 400 is a failure with its kind.
    let mock = MockServer::start(Script {
        fail_first: vec![400; 20],
        ..script()
    });
    let s = setup(kind, &mock, &mark).unwrap();
    let out = call(
        &s,
        &repo,
        AgentMode::Text,
        "Say DONE",
        Duration::from_secs(120),
    );
    assert_eq!(
        out.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::BadRequest),
        "{kind}: {out:?}"
    );
    drop(mock);

    // A 429, then a 200: retried (by the CLI itself or by orx's router) and successful.
    let mock = MockServer::start(Script {
        fail_first: vec![429],
        ..script()
    });
    let s = setup(kind, &mock, &mark).unwrap();
    let config = orx_core::config::load_str(
        &orx_yaml(
            &s,
            "run:\n  retry: { max_attempts: 3, initial_delay: 0.1 }\n",
        ),
        "orx.yaml",
        std::env::vars().collect(),
    )
    .unwrap()
    .config;
    let routing =
        orx_core::config::resolve_routing(&config, &orx_core::config::Overrides::default());
    let router = orx_core::agent::Router::new(&config, routing, repo.path()).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let io = AgentIo {
        stdout_log: logs.path().join("o.jsonl"),
        stderr_log: logs.path().join("e.log"),
        cancel: CancelToken::new(),
        redactor: Default::default(),
        ledger: None,
        activity: None,
        meter: None,
    };
    let req = request(
        "plan",
        AgentMode::Text,
        "Say DONE",
        None,
        Duration::from_secs(120),
        repo.path(),
    );
    let routed = router.call(req, &io).unwrap();
    assert!(
        routed.outcome.error.is_none(),
        "{kind}: {:?}",
        routed.outcome.error
    );
    assert_eq!(routed.outcome.text.trim(), "DONE", "{kind}");
    let model_calls = mock
        .seen()
        .iter()
        .filter(|r| {
            r.path.starts_with("POST")
                && !r.path.contains(":generateContent")
                && !r.path.contains(":countTokens")
        })
        .count();
    assert!(
        model_calls >= 2,
        "{kind}: the 429 was answered and retried ({model_calls} model calls)"
    );
    drop(mock);

    // A stalled model is killed at the timeout, with nothing left running.
    let mock = MockServer::start(Script {
        stall: true,
        ..script()
    });
    let s = setup(kind, &mock, &mark).unwrap();
    let t0 = std::time::Instant::now();
    let out = call(
        &s,
        &repo,
        AgentMode::Text,
        "Say DONE",
        Duration::from_secs(4),
    );
    assert_eq!(
        out.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Timeout),
        "{kind}: {out:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
    let t1 = std::time::Instant::now();
    while marked_alive(&mark) {
        assert!(
            t1.elapsed() < Duration::from_secs(10),
            "{kind}: a process of the agent survived the timeout"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(mock);
}

fn usage(input: u64, cached_input: u64, output: u64) -> Usage {
    Usage {
        input,
        cached_input,
        output,
        reasoning: 0,
    }
}

#[test]
fn codex_contract() {
    contract(ExecutorKind::Codex, usage(123, 20, 45), usage(223, 20, 55));
}

#[test]
fn claude_contract() {
    contract(ExecutorKind::Claude, usage(143, 20, 45), usage(243, 20, 55));
}

#[test]
fn gemini_contract() {
    contract(ExecutorKind::Gemini, usage(123, 20, 45), usage(223, 20, 55));
}

#[test]
fn copilot_contract() {
    contract(
        ExecutorKind::Copilot,
        usage(143, 20, 45),
        usage(243, 20, 55),
    );
}

#[test]
fn codex_429_then_200_is_retried_by_orx() {
    let mark = format!("orx-mark-{}", orx_core::run::new_run_id());
    let answers = vec![(
        "decomposition agent of orx".to_string(),
        "items:\n  - id: W001\n    title: A\n    acceptance: [x]\n".to_string(),
    )];
    let mock = MockServer::start(Script {
        fail_first: vec![429],
        answers,
        ..script()
    });
    let Some(s) = setup(ExecutorKind::Codex, &mock, &mark) else {
        return;
    };
    let repo = TestRepo::new(&[("README.md", "x\n")]);
    let yaml = orx_yaml(
        &s,
        "run:\n  retry: { max_attempts: 3, initial_delay: 0.1 }\n",
    );
    repo.write("orx.yaml", &yaml);
    let out = repo
        .orx(crate::bin())
        .args(["run", "--pipeline", "plan_only", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    let events = repo.run_file(&id, "events.jsonl");
    assert!(events.contains("\"tries\":2"), "{events}");
    assert!(
        events.contains("rate_limited") || mock.seen().len() >= 4,
        "the first call was a 429: {events}"
    );
}

/// orx.yaml routing every stage to the CLI of `s` against the mock.
fn orx_yaml(s: &Setup, extra: &str) -> String {
    let env: Vec<String> = s
        .env
        .iter()
        .map(|(k, v)| format!("      {k}: \"{v}\""))
        .collect();
    let args: Vec<String> = s.extra_args.iter().map(|a| format!("\"{a}\"")).collect();
    let model = s
        .model
        .as_ref()
        .map(|m| format!("    default: {{ model: {m} }}\n"))
        .unwrap_or_default();
    format!(
        "engine:\n  type: {kind}\n  timeout: 120\nexecutors:\n  {kind}:\n    bin: {bin}\n{model}    extra_args: [{args}]\n    env:\n{env}\n{extra}",
        kind = s.kind,
        bin = s.bin.display(),
        args = args.join(", "),
        env = env.join("\n"),
    )
}

/// The mock's script for a one-item run that writes greeting.txt: a backlog for the
/// decomposition, an approval for the review, a write for the implementation.
fn greeting_script() -> Script {
    let backlog = "items:\n  - id: W001\n    title: Write the greeting\n    acceptance: [greeting.txt says hello]\n";
    Script {
        answers: vec![
            (
                "decomposition agent of orx".into(),
                format!("```yaml\n{backlog}```"),
            ),
            (
                "review agent of orx".into(),
                "The greeting is there.\n\nVERDICT: APPROVED".into(),
            ),
        ],
        default_answer: "A short plan.".into(),
        writes: vec![(
            "implementation agent of orx".into(),
            "greeting.txt".into(),
            "hello".into(),
        )],
        tool_usage: (100, 10),
        final_usage: (123, 45, 20),
        ..Default::default()
    }
}

fn whole_run(kind: ExecutorKind) {
    let mock = MockServer::start(greeting_script());
    let mark = format!("orx-mark-{}", orx_core::run::new_run_id());
    let Some(mut s) = setup(kind, &mock, &mark) else {
        return;
    };
    if kind == ExecutorKind::Codex {
        // Flags orx passes itself, as configs copied from codex's docs list them: passed once.
        s.extra_args
            .extend(["--skip-git-repo-check".to_string(), "--json".to_string()]);
    }
    let repo = TestRepo::new(&[("README.md", "x\n")]);
    let gates = "gates:\n  - name: greeting\n    command: sh\n    args: [\"-c\", \"grep -q hello greeting.txt\"]\nknowledge:\n  mode: off\n";
    repo.write("orx.yaml", &orx_yaml(&s, gates));
    let out = repo
        .orx(crate::bin())
        .args(["run", "Write a greeting"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{kind}: {}", text(&out));
    let id = repo.single_run();
    assert_eq!(
        repo.git(&["show", &format!("orx/{id}:greeting.txt")])
            .trim(),
        "hello"
    );
    let run: serde_json::Value =
        serde_json::from_str(&repo.run_file(&id, "metrics/run.json")).unwrap();
    assert!(run["tokens"]["input"].as_u64().unwrap() > 0, "{run}");
    assert!(
        repo.run_file(&id, "logs/agent_implement_W001_1.jsonl")
            .lines()
            .count()
            > 1
    );
}

#[test]
fn a_whole_run_with_codex_for_every_stage() {
    whole_run(ExecutorKind::Codex);
}

#[test]
fn a_whole_run_with_claude_for_every_stage() {
    whole_run(ExecutorKind::Claude);
}

#[test]
fn gemini_reasoning_effort_reaches_the_model_without_touching_the_users_settings() {
    let mark = format!("orx-mark-{}", orx_core::run::new_run_id());
    let mock = MockServer::start(script());
    let Some(s) = setup(ExecutorKind::Gemini, &mock, &mark) else {
        return;
    };
    let home = s
        .env
        .iter()
        .find(|(k, _)| k == "HOME")
        .map(|(_, v)| PathBuf::from(v))
        .unwrap();
    let user_settings = std::fs::read_to_string(home.join(".gemini/settings.json")).unwrap();
    let repo = TestRepo::new(&[("README.md", "x\n")]);
    let logs = tempfile::tempdir().unwrap();
    let io = AgentIo {
        stdout_log: logs.path().join("o.jsonl"),
        stderr_log: logs.path().join("e.log"),
        cancel: CancelToken::new(),
        redactor: Default::default(),
        ledger: None,
        activity: None,
        meter: None,
    };
    let mut req = request(
        "plan",
        AgentMode::Text,
        "Say DONE",
        s.model.clone(),
        Duration::from_secs(120),
        repo.path(),
    );
    req.reasoning_effort = Some("low".into());
    let out = agent(&s).run(&req, &io).unwrap();
    assert!(out.error.is_none(), "{:?}", out.error);
    let budgets: Vec<String> = mock
        .seen()
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
        .map(|v| v["generationConfig"]["thinkingConfig"].to_string())
        .collect();
    assert!(
        budgets
            .iter()
            .any(|b| b.contains("\"thinkingBudget\":1024")),
        "{budgets:?}"
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".gemini/settings.json")).unwrap(),
        user_settings
    );
}

/// What a fix attempt sent, as the mock saw it and as orx accounted it.
#[derive(Debug)]
struct FixFigures {
    /// Model requests of the fix call.
    requests: usize,
    /// Their bytes.
    bytes: usize,
    /// The fix call's input tokens (the mock counts a token per four bytes).
    input_tokens: u64,
    /// The prompt orx gave the CLI.
    prompt_bytes: usize,
    /// The run's input tokens.
    run_input_tokens: u64,
}

/// A run whose item fails its gate once and is fixed, with `run.reuse_sessions: reuse`, driven
/// through the real CLI of `kind` against the mock (sessions kept: no `--ephemeral`).
fn fix_with_sessions(kind: ExecutorKind, reuse: bool) -> Option<FixFigures> {
    fix_with(kind, reuse, false)
}

/// [`fix_with_sessions`]; `lost`: the CLI keeps no session (codex `--ephemeral`), so the fix
/// falls back to a fresh call.
fn fix_with(kind: ExecutorKind, reuse: bool, lost: bool) -> Option<FixFigures> {
    let mock = MockServer::start(Script {
        writes: vec![
            (
                "implementation agent of orx".into(),
                "greeting.txt".into(),
                "helo".into(),
            ),
            (
                "did not pass verification".into(),
                "greeting.txt".into(),
                "hello".into(),
            ),
        ],
        tool_usage: (0, 10),
        final_usage: (0, 20, 0),
        usage_from_size: true,
        shell_writes: true,
        // Both calls follow STYLE.txt: a session reads it unless its earlier turns hold it.
        reads: vec![
            ("implementation agent of orx".into(), "STYLE.txt".into()),
            ("did not pass verification".into(), "STYLE.txt".into()),
        ],
        ..greeting_script()
    });
    let mark = format!("orx-mark-{}", orx_core::run::new_run_id());
    let mut s = setup(kind, &mock, &mark)?;
    if !lost {
        s.extra_args.retain(|a| a != "--ephemeral");
    }
    let repo = TestRepo::new(&[
        ("README.md", "x\n"),
        ("STYLE.txt", "A greeting is one word, in lower case.\n"),
    ]);
    let config = format!(
        "gates:\n  - name: greeting\n    command: sh\n    args: [\"-c\", \"grep -qx hello greeting.txt\"]\n    baseline: ignore\nknowledge:\n  mode: off\nrun:\n  reuse_sessions: {reuse}\n"
    );
    repo.write("orx.yaml", &orx_yaml(&s, &config));
    let out = repo
        .orx(crate::bin())
        .args(["run", "Write a greeting"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{kind}: {}", text(&out));
    let id = repo.single_run();
    let fix: Vec<_> = mock
        .seen()
        .into_iter()
        .filter(|r| {
            let turn = orx_testkit::mock::current_turn(&r.body);
            turn.contains("did not pass verification") || turn.contains("fix agent of orx")
        })
        .collect();
    assert!(!fix.is_empty(), "{kind}: no fix request reached the mock");
    // Continued, the fix's requests carry the implement call's turns; afresh, they do not.
    let history = fix
        .iter()
        .all(|r| r.body.contains("implementation agent of orx"));
    assert_eq!(
        history,
        reuse && !lost,
        "{kind}: the fix requests and the earlier turns"
    );
    // Afresh, the model read STYLE.txt again through the CLI (its content reached the next
    // request); continued, its session held it already.
    let style = "one word, in lower case";
    assert!(!fix[0].body.contains(style) || history, "{kind}");
    assert!(
        fix.iter().any(|r| r.body.contains(style)),
        "{kind}: no fix request held STYLE.txt"
    );
    let events = repo.run_file(&id, "events.jsonl");
    assert_eq!(
        events.contains("could not continue the"),
        lost,
        "{kind}: the session continued, or the fallback said so: {events}"
    );
    let fix_tokens = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["kind"] == "agent.finished" && e["stage"] == "fix")
        .map(|e| e["data"]["tokens"]["input"].as_u64().unwrap_or(0))
        .sum();
    // The mock counts a token per four bytes of each request: the fix call's usage is its own
    // requests' (codex reports a continued thread's usage from its start; orx takes off what
    // came before).
    let bytes: usize = fix.iter().map(|r| r.body.len()).sum();
    let (least, most) = ((bytes / 4) as u64, (bytes / 4 + fix.len()) as u64);
    assert!(
        (least..=most).contains(&fix_tokens),
        "{kind}: fix input tokens {fix_tokens}, requests of {bytes} bytes"
    );
    let run: serde_json::Value =
        serde_json::from_str(&repo.run_file(&id, "metrics/run.json")).unwrap();
    Some(FixFigures {
        requests: fix.len(),
        bytes,
        input_tokens: fix_tokens,
        prompt_bytes: repo.run_file(&id, "prompts/fix_W001_2.md").len(),
        run_input_tokens: run["tokens"]["input"].as_u64().unwrap_or(0),
    })
}

/// SPEC §16 session reuse, with the real CLI: the fix continues the implement call's session
/// (its requests carry the earlier turns) with a shorter prompt; the figures of both ways go to
/// BENCHMARKS.md (`scripts/bench.sh sessions`).
fn session_reuse(kind: ExecutorKind) {
    let Some(reused) = fix_with_sessions(kind, true) else {
        return;
    };
    let fresh = fix_with_sessions(kind, false).unwrap();
    println!(
        "session reuse {kind}: fix attempt continued: {} requests, {} bytes, {} input tokens, \
         prompt {} bytes, run {} input tokens; afresh: {} requests, {} bytes, {} input tokens, \
         prompt {} bytes, run {} input tokens",
        reused.requests,
        reused.bytes,
        reused.input_tokens,
        reused.prompt_bytes,
        reused.run_input_tokens,
        fresh.requests,
        fresh.bytes,
        fresh.input_tokens,
        fresh.prompt_bytes,
        fresh.run_input_tokens
    );
    assert!(
        reused.prompt_bytes < fresh.prompt_bytes,
        "{kind}: {reused:?} vs {fresh:?}"
    );
    // Continued, the fix needs no read of the file its session wrote: one model request fewer,
    // fewer bytes, and fewer input tokens for the whole run.
    assert_eq!(
        reused.requests + 1,
        fresh.requests,
        "{kind}: {reused:?} vs {fresh:?}"
    );
    assert!(
        reused.bytes < fresh.bytes,
        "{kind}: {reused:?} vs {fresh:?}"
    );
    assert!(
        reused.run_input_tokens < fresh.run_input_tokens,
        "{kind}: {reused:?} vs {fresh:?}"
    );
}

#[test]
fn a_fix_continues_the_codex_session() {
    session_reuse(ExecutorKind::Codex);
}

#[test]
fn a_fix_continues_the_claude_session() {
    session_reuse(ExecutorKind::Claude);
}

/// A session the CLI did not keep (codex `--ephemeral`): the fix falls back to a fresh call
/// with the full prompt, said in the events, and the item passes.
#[test]
fn a_codex_session_that_was_not_kept_falls_back_to_a_fresh_fix() {
    fix_with(ExecutorKind::Codex, true, true);
}

#[test]
fn a_fix_continues_the_gemini_session() {
    session_reuse(ExecutorKind::Gemini);
}

/// SPEC §16 budgets with the real CLI: the run pauses at its token budget (what the CLI
/// reported), exits holding nothing, and `orx approve --add-tokens` finishes it. With `hard`, the
/// implement call is stopped in flight once the run's tokens reach the limit: claude shows its
/// usage with each message; codex, gemini and copilot in their session files, which orx reads
/// as they grow (the model then takes its time over the answer, which the stop does not wait for).
fn budget_pauses_and_approve_finishes(kind: ExecutorKind, hard: bool) {
    let mock = MockServer::start(Script {
        answer_delay: if hard {
            Duration::from_secs(6)
        } else {
            Duration::ZERO
        },
        ..greeting_script()
    });
    let mark = format!("orx-mark-{}", orx_core::run::new_run_id());
    let Some(mut s) = setup(kind, &mock, &mark) else {
        return;
    };
    // Codex keeps its rollout (the usage of each response) unless it is ephemeral.
    s.extra_args.retain(|a| a != "--ephemeral");
    let repo = TestRepo::new(&[("README.md", "x\n")]);
    // Each text call reports about 170 tokens (claude 188): after the plan and the spec, the
    // decomposition waits; with `hard`, plan, spec and decompose use 564 and the implement
    // call's first message shows 101 more.
    let config = if hard {
        "knowledge:\n  mode: off\nbudget:\n  run_tokens: 600\n  hard: true\n"
    } else {
        "knowledge:\n  mode: off\nbudget:\n  run_tokens: 300\n"
    };
    repo.write("orx.yaml", &orx_yaml(&s, config));
    let out = repo
        .orx(crate::bin())
        .args(["run", "Write a greeting"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{kind}: {}", text(&out));
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(
        st.waiting,
        Some(orx_core::protocol::WaitReason::Budget),
        "{kind}: {st:?}"
    );
    let limit = if hard { 600 } else { 300 };
    assert!(
        st.waiting_for
            .as_deref()
            .unwrap_or("")
            .contains(&format!(" tokens of {limit} (budget.run_tokens)")),
        "{kind}: {st:?}"
    );
    let events = repo.run_file(&id, "events.jsonl");
    if hard {
        assert!(
            events.contains("implement: the agent call was stopped at the limit (budget.hard)"),
            "{kind}: {events}"
        );
        // The stopped call's tokens, from its messages, are counted.
        let spent = orx_core::budget::run_spend(&repo.run_dir(&id).join("events.jsonl"));
        assert!(spent.tokens >= 600, "{spent:?}");
    } else {
        assert!(!repo.run_dir(&id).join("prompts/decompose.md").exists());
    }
    let out = repo
        .orx(crate::bin())
        .args(["approve", &id, "--add-tokens", "100000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{kind}: {}", text(&out));
    assert_eq!(
        repo.git(&["show", &format!("orx/{id}:greeting.txt")])
            .trim(),
        "hello"
    );
}

#[test]
fn a_codex_run_pauses_at_its_budget_and_approve_finishes_it() {
    budget_pauses_and_approve_finishes(ExecutorKind::Codex, false);
}

#[test]
fn a_claude_run_pauses_at_its_budget_and_approve_finishes_it() {
    budget_pauses_and_approve_finishes(ExecutorKind::Claude, false);
}

#[test]
fn a_hard_budget_stops_a_claude_call_at_its_first_message() {
    budget_pauses_and_approve_finishes(ExecutorKind::Claude, true);
}

#[test]
fn a_hard_budget_stops_a_codex_call_from_its_rollout() {
    budget_pauses_and_approve_finishes(ExecutorKind::Codex, true);
}

#[test]
fn a_hard_budget_stops_a_gemini_call_from_its_chat_record() {
    budget_pauses_and_approve_finishes(ExecutorKind::Gemini, true);
}

#[test]
fn a_hard_budget_stops_a_copilot_call_from_its_session_events() {
    budget_pauses_and_approve_finishes(ExecutorKind::Copilot, true);
}
