//! `orx doctor`.

use orx_core::doctor::{CheckStatus, Fix};

use crate::command_error::{Exit, Outcome};

use super::Env;
use crate::render::table;
use clap::Args;

/// `orx doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `orx doctor`: exit 0 when nothing failed, 1 otherwise.
pub fn doctor(env: &Env, args: DoctorArgs) -> Outcome {
    let repo = env.root_or_dir();
    let config = env.config(&repo)?;
    let checks = orx_core::doctor::run(&repo, &config);
    let failed = checks.iter().any(|c| c.status == CheckStatus::Fail);
    if args.json {
        let shown: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "subject": c.subject, "status": c.status, "detail": c.detail,
                    "fix": c.fix.as_ref().map(fix_text),
                })
            })
            .collect();
        env.printer.json(&serde_json::Value::Array(shown));
    } else {
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                let mark = match c.status {
                    CheckStatus::Ok => env.printer.paint("ok", "32"),
                    CheckStatus::Warn => env.printer.paint("warn", "33"),
                    CheckStatus::Fail => env.printer.paint("FAIL", "31"),
                };
                vec![mark, c.subject.clone(), c.detail.clone()]
            })
            .collect();
        env.printer.result(&table(&["", "CHECK", "FOUND"], &rows));
        let fixes: Vec<String> = checks
            .iter()
            .filter_map(|c| {
                c.fix
                    .as_ref()
                    .map(|f| format!("  {}: {}", c.subject, fix_text(f)))
            })
            .collect();
        if !fixes.is_empty() {
            env.printer
                .result(&format!("\nto fix:\n{}", fixes.join("\n")));
        }
    }
    Ok(if failed { Exit::Failed } else { Exit::Ok })
}

/// A fix as the user reads it.
fn fix_text(f: &Fix) -> String {
    match f {
        Fix::Do(text) => text.clone(),
        Fix::WriteConfig => "run `orx init` to write one".into(),
        Fix::UseRepository => {
            "run orx in a git repository (git init, then a first commit), or pass --dir".into()
        }
    }
}
