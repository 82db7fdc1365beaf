//! The `orx` binary: parse, call orx-core, render errors once, pick the exit code.

mod cli;
mod commands;
mod printer;
mod progress;
mod render;
mod term;

use std::process::ExitCode;

use clap::Parser;

use crate::printer::Printer;

/// Exit codes (SPEC §2).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The run failed.
    pub const FAILED: u8 = 1;
    /// Usage or configuration error.
    pub const USAGE: u8 = 2;
    /// Interrupted.
    pub const INTERRUPTED: u8 = 130;
}

fn main() -> ExitCode {
    // A parent that ignores SIGCHLD would leave orx unable to read any child's exit status.
    orx_core::run::sys::default_sigchld();
    let cli = cli::Cli::parse();
    let printer = Printer::new(cli.quiet, cli.verbose);
    match commands::dispatch(cli, printer) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            printer.error(&e.to_string(), e.hint().as_deref());
            ExitCode::from(if matches!(e, orx_core::Error::Cancelled) {
                exit::INTERRUPTED
            } else if e.is_usage() {
                exit::USAGE
            } else {
                exit::FAILED
            })
        }
    }
}
