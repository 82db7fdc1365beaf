//! `orx init`: a commented orx.yaml with the keys a user would change.

use crate::command_error::{CommandError, Exit, Outcome};
use orx_core::config::ExecutorKind;
use orx_core::git::Git;

use super::Env;
use clap::Args;

/// `orx init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The default engine to write (codex, gemini, claude, cursor, copilot, fake).
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Overwrite an existing orx.yaml.
    #[arg(long)]
    pub force: bool,
}

const TEMPLATE: &str = include_str!("init_template.yaml");

/// `orx init`.
pub fn init(env: &Env, args: InitArgs) -> Outcome {
    let repo = env.repo()?;
    let path = env
        .config_flag
        .clone()
        .unwrap_or_else(|| repo.join("orx.yaml"));
    if path.exists() && !args.force {
        return Err(CommandError::usage(
            format!("{} already exists", path.display()),
            "pass --force to overwrite it",
        ));
    }
    let found: Vec<(ExecutorKind, bool)> = ExecutorKind::ALL
        .iter()
        .filter(|k| **k != ExecutorKind::Fake)
        .map(|k| (*k, orx_core::demo::which(k.default_binary()).is_some()))
        .collect();
    let engine = match &args.engine {
        Some(e) => ExecutorKind::parse(e).ok_or_else(|| {
            CommandError::usage(
                format!("unknown engine `{e}`"),
                "engines: codex, gemini, claude, cursor, copilot, fake",
            )
        })?,
        // The first agent CLI on PATH, else the scripted agent so `orx run` works at once.
        None => found
            .iter()
            .find(|(_, ok)| *ok)
            .map(|(k, _)| *k)
            .unwrap_or(ExecutorKind::Fake),
    };
    let proposed = orx_core::context::proposed_gates(&repo);
    let text = TEMPLATE
        .replace("{{engine}}", engine.name())
        .replace("{{gates}}", &gates_yaml(&proposed));
    orx_core::fsutil::atomic_write(&path, text.as_bytes())?;
    Git::new(&repo).ensure_excluded()?;
    let p = &env.printer;
    p.result(&format!("wrote {} (engine: {engine})", path.display()));
    p.info("runs/ and .worktrees/ are excluded from git (.git/info/exclude)");
    p.info("agent CLIs on PATH:");
    for (k, ok) in found.iter().copied() {
        p.info(&format!(
            "  {:<8} {}",
            k.name(),
            if ok {
                format!("found ({})", k.default_binary())
            } else {
                format!("not found ({})", k.default_binary())
            }
        ));
    }
    if engine != ExecutorKind::Fake && !found.iter().any(|(k, ok)| *k == engine && *ok) {
        p.warn(&format!(
            "`{}` is not on PATH: install it before `orx run` ({}), or write another engine",
            engine.default_binary(),
            crate::command_error::install_command(engine)
        ));
    }
    let (found_gates, missing): (Vec<_>, Vec<_>) = proposed.iter().partition(|g| g.found);
    let names = |gs: &[&orx_core::context::ProposedGate]| {
        gs.iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if proposed.is_empty() {
        p.warn("no test or lint command found in this project: add your gates to orx.yaml, or an item passes on the agent's word");
    } else {
        if !found_gates.is_empty() {
            p.info(&format!("gates from the project: {}", names(&found_gates)));
        }
        if !missing.is_empty() {
            p.warn(&format!(
                "written commented out, their program is not on PATH: {} (install, then uncomment)",
                names(&missing)
            ));
        }
    }
    p.info("next: check the gates in orx.yaml, then `orx run \"<task>\"` (or `orx run --dry-run \"<task>\"` first)");
    Ok(Exit::Ok)
}

/// The `gates:` section for the project: each proposed gate, commented out when its program
/// is not on PATH; examples when nothing was found.
fn gates_yaml(proposed: &[orx_core::context::ProposedGate]) -> String {
    if proposed.is_empty() {
        return "gates: []\n#  - name: pytest\n#    command: pytest\n#    args: [\"-q\"]\n#    timeout: 600\n".into();
    }
    let mut out = if proposed.iter().any(|g| g.found) {
        "gates:\n".to_string()
    } else {
        "gates: []\n".to_string()
    };
    for g in proposed {
        let c = if g.found { "" } else { "#" };
        let note = if g.found {
            String::new()
        } else {
            format!("        # `{}` is not on PATH", g.command)
        };
        out.push_str(&format!("{c}  - name: {}{note}\n", g.name));
        out.push_str(&format!("{c}    command: {}\n", g.command));
        if !g.args.is_empty() {
            let args: Vec<String> = g.args.iter().map(|a| format!("{a:?}")).collect();
            out.push_str(&format!("{c}    args: [{}]\n", args.join(", ")));
        }
    }
    out
}
