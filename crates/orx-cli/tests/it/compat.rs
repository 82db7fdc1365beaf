//! Run folders written by an earlier orx (`tests/fixtures/runs-v1`, see its README) load with
//! today's types, show in `orx status`, `orx logs` and the dashboard, and resume.

use std::path::Path;

use orx_core::run::{Event, Meta, RunState, RunStatus};
use orx_testkit::{TestRepo, text};

use crate::dashboard::Dash;
use crate::{orx_ok, stdout};

const SUCCEEDED: &str = "20261130_082924_3bab449d";
const FAILED: &str = "20261130_082925_09501d9e";
const INTERRUPTED: &str = "20261130_082925_14189f97";

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runs-v1")
}

/// Copies `from` to `to`, replacing `@REPO@` with `repo` in every text file.
fn copy_run(from: &Path, to: &Path, repo: &str) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_run(&src, &dst, repo);
        } else {
            let bytes = std::fs::read(&src).unwrap();
            match String::from_utf8(bytes) {
                Ok(t) => std::fs::write(&dst, t.replace("@REPO@", repo)).unwrap(),
                Err(e) => std::fs::write(&dst, e.into_bytes()).unwrap(),
            }
        }
    }
}

/// A repository holding the three runs as the earlier orx left them.
fn installed() -> TestRepo {
    let repo = TestRepo::empty();
    let bundle = fixture().join("repo.bundle");
    repo.git(&[
        "fetch",
        "--quiet",
        "--update-head-ok",
        &bundle.display().to_string(),
        "refs/heads/*:refs/heads/*",
    ]);
    repo.git(&["reset", "--quiet", "--hard", "main"]);
    let root = repo.path().display().to_string();
    for id in [SUCCEEDED, FAILED, INTERRUPTED] {
        copy_run(&fixture().join("runs").join(id), &repo.run_dir(id), &root);
    }
    let wt = repo.path().join(".worktrees").join(INTERRUPTED);
    repo.git(&[
        "worktree",
        "add",
        "--quiet",
        &wt.display().to_string(),
        &format!("orx/{INTERRUPTED}"),
    ]);
    orx_testkit::git_in(
        &wt,
        &[
            "apply",
            &fixture().join("interrupted.patch").display().to_string(),
        ],
    );
    repo
}

#[test]
fn run_folders_of_an_earlier_orx_load_with_todays_types() {
    let repo = installed();
    for id in [SUCCEEDED, FAILED, INTERRUPTED] {
        let dir = repo.run_dir(id);
        RunState::load(&dir.join("state.json")).unwrap_or_else(|e| panic!("{id}: {e}"));
        Meta::load(&dir.join("meta.json")).unwrap_or_else(|e| panic!("{id}: {e}"));
        let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
        for line in events.lines() {
            serde_json::from_str::<Event>(line)
                .unwrap_or_else(|e| panic!("{id}: an event does not load ({e}): {line}"));
        }
        let records = std::fs::read_to_string(dir.join("metrics/stages.jsonl")).unwrap();
        for line in records.lines() {
            serde_json::from_str::<orx_core::metrics::StageRecord>(line)
                .unwrap_or_else(|e| panic!("{id}: a record does not load ({e}): {line}"));
        }
    }
}

#[test]
fn run_folders_of_an_earlier_orx_show_in_status_logs_and_the_dashboard() {
    let repo = installed();
    let table = stdout(&orx_ok(&repo, &["status"], 0));
    for (id, status) in [
        (SUCCEEDED, "succeeded"),
        (FAILED, "failed"),
        (INTERRUPTED, "interrupted"),
    ] {
        let row = table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} missing:\n{table}"));
        assert!(row.contains(status), "{row}");
        let one = orx_ok(&repo, &["status", id, "--json"], 0);
        let v: serde_json::Value = serde_json::from_str(&stdout(&one)).unwrap();
        assert_eq!(v["status"], status, "{}", text(&one));
        let logs = stdout(&orx_ok(&repo, &["logs", id], 0));
        assert!(
            logs.contains("stage.") || logs.contains(" started"),
            "{logs}"
        );
        assert!(
            !logs.contains("\"kind\""),
            "raw JSON lines in the log:\n{logs}"
        );
    }
    let d = Dash::start(&repo, &[]);
    for id in [SUCCEEDED, FAILED, INTERRUPTED] {
        let page = d.get(&format!("/runs/{id}"));
        assert_eq!(page.status, 200, "{id}");
        assert!(page.body.contains("Add a and b"), "{id}");
        let api = d.get(&format!("/api/runs/{id}")).json();
        assert_eq!(api["summary"]["run_id"], id);
    }
}

#[test]
fn run_folders_of_an_earlier_orx_resume() {
    let repo = installed();
    let out = orx_ok(&repo, &["resume", INTERRUPTED], 0);
    assert_eq!(
        repo.state(INTERRUPTED).status,
        RunStatus::Succeeded,
        "{}",
        text(&out)
    );
    let files = repo.git(&[
        "ls-tree",
        "-r",
        "--name-only",
        &format!("orx/{INTERRUPTED}"),
    ]);
    assert!(files.contains("b.txt"), "{files}");
    // The failed run's gate works now: a fresh attempt budget, and it passes.
    let out = orx_ok(&repo, &["resume", FAILED], 0);
    assert_eq!(
        repo.state(FAILED).status,
        RunStatus::Succeeded,
        "{}",
        text(&out)
    );
}
