//! What can go wrong with pipelines and with preparing a run (re-exported as `pipeline::PipelineError`).

/// A pipeline or run-preparation failure.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A pipeline file does not parse (with its location, when known).
    #[error("{origin}{}: {message}", .location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid {
        /// The file or id.
        origin: String,
        /// Line and column.
        location: Option<(u64, u64)>,
        /// What is wrong.
        message: String,
    },
    /// The pipeline lists no stage.
    #[error("{origin}: the pipeline has no stages")]
    NoStages {
        /// The file or id.
        origin: String,
    },
    /// A stage this orx does not know.
    #[error("{origin}: unknown stage `{stage}`{}", .near.as_ref().map(|n| format!("; did you mean `{n}`?")).unwrap_or_default())]
    UnknownStage {
        /// The file or id.
        origin: String,
        /// The stage.
        stage: String,
        /// The nearest known stage.
        near: Option<String>,
    },
    /// An option on a stage it does not apply to.
    #[error("{origin}: {option} applies to the {applies_to} stage, not `{stage}`")]
    MisplacedOption {
        /// The file or id.
        origin: String,
        /// The option.
        option: &'static str,
        /// The stage it belongs to.
        applies_to: &'static str,
        /// Where it was given.
        stage: String,
    },
    /// Agent options on the ship stage.
    #[error("{origin}: the ship stage calls no agent")]
    ShipHasNoAgent {
        /// The file or id.
        origin: String,
    },
    /// A stage listed twice.
    #[error("{origin}: stage `{stage}` is listed twice")]
    DuplicateStage {
        /// The file or id.
        origin: String,
        /// The stage.
        stage: String,
    },
    /// No pipeline with this id, and no such file.
    #[error("no pipeline `{id}`")]
    NotFound {
        /// What was named.
        id: String,
    },
    /// A setup command failed.
    #[error("setup command {index} (`{command}`) failed: {how}")]
    SetupFailed {
        /// 1-based.
        index: usize,
        /// The command.
        command: String,
        /// How it ended.
        how: String,
    },
    /// The backlog in the run folder cannot be ordered.
    #[error("backlog: {0}")]
    Backlog(#[from] super::BacklogError),
    /// The guardrails' patterns do not compile.
    #[error("guardrails: {0}")]
    Guardrails(String),
    /// The demo's gates need python3.
    #[error("the demo needs python3 on PATH for its gates")]
    DemoNeedsPython,
    /// An item the checkpoint lists disappeared while it ran (a bug).
    #[error("item {0} vanished from the checkpoint")]
    ItemVanished(String),
}
