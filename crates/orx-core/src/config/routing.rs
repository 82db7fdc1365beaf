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
}

/// The resolved route of one role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RoutingTable {
    /// One route per role, in pipeline order.
    pub routes: Vec<Route>,
}

impl RoutingTable {
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
            let executor = overrides
                .engine
                .or_else(|| stage.and_then(|s| s.executor))
                .unwrap_or(config.engine.kind);
            let exec_cfg = config.executors.get(executor);
            // A stage's model only applies when the stage's executor is the one in use.
            let stage_applies =
                overrides.engine.is_none() || stage.and_then(|s| s.executor) == overrides.engine;
            let model = overrides
                .model
                .clone()
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
