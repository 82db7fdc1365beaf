//! What the agents are told about the repository: a project map, a tooling snapshot and the
//! verify commands, each within a size budget.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::Config;
use crate::git::Git;

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
    RepoContext {
        project_map: project_map(root),
        tooling_snapshot: tooling_snapshot(root),
        verify_commands: verify_commands(config),
    }
}

fn project_map(root: &Path) -> String {
    let files: Vec<String> = Git::new(root)
        .run(&["ls-files", "-z"])
        .map(|o| {
            o.split('\0')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut by_dir: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        let top = match f.split_once('/') {
            Some((d, _)) => format!("{d}/"),
            None => ".".to_string(),
        };
        *by_dir.entry(top).or_default() += 1;
    }
    let mut out = format!(
        "# Project map\n\n{} tracked files.\n\n## Folders\n",
        files.len()
    );
    for (d, n) in &by_dir {
        out.push_str(&format!("- `{d}` {n} files\n"));
    }
    out.push_str("\n## Files\n");
    for f in &files {
        let line = format!("- {f}\n");
        if out.len() + line.len() > BUDGET - 64 {
            out.push_str(&format!(
                "- … and {} more\n",
                files.len() - out.matches("\n- ").count()
            ));
            break;
        }
        out.push_str(&line);
    }
    out
}

fn tooling_snapshot(root: &Path) -> String {
    let probes = [
        ("pyproject.toml", "Python project"),
        ("requirements.txt", "Python requirements"),
        ("setup.cfg", "Python setup.cfg"),
        ("ruff.toml", "ruff config"),
        ("pytest.ini", "pytest config"),
        ("mypy.ini", "mypy config"),
        ("package.json", "JavaScript/TypeScript package"),
        ("tsconfig.json", "TypeScript config"),
        ("Cargo.toml", "Rust crate or workspace"),
        ("go.mod", "Go module"),
        ("Makefile", "Makefile"),
    ];
    let mut out = String::from("# Tooling snapshot\n\n");
    let mut any = false;
    for (file, what) in probes {
        let p = root.join(file);
        if let Ok(text) = std::fs::read_to_string(&p) {
            any = true;
            out.push_str(&format!(
                "## {file} ({what})\n```\n{}\n```\n\n",
                crate::fsutil::truncate(text.trim_end(), 1500)
            ));
        }
        if out.len() > BUDGET {
            out = crate::fsutil::truncate(&out, BUDGET);
            break;
        }
    }
    if !any {
        out.push_str("No known build or tooling files were found at the repository root.\n");
    }
    out
}

fn verify_commands(config: &Config) -> String {
    let mut out = String::from(
        "# Verify commands\n\nAfter each change orx runs these gates in the worktree:\n\n",
    );
    let gates: Vec<_> = config.gates.iter().filter(|g| g.enabled).collect();
    if gates.is_empty() {
        out.push_str("No gates are configured: the change is checked by review only.\n");
    }
    for g in gates {
        let args: Vec<&str> = g.args.iter().map(|a| a.as_str()).collect();
        out.push_str(&format!(
            "- `{}`: `{} {}` ({}, timeout {} s)\n",
            g.name,
            g.command,
            args.join(" "),
            if g.required { "required" } else { "optional" },
            g.timeout.get()
        ));
    }
    out
}
