//! Every prompt of a pipeline rendered from the task and the repository's context: what a dry
//! run shows, and the check of the repository's own templates before a run makes anything.

use crate::Result;
use crate::pipeline::{DryRunEnv, PipelineDef, stage_by_name};
use crate::prompt::Prompts;

/// Every prompt of `def`'s stages as a dry run shows it: what the run's templates make of the
/// task and the repository's context. A template that names a variable its stage does not
/// have is an error here, before a run makes anything.
pub(super) fn render_prompts(
    repo: &std::path::Path,
    def: &PipelineDef,
    config: &crate::config::Config,
    task: &str,
) -> Result<Vec<(String, String)>> {
    let ctxf = crate::context::build(repo, config);
    let env = DryRunEnv {
        task,
        context: serde_json::json!({
            "project_map": ctxf.project_map, "tooling_snapshot": ctxf.tooling_snapshot,
            "verify_commands": ctxf.verify_commands,
        }),
        config,
    };
    let prompts = Prompts::new(repo);
    let mut shown = Vec::new();
    for stage in def.stages.iter().filter_map(|s| stage_by_name(s)) {
        for (role, ctx) in stage.dry_run(&env) {
            shown.push((role.to_string(), prompts.render(role, &ctx)?));
        }
    }
    Ok(shown)
}
