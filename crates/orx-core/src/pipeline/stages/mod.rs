//! The stages. The engine knows them only through [`Stage`]; adding one touches no other.

mod decompose;
mod implement;
mod knowledge;
mod review;
mod ship;
mod text;

use super::RunCtx;
use crate::Result;
use crate::protocol::{Failure, FailureCategory};

/// How a stage ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    /// Finished, with a one-line note.
    Done(String),
    /// Nothing to do (disabled), with the reason.
    Skipped(String),
    /// Finished, and the pipeline goes back to an earlier stage (review → implement).
    GoTo {
        /// The stage to go back to.
        stage: String,
        /// The note.
        note: String,
    },
    /// Failed: the run stops here and is resumable from this stage.
    Failed(Failure),
}

/// One stage of a pipeline.
pub trait Stage {
    /// The stage name.
    fn name(&self) -> &'static str;
    /// Runs the stage. `Err(Cancelled)` leaves a checkpoint to resume from.
    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome>;
}

/// The stage named `name`.
pub fn stage_by_name(name: &str) -> Option<Box<dyn Stage>> {
    Some(match name {
        "plan" => Box::new(text::Plan),
        "spec" => Box::new(text::Spec),
        "decompose" => Box::new(decompose::Decompose),
        "implement" => Box::new(implement::Implement),
        "review" => Box::new(review::Review),
        "ship" => Box::new(ship::Ship),
        "knowledge_update" => Box::new(knowledge::KnowledgeUpdate),
        _ => return None,
    })
}

/// A failure of `stage` with `category` and `message`.
pub(crate) fn failure(
    stage: &str,
    item: Option<&str>,
    category: FailureCategory,
    message: impl Into<String>,
) -> Failure {
    Failure {
        stage: stage.to_string(),
        item: item.map(String::from),
        category,
        message: message.into(),
        evidence: item.map(|i| format!("artifacts/{i}.evidence.md")),
    }
}
