//! Which agent CLIs a run needs and whether they are installed: a run checks this before it
//! makes anything, so a missing CLI costs no branch, no worktree and no run folder.

use std::path::PathBuf;

use crate::config::{Config, ExecutorKind, RoutingTable};

/// The command orx starts for `kind`: `executors.<kind>.bin`, else `engine.binary` when `kind` is
/// the engine, else the CLI's usual name.
pub fn binary_for(config: &Config, kind: ExecutorKind) -> String {
    config
        .executors
        .get(kind)
        .and_then(|c| c.bin.as_ref())
        .map(|b| b.to_string())
        .or_else(|| {
            (config.engine.kind == kind)
                .then(|| config.engine.binary.as_ref().map(|b| b.to_string()))
                .flatten()
        })
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| kind.default_binary().to_string())
}

/// Finds `program` on PATH (or as a path).
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

pub use crate::error::MissingAgent;

/// The agent CLIs that `stages` (a pipeline's stages; `fix` goes with `implement`) are routed to
/// and that cannot be found, unless a fallback rule for a crash switches them to an executor
/// that is installed. The scripted agent is built in.
pub fn missing_agents(
    config: &Config,
    routing: &RoutingTable,
    stages: &[String],
) -> Vec<MissingAgent> {
    let needed = |role: &str| {
        stages.iter().any(|s| s == role)
            || (role == "fix" && stages.iter().any(|s| s == "implement"))
    };
    let installed = |kind: ExecutorKind| {
        kind == ExecutorKind::Fake || find_program(&binary_for(config, kind)).is_some()
    };
    routing
        .by_executor()
        .into_iter()
        .filter(|(kind, _)| !installed(*kind))
        .filter(|(kind, _)| {
            !config.fallback.rules.iter().any(|r| {
                r.error == "crash"
                    && r.executor.is_none_or(|e| e == *kind)
                    && r.switch_to.is_some_and(|to| to != *kind && installed(to))
            })
        })
        .filter_map(|(kind, roles)| {
            let stages: Vec<String> = roles
                .into_iter()
                .filter(|r| needed(r))
                .map(str::to_string)
                .collect();
            (!stages.is_empty()).then(|| MissingAgent {
                executor: kind,
                program: binary_for(config, kind),
                stages,
            })
        })
        .collect()
}
