//! Metrics: one record per stage attempt (stages.jsonl), the run totals (run.json), pricing.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::agent::Usage;
use crate::config::Price;
use crate::git::DiffStats;

pub mod report;

pub use report::{Report, RunInput};

/// One line of metrics/stages.jsonl.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StageRecord {
    /// Run id.
    pub run_id: String,
    /// Stage (implement and fix for item attempts).
    pub stage: String,
    /// The item.
    pub item: Option<String>,
    /// The attempt.
    pub attempt: u32,
    /// ok, failed, cancelled, skipped.
    pub status: String,
    /// The failure category.
    pub failure_category: Option<String>,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End (RFC 3339).
    pub ended_at: String,
    /// Seconds.
    pub duration_secs: f64,
    /// Agent seconds within it.
    pub agent_secs: f64,
    /// Gate seconds within it.
    pub gate_secs: f64,
    /// Executor.
    pub executor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Tokens.
    pub tokens: Usage,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Gate outcomes: name → passed.
    pub gates: BTreeMap<String, bool>,
    /// The diff, for item attempts.
    pub diff: Option<DiffStats>,
}

/// metrics/run.json.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunMetrics {
    /// Run id.
    pub run_id: String,
    /// Final status.
    pub status: String,
    /// Seconds from start to end.
    pub duration_secs: f64,
    /// Seconds per stage.
    pub stage_secs: BTreeMap<String, f64>,
    /// Seconds inside agents.
    pub agent_secs: f64,
    /// Seconds inside gates.
    pub gate_secs: f64,
    /// Tokens.
    pub tokens: Usage,
    /// Cost in USD.
    pub cost_usd: f64,
    /// Fix attempts (item attempts after the first).
    pub fix_attempts: u32,
    /// Items passed.
    pub items_done: u32,
    /// Items failed.
    pub items_failed: u32,
    /// Seconds from the run's start to the first item whose gates passed.
    pub time_to_first_green_secs: Option<f64>,
}

impl RunMetrics {
    /// Totals from the stage records.
    pub fn from_records(run_id: &str, records: &[StageRecord]) -> Self {
        let mut m = RunMetrics {
            run_id: run_id.to_string(),
            ..Default::default()
        };
        for r in records {
            *m.stage_secs.entry(r.stage.clone()).or_default() += r.duration_secs;
            m.agent_secs += r.agent_secs;
            m.gate_secs += r.gate_secs;
            m.tokens.add(&r.tokens);
            m.cost_usd += r.cost_usd;
            if r.stage == "fix" {
                m.fix_attempts += 1;
            }
        }
        m
    }
}

/// The records of metrics/stages.jsonl (lines that do not parse, such as a line cut by a crash,
/// are skipped).
pub fn read_stage_records(path: &Path) -> Vec<StageRecord> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Built-in prices (USD per million tokens) for common models; orx.yaml `pricing` overrides.
const BUILTIN_PRICES: [(&str, f64, f64); 8] = [
    ("gpt-4.1", 2.0, 8.0),
    ("gpt-4.1-mini", 0.4, 1.6),
    ("gpt-5", 1.25, 10.0),
    ("o4-mini", 1.1, 4.4),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-opus-4", 15.0, 75.0),
    ("gemini-2.5-pro", 1.25, 10.0),
    ("gemini-2.0-flash", 0.1, 0.4),
];

/// The cost of `usage` on `model` in USD (0 when the model has no known price).
pub fn cost(model: Option<&str>, usage: &Usage, pricing: &BTreeMap<String, Price>) -> f64 {
    let Some(model) = model else { return 0.0 };
    let (input, output, cached) = match pricing.get(model) {
        Some(p) => (p.input, p.output, p.cached_input.unwrap_or(p.input)),
        None => match BUILTIN_PRICES.iter().find(|(m, _, _)| *m == model) {
            Some((_, i, o)) => (*i, *o, *i / 4.0),
            None => return 0.0,
        },
    };
    let uncached = usage.input.saturating_sub(usage.cached_input) as f64;
    (uncached * input + usage.cached_input as f64 * cached + usage.output as f64 * output) / 1e6
}
