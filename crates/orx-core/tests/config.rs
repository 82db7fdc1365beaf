//! Config loading: the seed README example loads unchanged; broken configs give precise messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use orx_core::config::{ExecutorKind, Overrides, StageOverride, load_str, resolve_routing};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_seed_readme_example_loads_unchanged() {
    let text = include_str!("fixtures/seed-readme-orx.yaml");
    let loaded = load_str(
        text,
        "orx.yaml",
        env(&[("CURSOR_API_KEY", "cur-secret-123")]),
    )
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.engine.kind, ExecutorKind::Codex);
    assert_eq!(c.engine.timeout.get(), 600);
    assert_eq!(
        c.executors
            .cursor
            .as_ref()
            .unwrap()
            .api_key
            .as_ref()
            .unwrap()
            .as_str(),
        "cur-secret-123"
    );
    assert_eq!(c.gates.len(), 2);
    assert_eq!(c.gates[1].args[0].as_str(), "-q");
    assert_eq!(c.gates[0].timeout.get(), 600, "gate timeout default");
    assert_eq!(c.guardrails.forbidden_patterns, ["*.env", "*secrets*"]);
    assert_eq!(c.run.max_fix_attempts.get(), 3);
    assert!(!c.git.auto_push && c.git.pr_draft);
    assert!(
        loaded.secrets.contains(&"cur-secret-123".to_string()),
        "api keys are known secrets"
    );

    let routing = resolve_routing(c, &Overrides::default());
    let r = |s: &str| {
        let r = routing.get(s).unwrap();
        (r.executor, r.model.clone(), r.reasoning_effort.clone())
    };
    assert_eq!(
        r("plan"),
        (ExecutorKind::Gemini, Some("gemini-2.0-flash".into()), None)
    );
    assert_eq!(
        r("implement"),
        (ExecutorKind::Cursor, Some("grok".into()), None)
    );
    assert_eq!(
        r("fix"),
        (
            ExecutorKind::Codex,
            Some("gpt-4.1".into()),
            Some("high".into())
        )
    );
    assert_eq!(
        r("review"),
        (
            ExecutorKind::Codex,
            Some("gpt-4.1".into()),
            Some("high".into())
        )
    );
    let over = resolve_routing(
        c,
        &Overrides {
            engine: Some(ExecutorKind::Fake),
            model: None,
            stages: Default::default(),
        },
    );
    assert!(
        over.routes
            .iter()
            .all(|r| r.executor == ExecutorKind::Fake && r.model.is_none())
    );
    // --stage wins over --engine for its role, and the stage's own model does not leak across
    // executors.
    let (role, forced) = StageOverride::parse("review=claude:opus-x").unwrap();
    let over = resolve_routing(
        c,
        &Overrides {
            engine: Some(ExecutorKind::Fake),
            model: None,
            stages: [(role, forced)].into_iter().collect(),
        },
    );
    let review = over.get("review").unwrap();
    assert_eq!(review.executor, ExecutorKind::Claude);
    assert_eq!(review.model.as_deref(), Some("opus-x"));
    assert_eq!(over.get("plan").unwrap().executor, ExecutorKind::Fake);
    assert!(
        StageOverride::parse("nope=fake")
            .unwrap_err()
            .to_string()
            .contains("not a role")
    );
    assert!(
        StageOverride::parse("plan=zzz")
            .unwrap_err()
            .to_string()
            .contains("unknown engine")
    );
    assert!(StageOverride::parse("plan").is_err());
}

#[test]
fn an_empty_file_is_the_defaults() {
    let c = load_str("", "orx.yaml", env(&[])).unwrap().config;
    assert_eq!(c.engine.kind, ExecutorKind::Fake);
    assert_eq!(c.run.max_review_loops.get(), 2);
    assert_eq!(c.dashboard.port.get(), 8421);
    let c = load_str("# only a comment\n", "orx.yaml", env(&[]))
        .unwrap()
        .config;
    assert!(c.gates.is_empty());
}

#[test]
fn interpolation_in_string_values() {
    let text = "engine:\n  model: ${MODEL:-gpt-4.1}\ngates:\n  - name: t\n    command: ${PY}\n    args: [\"${ARG}\", \"$$literal\"]\n";
    let c = load_str(text, "orx.yaml", env(&[("PY", "python3"), ("ARG", "-q")]))
        .unwrap()
        .config;
    assert_eq!(c.engine.model.unwrap().as_str(), "gpt-4.1");
    assert_eq!(c.gates[0].command.as_str(), "python3");
    assert_eq!(
        c.gates[0]
            .args
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["-q", "$literal"]
    );
    // An env value is data, never YAML.
    let c = load_str(
        "engine:\n  model: ${M}\n",
        "orx.yaml",
        env(&[("M", "x\ntimeout: 1")]),
    )
    .unwrap()
    .config;
    assert_eq!(c.engine.model.unwrap().as_str(), "x\ntimeout: 1");
    assert_eq!(c.engine.timeout.get(), 600);
    let l = load_str(
        "executors:\n  codex:\n    env:\n      TOKEN: ${GH_TOKEN}\n",
        "orx.yaml",
        env(&[("GH_TOKEN", "ghp-value-1")]),
    )
    .unwrap();
    assert_eq!(l.secrets, ["ghp-value-1"]);
}

#[test]
fn broken_configs_give_precise_messages() {
    let cases: &[(&str, &str)] = &[
        ("unknown top-level key", "engin:\n  type: codex\n"),
        (
            "unknown nested key",
            "engine:\n  type: codex\n  timout: 30\n",
        ),
        ("unknown engine", "engine:\n  type: codx\n"),
        ("wrong type", "run:\n  max_fix_attempts: many\n"),
        ("out of range", "run:\n  max_fix_attempts: 50\n"),
        ("zero timeout", "engine:\n  timeout: 0\n"),
        (
            "negative number",
            "gates:\n  - name: t\n    command: x\n    timeout: -5\n",
        ),
        ("list expected", "gates:\n  name: ruff\n"),
        (
            "missing gate command",
            "gates:\n  - name: ruff\n    args: [check]\n",
        ),
        (
            "duplicate gate names",
            "gates:\n  - name: t\n    command: a\n  - name: t\n    command: b\n",
        ),
        (
            "duplicate key",
            "run:\n  max_fix_attempts: 2\n  max_fix_attempts: 3\n",
        ),
        (
            "required variable",
            "executors:\n  codex:\n    api_key: ${OPENAI_API_KEY:?export it or put it in .env}\n",
        ),
        ("unclosed quote", "engine:\n  model: \"gpt-4.1\n"),
        ("bad indentation", "engine:\n  type: codex\n   model: x\n"),
        (
            "unknown stage",
            "stages:\n  planing:\n    executor: codex\n",
        ),
        (
            "invalid glob",
            "guardrails:\n  forbidden_patterns: [\"a[\"]\n",
        ),
        (
            "allowlist without patterns",
            "guardrails:\n  mode: allowlist\n",
        ),
        ("boolean expected", "git:\n  auto_push: sometimes\n"),
        ("bad guardrail mode", "guardrails:\n  mode: whitelist\n"),
        (
            "unknown parser",
            "gates:\n  - name: t\n    command: x\n    parser: jest\n",
        ),
    ];
    let mut out = String::new();
    for (name, text) in cases {
        let err = load_str(text, "orx.yaml", env(&[])).expect_err(name);
        assert!(err.line.is_some(), "{name}: no line in {err}");
        out.push_str(&format!("## {name}\n{err}\n"));
        if let Some(h) = &err.hint {
            out.push_str(&format!("hint: {h}\n"));
        }
        out.push('\n');
    }
    insta::assert_snapshot!("broken_configs", out);
}
