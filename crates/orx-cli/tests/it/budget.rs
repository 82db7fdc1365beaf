//! Budgets (SPEC §16): at a limit the run checkpoints and waits for a person, holding no
//! process; `orx approve --add-usd` raises the limit and goes on.

use orx_core::protocol::{ItemStatus, RunStatus, WaitReason};
use orx_testkit::human;

use super::*;

/// The scripted agent's usage (about a token per four characters of prompt) priced so that one
/// call costs about a dollar.
const PRICED: &str = "  model: m\npricing:\n  m: { input: 5000, output: 5000 }\n";

fn priced_repo(budget: &str) -> orx_testkit::TestRepo {
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), budget);
    // The model goes under `engine:`, which repo_with writes first.
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml"))
        .unwrap()
        .replacen(
            "  timeout: 60\n",
            &format!("  timeout: 60\n{}\n", PRICED.lines().next().unwrap()),
            1,
        )
        + &PRICED
            .lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect::<String>();
    repo.write("orx.yaml", &cfg);
    repo.git(&["commit", "-qam", "priced"]);
    repo
}

#[test]
fn a_run_at_its_budget_waits_holding_nothing_and_approve_raises_it_and_finishes() {
    let repo = priced_repo("budget:\n  run_usd: 2.5\n");
    let out = orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Waiting, "{}", text(&out));
    assert_eq!(st.waiting, Some(WaitReason::Budget));
    assert!(
        stdout(&out).contains(&format!("next:     orx approve {id} --add-usd 1")),
        "{}",
        text(&out)
    );
    assert!(
        st.waiting_for
            .as_deref()
            .unwrap_or("")
            .contains("(budget.run_usd)"),
        "{st:?}"
    );
    // Nothing holds the run while it waits.
    assert!(orx_core::run::RunLock::live_holder(&repo.run_dir(&id).join("lock")).is_none());
    let status = stdout(&orx_ok(&repo, &["status"], 0));
    assert!(
        status.contains("waiting") && status.contains(&format!("orx approve {id}")),
        "{status}"
    );

    // Approving without raising the limit would only wait again: said so.
    let out = orx_ok(&repo, &["approve", "last"], 2);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: run [RUN_ID] waits because the run's budget is reached: $2.7500 spent of $2.5000 (budget.run_usd)
      hint: raise its limit to go on: `orx approve [RUN_ID] --add-usd 1` (or --add-tokens N)
    ");

    let out = orx_ok(&repo, &["approve", "last", "--add-usd", "1000"], 0);
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded, "{}", text(&out));
    assert_eq!(st.items[0].status, ItemStatus::Passed);
    assert_eq!(st.budget_raise.usd, 1000.0);
    let out = orx_ok(&repo, &["approve", &id], 2);
    assert!(stderr(&out).contains("is not waiting"), "{}", text(&out));
}

#[test]
fn the_day_budget_counts_every_run_of_the_repository() {
    let repo = priced_repo("");
    orx_ok(&repo, &["run", "first"], 0);
    let spent: f64 = serde_json::from_str::<serde_json::Value>(
        &repo.run_file(&repo.single_run(), "metrics/run.json"),
    )
    .unwrap()["cost_usd"]
        .as_f64()
        .unwrap();
    assert!(spent > 1.0, "{spent}");
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap()
        + &format!("budget:\n  day_usd: {}\n", spent / 2.0);
    repo.write("orx.yaml", &cfg);
    orx_ok(&repo, &["run", "second"], 3);
    let second = repo.run_ids().last().unwrap().clone();
    let st = repo.state(&second);
    assert!(
        st.waiting_for
            .as_deref()
            .unwrap_or("")
            .contains("(budget.day_usd)"),
        "{st:?}"
    );
    assert!(
        !repo
            .run_dir(&second)
            .join("prompts")
            .join("plan.md")
            .exists(),
        "no agent was called"
    );
}
