//! `orx cancel` and `orx clean`.

use std::time::{Duration, Instant};

use crate::command_error::{CommandError, Exit, Outcome};
use orx_core::git::Git;
use orx_core::process::{GroupLedger, ORPHAN_GRACE};
use orx_core::run::sys::{SIGKILL, SIGTERM, pid_alive, signal_pid};
use orx_core::run::{Meta, RunError, RunLock, Store};

use super::Env;
use clap::Args;

/// `orx cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run: its id, `last` (the newest), or a unique start or end of its id.
    #[arg(add = crate::complete::runs())]
    pub run_id: String,
}

/// `orx clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    /// A run (its id, `last`, or a unique start or end of its id), or `all`.
    #[arg(add = crate::complete::runs())]
    pub target: String,
    /// Required with `all`.
    #[arg(long)]
    pub force: bool,
    /// Also delete the run branch orx/<run_id>.
    #[arg(long)]
    pub delete_branch: bool,
}

/// `orx cancel`: SIGTERM to the driving orx process, which stops the agent's process group and
/// writes its checkpoint; SIGKILL after a grace period if it does not stop.
pub fn cancel(env: &Env, mut args: CancelArgs) -> Outcome {
    let store = Store::new(&env.root_or_dir());
    let dir = store.find(&args.run_id)?;
    args.run_id = dir.id().to_string();
    let Some(pid) = RunLock::live_holder(&dir.lock()) else {
        // No driver: what a killed one left running (an agent's children) is ended, under the
        // run's lock.
        let _lock = RunLock::acquire(&dir.lock(), &args.run_id)?;
        let ended = GroupLedger::new(dir.processes(), dir.id()).end_orphans(ORPHAN_GRACE);
        if !ended.is_empty() {
            env.printer.warn(&format!(
                "ended {} process group(s) the run's killed driver left running",
                ended.len()
            ));
        }
        env.printer.result(&format!(
            "run {} is not running (status: {})",
            args.run_id,
            store.summary(&args.run_id).status
        ));
        return Ok(Exit::Ok);
    };
    signal_pid(pid, SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(15);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if pid_alive(pid) {
        signal_pid(pid, SIGKILL);
        env.printer.warn(&format!(
            "process {pid} did not stop within 15 s and was killed"
        ));
    }
    env.printer.result(&format!(
        "run {} cancelled; resume with `orx resume {}`",
        args.run_id, args.run_id
    ));
    Ok(Exit::Ok)
}

/// `orx clean`.
pub fn clean(env: &Env, mut args: CleanArgs) -> Outcome {
    let repo = env.repo()?;
    let store = Store::new(&repo);
    let ids = if args.target == "all" {
        if !args.force {
            return Err(CommandError::usage(
                "`orx clean all` removes every run folder and worktree",
                "add --force to confirm",
            ));
        }
        store.ids()?
    } else {
        args.target = store.find(&args.target)?.id().to_string();
        vec![args.target.clone()]
    };
    let git = Git::new(&repo);
    let single = args.target != "all";
    let mut removed = 0;
    let removing: std::collections::BTreeSet<String> = ids.iter().cloned().collect();
    let mut shared_kept = 0;
    for id in ids {
        let dir = orx_core::run::RunDir::new(store.runs_root(), &id);
        // The run's own lock is held while it is removed: a resume that starts meanwhile is
        // refused instead of driving a run whose folder disappears under it.
        let _lock = match RunLock::acquire(&dir.lock(), &id) {
            Ok(l) => l,
            Err(orx_core::Error::Run(RunError::Locked { pid, .. })) if !single => {
                env.printer.warn(&format!(
                    "skipped {id}: it is running (process {pid}); `orx cancel {id}` first"
                ));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        GroupLedger::new(dir.processes(), dir.id()).end_orphans(ORPHAN_GRACE);
        let meta = Meta::load(&dir.meta()).ok();
        let worktree = meta
            .as_ref()
            .map(|m| std::path::PathBuf::from(&m.worktree))
            .unwrap_or_else(|| repo.join(".worktrees").join(&id));
        // A run and its follow-ups share a worktree and a branch: they stay while another
        // of them stays (or runs).
        let sharing: Vec<String> = meta
            .as_ref()
            .map(|m| m.follows.iter().chain(&m.followed_by).cloned().collect())
            .unwrap_or_default();
        let stays = sharing.iter().find(|o| {
            store.dir(o).root().exists()
                && (!removing.contains(*o) || store.summary(o).status.is_active())
        });
        if let Some(other) = stays {
            shared_kept += 1;
            env.printer.info(&format!(
                "{id}: its worktree and branch stay, run {other} works on them too"
            ));
        } else {
            git.worktree_remove(&worktree)?;
            if args.delete_branch {
                let branch = meta
                    .map(|m| m.branch)
                    .unwrap_or_else(|| format!("orx/{id}"));
                if git.resolve(&branch)?.is_some() {
                    git.delete_branch(&branch)?;
                }
            }
        }
        fs_err::remove_dir_all(dir.root())?;
        removed += 1;
        env.printer.info(&format!("removed {id}"));
    }
    // Branches of runs whose folders an earlier clean removed: `all --delete-branch` takes
    // them too (only `orx/<run id>` branches without a run folder or a worktree).
    let mut orphans = 0;
    if !single && args.delete_branch {
        for branch in git
            .run(&[
                "for-each-ref",
                "--format=%(refname:short)",
                "refs/heads/orx/",
            ])?
            .lines()
        {
            let Some(id) = branch.strip_prefix("orx/") else {
                continue;
            };
            let gone = orx_core::run::is_valid_run_id(id)
                && !store.dir(id).root().exists()
                && !repo.join(".worktrees").join(id).exists();
            if gone {
                git.delete_branch(branch)?;
                orphans += 1;
            }
        }
    }
    let kept = if shared_kept > 0 {
        format!(
            "; {shared_kept} worktree(s) and branch(es) kept for the runs that share them \
             (`orx clean` of those removes them)"
        )
    } else if args.delete_branch {
        " with their branches".to_string()
    } else if single {
        format!(
            "; its branch orx/{} is kept (delete it with git branch -D orx/{}, or pass \
             --delete-branch)",
            args.target, args.target
        )
    } else {
        "; their orx/<id> branches are kept (`orx clean all --force --delete-branch` removes \
         them, also later)"
            .to_string()
    };
    env.printer
        .result(&format!("{removed} run(s) removed{kept}"));
    if orphans > 0 {
        env.printer.result(&format!(
            "{orphans} branch(es) of runs removed earlier deleted"
        ));
    }
    Ok(Exit::Ok)
}
