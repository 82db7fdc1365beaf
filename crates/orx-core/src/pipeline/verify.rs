//! Running the configured gates in a run's worktree: for an item's attempt, and once for the
//! baseline (SPEC §13) on the untouched worktree before the first agent edits.

use std::path::Path;

use crate::Result;
use crate::config::{BaselineMode, GateConfig};
use crate::gate::baseline::{Baseline, BaselineStop};
use crate::gate::{CommandProblem, Finding, GateResult, GateRun, run_gate};
use crate::pipeline::RunCtx;
use crate::protocol::{Event, EventBody, Failure, FailureCategory, GateOutcome};

/// The artifact holding the baseline.
pub const BASELINE_ARTIFACT: &str = "baseline.gates.json";

/// Whose gates run: an item's attempt, or the baseline.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope<'a> {
    /// An attempt at an item.
    Attempt {
        /// The item.
        item: &'a str,
        /// The attempt.
        attempt: u32,
    },
    /// The untouched worktree.
    Baseline,
    /// A fix of a pull request's failed checks (stage `ci`).
    Ci {
        /// The round.
        round: u32,
    },
}

impl Scope<'_> {
    fn label(&self) -> &str {
        match self {
            Scope::Attempt { item, .. } => item,
            Scope::Baseline => "baseline",
            Scope::Ci { .. } => "ci",
        }
    }

    fn log_name(&self, gate: &str) -> String {
        match self {
            Scope::Attempt { item, attempt } => format!("gate_{gate}_{item}_{attempt}.log"),
            Scope::Baseline => format!("gate_{gate}_baseline.log"),
            Scope::Ci { round } => format!("gate_{gate}_ci_{round}.log"),
        }
    }

    fn event(&self, body: EventBody, message: String) -> Event {
        match self {
            Scope::Attempt { item, attempt } => Event::new(body, message)
                .stage("verify")
                .item(item)
                .attempt(*attempt),
            Scope::Baseline => Event::new(body, message).stage("baseline"),
            Scope::Ci { round } => Event::new(body, message).stage("ci").attempt(*round),
        }
    }
}

/// The enabled gates of the run's config.
pub(crate) fn enabled_gates(cx: &RunCtx) -> Vec<GateConfig> {
    cx.env
        .config
        .gates
        .iter()
        .filter(|g| g.enabled)
        .cloned()
        .collect()
}

/// Runs `gates` on the worktree, each with its log and its two events.
pub(crate) fn run_gates(
    cx: &mut RunCtx,
    gates: &[GateConfig],
    scope: Scope<'_>,
) -> Result<Vec<GateResult>> {
    let mut results = Vec::new();
    let ledger = cx.env.ledger();
    let label = scope.label().to_string();
    for gate in gates {
        cx.env.check_cancel()?;
        cx.emit(scope.event(
            EventBody::GateStarted,
            format!("{label}: gate {}", gate.name),
        ));
        let dir = cx.env.dir.clone();
        let log_for = |name: &str| dir.log(&scope.log_name(name));
        let res = run_gate(
            gate,
            &GateRun {
                cwd: &cx.env.worktree,
                log_for: &log_for,
                cancel: &cx.env.cancel,
                redactor: Some(cx.env.files.redactor()),
                ledger: Some(&ledger),
            },
        )?;
        cx.emit(scope.event(
            EventBody::GateFinished(GateOutcome {
                gate: res.name.clone(),
                passed: res.passed,
                required: res.required,
                exit_code: res.exit_code,
                timed_out: res.timed_out,
                duration_secs: res.duration_secs,
                findings: res.findings.len(),
                counts: res.counts.clone(),
            }),
            format!(
                "{label}: gate {} {}{}",
                res.name,
                if res.passed { "passed" } else { "failed" },
                if res.timed_out { " (timed out)" } else { "" }
            ),
        ));
        results.push(res);
    }
    Ok(results)
}

/// The run's baseline, when it has one.
pub(crate) fn load_baseline(cx: &RunCtx) -> Option<Baseline> {
    crate::fsutil::read_json(&cx.env.dir.artifact(BASELINE_ARTIFACT)).ok()
}

/// Runs the baseline once per run, before the first agent call: every gate's command must be
/// able to start, and each gate not set to `baseline: ignore` runs on the untouched worktree.
/// Returns the failure that stops the run before any agent is called, if any. A baseline
/// recorded earlier that stopped nothing is kept (a resumed run's worktree is no longer the
/// base).
pub(crate) fn ensure_baseline(cx: &mut RunCtx) -> Result<Option<Failure>> {
    let gates = enabled_gates(cx);
    if gates.is_empty() {
        return Ok(None);
    }
    if let Some(b) = load_baseline(cx)
        && b.stop(&gates).is_none()
    {
        return Ok(None);
    }
    if cx.cp.state().items.iter().any(|i| i.attempts > 0) {
        return Ok(None);
    }
    let commit = cx.git.head()?;
    let cannot: Vec<GateResult> = gates
        .iter()
        .filter_map(|g| {
            let problem = CommandProblem::check(g, &cx.env.worktree)?;
            Some(GateResult::cannot_start(
                g,
                problem.fix(g),
                String::new(),
                Path::new(""),
            ))
        })
        .collect();
    let results = if cannot.is_empty() {
        let compared: Vec<GateConfig> = gates
            .iter()
            .filter(|g| g.baseline != BaselineMode::Ignore)
            .cloned()
            .collect();
        run_gates(cx, &compared, Scope::Baseline)?
    } else {
        cannot
    };
    let baseline = Baseline {
        version: crate::protocol::PROTOCOL_VERSION,
        commit,
        gates: results,
    };
    cx.env
        .files
        .json(&cx.env.dir.artifact(BASELINE_ARTIFACT), &baseline)?;
    let failure = baseline.stop(&gates).map(|stop| stopped(&stop));
    if failure.is_none() {
        let pre: Vec<&str> = baseline
            .preexisting(&gates)
            .map(|g| g.name.as_str())
            .collect();
        if !pre.is_empty() {
            cx.emit(Event::new(
                EventBody::Warning,
                format!(
                    "baseline: {} already fail{} before any change; items pass when they add no new failure",
                    pre.join(", "),
                    if pre.len() == 1 { "s" } else { "" }
                ),
            ).stage("baseline"));
        }
    }
    Ok(failure)
}

/// The failure that stops the run.
fn stopped(stop: &BaselineStop) -> Failure {
    let (category, gates, what) = match stop {
        BaselineStop::CannotStart(g) => (FailureCategory::GateCannotStart, g, "cannot start"),
        BaselineStop::NotClean(g) => (
            FailureCategory::BaselineNotClean,
            g,
            "already fails on the base (baseline: require_clean)",
        ),
    };
    let parts: Vec<String> = gates
        .iter()
        .map(|g| {
            let first = g.findings.first().map(Finding::located);
            let more = g.findings.len().saturating_sub(1);
            match first {
                Some(f) if more > 0 => format!("gate `{}` {what}: {f} (and {more} more)", g.name),
                Some(f) => format!("gate `{}` {what}: {f}", g.name),
                None => format!("gate `{}` {what}", g.name),
            }
        })
        .collect();
    Failure {
        stage: "baseline".into(),
        item: None,
        category,
        message: format!("{}; no agent was called", parts.join("; ")),
        evidence: Some(format!("artifacts/{BASELINE_ARTIFACT}")),
    }
}
