//! One backlog item's life, as a state machine over its attempts:
//!
//! ```text
//! Agent → Diff → Guardrails → Gates → Commit           (passed)
//!   ↘ failed (agent error, no changes, guardrail, gates) → next attempt (fix) … → exhausted
//! ```
//!
//! Each transition is a checkpoint: the item's phase says what a resume redoes (an attempt whose
//! agent was stopped runs its agent again; one whose agent finished is verified again).

use std::collections::BTreeMap;
use std::time::Instant;

use super::failure;
use crate::Result;
use crate::agent::AgentMode;
use crate::git::{Changes, DiffStats};
use crate::guardrails::Guardrails;
use crate::metrics::StageRecord;
use crate::pipeline::backlog::Item;
use crate::pipeline::verify::{Scope, enabled_gates, load_baseline, run_gates};
use crate::pipeline::{PipelineError, RunCtx, Turn, evidence};
use crate::protocol::{
    AttemptStatus, Event, EventBody, Failure, FailureCategory, ItemPhase, ItemStatus, now_rfc3339,
};

/// Runs `item` to its end: None when it passed, its failure when it used up its attempts.
pub(super) fn run_item(
    cx: &mut RunCtx,
    item: &Item,
    guardrails: &Guardrails,
) -> Result<Option<Failure>> {
    begin(cx, item)?;
    loop {
        cx.env.check_cancel()?;
        let Some(mut attempt) = Attempt::next(cx, item)? else {
            return Ok(Some(exhausted(cx, &item.id)?));
        };
        match attempt.run(cx, item, guardrails)? {
            Verdict::Passed => return Ok(None),
            Verdict::Failed { category, evidence } => {
                if let Some(f) = attempt.fail(cx, category, evidence)? {
                    return Ok(Some(f));
                }
            }
        }
    }
}

/// The item starts (or goes on after an interruption): it records its start commit once.
fn begin(cx: &mut RunCtx, item: &Item) -> Result<()> {
    let head = cx.git.head()?;
    let state = cx.cp.state_mut();
    let s = state
        .item_mut(&item.id)
        .ok_or_else(|| PipelineError::ItemVanished(item.id.clone()))?;
    s.status = ItemStatus::Running;
    if s.start_commit.is_none() {
        s.start_commit = Some(head);
    }
    state.current_item = Some(item.id.clone());
    cx.cp.mark()?;
    cx.emit(
        Event::new(
            EventBody::ItemStarted,
            format!("{}: {}", item.id, item.title),
        )
        .stage("implement")
        .item(&item.id),
    );
    Ok(())
}

/// How an attempt ended.
enum Verdict {
    /// Gates passed and the item is committed.
    Passed,
    /// The attempt failed; the evidence goes to the next one.
    Failed {
        category: FailureCategory,
        evidence: String,
    },
}

/// One attempt at an item: which one, from where, and what it produced so far.
struct Attempt {
    id: String,
    number: u32,
    max: u32,
    /// `implement` for the first attempt, `fix` after.
    role: &'static str,
    /// The commit the item started from: its diff is against it.
    start: String,
    /// The evidence of the last failed attempt, for a fix.
    evidence: Option<String>,
    /// Verifying again an attempt whose agent finished before an interruption.
    resumed: bool,
    started_at: String,
    t0: Instant,
    stats: Option<DiffStats>,
    gates: BTreeMap<String, bool>,
    gate_secs: f64,
}

impl Attempt {
    /// The attempt to make next, from the checkpoint: None when the item has used its budget.
    fn next(cx: &mut RunCtx, item: &Item) -> Result<Option<Attempt>> {
        let max = cx.env.config.run.max_fix_attempts.get() as u32;
        let st = cx
            .cp
            .state()
            .item(&item.id)
            .cloned()
            .ok_or_else(|| PipelineError::ItemVanished(item.id.clone()))?;
        // An item interrupted after its agent finished re-verifies the worktree as that attempt.
        // One interrupted while its agent worked runs the agent again as that attempt, on top of
        // the worktree as it is: what a killed agent left may be half-written.
        let again = st.attempts >= 1 && st.phase.is_some();
        let resumed = again && st.phase == Some(ItemPhase::Verify);
        if !again && st.attempts >= max {
            return Ok(None);
        }
        let number = if again { st.attempts } else { st.attempts + 1 };
        // Usage of an earlier, interrupted call is not this attempt's.
        cx.take_totals();
        Ok(Some(Attempt {
            id: item.id.clone(),
            number,
            max,
            role: if number == 1 { "implement" } else { "fix" },
            start: st.start_commit.clone().unwrap_or_default(),
            evidence: st.last_evidence.clone(),
            resumed,
            started_at: now_rfc3339(),
            t0: Instant::now(),
            stats: None,
            gates: BTreeMap::new(),
            gate_secs: 0.0,
        }))
    }

    fn event(&self, body: EventBody, message: String) -> Event {
        Event::new(body, message)
            .stage(self.role)
            .item(&self.id)
            .attempt(self.number)
    }

    /// Agent → Diff → Guardrails → Gates → Commit.
    fn run(&mut self, cx: &mut RunCtx, item: &Item, guardrails: &Guardrails) -> Result<Verdict> {
        if self.resumed {
            cx.emit(self.event(
                EventBody::AttemptResumed,
                format!(
                    "{} attempt {}/{}: re-verifying the worktree after an interruption",
                    self.id, self.number, self.max
                ),
            ));
        } else if let Some(v) = self.agent(cx, item)? {
            return Ok(v);
        }
        crate::fault::point(&format!("implement:{}:before_verify", self.id));
        self.enter_verify(cx)?;
        let (changes, nested) = cx.git.changes_unnesting(&self.start)?;
        self.stats = Some(changes.stats.clone());
        cx.env.files.text(
            &cx.env.dir.artifact(&format!("{}.diff", self.id)),
            &changes.patch,
        )?;
        self.keep_what_it_changed(cx);
        if changes.patch.trim().is_empty() {
            return Ok(Verdict::Failed {
                category: FailureCategory::NoChanges,
                evidence: "## No changes\nThe attempt changed no file in the worktree. Make the change the item asks for.\n".into(),
            });
        }
        if let Some(v) = self.guardrails(cx, guardrails, &changes, nested)? {
            return Ok(v);
        }
        if let Some(v) = self.gates(cx, &changes.patch)? {
            return Ok(v);
        }
        self.commit(cx, item)?;
        Ok(Verdict::Passed)
    }

    /// The agent's turn: implement (attempt 1) or fix with the last failure's evidence.
    fn agent(&mut self, cx: &mut RunCtx, item: &Item) -> Result<Option<Verdict>> {
        if let Some(s) = cx.cp.state_mut().item_mut(&self.id) {
            s.attempts = self.number;
            s.phase = Some(ItemPhase::Agent);
        }
        cx.cp.mark()?;
        cx.emit(self.event(
            EventBody::AttemptStarted,
            format!(
                "{} attempt {}/{}: {}",
                self.id, self.number, self.max, self.role
            ),
        ));
        let ctx = serde_json::json!({
            "task": cx.env.task,
            "spec": cx.env.context_text("spec.md").unwrap_or_default(),
            "item": item,
            "attempt": self.number,
            "max_attempts": self.max,
            "evidence": self.evidence.clone().unwrap_or_default(),
            "context": cx.env.repo_context(),
            "baseline": load_baseline(cx)
                .map(|b| b.describe(&cx.env.config.gates))
                .unwrap_or_default(),
        });
        let prompt_file = format!("{}_{}_{}.md", self.role, self.id, self.number);
        let call = match self.continue_session(cx, &ctx, &prompt_file)? {
            Some(c) => c,
            None => cx.call_agent(Turn {
                role: self.role,
                mode: AgentMode::Apply,
                prompt: cx.env.prompts.render(self.role, &ctx)?,
                prompt_file,
                item: Some(&self.id),
                attempt: self.number,
                resume: None,
            })?,
        };
        self.remember_session(cx, &call);
        Ok(call.outcome.error.as_ref().map(|e| Verdict::Failed {
            category: FailureCategory::AgentError,
            evidence: format!("## The agent failed\n{}: {}\n", e.kind.as_str(), e.message),
        }))
    }

    /// A fix in the session of the item's last call, with only the new evidence (the session
    /// holds the task, the spec and the agent's earlier turns). None when there is no session to
    /// continue, or it could not be continued (expired, refused): then the caller makes a fresh
    /// call with the full prompt. A timeout is the attempt's own failure.
    fn continue_session(
        &self,
        cx: &mut RunCtx,
        ctx: &serde_json::Value,
        prompt_file: &str,
    ) -> Result<Option<crate::agent::AgentCall>> {
        let Some(session) = self.session_to_continue(cx)? else {
            return Ok(None);
        };
        let call = cx.call_agent(Turn {
            role: self.role,
            mode: AgentMode::Apply,
            prompt: cx.env.prompts.render("fix_resumed", ctx)?,
            prompt_file: prompt_file.to_string(),
            item: Some(&self.id),
            attempt: self.number,
            resume: Some(session.clone()),
        })?;
        let Some(e) = call
            .outcome
            .error
            .as_ref()
            .filter(|e| e.kind != crate::agent::ErrorKind::Timeout)
        else {
            return Ok(Some(call));
        };
        cx.emit(self.event(
            EventBody::Warning,
            format!(
                "{} attempt {}: could not continue the {} session {} ({}: {}); calling the \
                 agent afresh with the full fix prompt",
                self.id,
                self.number,
                session.executor,
                session.id,
                e.kind.as_str(),
                crate::fsutil::truncate(&e.message, 200)
            ),
        ));
        cx.set_aside(prompt_file, self.role, &self.id, self.number, "resumed");
        Ok(None)
    }

    /// The session a later fix may continue: that of a call that went well, with what it used
    /// in all its calls.
    fn remember_session(&self, cx: &mut RunCtx, call: &crate::agent::AgentCall) {
        let before = cx.cp.state().item(&self.id).and_then(|i| i.session.clone());
        let session = call
            .outcome
            .session_id
            .clone()
            .filter(|_| call.outcome.error.is_none())
            .map(|id| {
                let mut reported = call.outcome.usage;
                if let Some(b) = before.filter(|b| b.id == id) {
                    reported.add(&b.reported);
                }
                crate::protocol::SessionRef {
                    executor: call.route.executor.name().to_string(),
                    id,
                    reported,
                }
            });
        if let Some(s) = cx.cp.state_mut().item_mut(&self.id) {
            s.session = session;
        }
    }

    /// The session a fix continues (`run.reuse_sessions`): the item's last call's, when the
    /// agent routed for the fix made it and can resume it.
    fn session_to_continue(&self, cx: &RunCtx) -> Result<Option<crate::agent::Session>> {
        if self.role != "fix" || !cx.env.config.run.reuse_sessions {
            return Ok(None);
        }
        match cx.cp.state().item(&self.id).and_then(|i| i.session.clone()) {
            Some(saved) => cx.session_for(self.role, &saved),
            None => Ok(None),
        }
    }

    /// The agent is done: commits it made itself are folded back into the index (the item gets
    /// exactly one commit, and guardrails can still revert what they held), and the checkpoint
    /// says the worktree is to be verified.
    fn enter_verify(&self, cx: &mut RunCtx) -> Result<()> {
        if cx.git.head()? != self.start {
            cx.git.run(&["reset", "--quiet", "--soft", &self.start])?;
        }
        if let Some(s) = cx.cp.state_mut().item_mut(&self.id) {
            s.phase = Some(ItemPhase::Verify);
        }
        cx.cp.mark()
    }

    /// Forbidden paths are reverted and fail the attempt, with the diff that is left.
    /// Keeps the attempt's files as a tree (`<item>.attempt<n>.tree`) and, for a fix, what it
    /// changed over the attempt before (`<item>.fix<n>.diff`, shown beside the evidence the fix
    /// was given). Best effort: the run does not depend on it.
    fn keep_what_it_changed(&self, cx: &RunCtx) {
        let Ok(tree) = cx.git.write_tree() else {
            return;
        };
        let dir = &cx.env.dir;
        let tree_of = |n: u32| dir.artifact(&format!("{}.attempt{n}.tree", self.id));
        let _ = cx.env.files.text(&tree_of(self.number), &tree);
        if self.number < 2 {
            return;
        }
        let Ok(before) = std::fs::read_to_string(tree_of(self.number - 1)) else {
            return;
        };
        if let Ok(diff) = cx.git.diff_trees(before.trim(), &tree) {
            let _ = cx.env.files.text(
                &dir.artifact(&format!("{}.fix{}.diff", self.id, self.number)),
                &diff,
            );
        }
    }

    fn guardrails(
        &self,
        cx: &mut RunCtx,
        guardrails: &Guardrails,
        changes: &Changes,
        nested: Vec<String>,
    ) -> Result<Option<Verdict>> {
        let mut violations = guardrails.check_in(&cx.env.worktree, &changes.paths);
        violations.git.extend(nested);
        if violations.is_empty() {
            return Ok(None);
        }
        cx.git.revert_paths(&self.start, &violations.to_revert())?;
        let diff_after = cx.git.diff_since(&self.start)?;
        cx.env.files.text(
            &cx.env.dir.artifact(&format!("{}.diff", self.id)),
            &diff_after,
        )?;
        cx.emit(self.event(EventBody::Guardrail, violations.describe()));
        Ok(Some(Verdict::Failed {
            category: FailureCategory::Guardrail,
            evidence: evidence::with_diff(
                format!("## Guardrails\nThe attempt {}.\n\n", violations.describe()),
                &diff_after,
            ),
        }))
    }

    /// Every enabled gate; a required one that fails fails the attempt, unless it fails only
    /// as it already did on the base; an optional one is reported.
    fn gates(&mut self, cx: &mut RunCtx, diff: &str) -> Result<Option<Verdict>> {
        let gates = enabled_gates(cx);
        let scope = Scope::Attempt {
            item: &self.id,
            attempt: self.number,
        };
        let mut results = run_gates(cx, &gates, scope)?;
        if let Some(base) = load_baseline(cx) {
            for r in &mut results {
                base.judge(&gates, r);
            }
        }
        self.gate_secs = results.iter().map(|g| g.duration_secs).sum();
        self.gates = results
            .iter()
            .map(|g| (g.name.clone(), g.counts_as_passed()))
            .collect();
        cx.env.files.json(
            &cx.env.dir.artifact(&format!("{}.gates.json", self.id)),
            &results,
        )?;
        let as_before: Vec<&str> = results
            .iter()
            .filter(|g| !g.passed && g.counts_as_passed())
            .map(|g| g.name.as_str())
            .collect();
        if !as_before.is_empty() {
            cx.emit(self.event(
                EventBody::Warning,
                format!(
                    "{}: {} failed only as on the base (no new failure)",
                    self.id,
                    as_before.join(", ")
                ),
            ));
        }
        if results.iter().any(|g| g.blocks()) {
            return Ok(Some(Verdict::Failed {
                category: FailureCategory::GateFailed,
                evidence: evidence::from_gates(&results, diff),
            }));
        }
        let optional: Vec<&str> = results
            .iter()
            .filter(|g| !g.counts_as_passed())
            .map(|g| g.name.as_str())
            .collect();
        if !optional.is_empty() {
            cx.emit(self.event(
                EventBody::Warning,
                format!(
                    "{}: optional gate(s) failed: {}",
                    self.id,
                    optional.join(", ")
                ),
            ));
        }
        Ok(None)
    }

    /// The item passed: it becomes a checkpoint on the run branch. Every passing item is
    /// committed, whatever git.auto_commit says (auto_commit governs what ship commits).
    fn commit(&self, cx: &mut RunCtx, item: &Item) -> Result<()> {
        crate::fault::point(&format!("implement:{}:before_commit", self.id));
        // The message is history people read: the agent's title is redacted.
        let message = cx
            .env
            .files
            .redact(&format!("orx: {} {}", self.id, item.title));
        let commit = cx.git.commit_all(&message)?;
        if let Some(s) = cx.cp.state_mut().item_mut(&self.id) {
            s.status = ItemStatus::Passed;
            s.phase = None;
            s.commit = commit.clone();
        }
        cx.cp.save()?;
        self.record(cx, AttemptStatus::Ok, None)?;
        cx.emit(self.event(
            EventBody::ItemFinished {
                status: ItemStatus::Passed,
                commit,
                category: None,
            },
            format!("{} passed on attempt {}", self.id, self.number),
        ));
        Ok(())
    }

    /// Records a failed attempt (its evidence for the next one); the item's failure when it
    /// was the last attempt.
    fn fail(
        &self,
        cx: &mut RunCtx,
        category: FailureCategory,
        evidence: String,
    ) -> Result<Option<Failure>> {
        let evidence = cx.env.files.redact(&evidence);
        cx.env.files.text(
            &cx.env.dir.artifact(&format!("{}.evidence.md", self.id)),
            &evidence,
        )?;
        let state = cx.cp.state_mut();
        if let Some(s) = state.item_mut(&self.id) {
            s.last_evidence = Some(evidence);
            s.phase = None;
        }
        state.last_failure = Some(failure(
            self.role,
            Some(&self.id),
            category,
            format!("{} attempt {}: {category}", self.id, self.number),
        ));
        cx.cp.save()?;
        self.record(cx, AttemptStatus::Failed, Some(category))?;
        cx.emit(self.event(
            EventBody::AttemptFailed { category },
            format!("{} attempt {} failed: {category}", self.id, self.number),
        ));
        if self.number >= self.max {
            return Ok(Some(exhausted(cx, &self.id)?));
        }
        Ok(None)
    }

    /// The attempt's line in metrics/stages.jsonl.
    fn record(
        &self,
        cx: &mut RunCtx,
        status: AttemptStatus,
        category: Option<FailureCategory>,
    ) -> Result<()> {
        let t = cx.take_totals();
        cx.record(&StageRecord {
            version: crate::protocol::PROTOCOL_VERSION,
            run_id: cx.env.dir.id().to_string(),
            stage: self.role.to_string(),
            item: Some(self.id.clone()),
            attempt: self.number,
            status,
            failure_category: category,
            started_at: self.started_at.clone(),
            ended_at: now_rfc3339(),
            duration_secs: self.t0.elapsed().as_secs_f64(),
            agent_secs: t.agent_secs,
            gate_secs: self.gate_secs,
            executor: t.executor,
            model: t.model,
            tokens: t.usage,
            cost_usd: t.cost_usd,
            gates: self.gates.clone(),
            diff: self.stats.clone(),
        })
    }
}

/// The item used up its attempts: it fails with its last attempt's category.
fn exhausted(cx: &mut RunCtx, id: &str) -> Result<Failure> {
    let max = cx.env.config.run.max_fix_attempts.get() as u32;
    let state = cx.cp.state_mut();
    let category = state
        .last_failure
        .as_ref()
        .filter(|f| f.item.as_deref() == Some(id))
        .map(|f| f.category)
        .unwrap_or(FailureCategory::ItemFailed);
    if let Some(s) = state.item_mut(id) {
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
    state.last_failure = Some(f.clone());
    cx.cp.save()?;
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
