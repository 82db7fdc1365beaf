//! `orx completions`: a shell completion script, generated from the command line's definition.

use clap::Args;

use super::Env;
use crate::command_error::{Exit, Outcome};

/// `orx completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// `orx completions`: the script for the command line `cmd`.
pub fn completions(env: &Env, args: CompletionsArgs, mut cmd: clap::Command) -> Outcome {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "orx", &mut out);
    env.printer.raw(&String::from_utf8_lossy(&out));
    Ok(Exit::Ok)
}
