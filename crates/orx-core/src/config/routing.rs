//! Routing: which executor, model, reasoning effort and timeout each agent role uses.

use serde::Serialize;

use super::{Config, ExecutorKind};

/// The agent roles that can be routed (the stages that call an agent).
pub const ROLES: [&str; 7] = [
    "plan",
    "spec",
    "decompose",
    "implement",
    "fix",
    "review",
    "knowledge_update",
];

/// Command-line overrides for one run.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--engine`: the executor for every stage.
    pub engine: Option<ExecutorKind>,
    /// `--model`: the model for every stage.
    pub model: Option<String>,
    /// `--stage ROLE=EXECUTOR[:MODEL]`: one role's executor and model (wins over the above).
    pub stages: std::collections::BTreeMap<String, StageOverride>,
}

/// One role's override from the command line (or the dashboard's form).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageOverride {
    /// The executor.
    pub executor: Option<ExecutorKind>,
    /// The model.
    pub model: Option<String>,
}

/// Why a stage override is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// Not `ROLE=…`.
    #[error("`{0}` is not ROLE=EXECUTOR[:MODEL]")]
    Shape(String),
    /// An unknown role.
    #[error("`{0}` is not a role; roles: {roles}", roles = ROLES.join(", "))]
    NotARole(String),
    /// An unknown engine.
    #[error("unknown engine `{0}` (codex, gemini, claude, cursor, copilot, fake)")]
    UnknownEngine(String),
    /// Neither an engine nor a model.
    #[error("`{0}` names neither an executor nor a model")]
    Empty(String),
}

impl StageOverride {
    /// Parses `ROLE=EXECUTOR[:MODEL]` (`ROLE=:MODEL` keeps the executor).
    pub fn parse(text: &str) -> Result<(String, StageOverride), OverrideError> {
        let (role, rest) = text
            .split_once('=')
            .ok_or_else(|| OverrideError::Shape(text.to_string()))?;
        if !ROLES.contains(&role) {
            return Err(OverrideError::NotARole(role.to_string()));
        }
        let (exec, model) = match rest.split_once(':') {
            Some((e, m)) => (e, Some(m)),
            None => (rest, None),
        };
        let executor = match exec {
            "" => None,
            e => Some(
                ExecutorKind::parse(e)
                    .ok_or_else(|| OverrideError::UnknownEngine(e.to_string()))?,
            ),
        };
        let model = model.filter(|m| !m.is_empty()).map(str::to_string);
        if executor.is_none() && model.is_none() {
            return Err(OverrideError::Empty(text.to_string()));
        }
        Ok((role.to_string(), StageOverride { executor, model }))
    }

    /// The override as [`StageOverride::parse`] reads it: `ROLE=EXECUTOR[:MODEL]`.
    pub fn text(&self, role: &str) -> String {
        let exec = self.executor.map(|e| e.name()).unwrap_or_default();
        match &self.model {
            Some(m) => format!("{role}={exec}:{m}"),
            None => format!("{role}={exec}"),
        }
    }
}

/// The resolved route of one role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Route {
    /// The role (stage) name.
    pub stage: String,
    /// The executor.
    pub executor: ExecutorKind,
    /// The model, when one is set.
    pub model: Option<String>,
    /// The reasoning effort, when one is set.
    pub reasoning_effort: Option<String>,
    /// Timeout in seconds.
    pub timeout_secs: u64,
}

/// The routes of every role.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct RoutingTable {
    /// One route per role, in pipeline order.
    pub routes: Vec<Route>,
}

impl RoutingTable {
    /// Each executor the routes use (sorted, once) with the stages routed to it, in order.
    pub fn by_executor(&self) -> Vec<(ExecutorKind, Vec<&str>)> {
        let mut kinds: Vec<ExecutorKind> = self.routes.iter().map(|r| r.executor).collect();
        kinds.sort();
        kinds.dedup();
        kinds
            .into_iter()
            .map(|kind| {
                let stages = self
                    .routes
                    .iter()
                    .filter(|r| r.executor == kind)
                    .map(|r| r.stage.as_str())
                    .collect();
                (kind, stages)
            })
            .collect()
    }

    /// The route of `role` (falls back to implement's for unknown roles).
    pub fn get(&self, role: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.stage == role)
    }
}

/// Resolves each role: `stages.<role>` first, then `executors.<e>.default`, then `engine`;
/// the command line overrides the file.
pub fn resolve_routing(config: &Config, overrides: &Overrides) -> RoutingTable {
    let routes = ROLES
        .iter()
        .map(|role| {
            let stage = config.stages.get(role);
            let forced = overrides.stages.get(*role);
            let executor = forced
                .and_then(|f| f.executor)
                .or(overrides.engine)
                .or_else(|| stage.and_then(|s| s.executor))
                .unwrap_or(config.engine.kind);
            let exec_cfg = config.executors.get(executor);
            // A stage's model only applies when the stage's executor is the one in use.
            let chosen = forced.and_then(|f| f.executor).or(overrides.engine);
            let stage_applies = chosen.is_none() || stage.and_then(|s| s.executor) == chosen;
            let model = forced
                .and_then(|f| f.model.clone())
                .or_else(|| overrides.model.clone())
                .or_else(|| {
                    stage
                        .filter(|_| stage_applies)
                        .and_then(|s| s.model.as_ref())
                        .map(|m| m.to_string())
                })
                .or_else(|| {
                    exec_cfg
                        .and_then(|e| e.default.model.as_ref())
                        .map(|m| m.to_string())
                })
                .or_else(|| {
                    (executor == config.engine.kind)
                        .then(|| config.engine.model.as_ref().map(|m| m.to_string()))
                        .flatten()
                })
                .filter(|m| !m.is_empty());
            let reasoning_effort = stage
                .filter(|_| stage_applies)
                .and_then(|s| s.reasoning_effort.as_ref())
                .or_else(|| exec_cfg.and_then(|e| e.default.reasoning_effort.as_ref()))
                .map(|m| m.to_string())
                .filter(|m| !m.is_empty());
            let timeout_secs = stage
                .and_then(|s| s.timeout)
                .map(|t| t.get())
                .unwrap_or(config.engine.timeout.get());
            Route {
                stage: role.to_string(),
                executor,
                model,
                reasoning_effort,
                timeout_secs,
            }
        })
        .collect();
    RoutingTable { routes }
}
