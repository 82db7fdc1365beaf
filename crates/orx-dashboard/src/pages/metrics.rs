//! Metrics: the run page's metrics tab (time, tokens and cost per stage and model, gates by
//! attempt) and the metrics page across every run (`/metrics`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use orx_core::metrics::{Report, RunTotals, StageRecord};
use orx_core::run::Store;
use serde::Serialize;

use super::RunData;
use crate::view::{self, Chrome, Markup, render};
use crate::{Shared, svg};

#[derive(Serialize)]
struct MetricsTab<'a> {
    time_chart: Markup,
    cost_chart: Markup,
    stages: Vec<UsageRow>,
    models: Vec<UsageRow>,
    gates: Vec<GatesRow<'a>>,
    totals: Option<&'a RunTotals>,
}

/// Tokens and cost of a stage or a model.
#[derive(Serialize)]
struct UsageRow {
    name: String,
    input: String,
    output: String,
    cost: String,
}

/// The gates of one attempt.
#[derive(Serialize)]
struct GatesRow<'a> {
    item: Option<&'a str>,
    attempt: u32,
    stage: &'a str,
    gates: &'a BTreeMap<String, bool>,
}

/// Input tokens, output tokens and cost, summed.
#[derive(Default)]
struct Sum(u64, u64, f64);

impl Sum {
    fn add(&mut self, r: &StageRecord) {
        self.0 = self.0.saturating_add(r.tokens.input);
        self.1 = self.1.saturating_add(r.tokens.output);
        self.2 += r.cost_usd;
    }
}

fn usage_rows<'a>(sums: impl Iterator<Item = (&'a String, &'a Sum)>) -> Vec<UsageRow> {
    sums.map(|(name, Sum(i, o, c))| UsageRow {
        name: name.clone(),
        input: view::tokens(*i),
        output: view::tokens(*o),
        cost: view::cost_of(*c, i.saturating_add(*o)),
    })
    .collect()
}

/// The metrics tab of `run`.
pub(super) fn tab_html(state: &Shared, run: &RunData) -> String {
    let records = Store::stage_records(&state.index.dir(&run.summary.run_id));
    let mut per_stage: Vec<(String, f64)> = Vec::new();
    let mut by_stage: BTreeMap<String, Sum> = BTreeMap::new();
    let mut by_model: BTreeMap<String, Sum> = BTreeMap::new();
    for r in &records {
        match per_stage.iter_mut().find(|(s, _)| *s == r.stage) {
            Some((_, v)) => *v += r.duration_secs,
            None => per_stage.push((r.stage.clone(), r.duration_secs)),
        }
        by_stage.entry(r.stage.clone()).or_default().add(r);
        let model = match (&r.executor, &r.model) {
            (Some(e), Some(m)) => format!("{e}/{m}"),
            (Some(e), None) => e.clone(),
            _ => "(none)".into(),
        };
        by_model.entry(model).or_default().add(r);
    }
    // Every table and chart in the order the run went through its stages (fix after
    // implement), as the Overview shows them; fix attempts are a row of their own here.
    let in_order: Vec<(&String, &Sum)> = per_stage
        .iter()
        .filter_map(|(k, _)| by_stage.get_key_value(k))
        .collect();
    let cost_rows: Vec<(String, f64)> = in_order.iter().map(|(k, s)| ((*k).clone(), s.2)).collect();
    let view = MetricsTab {
        time_chart: Markup(svg::bars("Time per stage", &per_stage, view::duration)),
        cost_chart: Markup(svg::bars("Cost per stage", &cost_rows, view::cost)),
        stages: usage_rows(in_order.into_iter()),
        models: usage_rows(by_model.iter()),
        gates: records
            .iter()
            .filter(|r| !r.gates.is_empty())
            .map(|r| GatesRow {
                item: r.item.as_deref(),
                attempt: r.attempt,
                stage: &r.stage,
                gates: &r.gates,
            })
            .collect(),
        totals: run.metrics.as_ref(),
    };
    render("tab_metrics.html", &view)
}

/// One day of the repository's runs (by the day in their ids), linked to those runs.
#[derive(Serialize)]
struct Day {
    /// `2026-11-30`.
    day: String,
    /// The runs list's search for that day (`20261130`).
    q: String,
    runs: u64,
    succeeded: u64,
    /// Of the runs that ended.
    success: Option<f64>,
    cost: f64,
    /// The cost as shown: "—" for tokens at no known price.
    cost_shown: String,
    /// p95 seconds of each stage (in the order of `MetricsPage::stages`), None where it did
    /// not run that day.
    p95: Vec<Option<f64>>,
}

/// The last `days` days that had runs, newest first.
fn trends(inputs: &[orx_core::metrics::RunInput], stages: &[String], days: usize) -> Vec<Day> {
    let mut by_day: BTreeMap<String, Vec<&orx_core::metrics::RunInput>> = BTreeMap::new();
    for r in inputs {
        let q = r.run_id.get(..8).unwrap_or("");
        if q.len() == 8 && q.bytes().all(|b| b.is_ascii_digit()) {
            by_day.entry(q.to_string()).or_default().push(r);
        }
    }
    by_day
        .into_iter()
        .rev()
        .take(days)
        .map(|(q, runs)| {
            use orx_core::protocol::Observed;
            let ended = runs
                .iter()
                .filter(|r| {
                    matches!(
                        r.status,
                        Observed::Succeeded | Observed::Failed | Observed::Cancelled
                    )
                })
                .count() as u64;
            let succeeded = runs
                .iter()
                .filter(|r| r.status == Observed::Succeeded)
                .count() as u64;
            let cost = runs
                .iter()
                .flat_map(|r| &r.records)
                .map(|x| x.cost_usd)
                .sum();
            let tokens = runs
                .iter()
                .flat_map(|r| &r.records)
                .map(|x| x.tokens.input.saturating_add(x.tokens.output))
                .sum();
            let p95 = stages
                .iter()
                .map(|st| {
                    let mut d: Vec<f64> = runs
                        .iter()
                        .flat_map(|r| &r.records)
                        .filter(|x| &x.stage == st)
                        .map(|x| x.duration_secs)
                        .collect();
                    d.sort_by(f64::total_cmp);
                    (!d.is_empty()).then(|| orx_core::metrics::percentile(&d, 0.95))
                })
                .collect();
            Day {
                day: format!("{}-{}-{}", &q[..4], &q[4..6], &q[6..]),
                runs: runs.len() as u64,
                succeeded,
                success: (ended > 0).then(|| succeeded as f64 / ended as f64),
                cost,
                cost_shown: view::cost_of(cost, tokens),
                p95,
                q,
            }
        })
        .collect()
}

#[derive(Serialize)]
struct MetricsPage {
    #[serde(flatten)]
    chrome: Chrome,
    r: Report,
    /// The last days with runs, newest first.
    days: Vec<Day>,
    success_chart: Markup,
    cost_chart: Markup,
    /// The stages in the order a pipeline runs them.
    stages: Vec<(String, orx_core::metrics::StageStats)>,
    stage_chart: Markup,
    model_chart: Markup,
}

/// `GET /metrics`: the aggregate across runs.
pub async fn metrics(
    State(state): State<Shared>,
    headers: axum::http::HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    if wants_prometheus(&headers, query.as_deref()) {
        let inputs = state.index.store().report_inputs().unwrap_or_default();
        return (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            orx_core::metrics::prometheus::render(&inputs),
        )
            .into_response();
    }
    let inputs = state.index.store().report_inputs().unwrap_or_default();
    let report = Report::build(&inputs);
    let stage_names: Vec<String> = report
        .stages_in_order()
        .into_iter()
        .map(|(k, _)| k.clone())
        .collect();
    let days = trends(&inputs, &stage_names, 14);
    // Oldest first, left to right; each column links to that day's runs.
    let column = |f: &dyn Fn(&Day) -> Option<f64>| -> Vec<(String, f64, String)> {
        days.iter()
            .rev()
            .filter_map(|d| Some((d.day[5..].to_string(), f(d)?, format!("/?q={}", d.q))))
            .collect()
    };
    let success_chart = svg::columns("Success rate by day", &column(&|d| d.success), |v| {
        format!("{:.0}%", v * 100.0)
    });
    let cost_chart = svg::columns("Cost by day", &column(&|d| Some(d.cost)), view::cost);
    let stage_rows: Vec<(String, f64)> = report
        .stages_in_order()
        .into_iter()
        .map(|(k, v)| (k.clone(), v.p50_secs))
        .collect();
    let model_rows: Vec<(String, f64)> = report
        .models
        .iter()
        .map(|(k, v)| (k.clone(), v.cost_usd))
        .collect();
    let page = MetricsPage {
        chrome: Chrome {
            title: "Metrics".into(),
            csrf: state.csrf.clone(),
            nav: "metrics",
        },
        days,
        success_chart: Markup(success_chart),
        cost_chart: Markup(cost_chart),
        stage_chart: Markup(svg::bars("p50 time per stage", &stage_rows, view::duration)),
        model_chart: Markup(svg::bars("Cost per model", &model_rows, view::cost)),
        stages: report
            .stages_in_order()
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        r: report,
    };
    Html(render("metrics.html", &page)).into_response()
}

/// The aggregate report over every run of the repository.
/// `/metrics` is the metrics page for a browser and the Prometheus text format for a scraper:
/// a request that asks for `text/plain` or OpenMetrics and not for HTML (as Prometheus does)
/// gets the text, and `?format=prometheus` always does.
fn wants_prometheus(headers: &axum::http::HeaderMap, query: Option<&str>) -> bool {
    if query.is_some_and(|q| q.split('&').any(|kv| kv == "format=prometheus")) {
        return true;
    }
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (accept.contains("openmetrics") || accept.contains("text/plain"))
        && !accept.contains("text/html")
}

pub fn report(state: &Shared) -> Report {
    Report::build(&state.index.store().report_inputs().unwrap_or_default())
}
