//! The pipeline: definitions (data), the engine that walks them with checkpoints and resume,
//! one module per stage behind [`Stage`], the backlog, and failure evidence.

pub mod backlog;
mod ctx;
mod def;
mod engine;
mod error;
pub mod evidence;
mod stages;

pub use ctx::{Checkpoint, RunCtx, RunEnv, StageTotals, Turn};
pub use def::{KNOWN_STAGES, PipelineDef};
pub use engine::{DryRun, Engine, ResumeRequest, RunOutcome, RunRequest, dry_run};
pub use error::PipelineError;
pub use stages::{DryRunEnv, Stage, StageOutcome, stage_by_name};
