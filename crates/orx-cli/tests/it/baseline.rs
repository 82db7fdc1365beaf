//! Baseline gates (SPEC §13): the gates run once on the untouched worktree before any agent
//! call. A gate that cannot start stops the run at once; a failure already on the base does
//! not cost an item its attempts.

use orx_core::protocol::{FailureCategory, ItemStatus, RunStatus};
use orx_testkit::human_stderr;

use super::*;

/// The prompt files the run wrote: one per agent call.
fn prompts(repo: &orx_testkit::TestRepo, id: &str) -> Vec<String> {
    let dir = repo.path().join("runs").join(id).join("prompts");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_gate_that_cannot_start_stops_the_run_before_anything_is_made() {
    let cfg = "gates:\n  - name: tests\n    command: python3 -m unittest\n  - name: lint\n    command: orx-no-such-linter\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    let out = orx_ok(&repo, &["run", "t"], 2);
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @r#"
    exit 2
    --- stderr
    error: gate `tests` cannot start: `command` is one program; put its arguments in `args`: gates[tests] command: python3, args: ["-m", "unittest"]; gate `lint` cannot start: install `orx-no-such-linter` or fix gates[lint].command
      hint: fix the gates in orx.yaml as said (`orx doctor` checks them); nothing was made
    "#);
    assert!(!repo.path().join("runs").exists(), "no run folder");
    assert!(!repo.path().join(".worktrees").exists(), "no worktree");
}

#[test]
fn a_gate_missing_from_the_worktree_stops_the_run_at_the_baseline_and_resume_goes_on() {
    // The script is in the checkout but not committed: the run's worktree does not have it.
    let cfg = "gates:\n  - name: check\n    command: ./check.sh\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    repo.write("check.sh", "#!/bin/sh\nexit 0\n");
    let out = orx_ok(&repo, &["run", "t"], 1);
    let id = repo.single_run();
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @"
    exit 1
    --- stderr
    warning: 1 uncommitted change in the checkout (check.sh) is not in the run: it starts from the last commit. Commit it, or pass --include-dirty to take it along
    error: the run failed at baseline: gate `check` cannot start: there is no file `./check.sh` in the worktree (is it committed?), or fix gates[check].command; no agent was called
      hint: fix the gate in orx.yaml as said (`orx doctor` checks every gate), then `orx resume [RUN_ID]`
    ");
    assert!(
        prompts(&repo, &id).is_empty(),
        "no agent was called: {:?}",
        prompts(&repo, &id)
    );
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Failed);
    assert_eq!(
        st.last_failure.as_ref().map(|f| f.category),
        Some(FailureCategory::GateCannotStart)
    );
    let baseline: serde_json::Value =
        serde_json::from_str(&repo.run_file(&id, "artifacts/baseline.gates.json")).unwrap();
    assert_eq!(baseline["gates"][0]["cannot_start"], true);

    // The user mends orx.yaml as told and resumes: the baseline runs, then the agents.
    let fixed = std::fs::read_to_string(repo.path().join("orx.yaml"))
        .unwrap()
        .replace(
            "command: ./check.sh",
            "command: sh\n    args: [\"-c\", \"true\"]",
        );
    repo.write("orx.yaml", &fixed);
    orx_ok(&repo, &["resume", &id], 0);
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded);
    assert!(
        prompts(&repo, &id)
            .iter()
            .any(|p| p.starts_with("implement_W001"))
    );
    assert!(
        repo.run_file(&id, "logs/gate_check_baseline.log")
            .contains("# orx: gate `check` passed")
    );
}

/// A repository whose test suite already has one failing test, with a pytest-like gate that
/// fails each test named in failing.txt, and a new failure when broken.txt exists.
const RED_GATE: &str = "gates:\n  - name: tests\n    command: sh\n    args: [\"-c\", \"s=0; for t in $(cat failing.txt); do echo FAILED tests/test_m.py::$t - assert 0; s=1; done; if [ -f broken.txt ]; then echo FAILED tests/test_m.py::test_new - boom; s=1; fi; echo '1 failed, 3 passed in 0.01s'; exit $s\"]\n    parser: pytest\n";

#[test]
fn a_failure_already_on_the_base_costs_no_fix_attempt_and_the_agent_is_told_of_it() {
    let repo = repo_with(
        &[("f", "x"), ("failing.txt", "test_old\n")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        RED_GATE,
    );
    let out = orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Passed, 1),
        "{}",
        text(&out)
    );
    let calls = prompts(&repo, &id);
    assert!(!calls.iter().any(|p| p.starts_with("fix_")), "{calls:?}");
    let prompt = repo.run_file(&id, "prompts/implement_W001_1.md");
    assert!(
        prompt.contains("# Failures that were there before this run")
            && prompt.contains("FAILED tests/test_m.py::test_old"),
        "{prompt}"
    );
    let gates = repo.run_file(&id, "artifacts/W001.gates.json");
    assert!(
        gates.contains("\"preexisting\"") && gates.contains("\"new\": 0"),
        "{gates}"
    );
    assert!(
        repo.run_file(&id, "events.jsonl")
            .contains("failed only as on the base")
    );
}

#[test]
fn a_new_failure_next_to_an_old_one_goes_to_the_fix_with_only_the_new_one() {
    let implement = "  - item: W001\n    attempt: 1\n    write: { a.txt: \"a\", broken.txt: \"x\" }\n  - write: { a.txt: \"a\" }\n    delete: [broken.txt]\n";
    let repo = repo_with(
        &[("f", "x"), ("failing.txt", "test_old\n")],
        &scenario(ONE_ITEM, implement, ""),
        RED_GATE,
    );
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert_eq!(repo.state(&id).items[0].attempts, 2);
    let evidence = repo.run_file(&id, "artifacts/W001.evidence.md");
    assert!(
        evidence.contains("FAILED tests/test_m.py::test_new"),
        "{evidence}"
    );
    assert!(
        !evidence.contains("- tests/test_m.py: FAILED tests/test_m.py::test_old"),
        "only the new failure is listed as an error: {evidence}"
    );
    assert!(
        evidence.contains("(1 failure already there before the run is left out"),
        "{evidence}"
    );
    // The fix continues the implement call's session, whose prompt listed them.
    let implement = repo.run_file(&id, "prompts/implement_W001_1.md");
    assert!(
        implement.contains("# Failures that were there before this run"),
        "{implement}"
    );
    let fix = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(fix.contains("your earlier turns in this session"), "{fix}");
}

#[test]
fn a_require_clean_gate_red_on_the_base_stops_the_run_before_any_agent_call() {
    let cfg = RED_GATE.replace(
        "    parser: pytest\n",
        "    parser: pytest\n    baseline: require_clean\n",
    );
    let repo = repo_with(
        &[("f", "x"), ("failing.txt", "test_old\n")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        &cfg,
    );
    let out = orx_ok(&repo, &["run", "t"], 1);
    let id = repo.single_run();
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @"
    exit 1
    --- stderr
    error: the run failed at baseline: gate `tests` already fails on the base (baseline: require_clean): tests/test_m.py: FAILED tests/test_m.py::test_old: assert 0; no agent was called
      hint: see runs/[RUN_ID]/artifacts/baseline.gates.json; make the gate pass on the base branch, or set `baseline: compare` on it so items pass when they add no new failure, then `orx resume [RUN_ID]`
    ");
    assert!(prompts(&repo, &id).is_empty());
    assert_eq!(
        repo.state(&id).last_failure.map(|f| f.category),
        Some(FailureCategory::BaselineNotClean)
    );
}

#[test]
fn an_ignored_gate_does_not_run_on_the_base_but_must_still_be_startable() {
    let cfg = "gates:\n  - name: strict\n    command: orx-no-such-tool\n    baseline: ignore\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    orx_ok(&repo, &["run", "t"], 2);
    assert!(!repo.path().join("runs").exists());
    let cfg = "gates:\n  - name: strict\n    command: sh\n    args: [\"-c\", \"test -f a.txt\"]\n    baseline: ignore\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert!(
        !repo
            .path()
            .join("runs")
            .join(&id)
            .join("logs/gate_strict_baseline.log")
            .exists()
    );
}
