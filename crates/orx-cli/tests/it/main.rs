//! Integration tests: the orx binary on real temporary git repositories, with the scripted
//! agent, real gates (sh, python3) and real git.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod adapters;
mod apply;
mod attacks;
mod attacks_dashboard;
mod baseline;
mod browser;
mod budget;
mod cli;
mod compat;
mod context;
mod dashboard;
mod disk;
mod everyday;
mod github;
mod launch;
mod pipeline;
mod real_agents;
mod regressions;
mod resume;
mod semantics;

use std::path::Path;
use std::process::Output;

use orx_testkit::{TestRepo, text};

/// The orx binary under test.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_orx"))
}

/// A repository with `files`, an orx.yaml made of `config` (the scenario path is filled in),
/// and the scenario in the aux folder.
pub fn repo_with(files: &[(&str, &str)], scenario: &str, config: &str) -> TestRepo {
    let repo = TestRepo::new(files);
    let sc = repo.aux_file("scenario.yaml", scenario);
    let cfg = format!(
        "engine:\n  type: fake\n  timeout: 60\nexecutors:\n  fake:\n    scenario: {}\n{config}",
        sc.display()
    );
    repo.write("orx.yaml", &cfg);
    repo.git(&["add", "orx.yaml"]);
    repo.git(&["commit", "-q", "-m", "orx config"]);
    repo
}

/// A backlog of one item, W001.
pub const ONE_ITEM: &str =
    "        - id: W001\n          title: Add a\n          acceptance: [a exists]";
/// An implement step that writes a.txt.
pub const WRITE_A: &str = "  - write: { a.txt: \"a\\n\" }\n";

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Starts `orx run t` in `repo` with `env` (stdout and stderr piped when `piped`, else
/// discarded) and waits until the run's first item attempt has started: the child and the
/// run id.
#[allow(
    clippy::zombie_processes,
    reason = "the child is handed to the caller, who waits for it"
)]
pub fn start_until_an_attempt(
    repo: &TestRepo,
    env: &[(&str, &str)],
    piped: bool,
) -> (std::process::Child, String) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let out = || if piped { Stdio::piped() } else { Stdio::null() };
    let mut child = repo
        .orx(bin())
        .envs(env.iter().copied())
        .args(["run", "t"])
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run never reached an item attempt");
        }
        if let Some(id) = repo.run_ids().first().cloned()
            && std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl"))
                .is_ok_and(|t| t.contains("\"attempt.started\""))
        {
            return (child, id);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A PATH holding only `tools` (links to the machine's), so what orx finds on PATH does not
/// depend on the machine.
pub fn path_with(tools: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tool in tools {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        std::os::unix::fs::symlink(
            String::from_utf8_lossy(&found.stdout).trim(),
            dir.path().join(tool),
        )
        .unwrap();
    }
    dir
}

/// `orx init --engine fake` in `repo` with `path` as the whole PATH.
pub fn init_with_path(repo: &TestRepo, path: &Path) -> Output {
    repo.orx(bin())
        .env("PATH", path)
        .args(["init", "--engine", "fake"])
        .output()
        .unwrap()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Runs orx with `args` in `repo`.
pub fn orx(repo: &TestRepo, args: &[&str]) -> Output {
    repo.orx(bin()).args(args).output().unwrap()
}

/// Runs orx and asserts its exit code.
pub fn orx_ok(repo: &TestRepo, args: &[&str], code: i32) -> Output {
    let out = orx(repo, args);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    out
}

/// A scenario whose plan/spec/review/knowledge steps are standard, with `decompose` and
/// `implement` parts supplied (YAML snippets indented by two spaces under their keys).
pub fn scenario(backlog_items: &str, implement: &str, extra: &str) -> String {
    format!(
        r#"plan:
  - text: "the plan"
spec:
  - text: "the spec"
decompose:
  - text: |
      ```yaml
      items:
{backlog_items}
      ```
implement:
{implement}
review:
  - text: "Looks good.\n\nVERDICT: APPROVED"
knowledge_update:
  - blocks:
      AGENTS.md: "- learned something"
    text: updated
{extra}"#
    )
}

/// A folder for PATH holding links to git, sh and python3 only: no gh, whatever is installed
/// beside them.
pub fn path_without_gh() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tool in ["git", "sh", "python3"] {
        let found = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(tool))
                .find(|p| p.is_file())
        });
        let found = found.unwrap_or_else(|| panic!("{tool} is not on PATH"));
        std::os::unix::fs::symlink(found, dir.path().join(tool)).unwrap();
    }
    dir
}
