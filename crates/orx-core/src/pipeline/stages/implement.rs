//! The implement loop: for each item in dependency order, implement → diff → guardrails →
//! verify → fix with the evidence, up to max_fix_attempts; a passing item is committed.

use std::collections::BTreeMap;

use super::decompose::{install, load_backlog};
use super::{Stage, StageOutcome, failure};
use crate::agent::AgentMode;
use crate::gate::{GateResult, GateRun, run_gate};
use crate::guardrails::Guardrails;
use crate::metrics::StageRecord;
use crate::pipeline::backlog::{Backlog, Item, topo_order};
use crate::pipeline::{RunCtx, evidence};
use crate::protocol::{
    AttemptStatus, Event, EventBody, Failure, FailureCategory, GateOutcome, ItemPhase, ItemStatus,
    now_rfc3339,
};
use crate::{PipelineError, Result};

/// implement (with verify and fix).
pub struct Implement;

impl Stage for Implement {
    fn name(&self) -> &'static str {
        "implement"
    }

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        cx.recorded_itself = true;
        let backlog = match load_backlog(cx) {
            Some(b) => b,
            None if !cx.pipeline_stages.iter().any(|s| s == "decompose") => {
                single_item_backlog(cx)?
            }
            None => {
                return Ok(StageOutcome::Failed(failure(
                    "implement",
                    None,
                    FailureCategory::NoBacklog,
                    "context/backlog.yaml is missing: the decompose stage makes it",
                )));
            }
        };
        install(cx, backlog.items.clone())?;
        let order = topo_order(&backlog.items).map_err(PipelineError::Backlog)?;
        let guardrails = Guardrails::new(&cx.config.guardrails)
            .map_err(|e| PipelineError::Guardrails(e.to_string()))?;
        let mut failures: Vec<Failure> = Vec::new();
        for idx in order {
            let item = &backlog.items[idx];
            let Some(st) = cx.state.item(&item.id).cloned() else {
                continue;
            };
            if matches!(
                st.status,
                ItemStatus::Passed | ItemStatus::Failed | ItemStatus::Skipped
            ) {
                if st.status == ItemStatus::Failed {
                    failures.push(failure(
                        "implement",
                        Some(&item.id),
                        FailureCategory::ItemFailed,
                        format!("{} failed", item.id),
                    ));
                }
                continue;
            }
            let blocked = item.depends_on.iter().find(|d| {
                cx.state
                    .item(d)
                    .is_some_and(|s| matches!(s.status, ItemStatus::Failed | ItemStatus::Skipped))
            });
            if let Some(dep) = blocked {
                if let Some(s) = cx.state.item_mut(&item.id) {
                    s.status = ItemStatus::Skipped;
                }
                cx.save()?;
                cx.emit(
                    Event::new(
                        EventBody::ItemSkipped,
                        format!(
                            "{} skipped: it depends on {dep}, which did not pass",
                            item.id
                        ),
                    )
                    .stage("implement")
                    .item(&item.id),
                );
                continue;
            }
            match run_item(cx, item, &guardrails)? {
                None => {}
                Some(f) => {
                    failures.push(f.clone());
                    if cx.config.run.stop_on_first_failure {
                        // The worktree keeps the failed item's changes for `orx resume`.
                        return Ok(StageOutcome::Failed(f));
                    }
                    set_aside(cx, &item.id)?;
                }
            }
        }
        cx.state.current_item = None;
        cx.save()?;
        let total = cx.state.items.len();
        let passed = cx
            .state
            .items
            .iter()
            .filter(|i| i.status == ItemStatus::Passed)
            .count();
        match failures.into_iter().next() {
            Some(mut f) => {
                f.message = format!(
                    "{} of {total} items did not pass; first: {}",
                    total - passed,
                    f.message
                );
                Ok(StageOutcome::Failed(f))
            }
            None => Ok(StageOutcome::Done(format!(
                "{passed} of {total} items passed"
            ))),
        }
    }
}

/// Other items go on: the failed item's changes are saved as artifacts/<id>.failed.diff and
/// removed from the worktree, so they are neither verified nor committed with the next item.
fn set_aside(cx: &mut RunCtx, id: &str) -> Result<()> {
    let Some(start) = cx.state.item(id).and_then(|s| s.start_commit.clone()) else {
        return Ok(());
    };
    let diff = cx.git.diff_since(&start)?;
    cx.write(&cx.dir.artifact(&format!("{id}.failed.diff")), &diff)?;
    cx.git.run(&["reset", "--quiet", "--hard", &start])?;
    cx.git.run(&["clean", "-fdq"])?;
    cx.emit(Event::new(EventBody::ItemSetAside, format!("{id}: its changes were saved to artifacts/{id}.failed.diff and removed from the worktree")).stage("implement").item(id));
    Ok(())
}

/// fast_fix and other pipelines without decompose: the task is the one item.
fn single_item_backlog(cx: &mut RunCtx) -> Result<Backlog> {
    let title = crate::run::summarize_task(&cx.task, 72);
    let bl = Backlog {
        run_id: cx.state.run_id.clone(),
        items: vec![Item {
            id: "W001".into(),
            title,
            objective: cx.task.clone(),
            acceptance: vec!["The task is done and every required gate passes".into()],
            files_hint: vec![],
            depends_on: vec![],
        }],
    };
    let yaml = serde_saphyr::to_string(&bl).map_err(std::io::Error::other)?;
    cx.input("backlog.yaml", &yaml)?;
    Ok(bl)
}

/// Runs one item to the end. Returns the failure when it exhausts its attempts.
fn run_item(cx: &mut RunCtx, item: &Item, guardrails: &Guardrails) -> Result<Option<Failure>> {
    let max = cx.config.run.max_fix_attempts.get() as u32;
    let id = item.id.clone();
    {
        let head = cx.git.head()?;
        let s = cx
            .state
            .item_mut(&id)
            .ok_or_else(|| PipelineError::ItemVanished(id.clone()))?;
        s.status = ItemStatus::Running;
        if s.start_commit.is_none() {
            s.start_commit = Some(head);
        }
    }
    cx.state.current_item = Some(id.clone());
    cx.mark()?;
    cx.emit(
        Event::new(EventBody::ItemStarted, format!("{id}: {}", item.title))
            .stage("implement")
            .item(&id),
    );
    loop {
        cx.check_cancel()?;
        let st = cx
            .state
            .item(&id)
            .cloned()
            .ok_or_else(|| PipelineError::ItemVanished(id.clone()))?;
        let start = st.start_commit.clone().unwrap_or_default();
        let started_at = now_rfc3339();
        let t0 = std::time::Instant::now();
        cx.stage_usage = Default::default();
        // An item interrupted after its agent finished re-verifies the worktree as that attempt.
        // One interrupted while its agent worked runs the agent again as that attempt, on top of
        // the worktree as it is: what a killed agent left may be half-written (a crash campaign
        // caught an empty file committed that way).
        let mut resumed = st.phase.is_some() && st.attempts >= 1;
        let mut rerun = false;
        if resumed && st.phase == Some(ItemPhase::Agent) {
            resumed = false;
            rerun = true;
        }
        let attempt = if resumed || rerun {
            st.attempts
        } else {
            st.attempts + 1
        };
        let role = if attempt == 1 { "implement" } else { "fix" };
        if !resumed {
            if !rerun && st.attempts >= max {
                return Ok(Some(exhausted(cx, &id, max)?));
            }
            if let Some(s) = cx.state.item_mut(&id) {
                s.attempts = attempt;
                s.phase = Some(ItemPhase::Agent);
            }
            cx.mark()?;
            cx.emit(
                Event::new(
                    EventBody::AttemptStarted,
                    format!("{id} attempt {attempt}/{max}: {role}"),
                )
                .stage(role)
                .item(&id)
                .attempt(attempt),
            );
            let ctx = serde_json::json!({
                "task": cx.task,
                "spec": cx.context_text("spec.md").unwrap_or_default(),
                "item": item,
                "attempt": attempt,
                "max_attempts": max,
                "evidence": st.last_evidence.clone().unwrap_or_default(),
                "context": cx.repo_context(),
            });
            let prompt = cx.prompts.render(role, &ctx)?;
            let call = cx.call_agent(
                role,
                AgentMode::Apply,
                prompt,
                &format!("{role}_{id}_{attempt}.md"),
                Some(&id),
                attempt,
            )?;
            if let Some(e) = &call.outcome.error {
                let ev = format!("## The agent failed\n{}: {}\n", e.kind.as_str(), e.message);
                if let Some(f) = fail_attempt(
                    cx,
                    &id,
                    role,
                    attempt,
                    FailureCategory::AgentError,
                    ev,
                    &started_at,
                    t0,
                    0.0,
                    BTreeMap::new(),
                    None,
                )? {
                    return Ok(Some(f));
                }
                continue;
            }
        } else {
            cx.emit(Event::new(EventBody::AttemptResumed, format!("{id} attempt {attempt}/{max}: re-verifying the worktree after an interruption")).stage(role).item(&id).attempt(attempt));
        }
        crate::fault::point(&format!("implement:{id}:before_verify"));
        // Commits the agent made itself are folded back into the index: the item gets exactly
        // one commit, and guardrails can still revert what those commits contained.
        if cx.git.head()? != start {
            cx.git.run(&["reset", "--quiet", "--soft", &start])?;
        }
        if let Some(s) = cx.state.item_mut(&id) {
            s.phase = Some(ItemPhase::Verify);
        }
        cx.mark()?;

        // One diff gives the artifact, the statistics and the paths the guardrails check.
        let (changes, nested) = cx.git.changes_unnesting(&start)?;
        let diff = changes.patch;
        cx.write(&cx.dir.artifact(&format!("{id}.diff")), &diff)?;
        let stats = Some(changes.stats);
        if diff.trim().is_empty() {
            let ev = "## No changes\nThe attempt changed no file in the worktree. Make the change the item asks for.\n".to_string();
            if let Some(f) = fail_attempt(
                cx,
                &id,
                role,
                attempt,
                FailureCategory::NoChanges,
                ev,
                &started_at,
                t0,
                0.0,
                BTreeMap::new(),
                stats,
            )? {
                return Ok(Some(f));
            }
            continue;
        }
        let mut violations = guardrails.check_in(&cx.worktree, &changes.paths);
        violations.git.extend(nested);
        if !violations.is_empty() {
            let revert = violations.to_revert();
            cx.git.revert_paths(&start, &revert)?;
            let diff_after = cx.git.diff_since(&start)?;
            cx.write(&cx.dir.artifact(&format!("{id}.diff")), &diff_after)?;
            let ev = evidence::with_diff(
                format!("## Guardrails\nThe attempt {}.\n\n", violations.describe()),
                &diff_after,
            );
            cx.emit(
                Event::new(EventBody::Guardrail, violations.describe())
                    .stage(role)
                    .item(&id)
                    .attempt(attempt),
            );
            if let Some(f) = fail_attempt(
                cx,
                &id,
                role,
                attempt,
                FailureCategory::Guardrail,
                ev,
                &started_at,
                t0,
                0.0,
                BTreeMap::new(),
                stats,
            )? {
                return Ok(Some(f));
            }
            continue;
        }

        let results = run_gates(cx, &id, attempt)?;
        let gate_secs: f64 = results.iter().map(|g| g.duration_secs).sum();
        let gate_map: BTreeMap<String, bool> =
            results.iter().map(|g| (g.name.clone(), g.passed)).collect();
        cx.files
            .json(&cx.dir.artifact(&format!("{id}.gates.json")), &results)?;
        if results.iter().any(|g| g.required && !g.passed) {
            let ev = evidence::from_gates(&results, &diff);
            if let Some(f) = fail_attempt(
                cx,
                &id,
                role,
                attempt,
                FailureCategory::GateFailed,
                ev,
                &started_at,
                t0,
                gate_secs,
                gate_map,
                stats,
            )? {
                return Ok(Some(f));
            }
            continue;
        }
        if results.iter().any(|g| !g.passed) {
            cx.emit(
                Event::warning(format!(
                    "{id}: optional gate(s) failed: {}",
                    results
                        .iter()
                        .filter(|g| !g.passed)
                        .map(|g| g.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .stage(role)
                .item(&id)
                .attempt(attempt),
            );
        }
        crate::fault::point(&format!("implement:{id}:before_commit"));
        // Passed: the item becomes a checkpoint on the run branch.
        // Every passing item is committed, whatever git.auto_commit says: the commits are the
        // run's checkpoints (auto_commit governs what ship commits at the end).
        // The message is history people read: the agent's title is redacted.
        let commit = cx
            .git
            .commit_all(&cx.files.redact(&format!("orx: {id} {}", item.title)))?;
        if let Some(s) = cx.state.item_mut(&id) {
            s.status = ItemStatus::Passed;
            s.phase = None;
            s.commit = commit.clone();
        }
        cx.save()?;
        record(
            cx,
            &id,
            role,
            attempt,
            AttemptStatus::Ok,
            None,
            &started_at,
            t0,
            gate_secs,
            gate_map,
            stats,
        )?;
        cx.emit(
            Event::new(
                EventBody::ItemFinished {
                    status: ItemStatus::Passed,
                    commit: commit.clone(),
                    category: None,
                },
                format!("{id} passed on attempt {attempt}"),
            )
            .stage(role)
            .item(&id)
            .attempt(attempt),
        );
        return Ok(None);
    }
}

fn run_gates(cx: &mut RunCtx, id: &str, attempt: u32) -> Result<Vec<GateResult>> {
    let gates: Vec<_> = cx
        .config
        .gates
        .iter()
        .filter(|g| g.enabled)
        .cloned()
        .collect();
    let mut results = Vec::new();
    for gate in gates {
        cx.check_cancel()?;
        cx.emit(
            Event::new(EventBody::GateStarted, format!("{id}: gate {}", gate.name))
                .stage("verify")
                .item(id)
                .attempt(attempt),
        );
        let dir = cx.dir.clone();
        let ledger = cx.ledger();
        let id_owned = id.to_string();
        let log_for = move |name: &str| dir.log(&format!("gate_{name}_{id_owned}_{attempt}.log"));
        let run = GateRun {
            cwd: &cx.worktree,
            log_for: &log_for,
            cancel: &cx.cancel,
            redactor: Some(cx.files.redactor()),
            ledger: Some(&ledger),
        };
        let res = run_gate(&gate, &run)?;
        cx.emit(
            Event::new(
                EventBody::GateFinished(GateOutcome {
                    gate: res.name.clone(),
                    passed: res.passed,
                    required: res.required,
                    exit_code: res.exit_code,
                    timed_out: res.timed_out,
                    duration_secs: res.duration_secs,
                    findings: res.findings.len(),
                    counts: res.counts.clone(),
                }),
                format!(
                    "{id}: gate {} {}{}",
                    res.name,
                    if res.passed { "passed" } else { "failed" },
                    if res.timed_out { " (timed out)" } else { "" }
                ),
            )
            .stage("verify")
            .item(id)
            .attempt(attempt),
        );
        results.push(res);
    }
    Ok(results)
}

#[allow(clippy::too_many_arguments)]
fn fail_attempt(
    cx: &mut RunCtx,
    id: &str,
    role: &str,
    attempt: u32,
    category: FailureCategory,
    evidence: String,
    started_at: &str,
    t0: std::time::Instant,
    gate_secs: f64,
    gates: BTreeMap<String, bool>,
    stats: Option<crate::git::DiffStats>,
) -> Result<Option<Failure>> {
    let evidence = cx.files.redact(&evidence);
    cx.write(&cx.dir.artifact(&format!("{id}.evidence.md")), &evidence)?;
    if let Some(s) = cx.state.item_mut(id) {
        s.last_evidence = Some(evidence);
        s.phase = None;
    }
    cx.state.last_failure = Some(failure(
        role,
        Some(id),
        category,
        format!("{id} attempt {attempt}: {category}"),
    ));
    cx.save()?;
    record(
        cx,
        id,
        role,
        attempt,
        AttemptStatus::Failed,
        Some(category),
        started_at,
        t0,
        gate_secs,
        gates,
        stats,
    )?;
    cx.emit(
        Event::new(
            EventBody::AttemptFailed { category },
            format!("{id} attempt {attempt} failed: {category}"),
        )
        .stage(role)
        .item(id)
        .attempt(attempt),
    );
    let max = cx.config.run.max_fix_attempts.get() as u32;
    if attempt >= max {
        return Ok(Some(exhausted(cx, id, max)?));
    }
    Ok(None)
}

fn exhausted(cx: &mut RunCtx, id: &str, max: u32) -> Result<Failure> {
    let category = cx
        .state
        .last_failure
        .as_ref()
        .filter(|f| f.item.as_deref() == Some(id))
        .map(|f| f.category)
        .unwrap_or(FailureCategory::ItemFailed);
    if let Some(s) = cx.state.item_mut(id) {
        s.status = ItemStatus::Failed;
        s.phase = None;
    }
    let f = failure(
        "implement",
        Some(id),
        category,
        format!(
            "{id} did not pass after {max} attempt{} ({category})",
            if max == 1 { "" } else { "s" }
        ),
    );
    cx.state.last_failure = Some(f.clone());
    cx.save()?;
    cx.emit(
        Event::new(
            EventBody::ItemFinished {
                status: ItemStatus::Failed,
                commit: None,
                category: Some(category),
            },
            f.message.clone(),
        )
        .stage("implement")
        .item(id),
    );
    Ok(f)
}

#[allow(clippy::too_many_arguments)]
fn record(
    cx: &RunCtx,
    id: &str,
    role: &str,
    attempt: u32,
    status: AttemptStatus,
    category: Option<FailureCategory>,
    started_at: &str,
    t0: std::time::Instant,
    gate_secs: f64,
    gates: BTreeMap<String, bool>,
    diff: Option<crate::git::DiffStats>,
) -> Result<()> {
    let u = &cx.stage_usage;
    cx.record(&StageRecord {
        run_id: cx.state.run_id.clone(),
        stage: role.to_string(),
        item: Some(id.to_string()),
        attempt,
        version: crate::protocol::PROTOCOL_VERSION,
        status,
        failure_category: category,
        started_at: started_at.to_string(),
        ended_at: now_rfc3339(),
        duration_secs: t0.elapsed().as_secs_f64(),
        agent_secs: u.agent_secs,
        gate_secs,
        executor: u.executor.clone(),
        model: u.model.clone(),
        tokens: u.usage,
        cost_usd: u.cost_usd,
        gates,
        diff,
    })
}
