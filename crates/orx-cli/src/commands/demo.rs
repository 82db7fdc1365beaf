//! `orx demo`: the built-in default job.

use crate::command_error::Outcome;
use orx_core::config::{Overrides, load_file};
use orx_core::pipeline::{Engine, RunRequest};

use super::Env;
use super::run::{attach_progress, report_as, signal_token};
use clap::Args;
use std::path::PathBuf;

/// `orx demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to create the demo repository (default: the system's temporary folder).
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
}

/// `orx demo`.
pub fn demo(env: &Env, args: DemoArgs) -> Outcome {
    let parent = args.into.unwrap_or_else(std::env::temp_dir);
    // The demo is a repository of its own: inside another one, it would be a nested repository
    // that the outer one's git sees as a stray folder.
    if let Ok(outer) = orx_core::git::Git::toplevel(&parent) {
        return Err(crate::command_error::CommandError::usage(
            format!(
                "{} is inside the git repository {}",
                parent.display(),
                outer.display()
            ),
            "the demo makes a repository of its own: give --into a folder outside any \
             repository, or leave --into out (a temporary folder)",
        ));
    }
    let repo = orx_core::demo::create(&parent)?;
    let p = &env.printer;
    p.info(&format!("demo repository: {}", repo.display()));
    p.info(&format!("task: {}\n", orx_core::demo::TASK));
    let config = load_file(&repo.join("orx.yaml"))?;
    // The demo repository's orx.yaml names its scenario: the run plays it like any run there.
    let mut engine = Engine::new(signal_token());
    let bar = attach_progress(env, &mut engine);
    let outcome = engine.start(RunRequest {
        dir: repo.clone(),
        task: orx_core::demo::TASK.to_string(),
        config,
        overrides: Overrides::default(),
        pipeline: "standard".into(),
        base_branch: None,
        run_id: None,
        include_dirty: false,
        issue: None,
        follows: None,
    });
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    // The suggested commands work from where the user is: the demo repository is elsewhere,
    // and `cargo run` puts no `orx` on PATH.
    let exe = std::env::current_exe()
        .map(|e| e.display().to_string())
        .unwrap_or_else(|_| "orx".into());
    let orx = format!("{exe} --dir {}", repo.display());
    let code = report_as(env, outcome?, false, &orx)?;
    p.info(&format!(
        "\nlook around: {orx} status   (or: cd {} && git log --oneline --all)",
        repo.display()
    ));
    Ok(code)
}
