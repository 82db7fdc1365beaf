//! Defects found in review, each pinned by a test.

use std::time::{Duration, Instant};

use orx_core::run::{ItemStatus, RunStatus};
use orx_testkit::text;

use crate::{ONE_ITEM, WRITE_A, bin, orx, orx_ok, repo_with, scenario, stdout};

#[test]
fn auto_commit_false_loses_no_work() {
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        "git:\n  auto_commit: false\n",
    );
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let files = repo.git(&["ls-tree", "-r", "--name-only", &format!("orx/{id}")]);
    assert!(files.contains("a.txt"), "{files}");
    assert!(
        repo.run_file(&id, "artifacts/patch.diff")
            .contains("+++ b/a.txt")
    );
    assert!(
        repo.path()
            .join(".worktrees")
            .join(&id)
            .join("a.txt")
            .exists()
    );
}

#[test]
fn a_second_ctrl_c_kills_the_running_gate_group_at_once() {
    let pgid_file = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let cfg = format!(
        "gates:\n  - name: stubborn\n    command: sh\n    args: [\"-c\", \"echo $$$$ > {}; trap '' TERM INT; sleep 120; sleep 120\"]\n",
        pgid_file.display()
    );
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), &cfg);
    std::fs::remove_file(&pgid_file).ok();
    let mut child = repo
        .orx(bin())
        .args(["run", "t"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::fs::read_to_string(&pgid_file)
        .map(|t| !t.ends_with('\n'))
        .unwrap_or(true)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the gate never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pgid: u32 = std::fs::read_to_string(&pgid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    orx_core::run::sys::signal_pid(child.id(), orx_core::run::sys::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    orx_core::run::sys::signal_pid(child.id(), orx_core::run::sys::SIGINT);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let t1 = Instant::now();
    while orx_core::run::sys::group_alive(pgid) {
        assert!(
            t1.elapsed() < Duration::from_secs(10),
            "the gate's process group survived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_review_item_gets_a_fresh_id_when_backlog_ids_have_gaps() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]\n        - id: W003\n          title: C\n          acceptance: [y]";
    let implement = "  - write: { \"{{ item }}.txt\": x }\n";
    let sc = scenario(items, implement, "").replace(
        "review:\n  - text: \"Looks good.\\n\\nVERDICT: APPROVED\"",
        "review:\n  - attempt: 1\n    text: \"- more\\n\\nVERDICT: CHANGES_REQUESTED\"\n  - text: \"VERDICT: APPROVED\"",
    );
    let repo = repo_with(&[("f", "x")], &sc, "");
    orx_ok(&repo, &["run", "t"], 0);
    let st = repo.state(&repo.single_run());
    let ids: Vec<_> = st.items.iter().map(|i| (i.id.as_str(), i.status)).collect();
    assert_eq!(
        ids,
        [
            ("W001", ItemStatus::Passed),
            ("W003", ItemStatus::Passed),
            ("W004", ItemStatus::Passed)
        ]
    );
}

#[test]
fn a_secret_the_agent_commits_itself_never_reaches_the_branch() {
    let implement = "  - item: W001\n    attempt: 1\n    write: { a.txt: \"a\", .env: \"KEY=supersecret\" }\n    commit: true\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), "");
    orx_ok(&repo, &["run", "t"], 1);
    let id = repo.single_run();
    let history = repo.git(&["log", "-p", "--all"]);
    assert!(
        !history.contains("supersecret"),
        "the secret is in the history"
    );
    let fix = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(
        fix.contains("changed forbidden files (reverted): .env"),
        "{fix}"
    );
}

#[test]
fn an_agent_commit_is_folded_into_the_single_item_commit() {
    let implement = "  - write: { a.txt: \"a\" }\n    commit: true\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let log = repo.git(&["log", "--format=%s", &format!("main..orx/{id}")]);
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        ["orx: knowledge update", "orx: W001 Add a"]
    );
}

#[test]
fn json_output_is_only_json() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let out = orx_ok(&repo, &["run", "--json", "t"], 0);
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(v["status"], "succeeded");
}

#[test]
fn a_closed_stdout_pipe_does_not_panic() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let script = format!(
        "'{}' status {id} | head -1; '{}' run t2 | head -1",
        bin().display(),
        bin().display()
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &script]).current_dir(repo.path());
    for (k, v) in orx_testkit::GIT_ENV {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        text(&out)
    );
    // The second run was not killed by the closed pipe.
    let ids = repo.run_ids();
    let t0 = Instant::now();
    while repo.state(&ids[1]).status == RunStatus::Running {
        assert!(t0.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(repo.state(&ids[1]).status, RunStatus::Succeeded);
}

#[test]
fn detach_returns_a_real_run_id_and_refuses_a_run_that_cannot_start() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let out = orx_ok(&repo, &["run", "--detach", "Detached task"], 0);
    let id = stdout(&out).trim().to_string();
    assert!(repo.run_dir(&id).join("state.json").exists());
    let out = orx_ok(&repo, &["status", &id, "--follow"], 0);
    assert!(
        stdout(&out).contains(&format!("run {id} succeeded")),
        "{}",
        text(&out)
    );
    assert_eq!(repo.run_file(&id, "context/task.md"), "Detached task");

    let out = orx(&repo, &["run", "--detach", "--base-branch", "nope", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(repo.run_ids().len(), 1);
    let out = orx(&repo, &["run", "--run-id", "../../escape", "t"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!repo.path().parent().unwrap().join("escape").exists());
}

#[test]
fn a_missing_fix_command_is_reported_and_the_gate_decides() {
    let cfg = "gates:\n  - name: g\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"test -f a.txt\"]\n    fix: { command: orx-no-such-fixer }\n";
    let implement = "  - item: W001\n    attempt: 1\n    write: { b.txt: \"b\" }\n  - write: { a.txt: \"a\" }\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), cfg);
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert!(
        repo.run_file(&id, "logs/gate_g_W001_1.log")
            .contains("could not start the fix command `orx-no-such-fixer`")
    );
    assert_eq!(repo.state(&id).items[0].attempts, 2);
}

/// A gate that prints far past its log limit (128 MiB here, 1 GiB in CI's long campaign with
/// ORX_LOUD_GATE_BYTES=1073741824): its log keeps the first 64 MiB, a note and the last MiB, the
/// fix prompt gets the end of the output, and the run goes on.
#[test]
fn a_gate_printing_a_gigabyte_keeps_a_bounded_log_and_its_last_words() {
    let bytes: u64 = std::env::var("ORX_LOUD_GATE_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128 << 20);
    let cfg = format!(
        "gates:\n  - name: loud\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"test -f a.txt && exit 0; yes 'noise noise noise noise noise noise noise noise noise noise noise noise' | head -c {bytes}; echo; echo 'error: the last words'; exit 1\"]\n    timeout: 1200\n"
    );
    let implement = "  - item: W001\n    attempt: 1\n    write: { b.txt: \"b\" }\n  - write: { a.txt: \"a\" }\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), &cfg);
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let log = repo.run_dir(&id).join("logs/gate_loud_W001_1.log");
    let size = std::fs::metadata(&log).unwrap().len();
    let limit = orx_core::gate::LOG_LIMIT;
    assert!(
        size > limit && size <= limit + orx_core::process::LOG_TAIL as u64 + 4096,
        "gate log of {size} bytes for {bytes} bytes printed"
    );
    let text = std::fs::read(&log).unwrap();
    let tail = String::from_utf8_lossy(&text[text.len() - 4096..]);
    assert!(
        tail.contains("error: the last words\n# orx: gate `loud` failed (exit code 1) in "),
        "{tail}"
    );
    let whole = String::from_utf8_lossy(&text);
    let note = whole
        .lines()
        .find(|l| l.starts_with("[orx: this log reached its limit of 64 MiB;"))
        .expect("the note");
    // What was left out is said exactly: printed + the final lines - what the log kept.
    let left_out: u64 = note
        .split("; ")
        .nth(1)
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        left_out > bytes - limit - (2 << 20) && left_out < bytes - limit,
        "{note}"
    );
    let fix_prompt = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(fix_prompt.contains("error: the last words"), "{fix_prompt}");
    assert!(
        fix_prompt.len() < 200_000,
        "fix prompt of {} bytes",
        fix_prompt.len()
    );
    assert_eq!(repo.state(&id).items[0].attempts, 2);
}

/// A file whose name is not UTF-8 (made here by `setup`, as a tool or an agent could): it is
/// committed with its exact bytes, shown quoted in the diff, and a guardrail reverts it exactly.
#[test]
fn a_file_name_that_is_not_utf8_is_committed_or_reverted_exactly() {
    let setup = "setup:\n  - command: sh\n    args: [\"-c\", \"printf x > \\\"$(printf 'caf\\\\351.txt')\\\"\"]\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), setup);
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let tree = repo.git(&["ls-tree", "-r", "-z", "--name-only", &format!("orx/{id}")]);
    assert!(tree.split('\0').any(|p| p == "caf\u{FFFD}.txt"), "{tree:?}");
    let raw = std::process::Command::new("git")
        .args(["ls-tree", "-r", "-z", "--name-only", &format!("orx/{id}")])
        .current_dir(repo.path())
        .output()
        .unwrap()
        .stdout;
    assert!(
        raw.split(|b| *b == 0).any(|p| p == b"caf\xe9.txt"),
        "the exact bytes are committed"
    );
    assert!(
        repo.run_file(&id, "artifacts/W001.diff")
            .contains("\"b/caf\\351.txt\"")
    );

    let guarded = format!("{setup}guardrails:\n  forbidden_patterns: [\"caf*\"]\n");
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), &guarded);
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    // Attempt 1 is refused and the file reverted for real, so attempt 2 passes.
    assert_eq!(repo.state(&id).items[0].attempts, 2);
    let tree = repo.git(&["ls-tree", "-r", "--name-only", &format!("orx/{id}")]);
    assert!(
        tree.lines().any(|p| p == "a.txt") && !tree.contains("caf"),
        "{tree}"
    );
}

/// orx started by a parent that ignores SIGCHLD (the setting passes through exec, and the kernel
/// then reaps children itself, so no exit status can be read): orx puts SIGCHLD back to its
/// default and the run succeeds with its gate's real verdict.
#[test]
fn a_run_started_with_sigchld_ignored_still_reads_every_exit_status() {
    let cfg = "gates:\n  - name: g\n    command: sh\n    args: [\"-c\", \"test -f a.txt\"]\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    let out = repo
        // bash passes an ignored signal on through exec (dash does not).
        .orx(std::path::Path::new("bash"))
        .args(["-c", "trap '' CHLD; exec \"$0\" run t"])
        .arg(bin())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
    assert_eq!(repo.state(&id).items[0].attempts, 1);
}

/// A secret from the environment printed by a gate's fix command, and written into the gate's own
/// command line, is masked in the gate log (the fix command's output used to be logged raw).
#[test]
fn secrets_printed_by_a_gate_fix_command_are_masked_in_the_gate_log() {
    let secret = "tok-5f3a9c0e7b21d4";
    let cfg = format!(
        "gates:\n  - name: g\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"test -f fixed && exit 0; echo gate {secret}; exit 1\"]\n    fix: {{ command: sh, args: [\"-c\", \"echo fix sees $ORX_TEST_SERVICE_TOKEN; touch fixed\"] }}\n"
    );
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), &cfg);
    let out = repo
        .orx(bin())
        .env("ORX_TEST_SERVICE_TOKEN", secret)
        .args(["run", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let id = repo.single_run();
    let log = repo.run_file(&id, "logs/gate_g_W001_1.log");
    assert!(log.contains("fix sees ***"), "{log}");
    assert!(log.contains("gate ***"), "{log}");
    assert!(!log.contains(secret), "{log}");
}

/// A gate log reads on its own: the command as a shell would take it back, and how it ended.
#[test]
fn a_gate_log_shows_the_quoted_command_and_how_the_gate_ended() {
    let cfg = "run:\n  max_fix_attempts: 2\ngates:\n  - name: g\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"test -f done.txt && exit 0; echo 'not yet'; exit 3\"]\n";
    let implement = "  - item: W001\n    attempt: 1\n    write: { b.txt: \"b\" }\n  - write: { done.txt: \"a\" }\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), cfg);
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let first = repo.run_file(&id, "logs/gate_g_W001_1.log");
    assert!(
        first.starts_with("$ sh -c 'test -f done.txt && exit 0; echo '\\''not yet'\\''; exit 3'\n"),
        "{first}"
    );
    assert!(
        first.contains("not yet\n# orx: gate `g` failed (exit code 3) in "),
        "{first}"
    );
    let second = repo.run_file(&id, "logs/gate_g_W001_2.log");
    assert!(
        second.contains("# orx: gate `g` passed (exit code 0) in "),
        "{second}"
    );
}
