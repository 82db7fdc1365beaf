//! `orx doctor`.

use orx_core::Result;

use super::Env;
use crate::cli::DoctorArgs;
use crate::exit;
use crate::render::table;

/// `orx doctor`: exit 0 when nothing failed, 1 otherwise.
pub fn doctor(env: &Env, args: DoctorArgs) -> Result<u8> {
    let repo = env.root_or_dir();
    let config = env.config(&repo)?;
    let checks = orx_core::doctor::run(&repo, &config);
    let failed = checks.iter().any(|c| c.status == "fail");
    if args.json {
        env.printer
            .json(&serde_json::to_value(&checks).map_err(std::io::Error::other)?);
    } else {
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                let mark = match c.status {
                    "ok" => env.printer.paint("ok", "32"),
                    "warn" => env.printer.paint("warn", "33"),
                    _ => env.printer.paint("FAIL", "31"),
                };
                vec![mark, c.subject.clone(), c.detail.clone()]
            })
            .collect();
        env.printer.result(&table(&["", "CHECK", "FOUND"], &rows));
        let fixes: Vec<String> = checks
            .iter()
            .filter_map(|c| c.fix.as_ref().map(|f| format!("  {}: {f}", c.subject)))
            .collect();
        if !fixes.is_empty() {
            env.printer
                .result(&format!("\nto fix:\n{}", fixes.join("\n")));
        }
    }
    Ok(if failed { exit::FAILED } else { exit::OK })
}
