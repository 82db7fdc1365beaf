//! Read-only commands: `orx status`, `orx logs`, `orx diff`.

use std::time::Duration;

use crate::command_error::{CommandError, Exit, Outcome};
use orx_core::metrics::RunTotals;
use orx_core::run::{Event, Meta, RunDir, RunLock, RunState, Store};

use super::Env;
use crate::render::{duration, event_line, local_time, table};
use clap::Args;

/// `orx status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A run for the detailed view: its id, `last`, or a unique start or end of its id.
    #[arg(add = crate::complete::runs())]
    pub run_id: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Keep printing progress until the run ends.
    #[arg(long)]
    pub follow: bool,
    /// How many runs to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// `orx logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run: its id, `last` (the newest), or a unique start or end of its id.
    #[arg(add = crate::complete::runs())]
    pub run_id: String,
    /// Print the agent and gate logs of this stage (plan, implement, fix, W001, …) instead:
    /// an agent's stream as what it did (files, commands, tools, words).
    #[arg(long, value_name = "STAGE", add = crate::complete::log_stages())]
    pub stage: Option<String>,
    /// Keep printing new events (or, with --stage, new log lines) until the run ends.
    #[arg(long)]
    pub follow: bool,
    /// With --stage: an agent's stream as the JSON its CLI wrote.
    #[arg(long, requires = "stage")]
    pub raw: bool,
}

/// `orx diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The run: its id, `last` (the newest), or a unique start or end of its id.
    #[arg(add = crate::complete::runs())]
    pub run_id: String,
    /// Only this item's diff (W001, …).
    #[arg(long, value_name = "ITEM")]
    pub item: Option<String>,
}

/// `orx status`.
pub fn status(env: &Env, args: StatusArgs) -> Outcome {
    let store = Store::new(&env.root_or_dir());
    let id = match args.run_id {
        Some(id) => id,
        // `--follow` alone follows the newest run that is running.
        None if args.follow => {
            let active = store
                .ids()?
                .into_iter()
                .find(|id| store.summary(id).status == orx_core::protocol::Observed::Running);
            match active {
                Some(id) => {
                    env.printer.info(&format!("following run {id}"));
                    id
                }
                None => {
                    return Err(CommandError::usage(
                        "no run is running",
                        "`orx status --follow RUN` follows a given run; `orx status` lists them",
                    ));
                }
            }
        }
        None => return list_runs(env, &store, args.limit, args.json),
    };
    let dir = store.find(&id)?;
    let id = dir.id().to_string();
    if args.follow {
        return follow(env, &dir, 0);
    }
    let state = RunState::load(&dir.state())?;
    let meta = Meta::load(&dir.meta())?;
    // run.json is written at the end; while a run is live, its totals come from stages.jsonl.
    let metrics: Option<RunTotals> = Store::run_metrics(&dir);
    let summary = store.summary(&id);
    if args.json {
        env.printer.json(&serde_json::json!({
            "run_id": id, "status": summary.status, "meta": meta, "state": state, "metrics": metrics,
        }));
        return Ok(Exit::Ok);
    }
    let p = &env.printer;
    p.result(&format!(
        "run      {id}\nstatus   {}\ntask     {}\nbranch   {} (from {} at {})\nstarted  {}{}",
        summary.status,
        meta.task_summary,
        meta.branch,
        meta.base_branch,
        &meta.base_sha[..meta.base_sha.len().min(10)],
        local_time(&meta.started_at),
        summary
            .duration_secs
            .map(|d| format!(" ({})", duration(d)))
            .unwrap_or_default()
    ));
    if let Some(issue) = &meta.issue {
        p.result(&format!("issue    #{} {}", issue.number, issue.url));
    }
    if let Some(pr) = &meta.pr_url {
        p.result(&format!("pr       {pr}"));
    }
    if let (Some(item), Some(st)) = (
        &state.current_item,
        state.current_item.as_ref().and_then(|i| state.item(i)),
    ) {
        p.result(&format!(
            "current  {} {item} attempt {}",
            state.current_stage.as_deref().unwrap_or("-"),
            st.attempts
        ));
    }
    p.result(&stages_and_items(&state));
    if let Some(ci) = &state.ci {
        p.result(&checks(ci));
    }
    if let Some(m) = metrics {
        p.result(&format!(
            "\ntokens   {} in ({} cached), {} out\ncost     ${:.4}\nagent    {}  gates {}  fix attempts {}",
            m.tokens.input, m.tokens.cached_input, m.tokens.output, m.cost_usd, duration(m.agent_secs), duration(m.gate_secs), m.fix_attempts
        ));
    }
    if let Some(f) = &state.last_failure
        && summary.status != orx_core::protocol::Observed::Succeeded
    {
        p.result(&last_failure(f));
    }
    Ok(Exit::Ok)
}

/// The pull request's checks as the `ci` stage last read them, with its round and pushes.
fn checks(ci: &orx_core::protocol::CiState) -> String {
    let sha = ci.sha.as_deref().unwrap_or("");
    let mut out = format!(
        "\nchecks (round {}, commit {}; fixes pushed: {}):\n",
        ci.round,
        &sha[..sha.len().min(10)],
        ci.pushed.len()
    );
    if ci.checks.is_empty() {
        out.push_str("  none reported yet");
        return out;
    }
    let rows: Vec<Vec<String>> = ci
        .checks
        .iter()
        .map(|c| {
            vec![
                format!("  {}", c.name),
                c.state.to_string(),
                c.conclusion.clone().unwrap_or_else(|| "-".into()),
                c.url.clone().unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&table(&["  CHECK", "STATE", "CONCLUSION", "PAGE"], &rows));
    out
}

/// `orx status` without a run id: the table of runs, newest first.
fn list_runs(env: &Env, store: &Store, limit: usize, json: bool) -> Outcome {
    let mut runs = store.list(limit)?;
    // Runs that wait for a person come first (the sort keeps the newest first among each).
    runs.sort_by_key(|r| r.status != orx_core::protocol::Observed::Waiting);
    if json {
        env.printer
            .json(&serde_json::to_value(&runs).map_err(std::io::Error::other)?);
        return Ok(Exit::Ok);
    }
    if runs.is_empty() {
        // Runs live at a repository's root: outside one, "no runs yet" would mislead.
        env.repo()?;
        env.printer
            .result("no runs yet: start one with `orx run \"<task>\"` (or try `orx demo`)");
        return Ok(Exit::Ok);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.run_id.clone(),
                r.status.to_string(),
                r.stage.clone().unwrap_or_else(|| "-".into()),
                r.started_at.as_deref().map(local_time).unwrap_or_default(),
                r.duration_secs.map(duration).unwrap_or_else(|| "-".into()),
                r.task.clone(),
            ]
        })
        .collect();
    env.printer.result(&table(
        &["RUN", "STATUS", "STAGE", "STARTED", "DURATION", "TASK"],
        &rows,
    ));
    for r in runs
        .iter()
        .filter(|r| r.status == orx_core::protocol::Observed::Waiting)
    {
        let state = RunState::load(&store.dir(&r.run_id).state()).ok();
        let what = state
            .as_ref()
            .and_then(|s| s.waiting_for.clone())
            .unwrap_or_default();
        let id = &r.run_id;
        let todo =
            if state.and_then(|s| s.waiting) == Some(orx_core::protocol::WaitReason::Approval) {
                format!("orx approve {id}   (or: orx reject {id} \"what to change\")")
            } else {
                format!("orx approve {id} --add-usd 1   (raises its limit and goes on)")
            };
        env.printer
            .result(&format!("\nrun {id} waits: {what}\n  {todo}"));
    }
    Ok(Exit::Ok)
}

/// The stages table, then the items table when the run has items.
fn stages_and_items(state: &RunState) -> String {
    let rows: Vec<Vec<String>> = state
        .stages
        .iter()
        .map(|s| {
            let secs = match (&s.started_at, &s.ended_at) {
                (Some(a), Some(b)) => secs_between(a, b).map(duration).unwrap_or_default(),
                _ => String::new(),
            };
            vec![
                format!("  {}", s.name),
                s.status.as_str().to_string(),
                secs,
                s.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = format!(
        "\nstages:\n{}",
        table(&["  STAGE", "STATUS", "TIME", "NOTE"], &rows)
    );
    if !state.items.is_empty() {
        let rows: Vec<Vec<String>> = state
            .items
            .iter()
            .map(|i| {
                vec![
                    format!("  {}", i.id),
                    i.status.as_str().into(),
                    i.attempts.to_string(),
                    i.title.clone(),
                ]
            })
            .collect();
        out.push_str(&format!(
            "\n\nitems:\n{}",
            table(&["  ITEM", "STATUS", "ATTEMPTS", "TITLE"], &rows)
        ));
    }
    out
}

fn last_failure(f: &orx_core::protocol::Failure) -> String {
    // The message may already end with its category (an item's "failed after N attempts").
    let category = format!("({})", f.category);
    let tail = if f.message.contains(&category) {
        String::new()
    } else {
        format!(" {category}")
    };
    format!(
        "\nlast failure: {} {}: {}{tail}",
        f.stage,
        f.item.as_deref().unwrap_or(""),
        f.message,
    )
}

fn secs_between(a: &str, b: &str) -> Option<f64> {
    let a: jiff::Timestamp = a.parse().ok()?;
    let b: jiff::Timestamp = b.parse().ok()?;
    Some((b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0)
}

/// Prints events from byte `from` of events.jsonl until the run ends (no live driver and a
/// final status), polling the file.
fn follow(env: &Env, dir: &RunDir, from: u64) -> Outcome {
    let mut offset = from;
    let mut idle_checks = 0u32;
    loop {
        offset = print_events_from(env, dir, offset)?;
        let state = RunState::load(&dir.state())?;
        let driver = RunLock::live_holder(&dir.lock());
        if driver.is_none() {
            idle_checks += 1;
            // Give a just-started run a moment to take its lock.
            if state.status.is_final() || idle_checks > 20 {
                print_events_from(env, dir, offset)?;
                let s = orx_core::run::Store::new(
                    dir.root()
                        .parent()
                        .and_then(|p| p.parent())
                        .unwrap_or(dir.root()),
                )
                .summary(dir.id());
                env.printer
                    .result(&format!("run {} {}", dir.id(), s.status));
                return Ok(Exit::Ok);
            }
        } else {
            idle_checks = 0;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn print_events_from(env: &Env, dir: &RunDir, offset: u64) -> orx_core::Result<u64> {
    orx_core::fsutil::whole_lines_from(&dir.events(), offset, |line| {
        match serde_json::from_str::<Event>(line.trim_end()) {
            Ok(e) => env.printer.result(&event_line(&e)),
            Err(_) => env.printer.result(line.trim_end()),
        }
    })
}

/// `orx logs`.
pub fn logs(env: &Env, mut args: LogsArgs) -> Outcome {
    let store = Store::new(&env.root_or_dir());
    let dir = store.find(&args.run_id)?;
    args.run_id = dir.id().to_string();
    if let Some(stage) = &args.stage {
        let shown = super::stage_logs::Shown {
            raw: args.raw,
            follow: args.follow,
        };
        return super::stage_logs::stage_logs(env, &dir, stage, shown);
    }
    if args.follow {
        return follow(env, &dir, 0);
    }
    print_events_from(env, &dir, 0)?;
    Ok(Exit::Ok)
}

/// The failed items of a run with the diff of their last attempt (artifacts/<item>.diff).
fn failed_items_diffs(dir: &orx_core::run::RunDir) -> Vec<(String, String)> {
    let Ok(state) = orx_core::protocol::RunState::load(&dir.state()) else {
        return Vec::new();
    };
    state
        .items
        .iter()
        .filter(|i| i.status == orx_core::protocol::ItemStatus::Failed)
        .filter_map(|i| {
            let diff = std::fs::read_to_string(dir.artifact(&format!("{}.diff", i.id))).ok()?;
            (!diff.trim().is_empty()).then(|| (i.id.clone(), diff))
        })
        .collect()
}

/// `orx diff`.
pub fn diff(env: &Env, args: DiffArgs) -> Outcome {
    let store = Store::new(&env.root_or_dir());
    let dir = store.find(&args.run_id)?;
    let mut text = Store::diff(&dir, args.item.as_deref())?;
    if args.item.is_none() {
        // A failed item's change was not committed: shown after the run's, marked as such.
        let failed = failed_items_diffs(&dir);
        if !failed.is_empty() {
            if text.is_empty() {
                env.printer.info("(no committed change)");
            }
            for (id, diff) in failed {
                text.push_str(&format!(
                    "# orx: {id} failed; the change of its last attempt, not committed \
                     (orx diff {} --item {id}):\n{diff}",
                    dir.id()
                ));
                if !text.ends_with('\n') {
                    text.push('\n');
                }
            }
        }
    }
    if text.is_empty() {
        env.printer.info("(empty diff)");
        return Ok(Exit::Ok);
    }
    if env.printer.color {
        for l in text.lines() {
            let colored = if l.starts_with("+++") || l.starts_with("---") {
                env.printer.paint(l, "1")
            } else if l.starts_with('+') {
                env.printer.paint(l, "32")
            } else if l.starts_with('-') {
                env.printer.paint(l, "31")
            } else if l.starts_with("@@") {
                env.printer.paint(l, "36")
            } else {
                l.to_string()
            };
            env.printer.result(&colored);
        }
    } else {
        env.printer.raw(&text);
    }
    Ok(Exit::Ok)
}
