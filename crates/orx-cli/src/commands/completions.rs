//! `orx completions`: the shell script that completes orx's commands and flags, and the values
//! only orx knows (run ids with `last`, pipelines, stages, engines), by asking the orx binary at
//! completion time.

use clap::Args;

use super::Env;
use crate::command_error::{CommandError, Exit, Outcome};

/// `orx completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// `orx completions`: the registration script of `shell`, as `COMPLETE=<shell> orx` writes it.
pub fn completions(env: &Env, args: CompletionsArgs, _cmd: clap::Command) -> Outcome {
    let exe = std::env::current_exe()?;
    let exe = exe.display().to_string();
    let shell = args.shell.to_string();
    let mut spec = orx_core::process::ProcessSpec::new(exe.clone(), Vec::<String>::new());
    spec.env.push(("COMPLETE".into(), shell.clone()));
    spec.timeout = Some(std::time::Duration::from_secs(10));
    let (ok, out, err) = orx_core::process::capture_spec(&spec).map_err(CommandError::from)?;
    if !ok || out.trim().is_empty() {
        return Err(CommandError::usage(
            format!(
                "could not write the {shell} completion script: {}",
                err.trim()
            ),
            "try another shell: bash, zsh, fish, elvish, powershell",
        ));
    }
    env.printer.raw(&out);
    Ok(Exit::Ok)
}
