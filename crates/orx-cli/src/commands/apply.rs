//! `orx apply`: lands a succeeded run on its base branch in the user's checkout (SPEC §13).

use clap::Args;
use orx_core::land::{LandMode, apply as land, patch};
use orx_core::run::Store;

use super::Env;
use crate::command_error::{CommandError, Exit, Outcome, land_hints};

/// `orx apply`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("mode").args(["squash", "merge", "rebase"]))]
pub struct ApplyArgs {
    /// The run: its id, `last`, or a unique start or end of its id.
    #[arg(value_name = "RUN", add = crate::complete::runs())]
    pub run_id: String,
    /// One commit on the base branch: the task's summary and the item titles (the default).
    #[arg(long)]
    pub squash: bool,
    /// A merge commit of the run branch.
    #[arg(long)]
    pub merge: bool,
    /// The run's own commits (one per item), replayed on the base branch.
    #[arg(long)]
    pub rebase: bool,
    /// Print the run's patch for `git apply` instead; changes nothing.
    #[arg(long, conflicts_with = "mode")]
    pub patch: bool,
}

/// `orx apply`.
pub fn apply(env: &Env, args: ApplyArgs) -> Outcome {
    let repo = env.repo()?;
    let store = Store::new(&repo);
    let dir = store.find(&args.run_id)?;
    let id = dir.id().to_string();
    if args.patch {
        env.printer.raw(&patch(&repo, &dir)?);
        return Ok(Exit::Ok);
    }
    let mode = if args.merge {
        LandMode::Merge
    } else if args.rebase {
        LandMode::Rebase
    } else {
        LandMode::Squash
    };
    let landed = land(&repo, &dir, mode).map_err(|e| {
        let hints = match &e {
            orx_core::Error::Land(l) => land_hints(l, &id),
            _ => Vec::new(),
        };
        let mut err = CommandError::from(e);
        if !hints.is_empty() {
            err.hints = hints;
        }
        err
    })?;
    let how = match mode {
        LandMode::Squash => "as one commit".to_string(),
        LandMode::Merge => "as a merge commit".to_string(),
        LandMode::Rebase => format!(
            "as {} commit{}",
            landed.commits,
            if landed.commits == 1 { "" } else { "s" }
        ),
    };
    let p = &env.printer;
    p.result(&format!(
        "applied run {id} to {} {how} ({}): {} file{} changed",
        landed.base,
        &landed.commit[..landed.commit.len().min(10)],
        landed.files.len(),
        if landed.files.len() == 1 { "" } else { "s" }
    ));
    for f in landed.files.iter().take(20) {
        p.info(&format!("  {f}"));
    }
    if landed.files.len() > 20 {
        p.info(&format!("  … and {} more", landed.files.len() - 20));
    }
    let orx = env.orx_command(dir.root());
    p.info(&format!(
        "next: `{orx} clean {id} --delete-branch` removes the run's worktree, folder and branch"
    ));
    Ok(Exit::Ok)
}
