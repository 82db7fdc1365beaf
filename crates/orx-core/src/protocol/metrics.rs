//! metrics/stages.jsonl (one record per stage attempt) and metrics/run.json (the totals).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AttemptStatus, FailureCategory, RunStatus};
use crate::agent::Usage;
use crate::git::DiffStats;

fn v1() -> u32 {
    1
}

/// One line of metrics/stages.jsonl.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct StageRecord {
    /// Format version (see [`super::PROTOCOL_VERSION`]).
    #[serde(default = "v1")]
    pub version: u32,
    /// Run id.
    pub run_id: String,
    /// Stage (implement and fix for item attempts).
    pub stage: String,
    /// The item.
    pub item: Option<String>,
    /// The attempt.
    pub attempt: u32,
    /// How the attempt ended.
    pub status: AttemptStatus,
    /// The failure category.
    pub failure_category: Option<FailureCategory>,
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

/// metrics/run.json: a run's totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunTotals {
    /// Format version (see [`super::PROTOCOL_VERSION`]).
    #[serde(default = "v1")]
    pub version: u32,
    /// Run id.
    pub run_id: String,
    /// Final status (None while the run is live: totals summed from the records).
    pub status: Option<RunStatus>,
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

impl RunTotals {
    /// Totals from the stage records.
    pub fn from_records(run_id: &str, records: &[StageRecord]) -> Self {
        let mut m = RunTotals {
            version: super::PROTOCOL_VERSION,
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
