//! The one printer: every line orx shows goes through here. Human output on stdout,
//! diagnostics on stderr; `-q` keeps only errors and results; NO_COLOR is honoured.
use std::io::{IsTerminal, Write};

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
        out(text, true);
    }

    /// A progress or information line (hidden by -q).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            out(text, true);
        }
    }

    /// A diagnostic (shown with -v).
    pub fn debug(&self, text: &str) {
        if self.verbose > 0 {
            err(text);
        }
    }

    /// A note for people on stderr (hidden by -q), where stdout is kept for scripts.
    pub fn hint(&self, text: &str) {
        if !self.quiet {
            err(text);
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, text: &str) {
        err(&format!("{} {text}", self.paint("warning:", "33")));
    }

    /// An error with its hints, rendered once.
    pub fn error(&self, message: &str, hints: &[String]) {
        let use_color = std::io::stderr().is_terminal() && self.color;
        let head = if use_color {
            "\x1b[1;31merror:\x1b[0m"
        } else {
            "error:"
        };
        err(&format!("{head} {message}"));
        for h in hints {
            let label = if use_color {
                "\x1b[36mhint:\x1b[0m"
            } else {
                "hint:"
            };
            err(&format!("  {label} {h}"));
        }
    }

    /// JSON on stdout.
    pub fn json(&self, value: &serde_json::Value) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => out(&s, true),
            Err(e) => err(&format!("error: cannot encode JSON: {e}")),
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

    /// Raw text (a diff, a log) on stdout, without a newline added. Piped, it keeps its exact
    /// bytes (a patch must still apply); on a terminal it is sanitized like every other line.
    pub fn raw(&self, text: &str) {
        if self.tty {
            out(text, false);
        } else {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
    }
}

/// Writes to stdout, without terminal controls (see [`crate::term`]); a closed pipe
/// (`orx status | head`) is not an error worth a panic.
fn out(text: &str, newline: bool) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(crate::term::sanitize(text).as_bytes());
    if newline {
        let _ = o.write_all(b"\n");
    }
}

fn err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", crate::term::sanitize(text));
}
