//! The aggregate across runs: `orx metrics report` and the dashboard's metrics page.

use std::collections::BTreeMap;

use serde::Serialize;

use super::StageRecord;
use crate::protocol::{AttemptStatus, FailureCategory, Observed};

/// One run as the report sees it.
#[derive(Clone, Debug)]
pub struct RunInput {
    /// Its id (it starts with the day it started: `YYYYMMDD_`).
    pub run_id: String,
    /// Its status as a reader sees it.
    pub status: Observed,
    /// The failure category of a failed run.
    pub failure: Option<FailureCategory>,
    /// Its stage records.
    pub records: Vec<StageRecord>,
}

/// The numbers of one stage across runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StageStats {
    /// Stage attempts recorded.
    pub attempts: u64,
    /// Attempts that ended ok.
    pub ok: u64,
    /// ok / attempts.
    pub success_rate: f64,
    /// Median seconds.
    pub p50_secs: f64,
    /// 95th percentile seconds.
    pub p95_secs: f64,
}

/// One gate across runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct GateStats {
    /// Times it ran.
    pub runs: u64,
    /// Times it passed.
    pub passed: u64,
    /// passed / runs.
    pub pass_rate: f64,
}

/// One model across runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModelStats {
    /// Stage attempts that used it.
    pub calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in USD.
    pub cost_usd: f64,
}

impl Report {
    /// The stages in the order a pipeline runs them, not by name.
    pub fn stages_in_order(&self) -> Vec<(&String, &StageStats)> {
        let mut v: Vec<(&String, &StageStats)> = self.stages.iter().collect();
        // The roles in the order they run (fix right after implement); ship, which calls no
        // agent, right after review; anything else after, by name.
        let roles = crate::config::ROLES;
        let rank = |name: &str| {
            let at = |r: &str| roles.iter().position(|x| *x == r).unwrap_or(roles.len());
            match name {
                "ship" => at("review") * 2 + 1,
                n => at(n) * 2,
            }
        };
        v.sort_by_key(|(name, _)| (rank(name), (*name).clone()));
        v
    }
}

/// `orx metrics report`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Runs counted.
    pub runs: u64,
    /// Runs per status.
    pub by_status: BTreeMap<Observed, u64>,
    /// succeeded / runs that ended (succeeded, failed, cancelled).
    pub success_rate: f64,
    /// Per stage.
    pub stages: BTreeMap<String, StageStats>,
    /// Per gate.
    pub gates: BTreeMap<String, GateStats>,
    /// Per model (`executor/model`, or `executor` when no model was named).
    pub models: BTreeMap<String, ModelStats>,
    /// Failure categories, most frequent first.
    pub top_failures: Vec<(FailureCategory, u64)>,
    /// Tokens across runs (input + output).
    pub total_tokens: u64,
    /// Cost across runs.
    pub total_cost_usd: f64,
}

impl Report {
    /// Aggregates `runs`.
    pub fn build(runs: &[RunInput]) -> Report {
        let mut r = Report {
            runs: runs.len() as u64,
            ..Default::default()
        };
        let mut durations: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut failures: BTreeMap<FailureCategory, u64> = BTreeMap::new();
        for run in runs {
            *r.by_status.entry(run.status).or_default() += 1;
            if let Some(f) = run.failure {
                *failures.entry(f).or_default() += 1;
            }
            for rec in &run.records {
                let st = r.stages.entry(rec.stage.clone()).or_default();
                st.attempts += 1;
                if rec.status == AttemptStatus::Ok {
                    st.ok += 1;
                }
                durations
                    .entry(rec.stage.clone())
                    .or_default()
                    .push(rec.duration_secs);
                for (gate, passed) in &rec.gates {
                    let g = r.gates.entry(gate.clone()).or_default();
                    g.runs += 1;
                    g.passed += u64::from(*passed);
                }
                if let Some(exec) = &rec.executor {
                    let key = match &rec.model {
                        Some(m) => format!("{exec}/{m}"),
                        None => exec.clone(),
                    };
                    let m = r.models.entry(key).or_default();
                    m.calls += 1;
                    m.input_tokens = m.input_tokens.saturating_add(rec.tokens.input);
                    m.output_tokens = m.output_tokens.saturating_add(rec.tokens.output);
                    m.cost_usd += rec.cost_usd;
                }
                r.total_tokens = r
                    .total_tokens
                    .saturating_add(rec.tokens.input.saturating_add(rec.tokens.output));
                r.total_cost_usd += rec.cost_usd;
            }
        }
        for (stage, st) in r.stages.iter_mut() {
            st.success_rate = ratio(st.ok, st.attempts);
            if let Some(d) = durations.get_mut(stage) {
                d.sort_by(f64::total_cmp);
                st.p50_secs = percentile(d, 50.0);
                st.p95_secs = percentile(d, 95.0);
            }
        }
        for g in r.gates.values_mut() {
            g.pass_rate = ratio(g.passed, g.runs);
        }
        let ended: u64 = [Observed::Succeeded, Observed::Failed, Observed::Cancelled]
            .iter()
            .map(|s| r.by_status.get(s).copied().unwrap_or(0))
            .sum();
        r.success_rate = ratio(
            r.by_status.get(&Observed::Succeeded).copied().unwrap_or(0),
            ended,
        );
        let mut top: Vec<(FailureCategory, u64)> = failures.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(10);
        r.top_failures = top;
        r
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The nearest-rank percentile of sorted `values` (0 when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(stage: &str, status: AttemptStatus, secs: f64, gates: &[(&str, bool)]) -> StageRecord {
        StageRecord {
            stage: stage.into(),
            status,
            duration_secs: secs,
            executor: Some("fake".into()),
            model: Some("m1".into()),
            cost_usd: 0.5,
            gates: gates.iter().map(|(g, p)| (g.to_string(), *p)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_report_counts_rates_percentiles_and_failures() {
        let runs = vec![
            RunInput {
                run_id: String::new(),
                status: Observed::Succeeded,
                failure: None,
                records: vec![
                    rec("plan", AttemptStatus::Ok, 1.0, &[]),
                    rec(
                        "implement",
                        AttemptStatus::Failed,
                        4.0,
                        &[("pytest", false)],
                    ),
                    rec("fix", AttemptStatus::Ok, 2.0, &[("pytest", true)]),
                ],
            },
            RunInput {
                run_id: String::new(),
                status: Observed::Failed,
                failure: Some(FailureCategory::GateFailed),
                records: vec![rec("plan", AttemptStatus::Ok, 3.0, &[])],
            },
            RunInput {
                run_id: String::new(),
                status: Observed::Interrupted,
                failure: None,
                records: vec![],
            },
        ];
        let r = Report::build(&runs);
        assert_eq!(r.runs, 3);
        assert_eq!(r.success_rate, 0.5, "interrupted runs have not ended");
        assert_eq!(r.stages["plan"].attempts, 2);
        assert_eq!(r.stages["plan"].p50_secs, 1.0);
        assert_eq!(r.stages["plan"].p95_secs, 3.0);
        assert_eq!(r.stages["implement"].success_rate, 0.0);
        assert_eq!(r.gates["pytest"].runs, 2);
        assert_eq!(r.gates["pytest"].pass_rate, 0.5);
        assert_eq!(r.models["fake/m1"].calls, 4);
        assert!((r.total_cost_usd - 2.0).abs() < 1e-9);
        assert_eq!(r.top_failures, vec![(FailureCategory::GateFailed, 1)]);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
