//! The pipeline: definitions (data), the engine that walks them with checkpoints and resume,
//! one module per stage behind [`Stage`], the backlog, failure evidence, and [`InProcess`]: the
//! launcher that drives runs on threads of this process.

pub mod backlog;
mod ctx;
mod def;
mod engine;
mod error;
pub mod evidence;
mod in_process;
mod stages;
mod verify;

pub use ctx::{Checkpoint, RunCtx, RunEnv, StageTotals, Turn};
pub use def::{KNOWN_STAGES, PipelineDef};
pub use engine::{DryRun, Engine, ResumeRequest, RunOutcome, RunRequest, dry_run};
pub use error::{PipelineError, StageOrder};
pub use in_process::InProcess;
pub use stages::{DryRunEnv, Stage, StageOutcome, stage_by_name};
pub use verify::BASELINE_ARTIFACT;
