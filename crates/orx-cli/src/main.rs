//! The `orx` binary: parse, call orx-core, render errors once, pick the exit code.

mod cli;
mod command_error;
mod commands;
mod complete;
mod driver;
mod printer;
mod progress;
mod render;
mod term;

use std::process::ExitCode;

use clap::Parser;

use crate::printer::Printer;

fn main() -> ExitCode {
    // A parent that ignores SIGCHLD would leave orx unable to read any child's exit status.
    orx_core::run::sys::default_sigchld();
    // `COMPLETE=<shell> orx -- …`: the shell asks for completions (see `orx completions`).
    clap_complete::CompleteEnv::with_factory(<cli::Cli as clap::CommandFactory>::command)
        .complete();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => cli::exit_on_parse_error(e),
    };
    let printer = Printer::new(cli.quiet, cli.verbose);
    match cli::dispatch(cli, printer) {
        Ok(exit) => exit.into(),
        Err(e) => {
            printer.error(&e.message, &e.hints);
            e.exit.into()
        }
    }
}
