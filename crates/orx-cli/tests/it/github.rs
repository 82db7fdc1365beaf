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
