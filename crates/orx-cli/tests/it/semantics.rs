//! Ship (push, pull request), knowledge update, guardrails, pipelines, setup, --from.

use orx_core::run::{ItemStatus, RunStatus, StageStatus};
use orx_testkit::{TestRepo, human, human_stderr, text};

use crate::{ONE_ITEM, WRITE_A, orx, orx_ok, repo_with, scenario, stdout};

#[test]
fn ship_without_a_remote_says_so_and_succeeds_locally() {
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        "git:\n  auto_push: true\n  create_pr: true\n",
    );
    let out = orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let note = repo.state(&id).stage("ship").unwrap().note.clone().unwrap();
    assert!(
        note.contains("no remote `origin`") && note.contains("no pull request"),
        "{note}\n{}",
        text(&out)
    );
}

#[test]
fn knowledge_update_changes_only_the_marker_block_and_commits_it_separately() {
    let repo = repo_with(
        &[("AGENTS.md", "# Agents\n\nHand-written rules.\n")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        "",
    );
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let agents = repo.git(&["show", &format!("orx/{id}:AGENTS.md")]);
    assert_eq!(
        agents,
        "# Agents\n\nHand-written rules.\n\n<!-- ORX:START AGENTS -->\n- learned something\n<!-- ORX:END AGENTS -->\n"
    );
    let arch = repo.git(&["show", &format!("orx/{id}:ARCHITECTURE.md")]);
    assert!(
        arch.contains("<!-- ORX:START ARCH -->\n<!-- ORX:END ARCH -->"),
        "markers created: {arch}"
    );
    let last = repo.git(&["show", "--stat", "--format=%s", &format!("orx/{id}")]);
    assert!(
        last.starts_with("orx: knowledge update") && !last.contains("a.txt"),
        "{last}"
    );
    assert!(
        repo.run_file(&id, "artifacts/knowledge.diff")
            .contains("+- learned something")
    );
}

#[test]
fn a_knowledge_edit_outside_the_markers_is_rejected_and_never_fails_the_run() {
    let sc = scenario(ONE_ITEM, WRITE_A, "").replace(
        "knowledge_update:\n  - blocks:\n      AGENTS.md: \"- learned something\"\n    text: updated",
        "knowledge_update:\n  - write:\n      AGENTS.md: \"# Rewritten by the agent\\n\"\n    text: rewrote it",
    );
    let repo = repo_with(&[("AGENTS.md", "# Agents\n")], &sc, "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded);
    let note = st.stage("knowledge_update").unwrap().note.clone().unwrap();
    assert!(
        note.contains("rejected") && note.contains("AGENTS.md"),
        "{note}"
    );
    assert_eq!(
        repo.git(&["show", &format!("orx/{id}:AGENTS.md")]),
        "# Agents\n"
    );
    assert!(
        repo.git(&["log", "--format=%s", &format!("main..orx/{id}")])
            .lines()
            .all(|l| l != "orx: knowledge update")
    );
    assert_eq!(
        repo.git(&[
            "-C",
            &repo
                .path()
                .join(".worktrees")
                .join(&id)
                .display()
                .to_string(),
            "status",
            "--porcelain"
        ]),
        "",
        "the worktree is restored"
    );
}

#[test]
fn knowledge_suggest_mode_writes_the_diff_without_committing() {
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        "knowledge:\n  mode: suggest\n  files: [AGENTS.md]\n",
    );
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert!(
        repo.run_file(&id, "artifacts/knowledge.diff")
            .contains("+- learned something")
    );
    let files = repo.git(&["ls-tree", "-r", "--name-only", &format!("orx/{id}")]);
    assert!(!files.contains("AGENTS.md"), "{files}");
}

#[test]
fn guardrails_allowlist_mode_and_max_files() {
    let implement = "  - item: W001\n    attempt: 1\n    write: { src/a.py: \"a\", README.md: \"changed\", docs/x.md: \"x\" }\nfix:\n  - write: { src/a.py: \"a2\" }\n";
    let cfg = "guardrails:\n  mode: allowlist\n  allowed_patterns: [\"src/**\"]\n";
    let repo = repo_with(
        &[("README.md", "orig\n")],
        &scenario(ONE_ITEM, implement, ""),
        cfg,
    );
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let ev = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(
        ev.contains("outside guardrails.allowed_patterns (reverted): README.md, docs/x.md"),
        "{ev}"
    );
    assert_eq!(
        repo.git(&["show", &format!("orx/{id}:README.md")]),
        "orig\n"
    );

    let implement = "  - write: { a.txt: \"1\", b.txt: \"2\", c.txt: \"3\" }\n";
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, implement, ""),
        "guardrails:\n  max_files_changed: 2\nrun:\n  max_fix_attempts: 1\n",
    );
    orx_ok(&repo, &["run", "t"], 1);
    let id = repo.single_run();
    assert!(
        repo.run_file(&id, "artifacts/W001.evidence.md")
            .contains("changed 3 files, more than guardrails.max_files_changed (2)")
    );
    assert_eq!(
        repo.state(&id).last_failure.unwrap().category,
        orx_core::protocol::FailureCategory::Guardrail
    );
}

#[test]
fn a_custom_pipeline_from_the_repository_runs_end_to_end() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    repo.write(
        ".orx/pipelines/quick.yaml",
        "id: quick\ndescription: decompose then implement\nstages: [decompose, implement, ship]\n",
    );
    let out = orx_ok(&repo, &["pipelines"], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 0
    --- stdout
    standard  built-in  plan → spec → decompose → implement → review → ship → ci → knowledge_update
    fast_fix  built-in  implement → review → ship → ci
    plan_only  built-in  plan → spec → decompose
    quick  [REPO]/.orx/pipelines/quick.yaml  decompose → implement → ship
    ");
    orx_ok(&repo, &["run", "--pipeline", "quick", "t"], 0);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(st.pipeline, "quick");
    assert_eq!(
        st.stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["decompose", "implement", "ship"]
    );
    assert_eq!(st.items[0].status, ItemStatus::Passed);
}

#[test]
fn a_malformed_pipeline_gets_a_line_and_column() {
    let repo = TestRepo::new(&[("f", "x")]);
    let p = repo.aux_file("bad.yaml", "id: bad\nstages: [plan, spek]\n");
    let aux = |text: String| text.replace(&repo.aux.path().display().to_string(), "[AUX]");
    let out = orx(&repo, &["pipelines", "validate", &p.display().to_string()]);
    insta::assert_snapshot!(aux(human(&out, repo.path())), @"
    exit 2
    --- stderr
    error: [AUX]/bad.yaml:2:16: unknown stage `spek`; did you mean `spec`?
      hint: known stages: plan, spec, decompose, implement, review, ship, ci, knowledge_update
    ");
    let p = repo.aux_file("bad2.yaml", "id: bad\nstages:\n  - plan\n  stages: x\n");
    let out = orx(&repo, &["run", "--pipeline", &p.display().to_string(), "t"]);
    insta::assert_snapshot!(aux(human(&out, repo.path())), @"
    exit 2
    --- stderr
    error: [AUX]/bad2.yaml:4:3: while parsing a block collection, did not find expected '-' indicator
      hint: fix the pipeline file (see `orx pipelines show standard`)
    ");
    let out = orx(&repo, &["run", "--pipeline", "nope", "t"]);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: no pipeline `nope`
      hint: built-in pipelines: standard, fast_fix, plan_only; `orx pipelines list` shows the repository's; or give a .yaml file
    ");
}

#[test]
fn resume_from_an_earlier_stage_runs_it_and_every_later_one_again() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    orx_ok(&repo, &["resume", &id, "--from", "review"], 0);
    let st = repo.state(&id);
    assert_eq!(st.stage("review").unwrap().attempts, 2);
    assert_eq!(st.stage("implement").unwrap().attempts, 1);
    assert_eq!(st.status, RunStatus::Succeeded);
    let out = orx(&repo, &["resume", &id]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a finished run needs --from: {}",
        text(&out)
    );
    let out = orx(&repo, &["resume", &id, "--from", "deploy"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the run has no stage `deploy`"));
}

#[test]
fn setup_commands_run_in_the_new_worktree_and_a_failure_is_clear() {
    let cfg = "setup:\n  - command: sh\n    args: [\"-c\", \"echo prepared > .setup-done && echo setup ran\"]\n";
    let repo = repo_with(
        &[("f", "x"), (".gitignore", ".setup-done\n")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        cfg,
    );
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert!(
        repo.path()
            .join(".worktrees")
            .join(&id)
            .join(".setup-done")
            .exists()
    );
    assert!(repo.run_file(&id, "logs/setup.log").contains("setup ran"));

    let cfg =
        "setup:\n  - command: sh\n    args: [\"-c\", \"echo missing dependency >&2; exit 4\"]\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    let out = orx(&repo, &["run", "t"]);
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @"
    exit 1
    --- stderr
    error: the run failed at setup: setup command 1 (`sh`) failed: exit code 4
      hint: see runs/[RUN_ID]/logs/setup.log; fix the setup list in orx.yaml, then `orx resume [RUN_ID]`
    ");
    let id = repo.single_run();
    assert!(
        repo.run_file(&id, "logs/setup.log")
            .contains("missing dependency")
    );
    let st = repo.state(&id);
    assert_eq!(st.stage("plan").unwrap().status, StageStatus::Pending);
    assert_eq!((st.status, st.setup_done), (RunStatus::Failed, false));
    assert_eq!(repo.meta(&id).status, orx_core::protocol::RunStatus::Failed);
    // Fixed, the resume runs the setup it never finished, then the stages.
    let fixed = std::fs::read_to_string(repo.path().join("orx.yaml"))
        .unwrap()
        .replace("exit 4", "exit 0");
    repo.write("orx.yaml", &fixed);
    orx_ok(&repo, &["resume", &id], 0);
    assert!(repo.state(&id).setup_done);
}

#[test]
fn pipeline_stage_options_set_limits_and_routing() {
    let implement = "  - write: { \"{{ item }}.txt\": x }\n";
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, implement, ""),
        "gates:\n  - name: never\n    baseline: ignore\n    command: \"false\"\n",
    );
    repo.write(
        ".orx/pipelines/tight.yaml",
        "id: tight\nstages:\n  - plan\n  - spec\n  - decompose\n  - { stage: implement, max_fix_attempts: 1, model: small-model }\n  - review\n",
    );
    let out = orx_ok(
        &repo,
        &["run", "--pipeline", "tight", "--dry-run", "--json", "t"],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let fix = v["routing"]["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["stage"] == "fix")
        .unwrap()
        .clone();
    assert_eq!(fix["model"], "small-model");
    orx_ok(&repo, &["run", "--pipeline", "tight", "t"], 1);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Failed, 1),
        "max_fix_attempts: 1 from the pipeline"
    );
    assert_eq!(
        repo.meta(&id)
            .routing
            .get("implement")
            .unwrap()
            .model
            .as_deref(),
        Some("small-model")
    );
    let out = orx_ok(&repo, &["pipelines", "show", "tight"], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @r#"
    exit 0
    --- stdout
    id: tight
    description: ""
    stages:
    - plan
    - spec
    - decompose
    - stage: implement
      model: small-model
      max_fix_attempts: 1
    - review
    "#);
    let bad = repo.aux_file(
        "bad.yaml",
        "id: bad\nstages:\n  - { stage: plan, max_fix_attempts: 2 }\n",
    );
    let out = orx(
        &repo,
        &["pipelines", "validate", &bad.display().to_string()],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("max_fix_attempts applies to the implement stage"),
        "{}",
        text(&out)
    );
}

#[test]
fn fallback_rules_switch_the_model_on_a_matching_error() {
    let sc = format!(
        "plan:\n  - model: big-model\n    fail: {{ kind: model_not_found, message: \"no such model: big-model\" }}\n  - model: small-model\n    text: planned by the small model\n{}",
        scenario(ONE_ITEM, WRITE_A, "").trim_start_matches("plan:\n  - text: \"the plan\"\n")
    );
    let cfg = "engine:\n  model: big-model\nfallback:\n  rules:\n    - { error: model_not_found, model: small-model }\n";
    let repo = repo_with(&[("f", "x")], &sc, "");
    let yaml = std::fs::read_to_string(repo.path().join("orx.yaml"))
        .unwrap()
        .replace(
            "engine:\n  type: fake\n",
            &format!("{}  type: fake\n", cfg.split("fallback").next().unwrap()),
        );
    repo.write(
        "orx.yaml",
        &format!(
            "{yaml}fallback:\n  rules:\n    - {{ error: model_not_found, model: small-model }}\n"
        ),
    );
    orx_ok(&repo, &["run", "--pipeline", "plan_only", "t"], 0);
    let id = repo.single_run();
    assert_eq!(
        repo.run_file(&id, "context/plan.md"),
        "planned by the small model"
    );
    let events = repo.run_file(&id, "events.jsonl");
    assert!(
        events.contains("\"fallbacks\":1") && events.contains("\"model\":\"small-model\""),
        "{events}"
    );
    let bad = repo.aux_file(
        "bad.yaml",
        "fallback:\n  rules:\n    - { error: model_not_fond, model: x }\n",
    );
    let out = orx(
        &repo,
        &[
            "--config",
            &bad.display().to_string(),
            "run",
            "--dry-run",
            "t",
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean `model_not_found`"),
        "{}",
        text(&out)
    );
}
