//! knowledge_update: the agent rewrites only the ORX marker blocks of AGENTS.md and
//! ARCHITECTURE.md; orx checks the edit, commits it separately (or only suggests it), and never
//! fails the run here.

use super::{DryRunEnv, Stage, StageOutcome};
use crate::Result;
use crate::agent::AgentMode;
use crate::config::KnowledgeMode;
use crate::knowledge::{check_edit, ensure_markers, marker_name};
use crate::pipeline::{RunCtx, Turn};
use crate::run::Event;

/// knowledge_update.
pub struct KnowledgeUpdate;

impl Stage for KnowledgeUpdate {
    fn name(&self) -> &'static str {
        "knowledge_update"
    }

    fn calls(&self, config: &crate::config::Config, _items: u32) -> (u32, u32) {
        let k = &config.knowledge;
        let on = u32::from(k.enabled && k.mode != KnowledgeMode::Off);
        (on, on)
    }

    fn for_approval(&self) -> &'static str {
        "the knowledge update (artifacts/knowledge.diff)"
    }

    fn dry_run(&self, env: &DryRunEnv<'_>) -> Vec<(&'static str, serde_json::Value)> {
        let k = &env.config.knowledge;
        let files: Vec<serde_json::Value> = k
            .files
            .iter()
            .map(|f| serde_json::json!({"path": f, "marker": marker_name(f)}))
            .collect();
        vec![(
            "knowledge_update",
            serde_json::json!({
                "task": env.task, "spec": DryRunEnv::placeholder("spec"),
                "backlog": DryRunEnv::placeholder("backlog"),
                "review": DryRunEnv::placeholder("review"),
                "failures": DryRunEnv::placeholder("failures"),
                "diff": DryRunEnv::placeholder("diff"), "files": files,
                "max_lines": k.max_changed_lines.get(),
            }),
        )]
    }

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let k = cx.env.config.knowledge.clone();
        if !k.enabled || k.mode == KnowledgeMode::Off {
            return Ok(StageOutcome::Skipped(
                "knowledge update is off (knowledge.enabled / knowledge.mode)".into(),
            ));
        }
        match update(cx, &k) {
            Ok(note) => Ok(StageOutcome::Done(note)),
            Err(e @ (crate::Error::Cancelled | crate::Error::Waiting { .. })) => Err(e),
            Err(e) => {
                // Reported, never fatal.
                let msg = format!("knowledge update failed: {e}");
                cx.emit(Event::warning(msg.clone()).stage("knowledge_update"));
                Ok(StageOutcome::Done(msg))
            }
        }
    }
}

/// Puts the worktree back at `head` (this stage only runs on a clean worktree, so nothing
/// but the agent's edits is undone).
fn restore(cx: &RunCtx, head: &str) -> Result<()> {
    cx.git.run(&["reset", "--quiet", "--hard", head])?;
    cx.git.run(&["clean", "-fdq"])?;
    Ok(())
}

fn update(cx: &mut RunCtx, k: &crate::config::KnowledgeConfig) -> Result<String> {
    let head = cx.git.head()?;
    let dirty = cx.git.changed_paths(&head)?;
    if dirty.iter().any(|p| !k.files.contains(p)) {
        // Never throw away run work that is not committed (e.g. with git.auto_commit: false).
        return Ok(format!(
            "knowledge update skipped: the worktree has uncommitted changes ({})",
            dirty.join(", ")
        ));
    }
    // Leftovers of an interrupted knowledge update are dropped before starting again.
    restore(cx, &head)?;
    let befores = add_markers(cx, k)?;
    let ctx = prompt_context(cx, k)?;
    let prompt = cx.env.prompts.render("knowledge_update", &ctx)?;
    let call = cx.call_agent(Turn {
        role: "knowledge_update",
        mode: AgentMode::Apply,
        prompt,
        prompt_file: "knowledge_update.md".into(),
        item: None,
        attempt: 1,
        resume: None,
    })?;
    if let Some(e) = &call.outcome.error {
        restore(cx, &head)?;
        let msg = format!(
            "knowledge update skipped: the agent failed ({}): {}",
            e.kind.as_str(),
            e.message
        );
        cx.emit(Event::warning(msg.clone()).stage("knowledge_update"));
        return Ok(msg);
    }
    let total = match check_agent_edit(cx, k, &head, &befores)? {
        Ok(total) => total,
        Err(problem) => {
            restore(cx, &head)?;
            let msg = format!("knowledge update rejected: {problem}");
            cx.env.files.text(
                &cx.env.dir.context("lessons.md"),
                &format!("# Lessons\n\n{msg}\n"),
            )?;
            cx.emit(Event::warning(msg.clone()).stage("knowledge_update"));
            return Ok(msg);
        }
    };
    crate::fault::point("knowledge_update:after_agent");
    let kdiff = cx.git.diff_since(&head)?;
    cx.env
        .files
        .text(&cx.env.dir.artifact("knowledge.diff"), &kdiff)?;
    cx.env.files.text(
        &cx.env.dir.context("lessons.md"),
        &format!("# Lessons\n\n{}\n", call.outcome.text.trim()),
    )?;
    if kdiff.trim().is_empty() || total == 0 {
        // Empty marker blocks alone are not worth a commit.
        restore(cx, &head)?;
        return Ok("the agent changed nothing".into());
    }
    if cx.git.head()? != head {
        cx.git.run(&["reset", "--quiet", "--soft", &head])?;
    }
    land(cx, k, &head, total)
}

/// Puts the marker block into every knowledge file; returns each file's text as the agent
/// will find it.
fn add_markers(cx: &RunCtx, k: &crate::config::KnowledgeConfig) -> Result<Vec<(String, String)>> {
    let mut befores = Vec::new();
    for f in &k.files {
        let p = cx.env.worktree.join(f);
        let current = std::fs::read_to_string(&p).unwrap_or_default();
        let with_markers = ensure_markers(&current, f);
        if with_markers != current {
            fs_err::write(&p, &with_markers)?;
        }
        befores.push((f.clone(), with_markers));
    }
    Ok(befores)
}

/// What the knowledge prompt is rendered from: the task, the spec, the backlog, the review,
/// the run's failures and the diff of the whole run.
fn prompt_context(
    cx: &mut RunCtx,
    k: &crate::config::KnowledgeConfig,
) -> Result<serde_json::Value> {
    let files: Vec<serde_json::Value> = k
        .files
        .iter()
        .map(|f| serde_json::json!({"path": f, "marker": marker_name(f)}))
        .collect();
    let base = cx.cp.state().base_sha.clone().unwrap_or_default();
    let diff = cx.git.run(&["diff", "--no-color", &base, "HEAD"])?;
    let failures = failures_summary(cx);
    Ok(serde_json::json!({
        "task": cx.env.task,
        "spec": cx.env.context_text("spec.md").unwrap_or_default(),
        "backlog": cx.env.context_text("backlog.yaml").unwrap_or_default(),
        "review": std::fs::read_to_string(cx.env.dir.artifact("review.md")).unwrap_or_default(),
        "failures": if failures.is_empty() { "None.".to_string() } else { failures.join("\n") },
        "diff": crate::fsutil::truncate(&diff, 40 * 1024),
        "files": files,
        "max_lines": k.max_changed_lines.get(),
    }))
}

/// One line per failed attempt and per fix the run went through.
fn failures_summary(cx: &RunCtx) -> Vec<String> {
    let records = std::fs::read_to_string(cx.env.dir.stage_metrics()).unwrap_or_default();
    records
        .lines()
        .filter_map(|l| serde_json::from_str::<crate::metrics::StageRecord>(l).ok())
        .filter(|r| r.status == crate::protocol::AttemptStatus::Failed || r.stage == "fix")
        .map(|r| {
            format!(
                "- {} {} attempt {}: {} {}",
                r.stage,
                r.item.unwrap_or_default(),
                r.attempt,
                r.status,
                r.failure_category
                    .map(|c| c.to_string())
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// Only the knowledge files may change, and only inside their markers. Compared with the HEAD
/// from before the agent, so a commit the agent made itself is checked too. Gives the number of
/// changed lines, or the problem that rejects the edit.
fn check_agent_edit(
    cx: &RunCtx,
    k: &crate::config::KnowledgeConfig,
    head: &str,
    befores: &[(String, String)],
) -> Result<std::result::Result<u64, String>> {
    let changed = cx.git.changed_paths(head)?;
    let outside: Vec<&str> = changed
        .iter()
        .filter(|p| !k.files.contains(p))
        .map(|s| s.as_str())
        .collect();
    if !outside.is_empty() {
        return Ok(Err(format!(
            "the agent changed files other than the knowledge files: {}",
            outside.join(", ")
        )));
    }
    let mut total = 0;
    for (f, before) in befores {
        let after = std::fs::read_to_string(cx.env.worktree.join(f)).unwrap_or_default();
        match check_edit(before, &after, k.max_changed_lines.get()) {
            Ok(n) => total += n,
            Err(e) => return Ok(Err(format!("{f}: {e}"))),
        }
    }
    Ok(Ok(total))
}

/// Suggest mode leaves the edit as a diff; the other modes commit it, and push it when ship
/// pushed the branch before this stage.
fn land(
    cx: &mut RunCtx,
    k: &crate::config::KnowledgeConfig,
    head: &str,
    total: u64,
) -> Result<String> {
    let plural = if total == 1 { "" } else { "s" };
    if k.mode == KnowledgeMode::Suggest {
        restore(cx, head)?;
        return Ok(format!(
            "suggested {total} changed line{plural} in artifacts/knowledge.diff (not committed)"
        ));
    }
    cx.git.commit_all("orx: knowledge update")?;
    let mut note = format!("committed {total} changed line{plural}");
    // Ship ran before this stage: a pushed branch (and its pull request) gets this commit too.
    if cx.env.config.git.auto_push {
        let remote = cx.env.config.git.remote.to_string();
        let branch = cx.cp.state().branch.clone().unwrap_or_default();
        if cx.git.try_run(&["remote", "get-url", &remote])?.0 {
            let (ok, _, err) = cx.git.try_run(&["push", &remote, &branch])?;
            note.push_str(&if ok {
                format!("; pushed to {remote}")
            } else {
                format!("; push to {remote} failed: {}", err.trim())
            });
        }
    }
    Ok(note)
}
