//! The run page's header: status, task, branch, timing, cost and the cancel and resume
//! buttons. The run's live stream redraws it.

use orx_core::protocol::{Observed, RunState, RunStatus, WaitReason};
use serde::Serialize;

use super::RunData;
use super::runs::RowView;
use crate::Shared;
use crate::view::render;

#[derive(Serialize)]
struct HeaderView<'a> {
    run: RowView<'a>,
    branch: Option<&'a str>,
    base_sha: Option<&'a str>,
    base_branch: Option<&'a str>,
    pipeline: Option<&'a str>,
    engine: Option<&'a str>,
    pr_url: Option<&'a str>,
    issue: Option<&'a orx_core::protocol::IssueLink>,
    ci: Option<CiView>,
    follows: Option<&'a str>,
    followed_by: &'a [String],
    started_at: Option<&'a str>,
    ended: bool,
    can_cancel: bool,
    can_resume: bool,
    queue_error: Option<String>,
    waiting: Option<WaitingView>,
    budget: Vec<BudgetBar>,
    failed: Option<FailView>,
    csrf: &'a str,
}

/// Why a failed run failed, at the top of its page: where, the first finding, and the views
/// that show the rest.
#[derive(Serialize)]
struct FailView {
    stage: String,
    item: Option<String>,
    attempt: Option<u32>,
    category: String,
    /// The first finding of the evidence (file:line and message), else the failure's message.
    finding: String,
    evidence_url: Option<String>,
    diff_url: Option<String>,
    log_url: Option<String>,
    /// The gate that failed, when the evidence names one.
    gate: Option<String>,
}

/// The failure bar of a failed run.
fn failed(id: &str, dir: &orx_core::run::RunDir, state: &RunState) -> Option<FailView> {
    let f = state.last_failure.as_ref()?;
    let item = f.item.clone();
    let item_state = item.as_deref().and_then(|i| state.item(i));
    let evidence = item_state
        .and_then(|i| i.last_evidence.as_deref())
        .unwrap_or("");
    let finding = evidence
        .lines()
        .find_map(|l| l.strip_prefix("- "))
        .map(str::to_string)
        .unwrap_or_else(|| f.message.lines().next().unwrap_or("").to_string());
    // The gate named by the evidence ("## Gate `tests` failed …"), whose log holds the rest.
    let gate = evidence.lines().find_map(|l| {
        l.strip_prefix("## Gate `")?
            .split('`')
            .next()
            .map(str::to_string)
    });
    let attempt = item_state.map(|i| i.attempts);
    let view = |q: String| Some(format!("/runs/{id}?{q}"));
    Some(FailView {
        stage: f.stage.clone(),
        attempt,
        category: f.category.as_str().to_string(),
        finding: crate::redact(&finding),
        evidence_url: f
            .evidence
            .as_ref()
            .and_then(|e| view(format!("tab=artifacts&path={}", crate::view::url_encode(e)))),
        diff_url: item
            .as_ref()
            .and_then(|i| view(format!("tab=diff&item={i}"))),
        log_url: match (&gate, &item, attempt) {
            (Some(g), Some(i), Some(a)) => {
                let log = format!("logs/gate_{g}_{i}_{a}.log");
                let line = line_of(&dir.root().join(&log), &finding)
                    .map(|n| format!("#L{n}"))
                    .unwrap_or_default();
                view(format!(
                    "tab=logs&path={}{line}",
                    crate::view::url_encode(&log)
                ))
            }
            _ => None,
        },
        gate,
        item,
    })
}

/// The number of the first line of the log at `path` that holds the finding: its place
/// (`file:line`, the finding's first word) or, failing that, the whole finding; not the command
/// line the log starts with. Logs past
/// 8 MiB are not searched.
fn line_of(path: &std::path::Path, finding: &str) -> Option<usize> {
    let len = std::fs::metadata(path).ok()?.len();
    if len > 8 * 1024 * 1024 || finding.trim().is_empty() {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let place = finding.split_whitespace().next().unwrap_or(finding);
    // The log's first line is the command (`$ …`), which may hold the words too.
    let hit = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle) && !l.starts_with("$ "))
    };
    hit(place)
        .filter(|_| place.contains(':'))
        .or_else(|| hit(finding.trim()))
        .map(|i| i + 1)
}

/// The pull request's checks as the `ci` stage last read them.
#[derive(Serialize)]
struct CiView {
    round: u32,
    sha: String,
    pushed: usize,
    checks: Vec<CheckView>,
}

#[derive(Serialize)]
struct CheckView {
    name: String,
    state: &'static str,
    class: &'static str,
    conclusion: Option<String>,
    url: Option<String>,
}

impl CiView {
    fn of(ci: &orx_core::protocol::CiState) -> Self {
        use orx_core::protocol::CheckState;
        Self {
            round: ci.round,
            sha: ci.sha.clone().unwrap_or_default(),
            pushed: ci.pushed.len(),
            checks: ci
                .checks
                .iter()
                .map(|c| CheckView {
                    name: c.name.clone(),
                    state: c.state.as_str(),
                    class: match c.state {
                        CheckState::Passed => "ok",
                        CheckState::Failed => "bad",
                        CheckState::Pending => "wait",
                    },
                    conclusion: c.conclusion.clone(),
                    // Only a web page is a link: the URL comes from GitHub's reply.
                    url: c
                        .url
                        .clone()
                        .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
                })
                .collect(),
        }
    }
}

/// What a waiting run waits for, and what the page offers to continue it.
#[derive(Serialize)]
struct WaitingView {
    /// `approval` or `budget`.
    reason: WaitReason,
    /// In words: the limit reached, or what to read.
    what: String,
    /// The stage whose result waits for approval.
    stage: Option<String>,
    /// Whether that stage can run again with feedback.
    rejectable: bool,
}

/// One limit of the run's budget and how much of it is used.
#[derive(Serialize)]
struct BudgetBar {
    label: &'static str,
    used: String,
    limit: String,
    /// 0–100.
    percent: u32,
    over: bool,
}

/// The bars of the run's limits (with what people added to them).
fn budget_bars(state: &RunState, tokens: u64, cost_usd: f64) -> Vec<BudgetBar> {
    let Some(limits) = state.budget else {
        return Vec::new();
    };
    let raise = state.budget_raise;
    let bar = |label, used: f64, limit: f64, shown: &dyn Fn(f64) -> String| {
        let ratio = if limit > 0.0 { used / limit } else { 1.0 };
        BudgetBar {
            label,
            used: shown(used),
            limit: shown(limit),
            percent: (ratio.clamp(0.0, 1.0) * 100.0).round() as u32,
            over: ratio >= 1.0,
        }
    };
    let mut bars = Vec::new();
    if let Some(usd) = limits.run_usd {
        bars.push(bar("Budget", cost_usd, usd + raise.usd, &|v| {
            format!("${v:.2}")
        }));
    }
    if let Some(t) = limits.run_tokens {
        let limit = t.saturating_add(raise.tokens) as f64;
        bars.push(bar("Token budget", tokens as f64, limit, &|v| {
            crate::view::tokens(v as u64)
        }));
    }
    bars
}

/// The header of `run`.
pub(super) fn html(state: &Shared, run: &RunData) -> String {
    let s = &run.summary;
    let st = run.state.as_ref();
    let m = run.meta.as_ref();
    let view = HeaderView {
        run: RowView::new(s),
        branch: st
            .and_then(|x| x.branch.as_deref())
            .or_else(|| m.map(|m| m.branch.as_str())),
        base_sha: st.and_then(|x| x.base_sha.as_deref()),
        base_branch: m.map(|m| m.base_branch.as_str()),
        pipeline: m.map(|m| m.pipeline.as_str()),
        engine: m.map(|m| m.engine.as_str()),
        pr_url: m.and_then(|m| m.pr_url.as_deref()),
        issue: m.and_then(|m| m.issue.as_ref()),
        ci: st.and_then(|x| x.ci.as_ref()).map(CiView::of),
        follows: m.and_then(|m| m.follows.as_deref()),
        followed_by: m.map(|m| m.followed_by.as_slice()).unwrap_or_default(),
        started_at: s.started_at.as_deref(),
        ended: m.and_then(|m| m.ended_at.as_ref()).is_some() || !s.is_active(),
        can_cancel: s.is_active() || s.status == Observed::Queued,
        can_resume: s.status.is_resumable() && run.state.is_some(),
        queue_error: run
            .queued
            .as_ref()
            .and_then(|q| q.error.as_deref().map(crate::redact)),
        waiting: st.filter(|x| x.status == RunStatus::Waiting).and_then(|x| {
            Some(WaitingView {
                reason: x.waiting?,
                what: x
                    .waiting_for
                    .as_deref()
                    .map(|w| w.strip_prefix("approval of ").unwrap_or(w).to_string())
                    .unwrap_or_default(),
                stage: x.approval.clone(),
                rejectable: x.rejectable,
            })
        }),
        budget: st
            .map(|x| budget_bars(x, s.tokens, s.cost_usd))
            .unwrap_or_default(),
        failed: st
            .filter(|_| s.status == Observed::Failed)
            .and_then(|x| failed(&s.run_id, &state.index.dir(&s.run_id), x)),
        csrf: &state.csrf,
    };
    render("run_header.html", &view)
}
