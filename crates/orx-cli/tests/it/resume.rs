//! Interrupt and resume (basic: the full fault-injection suite is a separate issue).

use std::time::{Duration, Instant};

use orx_core::run::{ItemStatus, RunStatus};
use orx_testkit::text;

use crate::{bin, orx_ok, repo_with, scenario, stdout};

#[test]
fn a_double_ctrl_c_stops_at_once_and_the_run_reads_cancelled_too() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement =
        "  - when_env: ORX_TEST_LINGER\n    linger_secs: 120\n  - write: { a.txt: x }\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), "");
    let (child, id) = crate::start_until_an_attempt(&repo, &[("ORX_TEST_LINGER", "1")], true);
    std::thread::sleep(Duration::from_millis(300));
    orx_core::run::sys::signal_pid(child.id(), orx_core::run::sys::SIGINT);
    orx_core::run::sys::signal_pid(child.id(), orx_core::run::sys::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert_eq!(
        repo.state(&id).status,
        RunStatus::Cancelled,
        "{}",
        text(&out)
    );
    let status = orx_ok(&repo, &["status"], 0);
    assert!(stdout(&status).contains("cancelled"), "{}", text(&status));
    assert!(
        !stdout(&status).contains("interrupted"),
        "{}",
        text(&status)
    );
}

#[test]
fn ctrl_c_during_an_agent_checkpoints_and_resume_finishes_the_run() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    // The first run's agent lingers (a child with a grandchild) so it can be interrupted.
    let implement =
        "  - when_env: ORX_TEST_LINGER\n    linger_secs: 120\n  - write: { a.txt: x }\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), "");
    let (child, id) = crate::start_until_an_attempt(&repo, &[("ORX_TEST_LINGER", "1")], true);
    std::thread::sleep(Duration::from_millis(300));
    // Ctrl-C.
    orx_core::run::sys::signal_pid(child.id(), orx_core::run::sys::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("resume:   orx resume {id}")),
        "{}",
        text(&out)
    );
    // One word for the cause, wherever it is read: the terminal, the event log, the state.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("run {id} cancelled")),
        "{}",
        text(&out)
    );
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Cancelled);
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Pending, 1),
        "the stopped item is not left running"
    );
    assert_eq!(st.current_stage.as_deref(), Some("implement"));
    assert!(
        repo.run_file(&id, "events.jsonl")
            .contains("run cancelled; resumable")
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
    // The agent was stopped before it changed anything: the same attempt ran again.
    assert_eq!(
        (st.items[0].status, st.items[0].attempts),
        (ItemStatus::Passed, 1)
    );
    // plan and spec ran once: the resume did not ask the agent again.
    assert_eq!(st.stage("plan").unwrap().attempts, 1);
    assert_eq!(
        repo.run_file(&id, "events.jsonl")
            .matches("\"plan: the agent answered\"")
            .count(),
        1
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
        "run:\n  max_fix_attempts: 2\ngates:\n  - name: env\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"test -f {flag_path}\"]\n"
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

/// The scenario and gates of the crash tests: two items, W001 needs one fix (the gate checks the
/// content), W002 depends on W001. A gate kills its parent orx once when KILL_MARK names a
/// missing file: a crash "during a gate".
fn crash_repo() -> orx_testkit::TestRepo {
    let items = "        - id: W001\n          title: Add a\n          acceptance: [a.txt says good]\n        - id: W002\n          title: Add b\n          acceptance: [b.txt exists]\n          depends_on: [W001]";
    let implement = "  - item: W001\n    attempt: 1\n    write: { a.txt: \"bad\\n\" }\n  - item: W002\n    write: { b/b.txt: \"b\\n\" }\nfix:\n  - item: W001\n    write: { a.txt: \"good\\n\" }\n";
    let gates = r#"gates:
  - name: check
    command: sh
    args: ["-c", "if [ -n \"$KILL_MARK\" ] && [ ! -f \"$KILL_MARK\" ]; then touch \"$KILL_MARK\"; kill -9 $PPID; sleep 5; fi; grep -q good a.txt"]
"#;
    repo_with(
        &[("README.md", "# r\n")],
        &scenario(items, implement, ""),
        gates,
    )
}

fn outcome(repo: &orx_testkit::TestRepo, id: &str) -> (String, Vec<(String, ItemStatus)>) {
    // Each repository's orx.yaml names its own temporary scenario path, so the trees are compared
    // through what the run changed on top of its base.
    let tree = repo.git(&["diff", "--binary", "main", &format!("orx/{id}")]);
    let items = repo
        .state(id)
        .items
        .into_iter()
        .map(|i| (i.id, i.status))
        .collect();
    (tree, items)
}

#[test]
fn a_sigkill_inside_any_stage_resumes_to_the_same_branch_tree_and_backlog() {
    let base = crash_repo();
    orx_ok(&base, &["run", "Add a and b"], 0);
    let expected = outcome(&base, &base.single_run());
    assert_eq!(
        expected.1,
        [
            ("W001".to_string(), ItemStatus::Passed),
            ("W002".to_string(), ItemStatus::Passed)
        ]
    );

    let points = [
        "setup:after_worktree",
        "plan:before_save",
        "plan:after_save",
        "spec:after_save",
        "decompose:before_save",
        "decompose:after_save",
        "implement:W001:before_verify",
        "implement:W002:before_commit",
        "gate",
        "review:before_save",
        "ship:after_commit",
        "knowledge_update:after_agent",
    ];
    for point in points {
        let repo = crash_repo();
        let mark = repo.aux.path().join("killed");
        let mut cmd = repo.orx(bin());
        cmd.args(["run", "Add a and b"]);
        if point == "gate" {
            cmd.env("KILL_MARK", &mark);
        } else {
            cmd.env("ORX_FAULT", point);
        }
        let out = cmd.output().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{point}: orx was not killed\n{}",
            text(&out)
        );
        let id = repo.single_run();
        if point == "setup:after_worktree" {
            // As a `git worktree add` killed in its checkout leaves it: half made.
            let wt = repo.path().join(".worktrees").join(&id);
            std::fs::remove_file(wt.join(".git")).unwrap();
            std::fs::remove_file(wt.join("README.md")).unwrap();
        }
        // Every JSON file of the run folder is still valid after the crash.
        serde_json::from_str::<serde_json::Value>(&repo.run_file(&id, "state.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&repo.run_file(&id, "meta.json")).unwrap();
        for l in repo.run_file(&id, "events.jsonl").lines() {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("{point}: bad event line {l:?}: {e}"));
        }
        let status = orx_ok(&repo, &["status"], 0);
        assert!(
            String::from_utf8_lossy(&status.stdout).contains("interrupted"),
            "{point}: {}",
            text(&status)
        );
        let out = orx_ok(&repo, &["resume", &id], 0);
        assert_eq!(
            outcome(&repo, &id),
            expected,
            "{point}: resume diverged\n{}",
            text(&out)
        );
        let st = repo.state(&id);
        assert_eq!(st.status, RunStatus::Succeeded, "{point}");
        // Nothing ran twice that was finished: plan ran once unless it was the interrupted stage.
        if point != "plan:before_save" && point != "plan:after_save" {
            assert_eq!(st.stage("plan").unwrap().attempts, 1, "{point}");
        }
        // One commit per item plus the knowledge commit, whatever the crash.
        let log = repo.git(&["log", "--format=%s", &format!("main..orx/{id}")]);
        assert_eq!(
            log.lines().collect::<Vec<_>>(),
            [
                "orx: knowledge update",
                "orx: W002 Add b",
                "orx: W001 Add a"
            ],
            "{point}"
        );
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cancel_stops_the_run_and_leaves_no_process_of_the_agent_group() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement =
        "  - when_env: ORX_TEST_LINGER\n    linger_secs: 300\n  - write: { a.txt: x }\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), "");
    let mut child = repo
        .orx(bin())
        .env("ORX_TEST_LINGER", "1")
        .args(["run", "t"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pgid_file = || {
        repo.run_ids()
            .first()
            .map(|id| repo.run_dir(id).join("logs/agent_implement_W001_1.pgid"))
    };
    wait_for("the lingering agent", || {
        pgid_file().is_some_and(|p| std::fs::read_to_string(p).is_ok_and(|t| t.ends_with('\n')))
    });
    let id = repo.single_run();
    let pgid: u32 = std::fs::read_to_string(pgid_file().unwrap())
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        orx_core::run::sys::group_alive(pgid),
        "the agent's group should be running"
    );

    // A second driver is refused while the first one runs.
    let out = crate::orx(&repo, &["resume", &id]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already being driven by process"),
        "{}",
        text(&out)
    );

    let out = orx_ok(&repo, &["cancel", &id], 0);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cancelled"),
        "{}",
        text(&out)
    );
    assert_eq!(child.wait().unwrap().code(), Some(130));
    wait_for("the agent's process group to be empty", || {
        !orx_core::run::sys::group_alive(pgid)
    });
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Cancelled);
    assert!(
        !repo.run_dir(&id).join("orx.lock").exists(),
        "the lock is released"
    );
    // Resumable: the second attempt writes the file and the run completes.
    orx_ok(&repo, &["resume", &id], 0);
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
}

/// Load: eight runs in one repository at once complete without git lock failures.
#[test]
fn eight_runs_in_one_repository_at_the_same_time_all_complete() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]\n        - id: W002\n          title: B\n          acceptance: [y]";
    let implement = "  - write: { \"{{ item }}.txt\": x }\n    sleep_ms: 100\n";
    let repo = repo_with(
        &[("f", "x")],
        &scenario(items, implement, ""),
        "gates:\n  - name: ok\n    command: \"true\"\n",
    );
    let mut procs: Vec<_> = (0..8)
        .map(|i| {
            repo.orx(bin())
                .args(["-q", "run", &format!("parallel {i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for p in procs.drain(..) {
        let out = p.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let ids = repo.run_ids();
    assert_eq!(ids.len(), 8);
    for id in ids {
        assert_eq!(repo.state(&id).status, RunStatus::Succeeded, "{id}");
        let log = repo.git(&["log", "--format=%s", &format!("main..orx/{id}")]);
        assert_eq!(log.lines().count(), 3, "{id}: {log}");
    }
}

/// A small seeded generator (xorshift64*), so a campaign is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// What a finished run left: the branch diff, the items, and the metrics that must not depend on
/// whether the run was interrupted.
fn full_outcome(
    repo: &orx_testkit::TestRepo,
    id: &str,
) -> (String, Vec<(String, ItemStatus)>, String) {
    let (tree, items) = outcome(repo, id);
    let m: serde_json::Value =
        serde_json::from_str(&repo.run_file(id, "metrics/run.json")).unwrap();
    let metrics = format!(
        "status={} items_done={} items_failed={}",
        m["status"], m["items_done"], m["items_failed"]
    );
    (tree, items, metrics)
}

/// Every .json file parses and every line of every .jsonl file parses.
fn assert_run_files_parse(repo: &orx_testkit::TestRepo, id: &str, when: &str) {
    fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo.run_dir(id), &mut files);
    for f in files {
        let name = f.display().to_string();
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        if name.ends_with(".json") {
            serde_json::from_str::<serde_json::Value>(&text)
                .unwrap_or_else(|e| panic!("{when}: {name} does not parse: {e}"));
        } else if name.ends_with(".jsonl") && !name.contains("/logs/") {
            // A writer killed mid-`write` may leave its last line torn (no newline yet): readers
            // read whole lines only, and the next driver drops it. Every whole line parses.
            let whole = match text.rfind('\n') {
                Some(i) => &text[..=i],
                None => "",
            };
            for l in whole.lines() {
                serde_json::from_str::<serde_json::Value>(l)
                    .unwrap_or_else(|e| panic!("{when}: {name}: bad line {l:?}: {e}"));
            }
        }
    }
}

/// Crash anywhere: SIGKILL at seeded random instants spread over the whole run, then two
/// `orx resume` at once, themselves SIGKILLed at a random instant, then a last resume; the result
/// equals an uninterrupted run's, and never do both resumers drive. `ORX_CRASH_INSTANTS` (default 12, the CI set) and
/// `ORX_CRASH_SEED` (default 1) choose the campaign; `scripts/crash-campaign.sh` runs 100+.
#[test]
fn a_sigkill_at_random_instants_resumes_to_the_same_result() {
    let count: u64 = std::env::var("ORX_CRASH_INSTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seed: u64 = std::env::var("ORX_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    // The run's length is the median of three uninterrupted runs (one can be slow on a busy
    // machine, and the instants are spread over it).
    let mut spans = Vec::new();
    let mut expected = None;
    for _ in 0..3 {
        let base = crash_repo();
        let t = Instant::now();
        orx_ok(&base, &["run", "Add a and b"], 0);
        spans.push(t.elapsed().as_millis() as u64);
        let outcome = full_outcome(&base, &base.single_run());
        assert_eq!(expected.get_or_insert_with(|| outcome.clone()), &outcome);
    }
    spans.sort_unstable();
    // Adjusted as the campaign goes: a run that ended before its instant shows the machine is
    // faster now than when the span was measured (the suite's load comes and goes).
    let mut span = spans[1];
    let expected = expected.unwrap();
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let (mut killed, mut before_start, mut finished) = (0, 0, 0);
    let (mut resumes_killed, mut both_ended) = (0, 0);
    for i in 0..count {
        // Stratified: instant i falls in the i-th slice of the run, at a random point of it.
        let slice = span * 11 / 10 / count.max(1);
        let at = i * slice + rng.next() % slice.max(1);
        let when = format!("seed {seed}, instant {i} at {at} ms of {span}");
        let repo = crash_repo();
        let mut child = repo
            .orx(bin())
            .args(["run", "Add a and b"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(at));
        let done_before = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        let ids = repo.run_ids();
        let id = match ids.as_slice() {
            [] => {
                // Killed before the run existed: nothing to resume; a new run starts cleanly.
                before_start += 1;
                orx_ok(&repo, &["run", "Add a and b"], 0);
                repo.single_run()
            }
            [id] => id.clone(),
            more => panic!("{when}: {} runs", more.len()),
        };
        assert_run_files_parse(&repo, &id, &when);
        if done_before {
            finished += 1;
            span = span * 4 / 5;
        } else if repo.state(&id).status != RunStatus::Succeeded {
            killed += 1;
            // Two resumers at once, both SIGKILLed at a random instant of their work (or left
            // to end first); exactly one may drive. Then one last resume finishes the run.
            let said = |k: usize| repo.aux.path().join(format!("resumer{k}.txt"));
            let spawn = |k: usize| {
                let f = std::fs::File::create(said(k)).unwrap();
                repo.orx(bin())
                    .args(["resume", &id])
                    .stdout(f.try_clone().unwrap())
                    .stderr(f)
                    .spawn()
                    .unwrap()
            };
            let mut pair = [spawn(0), spawn(1)];
            std::thread::sleep(Duration::from_millis(rng.next() % (span * 12 / 10).max(1)));
            let mut ended = Vec::new();
            for c in &mut pair {
                match c.try_wait().unwrap() {
                    Some(status) => ended.push(status.code()),
                    None => {
                        let _ = c.kill();
                        let _ = c.wait();
                        resumes_killed += 1;
                    }
                }
            }
            let drove = ended.iter().filter(|c| **c == Some(0)).count();
            let outputs = || {
                (0..2)
                    .map(|k| std::fs::read_to_string(said(k)).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n---\n")
            };
            assert!(
                drove <= 1,
                "{when}: both resumers drove the run: {ended:?}\n{}",
                outputs()
            );
            if ended.len() == 2 {
                both_ended += 1;
                assert_eq!(drove, 1, "{when}: {ended:?}\n{}", outputs());
                assert!(ended.contains(&Some(2)), "{when}: {ended:?}\n{}", outputs());
            }
            assert_run_files_parse(&repo, &id, &when);
            if repo.state(&id).status != RunStatus::Succeeded {
                let out = repo.orx(bin()).args(["resume", &id]).output().unwrap();
                assert_eq!(out.status.code(), Some(0), "{when}: resume\n{}", text(&out));
            }
        }
        assert_run_files_parse(&repo, &id, &when);
        assert_eq!(full_outcome(&repo, &id), expected, "{when}");
    }
    println!(
        "crash campaign: seed {seed}, {count} instants over {span} ms: {killed} resumed, \
         {before_start} before the run existed, {finished} after it ended; two resumers at \
         once each time: {resumes_killed} resumes killed in turn, {both_ended} pairs ended by \
         themselves with exactly one driving"
    );
    assert!(
        killed * 2 >= count,
        "most instants must land inside the run"
    );
}

/// No orphans: an agent that leaves grandchildren (`sh` with a background `sleep`) is stopped by a
/// timeout or by a cancel, `ORX_ORPHAN_ROUNDS` times (default 50, alternating, four at a time);
/// after each, no process of the agent's group remains.
#[test]
fn fifty_cancels_and_timeouts_leave_no_process_of_the_agents_group() {
    let rounds: usize = std::env::var("ORX_ORPHAN_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement =
        "  - item: W001\n    attempt: 1\n    linger_secs: 300\nfix:\n  - write: { a.txt: x }\n";
    let round = move |i: usize| {
        let timeout = i.is_multiple_of(2);
        let cfg = if timeout {
            "stages:\n  implement:\n    timeout: 1\n"
        } else {
            ""
        };
        let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), cfg);
        let mut child = repo
            .orx(bin())
            .args(["run", "t"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pgid_file = || {
            repo.run_ids()
                .first()
                .map(|id| repo.run_dir(id).join("logs/agent_implement_W001_1.pgid"))
        };
        wait_for("the lingering agent", || {
            pgid_file().is_some_and(|p| std::fs::read_to_string(p).is_ok_and(|t| t.ends_with('\n')))
        });
        let pgid: u32 = std::fs::read_to_string(pgid_file().unwrap())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let code = if timeout {
            child.wait().unwrap().code()
        } else {
            std::process::Command::new("kill")
                .args(["-s", "TERM", &child.id().to_string()])
                .status()
                .unwrap();
            child.wait().unwrap().code()
        };
        let expected = if timeout { Some(0) } else { Some(130) };
        assert_eq!(code, expected, "round {i} (timeout: {timeout})");
        wait_for("the agent's process group to be empty", || {
            !orx_core::run::sys::group_alive(pgid)
        });
    };
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in (t..rounds).step_by(4) {
                    round(i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// A run started with `--config other.yaml` resumes with other.yaml (recorded in meta.json), not
/// with the repository's orx.yaml, whose scenario would write another file.
#[test]
fn a_run_started_with_another_config_resumes_with_it() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    // The repository's orx.yaml: its agent writes a.txt, no gate.
    let repo = repo_with(
        &[("f", "x")],
        &scenario(items, "  - write: { a.txt: x }\n", ""),
        "",
    );
    // The other config: its agent writes b.txt; its gate passes once `go` exists.
    let go = repo.aux.path().join("go");
    let other_scenario = repo.aux_file(
        "other.yaml",
        &scenario(items, "  - write: { b.txt: x }\n", ""),
    );
    let other = repo.aux_file(
        "other-orx.yaml",
        &format!(
            "engine:\n  type: fake\nexecutors:\n  fake:\n    scenario: {}\nrun:\n  max_fix_attempts: 1\ngates:\n  - name: go\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"test -f {}\"]\n",
            other_scenario.display(),
            go.display()
        ),
    );
    let other = other.display().to_string();
    orx_ok(&repo, &["--config", &other, "run", "t"], 1);
    let id = repo.single_run();
    std::fs::write(&go, "").unwrap();
    let out = orx_ok(&repo, &["resume", &id], 0);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("resuming with the run's config"),
        "{}",
        text(&out)
    );
    let tree = repo.git(&["ls-tree", "-r", "--name-only", &format!("orx/{id}")]);
    assert!(tree.lines().any(|l| l == "b.txt"), "{tree}");
    assert!(
        !tree.lines().any(|l| l == "a.txt"),
        "the repository's scenario ran: {tree}"
    );
    // Gone: the repository's config is used, and orx says so.
    std::fs::remove_file(&other).unwrap();
    let out = orx_ok(&repo, &["resume", &id, "--from", "review"], 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("which is gone"),
        "{}",
        text(&out)
    );
}

/// SIGKILL while a person's decision is carried out: `orx approve` of a run waiting for
/// approval (after plan) or for its budget (before its first call), killed at seeded instants
/// of its work. Nothing is lost: every file parses, and `orx approve` (while the run still
/// waits) or `orx resume` (once the decision was recorded) ends it as an uninterrupted approve
/// does, the approval not asked again.
#[test]
fn a_sigkill_while_approving_loses_nothing() {
    let waiting_repo = |budget: bool| {
        let repo = crash_repo();
        let extra = if budget {
            "budget:\n  run_tokens: 1\n"
        } else {
            "approvals: [plan]\n"
        };
        let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap() + extra;
        repo.write("orx.yaml", &cfg);
        repo.git(&["commit", "-qam", "waits"]);
        orx_ok(&repo, &["run", "Add a and b"], 3);
        repo
    };
    let approve_args = |budget: bool, id: &str| -> Vec<String> {
        let mut a = vec!["approve".to_string(), id.to_string()];
        if budget {
            a.extend(["--add-tokens".into(), "100000000".into()]);
        }
        a
    };
    let mut expected = Vec::new();
    let mut spans = Vec::new();
    for budget in [false, true] {
        let repo = waiting_repo(budget);
        let id = repo.single_run();
        let t = Instant::now();
        orx_ok(
            &repo,
            &approve_args(budget, &id)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            0,
        );
        spans.push(t.elapsed().as_millis() as u64);
        let outcome = full_outcome(&repo, &id);
        expected.push(outcome);
    }
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    // Two rounds die exactly after the resume's first checkpoint (where a raise was once lost),
    // then seeded instants.
    let count = 10u64;
    let (mut killed, mut again, mut resumed) = (0, 0, 0);
    for i in 0..count {
        let budget = i % 2 == 1;
        let span = spans[usize::from(budget)];
        let at = if i < 2 {
            span * 10
        } else {
            rng.next() % (span * 11 / 10).max(1)
        };
        let when = if i < 2 {
            format!("round {i}, killed after the resume's first checkpoint (budget: {budget})")
        } else {
            format!("instant {i} at {at} ms of {span} (budget: {budget})")
        };
        let repo = waiting_repo(budget);
        let id = repo.single_run();
        let mut cmd = repo.orx(bin());
        if i < 2 {
            cmd.env("ORX_FAULT", "resume:after_checkpoint");
        }
        let mut child = cmd
            .args(approve_args(budget, &id))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if i < 2 {
            let _ = child.wait();
        }
        std::thread::sleep(Duration::from_millis(if i < 2 { 0 } else { at }));
        if i < 2 || child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_run_files_parse(&repo, &id, &when);
        let st = repo.state(&id);
        if st.status == RunStatus::Waiting {
            again += 1;
            let out = repo
                .orx(bin())
                .args(approve_args(budget, &id))
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{when}: approve again\n{}",
                text(&out)
            );
        } else if st.status != RunStatus::Succeeded {
            resumed += 1;
            let before = repo.run_file(&id, "state.json");
            let out = repo.orx(bin()).args(["resume", &id]).output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{when}: resume\n{}\nstate before: {before}",
                text(&out)
            );
        }
        assert_run_files_parse(&repo, &id, &when);
        assert_eq!(
            full_outcome(&repo, &id),
            expected[usize::from(budget)],
            "{when}"
        );
        if !budget {
            assert_eq!(repo.state(&id).approved, ["plan"], "{when}");
        }
    }
    println!(
        "approve killed: {count} instants, {killed} inside its work; {again} approved again while \
         still waiting, {resumed} resumed after the decision was recorded"
    );
    assert!(
        killed * 2 >= count,
        "most instants must land inside the approve"
    );
}
