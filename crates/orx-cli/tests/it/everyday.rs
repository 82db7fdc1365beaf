//! Everyday use (issue: what a new user tripped over): pipelines found by id, stage order,
//! and the other mends, each shown the way a user meets it.

use orx_testkit::{TestRepo, human};

use super::*;

#[test]
fn a_user_pipeline_is_found_by_its_id_whatever_its_file_name() {
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write(
        ".orx/pipelines/mismatch.yaml",
        "id: other\nstages: [implement]\n",
    );
    let list = stdout(&orx_ok(&repo, &["pipelines", "list"], 0));
    assert!(
        list.contains("other") && list.contains("mismatch.yaml"),
        "{list}"
    );
    let show = stdout(&orx_ok(&repo, &["pipelines", "show", "other"], 0));
    assert!(show.contains("id: other"), "{show}");
    let dry = stdout(&orx_ok(
        &repo,
        &["run", "--dry-run", "--pipeline", "other", "t"],
        0,
    ));
    assert!(dry.contains("implement"), "{dry}");
    assert!(!repo.path().join("runs").exists());
}

#[test]
fn a_pipeline_out_of_order_or_missing_is_a_usage_error_with_its_place() {
    let repo = TestRepo::new(&[("f", "x")]);
    let check = |name: &str, text: &str| {
        repo.write(name, text);
        let out = orx_ok(&repo, &["pipelines", "validate", name], 2);
        human(&out, repo.path())
    };
    insta::assert_snapshot!(check("swapped.yaml", "id: swapped\nstages: [ship, implement, review]\n"), @"
    exit 2
    --- stderr
    error: swapped.yaml:2:10: `ship` must come after `implement`, which it reads
      hint: stages run in this order (any may be left out): plan, spec, decompose, implement, review, ship, ci, knowledge_update
    ");
    insta::assert_snapshot!(check("lonely.yaml", "id: lonely\nstages:\n  - plan\n  - review\n"), @"
    exit 2
    --- stderr
    error: lonely.yaml:4:5: `review` needs `implement` earlier in the pipeline
      hint: stages run in this order (any may be left out): plan, spec, decompose, implement, review, ship, ci, knowledge_update
    ");
    insta::assert_snapshot!(check("no_ship.yaml", "id: no_ship\nstages: [implement, ci]\n"), @"
    exit 2
    --- stderr
    error: no_ship.yaml:2:21: `ci` needs `ship` earlier in the pipeline
      hint: stages run in this order (any may be left out): plan, spec, decompose, implement, review, ship, ci, knowledge_update
    ");
    insta::assert_snapshot!(check("typo.yaml", "id: typo\nstages:\n  - plan\n  - implment\n"), @"
    exit 2
    --- stderr
    error: typo.yaml:4:5: unknown stage `implment`; did you mean `implement`?
      hint: known stages: plan, spec, decompose, implement, review, ship, ci, knowledge_update
    ");
    let out = orx_ok(&repo, &["pipelines", "validate", "nowhere.yaml"], 2);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: no pipeline file nowhere.yaml
      hint: check the path; `orx pipelines list` shows the built-in pipelines and the repository's
    ");
    // A good order passes, and a run refuses a misordered pipeline before making anything.
    repo.write("ok.yaml", "id: ok\nstages: [decompose, implement, ship]\n");
    orx_ok(&repo, &["pipelines", "validate", "ok.yaml"], 0);
    orx_ok(&repo, &["run", "--pipeline", "swapped.yaml", "t"], 2);
    assert!(!repo.path().join("runs").exists());
}

#[test]
fn a_prompt_template_naming_an_unknown_variable_is_refused_before_the_run() {
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write(
        ".orx/prompts/plan.md",
        "Plan this.\n{% if context.verify_commands %}gates{% endif %}\nTask: {{ tsk }}\n",
    );
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "prompt"]);
    let out = orx_ok(&repo, &["run", "--dry-run", "t"], 2);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: prompt template `[REPO]/.orx/prompts/plan.md` failed: line 3: `{{ tsk }}` names a variable this template does not have (it has: context, feedback, task)
      hint: fix the template in .orx/prompts/ (`orx run --dry-run` renders every prompt), or remove it to use the built-in one
    ");
    orx_ok(&repo, &["run", "t"], 2);
    assert!(!repo.path().join("runs").exists(), "nothing was made");
    // Mended, the same template renders (a missing value may still be tested with `if`).
    repo.write(
        ".orx/prompts/plan.md",
        "Plan this.\n{% if context.verify_commands %}gates{% endif %}\nTask: {{ task }}\n",
    );
    let out = orx_ok(&repo, &["run", "--dry-run", "a task"], 0);
    assert!(stdout(&out).contains("Task: a task"), "{}", stdout(&out));
}

#[test]
fn uncommitted_changes_are_said_left_out_or_taken_along_with_include_dirty() {
    let repo = repo_with(&[("f", "x\n")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    repo.write("f", "edited\n");
    repo.write("new.txt", "new\n");
    let out = orx_ok(&repo, &["run", "t"], 0);
    let warning = stderr(&out);
    assert!(
        warning.contains("2 uncommitted changes in the checkout (f, new.txt) are not in the run"),
        "{warning}"
    );
    let id = repo.single_run();
    assert_eq!(repo.git(&["show", &format!("orx/{id}:f")]), "x\n");

    let out = orx_ok(&repo, &["run", "--include-dirty", "t2"], 0);
    assert!(
        stdout(&out).contains("go along as the run's first commit"),
        "{}",
        text(&out)
    );
    let id2 = orx_core::run::Store::new(repo.path()).ids().unwrap()[0].clone();
    let branch = format!("orx/{id2}");
    assert_eq!(repo.git(&["show", &format!("{branch}:f")]), "edited\n");
    assert_eq!(repo.git(&["show", &format!("{branch}:new.txt")]), "new\n");
    let first = repo.git(&[
        "log",
        "--reverse",
        "--format=%s",
        &format!("main..{branch}"),
    ]);
    assert!(
        first.starts_with("orx: the checkout's uncommitted changes"),
        "{first}"
    );
    // The user's checkout is as it was: its index and files untouched.
    assert_eq!(
        std::fs::read_to_string(repo.path().join("f")).unwrap(),
        "edited\n"
    );
    assert_eq!(repo.git(&["diff", "--cached", "--name-only"]).trim(), "");
    assert!(repo.git(&["status", "--porcelain"]).contains("?? new.txt"));
}

#[test]
fn a_detached_head_is_said_and_recorded_as_its_commit() {
    let repo = repo_with(&[("f", "x\n")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let sha = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.git(&["checkout", "-q", "--detach"]);
    let out = orx_ok(&repo, &["run", "t"], 0);
    assert!(
        stderr(&out).contains(&format!("HEAD is detached (at {})", &sha[..10])),
        "{}",
        stderr(&out)
    );
    let id = repo.single_run();
    assert_eq!(repo.meta(&id).base_branch, sha);
}

#[test]
fn orx_inside_a_runs_worktree_sees_the_repositorys_runs() {
    let repo = repo_with(&[("f", "x\n")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let out = repo
        .orx(bin())
        .current_dir(repo.path().join(".worktrees").join(&id))
        .args(["status"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains(&id), "{}", text(&out));
}

#[test]
fn init_proposes_the_projects_gates_and_comments_out_missing_programs() {
    let path = crate::path_with(&["git", "python3"]);
    let repo = TestRepo::new(&[
        ("calc.py", "def add(a, b):\n    return a + b\n"),
        ("tests/test_calc.py", "import unittest\n"),
    ]);
    let out = crate::init_with_path(&repo, path.path());
    assert!(
        stdout(&out).contains("gates from the project: unittest"),
        "{}",
        text(&out)
    );
    let yaml = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap();
    assert!(
        yaml.contains("gates:\n  - name: unittest\n    command: python3\n    args: [\"-m\", \"unittest\", \"discover\"]\n"),
        "{yaml}"
    );
    orx_ok(&repo, &["run", "--dry-run", "t"], 0);

    let repo = TestRepo::new(&[
        (
            "pyproject.toml",
            "[project]\nname = \"p\"\n\n[tool.ruff]\nline-length = 100\n\n[tool.pytest.ini_options]\n",
        ),
        ("p.py", "x = 1\n"),
    ]);
    let out = crate::init_with_path(&repo, path.path());
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
    warning: written commented out, their program is not on PATH: ruff, pytest (install, then uncomment)
    "#);
    let yaml = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap();
    assert!(yaml.contains("gates: []\n#  - name: ruff"), "{yaml}");
    orx_ok(&repo, &["run", "--dry-run", "t"], 0);
}

#[test]
fn messages_a_newcomer_meets_name_the_problem_and_the_fix() {
    let repo = TestRepo::new(&[("f", "x")]);
    let config = |text: &str| {
        repo.write("orx.yaml", text);
        human(&orx(&repo, &["doctor"]), repo.path())
    };
    insta::assert_snapshot!(config("engine:\n  type: fake\n timeout: 60\n"), @"
    exit 2
    --- stderr
    error: [REPO]/orx.yaml:3:2: while parsing a block mapping, did not find expected key
      |
    3 |  timeout: 60
      |  ^
      hint: line 3 starts in column 2, the line above in column 3: keys of one mapping (and items of one list) start in the same column
    ");
    insta::assert_snapshot!(config("engine:\n\ttype: fake\n"), @"
    exit 2
    --- stderr
    error: [REPO]/orx.yaml:2:2: tabs disallowed within this context (block indentation)
      |
    2 | 	type: fake
      |  ^
      hint: indent with spaces, not tabs
    ");
    insta::assert_snapshot!(config("version: \"2.0\"\n"), @r#"
    exit 2
    --- stderr
    error: [REPO]/orx.yaml:1:1: version `2.0` is not a format this orx reads (it reads 1.x)
      |
    1 | version: "2.0"
      | ^
      hint: write version: "1.0", or leave the key out
    "#);
    std::fs::remove_file(repo.path().join("orx.yaml")).unwrap();
    insta::assert_snapshot!(human(&orx(&repo, &["run", "--engine", "codx", "t"]), repo.path()), @"
    exit 2
    --- stderr
    error: invalid value 'codx' for '--engine <ENGINE>'
      [possible values: codex, claude, gemini, cursor, copilot, claude_code, fake]

      tip: a similar value exists: 'codex'

    For more information, try '--help'.
    ");
    insta::assert_snapshot!(human(&orx(&repo, &["run", "Add", "a", "remove", "method"]), repo.path()), @r#"
    exit 2
    --- stderr
    error: unexpected argument 'a' found

    Usage: orx run [OPTIONS] [TASK]
      hint: the task is one argument: quote it, e.g. orx run "Add a remove method"
    "#);
    // A task that starts with @ but names no file is the task itself.
    let out = orx_ok(
        &repo,
        &["run", "--dry-run", "@mention the owner in the greeting"],
        0,
    );
    assert!(
        stdout(&out).contains("@mention the owner in the greeting"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("stages would run with the built-in scripted agent"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_diff_of_a_failed_run_shows_the_failed_items_change_marked() {
    let cfg = "run:\n  max_fix_attempts: 1\ngates:\n  - name: never\n    baseline: ignore\n    command: \"false\"\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    orx_ok(&repo, &["run", "t"], 1);
    let out = orx_ok(&repo, &["diff", "last"], 0);
    let id = repo.single_run();
    let shown = stdout(&out);
    assert!(
        shown.contains(&format!(
            "# orx: W001 failed; the change of its last attempt, not committed (orx diff {id} --item W001):"
        )) && shown.contains("+a"),
        "{}",
        text(&out)
    );
    assert!(!shown.contains("(empty diff)"));
}

#[test]
fn run_json_has_the_totals_and_its_errors_are_json_too() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let out = orx_ok(&repo, &["run", "--json", "t"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["duration_secs"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["tokens"]["input"].as_u64().is_some(), "{v}");
    assert!(v["cost_usd"].as_f64().is_some(), "{v}");
    let out = orx_ok(
        &repo,
        &["run", "--json", "--pipeline", "nowhere.yaml", "t"],
        2,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"], "no pipeline file nowhere.yaml", "{v}");
    assert_eq!(v["exit_code"], 2);
    assert!(v["hints"][0].as_str().is_some(), "{v}");
}

#[test]
fn status_follow_alone_follows_the_newest_running_run_and_metrics_keep_the_stage_order() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - linger_secs: 3\n    write: { a.txt: x }\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), "");
    let out = orx_ok(&repo, &["status", "--follow"], 2);
    assert!(stderr(&out).contains("no run is running"), "{}", text(&out));
    let (run, id) = crate::start_until_an_attempt(&repo, &[], false);
    let out = orx_ok(&repo, &["status", "--follow"], 0);
    let shown = text(&out);
    assert!(shown.contains(&format!("following run {id}")), "{shown}");
    assert!(shown.contains("run succeeded"), "{shown}");
    let mut run = run;
    assert!(run.wait().unwrap().success());
    let report = stdout(&orx_ok(&repo, &["metrics", "report"], 0));
    let order: Vec<&str> = ["plan", "spec", "decompose", "implement", "review", "ship"]
        .into_iter()
        .filter(|s| report.contains(&format!("\n{s} ")))
        .collect();
    let positions: Vec<usize> = order
        .iter()
        .map(|s| report.find(&format!("\n{s} ")).unwrap())
        .collect();
    assert!(order.len() >= 5, "{report}");
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "stages in pipeline order: {report}"
    );
}

#[test]
fn the_agents_actions_reach_listeners_as_it_works_but_not_the_event_log() {
    use orx_core::protocol::{Event, EventBody};
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Event>::new()));
    let feed = seen.clone();
    let mut engine = orx_core::pipeline::Engine::new(orx_core::cancel::CancelToken::new());
    engine.listen(std::sync::Arc::new(move |e: &Event| {
        if matches!(e.body, EventBody::AgentActivity) {
            feed.lock().unwrap().push(e.clone());
        }
    }));
    let config = orx_core::config::load_file(&repo.path().join("orx.yaml")).unwrap();
    let out = engine
        .start(orx_core::pipeline::RunRequest {
            dir: repo.path().to_path_buf(),
            task: "t".into(),
            config,
            overrides: Default::default(),
            pipeline: "standard".into(),
            base_branch: None,
            run_id: None,
            include_dirty: false,
            issue: None,
            follows: None,
        })
        .unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|e| e.message == "writes a.txt"
            && e.stage.as_deref() == Some("implement")
            && e.item.as_deref() == Some("W001")),
        "{seen:?}"
    );
    let events = std::fs::read_to_string(out.run_dir.join("events.jsonl")).unwrap();
    assert!(!events.contains("agent.activity"), "not a record");
}

#[test]
fn logs_of_a_stage_read_as_what_the_agent_did_and_follow_a_live_one() {
    let items = "        - id: W001\n          title: A\n          acceptance: [x]";
    let implement = "  - linger_secs: 2\n    write: { a.txt: x }\n";
    let repo = repo_with(&[("f", "x")], &scenario(items, implement, ""), "");
    let run = repo
        .orx(bin())
        .args(["run", "t"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while repo.run_ids().is_empty() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(30), "no run");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = orx_ok(
        &repo,
        &["logs", "last", "--stage", "implement", "--follow"],
        0,
    );
    let shown = stdout(&out);
    assert!(
        shown.contains("===== agent_implement_W001_1.jsonl =====\n  writes a.txt\n"),
        "{}",
        text(&out)
    );
    assert!(!shown.contains("{\"type\""), "rendered, not JSON: {shown}");
    let mut run = run;
    assert!(run.wait().unwrap().success());
    let raw = stdout(&orx_ok(
        &repo,
        &["logs", "last", "--stage", "implement", "--raw"],
        0,
    ));
    assert!(raw.contains("\"type\":\"tool\""), "{raw}");
}

#[test]
fn the_shell_completes_run_ids_engines_pipelines_and_stages() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    repo.write(
        ".orx/pipelines/mine.yaml",
        "id: careful\nstages: [implement]\n",
    );
    orx_ok(&repo, &["run", "Add a"], 0);
    let id = repo.single_run();
    // What a shell's completion function asks the binary (fish's form: one candidate a line).
    let complete = |words: &[&str]| {
        let out = repo
            .orx(bin())
            .env("COMPLETE", "fish")
            .arg("--")
            .arg("orx")
            .args(words)
            .output()
            .unwrap();
        stdout(&out)
    };
    let runs = complete(&["diff", &id[..6]]);
    assert!(runs.contains(&format!("{id}\tAdd a")), "{runs}");
    assert!(complete(&["apply", "la"]).contains("last\tthe newest run"));
    assert_eq!(complete(&["run", "--engine", "cod"]).trim(), "codex");
    let pipelines = complete(&["run", "--pipeline", ""]);
    assert!(
        pipelines.contains("standard") && pipelines.contains("careful"),
        "{pipelines}"
    );
    assert!(complete(&["resume", &id, "--from", "rev"]).contains("review"));
    assert!(complete(&["run", "--stage", "review=cl"]).contains("review=claude"));
    let script = stdout(&orx_ok(&repo, &["completions", "bash"], 0));
    assert!(
        script.contains("COMPLETE=\"bash\"") || script.contains("COMPLETE=bash"),
        "{script}"
    );
}

#[test]
fn times_are_shown_in_the_local_zone_with_its_name_and_kept_in_utc() {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let started = repo.meta(&id).started_at;
    assert!(started.ends_with('Z'), "UTC in the files: {started}");
    let utc: jiff::Timestamp = started.parse().unwrap();
    let paris = utc
        .to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string();
    let out = repo
        .orx(bin())
        .env("TZ", "Europe/Paris")
        .args(["status"])
        .output()
        .unwrap();
    assert!(stdout(&out).contains(&paris), "{paris} in {}", text(&out));
    let out = repo.orx(bin()).args(["status", &id]).output().unwrap();
    assert!(stdout(&out).contains(" UTC"), "{}", text(&out));
}

#[test]
fn the_demo_is_not_made_inside_another_repository() {
    let repo = TestRepo::new(&[("f", "x")]);
    let inside = repo.path().join("sub");
    std::fs::create_dir_all(&inside).unwrap();
    let out = orx_ok(&repo, &["demo", "--into", &inside.display().to_string()], 2);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: [REPO]/sub is inside the git repository [REPO]
      hint: the demo makes a repository of its own: give --into a folder outside any repository, or leave --into out (a temporary folder)
    ");
    assert_eq!(
        std::fs::read_dir(&inside).unwrap().count(),
        0,
        "nothing was made"
    );
}

#[test]
fn logs_take_the_stage_names_the_run_prints_and_list_them_when_one_is_missing() {
    let cfg = "gates:\n  - name: ok\n    command: \"true\"\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    orx_ok(&repo, &["run", "t"], 0);
    let verify = stdout(&orx_ok(&repo, &["logs", "last", "--stage", "verify"], 0));
    assert!(
        verify.contains("===== gate_ok_W001_1.log ====="),
        "{verify}"
    );
    let baseline = stdout(&orx_ok(&repo, &["logs", "last", "--stage", "baseline"], 0));
    assert!(
        baseline.contains("===== gate_ok_baseline.log ====="),
        "{baseline}"
    );
    let out = orx_ok(&repo, &["logs", "last", "--stage", "nope"], 2);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: no log of `nope` in run [RUN_ID]
      hint: this run has logs of: W001, baseline, decompose, implement, knowledge_update, plan, review, spec, verify
    ");
}

#[test]
fn a_pipeline_id_whose_file_does_not_load_says_why() {
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write(
        ".orx/pipelines/bad.yaml",
        "id: quick\nstages: [ship, implement]\n",
    );
    let out = orx_ok(&repo, &["run", "--pipeline", "quick", "x"], 2);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: no pipeline `quick`; [REPO]/.orx/pipelines/bad.yaml:2:10: `ship` must come after `implement`, which it reads
      hint: fix the pipeline file that does not load (`orx pipelines list` shows the others)
    ");
}

#[test]
fn a_second_newcomer_trial_finds_hints_that_work_from_where_they_are() {
    // A dry run flags a gate that cannot start, as the real run would refuse it.
    let repo = TestRepo::new(&[("f", "x")]);
    repo.write(
        "orx.yaml",
        "gates:\n  - name: u\n    command: python3 -m unittest\n",
    );
    let out = orx_ok(&repo, &["run", "--dry-run", "t"], 0);
    assert!(
        stderr(&out).contains("warning: gate `u` cannot start: `command` is one program"),
        "{}",
        text(&out)
    );
    // A misnamed prompt override is said unused.
    repo.write(".orx/prompts/plann.md", "{{ task }}");
    let doctor = stdout(&orx(&repo, &["doctor"]));
    assert!(
        doctor.contains(
            ".orx/prompts/plann.md replaces no template, so it is not used; did you mean plan.md?"
        ),
        "{doctor}"
    );
    // A run id's middle is not a shortcut, and the hint says what is.
    let out = orx_ok(&repo, &["status", "zz"], 2);
    assert!(
        stderr(&out).contains("a shortened id is the start or the end of one"),
        "{}",
        text(&out)
    );

    // The commands a finished run suggests work from another folder (with --dir).
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = repo
        .orx(bin())
        .current_dir(elsewhere.path())
        .args(["--dir", &repo.path().display().to_string(), "run", "t"])
        .output()
        .unwrap();
    let next = format!("orx --dir {} diff ", repo.path().display());
    assert!(stdout(&out).contains(&next), "{}", text(&out));
    // A detached run says how to watch it, on stderr (stdout is the id alone).
    let out = orx_ok(&repo, &["run", "--detach", "t2"], 0);
    assert_eq!(stdout(&out).trim().len(), 24, "{}", text(&out));
    assert!(
        stderr(&out).contains("orx status --follow"),
        "{}",
        text(&out)
    );
    let id = stdout(&out).trim().to_string();
    orx_ok(&repo, &["status", "--follow", &id], 0);
}

#[test]
fn a_failed_run_names_its_first_error_in_the_summary() {
    let cfg = "run:\n  max_fix_attempts: 1\ngates:\n  - name: never\n    baseline: ignore\n    command: sh\n    args: [\"-c\", \"echo 'src/x.py:3: error: boom' >&2; exit 1\"]\n";
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), cfg);
    let out = orx_ok(&repo, &["run", "t"], 1);
    let err = stderr(&out);
    let shown = err.lines().find(|l| l.starts_with("error:")).unwrap_or("");
    assert!(
        shown.ends_with("; first error: src/x.py:3: error: boom"),
        "{}",
        text(&out)
    );
}
