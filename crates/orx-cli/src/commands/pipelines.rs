//! `orx pipelines list|show|validate`.

use crate::command_error::{Exit, Outcome};
use orx_core::pipeline::PipelineDef;

use super::Env;
use clap::{Args, Subcommand};

/// `orx pipelines`.
#[derive(Debug, Args)]
pub struct PipelinesArgs {
    /// list (default), show ID, validate FILE.
    #[command(subcommand)]
    pub action: Option<PipelinesAction>,
}

/// `orx pipelines` actions.
#[derive(Debug, Subcommand)]
pub enum PipelinesAction {
    /// List the built-in and the repository's pipelines.
    List,
    /// Print one pipeline.
    Show {
        /// Pipeline id or file.
        id: String,
    },
    /// Check a pipeline file.
    Validate {
        /// The file.
        file: String,
    },
}

/// `orx pipelines`.
pub fn pipelines(env: &Env, args: PipelinesArgs) -> Outcome {
    let repo = env.root_or_dir();
    match args.action.unwrap_or(PipelinesAction::List) {
        PipelinesAction::List => {
            for p in PipelineDef::builtins() {
                env.printer
                    .result(&format!("{:<12} built-in  {}", p.id, p.stages.join(" → ")));
            }
            for (file, def) in PipelineDef::in_repo(&repo) {
                let name = file.display().to_string();
                match def {
                    Ok(p) => env.printer.result(&format!(
                        "{:<12} {}  {}",
                        p.id,
                        name,
                        p.stages.join(" → ")
                    )),
                    Err(e) => env.printer.warn(&format!("{e}")),
                }
            }
        }
        PipelinesAction::Show { id } => {
            let p = PipelineDef::find(&repo, &id)?;
            let yaml = p.to_yaml()?;
            env.printer.raw(&yaml);
        }
        PipelinesAction::Validate { file } => {
            let p = PipelineDef::load(std::path::Path::new(&file))?;
            env.printer
                .result(&format!("{file}: ok ({}: {})", p.id, p.stages.join(" → ")));
        }
    }
    Ok(Exit::Ok)
}
