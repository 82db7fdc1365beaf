//! What can go wrong with pipelines and with preparing a run: [`PipelineError`], defined with the
//! other errors of core under `error/` so that `crate::Error` imports no stage.

pub use crate::error::{PipelineError, StageOrder};
