//! Metrics: one record per stage attempt (stages.jsonl), the run totals (run.json), pricing.

use std::collections::BTreeMap;
use std::path::Path;

use crate::agent::Usage;
use crate::config::Price;

pub mod prometheus;
pub mod report;

pub use crate::protocol::{RunTotals, StageRecord};
pub use report::{Report, RunInput, StageStats, percentile};

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
