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

fn usage_rows(sums: &BTreeMap<String, Sum>) -> Vec<UsageRow> {
    sums.iter()
        .map(|(name, Sum(i, o, c))| UsageRow {
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
    let cost_rows: Vec<(String, f64)> = by_stage.iter().map(|(k, s)| (k.clone(), s.2)).collect();
    let view = MetricsTab {
        time_chart: Markup(svg::bars("Time per stage", &per_stage, view::duration)),
        cost_chart: Markup(svg::bars("Cost per stage", &cost_rows, view::cost)),
        stages: usage_rows(&by_stage),
        models: usage_rows(&by_model),
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

#[derive(Serialize)]
struct MetricsPage {
    #[serde(flatten)]
    chrome: Chrome,
    r: Report,
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
    let report = report(&state);
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
