//! ci (SPEC §14): after ship opened a pull request, wait for its checks; when one fails, its
//! job's log becomes evidence (the gate parsers, capped), the fix agent works on the run's
//! worktree, the local gates run, and the fix is committed, pushed, and watched again, up to
//! `ci.max_rounds` rounds.
//!
//! Every read of the checks and every push is a checkpoint (state.json's `ci`): a killed orx
//! resumes waiting for the same commit, and a commit the remote already has is never pushed
//! again.

use std::time::{Duration, Instant};

use super::{DryRunEnv, Stage, StageOutcome};
use crate::Result;
use crate::agent::AgentMode;
use crate::gate::ci_log;
use crate::git::github::{Check, GitHub};
use crate::pipeline::verify::{Scope, enabled_gates, run_gates};
use crate::pipeline::{RunCtx, Turn};
use crate::protocol::{
    CheckRecord, CheckState, CiReport, CiState, Event, EventBody, Failure, FailureCategory,
};

/// ci.
pub struct Ci;

impl Stage for Ci {
    fn name(&self) -> &'static str {
        "ci"
    }

    fn reset(&self, state: &mut crate::protocol::RunState) {
        state.ci = None;
    }

    /// A resume after the checks failed `ci.max_rounds` times (or timed out) gives the stage a
    /// fresh count of rounds, from the commit it stopped at; after a crash, it goes on with the
    /// round it was in.
    fn on_resume(&self, state: &mut crate::protocol::RunState) {
        let ended = state.last_failure.as_ref().is_some_and(|f| {
            f.stage == "ci"
                && matches!(
                    f.category,
                    FailureCategory::CiFailed | FailureCategory::CiTimeout
                )
        });
        if let Some(ci) = state.ci.as_mut().filter(|_| ended) {
            ci.round = 0;
            ci.sha = None;
            ci.checks.clear();
        }
    }

    fn calls(&self, config: &crate::config::Config, _items: u32) -> (u32, u32) {
        if config.ci.watch {
            // A fix after each failed round but the last.
            (0, config.ci.max_rounds.get() as u32 - 1)
        } else {
            (0, 0)
        }
    }

    fn dry_run(&self, env: &DryRunEnv<'_>) -> Vec<(&'static str, serde_json::Value)> {
        if !env.config.ci.watch {
            return Vec::new();
        }
        vec![(
            "fix_ci",
            serde_json::json!({
                "task": env.task, "pr_url": DryRunEnv::placeholder("pull request"), "round": 1,
                "max_rounds": env.config.ci.max_rounds.get(),
                "evidence": DryRunEnv::placeholder("failed checks' evidence"),
            }),
        )]
    }

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        if !cx.env.config.ci.watch {
            return Ok(StageOutcome::Skipped("ci.watch is off".into()));
        }
        let Some(pr_url) = cx.cp.meta().pr_url.clone() else {
            return Ok(StageOutcome::Skipped(
                "no pull request to watch (ship opened none)".into(),
            ));
        };
        let remote = cx.env.config.git.remote.to_string();
        let hub = super::run_github(cx)?;
        let max_rounds = cx.env.config.ci.max_rounds.get() as u32;
        loop {
            let head = cx.git.head()?;
            push_once(cx, &remote, &head)?;
            let round = enter_round(cx, &head)?;
            let checks = match wait(cx, &hub, &head, round)? {
                Waited::Passed(checks) => {
                    let names = names(&checks);
                    return Ok(StageOutcome::Done(format!(
                        "checks passed in round {round} of {max_rounds}: {names}"
                    )));
                }
                Waited::TimedOut(checks) => {
                    let pending: Vec<CheckRecord> = checks
                        .into_iter()
                        .filter(|c| c.state == CheckState::Pending)
                        .collect();
                    let what = if pending.is_empty() {
                        "no check appeared".to_string()
                    } else {
                        format!("still pending: {}", names(&pending))
                    };
                    return Ok(StageOutcome::Failed(ci_failure(
                        FailureCategory::CiTimeout,
                        format!(
                            "the checks of {} did not finish within {} s ({what})",
                            short(&head),
                            cx.env.config.ci.timeout.get()
                        ),
                        None,
                    )));
                }
                Waited::Failed(checks) => checks,
            };
            let evidence = evidence(cx, &hub, &checks, round)?;
            let evidence_file = format!("artifacts/ci_round_{round}.evidence.md");
            cx.env.files.text(
                &cx.env
                    .dir
                    .artifact(&format!("ci_round_{round}.evidence.md")),
                &evidence,
            )?;
            let failed: Vec<CheckRecord> = checks
                .iter()
                .map(|c| c.record.clone())
                .filter(|c| c.state == CheckState::Failed)
                .collect();
            if round >= max_rounds {
                return Ok(StageOutcome::Failed(ci_failure(
                    FailureCategory::CiFailed,
                    format!(
                        "checks still failed after {round} round{} (ci.max_rounds): {}",
                        if round == 1 { "" } else { "s" },
                        names(&failed)
                    ),
                    Some(evidence_file),
                )));
            }
            if let Some(failed) = fix(cx, &pr_url, round, max_rounds, &evidence)? {
                return Ok(StageOutcome::Failed(failed));
            }
        }
    }
}

/// A failure of the ci stage, with its evidence file when there is one.
fn ci_failure(category: FailureCategory, message: String, evidence: Option<String>) -> Failure {
    Failure {
        stage: "ci".into(),
        item: None,
        category,
        message,
        evidence,
    }
}

/// How a round's wait ended.
enum Waited {
    Passed(Vec<CheckRecord>),
    Failed(Vec<Check>),
    TimedOut(Vec<CheckRecord>),
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

fn names(checks: &[CheckRecord]) -> String {
    if checks.is_empty() {
        return "no checks".into();
    }
    checks
        .iter()
        .map(|c| format!("{} {}", c.name, c.state))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pushes `head` unless the remote's branch already is `head` (a resume after a push): a commit
/// is never pushed twice.
fn push_once(cx: &mut RunCtx, remote: &str, head: &str) -> Result<()> {
    let branch = cx.cp.meta().branch.clone();
    let (ok, out, err) = cx
        .git
        .try_run(&["ls-remote", remote, &format!("refs/heads/{branch}")])?;
    if !ok {
        return Err(crate::git::GitError::Command {
            command: format!("ls-remote {remote}"),
            message: err.trim().to_string(),
        }
        .into());
    }
    if out.split_whitespace().next() == Some(head) {
        return Ok(());
    }
    crate::fault::point("ci:before_push");
    cx.git
        .run(&["push", remote, &format!("HEAD:refs/heads/{branch}")])?;
    let ci = cx.cp.state_mut().ci.get_or_insert_with(CiState::default);
    ci.pushed.push(head.to_string());
    cx.cp.save()?;
    cx.emit(
        Event::new(
            EventBody::Ship,
            format!("pushed {} to {remote}", short(head)),
        )
        .stage("ci"),
    );
    crate::fault::point("ci:after_push");
    Ok(())
}

/// The round that watches `head`: the same one after a resume, the next one for a new commit.
fn enter_round(cx: &mut RunCtx, head: &str) -> Result<u32> {
    let ci = cx.cp.state_mut().ci.get_or_insert_with(CiState::default);
    if ci.sha.as_deref() != Some(head) || ci.round == 0 {
        ci.round += 1;
        ci.sha = Some(head.to_string());
        ci.checks.clear();
        cx.cp.save()?;
    }
    Ok(cx.cp.state().ci.as_ref().map_or(1, |c| c.round))
}

/// Reads the checks of `head` every `ci.poll` seconds until none is pending, or `ci.timeout`.
fn wait(cx: &mut RunCtx, hub: &GitHub, head: &str, round: u32) -> Result<Waited> {
    let poll = Duration::from_secs(cx.env.config.ci.poll.get());
    let timeout = Duration::from_secs(cx.env.config.ci.timeout.get());
    let started = Instant::now();
    loop {
        cx.env.check_cancel()?;
        let checks = hub.checks(head)?;
        let records: Vec<CheckRecord> = checks.iter().map(|c| c.record.clone()).collect();
        let changed = cx.cp.state().ci.as_ref().map(|c| &c.checks) != Some(&records);
        if changed {
            if let Some(ci) = cx.cp.state_mut().ci.as_mut() {
                ci.checks = records.clone();
            }
            cx.cp.save()?;
            let count = |s: CheckState| records.iter().filter(|c| c.state == s).count();
            cx.emit(
                Event::new(
                    EventBody::Ci(CiReport {
                        round,
                        sha: head.to_string(),
                        checks: records.clone(),
                    }),
                    format!(
                        "round {round}: {} check{} of {}: {} passed, {} failed, {} pending",
                        records.len(),
                        if records.len() == 1 { "" } else { "s" },
                        short(head),
                        count(CheckState::Passed),
                        count(CheckState::Failed),
                        count(CheckState::Pending)
                    ),
                )
                .stage("ci")
                .attempt(round),
            );
        }
        crate::fault::point("ci:after_poll");
        match CiState::overall(&records) {
            CheckState::Passed => return Ok(Waited::Passed(records)),
            // Failed once none is pending: every failed job's log goes to the one fix.
            CheckState::Failed if !records.iter().any(|c| c.state == CheckState::Pending) => {
                return Ok(Waited::Failed(checks));
            }
            _ => {}
        }
        if started.elapsed() >= timeout {
            return Ok(Waited::TimedOut(records));
        }
        // Sleep in small steps, so a cancel stops the wait at once.
        let until = Instant::now() + poll.min(timeout.saturating_sub(started.elapsed()));
        while Instant::now() < until {
            cx.env.check_cancel()?;
            std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
        }
    }
}

/// The evidence of the failed checks: each job's log, kept in logs/, read down to its failures.
fn evidence(cx: &mut RunCtx, hub: &GitHub, checks: &[Check], round: u32) -> Result<String> {
    let cap = cx.env.config.ci.log_bytes.get() as usize;
    let mut out = String::new();
    for c in checks
        .iter()
        .filter(|c| c.record.state == CheckState::Failed)
    {
        let name = &c.record.name;
        match hub.job_log(c.id) {
            Ok(log) => {
                let safe: String = name
                    .chars()
                    .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                    .collect();
                cx.env
                    .files
                    .text(&cx.env.dir.log(&format!("ci_{round}_{safe}.log")), &log)?;
                out.push_str(&ci_log::evidence(name, &log, cap).text);
            }
            // A check that is not a GitHub Actions job (another CI) has no log to read here.
            Err(e) => out.push_str(&format!(
                "## CI check `{name}` failed ({})\nIts log could not be read: {e}\nSee {}\n",
                c.record.conclusion.as_deref().unwrap_or("failure"),
                c.record
                    .url
                    .as_deref()
                    .unwrap_or("the pull request's checks"),
            )),
        }
        out.push('\n');
    }
    Ok(out)
}

/// The fix of a failed round: the agent with the evidence, the local gates, a commit. Returns
/// the failure that ends the stage, if any.
fn fix(
    cx: &mut RunCtx,
    pr_url: &str,
    round: u32,
    max_rounds: u32,
    evidence: &str,
) -> Result<Option<Failure>> {
    let ctx = serde_json::json!({
        "task": cx.env.task, "pr_url": pr_url, "round": round, "max_rounds": max_rounds,
        "evidence": evidence,
    });
    let prompt = cx.env.prompts.render("fix_ci", &ctx)?;
    let call = cx.call_agent(Turn {
        role: "fix",
        mode: AgentMode::Apply,
        prompt,
        prompt_file: format!("fix_ci_{round}.md"),
        item: Some("ci"),
        attempt: round,
        resume: None,
    })?;
    if let Some(e) = &call.outcome.error {
        return Ok(Some(ci_failure(
            FailureCategory::AgentError,
            format!(
                "the fix of CI round {round}: {}: {}",
                e.kind.as_str(),
                e.message
            ),
            Some(format!("artifacts/ci_round_{round}.evidence.md")),
        )));
    }
    let gates = enabled_gates(cx);
    let results = run_gates(cx, &gates, Scope::Ci { round })?;
    let blocking: Vec<&str> = results
        .iter()
        .filter(|g| g.blocks())
        .map(|g| g.name.as_str())
        .collect();
    if !blocking.is_empty() {
        cx.emit(
            Event::warning(format!(
                "round {round}: the fix fails local gate{} {} (pushed anyway: CI has the last word)",
                if blocking.len() == 1 { "" } else { "s" },
                blocking.join(", ")
            ))
            .stage("ci"),
        );
    }
    match cx
        .git
        .commit_all(&format!("orx: fix CI checks (round {round})"))?
    {
        Some(_) => Ok(None),
        None => Ok(Some(ci_failure(
            FailureCategory::CiFailed,
            format!("the fix of CI round {round} changed nothing"),
            Some(format!("artifacts/ci_round_{round}.evidence.md")),
        ))),
    }
}
