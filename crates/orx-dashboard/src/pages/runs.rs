//! The runs page (`/`): the filter form, then the live block of active runs, the queue and one
//! page of recent runs, which the runs stream redraws.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use orx_core::protocol::{FailureCategory, Observed};
use serde::Serialize;

use crate::Shared;
use crate::highlight::escape;
use crate::index::{Filter, RunRow};
use crate::view::{self, Chrome, Markup, Tone, Toned, render};

/// A rendering of the runs page's live block: its rows by id (`<tr id="…">`), and the rest with
/// each row's place marked. Two renderings with the same rest differ only in rows, which can be
/// swapped in place.
#[derive(Debug, Default, PartialEq)]
pub struct Rendered {
    rest: String,
    rows: Vec<(String, String)>,
}

impl Rendered {
    /// Splits `html` (a [`runs_fragment`]) at its rows. The blanks before a row go with it, so
    /// a block without some rows reads as the same rest.
    pub fn of(html: &str) -> Self {
        Self::of_tag(html, "tr")
    }

    /// Splits `html` at its `<tag id="…">…</tag>` elements (which hold no element of the same
    /// tag): the run page's header at its fields (`dd`).
    pub fn of_tag(html: &str, tag: &str) -> Self {
        let open = format!("<{tag} id=\"");
        let close = format!("</{tag}>");
        let mut out = Self::default();
        let mut rest = html;
        while let Some(i) = rest.find(&open) {
            let Some(len) = rest[i..].find(&close).map(|e| e + close.len()) else {
                break;
            };
            let part = &rest[i..i + len];
            let id = part[open.len()..].split('"').next().unwrap_or("");
            out.rest.push_str(rest[..i].trim_end());
            out.rest.push_str(&format!("<{tag}#{id}"));
            out.rows.push((id.to_string(), part.to_string()));
            rest = &rest[i + len..];
        }
        out.rest.push_str(rest);
        out
    }

    /// What changed since `before`, as rows that swap themselves in by id and rows that
    /// delete themselves (htmx out-of-band swaps); None when more than that changed (a run came
    /// or moved, a count changed: the whole block is sent); empty when nothing did.
    pub fn changed_rows(&self, before: &Rendered) -> Option<String> {
        let now: std::collections::HashMap<&str, &str> = self
            .rows
            .iter()
            .map(|(id, html)| (id.as_str(), html.as_str()))
            .collect();
        let gone: Vec<&str> = before
            .rows
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| !now.contains_key(id))
            .collect();
        let mut rest_before = before.rest.clone();
        for id in &gone {
            // The marker of a part, whatever its tag: `<tag#id`.
            if let Some(at) = rest_before.find(&format!("#{id}")) {
                let start = rest_before[..at].rfind('<').unwrap_or(at);
                rest_before.replace_range(start..at + 1 + id.len(), "");
            }
        }
        if self.rest != rest_before {
            return None;
        }
        let then: std::collections::HashMap<&str, &str> = before
            .rows
            .iter()
            .map(|(id, html)| (id.as_str(), html.as_str()))
            .collect();
        let mut out: String = gone
            .iter()
            .map(|id| {
                let tag = before
                    .rows
                    .iter()
                    .find(|(i, _)| i == id)
                    .and_then(|(_, html)| html.get(1..)?.split([' ', '>']).next())
                    .unwrap_or("tr");
                format!("<{tag} id=\"{id}\" hx-swap-oob=\"delete\"></{tag}>")
            })
            .collect();
        for (id, html) in &self.rows {
            if then.get(id.as_str()) != Some(&html.as_str()) {
                out.push_str(&html.replacen(" id=\"", " hx-swap-oob=\"true\" id=\"", 1));
            }
        }
        Some(out)
    }

    /// A short digest of a rendering, so a stream can tell the page it serves is in step.
    pub fn digest(html: &str) -> String {
        // FNV-1a, 64 bits.
        let h = html.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{h:016x}")
    }
}

/// One run as a row of a table (and as the run page's header sees it).
#[derive(Serialize)]
pub(super) struct RowView<'a> {
    run_id: &'a str,
    status: Observed,
    class: Tone,
    stage: Option<&'a str>,
    item: Option<&'a str>,
    attempt: Option<u32>,
    started_at: Option<&'a str>,
    duration: Option<String>,
    task: &'a str,
    failure: Option<FailureCategory>,
    waiting_for: Option<&'a str>,
    tokens: String,
    cost: String,
    active: bool,
    /// "5 min ago".
    ago: Option<String>,
    /// Its waterfall in small.
    mini: Markup,
}

impl<'a> RowView<'a> {
    pub(super) fn new(r: &'a RunRow) -> Self {
        Self {
            run_id: &r.run_id,
            status: r.status,
            class: r.status.tone(),
            stage: r.stage.as_deref(),
            item: r.item.as_deref(),
            attempt: r.attempt,
            started_at: r.started_at.as_deref(),
            duration: r.duration_secs.map(view::duration),
            task: &r.task,
            failure: r.failure,
            waiting_for: r.waiting_for.as_deref(),
            tokens: view::tokens(r.tokens),
            cost: view::cost_of(r.cost_usd, r.tokens),
            active: r.is_active(),
            ago: r.started_at.as_deref().and_then(view::ago),
            mini: Markup(crate::svg::mini(&r.bars)),
        }
    }
}

/// A queue entry of the dashboard.
#[derive(Serialize)]
struct QueueView<'a> {
    run_id: &'a str,
    queued_at: &'a str,
    task: String,
    error: Option<String>,
}

/// The live block: active runs, the queue and a page of recent runs.
#[derive(Serialize)]
struct TablesView<'a> {
    waiting: Vec<RowView<'a>>,
    active: Vec<RowView<'a>>,
    queue: Vec<QueueView<'a>>,
    rows: Vec<RowView<'a>>,
    total: usize,
    page: usize,
    pages: usize,
    max: usize,
    prev: Option<String>,
    next: Option<String>,
    all: usize,
    /// While the dashboard reads its older runs: how many there are in all.
    filling: Option<usize>,
}

/// The runs page.
#[derive(Serialize)]
struct RunsPage<'a> {
    #[serde(flatten)]
    chrome: Chrome,
    filter: &'a Filter,
    statuses: [Observed; 7],
    live: Markup,
}

/// The statuses the filter offers, most asked for first.
const FILTERS: [Observed; 7] = [
    Observed::Waiting,
    Observed::Running,
    Observed::Succeeded,
    Observed::Failed,
    Observed::Cancelled,
    Observed::Interrupted,
    Observed::Pending,
];

/// A filter as the query of a URL.
fn filter_query(f: &Filter) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "status={}&q={}&page={}",
        enc(&f.status),
        enc(&f.q),
        f.page.unwrap_or(1)
    )
}

/// The live part of the runs page: active runs, the queue, and one page of recent runs.
pub fn runs_fragment(state: &Shared, filter: &Filter) -> String {
    let page = state.index.page(filter);
    let pages = page.total.div_ceil(page.per_page).max(1);
    let active_rows = state.index.active();
    let waiting_rows = state.index.waiting();
    let queued = state.queue.entries();
    let queue = queued
        .iter()
        .map(|q| QueueView {
            run_id: &q.run_id,
            queued_at: &q.queued_at,
            task: crate::redact(&orx_core::run::summarize_task(&q.request.task, 80)),
            error: q.error.as_deref().map(crate::redact),
        })
        .collect();
    let page_link = |p: usize| {
        filter_query(&Filter {
            page: Some(p),
            ..filter.clone()
        })
    };
    let view = TablesView {
        waiting: waiting_rows.iter().map(RowView::new).collect(),
        active: active_rows.iter().map(RowView::new).collect(),
        queue,
        rows: page.runs.iter().map(RowView::new).collect(),
        total: page.total,
        page: page.page,
        pages,
        max: state.queue.max(),
        prev: (page.page > 1).then(|| page_link(page.page - 1)),
        next: (page.page < pages).then(|| page_link(page.page + 1)),
        all: state.index.len(),
        filling: state.index.filling(),
    };
    render("runs_table.html", &view)
}

fn runs_live(state: &Shared, filter: &Filter) -> String {
    let inner = runs_fragment(state, filter);
    format!(
        "<div id=\"runs-live\" hx-ext=\"sse\" sse-connect=\"/events/runs?{q}&amp;v={v}\">\
         <div id=\"runs-tables\" sse-swap=\"runs\">{inner}</div>\
         <div hidden sse-swap=\"rows\" hx-swap=\"none\"></div></div>",
        q = escape(&filter_query(filter)),
        v = Rendered::digest(&inner),
    )
}

/// `GET /`.
pub async fn runs(State(state): State<Shared>, Query(filter): Query<Filter>) -> Response {
    let page = RunsPage {
        chrome: Chrome {
            title: "Runs".into(),
            csrf: state.csrf.clone(),
            nav: "runs",
        },
        filter: &filter,
        statuses: FILTERS,
        live: Markup(runs_live(&state, &filter)),
    };
    Html(render("runs.html", &page)).into_response()
}

/// `GET /runs/table`: the live block for a new filter.
pub async fn runs_table(State(state): State<Shared>, Query(filter): Query<Filter>) -> Response {
    Html(runs_live(&state, &filter)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// While the dashboard reads its older runs, the runs list says so (issue 15, point 8).
    #[test]
    fn the_list_says_while_the_older_runs_are_read() {
        let view = |filling| TablesView {
            waiting: Vec::new(),
            active: Vec::new(),
            queue: Vec::new(),
            rows: Vec::new(),
            total: 200,
            page: 1,
            pages: 4,
            max: 2,
            prev: None,
            next: None,
            all: 200,
            filling,
        };
        let html = render("runs_table.html", &view(Some(10_000)));
        let notice = html
            .split("<p class=\"muted\" id=\"filling\" role=\"status\">")
            .nth(1)
            .and_then(|r| r.split("</p>").next())
            .unwrap_or_default();
        insta::assert_snapshot!(notice, @"Reading the older runs: the newest 200 of 10000 are listed so far; the list fills in by itself.");
        assert!(!render("runs_table.html", &view(None)).contains("id=\"filling\""));
    }

    #[test]
    fn a_change_of_rows_only_is_sent_as_those_rows_swapped_in_by_id() {
        let page = |stage: &str, b: &str| {
            format!(
                "<h2>Active</h2><table><thead><tr><th>Run</th></tr></thead><tbody>\
                 <tr id=\"ra-a\" data-run=\"a\"><td>{stage}</td></tr>\
                 <tr id=\"ra-b\" data-run=\"b\"><td>{b}</td></tr></tbody></table>"
            )
        };
        let before = Rendered::of(&page("plan", "spec"));
        assert_eq!(before.rows.len(), 2);
        assert_eq!(
            Rendered::of(&page("implement", "spec")).changed_rows(&before),
            Some(
                "<tr hx-swap-oob=\"true\" id=\"ra-a\" data-run=\"a\"><td>implement</td></tr>"
                    .to_string()
            )
        );
        assert_eq!(
            Rendered::of(&page("plan", "spec")).changed_rows(&before),
            Some(String::new()),
            "nothing changed"
        );
        // A run that went deletes its row; one that came changes more than rows: the whole
        // block is sent.
        let fewer = "<h2>Active</h2><table><thead><tr><th>Run</th></tr></thead><tbody>\
                     <tr id=\"ra-a\" data-run=\"a\"><td>plan</td></tr></tbody></table>";
        assert_eq!(
            Rendered::of(fewer).changed_rows(&before),
            Some("<tr id=\"ra-b\" hx-swap-oob=\"delete\"></tr>".to_string())
        );
        assert_eq!(before.changed_rows(&Rendered::of(fewer)), None);
    }
}
