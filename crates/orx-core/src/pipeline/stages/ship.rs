//! ship: everything is already committed item by item; ship commits any leftover, then pushes
//! the run branch and opens a pull request when configured. No remote or no `gh`: a clear
//! message and a local success.

use super::{Stage, StageOutcome};
use crate::Result;
use crate::pipeline::RunCtx;
use crate::protocol::{Event, EventBody};

/// ship.
pub struct Ship;

impl Stage for Ship {
    fn name(&self) -> &'static str {
        "ship"
    }

    fn calls(&self, _config: &crate::config::Config, _items: u32) -> (u32, u32) {
        (0, 0)
    }

    fn for_approval(&self) -> &'static str {
        "the final diff before it ships (artifacts/patch.diff)"
    }
    fn approved_before(&self) -> bool {
        true
    }

    fn run(&self, cx: &mut RunCtx) -> Result<StageOutcome> {
        let mut notes = Vec::new();
        if cx.env.config.git.auto_commit {
            // Items are committed as they pass, so the worktree is usually clean: one status
            // tells, and the commit is tried only for leftovers.
            let clean = cx.git.snapshot().is_ok_and(|s| s.clean);
            let commit = if clean {
                None
            } else {
                cx.git
                    .commit_all(&format!("orx: finish run {}", cx.env.dir.id()))?
            };
            match commit {
                Some(sha) => {
                    notes.push(format!("committed leftovers {}", &sha[..sha.len().min(10)]))
                }
                None => notes.push("nothing left to commit".into()),
            }
        }
        crate::fault::point("ship:after_commit");
        let branch = cx.cp.state().branch.clone().unwrap_or_default();
        let remote = cx.env.config.git.remote.to_string();
        let mut pushed = false;
        if cx.env.config.git.auto_push {
            if cx.git.try_run(&["remote", "get-url", &remote])?.0 {
                let (ok, _, err) = cx
                    .git
                    .try_run(&["push", "--set-upstream", &remote, &branch])?;
                if ok {
                    pushed = true;
                    notes.push(format!("pushed {branch} to {remote}"));
                } else {
                    let msg = format!("push of {branch} to {remote} failed: {}", err.trim());
                    cx.emit(Event::warning(msg.clone()).stage("ship"));
                    notes.push(msg);
                }
            } else {
                let msg = format!(
                    "no remote `{remote}`: the branch {branch} stays local (add the remote, then `git push {remote} {branch}`)"
                );
                cx.emit(Event::warning(msg.clone()).stage("ship"));
                notes.push(msg);
            }
        }
        if cx.env.config.git.create_pr {
            if pushed {
                notes.push(create_pr(cx, &branch)?);
            } else {
                notes.push("no pull request: the branch was not pushed (git.auto_push)".into());
            }
        }
        cx.emit(Event::new(EventBody::Ship, notes.join("; ")).stage("ship"));
        Ok(StageOutcome::Done(notes.join("; ")))
    }
}

fn create_pr(cx: &mut RunCtx, branch: &str) -> Result<String> {
    use crate::git::github::{GitHubError, NewPullRequest};
    let base = cx.cp.meta().base_branch.clone();
    let title = crate::run::summarize_task(&cx.env.task, 72);
    let hub = match super::run_github(cx) {
        Ok(hub) => hub,
        Err(crate::Error::GitHub(e)) => return Ok(no_pr(cx, &e)),
        Err(e) => return Err(e),
    };
    let body = cx.env.dir.artifact("pr_body.md");
    // The review wrote the body; without a review, the task is its body.
    let mut text = crate::fsutil::read_text_capped(&body, crate::fsutil::MAX_INPUT_FILE)
        .unwrap_or_else(|_| format!("{}\n\nRun {} by orx.\n", cx.env.task, cx.env.dir.id()));
    let closes = cx.cp.meta().issue.as_ref().map(|i| i.closes_in(hub.repo()));
    if let Some(closes) = closes.filter(|c| !text.lines().any(|l| l == c)) {
        text.push_str(&format!("\n{closes}\n"));
    }
    cx.env.files.text(&body, &text)?;
    let asked = NewPullRequest {
        base: &base,
        head: branch,
        title: &title,
        body_file: &body,
        draft: cx.env.config.git.pr_draft,
    };
    // A ship that ran before (a resume after a crash) may have opened it already.
    let opened = match hub.open_pull_request_of(branch) {
        Ok(Some(pr)) => Ok(pr),
        Ok(None) => hub.open_pull_request(&asked),
        Err(e) => Err(e),
    };
    match opened {
        Ok(pr) => {
            cx.cp.meta_mut().pr_url = Some(pr.url.clone()).filter(|u| !u.is_empty());
            cx.cp.save_meta()?;
            Ok(format!("opened pull request {}", pr.url))
        }
        Err(GitHubError::Cancelled) => Err(crate::Error::Cancelled),
        Err(e) => Ok(no_pr(cx, &e)),
    }
}

/// The run succeeds without its pull request: said as a warning, with gh's log named.
fn no_pr(cx: &mut RunCtx, why: &crate::git::github::GitHubError) -> String {
    let msg = format!("no pull request: {why} (see logs/gh.log)");
    cx.emit(Event::warning(msg.clone()).stage("ship"));
    msg
}
