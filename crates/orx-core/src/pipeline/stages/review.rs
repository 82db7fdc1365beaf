//! review: reads spec, the run's diff and the real gate results; must end with a verdict.
//! Changes requested add an item and go back to implement, at most max_review_loops times.

use super::decompose::{install, load_backlog};
use super::{Stage, StageOutcome, failure};
use crate::Result;
use crate::agent::AgentMode;
use crate::gate::GateResult;
use crate::pipeline::backlog::{Backlog, Item};
use crate::pipeline::{RunCtx, evidence};
use crate::run::{Event, ItemStatus};

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

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let base = cx.state.base_sha.clone().unwrap_or_default();
        let diff = cx.git.diff_since(&base)?;
        let gates = gate_results(cx);
        let gate_summary = evidence::summary(&gates);
        let round = cx.state.review_loops + 1;
        let mut verdict = None;
        let mut text = String::new();
        for try_no in 1..=2u32 {
            let ctx = serde_json::json!({
                "task": cx.task,
                "spec": cx.context_text("spec.md").unwrap_or_default(),
                "gate_summary": gate_summary,
                "diff": crate::fsutil::truncate(&diff, 60 * 1024),
            });
            let mut prompt = cx.prompts.render("review", &ctx)?;
            if try_no > 1 {
                prompt.push_str("\n\nYour previous review did not end with a verdict line. End with exactly `VERDICT: APPROVED` or `VERDICT: CHANGES_REQUESTED`.\n");
            }
            let file = if round == 1 && try_no == 1 {
                "review.md".to_string()
            } else {
                format!("review_{round}_{try_no}.md")
            };
            let call = cx.call_agent("review", AgentMode::Text, prompt, &file, None, round)?;
            if let Some(e) = &call.outcome.error {
                return Ok(StageOutcome::Failed(failure(
                    "review",
                    None,
                    crate::protocol::FailureCategory::AgentError,
                    format!("{}: {}", e.kind.as_str(), e.message),
                )));
            }
            text = call.outcome.text;
            verdict = parse_verdict(&text);
            if verdict.is_some() {
                break;
            }
        }
        crate::fault::point("review:before_save");
        cx.write(&cx.dir.artifact("review.md"), &text)?;
        let Some(verdict) = verdict else {
            return Ok(StageOutcome::Failed(failure(
                "review",
                None,
                crate::protocol::FailureCategory::InvalidReview,
                "the review did not end with `VERDICT: APPROVED` or `VERDICT: CHANGES_REQUESTED`",
            )));
        };
        let verdict_word = if verdict == Verdict::Approved {
            "APPROVED"
        } else {
            "CHANGES_REQUESTED"
        };
        append_decision(cx, round, verdict_word, &text)?;
        write_pr_body(cx, &gate_summary, &text, verdict_word)?;
        if verdict == Verdict::Approved {
            return Ok(StageOutcome::Done("VERDICT: APPROVED".into()));
        }
        let max = cx.config.run.max_review_loops.get() as u32;
        if cx.state.review_loops >= max || !cx.pipeline_stages.iter().any(|s| s == "implement") {
            cx.emit(Event::warning(format!("review requested changes; the limit of {max} review loops is reached, continuing")).stage("review"));
            return Ok(StageOutcome::Done(format!(
                "VERDICT: CHANGES_REQUESTED (max_review_loops {max} reached)"
            )));
        }
        cx.state.review_loops += 1;
        let mut backlog = load_backlog(cx).unwrap_or(Backlog {
            run_id: cx.state.run_id.clone(),
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
                    cx.state
                        .item(&i.id)
                        .is_some_and(|s| s.status == ItemStatus::Passed)
                })
                .map(|i| i.id.clone())
                .collect(),
        };
        backlog.items.push(item.clone());
        let yaml = serde_saphyr::to_string(&backlog).map_err(std::io::Error::other)?;
        cx.input("backlog.yaml", &yaml)?;
        install(cx, vec![item])?;
        Ok(StageOutcome::GoTo {
            stage: "implement".into(),
            note: format!("VERDICT: CHANGES_REQUESTED; added {id}"),
        })
    }
}

/// The last gate results of every item that has some.
pub(crate) fn gate_results(cx: &RunCtx) -> Vec<(String, Vec<GateResult>)> {
    cx.state
        .items
        .iter()
        .filter_map(|i| {
            let p = cx.dir.artifact(&format!("{}.gates.json", i.id));
            let r: Vec<GateResult> = crate::fsutil::read_json(&p).ok()?;
            Some((i.id.clone(), r))
        })
        .collect()
}

fn append_decision(cx: &RunCtx, round: u32, verdict: &str, text: &str) -> Result<()> {
    let mut d = cx
        .context_text("decisions.md")
        .unwrap_or_else(|| "# Decisions\n".into());
    d.push_str(&format!(
        "\n## Review round {round}: {verdict}\n\n{}\n",
        text.trim()
    ));
    cx.write(&cx.dir.context("decisions.md"), &d)
}

fn write_pr_body(cx: &RunCtx, gate_summary: &str, review: &str, verdict: &str) -> Result<()> {
    let items: Vec<String> = cx
        .state
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
        crate::run::summarize_task(&cx.task, 120),
        items.join("\n"),
        gate_summary,
        review.trim(),
        cx.state.run_id
    );
    cx.write(&cx.dir.artifact("pr_body.md"), &body)
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
