//! `orx metrics report` and `orx metrics show RUN_ID`.

use crate::command_error::{Exit, Outcome};
use orx_core::metrics::Report;
use orx_core::run::Store;

use super::Env;
use crate::render::{duration, table};
use clap::{Args, Subcommand};

/// `orx metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// report (default) or show RUN_ID.
    #[command(subcommand)]
    pub action: Option<MetricsAction>,
}

/// `orx metrics` actions.
#[derive(Debug, Subcommand)]
pub enum MetricsAction {
    /// Success rate, per-stage p50/p95 time and success, per-gate pass rate, per-model tokens and
    /// cost, top failure reasons, across every run of the repository.
    Report {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One run's totals and its stage records.
    Show {
        /// The run: its id, `last`, or a unique start or end of its id.
        #[arg(add = crate::complete::runs())]
        run_id: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn to_json<T: serde::Serialize>(v: &T) -> orx_core::Result<serde_json::Value> {
    Ok(serde_json::to_value(v).map_err(std::io::Error::other)?)
}

/// `orx metrics`.
pub fn metrics(env: &Env, args: MetricsArgs) -> Outcome {
    let store = Store::new(&env.root_or_dir());
    match args.action.unwrap_or(MetricsAction::Report { json: false }) {
        MetricsAction::Report { json } => report(env, &store, json),
        MetricsAction::Show { run_id, json } => show(env, &store, &run_id, json),
    }
}

fn report(env: &Env, store: &Store, json: bool) -> Outcome {
    let r = Report::build(&store.report_inputs()?);
    let p = &env.printer;
    if json {
        p.json(&to_json(&r)?);
        return Ok(Exit::Ok);
    }
    if r.runs == 0 {
        p.result("no runs yet: start one with `orx run \"<task>\"` (or try `orx demo`)");
        return Ok(Exit::Ok);
    }
    let statuses: Vec<String> = r
        .by_status
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    p.result(&format!(
        "{} run(s): {}; success rate {} of ended runs; {} tokens, ${:.4}",
        r.runs,
        statuses.join(", "),
        pct(r.success_rate),
        r.total_tokens,
        r.total_cost_usd
    ));
    let rows: Vec<Vec<String>> = r
        .stages_in_order()
        .into_iter()
        .map(|(name, s)| {
            vec![
                name.clone(),
                s.attempts.to_string(),
                pct(s.success_rate),
                duration(s.p50_secs),
                duration(s.p95_secs),
            ]
        })
        .collect();
    p.result("");
    p.result(&table(
        &["STAGE", "ATTEMPTS", "SUCCESS", "P50", "P95"],
        &rows,
    ));
    if !r.gates.is_empty() {
        let rows: Vec<Vec<String>> = r
            .gates
            .iter()
            .map(|(g, s)| vec![g.clone(), s.runs.to_string(), pct(s.pass_rate)])
            .collect();
        p.result("");
        p.result(&table(&["GATE", "RUNS", "PASS RATE"], &rows));
    }
    if !r.models.is_empty() {
        let rows: Vec<Vec<String>> = r
            .models
            .iter()
            .map(|(m, s)| {
                vec![
                    m.clone(),
                    s.calls.to_string(),
                    s.input_tokens.to_string(),
                    s.output_tokens.to_string(),
                    format!("${:.4}", s.cost_usd),
                ]
            })
            .collect();
        p.result("");
        p.result(&table(
            &["MODEL", "CALLS", "INPUT", "OUTPUT", "COST"],
            &rows,
        ));
    }
    if !r.top_failures.is_empty() {
        p.result("");
        p.result("top failure reasons:");
        for (reason, n) in &r.top_failures {
            p.result(&format!("  {n:>4}  {reason}"));
        }
    }
    Ok(Exit::Ok)
}

fn show(env: &Env, store: &Store, id: &str, json: bool) -> Outcome {
    let dir = store.find(id)?;
    let id = dir.id();
    let totals = Store::run_metrics(&dir);
    let records = Store::stage_records(&dir);
    let p = &env.printer;
    if json {
        p.json(&serde_json::json!({
            "run_id": id, "metrics": to_json(&totals)?, "stages": to_json(&records)?,
        }));
        return Ok(Exit::Ok);
    }
    match &totals {
        Some(m) => p.result(&format!(
            "run {id}: {} · {} · agents {} · gates {} · {} tokens in, {} out · ${:.4} · {} fix attempt(s)",
            m.status.map_or("live", |s| s.as_str()),
            duration(m.duration_secs),
            duration(m.agent_secs),
            duration(m.gate_secs),
            m.tokens.input,
            m.tokens.output,
            m.cost_usd,
            m.fix_attempts
        )),
        None => p.result(&format!("run {id}: no stage has finished yet")),
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let gates: Vec<String> = r
                .gates
                .iter()
                .map(|(g, ok)| format!("{g}:{}", if *ok { "pass" } else { "fail" }))
                .collect();
            vec![
                r.stage.clone(),
                r.item
                    .as_ref()
                    .map(|i| format!("{i}#{}", r.attempt))
                    .unwrap_or_else(|| "-".into()),
                r.status.to_string(),
                duration(r.duration_secs),
                match (&r.executor, &r.model) {
                    (Some(e), Some(m)) => format!("{e}/{m}"),
                    (Some(e), None) => e.clone(),
                    _ => "-".into(),
                },
                r.tokens.input.saturating_add(r.tokens.output).to_string(),
                format!("${:.4}", r.cost_usd),
                gates.join(" "),
            ]
        })
        .collect();
    if !rows.is_empty() {
        p.result("");
        p.result(&table(
            &[
                "STAGE", "ITEM", "STATUS", "TIME", "MODEL", "TOKENS", "COST", "GATES",
            ],
            &rows,
        ));
    }
    Ok(Exit::Ok)
}
