//! review: reads spec, the run's diff and the real gate results; must end with a verdict.
//! Changes requested add an item and go back to implement, at most max_review_loops times.

use super::{DryRunEnv, Stage, StageOutcome, failure};
use crate::Result;
use crate::agent::AgentMode;
use crate::gate::GateResult;
use crate::pipeline::backlog::{Backlog, Item, run as backlog_run};
use crate::pipeline::{RunCtx, Turn, evidence};
use crate::protocol::{Event, FailureCategory, ItemStatus, RunState};

/// The verdict at the end of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Approved.
    Approved,
    /// Changes requested.
    ChangesRequested,
}

/// The last `VERDICT:` line of `text`.
pub fn parse_verdict(text: &str) -> Option<Verdict> {
    text.lines().rev().find_map(|l| {
        let l = l.trim().trim_matches(['*', '`', '_', '#', ' ']);
        let rest = l
            .strip_prefix("VERDICT:")?
            .trim()
            .trim_matches(['*', '`', '.', ' ']);
        match rest {
            "APPROVED" => Some(Verdict::Approved),
            "CHANGES_REQUESTED" => Some(Verdict::ChangesRequested),
            _ => None,
        }
    })
}

/// review → artifacts/review.md, artifacts/pr_body.md, context/decisions.md.
pub struct Review;

impl Stage for Review {
    fn name(&self) -> &'static str {
        "review"
    }

    fn calls(&self, config: &crate::config::Config, _items: u32) -> (u32, u32) {
        // Each loop: an item for the changes asked (implement and its fixes), then a review.
        let loops = config.run.max_review_loops.get() as u32;
        let attempts = config.run.max_fix_attempts.get() as u32;
        (1, 1 + loops * (attempts + 1))
    }

    fn for_approval(&self) -> &'static str {
        "the review (artifacts/review.md)"
    }

    /// Running review again from scratch gives it its loops back.
    fn reset(&self, state: &mut RunState) {
        state.review_loops = 0;
    }

    fn dry_run(&self, env: &DryRunEnv<'_>) -> Vec<(&'static str, serde_json::Value)> {
        vec![(
            "review",
            serde_json::json!({
                "task": env.task, "spec": DryRunEnv::placeholder("spec"),
                "gate_summary": DryRunEnv::placeholder("gate results"),
                "diff": DryRunEnv::placeholder("diff"),
            }),
        )]
    }

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let base = cx.cp.state().base_sha.clone().unwrap_or_default();
        let diff = cx.git.diff_since(&base)?;
        let gates = gate_results(cx);
        let gate_summary = evidence::summary(&gates);
        let round = cx.cp.state().review_loops + 1;
        let (text, verdict) = match ask(cx, round, &gate_summary, &diff)? {
            Ok(answer) => answer,
            Err(failed) => return Ok(StageOutcome::Failed(failed)),
        };
        crate::fault::point("review:before_save");
        cx.env
            .files
            .text(&cx.env.dir.artifact("review.md"), &text)?;
        let Some(verdict) = verdict else {
            return Ok(StageOutcome::Failed(failure(
                "review",
                None,
                FailureCategory::InvalidReview,
                "the review did not end with `VERDICT: APPROVED` or `VERDICT: CHANGES_REQUESTED`",
            )));
        };
        let verdict_word = match verdict {
            Verdict::Approved => "APPROVED",
            Verdict::ChangesRequested => "CHANGES_REQUESTED",
        };
        append_decision(cx, round, verdict_word, &text)?;
        write_pr_body(cx, &gate_summary, &text, verdict_word)?;
        if verdict == Verdict::Approved {
            return Ok(StageOutcome::Done("VERDICT: APPROVED".into()));
        }
        let max = cx.env.config.run.max_review_loops.get() as u32;
        if cx.cp.state().review_loops >= max || !cx.env.pipeline_has("implement") {
            cx.emit(Event::warning(format!("review requested changes; the limit of {max} review loops is reached, continuing")).stage("review"));
            return Ok(StageOutcome::Done(format!(
                "VERDICT: CHANGES_REQUESTED (max_review_loops {max} reached)"
            )));
        }
        cx.cp.state_mut().review_loops += 1;
        let id = add_review_item(cx, round, &text)?;
        Ok(StageOutcome::GoTo {
            stage: "implement".into(),
            note: format!("VERDICT: CHANGES_REQUESTED; added {id}"),
        })
    }
}

/// Asks for the review, and once more when the answer has no verdict: the text and its verdict,
/// or the stage's failure when the agent failed.
fn ask(
    cx: &mut RunCtx,
    round: u32,
    gate_summary: &str,
    diff: &str,
) -> Result<std::result::Result<(String, Option<Verdict>), crate::protocol::Failure>> {
    let mut text = String::new();
    for try_no in 1..=2u32 {
        let ctx = serde_json::json!({
            "task": cx.env.task,
            "spec": cx.env.context_text("spec.md").unwrap_or_default(),
            "gate_summary": gate_summary,
            "diff": crate::fsutil::truncate(diff, 60 * 1024),
        });
        let mut prompt = cx.env.prompts.render("review", &ctx)?;
        if try_no > 1 {
            prompt.push_str("\n\nYour previous review did not end with a verdict line. End with exactly `VERDICT: APPROVED` or `VERDICT: CHANGES_REQUESTED`.\n");
        }
        let call = cx.call_agent(Turn {
            role: "review",
            mode: AgentMode::Text,
            prompt,
            prompt_file: if round == 1 && try_no == 1 {
                "review.md".to_string()
            } else {
                format!("review_{round}_{try_no}.md")
            },
            item: None,
            attempt: round,
            resume: None,
        })?;
        if let Some(e) = &call.outcome.error {
            return Ok(Err(failure(
                "review",
                None,
                FailureCategory::AgentError,
                format!("{}: {}", e.kind.as_str(), e.message),
            )));
        }
        text = call.outcome.text;
        if let Some(v) = parse_verdict(&text) {
            return Ok(Ok((text, Some(v))));
        }
    }
    Ok(Ok((text, None)))
}

/// Adds an item with the reviewer's points to the backlog (depending on every passed item);
/// returns its id.
fn add_review_item(cx: &mut RunCtx, round: u32, text: &str) -> Result<String> {
    let mut backlog = backlog_run::load(&cx.env).unwrap_or(Backlog {
        run_id: cx.env.dir.id().to_string(),
        items: vec![],
    });
    // Ids may have gaps (W001, W003): the new one follows the highest.
    let next = backlog
        .items
        .iter()
        .filter_map(|i| i.id.get(1..)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let id = format!("W{next:03}");
    let points: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- ") || l.starts_with("* "))
        .map(|l| l[2..].to_string())
        .collect();
    let item = Item {
        id: id.clone(),
        title: format!("Address review feedback (round {round})"),
        objective: format!("Address the reviewer's points:\n{text}"),
        acceptance: if points.is_empty() {
            vec!["The reviewer's points are addressed".into()]
        } else {
            points
        },
        files_hint: vec![],
        depends_on: backlog
            .items
            .iter()
            .filter(|i| {
                cx.cp
                    .state()
                    .item(&i.id)
                    .is_some_and(|s| s.status == ItemStatus::Passed)
            })
            .map(|i| i.id.clone())
            .collect(),
    };
    backlog.items.push(item.clone());
    backlog_run::save(&cx.env, &backlog)?;
    backlog_run::install(&mut cx.cp, &[item])?;
    Ok(id)
}

/// The last gate results of every item that has some.
pub(crate) fn gate_results(cx: &RunCtx) -> Vec<(String, Vec<GateResult>)> {
    cx.cp
        .state()
        .items
        .iter()
        .filter_map(|i| {
            let p = cx.env.dir.artifact(&format!("{}.gates.json", i.id));
            let r: Vec<GateResult> = crate::fsutil::read_json(&p).ok()?;
            Some((i.id.clone(), r))
        })
        .collect()
}

fn append_decision(cx: &RunCtx, round: u32, verdict: &str, text: &str) -> Result<()> {
    let mut d = cx
        .env
        .context_text("decisions.md")
        .unwrap_or_else(|| "# Decisions\n".into());
    d.push_str(&format!(
        "\n## Review round {round}: {verdict}\n\n{}\n",
        text.trim()
    ));
    cx.env.files.text(&cx.env.dir.context("decisions.md"), &d)
}

fn write_pr_body(cx: &RunCtx, gate_summary: &str, review: &str, verdict: &str) -> Result<()> {
    let items: Vec<String> = cx
        .cp
        .state()
        .items
        .iter()
        .map(|i| {
            format!(
                "- {} {} — {} ({} attempt{})",
                i.id,
                i.title,
                i.status.as_str(),
                i.attempts,
                if i.attempts == 1 { "" } else { "s" }
            )
        })
        .collect();
    let body = format!(
        "{}\n\n## Work items\n{}\n\n## Gates (as run by orx)\n{}\n## Review: {verdict}\n\n{}\n\n---\nRun `{}` by orx.\n",
        crate::run::summarize_task(&cx.env.task, 120),
        items.join("\n"),
        gate_summary,
        review.trim(),
        cx.env.dir.id()
    );
    cx.env.files.text(&cx.env.dir.artifact("pr_body.md"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(
            parse_verdict("ok\nVERDICT: APPROVED"),
            Some(Verdict::Approved)
        );
        assert_eq!(
            parse_verdict("**VERDICT: CHANGES_REQUESTED**\n"),
            Some(Verdict::ChangesRequested)
        );
        assert_eq!(parse_verdict("VERDICT: MAYBE"), None);
        assert_eq!(parse_verdict("no verdict"), None);
    }
}
