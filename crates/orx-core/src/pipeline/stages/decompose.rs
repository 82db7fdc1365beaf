//! decompose: the agent's answer becomes backlog.yaml; an invalid answer is retried once with
//! the error shown to the agent.

use super::{DryRunEnv, Stage, StageOutcome, failure};
use crate::Result;
use crate::agent::AgentMode;
use crate::pipeline::backlog::{self, Backlog, Item, run as backlog_run};
use crate::pipeline::{RunCtx, Turn};
use crate::protocol::{Event, FailureCategory, RunState};

/// decompose → context/backlog.yaml.
pub struct Decompose;

impl Stage for Decompose {
    fn name(&self) -> &'static str {
        "decompose"
    }

    fn calls(&self, _config: &crate::config::Config, _items: u32) -> (u32, u32) {
        // A backlog that does not parse is asked for once more.
        (1, 2)
    }

    fn for_approval(&self) -> &'static str {
        "the backlog (context/backlog.yaml)"
    }

    fn takes_feedback(&self) -> bool {
        true
    }

    fn outputs(&self) -> &'static [&'static str] {
        &[backlog_run::FILE]
    }

    /// A new backlog: the items of the old one go with it.
    fn reset(&self, state: &mut RunState) {
        state.items.clear();
    }

    fn dry_run(&self, env: &DryRunEnv<'_>) -> Vec<(&'static str, serde_json::Value)> {
        vec![(
            "decompose",
            serde_json::json!({
                "task": env.task, "spec": DryRunEnv::placeholder("spec"), "context": env.context,
                "max_items": env.config.run.max_backlog_items.get(), "feedback": "",
            }),
        )]
    }

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        if let Some(saved) = backlog_run::load(&cx.env) {
            backlog_run::install(&mut cx.cp, &saved.items)?;
            return Ok(StageOutcome::Done(format!(
                "reused the saved backlog ({} items)",
                saved.items.len()
            )));
        }
        let mut previous_error: Option<String> = None;
        for attempt in 1..=2u32 {
            let call = ask(cx, attempt, previous_error.as_deref())?;
            if let Some(e) = &call.outcome.error {
                return Ok(StageOutcome::Failed(failure(
                    "decompose",
                    None,
                    FailureCategory::AgentError,
                    format!("{}: {}", e.kind.as_str(), e.message),
                )));
            }
            match backlog::extract(&call.outcome.text) {
                Ok(items) => return adopt(cx, items),
                Err(e) => {
                    cx.emit(
                        Event::warning(format!("decompose: invalid backlog: {e}"))
                            .stage("decompose"),
                    );
                    previous_error = Some(e.to_string());
                }
            }
        }
        Ok(StageOutcome::Failed(failure(
            "decompose",
            None,
            FailureCategory::InvalidBacklog,
            format!(
                "the agent's backlog was invalid twice: {}",
                previous_error.unwrap_or_default()
            ),
        )))
    }
}

/// Asks the agent for the backlog (again, with the last answer's problem, on the second try).
fn ask(
    cx: &mut RunCtx,
    attempt: u32,
    previous_error: Option<&str>,
) -> Result<crate::agent::AgentCall> {
    let ctx = serde_json::json!({
        "task": cx.env.task,
        "spec": cx.env.context_text("spec.md").unwrap_or_default(),
        "max_items": cx.env.config.run.max_backlog_items.get(),
        "previous_error": previous_error,
        "context": cx.env.repo_context(),
        // A person's feedback on an earlier backlog (`reject`).
        "feedback": cx.env.context_text("feedback_decompose.md").unwrap_or_default(),
    });
    let prompt = cx.env.prompts.render("decompose", &ctx)?;
    cx.call_agent(Turn {
        role: "decompose",
        mode: AgentMode::Text,
        prompt,
        prompt_file: if attempt == 1 {
            "decompose.md".to_string()
        } else {
            format!("decompose_{attempt}.md")
        },
        item: None,
        attempt,
        resume: None,
    })
}

/// Saves a valid backlog (merged to the item limit) and adds its items to the checkpoint.
fn adopt(cx: &mut RunCtx, items: Vec<Item>) -> Result<StageOutcome> {
    let max = cx.env.config.run.max_backlog_items.get() as usize;
    let n = items.len();
    let items = backlog::merge_to_limit(items, max);
    let merged = if items.len() < n {
        format!(", merged from {n}")
    } else {
        String::new()
    };
    let bl = Backlog {
        run_id: cx.env.dir.id().to_string(),
        items,
    };
    crate::fault::point("decompose:before_save");
    backlog_run::save(&cx.env, &bl)?;
    crate::fault::point("decompose:after_save");
    backlog_run::install(&mut cx.cp, &bl.items)?;
    let count = bl.items.len();
    Ok(StageOutcome::Done(format!(
        "{count} item{}{merged}",
        if count == 1 { "" } else { "s" }
    )))
}
