//! The standard pipeline end to end.

use orx_core::run::{ItemStatus, RunStatus, StageStatus};
use orx_testkit::text;

use crate::{orx_ok, repo_with, scenario};

const TWO_ITEMS: &str = "        - id: W001
          title: Write a
          acceptance: [a.txt exists]
        - id: W002
          title: Write b
          acceptance: [b.txt exists]
          depends_on: [W001]";

const WRITE_BOTH: &str = "  - item: W001
    write: { a.txt: \"A\\n\" }
    text: wrote a
  - item: W002
    write: { b/deep/b.txt: \"B\\n\" }
    text: wrote b";

const GATE_FILES: &str = "gates:
  - name: files
    command: sh
    args: [\"-c\", \"test -f a.txt && echo ok\"]
";

#[test]
fn happy_path_writes_every_run_file_and_one_commit_per_item() {
    let repo = repo_with(
        &[("README.md", "# r\n")],
        &scenario(TWO_ITEMS, WRITE_BOTH, ""),
        GATE_FILES,
    );
    let out = orx_ok(&repo, &["run", "Write two files"], 0);
    let id = repo.single_run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("run {id} succeeded")),
        "{}",
        text(&out)
    );

    // state.json: every stage done, both items passed with one attempt and a commit.
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded);
    let stages: Vec<_> = st
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.status))
        .collect();
    assert_eq!(
        stages,
        [
            ("plan", StageStatus::Done),
            ("spec", StageStatus::Done),
            ("decompose", StageStatus::Done),
            ("implement", StageStatus::Done),
            ("review", StageStatus::Done),
            ("ship", StageStatus::Done),
            ("ci", StageStatus::Skipped),
            ("knowledge_update", StageStatus::Done)
        ]
    );
    for it in &st.items {
        assert_eq!((it.status, it.attempts), (ItemStatus::Passed, 1), "{it:?}");
        assert!(it.commit.is_some() && it.start_commit.is_some());
    }

    // meta.json.
    let meta = repo.meta(&id);
    assert_eq!(meta.branch, format!("orx/{id}"));
    assert_eq!(meta.base_branch, "main");
    assert_eq!(meta.base_sha, repo.git(&["rev-parse", "main"]).trim());
    assert_eq!(meta.status, orx_core::protocol::RunStatus::Succeeded);
    assert!(meta.ended_at.is_some());
    assert_eq!(meta.task_summary, "Write two files");
    assert_eq!(meta.routing.routes.len(), 7);

    // Every file of the run folder layout.
    for f in [
        "events.jsonl",
        "context/task.md",
        "context/plan.md",
        "context/spec.md",
        "context/backlog.yaml",
        "context/project_map.md",
        "context/tooling_snapshot.md",
        "context/verify_commands.md",
        "context/decisions.md",
        "context/lessons.md",
        "prompts/plan.md",
        "prompts/spec.md",
        "prompts/decompose.md",
        "prompts/implement_W001_1.md",
        "prompts/implement_W002_1.md",
        "prompts/review.md",
        "prompts/knowledge_update.md",
        "artifacts/patch.diff",
        "artifacts/W001.diff",
        "artifacts/W002.diff",
        "artifacts/review.md",
        "artifacts/pr_body.md",
        "artifacts/knowledge.diff",
        "logs/agent_plan.jsonl",
        "logs/agent_plan.stderr.log",
        "logs/agent_implement_W001_1.jsonl",
        "logs/gate_files_W001_1.log",
        "logs/gate_files_W002_1.log",
        "logs/git.log",
        "metrics/stages.jsonl",
        "metrics/run.json",
        "meta.json",
        "state.json",
    ] {
        assert!(repo.run_dir(&id).join(f).is_file(), "missing runs/{id}/{f}");
    }
    assert_eq!(repo.run_file(&id, "context/task.md"), "Write two files");
    assert_eq!(repo.run_file(&id, "context/plan.md"), "the plan");
    let backlog = repo.run_file(&id, "context/backlog.yaml");
    assert!(
        // The id may be quoted (an all-digit suffix looks like a number to YAML).
        (backlog.contains(&format!("run_id: {id}"))
            || backlog.contains(&format!("run_id: \"{id}\"")))
            && backlog.contains("W002"),
        "{backlog}"
    );
    assert!(
        repo.run_file(&id, "artifacts/W002.diff")
            .contains("+++ b/b/deep/b.txt"),
        "new file in a new folder"
    );
    let patch = repo.run_file(&id, "artifacts/patch.diff");
    assert!(
        patch.contains("a.txt") && patch.contains("b/deep/b.txt") && patch.contains("AGENTS.md"),
        "{patch}"
    );
    assert!(
        repo.run_file(&id, "logs/gate_files_W001_1.log")
            .contains("ok")
    );
    assert!(
        repo.run_file(&id, "artifacts/pr_body.md")
            .contains("files passed")
    );
    assert!(
        repo.run_file(&id, "artifacts/knowledge.diff")
            .contains("+- learned something")
    );

    // Events: one JSON object a line, from run.started to run.finished.
    let events: Vec<serde_json::Value> = repo
        .run_file(&id, "events.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["kind"], "run.started");
    assert_eq!(events.last().unwrap()["kind"], "run.finished");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "gate.finished" && e["item"] == "W002")
    );

    // Metrics: one record per stage attempt; totals.
    let stages: Vec<serde_json::Value> = repo
        .run_file(&id, "metrics/stages.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = stages
        .iter()
        .map(|r| r["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "plan",
            "spec",
            "decompose",
            "implement",
            "implement",
            "review",
            "ship",
            "ci",
            "knowledge_update"
        ]
    );
    assert_eq!(stages[3]["item"], "W001");
    assert_eq!(stages[3]["gates"]["files"], true);
    assert!(stages[0]["tokens"]["input"].as_u64().unwrap() > 0);
    let run: serde_json::Value =
        serde_json::from_str(&repo.run_file(&id, "metrics/run.json")).unwrap();
    assert_eq!(
        (
            run["items_done"].as_u64(),
            run["items_failed"].as_u64(),
            run["fix_attempts"].as_u64()
        ),
        (Some(2), Some(0), Some(0))
    );
    assert!(run["time_to_first_green_secs"].as_f64().is_some());

    // The branch: one commit per item, then the knowledge commit.
    let log = repo.git(&["log", "--format=%s", &format!("main..orx/{id}")]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "orx: knowledge update",
            "orx: W002 Write b",
            "orx: W001 Write a"
        ]
    );
    // The main checkout is untouched and orx's folders are excluded from git.
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert!(!repo.path().join("a.txt").exists());
}

#[test]
fn fix_loop_recovers_on_attempt_2_with_the_parsed_evidence_in_the_prompt() {
    let items = "        - id: W001\n          title: Add add\n          acceptance: [add works]";
    let implement = r#"  - item: W001
    attempt: 1
    write:
      calc.py: "def add(a, b):\n    return a - b\n"
      test_calc.py: "import unittest\nfrom calc import add\n\n\nclass T(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n"
fix:
  - item: W001
    write:
      calc.py: "def add(a, b):\n    return a + b  # fixed\n"
"#;
    let gates = "gates:\n  - name: unittest\n    command: python3\n    args: [\"-B\", \"-m\", \"unittest\", \"discover\", \"-s\", \".\", \"-p\", \"test_*.py\"]\n";
    let repo = repo_with(
        &[("README.md", "x\n")],
        &scenario(items, implement, ""),
        gates,
    );
    orx_ok(&repo, &["run", "Add add"], 0);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Passed, 2)
    );
    let prompt = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(
        prompt.contains("Gate `unittest` failed (required, exit code 1)"),
        "{prompt}"
    );
    assert!(
        prompt.contains("- test_calc.py:7: AssertionError: -1 != 5"),
        "{prompt}"
    );
    assert!(
        prompt.contains("-    return a - b") || prompt.contains("+    return a - b"),
        "the diff is in the evidence: {prompt}"
    );
    let records = repo.run_file(&id, "metrics/stages.jsonl");
    assert!(
        records.contains("\"stage\":\"fix\"")
            && records.contains("\"failure_category\":\"gate_failed\"")
    );
}

#[test]
fn exhausted_attempts_fail_the_item_and_stop_the_run_with_stop_on_first_failure() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]\n        - id: W002\n          title: B\n          acceptance: [y]";
    let implement = "  - write: { \"{{ item }}.txt\": \"attempt {{ attempt }}\" }\n";
    let cfg = "run:\n  max_fix_attempts: 2\n  stop_on_first_failure: true\ngates:\n  - name: never\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"echo 'src/x.py:3: error: boom' >&2; exit 1\"]\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), cfg);
    let out = orx_ok(&repo, &["run", "t"], 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("W001 did not pass after 2 attempts"),
        "{}",
        text(&out)
    );
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Failed);
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Failed, 2)
    );
    assert_eq!(
        (st.items[1].status, st.items[1].attempts),
        (ItemStatus::Pending, 0),
        "stopped before W002"
    );
    assert_eq!(st.stage("implement").unwrap().status, StageStatus::Failed);
    assert_eq!(st.stage("review").unwrap().status, StageStatus::Pending);
    assert!(
        repo.run_file(&id, "artifacts/W001.evidence.md")
            .contains("src/x.py:3: error: boom")
    );
    assert_eq!(repo.meta(&id).status, orx_core::protocol::RunStatus::Failed);
}

#[test]
fn without_stop_on_first_failure_independent_items_go_on_and_dependents_are_skipped() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]\n        - id: W002\n          title: B\n          acceptance: [y]\n        - id: W003\n          title: C\n          acceptance: [z]\n          depends_on: [W001]";
    let implement = "  - write: { \"{{ item }}.txt\": \"x\" }\n";
    let cfg = "run:\n  max_fix_attempts: 1\ngates:\n  - name: no-w001\n    command: sh\n    args: [\"-c\", \"test ! -f W001.txt\"]\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), cfg);
    orx_ok(&repo, &["run", "t"], 1);
    let st = repo.state(&repo.single_run());
    let got: Vec<_> = st.items.iter().map(|i| (i.id.as_str(), i.status)).collect();
    assert_eq!(
        got,
        [
            ("W001", ItemStatus::Failed),
            ("W002", ItemStatus::Passed),
            ("W003", ItemStatus::Skipped)
        ]
    );
}

#[test]
fn an_empty_diff_is_reported_as_no_changes() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - text: I did nothing\n";
    let repo = repo_with(
        &[("f", "x")],
        &scenario(items, implement, ""),
        "run:\n  max_fix_attempts: 2\n",
    );
    orx_ok(&repo, &["run", "t"], 1);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(
        st.last_failure.as_ref().unwrap().category,
        orx_core::protocol::FailureCategory::NoChanges
    );
    assert!(
        repo.run_file(&id, "prompts/fix_W001_2.md")
            .contains("The attempt changed no file")
    );
}

#[test]
fn an_optional_gate_failure_does_not_fail_the_item_but_is_reported() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - write: { a.txt: x }\n";
    let cfg = "gates:\n  - name: lint\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"echo 'warning: style'; exit 3\"]\n    required: false\n  - name: test\n    baseline: ignore\n    command: \"true\"\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), cfg);
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert_eq!(repo.state(&id).items[0].status, ItemStatus::Passed);
    let gates: serde_json::Value =
        serde_json::from_str(&repo.run_file(&id, "artifacts/W001.gates.json")).unwrap();
    assert_eq!(
        (gates[0]["passed"].as_bool(), gates[0]["exit_code"].as_i64()),
        (Some(false), Some(3))
    );
    assert!(
        repo.run_file(&id, "events.jsonl")
            .contains("optional gate(s) failed: lint")
    );
    assert!(
        repo.run_file(&id, "artifacts/pr_body.md")
            .contains("lint failed (optional)")
    );
}

#[test]
fn a_gate_that_hangs_is_killed_at_its_timeout() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - write: { a.txt: x }\n";
    let cfg = "run:\n  max_fix_attempts: 1\ngates:\n  - name: hang\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"echo started; sleep 600 & sleep 600\"]\n    timeout: 1\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), cfg);
    let t0 = std::time::Instant::now();
    orx_ok(&repo, &["run", "t"], 1);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        t0.elapsed()
    );
    let id = repo.single_run();
    let ev = repo.run_file(&id, "artifacts/W001.evidence.md");
    assert!(
        ev.contains("gate `hang` did not finish within 1 s and was killed"),
        "{ev}"
    );
    assert!(ev.contains("timed out"), "{ev}");
    assert!(
        repo.run_file(&id, "logs/gate_hang_W001_1.log")
            .contains("started")
    );
}

#[test]
fn an_invalid_backlog_is_retried_once_with_the_error_shown() {
    let sc = r#"plan:
  - text: p
spec:
  - text: s
decompose:
  - attempt: 1
    text: "Sure, here: items: oops"
  - attempt: 2
    text: |
      {"result": "items:\n  - id: W001\n    title: A\n    acceptance: [ok]\n"}
implement:
  - write: { a.txt: x }
review:
  - text: "VERDICT: APPROVED"
knowledge_update:
  - text: nothing to add
"#;
    let repo = repo_with(&[("f", "x")], sc, "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let retry = repo.run_file(&id, "prompts/decompose_2.md");
    assert!(
        retry.contains("Your previous answer was rejected"),
        "{retry}"
    );
    assert!(
        repo.run_file(&id, "events.jsonl")
            .contains("invalid backlog")
    );
    assert_eq!(repo.state(&id).items.len(), 1);
}

#[test]
fn a_backlog_invalid_twice_fails_decompose() {
    let sc = "plan:\n  - text: p\nspec:\n  - text: s\ndecompose:\n  - text: \"items:\\n  - id: W001\\n    title: A\\n    depends_on: [W001]\\n    acceptance: [x]\\n\"\n";
    let repo = repo_with(&[("f", "x")], sc, "");
    let out = orx_ok(&repo, &["run", "t"], 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid twice"),
        "{}",
        text(&out)
    );
    let st = repo.state(&repo.single_run());
    assert_eq!(
        st.last_failure.unwrap().category,
        orx_core::protocol::FailureCategory::InvalidBacklog
    );
}

#[test]
fn the_review_loop_adds_an_item_once_and_stops_at_max_review_loops() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - write: { \"{{ item }}.txt\": x }\n";
    let sc = scenario(items, implement, "").replace(
        "review:\n  - text: \"Looks good.\\n\\nVERDICT: APPROVED\"",
        "review:\n  - text: \"- handle negative numbers\\n\\nVERDICT: CHANGES_REQUESTED\"",
    );
    let repo = repo_with(&[("f", "x")], &sc, "run:\n  max_review_loops: 1\n");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let st = repo.state(&id);
    let items: Vec<_> = st
        .items
        .iter()
        .map(|i| (i.id.as_str(), i.title.as_str(), i.status))
        .collect();
    assert_eq!(
        items,
        [
            ("W001", "A", ItemStatus::Passed),
            (
                "W002",
                "Address review feedback (round 1)",
                ItemStatus::Passed
            )
        ]
    );
    assert_eq!(st.review_loops, 1);
    assert_eq!(st.stage("review").unwrap().attempts, 2);
    assert!(
        st.stage("review")
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("max_review_loops 1 reached")
    );
    let prompt = repo.run_file(&id, "prompts/implement_W002_1.md");
    assert!(prompt.contains("- handle negative numbers"), "{prompt}");
    assert!(
        repo.run_file(&id, "context/decisions.md")
            .contains("Review round 2: CHANGES_REQUESTED")
    );
}

#[test]
fn changes_the_agent_commits_itself_count_in_the_item_diff() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - write: { src/new/mod.txt: x }\n    commit: true\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert!(
        repo.run_file(&id, "artifacts/W001.diff")
            .contains("src/new/mod.txt")
    );
    assert_eq!(repo.state(&id).items[0].attempts, 1);
}

#[test]
fn guardrails_revert_forbidden_files_and_tell_the_fix() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - item: W001\n    attempt: 1\n    write: { app.py: \"x\", .env: \"KEY=1\", config/secrets.yaml: \"s\", a/b/c.pem: \"p\" }\nfix:\n  - write: { app.py: \"y\" }\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let fix = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(
        fix.contains("changed forbidden files (reverted): .env, a/b/c.pem, config/secrets.yaml"),
        "{fix}"
    );
    let files = repo.git(&["ls-tree", "-r", "--name-only", &format!("orx/{id}")]);
    assert!(
        files.contains("app.py")
            && !files.contains(".env")
            && !files.contains("secrets")
            && !files.contains(".pem"),
        "{files}"
    );
}

#[test]
fn the_built_in_scenario_runs_every_stage_in_any_repository() {
    let repo = orx_testkit::TestRepo::new(&[("src/lib.py", "x = 1\n")]);
    orx_ok(&repo, &["run", "Describe the task"], 0);
    let id = repo.single_run();
    let st = repo.state(&id);
    // Every stage ran but ci, which watches a pull request's checks only with ci.watch.
    assert!(
        st.stages.iter().all(|s| s.status == StageStatus::Done
            || (s.name == "ci" && s.status == StageStatus::Skipped)),
        "{:?}",
        st.stages
    );
    let files = repo.git(&["show", "--name-only", "--format=", &format!("orx/{id}~1")]);
    assert_eq!(files.trim(), "ORX_FAKE_CHANGE.md");
    assert!(
        repo.git(&["show", &format!("orx/{id}:AGENTS.md")])
            .contains("Describe the task")
    );
}

#[test]
fn fast_fix_pipeline_runs_the_task_as_one_item() {
    let repo = orx_testkit::TestRepo::new(&[("f", "x")]);
    orx_ok(&repo, &["run", "--pipeline", "fast_fix", "Quick fix"], 0);
    let id = repo.single_run();
    let st = repo.state(&id);
    let names: Vec<_> = st.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["implement", "review", "ship", "ci"]);
    assert_eq!(st.items.len(), 1);
    assert!(!repo.run_dir(&id).join("context/plan.md").exists());
}
