//! Attacks on orx's safety (RELIABILITY.md, "Attacks"): each test pins one attack that once
//! got through.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use orx_core::run::RunStatus;
use orx_testkit::{TestRepo, text};

use crate::{ONE_ITEM, bin, orx_ok, repo_with, scenario};

/// Every file of the user's checkout (the working tree without orx's folders, plus the main
/// repository's index, HEAD and branch heads), with a hash of its bytes.
fn checkout_hashes(repo: &TestRepo) -> BTreeMap<String, u64> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, u64>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if ["runs", ".worktrees", ".git"].contains(&rel.as_str()) {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, hash(&std::fs::read(&p).unwrap()));
            }
        }
    }
    fn hash(bytes: &[u8]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    }
    let mut out = BTreeMap::new();
    walk(repo.path(), repo.path(), &mut out);
    for f in [".git/index", ".git/HEAD"] {
        out.insert(f.into(), hash(&std::fs::read(repo.path().join(f)).unwrap()));
    }
    let heads = repo.git(&["for-each-ref", "refs/heads/main", "--format=%(objectname)"]);
    out.insert("refs/heads/main".into(), hash(heads.as_bytes()));
    out
}

/// A repository whose user has work in progress: an edited tracked file and an untracked
/// `.env`, neither committed.
fn repo_with_work_in_progress(scenario: &str, config: &str) -> TestRepo {
    let repo = repo_with(&[("app.py", "print('v1')\n")], scenario, config);
    repo.write("app.py", "print('v2, not committed yet')\n");
    repo.write(".env", "API_TOKEN=do-not-lose-me\n");
    repo
}

#[test]
fn an_agent_that_deletes_the_worktrees_git_file_cannot_make_orx_touch_the_users_checkout() {
    let implement = "  - when_env: ORX_TEST_ATTACK\n    write: { a.txt: \"a\\n\" }\n    delete: [\".git\"]\n  - write: { a.txt: \"a\\n\" }\n";
    let repo = repo_with_work_in_progress(&scenario(ONE_ITEM, implement, ""), "");
    let before = checkout_hashes(&repo);
    let main_before = repo.git(&["rev-parse", "main"]);
    let out = repo
        .orx(bin())
        .env("ORX_TEST_ATTACK", "1")
        .args(["run", "t"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = repo.single_run();
    assert_eq!(checkout_hashes(&repo), before, "{}", text(&out));
    assert_eq!(repo.git(&["rev-parse", "main"]), main_before);
    assert_eq!(repo.state(&id).status, RunStatus::Failed);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("no longer a git worktree") && all.contains(".git"),
        "{all}"
    );
    // Nothing of the user's was committed anywhere.
    let history = repo.git(&["log", "--all", "-p"]);
    assert!(!history.contains("do-not-lose-me"), "{history}");
    assert!(!history.contains("not committed yet"), "{history}");
    // The run stays resumable: the worktree's .git file is put back and the run finishes.
    let out = orx_ok(&repo, &["resume", &id], 0);
    assert_eq!(checkout_hashes(&repo), before, "{}", text(&out));
    assert!(
        repo.run_file(&id, "events.jsonl")
            .contains("its .git file was put back"),
        "{}",
        text(&out)
    );
    let files = repo.git(&["ls-tree", "-r", "--name-only", &format!("orx/{id}")]);
    assert!(files.contains("a.txt"), "{files}");
}

#[test]
fn a_worktree_folder_removed_mid_run_cannot_make_orx_touch_the_users_checkout() {
    // The agent lingers until the test has removed the worktree under it.
    let implement = "  - sleep_ms: 1500\n    write: { a.txt: \"a\\n\" }\n";
    let repo = repo_with_work_in_progress(&scenario(ONE_ITEM, implement, ""), "");
    let before = checkout_hashes(&repo);
    let child = repo
        .orx(bin())
        .args(["run", "t"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let id = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the run never reached implement"
        );
        if let Some(id) = repo.run_ids().first().cloned()
            && std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl"))
                .is_ok_and(|t| t.contains("\"attempt.started\""))
        {
            break id;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::fs::remove_dir_all(repo.path().join(".worktrees").join(&id)).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(checkout_hashes(&repo), before, "{}", text(&out));
    let history = repo.git(&["log", "--all", "-p"]);
    assert!(!history.contains("do-not-lose-me"), "{history}");
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Failed);
    let failure = st.last_failure.unwrap();
    assert_eq!(
        failure.category,
        orx_core::protocol::FailureCategory::WorktreeLost,
        "{failure:?}"
    );
    assert!(
        failure.message.contains("no longer a git worktree"),
        "{failure:?}"
    );
    // Another clean prunes git's record of the broken worktree; resume then recreates it from the
    // run branch, keeping what the agent left in a folder aside.
    repo.git(&["worktree", "prune"]);
    let out = orx_ok(&repo, &["resume", &id], 0);
    assert_eq!(checkout_hashes(&repo), before, "{}", text(&out));
    let events = repo.run_file(&id, "events.jsonl");
    assert!(events.contains("was moved to"), "{events}");
}

#[test]
fn a_nested_repository_the_agent_makes_is_a_guardrail_violation_and_loses_its_git_folder() {
    // A folder that git takes for a repository without a commit (it stops `git add -A`).
    let implement = "  - item: W001\n    attempt: 1\n    write:\n      a.txt: \"a\\n\"\n      vendor/lib/f.py: \"x = 1\\n\"\n      vendor/lib/.git/HEAD: \"ref: refs/heads/main\\n\"\n      vendor/lib/.git/objects/keep: \"\"\n      vendor/lib/.git/refs/heads/keep: \"\"\nfix:\n  - write: { a.txt: \"a\\n\" }\n";
    let repo = repo_with_work_in_progress(&scenario(ONE_ITEM, implement, ""), "");
    let before = checkout_hashes(&repo);
    let out = orx_ok(&repo, &["run", "t"], 0);
    assert_eq!(checkout_hashes(&repo), before, "{}", text(&out));
    let id = repo.single_run();
    let fix = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(fix.contains("nested repository"), "{fix}");
    assert!(fix.contains("vendor/lib"), "{fix}");
    let wt = repo.path().join(".worktrees").join(&id);
    assert!(!wt.join("vendor/lib/.git").exists());
    // What is left of the folder is plain files, committed as such.
    let files = repo.git(&["ls-tree", "-r", "--name-only", &format!("orx/{id}")]);
    assert!(files.contains("vendor/lib/f.py"), "{files}");
    assert!(!files.contains(".git/"), "{files}");
}

fn stderr_of(repo: &TestRepo, args: &[&str], code: i32) -> String {
    let out = crate::orx(repo, args);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    orx_testkit::normalize(&String::from_utf8_lossy(&out.stderr), repo.path())
}

#[test]
fn hostile_inputs_are_refused_before_anything_is_made_with_a_message_that_names_the_fix() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, crate::WRITE_A, ""), "");
    let mut all = String::new();
    // A run id whose branch exists already (foreign commits would join the run's diff).
    repo.git(&["branch", "orx/20261130_070000_0badcafe"]);
    all += &format!(
        "## a new run on an existing branch\n{}\n",
        stderr_of(
            &repo,
            &["run", "--run-id", "20261130_070000_0badcafe", "t"],
            2
        )
    );
    assert!(repo.run_ids().is_empty());
    // A 10 MB orx.yaml: refused before it is parsed.
    let big = format!("engine:\n  type: fake\n{}", "# padding\n".repeat(1_000_000));
    repo.write("orx.yaml", &big);
    all += &format!(
        "## a 10 MB orx.yaml\n{}\n",
        stderr_of(&repo, &["run", "--dry-run", "t"], 2)
    );
    insta::assert_snapshot!(all, @"
    ## a new run on an existing branch
    error: the branch orx/[RUN_ID] already exists, so run [RUN_ID] cannot start on it
      hint: leave --run-id out to get a new run id, or delete the branch first (git branch -D orx/[RUN_ID])

    ## a 10 MB orx.yaml
    error: [REPO]/orx.yaml: the config file is too large: 10000021 bytes, more than the 1 MiB orx reads
      hint: orx.yaml holds settings only; remove what does not belong there (a pasted log or data file?)
    ");
}

#[test]
fn terminal_escapes_an_agent_writes_never_reach_the_terminal() {
    // The backlog's YAML turns \e and \a into ESC and BEL: a title that would retitle and clear
    // the terminal.
    let items = "        - id: W001\n          title: \"Evil \\e]0;pwned\\a\\e[2J\\e[Htitle\\r\"\n          acceptance: [x]";
    let repo = repo_with(&[("f", "x")], &scenario(items, crate::WRITE_A, ""), "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    assert!(
        repo.state(&id).items[0].title.contains('\u{1b}'),
        "the title keeps its data"
    );
    for args in [vec!["status", &id], vec!["logs", &id], vec!["status"]] {
        let out = orx_ok(&repo, &args, 0);
        let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        let shown = String::from_utf8_lossy(&all);
        assert!(
            !all.iter().any(|b| *b == 0x1b || *b == 0x07 || *b == b'\r'),
            "{args:?}: {shown:?}"
        );
        if args.len() == 2 && args[0] == "status" {
            assert!(shown.contains("Evil title"), "{shown}");
        }
    }
}

/// Makes run `id` look crashed in its plan stage: status running, the stage interrupted, and a
/// lock left by a driver that is gone (a pid no process has).
fn crash_in_plan(repo: &TestRepo, id: &str) {
    let dir = repo.run_dir(id);
    let mut st: serde_json::Value = serde_json::from_str(&repo.run_file(id, "state.json")).unwrap();
    st["status"] = "running".into();
    st["current_stage"] = "plan".into();
    for s in st["stages"].as_array_mut().unwrap() {
        s["status"] = "pending".into();
    }
    st["stages"][0]["status"] = "running".into();
    std::fs::write(dir.join("state.json"), st.to_string()).unwrap();
    std::fs::write(
        dir.join("orx.lock"),
        r#"{"pid":4194302,"started_at":"2026-11-30T00:00:00Z"}"#,
    )
    .unwrap();
}

/// Two `orx resume` of one crashed run started at the same instant, `ORX_RESUME_RACE_ROUNDS`
/// times (default 200): in every round exactly one drives the run; the other says who does (or
/// that the run already succeeded) and exits 2.
#[test]
fn two_resumes_of_a_crashed_run_never_both_drive_it() {
    let rounds: usize = std::env::var("ORX_RESUME_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, crate::WRITE_A, ""), "");
    orx_ok(&repo, &["run", "--pipeline", "plan_only", "t"], 0);
    let id = repo.single_run();
    let (mut locked, mut after) = (0, 0);
    for round in 0..rounds {
        crash_in_plan(&repo, &id);
        let events_before = repo
            .run_file(&id, "events.jsonl")
            .matches("\"run.resumed\"")
            .count();
        let spawn = || {
            repo.orx(bin())
                .args(["resume", &id])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
        let all: String = outs.iter().map(text).collect();
        let drove = codes.iter().filter(|c| **c == Some(0)).count();
        assert_eq!(drove, 1, "round {round}: {all}");
        let other = outs.iter().find(|o| o.status.code() != Some(0)).unwrap();
        assert_eq!(other.status.code(), Some(2), "round {round}: {all}");
        let said = String::from_utf8_lossy(&other.stderr);
        if said.contains("is already being driven by process") {
            locked += 1;
        } else if said.contains("already succeeded") {
            after += 1;
        } else {
            panic!("round {round}: {all}");
        }
        let resumed = repo
            .run_file(&id, "events.jsonl")
            .matches("\"run.resumed\"")
            .count();
        assert_eq!(resumed, events_before + 1, "round {round}: {all}");
        assert_eq!(
            repo.state(&id).status,
            RunStatus::Succeeded,
            "round {round}"
        );
    }
    println!(
        "resume race: {rounds} rounds; the second resumer found the lock held {locked} times \
         and the run already finished {after} times"
    );
}

/// `orx clean all --force` in a loop while runs start one after another: a run that is starting
/// (its folder visible, its driver live) is never removed under it.
#[test]
fn clean_all_never_removes_a_run_that_is_starting() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, crate::WRITE_A, ""), "");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cleaner = {
        let stop = stop.clone();
        let bin = bin().to_path_buf();
        let dir = repo.path().to_path_buf();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut c = std::process::Command::new(&bin);
                c.args(["clean", "all", "--force"]).current_dir(&dir);
                for (k, v) in orx_testkit::GIT_ENV {
                    c.env(k, v);
                }
                let _ = c.output();
                n += 1;
            }
            n
        })
    };
    for i in 0..15 {
        let out = repo
            .orx(bin())
            .args(["run", "--pipeline", "plan_only", "t"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "run {i}: {}", text(&out));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let cleans = cleaner.join().unwrap();
    assert!(cleans > 15, "the cleaner ran {cleans} times");
}

#[test]
fn a_project_folder_named_runs_reaches_the_branch_and_old_excludes_are_mended() {
    let implement = "  - write: { src/runs/handler.py: \"def handle(): pass\\n\", src/.worktrees/y.txt: \"y\\n\" }\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), "");
    // What an older orx wrote.
    let exclude = repo.path().join(".git/info/exclude");
    std::fs::write(
        &exclude,
        "# git ls-files --others --exclude-from=.git/info/exclude\n# orx run folders and worktrees\nruns/\n.worktrees/\n",
    )
    .unwrap();
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let files = repo.git(&["ls-tree", "-r", "--name-only", &format!("orx/{id}")]);
    assert!(files.contains("src/runs/handler.py"), "{files}");
    // Only the top-level .worktrees is orx's: a deeper one is the project's.
    assert!(files.contains("src/.worktrees/y.txt"), "{files}");
    let text = std::fs::read_to_string(&exclude).unwrap();
    assert!(text.contains("\n/runs/\n/.worktrees/\n"), "{text}");
    assert!(!text.lines().any(|l| l == "runs/"), "{text}");
    // orx's own folders stay out of the user's checkout status.
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

/// Every file under `root` (the run folder without its private inputs).
fn files_under(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == "private") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn secrets_never_reach_what_people_read_and_the_run_keeps_its_true_inputs() {
    // Short, all letters, with a quote and a backslash: each once slipped through.
    let secrets = [
        ("DB_PASSWORD", "hunter2x".to_string()),
        ("MY_API_KEY", "abcdefghij".to_string()),
        ("WEIRD_TOKEN", r#"pa"ss\wrd9"#.to_string()),
    ];
    let items = "        - id: W001\n          title: \"Wire hunter2x into abcdefghij\"\n          acceptance: [x]";
    let implement = "  - when_env: ORX_TEST_FIRST\n    fail: { kind: crash, message: \"abcdefghij broke\" }\n  - write: { task.txt: \"{{ task }}\" }\n    text: \"done with pa\\\"ss\\\\wrd9 and hunter2x\"\n";
    let gates = "gates:\n  - name: leaky\n    command: sh\n    args: [\"-c\", \"echo \\\"token $WEIRD_TOKEN $DB_PASSWORD $MY_API_KEY\\\"\"]\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), gates);
    let task = "Port the sk-learn-compatible-estimators wrapper; log in with hunter2x";
    let with_env = |c: &mut std::process::Command| {
        for (k, v) in &secrets {
            c.env(k, v);
        }
    };
    let mut first = repo.orx(bin());
    with_env(&mut first);
    let out = first
        .env("ORX_TEST_FIRST", "1")
        .args(["run", task])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let id = repo.single_run();
    let mut shown = text(&out);
    let mut resume = repo.orx(bin());
    with_env(&mut resume);
    let out = resume.args(["resume", &id]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    shown += &text(&out);
    for args in [
        vec!["status", id.as_str()],
        vec!["status", id.as_str(), "--json"],
        vec!["status", "--json"],
        vec!["logs", id.as_str()],
        vec!["logs", id.as_str(), "--stage", "W001"],
    ] {
        let mut c = repo.orx(bin());
        with_env(&mut c);
        shown += &text(&c.args(&args).output().unwrap());
    }
    shown += &repo.git(&["log", "--all", "--format=%B"]);
    let mut people: Vec<(String, String)> = vec![("terminal and history".into(), shown)];
    for f in files_under(&repo.run_dir(&id)) {
        let bytes = std::fs::read(&f).unwrap();
        people.push((
            f.display().to_string(),
            String::from_utf8_lossy(&bytes).into(),
        ));
    }
    for (_, secret) in &secrets {
        let json = serde_json::to_string(secret).unwrap();
        let json = &json[1..json.len() - 1];
        for form in [secret.as_str(), json] {
            for (name, body) in &people {
                assert!(!body.contains(form), "{form:?} in {name}:\n{body}");
            }
        }
    }
    // The task reached the agent whole after the resume (the text only looks like a key, and
    // the secret in it is the run's to use), while task.md for people is redacted.
    let task_txt = repo.git(&["show", &format!("orx/{id}:task.txt")]);
    assert_eq!(task_txt, task);
    assert_eq!(
        repo.run_file(&id, "context/task.md"),
        "Port the sk-learn-compatible-estimators wrapper; log in with ***"
    );
    use std::os::unix::fs::PermissionsExt;
    let private = repo.run_dir(&id).join("private/task.md");
    assert_eq!(
        std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn clean_of_a_running_run_is_refused_with_the_driver_named() {
    let implement = "  - when_env: ORX_TEST_LINGER\n    linger_secs: 60\n  - write: { a.txt: x }\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), "");
    let (mut child, id) = crate::start_until_an_attempt(&repo, &[("ORX_TEST_LINGER", "1")], false);
    let said = stderr_of(&repo, &["clean", &id], 2);
    assert!(
        said.contains("is already being driven by process"),
        "{said}"
    );
    assert!(repo.run_dir(&id).join("state.json").exists());
    orx_core::run::sys::signal_pid(child.id(), orx_core::run::sys::SIGTERM);
    let _ = child.wait();
}

/// Waits for the lingering fake agent of `id` to record its process group; returns the group.
fn lingering_group(repo: &TestRepo, id_hint: Option<&str>) -> (String, u32) {
    let t0 = Instant::now();
    loop {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the agent never started"
        );
        let id = id_hint
            .map(String::from)
            .or_else(|| repo.run_ids().first().cloned());
        if let Some(id) = id {
            let logs = repo.run_dir(&id).join("logs");
            let pgid = std::fs::read_dir(&logs)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "pgid"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter(|t| t.ends_with('\n'))
                .filter_map(|t| t.trim().parse::<u32>().ok())
                .find(|g| orx_core::run::sys::group_alive(*g));
            if let Some(g) = pgid {
                return (id, g);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_driver_leaves_no_agent_running_once_the_run_is_resumed_or_cancelled() {
    use orx_core::run::sys::{group_alive, pid_alive};
    // The agent's shell leaves a grandchild in its group: `sleep 30 & sleep 30; wait`.
    let implement = "  - when_env: ORX_TEST_LINGER\n    linger_secs: 30\n  - write: { a.txt: x }\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, implement, ""), "");
    let spawn = |args: &[&str]| {
        repo.orx(bin())
            .env("ORX_TEST_LINGER", "1")
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // 1. kill -9 of orx, then `orx cancel` of the dead driver.
    let mut driver = spawn(&["run", "t"]);
    let (id, group) = lingering_group(&repo, None);
    driver.kill().unwrap();
    driver.wait().unwrap();
    // The agent's shell died with orx; its grandchild, in the same group, did not.
    crate::dashboard::wait_for(5, "the agent to die with orx", || !pid_alive(group));
    assert!(group_alive(group), "nothing of the group outlived orx");
    let out = orx_ok(&repo, &["cancel", &id], 0);
    assert!(
        !group_alive(group),
        "cancel left the old agent's group: {}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ended 1 process group"),
        "{}",
        text(&out)
    );
    // 2. The same again, then `orx resume`: the old group is gone before any stage starts.
    let mut driver = spawn(&["resume", &id]);
    let (_, group) = lingering_group(&repo, Some(&id));
    driver.kill().unwrap();
    driver.wait().unwrap();
    assert!(group_alive(group));
    let out = orx_ok(&repo, &["resume", &id], 0);
    assert!(!group_alive(group), "{}", text(&out));
    let events = repo.run_file(&id, "events.jsonl");
    let resumed = events.rfind("\"run.resumed\"").unwrap();
    let ended = events
        .rfind("ended 1 process group(s) the interrupted driver left running")
        .unwrap_or_else(|| panic!("{events}"));
    assert!(
        ended < resumed,
        "the old agent was ended after the run went on"
    );
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
}
