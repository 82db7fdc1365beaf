//! The report across runs in the Prometheus text exposition format (SPEC §19), for the
//! dashboard's `/metrics`: runs by status, stage durations as histograms, tokens and cost by
//! model, gate runs and passes. The numbers are those of `orx metrics report` (the same
//! [`Report`]); the histograms are built from the same stage records.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::report::{Report, RunInput};

/// Upper bounds (seconds) of the stage-duration buckets.
const BUCKETS: [f64; 10] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: integers without a fraction, others as Rust prints them.
fn num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The exposition of `runs`.
pub fn render(runs: &[RunInput]) -> String {
    let r = Report::build(runs);
    let mut out = String::new();
    head(
        &mut out,
        "orx_runs",
        "gauge",
        "Runs in the repository, by status.",
    );
    for (status, n) in &r.by_status {
        let _ = writeln!(out, "orx_runs{{status=\"{status}\"}} {n}");
    }
    head(
        &mut out,
        "orx_run_success_ratio",
        "gauge",
        "Succeeded runs over runs that ended (succeeded, failed, cancelled).",
    );
    let _ = writeln!(out, "orx_run_success_ratio {}", num(r.success_rate));
    head(
        &mut out,
        "orx_stage_duration_seconds",
        "histogram",
        "Duration of each stage attempt (implement and fix: one per item attempt).",
    );
    let mut durations: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for rec in runs.iter().flat_map(|run| &run.records) {
        durations
            .entry(&rec.stage)
            .or_default()
            .push(rec.duration_secs);
    }
    for (stage, values) in &durations {
        let stage = label(stage);
        for le in BUCKETS {
            let n = values.iter().filter(|v| **v <= le).count();
            let _ = writeln!(
                out,
                "orx_stage_duration_seconds_bucket{{stage=\"{stage}\",le=\"{}\"}} {n}",
                num(le)
            );
        }
        let _ = writeln!(
            out,
            "orx_stage_duration_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {}\n\
             orx_stage_duration_seconds_sum{{stage=\"{stage}\"}} {}\n\
             orx_stage_duration_seconds_count{{stage=\"{stage}\"}} {}",
            values.len(),
            num(values.iter().sum()),
            values.len()
        );
    }
    head(
        &mut out,
        "orx_stage_attempts_total",
        "counter",
        "Stage attempts, and those that ended ok.",
    );
    for (stage, st) in &r.stages {
        let stage = label(stage);
        let _ = writeln!(
            out,
            "orx_stage_attempts_total{{stage=\"{stage}\",outcome=\"all\"}} {}\n\
             orx_stage_attempts_total{{stage=\"{stage}\",outcome=\"ok\"}} {}",
            st.attempts, st.ok
        );
    }
    head(
        &mut out,
        "orx_tokens_total",
        "counter",
        "Tokens by model and direction.",
    );
    for (model, m) in &r.models {
        let model = label(model);
        let _ = writeln!(
            out,
            "orx_tokens_total{{model=\"{model}\",direction=\"input\"}} {}\n\
             orx_tokens_total{{model=\"{model}\",direction=\"output\"}} {}",
            m.input_tokens, m.output_tokens
        );
    }
    head(
        &mut out,
        "orx_cost_usd_total",
        "counter",
        "Cost in US dollars by model (0 for a model without a known price).",
    );
    for (model, m) in &r.models {
        let _ = writeln!(
            out,
            "orx_cost_usd_total{{model=\"{}\"}} {}",
            label(model),
            num(m.cost_usd)
        );
    }
    head(
        &mut out,
        "orx_agent_calls_total",
        "counter",
        "Agent stage attempts by model.",
    );
    for (model, m) in &r.models {
        let _ = writeln!(
            out,
            "orx_agent_calls_total{{model=\"{}\"}} {}",
            label(model),
            m.calls
        );
    }
    head(
        &mut out,
        "orx_gate_runs_total",
        "counter",
        "Gate runs, and those that passed.",
    );
    for (gate, g) in &r.gates {
        let gate = label(gate);
        let _ = writeln!(
            out,
            "orx_gate_runs_total{{gate=\"{gate}\",outcome=\"all\"}} {}\n\
             orx_gate_runs_total{{gate=\"{gate}\",outcome=\"passed\"}} {}",
            g.runs, g.passed
        );
    }
    head(
        &mut out,
        "orx_gate_pass_ratio",
        "gauge",
        "Gate runs that passed over gate runs.",
    );
    for (gate, g) in &r.gates {
        let _ = writeln!(
            out,
            "orx_gate_pass_ratio{{gate=\"{}\"}} {}",
            label(gate),
            num(g.pass_rate)
        );
    }
    head(
        &mut out,
        "orx_failures_total",
        "counter",
        "Failed runs by failure category (the ten most frequent).",
    );
    for (category, n) in &r.top_failures {
        let _ = writeln!(out, "orx_failures_total{{category=\"{category}\"}} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AttemptStatus, Observed, StageRecord};

    fn rec(stage: &str, secs: f64, model: Option<&str>, tokens: (u64, u64)) -> StageRecord {
        let mut r = StageRecord {
            stage: stage.into(),
            duration_secs: secs,
            ..Default::default()
        };
        r.status = AttemptStatus::Ok;
        r.executor = model.map(|_| "codex".to_string());
        r.model = model.map(String::from);
        r.tokens.input = tokens.0;
        r.tokens.output = tokens.1;
        r
    }

    #[test]
    fn the_exposition_has_runs_histograms_tokens_and_escaped_labels() {
        let mut gated = rec("implement", 12.0, Some("gpt \"5\""), (100, 20));
        gated.gates.insert("tests".into(), false);
        let runs = [
            RunInput {
                run_id: String::new(),
                status: Observed::Succeeded,
                failure: None,
                records: vec![rec("plan", 0.5, Some("gpt \"5\""), (10, 5)), gated],
            },
            RunInput {
                run_id: String::new(),
                status: Observed::Failed,
                failure: Some(crate::protocol::FailureCategory::GateFailed),
                records: vec![rec("plan", 40.0, None, (0, 0))],
            },
        ];
        let text = render(&runs);
        for want in [
            "orx_runs{status=\"succeeded\"} 1",
            "orx_runs{status=\"failed\"} 1",
            "orx_stage_duration_seconds_bucket{stage=\"plan\",le=\"1\"} 1",
            "orx_stage_duration_seconds_bucket{stage=\"plan\",le=\"30\"} 1",
            "orx_stage_duration_seconds_bucket{stage=\"plan\",le=\"60\"} 2",
            "orx_stage_duration_seconds_bucket{stage=\"plan\",le=\"+Inf\"} 2",
            "orx_stage_duration_seconds_sum{stage=\"plan\"} 40.5",
            "orx_stage_duration_seconds_count{stage=\"plan\"} 2",
            "orx_tokens_total{model=\"codex/gpt \\\"5\\\"\",direction=\"input\"} 110",
            "orx_gate_runs_total{gate=\"tests\",outcome=\"passed\"} 0",
            "orx_gate_pass_ratio{gate=\"tests\"} 0",
            "orx_failures_total{category=\"gate_failed\"} 1",
            "orx_run_success_ratio 0.5",
        ] {
            assert!(
                text.lines().any(|l| l == want),
                "`{want}` missing from\n{text}"
            );
        }
        // Every sample line is `name{labels} value` or `name value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let value = l.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }
}
