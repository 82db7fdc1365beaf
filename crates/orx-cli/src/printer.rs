//! The one printer: every line orx shows goes through here. Human output on stdout,
//! diagnostics on stderr; `-q` keeps only errors and results; NO_COLOR is honoured.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::IsTerminal;

/// Output settings shared by every command.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    /// -q.
    pub quiet: bool,
    /// -v count.
    pub verbose: u8,
    /// Colour on stdout.
    pub color: bool,
    /// stdout is a terminal.
    pub tty: bool,
}

impl Printer {
    /// Settings from the flags and the environment.
    pub fn new(quiet: bool, verbose: u8) -> Self {
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            quiet,
            verbose,
            color: tty && !no_color,
            tty,
        }
    }

    /// A result line (always printed).
    pub fn result(&self, text: &str) {
        println!("{text}");
    }

    /// A progress or information line (hidden by -q).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            println!("{text}");
        }
    }

    /// A diagnostic (shown with -v).
    pub fn debug(&self, text: &str) {
        if self.verbose > 0 {
            eprintln!("{text}");
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        eprintln!("{} {text}", self.paint("warning:", "33"));
    }

    /// An error with its hint, rendered once.
    pub fn error(&self, message: &str, hint: Option<&str>) {
        let use_color = std::io::stderr().is_terminal() && self.color;
        let head = if use_color {
            "\x1b[1;31merror:\x1b[0m"
        } else {
            "error:"
        };
        eprintln!("{head} {message}");
        if let Some(h) = hint {
            let label = if use_color {
                "\x1b[36mhint:\x1b[0m"
            } else {
                "hint:"
            };
            eprintln!("  {label} {h}");
        }
    }

    /// JSON on stdout.
    pub fn json(&self, value: &serde_json::Value) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: cannot encode JSON: {e}"),
        }
    }

    /// `text` in ANSI colour `code` when colour is on.
    pub fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Raw text (a diff, a log) on stdout, without a newline added.
    pub fn raw(&self, text: &str) {
        print!("{text}");
    }
}
