//! `orx logs RUN --stage S [--follow] [--raw]`: the agent and gate logs of a stage or an item.
//! An agent's JSON stream is rendered as what it did (files written, commands run, tools
//! called, what it said); `--raw` prints the JSON as the CLI wrote it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use orx_core::config::ROLES;
use orx_core::run::{Meta, RunDir, RunLock, RunState};

use super::Env;
use crate::command_error::{CommandError, Exit, Outcome};

/// How a stage's logs are shown.
#[derive(Clone, Copy, Debug)]
pub struct Shown {
    /// The JSON as written, not rendered.
    pub raw: bool,
    /// Keep printing what is appended until the run ends.
    pub follow: bool,
}

/// Prints the logs of `stage` in run `dir`.
pub fn stage_logs(env: &Env, dir: &RunDir, stage: &str, shown: Shown) -> Outcome {
    let mut offsets: BTreeMap<PathBuf, u64> = BTreeMap::new();
    let mut idle = 0u32;
    loop {
        let files = matching(dir, stage)?;
        if files.is_empty() && !shown.follow {
            return Err(CommandError::usage(
                format!("no log of `{stage}` in run {}", dir.id()),
                format!("this run has logs of: {}", names(dir).join(", ")),
            ));
        }
        for f in &files {
            let from = match offsets.get(f) {
                Some(o) => *o,
                None => {
                    env.printer.result(&format!(
                        "===== {} =====",
                        f.file_name().and_then(|n| n.to_str()).unwrap_or("")
                    ));
                    0
                }
            };
            let to = print_from(env, dir, f, from, shown.raw)?;
            offsets.insert(f.clone(), to);
        }
        if !shown.follow {
            return Ok(Exit::Ok);
        }
        let live = RunLock::live_holder(&dir.lock()).is_some();
        let ended = RunState::load(&dir.state()).is_ok_and(|s| s.status.is_final());
        if !live {
            idle += 1;
            if ended || idle > 20 {
                return Ok(Exit::Ok);
            }
        } else {
            idle = 0;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The log files of `stage` (an agent role, a gate, or an item id), by name.
fn matching(dir: &RunDir, stage: &str) -> orx_core::Result<Vec<PathBuf>> {
    let logs = dir.root().join("logs");
    let Ok(rd) = fs_err::read_dir(&logs) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // `verify` is every gate log; `baseline` the gates on the untouched worktree.
            (stage == "verify" && name.starts_with("gate_"))
                || (stage == "baseline" && name.ends_with("_baseline.log"))
                || name.starts_with(&format!("agent_{stage}"))
                || name.starts_with(&format!("gate_{stage}"))
                || name.contains(&format!("_{stage}_"))
                || name == stage
                || name.starts_with(&format!("{stage}."))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The names `--stage` takes in this run: the roles and items its logs belong to, `verify`
/// for the gates and `baseline` when the baseline ran.
fn names(dir: &RunDir) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let files = fs_err::read_dir(dir.root().join("logs"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for f in &files {
        if let Some(rest) = f.strip_prefix("agent_")
            && let Some(role) = ROLES
                .iter()
                .filter(|r| rest.starts_with(**r))
                .max_by_key(|r| r.len())
        {
            out.push((*role).to_string());
        }
        if f.starts_with("gate_") {
            out.push("verify".into());
        }
        if f.ends_with("_baseline.log") {
            out.push("baseline".into());
        }
        out.extend(
            f.split(['_', '.'])
                .filter(|w| orx_core::protocol::is_item_id(w))
                .map(String::from),
        );
    }
    out.sort();
    out.dedup();
    out
}

/// Prints the whole lines of `path` from byte `offset` (rendered unless `raw`); returns the
/// offset after the last whole line.
fn print_from(
    env: &Env,
    dir: &RunDir,
    path: &Path,
    offset: u64,
    raw: bool,
) -> orx_core::Result<u64> {
    let kind = executor_of(dir, path);
    orx_core::fsutil::whole_lines_from(path, offset, |line| {
        let text = crate::term::sanitize(line.trim_end()).into_owned();
        let Some(kind) = kind.filter(|_| !raw) else {
            env.printer.result(&text);
            return;
        };
        let activity =
            orx_core::agent::of_line(kind, &text).or_else(|| orx_core::agent::of_any_line(&text));
        if let Some(a) = activity {
            env.printer.result(&format!("  {a}"));
        }
    })
}

/// The executor whose stream an agent log (`agent_<role>….jsonl`) holds: the run's routing of
/// that role. None for other logs.
fn executor_of(dir: &RunDir, path: &Path) -> Option<orx_core::config::ExecutorKind> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("agent_")?.strip_suffix(".jsonl")?;
    let role = ROLES
        .iter()
        .filter(|r| rest.starts_with(**r))
        .max_by_key(|r| r.len())?;
    let meta = Meta::load(&dir.meta()).ok()?;
    meta.routing
        .get(role)
        .map(|r| r.executor)
        .or(Some(orx_core::config::ExecutorKind::Fake))
}
