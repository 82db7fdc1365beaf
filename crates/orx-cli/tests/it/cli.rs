//! CLI output: snapshots of status, dry-run and errors; the small commands.

use orx_testkit::{TestRepo, human, normalize, normalize_table, text};

use crate::{bin, orx, orx_ok, stderr, stdout};

fn one_run() -> (TestRepo, String) {
    let repo = TestRepo::new(&[("app.py", "print('hi')\n")]);
    orx_ok(&repo, &["run", "Say hello politely"], 0);
    let id = repo.single_run();
    (repo, id)
}

#[test]
fn status_table_detail_and_json() {
    let (repo, id) = one_run();
    let out = orx_ok(&repo, &["status"], 0);
    insta::assert_snapshot!("status_table", normalize_table(&stdout(&out), repo.path()));
    let out = orx_ok(&repo, &["status", &id], 0);
    insta::assert_snapshot!("status_detail", normalize_table(&stdout(&out), repo.path()));
    let out = orx_ok(&repo, &["status", &id, "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["state"]["items"][0]["id"], "W001");
    assert_eq!(v["meta"]["task_summary"], "Say hello politely");
    let out = orx_ok(&repo, &["status", "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v[0]["run_id"], id.as_str());
    // --follow on a finished run prints its events and ends.
    let out = orx_ok(&repo, &["status", &id, "--follow"], 0);
    let shown = human(&out, repo.path());
    assert!(shown.contains("run succeeded"), "{shown}");
}

#[test]
fn status_with_no_runs_says_how_to_start() {
    let repo = TestRepo::new(&[("f", "x")]);
    let out = orx_ok(&repo, &["status"], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @r#"
    exit 0
    --- stdout
    no runs yet: start one with `orx run "<task>"` (or try `orx demo`)
    "#);
}

#[test]
fn dry_run_prints_routing_gates_and_prompts_and_touches_nothing() {
    let repo = TestRepo::new(&[("app.py", "x = 1\n")]);
    repo.write("orx.yaml", include_str!("../fixtures/seed-readme-orx.yaml"));
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "config"]);
    let before_refs = repo.git(&["for-each-ref"]);
    let out = orx_ok(&repo, &["run", "--dry-run", "Add a function add(a,b)"], 0);
    let text = normalize(&stdout(&out), repo.path());
    // The prompts are long; the routing, gates and the list of prompts are the contract.
    let head: String = text
        .lines()
        .take_while(|l| !l.starts_with("===== prompt"))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("dry_run_seed_config", head);
    let prompts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("===== prompt"))
        .collect();
    assert_eq!(
        prompts,
        [
            "===== prompt: plan =====",
            "===== prompt: spec =====",
            "===== prompt: decompose =====",
            "===== prompt: implement =====",
            "===== prompt: fix =====",
            "===== prompt: fix_resumed =====",
            "===== prompt: review =====",
            "===== prompt: knowledge_update ====="
        ]
    );
    assert!(text.contains("Add a function add(a,b)"));
    assert!(!repo.path().join("runs").exists() && !repo.path().join(".worktrees").exists());
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    assert_eq!(repo.git(&["for-each-ref"]), before_refs);
}

#[test]
fn dry_run_with_overrides_routes_every_stage_to_the_engine() {
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write("orx.yaml", include_str!("../fixtures/seed-readme-orx.yaml"));
    let out = orx_ok(
        &repo,
        &[
            "run",
            "--dry-run",
            "--json",
            "--engine",
            "claude_code",
            "--model",
            "m1",
            "t",
        ],
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for r in v["routing"]["routes"].as_array().unwrap() {
        assert_eq!(
            (r["executor"].as_str(), r["model"].as_str()),
            (Some("claude"), Some("m1")),
            "{r}"
        );
    }
}

fn error_case(repo: &TestRepo, args: &[&str], code: i32) -> String {
    let out = orx(repo, args);
    assert_eq!(out.status.code(), Some(code), "{}", text(&out));
    normalize(&stderr(&out), repo.path())
}

#[test]
fn errors_are_rendered_once_with_a_hint_and_exit_2() {
    let repo = TestRepo::new(&[("f", "x")]);
    let mut all = String::new();
    all += &format!(
        "## unknown run\n{}\n",
        error_case(&repo, &["status", "20261126_000000_deadbeef"], 2)
    );
    all += &format!(
        "## not a run id\n{}\n",
        error_case(&repo, &["logs", "../../etc/passwd"], 2)
    );
    all += &format!(
        "## missing base branch\n{}\n",
        error_case(&repo, &["run", "--base-branch", "nope", "t"], 2)
    );
    all += &format!(
        "## unknown engine\n{}\n",
        error_case(&repo, &["run", "--engine", "gpt", "t"], 2)
    );
    all += &format!("## empty task\n{}\n", error_case(&repo, &["run", "  "], 2));
    repo.write("orx.yaml", "engine:\n  type: codx\n");
    all += &format!(
        "## broken config\n{}\n",
        error_case(&repo, &["run", "t"], 2)
    );
    all += &format!(
        "## missing --config file\n{}\n",
        error_case(&repo, &["--config", "/nonexistent/orx.yaml", "run", "t"], 2)
    );
    let empty = TestRepo::empty();
    all += &format!(
        "## no commit\n{}\n",
        error_case(&empty, &["run", "t"], 2).replace(&empty.path().display().to_string(), "[REPO]")
    );
    let not_git = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args(["run", "t"])
        .current_dir(not_git.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    all += &format!(
        "## not a git repository\n{}\n",
        stderr(&out).replace(&not_git.path().display().to_string(), "[DIR]")
    );
    insta::assert_snapshot!("errors", all);
    // Nothing was created by the failed runs.
    assert!(!repo.path().join("runs").exists());
}

#[test]
fn logs_diff_and_clean() {
    let (repo, id) = one_run();
    let out = orx_ok(&repo, &["logs", &id], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 0
    --- stdout
    [HH:MM:SS] run  run [RUN_ID] started on orx/[RUN_ID] from main ([SHA])
    [HH:MM:SS] plan  plan started
    [HH:MM:SS] plan  plan: calling the agent
    [HH:MM:SS] plan  plan: the agent answered
    [HH:MM:SS] plan  plan done: plan.md written (155 bytes)
    [HH:MM:SS] spec  spec started
    [HH:MM:SS] spec  spec: calling the agent
    [HH:MM:SS] spec  spec: the agent answered
    [HH:MM:SS] spec  spec done: spec.md written (131 bytes)
    [HH:MM:SS] decompose  decompose started
    [HH:MM:SS] decompose  decompose: calling the agent
    [HH:MM:SS] decompose  decompose: the agent answered
    [HH:MM:SS] decompose  decompose done: 1 item
    [HH:MM:SS] implement  implement started
    [HH:MM:SS] implement W001  W001: Record the task
    [HH:MM:SS] implement W001#1  W001 attempt 1/3: implement
    [HH:MM:SS] implement W001#1  implement: calling the agent
    [HH:MM:SS] implement W001#1  implement: the agent answered
    [HH:MM:SS] implement W001#1  W001 passed on attempt 1
    [HH:MM:SS] implement  implement done: 1 of 1 items passed
    [HH:MM:SS] review  review started
    [HH:MM:SS] review  review: calling the agent
    [HH:MM:SS] review  review: the agent answered
    [HH:MM:SS] review  review done: VERDICT: APPROVED
    [HH:MM:SS] ship  ship started
    [HH:MM:SS] ship  nothing left to commit
    [HH:MM:SS] ship  ship done: nothing left to commit
    [HH:MM:SS] ci  ci started
    [HH:MM:SS] ci  ci skipped: ci.watch is off
    [HH:MM:SS] knowledge_update  knowledge_update started
    [HH:MM:SS] knowledge_update  knowledge_update: calling the agent
    [HH:MM:SS] knowledge_update  knowledge_update: the agent answered
    [HH:MM:SS] knowledge_update  knowledge_update done: committed 1 changed line
    [HH:MM:SS] run  run succeeded
    ");
    let out = orx_ok(&repo, &["logs", &id, "--stage", "plan"], 0);
    assert!(
        stdout(&out).contains("===== agent_plan.jsonl ====="),
        "{}",
        text(&out)
    );
    let out = orx_ok(&repo, &["diff", &id], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @r#"
    exit 0
    --- stdout
    diff --git a/AGENTS.md b/AGENTS.md
    new file mode 100644
    index 0000000..76302ed
    --- /dev/null
    +++ b/AGENTS.md
    @@ -0,0 +1,5 @@
    +# AGENTS.md
    +
    +<!-- ORX:START AGENTS -->
    +- The orx scripted agent recorded the task "Say hello politely" in ORX_FAKE_CHANGE.md.
    +<!-- ORX:END AGENTS -->
    diff --git a/ARCHITECTURE.md b/ARCHITECTURE.md
    new file mode 100644
    index 0000000..bdb9824
    --- /dev/null
    +++ b/ARCHITECTURE.md
    @@ -0,0 +1,4 @@
    +# ARCHITECTURE.md
    +
    +<!-- ORX:START ARCH -->
    +<!-- ORX:END ARCH -->
    diff --git a/ORX_FAKE_CHANGE.md b/ORX_FAKE_CHANGE.md
    new file mode 100644
    index 0000000..b32eaca
    --- /dev/null
    +++ b/ORX_FAKE_CHANGE.md
    @@ -0,0 +1,3 @@
    +# Change made by the orx scripted agent
    +
    +Task: Say hello politely
    "#);
    let out = orx_ok(&repo, &["diff", &id, "--item", "W001"], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 0
    --- stdout
    diff --git a/ORX_FAKE_CHANGE.md b/ORX_FAKE_CHANGE.md
    new file mode 100644
    index 0000000..b32eaca
    --- /dev/null
    +++ b/ORX_FAKE_CHANGE.md
    @@ -0,0 +1,3 @@
    +# Change made by the orx scripted agent
    +
    +Task: Say hello politely
    ");
    let out = orx(&repo, &["diff", &id, "--item", "W009"]);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: the run has no item `W009`
      hint: its items: W001
    ");

    let worktree = repo.path().join(".worktrees").join(&id);
    assert!(worktree.is_dir());
    let out = orx_ok(&repo, &["clean", &id], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 0
    --- stdout
    removed [RUN_ID]
    1 run(s) removed; its branch orx/[RUN_ID] is kept (delete it with git branch -D orx/[RUN_ID], or pass --delete-branch)
    ");
    assert!(!worktree.exists() && !repo.run_dir(&id).exists());
    assert!(repo.git(&["worktree", "list"]).lines().count() == 1);
    assert!(
        repo.git(&["branch", "--list", &format!("orx/{id}")])
            .contains(&id),
        "the branch is kept"
    );
    let out = orx(&repo, &["clean", "all"]);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: `orx clean all` removes every run folder and worktree
      hint: add --force to confirm
    ");
}

#[test]
fn clean_all_with_delete_branch() {
    let (repo, id) = one_run();
    orx_ok(&repo, &["clean", "all", "--force", "--delete-branch"], 0);
    assert!(repo.run_ids().is_empty());
    assert_eq!(repo.git(&["branch", "--list", &format!("orx/{id}")]), "");
}

#[test]
fn branches_kept_by_an_earlier_clean_are_deleted_by_clean_all_with_delete_branch() {
    let (repo, id) = one_run();
    repo.git(&["branch", "orx/mine"]);
    orx_ok(&repo, &["clean", &id], 0);
    assert!(
        repo.git(&["branch", "--list", &format!("orx/{id}")])
            .contains(&id)
    );
    let out = orx_ok(&repo, &["clean", "all", "--force", "--delete-branch"], 0);
    assert!(
        stdout(&out).contains("1 branch(es) of runs removed earlier deleted"),
        "{}",
        text(&out)
    );
    assert_eq!(repo.git(&["branch", "--list", &format!("orx/{id}")]), "");
    assert!(
        repo.git(&["branch", "--list", "orx/mine"])
            .contains("orx/mine"),
        "a branch that is not a run's is left alone"
    );
}

#[test]
fn init_writes_a_config_that_loads_and_refuses_to_overwrite() {
    let repo = TestRepo::new(&[("f", "x")]);
    // init lists the agent CLIs on PATH: here a PATH with git alone, so that none is.
    let only_git = crate::path_with(&["git"]);
    let out = crate::init_with_path(&repo, only_git.path());
    insta::assert_snapshot!(human(&out, repo.path()), @r#"
    exit 0
    --- stdout
    wrote [REPO]/orx.yaml (engine: fake)
    runs/ and .worktrees/ are excluded from git (.git/info/exclude)
    agent CLIs on PATH:
      codex  not found (codex)
      gemini  not found (gemini)
      claude  not found (claude)
      cursor  not found (cursor-agent)
      copilot  not found (copilot)
    next: check the gates in orx.yaml, then `orx run "<task>"` (or `orx run --dry-run "<task>"` first)
    --- stderr
    warning: no test or lint command found in this project: add your gates to orx.yaml, or an item passes on the agent's word
    "#);
    let exclude = std::fs::read_to_string(repo.path().join(".git/info/exclude")).unwrap();
    assert!(exclude.contains("runs/") && exclude.contains(".worktrees/"));
    orx_ok(&repo, &["run", "--dry-run", "t"], 0);
    let out = orx(&repo, &["init"]);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: [REPO]/orx.yaml already exists
      hint: pass --force to overwrite it
    ");
    orx_ok(&repo, &["init", "--force", "--engine", "gemini"], 0);
    assert!(
        std::fs::read_to_string(repo.path().join("orx.yaml"))
            .unwrap()
            .contains("type: gemini")
    );
}

#[test]
fn task_from_a_file_and_from_stdin() {
    let repo = TestRepo::new(&[("f", "x")]);
    let task = repo.aux_file("task.md", "Task from a file\n\nwith details");
    orx_ok(
        &repo,
        &[
            "run",
            "--pipeline",
            "plan_only",
            &format!("@{}", task.display()),
        ],
        0,
    );
    let id = repo.single_run();
    assert_eq!(
        repo.run_file(&id, "context/task.md"),
        "Task from a file\n\nwith details"
    );
    assert_eq!(repo.meta(&id).task_summary, "Task from a file");

    use std::io::Write;
    let mut child = repo
        .orx(bin())
        .args(["run", "--pipeline", "plan_only", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Task from stdin")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let ids = repo.run_ids();
    assert_eq!(repo.run_file(&ids[1], "context/task.md"), "Task from stdin");
}

#[test]
fn completions_pipelines_and_help() {
    let repo = TestRepo::new(&[("f", "x")]);
    let out = orx_ok(&repo, &["completions", "bash"], 0);
    assert!(stdout(&out).contains("_orx()"));
    let out = orx_ok(&repo, &["pipelines"], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 0
    --- stdout
    standard  built-in  plan → spec → decompose → implement → review → ship → ci → knowledge_update
    fast_fix  built-in  implement → review → ship → ci
    plan_only  built-in  plan → spec → decompose
    ");
    // The help is wrapped to the terminal's width: a fixed one here.
    let out = repo
        .orx(bin())
        .env("COLUMNS", "100")
        .arg("--help")
        .output()
        .unwrap();
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 0
    --- stdout
    orx: a local orchestrator for AI coding agents.

    orx creates an isolated git worktree and branch for each run, then drives coding-agent CLIs through
    plan → spec → decompose → implement/verify/fix → review → ship → knowledge update. Everything a run
    does is kept under runs/<run_id>/; an interrupted run resumes.

    Usage: orx [OPTIONS] <COMMAND>

    Commands:
      init  Write a commented orx.yaml, exclude runs/ and .worktrees/ from git, list agent CLIs
                   found
      run  Run a task through the pipeline in a new worktree and branch
      resume  Continue an interrupted, cancelled or failed run from its checkpoint
      followup  Start a run on the branch and worktree of an ended run, with more instructions (and
                   the pull request's review comments): its commits go on top, its push updates the same
                   PR
      approve  Let a waiting run go on: approve its stage, or raise its budget (--add-usd)
      reject  Run the stage a run waits on (plan, spec or decompose) again, with your feedback
      status  List recent runs, or show one run in detail
      logs  Print a run's event log, or one agent/gate log
      diff  Print a run's patch
      apply  Land a succeeded run on its base branch in this checkout (one commit by default)
      cancel  Stop a running run (it stays resumable)
      clean  Remove run folders and worktrees
      pipelines  List, show or validate pipelines
      doctor  Check git, the agent CLIs the config routes to, their authentication, and the gates
      demo  Run the standard pipeline on a demo repository with the built-in scripted agent
      dashboard  Serve the web UI: watch, start, cancel and resume runs, explore their files
      metrics  Aggregate metrics across runs, or one run's metrics
      completions  Print a shell completion script
      help  Print this message or the help of the given subcommand(s)

    Options:
          --dir <DIR>
              Repository root (default: the git root of the current directory)
              
              [env: ORX_DIR=]

          --config <FILE>
              Config file (default: <repo>/orx.yaml; built-in defaults when it does not exist)
              
              [env: ORX_CONFIG=]

      -v, --verbose...
              More diagnostics on stderr

      -q, --quiet
              Only errors and the final result

      -h, --help
              Print help (see a summary with '-h')

      -V, --version
              Print version
    ");
}

#[test]
fn demo_runs_every_stage_with_one_fix_loop() {
    let parent = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin());
    for (k, v) in orx_testkit::GIT_ENV {
        cmd.env(k, v);
    }
    let out = cmd
        .args(["demo", "--into"])
        .arg(parent.path())
        .output()
        .unwrap();
    // The demo names the binary it ran as, wherever it is.
    let shown = human(&out, parent.path()).replace(&bin().display().to_string(), "orx");
    insta::assert_snapshot!(shown, @"
    exit 0
    --- stdout
    demo repository: [REPO]/orx-demo-[RUN_ID]
    task: Add a function add(a, b) to calc.py that returns the sum of a and b, with a unit test, and document it in README.md.

    [HH:MM:SS] run  run [RUN_ID] started on orx/[RUN_ID] from main ([SHA])
    [HH:MM:SS] baseline  baseline: gate compile passed
    [HH:MM:SS] baseline  baseline: gate unittest passed
    [HH:MM:SS] plan  plan started
    [HH:MM:SS] plan  plan: the agent answered
    [HH:MM:SS] plan  plan done: plan.md written (185 bytes)
    [HH:MM:SS] spec  spec started
    [HH:MM:SS] spec  spec: the agent answered
    [HH:MM:SS] spec  spec done: spec.md written (151 bytes)
    [HH:MM:SS] decompose  decompose started
    [HH:MM:SS] decompose  decompose: the agent answered
    [HH:MM:SS] decompose  decompose done: 2 items
    [HH:MM:SS] implement  implement started
    [HH:MM:SS] implement W001  W001: Add add(a, b) with a unit test
    [HH:MM:SS] implement W001#1  W001 attempt 1/3: implement
    [HH:MM:SS] implement W001#1  implement: the agent answered
    [HH:MM:SS] verify W001#1  W001: gate compile passed
    [HH:MM:SS] verify W001#1  W001: gate unittest failed
    [HH:MM:SS] implement W001#1  W001 attempt 1 failed: gate_failed
    [HH:MM:SS] fix W001#2  W001 attempt 2/3: fix
    [HH:MM:SS] fix W001#2  fix: the agent answered
    [HH:MM:SS] verify W001#2  W001: gate compile passed
    [HH:MM:SS] verify W001#2  W001: gate unittest passed
    [HH:MM:SS] fix W001#2  W001 passed on attempt 2
    [HH:MM:SS] implement W002  W002: Document add in README.md
    [HH:MM:SS] implement W002#1  W002 attempt 1/3: implement
    [HH:MM:SS] implement W002#1  implement: the agent answered
    [HH:MM:SS] verify W002#1  W002: gate compile passed
    [HH:MM:SS] verify W002#1  W002: gate unittest passed
    [HH:MM:SS] implement W002#1  W002 passed on attempt 1
    [HH:MM:SS] implement  implement done: 2 of 2 items passed
    [HH:MM:SS] review  review started
    [HH:MM:SS] review  review: the agent answered
    [HH:MM:SS] review  review done: VERDICT: APPROVED
    [HH:MM:SS] ship  ship started
    [HH:MM:SS] ship  nothing left to commit
    [HH:MM:SS] ship  ship done: nothing left to commit
    [HH:MM:SS] ci  ci started
    [HH:MM:SS] ci  ci skipped: ci.watch is off
    [HH:MM:SS] knowledge_update  knowledge_update started
    [HH:MM:SS] knowledge_update  knowledge_update: the agent answered
    [HH:MM:SS] knowledge_update  knowledge_update done: committed 2 changed lines
    [HH:MM:SS] run  run succeeded

    run [RUN_ID] succeeded in [DUR]
      items:  W001 passed (2 attempts), W002 passed (1 attempt)
      branch:  orx/[RUN_ID]
      worktree: [REPO]/orx-demo-[RUN_ID]/.worktrees/[RUN_ID]
      run dir:  [REPO]/orx-demo-[RUN_ID]/runs/[RUN_ID]
      tokens:  [N] in, [N] out; cost $0.0000
      next:  orx --dir [REPO]/orx-demo-[RUN_ID] diff [RUN_ID] · orx --dir [REPO]/orx-demo-[RUN_ID] apply [RUN_ID] · orx --dir [REPO]/orx-demo-[RUN_ID] status [RUN_ID]

    look around: orx --dir [REPO]/orx-demo-[RUN_ID] status  (or: cd [REPO]/orx-demo-[RUN_ID] && git log --oneline --all)
    ");
    let s = stdout(&out);
    // The demo repository's orx.yaml names the demo's scenario: a run there plays the same script
    // (it used to play the generic one, which wrote of a file that does not exist).
    let repo = s
        .lines()
        .find_map(|l| l.strip_prefix("demo repository: "))
        .expect("the demo says where its repository is")
        .trim()
        .to_string();
    let mut cmd = std::process::Command::new(bin());
    for (k, v) in orx_testkit::GIT_ENV {
        cmd.env(k, v);
    }
    let out = cmd
        .args(["--dir", &repo, "run", orx_core::demo::TASK])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let again = stdout(&out);
    assert!(
        again.contains("W001 passed (2 attempts)") && again.contains("W002 passed (1 attempt)"),
        "{again}"
    );
    assert!(!again.contains("scripted agent"), "{again}");
}

#[test]
fn without_a_config_a_run_says_the_scripted_agent_does_the_work() {
    let repo = TestRepo::new(&[("f", "x")]);
    let out = orx_ok(&repo, &["run", "--dry-run", "t"], 0);
    let err = std::process::Output {
        stdout: Vec::new(),
        ..out
    };
    insta::assert_snapshot!(human(&err, repo.path()), @"
    exit 0
    --- stderr
    warning: no orx.yaml here: stages would run with the built-in scripted agent, which makes a placeholder change (no AI). Run `orx init` to write a config for a real agent, or pass --engine codex|claude|gemini|cursor|copilot
    ");
    // A real run says it too, and still runs (the scripted agent is the built-in default).
    let out = orx_ok(&repo, &["run", "t"], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 0
    --- stdout
    [HH:MM:SS] run  run [RUN_ID] started on orx/[RUN_ID] from main ([SHA])
    [HH:MM:SS] plan  plan started
    [HH:MM:SS] plan  plan: the agent answered
    [HH:MM:SS] plan  plan done: plan.md written (138 bytes)
    [HH:MM:SS] spec  spec started
    [HH:MM:SS] spec  spec: the agent answered
    [HH:MM:SS] spec  spec done: spec.md written (114 bytes)
    [HH:MM:SS] decompose  decompose started
    [HH:MM:SS] decompose  decompose: the agent answered
    [HH:MM:SS] decompose  decompose done: 1 item
    [HH:MM:SS] implement  implement started
    [HH:MM:SS] implement W001  W001: Record the task
    [HH:MM:SS] implement W001#1  W001 attempt 1/3: implement
    [HH:MM:SS] implement W001#1  implement: the agent answered
    [HH:MM:SS] implement W001#1  W001 passed on attempt 1
    [HH:MM:SS] implement  implement done: 1 of 1 items passed
    [HH:MM:SS] review  review started
    [HH:MM:SS] review  review: the agent answered
    [HH:MM:SS] review  review done: VERDICT: APPROVED
    [HH:MM:SS] ship  ship started
    [HH:MM:SS] ship  nothing left to commit
    [HH:MM:SS] ship  ship done: nothing left to commit
    [HH:MM:SS] ci  ci started
    [HH:MM:SS] ci  ci skipped: ci.watch is off
    [HH:MM:SS] knowledge_update  knowledge_update started
    [HH:MM:SS] knowledge_update  knowledge_update: the agent answered
    [HH:MM:SS] knowledge_update  knowledge_update done: committed 1 changed line
    [HH:MM:SS] run  run succeeded

    run [RUN_ID] succeeded in [DUR]
      items:  W001 passed (1 attempt)
      branch:  orx/[RUN_ID]
      worktree: [REPO]/.worktrees/[RUN_ID]
      run dir:  [REPO]/runs/[RUN_ID]
      tokens:  [N] in, [N] out; cost $0.0000
      next:  orx diff [RUN_ID] · orx apply [RUN_ID] · orx status [RUN_ID]
    --- stderr
    warning: no orx.yaml here: stages ran with the built-in scripted agent, which makes a placeholder change (no AI). Run `orx init` to write a config for a real agent, or pass --engine codex|claude|gemini|cursor|copilot
    ");
    // Chosen on purpose (an engine on the command line, or an orx.yaml): no warning.
    let out = orx_ok(&repo, &["run", "--dry-run", "--engine", "codex", "t"], 0);
    assert!(!stderr(&out).contains("scripted agent"), "{}", stderr(&out));
    repo.write("orx.yaml", "engine:\n  type: fake\n");
    let out = orx_ok(&repo, &["run", "--dry-run", "t"], 0);
    assert!(!stderr(&out).contains("scripted agent"), "{}", stderr(&out));
}

#[test]
fn a_task_file_that_cannot_be_read_is_a_usage_error_with_the_fix() {
    let repo = TestRepo::new(&[("f", "x")]);
    let out = orx(&repo, &["run", "@no-such-task.md"]);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: cannot read the task file `no-such-task.md`: No such file or directory (os error 2)
      hint: give @ a readable UTF-8 text file, the task as text, or - to read stdin (a one-word task that starts with @ reads well from stdin)
    ");
    assert!(!repo.path().join("runs").exists());
}

#[test]
fn outside_a_repository_status_and_doctor_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(bin())
            .args(args)
            .current_dir(dir.path())
            .env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap())
            .output()
            .unwrap()
    };
    let out = run(&["status"]);
    insta::assert_snapshot!(human(&out, dir.path()), @"
    exit 2
    --- stderr
    error: [REPO] is not inside a git repository
      hint: run orx at the root of a git repository (or `git init` first), or pass --dir
    ");
    let out = run(&["doctor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let s = stdout(&out);
    assert!(
        s.lines().any(|l| l.starts_with("FAIL")
            && l.contains("repository")
            && l.contains("not inside a git repository")),
        "{s}"
    );
    assert!(s.contains("git init, then a first commit"), "{s}");
}

#[test]
fn a_failed_run_names_its_last_failure_once() {
    let cfg = "run:\n  max_fix_attempts: 1\ngates:\n  - name: g\n    baseline: ignore\n    command: \"false\"\n";
    let repo = crate::repo_with(
        &[("f", "x")],
        &crate::scenario(crate::ONE_ITEM, crate::WRITE_A, ""),
        cfg,
    );
    orx_ok(&repo, &["run", "t"], 1);
    let id = repo.single_run();
    let out = orx_ok(&repo, &["status", &id], 0);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 0
    --- stdout
    run  [RUN_ID]
    status  failed
    task  t
    branch  orx/[RUN_ID] (from main at [SHA])
    started  [TIME] UTC ([DUR])

    stages:
      STAGE  STATUS  TIME  NOTE
      plan  done  [DUR]  plan.md written (8 bytes)
      spec  done  [DUR]  spec.md written (8 bytes)
      decompose  done  [DUR]  1 item
      implement  failed  [DUR]  1 of 1 items did not pass; first: W001 did not pass after 1 attempt (gate_failed)
      review  pending  
      ship  pending  
      ci  pending  
      knowledge_update  pending  

    items:
      ITEM  STATUS  ATTEMPTS  TITLE
      W001  failed  1  Add a

    tokens  [N] in ([N] cached), [N] out
    cost  $0.0000
    agent  [DUR]  gates [DUR]  fix attempts 0

    last failure: implement W001: 1 of 1 items did not pass; first: W001 did not pass after 1 attempt (gate_failed)
    ");
    let s = stdout(&out);
    let line = s
        .lines()
        .find(|l| l.starts_with("last failure: "))
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(line.matches("(gate_failed)").count(), 1, "{line}");
    assert!(
        line.contains("W001 did not pass after 1 attempt (gate_failed)"),
        "{line}"
    );
}

#[test]
fn a_dry_run_warns_of_an_agent_cli_that_is_not_on_path() {
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write(
        "orx.yaml",
        "executors:\n  claude:\n    bin: orx-no-such-claude\n  codex:\n    bin: sh\nstages:\n  review: { executor: codex }\n",
    );
    let out = orx_ok(&repo, &["run", "--dry-run", "--engine", "claude", "t"], 0);
    // The plan, routing and prompts are covered by the dry-run snapshot; here the warning.
    let err = std::process::Output {
        stdout: Vec::new(),
        ..out
    };
    insta::assert_snapshot!(human(&err, repo.path()), @"
    exit 0
    --- stderr
    warning: `orx-no-such-claude` is not on PATH (stages: plan, spec, decompose, implement, fix, review, knowledge_update): the run would not start; install it: npm install -g @anthropic-ai/claude-code, or set executors.claude.bin to its path
    ");
    // Found (codex is `sh` here): no warning for it.
    let out = orx_ok(&repo, &["run", "--dry-run", "--engine", "codex", "t"], 0);
    assert!(!stderr(&out).contains("not on PATH"), "{}", stderr(&out));
    assert!(!repo.path().join("runs").exists());
}

#[test]
fn a_run_whose_agent_cli_is_missing_stops_once_before_making_anything() {
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write(
        "orx.yaml",
        "engine:\n  type: codex\nexecutors:\n  codex:\n    bin: orx-no-such-codex\n  gemini:\n    bin: sh\nstages:\n  review: { executor: gemini }\n",
    );
    let out = orx_ok(&repo, &["run", "t"], 2);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: the codex CLI (`orx-no-such-codex`) is not on PATH; stages routed to it: plan, spec, decompose, implement, fix, knowledge_update
      hint: install it: npm install -g @openai/codex (or set executors.codex.bin to its path)
      hint: or route those stages to an installed agent with --engine E or --stage ROLE=E (`orx doctor` lists what is installed); nothing was made
    ");
    assert!(!repo.path().join("runs").exists(), "no run folder");
    assert!(!repo.path().join(".worktrees").exists(), "no worktree");
    assert_eq!(
        repo.git(&["branch", "--list", "orx/*"]).trim(),
        "",
        "no branch"
    );
    // A fallback rule that switches a crashed codex to an installed executor covers it.
    repo.write(
        "orx.yaml",
        "engine:\n  type: codex\nexecutors:\n  codex:\n    bin: orx-no-such-codex\nfallback:\n  rules:\n    - { error: crash, switch_to: fake }\n",
    );
    let out = orx(&repo, &["run", "--dry-run", "t"]);
    assert!(!stderr(&out).contains("not on PATH"), "{}", stderr(&out));
}
