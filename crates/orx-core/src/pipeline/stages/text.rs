//! plan and spec: read-only text stages whose answer is saved under context/. An answer saved
//! before a crash is reused on resume instead of asking the agent again.

use super::{DryRunEnv, Stage, StageOutcome, failure};
use crate::Result;
use crate::agent::AgentMode;
use crate::pipeline::{RunCtx, Turn};
use crate::protocol::FailureCategory;

/// Runs a text stage: reuse the saved output, or render, call, save.
fn text_stage(
    cx: &mut RunCtx,
    role: &str,
    output: &str,
    ctx: serde_json::Value,
) -> Result<StageOutcome> {
    if let Some(saved) = cx.env.context_text(output).filter(|t| !t.trim().is_empty()) {
        return Ok(StageOutcome::Done(format!(
            "reused the saved {output} ({} bytes)",
            saved.len()
        )));
    }
    // A person's feedback on an earlier answer of this stage (`reject`).
    let mut ctx = ctx;
    if let Some(o) = ctx.as_object_mut() {
        let feedback = cx
            .env
            .context_text(&format!("feedback_{role}.md"))
            .unwrap_or_default();
        o.insert("feedback".into(), feedback.into());
    }
    let prompt = cx.env.prompts.render(role, &ctx)?;
    let call = cx.call_agent(Turn {
        role,
        mode: AgentMode::Text,
        prompt,
        prompt_file: format!("{role}.md"),
        item: None,
        attempt: 1,
        resume: None,
    })?;
    if let Some(e) = &call.outcome.error {
        return Ok(StageOutcome::Failed(failure(
            role,
            None,
            FailureCategory::AgentError,
            format!("{}: {}", e.kind.as_str(), e.message),
        )));
    }
    if call.outcome.text.trim().is_empty() {
        return Ok(StageOutcome::Failed(failure(
            role,
            None,
            FailureCategory::EmptyAnswer,
            "the agent returned an empty answer",
        )));
    }
    crate::fault::point(&format!("{role}:before_save"));
    cx.env.files.input(output, &call.outcome.text)?;
    crate::fault::point(&format!("{role}:after_save"));
    Ok(StageOutcome::Done(format!(
        "{output} written ({} bytes)",
        call.outcome.text.len()
    )))
}

/// plan → context/plan.md.
pub struct Plan;

impl Stage for Plan {
    fn name(&self) -> &'static str {
        "plan"
    }
    fn for_approval(&self) -> &'static str {
        "the plan (context/plan.md)"
    }
    fn takes_feedback(&self) -> bool {
        true
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["plan.md"]
    }
    fn dry_run(&self, env: &DryRunEnv<'_>) -> Vec<(&'static str, serde_json::Value)> {
        vec![(
            "plan",
            serde_json::json!({ "task": env.task, "context": env.context, "feedback": "" }),
        )]
    }
    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let ctx = serde_json::json!({ "task": cx.env.task, "context": cx.env.repo_context() });
        text_stage(cx, "plan", "plan.md", ctx)
    }
}

/// spec → context/spec.md.
pub struct Spec;

impl Stage for Spec {
    fn name(&self) -> &'static str {
        "spec"
    }
    fn for_approval(&self) -> &'static str {
        "the spec (context/spec.md)"
    }
    fn takes_feedback(&self) -> bool {
        true
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["spec.md"]
    }
    fn dry_run(&self, env: &DryRunEnv<'_>) -> Vec<(&'static str, serde_json::Value)> {
        vec![(
            "spec",
            serde_json::json!({
                "task": env.task, "plan": DryRunEnv::placeholder("plan"), "context": env.context,
                "feedback": "",
            }),
        )]
    }
    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let ctx = serde_json::json!({
            "task": cx.env.task,
            "plan": cx.env.context_text("plan.md").unwrap_or_default(),
            "context": cx.env.repo_context(),
        });
        text_stage(cx, "spec", "spec.md", ctx)
    }
}
