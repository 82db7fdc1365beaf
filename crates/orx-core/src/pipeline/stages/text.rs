//! plan and spec: read-only text stages whose answer is saved under context/. An answer saved
//! before a crash is reused on resume instead of asking the agent again.

use super::{Stage, StageOutcome, failure};
use crate::Result;
use crate::agent::AgentMode;
use crate::pipeline::RunCtx;

/// Runs a text stage: reuse the saved output, or render, call, save.
fn text_stage(
    cx: &mut RunCtx,
    role: &str,
    output: &str,
    ctx: serde_json::Value,
) -> Result<StageOutcome> {
    if let Some(saved) = cx.context_text(output).filter(|t| !t.trim().is_empty()) {
        return Ok(StageOutcome::Done(format!(
            "reused the saved {output} ({} bytes)",
            saved.len()
        )));
    }
    let prompt = cx.prompts.render(role, &ctx)?;
    let call = cx.call_agent(
        role,
        AgentMode::Text,
        prompt,
        &format!("{role}.md"),
        None,
        1,
    )?;
    if let Some(e) = &call.outcome.error {
        return Ok(StageOutcome::Failed(failure(
            role,
            None,
            crate::protocol::FailureCategory::AgentError,
            format!("{}: {}", e.kind.as_str(), e.message),
        )));
    }
    if call.outcome.text.trim().is_empty() {
        return Ok(StageOutcome::Failed(failure(
            role,
            None,
            crate::protocol::FailureCategory::EmptyAnswer,
            "the agent returned an empty answer",
        )));
    }
    crate::fault::point(&format!("{role}:before_save"));
    cx.input(output, &call.outcome.text)?;
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
    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let ctx = serde_json::json!({ "task": cx.task, "context": cx.repo_context() });
        text_stage(cx, "plan", "plan.md", ctx)
    }
}

/// spec → context/spec.md.
pub struct Spec;

impl Stage for Spec {
    fn name(&self) -> &'static str {
        "spec"
    }
    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let ctx = serde_json::json!({
            "task": cx.task,
            "plan": cx.context_text("plan.md").unwrap_or_default(),
            "context": cx.repo_context(),
        });
        text_stage(cx, "spec", "spec.md", ctx)
    }
}
