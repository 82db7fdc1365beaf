//! `orx apply` (SPEC §13): a succeeded run lands on its base branch in the user's checkout;
//! every refusal changes nothing. And the run-id shortcuts every command takes.

use orx_testkit::{TestRepo, human};

use super::*;

/// A repository with one succeeded run that added a.txt.
fn succeeded() -> (TestRepo, String) {
    let repo = repo_with(&[("f", "x\n")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    orx_ok(&repo, &["run", "Add a"], 0);
    let id = repo.single_run();
    (repo, id)
}

fn head(repo: &TestRepo) -> String {
    repo.git(&["rev-parse", "HEAD"]).trim().to_string()
}

fn normalized(out: &std::process::Output, repo: &TestRepo) -> String {
    let s = human(out, repo.path());
    regex::Regex::new(r"\(([0-9a-f]{10})\)")
        .unwrap()
        .replace_all(&s, "([SHA])")
        .to_string()
}

#[test]
fn a_succeeded_run_lands_as_one_commit_and_not_twice() {
    let (repo, id) = succeeded();
    let before = head(&repo);
    let out = orx_ok(&repo, &["apply", "last"], 0);
    insta::assert_snapshot!(normalized(&out, &repo), @"
    exit 0
    --- stdout
    applied run [RUN_ID] to main as one commit ([SHA]): 3 files changed
      AGENTS.md
      ARCHITECTURE.md
      a.txt
    next: `orx clean [RUN_ID] --delete-branch` removes the run's worktree, folder and branch
    ");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("a.txt")).unwrap(),
        "a\n"
    );
    assert_eq!(
        repo.git(&["rev-parse", "HEAD~1"]).trim(),
        before,
        "one commit"
    );
    let message = repo.git(&["log", "-1", "--format=%B"]);
    assert!(message.starts_with("Add a\n\n- W001 Add a\n"), "{message}");
    assert!(message.contains(&format!("orx run {id}")), "{message}");
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=no"])
            .trim(),
        ""
    );
    let again = orx_ok(&repo, &["apply", &id], 2);
    assert!(
        stderr(&again).contains("is already on main: nothing to apply"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn a_dirty_checkout_another_branch_or_an_untracked_file_in_the_way_is_refused_unchanged() {
    let (repo, id) = succeeded();
    let before = head(&repo);
    repo.write("f", "edited\n");
    let out = orx_ok(&repo, &["apply", &id], 2);
    insta::assert_snapshot!(normalized(&out, &repo), @"
    exit 2
    --- stderr
    error: the checkout has uncommitted changes: f
      hint: commit or stash them first (git stash), then apply again
      hint: nothing was changed
    ");
    assert_eq!(
        std::fs::read_to_string(repo.path().join("f")).unwrap(),
        "edited\n"
    );
    repo.git(&["checkout", "-q", "f"]);

    repo.git(&["switch", "-q", "-c", "elsewhere"]);
    let out = orx_ok(&repo, &["apply", &id], 2);
    insta::assert_snapshot!(normalized(&out, &repo), @"
    exit 2
    --- stderr
    error: the checkout is on elsewhere, not on the run's base branch main
      hint: switch to it first (git switch main), then apply again
      hint: nothing was changed
    ");
    repo.git(&["switch", "-q", "main"]);

    repo.write("a.txt", "mine\n");
    let out = orx_ok(&repo, &["apply", &id], 2);
    assert!(
        stderr(&out).contains("untracked files are where the run puts files: a.txt"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("a.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(head(&repo), before, "nothing was committed");
}

#[test]
fn a_conflict_with_the_base_as_it_is_now_is_refused_with_the_files() {
    let implement = "  - write: { f: \"from the run\\n\" }\n";
    let repo = repo_with(&[("f", "x\n")], &scenario(ONE_ITEM, implement, ""), "");
    orx_ok(&repo, &["run", "Change f"], 0);
    let id = repo.single_run();
    repo.write("f", "from main\n");
    repo.git(&["commit", "-qam", "main moves on"]);
    let before = head(&repo);
    let out = orx_ok(&repo, &["apply", &id], 2);
    insta::assert_snapshot!(normalized(&out, &repo), @"
    exit 2
    --- stderr
    error: the run's changes conflict with main as it is now, in: f
      hint: rebase the run in its worktree and resolve there (cd .worktrees/[RUN_ID] && git rebase main), then apply again; or take the patch (`orx apply [RUN_ID] --patch > run.patch`, then git apply -3 run.patch)
      hint: nothing was changed
    ");
    assert_eq!(head(&repo), before);
    assert_eq!(
        std::fs::read_to_string(repo.path().join("f")).unwrap(),
        "from main\n"
    );
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=no"])
            .trim(),
        ""
    );
}

#[test]
fn a_run_started_from_a_detached_head_lands_on_a_branch_that_contains_its_start() {
    let repo = repo_with(&[("f", "x\n")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    repo.git(&["checkout", "-q", "--detach"]);
    orx_ok(&repo, &["run", "Add a"], 0);
    let id = repo.single_run();
    let out = orx_ok(&repo, &["apply", &id], 2);
    insta::assert_snapshot!(normalized(&out, &repo), @"
    exit 2
    --- stderr
    error: the run started from a detached HEAD at [SHA], and the checkout is on a detached HEAD
      hint: switch to the branch to land it on, one that contains [SHA] (git switch main), then apply again
      hint: nothing was changed
    ");
    repo.git(&["switch", "-q", "main"]);
    let out = orx_ok(&repo, &["apply", &id], 0);
    assert!(
        stdout(&out).contains(&format!("applied run {id} to main")),
        "{}",
        text(&out)
    );
    assert!(repo.path().join("a.txt").is_file());
}

#[test]
fn merge_and_rebase_keep_the_run_branch_and_its_commits() {
    let (repo, id) = succeeded();
    // main moves on elsewhere: a rebase replays the run's commits on top of it.
    repo.write("g", "other\n");
    repo.git(&["add", "g"]);
    repo.git(&["commit", "-qm", "main moves on"]);
    let moved = head(&repo);
    let run_commits = repo.git(&["rev-list", "--count", &format!("main..orx/{id}")]);
    let out = orx_ok(&repo, &["apply", &id, "--rebase"], 0);
    assert!(
        stdout(&out).contains(&format!("as {} commit", run_commits.trim())),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        repo.git(&["rev-list", "--count", &format!("{moved}..HEAD")])
            .trim(),
        run_commits.trim()
    );
    assert!(
        repo.git(&["log", "--format=%s", "-5"])
            .contains("orx: W001 Add a")
    );
    assert!(repo.path().join("a.txt").is_file() && repo.path().join("g").is_file());

    let (repo, id) = succeeded();
    orx_ok(&repo, &["apply", &id, "--merge"], 0);
    let parents = repo.git(&["log", "-1", "--format=%P"]);
    assert_eq!(
        parents.split_whitespace().count(),
        2,
        "a merge commit: {parents}"
    );
    assert!(
        repo.git(&["log", "-1", "--format=%s"])
            .starts_with(&format!("Merge run {id}"))
    );
}

#[test]
fn the_patch_applies_with_git_apply_and_a_failed_run_is_not_applied() {
    let (repo, id) = succeeded();
    let out = orx_ok(&repo, &["apply", &id, "--patch"], 0);
    let patch = repo.aux_file("run.patch", &stdout(&out));
    repo.git(&["apply", "--check", &patch.display().to_string()]);
    assert!(
        !repo.path().join("a.txt").exists(),
        "--patch changes nothing"
    );

    let cfg = "run:\n  max_fix_attempts: 1\ngates:\n  - name: never\n    baseline: ignore\n    command: \"false\"\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    orx_ok(&repo, &["run", "t"], 1);
    let out = orx_ok(&repo, &["apply", "last"], 2);
    insta::assert_snapshot!(normalized(&out, &repo), @"
    exit 2
    --- stderr
    error: run [RUN_ID] is failed: only a succeeded run is applied
      hint: `orx resume [RUN_ID]` finishes it; `orx apply [RUN_ID] --patch` prints what it has so far
      hint: nothing was changed
    ");
}

#[test]
fn run_ids_are_taken_whole_as_last_or_as_a_unique_start_or_end() {
    let (repo, id) = succeeded();
    orx_ok(&repo, &["run", "Add a again"], 0);
    let ids = orx_core::run::Store::new(repo.path()).ids().unwrap();
    let newest = ids[0].clone();
    let status = |given: &str| {
        let out = orx(&repo, &["status", given, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["run_id"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(status("last"), newest);
    assert_eq!(status(&id[id.len() - 8..]), id, "a suffix");
    assert_eq!(status(&newest[..newest.len() - 2]), newest, "a prefix");
    let out = orx_ok(&repo, &["diff", &id[..4]], 2);
    let shown = stderr(&out);
    assert!(
        shown.contains("matches 2 runs") && shown.contains(&id) && shown.contains(&newest),
        "{shown}"
    );
    let out = orx_ok(&repo, &["logs", "nosuchrun"], 2);
    assert!(
        stderr(&out).contains("no run nosuchrun"),
        "{}",
        stderr(&out)
    );
}
