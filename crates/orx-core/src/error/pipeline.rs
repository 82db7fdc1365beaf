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
    #[error("{origin}{}: unknown stage `{stage}`{}", at(.location), .near.as_ref().map(|n| format!("; did you mean `{n}`?")).unwrap_or_default())]
    UnknownStage {
        /// The file or id.
        origin: String,
        /// Line and column.
        location: Option<(u64, u64)>,
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
    /// A stage placed before one it reads, or without one it needs.
    #[error("{origin}{}: {}", at(.location), match .order { StageOrder::After(o) => format!("`{stage}` must come after `{o}`, which it reads"), StageOrder::Needs(n) => format!("`{stage}` needs `{n}` earlier in the pipeline") })]
    StageOrder {
        /// The file or id.
        origin: String,
        /// Line and column of the misplaced stage.
        location: Option<(u64, u64)>,
        /// The stage.
        stage: String,
        /// What is wrong with its place.
        order: StageOrder,
    },
    /// A pipeline file that does not exist.
    #[error("no pipeline file {path}")]
    FileNotFound {
        /// The path given.
        path: String,
    },
    /// A stage listed twice.
    #[error("{origin}: stage `{stage}` is listed twice")]
    DuplicateStage {
        /// The file or id.
        origin: String,
        /// The stage.
        stage: String,
    },
    /// Agent CLIs the run routes stages to are not installed (checked before anything is made).
    #[error("{}", .0.iter().map(|m| format!("the {} CLI (`{}`) is not on PATH; stages routed to it: {}", m.executor, m.program, m.stages.join(", "))).collect::<Vec<_>>().join("; "))]
    AgentsMissing(Vec<MissingAgent>),
    /// Gates whose command cannot start (checked before anything is made).
    #[error("{}", .0.iter().map(|(name, fix)| format!("gate `{name}` cannot start: {fix}")).collect::<Vec<_>>().join("; "))]
    GatesCannotStart(Vec<(String, String)>),
    /// `include_dirty` with a base that is not the checked-out commit.
    #[error(
        "the uncommitted changes are on the checked-out commit, but the run would start from {base}"
    )]
    DirtyNotOnBase {
        /// The base branch asked for.
        base: String,
    },
    /// No pipeline with this id, and no such file.
    #[error("no pipeline `{id}`{}", .broken.iter().map(|b| format!("; {b}")).collect::<String>())]
    NotFound {
        /// What was named.
        id: String,
        /// Why the repository's pipeline files that do not load fail (one may be the one meant).
        broken: Vec<String>,
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

/// What is wrong with a stage's place in a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOrder {
    /// It comes before this stage, whose output it reads.
    After(String),
    /// This stage must come before it, and the pipeline lacks it.
    Needs(String),
}

/// `:line:column` when the location is known.
fn at(location: &Option<(u64, u64)>) -> String {
    location
        .map(|(l, c)| format!(":{l}:{c}"))
        .unwrap_or_default()
}

/// An agent CLI the run routes stages to that is not installed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingAgent {
    /// The executor.
    pub executor: crate::config::ExecutorKind,
    /// The program looked for.
    pub program: String,
    /// The stages routed to it.
    pub stages: Vec<String>,
}
