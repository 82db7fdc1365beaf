//! `orx run --dry-run`: the config, routing, gates and prompts a run would use, touching
//! nothing. Each stage shows its own prompts ([`crate::pipeline::Stage::dry_run`]).

use std::path::PathBuf;

use super::RunRequest;
use crate::Result;
use crate::config::{RoutingTable, resolve_routing};
use crate::git::Git;
use crate::pipeline::PipelineDef;
use crate::redact::Redactor;

/// What `orx run --dry-run` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DryRun {
    /// The repository root.
    pub repo: PathBuf,
    /// The base branch.
    pub base_branch: String,
    /// The pipeline.
    pub pipeline: PipelineDef,
    /// Routing.
    pub routing: RoutingTable,
    /// Enabled gates: (name, command line, required, timeout).
    pub gates: Vec<(String, String, bool, u64)>,
    /// Prompts as they would be sent (placeholders for what earlier stages produce).
    pub prompts: Vec<(String, String)>,
}

/// Resolves config, routing and prompts without touching anything.
pub fn dry_run(req: &RunRequest) -> Result<DryRun> {
    let repo = Git::toplevel(&req.dir)?;
    let def = PipelineDef::find(&repo, &req.pipeline)?;
    let git = Git::new(&repo);
    let base_branch = super::prepare::base_branch(req, &git)?;
    git.check_base(&base_branch)?;
    let mut config = req.config.config.clone();
    def.apply(&mut config);
    let routing = resolve_routing(&config, &req.overrides);
    let redactor = Redactor::new(req.config.secrets.clone()).with_env();
    let shown = super::render::render_prompts(&repo, &def, &req.config.config, &req.task)?
        .into_iter()
        .map(|(role, text)| (role, redactor.redact(&text)))
        .collect();
    Ok(DryRun {
        repo,
        base_branch,
        gates: gates(&req.config.config),
        pipeline: def,
        routing,
        prompts: shown,
    })
}

/// The enabled gates: (name, command line, required, timeout).
fn gates(config: &crate::config::Config) -> Vec<(String, String, bool, u64)> {
    config
        .gates
        .iter()
        .filter(|g| g.enabled)
        .map(|g| {
            let parser = crate::gate::parser_for(g);
            let args = crate::gate::effective_args(g, parser);
            (
                g.name.clone(),
                format!("{} {}", g.command, args.join(" "))
                    .trim()
                    .to_string(),
                g.required,
                g.timeout.get(),
            )
        })
        .collect()
}
