//! Keeping people in control (SPEC §16): at a budget limit, or after a stage that needs
//! approval, the run checkpoints and waits for a person, holding no process; `orx approve`
//! goes on (raising the limit), `orx reject` runs the stage again with feedback.

use orx_core::protocol::{ItemStatus, RunStatus, WaitReason};
use orx_testkit::human;

use super::*;

/// The scripted agent's usage (about a token per four characters of prompt) priced so that one
/// call costs about a dollar.
const PRICED: &str = "  model: m\npricing:\n  m: { input: 5000, output: 5000 }\n";

pub(super) fn priced_repo(budget: &str) -> orx_testkit::TestRepo {
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

/// Asserts that run `id` waits at its budget, for the limit named `limit` (`budget.day_usd`, …).
fn assert_waits_at(repo: &orx_testkit::TestRepo, id: &str, limit: &str) {
    let st = repo.state(id);
    assert_eq!(st.waiting, Some(WaitReason::Budget), "{st:?}");
    assert!(
        st.waiting_for
            .as_deref()
            .unwrap_or("")
            .contains(&format!("({limit})")),
        "{st:?}"
    );
}

#[test]
fn a_run_at_its_budget_waits_holding_nothing_and_approve_raises_it_and_finishes() {
    let repo = priced_repo("budget:\n  run_usd: 2.5\n");
    let out = orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Waiting, "{}", text(&out));
    assert!(
        stdout(&out).contains(&format!("next:     orx approve {id} --add-usd 1")),
        "{}",
        text(&out)
    );
    assert_waits_at(&repo, &id, "budget.run_usd");
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
    assert_waits_at(&repo, &second, "budget.day_usd");
    assert!(
        !repo
            .run_dir(&second)
            .join("prompts")
            .join("plan.md")
            .exists(),
        "no agent was called"
    );
}

#[test]
fn a_run_waits_for_approval_after_a_stage_and_resume_alone_does_not_pass_it() {
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        "approvals: [plan]\n",
    );
    let out = orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    let st = repo.state(&id);
    assert_eq!(
        (st.status, st.waiting),
        (RunStatus::Waiting, Some(WaitReason::Approval)),
        "{}",
        text(&out)
    );
    assert_eq!(st.approval.as_deref(), Some("plan"));
    assert!(
        stdout(&out).contains(&format!("orx approve {id} · orx reject {id}")),
        "{}",
        text(&out)
    );
    assert!(
        !repo.run_dir(&id).join("prompts/spec.md").exists(),
        "spec waits"
    );
    // A plain resume meets the same wait: only a person's approval passes it.
    orx_ok(&repo, &["resume", &id], 3);
    assert!(!repo.run_dir(&id).join("prompts/spec.md").exists());
    let status = stdout(&orx_ok(&repo, &["status"], 0));
    assert!(
        status.contains(&format!(
            "run {id} waits: approval of the plan (context/plan.md)"
        )),
        "{status}"
    );
    orx_ok(&repo, &["approve", &id], 0);
    let st = repo.state(&id);
    assert_eq!(st.status, RunStatus::Succeeded);
    assert_eq!(st.approved, vec!["plan".to_string()]);
}

#[test]
fn reject_runs_the_stage_again_with_the_feedback_and_ship_waits_on_the_final_diff() {
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        "approvals: [spec, ship]\n",
    );
    orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    let out = orx_ok(&repo, &["reject", &id, "Name the edge cases."], 3);
    let spec_prompt = repo.run_file(&id, "prompts/spec.md");
    assert!(
        spec_prompt.contains("# Feedback on your previous answer")
            && spec_prompt.contains("Name the edge cases."),
        "{spec_prompt}\n{}",
        text(&out)
    );
    assert!(
        repo.run_file(&id, "context/decisions.md")
            .contains("## spec rejected\nName the edge cases.")
    );
    assert_eq!(
        repo.state(&id).approval.as_deref(),
        Some("spec"),
        "the new spec waits again"
    );
    orx_ok(&repo, &["approve", &id], 3);
    let st = repo.state(&id);
    assert_eq!(st.approval.as_deref(), Some("ship"), "{st:?}");
    assert!(repo.run_file(&id, "artifacts/patch.diff").contains("+a"));
    assert_eq!(
        st.stage("ship").unwrap().status,
        orx_core::protocol::StageStatus::Pending
    );
    let out = orx_ok(&repo, &["reject", &id, "no"], 2);
    assert!(
        stderr(&out).contains("the ship stage cannot be run again with feedback"),
        "{}",
        text(&out)
    );
    orx_ok(&repo, &["approve", &id], 0);
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
}

#[test]
fn approvals_name_stages() {
    let repo = orx_testkit::TestRepo::new(&[("f", "x")]);
    repo.write("orx.yaml", "approvals: [plann]\n");
    let out = orx_ok(&repo, &["doctor"], 2);
    insta::assert_snapshot!(human(&out, repo.path()), @"
    exit 2
    --- stderr
    error: [REPO]/orx.yaml:1:13: `plann` in approvals is not a stage; did you mean `plan`?
      |
    1 | approvals: [plann]
      |  ^
      hint: approvals lists stages: plan, spec, decompose, implement, review, ship, knowledge_update
    ");
}

/// A loopback HTTP receiver: answers each request with `status` (None: never answers), and
/// hands back the bodies it received when dropped… or when asked.
struct Receiver {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Receiver {
    fn start(status: Option<u16>) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/hooks/secret-path-1234",
            listener.local_addr().unwrap()
        );
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            // Bounded: at most 10 connections, and the test process ends it.
            for stream in listener.incoming().take(10) {
                let Ok(mut stream) = stream else { break };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                let _ = reader.read_exact(&mut body);
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                match status {
                    Some(code) => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        );
                    }
                    // Never answers: the connection stays open until the test ends.
                    None => std::mem::forget(stream),
                }
            }
        });
        Receiver { url, bodies }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

#[test]
fn notifiers_are_told_how_a_run_ended_as_json_slack_or_on_a_commands_stdin() {
    let json = Receiver::start(Some(200));
    let slack = Receiver::start(Some(200));
    let only_failures = Receiver::start(Some(200));
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let told = repo.aux.path().join("told.json");
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap()
        + &format!(
            "notify:\n  - webhook: {}\n  - {{ webhook: {}, format: slack, on: [succeeded] }}\n  - {{ webhook: {}, on: [failed] }}\n  - command: [sh, -c, \"cat > {}\"]\n",
            json.url,
            slack.url,
            only_failures.url,
            told.display()
        );
    repo.write("orx.yaml", &cfg);
    repo.git(&["commit", "-qam", "notify"]);
    orx_ok(&repo, &["run", "Add a"], 0);
    let id = repo.single_run();
    let got: serde_json::Value = serde_json::from_str(&json.bodies()[0]).unwrap();
    assert_eq!(
        (got["event"].as_str(), got["run_id"].as_str()),
        (Some("succeeded"), Some(id.as_str()))
    );
    assert_eq!(got["task"], "Add a");
    let s: serde_json::Value = serde_json::from_str(&slack.bodies()[0]).unwrap();
    assert_eq!(s["text"], format!("orx run {id} succeeded: Add a"));
    assert!(only_failures.bodies().is_empty(), "not told of a success");
    let by_command: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&told).unwrap()).unwrap();
    assert_eq!(by_command["event"], "succeeded");
    let log = repo.run_file(&id, "logs/notify.log");
    assert!(
        log.contains("told (try 1)") && !log.contains("secret-path"),
        "{log}"
    );
}

#[test]
fn a_notifier_that_fails_or_hangs_is_retried_logged_and_bounded() {
    let failing = Receiver::start(Some(500));
    let hanging = Receiver::start(None);
    let repo = repo_with(&[("f", "x")], &scenario(ONE_ITEM, WRITE_A, ""), "");
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap()
        + &format!(
            "notify:\n  - webhook: {}\n  - webhook: {}\n",
            failing.url, hanging.url
        );
    repo.write("orx.yaml", &cfg);
    repo.git(&["commit", "-qam", "notify"]);
    let t0 = std::time::Instant::now();
    orx_ok(&repo, &["run", "t"], 0);
    let took = t0.elapsed();
    let id = repo.single_run();
    assert_eq!(failing.bodies().len(), 3, "tried, then twice more");
    let log = repo.run_file(&id, "logs/notify.log");
    assert!(log.contains("try 3 of 3 failed"), "{log}");
    assert!(!log.contains("secret-path"), "{log}");
    // Three tries of the hanging one, each cut at its timeout: the run is delayed by no more.
    assert!(
        took < std::time::Duration::from_secs(3 * 6 + 10),
        "{took:?}"
    );
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
}

/// `orx run --dry-run` shows the budget, the range of agent calls the pipeline makes, and what
/// they may cost from the repository's past calls.
#[test]
fn a_dry_run_shows_the_budget_the_calls_and_their_likely_cost() {
    let repo =
        priced_repo("budget:\n  run_usd: 2.5\n  day_usd: 20\nrun:\n  max_backlog_items: 4\n");
    let spending = |out: &std::process::Output| {
        let s = stdout(out);
        let from = s.find("\nbudget:").expect("a budget line");
        let to = s.find("\n===== prompt").unwrap_or(s.len());
        s[from..to].trim().to_string()
    };
    let first = orx_ok(&repo, &["run", "--dry-run", "t"], 0);
    // plan, spec, decompose (one more if its backlog does not parse), one item with its
    // fixes (3 attempts), review (two loops of an item and a review), knowledge update.
    insta::assert_snapshot!(spending(&first), @"
    budget:  $2.50 per run · $20.00 per day ($0.00 spent today)
    calls:   6 to 26 agent calls (1 to 4 backlog items, every fix attempt and review loop at most; retries of transient errors not counted)
    cost:    unknown until a first run here records what its calls cost
    ");
    orx_ok(&repo, &["run", "t"], 3);
    let json: serde_json::Value = serde_json::from_str(&stdout(&orx_ok(
        &repo,
        &["run", "--dry-run", "--json", "t"],
        0,
    )))
    .unwrap();
    let per_call = &json["per_call"];
    let calls = per_call["calls"].as_u64().unwrap();
    let usd = per_call["usd"].as_f64().unwrap();
    let spent = json["spent_today"].as_f64().unwrap();
    assert!(calls >= 3, "{json}");
    assert!((usd * calls as f64 - spent).abs() < 1e-6, "{json}");
    let text = spending(&orx_ok(&repo, &["run", "--dry-run", "t"], 0));
    assert!(
        text.contains(&format!("(${spent:.2} spent today)"))
            && text.contains(&format!(
                "about ${:.2} to ${:.2} (${usd:.4} and",
                usd * json["calls"]["least"].as_f64().unwrap(),
                usd * json["calls"]["most"].as_f64().unwrap()
            ))
            && text.contains(&format!("last {calls} calls")),
        "{text}"
    );
}

/// Two runs at once share the day's budget: a call in flight counts for the other run (at the
/// average cost of a call here) until its cost is recorded, so with room for less than one
/// call only one of them makes it, and both then wait at `day_usd`.
#[test]
fn two_runs_at_once_share_the_day_budget_without_both_crossing_it() {
    let repo = priced_repo("");
    orx_ok(&repo, &["run", "history"], 0);
    let ledger_lines = |repo: &orx_testkit::TestRepo| -> usize {
        std::fs::read_dir(repo.path().join("runs/.ledger"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().count())
            .sum()
    };
    let before = ledger_lines(&repo);
    let spent: f64 = serde_json::from_str::<serde_json::Value>(
        &repo.run_file(&repo.single_run(), "metrics/run.json"),
    )
    .unwrap()["cost_usd"]
        .as_f64()
        .unwrap();
    let per_call = spent / before as f64;
    // Room for half a call today; each plan takes a second, so the two runs' first calls would
    // overlap.
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap()
        + &format!("budget:\n  day_usd: {}\n", spent + per_call / 2.0);
    repo.write("orx.yaml", &cfg);
    let sc = repo.aux.path().join("scenario.yaml");
    let slow = std::fs::read_to_string(&sc).unwrap().replace(
        "plan:\n  - text: \"the plan\"",
        "plan:\n  - text: \"the plan\"\n    sleep_ms: 1000",
    );
    std::fs::write(&sc, slow).unwrap();
    let spawn = |task: &str| {
        repo.orx(bin())
            .args(["run", task])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("first"), spawn("second"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(a.status.code(), Some(3), "{}", text(&a));
    assert_eq!(b.status.code(), Some(3), "{}", text(&b));
    assert_eq!(
        ledger_lines(&repo) - before,
        1,
        "one call in all: the other run waited for it, then saw the day's budget reached"
    );
    for id in repo.run_ids().iter().skip(1) {
        assert_waits_at(&repo, id, "budget.day_usd");
    }
    assert!(
        std::fs::read_dir(repo.path().join("runs/.ledger/inflight"))
            .unwrap()
            .next()
            .is_none(),
        "no reservation is left behind"
    );
}

/// A repository whose item fails its gate on the implement attempt and passes after a fix;
/// `fix` is the fix step's extra fields, `config` more of orx.yaml.
pub(super) fn fix_repo(fix: &str, config: &str) -> orx_testkit::TestRepo {
    let implement = format!(
        "  - item: W001\n    attempt: 1\n    write: {{ a.txt: \"bad\\n\" }}\nfix:\n  - item: W001\n    write: {{ a.txt: \"good\\n\" }}\n{fix}"
    );
    let gates = "gates:\n  - name: good\n    command: grep\n    args: [\"-q\", \"good\", \"a.txt\"]\n    baseline: ignore\n";
    repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, &implement, ""),
        &format!("{gates}{config}"),
    )
}

/// The `resumed` session id in the first line of an agent log, and the session it reported.
fn sessions(log: &str) -> (Option<String>, Option<String>) {
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let resumed = lines
        .first()
        .and_then(|l| l["resumed"].as_str().map(String::from));
    let own = lines
        .iter()
        .find_map(|l| l["session_id"].as_str().map(String::from));
    (resumed, own)
}

/// A fix continues the implement call's agent session with a prompt of only the new evidence;
/// `run.reuse_sessions: false` sends the whole fix prompt to a fresh session.
#[test]
fn a_fix_continues_the_agent_session_with_only_the_new_evidence() {
    let repo = fix_repo("", "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let implement = repo.run_file(&id, "logs/agent_implement_W001_1.jsonl");
    let fix = repo.run_file(&id, "logs/agent_fix_W001_2.jsonl");
    let (_, implement_session) = sessions(&implement);
    let (resumed, _) = sessions(&fix);
    assert!(implement_session.is_some(), "{implement}");
    assert_eq!(resumed, implement_session, "{fix}");
    let short = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(
        short.contains("did not pass verification")
            && short.contains("your earlier turns in this session")
            && short.contains("# Evidence of the failure")
            && !short.contains("Objective:"),
        "{short}"
    );

    let repo = fix_repo("", "run:\n  reuse_sessions: false\n");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let (resumed, _) = sessions(&repo.run_file(&id, "logs/agent_fix_W001_2.jsonl"));
    assert_eq!(resumed, None);
    let full = repo.run_file(&id, "prompts/fix_W001_2.md");
    assert!(
        full.contains("You are the fix agent of orx") && full.contains("Objective:"),
        "{full}"
    );
    assert!(
        full.len() > short.len(),
        "the resumed prompt is the shorter: {} vs {} bytes",
        short.len(),
        full.len()
    );
}

/// A session the agent cannot continue (expired, refused) falls back to a fresh call with the
/// full prompt, said in the events; the refused call's prompt and log are kept beside.
#[test]
fn a_session_that_cannot_be_continued_falls_back_to_a_fresh_call() {
    let repo = fix_repo("    refuse_resume: true\n", "");
    orx_ok(&repo, &["run", "t"], 0);
    let id = repo.single_run();
    let events = repo.run_file(&id, "events.jsonl");
    assert!(
        events.contains("W001 attempt 2: could not continue the fake session fake-")
            && events.contains("calling the agent afresh with the full fix prompt"),
        "{events}"
    );
    assert!(
        repo.run_file(&id, "prompts/fix_W001_2.resumed.md")
            .contains("your earlier turns in this session")
    );
    assert!(
        repo.run_file(&id, "logs/agent_fix_W001_2.resumed.jsonl")
            .contains("no session found with id fake-")
    );
    assert!(
        repo.run_file(&id, "prompts/fix_W001_2.md")
            .contains("You are the fix agent of orx")
    );
    let (resumed, _) = sessions(&repo.run_file(&id, "logs/agent_fix_W001_2.jsonl"));
    assert_eq!(resumed, None, "the fresh call starts a new session");
    assert_eq!(repo.state(&id).items[0].status, ItemStatus::Passed);
}

/// `budget.hard`: the call in flight is stopped once its usage reaches the limit (the scripted
/// agent shows its prompt's tokens at once, then thinks for a minute), the run waits at its
/// budget, and `orx approve` finishes it.
#[test]
fn a_hard_budget_stops_the_call_in_flight() {
    // What the plan, spec and decompose calls cost, from a run without a limit.
    let probe = priced_repo("");
    orx_ok(&probe, &["run", "t"], 0);
    let before: f64 = probe
        .run_file(&probe.single_run(), "events.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| {
            e["kind"] == "agent.finished"
                && ["plan", "spec", "decompose"].contains(&e["stage"].as_str().unwrap_or(""))
        })
        .map(|e| e["data"]["cost_usd"].as_f64().unwrap())
        .sum();
    let repo = priced_repo(&format!(
        "budget:\n  run_usd: {}\n  hard: true\n",
        before + 0.01
    ));
    let sc = repo.aux.path().join("scenario.yaml");
    let slow = std::fs::read_to_string(&sc).unwrap().replace(
        "implement:\n  - write:",
        "implement:\n  - sleep_ms: 60000\n    write:",
    );
    assert!(slow.contains("sleep_ms: 60000"), "{slow}");
    std::fs::write(&sc, slow).unwrap();
    let out = orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    assert_eq!(repo.state(&id).status, RunStatus::Waiting, "{}", text(&out));
    assert_waits_at(&repo, &id, "budget.run_usd");
    let events = repo.run_file(&id, "events.jsonl");
    assert!(
        events.contains("implement: the agent call was stopped at the limit (budget.hard)"),
        "{events}"
    );
    assert!(
        !repo
            .path()
            .join(".worktrees")
            .join(&id)
            .join("a.txt")
            .exists(),
        "the call was stopped before it wrote"
    );
    // The stopped call's prompt tokens are spent and counted.
    let spent = orx_core::budget::run_spend(&repo.run_dir(&id).join("events.jsonl"));
    assert!(spent.usd > before + 0.01, "{spent:?}");
    // A person raises the limit: the call runs again, without stopping.
    let sc_fast = std::fs::read_to_string(&sc)
        .unwrap()
        .replace("  - sleep_ms: 60000\n    write:", "  - write:");
    assert!(!sc_fast.contains("sleep_ms"), "{sc_fast}");
    std::fs::write(&sc, sc_fast).unwrap();
    orx_ok(&repo, &["approve", &id, "--add-usd", "1000"], 0);
    assert_eq!(repo.state(&id).items[0].status, ItemStatus::Passed);
}

/// The terminal closes under a run (SIGHUP): the agent is stopped, the run is left resumable
/// and reads `interrupted`, the notifiers are told `interrupted`, and `orx resume` finishes it.
#[test]
fn a_run_whose_terminal_closes_is_interrupted_and_notified() {
    let slow_plan = "plan:\n  - when_env: ORX_TEST_SLOW\n    text: \"the plan\"\n    sleep_ms: 60000\n  - text: \"the plan\"";
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A, "").replace("plan:\n  - text: \"the plan\"", slow_plan),
        "",
    );
    let told = repo.aux.path().join("told.jsonl");
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap()
        + &format!(
            "notify:\n  - {{ command: [sh, -c, \"cat >> {}; echo >> {}\"], on: [interrupted] }}\n",
            told.display(),
            told.display()
        );
    repo.write("orx.yaml", &cfg);
    repo.git(&["commit", "-qam", "notify"]);
    let child = repo
        .orx(bin())
        .env("ORX_TEST_SLOW", "1")
        .args(["run", "Add a"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !repo
        .run_ids()
        .first()
        .map(|id| {
            repo.run_file(id, "events.jsonl")
                .contains("plan: calling the agent")
        })
        .unwrap_or(false)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the plan never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let id = repo.single_run();
    assert_eq!(repo.state(&id).status, RunStatus::Running, "left resumable");
    let status = stdout(&orx_ok(&repo, &["status", &id], 0));
    assert!(status.contains("interrupted"), "{status}");
    let told = std::fs::read_to_string(&told).unwrap();
    let event: serde_json::Value = serde_json::from_str(told.lines().next().unwrap()).unwrap();
    assert_eq!(
        (event["event"].as_str(), event["run_id"].as_str()),
        (Some("interrupted"), Some(id.as_str()))
    );
    assert_eq!(event["detail"], "its terminal closed (SIGHUP)");
    orx_ok(&repo, &["resume", &id], 0);
    assert_eq!(repo.state(&id).status, RunStatus::Succeeded);
}

/// The backlog waits for approval too, and a rejection asks for a new one with the feedback.
#[test]
fn a_rejected_backlog_is_made_again_with_the_feedback() {
    let repo = repo_with(
        &[("f", "x")],
        &scenario(ONE_ITEM, WRITE_A, ""),
        "approvals: [decompose]\n",
    );
    orx_ok(&repo, &["run", "t"], 3);
    let id = repo.single_run();
    assert_eq!(repo.state(&id).approval.as_deref(), Some("decompose"));
    orx_ok(&repo, &["reject", &id, "One item per file."], 3);
    let prompt = repo.run_file(&id, "prompts/decompose.md");
    assert!(
        prompt.contains("# Feedback on your previous answer")
            && prompt.contains("One item per file."),
        "{prompt}"
    );
    assert!(
        repo.run_file(&id, "context/decisions.md")
            .contains("## decompose rejected\nOne item per file.")
    );
    orx_ok(&repo, &["approve", &id], 0);
    assert_eq!(repo.state(&id).items[0].status, ItemStatus::Passed);
}
