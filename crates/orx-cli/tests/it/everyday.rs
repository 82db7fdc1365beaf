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
      hint: stages run in this order (any may be left out): plan, spec, decompose, implement, review, ship, knowledge_update
    ");
    insta::assert_snapshot!(check("lonely.yaml", "id: lonely\nstages:\n  - plan\n  - review\n"), @"
    exit 2
    --- stderr
    error: lonely.yaml:4:5: `review` needs `implement` earlier in the pipeline
      hint: stages run in this order (any may be left out): plan, spec, decompose, implement, review, ship, knowledge_update
    ");
    insta::assert_snapshot!(check("typo.yaml", "id: typo\nstages:\n  - plan\n  - implment\n"), @"
    exit 2
    --- stderr
    error: typo.yaml:4:5: unknown stage `implment`; did you mean `implement`?
      hint: known stages: plan, spec, decompose, implement, review, ship, knowledge_update
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
    error: prompt template `[REPO]/.orx/prompts/plan.md` failed: line 3: `{{ tsk }}` names a variable this template does not have (it has: context, task)
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
