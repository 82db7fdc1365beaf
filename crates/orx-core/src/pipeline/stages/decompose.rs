//! decompose: the agent's answer becomes backlog.yaml; an invalid answer is retried once with
//! the error shown to the agent.

use super::{Stage, StageOutcome, failure};
use crate::Result;
use crate::agent::AgentMode;
use crate::pipeline::RunCtx;
use crate::pipeline::backlog::{self, Backlog, Item};
use crate::run::{Event, ItemState, ItemStatus};

/// decompose → context/backlog.yaml.
pub struct Decompose;

impl Stage for Decompose {
    fn name(&self) -> &'static str {
        "decompose"
    }

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        if let Some(saved) = load_backlog(cx) {
            install(cx, saved.items.clone())?;
            return Ok(StageOutcome::Done(format!(
                "reused the saved backlog ({} items)",
                saved.items.len()
            )));
        }
        let max = cx.config.run.max_backlog_items.get() as usize;
        let mut previous_error: Option<String> = None;
        for attempt in 1..=2u32 {
            let ctx = serde_json::json!({
                "task": cx.task,
                "spec": cx.context_text("spec.md").unwrap_or_default(),
                "max_items": max,
                "previous_error": previous_error,
                "context": cx.repo_context(),
            });
            let prompt = cx.prompts.render("decompose", &ctx)?;
            let file = if attempt == 1 {
                "decompose.md".to_string()
            } else {
                format!("decompose_{attempt}.md")
            };
            let call = cx.call_agent("decompose", AgentMode::Text, prompt, &file, None, attempt)?;
            if let Some(e) = &call.outcome.error {
                return Ok(StageOutcome::Failed(failure(
                    "decompose",
                    None,
                    crate::protocol::FailureCategory::AgentError,
                    format!("{}: {}", e.kind.as_str(), e.message),
                )));
            }
            match backlog::extract(&call.outcome.text) {
                Ok(items) => {
                    let n = items.len();
                    let items = backlog::merge_to_limit(items, max);
                    let merged = if items.len() < n {
                        format!(", merged from {n}")
                    } else {
                        String::new()
                    };
                    let bl = Backlog {
                        run_id: cx.state.run_id.clone(),
                        items,
                    };
                    let yaml = serde_saphyr::to_string(&bl).map_err(std::io::Error::other)?;
                    crate::fault::point("decompose:before_save");
                    cx.input("backlog.yaml", &yaml)?;
                    crate::fault::point("decompose:after_save");
                    let count = bl.items.len();
                    install(cx, bl.items)?;
                    return Ok(StageOutcome::Done(format!(
                        "{count} item{}{merged}",
                        if count == 1 { "" } else { "s" }
                    )));
                }
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
            crate::protocol::FailureCategory::InvalidBacklog,
            format!(
                "the agent's backlog was invalid twice: {}",
                previous_error.unwrap_or_default()
            ),
        )))
    }
}

/// Reads context/backlog.yaml.
pub(crate) fn load_backlog(cx: &RunCtx) -> Option<Backlog> {
    let text = cx.context_text("backlog.yaml")?;
    crate::yaml::from_str::<Backlog>(&text).ok()
}

/// Adds the backlog's items to the checkpoint (keeping the progress of known ones).
pub(crate) fn install(cx: &mut RunCtx, items: Vec<Item>) -> Result<()> {
    for it in items {
        if cx.state.item(&it.id).is_none() {
            cx.state.items.push(ItemState {
                id: it.id,
                title: it.title,
                status: ItemStatus::Pending,
                attempts: 0,
                start_commit: None,
                commit: None,
                phase: None,
                last_evidence: None,
            });
        }
    }
    cx.save()
}
