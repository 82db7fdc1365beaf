//! The GitHub loop (SPEC §14) with the real `gh` against a mock GitHub on 127.0.0.1: issues
//! become runs, runs open pull requests. Pushes go to a local bare repository.

use std::path::PathBuf;
use std::process::Command;

use orx_testkit::github::MockGitHub;
use orx_testkit::{TestRepo, git_in, human_stderr, text};

use crate::{ONE_ITEM, WRITE_A, bin, repo_with, scenario};

/// The real gh, or None (skipped) outside CI when it is not installed.
fn gh() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("gh"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "gh is required in CI (.ci/run installs Debian's gh)"
        );
        eprintln!("skipped: gh is not installed (bash .ci/run installs it)");
    }
    found
}

/// A bare repository added to `repo` as its `origin`.
pub fn bare_remote(repo: &TestRepo) -> tempfile::TempDir {
    let remote = tempfile::tempdir().unwrap();
    git_in(remote.path(), &["init", "-q", "--bare"]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        &remote.path().display().to_string(),
    ]);
    remote
}

/// `orx ARGS` in `repo` with gh pointed at `hub`.
fn orx_hub(repo: &TestRepo, hub: &MockGitHub, args: &[&str]) -> std::process::Output {
    let mut c: Command = repo.orx(bin());
    c.envs(hub.env()).args(args);
    c.output().unwrap()
}

const PUSH_AND_PR: &str = "git:\n  auto_push: true\n  create_pr: true\n  pr_draft: true\n";

#[test]
fn an_issue_becomes_the_task_and_its_pull_request_closes_it() {
    if gh().is_none() {
        return;
    }
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), PUSH_AND_PR);
    let remote = bare_remote(&repo);
    let hub = MockGitHub::start();
    hub.add_issue(
        12,
        "Add the a file",
        "The project needs a.txt holding `a`.",
        &["enhancement", "good first issue"],
        &[("maintainer", "Keep it to one line.")],
    );
    let out = orx_hub(&repo, &hub, &["run", "--issue", "12", "Mind the newline."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    // task.md holds the issue: title, number and URL, labels, body, comments, what was added.
    let task = repo.run_file(&id, "context/task.md");
    assert_eq!(
        task,
        "Add the a file\n\nGitHub issue #12: http://github.localhost/octo/demo/issues/12\n\
         Labels: enhancement, good first issue\n\nThe project needs a.txt holding `a`.\n\n\
         ## Comments on the issue\n\nmaintainer wrote:\nKeep it to one line.\n\n## Also\n\n\
         Mind the newline.\n"
    );
    let meta = repo.meta(&id);
    let issue = meta.issue.expect("meta.json links the issue");
    assert_eq!(
        (issue.number, issue.url.as_str(), issue.repo.as_str()),
        (
            12,
            "http://github.localhost/octo/demo/issues/12",
            "octo/demo"
        )
    );
    // The branch landed in the remote, and the pull request from it closes the issue.
    let pushed = git_in(
        remote.path(),
        &["rev-parse", &format!("refs/heads/orx/{id}")],
    );
    assert_eq!(
        pushed.trim(),
        repo.git(&["rev-parse", &format!("orx/{id}")]).trim()
    );
    let pulls = hub.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let pr = &pulls[0];
    assert_eq!(pr["head"]["ref"], format!("orx/{id}"));
    assert_eq!(pr["base"]["ref"], "main");
    assert_eq!(pr["title"], "Add the a file");
    assert_eq!(pr["draft"], true);
    let body = pr["body"].as_str().unwrap();
    assert!(body.ends_with("\nCloses #12\n"), "{body}");
    assert_eq!(
        meta.pr_url.as_deref(),
        Some("http://github.localhost/octo/demo/pull/101")
    );
    let note = repo.state(&id).stage("ship").unwrap().note.clone().unwrap();
    assert!(
        note.contains("opened pull request http://github.localhost/octo/demo/pull/101"),
        "{note}"
    );
    // What orx asked GitHub, in order, each with the token.
    let asked: Vec<String> = hub
        .requests()
        .iter()
        .map(|r| {
            assert!(r.header("authorization").is_some(), "{r:?}");
            let path = r.target.trim_start_matches("http://api.github.localhost");
            format!("{} {path}", r.method)
        })
        .collect();
    assert_eq!(
        asked,
        [
            "GET /repos/octo/demo/issues/12".to_string(),
            "GET /repos/octo/demo/issues/12/comments?per_page=100".to_string(),
            format!("GET /repos/octo/demo/pulls?state=open&head=octo:orx/{id}"),
            "POST /repos/octo/demo/pulls".to_string(),
        ]
    );
    // Shipping again (a resume from ship) finds the pull request instead of opening another.
    let out = orx_hub(&repo, &hub, &["resume", &id, "--from", "ship"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(hub.pulls().len(), 1, "{:?}", hub.pulls());
    assert_eq!(
        repo.meta(&id).pr_url.as_deref(),
        Some("http://github.localhost/octo/demo/pull/101")
    );
    // `orx status` links the issue and the pull request.
    let status =
        String::from_utf8_lossy(&orx_hub(&repo, &hub, &["status", &id]).stdout).to_string();
    assert!(
        status.contains("issue    #12 http://github.localhost/octo/demo/issues/12\npr       http://github.localhost/octo/demo/pull/101\n"),
        "{status}"
    );
    // The token gh used never reaches the run's logs.
    let gh_log = repo.run_file(&id, "logs/gh.log");
    assert!(!gh_log.contains("gho_mocktoken"), "{gh_log}");
}

#[test]
fn an_issue_given_by_its_url_is_read_from_that_repository() {
    if gh().is_none() {
        return;
    }
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let hub = MockGitHub::start();
    hub.add_issue(7, "Fix the thing", "", &[], &[]);
    // No GH_REPO and no GitHub remote: the URL says where the issue is.
    let mut c = repo.orx(bin());
    c.envs(hub.env()).env_remove("GH_REPO").args([
        "run",
        "--issue",
        "http://github.localhost/octo/demo/issues/7",
    ]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    assert!(repo.run_file(&id, "context/task.md").starts_with(
        "Fix the thing\n\nGitHub issue #7: http://github.localhost/octo/demo/issues/7\n"
    ),);

    // A detached run keeps the link too (its driver gets it from orx).
    let mut c = repo.orx(bin());
    c.envs(hub.env()).args(["run", "--detach", "--issue", "7"]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let detached = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let meta = repo.meta(&detached);
    assert_eq!(meta.issue.map(|i| i.number), Some(7));
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while repo.state(&detached).status == orx_core::run::RunStatus::Running {
        assert!(std::time::Instant::now() < until, "the detached run ends");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        repo.run_file(&detached, "context/task.md")
            .starts_with("Fix the thing\n"),
        "{}",
        text(&out)
    );
}

/// Each bad input is one clear error before anything is made: no run folder, no worktree.
#[test]
fn a_bad_issue_stops_before_any_worktree_with_the_fix() {
    if gh().is_none() {
        return;
    }
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let hub = MockGitHub::start();
    let nothing_made = |out: &std::process::Output| {
        assert!(repo.run_ids().is_empty(), "{}", text(out));
        let worktrees = repo.git(&["worktree", "list"]);
        assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
    };

    // An issue that does not exist.
    let out = orx_hub(&repo, &hub, &["run", "--issue", "99"]);
    nothing_made(&out);
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @"
    exit 2
    --- stderr
    error: issue #99 was not found on github.localhost/octo/demo
      hint: check the number (`gh issue list` shows the open ones) and that the remote is the issue's repository, or pass the issue's URL
    ");

    // Not an issue at all.
    let out = orx_hub(&repo, &hub, &["run", "--issue", "twelve"]);
    nothing_made(&out);
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @"
    exit 2
    --- stderr
    error: `twelve` is not an issue number or a GitHub issue URL
      hint: give --issue a number (12 or #12) or the issue's URL (https://github.com/OWNER/NAME/issues/12)
    ");

    // gh not logged in: GitHub refuses the call.
    let mut c = repo.orx(bin());
    c.envs(hub.env())
        .env_remove("GH_TOKEN")
        .args(["run", "--issue", "12"]);
    let out = c.output().unwrap();
    nothing_made(&out);
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @"
    exit 2
    --- stderr
    error: gh is not logged in to github.localhost: gh: Requires authentication (HTTP 401)
      hint: run `gh auth login` (or set GH_TOKEN to a token that can read the repository)
    ");

    // A repository whose remote is not on GitHub (and no GH_REPO).
    let _remote = bare_remote(&repo);
    let mut c = repo.orx(bin());
    c.envs(hub.env())
        .env_remove("GH_REPO")
        .args(["run", "--issue", "12"]);
    let out = c.output().unwrap();
    nothing_made(&out);
    let said = human_stderr(&out, repo.path());
    let remote = _remote.path().display().to_string();
    insta::assert_snapshot!(said.replace(&remote, "[REMOTE]"), @"
    exit 2
    --- stderr
    error: the remote `origin` ([REMOTE]) is not a GitHub repository
      hint: add the GitHub repository as the remote (`git remote add origin git@github.com:OWNER/NAME.git`, or set git.remote in orx.yaml), set GH_REPO=OWNER/NAME, or pass the issue's URL
    ");

    // gh not installed.
    let path = crate::path_without_gh();
    let mut c = repo.orx(bin());
    c.envs(hub.env())
        .env("PATH", path.path())
        .args(["run", "--issue", "12"]);
    let out = c.output().unwrap();
    nothing_made(&out);
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @"
    exit 2
    --- stderr
    error: the GitHub CLI (gh) is not installed or not on PATH
      hint: install the GitHub CLI (Debian and Ubuntu: `apt-get install gh`), then `gh auth login`
    ");
}

/// Without gh, ship pushes the branch and the run succeeds, saying why there is no pull request.
#[test]
fn ship_without_gh_pushes_and_says_why_there_is_no_pull_request() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), PUSH_AND_PR);
    let _remote = bare_remote(&repo);
    let path = crate::path_without_gh();
    let out = repo
        .orx(bin())
        .env("PATH", path.path())
        .env("GH_REPO", "github.localhost/octo/demo")
        .args(["run", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    let note = repo.state(&id).stage("ship").unwrap().note.clone().unwrap();
    insta::assert_snapshot!(note.replace(&id, "[ID]"), @"nothing left to commit; pushed orx/[ID] to origin; no pull request: the GitHub CLI (gh) is not installed or not on PATH (see logs/gh.log)");
}

/// A real pytest failure as a GitHub Actions job log (see orx-core's tests/corpus/ci/).
fn pytest_failure_log() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../orx-core/tests/corpus/ci/pytest.log");
    std::fs::read_to_string(p).unwrap()
}

/// A repository whose runs push to a bare remote that records each push, open a pull request
/// on `hub`, and watch its checks (`ci.max_rounds: max_rounds`); the fix agent of CI writes
/// fixed.txt (again.txt while ORX_TEST_AGAIN is set).
fn ci_repo(max_rounds: u32) -> (TestRepo, tempfile::TempDir, MockGitHub) {
    let fix = "fix:\n  - item: ci\n    when_env: ORX_TEST_AGAIN\n    write: { again.txt: \"round {{ attempt }}\\n\" }\n    text: fixed it again\n  - item: ci\n    write: { fixed.txt: \"round {{ attempt }}\\n\" }\n    text: fixed the mean\n";
    let config = format!(
        "git:\n  auto_push: true\n  create_pr: true\nci:\n  watch: true\n  poll: 1\n  timeout: 60\n  max_rounds: {max_rounds}\n"
    );
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, fix), &config);
    let remote = bare_remote(&repo);
    let hook = remote.path().join("hooks/post-receive");
    let pushes = remote.path().join("pushes.log");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nwhile read old new ref; do echo \"$new $ref\" >> '{}'; done\n",
            pushes.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    (repo, remote, MockGitHub::start())
}

/// The commits pushed to `remote`, in order.
fn pushes(remote: &tempfile::TempDir) -> Vec<String> {
    std::fs::read_to_string(remote.path().join("pushes.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .collect()
}

/// `orx run` that fails: its output, id and recorded failure.
fn a_failed_run(
    repo: &TestRepo,
    hub: &MockGitHub,
) -> (std::process::Output, String, orx_core::protocol::Failure) {
    let out = orx_hub(repo, hub, &["run", "Add the a file"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = repo.single_run();
    let failure = repo
        .state(&id)
        .last_failure
        .expect("the failure is recorded");
    (out, id, failure)
}

/// A failed check's log goes back to the agent, trimmed to the failure; the fix is committed,
/// pushed and watched: the second round passes.
#[test]
fn a_failed_check_goes_back_to_the_agent_and_the_second_round_passes() {
    if gh().is_none() {
        return;
    }
    use orx_testkit::github::MockCheck;
    let (repo, remote, hub) = ci_repo(3);
    hub.with(|h| {
        h.pending_polls = 1;
        h.ci_rounds = vec![
            vec![
                MockCheck::new("lint", "success", ""),
                MockCheck::new("test", "failure", &pytest_failure_log()),
            ],
            vec![
                MockCheck::new("lint", "success", ""),
                MockCheck::new("test", "success", ""),
            ],
        ];
    });
    let out = orx_hub(&repo, &hub, &["run", "Add the a file"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    let state = repo.state(&id);
    let ci = state.ci.clone().expect("state.json records the ci stage");
    assert_eq!(ci.round, 2);
    let note = state.stage("ci").unwrap().note.clone().unwrap();
    assert_eq!(
        note,
        "checks passed in round 2 of 3: lint passed, test passed"
    );
    // The fix prompt holds the failing test's name and location, not the whole log.
    let prompt = repo.run_file(&id, "prompts/fix_ci_1.md");
    for want in [
        "tests/test_calc.py:17",
        "test_mean_of_halves",
        "assert 1 == 1.5",
    ] {
        assert!(prompt.contains(want), "`{want}` missing from\n{prompt}");
    }
    for noise in ["PASSED", "Download action repository", "test `lint`"] {
        assert!(!prompt.contains(noise), "`{noise}` in\n{prompt}");
    }
    assert!(
        prompt.len() < pytest_failure_log().len() / 4,
        "{}",
        prompt.len()
    );
    // The fix is a commit of the branch, pushed once: the remote got ship's push, the fix's,
    // and the knowledge update's, each a new commit.
    let fix = repo
        .git(&["rev-parse", &format!("orx/{id}^")])
        .trim()
        .to_string();
    let subject = repo.git(&["log", "--format=%s", "-1", &fix]);
    assert_eq!(subject.trim(), "orx: fix CI checks (round 1)");
    assert_eq!(ci.pushed, [fix.as_str()]);
    let pushed = pushes(&remote);
    assert_eq!(pushed.len(), 3, "{pushed:?}");
    assert_eq!(pushed[1], fix);
    assert_eq!(
        pushed[2],
        repo.git(&["rev-parse", &format!("orx/{id}")]).trim()
    );
    // Each round's commit was read until its checks completed.
    let polls = hub.with(|h| h.ci_polls.clone());
    assert_eq!(
        polls.values().copied().collect::<Vec<_>>(),
        [2, 2],
        "{polls:?}"
    );
    assert!(repo.run_dir(&id).join("logs/ci_1_test.log").exists());
    // `orx status` shows the pull request and its checks.
    let out = orx_hub(&repo, &hub, &["status", &id]);
    let said = orx_testkit::normalize_table(&String::from_utf8_lossy(&out.stdout), repo.path());
    let shown: String = said
        .lines()
        .filter(|l| l.starts_with("pr ") || l.starts_with("checks") || l.starts_with("  "))
        .filter(|l| {
            !l.contains("done")
                && !l.contains("skipped")
                && !l.contains("W001")
                && !l.contains("STAGE")
                && !l.contains("ITEM")
        })
        .collect::<Vec<_>>()
        .join("\n");
    // The run's page too: the pull request, and each check with its state and page.
    let d = crate::dashboard::Dash::start(&repo, &[]);
    let page = d.get(&format!("/runs/{id}")).body.replace("&#x2f;", "/");
    let checks = page
        .split("<div id=\"ci-checks\">")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .unwrap_or_else(|| panic!("no checks on the page:\n{page}"));
    assert!(
        page.contains("http://github.localhost/octo/demo/pull/101"),
        "{page}"
    );
    let sha = ci.sha.clone().unwrap();
    let checks = checks.replace(&sha[..10], "[SHA]");
    insta::assert_snapshot!(checks.split_whitespace().collect::<Vec<_>>().join(" "), @r#"<dt>Checks</dt><dd>round 2 <code>[SHA]</code> · 1 fix pushed: <a class="pill ok" href="http://github.localhost/octo/demo/actions/runs/1/job/201" rel="noreferrer" title="success">lint passed</a> <a class="pill ok" href="http://github.localhost/octo/demo/actions/runs/1/job/202" rel="noreferrer" title="success">test passed</a> </dd>"#);
    insta::assert_snapshot!(shown, @"
    pr  http://github.localhost/octo/demo/pull/101
    checks (round 2, commit [SHA]; fixes pushed: 1):
      CHECK  STATE  CONCLUSION  PAGE
      lint  passed  success  http://github.localhost/octo/demo/actions/runs/1/job/201
      test  passed  success  http://github.localhost/octo/demo/actions/runs/1/job/202
    ");
}

/// Past `ci.max_rounds` failed rounds the run fails as `ci_failed`, with the evidence.
#[test]
fn max_rounds_reached_fails_the_run_with_ci_failed_and_the_evidence() {
    if gh().is_none() {
        return;
    }
    use orx_testkit::github::MockCheck;
    let (repo, remote, hub) = ci_repo(2);
    hub.with(|h| {
        h.ci_rounds = vec![vec![MockCheck::new(
            "test",
            "failure",
            &pytest_failure_log(),
        )]]
    });
    let (out, id, failure) = a_failed_run(&repo, &hub);
    assert_eq!(
        failure.category,
        orx_core::protocol::FailureCategory::CiFailed
    );
    assert_eq!(
        failure.message,
        "checks still failed after 2 rounds (ci.max_rounds): test failed"
    );
    assert_eq!(
        failure.evidence.as_deref(),
        Some("artifacts/ci_round_2.evidence.md")
    );
    let evidence = repo.run_file(&id, "artifacts/ci_round_2.evidence.md");
    assert!(evidence.contains("tests/test_calc.py:17"), "{evidence}");
    // One fix, pushed once: ship's push and the fix's.
    assert_eq!(pushes(&remote).len(), 2);
    insta::assert_snapshot!(human_stderr(&out, repo.path()).replace(&id, "[ID]"), @"
    exit 1
    --- stderr
    error: the run failed at ci: checks still failed after 2 rounds (ci.max_rounds): test failed
      hint: see `orx logs [RUN_ID]`; fix the cause, then `orx resume [RUN_ID]` (a failed stage restarts with a fresh attempt budget)
    ");
    // A resume gives the checks fresh rounds from the commit the run stopped at: that one still
    // fails, its fix passes.
    hub.with(|h| {
        h.ci_rounds = vec![
            vec![MockCheck::new("test", "failure", &pytest_failure_log())],
            vec![MockCheck::new("test", "failure", &pytest_failure_log())],
            vec![MockCheck::new("test", "success", "")],
        ]
    });
    let mut c = repo.orx(bin());
    c.envs(hub.env())
        .env("ORX_TEST_AGAIN", "1")
        .args(["resume", &id]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        repo.state(&id).ci.map(|c| (c.round, c.pushed.len())),
        Some((2, 2))
    );
}

/// Killed while it waits, or right after it pushed a fix, orx resumes waiting for the same
/// commit and never pushes it again.
#[test]
fn a_kill_while_waiting_resumes_the_wait_without_a_second_push() {
    if gh().is_none() {
        return;
    }
    use orx_testkit::github::MockCheck;
    for fault in ["ci:after_poll", "ci:after_push"] {
        let (repo, remote, hub) = ci_repo(3);
        hub.with(|h| {
            h.pending_polls = 1;
            h.ci_rounds = vec![
                vec![MockCheck::new("test", "failure", &pytest_failure_log())],
                vec![MockCheck::new("test", "success", "")],
            ];
        });
        let mut c = repo.orx(bin());
        c.envs(hub.env())
            .env("ORX_FAULT", fault)
            .args(["run", "Add the a file"]);
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), None, "{fault}: killed: {}", text(&out));
        let id = repo.single_run();
        let before = pushes(&remote);
        let out = orx_hub(&repo, &hub, &["resume", &id]);
        assert_eq!(out.status.code(), Some(0), "{fault}: {}", text(&out));
        let state = repo.state(&id);
        assert_eq!(state.ci.as_ref().map(|c| c.round), Some(2), "{fault}");
        // Ship's push, the fix's, the knowledge update's: no commit twice.
        let pushed = pushes(&remote);
        assert_eq!(
            pushed.len(),
            3,
            "{fault}: {pushed:?} (before the resume: {before:?})"
        );
        let distinct: std::collections::BTreeSet<_> = pushed.iter().collect();
        assert_eq!(distinct.len(), 3, "{fault}: {pushed:?}");
        assert_eq!(
            state.ci.as_ref().unwrap().pushed,
            [pushed[1].clone()],
            "{fault}"
        );
    }
}

/// Checks that stay pending past `ci.timeout` end the stage as `ci_timeout`; the run resumes
/// waiting once they finish.
#[test]
fn checks_pending_past_the_timeout_end_the_stage_as_ci_timeout() {
    if gh().is_none() {
        return;
    }
    use orx_testkit::github::MockCheck;
    let (repo, remote, hub) = ci_repo(3);
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml"))
        .unwrap()
        .replace("timeout: 60", "timeout: 2");
    repo.write("orx.yaml", &cfg);
    repo.git(&["commit", "-qam", "short ci timeout"]);
    hub.with(|h| {
        h.ci_stuck = true;
        h.ci_rounds = vec![vec![MockCheck::new("test", "success", "")]];
    });
    let (_, id, failure) = a_failed_run(&repo, &hub);
    assert_eq!(
        failure.category,
        orx_core::protocol::FailureCategory::CiTimeout
    );
    let head = repo.git(&["rev-parse", &format!("orx/{id}")]);
    assert_eq!(
        failure.message,
        format!(
            "the checks of {} did not finish within 2 s (still pending: test pending)",
            &head.trim()[..10]
        )
    );
    // The checks finish: the resume waits again for the same commit, pushes nothing new.
    hub.with(|h| h.ci_stuck = false);
    let out = orx_hub(&repo, &hub, &["resume", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(repo.state(&id).ci.map(|c| c.round), Some(1));
    // Ship's push and the knowledge update's.
    assert_eq!(pushes(&remote).len(), 2);
}

/// Implement writes a.txt, and b.txt while ORX_TEST_AGAIN is set (a follow-up's run).
pub const WRITE_A_THEN_B: &str = "  - when_env: ORX_TEST_AGAIN\n    write: { b.txt: \"b\\n\" }\n  - write: { a.txt: \"a\\n\" }\n";

/// `orx followup`: a new run on the same branch and worktree, its task the new text, the pull
/// request's unresolved review comments and the earlier run's task, spec and review; its
/// commits go on top and its push updates the same pull request.
#[test]
fn a_followup_continues_the_branch_and_its_pull_request_with_the_review_comments() {
    if gh().is_none() {
        return;
    }
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A_THEN_B, ""),
        PUSH_AND_PR,
    );
    let remote = bare_remote(&repo);
    let hub = MockGitHub::start();
    let out = orx_hub(&repo, &hub, &["run", "Add the a file"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = repo.single_run();
    let first_head = repo
        .git(&["rev-parse", &repo.meta(&first).branch])
        .trim()
        .to_string();
    hub.add_review_thread(
        "a.txt",
        Some(1),
        2,
        false,
        &[("alice", "Say why a exists."), ("bob", "Agreed.")],
    );
    hub.add_review_thread("f", None, 1, true, &[("carol", "Resolved already.")]);
    let mut c = repo.orx(bin());
    c.envs(hub.env()).env("ORX_TEST_AGAIN", "1").args([
        "followup",
        &first,
        "Also add the b file",
        "--pr-comments",
    ]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ids = repo.run_ids();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let second = ids.iter().find(|i| **i != first).unwrap().clone();
    // The task: the new text, the open comment with its lines, the earlier run's task.
    let task = repo.run_file(&second, "context/task.md");
    assert!(task.starts_with("Also add the b file\n\n## Review comments to address\n- `a.txt:1-2` (alice): Say why a exists.\n  bob replied: Agreed.\n"), "{task}");
    assert!(!task.contains("Resolved already"), "{task}");
    let plan_prompt = repo.run_file(&second, "prompts/plan.md");
    assert!(
        plan_prompt.contains("- `a.txt:1-2` (alice): Say why a exists."),
        "{plan_prompt}"
    );
    assert!(
        task.contains(&format!("## The run this follows up: {first}")),
        "{task}"
    );
    assert!(task.contains("### Its task\nAdd the a file\n"), "{task}");
    assert!(
        task.contains("### Its spec\nthe spec\n") && task.contains("### Its review\n"),
        "{task}"
    );
    // Linked both ways; the same branch and worktree; the follow-up's diff starts at the
    // earlier run's last commit.
    let (m1, m2) = (repo.meta(&first), repo.meta(&second));
    assert_eq!(m2.follows.as_deref(), Some(first.as_str()));
    assert_eq!(m1.followed_by, [second.as_str()]);
    assert_eq!(
        (m2.branch.as_str(), m2.worktree.as_str()),
        (m1.branch.as_str(), m1.worktree.as_str())
    );
    let branch = &m1.branch;
    let added = repo.git(&["diff", "--name-only", &format!("{first_head}..{branch}")]);
    assert!(
        added.lines().any(|f| f == "b.txt") && !added.contains("a.txt"),
        "{added}"
    );
    let log = repo.git(&["log", "--format=%s", &format!("{first_head}..{branch}")]);
    assert!(
        log.contains("orx: W001"),
        "the follow-up's commits are on top: {log}"
    );
    assert!(
        repo.git(&["ls-tree", "--name-only", branch])
            .contains("a.txt")
    );
    // One pull request, updated by the push: the remote's branch is the local one.
    assert_eq!(hub.pulls().len(), 1);
    assert_eq!(m2.pr_url, m1.pr_url);
    let pushed = git_in(
        remote.path(),
        &["rev-parse", &format!("refs/heads/{branch}")],
    );
    assert_eq!(pushed.trim(), repo.git(&["rev-parse", branch]).trim());
    // The follow-up's own diff is only what it added.
    let diff =
        String::from_utf8_lossy(&orx_hub(&repo, &hub, &["diff", &second]).stdout).to_string();
    assert!(diff.contains("b.txt") && !diff.contains("a.txt"), "{diff}");
    // Cleaning the earlier run keeps the worktree and branch the follow-up works on; cleaning
    // the follow-up then removes them.
    let out = orx_hub(&repo, &hub, &["clean", &first, "--delete-branch"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout)
        .replace(&first, "[FIRST]")
        .replace(&second, "[SECOND]");
    insta::assert_snapshot!(said, @"
    [FIRST]: its worktree and branch stay, run [SECOND] works on them too
    removed [FIRST]
    1 run(s) removed; 1 worktree(s) and branch(es) kept for the runs that share them (`orx clean` of those removes them)
    ");
    assert!(std::path::Path::new(&m1.worktree).exists());
    assert!(!repo.git(&["branch", "--list", branch]).trim().is_empty());
    let out = orx_hub(&repo, &hub, &["clean", &second, "--delete-branch"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!std::path::Path::new(&m1.worktree).exists());
    assert!(repo.git(&["branch", "--list", branch]).trim().is_empty());
}

/// A follow-up needs a run that ended and a branch that still exists; a worktree removed since
/// is made again from the branch.
#[test]
fn a_followup_refuses_a_live_run_and_a_lost_branch_and_remakes_a_lost_worktree() {
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A_THEN_B, ""),
        "approvals: [plan]\n",
    );
    // A run that waits for approval has not ended.
    let out = repo
        .orx(bin())
        .args(["run", "Add the a file"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let id = repo.single_run();
    let out = repo
        .orx(bin())
        .args(["followup", &id, "more"])
        .output()
        .unwrap();
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @r#"
    exit 2
    --- stderr
    error: run [RUN_ID] is waiting: a follow-up continues a run that ended
      hint: it waits for you: `orx approve [RUN_ID]` (or `orx reject [RUN_ID] "feedback"`) lets it finish; follow it up then
    "#);
    // Once it ended, its worktree removed: the follow-up makes it again from the branch.
    let out = repo.orx(bin()).args(["approve", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let worktree = repo.meta(&id).worktree;
    repo.git(&["worktree", "remove", "--force", &worktree]);
    let out = repo
        .orx(bin())
        .env("ORX_TEST_AGAIN", "1")
        .args([
            "followup",
            &id,
            "Also add the b file",
            "--pipeline",
            "fast_fix",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(std::path::Path::new(&worktree).join("b.txt").exists());
    // A branch deleted since: nothing to follow.
    repo.git(&["worktree", "remove", "--force", &worktree]);
    repo.git(&["branch", "-D", &repo.meta(&id).branch]);
    let out = repo
        .orx(bin())
        .args(["followup", &id, "more"])
        .output()
        .unwrap();
    insta::assert_snapshot!(human_stderr(&out, repo.path()), @"
    exit 2
    --- stderr
    error: run [RUN_ID]'s branch orx/[RUN_ID] no longer exists, so nothing can follow it
      hint: start a new run with `orx run` (the branch was deleted, e.g. by `orx clean --delete-branch`)
    ");
}
