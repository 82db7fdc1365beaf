//! Interrupt and resume (basic: the full fault-injection suite is a separate issue).

use std::time::{Duration, Instant};

use orx_core::run::{ItemStatus, RunStatus};
use orx_testkit::text;

use crate::{bin, orx_ok, repo_with, scenario};

#[test]
fn sigterm_during_an_agent_checkpoints_and_resume_finishes_the_run() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    // Attempt 1 lingers (a child with a grandchild) so the run can be interrupted mid-agent.
    let implement = "  - attempt: 1\n    linger_secs: 120\n  - write: { a.txt: x }\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), "");
    let mut child = repo
        .orx(bin())
        .args(["run", "t"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the implement agent is running.
    let t0 = Instant::now();
    let id = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the run never reached implement"
        );
        if let Some(id) = repo.run_ids().first().cloned()
            && repo.run_dir(&id).join("events.jsonl").exists()
            && std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl"))
                .unwrap()
                .contains("\"attempt.started\"")
        {
            break id;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    orx_core::run::sys::signal_pid(child.id(), orx_core::run::sys::SIGTERM);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Cancelled);
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Running, 1)
    );
    assert_eq!(st.current_stage.as_deref(), Some("implement"));
    assert!(
        repo.run_file(&id, "events.jsonl")
            .contains("run interrupted; resumable")
    );
    let status = orx_ok(&repo, &["status"], 0);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("cancelled"),
        "{}",
        text(&status)
    );

    let out = orx_ok(&repo, &["resume", &id], 0);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("succeeded"),
        "{}",
        text(&out)
    );
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded);
    // The interrupted attempt was re-verified (no change → failed) and the count continued.
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Passed, 2)
    );
    // plan and spec ran once: the resume did not ask the agent again.
    assert_eq!(st.stage("plan").unwrap().attempts, 1);
    assert!(
        repo.run_file(&id, "events.jsonl")
            .contains("re-verifying the worktree")
    );
}

#[test]
fn a_failed_run_resumes_with_a_fresh_attempt_budget_after_the_repository_is_fixed() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - write: { a.txt: x }\n";
    let flag = tempfile::NamedTempFile::new().unwrap();
    let flag_path = flag.path().display().to_string();
    drop(flag);
    let cfg = format!(
        "run:\n  max_fix_attempts: 2\ngates:\n  - name: env\n    command: sh\n    args: [\"-c\", \"test -f {flag_path}\"]\n"
    );
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), &cfg);
    orx_ok(&repo, &["run", "t"], 1);
    let id = repo.single_run();
    assert_eq!(repo.state(&id).items[0].attempts, 2);
    std::fs::write(&flag_path, "now it passes").unwrap();
    orx_ok(&repo, &["resume", &id], 0);
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded);
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Passed, 1)
    );
    let _ = std::fs::remove_file(&flag_path);
}
