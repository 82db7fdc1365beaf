//! What the agents are told about the repository: a project map, a tooling snapshot and the
//! verify commands, each within a size budget. Python, JavaScript/TypeScript, Rust and Go
//! projects are recognised from their manifests.

mod detect;
mod toml_lite;

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Config;
use crate::git::Git;

pub use detect::{Ecosystem, ProposedGate, detect, proposed_gates};

/// Bytes kept per context file.
pub const BUDGET: usize = 12 * 1024;

/// The three context files.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RepoContext {
    /// project_map.md.
    pub project_map: String,
    /// tooling_snapshot.md.
    pub tooling_snapshot: String,
    /// verify_commands.md.
    pub verify_commands: String,
}

/// Builds the context of the worktree at `root`.
pub fn build(root: &Path, config: &Config) -> RepoContext {
    let ecosystems = detect(root);
    RepoContext {
        project_map: project_map(root),
        tooling_snapshot: fit(tooling_snapshot(&ecosystems)),
        verify_commands: fit(verify_commands(config, &ecosystems)),
    }
}

/// Cuts `text` to the budget on a line boundary, saying so.
fn fit(text: String) -> String {
    if text.len() <= BUDGET {
        return text;
    }
    let mut end = BUDGET - 64;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text[..end].rfind('\n').unwrap_or(end);
    format!("{}\n… (cut to {} KiB)\n", &text[..cut], BUDGET / 1024)
}

fn project_map(root: &Path) -> String {
    let files: Vec<String> = Git::new(root)
        .run(&["ls-files", "-z"])
        .map(|o| {
            o.split('\0')
                .map(|s| s.trim_matches('\n'))
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut by_dir: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        let top = match f.split_once('/') {
            Some((d, _)) => format!("{d}/"),
            None => "(root)".to_string(),
        };
        *by_dir.entry(top).or_default() += 1;
    }
    let mut out = format!(
        "# Project map\n\n{} tracked files.\n\n## Folders\n",
        files.len()
    );
    for (d, n) in &by_dir {
        out.push_str(&format!(
            "- `{d}` {n} file{}\n",
            if *n == 1 { "" } else { "s" }
        ));
    }
    out.push_str("\n## Files\n");
    for (i, f) in files.iter().enumerate() {
        let line = format!("- {f}\n");
        if out.len() + line.len() > BUDGET - 64 {
            out.push_str(&format!("- … and {} more\n", files.len() - i));
            break;
        }
        out.push_str(&line);
    }
    out
}

fn tooling_snapshot(ecosystems: &[Ecosystem]) -> String {
    let mut out = String::from("# Tooling snapshot\n");
    if ecosystems.is_empty() {
        out.push_str("\nNo Python, JavaScript/TypeScript, Rust or Go manifest was found at the repository root.\n");
    }
    for e in ecosystems {
        out.push_str(&format!("\n## {}\n", e.name));
        for (k, v) in &e.facts {
            out.push_str(&format!("- {k}: {v}\n"));
        }
    }
    out
}

fn verify_commands(config: &Config, ecosystems: &[Ecosystem]) -> String {
    let mut out = String::from("# Verify commands\n\n## Gates orx runs after each change\n");
    let gates: Vec<_> = config.gates.iter().filter(|g| g.enabled).collect();
    if gates.is_empty() {
        out.push_str("None are configured: the change is checked by review only.\n");
    }
    for g in gates {
        let args: Vec<&str> = g.args.iter().map(|a| a.as_str()).collect();
        out.push_str(&format!(
            "- `{}`: `{}` ({}, timeout {} s)\n",
            g.name,
            format!("{} {}", g.command, args.join(" ")).trim(),
            if g.required { "required" } else { "optional" },
            g.timeout.get()
        ));
    }
    let suggested: Vec<&String> = ecosystems.iter().flat_map(|e| &e.commands).collect();
    if !suggested.is_empty() {
        out.push_str("\n## Commands this project's tooling suggests\n");
        for c in suggested {
            out.push_str(&format!("- `{c}`\n"));
        }
    }
    out
}
