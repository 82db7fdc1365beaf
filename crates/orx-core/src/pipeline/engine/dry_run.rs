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
    /// The budget's limits (None: no limit).
    pub budget: Option<crate::protocol::BudgetLimits>,
    /// What the repository's runs spent today.
    pub spent_today: f64,
    /// The agent calls the run would make.
    pub calls: Calls,
    /// What a call cost on average in this repository's last 30 days of runs.
    pub per_call: Option<crate::budget::PerCall>,
}

/// The agent calls a run makes: at least (one backlog item, every first try passing) and at
/// most (the most backlog items, every attempt and review loop used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Calls {
    /// With one item and no fix.
    pub least: u32,
    /// With `max_items` items, every fix and every review loop.
    pub most: u32,
    /// `run.max_backlog_items`.
    pub max_items: u32,
}

/// The calls the stages of `def` make under `config`.
fn calls(def: &PipelineDef, config: &crate::config::Config) -> Calls {
    let max_items = config.run.max_backlog_items.get() as u32;
    let (mut least, mut most) = (0, 0);
    for stage in def
        .stages
        .iter()
        .filter_map(|s| crate::pipeline::stage_by_name(s))
    {
        least += stage.calls(config, 1).0;
        most += stage.calls(config, max_items).1;
    }
    Calls {
        least,
        most,
        max_items,
    }
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
    let runs = crate::run::Store::new(&repo).runs_root().to_path_buf();
    Ok(DryRun {
        budget: config.budget.limits(),
        spent_today: crate::budget::day_spend(&runs),
        calls: calls(&def, &config),
        per_call: crate::budget::per_call(&runs, 30),
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
