//! `orx completions`: a shell completion script, generated from the command line's definition.

use clap::{Args, CommandFactory};

use super::Env;
use crate::cli::Cli;
use crate::command_error::{Exit, Outcome};

/// `orx completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// `orx completions`.
pub fn completions(env: &Env, args: CompletionsArgs) -> Outcome {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "orx", &mut out);
    env.printer.raw(&String::from_utf8_lossy(&out));
    Ok(Exit::Ok)
}
