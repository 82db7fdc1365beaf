//! Landing a run (SPEC §13): its branch onto its base branch in the user's checkout, as one
//! squashed commit, a merge commit, or its own commits replayed. Everything is computed first
//! (with `git merge-tree`, which touches no working tree); the checkout changes only at the end,
//! by a fast-forward. Any refusal leaves it exactly as it was.

use std::path::Path;

pub use crate::error::LandError;

use crate::git::Git;
use crate::protocol::{Meta, RunState, RunStatus};
use crate::run::RunDir;
use crate::{Result, git::GitError};

/// How the run lands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LandMode {
    /// One commit: the task's summary and the item titles.
    #[default]
    Squash,
    /// A merge commit of the run branch.
    Merge,
    /// The run's commits, replayed on the base branch.
    Rebase,
}

/// What landing did.
#[derive(Clone, Debug)]
pub struct Landed {
    /// The base branch.
    pub base: String,
    /// Its new head.
    pub commit: String,
    /// The commits added to it.
    pub commits: usize,
    /// The files changed.
    pub files: Vec<String>,
}

/// The run's whole change against its base as it is now, for `git apply`.
pub fn patch(repo: &Path, dir: &RunDir) -> Result<String> {
    let meta = Meta::load(&dir.meta())?;
    let git = Git::new(repo);
    let branch = branch_sha(&git, &meta)?;
    let base = git
        .run(&["merge-base", &meta.base_branch, &branch])?
        .trim()
        .to_string();
    git.run(&["diff", "--binary", &base, &branch])
}

/// Lands the run of `dir` on its base branch in the checkout at `repo`.
pub fn apply(repo: &Path, dir: &RunDir, mode: LandMode) -> Result<Landed> {
    let meta = Meta::load(&dir.meta())?;
    let state = RunState::load(&dir.state())?;
    if state.status != RunStatus::Succeeded {
        return Err(LandError::NotSucceeded {
            run_id: meta.run_id.clone(),
            status: state.status,
        }
        .into());
    }
    let git = Git::new(repo);
    let base = landing_branch(&git, &meta)?;
    let dirty = lines(&git.run(&["status", "--porcelain=v1", "--untracked-files=no"])?)
        .into_iter()
        .map(|l| l.get(3..).unwrap_or("").to_string())
        .collect::<Vec<_>>();
    if !dirty.is_empty() {
        return Err(LandError::Dirty { files: dirty }.into());
    }
    let branch = branch_sha(&git, &meta)?;
    let head = git.head()?;
    if git
        .try_run(&["merge-base", "--is-ancestor", &branch, &head])?
        .0
    {
        return Err(LandError::AlreadyApplied {
            run_id: meta.run_id.clone(),
            base: base.clone(),
        }
        .into());
    }
    let tree = merged_tree(&git, &head, &branch, None, &base)?;
    if git.run(&["rev-parse", &format!("{head}^{{tree}}")])?.trim() == tree {
        // A squashed earlier apply, or the same change made by hand.
        return Err(LandError::AlreadyApplied {
            run_id: meta.run_id.clone(),
            base: base.clone(),
        }
        .into());
    }
    let in_the_way = untracked_in_the_way(&git, &head, &tree)?;
    if !in_the_way.is_empty() {
        return Err(LandError::UntrackedInTheWay { files: in_the_way }.into());
    }
    let (commit, commits) = match mode {
        LandMode::Squash => (
            commit_tree(&git, &tree, &[&head], &squash_message(&meta, &state))?,
            1,
        ),
        LandMode::Merge => (
            commit_tree(
                &git,
                &tree,
                &[&head, &branch],
                &format!(
                    "Merge run {} ({}): {}",
                    meta.run_id, meta.branch, meta.task_summary
                ),
            )?,
            1,
        ),
        LandMode::Rebase => replay(&git, &head, &branch, &base)?,
    };
    git.run(&["merge", "--ff-only", "--quiet", &commit])?;
    let files = lines(&git.run(&["diff", "--name-only", &head, &commit])?);
    Ok(Landed {
        base,
        commit,
        commits,
        files,
    })
}

/// The branch the run lands on: its base branch, checked out. A run started from a detached
/// HEAD (its base recorded as that commit) lands on the branch checked out now, when that
/// branch contains the commit.
fn landing_branch(git: &Git, meta: &Meta) -> Result<String> {
    let current = git.current_branch()?;
    let detached_base = meta.base_branch == meta.base_sha;
    match current {
        Some(b) if !detached_base && b == meta.base_branch => Ok(b),
        Some(b)
            if detached_base
                && git
                    .try_run(&["merge-base", "--is-ancestor", &meta.base_sha, "HEAD"])?
                    .0 =>
        {
            Ok(b)
        }
        current if detached_base => Err(LandError::DetachedBase {
            sha: meta.base_sha.clone(),
            current,
        }
        .into()),
        current => Err(LandError::WrongBranch {
            base: meta.base_branch.clone(),
            current,
        }
        .into()),
    }
}

fn branch_sha(git: &Git, meta: &Meta) -> Result<String> {
    git.resolve(&format!("refs/heads/{}", meta.branch))?
        .ok_or_else(|| {
            LandError::BranchGone {
                branch: meta.branch.clone(),
            }
            .into()
        })
}

/// The tree of `ours` merged with `theirs` (from `base` when given, else their merge base),
/// or the conflicting files.
fn merged_tree(
    git: &Git,
    ours: &str,
    theirs: &str,
    base: Option<&str>,
    base_name: &str,
) -> Result<String> {
    let merge_base = base.map(|b| format!("--merge-base={b}"));
    let mut args = vec!["merge-tree", "--write-tree", "--name-only", "--no-messages"];
    if let Some(b) = &merge_base {
        args.push(b);
    }
    args.extend([ours, theirs]);
    let (ok, out, err) = git.try_run(&args)?;
    let mut lines = out.lines();
    let tree = lines.next().unwrap_or("").trim().to_string();
    if ok && !tree.is_empty() {
        return Ok(tree);
    }
    let files: Vec<String> = lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if files.is_empty() {
        return Err(GitError::Command {
            command: args.join(" "),
            message: err.trim().to_string(),
        }
        .into());
    }
    Err(LandError::Conflicts {
        base: base_name.to_string(),
        files,
    }
    .into())
}

/// Untracked files of the checkout at paths the result adds.
fn untracked_in_the_way(git: &Git, head: &str, tree: &str) -> Result<Vec<String>> {
    let added = lines(&git.run(&["diff", "--name-only", "--diff-filter=A", head, tree])?);
    if added.is_empty() {
        return Ok(Vec::new());
    }
    let untracked = lines(&git.run(&["ls-files", "--others", "--exclude-standard"])?);
    Ok(added
        .into_iter()
        .filter(|f| untracked.contains(f))
        .collect())
}

/// The run's commits replayed on `onto`, each with its message and author: the new head and
/// how many. When `onto` is where the run started, its commits are taken as they are.
fn replay(git: &Git, onto: &str, branch: &str, base_name: &str) -> Result<(String, usize)> {
    let commits = lines(&git.run(&[
        "rev-list",
        "--reverse",
        "--no-merges",
        &format!("{onto}..{branch}"),
    ])?);
    if git
        .try_run(&["merge-base", "--is-ancestor", onto, branch])?
        .0
    {
        return Ok((branch.to_string(), commits.len()));
    }
    let mut tip = onto.to_string();
    for c in &commits {
        let parent = format!("{c}^");
        let tree = merged_tree(git, &tip, c, Some(&parent), base_name)?;
        let message = git.run(&["log", "-1", "--format=%B", c])?;
        let author = git.run(&["log", "-1", "--format=%an%x00%ae%x00%aI", c])?;
        let mut who = author.trim_end().split('\0');
        let (name, email, date) = (
            who.next().unwrap_or(""),
            who.next().unwrap_or(""),
            who.next().unwrap_or(""),
        );
        tip = commit_tree_as(
            git,
            &tree,
            &[&tip],
            message.trim_end(),
            Some((name, email, date)),
        )?;
    }
    Ok((tip, commits.len()))
}

fn commit_tree(git: &Git, tree: &str, parents: &[&str], message: &str) -> Result<String> {
    commit_tree_as(git, tree, parents, message, None)
}

/// `git commit-tree`: with the user's identity, or orx's when none is configured; the author
/// of a replayed commit is kept.
fn commit_tree_as(
    git: &Git,
    tree: &str,
    parents: &[&str],
    message: &str,
    author: Option<(&str, &str, &str)>,
) -> Result<String> {
    let has_identity = git
        .try_run(&["config", "user.email"])
        .map(|(ok, out, _)| ok && !out.trim().is_empty())
        .unwrap_or(false);
    let mut args: Vec<String> = Vec::new();
    if !has_identity {
        args.extend(["-c", "user.name=orx", "-c", "user.email=orx@localhost"].map(String::from));
    }
    args.extend(["commit-tree".to_string(), tree.to_string()]);
    for p in parents {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    args.extend(["-m".to_string(), message.to_string()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = match author {
        Some((name, email, date)) => git.run_with_env(
            &refs,
            &[
                ("GIT_AUTHOR_NAME", name),
                ("GIT_AUTHOR_EMAIL", email),
                ("GIT_AUTHOR_DATE", date),
            ],
        )?,
        None => git.run(&refs)?,
    };
    Ok(out.trim().to_string())
}

/// The squashed commit's message: the task's summary, the items, the run.
fn squash_message(meta: &Meta, state: &RunState) -> String {
    let mut m = meta.task_summary.trim().to_string();
    if m.is_empty() {
        m = format!("orx run {}", meta.run_id);
    }
    let items: Vec<String> = state
        .items
        .iter()
        .map(|i| format!("- {} {}", i.id, i.title))
        .collect();
    if !items.is_empty() {
        m.push_str("\n\n");
        m.push_str(&items.join("\n"));
    }
    m.push_str(&format!("\n\norx run {} ({})", meta.run_id, meta.branch));
    m
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}
