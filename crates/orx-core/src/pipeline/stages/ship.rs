//! ship: everything is already committed item by item; ship commits any leftover, then pushes
//! the run branch and opens a pull request when configured. No remote or no `gh`: a clear
//! message and a local success.

use std::time::Duration;

use super::{Stage, StageOutcome};
use crate::Result;
use crate::pipeline::RunCtx;
use crate::process::{ProcessSpec, run};
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
    let base = cx.cp.meta().base_branch.clone();
    let title = crate::run::summarize_task(&cx.env.task, 72);
    let body = cx.env.dir.artifact("pr_body.md");
    if !body.exists() {
        cx.env.files.text(
            &body,
            &format!("{}\n\nRun {} by orx.\n", cx.env.task, cx.env.dir.id()),
        )?;
    }
    let mut args = vec![
        "pr".to_string(),
        "create".into(),
        "--base".into(),
        base,
        "--head".into(),
        branch.to_string(),
        "--title".into(),
        title,
        "--body-file".into(),
        body.display().to_string(),
    ];
    if cx.env.config.git.pr_draft {
        args.push("--draft".into());
    }
    let mut spec = ProcessSpec::new("gh", args);
    spec.cwd = Some(cx.env.worktree.clone());
    spec.timeout = Some(Duration::from_secs(120));
    spec.stdout_log = Some(cx.env.dir.log("gh.log"));
    spec.stderr_log = Some(cx.env.dir.log("gh.log"));
    spec.redactor = Some(cx.env.files.redactor().clone());
    spec.ledger = Some(cx.env.ledger());
    let mut out = String::new();
    match run(&spec, &cx.env.cancel, &mut |_, l| {
        out.push_str(l);
        out.push('\n');
    }) {
        Err(crate::Error::Spawn { .. }) => {
            let msg = "no pull request: `gh` is not installed (install the GitHub CLI and run `gh auth login`)".to_string();
            cx.emit(Event::warning(msg.clone()).stage("ship"));
            Ok(msg)
        }
        Err(e) => Err(e),
        Ok(res) if res.success() => {
            let url = out
                .lines()
                .rev()
                .find(|l| l.starts_with("http"))
                .unwrap_or("")
                .trim()
                .to_string();
            cx.cp.meta_mut().pr_url = Some(url.clone()).filter(|u| !u.is_empty());
            cx.cp.save_meta()?;
            Ok(format!("opened pull request {url}"))
        }
        Ok(_) => {
            let msg = format!(
                "gh pr create failed (see logs/gh.log): {}",
                crate::fsutil::tail_lines(&out, 3)
            );
            cx.emit(Event::warning(msg.clone()).stage("ship"));
            Ok(msg)
        }
    }
}
